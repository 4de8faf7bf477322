//! Kernel captures: every `tests/vectors/*.hex` (the hex of one generic netlink payload,
//! genlmsghdr + attributes, no nlmsghdr; whitespace ignored) must decode without error.
//! The `.txt` next to each file describes the command; checking the decoded values against
//! it is done per vector (add assertions below as captures arrive).

use std::path::Path;

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            u8::from_str_radix(s, 16).map_err(|e| format!("{s:?}: {e}"))
        })
        .collect()
}

#[test]
fn every_captured_vector_decodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no {} yet: nothing to check", dir.display());
        return;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hex"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let result = unhex(&text)
            .and_then(|bytes| ipvs::wire::decode_any(&bytes).map_err(|e| e.to_string()));
        match result {
            Ok(decoded) => eprintln!("{}: {decoded:?}", path.display()),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "undecodable vectors:\n{}",
        failures.join("\n")
    );
}

#[test]
fn unhex_reads_spaced_hex() {
    assert_eq!(unhex("01 0a\nff").unwrap(), vec![1, 10, 255]);
    assert!(unhex("0").is_err());
    assert!(unhex("zz").is_err());
}

//! Kernel captures: every `tests/vectors/*.hex` (the hex of one generic netlink payload,
//! genlmsghdr + attributes, no nlmsghdr; whitespace ignored) must decode without error.
//! The `.txt` next to each file describes the command; checking the decoded values against
//! it is done per vector (add assertions below as captures arrive).

use std::path::Path;

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
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

/// Attributes as (type without flags, value or nested list), sorted, so that two encodings that differ
/// only in attribute order or the NLA_F_NESTED bit compare equal.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Attr {
    Leaf(u16, Vec<u8>),
    Nested(u16, Vec<Attr>),
}

fn canonical(mut bytes: &[u8], nested_types: &[u16]) -> Vec<Attr> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u16::from_ne_bytes([bytes[0], bytes[1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
        let value = &bytes[4..len.min(bytes.len())];
        out.push(if nested_types.contains(&kind) {
            // Inside a service, destination or daemon nothing else is compared nested.
            Attr::Nested(kind, canonical(value, &[]))
        } else {
            Attr::Leaf(kind, value.to_vec())
        });
        let step = (len + 3) & !3;
        if step == 0 || step > bytes.len() {
            break;
        }
        bytes = &bytes[step..];
    }
    out.sort();
    out
}

/// Every service and destination request ipvsadm sent, decoded and encoded again by this crate, gives
/// the same attributes with the same bytes (order aside).
#[test]
fn requests_encode_like_the_kernels_captures() {
    use ipvs::consts::*;
    use ipvs::wire::{self, Decoded};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/vectors")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "hex") && p.to_string_lossy().contains("-request-")
        })
        .collect();
    paths.sort();
    let (mut compared, mut exact, mut same_content) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let bytes = unhex(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ours = match wire::decode_any(&bytes).unwrap() {
            Decoded::Service(c, e) if c == IPVS_CMD_NEW_SERVICE => {
                wire::new_service(&e.service).unwrap()
            }
            Decoded::Service(c, e) if c == IPVS_CMD_SET_SERVICE => {
                wire::set_service(&e.service).unwrap()
            }
            Decoded::ServiceKey(c, k) if c == IPVS_CMD_DEL_SERVICE => {
                wire::del_service(&k).unwrap()
            }
            Decoded::Dest(c, Some(k), e) if c == IPVS_CMD_NEW_DEST => {
                wire::new_dest(&k, &e.dest).unwrap()
            }
            Decoded::Dest(c, Some(k), e) if c == IPVS_CMD_SET_DEST => {
                wire::set_dest(&k, &e.dest).unwrap()
            }
            Decoded::DestKey(c, k, d) if c == IPVS_CMD_DEL_DEST => wire::del_dest(&k, &d),
            _ => continue,
        };
        compared += 1;
        let ours = ours.genl_payload();
        if ours == bytes {
            exact += 1;
            continue;
        }
        let nested = [
            IPVS_CMD_ATTR_SERVICE,
            IPVS_CMD_ATTR_DEST,
            IPVS_CMD_ATTR_DAEMON,
        ];
        let (theirs, mine) = (
            canonical(&bytes[4..], &nested),
            canonical(&ours[4..], &nested),
        );
        let surplus = extra_attrs(&theirs, &mine);
        if ours[..2] != bytes[..2]
            || !surplus
                .iter()
                .all(|(group, attr)| ignorable(bytes[0], *group, attr))
            || !subset(&mine, &theirs)
        {
            failures.push(format!(
                "{}:\n  captured {theirs:?}\n  ours     {mine:?}",
                path.display()
            ));
        } else {
            same_content += 1;
        }
    }
    eprintln!(
        "{compared} requests compared: {exact} identical byte for byte, {same_content} with every attribute we send identical"
    );
    assert!(
        compared >= 30,
        "only {compared} service/destination requests among the vectors"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Attributes of `theirs` (per nested group) that `mine` does not send.
fn extra_attrs<'a>(theirs: &'a [Attr], mine: &[Attr]) -> Vec<(u16, &'a Attr)> {
    let mut out = Vec::new();
    for t in theirs {
        if let Attr::Nested(g, inner) = t {
            let m = mine.iter().find_map(|a| match a {
                Attr::Nested(k, v) if k == g => Some(v),
                _ => None,
            });
            for a in inner {
                if !m.is_some_and(|v| v.contains(a)) {
                    out.push((*g, a));
                }
            }
        }
    }
    out
}

fn subset(mine: &[Attr], theirs: &[Attr]) -> bool {
    mine.iter().all(|a| match a {
        Attr::Nested(g, inner) => theirs.iter().any(
            |t| matches!(t, Attr::Nested(k, v) if k == g && inner.iter().all(|x| v.contains(x))),
        ),
        leaf => theirs.contains(leaf),
    })
}

/// What ipvsadm sends that the kernel does not need for the command: the whole service (scheduler,
/// flags, timeout, netmask) where only its key matters, and zero tunnel settings of a non-tunnel
/// destination, and a destination's settings when it is deleted.
fn ignorable(cmd: u8, group: u16, attr: &Attr) -> bool {
    use ipvs::consts::*;
    match (group, attr) {
        (IPVS_CMD_ATTR_DEST, Attr::Leaf(k, _)) if cmd == IPVS_CMD_DEL_DEST => [
            IPVS_DEST_ATTR_FWD_METHOD,
            IPVS_DEST_ATTR_WEIGHT,
            IPVS_DEST_ATTR_U_THRESH,
            IPVS_DEST_ATTR_L_THRESH,
            IPVS_DEST_ATTR_TUN_TYPE,
            IPVS_DEST_ATTR_TUN_PORT,
            IPVS_DEST_ATTR_TUN_FLAGS,
        ]
        .contains(k),
        (IPVS_CMD_ATTR_SERVICE, Attr::Leaf(k, _)) => [
            IPVS_SVC_ATTR_SCHED_NAME,
            IPVS_SVC_ATTR_FLAGS,
            IPVS_SVC_ATTR_TIMEOUT,
            IPVS_SVC_ATTR_NETMASK,
        ]
        .contains(k),
        (IPVS_CMD_ATTR_DEST, Attr::Leaf(k, v)) => {
            [
                IPVS_DEST_ATTR_TUN_TYPE,
                IPVS_DEST_ATTR_TUN_PORT,
                IPVS_DEST_ATTR_TUN_FLAGS,
            ]
            .contains(k)
                && v.iter().all(|b| *b == 0)
        }
        _ => false,
    }
}

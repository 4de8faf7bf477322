//! Parsing never panics: arbitrary bytes, random token soup, and real configurations with random edits.

use lvsd::config::{load, LoadOptions};
use proptest::prelude::*;
use std::path::PathBuf;

fn parse_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("fuzz.conf");
    std::fs::write(&p, bytes).expect("write");
    let loaded = load(
        &p,
        &LoadOptions {
            config_id: "main".into(),
            check_machine: false,
        },
    );
    // Rendering every diagnostic must not panic either.
    let _ = loaded.render();
}

fn samples() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("conf.d"),
        PathBuf::from("/usr/share/doc/keepalived/samples"),
    ] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if let Ok(b) = std::fs::read(e.path()) {
                    if !b.is_empty() {
                        out.push(b);
                    }
                }
            }
        }
    }
    assert!(!out.is_empty());
    out
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "\n",
    " ",
    "\"",
    "'",
    "\\",
    "$",
    "${",
    "$X=",
    "$X= \\\n",
    "@main ",
    "@^main ",
    "~SEQ(",
    "~SEQx(",
    "~LST(",
    ")",
    ",",
    "#",
    "!",
    "include ",
    "vrrp_instance",
    "virtual_server",
    "real_server",
    "TCP_CHECK",
    "HTTP_GET",
    "url",
    "path",
    "global_defs",
    "vrrp_script",
    "track_script",
    "virtual_ipaddress",
    "10.0.0.1/24",
    "fe80::1",
    "80",
    "-1",
    "0",
    "99999999999999999999",
    "0x",
    "1.5",
    "weight",
    "priority",
    "virtual_router_id",
    "lvs_method",
    "TUN",
    "type",
    "gue",
    "persistence_timeout",
    "status_code",
    "200-299",
    "virtual_server_group",
    "10.0.0.1-300",
    "fwmark",
    "group",
    "vrrp_sync_group",
    "lvs_sync_daemon",
    "\u{e9}",
    "\t",
    "\r",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        parse_bytes(&bytes);
    }

    #[test]
    fn token_soup_never_panics(idx in proptest::collection::vec(0..PIECES.len(), 0..300)) {
        let text: String = idx.iter().map(|&i| PIECES[i]).collect();
        parse_bytes(text.as_bytes());
    }

    #[test]
    fn mutated_real_configs_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((0usize..100_000, 0usize..PIECES.len(), 0u8..3), 1..12),
    ) {
        let all = samples();
        let mut bytes = all[which % all.len()].clone();
        for (pos, piece, op) in edits {
            let at = pos % (bytes.len() + 1);
            match op {
                0 => { bytes.splice(at..at, PIECES[piece].bytes()); }
                1 => { let end = (at + piece).min(bytes.len()); bytes.drain(at..end); }
                _ => { if at < bytes.len() { bytes[at] = PIECES[piece].as_bytes()[0]; } }
            }
        }
        parse_bytes(&bytes);
    }
}

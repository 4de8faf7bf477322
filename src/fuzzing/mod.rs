//! Harnesses for coverage-guided fuzzing: fuzz/ (AFL++ through cargo-afl, on stable Rust) builds
//! one binary per target that calls these, and tests/fuzz_corpus.rs feeds them every file of
//! fuzz/corpus/<target>/ in CI. Each takes arbitrary bytes, drives the real code path the daemon
//! uses for that input, and must return without panicking (a few also check round trips).

pub(crate) mod checks;
mod config;
mod control;
mod vrrp;

/// A harness: arbitrary bytes in, a panic is a bug.
pub type Harness = fn(&[u8]);

/// Every target by name, the name also being its corpus directory under fuzz/corpus/.
pub const TARGETS: &[(&str, Harness)] = &[
    ("config", config::config),
    ("vrrp", vrrp::vrrp),
    ("ipvs_netlink", ipvs::fuzzing::netlink),
    ("ipvs_conns", ipvs::fuzzing::conns),
    ("http_response", checks::http_response),
    ("dns_reply", checks::dns_reply),
    ("udp_reply", checks::udp_reply),
    ("control", control::control),
    ("catchup", control::catchup),
    ("proc_connector", vrrp::proc_connector),
];

/// The harness of a target name.
pub fn harness(name: &str) -> Option<Harness> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, h)| *h)
}

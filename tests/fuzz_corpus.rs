//! The saved fuzzing corpus as a regression test: every file of fuzz/corpus/<target>/ (seeds,
//! inputs the fuzzer found, and the inputs of crashes once fixed) through the harness the AFL++
//! binary runs (lvsd::fuzzing). A panic names the target and the file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn replay(target: &str) {
    let harness = lvsd::fuzzing::harness(target).expect("a target of lvsd::fuzzing");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).expect("a corpus file");
            catch_unwind(AssertUnwindSafe(|| harness(&data))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: panics on {failed:?}");
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { replay(stringify!($name)); })*

        #[test]
        fn every_target_has_its_test() {
            let tested = [$(stringify!($name)),*];
            let targets: Vec<&str> = lvsd::fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(targets, tested);
        }
    };
}

corpus_tests!(
    config,
    vrrp,
    ipvs_netlink,
    ipvs_conns,
    http_response,
    dns_reply,
    udp_reply,
    control,
    catchup,
    proc_connector,
);

//! `lvsd-fuzz TARGET`: under AFL++ (built with `cargo afl build`), fuzzes one harness of
//! `lvsd::fuzzing` in persistent mode. Built plainly, `lvsd-fuzz TARGET [FILE...]` runs the
//! harness once on each file (default: every file of fuzz/corpus/TARGET), to replay a crash.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        return usage();
    };
    let Some(harness) = lvsd::fuzzing::harness(&name) else {
        return usage();
    };
    run(&name, harness, args.map(PathBuf::from).collect())
}

fn usage() -> ExitCode {
    let names: Vec<&str> = lvsd::fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "usage: lvsd-fuzz TARGET [FILE...]; targets: {}",
        names.join(" ")
    );
    ExitCode::from(2)
}

#[cfg(fuzzing)]
fn run(_: &str, harness: lvsd::fuzzing::Harness, _: Vec<PathBuf>) -> ExitCode {
    afl::fuzz!(|data: &[u8]| harness(data));
    ExitCode::SUCCESS
}

#[cfg(not(fuzzing))]
fn run(name: &str, harness: lvsd::fuzzing::Harness, mut files: Vec<PathBuf>) -> ExitCode {
    if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(name);
        files = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(e) => {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        };
        files.sort();
    }
    for f in &files {
        match std::fs::read(f) {
            Ok(data) => {
                eprintln!("{}", f.display());
                harness(&data);
            }
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("{name}: {} inputs, no panic", files.len());
    ExitCode::SUCCESS
}

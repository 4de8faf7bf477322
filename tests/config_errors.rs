//! A corpus of broken configurations (tests/configs/broken), each naming in its first line the exact
//! `line:col` and message its error must have: `! expect LINE:COL MESSAGE-PART`.

use lvsd::config::{load, LoadOptions, Severity};
use std::path::PathBuf;

fn opts() -> LoadOptions {
    LoadOptions {
        config_id: "test".into(),
        check_machine: false,
    }
}

#[test]
fn every_broken_config_fails_at_the_expected_place() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/configs/broken");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("broken corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus shrank: {}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let head = text.lines().next().unwrap_or_default();
        let spec = head
            .strip_prefix("! expect ")
            .unwrap_or_else(|| panic!("{}: no '! expect' line", f.display()));
        let (place, message) = spec.split_once(' ').expect("LINE:COL MESSAGE");
        let (line, col) = place.split_once(':').expect("LINE:COL");
        let (line, col): (u32, u32) = (line.parse().expect("line"), col.parse().expect("col"));
        let loaded = load(f, &opts());
        let rendered = loaded.render();
        if loaded.config.is_some() {
            failures.push(format!(
                "{}: accepted, expected an error\n  {}",
                f.display(),
                rendered.join("\n  ")
            ));
            continue;
        }
        let hit = loaded.diagnostics.iter().any(|d| {
            d.severity == Severity::Error
                && d.span.line == line
                && d.span.col == col
                && d.message.contains(message)
                && loaded.sources.path(d.span.file) == f.as_path()
        });
        if !hit {
            failures.push(format!(
                "{}: no error at {line}:{col} containing {message:?}; got:\n  {}",
                f.display(),
                rendered.join("\n  ")
            ));
        }
        // The rendered form is what users see: file:line:col first.
        let expected_prefix = format!("{}:{line}:{col}: error: ", f.display());
        if hit && !rendered.iter().any(|r| r.starts_with(&expected_prefix)) {
            failures.push(format!(
                "{}: rendering lacks {expected_prefix:?}",
                f.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_binary_exits_5_and_names_the_place() {
    let f = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs/broken/vrid-out-of-range.conf");
    let out = lvsd_t(&f);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:5:23: error:", f.display())),
        "{err}"
    );
}

#[test]
fn ignored_global_defs_keywords_each_get_a_warning_with_their_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("k.conf");
    std::fs::write(
        &f,
        "global_defs {\n  router_id lb1\n  enable_snmp_vrrp\n  vrrp_iptables LVSD\n  umask 022\n  process_names\n}\n",
    )
    .expect("write config");
    let out = lvsd_t(&f);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "warnings only: {err}");
    for (line, kw) in [
        (3, "enable_snmp_vrrp"),
        (4, "vrrp_iptables"),
        (5, "umask"),
        (6, "process_names"),
    ] {
        let want = format!(
            "{}:{line}:3: warning: '{kw}' is accepted for compatibility but not supported by lvsd; ignored",
            f.display()
        );
        assert!(
            err.lines().any(|l| l == want),
            "missing {want:?} in:\n{err}"
        );
    }
    assert_eq!(err.lines().count(), 4, "{err}");
}

#[test]
fn a_file_of_garbage_prints_the_first_thousand_errors_and_counts_the_rest() {
    // One error per line, 3,000 lines: all counted, the first 1,000 printed, the rest summed.
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("k.conf");
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            "vrrp_instance VI_{i} {{\n virtual_router_id 300\n}}\n"
        ));
    }
    std::fs::write(&f, text).expect("write config");
    let out = lvsd_t(&f);
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors = err.lines().filter(|l| l.contains(": error: ")).count();
    assert_eq!(errors, 1000, "printed errors");
    // The first error printed is the first in the file.
    let first = format!("{}:2:", f.display());
    assert!(
        err.lines()
            .find(|l| l.contains(": error: "))
            .is_some_and(|l| l.starts_with(&first)),
        "{}",
        err.lines().next().unwrap_or_default()
    );
    let summary = err
        .lines()
        .find(|l| l.contains("not shown"))
        .unwrap_or_else(|| {
            panic!(
                "no summary line in:\n{}",
                &err[err.len().saturating_sub(2000)..]
            )
        });
    let more: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count first");
    let total: usize = err
        .lines()
        .find_map(|l| l.strip_suffix(" errors in the configuration"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the total line");
    assert_eq!(errors + more, total);
    assert!(
        total >= 3000,
        "each instance has at least its router id error: {total}"
    );
}

/// `lvsd -t -f FILE`.
fn lvsd_t(f: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .arg("-f")
        .arg(f)
        .output()
        .expect("run lvsd")
}

//! Settings that do not fit together, against keepalived 2.2.7. Each file of tests/configs/compat is
//! a configuration keepalived runs after settling something; its header says what lvsd must say and
//! run, and what keepalived says:
//!
//! ```text
//! ! warn LINE:COL MESSAGE-PART     lvsd -t accepts it with this warning (exit 0)
//! ! model POINTER JSON             what lvsd runs (--dump-conf's model at that JSON pointer;
//!                                  `absent` for what is left out)
//! ! keepalived: TEXT               keepalived prints TEXT when it reads the file
//! ```
//!
//! As root with keepalived installed, each file is also given to keepalived in a namespace: a VRRP
//! file must start an instance (not stop with "permanent error CONFIG"), a virtual_server file is
//! checked with `keepalived -t`, and the TEXT lines must appear. The broken corpus's files with a
//! `! keepalived-refuses: TEXT` line are the other way round: keepalived stops on them too (or
//! crashes).

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, keepalived_available, Lab};
use lvsd::config::{load, LoadOptions, Severity};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn opts() -> LoadOptions {
    LoadOptions {
        config_id: "test".into(),
        check_machine: false,
    }
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    files
}

/// The `! KEY rest` header lines of a corpus file.
fn header(f: &Path, key: &str) -> Vec<String> {
    let text = std::fs::read_to_string(f).expect("read corpus file");
    text.lines()
        .take_while(|l| l.starts_with('!'))
        .filter_map(|l| l.strip_prefix(&format!("! {key} ")))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_compat_config_is_accepted_with_its_warnings_and_settled_like_keepalived() {
    let files = corpus("tests/configs/compat");
    assert!(files.len() >= 40, "the corpus shrank: {}", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let loaded = load(f, &opts());
        let rendered = loaded.render().join("\n  ");
        let Some(cfg) = &loaded.config else {
            failures.push(format!("{}: refused:\n  {rendered}", f.display()));
            continue;
        };
        let warns = header(f, "warn");
        if warns.is_empty() && header(f, "model").is_empty() {
            failures.push(format!("{}: no '! warn' or '! model' line", f.display()));
        }
        for w in warns {
            let (place, message) = w.split_once(' ').expect("LINE:COL MESSAGE");
            let (line, col) = place.split_once(':').expect("LINE:COL");
            let (line, col): (u32, u32) = (line.parse().expect("line"), col.parse().expect("col"));
            let hit = loaded.diagnostics.iter().any(|d| {
                d.severity == Severity::Warning
                    && (d.span.line, d.span.col) == (line, col)
                    && d.message.contains(message)
                    && loaded.sources.path(d.span.file) == f.as_path()
            });
            if !hit {
                failures.push(format!(
                    "{}: no warning at {line}:{col} containing {message:?}; got:\n  {rendered}",
                    f.display()
                ));
            }
        }
        let model = serde_json::to_value(cfg).expect("model as JSON");
        for m in header(f, "model") {
            let (pointer, want) = m.split_once(' ').expect("POINTER JSON");
            // `absent`: what keepalived leaves out is not in the model at all.
            let want: Option<serde_json::Value> =
                (want != "absent").then(|| serde_json::from_str(want).expect("JSON value"));
            let got = model.pointer(pointer);
            if got != want.as_ref() {
                failures.push(format!(
                    "{}: {pointer} is {got:?}, expected {want:?}",
                    f.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lvsd_t_exits_0_and_names_the_place_of_a_settled_setting() {
    let f =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/configs/compat/strict-tutorial.conf");
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-t", "-f"])
        .arg(&f)
        .output()
        .expect("run lvsd");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for place in ["13:5: warning:", "19:19: warning:"] {
        assert!(
            err.contains(&format!("{}:{place}", f.display())),
            "{place} missing:\n{err}"
        );
    }
}

/// What keepalived printed for a file, and whether it started a VRRP instance (for `-t`: None, or
/// false when it crashed).
struct KeepalivedRun {
    log: String,
    started: Option<bool>,
}

/// VRRP files are started; the others are checked with `-t` (there is no IPVS here, and
/// keepalived's VRRP process needs it for lvs_sync_daemon).
fn is_vrrp_only(f: &Path) -> bool {
    let text = std::fs::read_to_string(f).expect("read");
    !text.contains("virtual_server") && !text.contains("lvs_sync_daemon")
}

/// Runs keepalived on `f` in the lab's node 0: VRRP files until an instance enters a state or the
/// VRRP process stops on a configuration error, others with `-t`.
fn keepalived_on(lab: &Lab, f: &Path, tag: &str) -> KeepalivedRun {
    let ns = lab.ns(0);
    if !is_vrrp_only(f) {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "keepalived", "-t", "-l", "-f"])
            .arg(f)
            .output()
            .expect("keepalived -t");
        let mut log = String::from_utf8_lossy(&out.stdout).to_string();
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        // A crash is a refusal too (keepalived 2.2.7 crashes on some of them).
        let crashed = std::os::unix::process::ExitStatusExt::signal(&out.status).is_some()
            || out.status.code() == Some(128 + libc::SIGSEGV);
        return KeepalivedRun {
            log,
            started: crashed.then_some(false),
        };
    }
    let logf = lab.path(&format!("{tag}.log"));
    let file = std::fs::File::create(&logf).expect("log file");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "keepalived",
            "-n",
            "-l",
            "-D",
            "-P",
            "-f",
        ])
        .arg(f)
        .arg("-p")
        .arg(lab.path(&format!("{tag}.pid")))
        .arg("-r")
        .arg(lab.path(&format!("{tag}.vrrp.pid")))
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("start keepalived");
    let t0 = Instant::now();
    let started = loop {
        let log = std::fs::read_to_string(&logf).unwrap_or_default();
        if log.contains("Entering BACKUP STATE") || log.contains("Entering MASTER STATE") {
            break Some(true);
        }
        if log.contains("permanent error") || child.try_wait().ok().flatten().is_some() {
            break Some(false);
        }
        if t0.elapsed() > Duration::from_secs(15) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: kill sends a signal to the child we started; it has no memory effects here.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let log = std::fs::read_to_string(&logf).unwrap_or_default();
    KeepalivedRun { log, started }
}

#[test]
fn keepalived_runs_every_compat_config_and_says_what_it_settled() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let lab = Lab::new(1);
    let mut failures = Vec::new();
    for (n, f) in corpus("tests/configs/compat").iter().enumerate() {
        let run = keepalived_on(&lab, f, &format!("c{n}"));
        if is_vrrp_only(f) && run.started != Some(true) {
            failures.push(format!(
                "{}: keepalived did not start it ({:?}):\n{}",
                f.display(),
                run.started,
                run.log
            ));
        }
        for text in header(f, "keepalived:") {
            if !run.log.contains(&text) {
                failures.push(format!(
                    "{}: keepalived did not say {text:?}:\n{}",
                    f.display(),
                    run.log
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn keepalived_refuses_the_combinations_lvsd_refuses() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let lab = Lab::new(1);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, f) in corpus("tests/configs/broken").iter().enumerate() {
        let texts = header(f, "keepalived-refuses:");
        if texts.is_empty() {
            continue;
        }
        checked += 1;
        let run = keepalived_on(&lab, f, &format!("b{n}"));
        if run.started != Some(false) {
            failures.push(format!(
                "{}: keepalived did not stop on it:\n{}",
                f.display(),
                run.log
            ));
        }
        for text in texts {
            if !run.log.contains(&text) {
                failures.push(format!(
                    "{}: keepalived did not say {text:?}:\n{}",
                    f.display(),
                    run.log
                ));
            }
        }
    }
    assert!(checked >= 3, "only {checked} refusals are checked");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

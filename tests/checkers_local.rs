//! MISC_CHECK scripts (exit codes, arguments, user, timeout killing the process group) and FILE_CHECK.

mod checkers_common;
use checkers_common::*;
use lvsd::check::WeightAdj;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes an executable shell script readable by everyone (for `user nobody`).
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    write_executable(&p, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn misc(block: &str) -> lvsd::check::Probe {
    probe("127.0.0.1 80", &format!("MISC_CHECK {{ {block} }}"))
}

#[tokio::test]
async fn misc_check_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let exit = |n: i32| script(dir.path(), &format!("exit{n}.sh"), &format!("exit {n}"));
    let (e0, e1, e12) = (exit(0), exit(1), exit(12));

    let o = misc(&format!("misc_path {}", e0.display())).run().await;
    assert!(o.ok, "{o:?}");
    assert_eq!(
        o.reason,
        format!("Misc check for [{}] succeeded", e0.display())
    );
    assert_eq!(o.weight, None);

    let o = misc(&format!("misc_path {}", e1.display())).run().await;
    assert!(!o.ok);
    assert_eq!(
        o.reason,
        format!("Misc check for [{}] failed: exit code 1", e1.display())
    );

    assert!(
        !misc(&format!("misc_path {}", e12.display())).run().await.ok,
        "12 fails unless dynamic"
    );
    let o = misc(&format!("misc_path {}; misc_dynamic", e12.display()))
        .run()
        .await;
    assert!(o.ok, "{o:?}");
    assert_eq!(o.weight, Some(WeightAdj::Set(10)), "weight = exit code - 2");
    assert!(
        !misc(&format!("misc_path {}; misc_dynamic", e1.display()))
            .run()
            .await
            .ok
    );

    let o = misc("misc_path /nonexistent/check").run().await;
    assert!(!o.ok);
    assert!(o.reason.contains("cannot run"), "{}", o.reason);
}

#[tokio::test]
async fn misc_check_arguments_are_split_without_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "args.sh",
        "[ \"$1\" = 'a b' ] && [ \"$2\" = '$HOME' ] && [ $# -eq 2 ]",
    );
    let block = format!("misc_path \"{} 'a b' '$HOME'\"", s.display());
    let o = misc(&block).run().await;
    assert!(o.ok, "{o:?}");
    let block = format!("misc_path \"{} a b\"", s.display());
    assert!(!misc(&block).run().await.ok);
}

/// Whether the test runs as root; says why it is skipped otherwise.
fn root(test: &str, why: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("{test}: skipped, it needs root: {why}");
    }
    root
}

#[tokio::test]
async fn misc_check_runs_as_user() {
    if !root(
        "misc_check_runs_as_user",
        "it runs a script as another user",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "who.sh", "[ \"$(id -u)\" = \"$1\" ]");
    let nobody = lvsd::notify::command::ids("nobody", None).unwrap().0;
    let o = misc(&format!(
        "misc_path \"{} {nobody}\"; user nobody",
        s.display()
    ))
    .run()
    .await;
    assert!(o.ok, "{o:?}");
    let o = misc(&format!("misc_path \"{} 0\"; user nobody", s.display()))
        .run()
        .await;
    assert!(!o.ok, "not root any more");
}

fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie waiting for a reaper is dead too.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn misc_timeout_kills_the_script_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let s = script(
        dir.path(),
        "hang.sh",
        &format!("sleep 300 &\necho $$ $! > {}\nsleep 300", pids.display()),
    );
    let started = Instant::now();
    // The script writes its pids within milliseconds; the timeout leaves it seconds for that even
    // on a loaded machine.
    let o = misc(&format!("misc_path {}; misc_timeout 3", s.display()))
        .run()
        .await;
    assert!(!o.ok);
    assert_eq!(
        o.reason,
        format!(
            "Misc check for [{}] timed out: timeout after 3 s",
            s.display()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<i32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    for _ in 0..50 {
        if pids.iter().all(|p| gone(*p)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in pids {
        assert!(gone(p), "process {p} survived misc_timeout");
    }
}

#[tokio::test]
async fn file_check_value_times_weight() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("value");
    let top = |w: i32| {
        format!(
            "track_file tf {{\n  file \"{}\"\n  weight {w}\n}}\n",
            f.display()
        )
    };
    std::fs::write(&f, "0\n").unwrap();
    let p = probe_with(&top(0), "127.0.0.1 80", "FILE_CHECK { track_file tf }");
    assert!(p.run().await.ok);
    std::fs::write(&f, "3\n").unwrap();
    let o = p.run().await;
    assert!(!o.ok, "weight 0: non-zero fails");
    assert!(o.reason.contains("non-zero with weight 0"), "{}", o.reason);

    let p = probe_with(
        &top(0),
        "127.0.0.1 80",
        "FILE_CHECK { track_file tf; weight 5 }",
    );
    let o = p.run().await;
    assert!(o.ok, "{o:?}");
    assert_eq!(o.weight, Some(WeightAdj::Add(15)));
    let p = probe_with(&top(2), "127.0.0.1 80", "FILE_CHECK { track_file tf }");
    assert_eq!(
        p.run().await.weight,
        Some(WeightAdj::Add(6)),
        "track_file's weight"
    );
    let p = probe_with(
        &top(2),
        "127.0.0.1 80",
        "FILE_CHECK { track_file tf; weight 2 reverse }",
    );
    assert!(!p.run().await.ok, "1 - 6 is below 0");

    std::fs::remove_file(&f).unwrap();
    let p = probe_with(&top(1), "127.0.0.1 80", "FILE_CHECK { track_file tf }");
    assert!(!p.run().await.ok, "unreadable file");
}

#[tokio::test]
async fn misc_check_runs_as_global_script_user() {
    if !root(
        "misc_check_runs_as_global_script_user",
        "it runs a script as another user",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = script(dir.path(), "who.sh", "[ \"$(id -u)\" = \"$1\" ]");
    let nobody = lvsd::notify::command::ids("nobody", None).unwrap().0;
    let top = "global_defs { script_user nobody }";
    let p = probe_with(
        top,
        "127.0.0.1 80",
        &format!("MISC_CHECK {{ misc_path \"{} {nobody}\" }}", s.display()),
    );
    let o = p.run().await;
    assert!(o.ok, "script_user is the default user of MISC_CHECK: {o:?}");
}

#[test]
fn enable_script_security_leaves_out_a_misc_check_others_can_change() {
    if !root(
        "enable_script_security_leaves_out_a_misc_check_others_can_change",
        "only a root-owned script has as its one fault that others may write it",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let s = script(dir.path(), "open.sh", &format!("touch {}", ran.display()));
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o777)).unwrap();
    let cfg = config(&lines(&format!(
        "global_defs {{ enable_script_security }}\nvirtual_server 10.0.0.1 80 {{ protocol TCP; \
         real_server 127.0.0.1 80 {{ MISC_CHECK {{ misc_path {} }} }} }}",
        s.display()
    )));
    let mut warnings = Vec::new();
    let plan = lvsd::check::runner::plan(&cfg, &mut warnings).expect("the rest builds");
    assert!(
        plan[0].checkers.is_empty(),
        "the unsafe MISC_CHECK is left out"
    );
    let text = warnings
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("MISC_CHECK script not run") && text.contains("writable"),
        "{text}"
    );
    // The same script is run (as root, with a warning at run time) without enable_script_security.
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; real_server 127.0.0.1 80 {{ MISC_CHECK {{ misc_path {} }} }} }}",
        s.display()
    )));
    let mut warnings = Vec::new();
    let plan = lvsd::check::runner::plan(&cfg, &mut warnings).expect("builds");
    assert_eq!(plan[0].checkers.len(), 1);
}

/// keepalived issue 2720: with misc_dynamic, a script killed by misc_timeout (or by a signal) must
/// count as a failure, never as a weight (keepalived read the kill's status as an exit code).
#[tokio::test]
async fn misc_dynamic_never_takes_a_weight_from_a_killed_script() {
    let dir = tempfile::tempdir().unwrap();
    let hang = script(dir.path(), "hang.sh", "sleep 300");
    let o = misc(&format!(
        "misc_path {}; misc_timeout 1; misc_dynamic",
        hang.display()
    ))
    .run()
    .await;
    assert!(!o.ok);
    assert_eq!(o.weight, None, "a timed-out script sets no weight");
    let killed = script(dir.path(), "killed.sh", "kill -9 $$");
    let o = misc(&format!("misc_path {}; misc_dynamic", killed.display()))
        .run()
        .await;
    assert!(!o.ok);
    assert_eq!(o.weight, None, "a killed script sets no weight");
    assert!(o.reason.contains("killed by signal 9"), "{}", o.reason);
    // The documented range: exit 2..255 is weight 0..253.
    let top = script(dir.path(), "top.sh", "exit 255");
    let o = misc(&format!("misc_path {}; misc_dynamic", top.display()))
        .run()
        .await;
    assert!(o.ok);
    assert_eq!(o.weight, Some(lvsd::check::decide::WeightAdj::Set(253)));
}

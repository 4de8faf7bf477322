//! The runner end to end: a config's real servers become checker tasks that report events.

mod checkers_common;
use checkers_common::*;
use lvsd::check::{CheckEvent, EventKind, Runner};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The next health event; a server's first-verdict marker (Checked, for /ready and the BGP
/// announcer) is not one.
async fn next(rx: &mut mpsc::Receiver<CheckEvent>) -> CheckEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("runner alive");
        if e.kind != EventKind::Checked {
            return e;
        }
    }
}

#[tokio::test]
async fn tcp_checkers_report_down_and_up() {
    let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_port = live.local_addr().unwrap().port();
    let dead = ClosedPort::new();
    let dead_port = dead.port();
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 0.2; warmup 0; retry 1; delay_before_retry 0.1; \
         real_server 127.0.0.1 {live_port} {{ TCP_CHECK {{ connect_timeout 1 }} }}; \
         real_server 127.0.0.1 {dead_port} {{ weight 3; TCP_CHECK {{ connect_timeout 1 }} }} }}"
    )));
    let (tx, mut rx) = mpsc::channel(16);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!(runner.len(), 2, "two checkers");
    assert_eq!(runner.servers(), 2, "two real servers");

    let mut initial = [next(&mut rx).await, next(&mut rx).await];
    initial.sort_by_key(|e| e.rs);
    assert_eq!(
        initial[0].kind,
        EventKind::Up,
        "without alpha a server starts up"
    );
    assert_eq!(
        (initial[1].vs, initial[1].rs, initial[1].kind),
        (0, 1, EventKind::Up)
    );

    let down = next(&mut rx).await;
    assert_eq!((down.vs, down.rs, down.kind), (0, 1, EventKind::Down));
    assert_eq!(
        down.reason,
        format!("TCP connection to [127.0.0.1]:tcp:{dead_port} failed: connection refused")
    );

    // The server comes back: the next probe brings it up.
    let _back = dead.listen();
    let up = next(&mut rx).await;
    assert_eq!((up.rs, up.kind), (1, EventKind::Up));
    assert!(up.reason.contains("success"), "{}", up.reason);
    drop(live);
    runner.shutdown().await;
}

#[tokio::test]
async fn passing_checks_of_a_server_that_is_up_send_no_event() {
    let live = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = live.local_addr().unwrap().port();
    let (atx, mut accepted) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        while let Ok((c, _)) = live.accept().await {
            drop(c);
            let _ = atx.send(());
        }
    });
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 0.1; warmup 0; \
         real_server 127.0.0.1 {port} {{ TCP_CHECK {{ connect_timeout 1 }} }} }}"
    )));
    let (tx, mut rx) = mpsc::channel(16);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Up, "the initial state");
    // Five checks accepted: the first three at least were judged before the fifth started.
    for _ in 0..5 {
        tokio::time::timeout(Duration::from_secs(10), accepted.recv())
            .await
            .expect("a check within 10 s");
    }
    let mut after = Vec::new();
    while let Ok(e) = rx.try_recv() {
        after.push(e);
    }
    assert!(
        after.iter().all(|e| e.kind == EventKind::Checked),
        "only the first verdict, no event for unchanged results: {after:?}"
    );
    runner.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn alpha_server_starts_down_and_misc_dynamic_sets_the_weight() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("w.sh");
    write_executable(&script, "#!/bin/sh\nexit 12\n");
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 0.2; warmup 0.1; \
         real_server 127.0.0.1 80 {{ weight 1; alpha; MISC_CHECK {{ misc_path {}; misc_dynamic }} }} }}",
        script.display()
    )));
    let (tx, mut rx) = mpsc::channel(16);
    let _runner = Runner::start(&cfg, tx).unwrap();
    let first = next(&mut rx).await;
    assert_eq!(
        first.kind,
        EventKind::Down,
        "alpha: down until the first success"
    );
    let mut kinds = [next(&mut rx).await.kind, next(&mut rx).await.kind];
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(kinds, [EventKind::Up, EventKind::Weight(10)]);
}

#[tokio::test]
async fn server_without_checkers_is_up_and_bfd_is_ignored() {
    let cfg = config(&lines(
        "bfd_instance b1 { neighbor_ip 10.0.0.9 }\n\
         virtual_server 10.0.0.1 80 { protocol TCP; real_server 127.0.0.1 80 { BFD_CHECK { name b1 } } }",
    ));
    let mut warnings = Vec::new();
    let plan = lvsd::check::runner::plan(&cfg, &mut warnings).unwrap();
    assert_eq!(plan.len(), 1);
    assert!(plan[0].checkers.is_empty());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let (tx, mut rx) = mpsc::channel(4);
    let _runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Up);
}

#[tokio::test]
async fn bad_checker_settings_stop_the_start() {
    let cfg = config(&lines(
        "virtual_server 10.0.0.1 80 { protocol TCP; real_server 127.0.0.1 80 { MISC_CHECK { misc_path /bin/true; user no-such-user-lvsd } } }",
    ));
    let (tx, _rx) = mpsc::channel(4);
    let err = Runner::start(&cfg, tx)
        .err()
        .expect("unknown user is an error");
    assert!(
        err.to_string().contains("unknown user 'no-such-user-lvsd'"),
        "{err}"
    );
}

/// A reload keeps a checker whose definition did not change: its retries go on counting. A
/// MISC_CHECK that always fails with retry 3 runs 4 times before the server goes down; a reload after
/// its second run must not start the count again (that would take 6 runs).
#[tokio::test]
async fn a_reload_keeps_an_unchanged_checker_and_its_retry_count() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let script = dir.path().join("fail.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho run >> {}\nexit 1\n", runs.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let text = |extra: &str| {
        lines(&format!(
            "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 60; warmup 0; \
             real_server 127.0.0.1 8080 {{ MISC_CHECK {{ misc_path {}; retry 3; delay_before_retry 0.5 }} }} \
             {extra} }}",
            script.display()
        ))
    };
    let count = || {
        std::fs::read_to_string(&runs)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&config(&text("")), tx.clone()).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Up);
    let t0 = std::time::Instant::now();
    while count() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(10), "the script runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The same checker, and a new real server beside it.
    let new = config(&text("real_server 127.0.0.1 8081 { weight 2 }"));
    let carried = runner.stop_for_reload().await;
    while rx.try_recv().is_ok() {}
    let alive = vec![vec![true, true]];
    let (runner, n) = Runner::start_carried(&new, &alive, carried, tx).unwrap();
    assert_eq!((n.kept, n.started), (1, 0));
    let down = loop {
        let e = next(&mut rx).await;
        if e.kind == EventKind::Down {
            break e;
        }
    };
    assert_eq!((down.vs, down.rs), (0, 0));
    // 4: one run and three retries in all. 5 when the reload came while the second run had written
    // its line but not yet ended: that run is repeated, its failure counted once. A restarted count
    // would take 6 or 7.
    let n = count();
    assert!(n == 4 || n == 5, "{n} runs: the retry count started again");
    runner.shutdown().await;

    // A changed checker starts afresh.
    let (tx, _rx) = mpsc::channel(64);
    let runner = Runner::start(&config(&text("")), tx.clone()).unwrap();
    let carried = runner.stop_for_reload().await;
    let changed = config(&text("").replace("retry 3", "retry 2"));
    let (runner, n) = Runner::start_carried(&changed, &[vec![true]], carried, tx).unwrap();
    assert_eq!((n.kept, n.started), (0, 1));
    runner.shutdown().await;
}

#[tokio::test]
async fn a_server_counts_as_checked_only_after_its_first_verdict_is_out() {
    // The BGP announcer and /ready read Checked as "the health now rests on a check": a failing
    // first check's Down must come before it, never after.
    let dead = ClosedPort::new();
    let dead_port = dead.port();
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 0.2; warmup 0; retry 0; \
         real_server 127.0.0.1 {dead_port} {{ TCP_CHECK {{ connect_timeout 1 }} }} }}"
    )));
    let (tx, mut rx) = mpsc::channel(16);
    let _runner = Runner::start(&cfg, tx).unwrap();
    let mut kinds = Vec::new();
    while kinds.last() != Some(&EventKind::Checked) {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("runner alive");
        kinds.push(e.kind);
    }
    assert_eq!(
        kinds,
        [EventKind::Up, EventKind::Down, EventKind::Checked],
        "initial state, the verdict, then the marker"
    );
}

/// Virtual servers 10.0.0.1 .. 10.0.0.N port 80, each with real server 127.0.0.1:8080 checked by
/// `script` (MISC_CHECK, one run at start then none for a minute); `tweak(i)` adds to the i-th
/// checker block.
fn shared_config(
    top: &str,
    n: usize,
    script: &std::path::Path,
    tweak: impl Fn(usize) -> String,
) -> String {
    let mut text = format!("global_defs {{ {top} }}\n");
    for i in 1..=n {
        text.push_str(&lines(&format!(
            "virtual_server 10.0.0.{i} 80 {{ protocol TCP; delay_loop 60; warmup 0; \
             real_server 127.0.0.1 8080 {{ MISC_CHECK {{ misc_path {}; retry 0{} }} }} }}\n",
            script.display(),
            tweak(i)
        )));
    }
    text
}

/// Events until every one of `servers` (vs, rs) has its Checked marker; the health events among them.
async fn until_checked(
    rx: &mut mpsc::Receiver<CheckEvent>,
    servers: &[(usize, usize)],
) -> Vec<CheckEvent> {
    let mut left: Vec<(usize, usize)> = servers.to_vec();
    let mut seen = Vec::new();
    while !left.is_empty() {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("runner alive");
        if e.kind == EventKind::Checked {
            left.retain(|&s| s != (e.vs, e.rs));
        } else {
            seen.push(e);
        }
    }
    seen
}

/// A MISC_CHECK script that logs each run to `runs` and exits with the code in `code`.
fn counting_script(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (script, runs, code) = (dir.join("check.sh"), dir.join("runs"), dir.join("code"));
    write_executable(
        &script,
        &format!(
            "#!/bin/sh\necho run >> {}\nexit $(cat {})\n",
            runs.display(),
            code.display()
        ),
    );
    std::fs::write(&code, "0").unwrap();
    (script, runs, code)
}

fn runs(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn identical_checkers_of_a_real_server_in_several_virtual_servers_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log, code) = counting_script(dir.path());
    std::fs::write(&code, "1").unwrap();
    let cfg = config(&shared_config("", 3, &script, |_| String::new()));
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!((runner.len(), runner.probes()), (3, 1));
    let seen = until_checked(&mut rx, &[(0, 0), (1, 0), (2, 0)]).await;
    // One run judged all three: each virtual server's real server went down on it.
    let mut downs: Vec<usize> = seen
        .iter()
        .filter(|e| e.kind == EventKind::Down)
        .map(|e| e.vs)
        .collect();
    downs.sort_unstable();
    assert_eq!(downs, [0, 1, 2], "{seen:?}");
    assert_eq!(runs(&log), 1, "the script ran once for the three");
    runner.shutdown().await;

    // share_checks off: one run each, as keepalived.
    std::fs::remove_file(&log).unwrap();
    let cfg = config(&shared_config("share_checks off", 3, &script, |_| {
        String::new()
    }));
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!((runner.len(), runner.probes()), (3, 3));
    until_checked(&mut rx, &[(0, 0), (1, 0), (2, 0)]).await;
    assert_eq!(runs(&log), 3);
    runner.shutdown().await;
}

#[tokio::test]
async fn checkers_that_differ_in_anything_are_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log, _) = counting_script(dir.path());
    // The second differs in its timeout, the third in alpha: three probes for four checkers.
    let cfg = config(&shared_config("", 4, &script, |i| match i {
        2 => "; misc_timeout 7".into(),
        3 => "; alpha".into(),
        _ => String::new(),
    }));
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!((runner.len(), runner.probes()), (4, 3));
    until_checked(&mut rx, &[(0, 0), (1, 0), (2, 0), (3, 0)]).await;
    assert_eq!(runs(&log), 3);
    runner.shutdown().await;
}

#[tokio::test]
async fn a_reload_keeps_shared_checks_shared_and_a_new_one_joins_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log, code) = counting_script(dir.path());
    std::fs::write(&code, "1").unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(
        &config(&shared_config("", 2, &script, |_| String::new())),
        tx.clone(),
    )
    .unwrap();
    until_checked(&mut rx, &[(0, 0), (1, 0)]).await;
    assert_eq!(runs(&log), 1);

    // The same two and a third virtual server with the same real server and checker.
    let carried = runner.stop_for_reload().await;
    let cfg = config(&shared_config("", 3, &script, |_| String::new()));
    let alive = vec![vec![false]; 3];
    let (runner, n) = Runner::start_carried(&cfg, &alive, carried, tx).unwrap();
    assert_eq!((n.kept, n.started), (2, 1));
    assert_eq!(runner.probes(), 1, "still one probe");
    // The new one starts down, as the running check says, and counts as checked at once; the
    // others keep their verdict (no new event).
    let seen = until_checked(&mut rx, &[(2, 0)]).await;
    let third: Vec<_> = seen.iter().filter(|e| e.vs == 2).map(|e| e.kind).collect();
    assert_eq!(third, [EventKind::Down], "{seen:?}");
    assert_eq!(runs(&log), 1, "no probe ran again for the reload");
    runner.shutdown().await;
}

#[tokio::test]
async fn a_reload_keeps_a_checker_that_only_moved_in_the_file() {
    // A line added above every checker (a comment, a global setting) shifts where each block is;
    // the checkers are the same and keep running.
    let dir = tempfile::tempdir().unwrap();
    let (script, _, _) = counting_script(dir.path());
    let (tx, mut rx) = mpsc::channel(64);
    let text = shared_config("share_checks off", 2, &script, |_| String::new());
    let runner = Runner::start(&config(&text), tx.clone()).unwrap();
    until_checked(&mut rx, &[(0, 0), (1, 0)]).await;
    let carried = runner.stop_for_reload().await;
    let moved = format!("# maintenance window 2026-12-03\n\n{text}");
    let (runner, n) =
        Runner::start_carried(&config(&moved), &[vec![true], vec![true]], carried, tx).unwrap();
    assert_eq!((n.kept, n.started), (2, 0));
    runner.shutdown().await;
}

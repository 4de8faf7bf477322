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
    let dead_port = closed_port();
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
    let _back = TcpListener::bind(("127.0.0.1", dead_port)).await.unwrap();
    let up = next(&mut rx).await;
    assert_eq!((up.rs, up.kind), (1, EventKind::Up));
    assert!(up.reason.contains("success"), "{}", up.reason);
    drop(live);
    runner.shutdown().await;
}

#[tokio::test]
async fn alpha_server_starts_down_and_misc_dynamic_sets_the_weight() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("w.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 12\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
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

#[tokio::test]
async fn a_server_counts_as_checked_only_after_its_first_verdict_is_out() {
    // The BGP announcer and /ready read Checked as "the health now rests on a check": a failing
    // first check's Down must come before it, never after.
    let dead_port = closed_port();
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

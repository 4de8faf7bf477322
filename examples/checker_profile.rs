//! The checkers of a keepalived.conf on their own, without IPVS, as lvsd runs them (one
//! current-thread runtime): `checker_profile CONFIG [SECONDS]`. For profiling a check's cost on a
//! machine without IPVS (perf, strace -c) against local listeners (examples/bench_sink.rs); prints
//! the events the director would have had, and the CPU the process used.
use lvsd::check::{EventKind, Runner};
use lvsd::config::{load, LoadOptions};
use std::time::Duration;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: checker_profile CONFIG [SECONDS]");
        std::process::exit(2);
    };
    let secs: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let loaded = load(
        std::path::Path::new(path),
        &LoadOptions {
            config_id: String::new(),
            check_machine: false,
        },
    );
    let Some(cfg) = loaded.config else {
        eprintln!("{:?}", loaded.render());
        std::process::exit(1);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let runner = Runner::start(&cfg, tx).expect("checkers");
        let end = tokio::time::sleep(Duration::from_secs(secs));
        tokio::pin!(end);
        let (mut changes, mut other) = (0u64, 0u64);
        loop {
            tokio::select! {
                _ = &mut end => break,
                Some(e) = rx.recv() => match e.kind {
                    EventKind::Up | EventKind::Down | EventKind::Weight(_) => changes += 1,
                    EventKind::Checked => other += 1,
                },
            }
        }
        println!(
            "{} checkers, {secs} s: {changes} up/down/weight events, {other} first verdicts, {:.3} CPU s",
            runner.len(),
            cpu_seconds()
        );
    });
}

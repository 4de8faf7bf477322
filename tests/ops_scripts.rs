//! Scripts under control: never more than the limit at once (a flapping pool of hundreds of real
//! servers must not fork-bomb the director), MISC_CHECK's misc_timeout counting from the start of
//! the script and not from its wait for a slot, and scripts getting stdin, stdout and stderr only,
//! never lvsd's sockets or what lvsd inherited.

mod checkers_common;
#[allow(dead_code)] // helpers shared with the VRRP tests
mod common;

use checkers_common::{config, lines, write_executable};
use common::netns::{can_run, Lab};
use lvsd::check::{CheckEvent, EventKind, Runner};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A script recording how many copies of itself run: it marks itself running in DIR, appends the
/// number of marks it sees to DIR/seen, works for SECS, unmarks itself and exits with CODE (0 when
/// not given).
fn counting_script(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("count.sh");
    write_executable(
        &path,
        "#!/bin/sh\n\
         d=$1\n\
         touch \"$d/run.$$\"\n\
         ls \"$d\" | grep -c '^run\\.' >> \"$d/seen\"\n\
         sleep \"$2\"\n\
         rm -f \"$d/run.$$\"\n\
         exit \"${3:-0}\"\n",
    );
    path
}

/// What the counting scripts saw: (runs, the most running at once).
fn seen(dir: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(dir.join("seen")).unwrap_or_default();
    let counts: Vec<usize> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    (counts.len(), counts.iter().copied().max().unwrap_or(0))
}

const LIMIT: usize = 8;
const SERVERS: usize = 200;

/// 200 real servers whose MISC_CHECKs all start at once: at most LIMIT scripts run at a time, and
/// none fails for waiting. Each script takes 0.2 s (and some process starts) of its 3 s
/// misc_timeout, a wide margin on a loaded machine; its sleep makes the n-th round of 8 start
/// 0.2 x (n - 1) s late at least, so the last 80 scripts wait 3 s and more (up to 4.8 s) for their
/// slot, and would time out were the wait counted. Each script exits 5, which misc_dynamic makes
/// weight 3: every verdict is an event (Weight(3), or Down for a timeout), so the test waits for
/// all of them.
#[tokio::test]
async fn two_hundred_misc_checks_run_at_most_the_limit_at_once() {
    assert!(lvsd::notify::limit::set_max(LIMIT), "limit set first");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = counting_script(dir.path());
    let mut servers = String::new();
    for i in 0..SERVERS {
        servers.push_str(&format!(
            "real_server 127.0.{}.{} 80 {{ MISC_CHECK {{ misc_path \"{} {} 0.2 5\"; misc_timeout 3; misc_dynamic }} }}; ",
            i / 250,
            i % 250 + 1,
            script.display(),
            dir.path().display()
        ));
    }
    let cfg = config(&lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; delay_loop 60; warmup 0; retry 0; {servers}}}"
    )));
    let (tx, mut rx) = mpsc::channel::<CheckEvent>(4 * SERVERS);
    let runner = Runner::start(&cfg, tx).expect("runner");
    let mut events = Vec::new();
    let verdicts = |events: &[CheckEvent]| {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Weight(_) | EventKind::Down))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while verdicts(&events) < SERVERS {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => events.push(e),
            _ => panic!("{} of {SERVERS} verdicts within 60 s", verdicts(&events)),
        }
    }
    // Timeouts first: a script killed at its timeout leaves its mark, which the count would see.
    let down: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Down)
        .collect();
    assert!(
        down.is_empty(),
        "waiting for a slot must not count toward misc_timeout: {down:#?}"
    );
    let (runs, most) = seen(dir.path());
    assert_eq!(runs, SERVERS, "every server checked once");
    assert!(
        most <= LIMIT,
        "{most} scripts ran at once, the limit is {LIMIT}"
    );
    assert!(
        most >= 2,
        "the scripts overlapped ({most}): the count works"
    );
    assert!(
        events
            .iter()
            // Checked: a server's first verdict is out (for /ready and the BGP announcer).
            .all(|e| matches!(
                e.kind,
                EventKind::Up | EventKind::Weight(3) | EventKind::Checked
            )),
        "{events:#?}"
    );
    runner.shutdown().await;
}

/// lvsd --max-scripts bounds vrrp_script track scripts the same way.
#[test]
fn max_scripts_flag_bounds_track_scripts() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let work = lab.path("count");
    std::fs::create_dir(&work).expect("mkdir");
    let script = counting_script(&work);
    let mut conf = String::new();
    let mut track = String::new();
    for i in 0..30 {
        conf.push_str(&format!(
            "vrrp_script chk{i} {{\n script \"{} {} 0.3\"\n interval 2\n timeout 10\n}}\n",
            script.display(),
            work.display()
        ));
        track.push_str(&format!(" chk{i}\n"));
    }
    conf.push_str(&format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 62\n priority 100\n advert_int 1\n virtual_ipaddress {{ 10.9.0.100/24 }}\n track_script {{\n{track} }}\n}}\n"
    ));
    let d = lab.lvsd_with(0, &conf, &["-P", "-l", "-G", "--max-scripts", "3"], &[]);
    let t0 = Instant::now();
    while seen(&work).0 < 60 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (runs, most) = seen(&work);
    assert!(
        runs >= 60,
        "two rounds of 30 scripts ran ({runs}):\n{}",
        lab.log(d)
    );
    assert!(
        most <= 3,
        "{most} track scripts ran at once, --max-scripts 3"
    );
    assert!(
        lab.log(d).matches("--max-scripts").count() == 1,
        "the limit is logged once:\n{}",
        lab.log(d)
    );
}

/// The descriptors listed in FILE (`ls -l /proc/self/fd` output) other than 0, 1 and 2, except the
/// listing's own directory handle.
fn extra_fds(file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // The listing is complete (the script moves it into place when written): it shows stdin.
    if !text.lines().any(|l| l.contains(" 0 -> ")) {
        return Err(format!("{}: no listing of fd 0:\n{text}", file.display()));
    }
    Ok(text
        .lines()
        .filter(|l| l.contains(" -> "))
        .filter(|l| {
            let name = l.split(" -> ").next().unwrap_or("");
            let fd = name.rsplit(' ').next().unwrap_or("");
            !matches!(fd, "0" | "1" | "2")
        })
        .filter(|l| {
            !l.split(" -> ")
                .nth(1)
                .is_some_and(|t| t.starts_with("/proc/") && t.ends_with("/fd"))
        })
        .map(str::to_string)
        .collect())
}

/// A notify script and a track script list their descriptors: only stdio. lvsd was started with an
/// inherited descriptor (not close-on-exec), which must not reach them either.
#[test]
fn scripts_see_only_stdin_stdout_and_stderr() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    // Written aside and moved into place: the file appears complete, never half written.
    let list = |name: &str| {
        format!(
            "\"/bin/sh -c 'ls -l /proc/self/fd > {f}.tmp && mv {f}.tmp {f}'\"",
            f = lab.path(name).display()
        )
    };
    let conf = format!(
        "global_defs {{\n vrrp_notify_fifo {}\n}}\nvrrp_script chk {{\n script {}\n interval 1\n}}\nvrrp_instance VI_1 {{\n state MASTER\n interface eth0\n virtual_router_id 63\n priority 100\n advert_int 1\n virtual_ipaddress {{ 10.9.0.100/24 }}\n track_script {{\n chk\n }}\n notify_master {}\n}}\n",
        lab.path("fifo").display(),
        list("track.fds"),
        list("notify.fds"),
    );
    // An inherited descriptor: what a careless parent (shell, init script) passes down.
    let leak = std::fs::File::open("/dev/null").expect("open");
    // SAFETY: clearing FD_CLOEXEC on our own open descriptor.
    unsafe { libc::fcntl(leak.as_raw_fd(), libc::F_SETFD, 0) };
    let d = lab.lvsd_with(0, &conf, &["-P", "-l", "-G"], &[]);
    let t0 = Instant::now();
    let files = ["notify.fds", "track.fds"];
    while !files.iter().all(|f| lab.path(f).exists()) && t0.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // lvsd holds sockets now (VRRP, netlink, the FIFO): none may show in the listings.
    for f in files {
        let extra = extra_fds(&lab.path(f)).unwrap_or_else(|e| panic!("{e}\n{}", lab.log(d)));
        assert!(
            extra.is_empty(),
            "{f}: the script inherited {extra:#?}\nlvsd log:\n{}",
            lab.log(d)
        );
    }
    drop(leak);
}

//! Logging as keepalived's flags say, checked on a real datagram socket standing in for /dev/log
//! (LVSD_SYSLOG_SOCKET, the test hook lvsd(8) documents): `-S 3` puts local3 in every `<PRI>`,
//! `-l` adds stderr, and under systemd's journal (JOURNAL_STREAM names stderr) lines go to stderr
//! once, with `<N>` priorities, and not to syslog as well. Needs root (network namespaces).

#[allow(dead_code)] // helpers shared with the VRRP tests
mod common;

use common::netns::{can_run, Lab};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

const VRRP: &str = "vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 100
  advert_int 1
  virtual_ipaddress { 10.9.0.100/24 }
}
";

/// The syslog stand-in: a bound datagram socket in the lab directory.
fn syslog_socket(lab: &Lab) -> (UnixDatagram, std::path::PathBuf) {
    let path = lab.path("syslog.sock");
    let sock = UnixDatagram::bind(&path).expect("bind the syslog socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    (sock, path)
}

/// Datagrams received until one contains `want` (all of them, in order), or the timeout.
fn read_until(sock: &UnixDatagram, want: &str, timeout: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if let Ok(n) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = line.contains(want);
            got.push(line);
            if done {
                break;
            }
        }
    }
    got
}

/// `<PRI>Mmm dd hh:mm:ss lvsd[PID]: text`: (PRI, PID, text), or None when the form is wrong.
fn parse(line: &str) -> Option<(u16, u32, &str)> {
    let rest = line.strip_prefix('<')?;
    let (pri, rest) = rest.split_once('>')?;
    // "Nov  4 09:01:02 " is 16 bytes.
    let stamp = rest.get(..16)?;
    let b = stamp.as_bytes();
    let well_formed = b[3] == b' '
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b' '
        && stamp[..3].chars().all(|c| c.is_ascii_alphabetic());
    if !well_formed {
        return None;
    }
    let rest = rest.get(16..)?.strip_prefix("lvsd[")?;
    let (pid, text) = rest.split_once("]: ")?;
    Some((pri.parse().ok()?, pid.parse().ok()?, text))
}

#[test]
fn syslog_carries_the_chosen_facility_and_the_vrrp_lines() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let (sock, path) = syslog_socket(&lab);
    let d = lab.lvsd_with(
        0,
        VRRP,
        &["-P", "-S", "3"],
        &[("LVSD_SYSLOG_SOCKET", path.as_os_str())],
    );
    let pid = lab.pid(d).expect("pid");
    let lines = read_until(&sock, "Entering MASTER STATE", Duration::from_secs(15));
    let master = lines
        .iter()
        .find(|l| l.contains("(VI_1) Entering MASTER STATE"))
        .unwrap_or_else(|| panic!("no MASTER line in syslog: {lines:#?}"));
    // local3 = 19; info = 6: 19 x 8 + 6.
    let (pri, p, text) = parse(master).unwrap_or_else(|| panic!("not RFC 3164: {master:?}"));
    assert_eq!((pri, p), (158, pid), "{master}");
    assert!(text.starts_with("(VI_1) Entering MASTER STATE"), "{master}");
    for l in &lines {
        let (pri, p, _) = parse(l).unwrap_or_else(|| panic!("not RFC 3164: {l:?}"));
        assert_eq!((pri >> 3, p), (19, pid), "{l}");
    }

    // A broken file on reload: its diagnostic is a warning line (severity 4) and the refusal an error
    // (severity 3).
    lab.write("lvsd0.conf", &VRRP.replace("priority 100", "priority 300"));
    lab.signal(d, libc::SIGHUP);
    let lines = read_until(
        &sock,
        "keeping the running configuration",
        Duration::from_secs(10),
    );
    let find = |what: &str| {
        lines
            .iter()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no '{what}' in syslog: {lines:#?}"))
            .clone()
    };
    let diag = find("'priority'");
    assert_eq!(parse(&diag).map(|p| p.0), Some(19 * 8 + 4), "{diag}");
    let refused = find("keeping the running configuration");
    assert_eq!(parse(&refused).map(|p| p.0), Some(19 * 8 + 3), "{refused}");

    // Without -l nothing goes to the console.
    assert_eq!(lab.log(d), "", "stderr without -l");
}

#[test]
fn log_console_adds_stderr_and_a_missing_syslog_is_reported_once() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let (sock, path) = syslog_socket(&lab);
    let d = lab.lvsd_with(
        0,
        VRRP,
        &["-P", "-l"],
        &[("LVSD_SYSLOG_SOCKET", path.as_os_str())],
    );
    let lines = read_until(&sock, "Entering MASTER STATE", Duration::from_secs(15));
    let master = lines
        .iter()
        .find(|l| l.contains("Entering MASTER STATE"))
        .unwrap_or_else(|| panic!("no MASTER line in syslog: {lines:#?}"));
    assert_eq!(
        parse(master).map(|p| p.0),
        Some(3 * 8 + 6),
        "daemon.info by default"
    );
    assert!(
        lab.log(d).contains("(VI_1) Entering MASTER STATE"),
        "-l: {}",
        lab.log(d)
    );

    // The syslog daemon goes away: lvsd goes on, says so once, and its VRRP keeps running. Shut
    // down first: a child that another test forks at this moment holds a copy of the descriptor
    // until it execs, keeping a merely closed socket alive (lvsd's next lines would pass).
    sock.shutdown(std::net::Shutdown::Both)
        .expect("shut the syslog socket down");
    drop(sock);
    std::fs::remove_file(&path).expect("remove the socket");
    lab.signal(d, libc::SIGHUP);
    let t0 = Instant::now();
    while !lab.log(d).contains("reload done") && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = lab.log(d);
    assert!(log.contains("reload done"), "{log}");
    assert_eq!(
        log.matches("unavailable").count(),
        1,
        "one notice that syslog is gone:\n{log}"
    );
    assert_eq!(lab.holders("10.9.0.100"), [0], "{log}");
}

#[test]
fn under_the_journal_lines_go_to_stderr_once_with_priorities() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let (sock, path) = syslog_socket(&lab);
    // systemd's JOURNAL_STREAM names the stream by device and inode: point it at lvsd's stderr
    // file (created now, truncated in place when lvsd starts).
    let log = lab.write("lvsd0.log", "");
    let meta = std::fs::metadata(&log).expect("stat");
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let d = lab.lvsd_with(
        0,
        VRRP,
        &["-P"],
        &[
            ("LVSD_SYSLOG_SOCKET", path.as_os_str()),
            ("JOURNAL_STREAM", OsStr::new(&stream)),
        ],
    );
    assert_eq!(lab.log_path(d), log.as_path());
    let t0 = Instant::now();
    while !lab.log(d).contains("Entering MASTER STATE") && t0.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = lab.log(d);
    let master = text
        .lines()
        .find(|l| l.contains("(VI_1) Entering MASTER STATE"))
        .unwrap_or_else(|| panic!("no MASTER line on stderr: {text}"));
    assert!(
        master.starts_with("<6>"),
        "journal priority prefix: {master}"
    );
    assert!(
        text.lines().all(|l| l.starts_with('<')),
        "every line has its priority:\n{text}"
    );
    // A negative assertion: lines logged so far (the MASTER line among them) would already wait
    // in the socket; the second more covers any still on their way.
    let lines = read_until(&sock, "\u{0}never", Duration::from_secs(1));
    assert!(
        lines.is_empty(),
        "syslog would duplicate the journal: {lines:#?}"
    );

    // A JOURNAL_STREAM that is not our stderr (inherited from a parent) changes nothing.
    let mut lab = Lab::new(1);
    let (sock, path) = syslog_socket(&lab);
    let d = lab.lvsd_with(
        0,
        VRRP,
        &["-P", "-S", "7"],
        &[
            ("LVSD_SYSLOG_SOCKET", path.as_os_str()),
            ("JOURNAL_STREAM", OsStr::new("1:2")),
        ],
    );
    let lines = read_until(&sock, "Entering MASTER STATE", Duration::from_secs(15));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<190>") && l.contains("Entering MASTER STATE")),
        "{lines:#?}"
    );
    assert_eq!(lab.log(d), "");
}

//! Logging to syslog as keepalived does: RFC 3164-style datagrams (`<PRI>Mmm dd hh:mm:ss lvsd[pid]:
//! message`, the form glibc's syslog(3) sends) on the local socket /dev/log, as a tracing layer.
//! Writing never blocks and never fails the daemon: a missing or full socket drops the line, and
//! that is reported once on stderr.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The local syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Test hook: another datagram socket instead of /dev/log (documented in lvsd(8) as for tests).
pub const SOCKET_ENV: &str = "LVSD_SYSLOG_SOCKET";

/// A datagram longer than this is cut (at a character boundary): syslog daemons cut far earlier.
const MAX_LINE: usize = 8192;

/// How often a lost connection is tried again (a restarted syslog daemon comes back).
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// A syslog facility (RFC 3164 numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    pub const USER: Facility = Facility(1);
    pub const DAEMON: Facility = Facility(3);

    /// local0 .. local7.
    pub fn local(n: u8) -> Option<Facility> {
        (n <= 7).then_some(Facility(16 + n))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// keepalived's `-S`: 0-7 mean local0-local7; lvsd also takes the names localN, user, daemon.
    pub fn parse(s: &str) -> Result<Facility, String> {
        let local = s.strip_prefix("local").unwrap_or(s);
        if let Some(f) = local.parse::<u8>().ok().and_then(Facility::local) {
            return Ok(f);
        }
        match s {
            "user" => Ok(Facility::USER),
            "daemon" => Ok(Facility::DAEMON),
            _ => Err(format!(
                "expected 0-7 (local0-local7), local0-local7, user or daemon, found '{s}'"
            )),
        }
    }
}

/// syslog severity for a tracing level: error 3, warning 4, info 6, debug 7.
pub fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Local time as syslog writes it, broken down (month 0-11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
}

impl Stamp {
    /// Now, in the local time zone (UTC if it cannot be read).
    pub fn now() -> Stamp {
        // SAFETY: time(NULL) and localtime_r writing into our own tm have no other effects.
        let tm = unsafe {
            let t = libc::time(std::ptr::null_mut());
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&t, &mut tm).is_null() {
                libc::gmtime_r(&t, &mut tm);
            }
            tm
        };
        let b = |v: libc::c_int| u8::try_from(v).unwrap_or(0);
        Stamp {
            month: b(tm.tm_mon),
            day: b(tm.tm_mday),
            hour: b(tm.tm_hour),
            min: b(tm.tm_min),
            sec: b(tm.tm_sec),
        }
    }
}

/// One datagram: `<PRI>Nov  4 09:01:02 lvsd[123]: message`, PRI = facility x 8 + severity.
pub fn format_line(
    facility: Facility,
    severity: u8,
    at: Stamp,
    ident: &str,
    pid: u32,
    message: &str,
) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.get(usize::from(at.month)).copied().unwrap_or("Jan");
    let mut line = format!(
        "<{}>{month} {:>2} {:02}:{:02}:{:02} {ident}[{pid}]: {}",
        u16::from(facility.code()) * 8 + u16::from(severity),
        at.day,
        at.hour,
        at.min,
        at.sec,
        message.trim_end()
    );
    if line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line
}

/// An event's text: its message, then its other fields as `name=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// The connection to the syslog socket, made again when it was lost.
struct Conn {
    sock: Option<UnixDatagram>,
    last_try: Option<Instant>,
}

/// The tracing layer writing each event as one syslog datagram.
pub struct SyslogLayer {
    path: PathBuf,
    facility: Facility,
    ident: String,
    pid: u32,
    conn: Mutex<Conn>,
    /// "unavailable" was said on stderr; said again only after a line got through.
    reported: AtomicBool,
    dropped: AtomicU64,
}

impl SyslogLayer {
    /// Connects to `path`; an error when nothing listens there (the caller decides what then).
    pub fn connect(path: PathBuf, facility: Facility, ident: &str) -> std::io::Result<Self> {
        let sock = open(&path)?;
        Ok(SyslogLayer {
            path,
            facility,
            ident: ident.to_string(),
            pid: std::process::id(),
            conn: Mutex::new(Conn {
                sock: Some(sock),
                last_try: None,
            }),
            reported: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    /// The socket path: $LVSD_SYSLOG_SOCKET (tests) or /dev/log.
    pub fn default_path() -> PathBuf {
        std::env::var_os(SOCKET_ENV)
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from(DEV_LOG), PathBuf::from)
    }

    fn send(&self, line: &str) {
        let Ok(mut conn) = self.conn.lock() else {
            return;
        };
        if conn.sock.is_none() {
            let due = conn.last_try.is_none_or(|t| t.elapsed() >= RECONNECT_EVERY);
            if !due {
                self.lost(None);
                return;
            }
            conn.last_try = Some(Instant::now());
            match open(&self.path) {
                Ok(s) => conn.sock = Some(s),
                Err(e) => {
                    self.lost(Some(&e));
                    return;
                }
            }
        }
        let Some(sock) = conn.sock.as_ref() else {
            return;
        };
        match sock.send(line.as_bytes()) {
            Ok(_) => {
                if self.reported.swap(false, Ordering::Relaxed) {
                    let n = self.dropped.swap(0, Ordering::Relaxed);
                    say(&format!(
                        "syslog {} works again ({n} lines were lost)",
                        self.path.display()
                    ));
                }
            }
            // The daemon is busy and its queue is full: this line is lost, the next may pass.
            Err(e)
                if e.kind() == ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                self.lost(Some(&e))
            }
            // The daemon went away (restart): connect again later.
            Err(e) => {
                conn.sock = None;
                conn.last_try = Some(Instant::now());
                self.lost(Some(&e));
            }
        }
    }

    fn lost(&self, why: Option<&std::io::Error>) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.reported.swap(true, Ordering::Relaxed) {
            let why = why.map_or_else(|| "not connected".to_string(), |e| e.to_string());
            say(&format!(
                "syslog {} unavailable ({why}); lines are lost until it accepts them again",
                self.path.display()
            ));
        }
    }
}

/// One line on stderr about logging itself; a failing stderr is ignored (eprintln! would panic).
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "lvsd: {text}");
}

/// A non-blocking datagram socket connected to `path` (close-on-exec, as every std socket).
fn open(path: &std::path::Path) -> std::io::Result<UnixDatagram> {
    let s = UnixDatagram::unbound()?;
    s.connect(path)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let line = format_line(
            self.facility,
            severity(event.metadata().level()),
            Stamp::now(),
            &self.ident,
            self.pid,
            &text.0,
        );
        self.send(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_parse_like_keepalived_s_flag() {
        assert_eq!(Facility::parse("0").map(Facility::code), Ok(16));
        assert_eq!(Facility::parse("7").map(Facility::code), Ok(23));
        assert_eq!(Facility::parse("local3").map(Facility::code), Ok(19));
        assert_eq!(Facility::parse("daemon"), Ok(Facility::DAEMON));
        assert_eq!(Facility::parse("user"), Ok(Facility::USER));
        for bad in ["8", "local8", "-1", "", "kern"] {
            let e = Facility::parse(bad).expect_err(bad);
            assert!(e.contains("expected 0-7"), "{e}");
        }
    }

    #[test]
    fn line_is_rfc3164_as_glibc_sends_it() {
        let at = Stamp {
            month: 10,
            day: 4,
            hour: 9,
            min: 1,
            sec: 2,
        };
        let local3 = Facility::local(3).expect("local3");
        assert_eq!(
            format_line(
                local3,
                severity(&Level::INFO),
                at,
                "lvsd",
                4242,
                "(VI_1) Entering MASTER STATE\n"
            ),
            "<158>Nov  4 09:01:02 lvsd[4242]: (VI_1) Entering MASTER STATE"
        );
        let at = Stamp { day: 24, ..at };
        assert_eq!(
            format_line(
                Facility::DAEMON,
                severity(&Level::ERROR),
                at,
                "lvsd",
                1,
                "x"
            ),
            "<27>Nov 24 09:01:02 lvsd[1]: x"
        );
        assert_eq!(severity(&Level::WARN), 4);
        assert_eq!(severity(&Level::DEBUG), 7);
        let long = "é".repeat(MAX_LINE);
        let l = format_line(Facility::DAEMON, 6, at, "lvsd", 1, &long);
        assert!(l.len() <= MAX_LINE && l.ends_with('é'));
    }

    #[test]
    fn a_vanished_socket_loses_lines_without_blocking_or_failing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        let layer = SyslogLayer::connect(path.clone(), Facility::DAEMON, "lvsd").expect("connect");
        layer.send("<30>one");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"<30>one");
        // Never read: the queue fills up and further lines are dropped, the call returns at once.
        for _ in 0..10_000 {
            layer.send("<30>filler line to fill the receive queue of the socket");
        }
        assert!(layer.dropped.load(Ordering::Relaxed) > 0);
        // Shut down, not only closed: a child forked by a test running beside this one holds a
        // copy of the descriptor until it execs, and a closed socket would live on in it.
        server.shutdown(std::net::Shutdown::Both).expect("shutdown");
        drop(server);
        std::fs::remove_file(&path).expect("rm");
        layer.send("<30>lost");
        assert!(layer.reported.load(Ordering::Relaxed));
        // The daemon comes back: lines pass again after the reconnect delay.
        let server = UnixDatagram::bind(&path).expect("bind again");
        // The delay is what is tested: the last try was before this sleep, so the next line is
        // due for a reconnect (elapsed >= RECONNECT_EVERY), whatever the machine's load.
        std::thread::sleep(RECONNECT_EVERY);
        layer.send("<30>back");
        let n = server.recv(&mut buf).expect("recv after reconnect");
        assert_eq!(&buf[..n], b"<30>back");
        assert!(!layer.reported.load(Ordering::Relaxed));
    }
}

//! The BIRD shell: one task owns the control-socket connection, the include file and the liveness
//! interface, and applies the newest desired state it is given (a `watch`, as the IPVS thread
//! applies the newest table). It reconnects to a BIRD that is down or restarts and tells it the
//! whole state again; each error is logged once, with the VIP named, until it clears.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::bird::{self, Outcome, Parser, Reply, Route};
use super::tie::Tie;

/// How long a connection attempt, the greeting or one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Between connection attempts while BIRD is not there.
const RECONNECT: Duration = Duration::from_secs(1);
/// Between tries of a command BIRD refused (the operator may fix bird.conf meanwhile).
const RETRY: Duration = Duration::from_secs(5);
/// The longest reply line read (BIRD's are at most 512 bytes).
const LINE_MAX: u64 = 4096;

/// What BIRD should have, as the engine last decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub gen: u64,
    pub socket: PathBuf,
    pub include: PathBuf,
    pub iface: String,
    /// The configuration file, named in the include file's header.
    pub source: String,
    pub routes: Vec<Route>,
    /// lvsd stops: withdraw everything, then delete the liveness interface and end.
    pub stop: bool,
}

/// What BIRD was last told about one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    Enabled,
    Disabled,
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Connected to BIRD, or not (with the reason).
    Connection {
        connected: bool,
        error: Option<String>,
    },
    Told(Vec<(String, Told)>),
    /// The liveness interface is up (VIPs can be announced) or not, and why not.
    Tie {
        up: bool,
        error: Option<String>,
    },
    /// BIRD has every protocol as generation `gen` wants it.
    Synced(u64),
    /// Stopped: every VIP withdrawn (or BIRD unreachable) and the liveness interface deleted.
    Stopped,
}

/// Runs until a desired state with `stop` was applied (or the sender is gone).
pub async fn run(mut rx: watch::Receiver<Arc<Desired>>, tx: mpsc::UnboundedSender<Report>) {
    let mut w = Worker {
        tx,
        conn: None,
        told: HashMap::new(),
        configured: None,
        written: None,
        tie: None,
        log: OnceLog::default(),
        next_connect: Instant::now(),
        retry_at: None,
        connected_once: false,
    };
    loop {
        let d = rx.borrow_and_update().clone();
        w.apply(&d).await;
        if d.stop {
            w.tie = None;
            let _ = w.tx.send(Report::Tie {
                up: false,
                error: Some("lvsd is stopping".into()),
            });
            let _ = w.tx.send(Report::Stopped);
            return;
        }
        let wake = match (&w.conn, w.retry_at) {
            (None, _) => Some(w.next_connect),
            (Some(_), r) => r,
        };
        tokio::select! {
            r = rx.changed() => if r.is_err() {
                // The engine is gone without a stop: withdraw what we can.
                let mut last = (*d).clone();
                last.stop = true;
                for r in &mut last.routes { r.announced = false; }
                w.apply(&last).await;
                return;
            },
            _ = sleep_until(wake) => {}
            gone = closed(&mut w.conn) => if gone {
                w.disconnected("BIRD closed the control connection");
            },
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the idle connection has something to read: true when BIRD closed it.
async fn closed(conn: &mut Option<Conn>) -> bool {
    let Some(c) = conn else {
        return std::future::pending().await;
    };
    match c.idle_read().await {
        Ok(()) => false,
        Err(_) => true,
    }
}

struct Worker {
    tx: mpsc::UnboundedSender<Report>,
    conn: Option<Conn>,
    told: HashMap<String, Told>,
    /// The include file content BIRD last read through our `configure`.
    configured: Option<String>,
    written: Option<String>,
    tie: Option<Tie>,
    log: OnceLog,
    next_connect: Instant,
    retry_at: Option<Instant>,
    connected_once: bool,
}

impl Worker {
    fn disconnected(&mut self, why: &str) {
        if self.conn.take().is_some() {
            warn!("BGP: {why}; reconnecting to BIRD every {} s and telling it every VIP's state again", RECONNECT.as_secs());
            let _ = self.tx.send(Report::Connection {
                connected: false,
                error: Some(why.to_string()),
            });
        }
        self.told.clear();
        self.next_connect = Instant::now() + RECONNECT;
    }

    async fn apply(&mut self, d: &Desired) {
        self.tie_device(d);
        // The include file follows every change, so a `birdc configure` keeps today's state.
        let content = bird::include_file(&d.source, &d.iface, &d.routes);
        if self.written.as_deref() != Some(content.as_str()) {
            match write_atomically(&d.include, &content) {
                Ok(()) => {
                    self.log.ok("include", || {
                        format!("BGP: include file {} written again", d.include.display())
                    });
                    self.written = Some(content.clone());
                }
                Err(e) => self.log.fail(
                    "include",
                    format!(
                        "BGP: cannot write the include file {}: {e}; BIRD keeps what it read before",
                        d.include.display()
                    ),
                ),
            }
        }
        if self.conn.is_none() && Instant::now() >= self.next_connect {
            self.connect(d).await;
        }
        if self.conn.is_none() {
            return;
        }
        // BIRD learns which protocols exist from the include file: read again when the set of
        // VIPs changed, and on the first connection (it may hold what a previous lvsd left).
        let shape = bird::include_file(
            &d.source,
            &d.iface,
            &d.routes
                .iter()
                .map(|r| Route {
                    announced: false,
                    ..r.clone()
                })
                .collect::<Vec<_>>(),
        );
        if self.configured.as_deref() != Some(shape.as_str()) && self.written.is_some() {
            match self.command("configure").await {
                Some(reply) => match bird::configured(&reply) {
                    Outcome::Done => {
                        info!(
                            "BGP: BIRD read its configuration again ({} VIP protocol(s) from {})",
                            d.routes.len(),
                            d.include.display()
                        );
                        self.log.ok("configure", || {
                            "BGP: BIRD accepted its configuration".into()
                        });
                        self.configured = Some(shape);
                        // A reconfiguration sets each protocol as the file says: tell them again.
                        self.told.clear();
                    }
                    other => {
                        self.log.fail(
                            "configure",
                            format!("BGP: BIRD refused 'configure' (reading {} through bird.conf): {}; VIPs added since are not known to it", d.include.display(), describe(&other)),
                        );
                        self.retry_at = Some(Instant::now() + RETRY);
                    }
                },
                None => return,
            }
        }
        self.tell_all(d).await;
    }

    fn tie_device(&mut self, d: &Desired) {
        if d.stop {
            return;
        }
        if self.tie.as_ref().is_some_and(|t| t.name() == d.iface) {
            return;
        }
        self.tie = None;
        match Tie::create(&d.iface) {
            Ok(t) => {
                info!(
                    "BGP: liveness interface {} created (down until BIRD has every VIP's state)",
                    d.iface
                );
                self.log.ok("tie", || {
                    format!("BGP: liveness interface {} created", d.iface)
                });
                self.tie = Some(t);
            }
            Err(e) => {
                self.log.fail(
                    "tie",
                    format!("BGP: {e}; no VIP can be announced (their routes go through it)"),
                );
                let _ = self.tx.send(Report::Tie {
                    up: false,
                    error: Some(e.to_string()),
                });
            }
        }
    }

    async fn connect(&mut self, d: &Desired) {
        match Conn::connect(&d.socket).await {
            Ok(c) => {
                info!("BGP: connected to BIRD at {}", d.socket.display());
                self.log.ok("connect", || {
                    format!("BGP: BIRD at {} is reachable again", d.socket.display())
                });
                self.conn = Some(c);
                self.told.clear();
                if !self.connected_once {
                    self.connected_once = true;
                    self.configured = None;
                }
                let _ = self.tx.send(Report::Connection {
                    connected: true,
                    error: None,
                });
            }
            Err(e) => {
                let msg = format!(
                    "BGP: cannot reach BIRD at {}: {e}; nothing is announced until it can (retrying every {} s)",
                    d.socket.display(),
                    RECONNECT.as_secs()
                );
                self.log.fail("connect", msg);
                self.next_connect = Instant::now() + RECONNECT;
                let _ = self.tx.send(Report::Connection {
                    connected: false,
                    error: Some(e),
                });
            }
        }
    }

    /// One request; None (and the connection dropped) when BIRD did not answer properly.
    async fn command(&mut self, cmd: &str) -> Option<Reply> {
        let c = self.conn.as_mut()?;
        match c.command(cmd).await {
            Ok(r) => Some(r),
            Err(e) => {
                self.disconnected(&format!("BIRD did not answer '{cmd}': {e}"));
                None
            }
        }
    }

    /// Switches every protocol BIRD does not have as wanted, withdrawals first.
    async fn tell_all(&mut self, d: &Desired) {
        let now = Instant::now();
        let retry_due = self.retry_at.is_none_or(|t| now >= t);
        if retry_due {
            self.retry_at = None;
        }
        let mut order: Vec<&Route> = d.routes.iter().collect();
        order.sort_by_key(|r| r.announced);
        let mut changed = Vec::new();
        let mut refused = false;
        for r in order {
            let want = if r.announced {
                Told::Enabled
            } else {
                Told::Disabled
            };
            match self.told.get(&r.protocol) {
                Some(t) if *t == want => continue,
                Some(Told::Refused(_)) if !retry_due => {
                    refused = true;
                    continue;
                }
                _ => {}
            }
            let cmd = format!(
                "{} {}",
                if r.announced { "enable" } else { "disable" },
                r.protocol
            );
            let Some(reply) = self.command(&cmd).await else {
                break;
            };
            let key = format!("vip {}", r.addr);
            let t = match bird::switched(&reply, r.announced) {
                Outcome::Done => {
                    self.log.ok(&key, || {
                        format!("BGP: VIP {}: BIRD accepts '{cmd}' again", r.addr)
                    });
                    debug!("BGP: VIP {}: {cmd}: {}", r.addr, reply.text());
                    want
                }
                other => {
                    let msg = describe(&other);
                    self.log.fail(
                        &key,
                        format!(
                            "BGP: VIP {}: BIRD refused '{cmd}': {msg}{}",
                            r.addr,
                            hint(&other, &d.include)
                        ),
                    );
                    refused = true;
                    Told::Refused(msg)
                }
            };
            changed.push((r.protocol.clone(), t.clone()));
            self.told.insert(r.protocol.clone(), t);
        }
        if !changed.is_empty() {
            let _ = self.tx.send(Report::Told(changed));
        }
        if refused && self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + RETRY);
        }
        if self.conn.is_none() {
            return;
        }
        let synced = d.routes.iter().all(|r| {
            let want = if r.announced {
                Told::Enabled
            } else {
                Told::Disabled
            };
            self.told.get(&r.protocol) == Some(&want)
        });
        if synced {
            debug!("BGP: BIRD has every VIP as wanted (generation {})", d.gen);
        }
        // Done with this generation: every protocol told, or refused (and retried later).
        let _ = self.tx.send(Report::Synced(d.gen));
        if d.stop {
            return;
        }
        // BIRD has heard every VIP's state from this lvsd: routes through the device may count.
        if let Some(t) = self.tie.as_mut().filter(|t| !t.is_up()) {
            match t.set_up(true) {
                Ok(()) => {
                    info!("BGP: liveness interface {} up", t.name());
                    let _ = self.tx.send(Report::Tie {
                        up: true,
                        error: None,
                    });
                }
                Err(e) => {
                    self.log.fail("tie up", format!("BGP: {e}"));
                    let _ = self.tx.send(Report::Tie {
                        up: false,
                        error: Some(e.to_string()),
                    });
                }
            }
        }
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Done => "done".into(),
        Outcome::Refused { code, text } => format!("{code:04} {text}"),
        Outcome::Unexpected(t) => format!("unexpected reply: {t}"),
    }
}

fn hint(o: &Outcome, include: &Path) -> String {
    match o {
        Outcome::Refused { code: 9001, .. } => format!(
            " (BIRD does not know this protocol: does bird.conf say include \"{}\";?)",
            include.display()
        ),
        Outcome::Refused { code: 8007, .. } => {
            " (the control socket is restricted: lvsd needs one that may enable and disable protocols)"
                .into()
        }
        _ => String::new(),
    }
}

/// Writes `path` through a temporary file beside it and a rename, so BIRD never reads half a file.
fn write_atomically(path: &Path, content: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("lvsd-tmp.{}", std::process::id()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// One connection to BIRD's control socket.
struct Conn {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Conn {
    async fn connect(path: &Path) -> Result<Conn, String> {
        let s = tokio::time::timeout(REPLY_TIMEOUT, UnixStream::connect(path))
            .await
            .map_err(|_| "connecting timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let (r, w) = s.into_split();
        let mut c = Conn {
            r: BufReader::new(r),
            w,
        };
        let hello = tokio::time::timeout(REPLY_TIMEOUT, c.reply())
            .await
            .map_err(|_| "no greeting within 5 s".to_string())??;
        if !bird::greeting(&hello) {
            return Err(format!("not BIRD's greeting: {}", hello.text()));
        }
        Ok(c)
    }

    async fn reply(&mut self) -> Result<Reply, String> {
        let mut p = Parser::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut self.r)
                .take(LINE_MAX)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            if line.last() != Some(&b'\n') {
                return Err("reply line too long".into());
            }
            line.pop();
            let text = String::from_utf8_lossy(&line);
            if let Some(r) = p.feed(&text).map_err(|e| e.to_string())? {
                return Ok(r);
            }
        }
    }

    async fn command(&mut self, cmd: &str) -> Result<Reply, String> {
        tokio::time::timeout(REPLY_TIMEOUT, async {
            self.w
                .write_all(format!("{cmd}\n").as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            self.reply().await
        })
        .await
        .map_err(|_| format!("no reply within {} s", REPLY_TIMEOUT.as_secs()))?
    }

    /// Waits for input on an idle connection: Err when it was closed; spontaneous lines are read
    /// and dropped.
    async fn idle_read(&mut self) -> Result<(), ()> {
        let mut line = Vec::new();
        match (&mut self.r)
            .take(LINE_MAX)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => Err(()),
            Ok(_) => {
                debug!(
                    "BGP: BIRD said unasked: {}",
                    String::from_utf8_lossy(&line).trim_end()
                );
                Ok(())
            }
        }
    }
}

/// Errors logged once per object until they clear (then the recovery is logged once).
#[derive(Default)]
struct OnceLog {
    failing: HashMap<String, String>,
}

impl OnceLog {
    fn fail(&mut self, key: &str, msg: String) {
        if self.failing.get(key) != Some(&msg) {
            error!("{msg}");
            self.failing.insert(key.to_string(), msg);
        }
    }

    fn ok(&mut self, key: &str, msg: impl FnOnce() -> String) {
        if self.failing.remove(key).is_some() {
            info!("{}", msg());
        }
    }
}

/// The VIP a protocol name stands for, from the desired state.
pub fn vip_of(d: &Desired, protocol: &str) -> Option<IpAddr> {
    d.routes
        .iter()
        .find(|r| r.protocol == protocol)
        .map(|r| r.addr)
}

//! The daemon's side of the control socket: a Unix stream socket, mode 0600 owned by root (0660
//! with control_group, whose members get the read-only commands), one request line and one reply
//! line per connection (`events` streams), bounded request size and clients, every command logged
//! with the peer's uid. It runs on the engines' thread but never waits for them longer than a
//! command takes; the status JSON is built off that thread.

use std::cell::{Cell, RefCell};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::proto::{self, Access, Command, VrrpAction};
use crate::director::ctl::{AdminCmd, Ctl};
use crate::director::engine as lvs;
use crate::status::snapshot::Snapshot;
use crate::vrrp::engine as vrrp;

/// Clients served at once; more are told so and closed.
pub const MAX_CLIENTS: usize = 64;
/// A request that has not come whole in this time is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for an engine's answer.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(30);

/// A reload asked over the socket, for the daemon's loop (it owns reloading).
pub struct ReloadAsk {
    pub dry_run: bool,
    pub reply: oneshot::Sender<Result<Value, String>>,
}

/// What the commands reach.
#[derive(Clone)]
pub struct Handles {
    pub snap: Rc<RefCell<Snapshot>>,
    pub lvs: Option<mpsc::Sender<lvs::Control>>,
    pub vrrp: Option<mpsc::Sender<vrrp::Control>>,
    pub reload: mpsc::Sender<ReloadAsk>,
}

/// The bound socket; dropping it removes the file.
pub struct Socket {
    path: PathBuf,
    listener: Option<UnixListener>,
    group: Option<u32>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub enum BindError {
    /// Another lvsd answers on the socket: this one must not start.
    Busy(String),
    Other(String),
}

/// Binds `path`. Another lvsd answering there is an error (two daemons must not steer one
/// machine); a file nobody answers on is a leftover of a killed lvsd and is replaced.
pub fn bind(path: &Path, group: Option<&str>) -> Result<Socket, BindError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(BindError::Busy(format!(
            "another lvsd is running: its control socket {} answers",
            path.display()
        )));
    }
    bind_free(path, group).map_err(BindError::Other)
}

fn bind_free(path: &Path, group: Option<&str>) -> Result<Socket, String> {
    let gid = match group {
        Some(g) => Some(
            crate::notify::command::group_id(g)
                .ok_or_else(|| format!("control_group '{g}': no such group"))?,
        ),
        None => None,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => info!("control socket {}: replaced a leftover", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    // Created owner-only, then opened to the group: never readable by others in between.
    // SAFETY: umask has no preconditions; it is set back right after the bind.
    let old = unsafe { libc::umask(0o177) };
    let l = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let l = l.map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    if let Some(g) = gid {
        std::os::unix::fs::chown(path, Some(0), Some(g))
            .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    l.set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let listener = UnixListener::from_std(l).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Socket {
        path: path.into(),
        listener: Some(listener),
        group: gid,
    })
}

/// Serves the socket on the current LocalSet until the daemon stops.
pub fn serve(sock: &mut Socket, h: Handles) {
    let Some(listener) = sock.listener.take() else {
        return;
    };
    let group = sock.group;
    info!("control socket on {}", sock.path.display());
    let clients = Rc::new(Cell::new(0usize));
    let busy = Rc::new(Cell::new(0usize));
    tokio::task::spawn_local(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            if clients.get() >= MAX_CLIENTS {
                // Told so, after its request is read: closing on unread data resets the connection
                // and the client would not see why. Beyond twice the limit: closed at once.
                if busy.get() < MAX_CLIENTS {
                    busy.set(busy.get() + 1);
                    let busy = busy.clone();
                    tokio::task::spawn_local(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(1), read_line(&mut stream))
                                .await;
                        let _ = stream
                            .write_all(proto::error("too many clients; try again").as_bytes())
                            .await;
                        busy.set(busy.get() - 1);
                    });
                }
                continue;
            }
            clients.set(clients.get() + 1);
            let (h, clients) = (h.clone(), clients.clone());
            tokio::task::spawn_local(async move {
                client(stream, group, h).await;
                clients.set(clients.get() - 1);
            });
        }
    });
}

/// The peer's uid and what it may do: root everything, a control_group member look.
fn access(stream: &UnixStream, group: Option<u32>) -> (Option<u32>, Option<Access>) {
    let Ok(cred) = stream.peer_cred() else {
        return (None, None);
    };
    let uid = cred.uid();
    if uid == 0 {
        return (Some(uid), Some(Access::Full));
    }
    let member = group.is_some_and(|g| {
        cred.gid() == g
            || cred
                .pid()
                .is_some_and(|pid| supplementary(pid).contains(&g))
    });
    (Some(uid), member.then_some(Access::ReadOnly))
}

/// The supplementary groups of a process, from /proc.
fn supplementary(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Groups:").map(|g| {
                    g.split_whitespace()
                        .filter_map(|n| n.parse().ok())
                        .collect()
                })
            })
        })
        .unwrap_or_default()
}

/// One request line: at most MAX_REQUEST bytes, within READ_TIMEOUT.
async fn read_line(stream: &mut UnixStream) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading the request: {e}"))?;
            if n == 0 {
                return Err("truncated request: the connection closed before a newline".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.iter().position(|b| *b == b'\n') {
                buf.truncate(i);
                return Ok(());
            }
            if buf.len() > proto::MAX_REQUEST {
                return Err(format!(
                    "request too long (more than {} bytes without a newline)",
                    proto::MAX_REQUEST
                ));
            }
        }
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(())) => Ok(buf),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the request did not come whole in time".into()),
    }
}

async fn client(mut stream: UnixStream, group: Option<u32>, h: Handles) {
    let (uid, access) = access(&stream, group);
    let uid_s = uid.map_or("unknown".to_string(), |u| u.to_string());
    let Some(access) = access else {
        warn!("ctl: refused a connection from uid {uid_s}: only root and control_group may use the control socket");
        let _ = stream
            .write_all(proto::error("permission denied").as_bytes())
            .await;
        return;
    };
    let line = match read_line(&mut stream).await {
        Ok(l) => l,
        Err(e) => {
            warn!("ctl: uid {uid_s}: {e}");
            let _ = stream.write_all(proto::error(&e).as_bytes()).await;
            return;
        }
    };
    let cmd = match proto::parse(&line) {
        Ok(c) => c,
        Err(e) => {
            warn!("ctl: uid {uid_s}: bad request: {e}");
            let _ = stream.write_all(proto::error(&e).as_bytes()).await;
            return;
        }
    };
    if cmd.needs() == Access::Full && access != Access::Full {
        warn!("ctl: uid {uid_s}: {} refused: read-only access", cmd.name());
        let _ = stream
            .write_all(
                proto::error(&format!(
                    "permission denied: '{}' needs root (control_group may only look)",
                    cmd.name()
                ))
                .as_bytes(),
            )
            .await;
        return;
    }
    info!("ctl: uid {uid_s}: {}", describe(&cmd));
    if let Command::Events = cmd {
        return events(stream).await;
    }
    let reply = match cmd {
        // Built and serialized off this thread: the engines run here.
        Command::Status => status(&h).await.unwrap_or_else(|e| proto::error(&e)),
        cmd => match run(cmd, &h).await {
            Ok(v) => proto::ok(v),
            Err(e) => proto::error(&e),
        },
    };
    let _ = stream.write_all(reply.as_bytes()).await;
}

fn describe(c: &Command) -> String {
    match c {
        Command::Drain { vs, rs, timeout } => format!(
            "drain {vs} {rs}{}",
            timeout.map_or(String::new(), |t| format!(" --timeout {t}"))
        ),
        Command::Disable { vs, rs } => format!("disable {vs} {rs}"),
        Command::Enable { vs, rs } => format!("enable {vs} {rs}"),
        Command::Weight { vs, rs, weight } => format!("weight {vs} {rs} {weight}"),
        Command::Vrrp {
            instance,
            action,
            force,
        } => format!(
            "vrrp {instance} {}{}",
            match action {
                VrrpAction::Backup => "backup",
                VrrpAction::Resume => "resume",
            },
            if *force { " --force" } else { "" }
        ),
        other => other.name().to_string(),
    }
}

async fn answer<T>(rx: oneshot::Receiver<T>) -> Result<T, String> {
    match tokio::time::timeout(ENGINE_TIMEOUT, rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err("the engine stopped before answering".into()),
        Err(_) => Err("the engine did not answer in time".into()),
    }
}

async fn run(cmd: Command, h: &Handles) -> Result<Value, String> {
    match cmd {
        Command::Status => Err("status is answered by its own path".into()),
        Command::Drain { vs, rs, timeout } => {
            admin(
                h,
                vs,
                rs,
                AdminCmd::Drain {
                    timeout: timeout.map(Duration::from_secs),
                },
            )
            .await
        }
        Command::Disable { vs, rs } => admin(h, vs, rs, AdminCmd::Disable).await,
        Command::Enable { vs, rs } => admin(h, vs, rs, AdminCmd::Enable).await,
        Command::Weight { vs, rs, weight } => admin(h, vs, rs, AdminCmd::Weight(weight)).await,
        Command::Vrrp {
            instance,
            action,
            force,
        } => {
            let tx = h.vrrp.as_ref().ok_or("VRRP is not running (lvsd -C)")?;
            let (reply, rx) = oneshot::channel();
            tx.send(vrrp::Control::Hold {
                instance,
                hold: action == VrrpAction::Backup,
                force,
                reply,
            })
            .await
            .map_err(|_| "VRRP is not running")?;
            answer(rx).await?
        }
        Command::Reload { dry_run } => {
            let (reply, rx) = oneshot::channel();
            h.reload
                .send(ReloadAsk { dry_run, reply })
                .await
                .map_err(|_| "the daemon is stopping")?;
            answer(rx).await?
        }
        Command::Events => Err("events streams".into()),
    }
}

/// The status reply line: the snapshot's views copied here, joined with the kernel's counters and
/// serialized on a blocking thread.
async fn status(h: &Handles) -> Result<String, String> {
    let copy = super::view::copy(&h.snap.borrow());
    let wants_kernel = !h.snap.borrow().config.virtual_servers.is_empty();
    tokio::task::spawn_blocking(move || {
        let entries = if wants_kernel {
            crate::status::http::ipvs_entries()
        } else {
            None
        };
        super::view::status_line(&copy, entries.as_ref())
    })
    .await
    .map_err(|e| format!("status: {e}"))
}

async fn admin(h: &Handles, vs: String, rs: String, cmd: AdminCmd) -> Result<Value, String> {
    let tx = h
        .lvs
        .as_ref()
        .ok_or("health checks and IPVS are not running (lvsd -P)")?;
    let (reply, rx) = oneshot::channel();
    tx.send(lvs::Control::Ctl(Ctl::Admin { vs, rs, cmd, reply }))
        .await
        .map_err(|_| "health checks and IPVS are not running")?;
    answer(rx).await?
}

/// `events`: an ok line, then one line per event until the peer goes.
async fn events(mut stream: UnixStream) {
    let mut rx = crate::status::events::subscribe();
    if stream
        .write_all(proto::ok(serde_json::json!({"streaming": true})).as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let (mut rd, mut wr) = stream.into_split();
    let mut sink = [0u8; 64];
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                if wr.write_all(proto::event(ev).as_bytes()).await.is_err() {
                    return;
                }
            }
            r = rd.read(&mut sink) => {
                if matches!(r, Ok(0) | Err(_)) {
                    return;
                }
            }
        }
    }
}

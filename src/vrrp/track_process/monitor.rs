//! The shell around `Quorums`: a thread of its own (reading /proc may block on a busy process,
//! and VRRP must not wait for it) with a small tokio runtime. It follows the kernel's process
//! events, reads /proc again after lost events, and scans /proc every second where the kernel
//! sends no events (no proc connector, a refused subscription, no answer). It tells the VRRP
//! engine each verdict that changes; a reload hands it the new blocks and gets every verdict.

use std::io;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{error, info, warn};

use super::connector::{Connector, Namespace, Received};
use super::procfs;
use super::quorum::{Change, Def, Input, Needs, Quorums};
use super::wire::{self, ProcEvent};

/// /proc scans without process events.
const POLL: Duration = Duration::from_secs(1);
/// After lost events, the burst that caused it is left to pass before /proc is read again.
const RESCAN_AFTER_LOSS: Duration = Duration::from_secs(1);
/// How long the kernel has to answer the subscription.
const ACK_WAIT: Duration = Duration::from_secs(1);
/// `LVSD_PROC_EVENTS=0`: scan /proc instead of following events (documented in lvsd(8)).
const EVENTS_ENV: &str = "LVSD_PROC_EVENTS";
/// Datagrams handled before the thread looks at its commands again.
const BATCH: usize = 256;

/// Settings from global_defs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub rcvbuf: Option<u32>,
    pub rcvbuf_force: bool,
}

/// Changed verdicts, tagged with the configuration generation they belong to.
#[derive(Debug)]
pub struct Verdicts {
    pub gen: u64,
    pub changes: Vec<Change>,
}

enum Command {
    Reconfigure {
        defs: Vec<Def>,
        gen: u64,
        reply: oneshot::Sender<Vec<Change>>,
    },
}

/// The engine's handle; dropping it ends the thread (which unsubscribes).
pub struct Monitor {
    ctl: mpsc::UnboundedSender<Command>,
}

impl Monitor {
    /// Starts watching `defs`, reporting changes as generation `gen`; their verdicts now. None
    /// when no thread can start (the verdicts are then those of one scan, and never change).
    pub async fn start(
        defs: Vec<Def>,
        gen: u64,
        opts: Options,
        out: mpsc::UnboundedSender<Verdicts>,
    ) -> (Option<Monitor>, Vec<Change>) {
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let (ready, first) = oneshot::channel();
        let thread_defs = defs.clone();
        let spawned = std::thread::Builder::new()
            .name("lvsd-track-proc".into())
            .spawn(move || run_thread(thread_defs, gen, opts, out, ctl_rx, ready));
        if let Err(e) = spawned {
            error!("track_process: cannot start its thread: {e}; processes are counted once, now");
            return (None, count_once(defs));
        }
        match first.await {
            Ok(statuses) => (Some(Monitor { ctl }), statuses),
            Err(_) => {
                error!("track_process: its thread ended at start; processes are counted once, now");
                (None, count_once(defs))
            }
        }
    }

    /// New blocks (a reload), whose changes come as generation `gen`: every verdict now.
    pub async fn reconfigure(&self, defs: Vec<Def>, gen: u64) -> Option<Vec<Change>> {
        let (reply, rx) = oneshot::channel();
        self.ctl
            .send(Command::Reconfigure { defs, gen, reply })
            .ok()?;
        rx.await.ok()
    }
}

fn run_thread(
    defs: Vec<Def>,
    gen: u64,
    opts: Options,
    out: mpsc::UnboundedSender<Verdicts>,
    ctl: mpsc::UnboundedReceiver<Command>,
    ready: oneshot::Sender<Vec<Change>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("track_process: cannot start its runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let mut w = Watch::start(defs, gen, opts);
        if ready.send(w.core.statuses()).is_err() {
            return;
        }
        w.run(ctl, out).await;
    });
}

enum Source {
    Events {
        conn: AsyncFd<Connector>,
        /// The mark the kernel's answer carries, and until when it may come.
        waiting: Option<(u32, Instant)>,
    },
    Poll {
        next: Instant,
    },
}

struct Watch {
    core: Quorums,
    source: Source,
    rescan_at: Option<Instant>,
    gen: u64,
    /// Datagrams dropped as malformed or not from the kernel, for one log line each kind.
    malformed_logged: bool,
    foreign_logged: bool,
}

/// What one wake-up read from the socket.
#[derive(Default)]
struct Batch {
    events: Vec<ProcEvent>,
    malformed: usize,
    /// A sender other than the kernel.
    foreign: Option<u32>,
    /// The kernel dropped events (ENOBUFS).
    lost: bool,
    error: Option<io::Error>,
}

/// Waits until the socket is readable and reads what it holds, up to a batch; readiness is
/// cleared only when the socket is empty, so a batch cut short is read on at the next turn.
async fn receive(conn: &AsyncFd<Connector>) -> io::Result<Batch> {
    let mut guard = conn.readable().await?;
    let mut b = Batch::default();
    let mut buf = [0u8; 4096];
    for _ in 0..BATCH {
        match guard.try_io(|c| c.get_ref().recv(&mut buf)) {
            Ok(Ok(Received::Kernel(n))) => {
                let (events, bad) = wire::parse(&buf[..n.min(buf.len())]);
                b.events.extend(events);
                b.malformed += bad;
            }
            Ok(Ok(Received::Foreign(pid))) => b.foreign = Some(pid),
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => b.lost = true,
            Ok(Err(e)) => {
                b.error = Some(e);
                break;
            }
            // Empty: try_io cleared the readiness.
            Err(_would_block) => break,
        }
    }
    Ok(b)
}

/// Verdicts of one scan, when nothing can follow the processes.
fn count_once(defs: Vec<Def>) -> Vec<Change> {
    let procs = procfs::scan(needs_of(&defs));
    Quorums::new(defs, &procs).statuses()
}

fn needs_of(defs: &[Def]) -> Needs {
    Quorums::new(defs.to_vec(), &[]).needs()
}

impl Watch {
    /// Subscribes first, then scans, so no process starts unseen in between.
    fn start(defs: Vec<Def>, gen: u64, opts: Options) -> Watch {
        let source = Watch::subscribe(opts);
        let procs = procfs::scan(needs_of(&defs));
        Watch {
            core: Quorums::new(defs, &procs),
            source,
            rescan_at: None,
            gen,
            malformed_logged: false,
            foreign_logged: false,
        }
    }

    fn subscribe(opts: Options) -> Source {
        if std::env::var_os(EVENTS_ENV).is_some_and(|v| v == "0") {
            info!(
                "track_process: {EVENTS_ENV}=0, reading /proc every {}s",
                POLL.as_secs()
            );
            return Watch::polling();
        }
        let mark = rand::random::<u32>();
        let opened =
            Connector::open(opts.rcvbuf, opts.rcvbuf_force, 1, mark).and_then(|(c, ns)| {
                // SAFETY: the Connector owns its descriptor, open and unchanged as long as the
                // AsyncFd that owns the Connector.
                let fd = unsafe { AsyncFd::register(c) }.map_err(|e| e.into_parts().1)?;
                Ok((fd, ns))
            });
        match opened {
            Ok((conn, ns)) => {
                if ns == Namespace::Initial {
                    info!("track_process: process events come from the initial network namespace (this one has no proc connector)");
                }
                Source::Events {
                    conn,
                    waiting: Some((mark.wrapping_add(1), Instant::now() + ACK_WAIT)),
                }
            }
            Err(e) => {
                warn!("track_process: no process events from the kernel ({e}); reading /proc every {}s instead", POLL.as_secs());
                Watch::polling()
            }
        }
    }

    fn polling() -> Source {
        Source::Poll {
            next: Instant::now() + POLL,
        }
    }

    async fn run(
        &mut self,
        mut ctl: mpsc::UnboundedReceiver<Command>,
        out: mpsc::UnboundedSender<Verdicts>,
    ) {
        loop {
            let wake = [
                self.core.next_deadline().map(Instant::from_std),
                self.rescan_at,
                match &self.source {
                    Source::Events { waiting, .. } => waiting.map(|(_, t)| t),
                    Source::Poll { next } => Some(*next),
                },
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let readable = async {
                match &self.source {
                    Source::Events { conn, .. } => receive(conn).await,
                    Source::Poll { .. } => std::future::pending().await,
                }
            };
            let changes = tokio::select! {
                cmd = ctl.recv() => match cmd {
                    Some(Command::Reconfigure { defs, gen, reply }) => {
                        self.gen = gen;
                        let procs = procfs::scan(needs_of(&defs));
                        // The reply holds every verdict: the changes need not follow.
                        self.core.reconfigure(defs, std::time::Instant::now(), &procs);
                        let _ = reply.send(self.core.statuses());
                        Vec::new()
                    }
                    None => return,
                },
                r = readable => match r {
                    Ok(batch) => self.handle_batch(batch),
                    Err(e) => {
                        warn!("track_process: waiting for process events: {e}; reading /proc every {}s instead", POLL.as_secs());
                        self.source = Watch::polling();
                        Vec::new()
                    }
                },
                _ = sleep => self.timers(),
            };
            if !changes.is_empty() {
                for c in &changes {
                    info!(
                        "Quorum {} for tracked process {} ({} running)",
                        if c.up { "gained" } else { "lost" },
                        c.name,
                        c.count
                    );
                }
                let v = Verdicts {
                    gen: self.gen,
                    changes,
                };
                if out.send(v).is_err() {
                    return;
                }
            }
        }
    }

    fn handle_batch(&mut self, b: Batch) -> Vec<Change> {
        if b.malformed > 0 && !std::mem::replace(&mut self.malformed_logged, true) {
            warn!("track_process: dropped a malformed process event message (logged once)");
        }
        if let Some(pid) = b.foreign {
            if !std::mem::replace(&mut self.foreign_logged, true) {
                warn!("track_process: dropped a message from port {pid}, not the kernel (logged once)");
            }
        }
        if let Some(e) = b.error {
            warn!(
                "track_process: receiving process events: {e}; reading /proc every {}s instead",
                POLL.as_secs()
            );
            self.source = Watch::polling();
        }
        if b.lost {
            self.lost();
        }
        let mut changes = Vec::new();
        for ev in b.events {
            changes.extend(self.event(ev));
        }
        changes
    }

    /// The kernel dropped events: read /proc again once the burst is over, with more buffer.
    fn lost(&mut self) {
        if self.rescan_at.is_some() {
            return;
        }
        let grown = match &self.source {
            Source::Events { conn, .. } => conn.get_ref().grow(),
            Source::Poll { .. } => None,
        };
        match grown {
            Some(size) => warn!("track_process: process events were lost (receive buffer full); reading /proc again in 1s; receive buffer now {size} bytes (global_defs process_monitor_rcv_bufs sets it)"),
            None => warn!("track_process: process events were lost (receive buffer full); reading /proc again in 1s"),
        }
        self.rescan_at = Some(Instant::now() + RESCAN_AFTER_LOSS);
    }

    fn event(&mut self, ev: ProcEvent) -> Vec<Change> {
        let now = std::time::Instant::now();
        if let Source::Events { waiting, .. } = &mut self.source {
            match (&ev, *waiting) {
                (ProcEvent::Ack { ack, err, .. }, Some((mark, _))) if *ack == mark => {
                    *waiting = None;
                    if *err != 0 {
                        let e = io::Error::from_raw_os_error(*err as i32);
                        warn!("track_process: the kernel refused process events ({e}); reading /proc every {}s instead", POLL.as_secs());
                        self.source = Watch::polling();
                        return Vec::new();
                    }
                    info!("track_process: following the kernel's process events");
                }
                // The kernel queues its answer while taking the subscription: what comes before
                // it happened before the scan, or is meant for other listeners (outside the
                // initial pid namespace, the kernel answers nobody and its pids are not ours).
                (_, Some(_)) => return Vec::new(),
                _ => {}
            }
        }
        let input = match ev {
            ProcEvent::Ack { .. } => return Vec::new(),
            ProcEvent::Fork { parent, child } => Input::Fork { parent, child },
            ProcEvent::Exec { pid } => match procfs::read(pid, self.core.needs()) {
                Some(info) => Input::Exec(info),
                // Gone already: its exit follows.
                None => return Vec::new(),
            },
            ProcEvent::Comm { pid, comm } => Input::Comm { pid, comm },
            ProcEvent::Exit { pid } => Input::Exit { pid },
        };
        self.core.handle(now, input)
    }

    fn timers(&mut self) -> Vec<Change> {
        let now = Instant::now();
        let mut changes = Vec::new();
        match &mut self.source {
            Source::Events {
                waiting: Some((_, t)),
                ..
            } if *t <= now => {
                warn!("track_process: the kernel did not answer the subscription to process events; reading /proc every {}s instead", POLL.as_secs());
                self.source = Watch::polling();
            }
            Source::Poll { next } if *next <= now => {
                *next = now + POLL;
                changes.extend(self.rescan());
            }
            _ => {}
        }
        if self.rescan_at.is_some_and(|t| t <= now) {
            self.rescan_at = None;
            info!("track_process: reading /proc again after lost events");
            changes.extend(self.rescan());
        }
        changes.extend(self.core.handle(now.into_std(), Input::Tick));
        changes
    }

    fn rescan(&mut self) -> Vec<Change> {
        let procs = procfs::scan(self.core.needs());
        self.core
            .handle(std::time::Instant::now(), Input::Rescan(procs))
    }
}

//! The shell around the decision core: one tokio task per checker (probe, timer, `CheckerCore`) and
//! one per real server (`RsState`), which reports `CheckEvent`s to the director over a channel.
//! Dropping the `Runner` stops every task.

use super::decide::{Action, CheckerCore, Input, RsEvent, RsState, Timing};
use super::net::secs;
use super::probe::{self, BuildError, Probe};
use crate::config::model::Config;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What happened to real server `rs` of virtual server `vs` (indexes into the config's lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvent {
    pub vs: usize,
    pub rs: usize,
    pub kind: EventKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Up,
    Down,
    /// The weight the real server should have now (misc_dynamic, FILE_CHECK).
    Weight(u32),
}

/// A checker ready to run.
#[derive(Debug, Clone)]
pub struct PlannedChecker {
    pub kind: &'static str,
    pub probe: Probe,
    pub timing: Timing,
    pub warmup: Duration,
    pub log_all_failures: bool,
}

/// A real server's checkers.
#[derive(Debug, Clone)]
pub struct PlannedRs {
    pub vs: usize,
    pub rs: usize,
    /// `[10.0.0.2]:80`, for logs.
    pub name: String,
    pub weight: u32,
    pub checkers: Vec<PlannedChecker>,
}

/// Builds every real server's probes. BFD_CHECK is reported in `warnings` and left out (it does not
/// vote); any other error stops the build.
pub fn plan(cfg: &Config, warnings: &mut Vec<BuildError>) -> Result<Vec<PlannedRs>, BuildError> {
    let mut out = Vec::new();
    for (vi, vs) in cfg.virtual_servers.iter().enumerate() {
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            let mut checkers = Vec::new();
            for c in &rs.checkers {
                match Probe::build(cfg, rs, c) {
                    Ok(probe) => checkers.push(PlannedChecker {
                        kind: probe::kind_name(&c.kind),
                        probe,
                        timing: probe::timing(c),
                        warmup: c.warmup.0,
                        log_all_failures: c.log_all_failures || cfg.global.checker_log_all_failures,
                    }),
                    Err(e @ BuildError::Unsupported { .. }) => warnings.push(e),
                    Err(e) => return Err(e),
                }
            }
            let name = match rs.ip {
                std::net::IpAddr::V6(a) => format!("[{a}]:{}", rs.port),
                a => format!("[{a}]:{}", rs.port),
            };
            out.push(PlannedRs {
                vs: vi,
                rs: ri,
                name,
                weight: rs.weight,
                checkers,
            });
        }
    }
    Ok(out)
}

/// The running checkers.
pub struct Runner {
    tasks: JoinSet<()>,
    servers: usize,
}

impl Runner {
    /// Plans and starts all checkers of `cfg` (inside a tokio runtime).
    pub fn start(cfg: &Config, events: mpsc::Sender<CheckEvent>) -> Result<Runner, BuildError> {
        let mut warnings = Vec::new();
        let planned = plan(cfg, &mut warnings)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        let checkers: usize = planned.iter().map(|rs| rs.checkers.len()).sum();
        let limit = super::fdlimit::ensure(checkers);
        if limit < checkers as u64 {
            tracing::warn!("open file limit {limit} is below the {checkers} checkers: checks will fail with EMFILE");
        }
        Ok(Runner::spawn(planned, events))
    }

    /// Like `start`, but each real server starts in the state `alive[vs][rs]` says (after a reload):
    /// a server that was down stays down until a check passes, as with alpha.
    pub fn start_from(
        cfg: &Config,
        alive: &[Vec<bool>],
        events: mpsc::Sender<CheckEvent>,
    ) -> Result<Runner, BuildError> {
        let mut warnings = Vec::new();
        let mut planned = plan(cfg, &mut warnings)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        for rs in &mut planned {
            let up = alive
                .get(rs.vs)
                .and_then(|v| v.get(rs.rs))
                .copied()
                .unwrap_or(true);
            for c in &mut rs.checkers {
                c.timing.alpha = !up;
            }
        }
        Ok(Runner::spawn(planned, events))
    }

    pub fn spawn(planned: Vec<PlannedRs>, events: mpsc::Sender<CheckEvent>) -> Runner {
        let mut tasks = JoinSet::new();
        let servers = planned.len();
        for rs in planned {
            let (tx, rx) = mpsc::unbounded_channel();
            let alphas: Vec<bool> = rs.checkers.iter().map(|c| c.timing.alpha).collect();
            for (idx, c) in rs.checkers.into_iter().enumerate() {
                tasks.spawn(checker_task(idx, c, tx.clone()));
            }
            drop(tx);
            let state = RsState::new(rs.weight, &alphas);
            tasks.spawn(rs_task(rs.vs, rs.rs, rs.name, state, rx, events.clone()));
        }
        Runner { tasks, servers }
    }

    /// Number of tasks (checkers plus one per real server).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Number of real servers (each with its checkers).
    pub fn servers(&self) -> usize {
        self.servers
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every checker.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn checker_task(idx: usize, c: PlannedChecker, tx: mpsc::UnboundedSender<(usize, Action)>) {
    let mut core = CheckerCore::new(c.timing);
    // Spread checkers over the warmup so a restart does not probe every server at once.
    let offset = if c.warmup.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_millis(rand::random_range(0..=c.warmup.as_millis() as u64))
    };
    let mut next = Instant::now();
    for a in core.handle(Instant::now().into_std(), Input::Start { offset }) {
        if let Action::Arm(at) = a {
            next = Instant::from_std(at);
        }
    }
    loop {
        tokio::time::sleep_until(next).await;
        let _run = core.handle(Instant::now().into_std(), Input::Due);
        let outcome = c.probe.run().await;
        for a in core.handle(Instant::now().into_std(), Input::Result(outcome)) {
            match &a {
                Action::Arm(at) => next = Instant::from_std(*at),
                Action::Run => {}
                Action::Retry {
                    attempt,
                    of,
                    reason,
                    ..
                } => tracing::info!(
                    "{reason}; retry {attempt} of {of} in {}",
                    secs(c.timing.delay_before_retry)
                ),
                Action::StillDown { reason } => {
                    if c.log_all_failures {
                        tracing::info!("{reason}");
                    } else {
                        tracing::debug!("{reason}");
                    }
                }
                Action::Changed { up: true, reason } => tracing::info!("{reason}"),
                Action::Changed { up: false, reason } => {
                    tracing::warn!(
                        "{reason}; {} failed after {} retries",
                        c.kind,
                        c.timing.retry
                    )
                }
                Action::Weight(_) => {}
            }
            if matches!(a, Action::Changed { .. } | Action::Weight(_)) && tx.send((idx, a)).is_err()
            {
                return;
            }
        }
    }
}

async fn rs_task(
    vs: usize,
    rs: usize,
    name: String,
    mut state: RsState,
    mut rx: mpsc::UnboundedReceiver<(usize, Action)>,
    events: mpsc::Sender<CheckEvent>,
) {
    // `initial`: the state a server starts in, not a change; at debug level, because every real server
    // has one at start and after each reload (40,000 lines for a 10,000-service file).
    let send = |e: RsEvent, initial: bool| {
        let (kind, reason) = match e {
            RsEvent::Up { reason } => (EventKind::Up, reason),
            RsEvent::Down { reason } => (EventKind::Down, reason),
            RsEvent::Weight { weight, reason } => (EventKind::Weight(weight), reason),
        };
        match kind {
            _ if initial => tracing::debug!("Real server {name}: {reason} ({kind:?})"),
            EventKind::Up => tracing::info!("Real server {name} is up: {reason}"),
            EventKind::Down => tracing::warn!("Real server {name} is down: {reason}"),
            EventKind::Weight(w) => tracing::info!("Real server {name} weight {w}: {reason}"),
        }
        CheckEvent {
            vs,
            rs,
            kind,
            reason,
        }
    };
    if events.send(send(state.initial(), true)).await.is_err() {
        return;
    }
    while let Some((idx, action)) = rx.recv().await {
        for e in state.apply(idx, &action) {
            if events.send(send(e, false)).await.is_err() {
                return;
            }
        }
    }
}

//! The shell around the decision core: one tokio task runs every checker from a timer queue (probe,
//! `CheckerCore`) and combines each real server's checkers (`RsState`) into `CheckEvent`s for the
//! director. Dropping the `Runner` stops the task.

use super::connects::Connects;
use super::decide::{Action, CheckerCore, Input, Outcome, RsEvent, RsState, Timing};
use super::net::secs;
use super::probe::{self, BuildError, Probe};
use crate::config::model::Config;
use crate::status::snapshot::Histogram;
use futures::stream::{FuturesUnordered, StreamExt};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
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
    /// Every checker of the real server has come to its first verdict (once per start).
    Checked,
}

/// A checker ready to run.
#[derive(Debug, Clone)]
pub struct PlannedChecker {
    /// What the checker is (its definition and the real server's parts it uses): a reload keeps a
    /// running checker whose fingerprint did not change.
    pub fingerprint: u64,
    pub kind: &'static str,
    pub probe: Probe,
    pub timing: Timing,
    pub warmup: Duration,
    pub log_all_failures: bool,
    /// With share_checks: equal for checkers whose probes are identical (the fingerprint and what
    /// else a probe reads of its real server), which then run as one.
    pub share: Option<u64>,
}

/// A real server's checkers.
#[derive(Debug, Clone)]
pub struct PlannedRs {
    pub vs: usize,
    pub rs: usize,
    /// `[10.0.0.2]:80`, for logs.
    pub name: String,
    /// The real server across reloads: its virtual server and itself, not their indexes.
    pub key: String,
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
                    Ok(probe) => {
                        let fingerprint = fingerprint(cfg, rs, c);
                        checkers.push(PlannedChecker {
                            fingerprint,
                            kind: probe::kind_name(&c.kind),
                            probe,
                            timing: probe::timing(c),
                            warmup: c.warmup.0,
                            log_all_failures: c.log_all_failures
                                || cfg.global.checker_log_all_failures,
                            // FILE_CHECK scales the real server's weight: part of its probe.
                            share: cfg.global.share_checks.then(|| {
                                use std::hash::{Hash, Hasher};
                                let mut h = std::collections::hash_map::DefaultHasher::new();
                                (fingerprint, rs.weight).hash(&mut h);
                                h.finish()
                            }),
                        })
                    }
                    Err(e @ (BuildError::Unsupported { .. } | BuildError::Refused { .. })) => {
                        warnings.push(e)
                    }
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
                key: format!("{:?} {:?} {name}", vs.key, vs.protocol),
                name,
                weight: rs.weight,
                checkers,
            });
        }
    }
    Ok(out)
}

/// A checker's definition with what else its probe uses (the real server's address and virtual
/// host, the global settings checkers read), hashed.
fn fingerprint(
    cfg: &Config,
    rs: &crate::config::model::RealServer,
    c: &crate::config::model::Checker,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // Serialized, not Debug: the model's serialization leaves out where in the file the block
    // is, so a checker that only moved (a line added above it) is the same checker, and the same
    // block under several virtual servers is one probe.
    format!(
        "{} {} {:?} {:?} {:?} {}",
        serde_json::to_string(c).unwrap_or_else(|_| format!("{c:?}")),
        rs.ip,
        rs.port,
        rs.virtualhost,
        cfg.global.script_user,
        cfg.global.enable_script_security
    )
    .hash(&mut h);
    // A password and secret headers are serialized as <redacted>: a changed one must still
    // restart the checker.
    if let crate::config::model::CheckKind::Http(k) | crate::config::model::CheckKind::Ssl(k) =
        &c.kind
    {
        for u in &k.urls {
            u.password.as_ref().map(|p| p.expose()).hash(&mut h);
            u.headers.hash(&mut h);
        }
    }
    h.finish()
}

/// `plan` with its warnings logged, and the open file limit raised for that many checkers (at start
/// and at each reload, which may add some).
fn planned(cfg: &Config) -> Result<Vec<PlannedRs>, BuildError> {
    let mut warnings = Vec::new();
    let planned = plan(cfg, &mut warnings)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let checkers: usize = planned.iter().map(|rs| rs.checkers.len()).sum();
    let limit = super::fdlimit::ensure(checkers);
    if limit < checkers as u64 {
        tracing::warn!(
            "open file limit {limit} is below the {checkers} checkers: checks will fail with EMFILE"
        );
    }
    Ok(planned)
}

/// The running checkers: one task for all of them. An idle checker is plain data in a timer queue
/// (its core, its probe, its real server); only a probe that is running is a future. A task per
/// checker cost about 4 KiB each (task cell, timer, channel), most of lvsd's memory with 10,000.
pub struct Runner {
    task: Option<tokio::task::JoinHandle<()>>,
    /// Asks the running task for its state and ends it (a reload).
    export: Option<mpsc::UnboundedSender<tokio::sync::oneshot::Sender<Carried>>>,
    servers: usize,
    checkers: usize,
    probes: usize,
}

/// What a reload carries from the old checkers to the new: each checker's core, when it is due
/// (None: it was running) and its probe (checkers that shared one have the same), each real
/// server's verdicts, the latency histograms.
#[derive(Default)]
pub struct Carried {
    checkers: HashMap<CheckerKey, KeptChecker>,
    servers: HashMap<String, (RsState, Vec<u64>)>,
    latency: BTreeMap<&'static str, Histogram>,
}

/// A checker across a reload: its real server's key, its index there, its fingerprint.
type CheckerKey = (String, usize, u64);
/// Its core, when it is due (None: running) and the probe it ran as (the same for shared ones).
type KeptChecker = (CheckerCore, Option<Instant>, u32);

/// How a reload went for the checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadCount {
    pub kept: usize,
    pub started: usize,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Runner {
    /// Plans and starts all checkers of `cfg` (inside a tokio runtime).
    pub fn start(cfg: &Config, events: mpsc::Sender<CheckEvent>) -> Result<Runner, BuildError> {
        Ok(Runner::spawn(planned(cfg)?, events))
    }

    pub fn spawn(planned: Vec<PlannedRs>, events: mpsc::Sender<CheckEvent>) -> Runner {
        Runner::spawn_carried(planned, Carried::default(), events).0
    }

    fn spawn_carried(
        planned: Vec<PlannedRs>,
        carried: Carried,
        events: mpsc::Sender<CheckEvent>,
    ) -> (Runner, ReloadCount) {
        let servers = planned.len();
        let checkers = planned.iter().map(|rs| rs.checkers.len()).sum();
        let (sched, count) = Scheduler::new(planned, carried);
        let probes = sched.slots.len();
        if probes < checkers {
            tracing::info!(
                "{checkers} checkers run as {probes} probes: {} check a real server another virtual server checks the same way (share_checks)",
                checkers - probes
            );
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(sched.run(events, rx));
        let runner = Runner {
            task: Some(task),
            export: Some(tx),
            servers,
            checkers,
            probes,
        };
        (runner, count)
    }

    /// A reload, first half: stops the checkers and keeps their state for `start_carried`.
    pub async fn stop_for_reload(mut self) -> Carried {
        self.take_state().await
    }

    /// A reload, second half: checkers whose definition did not change go on from where they were
    /// (retry counts, timers, verdicts); each other real server starts in the state `alive[vs][rs]`
    /// says (one that was down stays down until a check passes, as with alpha).
    pub fn start_carried(
        cfg: &Config,
        alive: &[Vec<bool>],
        carried: Carried,
        events: mpsc::Sender<CheckEvent>,
    ) -> Result<(Runner, ReloadCount), BuildError> {
        let mut planned = planned(cfg)?;
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
        Ok(Runner::spawn_carried(planned, carried, events))
    }

    /// Stops the task, taking its state (empty if it already ended).
    async fn take_state(&mut self) -> Carried {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let asked = self.export.take().is_some_and(|e| e.send(tx).is_ok());
        let state = if asked {
            rx.await.unwrap_or_default()
        } else {
            Carried::default()
        };
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        state
    }

    /// Number of checkers.
    pub fn len(&self) -> usize {
        self.checkers
    }

    /// Number of probes run per round: checkers less those that share another's (share_checks).
    pub fn probes(&self) -> usize {
        self.probes
    }

    /// Number of real servers (each with its checkers).
    pub fn servers(&self) -> usize {
        self.servers
    }

    pub fn is_empty(&self) -> bool {
        self.checkers == 0
    }

    /// Stops every checker (a probe in flight is dropped, closing its socket or killing its script).
    pub async fn shutdown(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// One checker between runs.
struct Slot {
    core: CheckerCore,
    probe: Probe,
    kind: &'static str,
    log_all_failures: bool,
    /// Index into `Scheduler::servers`, and this checker's index among that server's checkers.
    server: u32,
    idx: u32,
    /// The same for the checkers of other real servers this probe also judges (share_checks).
    also: Box<[(u32, u32)]>,
    /// No verdict yet (a retry is none).
    unjudged: bool,
    fingerprint: u64,
}

struct Server {
    vs: usize,
    rs: usize,
    name: Box<str>,
    /// See `PlannedRs::key`.
    key: Box<str>,
    state: RsState,
    /// Checkers still without their first verdict.
    unjudged: u32,
    /// Each of its checkers joined a probe a reload kept, whose verdict it took: judged at once.
    judged_at_start: bool,
}

impl Slot {
    /// (server, checker index) of every checker this probe judges, its own first.
    fn members(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        std::iter::once((self.server, self.idx)).chain(self.also.iter().copied())
    }
}

type Running = Pin<Box<dyn Future<Output = (u32, Outcome, Duration)> + Send>>;

/// A running check with its slot and its duration, in one allocation.
struct Timed(u32);

impl probe::Launch for Timed {
    type Out = Running;
    fn launch<F: Future<Output = Outcome> + Send + 'static>(self, check: F) -> Running {
        let id = self.0;
        Box::pin(async move {
            let t0 = Instant::now();
            (id, check.await, t0.elapsed())
        })
    }
}

/// How late a check may start, or a connect's timeout be seen, so that checks due close together
/// share a wake-up: up to MAX_SLACK, reached at FULL_SLACK_RATE checks a second and shrinking with
/// the rate (a few checkers wake for each check: their wake-ups cost nothing worth saving, and a
/// check on time sees a failure soonest). Small beside any delay_loop or connect_timeout.
const MAX_SLACK: Duration = Duration::from_millis(50);
const FULL_SLACK_RATE: f64 = 500.0;

/// The slack for checkers running at `rate` checks a second (each one per delay_loop).
fn slack_for(rate: f64) -> Duration {
    MAX_SLACK.mul_f64((rate / FULL_SLACK_RATE).clamp(0.0, 1.0))
}

/// How often the probe durations go to the status task (for /metrics): often enough for a scrape,
/// rarely enough to cost nothing next to 10,000 checks a second.
const LATENCY_REPORT: Duration = Duration::from_secs(5);

struct Scheduler {
    slots: Vec<Slot>,
    /// TCP_CHECK connects in progress (the other kinds run as futures).
    connects: Option<Connects>,
    servers: Vec<Server>,
    /// (due time, slot), earliest first.
    queue: BinaryHeap<Reverse<(Instant, u32)>>,
    /// Probe durations by checker type since start.
    latency: BTreeMap<&'static str, Histogram>,
    /// See `slack_for`.
    slack: Duration,
}

impl Scheduler {
    /// `carried`: the state of the checkers a reload keeps.
    fn new(planned: Vec<PlannedRs>, mut carried: Carried) -> (Scheduler, ReloadCount) {
        let now = Instant::now();
        let mut count = ReloadCount::default();
        let mut sched = Scheduler {
            slots: Vec::new(),
            connects: None,
            servers: Vec::with_capacity(planned.len()),
            queue: BinaryHeap::new(),
            latency: std::mem::take(&mut carried.latency),
            slack: Duration::ZERO,
        };
        // Probes that checkers with the same share key join: fresh ones by (key, alpha), kept ones
        // by (key, the probe they had), and a kept one by key alone for fresh checkers (which
        // take its verdict).
        let mut fresh_probes: HashMap<(u64, bool), u32> = HashMap::new();
        let mut kept_probes: HashMap<(u64, u32), u32> = HashMap::new();
        let mut running_probes: HashMap<u64, u32> = HashMap::new();
        let mut also: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
        for rs in planned {
            let server = sched.servers.len() as u32;
            let prints: Vec<u64> = rs.checkers.iter().map(|c| c.fingerprint).collect();
            let mut alphas = Vec::with_capacity(rs.checkers.len());
            let mut unjudged = 0;
            let mut inherited = 0;
            let n_checkers = rs.checkers.len();
            for (idx, c) in rs.checkers.into_iter().enumerate() {
                let kept = carried
                    .checkers
                    .remove(&(rs.key.clone(), idx, c.fingerprint));
                let join = c.share.and_then(|k| match &kept {
                    Some((_, _, probe)) => kept_probes.get(&(k, *probe)).copied(),
                    None => fresh_probes
                        .get(&(k, c.timing.alpha))
                        .or_else(|| running_probes.get(&k))
                        .copied(),
                });
                if let Some(id) = join {
                    let slot = &sched.slots[id as usize];
                    also.entry(id).or_default().push((server, idx as u32));
                    if slot.unjudged {
                        unjudged += 1;
                        alphas.push(c.timing.alpha);
                    } else if kept.is_some() {
                        alphas.push(c.timing.alpha);
                    } else {
                        inherited += 1;
                        alphas.push(!slot.core.is_up());
                    }
                    if kept.is_some() {
                        count.kept += 1;
                    } else {
                        count.started += 1;
                    }
                    continue;
                }
                let id = sched.slots.len() as u32;
                let fresh = kept.is_none();
                if let Some(k) = c.share {
                    match &kept {
                        Some((_, _, probe)) => {
                            kept_probes.insert((k, *probe), id);
                            running_probes.entry(k).or_insert(id);
                        }
                        None => {
                            fresh_probes.insert((k, c.timing.alpha), id);
                        }
                    }
                }
                alphas.push(c.timing.alpha);
                let core = match kept {
                    Some((core, due, _)) => {
                        count.kept += 1;
                        // One that was running when the reload came runs again now.
                        sched.queue.push(Reverse((due.unwrap_or(now), id)));
                        core
                    }
                    None => {
                        count.started += 1;
                        unjudged += 1;
                        let mut core = CheckerCore::new(c.timing);
                        // Spread checkers over the warmup so a restart does not probe every server
                        // at once.
                        let offset = if c.warmup.is_zero() {
                            Duration::ZERO
                        } else {
                            Duration::from_millis(rand::random_range(
                                0..=c.warmup.as_millis() as u64,
                            ))
                        };
                        for a in core.handle(now.into_std(), Input::Start { offset }) {
                            if let Action::Arm(at) = a {
                                sched.queue.push(Reverse((Instant::from_std(at), id)));
                            }
                        }
                        core
                    }
                };
                sched.slots.push(Slot {
                    core,
                    probe: c.probe,
                    kind: c.kind,
                    log_all_failures: c.log_all_failures,
                    server,
                    idx: idx as u32,
                    also: Box::default(),
                    unjudged: fresh,
                    fingerprint: c.fingerprint,
                });
            }
            // The real server's verdicts go on only when all its checkers do.
            let state = match carried.servers.remove(&rs.key) {
                Some((st, old)) if old == prints && unjudged == 0 && inherited == 0 => {
                    st.carried(rs.weight)
                }
                _ => RsState::new(rs.weight, &alphas),
            };
            sched.servers.push(Server {
                vs: rs.vs,
                rs: rs.rs,
                name: rs.name.into_boxed_str(),
                key: rs.key.into_boxed_str(),
                state,
                unjudged,
                judged_at_start: n_checkers > 0 && inherited == n_checkers,
            });
        }
        for (id, members) in also {
            sched.slots[id as usize].also = members.into_boxed_slice();
        }
        sched.slots.shrink_to_fit();
        let rate: f64 = sched
            .slots
            .iter()
            .map(|s| 1.0 / s.core.timing().delay_loop.as_secs_f64().max(0.001))
            .sum();
        sched.slack = slack_for(rate);
        if sched.slots.iter().any(|s| matches!(s.probe, Probe::Tcp(_))) {
            match Connects::new() {
                Ok(c) => sched.connects = Some(c),
                // TCP checks then run as futures, as the other kinds.
                Err(e) => tracing::warn!("TCP_CHECK: no epoll set ({e}); connects run one by one"),
            }
        }
        (sched, count)
    }

    /// The state a reload carries over, taken when the task ends.
    fn carried(&self) -> Carried {
        let mut due: HashMap<u32, Instant> = HashMap::new();
        for Reverse((at, id)) in self.queue.iter() {
            due.insert(*id, *at);
        }
        let mut c = Carried {
            latency: self.latency.clone(),
            ..Carried::default()
        };
        let mut prints: Vec<Vec<(u32, u64)>> = vec![Vec::new(); self.servers.len()];
        for (id, slot) in self.slots.iter().enumerate() {
            let id = id as u32;
            for (server, idx) in slot.members() {
                c.checkers.insert(
                    (
                        self.servers[server as usize].key.to_string(),
                        idx as usize,
                        slot.fingerprint,
                    ),
                    (slot.core.clone(), due.get(&id).copied(), id),
                );
                prints[server as usize].push((idx, slot.fingerprint));
            }
        }
        for (server, mut p) in self.servers.iter().zip(prints) {
            p.sort_unstable();
            c.servers.insert(
                server.key.to_string(),
                (
                    server.state.clone(),
                    p.into_iter().map(|(_, f)| f).collect(),
                ),
            );
        }
        c
    }

    async fn run(
        mut self,
        events: mpsc::Sender<CheckEvent>,
        mut export: mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<Carried>>,
    ) {
        for i in 0..self.servers.len() {
            let e = self.servers[i].state.initial();
            if events.send(event(&self.servers[i], e, true)).await.is_err() {
                return;
            }
            let s = &self.servers[i];
            if s.judged_at_start {
                let checked = CheckEvent {
                    vs: s.vs,
                    rs: s.rs,
                    kind: EventKind::Checked,
                    reason: String::new(),
                };
                if events.send(checked).await.is_err() {
                    return;
                }
            }
        }
        let mut running: FuturesUnordered<Running> = FuturesUnordered::new();
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        let mut report = tokio::time::interval_at(Instant::now() + LATENCY_REPORT, LATENCY_REPORT);
        loop {
            // Connects that ended (answered, timed out, or at once) are judged first.
            while let Some(d) = self.connects.as_mut().and_then(Connects::pop_done) {
                let slot = &self.slots[d.slot as usize];
                let outcome = match &slot.probe {
                    Probe::Tcp(_) if !slot.core.uses_reason(d.result.is_yes()) => {
                        Outcome::pass(String::new())
                    }
                    Probe::Tcp(t) => t.outcome(d.result),
                    _ => continue,
                };
                if !self.completed(d.slot, outcome, d.took, &events).await {
                    return;
                }
            }
            // One wake-up serves every check due within the slack of the first: under load a
            // wake-up (the runtime's epoll_wait, the timer's re-arm, the scheduler, the local
            // server's wake-up for a burst rather than each connection) costs more than the
            // checks' own bookkeeping. A retry is not delayed: its result may take the server out.
            let slack = self.slack;
            let first = self.queue.peek().map(|&Reverse((at, id))| {
                if self.slots[id as usize].core.retrying() {
                    at
                } else {
                    at + slack
                }
            });
            let next = [
                first,
                self.connects
                    .as_mut()
                    .and_then(Connects::next_deadline)
                    .map(|at| at + slack),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some(at) = next {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
            }
            tokio::select! {
                _ = &mut sleep, if next.is_some() => {
                    // tokio's timer works in whole milliseconds and may fire up to one early: what
                    // it fired for is due, or this loop would spin on an elapsed timer.
                    let now = Instant::now().max(sleep.deadline());
                    while let Some(Reverse((at, id))) = self.queue.peek().copied() {
                        if at > now {
                            break;
                        }
                        self.queue.pop();
                        // Input::Due only answers Run: the probe starts here without asking.
                        match (&self.slots[id as usize].probe, &mut self.connects) {
                            (Probe::Tcp(t), Some(c)) => c.start(id, &t.target),
                            (p, _) => {
                                let step = self.slots[id as usize].core.step();
                                running.push(p.launch(step, Timed(id)))
                            }
                        }
                    }
                    if let Some(c) = &mut self.connects {
                        c.expire(now);
                    }
                }
                _ = async {
                    match self.connects.as_mut() {
                        Some(c) => c.collect().await,
                        None => std::future::pending().await,
                    }
                },
                    if self.connects.as_ref().is_some_and(|c| c.in_flight() > 0) => {}
                _ = report.tick() => {
                    for (kind, h) in &self.latency {
                        crate::status::emit(crate::status::Event::CheckerLatency {
                            kind,
                            histogram: h.clone(),
                        });
                    }
                }
                Some((id, outcome, took)) = running.next(), if !running.is_empty() => {
                    if !self.completed(id, outcome, took, &events).await {
                        return;
                    }
                }
                Some(reply) = export.recv() => {
                    let _ = reply.send(self.carried());
                    return;
                }
            }
        }
    }

    /// A check of slot `id` ended after `took`: counted, judged, its events sent. False once the
    /// director is gone.
    async fn completed(
        &mut self,
        id: u32,
        outcome: Outcome,
        took: Duration,
        events: &mpsc::Sender<CheckEvent>,
    ) -> bool {
        let kind = self.slots[id as usize].kind;
        self.latency
            .entry(kind)
            .or_default()
            .observe(took.as_secs_f64());
        for e in self.finished(id, outcome) {
            if events.send(e).await.is_err() {
                return false;
            }
        }
        true
    }

    /// A probe ended: feed the checker's core, log as keepalived does, re-arm it and return the
    /// real server's events.
    fn finished(&mut self, id: u32, outcome: Outcome) -> Vec<CheckEvent> {
        let now = Instant::now();
        let slot = &mut self.slots[id as usize];
        let timing = *slot.core.timing();
        let mut out = Vec::new();
        let actions = slot.core.handle(now.into_std(), Input::Result(outcome));
        // Sent after the verdict's own events, so a follower never sees a server judged before
        // it sees the verdict (a first check that fails must not count as up meanwhile).
        let mut judged = Vec::new();
        let verdict = !actions
            .iter()
            .any(|a| matches!(a, Action::Retry { .. } | Action::UrlPassed { .. }));
        if slot.unjudged && verdict {
            slot.unjudged = false;
            for (server, _) in slot.members() {
                let s = &mut self.servers[server as usize];
                s.unjudged = s.unjudged.saturating_sub(1);
                if s.unjudged == 0 {
                    judged.push(CheckEvent {
                        vs: s.vs,
                        rs: s.rs,
                        kind: EventKind::Checked,
                        reason: String::new(),
                    });
                }
            }
        }
        for a in actions {
            match &a {
                Action::Arm(at) => self.queue.push(Reverse((Instant::from_std(*at), id))),
                Action::Run => {}
                Action::Retry {
                    attempt,
                    of,
                    reason,
                    ..
                } => tracing::info!(
                    "{reason}; retry {attempt} of {of} in {}",
                    secs(timing.delay_before_retry)
                ),
                Action::StillDown { reason } => {
                    if slot.log_all_failures {
                        tracing::info!("{reason}");
                    } else {
                        tracing::debug!("{reason}");
                    }
                }
                Action::Changed { up: true, reason } => tracing::info!("{reason}"),
                Action::Changed { up: false, reason } => {
                    tracing::warn!(
                        "{reason}; {} failed after {} retries",
                        slot.kind,
                        timing.retry
                    )
                }
                Action::UrlPassed { next, of } => tracing::debug!(
                    "{} of {}: url passed; url {} of {of} next",
                    slot.kind,
                    self.servers[slot.server as usize].name,
                    next + 1
                ),
                Action::Weight(_) => {}
            }
            if matches!(a, Action::Changed { .. } | Action::Weight(_)) {
                for (server, idx) in slot.members() {
                    let server = server as usize;
                    for e in self.servers[server].state.apply(idx as usize, &a) {
                        out.push(event(&self.servers[server], e, false));
                    }
                }
            }
        }
        out.extend(judged);
        out
    }
}

/// A real server's event for the director, logged as operators grep for it.
/// `initial`: the state a server starts in, not a change; at debug level, because every real server
/// has one at start and after each reload (40,000 lines for a 10,000-service file).
fn event(s: &Server, e: RsEvent, initial: bool) -> CheckEvent {
    let name = &s.name;
    let (kind, reason) = match e {
        RsEvent::Up { reason } => (EventKind::Up, reason),
        RsEvent::Down { reason } => (EventKind::Down, reason),
        RsEvent::Weight { weight, reason } => (EventKind::Weight(weight), reason),
    };
    match kind {
        EventKind::Checked => {}
        _ if initial => tracing::debug!("Real server {name}: {reason} ({kind:?})"),
        EventKind::Up => tracing::info!("Real server {name} is up: {reason}"),
        EventKind::Down => tracing::warn!("Real server {name} is down: {reason}"),
        EventKind::Weight(w) => tracing::info!("Real server {name} weight {w}: {reason}"),
    }
    CheckEvent {
        vs: s.vs,
        rs: s.rs,
        kind,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slack_grows_with_the_check_rate() {
        assert!(
            slack_for(2.0) <= Duration::from_micros(200),
            "two checks a second wake for each"
        );
        assert_eq!(slack_for(250.0), Duration::from_millis(25));
        assert_eq!(slack_for(500.0), MAX_SLACK);
        assert_eq!(slack_for(10_000.0), MAX_SLACK);
    }
}

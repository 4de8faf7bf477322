//! The health-check and IPVS engine: checkers report, the director decides, the kernel shell applies
//! (DESIGN.md's one-way flow). netlink calls block, so the kernel lives on a thread of its own and
//! always applies the newest desired table.

use super::admin::Overrides;
use super::ctl::{self, Ctl};
use super::drain::Drain;
use super::follow::{next_news, Follow};
use super::kernel::Kernel;
use super::news::{Health, Tracker};
use super::syncd::{Role, SyncSpec};
use super::{Action, Director};
use crate::check::runner::{CheckEvent, EventKind, Runner};
use crate::config::model::{Config, LvsSysctl, Script};
use crate::notify::command;
use crate::notify::queue::{Job, Queues};
use crate::status;
use crate::vrrp::news::{CaughtUp, News};
use ipvs::conns::SyncConn;
use ipvs::Table;
use ipvs::{DestKey, ServiceKey};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

pub enum Control {
    Stop,
    /// A new, valid configuration: apply only the differences.
    Reload(Arc<Config>),
    /// lvsd ctl: drain, disable, enable, weight; a reload's plan.
    Ctl(Ctl),
}

/// The director's ends of the VRRP engine's channels (see vrrp::news).
pub struct VrrpLink {
    pub news: mpsc::UnboundedReceiver<News>,
    pub caught_up: mpsc::UnboundedSender<CaughtUp>,
}

type Ranks = std::sync::Arc<super::pool::Ranks>;

pub(super) enum KernelCmd {
    /// The desired table; `reload`: it comes from a reload, so servers it no longer has drain first,
    /// and the kernel's table is re-read afterwards (see sync.rs for why then).
    Sync {
        table: Table,
        ranks: Ranks,
        reload: bool,
    },
    /// Run the sync daemons this spec and role call for.
    Syncd {
        spec: Option<SyncSpec>,
        role: Role,
    },
    /// lvs_sysctl, changed by a reload.
    Sysctl(LvsSysctl),
    /// The connection table as sync entries, for a catch-up.
    Entries(oneshot::Sender<Result<Vec<SyncConn>, String>>),
    /// Active connections of these destinations (drains).
    Active {
        dests: Vec<(ServiceKey, DestKey)>,
        reply: oneshot::Sender<HashMap<(ServiceKey, DestKey), u32>>,
    },
    /// The operations a reload to this table would send now (None: the table is not known).
    Plan {
        table: Table,
        ranks: Ranks,
        reply: oneshot::Sender<Option<Vec<String>>>,
    },
    Stop,
}

/// Runs until `Control::Stop`; then runs omega notifications and removes what it programmed, unless
/// `release` is false (--dont-release-ipvs), which leaves the kernel's table as it is.
/// `state_file`: where operators' overrides are kept (lvsd ctl); None keeps them in memory only.
pub async fn run(
    mut cfg: Arc<Config>,
    mut ctl: mpsc::Receiver<Control>,
    release: bool,
    vrrp: Option<VrrpLink>,
    state_file: Option<PathBuf>,
    health: Option<mpsc::UnboundedSender<Health>>,
) -> Result<(), String> {
    let (mut news, caught_up) = match vrrp {
        Some(l) => (Some(l.news), Some(l.caught_up)),
        None => (None, None),
    };
    // Without virtual servers IPVS is never touched, until a reload brings some.
    if cfg.virtual_servers.is_empty() {
        info!("no virtual_server configured: IPVS is not touched");
        status::emit(status::Event::Ready(status::Engine::Ipvs));
    }
    while cfg.virtual_servers.is_empty() {
        tokio::select! {
            c = ctl.recv() => match c {
                Some(Control::Reload(c)) => cfg = c,
                Some(Control::Ctl(Ctl::Admin { reply, .. })) => {
                    let _ = reply.send(Err("no virtual_server is configured".into()));
                }
                Some(Control::Ctl(Ctl::Plan { cfg: new, reply })) => {
                    let _ = reply.send(json!({
                        "ipvs": {"operations": Value::Null, "note": "IPVS is not touched yet: the first programming adds every service"},
                        "checkers": ctl::checker_changes(&cfg, &new),
                    }));
                }
                Some(Control::Stop) | None => return Ok(()),
            },
            // No connections to wait for: a preemption goes on at once.
            Some(n) = next_news(&mut news) => {
                if let (News::CatchUp { .. }, Some(tx)) = (n, &caught_up) {
                    let _ = tx.send(CaughtUp);
                }
            }
        }
    }
    let mut director = Director::new(&cfg);
    // Beside the overrides: the services lvsd created, so a restart after kill -9 removes those
    // the configuration no longer has.
    let owned_file = state_file.as_ref().map(|p| p.with_extension("ipvs-owned"));
    let mut state = AdminState::open(state_file, &mut director);
    let mut ranks: Ranks = std::sync::Arc::new(director.ranks());
    let spec = SyncSpec::from_config(&cfg);
    let role = spec
        .as_ref()
        .map_or(Role::Backup, |s| s.role(&HashMap::new()));
    let (ktx, ready, kernel_thread) = start_kernel(
        &cfg,
        &director,
        ranks.clone(),
        release,
        (spec, role),
        owned_file,
    )?;
    ready
        .await
        .map_err(|_| "the IPVS thread ended at start".to_string())??;
    status::emit(status::Event::Ready(status::Engine::Ipvs));
    let mut follow = Follow::new(&cfg, role, ktx.clone(), caught_up);
    // The BGP announcer hears each virtual server's health once IPVS has its services.
    let mut tracker = Tracker::new(&cfg);
    let tell = |h: Health| {
        if let Some(tx) = &health {
            let _ = tx.send(h);
        }
    };
    tell(tracker.all(&director));

    let (etx, mut erx) = mpsc::channel::<CheckEvent>(4096);
    let mut runner = Runner::start(&cfg, etx.clone()).map_err(|e| e.to_string())?;
    info!(
        "{} real server(s) under health checks ({} checkers, {} probes)",
        runner.servers(),
        runner.len(),
        runner.probes()
    );
    let mut fifo = fifo(&cfg);
    let mut script_user = cfg.global.script_user.clone();
    // The start-up peak (the model's build, the first table and batch) is over.
    crate::daemon::memory::trim();
    // notify_up/down and quorum scripts, in order per real server / virtual server.
    let mut scripts = Queues::new();
    let mut act = |actions: Vec<Action>,
                   fifo: &Option<mpsc::UnboundedSender<String>>,
                   user: &Option<(String, Option<String>)>| {
        for a in actions {
            match a {
                Action::Log(l) => info!("{l}"),
                Action::Quorum { vs, up } => status::emit(status::Event::Quorum { vs, up }),
                Action::Script {
                    script,
                    why,
                    object,
                } => queue_script(&mut scripts, script, user.as_ref(), why, &object),
                Action::Fifo(line) => {
                    if let Some(f) = fifo {
                        let _ = f.send(line);
                    }
                }
            }
        }
    };
    // ha_suspend: a virtual server's checks count only while its address is on this machine (the
    // VRRP master holds it).
    let mut suspended = suspended_services(&cfg);
    let mut held: HashMap<(usize, usize), CheckEvent> = HashMap::new();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    // Drains and slow starts in progress: checked every second.
    let mut admin_tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut ticking = state.report(&director, None);
    loop {
        // What the last turn changed in any virtual server's health, for the announcer.
        if health.is_some() {
            for h in tracker.changes(&director) {
                tell(h);
            }
        }
        tokio::select! {
            _ = admin_tick.tick(), if ticking => {
                let (again, acts) = director.tick(std::time::Instant::now(), std::time::SystemTime::now());
                act(acts, &fifo, &script_user);
                let drained = drained(&director, &ktx).await;
                for (v, r) in drained {
                    act(director.drained(v, r, std::time::Instant::now()), &fifo, &script_user);
                }
                ticking = state.report(&director, None) || again;
                if director.take_changed() {
                    let _ = ktx.send(KernelCmd::Sync { table: director.desired(), ranks: ranks.clone(), reload: false });
                }
            }
            _ = tick.tick(), if cfg.virtual_servers.iter().any(|v| v.ha_suspend) => {
                let now = suspended_services(&cfg);
                if now != suspended {
                    info!("ha_suspend: checks suspended for virtual servers {:?}", now);
                    suspended = now;
                    // What the checks said meanwhile counts from now on.
                    let (resumed, still): (HashMap<_, _>, HashMap<_, _>) =
                        std::mem::take(&mut held).into_iter().partition(|(k, _)| !suspended.contains(&k.0));
                    held = still;
                    for ev in resumed.into_values() {
                        act(apply_event(&mut director, ev), &fifo, &script_user);
                    }
                    if director.take_changed() {
                        let _ = ktx.send(KernelCmd::Sync { table: director.desired(), ranks: ranks.clone(), reload: false });
                    }
                }
            }
            ev = erx.recv() => {
                let Some(ev) = ev else { break };
                if checked(&ev, &mut tracker) {
                    continue;
                }
                if suspended.contains(&ev.vs) {
                    hold(&mut held, ev);
                    continue;
                }
                act(apply_event(&mut director, ev), &fifo, &script_user);
                // Take every event already queued before touching the kernel once.
                while let Ok(ev) = erx.try_recv() {
                    if checked(&ev, &mut tracker) {
                        continue;
                    }
                    if suspended.contains(&ev.vs) {
                        hold(&mut held, ev);
                        continue;
                    }
                    act(apply_event(&mut director, ev), &fifo, &script_user);
                }
                // Only a change builds the table (initial-state events change nothing).
                if director.take_changed() {
                    let _ = ktx.send(KernelCmd::Sync { table: director.desired(), ranks: ranks.clone(), reload: false });
                }
            }
            Some(n) = next_news(&mut news) => follow.news(n),
            c = ctl.recv() => match c {
                Some(Control::Reload(new)) => {
                    if new.global.lvs_sysctl != cfg.global.lvs_sysctl {
                        let _ = ktx.send(KernelCmd::Sysctl(new.global.lvs_sysctl));
                    }
                    follow.reload(&new);
                    let cfg_before = std::mem::replace(&mut cfg, new.clone());
                    suspended = suspended_services(&cfg);
                    // Checkers restart from the states the old director knew; IPVS gets the difference
                    // first, so the change does not wait for 40,000 checker tasks to stop and start.
                    // Events still queued from the old checkers are dropped, not applied.
                    let mut next = Director::new(&new);
                    next.carry_state_from(&director);
                    state.reloaded(&director, &next);
                    director = next;
                    ranks = std::sync::Arc::new(director.ranks());
                    let _ = ktx.send(KernelCmd::Sync { table: director.desired(), ranks: ranks.clone(), reload: true });
                    // The views after the kernel's request, which does not need them.
                    tracker = tracker.reloaded(&cfg_before, &new);
                    tell(tracker.all(&director));
                    ticking = state.report(&director, None);
                    // Unchanged checkers go on (retry counts, timers); the new state's first events
                    // re-announce every real server, so what the old ones queued is not needed.
                    let carried = runner.stop_for_reload().await;
                    while erx.try_recv().is_ok() {}
                    runner = match Runner::start_carried(&new, &director.alive_map(), carried, etx.clone()) {
                        Ok((r, n)) => {
                            info!("reload: {} checker(s) kept running, {} started", n.kept, n.started);
                            r
                        }
                        Err(e) => {
                            error!("reload: checkers: {e}");
                            Runner::spawn(Vec::new(), etx.clone())
                        }
                    };
                    fifo = self::fifo(&new);
                    script_user = new.global.script_user.clone();
                    info!("reload: {} virtual server(s), {} real server(s) under health checks", new.virtual_servers.len(), runner.servers());
                    crate::daemon::memory::trim();
                }
                Some(Control::Ctl(Ctl::Admin { vs, rs, cmd, reply })) => {
                    let r = ctl::admin(&mut director, &cfg, &vs, &rs, cmd, std::time::Instant::now(), std::time::SystemTime::now());
                    let r = r.map(|(v, acts)| {
                        act(acts, &fifo, &script_user);
                        ticking = state.report(&director, Some(&v));
                        if director.take_changed() {
                            let _ = ktx.send(KernelCmd::Sync { table: director.desired(), ranks: ranks.clone(), reload: false });
                        }
                        v
                    });
                    let _ = reply.send(r);
                }
                Some(Control::Ctl(Ctl::Plan { cfg: new, reply })) => {
                    let mut next = Director::new(&new);
                    next.carry_state_from(&director);
                    let (tx, rx) = oneshot::channel();
                    let _ = ktx.send(KernelCmd::Plan { table: next.desired(), ranks: Arc::new(next.ranks()), reply: tx });
                    let ops = rx.await.ok().flatten();
                    let _ = reply.send(json!({
                        "ipvs": match ops {
                            Some(ops) => json!({"operations": ops.len(), "ops": ops.iter().take(1000).collect::<Vec<_>>()}),
                            None => json!({"operations": Value::Null, "note": "the kernel's table is not known now; the reload reads it first"}),
                        },
                        "checkers": ctl::checker_changes(&cfg, &new),
                    }));
                }
                Some(Control::Stop) | None => break,
            },
        }
    }
    runner.shutdown().await;
    act(director.shutdown_notifications(), &fifo, &script_user);
    drop(follow);
    let _ = ktx.send(KernelCmd::Stop);
    scripts.drain(std::time::Duration::from_secs(5)).await;
    // lvsd must not exit before its services are removed.
    let _ = tokio::task::spawn_blocking(move || kernel_thread.join()).await;
    Ok(())
}

/// A real server's first verdict is news for readiness only (/ready), not for the pool.
fn checked(ev: &CheckEvent, tracker: &mut Tracker) -> bool {
    let first = ev.kind == EventKind::Checked;
    if first {
        tracker.checked(ev.vs, ev.rs);
        status::emit(status::Event::Checked {
            vs: ev.vs,
            rs: ev.rs,
        });
    }
    first
}

fn apply_event(d: &mut Director, ev: CheckEvent) -> Vec<Action> {
    let alive = match ev.kind {
        EventKind::Up | EventKind::Checked => true,
        EventKind::Down => false,
        EventKind::Weight(_) => d.is_alive(ev.vs, ev.rs).unwrap_or(true),
    };
    let weight = match ev.kind {
        EventKind::Weight(w) => Some(w),
        _ => None,
    };
    let out = d.set_health(
        ev.vs,
        ev.rs,
        alive,
        weight,
        &ev.reason,
        std::time::Instant::now(),
    );
    status::emit(status::Event::RealServer {
        vs: ev.vs,
        rs: ev.rs,
        alive: d.is_alive(ev.vs, ev.rs).unwrap_or(alive),
        weight: d.weight(ev.vs, ev.rs).unwrap_or(0),
        reason: ev.reason,
    });
    out
}

type Ready = oneshot::Receiver<Result<(), String>>;
type KernelStart = (
    std::sync::mpsc::Sender<KernelCmd>,
    Ready,
    std::thread::JoinHandle<()>,
);

/// Starts the kernel thread and programs the initial table (every real server as the director says).
/// `syncd`: the sync daemons to run once the table is programmed.
fn start_kernel(
    cfg: &Config,
    director: &Director,
    ranks: Ranks,
    release: bool,
    syncd: (Option<SyncSpec>, Role),
    owned_file: Option<PathBuf>,
) -> Result<KernelStart, String> {
    let (tx, rx) = std::sync::mpsc::channel::<KernelCmd>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let global = cfg.global.clone();
    let initial = director.desired();
    let handle = std::thread::Builder::new()
        .name("ipvs".into())
        .spawn(move || {
            let mut kernel = match Kernel::start(&global) {
                Ok(k) => k.keep_owned_in(owned_file),
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("IPVS: {e}")));
                    return;
                }
            };
            match kernel.sync(&initial, |k, d| ranks.rank(k, d)) {
                Ok(r) => info!(
                    "IPVS programmed: {} services, {} destinations, {} operations in {:.3} s",
                    initial.services.len(),
                    initial.dest_count(),
                    r.ops,
                    r.elapsed.as_secs_f64()
                ),
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("IPVS: {e}")));
                    return;
                }
            }
            // After the table: entries a backup daemon takes in find their services.
            kernel.set_sync(syncd.0.as_ref(), syncd.1);
            let _ = ready_tx.send(Ok(()));
            let mut applied = initial;
            let mut ranks = ranks;
            let mut drain = Drain::default();
            loop {
                // While servers drain, wake up every second to see whether their connections ended.
                let cmd = if drain.is_empty() {
                    match rx.recv() {
                        Ok(c) => Some(c),
                        Err(_) => break,
                    }
                } else {
                    match rx.recv_timeout(std::time::Duration::from_secs(1)) {
                        Ok(c) => Some(c),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                };
                let mut stop = false;
                let tick = cmd.is_none();
                let mut newest: Option<(Table, bool)> = None;
                // Only the newest table matters, but a reload's request is kept.
                for c in cmd
                    .into_iter()
                    .chain(std::iter::from_fn(|| rx.try_recv().ok()))
                {
                    match c {
                        KernelCmd::Stop => {
                            stop = true;
                            break;
                        }
                        KernelCmd::Syncd { spec, role } => kernel.set_sync(spec.as_ref(), role),
                        KernelCmd::Sysctl(s) => super::sysctl::apply(&s),
                        KernelCmd::Entries(reply) => {
                            let table = newest.as_ref().map_or(&applied, |(t, _)| t);
                            let _ = reply.send(kernel.sync_entries(table));
                        }
                        KernelCmd::Active { dests, reply } => {
                            let keys: std::collections::BTreeSet<ServiceKey> =
                                dests.iter().map(|(k, _)| *k).collect();
                            let all = kernel.active(&keys.into_iter().collect::<Vec<_>>());
                            let _ = reply.send(
                                dests
                                    .into_iter()
                                    .filter_map(|d| all.get(&d).map(|n| (d, *n)))
                                    .collect(),
                            );
                        }
                        KernelCmd::Plan {
                            table,
                            ranks: r,
                            reply,
                        } => {
                            // As a reload would: removed servers drain first.
                            let mut d = drain.clone();
                            d.note_removed(&applied, &table, std::time::Instant::now());
                            let effective = d.effective(&table);
                            let ops = kernel.planned(&effective, |k, dk| r.rank(k, dk));
                            let _ = reply
                                .send(ops.map(|o| o.iter().map(|op| op.to_string()).collect()));
                        }
                        KernelCmd::Sync {
                            table,
                            ranks: r,
                            reload,
                        } => {
                            let reload = reload || newest.as_ref().is_some_and(|(_, was)| *was);
                            newest = Some((table, reload));
                            ranks = r;
                        }
                    }
                }
                if stop {
                    break;
                }
                let now = std::time::Instant::now();
                let mut reload = false;
                if let Some((table, r)) = newest {
                    if r {
                        drain.note_removed(&applied, &table, now);
                    }
                    applied = table;
                    reload = r;
                } else if !tick {
                    // Only daemon or sysctl work came.
                    continue;
                } else {
                    // A tick: count the draining servers' connections.
                    let mut conns = HashMap::new();
                    for k in drain.services() {
                        if let Ok(c) = kernel.connections(&k) {
                            for (dk, n) in c {
                                conns.insert((k, dk), n);
                            }
                        }
                    }
                    if !drain.settle(now, |k, dk| conns.get(&(*k, *dk)).copied()) {
                        continue;
                    }
                }
                // Without draining servers the table to apply is the desired one, not a copy of it.
                let with_drain;
                let effective = if drain.is_empty() {
                    &applied
                } else {
                    with_drain = drain.effective(&applied);
                    &with_drain
                };
                let rank = |k: &ipvs::ServiceKey, d: &ipvs::DestKey| ranks.rank(k, d);
                match kernel.sync(effective, rank) {
                    Ok(r) if reload => info!(
                        "reload: IPVS: {} operation(s) applied ({} failed) in {:.3} s",
                        r.ops,
                        r.failed.len(),
                        r.elapsed.as_secs_f64()
                    ),
                    Ok(r) if r.ops > 0 => debug!(
                        "IPVS: {} operation(s) applied ({} failed) in {:.3} s",
                        r.ops,
                        r.failed.len(),
                        r.elapsed.as_secs_f64()
                    ),
                    Ok(_) => {}
                    Err(e) => error!("IPVS: {e}"),
                }
                if reload {
                    match kernel.recheck(effective, rank) {
                        Ok(r) => info!(
                            "reload: IPVS: re-read {} service(s) from the kernel in {:.3} s: {}",
                            effective.services.len(),
                            r.elapsed.as_secs_f64(),
                            if r.drifted {
                                format!("it had drifted, {} operation(s) to correct it", r.ops)
                            } else {
                                "no drift".to_string()
                            }
                        ),
                        Err(e) => error!("IPVS: re-reading the table after the reload: {e}"),
                    }
                    crate::daemon::memory::trim();
                }
            }
            if !release {
                info!("IPVS: leaving the services in the kernel (--dont-release-ipvs)");
                kernel.leave();
                return;
            }
            match kernel.stop(global.lvs_flush_on_stop) {
                Ok(r) => info!("IPVS: removed lvsd's services ({} operations)", r.ops),
                Err(e) => error!("IPVS: on stop: {e}"),
            }
        })
        .map_err(|e| format!("cannot start the IPVS thread: {e}"))?;
    Ok((tx, ready_rx, handle))
}

fn fifo(cfg: &Config) -> Option<mpsc::UnboundedSender<String>> {
    let path = cfg
        .global
        .lvs_notify_fifo
        .as_ref()
        .or(cfg.global.notify_fifo.as_ref())?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(crate::notify::fifo_writer(PathBuf::from(&path.command), rx));
    Some(tx)
}

/// notify_up / notify_down / quorum scripts: keepalived appends no arguments.
fn queue_script(
    queues: &mut Queues,
    script: Script,
    default_user: Option<&(String, Option<String>)>,
    why: String,
    object: &str,
) {
    match command::prepare(&script, default_user, &[]) {
        Ok(p) => queues.push(
            object,
            Job {
                script: p,
                timeout: Some(std::time::Duration::from_secs(30)),
                why,
            },
        ),
        Err(e) => warn!("{why}: script '{}': {e}", script.command),
    }
}

/// Indexes of the ha_suspend virtual servers whose address is not on this machine now.
fn suspended_services(cfg: &Config) -> std::collections::BTreeSet<usize> {
    if !cfg.virtual_servers.iter().any(|v| v.ha_suspend) {
        return Default::default();
    }
    let local = crate::config::validate::local_addresses();
    cfg.virtual_servers
        .iter()
        .enumerate()
        .filter(|(_, v)| v.ha_suspend)
        .filter(|(_, v)| match &v.key {
            crate::config::model::VsKey::Addr { ip, .. } => !local.contains(ip),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect()
}

/// Keeps the newest health verdict of a suspended real server (weight changes ride along).
fn hold(held: &mut HashMap<(usize, usize), CheckEvent>, ev: CheckEvent) {
    let key = (ev.vs, ev.rs);
    match (held.get(&key).map(|e| e.kind), ev.kind) {
        // A weight change does not hide whether the server is down.
        (Some(EventKind::Down), EventKind::Weight(_)) => {}
        _ => {
            held.insert(key, ev);
        }
    }
}

/// Draining real servers whose active connections ended.
async fn drained(d: &Director, ktx: &std::sync::mpsc::Sender<KernelCmd>) -> Vec<(usize, usize)> {
    let draining = d.draining();
    if draining.is_empty() {
        return Vec::new();
    }
    let dests: Vec<(ServiceKey, DestKey)> = draining
        .iter()
        .flat_map(|&(v, r)| d.dest_keys(v, r))
        .collect();
    let (tx, rx) = oneshot::channel();
    if ktx.send(KernelCmd::Active { dests, reply: tx }).is_err() {
        return Vec::new();
    }
    let Ok(active) = rx.await else {
        return Vec::new();
    };
    draining
        .into_iter()
        .filter(|&(v, r)| {
            d.dest_keys(v, r)
                .iter()
                .all(|k| active.get(k).copied().unwrap_or(0) == 0)
        })
        .collect()
}

/// The operators' overrides: kept in the state file, reported to the status views.
struct AdminState {
    file: Option<PathBuf>,
    saved: Overrides,
}

impl AdminState {
    /// Loads the file's overrides into the director; those that name no real server are dropped
    /// with a log line.
    fn open(file: Option<PathBuf>, d: &mut Director) -> AdminState {
        let mut s = AdminState {
            file,
            saved: Overrides::default(),
        };
        if let Some(path) = &s.file {
            match Overrides::load(path) {
                Ok(o) => {
                    for (vs, rs) in d.apply_overrides(&o, std::time::Instant::now()) {
                        warn!("state file {}: {rs} of VS {vs} is not configured; its override is dropped", path.display());
                    }
                    s.saved = o;
                    if !s.saved.0.is_empty() {
                        info!(
                            "state file {}: {} override(s) applied",
                            path.display(),
                            d.overrides().0.len()
                        );
                    }
                }
                Err(e) => error!("state file: {e}; starting without overrides"),
            }
        }
        s
    }

    /// After a reload: overrides of real servers the new file removed are dropped, with a log line.
    fn reloaded(&mut self, old: &Director, new: &Director) {
        let kept = new.overrides();
        for ((vs, rs), a) in &old.overrides().0 {
            if !kept.0.contains_key(&(vs.clone(), rs.clone())) {
                info!(
                    "reload: {rs} of VS {vs} was removed; its override ({}) is dropped",
                    a.name()
                );
            }
        }
    }

    /// Saves the overrides if they changed and tells the status views; whether a drain or a slow
    /// start needs the clock.
    fn report(&mut self, d: &Director, _changed: Option<&Value>) -> bool {
        let now = d.overrides();
        if now != self.saved {
            if let Some(path) = &self.file {
                if let Err(e) = now.save(path) {
                    error!("state file: {e}");
                }
            }
            self.saved = now;
        }
        let mut busy = false;
        let mut rows = Vec::new();
        for (v, r) in d.admin_servers() {
            let rising = d.rising(v, r);
            busy |= rising || matches!(d.admin(v, r), Some(super::admin::Admin::Drain { .. }));
            rows.push((v, r, d.admin(v, r), d.live_weight(v, r), rising));
        }
        status::emit(status::Event::Admin(rows));
        busy
    }
}

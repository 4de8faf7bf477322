//! Status, fed by events: the engines `emit` what happened (one-way, never waiting); one task keeps
//! the snapshot and from it writes keepalived's dump files (SIGUSR1 data, SIGUSR2 stats, the JSON
//! signal), serves /metrics and /status, sends the email alerts and tells systemd when lvsd is ready.

pub mod dump;
pub mod events;
pub mod http;
pub mod snapshot;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::SystemTime;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::config::model::Config;
use crate::daemon::sdnotify;
use crate::notify::email::{self, Mailer};
use crate::vrrp::State;
use snapshot::Snapshot;

/// Something an engine reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// An engine finished its first full programming (VRRP started, IPVS table written).
    Ready(Engine),
    VrrpState {
        instance: String,
        state: State,
        priority: u8,
    },
    VrrpGroup {
        group: String,
        state: State,
    },
    AdvertSent {
        instance: String,
        priority: u8,
    },
    AdvertReceived {
        instance: String,
        priority: u8,
    },
    /// A discarded advert; `instance` None when it matched no instance.
    Rejected {
        instance: Option<String>,
        reason: String,
    },
    /// Real server `rs` of virtual server `vs` (config indexes) after a checker verdict.
    RealServer {
        vs: usize,
        rs: usize,
        alive: bool,
        weight: u32,
        reason: String,
    },
    /// A valid configuration was loaded: the views follow it (instances and servers added or
    /// removed), keeping what the engines reported for the objects that stay.
    Reloaded(std::sync::Arc<Config>),
    /// A reload refused: the new file had errors, the running configuration stays.
    ReloadFailed,
    /// The checker engine's probe durations of one checker type so far (cumulative).
    CheckerLatency {
        kind: &'static str,
        histogram: snapshot::Histogram,
    },
    /// Every real server with an operator's setting or a slow start in progress now, by config
    /// indexes: (vs, rs, setting, weight in the table, rising); the others have none.
    Admin(Vec<AdminRow>),
    /// Every checker of a real server came to its first verdict.
    Checked {
        vs: usize,
        rs: usize,
    },
    /// A virtual server's quorum changed.
    Quorum {
        vs: usize,
        up: bool,
    },
    /// An instance's effective priority changed, and why.
    VrrpPriority {
        instance: String,
        priority: u8,
        why: String,
    },
    /// The master a BACKUP instance hears.
    VrrpMaster {
        instance: String,
        master: Option<std::net::IpAddr>,
    },
    /// lvsd ctl holds the instance BACKUP (or lets it go).
    VrrpHeld {
        instance: String,
        held: bool,
    },
    /// The IPVS sync daemons now (None: lvs_sync_daemon is not configured).
    SyncDaemon(Option<SyncdView>),
    /// A catch-up finished: `served` by this director as master, or asked for before preempting.
    CatchUp {
        served: bool,
        entries: u64,
    },
    /// The BGP announcer's state now (None: no bgp_announce block).
    Bgp(Option<BgpView>),
    /// A VIP was announced or withdrawn, and why.
    BgpChange {
        vip: std::net::IpAddr,
        announced: bool,
        why: String,
    },
}

/// The BGP announcer: BIRD's connection, the liveness interface, each VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpView {
    pub socket: String,
    pub include_file: String,
    pub connected: bool,
    pub connected_since: SystemTime,
    pub bird_error: Option<String>,
    pub tie: String,
    pub tie_up: bool,
    pub tie_error: Option<String>,
    pub vips: Vec<BgpVipView>,
}

impl Default for BgpView {
    fn default() -> Self {
        BgpView {
            socket: String::new(),
            include_file: String::new(),
            connected: false,
            connected_since: SystemTime::now(),
            bird_error: None,
            tie: String::new(),
            tie_up: false,
            tie_error: None,
            vips: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpVipView {
    pub addr: std::net::IpAddr,
    pub protocol: String,
    /// What lvsd decided (BIRD's side is `bird`).
    pub announced: bool,
    pub since: SystemTime,
    pub why: String,
    /// What BIRD last answered: enabled, disabled, refused: ..., unknown.
    pub bird: String,
    pub changes: u64,
    pub services: Vec<String>,
    pub vrrp_instance: Option<String>,
}

impl BgpVipView {
    /// Routers hear the VIP: lvsd wants it announced and BIRD enabled it.
    pub fn on_air(&self, v: &BgpView) -> bool {
        self.announced && self.bird == "enabled" && v.tie_up
    }
}

pub type AdminRow = (
    usize,
    usize,
    Option<crate::director::admin::Admin>,
    Option<u32>,
    bool,
);

/// The sync daemons lvsd runs and what they were started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncdView {
    pub spec: crate::director::syncd::SyncSpec,
    pub master: bool,
    pub backup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Vrrp,
    Ipvs,
}

static SINK: OnceLock<mpsc::UnboundedSender<Event>> = OnceLock::new();

/// Reports an event; a no-op when no status task runs (tools, tests of one engine).
pub fn emit(ev: Event) {
    if let Some(tx) = SINK.get() {
        let _ = tx.send(ev);
    }
}

/// Starts the status task on the current LocalSet. `engines` are those that will report Ready.
/// The snapshot it keeps is returned for the other readers (the control socket).
pub fn spawn(
    cfg: &std::sync::Arc<Config>,
    metrics_listen: Option<String>,
    engines: Vec<Engine>,
) -> Rc<RefCell<Snapshot>> {
    let (tx, rx) = mpsc::unbounded_channel();
    if SINK.set(tx).is_err() {
        warn!("status task already running");
        return Rc::new(RefCell::new(Snapshot::new(cfg.clone())));
    }
    let snap = Rc::new(RefCell::new(Snapshot::new(cfg.clone())));
    {
        let mut sn = snap.borrow_mut();
        sn.vrrp_runs = engines.contains(&Engine::Vrrp);
        sn.checks_run = engines.contains(&Engine::Ipvs);
    }
    if let Some(addr) = metrics_listen.or_else(|| cfg.global.metrics_listen.clone()) {
        http::spawn(&addr, snap.clone());
    }
    // Handlers are installed now, not when the task first runs: until then these signals would
    // end lvsd (their default action).
    tokio::task::spawn_local(run(snap.clone(), rx, engines, DumpSignals::install()));
    snap
}

/// keepalived's dump signals (`--signum` DATA, STATS, STATS_CLEAR, JSON).
struct DumpSignals {
    data: Option<Signal>,
    stats: Option<Signal>,
    stats_clear: Option<Signal>,
    json: Option<Signal>,
}

impl DumpSignals {
    fn install() -> DumpSignals {
        let sig = |name: &str| {
            let n = crate::cli::signum(name)?;
            signal(SignalKind::from_raw(n))
                .map_err(|e| warn!("cannot handle the {name} signal ({n}): {e}"))
                .ok()
        };
        DumpSignals {
            data: sig("DATA"),
            stats: sig("STATS"),
            stats_clear: sig("STATS_CLEAR"),
            json: sig("JSON"),
        }
    }
}

async fn run(
    snap: Rc<RefCell<Snapshot>>,
    mut rx: mpsc::UnboundedReceiver<Event>,
    engines: Vec<Engine>,
    mut sigs: DumpSignals,
) {
    let mailer = Mailer::from_global(&snap.borrow().config.global);
    let mut waiting = engines;
    if waiting.is_empty() {
        sdnotify::ready();
        snap.borrow_mut().started = true;
    }
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                if let Event::Ready(e) = &ev {
                    waiting.retain(|w| w != e);
                    if waiting.is_empty() {
                        info!("lvsd ready");
                        sdnotify::ready();
                        snap.borrow_mut().started = true;
                    }
                    continue;
                }
                let mut sn = snap.borrow_mut();
                if let (Some(m), Some(alert)) = (&mailer, alert_for(&sn, &ev)) {
                    m.send(alert);
                }
                let now = SystemTime::now();
                events::publish(&sn, &ev, now);
                apply(&mut sn, ev, now);
            }
            Some(_) = recv(&mut sigs.data) => write(dump::data_path(&snap.borrow().config), dump::data(&snap.borrow())),
            Some(_) = recv(&mut sigs.stats) => write(dump::stats_path(&snap.borrow().config), dump::stats(&snap.borrow())),
            Some(_) = recv(&mut sigs.stats_clear) => {
                info!("STATS_CLEAR: writing the VRRP statistics, then clearing them");
                let mut sn = snap.borrow_mut();
                write(dump::stats_path(&sn.config), dump::stats(&sn));
                clear_stats(&mut sn);
            }
            Some(_) = recv(&mut sigs.json) => write(dump::json_path(&snap.borrow().config), dump::json(&snap.borrow())),
        }
    }
}

/// keepalived's STATS_CLEAR: every VRRP counter of the stats dump, the JSON dump and /metrics
/// starts again from 0 (states and priorities stay).
pub fn clear_stats(sn: &mut Snapshot) {
    for i in &mut sn.instances {
        i.stats = Default::default();
    }
    sn.rejects.clear();
}

/// A signal stream that may be missing (never fires then).
async fn recv(s: &mut Option<Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

fn write(path: String, text: String) {
    use std::io::Write;
    // keepalived's files are 0600: they show the configuration.
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode_0600()
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    match r {
        Ok(()) => info!("wrote {path}"),
        Err(e) => warn!("cannot write {path}: {e}"),
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}
impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// Updates the snapshot with one event.
pub fn apply(sn: &mut Snapshot, ev: Event, now: SystemTime) {
    match ev {
        Event::VrrpState {
            instance,
            state,
            priority,
        } => {
            if let Some(i) = sn.instance_mut(&instance) {
                if state == State::Master && i.state != State::Master {
                    i.stats.become_master += 1;
                }
                if i.state == State::Master && state != State::Master {
                    i.stats.release_master += 1;
                }
                if i.state != state {
                    i.last_transition = now;
                }
                i.state = state;
                i.effective_priority = priority;
            }
        }
        Event::AdvertSent { instance, priority } => {
            if let Some(i) = sn.instance_mut(&instance) {
                i.stats.advert_sent += 1;
                if priority == 0 {
                    i.stats.pri_zero_sent += 1;
                } else {
                    i.effective_priority = priority;
                }
            }
        }
        Event::AdvertReceived { instance, priority } => {
            if let Some(i) = sn.instance_mut(&instance) {
                i.stats.advert_rcvd += 1;
                if priority == 0 {
                    i.stats.pri_zero_rcvd += 1;
                }
            }
        }
        Event::Rejected { instance, reason } => {
            let map = match instance.and_then(|n| sn.instances.iter().position(|i| i.cfg.name == n))
            {
                Some(i) => &mut sn.instances[i].stats.rejects,
                None => &mut sn.rejects,
            };
            *map.entry(reason).or_default() += 1;
        }
        Event::RealServer {
            vs,
            rs,
            alive,
            weight,
            reason,
        } => {
            if let Some(r) = sn
                .servers
                .get_mut(vs)
                .and_then(|v| v.real_servers.get_mut(rs))
            {
                r.alive = alive;
                r.weight = weight;
                r.last_result = Some((reason, now));
            }
        }
        Event::Quorum { vs, up } => {
            if let Some(v) = sn.servers.get_mut(vs) {
                v.quorum_up = up;
            }
        }
        Event::Checked { vs, rs } => {
            if let Some(r) = sn
                .servers
                .get_mut(vs)
                .and_then(|v| v.real_servers.get_mut(rs))
            {
                r.checked = true;
            }
        }
        Event::VrrpPriority {
            instance,
            priority,
            why,
        } => {
            if let Some(i) = sn.instance_mut(&instance) {
                i.effective_priority = priority;
                i.priority_why = Some(why);
            }
        }
        Event::VrrpMaster { instance, master } => {
            if let Some(i) = sn.instance_mut(&instance) {
                i.master = master;
            }
        }
        Event::VrrpHeld { instance, held } => {
            if let Some(i) = sn.instance_mut(&instance) {
                i.held = held;
            }
        }
        Event::Reloaded(config) => sn.follow(config),
        Event::ReloadFailed => {
            sn.reload_failures += 1;
            sn.last_reload_ok = Some(false);
        }
        Event::CheckerLatency { kind, histogram } => {
            sn.latency.insert(kind, histogram);
        }
        Event::Admin(rows) => {
            for v in &mut sn.servers {
                for r in &mut v.real_servers {
                    r.admin = None;
                    r.weight_now = None;
                    r.rising = false;
                }
            }
            for (vs, rs, admin, weight_now, rising) in rows {
                if let Some(r) = sn
                    .servers
                    .get_mut(vs)
                    .and_then(|v| v.real_servers.get_mut(rs))
                {
                    r.admin = admin;
                    r.weight_now = weight_now;
                    r.rising = rising;
                }
            }
        }
        Event::SyncDaemon(v) => {
            if v.as_ref().map(|v| (v.master, v.backup))
                != sn.sync.daemon.as_ref().map(|d| (d.master, d.backup))
            {
                sn.sync.since = now;
            }
            sn.sync.daemon = v;
        }
        Event::CatchUp { served, entries } => {
            let c = if served {
                &mut sn.sync.served
            } else {
                &mut sn.sync.asked
            };
            c.0 += 1;
            c.1 += entries;
        }
        Event::Bgp(v) => sn.bgp = v,
        Event::VrrpGroup { .. } | Event::Ready(_) | Event::BgpChange { .. } => {}
    }
}

/// The mail an event calls for, with keepalived's smtp_alert precedence: the object's own
/// setting, then the group / virtual server's, then smtp_alert_vrrp / _checker, then smtp_alert.
pub fn alert_for(sn: &Snapshot, ev: &Event) -> Option<email::Alert> {
    let g = &sn.config.global;
    let vrrp_default = g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false);
    let group_alerts = |name: &str| {
        sn.config
            .sync_groups
            .iter()
            .find(|sg| sg.name == name)
            .map(|sg| sg.smtp_alert.unwrap_or(vrrp_default))
    };
    match ev {
        Event::VrrpState {
            instance, state, ..
        } => {
            let i = sn.instances.iter().find(|i| &i.cfg.name == instance)?;
            if i.state == *state || !matches!(state, State::Master | State::Backup | State::Fault) {
                return None;
            }
            // A member of an alerting sync group mails as the group, once.
            if let Some(true) = i.cfg.sync_group.as_deref().and_then(group_alerts) {
                return None;
            }
            i.cfg
                .smtp_alert
                .unwrap_or(vrrp_default)
                .then(|| email::vrrp_alert(instance, &state.to_string(), false))
        }
        Event::VrrpGroup { group, state } => {
            group_alerts(group)?.then(|| email::vrrp_alert(group, &state.to_string(), true))
        }
        Event::RealServer {
            vs,
            rs,
            alive,
            reason,
            ..
        } => {
            let view = sn.servers.get(*vs)?;
            let rv = view.real_servers.get(*rs)?;
            if rv.alive == *alive {
                return None;
            }
            let vconf = sn.config.virtual_servers.get(*vs)?;
            let rconf = vconf.real_servers.get(*rs)?;
            let on = rconf
                .smtp_alert
                .or(vconf.smtp_alert)
                .or(g.smtp_alert_checker)
                .or(g.smtp_alert)
                .unwrap_or(false);
            on.then(|| email::checker_alert(&rv.label, &view.label, *alive, reason))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;

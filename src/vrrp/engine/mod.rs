//! The VRRP engine: one task owning every instance. Receiving sockets, track scripts and the link
//! monitor feed it events over a channel; it feeds the pure `Instance`s, sleeps until their next
//! deadline and performs their actions (adverts, VIPs, GARP, notify) in order.

mod listen;
mod processes;
mod rejects;
mod reload;
mod scripts;
mod setup;
mod shutdown;
mod startup;

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::model::{Config, VrrpInstance};
use crate::notify::{self, Notifier};
use crate::status;
use crate::vrrp::announce::Announcer;
use crate::vrrp::netlink::{self, Link, Netlink, NetlinkError, Vip};
use crate::vrrp::news::{Links, News};
use crate::vrrp::packet::{Endpoints, Family};
use crate::vrrp::socket::{RxError, TxSocket};
use crate::vrrp::sync::SyncGroup;
use crate::vrrp::track::{Kind, ScriptState, Tracker};
use crate::vrrp::validate::{Reject, RxPacket};
use crate::vrrp::{Action, Input, Instance, State};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("({instance}) interface {interface} not found")]
    Interface { instance: String, interface: String },
    #[error("({instance}) interface {interface} has no address to send adverts from")]
    NoAddress { instance: String, interface: String },
    #[error("({instance}) {why}")]
    Vmac { instance: String, why: String },
    #[error("({instance}) {what}: {source}")]
    Socket {
        instance: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Commands from the daemon.
#[derive(Debug)]
pub enum Control {
    /// Clean shutdown: masters send priority 0 and drop their VIPs, notify_stop runs.
    Stop,
    /// A new, valid configuration: apply only the differences (see `vrrp::reload`).
    Reload(std::sync::Arc<Config>),
    /// lvsd ctl vrrp INSTANCE backup|resume: hold the instance (and its sync group) BACKUP, handing
    /// its addresses over, or let it go. A hand-over answers once another router took over.
    Hold {
        instance: String,
        hold: bool,
        force: bool,
        reply: tokio::sync::oneshot::Sender<Result<serde_json::Value, String>>,
    },
}

/// A hand-over waiting for another router to take the addresses.
struct Handover {
    instance: String,
    slots: Vec<usize>,
    since: std::time::Instant,
    deadline: std::time::Instant,
    reply: tokio::sync::oneshot::Sender<Result<serde_json::Value, String>>,
}

/// One running instance and what its actions need.
pub struct Slot {
    vi: Instance,
    cfg: VrrpInstance,
    /// The interface adverts leave and arrive on (the VMAC, or the instance's interface).
    ifindex: u32,
    io_name: String,
    /// TTL / hop limit the send socket was opened with.
    ttl: u8,
    primary: IpAddr,
    dests: Vec<IpAddr>,
    tx: TxSocket,
    vips: Vec<Vip>,
    /// virtual_routes, as (description, message), present while MASTER.
    routes: Vec<(String, RouteMessage)>,
    /// virtual_rules, likewise.
    rules: Vec<(String, RuleMessage)>,
    /// GARP/NA senders by interface index.
    announcers: Vec<(u32, Rc<Announcer>)>,
    tracker: Tracker,
    /// use_vmac: the macvlan carrying the VIPs, removed at stop.
    vmac: Option<crate::vrrp::vmac::Vmac>,
}

impl Slot {
    /// Whether an advert from `src` to `dst` is for this instance among those with its VRID on its
    /// interface (keepalived's rules): unicast and multicast are separate VRID spaces, a multicast
    /// instance hears its own group, and unicast instances sharing a VRID each hear their own peers.
    fn addressed(&self, dst: IpAddr, src: IpAddr, shared_unicast: bool) -> bool {
        if self.cfg.unicast_peer.is_empty() {
            dst.is_multicast() && self.dests.contains(&dst)
        } else {
            !dst.is_multicast()
                && (!shared_unicast || self.cfg.unicast_peer.iter().any(|p| p.addr == src))
        }
    }
}

enum Event {
    Packet {
        ifindex: u32,
        family: Family,
        rx: Result<RxPacket, RxError>,
    },
    Script {
        name: String,
        /// Which run of the script's task (a reload that changes the script starts a new one).
        gen: u64,
        ok: bool,
    },
    Link(Link),
    File {
        name: String,
        value: i64,
    },
    Process(crate::vrrp::track_process::Verdicts),
}

struct Group {
    core: SyncGroup,
    /// Slot index of each member, in the group's member order.
    members: Vec<Option<usize>>,
    notify: crate::config::model::Notify,
    last: State,
}

struct Engine {
    /// The configuration running now.
    cfg: std::sync::Arc<Config>,
    slots: Vec<Slot>,
    groups: Vec<Group>,
    /// Tracked vrrp_scripts: result filter, task generation and task.
    scripts: HashMap<String, RunningScript>,
    next_gen: u64,
    file_watcher: Option<JoinHandle<()>>,
    procs: processes::Processes,
    listeners: listen::Listeners,
    ev_tx: mpsc::UnboundedSender<Event>,
    nl: Netlink,
    notifier: Notifier,
    /// Rejected packets by reason, and which were logged (bounded, rejects.rs).
    rejects: rejects::Rejects,
    /// When datagrams dropped in a flood were last logged.
    dropped_logged: Option<std::time::Instant>,
    /// Source of the packet being fed, to name the peer of a rejected one.
    rx_src: Option<IpAddr>,
    /// global_defs vrrp_check_unicast_src.
    check_unicast_src: bool,
    /// Gap between gratuitous ARPs and between unsolicited NAs of one burst.
    garp_gap: (Duration, Duration),
    /// Stopping with --dont-release-vrrp (see shutdown.rs).
    keep_on_stop: bool,
    /// The director following our states (sync daemon role, catch-up before preempting).
    news: Option<mpsc::UnboundedSender<News>>,
    /// The BGP announcer following our states.
    states: Option<mpsc::UnboundedSender<News>>,
    handovers: Vec<Handover>,
    /// static_ipaddress / static_routes / static_rules in place; a reload applies their changes.
    statics: crate::vrrp::statics::Statics,
}

struct RunningScript {
    state: ScriptState,
    gen: u64,
    task: Option<JoinHandle<()>>,
}

/// The notify FIFO of a configuration: vrrp_notify_fifo, else notify_fifo.
fn fifo_path(cfg: &Config) -> Option<std::path::PathBuf> {
    cfg.global
        .vrrp_notify_fifo
        .as_ref()
        .or(cfg.global.notify_fifo.as_ref())
        .map(|s| s.command.clone().into())
}

/// Runs until `Control::Stop`; returns after the clean shutdown, which leaves VIPs, routes, rules
/// and VMACs in place when `release` is false (--dont-release-vrrp). The static addresses, routes and
/// rules are there from before the instances start until after they stop.
pub async fn run(
    shared: std::sync::Arc<Config>,
    ctl: mpsc::Receiver<Control>,
    release: bool,
    links: Links,
) -> Result<(), EngineError> {
    let mut statics = crate::vrrp::statics::Statics::add(&shared).await;
    let r = run_instances(shared, ctl, release, links, &mut statics).await;
    statics.remove().await;
    r
}

async fn run_instances(
    mut shared: std::sync::Arc<Config>,
    mut ctl: mpsc::Receiver<Control>,
    release: bool,
    links: Links,
    statics: &mut crate::vrrp::statics::Statics,
) -> Result<(), EngineError> {
    let Links {
        news,
        mut caught_up,
        states,
    } = links;
    // Only with both ends is there someone to fetch the table a preemption waits for.
    let news = news.filter(|_| caught_up.is_some());
    // Without instances the engine waits; a reload that brings some starts it.
    let mut first_reload = None;
    if shared.vrrp_instances.is_empty() {
        info!("no vrrp_instance configured, VRRP engine idle");
        status::emit(status::Event::Ready(status::Engine::Vrrp));
        loop {
            match ctl.recv().await {
                Some(Control::Reload(c)) if !c.vrrp_instances.is_empty() => {
                    first_reload = Some(c);
                    break;
                }
                Some(Control::Reload(c)) => {
                    for line in crate::vrrp::statics_plan::describe_changes(&shared, &c) {
                        info!("reload: {line}");
                    }
                    statics.apply(&c).await;
                    // The engine starts from the newest file; the reload that brings
                    // instances is planned against it.
                    shared = c;
                    info!("reload: still no vrrp_instance");
                }
                Some(Control::Hold { reply, .. }) => {
                    let _ = reply.send(Err("no vrrp_instance is configured".into()));
                }
                Some(Control::Stop) | None => return Ok(()),
            }
        }
    }
    let cfg = &*shared;
    let nl = Netlink::open()?;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    // Processes are counted before the instances start, which begin with their verdicts.
    let (proc_tx, mut proc_rx) = mpsc::unbounded_channel();
    let procs = processes::Processes::start(cfg, proc_tx).await;
    {
        let tx = ev_tx.clone();
        tokio::task::spawn_local(async move {
            while let Some(v) = proc_rx.recv().await {
                if tx.send(Event::Process(v)).is_err() {
                    return;
                }
            }
        });
    }
    let slots = setup::build(&nl, cfg, news.is_some(), &|name| procs.is_up(name)).await?;
    let mut listeners = listen::Listeners::default();
    listeners.sync(setup::listeners(&slots), &ev_tx)?;
    let (link_tx, mut link_rx) = mpsc::unbounded_channel();
    netlink::monitor_links(link_tx)?;
    {
        let tx = ev_tx.clone();
        tokio::task::spawn_local(async move {
            while let Some(l) = link_rx.recv().await {
                if tx.send(Event::Link(l)).is_err() {
                    return;
                }
            }
        });
    }

    let mut eng = Engine {
        cfg: shared.clone(),
        groups: Vec::new(),
        slots,
        scripts: HashMap::new(),
        next_gen: 0,
        file_watcher: scripts::spawn_file_watcher(cfg, ev_tx.clone()),
        procs,
        listeners,
        ev_tx,
        nl,
        notifier: Notifier::new(
            cfg.global.script_user.clone(),
            cfg.global.enable_script_security,
            fifo_path(cfg),
        ),
        rejects: rejects::Rejects::default(),
        dropped_logged: None,
        rx_src: None,
        check_unicast_src: cfg.global.vrrp_check_unicast_src,
        garp_gap: (
            cfg.global.vrrp_garp_interval.0,
            cfg.global.vrrp_gna_interval.0,
        ),
        keep_on_stop: false,
        news,
        states,
        handovers: Vec::new(),
        statics: std::mem::take(statics),
    };
    eng.rebuild_groups(Vec::new());
    for name in crate::vrrp::reload::tracked_scripts(cfg) {
        eng.start_script(&name);
    }

    // A reload that found the engine idle starts the instances at once, as keepalived (whose
    // vrrp_startup_delay only acts when it starts).
    let from_idle = first_reload.is_some();
    let mut pending = first_reload;
    let mut stopping = false;
    let delay = cfg.global.vrrp_startup_delay.0;
    if !from_idle && !delay.is_zero() {
        match eng.startup_delay(&mut ctl, delay).await {
            startup::Waited::Start(p) => pending = p,
            startup::Waited::Stop => stopping = true,
        }
    }
    if !stopping {
        for i in 0..eng.slots.len() {
            eng.start_slot(i).await;
        }
        if !from_idle {
            status::emit(status::Event::Ready(status::Engine::Vrrp));
        }
        if let Some(c) = pending {
            eng.reload(c).await;
        }
        loop {
            let deadline = eng
                .slots
                .iter()
                .filter_map(|s| s.vi.next_deadline())
                .chain(eng.handovers.iter().map(|h| h.deadline))
                .min()
                .map(Instant::from_std);
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                c = ctl.recv() => match c {
                    Some(Control::Reload(new)) => eng.reload(new).await,
                    Some(Control::Hold { instance, hold, force, reply }) => eng.hold(instance, hold, force, reply).await,
                    Some(Control::Stop) | None => break,
                },
                Some(ev) = ev_rx.recv() => eng.on_event(ev).await,
                Some(_) = async { match caught_up.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                    for i in 0..eng.slots.len() {
                        eng.feed(i, Input::CaughtUp).await;
                    }
                }
                _ = sleep => eng.on_timers().await,
            }
        }
    }
    for s in eng.scripts.values_mut() {
        if let Some(t) = s.task.take() {
            t.abort();
        }
    }
    if let Some(t) = eng.file_watcher.take() {
        t.abort();
    }
    eng.shutdown(release).await;
    eng.log_reject_totals();
    eng.notifier.drain(Duration::from_secs(5)).await;
    *statics = std::mem::take(&mut eng.statics);
    Ok(())
}

/// Short name of a reject reason, for counting: a malformed advert by what is wrong with it
/// (`TooShort`, `BadVersion`, `BadType`, `LengthMismatch`), so each is logged once.
fn reason_key(r: &Reject) -> String {
    let d = match r {
        Reject::Malformed(e) => format!("{e:?}"),
        _ => format!("{r:?}"),
    };
    d.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Engine {
    /// Starts a slot as at daemon start: its initial tracking, then `Start`.
    async fn start_slot(&mut self, i: usize) {
        let verdict = self.slots[i].tracker.verdict();
        if verdict != Default::default() {
            let reason = verdict
                .fault
                .clone()
                .unwrap_or_else(|| "initial tracking".into());
            self.feed(
                i,
                Input::Track(crate::vrrp::track::TrackChange { reason, verdict }),
            )
            .await;
        }
        self.feed(i, Input::Start).await;
    }

    /// Starts a tracked vrrp_script's task with a fresh result filter.
    fn start_script(&mut self, name: &str) {
        let Some(def) = self.cfg.vrrp_scripts.iter().find(|s| s.name == name) else {
            return;
        };
        self.next_gen += 1;
        let gen = self.next_gen;
        let task = scripts::spawn(def, &self.cfg.global, gen, &self.ev_tx);
        let state = ScriptState::new(def.rise, def.fall, def.init_fail);
        if let Some(old) = self
            .scripts
            .insert(name.to_string(), RunningScript { state, gen, task })
        {
            if let Some(t) = old.task {
                t.abort();
            }
        }
    }

    fn stop_script(&mut self, name: &str) {
        if let Some(t) = self.scripts.remove(name).and_then(|s| s.task) {
            t.abort();
        }
    }

    /// Sync groups of the running configuration around the current slots; `old` gives each
    /// group's last notified state, so an unchanged group notifies nothing.
    fn rebuild_groups(&mut self, old: Vec<Group>) {
        let slots = &self.slots;
        self.groups = self
            .cfg
            .sync_groups
            .iter()
            .map(|g| {
                let members: Vec<Option<usize>> = g
                    .group
                    .iter()
                    .map(|m| slots.iter().position(|s| &s.cfg.name == m))
                    .collect();
                let seeds: Vec<(&str, State, bool, bool)> = g
                    .group
                    .iter()
                    .zip(&members)
                    .map(|(m, idx)| match idx {
                        Some(j) => {
                            let vi = &slots[*j].vi;
                            let (own, sync) = (vi.own_fault().is_some(), vi.sync_fault().is_some());
                            (m.as_str(), vi.state(), own, sync)
                        }
                        None => (m.as_str(), State::Init, false, false),
                    })
                    .collect();
                Group {
                    core: SyncGroup::with_members(&g.name, &seeds),
                    members,
                    notify: g.notify.clone(),
                    last: old
                        .iter()
                        .find(|o| o.core.name() == g.name)
                        .map_or(State::Init, |o| o.last),
                }
            })
            .collect();
    }

    async fn on_timers(&mut self) {
        let now = std::time::Instant::now();
        self.handovers_due(now).await;
        for i in 0..self.slots.len() {
            if self.slots[i].vi.next_deadline().is_some_and(|d| d <= now) {
                self.feed(i, Input::TimerFired).await;
            }
        }
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Packet {
                ifindex,
                family,
                rx,
            } => {
                self.listeners.backlog.taken();
                self.log_dropped();
                let rx = match rx {
                    Ok(rx) => rx,
                    Err(e) => {
                        self.rejects.count(&format!("{e}"));
                        debug!("discarded datagram: {e}");
                        return;
                    }
                };
                let Some(&vrid) = rx.payload.get(1) else {
                    self.rejects.count("TooShort");
                    return;
                };
                let same_vrid: Vec<usize> = (0..self.slots.len())
                    .filter(|&i| {
                        let p = self.slots[i].vi.params();
                        self.slots[i].ifindex == ifindex && p.family == family && p.vrid == vrid
                    })
                    .collect();
                let unicast = |i: &usize| !self.slots[*i].cfg.unicast_peer.is_empty();
                let shared_unicast = same_vrid.iter().filter(|i| unicast(i)).count() > 1;
                let targets: Vec<usize> = same_vrid
                    .into_iter()
                    .filter(|&i| self.slots[i].addressed(rx.dst, rx.src, shared_unicast))
                    .collect();
                self.rx_src = Some(rx.src);
                for i in targets {
                    if !self.accepts_source(i, rx.src) || self.owner_ignores(i, rx.src) {
                        continue;
                    }
                    let heard = self.slots[i].vi.last_master();
                    status::emit(status::Event::AdvertReceived {
                        instance: self.slots[i].vi.name().to_string(),
                        priority: rx.payload.get(2).copied().unwrap_or(0),
                    });
                    self.feed(i, Input::Packet(rx.clone())).await;
                    let now_heard = self.slots[i].vi.last_master();
                    if now_heard != heard {
                        status::emit(status::Event::VrrpMaster {
                            instance: self.slots[i].vi.name().to_string(),
                            master: now_heard,
                        });
                    }
                }
                self.rx_src = None;
                self.handovers_done();
            }
            Event::Script { name, gen, ok } => {
                let Some(st) = self.scripts.get_mut(&name).filter(|s| s.gen == gen) else {
                    return;
                };
                let Some(up) = st.state.record(ok) else {
                    return;
                };
                info!(
                    "VRRP_Script({name}) {}",
                    if up { "succeeded" } else { "failed" }
                );
                self.tracked(Kind::Script, &name, up).await;
            }
            Event::Link(l) => self.tracked(Kind::Interface, &l.name, l.up).await,
            Event::Process(v) => {
                for (name, up) in self.procs.accept(v) {
                    self.tracked(Kind::Process, &name, up).await;
                }
            }
            Event::File { name, value } => {
                for i in 0..self.slots.len() {
                    if let Some(change) = self.slots[i].tracker.set_value(&name, value) {
                        self.feed(i, Input::Track(change)).await;
                    }
                }
            }
        }
    }

    /// Whether a MASTER other than slot `i` holds this address: it is never removed on `i`'s
    /// behalf (two instances may carry one address).
    fn held_elsewhere(&self, i: usize, addr: IpAddr, ifindex: u32) -> bool {
        self.slots.iter().enumerate().any(|(j, s)| {
            j != i
                && s.vi.state() == State::Master
                && s.vips
                    .iter()
                    .any(|v| v.addr == addr && v.ifindex == ifindex)
        })
    }

    /// check_unicast_src: a unicast instance accepts adverts from its unicast_peers only.
    fn accepts_source(&mut self, i: usize, src: IpAddr) -> bool {
        let s = &self.slots[i];
        let check = s.cfg.check_unicast_src || self.check_unicast_src;
        if !check
            || s.cfg.unicast_peer.is_empty()
            || s.cfg.unicast_peer.iter().any(|p| p.addr == src)
        {
            return true;
        }
        let name = s.vi.name().to_string();
        let why = format!("discarded advert from {src}: not a unicast_peer");
        self.log_reject(&name, "UnicastSrcNotPeer", src, &why);
        false
    }

    /// owner_ignore_adverts: an instance at priority 255 drops every advert (RFC 5798 6.4.3), so
    /// a second owner on the link cannot make it BACKUP.
    fn owner_ignores(&mut self, i: usize, src: IpAddr) -> bool {
        let s = &self.slots[i];
        if !s.cfg.owner_ignore_adverts || s.vi.priority() != 255 {
            return false;
        }
        let name = s.vi.name().to_string();
        let why =
            format!("dropped advert from {src}: we are the address owner (owner_ignore_adverts)");
        self.log_reject(&name, "OwnerIgnoreAdverts", src, &why);
        true
    }

    async fn tracked(&mut self, kind: Kind, name: &str, up: bool) {
        for i in 0..self.slots.len() {
            if let Some(change) = self.slots[i].tracker.set_up(kind, name, up) {
                self.feed(i, Input::Track(change)).await;
            }
        }
    }

    /// Feeds one input and everything it causes in the instance's sync group.
    async fn feed(&mut self, first: usize, input: Input) {
        let mut work = vec![(first, input)];
        while let Some((i, input)) = work.pop() {
            let before = self.slots[i].vi.state();
            let actions = self.slots[i].vi.handle(std::time::Instant::now(), input);
            self.perform(i, actions).await;
            let after = self.slots[i].vi.state();
            if before == after {
                continue;
            }
            let own_fault = self.slots[i].vi.own_fault().is_some();
            for g in &mut self.groups {
                let Some(pos) = g.members.iter().position(|m| *m == Some(i)) else {
                    continue;
                };
                for (m, cmd) in g.core.update(pos, after, own_fault) {
                    if let Some(Some(j)) = g.members.get(m) {
                        work.push((*j, Input::Sync(cmd)));
                    }
                }
            }
            self.group_notify();
        }
    }

    fn group_notify(&mut self) {
        for g in &mut self.groups {
            let s = g.core.state();
            if s == g.last || s == State::Init {
                continue;
            }
            g.last = s;
            status::emit(status::Event::VrrpGroup {
                group: g.core.name().to_string(),
                state: s,
            });
            info!(
                "VRRP_Group({}) Syncing instances to {s} state",
                g.core.name()
            );
            let ev = notify::Event {
                kind: notify::Kind::Group,
                name: g.core.name().to_string(),
                state: s.to_string(),
                priority: 0,
            };
            self.notifier.notify(&ev, &g.notify);
        }
    }

    async fn perform(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            if self.kept_on_stop(i, &a) {
                continue;
            }
            let name = self.slots[i].vi.name().to_string();
            match a {
                Action::Send(adv) => {
                    status::emit(status::Event::AdvertSent {
                        instance: name.clone(),
                        priority: adv.priority,
                    });
                    let s = &self.slots[i];
                    for dst in &s.dests {
                        let ends = Endpoints {
                            src: s.primary,
                            dst: *dst,
                            mode: s.vi.params().checksum,
                        };
                        match adv.encode(&ends) {
                            Ok(bytes) => {
                                if let Err(e) = s.tx.send(*dst, &bytes) {
                                    warn!("({name}) sending advert to {dst}: {e}");
                                }
                            }
                            Err(e) => warn!("({name}) cannot encode advert: {e}"),
                        }
                    }
                }
                Action::AddVips => {
                    info!("({name}) Setting VIPs.");
                    for v in self.slots[i].vips.clone() {
                        if let Err(e) = self.nl.add(&v).await {
                            warn!("({name}) {e}");
                        }
                    }
                    for (what, r) in self.slots[i].routes.clone() {
                        if let Err(e) = self.nl.add_route(&what, &r).await {
                            warn!("({name}) {e}");
                        }
                    }
                    for (what, r) in self.slots[i].rules.clone() {
                        if let Err(e) = self.nl.add_rule(&what, &r).await {
                            warn!("({name}) {e}");
                        }
                    }
                }
                Action::RemoveVips => {
                    info!("({name}) Removing VIPs.");
                    for (what, r) in self.slots[i].rules.clone() {
                        if let Err(e) = self.nl.del_rule(&what, &r).await {
                            warn!("({name}) {e}");
                        }
                    }
                    for (what, r) in self.slots[i].routes.clone() {
                        if let Err(e) = self.nl.del_route(&what, &r).await {
                            warn!("({name}) {e}");
                        }
                    }
                    for v in self.slots[i].vips.clone() {
                        if self.held_elsewhere(i, v.addr, v.ifindex) {
                            continue;
                        }
                        if let Err(e) = self.nl.del(&v).await {
                            warn!("({name}) {e}");
                        }
                    }
                }
                Action::SendGarp { count } => {
                    let vips = self.slots[i].vips.clone();
                    self.garp(i, &vips, count)
                }
                Action::Notify {
                    state,
                    priority,
                    reason,
                } => {
                    info!("({name}) Entering {state} STATE ({reason})");
                    self.tell(News::State {
                        instance: name.clone(),
                        state,
                    });
                    status::emit(status::Event::VrrpState {
                        instance: name.clone(),
                        state,
                        priority,
                    });
                    let ev = notify::Event {
                        kind: notify::Kind::Instance,
                        name: name.clone(),
                        state: state.to_string(),
                        priority,
                    };
                    self.notifier.notify(&ev, &self.slots[i].cfg.notify);
                }
                Action::Discard(r) => {
                    let key = reason_key(&r);
                    status::emit(status::Event::Rejected {
                        instance: Some(name.clone()),
                        reason: key.clone(),
                    });
                    let peer = self.rx_src.unwrap_or(self.slots[i].primary);
                    self.log_reject(&name, &key, peer, &format!("discarded advert: {r}"));
                }
                Action::Log(s) => {
                    if s.starts_with("Changing effective priority") {
                        status::emit(status::Event::VrrpPriority {
                            instance: name.clone(),
                            priority: self.slots[i].vi.priority(),
                            why: s.clone(),
                        });
                    }
                    info!("({name}) {s}")
                }
                Action::CatchUp { master } => {
                    info!("({name}) asking {master} for its connection table before preempting");
                    self.tell(News::CatchUp {
                        instance: name.clone(),
                        master,
                    });
                }
                Action::Deleted { priority } => {
                    info!("({name}) removed by reload");
                    self.tell(News::State {
                        instance: name.clone(),
                        state: State::Stop,
                    });
                    status::emit(status::Event::VrrpState {
                        instance: name.clone(),
                        state: State::Stop,
                        priority,
                    });
                    let (ev, scripts) = notify::deleted(&name, priority, &self.slots[i].cfg.notify);
                    self.notifier.notify(&ev, &scripts);
                }
            }
        }
    }

    /// Sends a burst for each of `vips`; with vrrp_garp_interval / vrrp_gna_interval the
    /// messages are spaced by a task so the engine never waits.
    fn garp(&self, i: usize, vips: &[Vip], count: u32) {
        let s = &self.slots[i];
        let name = s.vi.name().to_string();
        info!("({name}) Sending/queueing gratuitous ARPs / unsolicited NAs for the VIPs");
        for v in vips {
            let Some((_, ann)) = s.announcers.iter().find(|(idx, _)| *idx == v.ifindex) else {
                continue;
            };
            let gap = match v.addr {
                IpAddr::V4(_) => self.garp_gap.0,
                IpAddr::V6(_) => self.garp_gap.1,
            };
            let (ann, addr, name) = (ann.clone(), v.addr, name.clone());
            let send = move || {
                ann.announce(addr)
                    .map_err(|e| warn!("({name}) announcing {addr}: {e}"))
            };
            if gap.is_zero() {
                for _ in 0..count {
                    if send().is_err() {
                        break;
                    }
                }
            } else {
                tokio::task::spawn_local(async move {
                    for k in 0..count {
                        if k > 0 {
                            tokio::time::sleep(gap).await;
                        }
                        if send().is_err() {
                            break;
                        }
                    }
                });
            }
        }
    }

    /// The instance named and the other members of its sync group.
    fn with_group(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        for g in &self.groups {
            if g.members.contains(&Some(i)) {
                out.extend(g.members.iter().flatten().filter(|j| **j != i));
            }
        }
        out
    }

    async fn hold(
        &mut self,
        instance: String,
        hold: bool,
        force: bool,
        reply: tokio::sync::oneshot::Sender<Result<serde_json::Value, String>>,
    ) {
        let Some(i) = self.slots.iter().position(|s| s.vi.name() == instance) else {
            let _ = reply.send(Err(format!("no vrrp_instance '{instance}'")));
            return;
        };
        let slots = self.with_group(i);
        let names: Vec<String> = slots
            .iter()
            .map(|&j| self.slots[j].vi.name().to_string())
            .collect();
        if hold && !force && !slots.iter().any(|&j| self.slots[j].vi.peer_heard()) {
            let _ = reply.send(Err(format!(
                "({instance}) no other router was heard since lvsd started, so nobody may take the addresses; use --force to hand them over anyway"
            )));
            return;
        }
        let masters = slots
            .iter()
            .filter(|&&j| self.slots[j].vi.state() == State::Master)
            .count();
        for &j in &slots {
            info!(
                "({}) {} by lvsd ctl",
                self.slots[j].vi.name(),
                if hold { "held BACKUP" } else { "resumed" }
            );
            self.feed(j, Input::Hold(hold)).await;
            status::emit(status::Event::VrrpHeld {
                instance: self.slots[j].vi.name().to_string(),
                held: hold,
            });
        }
        if !hold || masters == 0 {
            let _ = reply.send(Ok(serde_json::json!({
                "instances": names, "held": hold, "handed_over": false,
            })));
            return;
        }
        // Answered once another router advertises as master, or undone after its down interval.
        let vi = &self.slots[i].vi;
        let wait = vi.master_adver_int() * 4 + Duration::from_secs(1);
        let now = std::time::Instant::now();
        self.handovers.push(Handover {
            instance,
            slots,
            since: now,
            deadline: now + wait,
            reply,
        });
    }

    /// Hand-overs whose instances now hear another master.
    fn handovers_done(&mut self) {
        let slots = &self.slots;
        let (done, waiting): (Vec<Handover>, Vec<Handover>) = std::mem::take(&mut self.handovers)
            .into_iter()
            .partition(|h| h.slots.iter().all(|&j| slots[j].vi.last_master().is_some()));
        self.handovers = waiting;
        for h in done {
            let master = self.slots[h.slots[0]].vi.last_master();
            let _ = h.reply.send(Ok(serde_json::json!({
                "instances": h.slots.iter().map(|&j| self.slots[j].vi.name()).collect::<Vec<_>>(),
                "held": true,
                "handed_over": true,
                "new_master": master.map(|a| a.to_string()),
                "after_seconds": h.since.elapsed().as_secs_f64(),
            })));
        }
    }

    /// Hand-overs nobody took: the instances take their addresses back.
    async fn handovers_due(&mut self, now: std::time::Instant) {
        let (due, waiting): (Vec<Handover>, Vec<Handover>) = std::mem::take(&mut self.handovers)
            .into_iter()
            .partition(|h| h.deadline <= now);
        self.handovers = waiting;
        for h in due {
            warn!(
                "({}) no router took the addresses over; resuming",
                h.instance
            );
            for &j in &h.slots {
                self.feed(j, Input::Hold(false)).await;
                status::emit(status::Event::VrrpHeld {
                    instance: self.slots[j].vi.name().to_string(),
                    held: false,
                });
            }
            let _ = h.reply.send(Err(format!(
                "({}) no router took the addresses within {:.1} s; the instance was resumed and takes them back",
                h.instance,
                (h.deadline - h.since).as_secs_f64()
            )));
        }
    }

    fn tell(&self, news: News) {
        if let (Some(tx), News::State { .. }) = (&self.states, &news) {
            let _ = tx.send(news.clone());
        }
        if let Some(tx) = &self.news {
            let _ = tx.send(news);
        }
    }

    fn log_reject_totals(&mut self) {
        let unlogged = self.listeners.backlog.take_dropped();
        self.rejects.add("Flood", unlogged);
        for (k, n) in self.rejects.totals().filter(|(_, n)| **n > 0) {
            info!("VRRP: {n} packets discarded: {k}");
        }
    }

    /// Datagrams the receiving tasks dropped because the engine was behind: one line a minute.
    fn log_dropped(&mut self) {
        let now = Instant::now().into_std();
        if self
            .dropped_logged
            .is_some_and(|t| now.duration_since(t) < rejects::SUMMARY_EVERY)
        {
            return;
        }
        let n = self.listeners.backlog.take_dropped();
        if n > 0 {
            self.dropped_logged = Some(now);
            self.rejects.add("Flood", n);
            warn!(
                "VRRP: {n} datagrams dropped unread: more than {} waited for the engine (a flood?)",
                listen::MAX_QUEUED
            );
        }
    }

    /// Counts a discarded advert; the log says so once per reason and peer, and sums up floods.
    fn log_reject(&mut self, instance: &str, key: &str, peer: IpAddr, why: &str) {
        let now = Instant::now().into_std();
        match self.rejects.note(now, key, peer) {
            rejects::Line::First => {
                warn!("({instance}) {why} (logged once per reason and peer)")
            }
            rejects::Line::Summary { quiet } => warn!(
                "VRRP: {quiet} more adverts discarded (last: ({instance}) {why}); past {} reasons \
                 and peers they are counted, not logged one by one (totals at stop)",
                rejects::MAX_PEERS
            ),
            rejects::Line::None => {}
        }
    }
}

//! The VRRP engine: one task owning every instance. Receiving sockets, track scripts and the link
//! monitor feed it events over a channel; it feeds the pure `Instance`s, sleeps until their next
//! deadline and performs their actions (adverts, VIPs, GARP, notify) in order.

mod scripts;
mod setup;
mod shutdown;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::model::{Config, VrrpInstance};
use crate::notify::{self, Notifier};
use crate::status;
use crate::vrrp::announce::Announcer;
use crate::vrrp::netlink::{self, Link, Netlink, NetlinkError, Vip};
use crate::vrrp::packet::{Endpoints, Family};
use crate::vrrp::socket::{RxError, RxSocket, TxSocket};
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
}

/// One running instance and what its actions need.
pub struct Slot {
    vi: Instance,
    cfg: VrrpInstance,
    ifindex: u32,
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

enum Event {
    Packet {
        ifindex: u32,
        family: Family,
        rx: Result<RxPacket, RxError>,
    },
    Script {
        name: String,
        ok: bool,
    },
    Link(Link),
    File {
        name: String,
        value: i64,
    },
}

struct Group {
    core: SyncGroup,
    /// Slot index of each member, in the group's member order.
    members: Vec<Option<usize>>,
    notify: crate::config::model::Notify,
    last: State,
}

struct Engine {
    slots: Vec<Slot>,
    groups: Vec<Group>,
    scripts: HashMap<String, ScriptState>,
    nl: Netlink,
    notifier: Notifier,
    /// Rejected packets by reason, and the (reason, peer) pairs already logged.
    rejects: HashMap<String, u64>,
    logged: HashSet<(String, IpAddr)>,
    /// Source of the packet being fed, to name the peer of a rejected one.
    rx_src: Option<IpAddr>,
    /// global_defs vrrp_check_unicast_src.
    check_unicast_src: bool,
    /// Gap between gratuitous ARPs and between unsolicited NAs of one burst.
    garp_gap: (Duration, Duration),
    /// Stopping with --dont-release-vrrp (see shutdown.rs).
    keep_on_stop: bool,
}

/// Runs until `Control::Stop`; returns after the clean shutdown, which leaves VIPs, routes, rules
/// and VMACs in place when `release` is false (--dont-release-vrrp). The static addresses, routes and
/// rules are there from before the instances start until after they stop.
pub async fn run(
    cfg: &Config,
    ctl: mpsc::Receiver<Control>,
    release: bool,
) -> Result<(), EngineError> {
    let statics = crate::vrrp::statics::Statics::add(cfg).await;
    let r = run_instances(cfg, ctl, release).await;
    if let Some(s) = statics {
        s.remove().await;
    }
    r
}

async fn run_instances(
    cfg: &Config,
    mut ctl: mpsc::Receiver<Control>,
    release: bool,
) -> Result<(), EngineError> {
    if cfg.vrrp_instances.is_empty() {
        info!("no vrrp_instance configured, VRRP engine idle");
        status::emit(status::Event::Ready(status::Engine::Vrrp));
        while let Some(c) = ctl.recv().await {
            if matches!(c, Control::Stop) {
                break;
            }
        }
        return Ok(());
    }
    let nl = Netlink::open()?;
    let built = setup::build(&nl, cfg).await?;
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    for ((ifname, ifindex, family), groups) in built.listeners {
        let sock =
            RxSocket::open(&ifname, ifindex, family, &groups).map_err(|e| EngineError::Socket {
                instance: ifname.clone(),
                what: format!("receive socket on {ifname}"),
                source: e,
            })?;
        let tx = ev_tx.clone();
        tokio::task::spawn_local(async move {
            loop {
                match sock.recv().await {
                    Ok(rx) => {
                        if tx
                            .send(Event::Packet {
                                ifindex,
                                family,
                                rx,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!("receive on {ifname}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
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
    let script_tasks = scripts::spawn(cfg, &built.slots, ev_tx.clone());

    let fifo = cfg
        .global
        .vrrp_notify_fifo
        .as_ref()
        .or(cfg.global.notify_fifo.as_ref())
        .map(|s| s.command.clone().into());
    let mut eng = Engine {
        groups: cfg
            .sync_groups
            .iter()
            .map(|g| {
                let names: Vec<&str> = g.group.iter().map(String::as_str).collect();
                Group {
                    core: SyncGroup::new(&g.name, &names),
                    members: g
                        .group
                        .iter()
                        .map(|m| built.slots.iter().position(|s| &s.cfg.name == m))
                        .collect(),
                    notify: g.notify.clone(),
                    last: State::Init,
                }
            })
            .collect(),
        slots: built.slots,
        scripts: cfg
            .vrrp_scripts
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    ScriptState::new(s.rise, s.fall, s.init_fail),
                )
            })
            .collect(),
        nl,
        notifier: Notifier::new(
            cfg.global.script_user.clone(),
            cfg.global.enable_script_security,
            fifo,
        ),
        rejects: HashMap::new(),
        logged: HashSet::new(),
        rx_src: None,
        check_unicast_src: cfg.global.vrrp_check_unicast_src,
        garp_gap: (
            cfg.global.vrrp_garp_interval.0,
            cfg.global.vrrp_gna_interval.0,
        ),
        keep_on_stop: false,
    };

    if !cfg.global.vrrp_startup_delay.0.is_zero() {
        info!(
            "delaying VRRP start by {:?}",
            cfg.global.vrrp_startup_delay.0
        );
        tokio::time::sleep(cfg.global.vrrp_startup_delay.0).await;
    }
    for i in 0..eng.slots.len() {
        let verdict = eng.slots[i].tracker.verdict();
        if verdict != Default::default() {
            let reason = verdict
                .fault
                .clone()
                .unwrap_or_else(|| "initial tracking".into());
            eng.feed(
                i,
                Input::Track(crate::vrrp::track::TrackChange { reason, verdict }),
            )
            .await;
        }
        eng.feed(i, Input::Start).await;
    }
    status::emit(status::Event::Ready(status::Engine::Vrrp));

    loop {
        let deadline = eng
            .slots
            .iter()
            .filter_map(|s| s.vi.next_deadline())
            .min()
            .map(Instant::from_std);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            c = ctl.recv() => {
                if matches!(c, Some(Control::Stop) | None) {
                    break;
                }
            }
            Some(ev) = ev_rx.recv() => eng.on_event(ev).await,
            _ = sleep => eng.on_timers().await,
        }
    }
    for t in script_tasks {
        t.abort();
    }
    eng.shutdown(release).await;
    eng.log_reject_totals();
    eng.notifier.drain(Duration::from_secs(5)).await;
    Ok(())
}

/// Short name of a reject reason, for counting.
fn reason_key(r: &Reject) -> String {
    let d = format!("{r:?}");
    d.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Engine {
    async fn on_timers(&mut self) {
        let now = std::time::Instant::now();
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
                let rx = match rx {
                    Ok(rx) => rx,
                    Err(e) => {
                        *self.rejects.entry(format!("{e}")).or_default() += 1;
                        debug!("discarded datagram: {e}");
                        return;
                    }
                };
                let Some(&vrid) = rx.payload.get(1) else {
                    *self.rejects.entry("TooShort".into()).or_default() += 1;
                    return;
                };
                let targets: Vec<usize> = (0..self.slots.len())
                    .filter(|&i| {
                        let p = self.slots[i].vi.params();
                        self.slots[i].ifindex == ifindex && p.family == family && p.vrid == vrid
                    })
                    .collect();
                self.rx_src = Some(rx.src);
                for i in targets {
                    if !self.accepts_source(i, rx.src) {
                        continue;
                    }
                    status::emit(status::Event::AdvertReceived {
                        instance: self.slots[i].vi.name().to_string(),
                        priority: rx.payload.get(2).copied().unwrap_or(0),
                    });
                    self.feed(i, Input::Packet(rx.clone())).await;
                }
                self.rx_src = None;
            }
            Event::Script { name, ok } => {
                let Some(st) = self.scripts.get_mut(&name) else {
                    return;
                };
                let Some(up) = st.record(ok) else {
                    return;
                };
                info!(
                    "VRRP_Script({name}) {}",
                    if up { "succeeded" } else { "failed" }
                );
                self.tracked(Kind::Script, &name, up).await;
            }
            Event::Link(l) => self.tracked(Kind::Interface, &l.name, l.up).await,
            Event::File { name, value } => {
                for i in 0..self.slots.len() {
                    if let Some(change) = self.slots[i].tracker.set_value(&name, value) {
                        self.feed(i, Input::Track(change)).await;
                    }
                }
            }
        }
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
        let key = "UnicastSrcNotPeer".to_string();
        *self.rejects.entry(key.clone()).or_default() += 1;
        if self.logged.insert((key, src)) {
            warn!(
                "({}) discarded advert from {src}: not a unicast_peer (logged once per peer)",
                s.vi.name()
            );
        }
        false
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
                        if let Err(e) = self.nl.del(&v).await {
                            warn!("({name}) {e}");
                        }
                    }
                }
                Action::SendGarp { count } => self.garp(i, count),
                Action::Notify {
                    state,
                    priority,
                    reason,
                } => {
                    info!("({name}) Entering {state} STATE ({reason})");
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
                    *self.rejects.entry(key.clone()).or_default() += 1;
                    let peer = self.rx_src.unwrap_or(self.slots[i].primary);
                    if self.logged.insert((key, peer)) {
                        warn!("({name}) discarded advert: {r} (logged once per reason and peer)");
                    }
                }
                Action::Log(s) => info!("({name}) {s}"),
            }
        }
    }

    /// Sends a burst for every VIP; with vrrp_garp_interval / vrrp_gna_interval the messages
    /// are spaced by a task so the engine never waits.
    fn garp(&self, i: usize, count: u32) {
        let s = &self.slots[i];
        let name = s.vi.name().to_string();
        info!("({name}) Sending/queueing gratuitous ARPs / unsolicited NAs for the VIPs");
        for v in &s.vips {
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

    fn log_reject_totals(&self) {
        for (k, n) in &self.rejects {
            info!("VRRP: {n} packets discarded: {k}");
        }
    }
}

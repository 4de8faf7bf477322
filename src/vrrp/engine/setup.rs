//! Turning the config model into running slots: interfaces resolved, sockets open, trackers
//! filled, leftover VIPs cleared; the pieces are reused by a reload to update a slot in place.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::listen::ListenKey;
use super::{EngineError, Slot};
use crate::config::model::{Config, SyncGroup, Track, UseVmac, VrrpInstance, VrrpScript};
use crate::vrrp::announce::Announcer;
use crate::vrrp::from_config::{
    catchup_hold, destinations, family, instance_params, interface_of, send_ttl,
};
use crate::vrrp::netlink::{Link, Netlink, Vip};
use crate::vrrp::packet::Family;
use crate::vrrp::routes::route_message;
use crate::vrrp::rules::{describe, rule_message};
use crate::vrrp::socket::{is_link_local, TxSocket};
use crate::vrrp::track::{Kind, Status, Tracker};
use crate::vrrp::vmac::{self, Vmac};
use crate::vrrp::Instance;
use netlink_packet_route::address::AddressScope;
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;

/// How long to wait for an interface address (an IPv6 link-local one is tentative for a
/// moment after the link comes up).
const ADDRESS_WAIT: Duration = Duration::from_secs(5);

/// The advert source: configured, else the interface's first address of the family that is not
/// a VIP (IPv6: the link-local one, as RFC 5798 requires for multicast).
async fn primary_address(
    nl: &Netlink,
    inst: &VrrpInstance,
    link: &Link,
) -> Result<IpAddr, EngineError> {
    if let Some(a) = inst.unicast_src_ip.or(inst.mcast_src_ip) {
        return Ok(a);
    }
    let fam = family(inst);
    let vips: Vec<IpAddr> = inst.virtual_ipaddress.iter().map(|a| a.addr).collect();
    let deadline = tokio::time::Instant::now() + ADDRESS_WAIT;
    loop {
        let found = nl
            .addresses(link.index)
            .await?
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| Family::of(*a) == fam && !vips.contains(a))
            .find(|a| match a {
                IpAddr::V4(_) => true,
                IpAddr::V6(v6) => is_link_local(v6),
            });
        if let Some(a) = found {
            return Ok(a);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(EngineError::NoAddress {
                instance: inst.name.clone(),
                interface: link.name.clone(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// IPv6 link-local addresses are unusable until DAD completes: retry binding for a while.
pub async fn open_tx(
    ifname: &str,
    ifindex: u32,
    src: IpAddr,
    ttl: u8,
    name: &str,
) -> Result<TxSocket, EngineError> {
    let deadline = tokio::time::Instant::now() + ADDRESS_WAIT;
    loop {
        match TxSocket::open(ifname, ifindex, src, ttl) {
            Ok(s) => return Ok(s),
            Err(e)
                if e.raw_os_error() == Some(libc::EADDRNOTAVAIL)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(EngineError::Socket {
                    instance: name.to_string(),
                    what: format!("send socket on {ifname} from {src}"),
                    source: e,
                })
            }
        }
    }
}

/// The tracked items of an instance or its sync group.
struct Tracks<'a> {
    scripts: &'a [Track],
    interfaces: &'a [Track],
    files: &'a [Track],
}

/// A track_file's current value: its first number, 0 when missing or unreadable (keepalived).
pub fn read_track_file(path: &str) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(0)
}

/// What the engine knows now of the tracked items that are not read here.
#[derive(Clone, Copy)]
pub struct Current<'a> {
    /// Whether a vrrp_script counts as succeeding: its running filter's status, or its initial
    /// one (`init_fail`) for a script that has not run yet.
    pub script_up: &'a dyn Fn(&VrrpScript) -> bool,
    /// Whether a vrrp_track_process has its quorum.
    pub process_up: &'a dyn Fn(&str) -> bool,
}

fn add_tracks(
    tracker: &mut Tracker,
    cfg: &Config,
    t: Tracks,
    links: &HashMap<String, Link>,
    current: Current,
) {
    let Tracks {
        scripts,
        interfaces,
        files,
    } = t;
    for t in files {
        let Some(f) = cfg.track_files.iter().find(|f| f.name == t.name) else {
            continue;
        };
        tracker.track(
            Kind::File,
            &f.name,
            t.weight.unwrap_or(f.weight),
            t.reverse || f.reverse,
            Status::Value(read_track_file(&f.file)),
        );
    }
    for t in scripts {
        let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == t.name) else {
            continue;
        };
        tracker.track(
            Kind::Script,
            &s.name,
            t.weight.unwrap_or(s.weight),
            t.reverse || s.reverse,
            Status::Up((current.script_up)(s)),
        );
    }
    for t in interfaces {
        let up = links.get(&t.name).is_some_and(|l| l.up);
        tracker.track(
            Kind::Interface,
            &t.name,
            t.weight.unwrap_or(0),
            t.reverse,
            Status::Up(up),
        );
    }
}

/// Every interface the configuration names for VRRP: instances, their VIPs and routes, tracking.
pub async fn links(nl: &Netlink, cfg: &Config) -> HashMap<String, Link> {
    let mut names: Vec<String> = Vec::new();
    for inst in &cfg.vrrp_instances {
        names.push(interface_of(cfg, inst));
        for a in inst
            .virtual_ipaddress
            .iter()
            .chain(&inst.virtual_ipaddress_excluded)
        {
            names.extend(a.dev.clone());
        }
        names.extend(inst.virtual_routes.iter().filter_map(|r| r.dev.clone()));
        names.extend(inst.track_interface.iter().map(|t| t.name.clone()));
    }
    for g in &cfg.sync_groups {
        names.extend(g.track_interface.iter().map(|t| t.name.clone()));
    }
    let mut links: HashMap<String, Link> = HashMap::new();
    for n in names {
        if links.contains_key(&n) {
            continue;
        }
        match nl.link(&n).await {
            Ok(l) => {
                links.insert(n, l);
            }
            Err(e) => warn!("{e}"),
        }
    }
    links
}

/// Every slot of the configuration, at daemon start: any failure stops lvsd.
/// `catchup`: a director follows, so instances the sync daemon follows hold preemption for it.
/// `process_up`: the verdicts of the vrrp_track_process blocks, counted before.
pub async fn build(
    nl: &Netlink,
    cfg: &Config,
    catchup: bool,
    process_up: &dyn Fn(&str) -> bool,
) -> Result<Vec<Slot>, EngineError> {
    let mut links = links(nl, cfg).await;
    let mut announcers = HashMap::new();
    let mut slots = Vec::new();
    for inst in &cfg.vrrp_instances {
        let initial = |s: &VrrpScript| !s.init_fail;
        let ctx = SlotContext {
            nl,
            cfg,
            current: Current {
                script_up: &initial,
                process_up,
            },
            keep: &[],
            catchup,
        };
        slots.push(build_slot(&ctx, inst, &mut links, &mut announcers).await?);
    }
    Ok(slots)
}

/// What building a slot needs besides the instance.
pub struct SlotContext<'a> {
    pub nl: &'a Netlink,
    pub cfg: &'a Config,
    pub current: Current<'a>,
    /// Addresses other running instances hold: not removed as leftovers.
    pub keep: &'a [Vip],
    /// A director answers catch-up requests (see `from_config::catchup_hold`).
    pub catchup: bool,
}

/// One instance ready to start: interface resolved, VMAC created, socket open, tracker filled,
/// leftover VIPs cleared. `links` and `announcers` are shared with the other slots.
pub async fn build_slot(
    ctx: &SlotContext<'_>,
    inst: &VrrpInstance,
    links: &mut HashMap<String, Link>,
    announcers: &mut HashMap<u32, Rc<Announcer>>,
) -> Result<Slot, EngineError> {
    let nl = ctx.nl;
    let ifname = interface_of(ctx.cfg, inst);
    let link = links
        .get(&ifname)
        .cloned()
        .ok_or_else(|| EngineError::Interface {
            instance: inst.name.clone(),
            interface: ifname.clone(),
        })?;
    let primary = primary_address(nl, inst, &link).await?;
    let mut params = instance_params(inst, primary);
    if ctx.catchup {
        params.catchup_hold = catchup_hold(ctx.cfg, inst);
    }
    let ttl = send_ttl(inst);
    let vmac = match &inst.use_vmac {
        Some(u) => Some(make_vmac(nl, inst, &link, primary, u).await?),
        None => None,
    };
    // keepalived: unicast adverts with use_vmac need vmac_xmit_base.
    let xmit_base = inst.vmac_xmit_base || !inst.unicast_peer.is_empty();
    // Adverts go out and come in on the VMAC: a multicast frame whose source is a local
    // private macvlan's MAC (the master's VMAC is ours too) reaches only that macvlan.
    let io_link = match &vmac {
        Some(v) if !xmit_base => v.link.clone(),
        _ => link.clone(),
    };
    let tx = open_tx(&io_link.name, io_link.index, primary, ttl, &inst.name).await?;
    if let Some(v) = &vmac {
        links.insert(v.link.name.clone(), v.link.clone());
    }
    let vips = resolve_vips(inst, &ifname, params.family, vmac.as_ref(), links);
    let routes = resolve_routes(inst, links);
    let rules = resolve_rules(inst);
    let ann = announcers_for(&inst.name, &vips, links, announcers)?;
    let tracker = tracker(ctx.cfg, inst, links, ctx.current);
    let leftovers: Vec<Vip> = vips
        .iter()
        .filter(|v| {
            !ctx.keep
                .iter()
                .any(|k| k.addr == v.addr && k.ifindex == v.ifindex)
        })
        .cloned()
        .collect();
    remove_leftovers(nl, &inst.name, params.is_address_owner(), &leftovers).await;
    // At daemon start (nothing else running yet) a kill -9 or a stop with --dont-release-vrrp may
    // also have left virtual routes and rules: keepalived removes them before starting as BACKUP.
    if ctx.keep.is_empty() && !params.is_address_owner() {
        remove_leftover_routes(nl, &inst.name, &routes, &rules).await;
    }
    info!(
        "({}) interface {} vrid {} priority {} from {primary}",
        inst.name, link.name, params.vrid, params.priority
    );
    Ok(Slot {
        vi: Instance::new(params),
        cfg: inst.clone(),
        ifindex: io_link.index,
        io_name: io_link.name.clone(),
        ttl,
        primary,
        dests: destinations(ctx.cfg, inst),
        tx,
        vips,
        routes,
        rules,
        announcers: ann,
        tracker,
        vmac,
    })
}

/// The instance's VIPs (and excluded ones) on their interfaces: `dev`, else the VMAC for the
/// instance's family, else the instance's interface.
pub fn resolve_vips(
    inst: &VrrpInstance,
    ifname: &str,
    fam: Family,
    vmac: Option<&Vmac>,
    links: &HashMap<String, Link>,
) -> Vec<Vip> {
    let mut vips = Vec::new();
    for a in inst
        .virtual_ipaddress
        .iter()
        .chain(&inst.virtual_ipaddress_excluded)
    {
        let dev = match (&a.dev, vmac) {
            (Some(d), _) => d.as_str(),
            (None, Some(v)) if Family::of(a.addr) == fam => v.link.name.as_str(),
            (None, _) => ifname,
        };
        let Some(l) = links.get(dev) else {
            warn!(
                "({}) {}: interface {dev} not found, skipped",
                inst.name, a.addr
            );
            continue;
        };
        match Vip::from_config(a, l.index) {
            Ok(v) => vips.push(v),
            Err(e) => warn!("({}) {e}", inst.name),
        }
    }
    vips
}

pub fn resolve_routes(
    inst: &VrrpInstance,
    links: &HashMap<String, Link>,
) -> Vec<(String, RouteMessage)> {
    let mut routes = Vec::new();
    for r in &inst.virtual_routes {
        let dev = match r.dev.as_deref().map(|d| (d, links.get(d))) {
            None => None,
            Some((_, Some(l))) => Some(l.index),
            Some((d, None)) => {
                warn!(
                    "({}) route {}: interface {d} not found, skipped",
                    inst.name, r.to
                );
                continue;
            }
        };
        match route_message(r, dev) {
            Ok(m) => routes.push((r.to.clone(), m)),
            Err(e) => warn!("({}) {e}, skipped", inst.name),
        }
    }
    routes
}

pub fn resolve_rules(inst: &VrrpInstance) -> Vec<(String, RuleMessage)> {
    let mut rules = Vec::new();
    for r in &inst.virtual_rules {
        match rule_message(r) {
            Ok(m) => rules.push((describe(r), m)),
            Err(e) => warn!("({}) {e}, skipped", inst.name),
        }
    }
    rules
}

/// GARP/NA senders for the interfaces carrying `vips`, opened once per interface.
pub fn announcers_for(
    name: &str,
    vips: &[Vip],
    links: &HashMap<String, Link>,
    announcers: &mut HashMap<u32, Rc<Announcer>>,
) -> Result<Vec<(u32, Rc<Announcer>)>, EngineError> {
    let mut ann = Vec::new();
    for ifindex in vips.iter().map(|v| v.ifindex) {
        if ann.iter().any(|(i, _)| *i == ifindex) {
            continue;
        }
        let a = match announcers.get(&ifindex) {
            Some(a) => a.clone(),
            None => {
                let Some(l) = links.values().find(|l| l.index == ifindex) else {
                    continue;
                };
                let a = Rc::new(
                    Announcer::open(&l.name, l.index, &l.mac, true, true).map_err(|e| {
                        EngineError::Socket {
                            instance: name.to_string(),
                            what: format!("GARP/NA socket on {}", l.name),
                            source: e,
                        }
                    })?,
                );
                announcers.insert(ifindex, a.clone());
                a
            }
        };
        ann.push((ifindex, a));
    }
    Ok(ann)
}

/// The instance's tracked items with their current status: its own interface (unless
/// dont_track_primary), its track_* lists and its sync group's.
pub fn tracker(
    cfg: &Config,
    inst: &VrrpInstance,
    links: &HashMap<String, Link>,
    current: Current,
) -> Tracker {
    let mut tracker = Tracker::new();
    let own_link = if inst.dont_track_primary {
        Vec::new()
    } else {
        vec![Track {
            name: interface_of(cfg, inst),
            weight: None,
            reverse: false,
            span: Default::default(),
        }]
    };
    let if_tracks: Vec<Track> = own_link
        .into_iter()
        .chain(inst.track_interface.iter().cloned())
        .collect();
    let own = Tracks {
        scripts: &inst.track_script,
        interfaces: &if_tracks,
        files: &inst.track_file,
    };
    add_tracks(&mut tracker, cfg, own, links, current);
    let group = cfg
        .sync_groups
        .iter()
        .find(|g| Some(&g.name) == inst.sync_group.as_ref());
    if let Some(g) = group {
        let group = Tracks {
            scripts: &g.track_script,
            interfaces: &g.track_interface,
            files: &g.track_file,
        };
        add_tracks(&mut tracker, cfg, group, links, current);
    }
    for (name, weight, reverse) in process_tracks(cfg, inst, group) {
        let up = (current.process_up)(&name);
        tracker.track(Kind::Process, &name, weight, reverse, Status::Up(up));
    }
    tracker
}

/// The instance's track_process entries, then its sync group's, as (name, weight, reverse).
/// As in keepalived, a process in both counts once, with the group's weight unless the
/// instance's is 0; a group's entry counts with weight 0 for an address owner.
fn process_tracks(
    cfg: &Config,
    inst: &VrrpInstance,
    group: Option<&SyncGroup>,
) -> Vec<(String, i32, bool)> {
    let def = |name: &str| cfg.track_processes.iter().find(|p| p.name == name);
    let mut out: Vec<(String, i32, bool)> = Vec::new();
    for t in &inst.track_process {
        if let Some(p) = def(&t.name) {
            out.push((
                p.name.clone(),
                t.weight.unwrap_or(p.weight),
                t.reverse || p.reverse,
            ));
        }
    }
    for t in group.into_iter().flat_map(|g| &g.track_process) {
        let Some(p) = def(&t.name) else {
            continue;
        };
        let weight = match inst.priority == crate::vrrp::params::PRIORITY_OWNER {
            true => 0,
            false => t.weight.unwrap_or(p.weight),
        };
        match out.iter_mut().find(|(n, ..)| *n == p.name) {
            Some(own) if own.1 != 0 => own.1 = weight,
            Some(_) => {}
            None => out.push((p.name.clone(), weight, t.reverse || p.reverse)),
        }
    }
    out
}

/// Receiving sockets the slots need: one per (interface, index, family), joined to the
/// multicast groups of the instances on it (none for unicast ones).
pub fn listeners(slots: &[Slot]) -> HashMap<ListenKey, BTreeSet<IpAddr>> {
    let mut out: HashMap<ListenKey, BTreeSet<IpAddr>> = HashMap::new();
    for s in slots {
        let groups = out
            .entry((s.io_name.clone(), s.ifindex, s.vi.params().family))
            .or_default();
        if s.cfg.unicast_peer.is_empty() {
            groups.extend(s.dests.iter().copied());
        }
    }
    out
}

/// Creates the instance's VMAC interface; for IPv6 it gets the interface's link-local address,
/// the advert source.
async fn make_vmac(
    nl: &Netlink,
    inst: &VrrpInstance,
    link: &Link,
    primary: IpAddr,
    u: &UseVmac,
) -> Result<Vmac, EngineError> {
    let fam = family(inst);
    let vrid = inst.virtual_router_id;
    let mac = vmac::address(u.mac.as_deref(), vrid, fam).map_err(|why| EngineError::Vmac {
        instance: inst.name.clone(),
        why,
    })?;
    let name = vmac::name(u.name.as_deref(), vrid);
    let v = vmac::create(nl, link, &name, mac, fam).await?;
    if let IpAddr::V6(a) = primary {
        if is_link_local(&a) {
            let ll = Vip {
                addr: primary,
                prefix: 64,
                ifindex: v.link.index,
                label: None,
                scope: AddressScope::Link,
                brd: None,
                nodad: true,
            };
            nl.add(&ll).await?;
        }
    }
    Ok(v)
}

/// Deleting what is absent succeeds, so these cannot tell what was left over: failures are debug.
async fn remove_leftover_routes(
    nl: &Netlink,
    name: &str,
    routes: &[(String, RouteMessage)],
    rules: &[(String, RuleMessage)],
) {
    for (what, r) in rules {
        if let Err(e) = nl.del_rule(what, r).await {
            debug!("({name}) leftover rule: {e}");
        }
    }
    for (what, r) in routes {
        if let Err(e) = nl.del_route(what, r).await {
            debug!("({name}) leftover route: {e}");
        }
    }
}

/// After a kill -9 our VIPs may still be on the interface: remove them, unless this instance
/// will be MASTER at once (the address owner), which adds them again anyway.
async fn remove_leftovers(nl: &Netlink, name: &str, owner: bool, vips: &[Vip]) {
    if owner {
        return;
    }
    let mut present: HashMap<u32, Vec<IpAddr>> = HashMap::new();
    for v in vips {
        let here = match present.entry(v.ifindex) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let addrs = nl.addresses(v.ifindex).await.unwrap_or_default();
                e.insert(addrs.into_iter().map(|(a, _)| a).collect())
            }
        };
        if here.contains(&v.addr) {
            info!("({name}) removing leftover VIP {}/{}", v.addr, v.prefix);
            if let Err(e) = nl.del(v).await {
                warn!("({name}) {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, LoadOptions};
    use crate::vrrp::track::Verdict;
    use std::io::Write;

    fn cfg(text: &str) -> Config {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        let opts = LoadOptions {
            config_id: "x".into(),
            check_machine: false,
        };
        load(f.path(), &opts).config.expect("valid test config")
    }

    fn verdict(cfg: &Config, inst: &str, up: bool) -> Verdict {
        let i = cfg.vrrp_instances.iter().find(|i| i.name == inst).unwrap();
        let script_up = |_: &VrrpScript| true;
        let current = Current {
            script_up: &script_up,
            process_up: &|_| up,
        };
        tracker(cfg, i, &HashMap::new(), current).verdict()
    }

    #[test]
    fn a_process_in_instance_and_group_counts_once_with_the_group_weight() {
        let vi = |name: &str, prio: u8, vrid: u8, tracks: &str| {
            format!("vrrp_instance {name} {{\n interface eth0\n dont_track_primary\n virtual_router_id {vrid}\n priority {prio}\n virtual_ipaddress {{\n 10.0.0.{vrid}\n }}\n{tracks}}}\n")
        };
        let text = format!(
            "vrrp_track_process tp {{\n process nginx\n weight 5\n}}\n\
             vrrp_sync_group G {{\n group {{\n VI_1\n VI_2\n }}\n track_process {{\n tp weight 30\n }}\n}}\n{}{}{}",
            vi("VI_1", 100, 1, " track_process {\n tp weight 10\n }\n"),
            vi("VI_2", 255, 2, ""),
            vi("VI_3", 100, 3, " track_process {\n tp\n }\n"),
        );
        let c = cfg(&text);
        assert_eq!(
            verdict(&c, "VI_1", true).delta,
            30,
            "once, the group's weight"
        );
        assert_eq!(verdict(&c, "VI_1", false), Verdict::default());
        // The address owner takes the group's entry unweighted: FAULT without the quorum.
        assert_eq!(
            verdict(&c, "VI_2", false).fault.as_deref(),
            Some("track_process tp quorum lost")
        );
        assert_eq!(verdict(&c, "VI_2", true), Verdict::default());
        // The block's own weight when the reference gives none.
        assert_eq!(verdict(&c, "VI_3", true).delta, 5);
    }
}

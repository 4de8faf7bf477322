//! Checks across blocks: references between them, duplicates, and settings that only make sense
//! together. keepalived 2.2.7 resolves most of these when it starts (a duplicate block is skipped,
//! a reference to nothing is ignored, ...); lvsd does the same, with a warning naming the place, so
//! a configuration keepalived runs runs. Errors are kept for what keepalived refuses too.

use super::diag::Span;
use super::model::*;
use super::values::Ctx;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub fn validate(ctx: &mut Ctx, cfg: &mut Config, check_machine: bool) {
    // Blocks keepalived drops before it resolves names: no script, no file.
    cfg.vrrp_scripts.retain(|s| !s.script.command.is_empty());
    cfg.track_files.retain(|f| !f.file.is_empty());
    cfg.sync_groups.retain(|g| !g.group.is_empty());
    first_of_each_name(
        ctx,
        &mut cfg.vrrp_scripts,
        |s| (&s.name, s.span),
        "vrrp_script",
    );
    first_of_each_name(
        ctx,
        &mut cfg.track_files,
        |s| (&s.name, s.span),
        "track_file",
    );
    first_of_each_name(
        ctx,
        &mut cfg.track_processes,
        |s| (&s.name, s.span),
        "vrrp_track_process",
    );
    first_of_each_name(
        ctx,
        &mut cfg.vrrp_instances,
        |s| (&s.name, s.span),
        "vrrp_instance",
    );
    first_of_each_name(
        ctx,
        &mut cfg.sync_groups,
        |s| (&s.name, s.span),
        "vrrp_sync_group",
    );
    first_of_each_name(
        ctx,
        &mut cfg.virtual_server_groups,
        |s| (&s.name, s.span),
        "virtual_server_group",
    );
    instances(ctx, cfg, check_machine);
    sync_groups(ctx, cfg);
    track_processes(ctx, cfg);
    virtual_servers(ctx, cfg);
    super::scaleout::check(ctx, cfg, check_machine);
    if let Some(d) = &cfg.global.lvs_sync_daemon {
        if let Some(inst) = d.instance.as_deref() {
            if !cfg.vrrp_instances.iter().any(|i| i.name == inst) {
                ctx.warn(
                    d.span,
                    format!("lvs_sync_daemon: vrrp_instance '{inst}' is not defined; no sync daemon is run, as keepalived clears it"),
                );
                cfg.global.lvs_sync_daemon = None;
            }
        }
    }
    let used: HashSet<&str> = cfg
        .vrrp_instances
        .iter()
        .flat_map(|i| i.track_script.iter())
        .chain(cfg.sync_groups.iter().flat_map(|g| g.track_script.iter()))
        .map(|t| t.name.as_str())
        .collect();
    for s in &cfg.vrrp_scripts {
        if !used.contains(s.name.as_str()) {
            ctx.warn(s.span, format!("vrrp_script {} is not tracked by any vrrp_instance or sync group; it will not run", s.name));
        }
    }
}

/// keepalived skips a block whose name is taken (vrrp_instance, vrrp_sync_group) or only ever finds
/// the first of that name (vrrp_script, track_file, virtual_server_group): the later one is ignored.
fn first_of_each_name<T>(
    ctx: &mut Ctx,
    items: &mut Vec<T>,
    key: impl Fn(&T) -> (&String, Span),
    what: &str,
) {
    let mut seen: HashMap<String, Span> = HashMap::new();
    items.retain(|item| {
        let (name, span) = key(item);
        match seen.get(name) {
            Some(first) => {
                ctx.warn(
                    span,
                    format!(
                        "{what} {name} is defined twice (first at line {}); this one is ignored, as keepalived does",
                        first.line
                    ),
                );
                false
            }
            None => {
                seen.insert(name.clone(), span);
                true
            }
        }
    });
}

/// Tracks naming nothing, or naming what the list already tracks, are ignored (as keepalived).
fn known_tracks(
    ctx: &mut Ctx,
    owner: &str,
    tracks: &mut Vec<Track>,
    known: &HashSet<&str>,
    kw: &str,
    block: &str,
) {
    let mut seen = HashSet::new();
    tracks.retain(|t| {
        if !known.contains(t.name.as_str()) {
            ctx.warn(
                t.span,
                format!(
                    "{owner}: {kw} '{}' names no {block}; ignored, as keepalived does",
                    t.name
                ),
            );
            false
        } else if !seen.insert(t.name.clone()) {
            ctx.warn(
                t.span,
                format!(
                    "{owner}: {kw} '{}' is listed twice; the second is ignored, as keepalived does",
                    t.name
                ),
            );
            false
        } else {
            true
        }
    });
}

/// vrrp_track_process blocks: priority-255 members of a tracking sync group, and blocks nobody
/// tracks (references naming nothing are dropped by `known_tracks`).
fn track_processes(ctx: &mut Ctx, cfg: &Config) {
    for g in &cfg.sync_groups {
        let owners: Vec<&str> = cfg
            .vrrp_instances
            .iter()
            .filter(|i| i.priority == 255 && g.group.contains(&i.name))
            .map(|i| i.name.as_str())
            .collect();
        if owners.is_empty() {
            continue;
        }
        for t in &g.track_process {
            let Some(p) = cfg.track_processes.iter().find(|p| p.name == t.name) else {
                continue;
            };
            if t.weight.unwrap_or(p.weight) != 0 {
                ctx.warn(t.span, format!(
                    "vrrp_sync_group {}: track_process '{}' counts with weight 0 (FAULT without its quorum) for {}, which has priority 255, as in keepalived",
                    g.name, t.name, owners.join(", ")
                ));
            }
        }
    }
    let used: HashSet<&str> = cfg
        .vrrp_instances
        .iter()
        .flat_map(|i| &i.track_process)
        .chain(cfg.sync_groups.iter().flat_map(|g| &g.track_process))
        .map(|t| t.name.as_str())
        .collect();
    for p in &cfg.track_processes {
        if !used.contains(p.name.as_str()) {
            ctx.warn(p.span, format!("vrrp_track_process {} is not tracked by any vrrp_instance or sync group; it is not watched", p.name));
        }
    }
}

fn interface_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// The addresses configured on this machine's interfaces (empty if they cannot be read).
pub(crate) fn local_addresses() -> HashSet<IpAddr> {
    let mut out = HashSet::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned; ifa_addr is null or a valid sockaddr
        // whose family says which struct it is.
        unsafe {
            let sa = (*cur).ifa_addr;
            if !sa.is_null() {
                match i32::from((*sa).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(sa as *const libc::sockaddr_in);
                        out.insert(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(sa as *const libc::sockaddr_in6);
                        out.insert(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

fn instances(ctx: &mut Ctx, cfg: &mut Config, check_machine: bool) {
    let scripts: HashSet<&str> = cfg.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    let files: HashSet<&str> = cfg.track_files.iter().map(|s| s.name.as_str()).collect();
    let procs: HashSet<&str> = cfg
        .track_processes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let local = if check_machine && cfg.vrrp_instances.iter().any(|i| i.priority == 255) {
        local_addresses()
    } else {
        HashSet::new()
    };
    for i in &mut cfg.vrrp_instances {
        let owner = format!("vrrp_instance {}", i.name);
        known_tracks(
            ctx,
            &owner,
            &mut i.track_script,
            &scripts,
            "track_script",
            "vrrp_script",
        );
        known_tracks(
            ctx,
            &owner,
            &mut i.track_file,
            &files,
            "track_file",
            "track_file block",
        );
        known_tracks(
            ctx,
            &owner,
            &mut i.track_process,
            &procs,
            "track_process",
            "vrrp_track_process",
        );
        let name = &i.name;
        if check_machine
            && i.priority == 255
            && !i.virtual_ipaddress.iter().any(|a| local.contains(&a.addr))
        {
            ctx.warn(i.span, format!(
                "vrrp_instance {name}: priority 255 is for the address owner, and none of its virtual addresses is configured on this machine; it runs with 255 all the same (as keepalived): it wins every election and tracking never lowers it; use 254 or less unless this machine owns the addresses"
            ));
        }
        if check_machine {
            let ifs = i
                .interface
                .iter()
                .map(|n| (n.as_str(), i.span))
                .chain(i.track_interface.iter().map(|t| (t.name.as_str(), t.span)));
            for (ifname, span) in ifs {
                if !interface_exists(ifname) {
                    ctx.warn(span, format!("vrrp_instance {name}: interface {ifname} does not exist on this machine"));
                }
            }
        }
        if i.is_ipv6() && i.version == 2 {
            ctx.warn(
                i.span,
                format!("vrrp_instance {name}: VRRPv2 over IPv6 is not standard (keepalived 2.2.7 runs it, and so does lvsd); use 'version 3'"),
            );
        }
    }
    vrid_conflicts(ctx, cfg);
}

/// Where an instance's adverts travel, for telling instances with one VRID apart as keepalived
/// does: unicast and multicast are separate VRID spaces; multicast instances share one only on the
/// same interface and group, unicast ones only with the same source and a common peer.
fn vrid_conflicts(ctx: &mut Ctx, cfg: &Config) {
    let group = |i: &VrrpInstance| {
        i.mcast_dst_ip.unwrap_or(if i.is_ipv6() {
            cfg.global.vrrp_mcast_group6
        } else {
            cfg.global.vrrp_mcast_group4
        })
    };
    let clash = |a: &VrrpInstance, b: &VrrpInstance| {
        if a.virtual_router_id != b.virtual_router_id
            || a.is_ipv6() != b.is_ipv6()
            || a.unicast_peer.is_empty() != b.unicast_peer.is_empty()
            || a.interface != b.interface
        {
            return false;
        }
        if a.unicast_peer.is_empty() {
            return group(a) == group(b);
        }
        // No configured source means the interface's address: the same one on one interface.
        let same_source = match (a.unicast_src_ip, b.unicast_src_ip) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        same_source
            && a.unicast_peer
                .iter()
                .any(|p| b.unicast_peer.iter().any(|q| q.addr == p.addr))
    };
    for (n, b) in cfg.vrrp_instances.iter().enumerate() {
        if let Some(a) = cfg.vrrp_instances[..n].iter().find(|a| clash(a, b)) {
            let how = if b.unicast_peer.is_empty() {
                format!("with multicast group {}", group(b))
            } else {
                "with the same source and a common unicast peer".to_string()
            };
            ctx.err(b.vrid_span, format!(
                "vrrp_instance {}: virtual_router_id {} is already used by {} on {} for the same address family {how} (keepalived refuses it too)",
                b.name,
                b.virtual_router_id,
                a.name,
                b.interface.as_deref().unwrap_or("?"),
            ));
        }
    }
}

/// keepalived ignores a member that is not defined or already in another group, and removes a
/// group left without members.
fn sync_groups(ctx: &mut Ctx, cfg: &mut Config) {
    let scripts: HashSet<&str> = cfg.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    let files: HashSet<&str> = cfg.track_files.iter().map(|s| s.name.as_str()).collect();
    let procs: HashSet<&str> = cfg
        .track_processes
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for g in &mut cfg.sync_groups {
        let mut kept = Vec::new();
        for (n, m) in g.group.iter().enumerate() {
            let at = g.member_spans.get(n).copied().unwrap_or(g.span);
            if !cfg.vrrp_instances.iter().any(|i| &i.name == m) {
                ctx.warn(
                    at,
                    format!(
                        "vrrp_sync_group {}: vrrp_instance '{m}' is not defined; ignored, as keepalived does",
                        g.name
                    ),
                );
            } else if let Some(other) = member_of.get(m) {
                ctx.warn(
                    at,
                    format!(
                        "vrrp_sync_group {}: vrrp_instance '{m}' is already in sync group {other}; ignored here, as keepalived does",
                        g.name
                    ),
                );
            } else {
                member_of.insert(m.clone(), g.name.clone());
                kept.push((m.clone(), at));
            }
        }
        (g.group, g.member_spans) = kept.into_iter().unzip();
        match g.group.len() {
            0 => ctx.warn(
                g.span,
                format!(
                    "vrrp_sync_group {} has no instance left; it is ignored, as keepalived does",
                    g.name
                ),
            ),
            1 => ctx.warn(
                g.span,
                format!("vrrp_sync_group {} has only one instance", g.name),
            ),
            _ => {}
        }
        let owner = format!("vrrp_sync_group {}", g.name);
        known_tracks(
            ctx,
            &owner,
            &mut g.track_script,
            &scripts,
            "track_script",
            "vrrp_script",
        );
        known_tracks(
            ctx,
            &owner,
            &mut g.track_file,
            &files,
            "track_file",
            "track_file block",
        );
        known_tracks(
            ctx,
            &owner,
            &mut g.track_process,
            &procs,
            "track_process",
            "vrrp_track_process",
        );
    }
    cfg.sync_groups.retain(|g| !g.group.is_empty());
    for i in &mut cfg.vrrp_instances {
        i.sync_group = member_of.get(&i.name).cloned();
    }
}

/// Group references, group-wide options and duplicates, as keepalived resolves them.
fn virtual_servers(ctx: &mut Ctx, cfg: &mut Config) {
    let files: HashSet<String> = cfg.track_files.iter().map(|s| s.name.clone()).collect();
    let groups = &cfg.virtual_server_groups;
    cfg.virtual_servers.retain_mut(|vs| {
        if let VsKey::Group { name } = &vs.key {
            let Some(g) = groups.iter().find(|g| &g.name == name) else {
                ctx.warn(
                    vs.span,
                    format!("virtual_server group {name}: no virtual_server_group of that name; the virtual_server is ignored, as keepalived does"),
                );
                return false;
            };
            if !group_options(ctx, vs, g) {
                return false;
            }
        }
        for rs in &mut vs.real_servers {
            rs.checkers.retain(|c| match &c.kind {
                CheckKind::File { track_file, .. } if !files.contains(track_file) => {
                    ctx.warn(
                        c.span,
                        format!("FILE_CHECK: track_file '{track_file}' names no track_file block; the checker is ignored, as keepalived does"),
                    );
                    false
                }
                _ => true,
            });
        }
        true
    });
    merge_duplicates(ctx, &mut cfg.virtual_servers);
}

/// The family of a group's addresses, if it has any.
fn group_ipv4(g: &VirtualServerGroup) -> Option<bool> {
    g.entries.iter().find_map(|e| match e {
        VsgEntry::Range { first, .. } => Some(first.is_ipv4()),
        VsgEntry::Fwmark { .. } => None,
    })
}

/// keepalived's checks of a group service: its family must match the group's (else the
/// virtual_server is ignored); with addresses in the group, 'ops' needs UDP and a port 0 entry makes
/// it persistent; with marks, ha_suspend is cleared. False when the virtual_server is left out.
fn group_options(ctx: &mut Ctx, vs: &mut VirtualServer, g: &VirtualServerGroup) -> bool {
    let name = &g.name;
    let rs_v4 = vs
        .real_servers
        .iter()
        .find(|r| !matches!(r.lvs_method, LvsMethod::Tun { .. }))
        .map(|r| r.ip.is_ipv4());
    let vs_v4 = match vs.ip_family.as_deref() {
        Some(f) => Some(f == "inet"),
        None => rs_v4,
    };
    if let (Some(gv4), Some(v4)) = (group_ipv4(g), vs_v4) {
        if gv4 != v4 {
            ctx.warn(vs.span, format!(
                "virtual_server group {name}: the group's addresses are {} and the service's real servers are {}; the virtual_server is ignored, as keepalived does",
                if gv4 { "IPv4" } else { "IPv6" },
                if v4 { "IPv4" } else { "IPv6" }
            ));
            return false;
        }
    }
    let has_addrs = group_ipv4(g).is_some();
    let has_marks = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Fwmark { .. }));
    if has_addrs && vs.ops && vs.protocol != Protocol::Udp {
        ctx.warn(vs.span, format!(
            "virtual_server group {name}: 'ops' (one-packet scheduling) only applies to UDP, and this service is {}; ignored for the whole group, as keepalived does",
            vs.protocol.name().to_ascii_uppercase()
        ));
        vs.ops = false;
    }
    let portless = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Range { port: 0, .. }));
    if portless && vs.persistence_timeout.is_none() {
        ctx.warn(vs.span, format!(
            "virtual_server group {name}: an entry without a port needs persistence: persistence_timeout 360 is used, as keepalived does"
        ));
        vs.persistence_timeout = Some(360);
    }
    if vs.persistence_granularity.take().is_some() {
        // keepalived 2.2.7 writes the full netmask into every group entry's service.
        ctx.warn(vs.span, format!(
            "virtual_server group {name}: keepalived 2.2.7 does not apply persistence_granularity to a group's services; ignored, as keepalived does"
        ));
    }
    if has_marks && vs.ha_suspend {
        ctx.warn(vs.span, format!(
            "virtual_server group {name}: ha_suspend does not work with fwmark entries; ignored, as keepalived does"
        ));
        vs.ha_suspend = false;
    }
    true
}

pub(crate) fn vs_label(vs: &VirtualServer) -> String {
    match &vs.key {
        VsKey::Addr { ip, port } => format!("{} {ip}:{port}", vs.protocol.name()),
        VsKey::Fwmark { mark } => format!("fwmark {mark}"),
        VsKey::Group { name } => format!("group {name} {}", vs.protocol.name()),
    }
}

/// Two blocks for one kernel service: keepalived creates it from the first, the kernel refuses the
/// second ("Service already exists") and the second's real servers are added to the first's table.
/// lvsd keeps the first block's settings and adds the second's new real servers to it.
fn merge_duplicates(ctx: &mut Ctx, list: &mut Vec<VirtualServer>) {
    // Keyed as vs_label names them (a fwmark service whatever its protocol), without a string each.
    let mut first: HashMap<(VsKey, Option<Protocol>), usize> = HashMap::new();
    let mut n = 0;
    while n < list.len() {
        let vs = &list[n];
        let proto = (!matches!(vs.key, VsKey::Fwmark { .. })).then_some(vs.protocol);
        let at = match first.entry((vs.key.clone(), proto)) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(n);
                n += 1;
                continue;
            }
        };
        let dup = list.remove(n);
        let key = vs_label(&dup);
        ctx.warn(dup.span, format!(
            "virtual_server {key} is defined twice (first at line {}): the kernel has one such service, so its settings are the first block's and this block only adds its real servers, as with keepalived",
            list[at].span.line
        ));
        let target = &mut list[at];
        for rs in dup.real_servers {
            if target
                .real_servers
                .iter()
                .any(|r| (r.ip, r.port) == (rs.ip, rs.port))
            {
                ctx.warn(rs.span, format!(
                    "real_server {} port {} is already in the first block of virtual_server {key}; ignored, as the kernel refuses it there",
                    rs.ip, rs.port
                ));
            } else {
                target.real_servers.push(rs);
            }
        }
    }
}

//! Checks across blocks: references between them, duplicates, and settings that only make sense
//! together. Errors are for what cannot work; questionable but usable settings are warnings.

use super::diag::Span;
use super::model::*;
use super::values::Ctx;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub fn validate(ctx: &mut Ctx, cfg: &mut Config, check_machine: bool) {
    names_unique(
        ctx,
        cfg.vrrp_scripts.iter().map(|s| (s.name.as_str(), s.span)),
        "vrrp_script",
    );
    names_unique(
        ctx,
        cfg.track_files.iter().map(|s| (s.name.as_str(), s.span)),
        "track_file",
    );
    names_unique(
        ctx,
        cfg.vrrp_instances.iter().map(|s| (s.name.as_str(), s.span)),
        "vrrp_instance",
    );
    names_unique(
        ctx,
        cfg.sync_groups.iter().map(|s| (s.name.as_str(), s.span)),
        "vrrp_sync_group",
    );
    names_unique(
        ctx,
        cfg.virtual_server_groups
            .iter()
            .map(|s| (s.name.as_str(), s.span)),
        "virtual_server_group",
    );
    instances(ctx, cfg, check_machine);
    sync_groups(ctx, cfg);
    track_processes(ctx, cfg);
    virtual_servers(ctx, cfg);
    if let Some(d) = &cfg.global.lvs_sync_daemon {
        if let Some(inst) = &d.instance {
            if !cfg.vrrp_instances.iter().any(|i| &i.name == inst) {
                ctx.err(
                    Span::default(),
                    format!("lvs_sync_daemon: vrrp_instance '{inst}' is not defined"),
                );
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

/// References to vrrp_track_process blocks from instances and sync groups.
fn track_processes(ctx: &mut Ctx, cfg: &Config) {
    names_unique(
        ctx,
        cfg.track_processes
            .iter()
            .map(|p| (p.name.as_str(), p.span)),
        "vrrp_track_process",
    );
    let defined: HashSet<&str> = cfg
        .track_processes
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let lists = cfg
        .vrrp_instances
        .iter()
        .map(|i| (format!("vrrp_instance {}", i.name), &i.track_process))
        .chain(
            cfg.sync_groups
                .iter()
                .map(|g| (format!("vrrp_sync_group {}", g.name), &g.track_process)),
        );
    for (owner, list) in lists {
        let mut seen: HashSet<&str> = HashSet::new();
        for t in list {
            if !defined.contains(t.name.as_str()) {
                ctx.err(
                    t.span,
                    format!(
                        "{owner}: track_process '{}' names no vrrp_track_process",
                        t.name
                    ),
                );
            } else if !seen.insert(t.name.as_str()) {
                ctx.err(
                    t.span,
                    format!("{owner}: track_process '{}' is listed twice", t.name),
                );
            }
        }
    }
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

fn names_unique<'a>(ctx: &mut Ctx, items: impl Iterator<Item = (&'a str, Span)>, what: &str) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, span) in items {
        if let Some(first) = seen.get(name) {
            ctx.err(
                span,
                format!(
                    "{what} {name} is defined twice (first at line {})",
                    first.line
                ),
            );
        } else {
            seen.insert(name, span);
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
    let mut vrids: HashMap<(String, u8, bool), (String, Span)> = HashMap::new();
    let local = if check_machine && cfg.vrrp_instances.iter().any(|i| i.priority == 255) {
        local_addresses()
    } else {
        HashSet::new()
    };
    for i in &cfg.vrrp_instances {
        let name = &i.name;
        for t in &i.track_script {
            if !scripts.contains(t.name.as_str()) {
                ctx.err(
                    t.span,
                    format!(
                        "vrrp_instance {name}: track_script '{}' names no vrrp_script",
                        t.name
                    ),
                );
            }
        }
        for t in &i.track_file {
            if !files.contains(t.name.as_str()) {
                ctx.err(
                    t.span,
                    format!(
                        "vrrp_instance {name}: track_file '{}' names no track_file block",
                        t.name
                    ),
                );
            }
        }
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
        let ipv6 = i
            .virtual_ipaddress
            .first()
            .is_some_and(|a| a.addr.is_ipv6());
        for a in i.virtual_ipaddress.iter().skip(1) {
            if a.addr.is_ipv6() != ipv6 {
                ctx.warn(a.span, format!("vrrp_instance {name}: {} is not of the instance's address family; it is not advertised (put it in virtual_ipaddress_excluded)", a.addr));
            }
        }
        if ipv6 && i.version == 2 {
            if i.strict_mode {
                ctx.err(i.span, format!("vrrp_instance {name}: IPv6 virtual addresses need VRRP version 3 in strict mode"));
            } else {
                ctx.warn(
                    i.span,
                    format!(
                        "vrrp_instance {name}: VRRPv2 over IPv6 is not standard; use 'version 3'"
                    ),
                );
            }
        }
        if let Some(vrid_key) = i
            .interface
            .clone()
            .map(|ifn| (ifn, i.virtual_router_id, ipv6))
        {
            if let Some((other, _)) = vrids.get(&vrid_key) {
                ctx.err(i.span, format!(
                    "vrrp_instance {name}: virtual_router_id {} is already used by {other} on {} for the same address family",
                    i.virtual_router_id, vrid_key.0
                ));
            } else {
                vrids.insert(vrid_key, (name.clone(), i.span));
            }
        }
        if let Some(a) = &i.authentication {
            if a.auth_type.is_some() && a.auth_pass.is_none() {
                ctx.warn(i.span, format!("vrrp_instance {name}: auth_type without auth_pass: an empty password is used"));
            }
            if a.auth_type.is_none() && a.auth_pass.is_some() {
                ctx.warn(i.span, format!("vrrp_instance {name}: auth_pass without auth_type: no authentication is used"));
            }
            // keepalived wraps AH adverts in an IPsec header lvsd neither sends nor reads. The file
            // stays accepted (keepalived's own samples use AH, and lvsd pairs work without it), but
            // loudly: an lvsd and a keepalived peer using AH would not hear each other.
            if a.auth_type == Some(AuthType::Ah) && i.version == 2 && !ipv6 {
                ctx.warn(a.type_span, format!("vrrp_instance {name}: 'auth_type AH' is not supported by lvsd: this instance runs without authentication, and keepalived peers using AH will not hear it nor it them (both would become MASTER); use 'auth_type PASS' on every router, or no authentication"));
            }
            if i.version == 3 && a.auth_type.is_some() {
                ctx.warn(i.span, format!("vrrp_instance {name}: VRRPv3 has no authentication; the authentication block is ignored"));
            }
        }
        if i.nopreempt && i.state == InitialState::Master {
            ctx.warn(
                i.span,
                format!("vrrp_instance {name}: nopreempt only works with 'state BACKUP'"),
            );
        }
        if let Some(src) = i.unicast_src_ip {
            for p in &i.unicast_peer {
                if p.addr.is_ipv4() != src.is_ipv4() {
                    ctx.err(i.span, format!("vrrp_instance {name}: unicast_peer {} and unicast_src_ip {src} are of different address families", p.addr));
                }
            }
        }
        if i.strict_mode {
            let mut strict = |cond: bool, what: &str| {
                if cond {
                    ctx.err(i.span, format!("vrrp_instance {name}: strict mode: {what}"));
                }
            };
            strict(
                i.virtual_ipaddress.is_empty(),
                "at least one virtual_ipaddress is needed",
            );
            strict(!i.unicast_peer.is_empty(), "unicast peers are not allowed");
            strict(
                i.authentication
                    .as_ref()
                    .is_some_and(|a| a.auth_type.is_some()),
                "authentication is not allowed",
            );
            strict(!i.preempt_delay.0.is_zero(), "preempt_delay is not allowed");
            strict(
                (i.state == InitialState::Master) != (i.priority == 255),
                "state MASTER if and only if priority is 255",
            );
            strict(
                i.version == 2 && i.accept == Some(true),
                "accept cannot be set for VRRPv2",
            );
        }
        if i.virtual_ipaddress.is_empty() {
            ctx.warn(
                i.span,
                format!("vrrp_instance {name}: no virtual_ipaddress"),
            );
        }
    }
}

fn sync_groups(ctx: &mut Ctx, cfg: &mut Config) {
    let mut member_of: HashMap<String, String> = HashMap::new();
    for g in &cfg.sync_groups {
        for m in &g.group {
            if !cfg.vrrp_instances.iter().any(|i| &i.name == m) {
                ctx.err(
                    g.span,
                    format!(
                        "vrrp_sync_group {}: vrrp_instance '{m}' is not defined",
                        g.name
                    ),
                );
            } else if let Some(other) = member_of.get(m) {
                ctx.err(
                    g.span,
                    format!(
                        "vrrp_sync_group {}: vrrp_instance '{m}' is already in sync group {other}",
                        g.name
                    ),
                );
            } else {
                member_of.insert(m.clone(), g.name.clone());
            }
        }
        if g.group.len() == 1 {
            ctx.warn(
                g.span,
                format!("vrrp_sync_group {} has only one instance", g.name),
            );
        }
    }
    for i in &mut cfg.vrrp_instances {
        i.sync_group = member_of.get(&i.name).cloned();
    }
}

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn virtual_servers(ctx: &mut Ctx, cfg: &Config) {
    let groups: HashMap<&str, &VirtualServerGroup> = cfg
        .virtual_server_groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let files: HashSet<&str> = cfg.track_files.iter().map(|s| s.name.as_str()).collect();
    let mut seen: HashMap<String, Span> = HashMap::new();
    for vs in &cfg.virtual_servers {
        let (label, vip_family) = match &vs.key {
            VsKey::Addr { ip, port } => (
                format!("{} {ip}:{port}", vs.protocol.name()),
                Some(ip.is_ipv4()),
            ),
            VsKey::Fwmark { mark } => (format!("fwmark {mark}"), None),
            VsKey::Group { name } => {
                let fam = match groups.get(name.as_str()) {
                    None => {
                        ctx.err(
                            vs.span,
                            format!(
                                "virtual_server group {name}: no virtual_server_group of that name"
                            ),
                        );
                        None
                    }
                    Some(g) => g.entries.iter().find_map(|e| match e {
                        VsgEntry::Range { first, .. } => Some(first.is_ipv4()),
                        VsgEntry::Fwmark { .. } => None,
                    }),
                };
                (format!("group {name} {}", vs.protocol.name()), fam)
            }
        };
        if let Some(first) = seen.get(&label) {
            ctx.err(
                vs.span,
                format!(
                    "virtual_server {label} is defined twice (first at line {})",
                    first.line
                ),
            );
        } else {
            seen.insert(label.clone(), vs.span);
        }
        if let (Some(g), Some(v4)) = (&vs.persistence_granularity, vip_family) {
            let is_mask = g.contains('.');
            if is_mask != v4 {
                ctx.err(vs.span, format!("virtual_server {label}: persistence_granularity {g} does not fit the address family (IPv4 takes a netmask, IPv6 a prefix length)"));
            }
        }
        let mut rs_seen: HashSet<(IpAddr, u16)> = HashSet::new();
        let mut total_weight: u64 = 0;
        for rs in &vs.real_servers {
            if !rs_seen.insert((rs.ip, rs.port)) {
                ctx.err(
                    rs.span,
                    format!(
                        "virtual_server {label}: real_server {}:{} is listed twice",
                        rs.ip, rs.port
                    ),
                );
            }
            total_weight += u64::from(rs.weight);
            let tunnel = matches!(rs.lvs_method, LvsMethod::Tun { .. });
            if let Some(v4) = vip_family {
                if !tunnel && rs.ip.is_ipv4() != v4 {
                    ctx.err(rs.span, format!(
                        "virtual_server {label}: real_server {} is {} but the service is not; only TUN forwarding may mix families",
                        rs.ip,
                        family(rs.ip)
                    ));
                }
            }
            for c in &rs.checkers {
                if let CheckKind::File { track_file, .. } = &c.kind {
                    if !files.contains(track_file.as_str()) {
                        ctx.err(
                            c.span,
                            format!(
                                "FILE_CHECK: track_file '{track_file}' names no track_file block"
                            ),
                        );
                    }
                }
            }
        }
        if !vs.real_servers.is_empty() && u64::from(vs.quorum) > total_weight {
            ctx.warn(vs.span, format!(
                "virtual_server {label}: quorum {} is above the total weight {total_weight} of its real servers; it can never be reached",
                vs.quorum
            ));
        }
        if vs.hysteresis >= vs.quorum && vs.hysteresis > 0 {
            ctx.warn(
                vs.span,
                format!(
                    "virtual_server {label}: hysteresis {} is not below quorum {}",
                    vs.hysteresis, vs.quorum
                ),
            );
        }
    }
}

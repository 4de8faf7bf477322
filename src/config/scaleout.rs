//! `bgp_announce` against the rest of the configuration: every VIP must be served by virtual
//! servers, named instances must exist, and an announced VIP's services should follow the
//! scale-out recipe (lvsd.conf(5), SCALE OUT): each missing part is a warning at its place.

use super::model::*;
use super::values::Ctx;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The virtual servers (indexes) that serve `addr`: those with that address, and those whose
/// virtual_server_group has it in a range. Fwmark services name no address and serve none.
pub fn services_of(cfg: &Config, addr: IpAddr) -> Vec<usize> {
    cfg.virtual_servers
        .iter()
        .enumerate()
        .filter(|(_, vs)| match &vs.key {
            VsKey::Addr { ip, .. } => *ip == addr,
            VsKey::Group { name } => cfg
                .virtual_server_groups
                .iter()
                .find(|g| &g.name == name)
                .is_some_and(|g| {
                    g.entries.iter().any(|e| match e {
                        VsgEntry::Range { first, last, .. } => in_range(addr, *first, *last),
                        VsgEntry::Fwmark { .. } => false,
                    })
                }),
            VsKey::Fwmark { .. } => false,
        })
        .map(|(i, _)| i)
        .collect()
}

fn in_range(a: IpAddr, first: IpAddr, last: IpAddr) -> bool {
    match (a, first, last) {
        (IpAddr::V4(a), IpAddr::V4(f), IpAddr::V4(l)) => {
            (u32::from(f)..=u32::from(l)).contains(&u32::from(a))
        }
        (IpAddr::V6(a), IpAddr::V6(f), IpAddr::V6(l)) => {
            (u128::from(f)..=u128::from(l)).contains(&u128::from(a))
        }
        _ => false,
    }
}

pub fn check(ctx: &mut Ctx, cfg: &mut Config, check_machine: bool) {
    let Some(b) = cfg.bgp_announce.as_ref() else {
        return;
    };
    let has_instance = |n: &str| cfg.vrrp_instances.iter().any(|i| i.name == n);
    if let Some(n) = &b.vrrp_instance {
        if !has_instance(n) {
            ctx.err(
                b.span,
                format!("bgp_announce: vrrp_instance '{n}' is not defined; its VIPs would never be announced"),
            );
        }
    }
    let mut keep = Vec::new();
    let mut served: BTreeSet<usize> = BTreeSet::new();
    for v in &b.vips {
        if let Some(n) = &v.vrrp_instance {
            if v.vrrp_instance != b.vrrp_instance && !has_instance(n) {
                ctx.err(
                    v.span,
                    format!(
                        "bgp_announce: vip {}: vrrp_instance '{n}' is not defined",
                        v.addr
                    ),
                );
            }
        }
        let services = services_of(cfg, v.addr);
        if services.is_empty() {
            ctx.err(
                v.span,
                format!("bgp_announce: vip {} is not the address of any virtual_server (directly or in a virtual_server_group range); it would be announced with nothing to serve it", v.addr),
            );
            continue;
        }
        served.extend(services);
        keep.push(v.clone());
    }
    if check_machine {
        if !std::path::Path::new(&b.bird_socket).exists() {
            ctx.warn(
                b.span,
                format!("bgp_announce: BIRD's control socket {} does not exist on this machine (is BIRD running?); lvsd keeps trying to connect and announces nothing until it can", b.bird_socket),
            );
        }
        let dir = std::path::Path::new(&b.include_file).parent();
        if dir.is_some_and(|d| !d.is_dir()) {
            ctx.warn(
                b.span,
                format!("bgp_announce: the directory of include_file {} does not exist on this machine; lvsd cannot write it", b.include_file),
            );
        }
    }
    recipe(ctx, cfg, &served);
    if let Some(b) = cfg.bgp_announce.as_mut() {
        b.vips = keep;
    }
}

/// Warnings for the parts of the scale-out recipe a service of an announced VIP misses.
fn recipe(ctx: &mut Ctx, cfg: &Config, served: &BTreeSet<usize>) {
    let Some(b) = cfg.bgp_announce.as_ref() else {
        return;
    };
    let mut tcp = false;
    let mut sctp = false;
    for &i in served {
        let vs = &cfg.virtual_servers[i];
        let name = super::validate::vs_label(vs);
        tcp |= vs.protocol == Protocol::Tcp;
        sctp |= vs.protocol == Protocol::Sctp;
        let nat = vs.lvs_method == LvsMethod::Nat
            || vs
                .real_servers
                .iter()
                .any(|r| r.lvs_method == LvsMethod::Nat);
        if nat {
            ctx.warn(
                vs.span,
                format!("virtual_server {name}: its VIP is announced by bgp_announce, but a NAT real server answers through one gateway, so several active directors cannot share it; keep NAT services on an active/backup pair with connection sync (lvs_sync_daemon), and announce only DR or TUN services"),
            );
        }
        if vs.lvs_sched != "mh" {
            ctx.warn(
                vs.span,
                format!("virtual_server {name}: its VIP is announced by bgp_announce, but lvs_sched is {}: a flow the routers move to another director reaches another real server there; use 'lvs_sched mh' (with mh-port and mh-fallback)", vs.lvs_sched),
            );
            continue;
        }
        if !vs.sched_flags.flag_2 {
            ctx.warn(
                vs.span,
                format!("virtual_server {name}: lvs_sched mh without mh-port hashes the client address only: every flow of one client goes to one real server; add 'mh-port'"),
            );
        }
        if !vs.sched_flags.flag_1 {
            ctx.warn(
                vs.span,
                format!("virtual_server {name}: lvs_sched mh without mh-fallback sends new flows to an overloaded or weight-0 real server's slot; add 'mh-fallback'"),
            );
        }
        if let Some(rs) = vs.real_servers.iter().find(|r| !r.inhibit_on_failure) {
            ctx.warn(
                rs.span,
                format!("virtual_server {name}: real_server {}:{} without inhibit_on_failure is removed when it fails and added back last, so this director's destination order (and its Maglev table) no longer matches the other directors'; set inhibit_on_failure on the virtual_server", rs.ip, rs.port),
            );
        }
    }
    let g = &cfg.global.lvs_sysctl;
    if tcp && g.sloppy_tcp != Some(true) {
        ctx.warn(
            b.span,
            "bgp_announce: without 'lvs_sysctl { sloppy_tcp 1 }' a director drops a TCP flow the routers move to it mid-way (IPVS only schedules a SYN); set it",
        );
    }
    if sctp && g.sloppy_sctp != Some(true) {
        ctx.warn(
            b.span,
            "bgp_announce: without 'lvs_sysctl { sloppy_sctp 1 }' a director drops an SCTP association the routers move to it mid-way; set it",
        );
    }
}

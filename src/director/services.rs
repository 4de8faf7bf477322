//! Configuration -> IPVS types: which kernel services a virtual_server stands for, and how each
//! real server is programmed.

use crate::config::model::{
    LvsMethod, Protocol, RealServer, TunnelCsum, TunnelType, VirtualServer, VirtualServerGroup,
    VsKey, VsgEntry,
};
use ipvs::{Destination, Family, Forward, Netmask, Service, ServiceFlags, ServiceKey, TunnelFlags};
use std::net::{IpAddr, Ipv4Addr};

/// Addresses of a group range; bounded so a typo like 10.0.0.0/8 cannot allocate millions of services.
pub const MAX_GROUP_ADDRESSES: u128 = 65_536;

fn proto(p: Protocol) -> ipvs::Protocol {
    match p {
        Protocol::Tcp => ipvs::Protocol::Tcp,
        Protocol::Udp => ipvs::Protocol::Udp,
        Protocol::Sctp => ipvs::Protocol::Sctp,
    }
}

/// The address family of a fwmark service: ip_family, else that of its real servers (IPv4 when mixed
/// or none), as keepalived does.
fn fwmark_family(vs: &VirtualServer) -> Family {
    match vs.ip_family.as_deref() {
        Some("inet6") => return Family::Inet6,
        Some(_) => return Family::Inet,
        None => {}
    }
    let mut fams = vs.real_servers.iter().map(|r| Family::of(&r.ip));
    match fams.next() {
        Some(f) if fams.all(|g| g == f) => f,
        _ => Family::Inet,
    }
}

/// Every kernel service key a virtual server stands for (a group expands to one per address and mark).
pub fn service_keys(vs: &VirtualServer, groups: &[VirtualServerGroup]) -> Vec<ServiceKey> {
    match &vs.key {
        VsKey::Addr { ip, port } => vec![ServiceKey::Addr {
            protocol: proto(vs.protocol),
            addr: *ip,
            port: *port,
        }],
        VsKey::Fwmark { mark } => vec![ServiceKey::Fwmark {
            family: fwmark_family(vs),
            mark: *mark,
        }],
        VsKey::Group { name } => {
            let Some(g) = groups.iter().find(|g| &g.name == name) else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for e in &g.entries {
                match e {
                    VsgEntry::Range { first, last, port } => {
                        for addr in range(*first, *last) {
                            out.push(ServiceKey::Addr {
                                protocol: proto(vs.protocol),
                                addr,
                                port: *port,
                            });
                        }
                    }
                    VsgEntry::Fwmark { mark, inet6 } => {
                        let family = match inet6 {
                            Some(true) => Family::Inet6,
                            Some(false) => Family::Inet,
                            None => fwmark_family(vs),
                        };
                        out.push(ServiceKey::Fwmark {
                            family,
                            mark: *mark,
                        });
                    }
                }
            }
            out
        }
    }
}

fn range(first: IpAddr, last: IpAddr) -> Vec<IpAddr> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            let n = u128::from(b.saturating_sub(a)) + 1;
            (0..n.min(MAX_GROUP_ADDRESSES) as u32)
                .map(|i| IpAddr::V4(Ipv4Addr::from(a + i)))
                .collect()
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            let n = b.saturating_sub(a).saturating_add(1);
            (0..n.min(MAX_GROUP_ADDRESSES))
                .map(|i| IpAddr::from((a + i).to_be_bytes()))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The kernel service for one key of a virtual server.
pub fn service(vs: &VirtualServer, key: ServiceKey) -> Service {
    let mut s = Service::new(key, &vs.lvs_sched);
    if let Some(t) = vs.persistence_timeout {
        s = s.persistent(t);
        if let Some(g) = &vs.persistence_granularity {
            s.netmask = match (key.family(), g.parse::<Ipv4Addr>(), g.parse::<u8>()) {
                (Family::Inet, Ok(m), _) => Netmask::V4(m),
                (Family::Inet6, _, Ok(p)) => Netmask::V6(p),
                _ => s.netmask,
            };
        }
    }
    if vs.ops {
        s.flags |= ServiceFlags::ONEPACKET;
    }
    if vs.sched_flags.flag_1 {
        s.flags |= ServiceFlags::SCHED1;
    }
    if vs.sched_flags.flag_2 {
        s.flags |= ServiceFlags::SCHED2;
    }
    if vs.sched_flags.flag_3 {
        s.flags |= ServiceFlags::SCHED3;
    }
    s.pe_name = vs.persistence_engine.clone();
    s
}

pub fn forward(m: LvsMethod) -> Forward {
    match m {
        LvsMethod::Nat => Forward::Masq,
        LvsMethod::Dr => Forward::Route,
        LvsMethod::Tun {
            tunnel_type,
            port,
            csum,
        } => Forward::Tunnel {
            kind: match tunnel_type {
                TunnelType::Ipip => ipvs::TunnelType::Ipip,
                TunnelType::Gue => ipvs::TunnelType::Gue,
                TunnelType::Gre => ipvs::TunnelType::Gre,
            },
            port: port.unwrap_or(0),
            flags: match csum {
                None => TunnelFlags(0),
                Some(TunnelCsum::Nocsum) => TunnelFlags::NOCSUM,
                Some(TunnelCsum::Csum) => TunnelFlags::CSUM,
                Some(TunnelCsum::Remcsum) => TunnelFlags::REMCSUM,
            },
        },
    }
}

/// A real server as a kernel destination with the given weight.
pub fn destination(rs: &RealServer, weight: u32) -> Destination {
    let mut d = Destination::new(rs.ip, rs.port, forward(rs.lvs_method));
    d.weight = weight;
    d.u_threshold = rs.uthreshold;
    d.l_threshold = rs.lthreshold;
    d
}

/// keepalived's way of naming a service in logs and FIFO lines: `[10.0.0.1]:tcp:80`, `FWM 5`.
pub fn label(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("[{addr}]:{}:{port}", protocol.name().to_ascii_lowercase()),
        ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

/// A real server named as keepalived does: `[10.0.0.2]:tcp:80` (the service's protocol).
pub fn rs_label(key: &ServiceKey, rs: &RealServer) -> String {
    let proto = match key {
        ServiceKey::Addr { protocol, .. } => protocol.name().to_ascii_lowercase(),
        ServiceKey::Fwmark { .. } => "tcp".into(),
    };
    format!("[{}]:{proto}:{}", rs.ip, rs.port)
}

//! Typed IPVS objects: services, destinations, statistics, sync daemons, timeouts, info.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::consts::*;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    /// The kernel's `AF_*` number.
    pub fn number(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    pub fn from_number(af: u16) -> Option<Self> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IP protocol number (`IPPROTO_*`).
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }

    pub fn from_number(n: u16) -> Option<Self> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// Upper-case name as `ipvsadm -Ln` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel; it cannot be edited in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        family: Family,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn tcp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr,
            port,
        }
    }

    pub fn udp(addr: IpAddr, port: u16) -> Self {
        ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr,
            port,
        }
    }

    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

/// `addr:port`, with brackets around IPv6 addresses.
pub(crate) struct SockAddr<'a>(pub &'a IpAddr, pub u16);

impl fmt::Display for SockAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

impl fmt::Display for ServiceKey {
    /// `TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`, `FWM 1` or `FWM 1 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(f, "{} {}", protocol.name(), SockAddr(addr, *port)),
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
        }
    }
}

/// Virtual service flags (`IP_VS_SVC_F_*`). The kernel's internal HASHED bit is removed
/// when decoding, so that a dumped service compares equal to the one that was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    pub const PERSISTENT: ServiceFlags = ServiceFlags(IP_VS_SVC_F_PERSISTENT);
    pub const HASHED: ServiceFlags = ServiceFlags(IP_VS_SVC_F_HASHED);
    pub const ONEPACKET: ServiceFlags = ServiceFlags(IP_VS_SVC_F_ONEPACKET);
    pub const SCHED1: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED1);
    pub const SCHED2: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED2);
    pub const SCHED3: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED3);
    pub const SH_FALLBACK: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED_SH_FALLBACK);
    pub const SH_PORT: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED_SH_PORT);
    pub const MH_FALLBACK: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED_MH_FALLBACK);
    pub const MH_PORT: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED_MH_PORT);

    pub fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn without(self, other: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 & !other.0)
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: Self) -> Self {
        ServiceFlags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ServiceFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// Persistence granularity: an IPv4 mask, or an IPv6 prefix length (1..=128), as the kernel
/// stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Netmask {
    V4(Ipv4Addr),
    V6(u8),
}

impl Netmask {
    /// The kernel's default: one client address per persistence entry.
    pub fn full(family: Family) -> Self {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::BROADCAST),
            Family::Inet6 => Netmask::V6(128),
        }
    }

    /// The 4 bytes of IPVS_SVC_ATTR_NETMASK: the IPv4 mask in network order, or the IPv6
    /// prefix length as a host-order u32 (the kernel casts the attribute to a plain u32).
    pub fn to_attr(self) -> [u8; 4] {
        match self {
            Netmask::V4(m) => m.octets(),
            Netmask::V6(plen) => u32::from(plen).to_ne_bytes(),
        }
    }

    pub fn from_attr(family: Family, raw: [u8; 4]) -> Self {
        match family {
            Family::Inet => Netmask::V4(Ipv4Addr::from(raw)),
            Family::Inet6 => Netmask::V6(u32::from_ne_bytes(raw).min(255) as u8),
        }
    }
}

/// A virtual service's configuration (no statistics: see [`ServiceEntry`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name: rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos, or any other
    /// the kernel has a module for (at most 15 bytes).
    pub scheduler: String,
    pub flags: ServiceFlags,
    /// Persistence timeout in seconds (meaningful with [`ServiceFlags::PERSISTENT`]).
    pub timeout: u32,
    pub netmask: Netmask,
    /// Persistence engine, e.g. "sip".
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with the kernel's defaults: no flags, no persistence, full netmask.
    pub fn new(key: ServiceKey, scheduler: &str) -> Self {
        Service {
            key,
            scheduler: scheduler.to_string(),
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: Netmask::full(key.family()),
            pe_name: None,
        }
    }

    /// Turns on persistence with the given timeout in seconds.
    pub fn persistent(mut self, timeout: u32) -> Self {
        self.flags |= ServiceFlags::PERSISTENT;
        self.timeout = timeout;
        self
    }
}

/// Tunnel encapsulation of a tunnelled destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum TunnelType {
    #[default]
    Ipip,
    Gue,
    Gre,
}

impl TunnelType {
    pub fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
        }
    }

    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            IP_VS_CONN_F_TUNNEL_TYPE_IPIP => Some(TunnelType::Ipip),
            IP_VS_CONN_F_TUNNEL_TYPE_GUE => Some(TunnelType::Gue),
            IP_VS_CONN_F_TUNNEL_TYPE_GRE => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TunnelFlags(pub u16);

impl TunnelFlags {
    pub const NOCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM);
    pub const CSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
    pub const REMCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM);
}

/// How packets reach a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Forward {
    /// NAT ("Masq").
    Masq,
    Local,
    /// IP tunnel; `port` is the GUE destination port (the kernel requires it for GUE).
    Tunnel {
        kind: TunnelType,
        port: u16,
        flags: TunnelFlags,
    },
    /// Direct routing ("gatewaying").
    Route,
    Bypass,
}

impl Forward {
    /// Plain IPIP tunnel.
    pub const TUNNEL: Forward = Forward::Tunnel {
        kind: TunnelType::Ipip,
        port: 0,
        flags: TunnelFlags(0),
    };

    /// The `IP_VS_CONN_F_*` forwarding method number.
    pub fn method(self) -> u32 {
        match self {
            Forward::Masq => IP_VS_CONN_F_MASQ,
            Forward::Local => IP_VS_CONN_F_LOCALNODE,
            Forward::Tunnel { .. } => IP_VS_CONN_F_TUNNEL,
            Forward::Route => IP_VS_CONN_F_DROUTE,
            Forward::Bypass => IP_VS_CONN_F_BYPASS,
        }
    }

    /// The name `ipvsadm -Ln` prints.
    pub fn name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel { .. } => "Tunnel",
            Forward::Route => "Route",
            Forward::Bypass => "Bypass",
        }
    }
}

/// What identifies a destination within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SockAddr(&self.addr, self.port).fmt(f)
    }
}

/// A real server's configuration (no counters: see [`DestEntry`]). Its address family may
/// differ from the service's where the kernel allows it (tunnel forwarding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    /// Weight; the kernel rejects values above `i32::MAX` with ERANGE.
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
}

impl Destination {
    /// A destination with weight 1, no thresholds.
    pub fn new(addr: IpAddr, port: u16, forward: Forward) -> Self {
        Destination {
            addr,
            port,
            forward,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        }
    }

    pub fn key(&self) -> DestKey {
        DestKey {
            addr: self.addr,
            port: self.port,
        }
    }
}

/// Traffic counters and rates of a service or destination; 64-bit when the kernel sent
/// STATS64, else widened from the 32-bit STATS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as dumped by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    /// Flags as the kernel reported them, including the internal HASHED bit.
    pub raw_flags: u32,
    pub stats: Option<Stats>,
}

/// A destination as dumped by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Destination,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Option<Stats>,
}

/// Role of a connection synchronisation daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn number(self) -> u32 {
        match self {
            DaemonState::Master => IP_VS_STATE_MASTER,
            DaemonState::Backup => IP_VS_STATE_BACKUP,
        }
    }

    pub fn from_number(n: u32) -> Option<Self> {
        match n {
            IP_VS_STATE_MASTER => Some(DaemonState::Master),
            IP_VS_STATE_BACKUP => Some(DaemonState::Backup),
            _ => None,
        }
    }
}

/// A connection synchronisation daemon. The optional fields are the newer attributes
/// (kernel 4.3+); `None` lets the kernel choose its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub state: DaemonState,
    pub mcast_ifn: String,
    pub syncid: u32,
    pub sync_maxlen: Option<u16>,
    /// Multicast group: IPv4 goes in MCAST_GROUP, IPv6 in MCAST_GROUP6.
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

impl Daemon {
    pub fn new(state: DaemonState, mcast_ifn: &str, syncid: u32) -> Self {
        Daemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            syncid,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }
}

/// Connection timeouts in seconds; on SET_CONFIG a zero leaves that timeout unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Config {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// General IPVS information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Version code, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    /// Size of the connection hash table.
    pub conn_tab_size: u32,
}

impl Info {
    /// "1.2.1" from 0x010201.
    pub fn version_string(&self) -> String {
        let v = self.version;
        format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_like_ipvsadm() {
        let k = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
        assert_eq!(k.to_string(), "TCP 10.0.0.1:80");
        let k = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        assert_eq!(k.to_string(), "UDP [2001:db8::1]:53");
        let k = ServiceKey::Fwmark {
            family: Family::Inet,
            mark: 7,
        };
        assert_eq!(k.to_string(), "FWM 7");
    }

    #[test]
    fn netmask_attribute_bytes() {
        let m = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(m.to_attr(), [255, 255, 255, 0]);
        assert_eq!(Netmask::from_attr(Family::Inet, m.to_attr()), m);
        let p = Netmask::V6(64);
        assert_eq!(p.to_attr(), 64u32.to_ne_bytes());
        assert_eq!(Netmask::from_attr(Family::Inet6, p.to_attr()), p);
    }

    #[test]
    fn info_version_string() {
        let i = Info {
            version: 0x010201,
            conn_tab_size: 4096,
        };
        assert_eq!(i.version_string(), "1.2.1");
    }
}

//! Encoding of IPVS requests and decoding of IPVS messages, on generic netlink payloads
//! (the 4-byte `genlmsghdr` followed by attributes; no `nlmsghdr`).
//!
//! The decoders are public so that messages captured from the kernel (e.g. with nlmon) can be
//! checked in tests without a socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::attr::{AttrSet, AttrWriter};
use crate::consts::*;
use crate::error::{DecodeError, Error, Target};
use crate::plan::Op;
use crate::types::*;

/// Size of `struct genlmsghdr`: cmd, version, reserved u16.
pub const GENL_HDRLEN: usize = 4;

/// One IPVS request, ready to be framed and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cmd: u8,
    /// Sent with NLM_F_DUMP (GET_SERVICE of all services, GET_DEST, GET_DAEMON).
    pub dump: bool,
    /// Encoded attributes (after the genl header).
    pub attrs: Vec<u8>,
    /// What the request is about, for error messages.
    pub target: Target,
}

impl Request {
    /// The generic netlink payload: `genlmsghdr` (cmd, version 1, reserved 0) and attributes.
    pub fn genl_payload(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(GENL_HDRLEN + self.attrs.len());
        v.extend_from_slice(&[self.cmd, IPVS_GENL_VERSION, 0, 0]);
        v.extend_from_slice(&self.attrs);
        v
    }

    fn new(cmd: u8, target: Target, f: impl FnOnce(&mut AttrWriter)) -> Self {
        let mut w = AttrWriter::new();
        f(&mut w);
        Request {
            cmd,
            dump: false,
            attrs: w.into_bytes(),
            target,
        }
    }

    /// The request that performs a planned operation.
    pub fn from_op(op: &Op) -> Result<Self, Error> {
        match op {
            Op::AddService(s) => new_service(s),
            Op::EditService(s) => set_service(s),
            Op::DelService(k) => del_service(k),
            Op::AddDest(k, d) => new_dest(k, d),
            Op::EditDest(k, d) => set_dest(k, d),
            Op::DelDest(k, d) => Ok(del_dest(k, d)),
        }
    }
}

fn check_name(target: &Target, what: &str, name: &str, max: usize) -> Result<(), Error> {
    if name.len() >= max || name.as_bytes().contains(&0) {
        return Err(Error::Invalid {
            target: target.clone(),
            reason: format!("{what} {name:?} must be 1 to {} bytes without NUL", max - 1),
        });
    }
    Ok(())
}

/// 16 bytes (`union nf_inet_addr`), IPv4 in the first four, as the kernel reads and dumps it.
fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b = a.octets(),
    }
    b
}

fn put_service_key(w: &mut AttrWriter, key: &ServiceKey) {
    w.u16(IPVS_SVC_ATTR_AF, key.family().number());
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            w.u16(IPVS_SVC_ATTR_PROTOCOL, protocol.number());
            w.bytes(IPVS_SVC_ATTR_ADDR, &addr_bytes(addr));
            w.be16(IPVS_SVC_ATTR_PORT, *port);
        }
        ServiceKey::Fwmark { mark, .. } => w.u32(IPVS_SVC_ATTR_FWMARK, *mark),
    }
}

fn service_key_nest(w: &mut AttrWriter, key: &ServiceKey) {
    w.nested(IPVS_CMD_ATTR_SERVICE, |n| put_service_key(n, key));
}

fn full_service(cmd: u8, s: &Service) -> Result<Request, Error> {
    let target = Target::Service(s.key.to_string());
    check_name(&target, "scheduler", &s.scheduler, IP_VS_SCHEDNAME_MAXLEN)?;
    if let Some(pe) = &s.pe_name {
        check_name(&target, "persistence engine", pe, IP_VS_PENAME_MAXLEN)?;
    }
    // The netmask is interpreted by the service's family, whatever variant was given.
    let netmask = match (s.key.family(), s.netmask) {
        (Family::Inet, Netmask::V6(_)) | (Family::Inet6, Netmask::V4(_)) => {
            return Err(Error::Invalid {
                target,
                reason: "netmask does not match the service's address family".into(),
            })
        }
        (_, m) => m,
    };
    Ok(Request::new(cmd, target, |w| {
        w.nested(IPVS_CMD_ATTR_SERVICE, |n| {
            put_service_key(n, &s.key);
            n.string(IPVS_SVC_ATTR_SCHED_NAME, &s.scheduler);
            if let Some(pe) = &s.pe_name {
                n.string(IPVS_SVC_ATTR_PE_NAME, pe);
            }
            // struct ip_vs_flags { flags, mask }: a full mask replaces every flag.
            let mut flags = [0u8; 8];
            flags[..4].copy_from_slice(&s.flags.0.to_ne_bytes());
            flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
            n.bytes(IPVS_SVC_ATTR_FLAGS, &flags);
            n.u32(IPVS_SVC_ATTR_TIMEOUT, s.timeout);
            n.bytes(IPVS_SVC_ATTR_NETMASK, &netmask.to_attr());
        })
    }))
}

pub fn new_service(s: &Service) -> Result<Request, Error> {
    full_service(IPVS_CMD_NEW_SERVICE, s)
}

pub fn set_service(s: &Service) -> Result<Request, Error> {
    full_service(IPVS_CMD_SET_SERVICE, s)
}

pub fn del_service(key: &ServiceKey) -> Result<Request, Error> {
    Ok(Request::new(
        IPVS_CMD_DEL_SERVICE,
        Target::Service(key.to_string()),
        |w| service_key_nest(w, key),
    ))
}

/// GET_SERVICE for one service (no dump).
pub fn get_service(key: &ServiceKey) -> Request {
    Request::new(
        IPVS_CMD_GET_SERVICE,
        Target::Service(key.to_string()),
        |w| service_key_nest(w, key),
    )
}

/// GET_SERVICE dump of all services.
pub fn get_services() -> Request {
    let mut r = Request::new(IPVS_CMD_GET_SERVICE, Target::Other("list services"), |_| {});
    r.dump = true;
    r
}

/// GET_DEST dump of one service's destinations.
pub fn get_dests(key: &ServiceKey) -> Request {
    let mut r = Request::new(IPVS_CMD_GET_DEST, Target::Service(key.to_string()), |w| {
        service_key_nest(w, key)
    });
    r.dump = true;
    r
}

fn dest_target(key: &ServiceKey, d: &DestKey) -> Target {
    Target::Dest(format!("{key} -> {d}"))
}

fn put_dest_key(w: &mut AttrWriter, addr: &IpAddr, port: u16) {
    w.bytes(IPVS_DEST_ATTR_ADDR, &addr_bytes(addr));
    w.be16(IPVS_DEST_ATTR_PORT, port);
    w.u16(IPVS_DEST_ATTR_ADDR_FAMILY, Family::of(addr).number());
}

fn full_dest(cmd: u8, key: &ServiceKey, d: &Destination) -> Result<Request, Error> {
    let target = dest_target(key, &d.key());
    if d.weight > i32::MAX as u32 {
        return Err(Error::Invalid {
            target,
            reason: format!("weight {} is above {}", d.weight, i32::MAX),
        });
    }
    Ok(Request::new(cmd, target, |w| {
        service_key_nest(w, key);
        w.nested(IPVS_CMD_ATTR_DEST, |n| {
            put_dest_key(n, &d.addr, d.port);
            n.u32(IPVS_DEST_ATTR_FWD_METHOD, d.forward.method());
            n.u32(IPVS_DEST_ATTR_WEIGHT, d.weight);
            n.u32(IPVS_DEST_ATTR_U_THRESH, d.u_threshold);
            n.u32(IPVS_DEST_ATTR_L_THRESH, d.l_threshold);
            if let Forward::Tunnel { kind, port, flags } = d.forward {
                n.u8(IPVS_DEST_ATTR_TUN_TYPE, kind.number());
                n.be16(IPVS_DEST_ATTR_TUN_PORT, port);
                n.u16(IPVS_DEST_ATTR_TUN_FLAGS, flags.0);
            }
        })
    }))
}

pub fn new_dest(key: &ServiceKey, d: &Destination) -> Result<Request, Error> {
    full_dest(IPVS_CMD_NEW_DEST, key, d)
}

pub fn set_dest(key: &ServiceKey, d: &Destination) -> Result<Request, Error> {
    full_dest(IPVS_CMD_SET_DEST, key, d)
}

pub fn del_dest(key: &ServiceKey, d: &DestKey) -> Request {
    Request::new(IPVS_CMD_DEL_DEST, dest_target(key, d), |w| {
        service_key_nest(w, key);
        w.nested(IPVS_CMD_ATTR_DEST, |n| put_dest_key(n, &d.addr, d.port));
    })
}

fn daemon_target(state: DaemonState) -> Target {
    Target::Daemon(match state {
        DaemonState::Master => "sync daemon master".into(),
        DaemonState::Backup => "sync daemon backup".into(),
    })
}

pub fn new_daemon(d: &Daemon) -> Result<Request, Error> {
    let target = daemon_target(d.state);
    check_name(&target, "interface", &d.mcast_ifn, IP_VS_IFNAME_MAXLEN)?;
    Ok(Request::new(IPVS_CMD_NEW_DAEMON, target, |w| {
        w.nested(IPVS_CMD_ATTR_DAEMON, |n| {
            n.u32(IPVS_DAEMON_ATTR_STATE, d.state.number());
            n.string(IPVS_DAEMON_ATTR_MCAST_IFN, &d.mcast_ifn);
            n.u32(IPVS_DAEMON_ATTR_SYNC_ID, d.syncid);
            if let Some(v) = d.sync_maxlen {
                n.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, v);
            }
            match d.mcast_group {
                Some(IpAddr::V4(a)) => n.bytes(IPVS_DAEMON_ATTR_MCAST_GROUP, &a.octets()),
                Some(IpAddr::V6(a)) => n.bytes(IPVS_DAEMON_ATTR_MCAST_GROUP6, &a.octets()),
                None => {}
            }
            if let Some(v) = d.mcast_port {
                n.be16(IPVS_DAEMON_ATTR_MCAST_PORT, v);
            }
            if let Some(v) = d.mcast_ttl {
                n.u8(IPVS_DAEMON_ATTR_MCAST_TTL, v);
            }
        })
    }))
}

pub fn del_daemon(state: DaemonState) -> Request {
    Request::new(IPVS_CMD_DEL_DAEMON, daemon_target(state), |w| {
        w.nested(IPVS_CMD_ATTR_DAEMON, |n| {
            n.u32(IPVS_DAEMON_ATTR_STATE, state.number())
        })
    })
}

pub fn get_daemons() -> Request {
    let mut r = Request::new(IPVS_CMD_GET_DAEMON, Target::Other("sync daemons"), |_| {});
    r.dump = true;
    r
}

pub fn set_config(c: &Config) -> Request {
    Request::new(IPVS_CMD_SET_CONFIG, Target::Other("timeouts"), |w| {
        w.u32(IPVS_CMD_ATTR_TIMEOUT_TCP, c.tcp);
        w.u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, c.tcp_fin);
        w.u32(IPVS_CMD_ATTR_TIMEOUT_UDP, c.udp);
    })
}

pub fn get_config() -> Request {
    Request::new(IPVS_CMD_GET_CONFIG, Target::Other("timeouts"), |_| {})
}

pub fn get_info() -> Request {
    Request::new(IPVS_CMD_GET_INFO, Target::Other("info"), |_| {})
}

/// ZERO the counters of one service, or of everything.
pub fn zero(key: Option<&ServiceKey>) -> Request {
    match key {
        Some(k) => Request::new(IPVS_CMD_ZERO, Target::Service(k.to_string()), |w| {
            service_key_nest(w, k)
        }),
        None => Request::new(IPVS_CMD_ZERO, Target::Other("zero counters"), |_| {}),
    }
}

pub fn flush() -> Request {
    Request::new(IPVS_CMD_FLUSH, Target::Other("flush"), |_| {})
}

// ---------------------------------------------------------------- decoding

/// Splits a generic netlink payload into its command and attribute bytes.
pub fn split_genl(payload: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if payload.len() < GENL_HDRLEN {
        return Err(DecodeError::ShortHeader);
    }
    Ok((payload[0], &payload[GENL_HDRLEN..]))
}

fn top(payload: &[u8]) -> Result<AttrSet<'_>, DecodeError> {
    let (_, attrs) = split_genl(payload)?;
    AttrSet::parse(attrs, "message")
}

fn nested<'a>(top: &AttrSet<'a>, kind: u16, ctx: &'static str) -> Result<AttrSet<'a>, DecodeError> {
    let raw = top.require(kind, top.get(kind))?;
    AttrSet::parse(raw, ctx)
}

fn family(af: u16) -> Result<Family, DecodeError> {
    Family::from_number(af).ok_or(DecodeError::Family(af))
}

fn addr_from(
    set: &AttrSet<'_>,
    kind: u16,
    family: Family,
    ctx: &'static str,
) -> Result<IpAddr, DecodeError> {
    let raw = set.require(kind, set.get(kind))?;
    let bad = DecodeError::BadValue {
        context: ctx,
        kind,
        len: raw.len(),
    };
    match family {
        Family::Inet => {
            let b: [u8; 4] = raw.get(..4).and_then(|s| s.try_into().ok()).ok_or(bad)?;
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::Inet6 => {
            let b: [u8; 16] = raw.get(..16).and_then(|s| s.try_into().ok()).ok_or(bad)?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

fn service_key_from(s: &AttrSet<'_>) -> Result<ServiceKey, DecodeError> {
    let af = s.u16(IPVS_SVC_ATTR_AF)?;
    let fam = family(s.require(IPVS_SVC_ATTR_AF, af)?)?;
    if let Some(mark) = s.u32(IPVS_SVC_ATTR_FWMARK)? {
        return Ok(ServiceKey::Fwmark { family: fam, mark });
    }
    let proto = s.u16(IPVS_SVC_ATTR_PROTOCOL)?;
    let proto = s.require(IPVS_SVC_ATTR_PROTOCOL, proto)?;
    let protocol = Protocol::from_number(proto).ok_or(DecodeError::Protocol(proto))?;
    let addr = addr_from(s, IPVS_SVC_ATTR_ADDR, fam, "service")?;
    let port = s.be16(IPVS_SVC_ATTR_PORT)?;
    let port = s.require(IPVS_SVC_ATTR_PORT, port)?;
    Ok(ServiceKey::Addr {
        protocol,
        addr,
        port,
    })
}

fn stats_from(raw: Option<&[u8]>) -> Result<Option<Stats>, DecodeError> {
    let Some(raw) = raw else { return Ok(None) };
    let s = AttrSet::parse(raw, "stats")?;
    let g = |k| s.uint(k).map(|v| v.unwrap_or(0));
    Ok(Some(Stats {
        conns: g(IPVS_STATS_ATTR_CONNS)?,
        inpkts: g(IPVS_STATS_ATTR_INPKTS)?,
        outpkts: g(IPVS_STATS_ATTR_OUTPKTS)?,
        inbytes: g(IPVS_STATS_ATTR_INBYTES)?,
        outbytes: g(IPVS_STATS_ATTR_OUTBYTES)?,
        cps: g(IPVS_STATS_ATTR_CPS)?,
        inpps: g(IPVS_STATS_ATTR_INPPS)?,
        outpps: g(IPVS_STATS_ATTR_OUTPPS)?,
        inbps: g(IPVS_STATS_ATTR_INBPS)?,
        outbps: g(IPVS_STATS_ATTR_OUTBPS)?,
    }))
}

/// The command number of a generic netlink payload.
pub fn command(payload: &[u8]) -> Result<u8, DecodeError> {
    split_genl(payload).map(|(cmd, _)| cmd)
}

/// The service key of a message carrying IPVS_CMD_ATTR_SERVICE (any command).
pub fn decode_service_key(payload: &[u8]) -> Result<ServiceKey, DecodeError> {
    let t = top(payload)?;
    service_key_from(&nested(&t, IPVS_CMD_ATTR_SERVICE, "service")?)
}

/// A full service: a GET_SERVICE reply (NEW_SERVICE command) or a NEW/SET_SERVICE request.
/// Statistics are taken from STATS64 when present, else from STATS.
pub fn decode_service(payload: &[u8]) -> Result<ServiceEntry, DecodeError> {
    let t = top(payload)?;
    let s = nested(&t, IPVS_CMD_ATTR_SERVICE, "service")?;
    let key = service_key_from(&s)?;
    let scheduler = s.string(IPVS_SVC_ATTR_SCHED_NAME)?;
    let scheduler = s.require(IPVS_SVC_ATTR_SCHED_NAME, scheduler)?;
    let flags_raw = s.require(IPVS_SVC_ATTR_FLAGS, s.get(IPVS_SVC_ATTR_FLAGS))?;
    let raw_flags = flags_raw
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or(DecodeError::BadValue {
            context: "service",
            kind: IPVS_SVC_ATTR_FLAGS,
            len: flags_raw.len(),
        })?;
    let timeout = s.u32(IPVS_SVC_ATTR_TIMEOUT)?.unwrap_or(0);
    let netmask = match s.u32(IPVS_SVC_ATTR_NETMASK)? {
        Some(v) => Netmask::from_attr(key.family(), v.to_ne_bytes()),
        None => Netmask::full(key.family()),
    };
    let pe_name = s.string(IPVS_SVC_ATTR_PE_NAME)?.filter(|p| !p.is_empty());
    let stats = match stats_from(s.get(IPVS_SVC_ATTR_STATS64))? {
        Some(st) => Some(st),
        None => stats_from(s.get(IPVS_SVC_ATTR_STATS))?,
    };
    Ok(ServiceEntry {
        service: Service {
            key,
            scheduler,
            flags: ServiceFlags(raw_flags).without(ServiceFlags::HASHED),
            timeout,
            netmask,
            pe_name,
        },
        raw_flags,
        stats,
    })
}

/// Family of a destination: its ADDR_FAMILY, else the service's family in the same message,
/// else `fallback` (the family of the service that was dumped).
fn dest_family(
    t: &AttrSet<'_>,
    d: &AttrSet<'_>,
    fallback: Option<Family>,
) -> Result<Family, DecodeError> {
    if let Some(af) = d.u16(IPVS_DEST_ATTR_ADDR_FAMILY)? {
        return family(af);
    }
    if t.has(IPVS_CMD_ATTR_SERVICE) {
        let s = nested(t, IPVS_CMD_ATTR_SERVICE, "service")?;
        if let Some(af) = s.u16(IPVS_SVC_ATTR_AF)? {
            return family(af);
        }
    }
    fallback.ok_or(DecodeError::Missing {
        context: "destination",
        kind: IPVS_DEST_ATTR_ADDR_FAMILY,
    })
}

/// The destination key of a message carrying IPVS_CMD_ATTR_DEST (e.g. DEL_DEST).
pub fn decode_dest_key(payload: &[u8], fallback: Option<Family>) -> Result<DestKey, DecodeError> {
    let t = top(payload)?;
    let d = nested(&t, IPVS_CMD_ATTR_DEST, "destination")?;
    let fam = dest_family(&t, &d, fallback)?;
    let addr = addr_from(&d, IPVS_DEST_ATTR_ADDR, fam, "destination")?;
    let port = d.be16(IPVS_DEST_ATTR_PORT)?;
    Ok(DestKey {
        addr,
        port: d.require(IPVS_DEST_ATTR_PORT, port)?,
    })
}

/// A full destination: a GET_DEST reply (NEW_DEST command) or a NEW/SET_DEST request.
/// `fallback` is the address family to assume when the message names none.
pub fn decode_dest(payload: &[u8], fallback: Option<Family>) -> Result<DestEntry, DecodeError> {
    let key = decode_dest_key(payload, fallback)?;
    let t = top(payload)?;
    let d = nested(&t, IPVS_CMD_ATTR_DEST, "destination")?;
    let method = d.u32(IPVS_DEST_ATTR_FWD_METHOD)?;
    let method = d.require(IPVS_DEST_ATTR_FWD_METHOD, method)? & IP_VS_CONN_F_FWD_MASK;
    let forward = match method {
        IP_VS_CONN_F_MASQ => Forward::Masq,
        IP_VS_CONN_F_LOCALNODE => Forward::Local,
        IP_VS_CONN_F_DROUTE => Forward::Route,
        IP_VS_CONN_F_BYPASS => Forward::Bypass,
        IP_VS_CONN_F_TUNNEL => {
            let n = d.u8(IPVS_DEST_ATTR_TUN_TYPE)?.unwrap_or(0);
            Forward::Tunnel {
                kind: TunnelType::from_number(n).ok_or(DecodeError::TunnelType(n))?,
                port: d.be16(IPVS_DEST_ATTR_TUN_PORT)?.unwrap_or(0),
                flags: TunnelFlags(d.u16(IPVS_DEST_ATTR_TUN_FLAGS)?.unwrap_or(0)),
            }
        }
        other => return Err(DecodeError::Forward(other)),
    };
    let weight = d.u32(IPVS_DEST_ATTR_WEIGHT)?;
    let stats = match stats_from(d.get(IPVS_DEST_ATTR_STATS64))? {
        Some(st) => Some(st),
        None => stats_from(d.get(IPVS_DEST_ATTR_STATS))?,
    };
    Ok(DestEntry {
        dest: Destination {
            addr: key.addr,
            port: key.port,
            forward,
            weight: d.require(IPVS_DEST_ATTR_WEIGHT, weight)?,
            u_threshold: d.u32(IPVS_DEST_ATTR_U_THRESH)?.unwrap_or(0),
            l_threshold: d.u32(IPVS_DEST_ATTR_L_THRESH)?.unwrap_or(0),
        },
        active_conns: d.u32(IPVS_DEST_ATTR_ACTIVE_CONNS)?.unwrap_or(0),
        inactive_conns: d.u32(IPVS_DEST_ATTR_INACT_CONNS)?.unwrap_or(0),
        persistent_conns: d.u32(IPVS_DEST_ATTR_PERSIST_CONNS)?.unwrap_or(0),
        stats,
    })
}

/// A sync daemon: a GET_DAEMON reply (NEW_DAEMON command) or a NEW_DAEMON request.
pub fn decode_daemon(payload: &[u8]) -> Result<Daemon, DecodeError> {
    let t = top(payload)?;
    let d = nested(&t, IPVS_CMD_ATTR_DAEMON, "daemon")?;
    let state = d.u32(IPVS_DAEMON_ATTR_STATE)?;
    let state = d.require(IPVS_DAEMON_ATTR_STATE, state)?;
    let mcast_group = if let Some(raw) = d.get(IPVS_DAEMON_ATTR_MCAST_GROUP) {
        let b: [u8; 4] =
            raw.get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(DecodeError::BadValue {
                    context: "daemon",
                    kind: IPVS_DAEMON_ATTR_MCAST_GROUP,
                    len: raw.len(),
                })?;
        Some(IpAddr::V4(Ipv4Addr::from(b)))
    } else if d.has(IPVS_DAEMON_ATTR_MCAST_GROUP6) {
        Some(addr_from(
            &d,
            IPVS_DAEMON_ATTR_MCAST_GROUP6,
            Family::Inet6,
            "daemon",
        )?)
    } else {
        None
    };
    let ifn = d.string(IPVS_DAEMON_ATTR_MCAST_IFN)?;
    let syncid = d.u32(IPVS_DAEMON_ATTR_SYNC_ID)?;
    Ok(Daemon {
        state: DaemonState::from_number(state).ok_or(DecodeError::DaemonState(state))?,
        mcast_ifn: d.require(IPVS_DAEMON_ATTR_MCAST_IFN, ifn)?,
        syncid: d.require(IPVS_DAEMON_ATTR_SYNC_ID, syncid)?,
        sync_maxlen: d.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN)?,
        mcast_group,
        mcast_port: d.be16(IPVS_DAEMON_ATTR_MCAST_PORT)?,
        mcast_ttl: d.u8(IPVS_DAEMON_ATTR_MCAST_TTL)?,
    })
}

/// Timeouts: a GET_CONFIG reply (SET_CONFIG command) or a SET_CONFIG request.
pub fn decode_config(payload: &[u8]) -> Result<Config, DecodeError> {
    let t = top(payload)?;
    Ok(Config {
        tcp: t.u32(IPVS_CMD_ATTR_TIMEOUT_TCP)?.unwrap_or(0),
        tcp_fin: t.u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN)?.unwrap_or(0),
        udp: t.u32(IPVS_CMD_ATTR_TIMEOUT_UDP)?.unwrap_or(0),
    })
}

/// A GET_INFO reply (SET_INFO command).
pub fn decode_info(payload: &[u8]) -> Result<Info, DecodeError> {
    let t = top(payload)?;
    let version = t.u32(IPVS_INFO_ATTR_VERSION)?;
    let size = t.u32(IPVS_INFO_ATTR_CONN_TAB_SIZE)?;
    Ok(Info {
        version: t.require(IPVS_INFO_ATTR_VERSION, version)?,
        conn_tab_size: t.require(IPVS_INFO_ATTR_CONN_TAB_SIZE, size)?,
    })
}

/// Any IPVS message, decoded according to its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// NEW/SET_SERVICE requests and GET_SERVICE replies.
    Service(u8, ServiceEntry),
    /// DEL_SERVICE, ZERO or GET_SERVICE/GET_DEST requests naming one service.
    ServiceKey(u8, ServiceKey),
    /// NEW/SET_DEST requests and GET_DEST replies; the service key when the message has one.
    Dest(u8, Option<ServiceKey>, DestEntry),
    /// DEL_DEST requests.
    DestKey(u8, ServiceKey, DestKey),
    /// NEW_DAEMON requests and GET_DAEMON replies.
    Daemon(u8, Daemon),
    /// DEL_DAEMON requests: only the state.
    DaemonState(u8, DaemonState),
    /// SET_CONFIG requests and GET_CONFIG replies.
    Config(u8, Config),
    /// GET_INFO replies (SET_INFO command).
    Info(Info),
    /// A command without attributes (FLUSH, dump requests, GET_INFO, ...).
    Bare(u8),
}

/// Decodes any IPVS generic netlink payload, e.g. one captured from the kernel with nlmon.
pub fn decode_any(payload: &[u8]) -> Result<Decoded, DecodeError> {
    let (cmd, attrs) = split_genl(payload)?;
    let t = AttrSet::parse(attrs, "message")?;
    let has_svc = t.has(IPVS_CMD_ATTR_SERVICE);
    Ok(match cmd {
        IPVS_CMD_NEW_SERVICE | IPVS_CMD_SET_SERVICE => {
            Decoded::Service(cmd, decode_service(payload)?)
        }
        IPVS_CMD_NEW_DEST | IPVS_CMD_SET_DEST => {
            let key = if has_svc {
                Some(decode_service_key(payload)?)
            } else {
                None
            };
            Decoded::Dest(cmd, key, decode_dest(payload, None)?)
        }
        IPVS_CMD_DEL_DEST => Decoded::DestKey(
            cmd,
            decode_service_key(payload)?,
            decode_dest_key(payload, None)?,
        ),
        IPVS_CMD_NEW_DAEMON => Decoded::Daemon(cmd, decode_daemon(payload)?),
        IPVS_CMD_DEL_DAEMON if t.has(IPVS_CMD_ATTR_DAEMON) => {
            let d = nested(&t, IPVS_CMD_ATTR_DAEMON, "daemon")?;
            let state = d.u32(IPVS_DAEMON_ATTR_STATE)?;
            let state = d.require(IPVS_DAEMON_ATTR_STATE, state)?;
            Decoded::DaemonState(
                cmd,
                DaemonState::from_number(state).ok_or(DecodeError::DaemonState(state))?,
            )
        }
        IPVS_CMD_SET_CONFIG => Decoded::Config(cmd, decode_config(payload)?),
        IPVS_CMD_SET_INFO => Decoded::Info(decode_info(payload)?),
        _ if has_svc => Decoded::ServiceKey(cmd, decode_service_key(payload)?),
        _ => Decoded::Bare(cmd),
    })
}

/// Expected bytes are derived by hand from `<linux/ip_vs.h>`: every attribute is
/// `len (u16, header + value, unpadded) | type (u16, the enum position in the header) |
/// value | zero padding to 4 bytes`, nested attributes hold attributes, and integers are in
/// host order (little-endian here) except `__be16` ports. The genl header is
/// `cmd | version 1 | 0 0`.
#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    fn tcp_service() -> Service {
        Service::new(ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80), "wrr").persistent(300)
    }

    #[rustfmt::skip]
    const TCP_SVC_KEY: [u8; 44] = [
        0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, // AF = AF_INET (2)
        0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, // PROTOCOL = IPPROTO_TCP (6)
        0x14, 0x00, 0x03, 0x00, 10, 0, 0, 1,            // ADDR: 16 bytes, 10.0.0.1 first
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00, // PORT = 80, big-endian
    ];

    #[test]
    fn new_service_bytes() {
        let req = new_service(&tcp_service()).unwrap();
        let mut want = vec![IPVS_CMD_NEW_SERVICE, 1, 0, 0];
        want.extend_from_slice(&[0x54, 0x00, 0x01, 0x00]); // CMD_ATTR_SERVICE, 4 + 80 bytes
        want.extend_from_slice(&TCP_SVC_KEY);
        #[rustfmt::skip]
        want.extend_from_slice(&[
            0x08, 0x00, 0x06, 0x00, b'w', b'r', b'r', 0x00, // SCHED_NAME "wrr\0"
            0x0c, 0x00, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, // FLAGS: flags = PERSISTENT
            0xff, 0xff, 0xff, 0xff,                         //        mask = ~0
            0x08, 0x00, 0x08, 0x00, 0x2c, 0x01, 0x00, 0x00, // TIMEOUT = 300
            0x08, 0x00, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, // NETMASK = 255.255.255.255
        ]);
        assert_eq!(req.genl_payload(), want);
    }

    #[test]
    fn set_service_with_pe_and_ipv6_prefix() {
        let key = ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7,
        };
        let mut s = Service::new(key, "sh");
        s.netmask = Netmask::V6(64);
        s.pe_name = Some("sip".into());
        s.flags = ServiceFlags::SH_PORT;
        let req = set_service(&s).unwrap();
        let mut want = vec![IPVS_CMD_SET_SERVICE, 1, 0, 0, 0x40, 0x00, 0x01, 0x00];
        #[rustfmt::skip]
        want.extend_from_slice(&[
            0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, // AF = AF_INET6 (10)
            0x08, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, // FWMARK = 7
            0x07, 0x00, 0x06, 0x00, b's', b'h', 0x00, 0x00, // SCHED_NAME "sh\0" + pad
            0x08, 0x00, 0x0b, 0x00, b's', b'i', b'p', 0x00, // PE_NAME "sip\0"
            0x0c, 0x00, 0x07, 0x00, 0x10, 0x00, 0x00, 0x00, // FLAGS = SCHED2 (sh-port)
            0xff, 0xff, 0xff, 0xff,
            0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, // TIMEOUT = 0
            0x08, 0x00, 0x09, 0x00, 0x40, 0x00, 0x00, 0x00, // NETMASK = prefix 64 (u32)
        ]);
        assert_eq!(req.genl_payload(), want);
    }

    #[test]
    fn new_dest_bytes() {
        let key = tcp_service().key;
        let mut d = Destination::new("10.0.0.2".parse().unwrap(), 8080, Forward::Masq);
        d.weight = 5;
        let req = new_dest(&key, &d).unwrap();
        let mut want = vec![IPVS_CMD_NEW_DEST, 1, 0, 0, 0x30, 0x00, 0x01, 0x00];
        want.extend_from_slice(&TCP_SVC_KEY);
        want.extend_from_slice(&[0x48, 0x00, 0x02, 0x00]); // CMD_ATTR_DEST, 4 + 68 bytes
        #[rustfmt::skip]
        want.extend_from_slice(&[
            0x14, 0x00, 0x01, 0x00, 10, 0, 0, 2,            // ADDR 10.0.0.2 (16 bytes)
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x06, 0x00, 0x02, 0x00, 0x1f, 0x90, 0x00, 0x00, // PORT = 8080, big-endian
            0x06, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x00, 0x00, // ADDR_FAMILY = AF_INET
            0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, // FWD_METHOD = MASQ (0)
            0x08, 0x00, 0x04, 0x00, 0x05, 0x00, 0x00, 0x00, // WEIGHT = 5
            0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, // U_THRESH = 0
            0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, // L_THRESH = 0
        ]);
        assert_eq!(req.genl_payload(), want);
    }

    #[test]
    fn tunnel_dest_carries_tunnel_attributes() {
        let key = tcp_service().key;
        let d = Destination::new(
            "2001:db8::10".parse().unwrap(),
            80,
            Forward::Tunnel {
                kind: TunnelType::Gue,
                port: 6080,
                flags: TunnelFlags::CSUM,
            },
        );
        let req = set_dest(&key, &d).unwrap();
        let p = req.genl_payload();
        assert_eq!(p[0], IPVS_CMD_SET_DEST);
        #[rustfmt::skip]
        let tail = [
            0x08, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, // FWD_METHOD = TUNNEL (2)
            0x08, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, // WEIGHT = 1
            0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x05, 0x00, 0x0d, 0x00, 0x01, 0x00, 0x00, 0x00, // TUN_TYPE = GUE (u8)
            0x06, 0x00, 0x0e, 0x00, 0x17, 0xc0, 0x00, 0x00, // TUN_PORT = 6080, big-endian
            0x06, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x00, // TUN_FLAGS = CSUM (u16)
        ];
        assert!(p.ends_with(&tail));
        // Mixed family: the IPv6 destination says so (ADDR_FAMILY = AF_INET6).
        let af6 = [0x06, 0x00, 0x0b, 0x00, 0x0a, 0x00, 0x00, 0x00];
        assert!(p.windows(8).any(|w| w == af6));
    }

    #[test]
    fn del_requests_carry_keys_only() {
        let key = tcp_service().key;
        let mut want = vec![IPVS_CMD_DEL_SERVICE, 1, 0, 0, 0x30, 0x00, 0x01, 0x00];
        want.extend_from_slice(&TCP_SVC_KEY);
        assert_eq!(del_service(&key).unwrap().genl_payload(), want);
        let dk = DestKey {
            addr: "10.0.0.2".parse().unwrap(),
            port: 80,
        };
        let p = del_dest(&key, &dk).genl_payload();
        assert_eq!(p.len(), 4 + 48 + 4 + 36);
        assert_eq!(decode_dest_key(&p, None).unwrap(), dk);
        assert_eq!(decode_service_key(&p).unwrap(), key);
    }

    #[test]
    fn other_commands() {
        assert_eq!(flush().genl_payload(), [IPVS_CMD_FLUSH, 1, 0, 0]);
        assert_eq!(get_info().genl_payload(), [IPVS_CMD_GET_INFO, 1, 0, 0]);
        assert!(get_services().dump && get_daemons().dump);
        let cfg = Config {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        };
        #[rustfmt::skip]
        let want = [
            IPVS_CMD_SET_CONFIG, 1, 0, 0,
            0x08, 0x00, 0x04, 0x00, 0x84, 0x03, 0x00, 0x00, // TIMEOUT_TCP = 900
            0x08, 0x00, 0x05, 0x00, 0x78, 0x00, 0x00, 0x00, // TIMEOUT_TCP_FIN = 120
            0x08, 0x00, 0x06, 0x00, 0x2c, 0x01, 0x00, 0x00, // TIMEOUT_UDP = 300
        ];
        assert_eq!(set_config(&cfg).genl_payload(), want);
        assert_eq!(decode_config(&want).unwrap(), cfg);

        let mut d = Daemon::new(DaemonState::Backup, "eth0", 9);
        d.mcast_group = Some("239.1.2.3".parse().unwrap());
        d.mcast_port = Some(8848);
        d.mcast_ttl = Some(2);
        d.sync_maxlen = Some(1460);
        let p = new_daemon(&d).unwrap().genl_payload();
        #[rustfmt::skip]
        let want = [
            IPVS_CMD_NEW_DAEMON, 1, 0, 0,
            0x40, 0x00, 0x03, 0x00,                         // CMD_ATTR_DAEMON, 4 + 60
            0x08, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, // STATE = BACKUP
            0x09, 0x00, 0x02, 0x00, b'e', b't', b'h', b'0', // MCAST_IFN "eth0\0"
            0x00, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x03, 0x00, 0x09, 0x00, 0x00, 0x00, // SYNC_ID = 9
            0x06, 0x00, 0x04, 0x00, 0xb4, 0x05, 0x00, 0x00, // SYNC_MAXLEN = 1460
            0x08, 0x00, 0x05, 0x00, 239, 1, 2, 3,           // MCAST_GROUP (in_addr)
            0x06, 0x00, 0x07, 0x00, 0x22, 0x90, 0x00, 0x00, // MCAST_PORT = 8848, big-endian
            0x05, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, // MCAST_TTL = 2
        ];
        assert_eq!(p, want);
        assert_eq!(decode_daemon(&p).unwrap(), d);
        assert_eq!(
            del_daemon(DaemonState::Master).genl_payload(),
            [
                IPVS_CMD_DEL_DAEMON,
                1,
                0,
                0,
                0x0c,
                0x00,
                0x03,
                0x00,
                0x08,
                0x00,
                0x01,
                0x00,
                1,
                0,
                0,
                0
            ]
        );
    }

    #[test]
    fn names_too_long_for_the_kernel_are_refused() {
        let s = Service::new(tcp_service().key, "a-very-long-scheduler-name");
        let e = new_service(&s).unwrap_err();
        assert!(e.to_string().starts_with("TCP 10.0.0.1:80: scheduler"));
        let mut d = Destination::new("10.0.0.2".parse().unwrap(), 80, Forward::Route);
        d.weight = u32::MAX;
        assert!(new_dest(&s.key, &d).is_err());
    }

    /// A GET_SERVICE dump reply as the kernel writes it (cmd NEW_SERVICE), with both STATS
    /// and STATS64: 32-bit counters are u32 except the byte counters (u64), STATS64 is all
    /// u64; STATS64 must win.
    #[test]
    fn decodes_a_service_dump_reply() {
        #[rustfmt::skip]
        let mut msg = vec![
            IPVS_CMD_NEW_SERVICE, 1, 0, 0,
            0x94, 0x00, 0x01, 0x00,                         // CMD_ATTR_SERVICE, 4 + 144
        ];
        msg.extend_from_slice(&TCP_SVC_KEY);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            0x07, 0x00, 0x06, 0x00, b'r', b'r', 0x00, 0x00, // SCHED_NAME "rr"
            0x0c, 0x00, 0x07, 0x00, 0x03, 0x00, 0x00, 0x00, // FLAGS = PERSISTENT|HASHED
            0xff, 0xff, 0xff, 0xff,
            0x08, 0x00, 0x08, 0x00, 0x3c, 0x00, 0x00, 0x00, // TIMEOUT = 60
            0x08, 0x00, 0x09, 0x00, 255, 255, 255, 0,       // NETMASK = 255.255.255.0
            0x18, 0x00, 0x0a, 0x00,                         // STATS, 4 + 20
            0x08, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, //   CONNS = 5 (u32)
            0x0c, 0x00, 0x04, 0x00, 0x10, 0x27, 0x00, 0x00, //   INBYTES = 10000 (u64)
            0x00, 0x00, 0x00, 0x00,
            0x28, 0x00, 0x0c, 0x00,                         // STATS64, 4 + 36
            0x0c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, //   CONNS = 1 << 32 (u64)
            0x01, 0x00, 0x00, 0x00,
            0x0c, 0x00, 0x04, 0x00, 0x10, 0x27, 0x00, 0x00, //   INBYTES = 10000
            0x00, 0x00, 0x00, 0x00,
            0x0c, 0x00, 0x06, 0x00, 0x03, 0x00, 0x00, 0x00, //   CPS = 3
            0x00, 0x00, 0x00, 0x00,
        ]);
        let e = decode_service(&msg).unwrap();
        assert_eq!(e.service.key, tcp_service().key);
        assert_eq!(e.service.scheduler, "rr");
        assert_eq!(e.service.flags, ServiceFlags::PERSISTENT);
        assert_eq!(e.raw_flags, 3);
        assert_eq!(e.service.timeout, 60);
        assert_eq!(
            e.service.netmask,
            Netmask::V4("255.255.255.0".parse().unwrap())
        );
        assert_eq!(e.service.pe_name, None);
        let st = e.stats.unwrap();
        assert_eq!((st.conns, st.inbytes, st.cps), (1 << 32, 10000, 3));
    }

    /// A GET_DEST dump reply (cmd NEW_DEST) with counters, an ADDR_FAMILY and tunnel
    /// attributes that are ignored for a non-tunnel method, as newer kernels always send them.
    #[test]
    fn decodes_a_dest_dump_reply() {
        #[rustfmt::skip]
        let msg = vec![
            IPVS_CMD_NEW_DEST, 1, 0, 0,
            0x78, 0x00, 0x02, 0x00,                         // CMD_ATTR_DEST, 4 + 116
            0x14, 0x00, 0x01, 0x00, 10, 0, 0, 2,            // ADDR 10.0.0.2
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x06, 0x00, 0x02, 0x00, 0x00, 0x50, 0x00, 0x00, // PORT 80
            0x08, 0x00, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, // FWD_METHOD = DROUTE
            0x08, 0x00, 0x04, 0x00, 0x07, 0x00, 0x00, 0x00, // WEIGHT = 7
            0x08, 0x00, 0x05, 0x00, 0x64, 0x00, 0x00, 0x00, // U_THRESH = 100
            0x08, 0x00, 0x06, 0x00, 0x0a, 0x00, 0x00, 0x00, // L_THRESH = 10
            0x08, 0x00, 0x07, 0x00, 0x0c, 0x00, 0x00, 0x00, // ACTIVE_CONNS = 12
            0x08, 0x00, 0x08, 0x00, 0x22, 0x00, 0x00, 0x00, // INACT_CONNS = 34
            0x08, 0x00, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, // PERSIST_CONNS = 1
            0x06, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x00, 0x00, // ADDR_FAMILY = AF_INET
            0x05, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, // TUN_TYPE = IPIP
            0x06, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, // TUN_PORT = 0
            0x06, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, // TUN_FLAGS = 0
        ];
        let e = decode_dest(&msg, None).unwrap();
        assert_eq!(e.dest.addr, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(e.dest.port, 80);
        assert_eq!(e.dest.forward, Forward::Route);
        assert_eq!(
            (e.dest.weight, e.dest.u_threshold, e.dest.l_threshold),
            (7, 100, 10)
        );
        assert_eq!(
            (e.active_conns, e.inactive_conns, e.persistent_conns),
            (12, 34, 1)
        );
        assert_eq!(e.stats, None);
    }

    #[test]
    fn decodes_info_and_rejects_garbage() {
        #[rustfmt::skip]
        let info = [
            IPVS_CMD_SET_INFO, 1, 0, 0,
            0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x01, 0x00, // VERSION = 0x010201
            0x08, 0x00, 0x02, 0x00, 0x00, 0x10, 0x00, 0x00, // CONN_TAB_SIZE = 4096
        ];
        let i = decode_info(&info).unwrap();
        assert_eq!(
            (i.version_string(), i.conn_tab_size),
            ("1.2.1".into(), 4096)
        );
        assert!(decode_info(&info[..2]).is_err());
        assert!(decode_info(&info[..10]).is_err());
        assert!(decode_service(&info).is_err());
        // Unknown forwarding method 5.
        let bad = [
            5, 1, 0, 0, 0x28, 0, 2, 0, 0x14, 0, 1, 0, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 6, 0, 2, 0, 0, 80, 0, 0, 8, 0, 3, 0, 5, 0, 0, 0,
        ];
        assert!(matches!(
            decode_dest(&bad, Some(Family::Inet)),
            Err(DecodeError::Forward(5))
        ));
    }

    #[test]
    fn decode_any_dispatches_on_the_command() {
        let s = tcp_service();
        let d = Destination::new("10.0.0.2".parse().unwrap(), 80, Forward::Route);
        let p = new_dest(&s.key, &d).unwrap().genl_payload();
        match decode_any(&p).unwrap() {
            Decoded::Dest(IPVS_CMD_NEW_DEST, Some(k), e) => {
                assert_eq!((k, e.dest), (s.key, d));
            }
            other => panic!("{other:?}"),
        }
        let p = del_dest(&s.key, &d.key()).genl_payload();
        assert_eq!(
            decode_any(&p).unwrap(),
            Decoded::DestKey(IPVS_CMD_DEL_DEST, s.key, d.key())
        );
        let p = del_service(&s.key).unwrap().genl_payload();
        assert_eq!(
            decode_any(&p).unwrap(),
            Decoded::ServiceKey(IPVS_CMD_DEL_SERVICE, s.key)
        );
        let p = del_daemon(DaemonState::Backup).genl_payload();
        assert_eq!(
            decode_any(&p).unwrap(),
            Decoded::DaemonState(IPVS_CMD_DEL_DAEMON, DaemonState::Backup)
        );
        assert_eq!(
            decode_any(&flush().genl_payload()).unwrap(),
            Decoded::Bare(IPVS_CMD_FLUSH)
        );
    }

    #[test]
    fn requests_decode_back_to_what_was_encoded() {
        let s = tcp_service();
        let e = decode_service(&new_service(&s).unwrap().genl_payload()).unwrap();
        assert_eq!(e.service, s);
        let d = Destination::new(
            "2001:db8::5".parse().unwrap(),
            443,
            Forward::Tunnel {
                kind: TunnelType::Gre,
                port: 0,
                flags: TunnelFlags::REMCSUM,
            },
        );
        let p = new_dest(&s.key, &d).unwrap().genl_payload();
        assert_eq!(decode_dest(&p, None).unwrap().dest, d);
    }
}

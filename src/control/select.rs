//! Naming virtual and real servers on the command line, and finding them in the configuration.
//!
//! Virtual servers: `*` (every one), `ADDR:PORT` (any protocol), `tcp:ADDR:PORT` (udp, sctp),
//! keepalived's `[ADDR]:tcp:PORT`, `fwm:N` (also `fwmark:N`), `group:NAME`; IPv6 addresses in
//! brackets. Real servers: `ADDR` (every port) or `ADDR:PORT`.

use std::net::IpAddr;

use crate::config::model::{Config, Protocol, VsKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VsSel {
    All,
    Addr {
        protocol: Option<Protocol>,
        ip: IpAddr,
        port: u16,
    },
    Fwmark(u32),
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsSel {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

fn protocol(s: &str) -> Option<Protocol> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Some(Protocol::Tcp),
        "udp" => Some(Protocol::Udp),
        "sctp" => Some(Protocol::Sctp),
        _ => None,
    }
}

/// `ADDR`, `[ADDR]`, `ADDR:PORT` or `[ADDR]:PORT`.
fn addr_port(s: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (a, tail) = rest.split_once(']')?;
        let ip = a.parse().ok()?;
        return match tail {
            "" => Some((ip, None)),
            t => Some((ip, Some(t.strip_prefix(':')?.parse().ok()?))),
        };
    }
    if let Ok(ip) = s.parse() {
        return Some((ip, None));
    }
    let (a, p) = s.rsplit_once(':')?;
    let ip: IpAddr = a.parse().ok()?;
    // A bare IPv6 address with a port is ambiguous: brackets are required.
    if ip.is_ipv6() {
        return None;
    }
    Some((ip, Some(p.parse().ok()?)))
}

pub fn parse_vs(s: &str) -> Result<VsSel, String> {
    let bad = || {
        format!("'{s}' is not a virtual server: expected *, ADDR:PORT, tcp:ADDR:PORT, [ADDR]:tcp:PORT, fwm:N or group:NAME")
    };
    if s == "*" {
        return Ok(VsSel::All);
    }
    if let Some(n) = s
        .strip_prefix("fwm:")
        .or_else(|| s.strip_prefix("fwmark:"))
        .or_else(|| s.strip_prefix("FWM "))
    {
        return n.trim().parse().map(VsSel::Fwmark).map_err(|_| bad());
    }
    if let Some(name) = s.strip_prefix("group:") {
        return Ok(VsSel::Group(name.to_string()));
    }
    // keepalived's label: [ADDR]:proto:PORT
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((a, tail)) = rest.split_once(']') {
            let parts: Vec<&str> = tail.split(':').collect();
            if let ["", p, port] = parts[..] {
                let (ip, port) = (
                    a.parse().map_err(|_| bad())?,
                    port.parse().map_err(|_| bad())?,
                );
                return Ok(VsSel::Addr {
                    protocol: Some(protocol(p).ok_or_else(bad)?),
                    ip,
                    port,
                });
            }
        }
    }
    let (proto, rest) = match s.split_once(':') {
        Some((p, rest)) if protocol(p).is_some() => (protocol(p), rest),
        _ => (None, s),
    };
    match addr_port(rest) {
        Some((ip, Some(port))) => Ok(VsSel::Addr {
            protocol: proto,
            ip,
            port,
        }),
        _ => Err(bad()),
    }
}

pub fn parse_rs(s: &str) -> Result<RsSel, String> {
    addr_port(s)
        .map(|(ip, port)| RsSel { ip, port })
        .ok_or_else(|| {
            format!("'{s}' is not a real server: expected ADDR or ADDR:PORT ([ADDR]:PORT for IPv6)")
        })
}

/// The (virtual server, real server) indexes the two names stand for; an error names what matched
/// nothing, or a virtual server name that fits several protocols.
pub fn resolve(cfg: &Config, vs: &str, rs: &str) -> Result<Vec<(usize, usize)>, String> {
    let vsel = parse_vs(vs)?;
    let rsel = parse_rs(rs)?;
    let services: Vec<usize> = cfg
        .virtual_servers
        .iter()
        .enumerate()
        .filter(|(_, v)| match (&vsel, &v.key) {
            (VsSel::All, _) => true,
            (VsSel::Addr { protocol, ip, port }, VsKey::Addr { ip: i, port: p }) => {
                ip == i && port == p && protocol.is_none_or(|pr| pr == v.protocol)
            }
            (VsSel::Fwmark(m), VsKey::Fwmark { mark }) => m == mark,
            (VsSel::Group(g), VsKey::Group { name }) => g == name,
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    if services.is_empty() {
        return Err(format!("no virtual_server is '{vs}'"));
    }
    if let VsSel::Addr { protocol: None, .. } = vsel {
        if services.len() > 1 {
            return Err(format!(
                "'{vs}' is several virtual servers (one per protocol): say tcp:{vs}, udp:{vs} or sctp:{vs}"
            ));
        }
    }
    let out: Vec<(usize, usize)> = services
        .iter()
        .flat_map(|&v| {
            cfg.virtual_servers[v]
                .real_servers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.ip == rsel.ip && rsel.port.is_none_or(|p| p == r.port))
                .map(move |(i, _)| (v, i))
        })
        .collect();
    if out.is_empty() {
        return Err(format!("no real_server {rs} in virtual server {vs}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_server_names() {
        let v4 = |p: Option<Protocol>, port| VsSel::Addr {
            protocol: p,
            ip: "10.0.0.1".parse().unwrap(),
            port,
        };
        assert_eq!(parse_vs("*"), Ok(VsSel::All));
        assert_eq!(parse_vs("10.0.0.1:80"), Ok(v4(None, 80)));
        assert_eq!(parse_vs("tcp:10.0.0.1:80"), Ok(v4(Some(Protocol::Tcp), 80)));
        assert_eq!(parse_vs("UDP:10.0.0.1:53"), Ok(v4(Some(Protocol::Udp), 53)));
        assert_eq!(
            parse_vs("[10.0.0.1]:tcp:80"),
            Ok(v4(Some(Protocol::Tcp), 80))
        );
        assert_eq!(parse_vs("fwm:7"), Ok(VsSel::Fwmark(7)));
        assert_eq!(parse_vs("FWM 7"), Ok(VsSel::Fwmark(7)));
        assert_eq!(parse_vs("group:web"), Ok(VsSel::Group("web".into())));
        assert_eq!(
            parse_vs("[2001:db8::1]:443"),
            Ok(VsSel::Addr {
                protocol: None,
                ip: "2001:db8::1".parse().unwrap(),
                port: 443
            })
        );
        for bad in [
            "10.0.0.1",
            "2001:db8::1:443",
            "fwm:x",
            "tcp:",
            "[::1]:tcp",
            "host:80",
        ] {
            assert!(parse_vs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn real_server_names() {
        assert_eq!(
            parse_rs("10.0.0.2"),
            Ok(RsSel {
                ip: "10.0.0.2".parse().unwrap(),
                port: None
            })
        );
        assert_eq!(parse_rs("10.0.0.2:8080").unwrap().port, Some(8080));
        assert_eq!(parse_rs("[2001:db8::2]:80").unwrap().port, Some(80));
        assert_eq!(parse_rs("2001:db8::2").unwrap().port, None);
        assert!(parse_rs("10.0.0.2:x").is_err());
    }
}

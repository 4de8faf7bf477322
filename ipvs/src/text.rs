//! A small line-based text form of a [`Table`] (used by the `ipvsctl` example), and a
//! listing in the style of `ipvsadm -Ln`.
//!
//! ```text
//! # comment
//! service tcp 10.0.0.1:80 sched wrr persistent 300 netmask 255.255.255.0
//! dest 10.0.0.2:80 route weight 3
//! dest 10.0.0.3:80 masq weight 1 uthresh 100 lthresh 10
//! service udp [2001:db8::1]:53 sched rr ops
//! dest [2001:db8::10]:53 tunnel gue tun-port 6080 tun-csum
//! service fwmark 7 inet6 sched sh sh-port sh-fallback pe sip
//! ```
//!
//! A `service` line: `tcp|udp|sctp ADDR:PORT` or `fwmark MARK [inet|inet6]`, then options
//! `sched NAME` (default wlc), `persistent SECONDS`, `netmask MASK` (IPv4 dotted mask, or an
//! IPv6 prefix length), `pe NAME`, and the flags `ops` (one-packet), `sh-fallback`,
//! `sh-port`, `mh-fallback`, `mh-port`, `flags N` (raw value).
//! A `dest` line belongs to the service above it: `ADDR:PORT`, then a forwarding method
//! `masq|local|route|bypass|tunnel` (default route), `tunnel` options `ipip|gue|gre`,
//! `tun-port N`, `tun-csum`, `tun-remcsum`, and `weight N` (default 1), `uthresh N`,
//! `lthresh N`.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::plan::Table;
use crate::types::*;

/// A line of the text form that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TextError {
    pub line: usize,
    pub message: String,
}

fn parse_sockaddr(s: &str) -> Option<(IpAddr, u16)> {
    let sa: std::net::SocketAddr = s.parse().ok()?;
    Some((sa.ip(), sa.port()))
}

fn num<T: std::str::FromStr>(
    words: &mut std::slice::Iter<'_, &str>,
    what: &str,
) -> Result<T, String> {
    let w = words
        .next()
        .ok_or_else(|| format!("{what} needs a value"))?;
    w.parse().map_err(|_| format!("{what}: bad number {w:?}"))
}

fn parse_service(words: &[&str]) -> Result<Service, String> {
    let mut it = words.iter();
    let kind = it.next().ok_or("service needs a protocol or fwmark")?;
    let key = match *kind {
        "fwmark" => {
            let mark: u32 = num(&mut it, "fwmark")?;
            let family = match it.as_slice().first() {
                Some(&"inet6") => {
                    it.next();
                    Family::Inet6
                }
                Some(&"inet") => {
                    it.next();
                    Family::Inet
                }
                _ => Family::Inet,
            };
            ServiceKey::Fwmark { family, mark }
        }
        p => {
            let protocol = match p {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                other => return Err(format!("unknown protocol {other:?}")),
            };
            let a = it.next().ok_or("service needs ADDR:PORT")?;
            let (addr, port) = parse_sockaddr(a).ok_or(format!("bad ADDR:PORT {a:?}"))?;
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            }
        }
    };
    let mut s = Service::new(key, "wlc");
    while let Some(w) = it.next() {
        match *w {
            "sched" => s.scheduler = it.next().ok_or("sched needs a name")?.to_string(),
            "persistent" => {
                s.flags |= ServiceFlags::PERSISTENT;
                s.timeout = num(&mut it, "persistent")?;
            }
            "netmask" => {
                let m = it.next().ok_or("netmask needs a value")?;
                s.netmask = match key.family() {
                    Family::Inet => Netmask::V4(m.parse().map_err(|_| format!("bad mask {m:?}"))?),
                    Family::Inet6 => match m.parse::<u8>() {
                        Ok(p) if (1..=128).contains(&p) => Netmask::V6(p),
                        _ => return Err(format!("bad IPv6 prefix length {m:?}")),
                    },
                };
            }
            "pe" => s.pe_name = Some(it.next().ok_or("pe needs a name")?.to_string()),
            "ops" => s.flags |= ServiceFlags::ONEPACKET,
            "sh-fallback" => s.flags |= ServiceFlags::SH_FALLBACK,
            "sh-port" => s.flags |= ServiceFlags::SH_PORT,
            "mh-fallback" => s.flags |= ServiceFlags::MH_FALLBACK,
            "mh-port" => s.flags |= ServiceFlags::MH_PORT,
            "flags" => s.flags |= ServiceFlags(num(&mut it, "flags")?),
            other => return Err(format!("unknown service option {other:?}")),
        }
    }
    Ok(s)
}

fn parse_dest(words: &[&str]) -> Result<Destination, String> {
    let mut it = words.iter();
    let a = it.next().ok_or("dest needs ADDR:PORT")?;
    let (addr, port) = parse_sockaddr(a).ok_or(format!("bad ADDR:PORT {a:?}"))?;
    let mut d = Destination::new(addr, port, Forward::Route);
    let (mut kind, mut tport, mut tflags) = (TunnelType::Ipip, 0u16, TunnelFlags(0));
    while let Some(w) = it.next() {
        match *w {
            "masq" | "nat" => d.forward = Forward::Masq,
            "local" => d.forward = Forward::Local,
            "route" | "dr" => d.forward = Forward::Route,
            "bypass" => d.forward = Forward::Bypass,
            "tunnel" | "tun" => d.forward = Forward::TUNNEL,
            "ipip" => kind = TunnelType::Ipip,
            "gue" => kind = TunnelType::Gue,
            "gre" => kind = TunnelType::Gre,
            "tun-port" => tport = num(&mut it, "tun-port")?,
            "tun-csum" => tflags.0 |= TunnelFlags::CSUM.0,
            "tun-remcsum" => tflags.0 |= TunnelFlags::REMCSUM.0,
            "weight" => d.weight = num(&mut it, "weight")?,
            "uthresh" => d.u_threshold = num(&mut it, "uthresh")?,
            "lthresh" => d.l_threshold = num(&mut it, "lthresh")?,
            other => return Err(format!("unknown dest option {other:?}")),
        }
    }
    if let Forward::Tunnel { .. } = d.forward {
        d.forward = Forward::Tunnel {
            kind,
            port: tport,
            flags: tflags,
        };
    }
    Ok(d)
}

/// Parses the text form into a table.
pub fn parse_table(text: &str) -> Result<Table, TextError> {
    let mut table = Table::new();
    let mut current: Option<ServiceKey> = None;
    for (i, raw) in text.lines().enumerate() {
        let err = |message: String| TextError {
            line: i + 1,
            message,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            None => continue,
            Some(&"service") => {
                let s = parse_service(&words[1..]).map_err(err)?;
                if table.services.contains_key(&s.key) {
                    return Err(err(format!("{} is listed twice", s.key)));
                }
                current = Some(s.key);
                table.insert_service(s);
            }
            Some(&"dest") => {
                let key = current.ok_or_else(|| err("dest before any service".into()))?;
                let d = parse_dest(&words[1..]).map_err(err)?;
                table.insert_dest(&key, d).map_err(|e| err(e.to_string()))?;
            }
            Some(other) => return Err(err(format!("expected service or dest, got {other:?}"))),
        }
    }
    Ok(table)
}

/// Writes a table in the text form that [`parse_table`] reads.
pub fn format_table(table: &Table) -> String {
    let mut out = String::new();
    for vs in table.services.values() {
        let s = &vs.service;
        let _ = match s.key {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(
                out,
                "service {} {}",
                protocol.name().to_lowercase(),
                SockAddr(&addr, port)
            ),
            ServiceKey::Fwmark { family, mark } => write!(
                out,
                "service fwmark {mark} {}",
                if family == Family::Inet6 {
                    "inet6"
                } else {
                    "inet"
                }
            ),
        };
        let _ = write!(out, " sched {}", s.scheduler);
        let mut flags = s.flags;
        if flags.contains(ServiceFlags::PERSISTENT) {
            let _ = write!(out, " persistent {}", s.timeout);
            flags = flags.without(ServiceFlags::PERSISTENT);
        }
        if flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" ops");
            flags = flags.without(ServiceFlags::ONEPACKET);
        }
        for name in sched_flag_names(s) {
            if !name.starts_with("flag-") {
                let _ = write!(out, " {name}");
                flags = flags.without(match name {
                    "sh-fallback" | "mh-fallback" => ServiceFlags::SCHED1,
                    _ => ServiceFlags::SCHED2,
                });
            }
        }
        if flags.0 != 0 {
            let _ = write!(out, " flags {}", flags.0);
        }
        if s.netmask != Netmask::full(s.key.family()) {
            let _ = match s.netmask {
                Netmask::V4(m) => write!(out, " netmask {m}"),
                Netmask::V6(p) => write!(out, " netmask {p}"),
            };
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(out, " pe {pe}");
        }
        out.push('\n');
        for d in vs.dests.values() {
            let _ = write!(out, "dest {}", SockAddr(&d.addr, d.port));
            let _ = match d.forward {
                Forward::Tunnel { kind, port, flags } => {
                    let k = match kind {
                        TunnelType::Ipip => "ipip",
                        TunnelType::Gue => "gue",
                        TunnelType::Gre => "gre",
                    };
                    let _ = write!(out, " tunnel {k}");
                    if port != 0 {
                        let _ = write!(out, " tun-port {port}");
                    }
                    if flags.0 & TunnelFlags::CSUM.0 != 0 {
                        out.push_str(" tun-csum");
                    }
                    if flags.0 & TunnelFlags::REMCSUM.0 != 0 {
                        out.push_str(" tun-remcsum");
                    }
                    Ok(())
                }
                f => write!(out, " {}", f.name().to_lowercase()),
            };
            let _ = write!(out, " weight {}", d.weight);
            if d.u_threshold != 0 {
                let _ = write!(out, " uthresh {}", d.u_threshold);
            }
            if d.l_threshold != 0 {
                let _ = write!(out, " lthresh {}", d.l_threshold);
            }
            out.push('\n');
        }
    }
    out
}

/// Names of the scheduler flags set on a service, as ipvsadm prints them: the sh and mh
/// schedulers give SCHED1/SCHED2 a meaning, other schedulers get `flag-N`.
fn sched_flag_names(s: &Service) -> Vec<&'static str> {
    let named: [&'static str; 3] = match s.scheduler.as_str() {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    [
        ServiceFlags::SCHED1,
        ServiceFlags::SCHED2,
        ServiceFlags::SCHED3,
    ]
    .iter()
    .zip(named)
    .filter(|(f, _)| s.flags.contains(**f))
    .map(|(_, n)| n)
    .collect()
}

/// A listing like `ipvsadm -Ln`.
pub fn format_listing(info: Option<&Info>, entries: &[(ServiceEntry, Vec<DestEntry>)]) -> String {
    let mut out = String::new();
    if let Some(i) = info {
        let _ = writeln!(
            out,
            "IP Virtual Server version {} (size={})",
            i.version_string(),
            i.conn_tab_size
        );
    }
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for (se, dests) in entries {
        let s = &se.service;
        let _ = match s.key {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => write!(
                out,
                "{:<4} {} {}",
                protocol.name(),
                SockAddr(&addr, port),
                s.scheduler
            ),
            ServiceKey::Fwmark { family, mark } => write!(
                out,
                "FWM  {mark} {}{}",
                if family == Family::Inet6 { "IPv6 " } else { "" },
                s.scheduler
            ),
        };
        let flags = sched_flag_names(s);
        if !flags.is_empty() {
            let _ = write!(out, " ({})", flags.join(","));
        }
        if s.flags.contains(ServiceFlags::PERSISTENT) {
            let _ = write!(out, " persistent {}", s.timeout);
            if s.netmask != Netmask::full(s.key.family()) {
                let _ = match s.netmask {
                    Netmask::V4(m) => write!(out, " mask {m}"),
                    Netmask::V6(p) => write!(out, " mask {p}"),
                };
            }
        }
        if s.flags.contains(ServiceFlags::ONEPACKET) {
            out.push_str(" ops");
        }
        if let Some(pe) = &s.pe_name {
            let _ = write!(out, " pe {pe}");
        }
        out.push('\n');
        for d in dests {
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                SockAddr(&d.dest.addr, d.dest.port).to_string(),
                d.dest.forward.name(),
                d.dest.weight,
                d.active_conns,
                d.inactive_conns
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# two services
service tcp 10.0.0.1:80 sched wrr persistent 300 netmask 255.255.255.0
dest 10.0.0.2:80 route weight 3
dest 10.0.0.3:80 masq weight 1 uthresh 100 lthresh 10
service udp [2001:db8::1]:53 sched rr ops
dest [2001:db8::10]:53 tunnel gue tun-port 6080 tun-csum weight 1
service fwmark 7 inet6 sched sh sh-port pe sip
service fwmark 8 sched mh mh-fallback flags 32
";

    #[test]
    fn parses_services_and_dests() {
        let t = parse_table(SAMPLE).unwrap();
        assert_eq!(t.services.len(), 4);
        assert_eq!(t.dest_count(), 3);
        let k = ServiceKey::tcp("10.0.0.1".parse().unwrap(), 80);
        let vs = &t.services[&k];
        assert_eq!(vs.service.scheduler, "wrr");
        assert!(vs.service.flags.contains(ServiceFlags::PERSISTENT));
        assert_eq!(vs.service.timeout, 300);
        assert_eq!(
            vs.service.netmask,
            Netmask::V4("255.255.255.0".parse().unwrap())
        );
        let masq = vs
            .dests
            .values()
            .find(|d| d.forward == Forward::Masq)
            .unwrap();
        assert_eq!((masq.u_threshold, masq.l_threshold), (100, 10));
        let fw = ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7,
        };
        assert_eq!(t.services[&fw].service.pe_name.as_deref(), Some("sip"));
        assert_eq!(t.services[&fw].service.flags, ServiceFlags::SH_PORT);
    }

    #[test]
    fn format_then_parse_round_trips() {
        let t = parse_table(SAMPLE).unwrap();
        let text = format_table(&t);
        assert!(text.contains("sched sh sh-port pe sip\n"), "{text}");
        assert!(text.contains("sched mh mh-fallback flags 32\n"), "{text}");
        let again = parse_table(&text).unwrap();
        assert_eq!(t, again);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_table("service tcp 10.0.0.1:80\ndest 10.0.0.2 route\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_table("dest 10.0.0.2:80\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn listing_looks_like_ipvsadm() {
        let t = parse_table("service tcp 10.0.0.1:80 sched rr\ndest 10.0.0.2:80 masq weight 2\n")
            .unwrap();
        let vs = t.services.values().next().unwrap();
        let entries = vec![(
            ServiceEntry {
                service: vs.service.clone(),
                raw_flags: 2,
                stats: None,
            },
            vs.dests
                .values()
                .map(|d| DestEntry {
                    dest: *d,
                    active_conns: 4,
                    inactive_conns: 5,
                    persistent_conns: 0,
                    stats: None,
                })
                .collect(),
        )];
        let text = format_listing(None, &entries);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "TCP  10.0.0.1:80 rr");
        assert_eq!(
            lines[3].trim_end(),
            "  -> 10.0.0.2:80                  Masq    2      4          5"
        );
    }
}

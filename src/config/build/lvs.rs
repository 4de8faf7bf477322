//! virtual_server_group, virtual_server and real_server. Options cascade as keepalived documents: the
//! virtual server's setting is the default for its real servers, the real server's for its checkers.

use super::check::{checker, is_checker, Inherit};
use super::global::set;
use super::settle;
use super::vrrp::KeywordSpans;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::tree::Node;
use crate::config::values::{parse_i64, parse_ip, Ctx};
use std::net::IpAddr;

pub const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

pub fn virtual_server_group(ctx: &mut Ctx, node: &Node) -> VirtualServerGroup {
    let name = match node.args.first() {
        Some(t) => t.text.clone(),
        None => {
            ctx.err(
                node.end_span(),
                "'virtual_server_group': expected a group name",
            );
            String::new()
        }
    };
    let mut g = VirtualServerGroup {
        name,
        entries: Vec::new(),
        span: node.span(),
    };
    for n in ctx.block(node) {
        ctx.no_block(n);
        if n.kw() == "fwmark" {
            let Some(t) = ctx.arg(n, 0, "a firewall mark number") else {
                continue;
            };
            let Some(mark) = ctx.int_in(n, t, 1, i64::from(u32::MAX)) else {
                continue;
            };
            let inet6 = match n.args.get(1).map(|t| t.text.as_str()) {
                None => None,
                Some("inet") => Some(false),
                Some("inet6") => Some(true),
                Some(o) => {
                    ctx.err(
                        n.args[1].span,
                        format!("fwmark {mark}: expected inet or inet6, found '{o}'"),
                    );
                    None
                }
            };
            g.entries.push(VsgEntry::Fwmark {
                mark: mark as u32,
                inet6,
            });
            continue;
        }
        let Some((first, last)) = address_range(ctx, &n.name) else {
            continue;
        };
        let port = match n.args.first() {
            Some(p) => match ctx.port_tok(n, p) {
                Some(p) => p,
                None => continue,
            },
            None => 0,
        };
        ctx.extra(n, 1);
        g.entries.push(VsgEntry::Range { first, last, port });
    }
    g
}

/// `10.0.0.1`, `10.0.0.1-10` (last octet), `10.0.0.250-10.0.1.10`, `10.0.0.8/29`, and IPv6 equivalents.
fn address_range(ctx: &mut Ctx, t: &Token) -> Option<(IpAddr, IpAddr)> {
    let s = t.text.as_str();
    let bad = |ctx: &mut Ctx| {
        ctx.err(t.span, format!("virtual_server_group: expected an address, a range (10.0.0.1-10) or a prefix (10.0.0.8/29), found '{s}'"));
        None
    };
    if let Some((a, p)) = s.split_once('/') {
        let Some(addr) = parse_ip(a) else {
            return bad(ctx);
        };
        let Ok(p) = p.parse::<u32>() else {
            return bad(ctx);
        };
        return match addr {
            IpAddr::V4(v4) if p <= 32 => {
                let base = u32::from(v4) & if p == 0 { 0 } else { u32::MAX << (32 - p) };
                let last = base | if p == 32 { 0 } else { u32::MAX >> p };
                Some((
                    IpAddr::from(base.to_be_bytes()),
                    IpAddr::from(last.to_be_bytes()),
                ))
            }
            IpAddr::V6(v6) if p <= 128 => {
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                let base = u128::from(v6) & mask;
                Some((
                    IpAddr::from(base.to_be_bytes()),
                    IpAddr::from((base | !mask).to_be_bytes()),
                ))
            }
            _ => bad(ctx),
        };
    }
    if let Some((a, b)) = s.split_once('-') {
        let Some(first) = parse_ip(a) else {
            return bad(ctx);
        };
        let last = if let Some(full) = parse_ip(b) {
            full
        } else {
            // Only the last part (octet, or IPv6 group in hex) is given.
            match first {
                IpAddr::V4(v4) => {
                    let Ok(o) = b.parse::<u8>() else {
                        return bad(ctx);
                    };
                    let mut oct = v4.octets();
                    oct[3] = o;
                    IpAddr::from(oct)
                }
                IpAddr::V6(v6) => {
                    let Ok(g) = u16::from_str_radix(b, 16) else {
                        return bad(ctx);
                    };
                    let mut seg = v6.segments();
                    seg[7] = g;
                    IpAddr::from(seg)
                }
            }
        };
        if first.is_ipv4() != last.is_ipv4() || ip_u128(last) < ip_u128(first) {
            ctx.err(t.span, format!("virtual_server_group: range '{s}' ends before it starts or mixes address families"));
            return None;
        }
        return Some((first, last));
    }
    match parse_ip(s) {
        Some(a) => Some((a, a)),
        None => bad(ctx),
    }
}

fn ip_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// `NAT`, `DR`, `TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]` from argument `from`.
pub fn lvs_method(ctx: &mut Ctx, n: &Node) -> Option<LvsMethod> {
    let t = ctx.arg(n, 0, "NAT, DR or TUN")?;
    match t.text.to_ascii_uppercase().as_str() {
        "NAT" | "MASQ" => {
            ctx.extra(n, 1);
            Some(LvsMethod::Nat)
        }
        "DR" => {
            ctx.extra(n, 1);
            Some(LvsMethod::Dr)
        }
        "TUN" => {
            let mut tunnel_type = TunnelType::Ipip;
            let mut port = None;
            let mut csum = None;
            let mut i = 1;
            while i < n.args.len() {
                let a = &n.args[i];
                match a.text.as_str() {
                    "type" => {
                        let Some(v) = n.args.get(i + 1) else {
                            ctx.err(
                                n.end_span(),
                                "'lvs_method TUN type': expected ipip, gue or gre",
                            );
                            return None;
                        };
                        tunnel_type = match v.text.as_str() {
                            "ipip" => TunnelType::Ipip,
                            "gue" => TunnelType::Gue,
                            "gre" => TunnelType::Gre,
                            o => {
                                ctx.err(v.span, format!("'lvs_method TUN type': expected ipip, gue or gre, found '{o}'"));
                                return None;
                            }
                        };
                        i += 2;
                    }
                    "port" => {
                        let Some(v) = n.args.get(i + 1) else {
                            ctx.err(
                                n.end_span(),
                                "'lvs_method TUN': expected a port number after 'port'",
                            );
                            return None;
                        };
                        port = Some(ctx.int_in(n, v, 1, 65535)? as u16);
                        i += 2;
                    }
                    "nocsum" => (csum, i) = (Some(TunnelCsum::Nocsum), i + 1),
                    "csum" => (csum, i) = (Some(TunnelCsum::Csum), i + 1),
                    "remcsum" => (csum, i) = (Some(TunnelCsum::Remcsum), i + 1),
                    o => {
                        ctx.err(a.span, format!("'lvs_method TUN': expected type, port, nocsum, csum or remcsum, found '{o}'"));
                        return None;
                    }
                }
            }
            if tunnel_type == TunnelType::Gue && port.is_none() {
                ctx.err(n.span(), "'lvs_method TUN type gue' needs 'port N'");
                return None;
            }
            if tunnel_type != TunnelType::Gue && port.is_some() {
                ctx.err(n.span(), "'lvs_method TUN': 'port' is only for type gue");
                return None;
            }
            if tunnel_type == TunnelType::Gre && csum == Some(TunnelCsum::Remcsum) {
                ctx.err(
                    n.span(),
                    "'lvs_method TUN type gre' does not support remcsum",
                );
                return None;
            }
            if tunnel_type == TunnelType::Ipip && csum.is_some() {
                ctx.err(
                    n.span(),
                    "'lvs_method TUN': checksum options need type gue or gre",
                );
                return None;
            }
            Some(LvsMethod::Tun {
                tunnel_type,
                port,
                csum,
            })
        }
        other => {
            ctx.err(
                t.span,
                format!("'{}': expected NAT, DR or TUN, found '{other}'", n.kw()),
            );
            None
        }
    }
}

fn vs_key(ctx: &mut Ctx, node: &Node) -> Option<VsKey> {
    let a0 = ctx
        .arg(node, 0, "IP PORT, 'fwmark N' or 'group NAME'")
        .cloned();
    let a0 = a0?;
    match a0.text.as_str() {
        "fwmark" => {
            let t = node.args.get(1).or_else(|| {
                ctx.err(
                    node.end_span(),
                    "'virtual_server fwmark': expected a firewall mark number",
                );
                None
            })?;
            let mark = ctx.int_in(node, t, 1, i64::from(u32::MAX))? as u32;
            Some(VsKey::Fwmark { mark })
        }
        "group" => {
            let t = node.args.get(1).or_else(|| {
                ctx.err(
                    node.end_span(),
                    "'virtual_server group': expected a virtual_server_group name",
                );
                None
            })?;
            Some(VsKey::Group {
                name: t.text.clone(),
            })
        }
        _ => {
            let ip = ctx.ip_tok(node, &a0)?;
            let port = match node.args.get(1) {
                Some(p) => ctx.port_tok(node, p)?,
                None => 0,
            };
            Some(VsKey::Addr { ip, port })
        }
    }
}

pub fn virtual_server(ctx: &mut Ctx, node: &Node) -> Option<VirtualServer> {
    // Parse the rest of the block even when the header is bad, so its errors are reported too.
    let key = vs_key(ctx, node);
    if node.block.is_none() {
        ctx.err(
            node.end_span(),
            "'virtual_server': expected '{' opening its block",
        );
        return None;
    }
    let mut vs = VirtualServer {
        key: VsKey::Fwmark { mark: 0 },
        protocol: Protocol::Udp,
        lvs_sched: "wlc".into(),
        lvs_method: LvsMethod::Nat,
        sched_flags: SchedFlags::default(),
        ops: false,
        persistence_timeout: None,
        persistence_granularity: None,
        persistence_engine: None,
        ip_family: None,
        delay_loop: Timer::secs(60),
        ha_suspend: false,
        alpha: false,
        omega: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        sorry_server: None,
        virtualhost: None,
        inhibit_on_failure: false,
        smtp_alert: None,
        snmp_name: None,
        real_servers: Vec::new(),
        span: node.span(),
    };
    let mut protocol_set = false;
    let mut inherit = Inherit::default();
    let mut real_nodes = Vec::new();
    let mut sorry: Option<(IpAddr, u16)> = None;
    let mut sorry_inhibit = false;
    let mut sorry_method = None;
    let mut spans = KeywordSpans::default();
    for n in node.block.as_deref().unwrap_or(&[]) {
        spans.note(n);
        let kw = n.kw();
        match kw {
            "real_server" => real_nodes.push(n),
            "lvs_sched" | "lb_algo" => {
                if let Some(s) = ctx.string(n, "a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos)") {
                    if SCHEDULERS.contains(&s.as_str()) {
                        vs.lvs_sched = s;
                    } else {
                        ctx.err(n.args[0].span, format!("'{kw}': unknown scheduler '{s}' (expected one of {})", SCHEDULERS.join(", ")));
                    }
                }
            }
            "lvs_method" | "lb_kind" => set(&mut vs.lvs_method, lvs_method(ctx, n)),
            "protocol" => {
                if let Some(t) = ctx.one(n, "TCP, UDP or SCTP") {
                    match t.text.to_ascii_uppercase().as_str() {
                        "TCP" => vs.protocol = Protocol::Tcp,
                        "UDP" => vs.protocol = Protocol::Udp,
                        "SCTP" => vs.protocol = Protocol::Sctp,
                        o => ctx.err(
                            t.span,
                            format!("'protocol': expected TCP, UDP or SCTP, found '{o}'"),
                        ),
                    }
                    protocol_set = true;
                }
            }
            "persistence_timeout" => {
                vs.persistence_timeout = match n.args.first() {
                    None => Some(360),
                    Some(_) => ctx.u32v(n, 1, i32::MAX as u32),
                }
            }
            "persistence_granularity" => vs.persistence_granularity = granularity(ctx, n),
            "persistence_engine" => {
                vs.persistence_engine = ctx.string(n, "a persistence engine name (sip)")
            }
            "ip_family" => {
                if let Some(t) = ctx.one(n, "inet or inet6") {
                    if t.text == "inet" || t.text == "inet6" {
                        vs.ip_family = Some(t.text.clone());
                    } else {
                        ctx.err(
                            t.span,
                            format!("'ip_family': expected inet or inet6, found '{}'", t.text),
                        );
                    }
                }
            }
            "ha_suspend" => set(&mut vs.ha_suspend, ctx.flag(n)),
            "alpha" => set(&mut vs.alpha, ctx.flag(n)),
            "omega" => set(&mut vs.omega, ctx.flag(n)),
            "quorum" => set(&mut vs.quorum, ctx.u32v(n, 0, i32::MAX as u32)),
            "hysteresis" => set(&mut vs.hysteresis, ctx.u32v(n, 0, i32::MAX as u32)),
            "quorum_up" => vs.quorum_up = ctx.script(n),
            "quorum_down" => vs.quorum_down = ctx.script(n),
            "smtp_alert" => vs.smtp_alert = ctx.flag(n),
            "snmp_name" => vs.snmp_name = ctx.string(n, "a name"),
            "ops" => set(&mut vs.ops, ctx.flag(n)),
            "flag-1" => set(&mut vs.sched_flags.flag_1, ctx.flag(n)),
            "flag-2" => set(&mut vs.sched_flags.flag_2, ctx.flag(n)),
            "flag-3" => set(&mut vs.sched_flags.flag_3, ctx.flag(n)),
            // keepalived sets these only when the scheduler named so far (lvs_sched comes first) is
            // the one they belong to; otherwise they are ignored.
            "sh-fallback" | "mh-fallback" | "sh-port" | "mh-port" => {
                let sched = &kw[..2];
                if vs.lvs_sched == sched {
                    let flag = if kw.ends_with("fallback") {
                        &mut vs.sched_flags.flag_1
                    } else {
                        &mut vs.sched_flags.flag_2
                    };
                    set(flag, ctx.flag(n));
                } else {
                    ctx.warn(n.span(), format!(
                        "'{kw}' only applies to the {sched} scheduler, and the scheduler here is {} (an 'lvs_sched {sched}' must come before it); ignored, as keepalived does",
                        vs.lvs_sched
                    ));
                }
            }
            "hashed" => {
                ctx.none(n);
                ctx.warn(
                    n.span(),
                    "'hashed' has no effect (the kernel hashes every service), as in keepalived",
                );
            }
            "sorry_server" => {
                if let Some(ip) = ctx
                    .arg(n, 0, "IP [PORT]")
                    .and_then(|t| ctx.ip_tok(n, &t.clone()))
                {
                    let port = match n.args.get(1) {
                        Some(p) => ctx.port_tok(n, p),
                        None => Some(0),
                    };
                    ctx.extra(n, 2);
                    if let Some(port) = port {
                        sorry = Some((ip, port));
                    }
                }
            }
            // keepalived applies these to the sorry_server given so far only.
            "sorry_server_inhibit" | "sorry_server_lvs_method" if sorry.is_none() => ctx.warn(
                n.span(),
                format!("'{kw}' before or without sorry_server; ignored, as keepalived does"),
            ),
            "sorry_server_inhibit" => set(&mut sorry_inhibit, ctx.flag(n)),
            "slow_start" => inherit.slow_start = ctx.timer(n, 86400.0).or(inherit.slow_start),
            "sorry_server_lvs_method" => sorry_method = lvs_method(ctx, n),
            _ if inherit.keyword(ctx, n) => {}
            _ => ctx.unknown(n, "virtual_server"),
        }
    }
    let key = key?;
    if !protocol_set && !matches!(key, VsKey::Fwmark { .. }) {
        ctx.warn(
            node.span(),
            "virtual_server has no 'protocol': defaulting to UDP, as keepalived does (add 'protocol TCP' for a TCP service)",
        );
    }
    vs.key = key;
    settle::virtual_server_options(ctx, &mut vs, &spans, protocol_set);
    vs.delay_loop = inherit.delay_loop.unwrap_or(vs.delay_loop);
    vs.alpha = inherit.alpha.unwrap_or(vs.alpha);
    vs.inhibit_on_failure = inherit.inhibit_on_failure.unwrap_or(false);
    vs.virtualhost = inherit.virtualhost.clone();
    inherit.lvs_method = Some(vs.lvs_method);
    inherit.alpha = Some(vs.alpha);
    let vport = match &vs.key {
        VsKey::Addr { port, .. } => *port,
        _ => 0,
    };
    vs.sorry_server = sorry.map(|(ip, port)| SorryServer {
        ip,
        port: if port == 0 { vport } else { port },
        lvs_method: sorry_method,
        inhibit: sorry_inhibit,
    });
    for n in real_nodes {
        if let Some(rs) = real_server(ctx, n, &inherit, vport) {
            vs.real_servers.push(rs);
        }
    }
    settle::real_servers(ctx, &mut vs, &spans);
    if vs.real_servers.is_empty() {
        ctx.warn(
            node.span(),
            "virtual_server has no real servers; it is not programmed, as keepalived ignores it",
        );
        return None;
    }
    vs.real_servers.shrink_to_fit();
    Some(vs)
}

/// IPv4: a netmask such as 255.255.255.0; IPv6: a prefix length.
fn granularity(ctx: &mut Ctx, n: &Node) -> Option<String> {
    let t = ctx.one(
        n,
        "a netmask (IPv4, e.g. 255.255.255.0) or a prefix length (IPv6, e.g. 64)",
    )?;
    if let Some(IpAddr::V4(m)) = parse_ip(&t.text) {
        let bits = u32::from(m);
        if bits.leading_ones() + bits.trailing_zeros() == 32 {
            return Some(t.text.clone());
        }
    } else if matches!(parse_i64(&t.text), Some(1..=128)) {
        return Some(t.text.clone());
    }
    ctx.err(t.span, format!("'persistence_granularity': expected a netmask like 255.255.255.0 or a prefix length 1-128, found '{}'", t.text));
    None
}

fn real_server(ctx: &mut Ctx, node: &Node, parent: &Inherit, vport: u16) -> Option<RealServer> {
    let ip_tok = ctx.arg(node, 0, "IP [PORT]").cloned();
    let ip = ip_tok.and_then(|t| ctx.ip_tok(node, &t));
    let port = match node.args.get(1) {
        Some(p) => ctx.port_tok(node, p),
        None => Some(vport),
    };
    ctx.extra(node, 2);
    let Some(body) = node.block.as_deref() else {
        ctx.err(
            node.end_span(),
            "'real_server': expected '{' opening its block",
        );
        return None;
    };
    let mut inherit = parent.clone();
    let mut weight = 1u32;
    let mut uthreshold = 0;
    let mut lthreshold = 0;
    let mut notify_up = None;
    let mut notify_down = None;
    let mut smtp_alert = None;
    let mut checker_nodes = Vec::new();
    for n in body {
        let kw = n.kw();
        match kw {
            _ if is_checker(kw) => checker_nodes.push(n),
            "weight" => set(&mut weight, ctx.u32v(n, 0, i32::MAX as u32)),
            "lvs_method" | "lb_kind" => {
                inherit.lvs_method = lvs_method(ctx, n).or(inherit.lvs_method)
            }
            "notify_up" => notify_up = ctx.script(n).map(Box::new),
            "notify_down" => notify_down = ctx.script(n).map(Box::new),
            "uthreshold" => set(&mut uthreshold, ctx.u32v(n, 0, i32::MAX as u32)),
            "lthreshold" => set(&mut lthreshold, ctx.u32v(n, 0, i32::MAX as u32)),
            "smtp_alert" => smtp_alert = ctx.flag(n),
            "snmp_name" => {
                ctx.string(n, "a name");
            }
            "slow_start" => inherit.slow_start = ctx.timer(n, 86400.0).or(inherit.slow_start),
            _ if inherit.keyword(ctx, n) => {}
            _ => ctx.unknown(n, "real_server"),
        }
    }
    if lthreshold > uthreshold {
        ctx.warn(
            node.span(),
            format!("real_server: lthreshold {lthreshold} is above uthreshold {uthreshold}: the kernel refuses such a destination, so it stays out of IPVS (keepalived logs the kernel's refusal and runs without it)"),
        );
    }
    let ip = ip?;
    let port = port?;
    // Collected without a size hint, a Vec starts with room for four checkers (1 KiB) where most
    // real servers have one: with 10,000 real servers that was 8 MiB of the model.
    let mut checkers: Vec<Checker> = checker_nodes
        .into_iter()
        .flat_map(|n| checker(ctx, n, &inherit))
        .collect();
    checkers.shrink_to_fit();
    Some(RealServer {
        ip,
        port,
        weight,
        lvs_method: inherit.lvs_method.unwrap_or(LvsMethod::Nat),
        uthreshold,
        lthreshold,
        notify_up,
        notify_down,
        inhibit_on_failure: inherit.inhibit_on_failure.unwrap_or(false),
        alpha: inherit.alpha.unwrap_or(false),
        smtp_alert,
        virtualhost: inherit.virtualhost.clone(),
        delay_loop: inherit.delay_loop.unwrap_or(Timer::secs(60)),
        slow_start: inherit.slow_start.filter(|t| !t.0.is_zero()),
        checkers,
        span: node.span(),
    })
}

//! Address, route and rule lines (virtual_ipaddress, virtual_routes, virtual_rules and their static_*
//! twins), in the `ip addr` / `ip route` / `ip rule` syntax keepalived accepts.

use crate::config::model::{IpAddress, Nexthop, Route, Rule};
use crate::config::tree::Node;
use crate::config::values::{parse_ip, parse_ip_prefix, Ctx};

const SCOPES: &[&str] = &["host", "link", "global", "site", "nowhere"];
/// Linux interface names (and so labels) are at most 15 bytes.
const IFNAMSIZ_MAX: usize = 15;

/// One address line: the statement keyword is the address, its arguments the options.
pub fn ip_address(ctx: &mut Ctx, n: &Node) -> Option<IpAddress> {
    ctx.no_block(n);
    let (addr, prefix) = match parse_ip_prefix(n.kw()) {
        Ok(v) => v,
        Err(e) => {
            ctx.err(n.span(), e);
            return None;
        }
    };
    let default_prefix = if addr.is_ipv4() { 32 } else { 128 };
    let mut a = IpAddress::new(addr, prefix.unwrap_or(default_prefix), n.span());
    let mut i = 0;
    while i < n.args.len() {
        let opt = &n.args[i];
        let takes_value = matches!(
            opt.text.as_str(),
            "brd"
                | "broadcast"
                | "dev"
                | "scope"
                | "label"
                | "peer"
                | "preferred_lft"
                | "track_group"
        );
        let val = if takes_value {
            match n.args.get(i + 1) {
                Some(v) => Some(v),
                None => {
                    ctx.err(
                        n.end_span(),
                        format!("address {}: expected a value after '{}'", n.kw(), opt.text),
                    );
                    return None;
                }
            }
        } else {
            None
        };
        match (opt.text.as_str(), val) {
            ("brd" | "broadcast", Some(v)) => {
                if v.text == "+" || v.text == "-" || parse_ip(&v.text).is_some() {
                    a.brd = Some(v.text.clone());
                } else {
                    ctx.err(
                        v.span,
                        format!(
                            "address {}: 'brd' expects an address, '+' or '-', found '{}'",
                            n.kw(),
                            v.text
                        ),
                    );
                }
            }
            ("dev", Some(v)) => a.dev = Some(v.text.clone()),
            ("scope", Some(v)) => {
                if SCOPES.contains(&v.text.as_str()) || v.text.parse::<u8>().is_ok() {
                    a.scope = Some(v.text.clone());
                } else {
                    ctx.err(v.span, format!("address {}: 'scope' expects host, link, global, site, nowhere or a number, found '{}'", n.kw(), v.text));
                }
            }
            ("label", Some(v)) => {
                if v.text.len() > IFNAMSIZ_MAX {
                    ctx.err(
                        v.span,
                        format!(
                            "address {}: label '{}' is longer than {IFNAMSIZ_MAX} characters",
                            n.kw(),
                            v.text
                        ),
                    );
                } else {
                    a.label = Some(v.text.clone());
                }
            }
            ("peer", Some(v)) => a.peer = ctx.ip_tok(n, v),
            ("preferred_lft", Some(v)) => a.preferred_lft = Some(v.text.clone()),
            ("track_group", Some(v)) => a.track_group = Some(v.text.clone()),
            ("home", _) => a.home = true,
            ("-nodad", _) => a.nodad = true,
            ("mngtmpaddr", _) => a.mngtmpaddr = true,
            ("noprefixroute", _) => a.noprefixroute = true,
            ("autojoin", _) => a.autojoin = true,
            ("no_track", _) => a.no_track = true,
            ("use_vmac", _) => a.use_vmac = true,
            (other, _) => {
                ctx.err(opt.span, format!(
                    "address {}: unknown option '{other}' (expected brd, dev, scope, label, peer, home, -nodad, mngtmpaddr, noprefixroute, autojoin, no_track, preferred_lft)",
                    n.kw()
                ));
                return None;
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    if let (Some(p), true) = (a.peer, a.prefix != if addr.is_ipv4() { 32 } else { 128 }) {
        ctx.warn(
            n.span(),
            format!(
                "address {}: a peer ({p}) usually goes with a host prefix",
                n.kw()
            ),
        );
    }
    Some(a)
}

/// Options of `ip route` that take one value, stored as they are.
const ROUTE_VALUE_OPTS: &[&str] = &[
    "tos",
    "dsfield",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "realms",
    "rto_min",
    "initcwnd",
    "initrwnd",
    "features",
    "congctl",
    "pref",
    "fastopen_no_cookie",
    "hoplimit",
    "expires",
    "vrf",
    "quickack",
    "ttl-propagate",
    "nhid",
];
/// Options of `ip route` that take `[lock] value`.
const ROUTE_LOCK_OPTS: &[&str] = &[
    "mtu", "ssthresh", "rtt", "cwnd", "window", "advmss", "hoplimit", "initcwnd", "initrwnd",
    "rto_min",
];
const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "local",
    "broadcast",
    "multicast",
    "anycast",
    "nat",
];

pub fn route(ctx: &mut Ctx, n: &Node) -> Option<Route> {
    ctx.no_block(n);
    let toks: Vec<&crate::config::lexer::Token> =
        std::iter::once(&n.name).chain(n.args.iter()).collect();
    let mut r = Route::new("", n.span());
    let mut i = 0;
    let value = |ctx: &mut Ctx, i: usize| -> Option<&crate::config::lexer::Token> {
        match toks.get(i + 1) {
            Some(t) => Some(*t),
            None => {
                ctx.err(
                    n.end_span(),
                    format!("route: expected a value after '{}'", toks[i].text),
                );
                None
            }
        }
    };
    while i < toks.len() {
        let t = toks[i];
        let word = t.text.as_str();
        let mut used = 1;
        match word {
            "to" => {
                let v = value(ctx, i)?;
                r.to = route_dst(ctx, v)?;
                used = 2;
            }
            "src" => {
                let v = value(ctx, i)?;
                r.src = Some(ctx.ip_tok(n, v)?);
                used = 2;
            }
            "via" | "gw" => {
                let mut v = value(ctx, i)?;
                if v.text == "inet" || v.text == "inet6" {
                    used += 1;
                    v = value(ctx, i + 1)?;
                }
                r.via = Some(ctx.ip_tok(n, v)?);
                used += 1;
            }
            "or" => {
                let v = value(ctx, i)?;
                r.nexthops.push(Nexthop {
                    via: Some(ctx.ip_tok(n, v)?),
                    dev: None,
                    weight: None,
                    onlink: false,
                });
                used = 2;
            }
            "dev" | "oif" => {
                r.dev = Some(value(ctx, i)?.text.clone());
                used = 2;
            }
            "table" => {
                r.table = Some(value(ctx, i)?.text.clone());
                used = 2;
            }
            "metric" | "priority" | "preference" => {
                let v = value(ctx, i)?;
                r.metric = Some(ctx.int_in(n, v, 0, i64::from(u32::MAX))? as u32);
                used = 2;
            }
            "scope" => {
                r.scope = Some(value(ctx, i)?.text.clone());
                used = 2;
            }
            "protocol" | "proto" => {
                r.protocol = Some(value(ctx, i)?.text.clone());
                used = 2;
            }
            "track_group" => {
                r.track_group = Some(value(ctx, i)?.text.clone());
                used = 2;
            }
            "onlink" => r.onlink = true,
            "no_track" => r.no_track = true,
            "inet6" => r.inet6 = true,
            "append" => r.append = true,
            "prepend" => {}
            "nexthop" => {
                let (nh, consumed) = nexthop(ctx, n, &toks[i + 1..])?;
                r.nexthops.push(nh);
                used = 1 + consumed;
            }
            _ if ROUTE_TYPES.contains(&word) && r.route_type.is_none() && r.to.is_empty() => {
                r.route_type = Some(word.to_string())
            }
            _ if ROUTE_LOCK_OPTS.contains(&word) || ROUTE_VALUE_OPTS.contains(&word) => {
                let mut v = value(ctx, i)?.text.clone();
                used = 2;
                if v == "lock" {
                    v = format!("lock {}", value(ctx, i + 1)?.text);
                    used = 3;
                }
                r.options.push((word.to_string(), v));
            }
            _ if r.to.is_empty() => r.to = route_dst(ctx, t)?,
            _ => {
                ctx.err(t.span, format!("route: unknown option '{word}' (expected to, src, via, dev, table, metric, scope, protocol, onlink, nexthop, no_track or an ip-route option)"));
                return None;
            }
        }
        i += used;
    }
    if r.to.is_empty() {
        ctx.err(
            n.span(),
            "route: expected a destination prefix (e.g. 192.168.2.0/24 or default)",
        );
        return None;
    }
    Some(r)
}

fn route_dst(ctx: &mut Ctx, t: &crate::config::lexer::Token) -> Option<String> {
    if t.text == "default" {
        return Some(t.text.clone());
    }
    match parse_ip_prefix(&t.text) {
        Ok(_) => Some(t.text.clone()),
        Err(e) => {
            ctx.err(t.span, format!("route: {e}"));
            None
        }
    }
}

fn nexthop(
    ctx: &mut Ctx,
    n: &Node,
    toks: &[&crate::config::lexer::Token],
) -> Option<(Nexthop, usize)> {
    let mut nh = Nexthop {
        via: None,
        dev: None,
        weight: None,
        onlink: false,
    };
    let mut i = 0;
    while i < toks.len() {
        let w = toks[i].text.as_str();
        let next = toks.get(i + 1);
        match (w, next) {
            ("via" | "gw", Some(v)) => {
                nh.via = Some(ctx.ip_tok(n, v)?);
                i += 2;
            }
            ("dev", Some(v)) => {
                nh.dev = Some(v.text.clone());
                i += 2;
            }
            ("weight", Some(v)) => {
                nh.weight = Some(ctx.int_in(n, v, 1, 256)? as u32);
                i += 2;
            }
            ("onlink", _) => {
                nh.onlink = true;
                i += 1;
            }
            _ => break,
        }
    }
    Some((nh, i))
}

const RULE_VALUE_OPTS: &[&str] = &[
    "iif",
    "oif",
    "tos",
    "dsfield",
    "fwmark",
    "realms",
    "goto",
    "uidrange",
    "protocol",
    "ip_proto",
    "sport",
    "dport",
    "suppress_prefixlength",
    "suppress_ifgroup",
    "type",
];

pub fn rule(ctx: &mut Ctx, n: &Node) -> Option<Rule> {
    ctx.no_block(n);
    let toks: Vec<&crate::config::lexer::Token> =
        std::iter::once(&n.name).chain(n.args.iter()).collect();
    let mut r = Rule {
        from: None,
        to: None,
        table: None,
        preference: None,
        no_track: false,
        inet6: false,
        options: Vec::new(),
        track_group: None,
        span: n.span(),
    };
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let w = t.text.as_str();
        let needs = matches!(
            w,
            "from"
                | "to"
                | "table"
                | "lookup"
                | "preference"
                | "priority"
                | "pref"
                | "order"
                | "track_group"
        ) || RULE_VALUE_OPTS.contains(&w);
        let v = if needs {
            match toks.get(i + 1) {
                Some(v) => Some(*v),
                None => {
                    ctx.err(n.end_span(), format!("rule: expected a value after '{w}'"));
                    return None;
                }
            }
        } else {
            None
        };
        match (w, v) {
            ("from" | "to", Some(v)) => {
                if v.text != "all" {
                    if let Err(e) = parse_ip_prefix(&v.text) {
                        ctx.err(v.span, format!("rule: {e}"));
                        return None;
                    }
                }
                if w == "from" {
                    r.from = Some(v.text.clone());
                } else {
                    r.to = Some(v.text.clone());
                }
            }
            ("table" | "lookup", Some(v)) => r.table = Some(v.text.clone()),
            ("preference" | "priority" | "pref" | "order", Some(v)) => {
                r.preference = Some(ctx.int_in(n, v, 0, i64::from(u32::MAX))? as u32)
            }
            ("track_group", Some(v)) => r.track_group = Some(v.text.clone()),
            (_, Some(v)) => r.options.push((w.to_string(), v.text.clone())),
            ("no_track", None) => r.no_track = true,
            ("inet6", None) => r.inet6 = true,
            ("not" | "l3mdev" | "nop", None) => r.options.push((w.to_string(), String::new())),
            _ => {
                ctx.err(t.span, format!("rule: unknown option '{w}' (expected from, to, table, preference, iif, oif, fwmark, tos, ...)"));
                return None;
            }
        }
        i += if needs { 2 } else { 1 };
    }
    if r.preference.is_none() {
        ctx.warn(n.span(), "rule without a preference: its order against other rules is not defined; add 'preference N'");
    }
    Some(r)
}

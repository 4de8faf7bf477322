//! Top-level blocks only lvsd reads: `lvs_sysctl`, `lvs_sync_catchup` and `bgp_announce`. They stand at the top
//! level because keepalived 2.2.7 warns about an unknown top-level block and skips it, while an
//! unknown block inside global_defs makes it close global_defs at the block's `}`.

use crate::config::model::{AnnouncedVip, BgpAnnounce, LvsSysctl, RequireServices, SyncCatchup};
use crate::config::tree::Node;
use crate::config::values::Ctx;

/// The kernel's limit for sysctl integers, and for seconds kept in jiffies (HZ up to 1000).
const INT_MAX: i64 = i32::MAX as i64;
const JIFFY_SECS_MAX: i64 = INT_MAX / 1000;

/// `lvs_sysctl { sync_threshold 3 50  sloppy_tcp 1 ... }`: values the kernel would refuse are
/// errors here, at their place.
pub fn lvs_sysctl(ctx: &mut Ctx, node: &Node, s: &mut LvsSysctl) {
    for n in ctx.block(node) {
        match n.kw() {
            "sync_threshold" => s.sync_threshold = sync_threshold(ctx, n),
            "sync_refresh_period" => {
                s.sync_refresh_period = ctx.num(n, 0, JIFFY_SECS_MAX).map(|v| v as u32)
            }
            "sync_retries" => s.sync_retries = ctx.u8v(n, 0, 3),
            "sync_persist_mode" => s.sync_persist_mode = zero_one(ctx, n),
            "sloppy_tcp" => s.sloppy_tcp = zero_one(ctx, n),
            "sloppy_sctp" => s.sloppy_sctp = zero_one(ctx, n),
            "conntrack" => s.conntrack = zero_one(ctx, n),
            "expire_nodest_conn" => s.expire_nodest_conn = zero_one(ctx, n),
            "expire_quiescent_template" => s.expire_quiescent_template = zero_one(ctx, n),
            _ => ctx.unknown(n, "lvs_sysctl"),
        }
    }
}

/// `sync_threshold THRESHOLD PERIOD`: the kernel takes 0 <= threshold < period, or period 0
/// (sync once, at the threshold).
fn sync_threshold(ctx: &mut Ctx, n: &Node) -> Option<(u32, u32)> {
    ctx.no_block(n);
    let what = "THRESHOLD PERIOD (packets), e.g. 3 50";
    let t = ctx.arg(n, 0, what)?;
    let p = ctx.arg(n, 1, what)?;
    ctx.extra(n, 2);
    let (t_tok, p_tok) = (t.clone(), p.clone());
    let t = ctx.int_in(n, &t_tok, 0, INT_MAX)? as u32;
    let p = ctx.int_in(n, &p_tok, 0, INT_MAX)? as u32;
    if p != 0 && t >= p {
        ctx.err(
            t_tok.span,
            format!("'sync_threshold': the threshold {t} must be below the period {p} (or the period 0); the kernel refuses it"),
        );
        return None;
    }
    Some((t, p))
}

fn zero_one(ctx: &mut Ctx, n: &Node) -> Option<bool> {
    ctx.num(n, 0, 1).map(|v| v == 1)
}

/// `lvs_sync_catchup { timeout 10  port 8849 }`.
pub fn lvs_sync_catchup(ctx: &mut Ctx, node: &Node, c: &mut SyncCatchup) {
    for n in ctx.block(node) {
        match n.kw() {
            "timeout" => {
                if let Some(t) = ctx.timer(n, 3600.0) {
                    c.timeout = t;
                }
            }
            "port" => {
                if let Some(p) = ctx.num(n, 1, 65535) {
                    c.port = Some(p as u16);
                }
            }
            _ => ctx.unknown(n, "lvs_sync_catchup"),
        }
    }
}

/// `bgp_announce { bird_socket PATH  include_file PATH  vip ADDRESS [require_services any|all]
/// [vrrp_instance NAME] ... }`: the VIPs this director announces through BIRD. Names BIRD and the
/// kernel would refuse are errors here, at their place; references to virtual servers and VRRP
/// instances are checked in validate, once every block is read.
pub fn bgp_announce(ctx: &mut Ctx, node: &Node) -> BgpAnnounce {
    let mut b = BgpAnnounce {
        span: node.span(),
        ..BgpAnnounce::default()
    };
    ctx.extra(node, 0);
    let mut vips: Vec<(AnnouncedVip, bool, bool)> = Vec::new();
    for n in ctx.block(node) {
        match n.kw() {
            "bird_socket" => {
                if let Some(p) = path(ctx, n) {
                    b.bird_socket = p;
                }
            }
            "include_file" => {
                if let Some(p) = path(ctx, n) {
                    b.include_file = p;
                }
            }
            "protocol_prefix" => {
                if let Some(t) = ctx.one(n, "a BIRD name start, e.g. lvsd_") {
                    if bird_prefix_ok(&t.text) {
                        b.protocol_prefix = t.text.clone();
                    } else {
                        ctx.err(t.span, format!("'protocol_prefix': expected a letter or '_' then letters, digits or '_', at most {PREFIX_MAX} characters (BIRD's protocol names), found '{}'", t.text));
                    }
                }
            }
            "liveness_interface" => {
                if let Some(t) = ctx.one(n, "an interface name, e.g. lvsd-bgp") {
                    if ifname_ok(&t.text) {
                        b.liveness_interface = t.text.clone();
                    } else {
                        ctx.err(t.span, format!("'liveness_interface': expected an interface name of 1 to 15 characters without '/', ':' or spaces, found '{}'", t.text));
                    }
                }
            }
            "require_services" => {
                if let Some(t) = ctx.one(n, "any or all") {
                    if let Some(r) = require(ctx, n, t) {
                        b.require_services = r;
                    }
                }
            }
            "vrrp_instance" => {
                if let Some(t) = ctx.one(n, "a vrrp_instance name") {
                    b.vrrp_instance = Some(t.text.clone());
                }
            }
            "announce_delay" => {
                if let Some(t) = ctx.timer(n, 3600.0) {
                    b.announce_delay = t;
                }
            }
            "withdraw_delay" => {
                if let Some(t) = ctx.timer(n, 60.0) {
                    b.withdraw_delay = t;
                }
            }
            "vip" => {
                if let Some(v) = vip(ctx, n) {
                    if vips.iter().any(|(o, _, _)| o.addr == v.0.addr) {
                        ctx.warn(
                            n.span(),
                            format!(
                                "bgp_announce: vip {} is listed twice; this one is ignored",
                                v.0.addr
                            ),
                        );
                    } else {
                        vips.push(v);
                    }
                }
            }
            _ => ctx.unknown(n, "bgp_announce"),
        }
    }
    // The block's defaults, wherever they stand in it.
    b.vips = vips
        .into_iter()
        .map(|(mut v, own_require, own_instance)| {
            if !own_require {
                v.require_services = b.require_services;
            }
            if !own_instance {
                v.vrrp_instance = b.vrrp_instance.clone();
            }
            v
        })
        .collect();
    if b.vips.is_empty() {
        ctx.warn(
            node.span(),
            "bgp_announce: no 'vip' listed; nothing is announced",
        );
    }
    b
}

/// BIRD's symbols are at most 64 characters; a generated name adds at most 44 to the prefix.
const PREFIX_MAX: usize = 20;

fn bird_prefix_ok(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && s.len() <= PREFIX_MAX
}

fn ifname_ok(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != ':')
}

fn path(ctx: &mut Ctx, n: &Node) -> Option<String> {
    let t = ctx.one(n, "an absolute path")?;
    if t.text.starts_with('/') {
        Some(t.text.clone())
    } else {
        ctx.err(
            t.span,
            format!(
                "'{}': expected an absolute path, found '{}'",
                n.kw(),
                t.text
            ),
        );
        None
    }
}

fn require(ctx: &mut Ctx, n: &Node, t: &crate::config::lexer::Token) -> Option<RequireServices> {
    match t.text.as_str() {
        "any" => Some(RequireServices::Any),
        "all" => Some(RequireServices::All),
        other => {
            ctx.err(
                t.span,
                format!("'{}': expected any or all, found '{other}'", n.kw()),
            );
            None
        }
    }
}

/// `vip ADDRESS[/32|/128] [require_services any|all] [vrrp_instance NAME]`; the flags say which
/// options the line set itself.
fn vip(ctx: &mut Ctx, n: &Node) -> Option<(AnnouncedVip, bool, bool)> {
    ctx.no_block(n);
    let t = ctx.arg(n, 0, "an IPv4 or IPv6 address (announced as /32 or /128)")?;
    let addr = match crate::config::values::parse_ip_prefix(&t.text) {
        Ok((a, None)) => a,
        Ok((a, Some(len))) if (a.is_ipv4() && len == 32) || (a.is_ipv6() && len == 128) => a,
        Ok((a, Some(len))) => {
            ctx.err(
                t.span,
                format!(
                    "'vip': only host routes are announced ({a}/{}), found /{len}",
                    if a.is_ipv4() { 32 } else { 128 }
                ),
            );
            return None;
        }
        Err(_) => {
            ctx.err(
                t.span,
                format!(
                    "'vip': expected an IPv4 or IPv6 address, found '{}'",
                    t.text
                ),
            );
            return None;
        }
    };
    let mut v = AnnouncedVip {
        addr,
        require_services: RequireServices::Any,
        vrrp_instance: None,
        span: t.span,
    };
    let (mut own_require, mut own_instance) = (false, false);
    let mut rest = n.args[1..].iter();
    while let Some(opt) = rest.next() {
        let Some(val) = rest.next() else {
            ctx.err(
                opt.span,
                format!("'vip': expected a value after '{}'", opt.text),
            );
            break;
        };
        match opt.text.as_str() {
            "require_services" => {
                if let Some(r) = require(ctx, n, val) {
                    v.require_services = r;
                    own_require = true;
                }
            }
            "vrrp_instance" => {
                v.vrrp_instance = Some(val.text.clone());
                own_instance = true;
            }
            other => ctx.err(
                opt.span,
                format!("'vip': expected require_services or vrrp_instance, found '{other}'"),
            ),
        }
    }
    Some((v, own_require, own_instance))
}

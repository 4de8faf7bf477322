//! Checker blocks (TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK, DNS_CHECK, MISC_CHECK, UDP_CHECK,
//! PING_CHECK, FILE_CHECK, BFD_CHECK) and the options they inherit from their real and virtual server.

use super::global::set;
use crate::config::model::*;
use crate::config::tree::Node;
use crate::config::values::Ctx;
use std::time::Duration;

const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

pub fn is_checker(kw: &str) -> bool {
    CHECKERS.contains(&kw)
}

/// Options a virtual server passes to its real servers and a real server to its checkers.
#[derive(Debug, Clone, Default)]
pub struct Inherit {
    pub connect_timeout: Option<Timer>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Timer>,
    pub warmup: Option<Timer>,
    pub delay_loop: Option<Timer>,
    pub alpha: Option<bool>,
    pub inhibit_on_failure: Option<bool>,
    pub virtualhost: Option<String>,
    pub lvs_method: Option<LvsMethod>,
    pub log_all_failures: Option<bool>,
    /// lvsd only: a virtual server's slow_start for its real servers (not a checker keyword).
    pub slow_start: Option<Timer>,
}

impl Inherit {
    /// Handles an inheritable keyword; false when `n` is not one.
    pub fn keyword(&mut self, ctx: &mut Ctx, n: &Node) -> bool {
        match n.kw() {
            "connect_timeout" => {
                self.connect_timeout = ctx.timer(n, 86400.0).or(self.connect_timeout)
            }
            "retry" | "nb_get_retry" | "nb_sock_retry" => {
                self.retry = ctx.u32v(n, 0, 1_000_000).or(self.retry)
            }
            "delay_before_retry" => {
                self.delay_before_retry = ctx.timer(n, 86400.0).or(self.delay_before_retry)
            }
            "warmup" => self.warmup = ctx.timer(n, 86400.0).or(self.warmup),
            "delay_loop" => {
                if let Some(t) = ctx.timer(n, 86400.0) {
                    if t.0 < Duration::from_micros(1) {
                        ctx.err(n.args[0].span, "'delay_loop': expected a time above 0");
                    } else {
                        self.delay_loop = Some(t);
                    }
                }
            }
            "alpha" => self.alpha = ctx.flag(n).or(self.alpha),
            "inhibit_on_failure" => {
                self.inhibit_on_failure = ctx.flag(n).or(self.inhibit_on_failure)
            }
            "virtualhost" => {
                self.virtualhost = ctx.string(n, "a host name").or(self.virtualhost.take())
            }
            "log_all_failures" => self.log_all_failures = ctx.flag(n).or(self.log_all_failures),
            _ => return false,
        }
        true
    }
}

/// Builds one checker block (two or more for the old SMTP_CHECK `host { }` form).
pub fn checker(ctx: &mut Ctx, node: &Node, parent: &Inherit) -> Vec<Checker> {
    let kw = node.kw();
    let mut inh = parent.clone();
    let mut c = Checker {
        kind: CheckKind::Tcp,
        connect_ip: None,
        connect_port: None,
        bind: None,
        alpha: false,
        connect_timeout: Timer::secs(5),
        retry: 1,
        delay_before_retry: Timer::secs(1),
        warmup: Timer::secs(0),
        delay_loop: Timer::secs(60),
        log_all_failures: false,
        span: node.span(),
    };
    let mut http = HttpCheck::default();
    let mut helo_name = None;
    let mut dns_type = "SOA".to_string();
    let mut dns_name = ".".to_string();
    let mut misc_path = None;
    let mut misc_timeout = None;
    let mut misc_dynamic = false;
    let mut misc_user: Option<(String, Option<String>)> = None;
    let mut udp_payload = None;
    let mut udp_reply = None;
    let mut udp_min = 0;
    let mut udp_max = 255;
    let mut file_track = None;
    let mut file_dynamic = false;
    let mut file_weight = None;
    let mut file_reverse = false;
    let mut bfd_name = None;
    let mut smtp_hosts: Vec<&Node> = Vec::new();
    let body = match &node.block {
        Some(b) => b.as_slice(),
        None => {
            ctx.err(
                node.end_span(),
                format!("'{kw}': expected '{{' opening its block"),
            );
            return Vec::new();
        }
    };
    for n in body {
        let k = n.kw();
        if common(ctx, n, &mut c) || inh.keyword(ctx, n) {
            continue;
        }
        match (kw, k) {
            ("HTTP_GET" | "SSL_GET", _)
                if super::http::keyword(ctx, n, kw == "SSL_GET", &mut http) => {}
            ("SMTP_CHECK", "helo_name") => helo_name = ctx.string(n, "a host name"),
            ("SMTP_CHECK", "host") => smtp_hosts.push(n),
            ("DNS_CHECK", "type") => {
                if let Some(t) = ctx.one(n, "A, NS, CNAME, SOA, MX, TXT or AAAA") {
                    let up = t.text.to_ascii_uppercase();
                    if ["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "PTR", "SRV"]
                        .contains(&up.as_str())
                    {
                        dns_type = up;
                    } else {
                        ctx.err(
                            t.span,
                            format!(
                                "'type': expected A, NS, CNAME, SOA, MX, TXT or AAAA, found '{}'",
                                t.text
                            ),
                        );
                    }
                }
            }
            ("DNS_CHECK", "name") => set(&mut dns_name, ctx.string(n, "a domain name")),
            ("MISC_CHECK", "misc_path") => misc_path = ctx.script(n),
            ("MISC_CHECK", "misc_timeout") => misc_timeout = ctx.timer(n, 86400.0),
            ("MISC_CHECK", "misc_dynamic") => set(&mut misc_dynamic, ctx.flag(n)),
            ("MISC_CHECK", "user") => {
                if let Some(u) = ctx.arg(n, 0, "a user name, and optionally a group") {
                    misc_user = Some((u.text.clone(), n.args.get(1).map(|t| t.text.clone())));
                    ctx.extra(n, 2);
                }
            }
            ("UDP_CHECK", "payload") => udp_payload = hex_bytes(ctx, n),
            ("UDP_CHECK", "require_reply") => {
                udp_reply = if n.args.is_empty() {
                    Some(Vec::new())
                } else {
                    hex_pattern(ctx, n)
                };
            }
            ("UDP_CHECK", "min_reply_length") => set(&mut udp_min, ctx.u32v(n, 0, 65535)),
            ("UDP_CHECK", "max_reply_length") => set(&mut udp_max, ctx.u32v(n, 0, 65535)),
            ("FILE_CHECK", "track_file") => file_track = ctx.string(n, "a track_file name"),
            ("FILE_CHECK", "dynamic") => set(&mut file_dynamic, ctx.flag(n)),
            ("FILE_CHECK", "weight") => {
                if let Some(t) = ctx.arg(n, 0, "a weight, and optionally 'reverse'") {
                    file_weight = ctx
                        .int_in(n, t, -2_147_483_647, 2_147_483_647)
                        .map(|v| v as i32);
                    file_reverse = n.args.get(1).is_some_and(|t| t.text == "reverse");
                }
            }
            ("BFD_CHECK", "name") => bfd_name = ctx.string(n, "a bfd_instance name"),
            _ => ctx.unknown(n, kw),
        }
    }
    c.kind = match kw {
        "TCP_CHECK" => CheckKind::Tcp,
        "HTTP_GET" | "SSL_GET" => {
            if http.urls.is_empty() {
                ctx.err(
                    node.span(),
                    format!("{kw}: expected at least one 'url {{ path ... }}' block (keepalived 2.2.7 crashes on a checker without one)"),
                );
            }
            super::http::settle(ctx, node, &http);
            http.virtualhost = inh.virtualhost.clone();
            if kw == "HTTP_GET" {
                CheckKind::Http(Box::new(http))
            } else {
                CheckKind::Ssl(Box::new(http))
            }
        }
        "SMTP_CHECK" => CheckKind::Smtp { helo_name },
        "DNS_CHECK" => CheckKind::Dns {
            query_type: dns_type,
            name: dns_name,
        },
        "MISC_CHECK" => {
            match misc_path {
                Some(mut p) => {
                    if let Some((u, g)) = misc_user {
                        p.user = Some(u);
                        p.group = g;
                    }
                    CheckKind::Misc {
                        misc_path: Box::new(p),
                        misc_timeout,
                        misc_dynamic,
                    }
                }
                None => {
                    ctx.warn(node.span(), "MISC_CHECK: no 'misc_path' line; the checker is ignored, as keepalived does");
                    return Vec::new();
                }
            }
        }
        "UDP_CHECK" => {
            if udp_min > udp_max {
                ctx.warn(
                    node.span(),
                    format!(
                        "UDP_CHECK: min_reply_length {udp_min} is above max_reply_length {udp_max}: no reply passes the length check, so with require_reply the check always fails (as in keepalived)"
                    ),
                );
            }
            CheckKind::Udp {
                payload: udp_payload,
                require_reply: udp_reply,
                min_reply_length: udp_min,
                max_reply_length: udp_max,
            }
        }
        "PING_CHECK" => CheckKind::Ping,
        "FILE_CHECK" => match file_track {
            Some(t) => CheckKind::File {
                track_file: t,
                dynamic: file_dynamic,
                weight: file_weight,
                reverse: file_reverse,
            },
            None => {
                ctx.warn(node.span(), "FILE_CHECK: no 'track_file NAME' line; the checker is ignored, as keepalived does");
                return Vec::new();
            }
        },
        _ => match bfd_name {
            Some(name) => CheckKind::Bfd { name },
            None => {
                ctx.warn(
                    node.span(),
                    "BFD_CHECK: no 'name' line; the checker is ignored, as keepalived does",
                );
                return Vec::new();
            }
        },
    };
    resolve(&mut c, &inh, kw);
    if smtp_hosts.is_empty() {
        return vec![c];
    }
    // Old SMTP_CHECK syntax: each `host { }` is a checker of its own with its own connection options.
    smtp_hosts
        .into_iter()
        .map(|h| {
            let mut hc = c.clone();
            hc.span = h.span();
            for n in ctx.block(h) {
                if !common(ctx, n, &mut hc) {
                    ctx.unknown(n, "SMTP_CHECK host");
                }
            }
            hc
        })
        .collect()
}

/// Connection keywords every checker has.
fn common(ctx: &mut Ctx, n: &Node, c: &mut Checker) -> bool {
    match n.kw() {
        "connect_ip" => c.connect_ip = ctx.ip(n),
        "connect_port" => c.connect_port = ctx.port(n),
        "bindto" => c.bind.get_or_insert_default().bindto = ctx.ip(n),
        "bind_if" => c.bind.get_or_insert_default().bind_if = ctx.string(n, "an interface name"),
        "bind_port" => c.bind.get_or_insert_default().bind_port = ctx.port(n),
        "fwmark" => c.bind.get_or_insert_default().fwmark = ctx.u32v(n, 0, u32::MAX),
        _ => return false,
    }
    true
}

/// keepalived's defaults: retry 1 (DNS 3, MISC 0); delay_before_retry 1 s (HTTP/SSL 3 s, DNS
/// delay_loop); warmup up to delay_loop; connect_timeout 5 s.
fn resolve(c: &mut Checker, inh: &Inherit, kw: &str) {
    let delay_loop = inh.delay_loop.unwrap_or(Timer::secs(60));
    c.delay_loop = delay_loop;
    c.connect_timeout = inh.connect_timeout.unwrap_or(Timer::secs(5));
    c.retry = inh.retry.unwrap_or(match kw {
        "DNS_CHECK" => 3,
        "MISC_CHECK" => 0,
        _ => 1,
    });
    c.delay_before_retry = inh.delay_before_retry.unwrap_or(match kw {
        "DNS_CHECK" => delay_loop,
        "HTTP_GET" | "SSL_GET" => Timer::secs(3),
        _ => Timer::secs(1),
    });
    c.warmup = inh.warmup.unwrap_or(delay_loop);
    c.alpha = inh.alpha.unwrap_or(false);
    c.log_all_failures = inh.log_all_failures.unwrap_or(false);
}

/// keepalived's free hex format: `Ab12f 3 456` is AB 12 0F 03 45 06 (each word padded to whole bytes).
fn hex_nibbles(ctx: &mut Ctx, n: &Node, allow_x: bool) -> Option<Vec<HexNibble>> {
    let mut out = Vec::new();
    for t in &n.args {
        let mut word: Vec<HexNibble> = Vec::new();
        for ch in t.text.chars() {
            match ch.to_digit(16) {
                Some(v) => word.push(HexNibble::Value(v as u8)),
                None if allow_x && (ch == 'x' || ch == 'X') => word.push(HexNibble::Any),
                None => {
                    ctx.err(
                        t.span,
                        format!("'{}': expected hex digits, found '{}'", n.kw(), t.text),
                    );
                    return None;
                }
            }
        }
        if word.len() % 2 == 1 {
            // An odd last digit is the low nibble of a byte of its own.
            let last = word.pop()?;
            word.push(HexNibble::Value(0));
            word.push(last);
        }
        out.extend(word);
    }
    Some(out)
}

fn hex_bytes(ctx: &mut Ctx, n: &Node) -> Option<Vec<u8>> {
    let nib = hex_nibbles(ctx, n, false)?;
    Some(
        nib.chunks(2)
            .map(|p| match p {
                [HexNibble::Value(h), HexNibble::Value(l)] => (h << 4) | l,
                _ => 0,
            })
            .collect(),
    )
}

fn hex_pattern(ctx: &mut Ctx, n: &Node) -> Option<Vec<HexNibble>> {
    hex_nibbles(ctx, n, true)
}

//! Value grammars shared by every block: numbers in ranges, booleans, timers, addresses, ports, scripts.
//! Each parser reports a malformed value as an error naming the keyword and what was expected, and
//! returns `None` so the caller leaves the default in place and carries on (to report more errors).

use super::diag::{Diags, Span};
use super::lexer::Token;
use super::model::{Script, Timer};
use super::tree::Node;
use std::net::IpAddr;
use std::time::Duration;

pub struct Ctx<'d> {
    pub diags: &'d mut Diags,
}

impl Ctx<'_> {
    pub fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.error(span, msg);
    }

    pub fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.warn(span, msg);
    }

    /// A warning at `span` naming `first`, the other place it is about.
    pub fn warn_also(&mut self, span: Span, first: Span, msg: impl Into<String>) {
        self.diags.warn_also(span, first, msg);
    }

    pub fn unknown(&mut self, node: &Node, block: &str) {
        self.warn(
            node.span(),
            format!("unknown keyword '{}' in {block}; ignored", node.kw()),
        );
    }

    /// A keyword lvsd accepts for compatibility but does not act on.
    pub fn ignored(&mut self, node: &Node) {
        self.warn(
            node.span(),
            format!(
                "'{}' is accepted for compatibility but not supported by lvsd; ignored",
                node.kw()
            ),
        );
    }

    /// The block of a statement that must have one.
    pub fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        match &node.block {
            Some(b) => b,
            None => {
                self.err(
                    node.end_span(),
                    format!("'{}': expected '{{' opening its block", node.kw()),
                );
                &[]
            }
        }
    }

    /// Complains when a simple keyword was given a block.
    pub fn no_block(&mut self, node: &Node) {
        if node.block.is_some() {
            self.err(
                node.span(),
                format!("'{}' does not take a '{{ }}' block", node.kw()),
            );
        }
    }

    /// Argument `i`, or an error saying what was expected there.
    pub fn arg<'n>(&mut self, node: &'n Node, i: usize, what: &str) -> Option<&'n Token> {
        match node.args.get(i) {
            Some(t) => Some(t),
            None => {
                self.err(node.end_span(), format!("'{}': expected {what}", node.kw()));
                None
            }
        }
    }

    /// The single argument of a keyword; extra values are warned about.
    pub fn one<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n Token> {
        self.no_block(node);
        let t = self.arg(node, 0, what)?;
        self.extra(node, 1);
        Some(t)
    }

    pub fn extra(&mut self, node: &Node, allowed: usize) {
        if let Some(t) = node.args.get(allowed) {
            self.warn(
                t.span,
                format!(
                    "'{}': unexpected extra value '{}' ignored",
                    node.kw(),
                    t.text
                ),
            );
        }
    }

    pub fn none(&mut self, node: &Node) {
        self.no_block(node);
        self.extra(node, 0);
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        self.one(node, what).map(|t| t.text.clone())
    }

    pub fn int_in(&mut self, node: &Node, tok: &Token, min: i64, max: i64) -> Option<i64> {
        match parse_i64(&tok.text) {
            Some(v) if v >= min && v <= max => Some(v),
            _ => {
                self.err(
                    tok.span,
                    format!(
                        "'{}': expected a whole number from {min} to {max}, found '{}'",
                        node.kw(),
                        tok.text
                    ),
                );
                None
            }
        }
    }

    /// The single argument as a number in `min..=max`.
    pub fn num(&mut self, node: &Node, min: i64, max: i64) -> Option<i64> {
        // The message only when it is needed: numbers are most of a large file's values.
        let t = match node.args.first() {
            Some(_) => self.one(node, "")?,
            None => self.one(node, &format!("a whole number from {min} to {max}"))?,
        };
        self.int_in(node, t, min, max)
    }

    pub fn u32v(&mut self, node: &Node, min: u32, max: u32) -> Option<u32> {
        self.num(node, min.into(), max.into()).map(|v| v as u32)
    }

    pub fn u8v(&mut self, node: &Node, min: u8, max: u8) -> Option<u8> {
        self.num(node, min.into(), max.into()).map(|v| v as u8)
    }

    pub fn bool_tok(&mut self, node: &Node, tok: &Token) -> Option<bool> {
        match parse_bool(&tok.text) {
            Some(b) => Some(b),
            None => {
                self.err(
                    tok.span,
                    format!(
                        "'{}': expected on|off|true|false|yes|no, found '{}'",
                        node.kw(),
                        tok.text
                    ),
                );
                None
            }
        }
    }

    /// `keyword [BOOL]`: no value means true.
    pub fn flag(&mut self, node: &Node) -> Option<bool> {
        self.no_block(node);
        match node.args.first() {
            None => Some(true),
            Some(t) => {
                self.extra(node, 1);
                self.bool_tok(node, t)
            }
        }
    }

    pub fn timer_tok(&mut self, node: &Node, tok: &Token, max_secs: f64) -> Option<Timer> {
        match parse_timer(&tok.text) {
            Some(d) if d.as_secs_f64() <= max_secs => Some(Timer(d)),
            _ => {
                self.err(
                    tok.span,
                    format!("'{}': expected a time in seconds from 0 to {max_secs} (e.g. 3 or 0.5), found '{}'", node.kw(), tok.text),
                );
                None
            }
        }
    }

    pub fn timer(&mut self, node: &Node, max_secs: f64) -> Option<Timer> {
        let t = self.one(node, "a time in seconds (e.g. 3 or 0.5)")?;
        self.timer_tok(node, t, max_secs)
    }

    pub fn ip_tok(&mut self, node: &Node, tok: &Token) -> Option<IpAddr> {
        match parse_ip(&tok.text) {
            Some(a) => Some(a),
            None => {
                self.err(
                    tok.span,
                    format!(
                        "'{}': expected an IPv4 or IPv6 address, found '{}'",
                        node.kw(),
                        tok.text
                    ),
                );
                None
            }
        }
    }

    pub fn ip(&mut self, node: &Node) -> Option<IpAddr> {
        let t = self.one(node, "an IP address")?;
        self.ip_tok(node, t)
    }

    pub fn port_tok(&mut self, node: &Node, tok: &Token) -> Option<u16> {
        match tok.text.parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => {
                self.err(
                    tok.span,
                    format!(
                        "'{}': expected a port number from 0 to 65535, found '{}'",
                        node.kw(),
                        tok.text
                    ),
                );
                None
            }
        }
    }

    pub fn port(&mut self, node: &Node) -> Option<u16> {
        let t = self.one(node, "a port number")?;
        self.port_tok(node, t)
    }

    /// `keyword SCRIPT [username [groupname]]`.
    pub fn script(&mut self, node: &Node) -> Option<Script> {
        self.no_block(node);
        let cmd = self.arg(node, 0, "a script (a path, quoted with its arguments)")?;
        if cmd.text.trim().is_empty() {
            self.err(
                cmd.span,
                format!("'{}': expected a script, found an empty string", node.kw()),
            );
            return None;
        }
        self.extra(node, 3);
        Some(Script {
            command: cmd.text.clone(),
            user: node.args.get(1).map(|t| t.text.clone()),
            group: node.args.get(2).map(|t| t.text.clone()),
        })
    }
}

pub fn parse_i64(s: &str) -> Option<i64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok();
    }
    s.parse().ok()
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// Seconds with up to microsecond resolution: `3`, `0.5`, `2.71828`.
pub fn parse_timer(s: &str) -> Option<Duration> {
    if s.is_empty() || s.starts_with('-') || s.starts_with('+') {
        return None;
    }
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut micros: u64 = 0;
    for (k, d) in frac.chars().take(6).enumerate() {
        micros += u64::from(d.to_digit(10)?) * 10u64.pow(5 - k as u32);
    }
    Some(Duration::from_secs(secs) + Duration::from_micros(micros))
}

pub fn parse_ip(s: &str) -> Option<IpAddr> {
    // IPv6 link-local addresses may carry a zone (fe80::1%eth0); the zone is not part of the address.
    let s = s.split('%').next()?;
    s.parse().ok()
}

/// `ADDR[/PREFIX]`, with the prefix checked against the family.
pub fn parse_ip_prefix(s: &str) -> Result<(IpAddr, Option<u8>), String> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = parse_ip(a).ok_or_else(|| {
        format!("expected an address like 10.0.0.1/24 or 2001:db8::1/64, found '{s}'")
    })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => None,
        Some(p) => match p.parse::<u8>() {
            Ok(v) if v <= max => Some(v),
            _ => {
                return Err(format!(
                    "expected a prefix length from 0 to {max} after '/', found '{p}'"
                ))
            }
        },
    };
    Ok((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_have_microsecond_resolution() {
        assert_eq!(parse_timer("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_timer("0.05"), Some(Duration::from_millis(50)));
        assert_eq!(
            parse_timer("2.7182818"),
            Some(Duration::from_micros(2_718_281))
        );
        assert_eq!(parse_timer(".5"), Some(Duration::from_millis(500)));
        for bad in ["", "-1", "1.2.3", "abc", "1s", "."] {
            assert_eq!(parse_timer(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_are_checked_per_family() {
        assert!(parse_ip_prefix("10.0.0.1/24").is_ok());
        assert!(parse_ip_prefix("10.0.0.1/33").is_err());
        assert!(parse_ip_prefix("2001:db8::1/128").is_ok());
        assert!(parse_ip_prefix("fe80::1%eth0").is_ok());
        assert!(parse_ip_prefix("10.0.0.256").is_err());
    }
}

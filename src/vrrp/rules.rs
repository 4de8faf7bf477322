//! virtual_rules: `ip rule`-style lines of the config as rule messages, added while MASTER
//! (like virtual_routes). Supported: from, to, table/lookup, preference, iif, oif, fwmark[/mask],
//! tos/dsfield, goto, not, nop, type blackhole|unreachable|prohibit; other selectors are refused.

use std::net::IpAddr;

use netlink_packet_route::route::RouteProtocol;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::AddressFamily;
use thiserror::Error;

use crate::config::model::Rule;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("rule {rule}: bad {what} '{value}'")]
    Bad {
        rule: String,
        what: &'static str,
        value: String,
    },
    #[error("rule {rule}: option {option} is not supported yet")]
    Unsupported { rule: String, option: String },
    #[error("rule {rule}: from and to are of different address families")]
    Mixed { rule: String },
}

/// How the rule is named in messages.
pub fn describe(r: &Rule) -> String {
    let mut s = Vec::new();
    if let Some(f) = &r.from {
        s.push(format!("from {f}"));
    }
    if let Some(t) = &r.to {
        s.push(format!("to {t}"));
    }
    for (k, v) in &r.options {
        s.push(format!("{k} {v}").trim().to_string());
    }
    if let Some(t) = &r.table {
        s.push(format!("table {t}"));
    }
    if let Some(p) = r.preference {
        s.push(format!("pref {p}"));
    }
    if s.is_empty() {
        "all".into()
    } else {
        s.join(" ")
    }
}

fn prefix(text: &str, rule: &str) -> Result<Option<(IpAddr, u8)>, RuleError> {
    if text == "all" {
        return Ok(None);
    }
    let bad = || RuleError::Bad {
        rule: rule.to_string(),
        what: "prefix",
        value: text.to_string(),
    };
    let (a, l) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
        None => (text, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = l.unwrap_or(max);
    if len > max {
        return Err(bad());
    }
    Ok(Some((addr, len)))
}

fn number(v: &str, rule: &str, what: &'static str) -> Result<u32, RuleError> {
    let r = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => v.parse(),
    };
    r.map_err(|_| RuleError::Bad {
        rule: rule.to_string(),
        what,
        value: v.to_string(),
    })
}

fn table(t: &str, rule: &str) -> Result<u32, RuleError> {
    Ok(match t {
        "main" => 254,
        "local" => 255,
        "default" => 253,
        n => number(n, rule, "table")?,
    })
}

/// The rule message for a config line, marked `proto keepalived` as keepalived marks its rules.
pub fn rule_message(r: &Rule) -> Result<RuleMessage, RuleError> {
    let name = describe(r);
    let mut m = RuleMessage::default();
    let from = r.from.as_deref().map(|f| prefix(f, &name)).transpose()?;
    let to = r.to.as_deref().map(|t| prefix(t, &name)).transpose()?;
    let fam4 = [from, to]
        .iter()
        .flatten()
        .flatten()
        .map(|(a, _)| a.is_ipv4())
        .collect::<Vec<_>>();
    if fam4.windows(2).any(|w| w[0] != w[1]) {
        return Err(RuleError::Mixed { rule: name });
    }
    let v6 = r.inet6 || fam4.first() == Some(&false);
    m.header.family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    if let Some(Some((a, l))) = from {
        m.header.src_len = l;
        m.attributes.push(RuleAttribute::Source(a));
    }
    if let Some(Some((a, l))) = to {
        m.header.dst_len = l;
        m.attributes.push(RuleAttribute::Destination(a));
    }
    m.header.action = RuleAction::ToTable;
    for (k, v) in &r.options {
        match k.as_str() {
            "iif" => m.attributes.push(RuleAttribute::Iifname(v.clone())),
            "oif" => m.attributes.push(RuleAttribute::Oifname(v.clone())),
            "fwmark" => {
                let (mark, mask) = match v.split_once('/') {
                    Some((a, b)) => (a, Some(b)),
                    None => (v.as_str(), None),
                };
                m.attributes
                    .push(RuleAttribute::FwMark(number(mark, &name, "fwmark")?));
                if let Some(mask) = mask {
                    m.attributes
                        .push(RuleAttribute::FwMask(number(mask, &name, "fwmark mask")?));
                }
            }
            "tos" | "dsfield" => {
                let t = number(v, &name, "tos")?;
                m.header.tos = u8::try_from(t).map_err(|_| RuleError::Bad {
                    rule: name.clone(),
                    what: "tos",
                    value: v.clone(),
                })?;
            }
            "goto" => {
                m.header.action = RuleAction::Goto;
                m.attributes
                    .push(RuleAttribute::Goto(number(v, &name, "goto")?));
            }
            "not" => m.header.flags |= RuleFlags::Invert,
            "nop" => m.header.action = RuleAction::Nop,
            "type" => {
                m.header.action = match v.as_str() {
                    "unicast" => RuleAction::ToTable,
                    "blackhole" => RuleAction::Blackhole,
                    "unreachable" => RuleAction::Unreachable,
                    "prohibit" => RuleAction::Prohibit,
                    _ => {
                        return Err(RuleError::Bad {
                            rule: name,
                            what: "type",
                            value: v.clone(),
                        })
                    }
                }
            }
            _ => {
                return Err(RuleError::Unsupported {
                    rule: name,
                    option: k.clone(),
                })
            }
        }
    }
    if m.header.action == RuleAction::ToTable {
        // `ip rule` without a table looks up main.
        let t = table(r.table.as_deref().unwrap_or("main"), &name)?;
        m.header.table = u8::try_from(t).unwrap_or(0);
        m.attributes.push(RuleAttribute::Table(t));
    }
    if let Some(p) = r.preference {
        m.attributes.push(RuleAttribute::Priority(p));
    }
    m.attributes
        .push(RuleAttribute::Protocol(RouteProtocol::KeepAlived));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(from: Option<&str>, to: Option<&str>, options: &[(&str, &str)]) -> Rule {
        Rule {
            from: from.map(String::from),
            to: to.map(String::from),
            table: Some("100".into()),
            preference: Some(1000),
            no_track: false,
            inet6: false,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            track_group: None,
            span: Default::default(),
        }
    }

    #[test]
    fn source_rule_with_table_preference_and_fwmark() {
        let m = rule_message(&rule(
            Some("10.9.0.100/32"),
            None,
            &[("fwmark", "0x10/0xff"), ("iif", "eth0")],
        ))
        .unwrap();
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.src_len, 32);
        assert_eq!(m.header.table, 100);
        assert_eq!(m.header.action, RuleAction::ToTable);
        let a = &m.attributes;
        assert!(a.contains(&RuleAttribute::Source("10.9.0.100".parse().unwrap())));
        assert!(a.contains(&RuleAttribute::FwMark(0x10)));
        assert!(a.contains(&RuleAttribute::FwMask(0xff)));
        assert!(a.contains(&RuleAttribute::Iifname("eth0".into())));
        assert!(a.contains(&RuleAttribute::Priority(1000)));
        assert!(a.contains(&RuleAttribute::Table(100)));
    }

    #[test]
    fn ipv6_goto_types_and_errors() {
        let m = rule_message(&rule(None, Some("2001:db8::/64"), &[])).unwrap();
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert_eq!(m.header.dst_len, 64);
        let m = rule_message(&rule(None, None, &[("goto", "2000")])).unwrap();
        assert_eq!(m.header.action, RuleAction::Goto);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RuleAttribute::Table(_))));
        let m = rule_message(&rule(None, None, &[("type", "blackhole"), ("not", "")])).unwrap();
        assert_eq!(m.header.action, RuleAction::Blackhole);
        assert!(m.header.flags.contains(RuleFlags::Invert));
        let mut big = rule(None, None, &[]);
        big.table = Some("1000".into());
        let m = rule_message(&big).unwrap();
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RuleAttribute::Table(1000)));
        assert!(matches!(
            rule_message(&rule(Some("10.0.0.1"), Some("2001:db8::1"), &[])),
            Err(RuleError::Mixed { .. })
        ));
        assert!(matches!(
            rule_message(&rule(None, None, &[("uidrange", "1-2")])),
            Err(RuleError::Unsupported { .. })
        ));
        assert!(rule_message(&rule(Some("10.0.0.1/40"), None, &[])).is_err());
    }
}

//! What a configuration changes in static_ipaddress / static_routes / static_rules, decided from
//! the models alone. An entry is known by what it says (its model without the line it is on; an
//! address without `dev` by default_interface too), so a moved line is the same entry and a
//! changed option is another one: the old one goes, the new one comes, the others stay.

use std::fmt::Display;

use serde::Serialize;
use serde_json::Value;

use crate::config::model::{Config, IpAddress, Route, Rule};
use crate::vrrp::rules::describe;

/// Which of the entries held go and which of the wanted ones are added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Indexes into `have`.
    pub remove: Vec<usize>,
    /// Indexes into `want`: new ones, and unchanged ones that are not held (their add failed).
    pub add: Vec<usize>,
}

/// `have`: the keys of the entries in place; `want`: those the configuration names, in order.
/// A key named twice is added once.
pub fn diff(have: &[Value], want: &[Value]) -> Diff {
    let remove = (0..have.len())
        .filter(|&i| !want.contains(&have[i]))
        .collect();
    let add = (0..want.len())
        .filter(|&i| !have.contains(&want[i]) && !want[..i].contains(&want[i]))
        .collect();
    Diff { remove, add }
}

fn key<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The interface a static address goes on: its own, else default_interface (as keepalived).
pub fn address_dev<'a>(cfg: &'a Config, a: &'a IpAddress) -> &'a str {
    a.dev.as_deref().unwrap_or(&cfg.global.default_interface)
}

pub fn address_keys(cfg: &Config) -> Vec<Value> {
    cfg.static_ipaddress
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a.dev = Some(address_dev(cfg, &a).to_string());
            key(&a)
        })
        .collect()
}

pub fn route_keys(cfg: &Config) -> Vec<Value> {
    cfg.static_routes.iter().map(key).collect()
}

pub fn rule_keys(cfg: &Config) -> Vec<Value> {
    cfg.static_rules.iter().map(key).collect()
}

pub fn describe_address(cfg: &Config, a: &IpAddress) -> String {
    format!("{}/{} dev {}", a.addr, a.prefix, address_dev(cfg, a))
}

pub fn describe_route(r: &Route) -> String {
    let mut s = r.to.clone();
    if let Some(v) = r.via {
        s += &format!(" via {v}");
    }
    if let Some(d) = &r.dev {
        s += &format!(" dev {d}");
    }
    if let Some(t) = &r.table {
        s += &format!(" table {t}");
    }
    s
}

pub fn describe_rule(r: &Rule) -> String {
    describe(r)
}

/// One log line per static block that a reload from `old` to `new` changes.
pub fn describe_changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let addrs = |c: &Config| -> Vec<String> {
        c.static_ipaddress
            .iter()
            .map(|a| describe_address(c, a))
            .collect()
    };
    let routes =
        |c: &Config| -> Vec<String> { c.static_routes.iter().map(describe_route).collect() };
    let rules = |c: &Config| -> Vec<String> { c.static_rules.iter().map(describe_rule).collect() };
    line(
        &mut out,
        "static_ipaddress",
        &address_keys(old),
        &address_keys(new),
        &addrs(old),
        &addrs(new),
    );
    line(
        &mut out,
        "static_routes",
        &route_keys(old),
        &route_keys(new),
        &routes(old),
        &routes(new),
    );
    line(
        &mut out,
        "static_rules",
        &rule_keys(old),
        &rule_keys(new),
        &rules(old),
        &rules(new),
    );
    out
}

fn line(
    out: &mut Vec<String>,
    block: &str,
    old: &[Value],
    new: &[Value],
    old_names: &[String],
    new_names: &[String],
) {
    // Against the old configuration (not what is in place): a dry run says what the file changes.
    let d = diff(old, new);
    if d.remove.is_empty() && d.add.is_empty() {
        return;
    }
    let names = |idx: &[usize], n: &[String]| -> String { list(idx.iter().map(|&i| &n[i])) };
    let mut s = block.to_string();
    if !d.add.is_empty() {
        s += &format!(" added {}", names(&d.add, new_names));
    }
    if !d.remove.is_empty() {
        if !d.add.is_empty() {
            s.push(',');
        }
        s += &format!(" removed {}", names(&d.remove, old_names));
    }
    out.push(s);
}

fn list<T: Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|x| x.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::Span;

    fn v(s: &str) -> Value {
        Value::String(s.into())
    }

    #[test]
    fn gone_ones_go_new_ones_come_unchanged_ones_stay() {
        let d = diff(&[v("a"), v("b"), v("c")], &[v("c"), v("d"), v("a")]);
        assert_eq!(d.remove, [1]);
        assert_eq!(d.add, [1]);
    }

    #[test]
    fn a_key_named_twice_is_added_once() {
        let d = diff(&[], &[v("a"), v("a"), v("b")]);
        assert_eq!(d.add, [0, 2]);
    }

    fn cfg(addrs: &[(&str, Option<&str>, u32)]) -> Config {
        let mut c = Config::empty();
        c.global.default_interface = "eth0".into();
        for (a, dev, line) in addrs {
            let span = Span {
                line: *line,
                ..Span::default()
            };
            let mut ip = IpAddress::new(a.parse().expect("address"), 24, span);
            ip.dev = dev.map(str::to_string);
            c.static_ipaddress.push(ip);
        }
        c
    }

    #[test]
    fn a_moved_line_is_the_same_entry_and_default_interface_counts() {
        let old = cfg(&[("10.0.0.1", None, 3), ("10.0.0.2", Some("eth1"), 4)]);
        let moved = cfg(&[
            ("10.0.0.2", Some("eth1"), 9),
            ("10.0.0.1", Some("eth0"), 10),
        ]);
        assert!(describe_changes(&old, &moved).is_empty());
        let mut other_default = old.clone();
        other_default.global.default_interface = "eth2".into();
        assert_eq!(
            describe_changes(&old, &other_default),
            ["static_ipaddress added 10.0.0.1/24 dev eth2, removed 10.0.0.1/24 dev eth0"]
        );
    }

    #[test]
    fn routes_and_rules_are_described_by_block() {
        let old = Config::empty();
        let mut new = Config::empty();
        let mut r = Route::new("10.7.0.0/16", Span::default());
        r.via = Some("10.9.0.254".parse().expect("address"));
        new.static_routes.push(r);
        assert_eq!(
            describe_changes(&old, &new),
            ["static_routes added 10.7.0.0/16 via 10.9.0.254"]
        );
        assert_eq!(
            describe_changes(&new, &old),
            ["static_routes removed 10.7.0.0/16 via 10.9.0.254"]
        );
    }
}

//! static_ipaddress, static_routes and static_rules: the machine's own addresses, routes and rules,
//! tied to no VRRP state. As keepalived, the VRRP engine adds them when it starts (also without any
//! vrrp_instance) and removes them when it stops, --dont-release-vrrp or not. A reload applies the
//! difference (`statics_plan`): entries gone are removed, new ones added, unchanged ones are not
//! touched (one whose add failed before is tried again, as keepalived re-adds them all).

use std::collections::HashMap;

use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use serde_json::Value;
use tracing::{info, warn};

use crate::config::model::Config;
use crate::vrrp::netlink::{Netlink, Vip};
use crate::vrrp::routes::route_message;
use crate::vrrp::rules::{describe, rule_message};
use crate::vrrp::statics_plan::{address_dev, address_keys, diff, route_keys, rule_keys, Diff};

/// What is in place, each with the key of the configuration entry it came from.
#[derive(Default)]
pub struct Statics {
    nl: Option<Netlink>,
    addresses: Vec<(Value, Vip)>,
    routes: Vec<(Value, String, RouteMessage)>,
    rules: Vec<(Value, String, RuleMessage)>,
}

/// Interface indexes by name, looked up once; a missing interface is reported once.
struct Links<'a> {
    nl: &'a Netlink,
    known: HashMap<String, Option<u32>>,
}

impl Links<'_> {
    async fn index(&mut self, name: &str) -> Option<u32> {
        if let Some(i) = self.known.get(name) {
            return *i;
        }
        let i = match self.nl.link(name).await {
            Ok(l) => Some(l.index),
            Err(e) => {
                warn!("static: {e}");
                None
            }
        };
        self.known.insert(name.to_string(), i);
        i
    }
}

fn keys<T>(v: &[(Value, T)]) -> Vec<Value> {
    v.iter().map(|(k, _)| k.clone()).collect()
}

fn keys3<T, U>(v: &[(Value, T, U)]) -> Vec<Value> {
    v.iter().map(|(k, _, _)| k.clone()).collect()
}

/// Takes the entries at `idx` out of `v` (indexes of `v` before any is taken).
fn take<T>(v: &mut Vec<T>, idx: &[usize]) -> Vec<T> {
    let mut out = Vec::new();
    for &i in idx.iter().rev() {
        out.push(v.remove(i));
    }
    out.reverse();
    out
}

impl Statics {
    /// Adds the configuration's entries: the start, or the first load after an empty one.
    pub async fn add(cfg: &Config) -> Statics {
        let mut s = Statics::default();
        s.apply(cfg).await;
        s
    }

    /// Makes the entries in place those of `cfg`: removes rules, routes, then addresses that are
    /// gone, then adds addresses, routes (which may go via them), then rules that are new. Each
    /// one that cannot be added is logged and skipped.
    pub async fn apply(&mut self, cfg: &Config) {
        let (a, r, u) = (address_keys(cfg), route_keys(cfg), rule_keys(cfg));
        let da = diff(&keys(&self.addresses), &a);
        let dr = diff(&keys3(&self.routes), &r);
        let du = diff(&keys3(&self.rules), &u);
        let nothing = |d: &Diff| d.add.is_empty() && d.remove.is_empty();
        if nothing(&da) && nothing(&dr) && nothing(&du) {
            return;
        }
        let nl = match &self.nl {
            Some(nl) => nl.clone(),
            None => match Netlink::open() {
                Ok(nl) => {
                    self.nl = Some(nl.clone());
                    nl
                }
                Err(e) => {
                    warn!("static addresses, routes and rules not changed: {e}");
                    return;
                }
            },
        };
        let gone_rules = take(&mut self.rules, &du.remove);
        let gone_routes = take(&mut self.routes, &dr.remove);
        let gone_addrs = take(&mut self.addresses, &da.remove);
        remove(&nl, &gone_rules, &gone_routes, &gone_addrs).await;

        let mut links = Links {
            nl: &nl,
            known: HashMap::new(),
        };
        let mut added = (0, 0, 0);
        for &i in &da.add {
            let c = &cfg.static_ipaddress[i];
            let Some(index) = links.index(address_dev(cfg, c)).await else {
                warn!("static address {}/{} skipped", c.addr, c.prefix);
                continue;
            };
            let v = match Vip::from_config(c, index) {
                Ok(v) => v,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add(&v).await {
                Ok(()) => {
                    self.addresses.push((a[i].clone(), v));
                    added.0 += 1;
                }
                Err(e) => warn!("static: {e}"),
            }
        }
        for &i in &dr.add {
            let c = &cfg.static_routes[i];
            let dev = match c.dev.as_deref() {
                None => None,
                Some(d) => match links.index(d).await {
                    Some(x) => Some(x),
                    None => {
                        warn!("static route {} skipped", c.to);
                        continue;
                    }
                },
            };
            let msg = match route_message(c, dev) {
                Ok(m) => m,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add_route(&c.to, &msg).await {
                Ok(()) => {
                    self.routes.push((r[i].clone(), c.to.clone(), msg));
                    added.1 += 1;
                }
                Err(e) => warn!("static: {e}"),
            }
        }
        for &i in &du.add {
            let c = &cfg.static_rules[i];
            let what = describe(c);
            let msg = match rule_message(c) {
                Ok(m) => m,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add_rule(&what, &msg).await {
                Ok(()) => {
                    self.rules.push((u[i].clone(), what, msg));
                    added.2 += 1;
                }
                Err(e) => warn!("static: {e}"),
            }
        }
        if !(gone_addrs.is_empty() && gone_routes.is_empty() && gone_rules.is_empty()) {
            info!(
                "static: removed {} address(es), {} route(s), {} rule(s)",
                gone_addrs.len(),
                gone_routes.len(),
                gone_rules.len()
            );
        }
        info!(
            "static: added {} address(es), {} route(s), {} rule(s); {} address(es), {} route(s), {} rule(s) in place",
            added.0,
            added.1,
            added.2,
            self.addresses.len(),
            self.routes.len(),
            self.rules.len()
        );
    }

    /// Removes everything in place, in reverse order.
    pub async fn remove(self) {
        let Some(nl) = &self.nl else {
            return;
        };
        remove(nl, &self.rules, &self.routes, &self.addresses).await;
        info!(
            "static: removed {} address(es), {} route(s), {} rule(s)",
            self.addresses.len(),
            self.routes.len(),
            self.rules.len()
        );
    }
}

async fn remove(
    nl: &Netlink,
    rules: &[(Value, String, RuleMessage)],
    routes: &[(Value, String, RouteMessage)],
    addresses: &[(Value, Vip)],
) {
    for (_, what, r) in rules {
        if let Err(e) = nl.del_rule(what, r).await {
            warn!("static: {e}");
        }
    }
    for (_, what, r) in routes {
        if let Err(e) = nl.del_route(what, r).await {
            warn!("static: {e}");
        }
    }
    for (_, v) in addresses {
        if let Err(e) = nl.del(v).await {
            warn!("static: {e}");
        }
    }
}

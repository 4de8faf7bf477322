//! static_ipaddress, static_routes and static_rules: the machine's own addresses, routes and rules,
//! tied to no VRRP state. As keepalived, the VRRP engine adds them when it starts (also without any
//! vrrp_instance) and removes them when it stops, --dont-release-vrrp or not.

use std::collections::HashMap;

use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use tracing::{info, warn};

use crate::config::model::Config;
use crate::vrrp::netlink::{Netlink, Vip};
use crate::vrrp::routes::route_message;
use crate::vrrp::rules::{describe, rule_message};

/// What was added, to remove at stop.
pub struct Statics {
    nl: Netlink,
    addresses: Vec<Vip>,
    routes: Vec<(String, RouteMessage)>,
    rules: Vec<(String, RuleMessage)>,
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

impl Statics {
    /// Adds addresses, then routes (which may go via them), then rules. Each one that cannot be
    /// added is logged and skipped; None when none is configured.
    pub async fn add(cfg: &Config) -> Option<Statics> {
        if cfg.static_ipaddress.is_empty()
            && cfg.static_routes.is_empty()
            && cfg.static_rules.is_empty()
        {
            return None;
        }
        let nl = match Netlink::open() {
            Ok(nl) => nl,
            Err(e) => {
                warn!("static addresses, routes and rules not added: {e}");
                return None;
            }
        };
        let mut s = Statics {
            nl: nl.clone(),
            addresses: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
        };
        let mut links = Links {
            nl: &nl,
            known: HashMap::new(),
        };
        for a in &cfg.static_ipaddress {
            // keepalived puts an address without dev on default_interface.
            let dev = a.dev.as_deref().unwrap_or(&cfg.global.default_interface);
            let Some(index) = links.index(dev).await else {
                warn!("static address {}/{} skipped", a.addr, a.prefix);
                continue;
            };
            let v = match Vip::from_config(a, index) {
                Ok(v) => v,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add(&v).await {
                Ok(()) => s.addresses.push(v),
                Err(e) => warn!("static: {e}"),
            }
        }
        for r in &cfg.static_routes {
            let dev = match r.dev.as_deref() {
                None => None,
                Some(d) => match links.index(d).await {
                    Some(i) => Some(i),
                    None => {
                        warn!("static route {} skipped", r.to);
                        continue;
                    }
                },
            };
            let msg = match route_message(r, dev) {
                Ok(m) => m,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add_route(&r.to, &msg).await {
                Ok(()) => s.routes.push((r.to.clone(), msg)),
                Err(e) => warn!("static: {e}"),
            }
        }
        for r in &cfg.static_rules {
            let what = describe(r);
            let msg = match rule_message(r) {
                Ok(m) => m,
                Err(e) => {
                    warn!("static {e}, skipped");
                    continue;
                }
            };
            match nl.add_rule(&what, &msg).await {
                Ok(()) => s.rules.push((what, msg)),
                Err(e) => warn!("static: {e}"),
            }
        }
        info!(
            "static: added {} address(es), {} route(s), {} rule(s)",
            s.addresses.len(),
            s.routes.len(),
            s.rules.len()
        );
        Some(s)
    }

    /// Removes what `add` added, in reverse order.
    pub async fn remove(self) {
        for (what, r) in &self.rules {
            if let Err(e) = self.nl.del_rule(what, r).await {
                warn!("static: {e}");
            }
        }
        for (what, r) in &self.routes {
            if let Err(e) = self.nl.del_route(what, r).await {
                warn!("static: {e}");
            }
        }
        for v in &self.addresses {
            if let Err(e) = self.nl.del(v).await {
                warn!("static: {e}");
            }
        }
        info!(
            "static: removed {} address(es), {} route(s), {} rule(s)",
            self.addresses.len(),
            self.routes.len(),
            self.rules.len()
        );
    }
}

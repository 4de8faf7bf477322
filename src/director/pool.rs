//! The director's pure core: real-server health and quorum -> the IPVS table that should exist, and
//! the notifications each change triggers. No I/O: the shell runs the scripts and applies the table.

use super::services::{destination, label, service, service_keys};
use crate::config::model::{Config, Protocol, RealServer, Script, VirtualServer, VsKey};
use ipvs::{Destination, ServiceKey, Table, VirtualService};
use std::sync::Arc;

/// Each service's destinations in configuration order (a short list per service: a map entry per
/// destination cost about 100 bytes each with 10,000 real servers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranks(std::collections::HashMap<ServiceKey, Vec<ipvs::DestKey>>);

impl Ranks {
    /// Where `d` stands in service `k`'s configuration.
    pub fn get(&self, k: &ServiceKey, d: &ipvs::DestKey) -> Option<usize> {
        self.0.get(k)?.iter().position(|x| x == d)
    }

    /// As `get`, destinations lvsd does not know last.
    pub fn rank(&self, k: &ServiceKey, d: &ipvs::DestKey) -> usize {
        self.get(k, d).unwrap_or(usize::MAX)
    }

    /// Destinations ranked.
    pub fn len(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Something the shell must do because the pool changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a notify_up / notify_down / quorum_up / quorum_down script (keepalived appends no arguments).
    /// `object` (`RS [ip]:tcp:port [vip]:tcp:port`, `VS [vip]:tcp:port`): one object's scripts run in
    /// the order of its changes.
    Script {
        script: Script,
        why: String,
        object: String,
    },
    /// A line for lvs_notify_fifo / notify_fifo, without the newline.
    Fifo(String),
    /// A log line in keepalived's wording.
    Log(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RsState {
    alive: bool,
    /// Weight while alive: the configured one, or what misc_dynamic / FILE_CHECK set.
    weight: u32,
}

#[derive(Debug, Clone)]
struct Pool {
    /// The configuration this pool belongs to (shared with the other engines, not copied) and the
    /// virtual server's index in it.
    cfg: Arc<Config>,
    index: usize,
    keys: Vec<ServiceKey>,
    rs: Vec<RsState>,
    quorum_up: bool,
}

impl Pool {
    fn vs(&self) -> &VirtualServer {
        &self.cfg.virtual_servers[self.index]
    }

    fn alive_weight(&self) -> u64 {
        self.rs
            .iter()
            .filter(|r| r.alive)
            .map(|r| u64::from(r.weight))
            .sum()
    }

    fn label(&self) -> String {
        match &self.vs().key {
            VsKey::Group { name } => format!("[{name}]:{}:0", proto_name(self.vs().protocol)),
            _ => self.keys.first().map(label).unwrap_or_default(),
        }
    }

    fn rs_label(&self, rs: &RealServer) -> String {
        format!("[{}]:{}:{}", rs.ip, proto_name(self.vs().protocol), rs.port)
    }

    fn dests(&self) -> Vec<Destination> {
        let sorry_mode = !self.quorum_up && self.vs().sorry_server.is_some();
        let mut out = Vec::new();
        for (rs, st) in self.vs().real_servers.iter().zip(&self.rs) {
            if rs.kernel_refuses() {
                continue;
            }
            if st.alive && !sorry_mode {
                out.push(destination(rs, st.weight));
            } else if rs.inhibit_on_failure {
                out.push(destination(rs, 0));
            }
        }
        if let Some(s) = &self.vs().sorry_server {
            let method = s.lvs_method.unwrap_or(self.vs().lvs_method);
            let mut d = Destination::new(s.ip, s.port, super::services::forward(method));
            if sorry_mode {
                out.push(d);
            } else if s.inhibit {
                d.weight = 0;
                out.push(d);
            }
        }
        out
    }
}

fn proto_name(p: Protocol) -> &'static str {
    p.name()
}

/// A destination as programmed in service `key`: only NAT rewrites the port, so keepalived programs
/// a non-NAT destination with the service's port (port 0 for a fwmark service); seen in the kernel
/// lab, also for group entries.
fn on_service(key: &ServiceKey, mut d: Destination) -> Destination {
    if d.forward != ipvs::Forward::Masq {
        d.port = match key {
            ServiceKey::Fwmark { .. } => 0,
            ServiceKey::Addr { port, .. } => *port,
        };
    }
    d
}

/// Every virtual server's pool.
#[derive(Debug, Clone)]
pub struct Director {
    pools: Vec<Pool>,
    /// A real server's state or a quorum changed since `take_changed`: the table may differ. Lets the
    /// shell skip building the whole table for events that change nothing (every real server reports
    /// its initial state at start and after each reload: 40,000 events for 10,000 services).
    changed: bool,
}

impl Director {
    /// Real servers start up, unless alpha says they start down until their first successful check; a
    /// real server without checkers is always up (as keepalived).
    pub fn new(cfg: &Arc<Config>) -> Self {
        let pools = cfg
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(index, vs)| {
                let rs: Vec<RsState> = vs
                    .real_servers
                    .iter()
                    .map(|r| RsState {
                        alive: r.checkers.is_empty() || !r.alpha,
                        weight: r.weight,
                    })
                    .collect();
                // keepalived judges the quorum once at start (live weight against quorum plus
                // hysteresis, set_quorum_states) and again only when a real server changes state
                // (seen in the kernel lab: quorum 5 hysteresis 9 over a weight of 2 is settled to
                // 2 and 1, and starts on the sorry server).
                let live: u64 = rs
                    .iter()
                    .filter(|r| r.alive)
                    .map(|r| u64::from(r.weight))
                    .sum();
                Pool {
                    cfg: cfg.clone(),
                    index,
                    keys: service_keys(vs, &cfg.virtual_server_groups),
                    rs,
                    quorum_up: live >= u64::from(vs.quorum) + u64::from(vs.hysteresis),
                }
            })
            .collect();
        Director {
            pools,
            changed: false,
        }
    }

    /// Whether the desired table may have changed since the last call.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// The table the kernel should hold for the services lvsd manages.
    pub fn desired(&self) -> Table {
        let mut t = Table::new();
        for p in &self.pools {
            let dests = p.dests();
            for key in &p.keys {
                let mut vsvc = VirtualService::new(service(p.vs(), *key));
                for d in &dests {
                    let d = on_service(key, *d);
                    vsvc.dests.insert(d.key(), d);
                }
                t.services.insert(*key, vsvc);
            }
        }
        t
    }

    /// Where each real server (and the sorry server) stands in its virtual server's configuration, for
    /// every destination lvsd may add: destinations are added in that order, as keepalived does, so
    /// `ipvsadm -Ln` lists them the same way. The first real server wins when two share a key.
    pub fn ranks(&self) -> Ranks {
        let mut out = Ranks::default();
        for p in &self.pools {
            let sorry = p.vs().sorry_server.as_ref().map(|s| {
                let method = s.lvs_method.unwrap_or(p.vs().lvs_method);
                Destination::new(s.ip, s.port, super::services::forward(method))
            });
            for key in &p.keys {
                let real = p.vs().real_servers.iter().map(|r| destination(r, r.weight));
                let order = out.0.entry(*key).or_default();
                for d in real.chain(sorry) {
                    let dk = on_service(key, d).key();
                    if !order.contains(&dk) {
                        order.push(dk);
                    }
                }
            }
        }
        out
    }

    /// After a reload: real servers that were running before (same services, same address and port)
    /// keep their health, weight set by checks, and each service its quorum state, so a reload neither
    /// re-adds a dead server nor drops a live one.
    pub fn carry_state_from(&mut self, old: &Director) {
        let mut by_keys = std::collections::HashMap::new();
        for o in &old.pools {
            by_keys.entry(o.keys.as_slice()).or_insert(o);
        }
        for p in &mut self.pools {
            let Some(op) = by_keys.get(p.keys.as_slice()) else {
                continue;
            };
            p.quorum_up = op.quorum_up;
            let cfg = p.cfg.clone();
            for (conf, st) in cfg.virtual_servers[p.index]
                .real_servers
                .iter()
                .zip(p.rs.iter_mut())
            {
                let found = op
                    .vs()
                    .real_servers
                    .iter()
                    .zip(&op.rs)
                    .find(|(c, _)| c.ip == conf.ip && c.port == conf.port);
                if let Some((oconf, ost)) = found {
                    st.alive = ost.alive || conf.checkers.is_empty();
                    // A weight a check set (misc_dynamic) survives; a configured weight follows the file.
                    if ost.weight != oconf.weight {
                        st.weight = ost.weight;
                    }
                }
            }
        }
    }

    /// Whether each real server (by virtual and real server index) is up now.
    pub fn alive_map(&self) -> Vec<Vec<bool>> {
        self.pools
            .iter()
            .map(|p| p.rs.iter().map(|r| r.alive).collect())
            .collect()
    }

    /// Every service key lvsd manages (to leave other programs' services alone).
    pub fn owned_keys(&self) -> impl Iterator<Item = &ServiceKey> {
        self.pools.iter().flat_map(|p| p.keys.iter())
    }

    pub fn is_alive(&self, vs: usize, rs: usize) -> Option<bool> {
        self.pools.get(vs)?.rs.get(rs).map(|r| r.alive)
    }

    /// The weight real server `rs` has while alive.
    pub fn weight(&self, vs: usize, rs: usize) -> Option<u32> {
        self.pools.get(vs)?.rs.get(rs).map(|r| r.weight)
    }

    pub fn quorum_up(&self, vs: usize) -> Option<bool> {
        self.pools.get(vs).map(|p| p.quorum_up)
    }

    /// A checker verdict for real server `rs` of virtual server `vs`: up or down, and optionally a new
    /// weight (misc_dynamic, FILE_CHECK). Unknown indexes are ignored.
    pub fn set_health(
        &mut self,
        vs: usize,
        rs: usize,
        alive: bool,
        weight: Option<u32>,
        reason: &str,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(pool) = self.pools.get_mut(vs) else {
            return out;
        };
        let Some(state) = pool.rs.get(rs).cloned() else {
            return out;
        };
        let cfg = pool.cfg.clone();
        let conf = &cfg.virtual_servers[pool.index].real_servers[rs];
        let rs_l = pool.rs_label(conf);
        let vs_l = pool.label();
        let new_weight = weight.unwrap_or(state.weight);
        pool.rs[rs] = RsState {
            alive,
            weight: new_weight,
        };
        self.changed |= pool.rs[rs] != state;
        if state.alive != alive {
            let verb = match (alive, conf.inhibit_on_failure) {
                (true, _) => format!("Adding service {rs_l} to VS {vs_l}"),
                (false, true) => {
                    format!("Setting weight 0 on service {rs_l} of VS {vs_l} (inhibit_on_failure)")
                }
                (false, false) => format!("Removing service {rs_l} from VS {vs_l}"),
            };
            out.push(Action::Log(if reason.is_empty() {
                verb
            } else {
                format!("{verb}: {reason}")
            }));
            let (script, word) = if alive {
                (&conf.notify_up, "UP")
            } else {
                (&conf.notify_down, "DOWN")
            };
            if let Some(s) = script {
                out.push(Action::Script {
                    script: Script::clone(s),
                    why: format!("notify_{} {rs_l}", word.to_ascii_lowercase()),
                    object: format!("RS {rs_l} {vs_l}"),
                });
            }
            out.push(Action::Fifo(format!("RS {rs_l} {vs_l} {word}")));
        } else if alive && new_weight != state.weight {
            out.push(Action::Log(format!(
                "Changing weight from {} to {new_weight} for {rs_l} of VS {vs_l}",
                state.weight
            )));
        }
        out.extend(self.update_quorum(vs));
        out
    }

    fn update_quorum(&mut self, vs: usize) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(p) = self.pools.get_mut(vs) else {
            return out;
        };
        let sum = p.alive_weight();
        let q = u64::from(p.vs().quorum);
        let h = u64::from(p.vs().hysteresis);
        let label = p.label();
        if p.quorum_up && sum < q.saturating_sub(h) {
            p.quorum_up = false;
            self.changed = true;
            out.push(Action::Log(format!(
                "Lost quorum {q}-{h}={} > {sum} for VS {label}",
                q.saturating_sub(h)
            )));
            if let Some(s) = &p.vs().sorry_server {
                out.push(Action::Log(format!(
                    "Adding sorry server [{}]:{} to VS {label}",
                    s.ip, s.port
                )));
            }
            if let Some(s) = &p.vs().quorum_down {
                out.push(Action::Script {
                    script: s.clone(),
                    why: format!("quorum_down {label}"),
                    object: format!("VS {label}"),
                });
            }
            out.push(Action::Fifo(format!("VS {label} DOWN")));
        } else if !p.quorum_up && sum >= q + h {
            p.quorum_up = true;
            self.changed = true;
            out.push(Action::Log(format!(
                "Gained quorum {q}+{h}={} <= {sum} for VS {label}",
                q + h
            )));
            if let Some(s) = &p.vs().sorry_server {
                out.push(Action::Log(format!(
                    "Removing sorry server [{}]:{} from VS {label}",
                    s.ip, s.port
                )));
            }
            if let Some(s) = &p.vs().quorum_up {
                out.push(Action::Script {
                    script: s.clone(),
                    why: format!("quorum_up {label}"),
                    object: format!("VS {label}"),
                });
            }
            out.push(Action::Fifo(format!("VS {label} UP")));
        }
        out
    }

    /// On shutdown with omega: notify_down for each live real server and quorum_down for each service
    /// that had quorum, as keepalived does.
    pub fn shutdown_notifications(&self) -> Vec<Action> {
        let mut out = Vec::new();
        for p in self.pools.iter().filter(|p| p.vs().omega) {
            for (conf, st) in p.vs().real_servers.iter().zip(&p.rs) {
                if st.alive {
                    if let Some(s) = &conf.notify_down {
                        out.push(Action::Script {
                            script: Script::clone(s),
                            why: format!("notify_down {} (omega)", p.rs_label(conf)),
                            object: format!("RS {} {}", p.rs_label(conf), p.label()),
                        });
                    }
                }
            }
            if p.quorum_up {
                if let Some(s) = &p.vs().quorum_down {
                    out.push(Action::Script {
                        script: s.clone(),
                        why: format!("quorum_down {} (omega)", p.label()),
                        object: format!("VS {}", p.label()),
                    });
                }
            }
        }
        out
    }
}

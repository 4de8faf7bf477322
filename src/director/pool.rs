//! The director's pure core: real-server health and quorum -> the IPVS table that should exist, and
//! the notifications each change triggers. No I/O: the shell runs the scripts and applies the table.

use super::admin::{ramp_weight, Admin, Overrides};
use super::services::{destination, label, service, service_keys};
use crate::config::model::{Config, Protocol, RealServer, Script, VirtualServer, VsKey};
use ipvs::{Destination, ServiceKey, Table, VirtualService};
use std::sync::Arc;
use std::time::Instant;

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
    /// Virtual server `vs` (config index) gained or lost quorum.
    Quorum { vs: usize, up: bool },
}

#[derive(Debug, Clone, PartialEq)]
struct RsState {
    alive: bool,
    /// Weight while alive: the configured one, or what misc_dynamic / FILE_CHECK set.
    weight: u32,
    /// An operator's drain, maintenance or weight (lvsd ctl).
    admin: Option<Admin>,
    /// Slow start: when the server last came up (health or enable), while its weight still rises.
    rising_since: Option<Instant>,
}

impl RsState {
    fn new(alive: bool, weight: u32) -> RsState {
        RsState {
            alive,
            weight,
            admin: None,
            rising_since: None,
        }
    }

    /// The weight that counts toward quorum: none while drained or in maintenance.
    fn quorum_weight(&self) -> u64 {
        match self.admin {
            _ if !self.alive => 0,
            Some(Admin::Drain { .. } | Admin::Maintenance) => 0,
            Some(Admin::Weight { weight }) => u64::from(weight),
            None => u64::from(self.weight),
        }
    }
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
        self.rs.iter().map(RsState::quorum_weight).sum()
    }

    /// The weight real server `i` has in the table at `now`, or None when it is not in it.
    fn live_weight(&self, i: usize, now: Instant) -> Option<u32> {
        let (conf, st) = (&self.vs().real_servers[i], &self.rs[i]);
        let parked = conf.inhibit_on_failure.then_some(0);
        match st.admin {
            Some(Admin::Maintenance) => return parked,
            Some(Admin::Drain { .. }) => return st.alive.then_some(0).or(parked),
            _ if !st.alive => return parked,
            _ => {}
        }
        let w = match st.admin {
            Some(Admin::Weight { weight }) => weight,
            _ => st.weight,
        };
        Some(match (st.rising_since, conf.slow_start) {
            (Some(t), Some(span)) => ramp_weight(w, now.saturating_duration_since(t), span.0),
            _ => w,
        })
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

    fn dests(&self, now: Instant) -> Vec<Destination> {
        let sorry_mode = !self.quorum_up && self.vs().sorry_server.is_some();
        let mut out = Vec::new();
        for (i, rs) in self.vs().real_servers.iter().enumerate() {
            if rs.kernel_refuses() {
                continue;
            }
            match self.live_weight(i, now) {
                Some(w) if !sorry_mode => out.push(destination(rs, w)),
                _ if rs.inhibit_on_failure => out.push(destination(rs, 0)),
                _ => {}
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
    /// The time of the latest input, for slow start's weights in `desired`.
    now: Instant,
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
                    .map(|r| RsState::new(r.checkers.is_empty() || !r.alpha, r.weight))
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
            now: Instant::now(),
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
            let dests = p.dests(self.now);
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
                    st.admin = ost.admin;
                    st.rising_since = ost.rising_since;
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

    /// The weight real server `rs` has in the table now (None: not in it).
    pub fn live_weight(&self, vs: usize, rs: usize) -> Option<u32> {
        let p = self.pools.get(vs)?;
        (rs < p.rs.len()).then(|| p.live_weight(rs, self.now))?
    }

    pub fn admin(&self, vs: usize, rs: usize) -> Option<Admin> {
        self.pools.get(vs)?.rs.get(rs)?.admin
    }

    /// Whether real server `rs`'s weight is still rising (slow start).
    pub fn rising(&self, vs: usize, rs: usize) -> bool {
        self.pools
            .get(vs)
            .and_then(|p| p.rs.get(rs))
            .is_some_and(|r| r.rising_since.is_some())
    }

    /// Where real server `rs` stands in the kernel: (service, destination) for each of its
    /// virtual server's services.
    pub fn dest_keys(&self, vs: usize, rs: usize) -> Vec<(ServiceKey, ipvs::DestKey)> {
        let Some(p) = self.pools.get(vs) else {
            return Vec::new();
        };
        let Some(conf) = p.vs().real_servers.get(rs) else {
            return Vec::new();
        };
        p.keys
            .iter()
            .map(|k| (*k, on_service(k, destination(conf, 0)).key()))
            .collect()
    }

    /// The labels of virtual server `vs` and its real server `rs`, as the state file keys them.
    pub fn key(&self, vs: usize, rs: usize) -> Option<super::admin::Key> {
        let p = self.pools.get(vs)?;
        let conf = p.vs().real_servers.get(rs)?;
        Some((p.label(), p.rs_label(conf)))
    }

    /// Sets or clears (`None`, lvsd ctl enable) an operator's setting. Coming back from a drain or
    /// maintenance starts slow start.
    pub fn set_admin(
        &mut self,
        vs: usize,
        rs: usize,
        admin: Option<Admin>,
        now: Instant,
    ) -> Vec<Action> {
        self.now = now;
        let Some(pool) = self.pools.get_mut(vs) else {
            return Vec::new();
        };
        let Some(st) = pool.rs.get_mut(rs) else {
            return Vec::new();
        };
        if st.admin == admin {
            return Vec::new();
        }
        let was_out = matches!(st.admin, Some(Admin::Drain { .. } | Admin::Maintenance));
        st.admin = admin;
        let back = was_out && admin.is_none_or(|a| matches!(a, Admin::Weight { .. }));
        if back && st.alive {
            st.rising_since = Some(now);
        }
        self.changed = true;
        let conf = &pool.vs().real_servers[rs];
        let what = match admin {
            None => "back in service".to_string(),
            Some(Admin::Drain { .. }) => "draining (weight 0)".to_string(),
            Some(Admin::Maintenance) => "in maintenance".to_string(),
            Some(Admin::Weight { weight }) => format!("weight set to {weight} by the operator"),
        };
        let mut out = vec![Action::Log(format!(
            "{} of VS {}: {what}",
            pool.rs_label(conf),
            pool.label()
        ))];
        out.extend(self.update_quorum(vs));
        out
    }

    /// A draining real server's active connections ended: it goes into maintenance.
    pub fn drained(&mut self, vs: usize, rs: usize, now: Instant) -> Vec<Action> {
        match self.admin(vs, rs) {
            Some(Admin::Drain { .. }) => self.set_admin(vs, rs, Some(Admin::Maintenance), now),
            _ => Vec::new(),
        }
    }

    /// Real servers with an operator's setting or a slow start in progress.
    pub fn admin_servers(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (v, p) in self.pools.iter().enumerate() {
            for (r, st) in p.rs.iter().enumerate() {
                if st.admin.is_some() || st.rising_since.is_some() {
                    out.push((v, r));
                }
            }
        }
        out
    }

    /// The real servers draining now.
    pub fn draining(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (v, p) in self.pools.iter().enumerate() {
            for (r, st) in p.rs.iter().enumerate() {
                if matches!(st.admin, Some(Admin::Drain { .. })) {
                    out.push((v, r));
                }
            }
        }
        out
    }

    /// Time passes: drains past their timeout go into maintenance, slow starts rise (and end).
    /// Whether anything needs the clock again later (a drain or a slow start in progress).
    pub fn tick(&mut self, now: Instant, wall: std::time::SystemTime) -> (bool, Vec<Action>) {
        self.now = now;
        let mut out = Vec::new();
        let expired: Vec<(usize, usize)> = self
            .draining()
            .into_iter()
            .filter(|&(v, r)| self.admin(v, r).is_some_and(|a| a.expired(wall)))
            .collect();
        for (v, r) in expired {
            out.extend(self.set_admin(v, r, Some(Admin::Maintenance), now));
        }
        let mut again = !self.draining().is_empty();
        for p in &mut self.pools {
            let cfg = p.cfg.clone();
            let confs = &cfg.virtual_servers[p.index].real_servers;
            for (conf, st) in confs.iter().zip(p.rs.iter_mut()) {
                let Some(t) = st.rising_since else { continue };
                self.changed = true;
                if conf
                    .slow_start
                    .is_none_or(|s| now.saturating_duration_since(t) >= s.0)
                {
                    st.rising_since = None;
                } else {
                    again = true;
                }
            }
        }
        (again, out)
    }

    /// The operators' settings, keyed for the state file.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        for (v, p) in self.pools.iter().enumerate() {
            for (r, st) in p.rs.iter().enumerate() {
                if let (Some(a), Some(k)) = (st.admin, self.key(v, r)) {
                    o.0.insert(k, a);
                }
            }
        }
        o
    }

    /// Applies the state file's settings; returns those that name no real server of this
    /// configuration.
    pub fn apply_overrides(&mut self, o: &Overrides, now: Instant) -> Vec<super::admin::Key> {
        let mut left = o.0.clone();
        for v in 0..self.pools.len() {
            for r in 0..self.pools[v].rs.len() {
                let Some(k) = self.key(v, r) else { continue };
                if let Some(a) = left.remove(&k) {
                    self.set_admin(v, r, Some(a), now);
                }
            }
        }
        left.into_keys().collect()
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
        now: Instant,
    ) -> Vec<Action> {
        self.now = now;
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
        let rising_since = match (state.alive, alive) {
            (false, true) if conf.slow_start.is_some() => Some(now),
            (_, true) => state.rising_since,
            (_, false) => None,
        };
        pool.rs[rs] = RsState {
            alive,
            weight: new_weight,
            admin: state.admin,
            rising_since,
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
            out.push(Action::Quorum { vs, up: false });
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
            out.push(Action::Quorum { vs, up: true });
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

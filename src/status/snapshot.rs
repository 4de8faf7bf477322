//! What the status outputs show: the configuration plus what the engines reported. Only the status
//! task writes it, from events; dumps and HTTP read it.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use crate::config::model::{Config, Protocol, VirtualServer, VrrpInstance, VsKey};
use crate::vrrp::State;
use std::sync::Arc;

/// keepalived's VRRP statistics, by its JSON key names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VrrpStats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
    /// Discarded adverts by lvsd's reason name (`BadTtl`, `AuthFailure`, ...).
    pub rejects: BTreeMap<String, u64>,
}

impl VrrpStats {
    /// keepalived's error counters, from lvsd's reasons.
    pub fn keepalived_errors(&self) -> [(&'static str, u64); 8] {
        let n = |keys: &[&str]| {
            keys.iter()
                .filter_map(|k| self.rejects.get(*k))
                .sum::<u64>()
        };
        [
            (
                "packet_len_err",
                n(&["TooShort", "LengthMismatch", "BadVersion", "BadType"]),
            ),
            ("advert_interval_err", n(&["IntervalMismatch"])),
            ("ip_ttl_err", n(&["BadTtl"])),
            ("invalid_type_rcvd", n(&["WrongVersion"])),
            (
                "addr_list_err",
                n(&["AddressCountMismatch", "AddressMissing"]),
            ),
            ("invalid_authtype", n(&["AuthUnsupported"])),
            ("authtype_mismatch", n(&["AuthTypeMismatch"])),
            ("auth_failure", n(&["AuthFailure"])),
        ]
    }
}

#[derive(Debug, Clone)]
pub struct InstanceView {
    pub cfg: VrrpInstance,
    pub state: State,
    pub effective_priority: u8,
    pub last_transition: SystemTime,
    pub stats: VrrpStats,
    /// Why the priority is what it is (the last tracking change), the master heard as BACKUP, and
    /// whether lvsd ctl holds the instance BACKUP.
    pub priority_why: Option<String>,
    pub master: Option<std::net::IpAddr>,
    pub held: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RsView {
    pub label: String,
    pub alive: bool,
    pub weight: u32,
    /// An operator's setting (lvsd ctl) and, with it or a slow start, the weight in the table.
    pub admin: Option<crate::director::admin::Admin>,
    pub weight_now: Option<u32>,
    pub rising: bool,
    /// The last checker verdict's reason and when it came.
    pub last_result: Option<(String, SystemTime)>,
    /// Every checker has come to a first verdict (always, without checkers).
    pub checked: bool,
}

#[derive(Debug, Clone)]
pub struct VsView {
    pub label: String,
    pub real_servers: Vec<RsView>,
    pub quorum_up: bool,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Shared with the engines: one copy of a 10,000-server model, not one per user.
    pub config: Arc<Config>,
    pub instances: Vec<InstanceView>,
    pub servers: Vec<VsView>,
    /// Rejected packets not tied to one instance (unknown VRID, unreadable datagrams).
    pub rejects: BTreeMap<String, u64>,
    pub reloads: u64,
    /// Reloads refused because the new file had errors, and whether the last reload applied.
    pub reload_failures: u64,
    pub last_reload_ok: Option<bool>,
    /// Probe durations by checker type, as the checker engine last reported them.
    pub latency: BTreeMap<&'static str, Histogram>,
    pub sync: SyncView,
    /// The BGP announcer (None without bgp_announce).
    pub bgp: Option<super::BgpView>,
    /// Every engine reported its start (the IPVS table programmed, VRRP started).
    pub started: bool,
    /// Which engines run here (-P, -C): readiness waits only for theirs.
    pub vrrp_runs: bool,
    pub checks_run: bool,
}

impl Snapshot {
    /// /ready: started, VRRP settled (every instance MASTER, FAULT, or BACKUP under a master it
    /// heard), and, where checkers run, every real server had its first verdict.
    pub fn ready(&self) -> bool {
        let settled = self.instances.iter().all(|i| match i.state {
            State::Master | State::Fault => true,
            State::Backup => i.master.is_some(),
            _ => false,
        });
        let checked = !self.checks_run
            || self
                .servers
                .iter()
                .all(|v| v.real_servers.iter().all(|r| r.checked));
        self.started && (!self.vrrp_runs || settled) && checked
    }
}

/// The IPVS sync daemons and catch-ups.
#[derive(Debug, Clone)]
pub struct SyncView {
    pub daemon: Option<super::SyncdView>,
    /// When the running daemons last changed.
    pub since: std::time::SystemTime,
    /// Catch-ups (count, entries) served as master and asked for before preempting.
    pub served: (u64, u64),
    pub asked: (u64, u64),
}

impl SyncView {
    /// "master", "backup", "master+backup" or "none".
    pub fn role(&self) -> &'static str {
        match self.daemon.as_ref().map(|d| (d.master, d.backup)) {
            Some((true, true)) => "master+backup",
            Some((true, false)) => "master",
            Some((false, true)) => "backup",
            _ => "none",
        }
    }
}

/// Upper bounds (seconds) of the checker latency histogram's buckets; the last is +Inf.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A cumulative Prometheus-style histogram of durations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Per bucket of `LATENCY_BOUNDS`, plus one for +Inf (not cumulative: rendered so).
    pub counts: [u64; 13],
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, secs: f64) {
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.counts[i] += 1;
        self.sum += secs;
        self.count += 1;
    }
}

impl Snapshot {
    /// A reload: views for the new configuration; instances (by name) and real servers (by virtual
    /// and real server address) that stay keep their state, priority, health and counters.
    pub fn follow(&mut self, config: Arc<Config>) {
        let mut next = Snapshot::new(config);
        for i in &mut next.instances {
            if let Some(old) = self.instances.iter().find(|o| o.cfg.name == i.cfg.name) {
                i.state = old.state;
                i.effective_priority = old.effective_priority;
                i.last_transition = old.last_transition;
                i.stats = old.stats.clone();
                i.priority_why = old.priority_why.clone();
                i.master = old.master;
                i.held = old.held;
            }
        }
        // By label through an index: a scan per server made a 10,000-service reload quadratic.
        let mut old_by_label: HashMap<&str, &VsView> = HashMap::new();
        for v in &self.servers {
            old_by_label.entry(v.label.as_str()).or_insert(v);
        }
        for vs in &mut next.servers {
            let Some(old_vs) = old_by_label.get(vs.label.as_str()) else {
                continue;
            };
            vs.quorum_up = old_vs.quorum_up;
            for (n, rs) in vs.real_servers.iter_mut().enumerate() {
                // Most stay where they were; a scan only for those that moved.
                let old = old_vs
                    .real_servers
                    .get(n)
                    .filter(|o| o.label == rs.label)
                    .or_else(|| old_vs.real_servers.iter().find(|o| o.label == rs.label));
                if let Some(old) = old {
                    let label = std::mem::take(&mut rs.label);
                    *rs = RsView {
                        label,
                        ..old.clone()
                    };
                }
            }
        }
        next.rejects = std::mem::take(&mut self.rejects);
        next.reloads = self.reloads + 1;
        next.reload_failures = self.reload_failures;
        next.last_reload_ok = Some(true);
        next.latency = std::mem::take(&mut self.latency);
        next.sync = self.sync.clone();
        next.bgp = self.bgp.take();
        next.started = self.started;
        next.vrrp_runs = self.vrrp_runs;
        next.checks_run = self.checks_run;
        *self = next;
    }
}

pub fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::Tcp => "tcp",
    }
}

/// keepalived's FMT_VS: `[10.0.0.1]:tcp:80`, `FWM 1`, or the group name.
pub fn vs_label(vs: &VirtualServer) -> String {
    match &vs.key {
        VsKey::Addr { ip, port } => format!("[{ip}]:{}:{port}", proto_name(vs.protocol)),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        VsKey::Group { name } => format!("[{name}]:{}:0", proto_name(vs.protocol)),
    }
}

impl Snapshot {
    pub fn new(config: Arc<Config>) -> Snapshot {
        let now = SystemTime::now();
        Snapshot {
            instances: config
                .vrrp_instances
                .iter()
                .map(|i| InstanceView {
                    cfg: i.clone(),
                    state: State::Init,
                    effective_priority: i.priority,
                    last_transition: now,
                    stats: VrrpStats::default(),
                    priority_why: None,
                    master: None,
                    held: false,
                })
                .collect(),
            servers: config
                .virtual_servers
                .iter()
                .map(|vs| VsView {
                    label: vs_label(vs),
                    real_servers: vs
                        .real_servers
                        .iter()
                        .map(|rs| RsView {
                            label: format!("[{}]:{}:{}", rs.ip, proto_name(vs.protocol), rs.port),
                            // As the director starts them: alpha servers wait for a success.
                            alive: !(vs.alpha || rs.alpha),
                            weight: rs.weight,
                            admin: None,
                            weight_now: None,
                            rising: false,
                            last_result: None,
                            checked: rs.checkers.is_empty(),
                        })
                        .collect(),
                    quorum_up: true,
                })
                .collect(),
            rejects: BTreeMap::new(),
            reloads: 0,
            reload_failures: 0,
            last_reload_ok: None,
            latency: BTreeMap::new(),
            started: false,
            vrrp_runs: true,
            checks_run: true,
            bgp: None,
            sync: SyncView {
                daemon: None,
                since: now,
                served: (0, 0),
                asked: (0, 0),
            },
            config,
        }
    }

    pub fn instance_mut(&mut self, name: &str) -> Option<&mut InstanceView> {
        self.instances.iter_mut().find(|i| i.cfg.name == name)
    }
}

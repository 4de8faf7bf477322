//! What a reload changes in VRRP, decided from the running and the new configuration alone (no
//! sockets, no state): per instance, matched by name, keep it, update it in place, replace it
//! (remove and add again: what identifies it on the link changed), remove it or add it; which
//! vrrp_scripts restart; whether the track_file watcher restarts; which global_defs settings wait
//! for the next start. The engine applies the plan.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

use super::from_config::{destinations, family, interface_of, send_ttl};
use crate::config::model::{Config, TrackProcess, VrrpInstance};

/// One in-place change of an instance, for the log line and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Priority {
        from: u8,
        to: u8,
    },
    AdvertInt {
        from: Duration,
        to: Duration,
    },
    /// state / nopreempt / preempt_delay.
    Preemption,
    /// virtual_ipaddress(_excluded): addresses added and removed (both empty when only their
    /// options changed).
    Vips {
        added: Vec<IpAddr>,
        removed: Vec<IpAddr>,
    },
    Routes,
    Rules,
    /// The instance's track_* lists, its sync group's, or the definitions they name.
    Tracking,
    Notify,
    /// unicast_peer, mcast_dst_ip, the global multicast group, unicast_ttl.
    Peers,
    Auth,
    /// Any other keyword, by name.
    Other(String),
}

impl Change {
    /// Log order: what operators look at first.
    fn rank(&self) -> u8 {
        match self {
            Change::Priority { .. } => 0,
            Change::AdvertInt { .. } => 1,
            Change::Preemption => 2,
            Change::Vips { .. } => 3,
            Change::Routes => 4,
            Change::Rules => 5,
            Change::Tracking => 6,
            Change::Peers => 7,
            Change::Auth => 8,
            Change::Notify => 9,
            Change::Other(_) => 10,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[IpAddr]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Change::Priority { from, to } => write!(f, "priority {from} -> {to}"),
            Change::AdvertInt { from, to } => {
                write!(
                    f,
                    "advert_int {}s -> {}s",
                    from.as_secs_f64(),
                    to.as_secs_f64()
                )
            }
            Change::Preemption => f.write_str("preemption (state/nopreempt/preempt_delay)"),
            Change::Vips { added, removed } if added.is_empty() && removed.is_empty() => {
                f.write_str("virtual_ipaddress options")
            }
            Change::Vips { added, removed } => {
                f.write_str("virtual_ipaddress")?;
                if !added.is_empty() {
                    write!(f, " added {}", list(added))?;
                }
                if !removed.is_empty() {
                    write!(f, " removed {}", list(removed))?;
                }
                Ok(())
            }
            Change::Routes => f.write_str("virtual_routes"),
            Change::Rules => f.write_str("virtual_rules"),
            Change::Tracking => f.write_str("tracking"),
            Change::Notify => f.write_str("notify scripts"),
            Change::Peers => f.write_str("advert destinations"),
            Change::Auth => f.write_str("authentication"),
            Change::Other(k) => f.write_str(k),
        }
    }
}

/// What happens to an instance present before and after the reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstancePlan {
    Keep,
    Update(Vec<Change>),
    /// Removed and added again, for this reason.
    Replace(String),
}

/// vrrp_script tasks: `stop` ends them, `start` starts them (a restart is in both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptPlan {
    pub stop: Vec<String>,
    pub start: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Running instances the new configuration no longer has.
    pub removed: Vec<String>,
    /// New instances, in configuration order.
    pub added: Vec<String>,
    /// Instances in both, in the new configuration's order.
    pub kept: Vec<(String, InstancePlan)>,
    pub scripts: ScriptPlan,
    /// vrrp_track_file blocks changed: the watcher reads the new set.
    pub restart_file_watcher: bool,
    /// The tracked vrrp_track_process blocks changed: the process monitor counts the new set.
    pub processes_changed: bool,
    /// Sync groups added, removed or changed.
    pub groups_changed: Vec<String>,
    /// script_user, enable_script_security or the notify FIFO changed.
    pub notifier_changed: bool,
    /// global_defs settings that changed but only act at start.
    pub at_next_start: Vec<&'static str>,
    /// static_ipaddress / static_routes / static_rules changes, one line per block.
    pub statics: Vec<String>,
}

impl Plan {
    pub fn new(old: &Config, new: &Config) -> Plan {
        let mut kept = Vec::new();
        let mut added = Vec::new();
        for n in &new.vrrp_instances {
            match old.vrrp_instances.iter().find(|o| o.name == n.name) {
                Some(o) => kept.push((n.name.clone(), instance_plan(old, o, new, n))),
                None => added.push(n.name.clone()),
            }
        }
        let removed = old
            .vrrp_instances
            .iter()
            .filter(|o| !new.vrrp_instances.iter().any(|n| n.name == o.name))
            .map(|o| o.name.clone())
            .collect();
        let mut at_next_start = Vec::new();
        if old.global.vrrp_startup_delay != new.global.vrrp_startup_delay {
            at_next_start.push("vrrp_startup_delay");
        }
        Plan {
            removed,
            added,
            kept,
            scripts: script_plan(old, new),
            restart_file_watcher: json(&old.track_files) != json(&new.track_files),
            processes_changed: json(&tracked_processes(old)) != json(&tracked_processes(new)),
            groups_changed: groups_changed(old, new),
            notifier_changed: script_env(old) != script_env(new) || fifo(old) != fifo(new),
            at_next_start,
            statics: super::statics_plan::describe_changes(old, new),
        }
    }

    /// Nothing to do at all.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && self.added.is_empty()
            && self.kept.iter().all(|(_, p)| *p == InstancePlan::Keep)
            && self.scripts == ScriptPlan::default()
            && !self.restart_file_watcher
            && !self.processes_changed
            && self.groups_changed.is_empty()
            && !self.notifier_changed
            && self.at_next_start.is_empty()
            && self.statics.is_empty()
    }

    /// One log line per instance or object that changes.
    pub fn describe(&self) -> Vec<String> {
        let mut out = self.statics.clone();
        for n in &self.removed {
            out.push(format!("({n}) removed"));
        }
        for (n, p) in &self.kept {
            match p {
                InstancePlan::Keep => {}
                InstancePlan::Update(c) => {
                    let what: Vec<String> = c.iter().map(ToString::to_string).collect();
                    out.push(format!("({n}) updated in place: {}", what.join(", ")));
                }
                InstancePlan::Replace(why) => out.push(format!(
                    "({n}) {why}: cannot change in place, restarting it"
                )),
            }
        }
        for n in &self.added {
            out.push(format!("({n}) added"));
        }
        for s in &self.scripts.start {
            match self.scripts.stop.contains(s) {
                true => out.push(format!("VRRP_Script({s}) changed, restarting it")),
                false => out.push(format!("VRRP_Script({s}) started")),
            }
        }
        for s in self
            .scripts
            .stop
            .iter()
            .filter(|s| !self.scripts.start.contains(s))
        {
            out.push(format!("VRRP_Script({s}) no longer tracked, stopped"));
        }
        if self.restart_file_watcher {
            out.push("vrrp_track_file set changed, reading the new one".into());
        }
        if self.processes_changed {
            out.push("tracked vrrp_track_process set changed, counting the new one".into());
        }
        for g in &self.groups_changed {
            out.push(format!("VRRP_Group({g}) changed"));
        }
        out
    }
}

/// The model as JSON: spans are not serialised, so moved lines compare equal.
fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn fields(i: &VrrpInstance) -> Map<String, Value> {
    match json(i) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Why an instance cannot be changed in place, if it cannot: what identifies it on the link (or
/// the sockets and interfaces built for it) changed.
fn replace_reason(
    old_cfg: &Config,
    o: &VrrpInstance,
    new_cfg: &Config,
    n: &VrrpInstance,
) -> Option<String> {
    let (oi, ni) = (interface_of(old_cfg, o), interface_of(new_cfg, n));
    if oi != ni {
        return Some(format!("interface {oi} -> {ni}"));
    }
    if o.virtual_router_id != n.virtual_router_id {
        return Some(format!(
            "virtual_router_id {} -> {}",
            o.virtual_router_id, n.virtual_router_id
        ));
    }
    let (of, nf) = (family(o), family(n));
    if of != nf {
        return Some(format!("address family {of:?} -> {nf:?}"));
    }
    if o.version != n.version {
        return Some(format!("version {} -> {}", o.version, n.version));
    }
    if o.use_vmac != n.use_vmac || o.vmac_xmit_base != n.vmac_xmit_base {
        return Some("use_vmac".into());
    }
    if o.unicast_src_ip != n.unicast_src_ip || o.mcast_src_ip != n.mcast_src_ip {
        return Some("advert source address".into());
    }
    None
}

fn instance_plan(
    old_cfg: &Config,
    o: &VrrpInstance,
    new_cfg: &Config,
    n: &VrrpInstance,
) -> InstancePlan {
    if let Some(why) = replace_reason(old_cfg, o, new_cfg, n) {
        return InstancePlan::Replace(why);
    }
    let (a, b) = (fields(o), fields(n));
    let mut changes: Vec<Change> = Vec::new();
    let mut push = |c: Change| {
        if !changes.contains(&c) {
            changes.push(c);
        }
    };
    for (k, va) in &a {
        if b.get(k) == Some(va) {
            continue;
        }
        match k.as_str() {
            // Handled above, or by the sync group rebuild.
            "name" | "interface" | "sync_group" => {}
            "priority" => push(Change::Priority {
                from: o.priority,
                to: n.priority,
            }),
            "advert_int" => push(Change::AdvertInt {
                from: o.advert_int.0,
                to: n.advert_int.0,
            }),
            "state" | "nopreempt" | "preempt_delay" => push(Change::Preemption),
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => push(vip_change(o, n)),
            "virtual_routes" => push(Change::Routes),
            "virtual_rules" => push(Change::Rules),
            "track_interface" | "track_script" | "track_file" | "track_process"
            | "dont_track_primary" => push(Change::Tracking),
            "notify" | "smtp_alert" => push(Change::Notify),
            "unicast_peer" | "mcast_dst_ip" | "unicast_ttl" => push(Change::Peers),
            "authentication" => push(Change::Auth),
            other => push(Change::Other(other.to_string())),
        }
    }
    if tracking_view(old_cfg, o) != tracking_view(new_cfg, n) {
        push(Change::Tracking);
    }
    if destinations(old_cfg, o) != destinations(new_cfg, n) || send_ttl(o) != send_ttl(n) {
        push(Change::Peers);
    }
    changes.sort_by_key(Change::rank);
    match changes.is_empty() {
        true => InstancePlan::Keep,
        false => InstancePlan::Update(changes),
    }
}

fn vip_change(o: &VrrpInstance, n: &VrrpInstance) -> Change {
    let addrs = |i: &VrrpInstance| -> Vec<IpAddr> {
        i.virtual_ipaddress
            .iter()
            .chain(&i.virtual_ipaddress_excluded)
            .map(|a| a.addr)
            .collect()
    };
    let (a, b) = (addrs(o), addrs(n));
    Change::Vips {
        added: b.iter().filter(|x| !a.contains(x)).copied().collect(),
        removed: a.iter().filter(|x| !b.contains(x)).copied().collect(),
    }
}

/// Everything an instance's tracker is built from: its track lists, its sync group's, and the
/// vrrp_script / track_file / vrrp_track_process definitions they name.
fn tracking_view(cfg: &Config, i: &VrrpInstance) -> Value {
    let group = cfg
        .sync_groups
        .iter()
        .find(|g| Some(&g.name) == i.sync_group.as_ref());
    let names = |f: fn(&crate::config::model::SyncGroup) -> &Vec<crate::config::model::Track>,
                 own: &Vec<crate::config::model::Track>| {
        own.iter()
            .chain(group.map(f).into_iter().flatten())
            .map(|t| t.name.clone())
            .collect::<BTreeSet<String>>()
    };
    let scripts = names(|g| &g.track_script, &i.track_script);
    let files = names(|g| &g.track_file, &i.track_file);
    let procs = names(|g| &g.track_process, &i.track_process);
    serde_json::json!({
        "group": group.map(|g| json(&(&g.track_interface, &g.track_script, &g.track_file, &g.track_process))),
        "scripts": cfg.vrrp_scripts.iter().filter(|s| scripts.contains(&s.name)).map(json).collect::<Vec<_>>(),
        "files": cfg.track_files.iter().filter(|f| files.contains(&f.name)).map(json).collect::<Vec<_>>(),
        "processes": cfg.track_processes.iter().filter(|p| procs.contains(&p.name)).map(json).collect::<Vec<_>>(),
    })
}

/// The vrrp_track_process blocks some instance or sync group tracks, in configuration order:
/// only those are watched.
pub fn tracked_processes(cfg: &Config) -> Vec<&TrackProcess> {
    let used: BTreeSet<&str> = cfg
        .vrrp_instances
        .iter()
        .flat_map(|i| &i.track_process)
        .chain(cfg.sync_groups.iter().flat_map(|g| &g.track_process))
        .map(|t| t.name.as_str())
        .collect();
    cfg.track_processes
        .iter()
        .filter(|p| used.contains(p.name.as_str()))
        .collect()
}

/// Names of the vrrp_scripts some instance or sync group tracks: only those run.
pub fn tracked_scripts(cfg: &Config) -> BTreeSet<String> {
    cfg.vrrp_instances
        .iter()
        .flat_map(|i| &i.track_script)
        .chain(cfg.sync_groups.iter().flat_map(|g| &g.track_script))
        .map(|t| t.name.clone())
        .filter(|n| cfg.vrrp_scripts.iter().any(|s| &s.name == n))
        .collect()
}

/// What a script run depends on besides its own block.
fn script_env(cfg: &Config) -> Value {
    json(&(&cfg.global.script_user, cfg.global.enable_script_security))
}

fn fifo(cfg: &Config) -> Value {
    json(
        &cfg.global
            .vrrp_notify_fifo
            .as_ref()
            .or(cfg.global.notify_fifo.as_ref()),
    )
}

fn script_plan(old: &Config, new: &Config) -> ScriptPlan {
    let (was, now) = (tracked_scripts(old), tracked_scripts(new));
    let env_changed = script_env(old) != script_env(new);
    let def = |cfg: &Config, name: &str| json(&cfg.vrrp_scripts.iter().find(|s| s.name == name));
    let changed = |name: &String| env_changed || def(old, name) != def(new, name);
    let mut plan = ScriptPlan::default();
    for s in &was {
        if !now.contains(s) || changed(s) {
            plan.stop.push(s.clone());
        }
    }
    for s in &now {
        if !was.contains(s) || changed(s) {
            plan.start.push(s.clone());
        }
    }
    plan
}

fn groups_changed(old: &Config, new: &Config) -> Vec<String> {
    let find = |cfg: &Config, name: &str| json(&cfg.sync_groups.iter().find(|g| g.name == name));
    let names: BTreeSet<&String> = old
        .sync_groups
        .iter()
        .chain(&new.sync_groups)
        .map(|g| &g.name)
        .collect();
    names
        .into_iter()
        .filter(|n| find(old, n) != find(new, n))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;

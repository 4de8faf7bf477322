//! `lvsd ctl status`: the snapshot's views joined with the kernel's connection counters, as JSON,
//! and the tables the command prints from it.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};

use crate::director::admin::Admin;
use crate::status::snapshot::Snapshot;

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Plain data copied out of the snapshot, so the JSON is built off the engines' thread.
pub struct Copy {
    instances: Vec<Value>,
    servers: Vec<(String, bool, Option<String>, Vec<RsCopy>)>,
    sync: Value,
    bgp: Value,
}

struct RsCopy {
    label: String,
    up: bool,
    configured: u32,
    weight: u32,
    admin: Option<Admin>,
    weight_now: Option<u32>,
    rising: bool,
    last: Option<(String, f64)>,
    key: Option<(String, String)>,
}

/// Copies what status needs (cheap next to the JSON of 40,000 real servers).
pub fn copy(sn: &Snapshot) -> Copy {
    let instances = sn
        .instances
        .iter()
        .map(|i| {
            json!({
                "name": i.cfg.name,
                "state": i.state.to_string(),
                "priority": i.cfg.priority,
                "effective_priority": i.effective_priority,
                "priority_why": i.priority_why,
                "master": i.master.map(|a| a.to_string()),
                "since": epoch(i.last_transition),
                "held_backup": i.held,
                "interface": i.cfg.interface,
                "virtual_router_id": i.cfg.virtual_router_id,
            })
        })
        .collect();
    let servers = sn
        .servers
        .iter()
        .zip(&sn.config.virtual_servers)
        .map(|(v, c)| {
            let sorry = c
                .sorry_server
                .as_ref()
                .map(|s| format!("{}:{}", s.ip, s.port));
            let rs = v
                .real_servers
                .iter()
                .zip(&c.real_servers)
                .map(|(r, rc)| RsCopy {
                    label: r.label.clone(),
                    up: r.alive,
                    configured: rc.weight,
                    weight: r.weight,
                    admin: r.admin,
                    weight_now: r.weight_now,
                    rising: r.rising,
                    last: r.last_result.as_ref().map(|(s, t)| (s.clone(), epoch(*t))),
                    key: dest_key(c, rc),
                })
                .collect();
            (v.label.clone(), v.quorum_up, sorry, rs)
        })
        .collect();
    let sync = match &sn.sync.daemon {
        Some(d) => json!({
            "interface": d.spec.interface, "follows": d.spec.follows, "syncid": d.spec.syncid,
            "running": sn.sync.role(), "since": epoch(sn.sync.since),
            "catchups_served": sn.sync.served.0, "catchups_asked": sn.sync.asked.0,
        }),
        None => Value::Null,
    };
    Copy {
        instances,
        servers,
        sync,
        bgp: crate::status::http::bgp_json(&sn.bgp),
    }
}

/// The kernel labels (service, destination) of a real server, to find its counters.
fn dest_key(
    vs: &crate::config::model::VirtualServer,
    rs: &crate::config::model::RealServer,
) -> Option<(String, String)> {
    use crate::config::model::VsKey;
    let service = match &vs.key {
        VsKey::Addr { ip, port } => format!(
            "[{ip}]:{}:{port}",
            crate::status::snapshot::proto_name(vs.protocol)
        ),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        VsKey::Group { .. } => return None,
    };
    Some((service, format!("{}:{}", rs.ip, rs.port)))
}

#[derive(Serialize)]
struct RsOut<'a> {
    name: &'a str,
    up: bool,
    checker: Option<CheckOut<'a>>,
    weight_configured: u32,
    weight: u32,
    #[serde(rename = "override")]
    admin: Option<Admin>,
    slow_start: bool,
    active_conns: Option<u32>,
    inactive_conns: Option<u32>,
}

#[derive(Serialize)]
struct CheckOut<'a> {
    result: &'a str,
    at: f64,
}

#[derive(Serialize)]
struct VsOut<'a> {
    name: &'a str,
    quorum_up: bool,
    sorry_server: Option<&'a str>,
    real_servers: Vec<RsOut<'a>>,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    vrrp_instances: &'a [Value],
    virtual_servers: Vec<VsOut<'a>>,
    sync_daemon: &'a Value,
    bgp: &'a Value,
    kernel_counters: bool,
}

/// The status reply line (`{"v":1,"ok":true,"result":...}`), serialized from plain structs: with
/// 40,000 real servers a tree of JSON values cost most of the time. `entries` are the kernel's
/// services with counters (None: not readable).
pub fn status_line(c: &Copy, entries: Option<&crate::status::http::Entries>) -> String {
    let mut conns: HashMap<(String, String), (u32, u32)> = HashMap::new();
    for (s, ds) in entries.into_iter().flatten() {
        let sl = crate::status::http::service_label(&s.service.key);
        for d in ds {
            let e = conns
                .entry((sl.clone(), format!("{}:{}", d.dest.addr, d.dest.port)))
                .or_default();
            e.0 += d.active_conns;
            e.1 += d.inactive_conns;
        }
    }
    let virtual_servers = c
        .servers
        .iter()
        .map(|(label, quorum, sorry, rs)| VsOut {
            name: label,
            quorum_up: *quorum,
            sorry_server: sorry.as_deref(),
            real_servers: rs
                .iter()
                .map(|r| {
                    let k = r.key.as_ref().and_then(|k| conns.get(k));
                    RsOut {
                        name: &r.label,
                        up: r.up,
                        checker: r.last.as_ref().map(|(res, at)| CheckOut {
                            result: res,
                            at: *at,
                        }),
                        weight_configured: r.configured,
                        weight: r.weight_now.unwrap_or(if r.up { r.weight } else { 0 }),
                        admin: r.admin,
                        slow_start: r.rising,
                        active_conns: k.map(|c| c.0),
                        inactive_conns: k.map(|c| c.1),
                    }
                })
                .collect(),
        })
        .collect();
    let out = StatusOut {
        vrrp_instances: &c.instances,
        virtual_servers,
        sync_daemon: &c.sync,
        bgp: &c.bgp,
        kernel_counters: entries.is_some(),
    };
    let body = serde_json::to_string(&out).unwrap_or_else(|_| "null".into());
    format!(
        "{{\"v\":{},\"ok\":true,\"result\":{body}}}\n",
        super::proto::VERSION
    )
}

/// `lvsd ctl status` without --json.
pub fn table(v: &Value) -> String {
    let mut o = String::new();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    if let Some(list) = v["vrrp_instances"].as_array().filter(|l| !l.is_empty()) {
        let _ = writeln!(
            o,
            "{:<16} {:<8} {:>4} {:>4} {:<16} WHY",
            "INSTANCE", "STATE", "PRIO", "EFF", "MASTER"
        );
        for i in list {
            let held = if i["held_backup"] == json!(true) {
                " (held by lvsd ctl)"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "{:<16} {:<8} {:>4} {:>4} {:<16} {}{held}",
                s(&i["name"]),
                s(&i["state"]),
                s(&i["priority"]),
                s(&i["effective_priority"]),
                s(&i["master"]),
                s(&i["priority_why"])
            );
        }
        o.push('\n');
    }
    for vs in v["virtual_servers"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "{}  quorum {}{}",
            s(&vs["name"]),
            if vs["quorum_up"] == json!(true) {
                "up"
            } else {
                "down"
            },
            match &vs["sorry_server"] {
                Value::String(x) => format!("  sorry server {x}"),
                _ => String::new(),
            }
        );
        let _ = writeln!(
            o,
            "  {:<28} {:<5} {:>6} {:>6} {:>7} {:>8}  {:<12} LAST CHECK",
            "REAL SERVER", "UP", "WEIGHT", "CONF", "ACTIVE", "INACTIVE", "OVERRIDE"
        );
        for r in vs["real_servers"].as_array().into_iter().flatten() {
            let ov = match r["override"]["mode"].as_str() {
                Some(m) => m.to_string(),
                None if r["slow_start"] == json!(true) => "slow start".into(),
                None => "-".into(),
            };
            let _ = writeln!(
                o,
                "  {:<28} {:<5} {:>6} {:>6} {:>7} {:>8}  {:<12} {}",
                s(&r["name"]),
                if r["up"] == json!(true) { "yes" } else { "no" },
                s(&r["weight"]),
                s(&r["weight_configured"]),
                s(&r["active_conns"]),
                s(&r["inactive_conns"]),
                ov,
                s(&r["checker"]["result"])
            );
        }
    }
    if let Some(d) = v["sync_daemon"].as_object() {
        let _ = writeln!(
            o,
            "\nsync daemon on {} (syncid {}, follows {}): {}",
            s(&d["interface"]),
            s(&d["syncid"]),
            s(&d["follows"]),
            s(&d["running"])
        );
    }
    if let Some(b) = v["bgp"].as_object() {
        let _ = writeln!(
            o,
            "\nBGP through BIRD at {}: {}; liveness interface {} {}",
            s(&b["bird_socket"]),
            if b["connected"] == json!(true) {
                "connected".to_string()
            } else {
                format!("not connected ({})", s(&b["error"]))
            },
            s(&b["liveness_interface"]),
            if b["liveness_interface_up"] == json!(true) {
                "up"
            } else {
                "down"
            }
        );
        let _ = writeln!(
            o,
            "  {:<28} {:<10} {:<10} {:>10}  WHY",
            "VIP", "LVSD", "BIRD", "SINCE"
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        for x in b["vips"].as_array().into_iter().flatten() {
            let ago = now - x["since"].as_f64().unwrap_or(now);
            let _ = writeln!(
                o,
                "  {:<28} {:<10} {:<10} {:>9.0}s  {}",
                s(&x["vip"]),
                if x["announced"] == json!(true) {
                    "announced"
                } else {
                    "withdrawn"
                },
                s(&x["bird"]).chars().take(10).collect::<String>(),
                ago.max(0.0),
                s(&x["why"])
            );
        }
    }
    o
}

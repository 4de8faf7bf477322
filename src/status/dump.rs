//! keepalived's dump files: `/tmp/keepalived.data` (SIGUSR1), `/tmp/keepalived.stats` (SIGUSR2) and
//! `/tmp/keepalived.json` (the JSON signal), moved by state_dump_file / stats_dump_file /
//! json_dump_file. The stats and JSON layouts are keepalived 2.2.7's, which exporters parse; the
//! data dump keeps its sections and line style with what lvsd knows.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::snapshot::{InstanceView, Snapshot};
use crate::config::model::Config;
use crate::vrrp::State;

pub fn data_path(c: &Config) -> String {
    c.global
        .state_dump_file
        .clone()
        .unwrap_or_else(|| "/tmp/keepalived.data".into())
}
pub fn stats_path(c: &Config) -> String {
    c.global
        .stats_dump_file
        .clone()
        .unwrap_or_else(|| "/tmp/keepalived.stats".into())
}
pub fn json_path(c: &Config) -> String {
    c.global
        .json_dump_file
        .clone()
        .unwrap_or_else(|| "/tmp/keepalived.json".into())
}

/// keepalived's numbering in the JSON `state` / `wantstate`.
pub fn state_number(s: State) -> u8 {
    match s {
        State::Init | State::Stop => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
    }
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn vips(i: &InstanceView) -> Vec<String> {
    let set = if i.state == State::Master { " set" } else { "" };
    let dev = i.cfg.interface.clone().unwrap_or_default();
    i.cfg
        .virtual_ipaddress
        .iter()
        .map(|v| {
            let scope = v.scope.as_deref().unwrap_or("global");
            let dev = v.dev.as_deref().unwrap_or(&dev);
            format!("{}/{} dev {dev} scope {scope}{set}", v.addr, v.prefix)
        })
        .collect()
}

/// One array element per VRRP instance, `{"data": {...}, "stats": {...}}`, keys as keepalived.
pub fn json(sn: &Snapshot) -> String {
    let g = &sn.config.global;
    let arr: Vec<Value> = sn
        .instances
        .iter()
        .map(|i| {
            let c = &i.cfg;
            let adv = number(c.advert_int.0.as_secs_f64());
            let mut stats = json!({
                "advert_rcvd": i.stats.advert_rcvd,
                "advert_sent": i.stats.advert_sent,
                "become_master": i.stats.become_master,
                "release_master": i.stats.release_master,
            });
            for (k, v) in i.stats.keepalived_errors() {
                stats[k] = json!(v);
            }
            stats["pri_zero_rcvd"] = json!(i.stats.pri_zero_rcvd);
            stats["pri_zero_sent"] = json!(i.stats.pri_zero_sent);
            json!({
                "data": {
                    "iname": c.name,
                    "dont_track_primary": u8::from(c.dont_track_primary),
                    "skip_check_adv_addr": u8::from(c.skip_check_adv_addr),
                    "strict_mode": u8::from(c.strict_mode),
                    "vmac_ifname": "",
                    "ifp_ifname": c.interface.clone().unwrap_or_default(),
                    "master_priority": 0,
                    "last_transition": secs(i.last_transition),
                    "garp_delay": c.garp_master_delay.0.as_secs(),
                    "garp_refresh": c.garp_master_refresh.0.as_secs(),
                    "garp_rep": c.garp_master_repeat,
                    "garp_refresh_rep": c.garp_master_refresh_repeat,
                    "garp_lower_prio_delay": c.garp_lower_prio_delay.0.as_secs(),
                    "garp_lower_prio_rep": c.garp_lower_prio_repeat,
                    "lower_prio_no_advert": u8::from(c.lower_prio_no_advert),
                    "higher_prio_send_advert": u8::from(c.higher_prio_send_advert),
                    "vrid": c.virtual_router_id,
                    "base_priority": c.priority,
                    "effective_priority": i.effective_priority,
                    "vipset": i.state == State::Master,
                    "promote_secondaries": c.promote_secondaries,
                    "adver_int": adv,
                    "master_adver_int": adv,
                    "accept": u8::from(c.accept.unwrap_or(!c.strict_mode)),
                    "nopreempt": c.nopreempt,
                    "preempt_delay": c.preempt_delay.0.as_secs(),
                    "state": state_number(i.state),
                    "wantstate": state_number(i.state),
                    "version": c.version,
                    "smtp_alert": c.smtp_alert.or(g.smtp_alert_vrrp).or(g.smtp_alert).unwrap_or(false),
                    "notify_deleted": false,
                    "vips": vips(i),
                    "auth_type": auth_number(c),
                },
                "stats": stats,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&Value::Array(arr)).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// keepalived prints whole intervals without a fraction (`1`, `0.5`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x < u64::MAX as f64 {
        json!(x as u64)
    } else {
        json!(x)
    }
}

fn auth_number(c: &crate::config::model::VrrpInstance) -> u8 {
    use crate::config::model::AuthType;
    match c.authentication.as_ref().and_then(|a| a.auth_type.as_ref()) {
        Some(AuthType::Pass) => 1,
        Some(AuthType::Ah) => 2,
        None => 0,
    }
}

/// keepalived's `/tmp/keepalived.stats`.
pub fn stats(sn: &Snapshot) -> String {
    let mut o = String::new();
    for i in &sn.instances {
        let s = &i.stats;
        let e: std::collections::HashMap<_, _> = s.keepalived_errors().into_iter().collect();
        let _ = write!(
            o,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    Sent: {}\n",
            i.cfg.name,
            s.advert_rcvd,
            s.advert_sent,
            s.become_master,
            s.release_master,
            e["packet_len_err"],
            e["ip_ttl_err"],
            e["invalid_type_rcvd"],
            e["advert_interval_err"],
            e["addr_list_err"],
            e["invalid_authtype"],
            e["authtype_mismatch"],
            e["auth_failure"],
            s.pri_zero_rcvd,
            s.pri_zero_sent,
        );
    }
    o
}

/// keepalived's `/tmp/keepalived.data` sections, with what lvsd knows.
pub fn data(sn: &Snapshot) -> String {
    let g = &sn.config.global;
    let host = crate::notify::email::hostname();
    let onoff = |b: Option<bool>| match b {
        Some(true) => "on",
        Some(false) => "off",
        None => "unset",
    };
    let mut o = String::from("------< Global definitions >------\n");
    let _ = writeln!(
        o,
        " Router ID = {}",
        g.router_id.as_deref().unwrap_or(&host)
    );
    if let Some(s) = &g.smtp_server {
        let _ = writeln!(
            o,
            " Smtp server = {}\n Smtp server port = {}",
            s.host, s.port
        );
        let _ = writeln!(
            o,
            " Smtp HELO name = {}",
            g.smtp_helo_name.as_deref().unwrap_or(&host)
        );
        let _ = writeln!(
            o,
            " Smtp server connection timeout = {}",
            g.smtp_connect_timeout.0.as_secs()
        );
    }
    if let Some(f) = &g.notification_email_from {
        let _ = writeln!(o, " Email notification from = {f}");
    }
    if !g.notification_email.is_empty() {
        o.push_str(" Email notification to:\n");
        for e in &g.notification_email {
            let _ = writeln!(o, "   {e}");
        }
    }
    let _ = writeln!(o, " Default smtp_alert = {}", onoff(g.smtp_alert));
    let _ = writeln!(o, " Default smtp_alert_vrrp = {}", onoff(g.smtp_alert_vrrp));
    let _ = writeln!(
        o,
        " Default smtp_alert_checker = {}",
        onoff(g.smtp_alert_checker)
    );
    let _ = writeln!(o, " VRRP check unicast_src = {}", g.vrrp_check_unicast_src);
    if let Some(d) = &sn.sync.daemon {
        let s = &d.spec;
        if let Some(i) = &s.follows {
            let _ = writeln!(o, " LVS syncd vrrp instance = {i}");
        }
        let _ = writeln!(o, " LVS syncd interface = {}", s.interface);
        let _ = writeln!(o, " LVS syncd syncid = {}", s.syncid);
        if let Some(m) = s.maxlen {
            let _ = writeln!(o, " LVS syncd maxlen = {m}");
        }
        if let Some(gr) = s.group {
            let _ = writeln!(o, " LVS mcast group {gr}");
        }
        if let Some(p) = s.port {
            let _ = writeln!(o, " LVS syncd mcast port = {p}");
        }
        if let Some(t) = s.ttl {
            let _ = writeln!(o, " LVS syncd mcast ttl = {t}");
        }
        let _ = writeln!(o, " LVS syncd running = {}", sn.sync.role());
    }
    if !sn.instances.is_empty() {
        o.push_str("------< VRRP Topology >------\n");
    }
    for i in &sn.instances {
        let c = &i.cfg;
        let t = secs(i.last_transition);
        let _ = writeln!(o, " VRRP Instance = {}", c.name);
        let _ = writeln!(o, "   VRRP Version = {}", c.version);
        let _ = writeln!(o, "   State = {}", i.state);
        let _ = writeln!(o, "   Wantstate = {}", i.state);
        let _ = writeln!(o, "   Last transition = {t:.6}");
        let _ = writeln!(o, "   Interface = {}", c.interface.as_deref().unwrap_or(""));
        let _ = writeln!(o, "   Virtual Router ID = {}", c.virtual_router_id);
        let _ = writeln!(o, "   Priority = {}", c.priority);
        let _ = writeln!(o, "   Effective priority = {}", i.effective_priority);
        let _ = writeln!(
            o,
            "   Advert interval = {} sec",
            c.advert_int.0.as_secs_f64()
        );
        let _ = writeln!(
            o,
            "   Preempt = {}",
            if c.nopreempt { "disabled" } else { "enabled" }
        );
        let v = vips(i);
        let _ = writeln!(o, "   Virtual IP ({}):", v.len());
        for a in v {
            let _ = writeln!(o, "     {a}");
        }
    }
    if !sn.servers.is_empty() {
        o.push_str("------< LVS Topology >------\n");
    }
    for (vs, conf) in sn.servers.iter().zip(&sn.config.virtual_servers) {
        let _ = writeln!(o, " VS = {}", vs.label);
        let _ = writeln!(
            o,
            "   delay_loop = {}, lb_algo = {}",
            conf.delay_loop.0.as_secs(),
            conf.lvs_sched
        );
        for rs in &vs.real_servers {
            let _ = writeln!(o, "   RS = {}", rs.label);
            let _ = writeln!(o, "     Alive = {}", u8::from(rs.alive));
            let _ = writeln!(o, "     Weight = {}", rs.weight);
        }
    }
    o
}

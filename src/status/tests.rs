//! The status outputs against keepalived 2.2.7's, captured from the real daemon with the same
//! configuration (tests/support/keepalived-2.2.7/).

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::snapshot::Snapshot;
use super::{alert_for, apply, dump, http, Event};
use crate::config::{self, LoadOptions};
use crate::vrrp::State;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/keepalived-2.2.7"
);

fn snapshot(conf: &str) -> Snapshot {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("k.conf");
    std::fs::write(&p, conf).expect("write config");
    let opts = LoadOptions {
        check_machine: false,
        ..LoadOptions::default()
    };
    let loaded = config::load(&p, &opts);
    Snapshot::new(std::sync::Arc::new(loaded.config.expect("config loads")))
}

fn keepalived_conf() -> String {
    std::fs::read_to_string(format!("{DIR}/ka.conf")).expect("fixture")
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// keepalived's master after 3 adverts, as in the captured dumps.
fn as_captured(sn: &mut Snapshot) {
    let now = SystemTime::now();
    for (state, prio) in [(State::Backup, 100), (State::Master, 100)] {
        apply(
            sn,
            Event::VrrpState {
                instance: "VI_1".into(),
                state,
                priority: prio,
            },
            now,
        );
    }
    for _ in 0..3 {
        apply(
            sn,
            Event::AdvertSent {
                instance: "VI_1".into(),
                priority: 100,
            },
            now,
        );
    }
}

#[test]
fn json_dump_has_keepalived_s_structure_and_values() {
    let mut sn = snapshot(&keepalived_conf());
    as_captured(&mut sn);
    let ours: serde_json::Value = serde_json::from_str(&dump::json(&sn)).expect("our JSON parses");
    let theirs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{DIR}/keepalived.json")).expect("fixture"),
    )
    .expect("keepalived's JSON parses");
    let (o, t) = (&ours[0], &theirs[0]);
    assert_eq!(keys(o), keys(t));
    assert_eq!(keys(&o["data"]), keys(&t["data"]));
    assert_eq!(keys(&o["stats"]), keys(&t["stats"]));
    // Same values except the time of the transition.
    for (k, v) in t["data"].as_object().expect("object") {
        if k != "last_transition" {
            assert_eq!(&o["data"][k], v, "data.{k}");
        }
    }
    assert_eq!(o["stats"], t["stats"]);
}

#[test]
fn stats_dump_is_keepalived_s() {
    let mut sn = snapshot(&keepalived_conf());
    as_captured(&mut sn);
    let theirs = std::fs::read_to_string(format!("{DIR}/keepalived.stats")).expect("fixture");
    assert_eq!(dump::stats(&sn), theirs);
}

#[test]
fn data_dump_has_keepalived_s_sections() {
    let mut sn = snapshot(&keepalived_conf());
    as_captured(&mut sn);
    let ours = dump::data(&sn);
    let theirs = std::fs::read_to_string(format!("{DIR}/keepalived.data")).expect("fixture");
    for line in [
        "------< Global definitions >------",
        " Router ID = lb1",
        " Smtp server port = 2525",
        " Email notification from = ka@example.com",
        "------< VRRP Topology >------",
        " VRRP Instance = VI_1",
        "   State = MASTER",
        "   Effective priority = 100",
        "     10.8.0.100/24 dev eth0 scope global set",
    ] {
        assert!(theirs.lines().any(|l| l == line), "fixture lacks {line:?}");
        assert!(
            ours.lines().any(|l| l == line),
            "our dump lacks {line:?}:\n{ours}"
        );
    }
}

#[test]
fn dump_paths_follow_the_config() {
    let sn = snapshot("global_defs {\n json_dump_file /var/tmp/k.json\n}\n");
    assert_eq!(dump::json_path(&sn.config), "/var/tmp/k.json");
    assert_eq!(dump::data_path(&sn.config), "/tmp/keepalived.data");
    assert_eq!(dump::stats_path(&sn.config), "/tmp/keepalived.stats");
}

const LVS: &str = "global_defs {
  router_id lb2
  smtp_alert_checker
}
vrrp_sync_group G1 {
  group { VI_1 VI_2 }
  smtp_alert
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress { 10.0.0.100 }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 2
  priority 100
  virtual_ipaddress { 10.0.0.101 }
}
vrrp_instance VI_3 {
  interface eth0
  virtual_router_id 3
  priority 100
  virtual_ipaddress { 10.0.0.102 }
}
virtual_server 10.0.0.1 80 {
  protocol TCP
  real_server 10.0.0.2 80 {
    TCP_CHECK { connect_timeout 1 }
  }
  real_server 10.0.0.3 80 {
    smtp_alert off
    TCP_CHECK { connect_timeout 1 }
  }
}
";

#[test]
fn alerts_follow_keepalived_s_precedence() {
    let sn = snapshot(LVS);
    let rs = |rs, alive| Event::RealServer {
        vs: 0,
        rs,
        alive,
        weight: 1,
        reason: "connection refused".into(),
    };
    let a = alert_for(&sn, &rs(0, false)).expect("smtp_alert_checker mails a down real server");
    assert_eq!(
        a.subject,
        "Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN"
    );
    assert!(alert_for(&sn, &rs(0, true)).is_none(), "no change, no mail");
    assert!(
        alert_for(&sn, &rs(1, false)).is_none(),
        "real server's smtp_alert off wins"
    );
    let st = |name: &str| Event::VrrpState {
        instance: name.into(),
        state: State::Master,
        priority: 100,
    };
    assert!(
        alert_for(&sn, &st("VI_1")).is_none(),
        "a member of an alerting group mails as the group"
    );
    assert!(
        alert_for(&sn, &st("VI_3")).is_none(),
        "smtp_alert_checker does not cover VRRP"
    );
    let g = alert_for(
        &sn,
        &Event::VrrpGroup {
            group: "G1".into(),
            state: State::Master,
        },
    )
    .expect("group mail");
    assert_eq!(g.subject, "VRRP Group G1 - Entering MASTER state");
}

#[test]
fn metrics_show_state_counters_and_health() {
    let mut sn = snapshot(LVS);
    let now = SystemTime::now();
    apply(
        &mut sn,
        Event::VrrpState {
            instance: "VI_3".into(),
            state: State::Master,
            priority: 90,
        },
        now,
    );
    apply(
        &mut sn,
        Event::Rejected {
            instance: Some("VI_3".into()),
            reason: "BadTtl".into(),
        },
        now,
    );
    apply(
        &mut sn,
        Event::RealServer {
            vs: 0,
            rs: 1,
            alive: false,
            weight: 1,
            reason: String::new(),
        },
        now,
    );
    let same = sn.config.clone();
    apply(&mut sn, Event::Reloaded(same), now);
    let m = http::metrics(&sn);
    for line in [
        "lvsd_vrrp_state{instance=\"VI_3\"} 2",
        "lvsd_vrrp_effective_priority{instance=\"VI_3\"} 90",
        "lvsd_vrrp_base_priority{instance=\"VI_3\"} 100",
        "lvsd_vrrp_become_master_total{instance=\"VI_3\"} 1",
        "lvsd_vrrp_rejected_packets_total{instance=\"VI_3\",reason=\"BadTtl\"} 1",
        "lvsd_real_server_up{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.3]:tcp:80\"} 0",
        "lvsd_real_server_up{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.2]:tcp:80\"} 1",
        "lvsd_reloads_total 1",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
    let st: serde_json::Value = serde_json::from_str(&http::status(&sn)).expect("status JSON");
    assert_eq!(st["vrrp_instances"][2]["state"], "MASTER");
    assert_eq!(st["virtual_servers"][0]["real_servers"][1]["up"], false);
}

#[test]
fn a_reload_adds_and_removes_views_and_keeps_the_state_of_what_stays() {
    let mut sn = snapshot(LVS);
    let now = SystemTime::now();
    apply(
        &mut sn,
        Event::VrrpState {
            instance: "VI_1".into(),
            state: State::Master,
            priority: 100,
        },
        now,
    );
    apply(
        &mut sn,
        Event::RealServer {
            vs: 0,
            rs: 1,
            alive: false,
            weight: 1,
            reason: String::new(),
        },
        now,
    );
    // VI_3 and the first real server go, VI_4 and a third real server come.
    let next = LVS
        .replace("vrrp_instance VI_3", "vrrp_instance VI_4")
        .replace(
            "  real_server 10.0.0.2 80 {\n    TCP_CHECK { connect_timeout 1 }\n  }\n",
            "",
        )
        .replace(
            "virtual_server 10.0.0.1 80 {\n  protocol TCP\n",
            "virtual_server 10.0.0.1 80 {\n  protocol TCP\n  real_server 10.0.0.4 80 {\n    TCP_CHECK { connect_timeout 1 }\n  }\n",
        );
    let new = std::sync::Arc::new(snapshot(&next).config.as_ref().clone());
    apply(&mut sn, Event::Reloaded(new), now);
    let names: Vec<&str> = sn.instances.iter().map(|i| i.cfg.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2", "VI_4"]);
    assert_eq!(sn.instances[0].state, State::Master, "VI_1 keeps its state");
    assert_eq!(sn.instances[2].state, State::Init, "VI_4 is new");
    let rs: Vec<(&str, bool)> = sn.servers[0]
        .real_servers
        .iter()
        .map(|r| (r.label.as_str(), r.alive))
        .collect();
    assert_eq!(
        rs,
        [("[10.0.0.4]:tcp:80", true), ("[10.0.0.3]:tcp:80", false)],
        "10.0.0.3 keeps its DOWN state, 10.0.0.4 starts up, 10.0.0.2 is gone"
    );
    assert_eq!(sn.reloads, 1);
    let m = http::metrics(&sn);
    assert!(m.contains("instance=\"VI_4\""), "{m}");
    assert!(!m.contains("instance=\"VI_3\""), "{m}");
}

#[test]
fn stats_clear_zeroes_the_counters_and_keeps_the_state() {
    let mut sn = snapshot(LVS);
    let now = SystemTime::now();
    apply(
        &mut sn,
        Event::VrrpState {
            instance: "VI_3".into(),
            state: State::Master,
            priority: 90,
        },
        now,
    );
    for instance in [Some("VI_3".to_string()), None] {
        apply(
            &mut sn,
            Event::Rejected {
                instance,
                reason: "BadTtl".into(),
            },
            now,
        );
    }
    super::clear_stats(&mut sn);
    let m = http::metrics(&sn);
    for line in [
        "lvsd_vrrp_state{instance=\"VI_3\"} 2",
        "lvsd_vrrp_effective_priority{instance=\"VI_3\"} 90",
        "lvsd_vrrp_become_master_total{instance=\"VI_3\"} 0",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
    assert!(!m.contains("BadTtl"), "rejects cleared:\n{m}");
    assert!(dump::stats(&sn).contains("VRRP Instance: VI_3\n  Advertisements:\n    Received: 0\n    Sent: 0\n  Became master: 0\n"));
}

#[test]
fn metrics_show_checker_latency_and_the_last_reload_result() {
    let mut sn = snapshot(LVS);
    let now = SystemTime::now();
    let mut h = super::snapshot::Histogram::default();
    for s in [0.0004, 0.003, 0.003, 7.0] {
        h.observe(s);
    }
    apply(
        &mut sn,
        Event::CheckerLatency {
            kind: "TCP_CHECK",
            histogram: h,
        },
        now,
    );
    apply(&mut sn, Event::ReloadFailed, now);
    let m = http::metrics(&sn);
    for line in [
        "# TYPE lvsd_checker_duration_seconds histogram",
        "lvsd_checker_duration_seconds_bucket{type=\"TCP_CHECK\",le=\"0.001\"} 1",
        "lvsd_checker_duration_seconds_bucket{type=\"TCP_CHECK\",le=\"0.0025\"} 1",
        "lvsd_checker_duration_seconds_bucket{type=\"TCP_CHECK\",le=\"0.005\"} 3",
        "lvsd_checker_duration_seconds_bucket{type=\"TCP_CHECK\",le=\"5\"} 3",
        "lvsd_checker_duration_seconds_bucket{type=\"TCP_CHECK\",le=\"+Inf\"} 4",
        "lvsd_checker_duration_seconds_count{type=\"TCP_CHECK\"} 4",
        "lvsd_reload_failures_total 1",
        "lvsd_last_reload_success 0",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
    // A good reload after it: the failure count stays, the last result is a success.
    let same = sn.config.clone();
    apply(&mut sn, Event::Reloaded(same), now);
    let m = http::metrics(&sn);
    assert!(m.lines().any(|l| l == "lvsd_last_reload_success 1"), "{m}");
    assert!(
        m.lines().any(|l| l == "lvsd_reload_failures_total 1"),
        "{m}"
    );
}

#[test]
fn metrics_show_ipvs_counters_of_lvsd_s_own_real_servers() {
    use ipvs::types::{DestEntry, Destination, Forward, Service, ServiceEntry, ServiceKey, Stats};
    let sn = snapshot(LVS);
    let dest = |ip: &str, active, conns| DestEntry {
        dest: Destination::new(ip.parse().unwrap(), 80, Forward::Masq),
        active_conns: active,
        inactive_conns: 1,
        persistent_conns: 0,
        stats: Some(Stats {
            conns,
            inbytes: 1000,
            outbytes: 5000,
            ..Stats::default()
        }),
    };
    let service = |ip: &str| ServiceEntry {
        service: Service::new(ServiceKey::tcp(ip.parse().unwrap(), 80), "rr"),
        raw_flags: 0,
        stats: None,
    };
    let entries = vec![
        (
            service("10.0.0.1"),
            vec![dest("10.0.0.2", 3, 40), dest("10.0.0.3", 0, 2)],
        ),
        // Another program's service: not lvsd's to report.
        (service("192.0.2.1"), vec![dest("192.0.2.2", 9, 9)]),
    ];
    let m = http::ipvs_metrics(&sn, &entries);
    for line in [
        "# TYPE lvsd_ipvs_connections_total counter",
        "lvsd_ipvs_active_connections{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.2]:tcp:80\"} 3",
        "lvsd_ipvs_connections_total{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.2]:tcp:80\"} 40",
        "lvsd_ipvs_connections_total{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.3]:tcp:80\"} 2",
        "lvsd_ipvs_bytes_out_total{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.0.3]:tcp:80\"} 5000",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }
    assert!(!m.contains("192.0.2"), "{m}");
}

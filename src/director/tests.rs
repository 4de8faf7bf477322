//! The director's decisions, from configurations as users write them.

use super::{Action, Director};
use crate::config::{load, Config, LoadOptions};
use ipvs::{Forward, Netmask, ServiceFlags, ServiceKey, Table};
use std::net::IpAddr;
use std::time::Instant;

fn cfg(text: &str) -> Config {
    let d = tempfile::tempdir().expect("tmp");
    let p = d.path().join("k.conf");
    std::fs::write(&p, text).expect("write");
    let l = load(
        &p,
        &LoadOptions {
            config_id: "t".into(),
            check_machine: false,
        },
    );
    let msgs = l.render();
    l.config.unwrap_or_else(|| panic!("{msgs:#?}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn dests(t: &Table, key: &ServiceKey) -> Vec<(String, u32)> {
    t.services[key]
        .dests
        .values()
        .map(|d| (format!("{}:{}", d.addr, d.port), d.weight))
        .collect()
}

const POOL: &str = r#"
virtual_server 192.0.2.1 80 {
    protocol TCP
    lvs_sched wrr
    quorum 3
    hysteresis 1
    sorry_server 192.0.2.99 8080
    quorum_down "/bin/qdown"
    quorum_up "/bin/qup"
    real_server 10.0.0.1 80 { weight 2
        notify_down "/bin/down one"
        TCP_CHECK { } }
    real_server 10.0.0.2 80 { weight 2
        inhibit_on_failure
        TCP_CHECK { } }
    real_server 10.0.0.3 80 { weight 1
        TCP_CHECK { } }
}
"#;

fn key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: ip("192.0.2.1"),
        port: 80,
    }
}

#[test]
fn all_up_gives_every_real_server_with_its_weight() {
    let c = cfg(POOL);
    let d = Director::new(&std::sync::Arc::new(c.clone()));
    let t = d.desired();
    assert_eq!(t.services[&key()].service.scheduler, "wrr");
    assert_eq!(
        dests(&t, &key()),
        vec![
            ("10.0.0.1:80".into(), 2),
            ("10.0.0.2:80".into(), 2),
            ("10.0.0.3:80".into(), 1)
        ]
    );
}

#[test]
fn down_removes_or_inhibits_and_notifies() {
    let c = cfg(POOL);
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    d.set_health(0, 1, false, None, "", Instant::now());
    // inhibit_on_failure keeps 10.0.0.2 with weight 0; 2 + 1 alive still meets quorum 3 - hysteresis 1.
    assert_eq!(
        dests(&d.desired(), &key()),
        vec![
            ("10.0.0.1:80".into(), 2),
            ("10.0.0.2:80".into(), 0),
            ("10.0.0.3:80".into(), 1)
        ]
    );
    assert_eq!(d.quorum_up(0), Some(true));
    d.set_health(0, 1, true, None, "", Instant::now());
    let acts = d.set_health(0, 0, false, None, "connection refused", Instant::now());
    assert!(acts.contains(&Action::Log(
        "Removing service [10.0.0.1]:tcp:80 from VS [192.0.2.1]:tcp:80: connection refused".into()
    )));
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Script { script, .. } if script.command == "/bin/down one")));
    assert!(acts.contains(&Action::Fifo(
        "RS [10.0.0.1]:tcp:80 [192.0.2.1]:tcp:80 DOWN".into()
    )));
    assert_eq!(
        dests(&d.desired(), &key()),
        vec![("10.0.0.2:80".into(), 2), ("10.0.0.3:80".into(), 1)]
    );
}

#[test]
fn quorum_loss_brings_the_sorry_server_and_hysteresis_delays_recovery() {
    let c = cfg(POOL);
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    d.set_health(0, 0, false, None, "", Instant::now());
    let acts = d.set_health(0, 1, false, None, "", Instant::now());
    // Alive weight 1 < 3 - 1: quorum lost.
    assert_eq!(d.quorum_up(0), Some(false));
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Script { script, .. } if script.command == "/bin/qdown")));
    assert!(acts.contains(&Action::Fifo("VS [192.0.2.1]:tcp:80 DOWN".into())));
    let t = d.desired();
    // Sorry mode: the live 10.0.0.3 leaves, the inhibited 10.0.0.2 stays at 0, the sorry server serves.
    assert_eq!(
        dests(&t, &key()),
        vec![("10.0.0.2:80".into(), 0), ("192.0.2.99:8080".into(), 1)]
    );
    // Back to weight 3: not yet 3 + 1.
    d.set_health(0, 1, true, None, "", Instant::now());
    assert_eq!(d.quorum_up(0), Some(false));
    let acts = d.set_health(0, 0, true, None, "", Instant::now());
    assert_eq!(d.quorum_up(0), Some(true));
    assert!(acts.contains(&Action::Fifo("VS [192.0.2.1]:tcp:80 UP".into())));
    assert_eq!(dests(&d.desired(), &key()).len(), 3);
}

#[test]
fn dynamic_weights_change_the_destination_only() {
    let c = cfg(POOL);
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    let acts = d.set_health(0, 2, true, Some(7), "", Instant::now());
    assert_eq!(
        acts,
        vec![Action::Log(
            "Changing weight from 1 to 7 for [10.0.0.3]:tcp:80 of VS [192.0.2.1]:tcp:80".into()
        )]
    );
    assert_eq!(dests(&d.desired(), &key())[2], ("10.0.0.3:80".into(), 7));
    // Drained to 0 (maintenance): still present, weight 0.
    d.set_health(0, 2, true, Some(0), "", Instant::now());
    assert_eq!(dests(&d.desired(), &key())[2], ("10.0.0.3:80".into(), 0));
}

#[test]
fn alpha_starts_down_and_servers_without_checkers_are_up() {
    let c = cfg("virtual_server 192.0.2.1 80 {\n protocol TCP\n alpha\n real_server 10.0.0.1 80 { TCP_CHECK { } }\n real_server 10.0.0.2 80 { weight 1 }\n}\n");
    let d = Director::new(&std::sync::Arc::new(c.clone()));
    assert_eq!(d.is_alive(0, 0), Some(false));
    assert_eq!(d.is_alive(0, 1), Some(true));
    assert_eq!(dests(&d.desired(), &key()), vec![("10.0.0.2:80".into(), 1)]);
}

#[test]
fn services_carry_persistence_flags_methods_and_groups() {
    let c = cfg(r#"
virtual_server_group G {
    192.0.2.10-12 443
    fwmark 7
}
virtual_server group G {
    protocol TCP
    lvs_sched sh
    sh-port
    lvs_method DR
    persistence_timeout 120
    persistence_granularity 255.255.255.0
    real_server 10.0.0.1 443 { weight 1 }
    real_server 10.0.0.2 443 {
        lvs_method TUN type gue port 6080 csum
    }
}
virtual_server fwmark 9 {
    real_server 2001:db8::1 80 { weight 3 }
}
"#);
    let d = Director::new(&std::sync::Arc::new(c.clone()));
    let t = d.desired();
    assert_eq!(
        t.services.len(),
        5,
        "3 addresses + fwmark 7 of the group, fwmark 9"
    );
    let k = ServiceKey::Addr {
        protocol: ipvs::Protocol::Tcp,
        addr: ip("192.0.2.11"),
        port: 443,
    };
    let s = &t.services[&k];
    assert_eq!(s.service.scheduler, "sh");
    assert!(s
        .service
        .flags
        .contains(ServiceFlags::PERSISTENT | ServiceFlags::SCHED2));
    assert_eq!(s.service.timeout, 120);
    // keepalived 2.2.7 programs a group's services with the full netmask whatever
    // persistence_granularity says (seen in the kernel lab), so the setting is dropped.
    assert_eq!(s.service.netmask, Netmask::full(ipvs::Family::Inet));
    let forwards: Vec<Forward> = s.dests.values().map(|d| d.forward).collect();
    assert_eq!(forwards[0], Forward::Route);
    assert!(matches!(
        forwards[1],
        Forward::Tunnel {
            kind: ipvs::TunnelType::Gue,
            port: 6080,
            ..
        }
    ));
    let fw9 = ServiceKey::Fwmark {
        family: ipvs::Family::Inet6,
        mark: 9,
    };
    assert_eq!(dests(&t, &fw9), vec![("2001:db8::1:80".into(), 3)]);
    assert_eq!(d.owned_keys().count(), 5);
}

#[test]
fn omega_runs_down_notifications_on_shutdown() {
    let c = cfg("virtual_server 192.0.2.1 80 {\n protocol TCP\n omega\n quorum_down /bin/qd\n real_server 10.0.0.1 80 { notify_down /bin/d1\n TCP_CHECK { } }\n real_server 10.0.0.2 80 { notify_down /bin/d2\n TCP_CHECK { } }\n}\n");
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    d.set_health(0, 1, false, None, "", Instant::now());
    let cmds: Vec<String> = d
        .shutdown_notifications()
        .into_iter()
        .filter_map(|a| match a {
            Action::Script { script, .. } => Some(script.command),
            _ => None,
        })
        .collect();
    assert_eq!(cmds, vec!["/bin/d1", "/bin/qd"]);
}

#[test]
fn only_a_real_change_marks_the_table_changed() {
    let c = cfg(POOL);
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    assert!(!d.take_changed());
    // Initial-state events repeat what the director already holds.
    for rs in 0..3 {
        d.set_health(0, rs, true, None, "initial state", Instant::now());
    }
    assert!(!d.take_changed());
    d.set_health(0, 2, false, None, "connection refused", Instant::now());
    assert!(d.take_changed());
    assert!(!d.take_changed());
    // A weight a check sets is a change; the same weight again is not.
    d.set_health(0, 0, true, Some(5), "misc_dynamic", Instant::now());
    assert!(d.take_changed());
    d.set_health(0, 0, true, Some(5), "misc_dynamic", Instant::now());
    assert!(!d.take_changed());
}

#[test]
fn ranks_follow_the_configuration_for_every_destination_and_the_sorry_server() {
    let c = cfg(POOL);
    let mut d = Director::new(&std::sync::Arc::new(c.clone()));
    // Down servers are ranked too: they are added in order when they come back.
    d.set_health(0, 0, false, None, "", Instant::now());
    let r = d.ranks();
    let rank = |a: &str, port: u16| r.get(&key(), &ipvs::DestKey { addr: ip(a), port });
    assert_eq!(rank("10.0.0.1", 80), Some(0));
    assert_eq!(rank("10.0.0.3", 80), Some(2));
    assert_eq!(rank("192.0.2.99", 8080), Some(3));
    assert_eq!(r.len(), 4);
}

const ADMIN: &str = r#"
virtual_server 192.0.2.1 80 {
    protocol TCP
    lvs_sched wrr
    slow_start 10
    real_server 10.0.0.1 80 { weight 10
        TCP_CHECK { } }
    real_server 10.0.0.2 80 { weight 4
        inhibit_on_failure
        slow_start 0
        TCP_CHECK { } }
    real_server 10.0.0.3 80 { weight 1
        TCP_CHECK { } }
}
"#;

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

#[test]
fn a_drain_keeps_the_server_at_weight_0_until_drained_then_maintenance_removes_it() {
    use super::admin::Admin;
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let t0 = Instant::now();
    let wall = std::time::SystemTime::now();
    let acts = d.set_admin(0, 0, Some(Admin::drain(wall, secs(60))), t0);
    assert!(matches!(&acts[0], Action::Log(l) if l.contains("draining")));
    assert!(d.take_changed());
    assert_eq!(
        dests(&d.desired(), &key()),
        vec![
            ("10.0.0.1:80".into(), 0),
            ("10.0.0.2:80".into(), 4),
            ("10.0.0.3:80".into(), 1)
        ]
    );
    assert_eq!(d.draining(), vec![(0, 0)]);
    d.drained(0, 0, t0);
    assert_eq!(d.admin(0, 0), Some(Admin::Maintenance));
    assert_eq!(dests(&d.desired(), &key()).len(), 2);
    // inhibit_on_failure keeps a server in maintenance at weight 0.
    d.set_admin(0, 1, Some(Admin::Maintenance), t0);
    assert_eq!(
        dests(&d.desired(), &key()),
        vec![("10.0.0.2:80".into(), 0), ("10.0.0.3:80".into(), 1)]
    );
}

#[test]
fn a_drain_that_times_out_goes_into_maintenance() {
    use super::admin::Admin;
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let (t0, wall) = (Instant::now(), std::time::SystemTime::now());
    d.set_admin(0, 2, Some(Admin::drain(wall, secs(30))), t0);
    let (again, _) = d.tick(t0 + secs(29), wall + secs(29));
    assert!(again, "still draining");
    assert!(matches!(d.admin(0, 2), Some(Admin::Drain { .. })));
    let (again, acts) = d.tick(t0 + secs(30), wall + secs(30));
    assert!(!again);
    assert_eq!(d.admin(0, 2), Some(Admin::Maintenance));
    assert!(matches!(&acts[0], Action::Log(l) if l.contains("maintenance")));
}

#[test]
fn enable_brings_a_server_back_through_slow_start() {
    use super::admin::Admin;
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let t0 = Instant::now();
    d.set_admin(0, 0, Some(Admin::Maintenance), t0);
    d.set_admin(0, 0, None, t0 + secs(100));
    let w = |d: &Director| dests(&d.desired(), &key())[0].1;
    assert_eq!(w(&d), 1, "starts at 1");
    d.tick(t0 + secs(103), std::time::SystemTime::now());
    assert_eq!(w(&d), 3);
    let (again, _) = d.tick(t0 + secs(109), std::time::SystemTime::now());
    assert!(again);
    assert_eq!(w(&d), 9);
    let (again, _) = d.tick(t0 + secs(110), std::time::SystemTime::now());
    assert!(!again, "slow start over");
    assert_eq!(w(&d), 10);
    assert!(!d.rising(0, 0));
}

#[test]
fn a_server_coming_up_by_health_rises_too_unless_its_slow_start_is_0() {
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let t0 = Instant::now();
    for rs in [0, 1] {
        d.set_health(0, rs, false, None, "", t0);
        d.set_health(0, rs, true, None, "", t0 + secs(1));
    }
    d.tick(t0 + secs(6), std::time::SystemTime::now());
    let got = dests(&d.desired(), &key());
    assert_eq!(got[0], ("10.0.0.1:80".into(), 5), "half way");
    assert_eq!(got[1], ("10.0.0.2:80".into(), 4), "slow_start 0: at once");
}

#[test]
fn a_runtime_weight_replaces_the_configured_one_until_enable() {
    use super::admin::Admin;
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let t0 = Instant::now();
    d.set_admin(0, 2, Some(Admin::Weight { weight: 7 }), t0);
    assert_eq!(dests(&d.desired(), &key())[2].1, 7);
    // Health still rules: down leaves the table.
    d.set_health(0, 2, false, None, "", t0);
    assert_eq!(dests(&d.desired(), &key()).len(), 2);
    d.set_health(0, 2, true, None, "", t0 + secs(20));
    d.set_admin(0, 2, None, t0 + secs(40));
    assert_eq!(dests(&d.desired(), &key())[2].1, 1);
}

#[test]
fn overrides_follow_labels_across_a_reload_and_unknown_ones_are_returned() {
    use super::admin::{Admin, Overrides};
    let c = std::sync::Arc::new(cfg(ADMIN));
    let mut d = Director::new(&c);
    let t0 = Instant::now();
    d.set_admin(0, 1, Some(Admin::Maintenance), t0);
    let mut o = d.overrides();
    assert_eq!(
        o.0.keys().next().unwrap(),
        &(
            "[192.0.2.1]:tcp:80".to_string(),
            "[10.0.0.2]:tcp:80".to_string()
        )
    );
    o.0.insert(
        ("[192.0.2.9]:tcp:80".into(), "[10.0.0.9]:tcp:80".into()),
        Admin::Maintenance,
    );
    // The new file lists the real servers in another order.
    let moved = ADMIN.replace(
        "real_server 10.0.0.1 80 { weight 10",
        "real_server 10.0.0.5 80 { weight 10",
    );
    let mut n = Director::new(&std::sync::Arc::new(cfg(&moved)));
    let gone = n.apply_overrides(&o, t0);
    assert_eq!(
        gone,
        vec![("[192.0.2.9]:tcp:80".into(), "[10.0.0.9]:tcp:80".into())]
    );
    assert_eq!(n.admin(0, 1), Some(Admin::Maintenance));
    assert_eq!(Overrides::default(), Director::new(&c).overrides());
}

#[test]
fn drained_and_maintenance_servers_do_not_count_for_quorum() {
    use super::admin::Admin;
    let text = ADMIN.replace(
        "slow_start 10",
        "slow_start 10\n    quorum 12\n    quorum_down \"/bin/qd\"",
    );
    let c = std::sync::Arc::new(cfg(&text));
    let mut d = Director::new(&c);
    let acts = d.set_admin(0, 1, Some(Admin::Maintenance), Instant::now());
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Script { why, .. } if why.starts_with("quorum_down"))));
    assert_eq!(d.quorum_up(0), Some(false));
}

#[test]
fn quorum_is_judged_at_start_with_its_hysteresis_as_keepalived() {
    // quorum 5 / hysteresis 9 over a weight of 2 is settled to 2 / 1 (keepalived's reduction); at
    // start the live weight 2 is below 2 + 1, so the service starts on its sorry server.
    let c = cfg("virtual_server 192.0.2.1 80 {\n protocol TCP\n quorum 5\n hysteresis 9\n sorry_server 10.0.0.99 80\n real_server 10.0.0.1 80 { weight 2 }\n}\n");
    let d = Director::new(&std::sync::Arc::new(c));
    assert_eq!(d.quorum_up(0), Some(false));
    assert_eq!(
        dests(&d.desired(), &key()),
        vec![("10.0.0.99:80".into(), 1)]
    );
    // Without hysteresis the same weight reaches the settled quorum of 2.
    let c = cfg("virtual_server 192.0.2.1 80 {\n protocol TCP\n quorum 5\n sorry_server 10.0.0.99 80\n real_server 10.0.0.1 80 { weight 2 }\n}\n");
    let d = Director::new(&std::sync::Arc::new(c));
    assert_eq!(d.quorum_up(0), Some(true));
    assert_eq!(dests(&d.desired(), &key()), vec![("10.0.0.1:80".into(), 2)]);
}

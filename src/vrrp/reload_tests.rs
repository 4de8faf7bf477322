use super::*;
use crate::config::{load, LoadOptions};
use std::io::Write;

fn cfg(text: &str) -> Config {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    let loaded = load(
        f.path(),
        &LoadOptions {
            config_id: "x".into(),
            check_machine: false,
        },
    );
    match loaded.config {
        Some(c) => c,
        None => panic!("invalid test config: {:?}", loaded.render()),
    }
}

/// VI_1 on eth0, VRID 51, with `body` added inside the block.
fn vi(name: &str, vrid: u8, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority 100\n virtual_ipaddress {{\n 10.0.0.{vrid}/24\n }}\n{body}\n}}\n"
    )
}

fn plan(old: &str, new: &str) -> Plan {
    Plan::new(&cfg(old), &cfg(new))
}

fn kept<'a>(p: &'a Plan, name: &str) -> &'a InstancePlan {
    &p.kept
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} not kept: {p:?}"))
        .1
}

#[test]
fn identical_text_moved_to_other_lines_is_no_change() {
    let a = vi("VI_1", 51, "");
    let b = format!("\n\n# comment\n{}", vi("VI_1", 51, ""));
    let p = plan(&a, &b);
    assert!(p.is_empty(), "{p:?}");
    assert!(p.describe().is_empty());
}

#[test]
fn names_match_instances_removed_added_and_kept() {
    let p = plan(
        &(vi("VI_1", 51, "") + &vi("VI_2", 52, "")),
        &(vi("VI_2", 52, "") + &vi("VI_3", 53, "")),
    );
    assert_eq!(p.removed, ["VI_1"]);
    assert_eq!(p.added, ["VI_3"]);
    assert_eq!(p.kept, [("VI_2".to_string(), InstancePlan::Keep)]);
    assert_eq!(p.describe(), ["(VI_1) removed", "(VI_3) added"]);
}

#[test]
fn priority_advert_and_preemption_change_in_place() {
    let p = plan(
        &vi("VI_1", 51, ""),
        &vi("VI_1", 51, " advert_int 2\n nopreempt").replace("priority 100", "priority 200"),
    );
    assert_eq!(
        *kept(&p, "VI_1"),
        InstancePlan::Update(vec![
            Change::Priority { from: 100, to: 200 },
            Change::AdvertInt {
                from: Duration::from_secs(1),
                to: Duration::from_secs(2)
            },
            Change::Preemption,
        ])
    );
    assert_eq!(
        p.describe(),
        ["(VI_1) updated in place: priority 100 -> 200, advert_int 1s -> 2s, preemption (state/nopreempt/preempt_delay)"]
    );
}

#[test]
fn vip_delta_names_added_and_removed_addresses() {
    let old = vi(
        "VI_1",
        51,
        " virtual_ipaddress_excluded {\n 10.0.1.1/24\n }",
    );
    let new = vi("VI_1", 51, "").replace("10.0.0.51/24", "10.0.0.51/24\n 10.0.0.52/24");
    let p = plan(&old, &new);
    let InstancePlan::Update(c) = kept(&p, "VI_1") else {
        panic!("{p:?}")
    };
    assert_eq!(
        c,
        &[Change::Vips {
            added: vec!["10.0.0.52".parse().unwrap()],
            removed: vec!["10.0.1.1".parse().unwrap()],
        }]
    );
    assert_eq!(
        c[0].to_string(),
        "virtual_ipaddress added 10.0.0.52 removed 10.0.1.1"
    );
    // Same address, other prefix: an options change.
    let p = plan(
        &vi("VI_1", 51, ""),
        &vi("VI_1", 51, "").replace("/24", "/25"),
    );
    assert_eq!(
        *kept(&p, "VI_1"),
        InstancePlan::Update(vec![Change::Vips {
            added: vec![],
            removed: vec![]
        }])
    );
}

#[test]
fn interface_vrid_family_version_and_source_force_a_replacement() {
    let base = vi("VI_1", 51, "");
    let cases = [
        (
            base.replace("interface eth0", "interface eth1"),
            "interface eth0 -> eth1",
        ),
        (
            vi("VI_1", 52, "").replace("10.0.0.52", "10.0.0.51"),
            "virtual_router_id 51 -> 52",
        ),
        (
            base.replace("10.0.0.51/24", "2001:db8::51/64"),
            "address family V4 -> V6",
        ),
        (vi("VI_1", 51, " version 3"), "version 2 -> 3"),
        (vi("VI_1", 51, " use_vmac"), "use_vmac"),
        (
            vi("VI_1", 51, " mcast_src_ip 10.0.0.9"),
            "advert source address",
        ),
    ];
    for (new, why) in cases {
        let p = plan(&base, &new);
        assert_eq!(
            *kept(&p, "VI_1"),
            InstancePlan::Replace(why.into()),
            "{new}"
        );
    }
}

#[test]
fn peers_notify_auth_routes_and_global_multicast_group() {
    let base = vi("VI_1", 51, "");
    let p = plan(
        &base,
        &vi(
            "VI_1",
            51,
            " unicast_peer {\n 10.0.0.2\n }\n notify_master /bin/true\n authentication {\n auth_type PASS\n auth_pass x\n }\n virtual_routes {\n 10.1.0.0/16 via 10.0.0.1\n }",
        ),
    );
    let InstancePlan::Update(c) = kept(&p, "VI_1") else {
        panic!("{p:?}")
    };
    for want in [Change::Peers, Change::Notify, Change::Auth, Change::Routes] {
        assert!(c.contains(&want), "{want:?} missing from {c:?}");
    }
    let p = plan(
        &base,
        &format!("global_defs {{\n vrrp_mcast_group4 224.0.0.19\n}}\n{base}"),
    );
    assert_eq!(*kept(&p, "VI_1"), InstancePlan::Update(vec![Change::Peers]));
}

const SCRIPTS: &str = "vrrp_script a {\n script /bin/true\n weight 10\n}\nvrrp_script b {\n script /bin/true\n}\nvrrp_script c {\n script /bin/true\n}\n";

#[test]
fn only_changed_or_newly_tracked_scripts_restart() {
    let old = format!("{SCRIPTS}{}", vi("VI_1", 51, " track_script {\n a\n b\n }"));
    // a: weight changed (restart); b: no longer tracked (stop); c: newly tracked (start).
    let new = format!(
        "{}{}",
        SCRIPTS.replace("weight 10", "weight 20"),
        vi("VI_1", 51, " track_script {\n a\n c\n }")
    );
    let p = plan(&old, &new);
    assert_eq!(p.scripts.stop, ["a", "b"]);
    assert_eq!(p.scripts.start, ["a", "c"]);
    assert_eq!(
        *kept(&p, "VI_1"),
        InstancePlan::Update(vec![Change::Tracking])
    );
    let d = p.describe();
    assert!(
        d.contains(&"VRRP_Script(a) changed, restarting it".to_string()),
        "{d:?}"
    );
    assert!(
        d.contains(&"VRRP_Script(b) no longer tracked, stopped".to_string()),
        "{d:?}"
    );
    assert!(d.contains(&"VRRP_Script(c) started".to_string()), "{d:?}");

    // An unchanged tracked script keeps running; the instance's tracking still changes when a
    // script it tracks changes weight.
    let old = format!("{SCRIPTS}{}", vi("VI_1", 51, " track_script {\n a\n }"));
    let p = plan(&old, &old.replace("priority 100", "priority 101"));
    assert_eq!(p.scripts, ScriptPlan::default());
    // script_user changes how every script runs.
    let p = plan(
        &old,
        &format!("global_defs {{\n script_user nobody\n}}\n{old}"),
    );
    assert_eq!(p.scripts.start, ["a"]);
    assert!(p.notifier_changed);
}

#[test]
fn sync_group_tracking_reaches_its_members_and_groups_are_named() {
    let members = vi("VI_1", 51, "") + &vi("VI_2", 52, "");
    let old = format!("{SCRIPTS}vrrp_sync_group G {{\n group {{\n VI_1\n VI_2\n }}\n}}\n{members}");
    let new = old.replace("VI_2\n }\n", "VI_2\n }\n track_script {\n a\n }\n");
    let p = plan(&old, &new);
    assert_eq!(p.groups_changed, ["G"]);
    assert_eq!(
        *kept(&p, "VI_1"),
        InstancePlan::Update(vec![Change::Tracking])
    );
    assert_eq!(
        *kept(&p, "VI_2"),
        InstancePlan::Update(vec![Change::Tracking])
    );
    assert_eq!(p.scripts.start, ["a"]);
}

#[test]
fn startup_delay_waits_for_the_next_start_and_files_restart_the_watcher() {
    let base = vi("VI_1", 51, "");
    let p = plan(
        &base,
        &format!("global_defs {{\n vrrp_startup_delay 5\n}}\nvrrp_track_file f {{\n file /tmp/x\n}}\n{base}"),
    );
    assert_eq!(p.at_next_start, ["vrrp_startup_delay"]);
    assert!(p.restart_file_watcher);
    assert_eq!(*kept(&p, "VI_1"), InstancePlan::Keep);
}

#[test]
fn tracked_process_blocks_change_the_plan_untracked_ones_do_not() {
    let tp = |quorum: u32, name: &str| {
        format!("vrrp_track_process {name} {{\n process nginx\n quorum {quorum}\n}}\n")
    };
    let inst = vi("VI_1", 51, " track_process {\n tp\n }");
    let p = plan(
        &format!("{}{inst}", tp(1, "tp")),
        &format!("{}{inst}", tp(2, "tp")),
    );
    assert!(p.processes_changed);
    assert_eq!(
        *kept(&p, "VI_1"),
        InstancePlan::Update(vec![Change::Tracking])
    );
    assert!(p
        .describe()
        .contains(&"tracked vrrp_track_process set changed, counting the new one".to_string()));
    let base = vi("VI_1", 51, "");
    let p = plan(
        &format!("{}{base}", tp(1, "idle")),
        &format!("{}{base}", tp(2, "idle")),
    );
    assert!(!p.processes_changed, "nobody tracks it");
    assert!(p.is_empty());
    assert_eq!(
        tracked_processes(&cfg(&format!("{}{inst}", tp(1, "tp")))).len(),
        1
    );
}

#[test]
fn static_changes_are_planned_by_entry_and_leave_the_instances_alone() {
    let base = vi("VI_1", 51, "");
    let statics = |addr: &str, route: &str| {
        format!("static_ipaddress {{\n 192.168.77.1/24 dev eth0\n {addr} dev eth0\n}}\nstatic_routes {{\n {route}\n}}\n")
    };
    let old = format!(
        "{}{base}",
        statics("192.168.78.1/24", "10.77.0.0/16 via 192.168.77.254")
    );
    let new = format!(
        "{base}\n{}static_rules {{\n from 10.77.1.0/24 table 100\n}}\n",
        statics("192.168.79.1/24", "10.77.0.0/16 via 192.168.77.254")
    );
    let p = plan(&old, &new);
    assert!(!p.is_empty());
    assert_eq!(*kept(&p, "VI_1"), InstancePlan::Keep);
    assert_eq!(
        p.describe(),
        [
            "static_ipaddress added 192.168.79.1/24 dev eth0, removed 192.168.78.1/24 dev eth0",
            "static_rules added from 10.77.1.0/24 table 100",
        ]
    );
    assert!(plan(&old, &old).is_empty());
}

//! What lvsd adds at start and leaves behind when it stops, in network namespaces: keepalived's `-V`
//! (--dont-release-vrrp) keeps the VIPs, virtual routes and rules and the VMAC and sends no
//! priority 0 advert; a restarted lvsd clears those leftovers; a plain stop removes everything.
//! static_ipaddress / static_routes / static_rules are there while lvsd runs, with or without VRRP
//! instances, and gone after it stops, -V or not. Needs root; skips with a printed reason otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, Lab};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";
const VMAC_VIP: &str = "10.9.0.101";
const PRIO0: &str = "Backup received priority 0 advertisement";

/// VI_1 with a VIP, a virtual route and a virtual rule; VI_2 with its VIP on a VMAC.
fn conf(priority: u8, stop_file: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int 1
  virtual_ipaddress {{ {VIP}/24 }}
  virtual_routes {{ 10.88.0.0/16 via 10.9.0.254 }}
  virtual_rules {{ from 10.66.0.0/16 table 101 preference 100 }}
  notify_stop \"/usr/bin/touch {stop_file}\"
}}
vrrp_instance VI_2 {{
  interface eth0
  virtual_router_id 52
  priority {priority}
  advert_int 1
  use_vmac vrrp52
  virtual_ipaddress {{ {VMAC_VIP}/24 }}
}}
"
    )
}

fn out(lab: &Lab, node: usize, args: &[&str]) -> String {
    let o = lab.run_in(node, args);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What `ip` shows of the instances' state on a node.
struct Seen {
    route: bool,
    rule: bool,
    vmac: bool,
}

fn seen(lab: &Lab, node: usize) -> Seen {
    Seen {
        route: out(lab, node, &["ip", "route"]).contains("10.88.0.0/16 via 10.9.0.254"),
        rule: out(lab, node, &["ip", "rule"]).contains("from 10.66.0.0/16 lookup 101"),
        vmac: out(lab, node, &["ip", "-o", "link", "show", "vrrp52"]).contains("vrrp52"),
    }
}

fn wait_until(what: &str, lab: &Lab, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < timeout,
            "timed out waiting for {what}; logs:\n{}",
            lab.all_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn dont_release_vrrp_keeps_addresses_routes_rules_and_vmac() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let stop0 = lab.path("stop0").display().to_string();
    let stop1 = lab.path("stop1").display().to_string();
    let a = lab.lvsd_with(0, &conf(150, &stop0), &["-l", "-P", "-G", "-V"], &[]);
    let b = lab.lvsd(1, &conf(100, &stop1));
    wait_until(
        "node 0 master of both",
        &lab,
        Duration::from_secs(8),
        || lab.holders(VIP) == [0] && lab.holders(VMAC_VIP) == [0],
    );

    // -V: the master stops without handing over; everything stays on node 0.
    lab.signal(a, libc::SIGTERM);
    let st = lab.wait_exit(a).expect("lvsd -V exits on SIGTERM");
    assert!(st.success(), "clean exit; log:\n{}", lab.log(a));
    assert!(lab.holders(VIP).contains(&0), "{}", lab.log(a));
    assert!(lab.holders(VMAC_VIP).contains(&0), "{}", lab.log(a));
    let s = seen(&lab, 0);
    assert!(
        s.route && s.rule && s.vmac,
        "route {} rule {} vmac {}",
        s.route,
        s.rule,
        s.vmac
    );
    assert!(
        out(&lab, 0, &["ip", "-o", "addr", "show", "dev", "vrrp52"]).contains(VMAC_VIP),
        "the VMAC keeps its VIP"
    );
    assert!(lab.path("stop0").exists(), "notify_stop still runs");
    assert!(lab.log(a).contains("(VI_1) Entering STOP STATE"));
    // Without a priority 0 advert the backup waits for the master down interval.
    wait_until("node 1 takes over", &lab, Duration::from_secs(8), || {
        lab.holders(VIP).contains(&1) && lab.holders(VMAC_VIP).contains(&1)
    });
    assert!(!lab.log(b).contains(PRIO0), "{}", lab.log(b));

    // A restarted lvsd that stays BACKUP clears what the -V stop left.
    let c = lab.lvsd(0, &conf(50, &stop0));
    wait_until(
        "node 0's leftovers removed",
        &lab,
        Duration::from_secs(8),
        || {
            let s = seen(&lab, 0);
            lab.holders(VIP) == [1] && lab.holders(VMAC_VIP) == [1] && !s.route && !s.rule
        },
    );
    assert!(seen(&lab, 1).route && seen(&lab, 1).rule);

    // A plain stop hands over with priority 0 and removes everything.
    lab.signal(b, libc::SIGTERM);
    let st = lab.wait_exit(b).expect("lvsd exits on SIGTERM");
    assert!(st.success(), "clean exit; log:\n{}", lab.log(b));
    let s = seen(&lab, 1);
    assert!(
        !s.route && !s.rule && !s.vmac,
        "route {} rule {} vmac {}",
        s.route,
        s.rule,
        s.vmac
    );
    assert!(!lab.holders(VIP).contains(&1) && !lab.holders(VMAC_VIP).contains(&1));
    assert!(lab.path("stop1").exists());
    wait_until("node 0 takes over", &lab, Duration::from_secs(8), || {
        lab.holders(VIP) == [0] && lab.holders(VMAC_VIP) == [0]
    });
    assert!(lab.log(c).contains(PRIO0), "{}", lab.log(c));
}

const STATICS: &str = "static_ipaddress {
  192.168.77.1/24 dev eth0
  192.168.78.1/24
}
static_routes {
  10.77.0.0/16 via 192.168.77.254 dev eth0
  10.78.0.0/16 via 192.168.78.254
}
static_rules {
  from 10.77.1.0/24 table 100 preference 200
}
";

/// Which of the static addresses, routes and rule node 0 has.
fn statics_on(lab: &Lab) -> Vec<&'static str> {
    let addrs = out(lab, 0, &["ip", "-o", "addr", "show", "dev", "eth0"]);
    let routes = out(lab, 0, &["ip", "route"]);
    let rules = out(lab, 0, &["ip", "rule"]);
    [
        ("192.168.77.1/24", addrs.contains("inet 192.168.77.1/24")),
        ("192.168.78.1/24", addrs.contains("inet 192.168.78.1/24")),
        (
            "route 10.77",
            routes.contains("10.77.0.0/16 via 192.168.77.254 dev eth0"),
        ),
        (
            "route 10.78",
            routes.contains("10.78.0.0/16 via 192.168.78.254 dev eth0"),
        ),
        ("rule", rules.contains("200:\tfrom 10.77.1.0/24 lookup 100")),
    ]
    .into_iter()
    .filter_map(|(what, there)| there.then_some(what))
    .collect()
}

#[test]
fn static_addresses_routes_and_rules_live_as_long_as_lvsd() {
    if !can_run() {
        return;
    }
    let all = vec![
        "192.168.77.1/24",
        "192.168.78.1/24",
        "route 10.77",
        "route 10.78",
        "rule",
    ];
    let mut lab = Lab::new(1);
    // Without any vrrp_instance, then with one and -V (keepalived removes them all the same).
    let with_instance = format!("{STATICS}{}", conf(150, "/dev/null"));
    let plain: &[&str] = &["-l", "-P", "-G"];
    let keep: &[&str] = &["-l", "-P", "-G", "-V"];
    for (conf, flags) in [(STATICS.to_string(), plain), (with_instance, keep)] {
        assert!(statics_on(&lab).is_empty(), "{:?}", statics_on(&lab));
        let d = lab.lvsd_with(0, &conf, flags, &[]);
        wait_until("the static entries", &lab, Duration::from_secs(5), || {
            statics_on(&lab) == all
        });
        if conf.contains("vrrp_instance") {
            wait_until("the instance's VIP", &lab, Duration::from_secs(8), || {
                lab.holders(VIP) == [0]
            });
        }
        lab.signal(d, libc::SIGTERM);
        let st = lab.wait_exit(d).expect("lvsd exits on SIGTERM");
        assert!(st.success(), "clean exit; log:\n{}", lab.log(d));
        assert!(
            statics_on(&lab).is_empty(),
            "left after stop {flags:?}: {:?}\n{}",
            statics_on(&lab),
            lab.log(d)
        );
    }
    // -V kept the instance's VIP.
    assert_eq!(lab.holders(VIP), [0]);
}

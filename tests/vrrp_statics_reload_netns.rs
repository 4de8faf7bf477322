//! A reload (SIGHUP) applies static_ipaddress / static_routes / static_rules changes: entries gone
//! are removed, new ones added, unchanged ones not touched (`ip monitor` sees no event for them),
//! with and without vrrp_instances; `lvsd ctl reload --dry-run` names them and applies none.
//! vrrp_startup_delay only acts at start: a reload during the delay adds its static entries at
//! once, a stop ends the delay. Namespaces: needs root; skips with a printed reason otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, Lab};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";

fn out(lab: &Lab, args: &[&str]) -> String {
    String::from_utf8_lossy(&lab.run_in(0, args).stdout).into_owned()
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

fn instance() -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 61\n priority 150\n advert_int 1\n virtual_ipaddress {{ {VIP}/24 }}\n}}\n"
    )
}

/// Kept: 192.168.77.1, the route to 10.77/16, the rule of 10.77.1/24. `gen` 1 adds 192.168.78.1,
/// a route to 10.78/16 and a rule of 10.78.1/24; `gen` 2 has 192.168.79.1, 10.79/16, 10.79.1/24.
fn statics(gen: u8) -> String {
    let n = 77 + gen;
    format!(
        "static_ipaddress {{\n 192.168.77.1/24 dev eth0\n 192.168.{n}.1/24 dev eth0\n}}\n\
         static_routes {{\n 10.77.0.0/16 via 192.168.77.254 dev eth0\n 10.{n}.0.0/16 via 192.168.{n}.254 dev eth0\n}}\n\
         static_rules {{\n from 10.77.1.0/24 table 100 preference 200\n from 10.{n}.1.0/24 table 100 preference 201\n}}\n"
    )
}

/// The third octet of the non-kept entries node 0 has, per kind: (addresses, routes, rules).
fn present(lab: &Lab) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let addrs = out(lab, &["ip", "-o", "addr", "show", "dev", "eth0"]);
    let routes = out(lab, &["ip", "route"]);
    let rules = out(lab, &["ip", "rule"]);
    let pick = |f: &dyn Fn(u8) -> bool| (77..=79).filter(|&n| f(n)).collect::<Vec<u8>>();
    (
        pick(&|n| addrs.contains(&format!("inet 192.168.{n}.1/24"))),
        pick(&|n| routes.contains(&format!("10.{n}.0.0/16 via 192.168.{n}.254 dev eth0"))),
        pick(&|n| rules.contains(&format!("from 10.{n}.1.0/24 lookup 100"))),
    )
}

/// Starts `ip monitor` on node 0 and returns its output file once it reports a probe change.
fn monitor(lab: &mut Lab, name: &str) -> std::path::PathBuf {
    let file = lab.path(name);
    let cmd = format!("exec ip monitor address route rule > {}", file.display());
    lab.spawn_in(0, &["sh", "-c", &cmd]);
    let probe = "192.168.99.9/32";
    let t0 = Instant::now();
    loop {
        lab.ip_in(0, &["addr", "replace", probe, "dev", "lo"]);
        if std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("192.168.99.9")
        {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "ip monitor silent");
        lab.ip_in(0, &["addr", "del", probe, "dev", "lo"]);
        std::thread::sleep(Duration::from_millis(50));
    }
    file
}

fn reload_applies_static_changes(with_instance: bool) {
    let mut lab = Lab::new(1);
    let tail = if with_instance {
        instance()
    } else {
        String::new()
    };
    let d = lab.lvsd(0, &format!("{}{tail}", statics(1)));
    let gen1 = (vec![77, 78], vec![77, 78], vec![77, 78]);
    wait_until(
        "the first static entries",
        &lab,
        Duration::from_secs(8),
        || present(&lab) == gen1,
    );
    if with_instance {
        wait_until("the VIP", &lab, Duration::from_secs(8), || {
            lab.holders(VIP) == [0]
        });
    }
    let events = monitor(&mut lab, "monitor");
    // `lvsd ctl reload --dry-run` names the changes and applies none.
    let next = format!("{}{tail}", statics(2));
    lab.write(&format!("lvsd{d}.conf"), &next);
    let sock = lab.path(&format!("lvsd{d}.sock"));
    wait_until("the control socket", &lab, Duration::from_secs(5), || {
        sock.exists()
    });
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["ctl", "-s"])
        .arg(&sock)
        .args(["reload", "--dry-run"])
        .output()
        .expect("lvsd ctl");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "static_ipaddress added 192.168.79.1/24 dev eth0, removed 192.168.78.1/24 dev eth0",
        "static_routes added 10.79.0.0/16 via 192.168.79.254 dev eth0, removed 10.78.0.0/16 via 192.168.78.254 dev eth0",
        "static_rules added from 10.79.1.0/24 table 100 pref 201, removed from 10.78.1.0/24 table 100 pref 201",
    ] {
        assert!(said.contains(line), "{line:?} missing:\n{said}");
    }
    assert_eq!(present(&lab), gen1, "a dry run changes nothing");
    lab.reload(d, &next);
    let gen2 = (vec![77, 79], vec![77, 79], vec![77, 79]);
    wait_until(
        "the reloaded static entries",
        &lab,
        Duration::from_secs(8),
        || present(&lab) == gen2,
    );
    assert!(
        lab.wait_log(
            d,
            "static_ipaddress added 192.168.79.1/24 dev eth0, removed 192.168.78.1/24 dev eth0",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        lab.log(d)
    );
    let seen = std::fs::read_to_string(&events).unwrap_or_default();
    for untouched in ["192.168.77.1", "10.77.0.0/16", "10.77.1.0/24"] {
        assert!(
            !seen.contains(untouched),
            "the unchanged {untouched} was touched:\n{seen}"
        );
    }
    for changed in [
        "192.168.78.1",
        "192.168.79.1",
        "10.78.0.0/16",
        "10.79.1.0/24",
    ] {
        assert!(seen.contains(changed), "no event for {changed}:\n{seen}");
    }
    if with_instance {
        assert_eq!(lab.holders(VIP), [0], "the instance kept its VIP");
    }
    // A reload to no static entries removes them all.
    lab.reload(d, &tail);
    wait_until("no static entries", &lab, Duration::from_secs(8), || {
        present(&lab) == (vec![], vec![], vec![])
    });
    lab.signal(d, libc::SIGTERM);
    assert!(
        lab.wait_exit(d).is_some_and(|s| s.success()),
        "{}",
        lab.log(d)
    );
}

#[test]
fn reload_adds_and_removes_static_entries_and_leaves_unchanged_ones() {
    if !can_run() {
        return;
    }
    reload_applies_static_changes(true);
}

#[test]
fn reload_applies_static_changes_without_any_vrrp_instance() {
    if !can_run() {
        return;
    }
    reload_applies_static_changes(false);
}

#[test]
fn reload_during_startup_delay_adds_statics_now_and_stop_ends_the_delay() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let delayed = |s: &str| {
        format!(
            "global_defs {{\n vrrp_startup_delay 60\n}}\n{s}{}",
            instance()
        )
    };
    let d = lab.lvsd(0, &delayed(""));
    assert!(
        lab.wait_log(d, "delaying VRRP start", 1, Duration::from_secs(8)),
        "{}",
        lab.log(d)
    );
    lab.reload(d, &delayed(&statics(1)));
    wait_until(
        "the static entries during the delay",
        &lab,
        Duration::from_secs(8),
        || present(&lab) == (vec![77, 78], vec![77, 78], vec![77, 78]),
    );
    assert!(
        lab.holders(VIP).is_empty(),
        "the instance waits for the delay"
    );
    let t0 = Instant::now();
    lab.signal(d, libc::SIGTERM);
    let st = lab.wait_exit(d);
    assert!(
        st.is_some_and(|s| s.success()),
        "stops during the delay:\n{}",
        lab.log(d)
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(present(&lab), (vec![], vec![], vec![]), "{}", lab.log(d));
}

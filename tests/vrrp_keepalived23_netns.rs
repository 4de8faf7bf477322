//! keepalived 2.3 / 2.4 keywords at work between lvsd daemons in network namespaces:
//! owner_ignore_adverts (two address owners both stay MASTER; the drop is logged once; a reload
//! turning it off lets the lower address yield), no_virtual_ipaddress (VRRPv3 without any VIP
//! elects), vrrp_script intervals under a second, and a virtual address given twice, which lvsd
//! advertises twice so that keepalived 2.2.7 with the same file accepts its adverts. Needs root;
//! skips otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, keepalived_available, Lab};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";

fn inst(priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 71\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n {VIP}/24\n }}\n {extra}\n}}\n"
    )
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
fn owner_ignore_adverts_keeps_both_owners_master_until_a_reload_turns_it_off() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    // Node 0 has the lower address: without owner_ignore_adverts it yields to node 1's 255.
    let a = lab.lvsd(0, &inst(255, "owner_ignore_adverts"));
    lab.lvsd(1, &inst(255, ""));
    wait_until("both owners MASTER", &lab, Duration::from_secs(6), || {
        lab.holders(VIP) == [0, 1]
    });
    // Three adverts of node 1 arrive in this time; each one would make node 0 BACKUP.
    lab.assert_both_stay(VIP, Duration::from_millis(3500));
    let dropped = "dropped advert from 10.9.0.2: we are the address owner";
    assert_eq!(
        lab.log(a).matches(dropped).count(),
        1,
        "logged once per peer:\n{}",
        lab.log(a)
    );
    lab.reload(a, &inst(255, ""));
    wait_until(
        "node 0 yields to the higher address",
        &lab,
        Duration::from_secs(5),
        || lab.holders(VIP) == [1],
    );
}

#[test]
fn no_virtual_ipaddress_lets_vrrp_v3_elect_without_addresses() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let bare = |priority: u8| {
        format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 72\n version 3\n priority {priority}\n advert_int 1\n no_virtual_ipaddress\n}}\n")
    };
    let a = lab.lvsd(0, &bare(150));
    let b = lab.lvsd(1, &bare(100));
    assert!(
        lab.wait_log(a, "Entering MASTER STATE", 1, Duration::from_secs(8)),
        "{}",
        lab.all_logs()
    );
    assert!(
        lab.wait_log(b, "Entering BACKUP STATE", 1, Duration::from_secs(8)),
        "{}",
        lab.all_logs()
    );
    // The backup hears the master's empty adverts: it never takes over (down interval ~3.6 s).
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !lab.log(b).contains("Entering MASTER STATE"),
        "{}",
        lab.all_logs()
    );
}

#[test]
fn vrrp_script_interval_and_timeout_take_milliseconds() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let runs = lab.path("runs");
    let conf = format!(
        "vrrp_script chk {{\n script \"/bin/sh -c 'echo x >> {}'\"\n interval 0.1\n timeout 0.5\n}}\n{}",
        runs.display(),
        inst(150, "track_script {\n chk\n }")
    );
    lab.lvsd(0, &conf);
    // Whole seconds (keepalived 2.2.7's reading) would need 20 s for 20 runs.
    wait_until("20 script runs", &lab, Duration::from_secs(8), || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
            >= 20
    });
}

#[test]
fn a_vip_given_twice_is_advertised_twice_as_keepalived_2_2_7_expects() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let twice = |priority: u8, vips: &str| {
        format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 73\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n{vips} }}\n}}\n")
    };
    let dup = format!(" {VIP}/24\n {VIP}/24\n");
    let mut lab = Lab::new(2);
    let ka = lab.keepalived(1, &twice(100, &dup));
    let l = lab.lvsd(0, &twice(150, &dup));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(8)).is_some(),
        "{}",
        lab.all_logs()
    );
    // Past keepalived's master-down interval (3.6 s): it accepts lvsd's adverts and stays BACKUP.
    lab.assert_stays(VIP, 0, Duration::from_secs(5));
    // The other way (the address once in lvsd's adverts) keepalived 2.2.7 refuses them and takes
    // the address too: why lvsd keeps the second one.
    lab.signal(l, libc::SIGKILL);
    lab.wait_exit(l);
    lab.ip_in(
        0,
        &["addr", "flush", "dev", "eth0", "to", &format!("{VIP}/32")],
    );
    lab.lvsd(0, &twice(150, &format!(" {VIP}/24\n")));
    wait_until(
        "keepalived 2.2.7 refusing the shorter adverts",
        &lab,
        Duration::from_secs(12),
        || lab.holders(VIP) == [0, 1],
    );
    assert!(
        lab.log(ka).contains("unexpected ip number count"),
        "{}",
        lab.log(ka)
    );
}

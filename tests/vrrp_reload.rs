//! SIGHUP with a changed VRRP configuration, between real lvsd daemons (and keepalived 2.2.7
//! as the peer where it is installed), in network namespaces. Needs root; skips otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, keepalived_available, tool_available, Lab};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";
const VIP2: &str = "10.9.0.101";

/// A VRRPv2 instance on eth0 (advert_int 1 s, PASS auth) carrying `vips`, with `extra` lines.
fn instance(name: &str, vrid: u8, priority: u8, vips: &[&str], extra: &str) -> String {
    let vips: String = vips.iter().map(|v| format!("  {v}/24\n")).collect();
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n priority {priority}\n advert_int 1\n authentication {{\n  auth_type PASS\n  auth_pass s3cret\n }}\n virtual_ipaddress {{\n{vips} }}\n {extra}\n}}\n"
    )
}

/// Notify lines of an instance: every transition ("$*") into `f`; notify_master, notify_backup,
/// notify_fault and notify_stop each append their word to f.master, f.backup, ...
fn notify(f: &Path) -> String {
    let f = f.display();
    let mut s = format!("notify \"/bin/sh -c 'echo $* >> {f}' x\"\n");
    for w in ["master", "backup", "fault", "stop"] {
        s += &format!(" notify_{w} \"/bin/sh -c 'echo {w} >> {f}.{w}'\"\n");
    }
    s
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", p.display()))
}

/// Waits until the file has at least `lines` lines; its text.
fn wait_lines(p: &Path, lines: usize, timeout: Duration) -> String {
    let t0 = Instant::now();
    while read(p).lines().count() < lines && t0.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(20));
    }
    read(p)
}

/// The log after the last SIGHUP.
fn since_reload(log: &str) -> &str {
    &log[log.rfind("SIGHUP received").unwrap_or(0)..]
}

/// Master_Down_Interval of VRRPv2 at advert_int 1 s (3 s + skew) plus a margin for polling.
fn down_interval(priority: u8) -> Duration {
    Duration::from_millis(3000 + (256 - priority as u64) * 1000 / 256 + 1500)
}

#[test]
fn reload_raising_the_backup_priority_moves_the_vip_and_notifies_both() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let (f0, f1) = (lab.path("notify0"), lab.path("notify1"));
    let a = lab.lvsd(0, &instance("VI_1", 51, 150, &[VIP], &notify(&f0)));
    let b = lab.lvsd(1, &instance("VI_1", 51, 100, &[VIP], &notify(&f1)));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));

    // The backup now outranks the master (preempt is the default): it discards the master's
    // lower priority adverts until its Master_Down_Timer runs out, then takes over.
    lab.reload(b, &instance("VI_1", 51, 200, &[VIP], &notify(&f1)));
    assert!(
        lab.wait_holder(VIP, 1, down_interval(100)).is_some(),
        "the reloaded backup takes over; logs:\n{}",
        lab.all_logs()
    );
    assert!(lab
        .log(b)
        .contains("(VI_1) Changing effective priority from 100 to 200 (reload)"));
    assert_eq!(
        wait_lines(&f1, 2, Duration::from_secs(2)),
        "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 200\n"
    );
    assert_eq!(read(&with_ext(&f1, "master")), "master\n");
    assert_eq!(
        wait_lines(&f0, 3, Duration::from_secs(2)),
        "INSTANCE VI_1 BACKUP 150\nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 BACKUP 150\n"
    );
    assert_eq!(read(&with_ext(&f0, "backup")), "backup\nbackup\n");
    lab.assert_stays(VIP, 1, Duration::from_secs(1));
    assert!(lab
        .log(a)
        .contains("higher priority 200 advert from 10.9.0.2"));
}

#[test]
fn reload_adding_a_vip_to_the_master_keeps_its_state_and_the_old_vip() {
    if !can_run() || !tool_available("tcpdump", "--version", "tcpdump") {
        return;
    }
    let mut lab = Lab::new(2);
    // Every ARP from the start: the master's two bursts for VIP (on becoming master and
    // garp_master_delay, 5 s, later) are seen before the reload, and nothing more of them after.
    let cap = lab.capture(1, "arp", "arp.txt");
    let garps = |ip: &str| {
        read(&cap)
            .lines()
            .filter(|l| l.contains(&format!("who-has {ip} (ff:ff:ff:ff:ff:ff) tell {ip}")))
            .count()
    };
    let (f0, f1) = (lab.path("notify0"), lab.path("notify1"));
    let a = lab.lvsd(0, &instance("VI_1", 51, 150, &[VIP], &notify(&f0)));
    let b = lab.lvsd(1, &instance("VI_1", 51, 100, &[VIP], &notify(&f1)));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    wait_lines(&f0, 2, Duration::from_secs(2));
    wait_lines(&f1, 1, Duration::from_secs(2));
    let t0 = Instant::now();
    while garps(VIP) < 10 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(garps(VIP), 10, "two bursts of 5:\n{}", read(&cap));
    let (n0, n1) = (read(&f0), read(&f1));

    // The backup learns the new address list first, then the master.
    lab.reload(b, &instance("VI_1", 51, 100, &[VIP, VIP2], &notify(&f1)));
    lab.reload(a, &instance("VI_1", 51, 150, &[VIP, VIP2], &notify(&f0)));
    let t0 = Instant::now();
    let mut added = None;
    // Until the new VIP is there and announced, and both reloads are done; the old VIP stays on
    // the master all the while.
    while added.is_none()
        || garps(VIP2) < 5
        || [a, b].iter().any(|&d| !lab.log(d).contains("reload done"))
    {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the new VIP is not on the master and announced; logs:\n{}\n{}",
            lab.all_logs(),
            read(&cap)
        );
        assert_eq!(
            lab.holders(VIP),
            [0],
            "the old VIP left during the reload; logs:\n{}",
            lab.all_logs()
        );
        if added.is_none() && lab.holders(VIP2) == [0] {
            added = Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A negative assertion: no further GARP of this burst (its messages go out back to back) and
    // none for the old VIP; the old VIP stays meanwhile.
    lab.assert_stays(VIP, 0, Duration::from_millis(500));
    assert!(
        added.is_some_and(|t| t < Duration::from_secs(2)),
        "the new VIP appears on the master within 2 s ({added:?}); logs:\n{}",
        lab.all_logs()
    );
    assert!(lab.log(a).contains("(VI_1) adding VIP 10.9.0.101/24"));
    for d in [a, b] {
        assert!(
            !since_reload(&lab.log(d)).contains("Entering"),
            "no transition:\n{}",
            lab.log(d)
        );
    }
    assert_eq!(
        (read(&f0), read(&f1)),
        (n0.clone(), n1.clone()),
        "no notify"
    );
    let arp = read(&cap);
    assert_eq!(garps(VIP2), 5, "one burst for the new VIP:\n{arp}");
    assert_eq!(garps(VIP), 10, "none for the VIP already announced:\n{arp}");

    // And removed again: the other VIP stays.
    lab.reload(a, &instance("VI_1", 51, 150, &[VIP], &notify(&f0)));
    lab.reload(b, &instance("VI_1", 51, 100, &[VIP], &notify(&f1)));
    let t0 = Instant::now();
    while !lab.holders(VIP2).is_empty() && t0.elapsed() < Duration::from_secs(2) {
        assert_eq!(lab.holders(VIP), [0], "{}", lab.all_logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(lab.holders(VIP2).is_empty(), "{}", lab.all_logs());
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    assert_eq!((read(&f0), read(&f1)), (n0, n1), "no notify");
}

#[test]
fn reload_removing_an_instance_hands_its_vip_to_the_peer_at_once() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let f0 = lab.path("notify0");
    let both = |priority: u8, extra: &str| {
        instance("VI_1", 51, priority, &[VIP], "") + &instance("VI_2", 52, priority, &[VIP2], extra)
    };
    let a = lab.lvsd(0, &both(150, &notify(&f0)));
    // The peer is keepalived 2.2.7 where it is installed.
    let peer_is_keepalived = keepalived_available();
    if peer_is_keepalived {
        lab.keepalived(1, &both(100, ""));
    } else {
        lab.lvsd(1, &both(100, ""));
    }
    for v in [VIP, VIP2] {
        assert!(
            lab.wait_holder(v, 0, Duration::from_secs(6)).is_some(),
            "{}",
            lab.all_logs()
        );
    }
    lab.assert_stays(VIP2, 0, Duration::from_secs(1));
    wait_lines(&f0, 2, Duration::from_secs(2));

    // VI_2 leaves the master's configuration: it sends priority 0 and removes its VIP, the
    // peer takes over after its skew time ((256 - 100) / 256 s), far within its 3.6 s
    // Master_Down_Interval.
    lab.reload(a, &instance("VI_1", 51, 150, &[VIP], ""));
    let t = lab.wait_holder(VIP2, 1, Duration::from_secs(3));
    let t = t.unwrap_or_else(|| panic!("no takeover; logs:\n{}", lab.all_logs()));
    assert!(
        t < Duration::from_millis(2000),
        "takeover took {t:?} (keepalived peer: {peer_is_keepalived})"
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    let log = lab.log(a);
    assert!(log.contains("(VI_2) removed by reload"), "{log}");
    assert!(!since_reload(&log).contains("(VI_1) Entering"), "{log}");
    // keepalived 2.2.7 without notify_deleted: the generic script hears FAULT, notify_fault
    // and notify_stop do not run.
    assert_eq!(
        wait_lines(&f0, 3, Duration::from_secs(2)),
        "INSTANCE VI_2 BACKUP 150\nINSTANCE VI_2 MASTER 150\nINSTANCE VI_2 FAULT 150\n"
    );
    assert_eq!(read(&with_ext(&f0, "fault")), "");
    assert_eq!(read(&with_ext(&f0, "stop")), "");
}

#[test]
fn reload_adding_instances_starts_them_even_in_an_idle_engine() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let a = lab.lvsd(0, &instance("VI_1", 51, 150, &[VIP], ""));
    // No vrrp_instance at all: the VRRP engine waits.
    let b = lab.lvsd(1, "global_defs {\n router_id idle\n}\n");
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert!(lab.wait_log(b, "VRRP engine idle", 1, Duration::from_secs(2)));

    lab.reload(
        b,
        &(instance("VI_1", 51, 100, &[VIP], "") + &instance("VI_2", 52, 200, &[VIP2], "")),
    );
    lab.reload(
        a,
        &(instance("VI_1", 51, 150, &[VIP], "") + &instance("VI_2", 52, 100, &[VIP2], "")),
    );
    // The new VI_2 is elected on node 1 (200), VI_1 stays where it was.
    assert!(
        lab.wait_holder(VIP2, 1, down_interval(200)).is_some(),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    assert_eq!(lab.holders(VIP2), [1]);
    let (la, lb) = (lab.log(a), lab.log(b));
    assert!(lb.contains("(VI_1) Entering BACKUP STATE"), "{lb}");
    assert!(lb.contains("(VI_2) Entering MASTER STATE"), "{lb}");
    assert!(!lb.contains("(VI_1) Entering MASTER STATE"), "{lb}");
    let after = since_reload(&la);
    assert!(after.contains("(VI_2) added"), "{la}");
    assert!(after.contains("(VI_2) Entering BACKUP STATE"), "{la}");
    assert!(!after.contains("(VI_1) Entering"), "{la}");
}

#[test]
fn reload_with_a_broken_file_changes_nothing() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let f0 = lab.path("notify0");
    let a = lab.lvsd(0, &instance("VI_1", 51, 150, &[VIP], &notify(&f0)));
    lab.lvsd(1, &instance("VI_1", 51, 100, &[VIP], ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    let n0 = wait_lines(&f0, 2, Duration::from_secs(2));

    // A lower priority that would hand the VIP over, and a typo: nothing of it applies.
    let broken =
        instance("VI_1", 51, 50, &[VIP], &notify(&f0)).replace("advert_int 1", "advert_int one");
    lab.reload(a, &broken);
    assert!(
        lab.wait_log(a, "reload failed", 1, Duration::from_secs(5)),
        "{}",
        lab.log(a)
    );
    let log = lab.log(a);
    assert!(
        log.contains("lvsd0.conf:5:") && log.contains("advert_int"),
        "the error names file:line and the keyword:\n{log}"
    );
    // A negative assertion: had priority 50 applied, the backup (100) would take over when its
    // Master_Down_Timer (3.6 s) ran out, within these 4.5 s.
    lab.assert_stays(VIP, 0, Duration::from_millis(4500));
    let log = lab.log(a);
    assert!(!since_reload(&log).contains("Entering"), "{log}");
    assert!(!log.contains("(VI_1) updated in place"), "{log}");
    assert_eq!(read(&f0), n0, "no notify");

    // The file fixed, the next reload applies it.
    lab.reload(a, &instance("VI_1", 51, 160, &[VIP], &notify(&f0)));
    assert!(
        lab.wait_log(
            a,
            "(VI_1) updated in place: priority 150 -> 160",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        lab.log(a)
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
}

#[test]
fn reload_changing_tracking_moves_the_vip_and_back() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let tf = lab.write("tf", "1\n");
    let defs = format!("vrrp_track_file tf {{\n file {}\n}}\n", tf.display());
    let a = lab.lvsd(
        0,
        &format!("{defs}{}", instance("VI_1", 51, 150, &[VIP], "")),
    );
    lab.lvsd(1, &instance("VI_1", 51, 100, &[VIP], ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );

    // The master starts tracking the file with weight -100: 150 + 1 x -100 = 50, below the
    // backup, which takes over when its Master_Down_Timer runs out.
    let tracked = instance(
        "VI_1",
        51,
        150,
        &[VIP],
        "track_file {\n  tf weight -100\n }",
    );
    lab.reload(a, &format!("{defs}{tracked}"));
    assert!(
        lab.wait_holder(VIP, 1, down_interval(100)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert!(
        lab.log(a).contains(
            "(VI_1) Changing effective priority from 150 to 50 (tracking changed by reload)"
        ),
        "{}",
        lab.log(a)
    );
    // Tracking removed again: back to 150, which preempts.
    lab.reload(
        a,
        &format!("{defs}{}", instance("VI_1", 51, 150, &[VIP], "")),
    );
    assert!(
        lab.wait_holder(VIP, 0, down_interval(150)).is_some(),
        "{}",
        lab.all_logs()
    );
}

#[test]
fn reload_adding_group_tracking_faults_every_member_and_removing_it_recovers() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let tf = lab.write("tf", "1\n");
    let node = |priority: u8, group_extra: &str| {
        format!(
            "vrrp_track_file tf {{\n file {}\n weight 0\n}}\nvrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n {group_extra}\n}}\n{}{}",
            tf.display(),
            instance("VI_1", 51, priority, &[VIP], ""),
            instance("VI_2", 52, priority, &[VIP2], "")
        )
    };
    let a = lab.lvsd(0, &node(150, ""));
    lab.lvsd(1, &node(100, ""));
    for v in [VIP, VIP2] {
        assert!(
            lab.wait_holder(v, 0, Duration::from_secs(6)).is_some(),
            "{}",
            lab.all_logs()
        );
    }

    // The group now tracks a file whose value (1, unweighted) is a fault: both members FAULT,
    // the peer takes both VIPs at once (priority 0 adverts).
    lab.reload(a, &node(150, "track_file {\n  tf\n }"));
    for v in [VIP, VIP2] {
        assert!(
            lab.wait_holder(v, 1, Duration::from_secs(3)).is_some(),
            "{}",
            lab.all_logs()
        );
    }
    let log = lab.log(a);
    assert!(
        log.contains("(VI_1) Entering FAULT STATE (track_file tf value 1)")
            && log.contains("(VI_2) Entering FAULT STATE (sync group G: VI_1 is in FAULT state)"),
        "{log}"
    );

    // Tracking removed: both members leave FAULT and preempt again.
    lab.reload(a, &node(150, ""));
    for v in [VIP, VIP2] {
        assert!(
            lab.wait_holder(v, 0, down_interval(150)).is_some(),
            "{}",
            lab.all_logs()
        );
    }
}

#[test]
fn reload_moving_an_instance_to_another_interface_restarts_it_there() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    // A second interface: one end of a veth pair inside the node.
    lab.ip_in(
        0,
        &[
            "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ],
    );
    lab.ip_in(0, &["addr", "add", "10.8.0.1/24", "dev", "eth1"]);
    lab.ip_in(0, &["link", "set", "eth1p", "up"]);
    lab.ip_in(0, &["link", "set", "eth1", "up"]);
    let on = |dev: &str| instance("VI_1", 51, 150, &[VIP], "").replace("eth0", dev);
    let a = lab.lvsd(0, &on("eth0"));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.log(a)
    );
    let dev_of_vip = |lab: &Lab| {
        let out = lab.run_in(0, &["ip", "-o", "addr", "show", "to", VIP]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(dev_of_vip(&lab), "eth0");

    // Another interface cannot be taken in place: the instance is removed (its VIP with it)
    // and started again on eth1, where it becomes master after its down interval.
    lab.reload(a, &on("eth1"));
    let t0 = Instant::now();
    while dev_of_vip(&lab) != "eth1" && t0.elapsed() < down_interval(150) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dev_of_vip(&lab), "eth1", "{}", lab.log(a));
    let log = lab.log(a);
    let after = since_reload(&log);
    for want in [
        "(VI_1) interface eth0 -> eth1: cannot change in place, restarting it",
        "(VI_1) removed by reload",
        "(VI_1) interface eth1 vrid 51 priority 150 from 10.8.0.1",
        "(VI_1) Entering BACKUP STATE (init)",
        "(VI_1) Entering MASTER STATE",
    ] {
        assert!(after.contains(want), "{want:?} missing:\n{log}");
    }
}

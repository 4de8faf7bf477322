//! VRRP between lvsd daemons and against keepalived 2.2.7, in network namespaces on a bridge.
//! Needs root; skips with a printed reason otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, keepalived_available, tool_available, Lab};
use std::time::Duration;

const VIP: &str = "10.9.0.100";

struct Inst<'a> {
    version: u8,
    priority: u8,
    advert: &'a str,
    extra: &'a str,
}

/// One instance VI_1 on eth0, VRID 51, with `extra` lines inside the block.
fn conf(i: &Inst) -> String {
    let auth = if i.version == 2 {
        "authentication {\n auth_type PASS\n auth_pass s3cret\n }"
    } else {
        ""
    };
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n version {}\n priority {}\n advert_int {}\n {auth}\n virtual_ipaddress {{\n {VIP}/24\n }}\n {}\n}}\n",
        i.version, i.priority, i.advert, i.extra
    )
}

fn v2(priority: u8, extra: &str) -> String {
    conf(&Inst {
        version: 2,
        priority,
        advert: "1",
        extra,
    })
}

/// Master_Down_Interval of VRRPv2 at advert_int 1 s: 3 s + skew, plus a margin for process
/// start-up and polling.
fn v2_takeover_limit(priority: u8) -> Duration {
    Duration::from_secs(3) + Duration::from_millis(((256 - priority as u64) * 1000) / 256 + 1500)
}

#[test]
fn two_lvsd_elect_one_master_and_survive_kill9_and_restart() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let a = lab.lvsd(0, &v2(150, ""));
    lab.lvsd(1, &v2(100, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "the priority 150 node must become master; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_millis(1500));

    // A crash leaves the VIP on node 0's interface: the backup must claim it after the
    // master down interval anyway, and the restarted daemon must clear its leftover.
    lab.signal(a, libc::SIGKILL);
    lab.wait_exit(a).expect("lvsd exits on SIGKILL");
    let t = lab.wait_holder_any(VIP, 1, v2_takeover_limit(100));
    assert!(
        t.is_some(),
        "backup takes over after kill -9; logs:\n{}",
        lab.all_logs()
    );

    // Master back: it preempts (default), and the VIP ends up on node 0 only.
    lab.lvsd(0, &v2(150, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "restarted higher priority node preempts; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
}

#[test]
fn sigterm_hands_over_at_once_runs_notify_and_nopreempt_holds() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let notify = |lab: &Lab, n: usize| {
        let f = lab.path(&format!("notify{n}"));
        format!(
            "notify_master \"/bin/sh -c 'echo master >> {f}.m'\"\n notify \"/bin/sh -c 'echo $* >> {f}' x\"\n notify_stop \"/bin/sh -c 'echo stop >> {f}.s'\"",
            f = f.display()
        )
    };
    let n0 = notify(&lab, 0);
    let n1 = notify(&lab, 1);
    let a = lab.lvsd(0, &v2(150, &n0));
    lab.lvsd(1, &v2(100, &n1));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );

    // SIGTERM: the master sends priority 0, the backup takes over after its skew time
    // (0.61 s), far sooner than the 3.6 s master down interval.
    lab.signal(a, libc::SIGTERM);
    let t = lab.wait_holder(VIP, 1, Duration::from_secs(3));
    let status = lab.wait_exit(a).expect("lvsd exits on SIGTERM");
    assert!(status.success(), "clean exit; log:\n{}", lab.log(a));
    let t = t.unwrap_or_else(|| panic!("no takeover; logs:\n{}", lab.all_logs()));
    assert!(t < Duration::from_millis(2000), "takeover took {t:?}");
    assert!(lab.log(a).contains("(VI_1) Entering MASTER STATE"));
    assert!(lab.log(1).contains("(VI_1) Entering MASTER STATE"));
    assert!(!lab.path("lvsd0.pid").exists(), "pid file removed at stop");

    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let f0 = lab.path("notify0");
    assert_eq!(
        read(f0.clone()),
        "INSTANCE VI_1 BACKUP 150\nINSTANCE VI_1 MASTER 150\nINSTANCE VI_1 STOP 150\n"
    );
    assert_eq!(read(f0.with_extension("m")), "master\n");
    assert_eq!(read(f0.with_extension("s")), "stop\n");
    let t0 = std::time::Instant::now();
    let f1 = lab.path("notify1");
    while read(f1.clone()).lines().count() < 2 && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        read(f1),
        "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 100\n"
    );

    // The higher priority node comes back with nopreempt: the master keeps the VIP. A negative
    // assertion: preempting, node 0 would take over when its Master_Down_Timer (3.4 s) ran out.
    lab.lvsd(0, &v2(150, "nopreempt"));
    lab.assert_stays(VIP, 1, Duration::from_secs(5));
}

#[test]
fn failing_track_script_moves_the_vip_and_back() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let flag = lab.path("down");
    let script = format!(
        "vrrp_script chk {{\n script \"/bin/sh -c '! test -e {}'\"\n interval 1\n timeout 1\n fall 1\n rise 1\n weight -100\n}}\n",
        flag.display()
    );
    let a_conf = format!("{script}{}", v2(150, "track_script {\n chk\n }"));
    lab.lvsd(0, &a_conf);
    lab.lvsd(1, &v2(100, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );

    std::fs::write(&flag, "").unwrap();
    // Next script run (<= 1 s) drops priority to 50; the backup (100) preempts on the next
    // advert, within its master down interval at most.
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(6)).is_some(),
        "failing script moves the VIP; logs:\n{}",
        lab.all_logs()
    );
    assert!(lab.log(0).contains("VRRP_Script(chk) failed"));

    std::fs::remove_file(&flag).unwrap();
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "recovered script brings it back; logs:\n{}",
        lab.all_logs()
    );
}

#[test]
fn a_timed_out_track_script_counts_as_failure() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let conf = format!(
        "vrrp_script slow {{\n script \"/bin/sleep 5\"\n interval 1\n timeout 0.3\n fall 1\n}}\n{}",
        v2(150, "track_script {\n slow\n }")
    );
    let d = lab.lvsd(0, &conf);
    let t0 = std::time::Instant::now();
    while !lab.log(d).contains("(VI_1) Entering FAULT STATE")
        && t0.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        lab.log(d)
            .contains("(VI_1) Entering FAULT STATE (track_script slow failed)"),
        "an unweighted script killed at its timeout puts the instance in FAULT:\n{}",
        lab.log(d)
    );
    assert!(lab.holders(VIP).is_empty());
}

#[test]
fn interop_v2_pass_with_keepalived_both_ways() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let mut lab = Lab::new(2);
    // keepalived has the higher priority.
    let ka = lab.keepalived(1, &v2(200, ""));
    let l = lab.lvsd(0, &v2(150, ""));
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(6)).is_some(),
        "keepalived (200) is master; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 1, Duration::from_secs(2));
    assert!(
        !lab.log(l).contains("discarded advert"),
        "lvsd accepts keepalived's adverts:\n{}",
        lab.log(l)
    );

    // keepalived stops: lvsd takes over at once (priority 0 advert).
    lab.signal(ka, libc::SIGTERM);
    let t = lab.wait_holder(VIP, 0, Duration::from_secs(3));
    assert!(
        t.is_some(),
        "lvsd takes over from keepalived; logs:\n{}",
        lab.all_logs()
    );
    lab.wait_exit(ka);

    // keepalived comes back and preempts lvsd.
    let ka2 = lab.keepalived(1, &v2(200, ""));
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(6)).is_some(),
        "keepalived preempts lvsd; logs:\n{}",
        lab.all_logs()
    );
    // lvsd crashes while backup, keepalived keeps the VIP; kill keepalived hard: lvsd
    // restarted takes over after the master down interval.
    lab.signal(l, libc::SIGKILL);
    lab.wait_exit(l);
    lab.lvsd(0, &v2(150, ""));
    // The restarted lvsd starts as backup under keepalived's 200 adverts: it claims nothing.
    lab.assert_stays(VIP, 1, Duration::from_secs(2));
    lab.signal(ka2, libc::SIGKILL);
    assert!(
        lab.wait_holder_any(VIP, 0, v2_takeover_limit(150))
            .is_some(),
        "lvsd takes over after keepalived crashed; logs:\n{}",
        lab.all_logs()
    );
}

/// The pair of a widely copied tutorial: vrrp_strict, PASS authentication, the master with
/// `state MASTER` at priority 100. keepalived 2.2.7 runs it without authentication and starts the
/// master as BACKUP (strict mode allows neither); lvsd does the same, so the two elect one master.
fn strict_tutorial(state: &str, priority: u8) -> String {
    format!(
        "global_defs {{\n vrrp_strict\n}}\nvrrp_instance VI_1 {{\n state {state}\n interface eth0\n virtual_router_id 51\n priority {priority}\n advert_int 1\n authentication {{\n auth_type PASS\n auth_pass 1111\n }}\n virtual_ipaddress {{\n {VIP}/24\n }}\n}}\n"
    )
}

#[test]
fn strict_tutorial_pair_runs_unauthenticated_and_starts_backup_like_keepalived() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let mut lab = Lab::new(2);
    // lvsd first: both start BACKUP with down intervals 3.61 s (lvsd) and 3.65 s (keepalived), so
    // a keepalived started first could time out first on a loaded machine and be MASTER briefly.
    let l = lab.lvsd(0, &strict_tutorial("MASTER", 100));
    assert!(
        lab.wait_log(l, "Entering BACKUP STATE", 1, Duration::from_secs(5)),
        "{}",
        lab.log(l)
    );
    let ka = lab.keepalived(1, &strict_tutorial("BACKUP", 90));
    assert!(
        lab.wait_holder(VIP, 0, v2_takeover_limit(100)).is_some(),
        "lvsd (100) becomes master; logs:\n{}",
        lab.all_logs()
    );
    let first_state = lab
        .log(l)
        .lines()
        .find(|line| line.contains("Entering"))
        .map(str::to_string);
    assert!(
        first_state
            .as_deref()
            .is_some_and(|s| s.contains("(VI_1) Entering BACKUP STATE")),
        "strict mode starts a non-owner as BACKUP, as keepalived: {first_state:?}\n{}",
        lab.log(l)
    );
    // keepalived hears lvsd's adverts (no authentication, as its own) and stays backup.
    lab.assert_stays(VIP, 0, Duration::from_secs(3));
    assert!(
        !lab.log(ka).contains("Entering MASTER STATE"),
        "{}",
        lab.all_logs()
    );
    // And the other way: keepalived master, lvsd as the tutorial's backup accepts its adverts.
    lab.signal(l, libc::SIGTERM);
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(3)).is_some(),
        "keepalived takes over; logs:\n{}",
        lab.all_logs()
    );
    lab.wait_exit(l);
    let l2 = lab.lvsd(0, &strict_tutorial("BACKUP", 80));
    assert!(
        lab.wait_log(l2, "Entering BACKUP STATE", 1, Duration::from_secs(5)),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 1, Duration::from_secs(3) + v2_takeover_limit(80));
    assert!(
        !lab.log(l2).contains("discarded advert"),
        "lvsd accepts keepalived's unauthenticated adverts:\n{}",
        lab.log(l2)
    );
}

fn unicast_instance(name: &str, priority: u8, peer: &str, vip: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id 51\n priority {priority}\n advert_int 1\n unicast_peer {{\n {peer}\n }}\n virtual_ipaddress {{\n {vip}/24\n }}\n}}\n"
    )
}

/// One VRID on one interface for two unicast instances with different peers (keepalived allows it
/// and tells the adverts apart by their sender): each lvsd instance hears only its own peer.
#[test]
fn two_unicast_instances_share_a_vrid_and_each_hears_its_own_peer() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let (vip_a, vip_b) = ("10.9.0.101", "10.9.0.102");
    let mut lab = Lab::new(3);
    let l = lab.lvsd(
        0,
        &(unicast_instance("VI_A", 200, "10.9.0.2", vip_a)
            + &unicast_instance("VI_B", 50, "10.9.0.3", vip_b)),
    );
    lab.keepalived(1, &unicast_instance("VI_A", 100, "10.9.0.1", vip_a));
    lab.keepalived(2, &unicast_instance("VI_B", 100, "10.9.0.1", vip_b));
    assert!(
        lab.wait_holder(vip_a, 0, v2_takeover_limit(200)).is_some()
            && lab.wait_holder(vip_b, 2, v2_takeover_limit(100)).is_some(),
        "lvsd's VI_A (200) and node 2's VI_B (100) are masters; logs:\n{}",
        lab.all_logs()
    );
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        assert_eq!(lab.holders(vip_a), [0], "{}", lab.all_logs());
        assert_eq!(lab.holders(vip_b), [2], "{}", lab.all_logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !lab.log(l).contains("discarded advert"),
        "each instance gets only its own peer's adverts:\n{}",
        lab.log(l)
    );
}

#[test]
fn interop_v3_fast_adverts_with_keepalived_both_ways() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let v3 = |priority| {
        conf(&Inst {
            version: 3,
            priority,
            advert: "0.1",
            extra: "",
        })
    };
    let mut lab = Lab::new(2);
    // lvsd has the higher priority this time.
    let l = lab.lvsd(0, &v3(150));
    let ka = lab.keepalived(1, &v3(100));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "lvsd (150) is master; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    assert!(
        !lab.log(ka).contains("bad checksum") && !lab.log(ka).contains("Invalid"),
        "keepalived accepts lvsd's v3 adverts:\n{}",
        lab.log(ka)
    );

    // lvsd crashes: keepalived takes over within 3 x 0.1 s + skew (+ margin).
    lab.signal(l, libc::SIGKILL);
    lab.wait_exit(l);
    assert!(
        lab.wait_holder_any(VIP, 1, Duration::from_millis(1500))
            .is_some(),
        "keepalived takes over after lvsd's crash; logs:\n{}",
        lab.all_logs()
    );
    // lvsd is back: it removes its leftover VIP and preempts keepalived.
    lab.lvsd(0, &v3(150));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(3)).is_some(),
        "lvsd preempts keepalived; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_millis(500));
}

#[test]
fn link_down_means_fault_and_the_vip_moves() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let a = lab.lvsd(0, &v2(150, ""));
    lab.lvsd(1, &v2(100, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );

    lab.ip_in(0, &["link", "set", "eth0", "down"]);
    assert!(
        lab.wait_holder(VIP, 1, v2_takeover_limit(100)).is_some(),
        "the backup takes over from a master whose link went down; logs:\n{}",
        lab.all_logs()
    );
    assert!(
        lab.log(a)
            .contains("(VI_1) Entering FAULT STATE (track_interface eth0 down)"),
        "{}",
        lab.log(a)
    );

    lab.ip_in(0, &["link", "set", "eth0", "up"]);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "link back up: BACKUP, then preempts; logs:\n{}",
        lab.all_logs()
    );
}

#[test]
fn notify_fifo_lines_and_sighup_keeps_running() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let fifo = lab.path("vrrp.fifo");
    let conf = format!(
        "global_defs {{\n vrrp_notify_fifo {}\n}}\n{}",
        fifo.display(),
        v2(150, "")
    );
    let d = lab.lvsd(0, &conf);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.log(d)
    );
    // lvsd keeps the FIFO open: the lines wait in the pipe for a reader.
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("lvsd created the fifo");
    let mut buf = vec![0u8; 4096];
    let mut read_fifo = |f: &mut std::fs::File| match f.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => String::new(),
        Err(e) => panic!("read fifo: {e}"),
    };
    // The FIFO's writer runs beside the engine: the MASTER line may follow the VIP by a moment.
    let want = "INSTANCE \"VI_1\" BACKUP 150\nINSTANCE \"VI_1\" MASTER 150\n";
    let mut lines = String::new();
    let t0 = std::time::Instant::now();
    while lines.len() < want.len() && t0.elapsed() < Duration::from_secs(5) {
        lines += &read_fifo(&mut f);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lines, want);

    // A reload with the VRRP part unchanged: no transition, no notify, the VIP never leaves, during
    // the reload and for 1.5 s after it (a transition it caused, a BACKUP with its advert timer
    // restarted, would show within one advert_int, 1 s).
    lab.signal(d, libc::SIGHUP);
    let t0 = std::time::Instant::now();
    let mut done = None;
    while done.is_none_or(|t: std::time::Instant| t.elapsed() < Duration::from_millis(1500)) {
        assert_eq!(lab.holders(VIP), [0], "the VIP left during a reload");
        if done.is_none() && lab.log(d).contains("reload done") {
            done = Some(std::time::Instant::now());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no 'reload done':\n{}",
            lab.log(d)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = lab.log(d);
    let after_reload = &log[log.find("SIGHUP received").unwrap_or(0)..];
    assert!(
        !after_reload.contains("Entering"),
        "a state transition after the reload:\n{log}"
    );
    assert_eq!(read_fifo(&mut f), "", "notify lines after the reload");
    lab.signal(d, libc::SIGTERM);
    assert!(lab.wait_exit(d).is_some_and(|s| s.success()));
    assert!(lab.holders(VIP).is_empty(), "a clean stop removes the VIP");
}

#[test]
fn interop_unicast_v2_with_keepalived() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let uni = |me: u8, peer: u8| {
        format!(
            "unicast_src_ip 10.9.0.{me}\n unicast_peer {{\n 10.9.0.{peer}\n }}\n check_unicast_src"
        )
    };
    let mut lab = Lab::new(3);
    let l = lab.lvsd(0, &v2(150, &uni(1, 2)));
    let ka = lab.keepalived(1, &v2(100, &uni(2, 1)));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "lvsd (150) is master over unicast; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(2));
    assert!(!lab.log(ka).contains("TTL"), "{}", lab.log(ka));
    lab.signal(l, libc::SIGTERM);
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(3)).is_some(),
        "keepalived takes over over unicast; logs:\n{}",
        lab.all_logs()
    );
    lab.wait_exit(l);
    lab.lvsd(0, &v2(150, &uni(1, 2)));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "lvsd preempts back; logs:\n{}",
        lab.all_logs()
    );
    // Node 2 is no unicast peer of lvsd: once it is master (after 3.2 s) and sends its
    // priority 200 adverts to lvsd, lvsd discards them and stays master.
    lab.lvsd(2, &v2(200, &uni(3, 1)));
    let t0 = std::time::Instant::now();
    while !lab.log(l + 2).contains("not a unicast_peer") && t0.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A negative assertion: the discard is logged once per peer, so lvsd is watched for 1.5 s
    // more, in which node 2 sends one or two more priority 200 adverts that must not move it.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        lab.log(l + 2)
            .contains("discarded advert from 10.9.0.3: not a unicast_peer"),
        "{}",
        lab.all_logs()
    );
    assert!(lab.holders(VIP).contains(&0), "{}", lab.all_logs());
    assert!(
        !lab.log(l + 2).contains("Entering BACKUP STATE (higher"),
        "{}",
        lab.all_logs()
    );
}

#[test]
fn interop_v3_ipv6_with_keepalived() {
    if !can_run() || !keepalived_available() {
        return;
    }
    const VIP6: &str = "2001:db8::100";
    let v6 = |priority: u8| {
        format!(
            "vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 61\n version 3\n priority {priority}\n advert_int 0.1\n virtual_ipaddress {{\n {VIP6}/64\n }}\n}}\n"
        )
    };
    let mut lab = Lab::new(2);
    let l = lab.lvsd(0, &v6(150));
    lab.keepalived(1, &v6(100));
    assert!(
        lab.wait_holder(VIP6, 0, Duration::from_secs(8)).is_some(),
        "lvsd (150) is IPv6 master; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP6, 0, Duration::from_secs(1));
    let out = std::process::Command::new("ip")
        .args(["-n", &lab.ns(0), "-6", "-o", "addr", "show", "dev", "eth0"])
        .output()
        .expect("ip addr");
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains(VIP6))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("nodad") && !line.contains("tentative"),
        "VIP usable at once: {line}"
    );
    lab.signal(l, libc::SIGTERM);
    assert!(
        lab.wait_holder(VIP6, 1, Duration::from_secs(2)).is_some(),
        "keepalived takes the IPv6 VIP; logs:\n{}",
        lab.all_logs()
    );
    lab.wait_exit(l);
    lab.lvsd(0, &v6(150));
    assert!(
        lab.wait_holder(VIP6, 0, Duration::from_secs(8)).is_some(),
        "lvsd preempts keepalived over IPv6; logs:\n{}",
        lab.all_logs()
    );
}

/// `version 2` with IPv6 addresses outside strict mode: keepalived 2.2.7 runs VRRPv2 over IPv6 (no
/// authentication data, the IPv6 pseudo-header in the checksum), and so does lvsd, so the two elect
/// one master.
#[test]
fn interop_v2_over_ipv6_with_keepalived() {
    if !can_run() || !keepalived_available() {
        return;
    }
    const VIP6: &str = "2001:db8::200";
    let v2v6 = |priority: u8| {
        format!(
            "vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 62\n version 2\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n {VIP6}/64\n }}\n}}\n"
        )
    };
    let mut lab = Lab::new(2);
    let l = lab.lvsd(0, &v2v6(150));
    let ka = lab.keepalived(1, &v2v6(100));
    assert!(
        // IPv6 link-local addresses take a while to become usable in a fresh namespace.
        lab.wait_holder(VIP6, 0, Duration::from_secs(5) + v2_takeover_limit(150))
            .is_some(),
        "lvsd (150) is master; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP6, 0, Duration::from_secs(3));
    // keepalived may be master first (lvsd waits for its link-local address): it steps down on
    // lvsd's advert, which it accepts.
    let klog = lab.log(ka);
    assert!(
        !klog.contains("Entering MASTER STATE")
            || klog.contains("with higher priority 150, ours 100"),
        "keepalived hears lvsd's VRRPv2 adverts over IPv6:\n{}",
        lab.all_logs()
    );
    lab.signal(l, libc::SIGTERM);
    assert!(
        lab.wait_holder(VIP6, 1, Duration::from_secs(3)).is_some(),
        "keepalived takes over on lvsd's priority 0 advert; logs:\n{}",
        lab.all_logs()
    );
    lab.wait_exit(l);
    let l2 = lab.lvsd(0, &v2v6(90));
    assert!(
        lab.wait_log(l2, "Entering BACKUP STATE", 1, Duration::from_secs(5)),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP6, 1, v2_takeover_limit(90));
    assert!(
        !lab.log(l2).contains("discarded advert"),
        "lvsd accepts keepalived's VRRPv2 adverts over IPv6:\n{}",
        lab.log(l2)
    );
}

#[test]
fn sync_group_follows_a_track_file_fault_of_one_member() {
    if !can_run() {
        return;
    }
    const VIP2: &str = "10.9.0.101";
    let mut lab = Lab::new(2);
    let flag = lab.path("tf");
    std::fs::write(&flag, "0\n").unwrap();
    let gnotify = lab.path("group.notify");
    let node = |priority: u8, tracked: bool| {
        let track = if tracked { "track_file {\n tf\n }" } else { "" };
        format!(
            "vrrp_track_file tf {{\n file {}\n weight 0\n}}\n\
             vrrp_sync_group G {{\n group {{\n VI_1\n VI_2\n }}\n notify \"/bin/sh -c 'echo $* >> {}' x\"\n}}\n\
             vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n {VIP}/24\n }}\n}}\n\
             vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 52\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n {VIP2}/24\n }}\n {track}\n}}\n",
            flag.display(),
            gnotify.display()
        )
    };
    let a_conf = node(150, true);
    let a = lab.lvsd(0, &a_conf);
    // Node 1's group notify gets its own file.
    let b_conf = node(100, false).replace("group.notify", "group1.notify");
    lab.lvsd(1, &b_conf);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert!(
        lab.wait_holder(VIP2, 0, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );

    // A non-zero value in an unweighted track_file: VI_2 FAULT, and VI_1 with it.
    std::fs::write(&flag, "1\n").unwrap();
    assert!(
        lab.wait_holder(VIP2, 1, v2_takeover_limit(100)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );
    let log = lab.log(a);
    assert!(
        log.contains("(VI_2) Entering FAULT STATE (track_file tf value 1)"),
        "{log}"
    );
    assert!(
        log.contains("(VI_1) Entering FAULT STATE (sync group G: VI_2 is in FAULT state)"),
        "{log}"
    );
    let g = std::fs::read_to_string(&gnotify).unwrap_or_default();
    assert!(
        g.lines().any(|l| l.starts_with("GROUP G FAULT")),
        "group notify: {g:?}"
    );

    std::fs::write(&flag, "0\n").unwrap();
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(8)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert!(
        lab.wait_holder(VIP2, 0, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );
}

#[test]
fn virtual_routes_follow_the_master_state() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let routes = "virtual_routes {\n 192.168.77.0/24 via 10.9.0.254 dev eth0 metric 5\n blackhole 10.77.0.0/16\n }";
    let d = lab.lvsd(0, &v2(150, routes));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.log(d)
    );
    let show = |lab: &Lab| {
        let out = std::process::Command::new("ip")
            .args(["-n", &lab.ns(0), "route", "show", "proto", "keepalived"])
            .output()
            .expect("ip route");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let t0 = std::time::Instant::now();
    while !show(&lab).contains("10.77.0.0/16") && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = show(&lab);
    assert!(
        r.contains("192.168.77.0/24 via 10.9.0.254 dev eth0"),
        "{r}\n{}",
        lab.log(d)
    );
    assert!(r.contains("metric 5"), "{r}");
    assert!(r.contains("blackhole 10.77.0.0/16"), "{r}");
    lab.signal(d, libc::SIGTERM);
    lab.wait_exit(d);
    assert_eq!(show(&lab), "", "routes removed with the VIPs");
}

#[test]
fn new_master_announces_its_vips_with_garp_and_unsolicited_na() {
    if !can_run() {
        return;
    }
    if std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: tcpdump is not installed");
        return;
    }
    let mut lab = Lab::new(2);
    let cap = lab.capture(1, "arp or (icmp6 and ip6[40] == 136)", "cap.txt");
    // GARPs spaced by vrrp_garp_interval, NAs back to back; the second bursts
    // (vrrp_garp_master_delay after becoming master) far beyond the test.
    let conf = format!(
        "global_defs {{\n vrrp_garp_interval 0.1\n vrrp_garp_master_delay 60\n}}\n{}vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 61\n priority 150\n advert_int 0.2\n virtual_ipaddress {{\n 2001:db8::100/64\n }}\n}}\n",
        v2(150, "")
    );
    let d = lab.lvsd(0, &conf);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.log(d)
    );
    let read = || std::fs::read_to_string(&cap).unwrap_or_default();
    let garp_line = "Request who-has 10.9.0.100 (ff:ff:ff:ff:ff:ff) tell 10.9.0.100";
    let na_line =
        |l: &str| l.contains("neighbor advertisement") && l.contains("tgt is 2001:db8::100");
    let t0 = std::time::Instant::now();
    while (read().matches(garp_line).count() < 5
        || read().lines().filter(|l| na_line(l)).count() < 5)
        && t0.elapsed() < Duration::from_secs(4)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A negative assertion: no sixth message of the burst, which would follow the fifth within
    // vrrp_garp_interval (0.1 s).
    std::thread::sleep(Duration::from_millis(500));
    let out = read();
    // tcpdump -n lines start with HH:MM:SS.micros
    let secs = |l: &str| -> f64 {
        let t = l.split_whitespace().next().unwrap_or_default();
        t.rsplit(':')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0.0)
            + 60.0
                * t.split(':')
                    .nth(1)
                    .and_then(|m| m.parse::<f64>().ok())
                    .unwrap_or(0.0)
    };
    let garps: Vec<f64> = out
        .lines()
        .filter(|l| l.contains(garp_line))
        .map(secs)
        .collect();
    assert_eq!(
        garps.len(),
        5,
        "one burst of garp_master_repeat (5) GARPs:\n{out}"
    );
    assert!(
        garps[4] - garps[0] >= 0.35,
        "4 gaps of vrrp_garp_interval 0.1 s between the GARPs:\n{out}"
    );
    let nas = out.lines().filter(|l| na_line(l)).count();
    assert_eq!(nas, 5, "one burst of 5 unsolicited NAs:\n{out}");
}

#[test]
fn script_security_refuses_a_world_writable_track_script() {
    if !can_run() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mut lab = Lab::new(1);
    let script = lab.write("chk.sh", "#!/bin/sh\nexit 0\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\nvrrp_script chk {{\n script {}\n interval 1\n fall 2\n}}\n{}",
        script.display(),
        v2(150, "track_script {\n chk\n }")
    );
    let d = lab.lvsd(0, &conf);
    let t0 = std::time::Instant::now();
    while !lab.log(d).contains("Entering FAULT STATE") && t0.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = lab.log(d);
    assert!(log.contains("VRRP_Script(chk) disabled"), "{log}");
    assert!(log.contains("writable by non-root users"), "{log}");
    assert!(
        log.contains("(VI_1) Entering FAULT STATE (track_script chk failed)"),
        "{log}"
    );
    assert!(lab.holders(VIP).is_empty());
}

/// VRRPv3 at advert_int 0.2 s: fast elections for tests about topology, not timers.
fn v3_fast(priority: u8, extra: &str) -> String {
    conf(&Inst {
        version: 3,
        priority,
        advert: "0.2",
        extra,
    })
}

/// Drops (or stops dropping) VRRP packets (IP protocol 112) arriving at `node`.
fn partition(lab: &Lab, node: usize, on: bool) {
    let cmds: &[&[&str]] = if on {
        &[
            &["nft", "add", "table", "inet", "lvsdpart"],
            &[
                "nft",
                "add",
                "chain",
                "inet",
                "lvsdpart",
                "in",
                "{ type filter hook input priority 0; policy accept; }",
            ],
            &[
                "nft", "add", "rule", "inet", "lvsdpart", "in", "ip", "protocol", "112", "drop",
            ],
        ]
    } else {
        &[&["nft", "delete", "table", "inet", "lvsdpart"]]
    };
    for c in cmds {
        let out = lab.run_in(node, c);
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn partition_makes_two_masters_and_healing_leaves_the_higher_priority() {
    if !can_run() || !tool_available("nft", "--version", "nft (nftables)") {
        return;
    }
    let mut lab = Lab::new(2);
    lab.lvsd(0, &v3_fast(150, ""));
    lab.lvsd(1, &v3_fast(100, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "{}",
        lab.all_logs()
    );

    // Neither director hears the other: both claim the VIP (split brain, as RFC 5798 expects).
    partition(&lab, 0, true);
    partition(&lab, 1, true);
    let t0 = std::time::Instant::now();
    while lab.holders(VIP) != [0, 1] && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(lab.holders(VIP), [0, 1], "{}", lab.all_logs());
    // Four adverts (0.2 s) of each master go unheard: neither steps down.
    lab.assert_both_stay(VIP, Duration::from_millis(800));

    // Healed: the lower priority master hears 150 and steps down; one master remains.
    partition(&lab, 0, false);
    partition(&lab, 1, false);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(2)).is_some(),
        "after healing only node 0 holds the VIP; logs:\n{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    assert!(
        lab.log(1).contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        lab.log(1)
    );
}

/// Connects from `client` to the VIP's port 7000; the name the director's listener answers.
fn who_answers(lab: &Lab, client: usize) -> String {
    let out = lab.run_in(
        client,
        &[
            "socat",
            "-T",
            "1",
            "-",
            "TCP:10.9.0.100:7000,connect-timeout=1",
        ],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// How long the client may take to reach the new holder: a bound on a loaded machine, not a speed
/// (each try is a socat with 1 s timeouts whose answer forks a shell; 2 s failed 1 run in 20 with
/// two suites in parallel).
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// Polls until the VIP answers with `name` from the client, up to `timeout`.
fn wait_answer(lab: &Lab, client: usize, name: &str, timeout: Duration) -> String {
    let t0 = std::time::Instant::now();
    loop {
        let got = who_answers(lab, client);
        if got == name || t0.elapsed() > timeout {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_directors_elect_by_priority_and_the_client_follows_failovers() {
    if !can_run() || !tool_available("socat", "-V", "socat") {
        return;
    }
    // Nodes 0..2 are directors (150, 120, 100), node 3 is the client.
    let mut lab = Lab::new(4);
    for n in 0..3 {
        let reply = format!("SYSTEM:echo d{n}");
        lab.spawn_in(
            n,
            &["socat", "TCP-LISTEN:7000,reuseaddr,fork", reply.as_str()],
        );
    }
    let a = lab.lvsd(0, &v2(150, ""));
    lab.lvsd(1, &v2(120, ""));
    let c = lab.lvsd(2, &v2(100, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_millis(500));
    assert_eq!(wait_answer(&lab, 3, "d0", ANSWER_WITHIN), "d0");

    // Crash of the master: 120 takes over (its shorter skew time wins), 100 stays backup.
    lab.signal(a, libc::SIGKILL);
    lab.wait_exit(a);
    assert!(
        lab.wait_holder_any(VIP, 1, v2_takeover_limit(120))
            .is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(
        wait_answer(&lab, 3, "d1", ANSWER_WITHIN),
        "d1",
        "the client reaches the new master after kill -9; logs:\n{}",
        lab.all_logs()
    );
    // A negative assertion: had node 2 (100) not heard node 1's adverts, its own Master_Down_Timer
    // (3.61 s, 0.08 s after node 1's) would have made it master within this 1.5 s.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!lab.holders(VIP).contains(&2), "{}", lab.all_logs());
    assert!(
        !lab.log(c).contains("Entering MASTER STATE"),
        "the 100 node never becomes master:\n{}",
        lab.log(c)
    );

    // The 150 node comes back (clears its leftover VIP) and preempts; then its link fails.
    lab.lvsd(0, &v2(150, ""));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(6)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(wait_answer(&lab, 3, "d0", ANSWER_WITHIN), "d0");
    lab.ip_in(0, &["link", "set", "eth0", "down"]);
    assert!(
        lab.wait_holder(VIP, 1, v2_takeover_limit(120)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(
        wait_answer(&lab, 3, "d1", ANSWER_WITHIN),
        "d1",
        "the client reaches the new master after the link failure; logs:\n{}",
        lab.all_logs()
    );
    assert!(
        !lab.log(c).contains("Entering MASTER STATE"),
        "{}",
        lab.log(c)
    );
}

/// `ip -o link show DEV` in a node, empty when the interface does not exist.
fn link_show(lab: &Lab, node: usize, dev: &str) -> String {
    let out = lab.run_in(node, &["ip", "-o", "link", "show", "dev", dev]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The client's neighbour entry for the VIP.
fn neigh_of_vip(lab: &Lab, client: usize) -> String {
    let out = lab.run_in(client, &["ip", "neigh", "show", VIP]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn use_vmac_moves_the_virtual_mac_with_the_master() {
    if !can_run() || !tool_available("socat", "-V", "socat") {
        return;
    }
    const VMAC: &str = "00:00:5e:00:01:33"; // VRID 51
    let mut lab = Lab::new(3);
    for n in 0..2 {
        let reply = format!("SYSTEM:echo d{n}");
        lab.spawn_in(
            n,
            &["socat", "TCP-LISTEN:7000,reuseaddr,fork", reply.as_str()],
        );
    }
    let a = lab.lvsd(0, &v3_fast(150, "use_vmac"));
    let b = lab.lvsd(1, &v3_fast(100, "use_vmac"));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "{}",
        lab.all_logs()
    );
    let l0 = link_show(&lab, 0, "vrrp.51");
    assert!(
        l0.contains(&format!("link/ether {VMAC}")) && l0.contains("vrrp.51@eth0"),
        "{l0}"
    );
    let vip_dev = lab.run_in(0, &["ip", "-o", "addr", "show", "dev", "vrrp.51"]);
    assert!(
        String::from_utf8_lossy(&vip_dev.stdout).contains(VIP),
        "the VIP is on the VMAC interface: {}",
        String::from_utf8_lossy(&vip_dev.stdout)
    );
    assert!(
        link_show(&lab, 1, "vrrp.51").contains(VMAC),
        "the backup has its VMAC interface too (without the VIP)"
    );
    assert_eq!(wait_answer(&lab, 2, "d0", ANSWER_WITHIN), "d0");
    let n = neigh_of_vip(&lab, 2);
    assert!(
        n.contains(VMAC),
        "the client resolves the VIP to the VMAC: {n}"
    );

    // The master's link fails: the backup answers behind the same MAC.
    lab.ip_in(0, &["link", "set", "eth0", "down"]);
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(
        wait_answer(&lab, 2, "d1", ANSWER_WITHIN),
        "d1",
        "{}",
        lab.all_logs()
    );
    let n = neigh_of_vip(&lab, 2);
    assert!(n.contains(VMAC), "still the VMAC after failover: {n}");

    // Link back: node 0 preempts; then its clean stop removes the VMAC interface.
    lab.ip_in(0, &["link", "set", "eth0", "up"]);
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(wait_answer(&lab, 2, "d0", ANSWER_WITHIN), "d0");
    lab.signal(a, libc::SIGTERM);
    assert!(
        lab.wait_exit(a).is_some_and(|s| s.success()),
        "{}",
        lab.log(a)
    );
    assert_eq!(link_show(&lab, 0, "vrrp.51"), "", "VMAC removed at stop");
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );
    assert_eq!(wait_answer(&lab, 2, "d1", ANSWER_WITHIN), "d1");
    lab.signal(b, libc::SIGTERM);
    assert!(
        lab.wait_exit(b).is_some_and(|s| s.success()),
        "{}",
        lab.log(b)
    );
    assert_eq!(link_show(&lab, 1, "vrrp.51"), "", "VMAC removed at stop");
}

#[test]
fn use_vmac_interop_with_keepalived_and_ipv6() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let mut lab = Lab::new(2);
    // IPv4: keepalived's VMAC adverts and lvsd's reach each other.
    let l = lab.lvsd(0, &v3_fast(150, "use_vmac"));
    let ka = lab.keepalived(1, &v3_fast(100, "use_vmac"));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP, 0, Duration::from_secs(1));
    lab.signal(l, libc::SIGTERM);
    lab.wait_exit(l);
    assert!(
        lab.wait_holder(VIP, 1, Duration::from_secs(2)).is_some(),
        "keepalived takes over; logs:\n{}",
        lab.all_logs()
    );
    lab.signal(ka, libc::SIGTERM);
    lab.wait_exit(ka);

    // IPv6: the VMAC is 00:00:5e:00:02:VRID and carries the interface's link-local address.
    const VIP6: &str = "2001:db8::100";
    let v6 = |priority: u8| {
        format!(
            "vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 61\n version 3\n priority {priority}\n advert_int 0.2\n use_vmac vmac6\n virtual_ipaddress {{\n {VIP6}/64\n }}\n}}\n"
        )
    };
    let a = lab.lvsd(0, &v6(150));
    lab.lvsd(1, &v6(100));
    assert!(
        lab.wait_holder(VIP6, 0, Duration::from_secs(8)).is_some(),
        "{}",
        lab.all_logs()
    );
    lab.assert_stays(VIP6, 0, Duration::from_secs(1));
    assert!(link_show(&lab, 0, "vmac6").contains("link/ether 00:00:5e:00:02:3d"));
    lab.signal(a, libc::SIGTERM);
    lab.wait_exit(a);
    assert!(
        lab.wait_holder(VIP6, 1, Duration::from_secs(2)).is_some(),
        "{}",
        lab.all_logs()
    );
}

#[test]
fn virtual_rules_follow_the_master_state() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let rules = "virtual_rules {\n from 10.9.0.100 table 100 preference 1000\n to 192.168.88.0/24 fwmark 0x5/0xff iif eth0 lookup 200 preference 1001\n }";
    let d = lab.lvsd(0, &v3_fast(150, rules));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(4)).is_some(),
        "{}",
        lab.log(d)
    );
    let show = |lab: &Lab| {
        let out = lab.run_in(0, &["ip", "rule", "show"]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let t0 = std::time::Instant::now();
    while !show(&lab).contains("1001:") && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = show(&lab);
    assert!(
        r.contains("1000:\tfrom 10.9.0.100 lookup 100 proto keepalived"),
        "{r}\n{}",
        lab.log(d)
    );
    assert!(
        r.contains("1001:\tfrom all to 192.168.88.0/24 fwmark 0x5/0xff iif eth0 lookup 200 proto keepalived"),
        "{r}"
    );
    lab.signal(d, libc::SIGTERM);
    lab.wait_exit(d);
    let r = show(&lab);
    assert!(
        !r.contains("1000:") && !r.contains("1001:"),
        "rules removed with the VIPs: {r}"
    );
}

//! Hostile VRRP input from a third host on the lab's bridge (tests/support/vrrp_sender.py):
//! adverts for our VRID with priority 254, which would take the VIP over if accepted, but with a
//! wrong TTL, version, checksum, length or password; then a flood of 100,000 from forged
//! sources. The master keeps its VIP, the backup stays backup, both keep running, and the log
//! names each reason once and sums the flood up instead of a line per packet. Needs root.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, tool_available, Lab};
use std::time::Duration;

const VIP: &str = "10.9.0.100";
const SENDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/vrrp_sender.py");

fn conf(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority {priority}\n \
         advert_int 1\n authentication {{\n auth_type PASS\n auth_pass s3cret\n }}\n \
         virtual_ipaddress {{\n {VIP}/24\n }}\n}}\n"
    )
}

/// A pair on nodes 0 (master) and 1, node 2 for the sender; with the state lines each has
/// logged so far.
fn pair() -> (Lab, [usize; 2]) {
    let mut lab = Lab::new(3);
    lab.lvsd(0, &conf(150));
    lab.lvsd(1, &conf(100));
    assert!(
        lab.wait_holder(VIP, 0, Duration::from_secs(8)).is_some(),
        "node 0 must become master; logs:\n{}",
        lab.all_logs()
    );
    assert!(lab.wait_log(1, "Entering BACKUP STATE", 1, Duration::from_secs(5)));
    let states = [0, 1].map(|d| lab.log(d).matches("Entering").count());
    (lab, states)
}

fn send(lab: &Lab, args: &[&str]) -> String {
    let mut cmd = vec!["python3", SENDER];
    cmd.extend_from_slice(args);
    let out = lab.run_in(2, &cmd);
    assert!(
        out.status.success(),
        "sender: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn bad_adverts_of_every_kind_change_nothing_and_are_logged_once_each() {
    if !can_run() || !tool_available("python3", "--version", "python3") {
        return;
    }
    let (mut lab, states) = pair();
    assert_eq!(send(&lab, &["bad", "10.9.0.3", "s3cret"]), "sent 30");
    // Every reason reached both daemons: the checksum one comes fourth of six in each round.
    let reasons = [
        "invalid TTL/HL 64, expected 255..=255",
        "wrong version 3, expected 2",
        "unsupported VRRP version 1",
        "bad checksum",
        "does not match 2 addresses",
        "authentication failed: wrong password",
    ];
    for d in [0, 1] {
        for r in reasons {
            assert!(
                lab.wait_log(d, r, 1, Duration::from_secs(5)),
                "lvsd {d} must log '{r}'; log:\n{}",
                lab.log(d)
            );
        }
    }
    lab.assert_stays(VIP, 0, Duration::from_millis(3500));
    for d in [0, 1] {
        let log = lab.log(d);
        for r in reasons {
            assert_eq!(log.matches(r).count(), 1, "'{r}' once per peer:\n{log}");
        }
        assert!(lab.running(d), "lvsd {d} must keep running:\n{log}");
        let now = log.matches("Entering").count();
        assert_eq!(now, states[d], "no state change:\n{log}");
    }
}

#[test]
fn a_flood_of_forged_adverts_changes_nothing_and_is_summed_up() {
    if !can_run() || !tool_available("python3", "--version", "python3") {
        return;
    }
    let (mut lab, states) = pair();
    // At most 1.5 s of flooding, well inside the backup's 3.6 s master-down interval: what is
    // tested is that the flood is handled, not how long the master's adverts can be drowned.
    let sent = send(&lab, &["flood", "100000", "1.5", "s3cret"]);
    eprintln!("flood: {sent}");
    for d in [0, 1] {
        assert!(
            lab.wait_log(d, "more adverts discarded", 1, Duration::from_secs(10)),
            "lvsd {d} must sum the flood up; log:\n{}",
            lab.log(d)
        );
    }
    lab.assert_stays(VIP, 0, Duration::from_millis(3500));
    for d in [0, 1] {
        let log = lab.log(d);
        let lines = log.matches("discarded advert").count();
        assert!(
            lines <= 256 + 2,
            "lvsd {d}: a line per reason and peer for the first 256 only, {lines} lines:\n{}",
            &log[log.len().saturating_sub(2000)..]
        );
        assert!(lab.running(d), "lvsd {d} must keep running");
        let now = log.matches("Entering").count();
        assert_eq!(now, states[d], "no state change");
    }
    // The totals at stop count what was discarded or dropped unread.
    lab.signal(0, libc::SIGTERM);
    lab.wait_exit(0);
    assert!(
        lab.log(0).contains("packets discarded: AuthFailure"),
        "{}",
        lab.log(0)
    );
}

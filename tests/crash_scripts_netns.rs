//! After kill -9 of lvsd its check scripts do not run on: a vrrp_script and a MISC_CHECK in the
//! middle of a long run die with it (a restarted lvsd would otherwise run a second copy beside them).
//! A notify script is not a check and may outlive lvsd. Without PR_SET_PDEATHSIG the script below
//! loops forever after the kill. Needs root; skips otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, Lab};
use std::time::{Duration, Instant};

/// Processes whose command line contains `marker`.
fn running(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(marker) {
            out.push(pid);
        }
    }
    out
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn check_scripts_die_with_a_killed_lvsd() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let marker = lab.path("slow-check");
    // A script that runs for a long time; the shell keeps its path in its command line, which is
    // the marker to find it by (sleep's are short: the loop is what must end).
    std::fs::write(&marker, "#!/bin/sh\nwhile :; do sleep 1; done\n").unwrap();
    std::fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let m = marker.display().to_string();
    let conf = format!(
        "vrrp_script slow {{\n script \"{m}\"\n interval 1\n timeout 600\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority 100\n advert_int 1\n \
         virtual_ipaddress {{\n  10.9.0.100/24\n }}\n track_script {{\n  slow\n }}\n}}\n"
    );
    let d = lab.lvsd(0, &conf);
    wait_until("the check script to run", Duration::from_secs(10), || {
        !running(&m).is_empty()
    });
    lab.signal(d, libc::SIGKILL);
    lab.wait_exit(d).expect("lvsd is gone");
    wait_until(
        "the check script to die with lvsd",
        Duration::from_secs(5),
        || running(&m).is_empty(),
    );
}

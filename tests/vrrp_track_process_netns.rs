//! vrrp_track_process in network namespaces: two directors on a bridge, the one on node 0
//! tracking a process (a link to `sleep` or `python3` under a name of its own, so parallel tests
//! never count each other's). Stopping and starting it moves the virtual address; quorum,
//! quorum_max, terminate_delay, fork_delay, reload, the /proc fallback and a keepalived 2.2.7
//! peer are observed on the addresses and in the logs. Needs root; skips otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, keepalived_available, Lab};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";
const VIP2: &str = "10.9.0.101";
/// Generous bounds for a takeover (VRRPv3 at 0.5 s adverts: about 1.5 s) on a busy machine.
const TAKEOVER: Duration = Duration::from_secs(15);

/// A process name no other test (or test run) uses: at most 15 bytes, as the kernel keeps.
fn unique(tag: &str) -> String {
    let name = format!("tp{:x}{tag}", std::process::id() & 0xfffff);
    assert!(name.len() <= 15, "{name}");
    name
}

/// Processes the test starts and stops; those left are killed when it ends.
struct Procs {
    dir: PathBuf,
    running: Vec<(String, Child)>,
}

impl Procs {
    fn new(lab: &Lab) -> Procs {
        Procs {
            dir: lab.dir.path().to_path_buf(),
            running: Vec::new(),
        }
    }

    /// A link named `name` to `program`: a process started through it is called `name`.
    fn link(&self, name: &str, program: &str) -> PathBuf {
        let p = self.dir.join(name);
        if !p.exists() {
            std::os::unix::fs::symlink(program, &p).expect("symlink");
        }
        p
    }

    /// Starts `name` (a link to sleep) with these arguments; `key` names it for `stop`.
    fn sleep(&mut self, key: &str, name: &str, args: &[&str]) {
        let path = self.link(name, "/bin/sleep");
        self.spawn(key, &path, args);
    }

    fn spawn(&mut self, key: &str, path: &Path, args: &[&str]) {
        let child = Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tracked process");
        self.running.push((key.to_string(), child));
    }

    fn stop(&mut self, key: &str) {
        let i = self
            .running
            .iter()
            .position(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("{key} is not running"));
        let (_, mut c) = self.running.remove(i);
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.running {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A VRRPv3 instance at 0.5 s adverts with `extra` lines; `blocks` go before it.
/// An instance; `blocks` (the vrrp_track_process blocks, first in a node's file) come with a
/// process event buffer of 32 MiB: the proc connector of the initial namespace carries every
/// process of the machine, and a loaded machine (builds, other suites) overflowed the default 1 MiB
/// within a fork's window; the /proc rescan that follows judges a count change as keepalived does
/// (the quorum lost at once, without fork_delay), which these tests do not test.
fn conf(blocks: &str, name: &str, vrid: u8, vip: &str, priority: u8, extra: &str) -> String {
    let blocks = if blocks.is_empty() {
        String::new()
    } else {
        format!(
            "global_defs {{\n    process_monitor_rcv_bufs 33554432\n    process_monitor_rcv_bufs_force\n}}\n{blocks}"
        )
    };
    format!(
        "{blocks}vrrp_instance {name} {{
    interface eth0
    version 3
    virtual_router_id {vrid}
    priority {priority}
    advert_int 0.5
    virtual_ipaddress {{
        {vip}/24
    }}
{extra}
}}
"
    )
}

fn tracking(names: &[&str]) -> String {
    let lines: String = names.iter().map(|n| format!("        {n}\n")).collect();
    format!("    track_process {{\n{lines}    }}")
}

fn backup(lab: &mut Lab) -> usize {
    lab.lvsd(1, &conf("", "VI_1", 51, VIP, 100, ""))
}

fn expect_holder(lab: &Lab, vip: &str, node: usize, why: &str) {
    assert!(
        lab.wait_holder(vip, node, TAKEOVER).is_some(),
        "{why}: {vip} on node {node}; logs:\n{}",
        lab.all_logs()
    );
}

fn expect_log(lab: &Lab, d: usize, needle: &str, count: usize) {
    assert!(
        lab.wait_log(d, needle, count, TAKEOVER),
        "{needle:?} {count} time(s) in the log of daemon {d}:\n{}",
        lab.log(d)
    );
}

#[test]
fn a_tracked_process_stopped_and_started_moves_the_vip() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("a");
    procs.sleep("web", &name, &["1000"]);
    // Node 0 at 150 drops to 90 without its process, below node 1's 100.
    let block = format!("vrrp_track_process web {{\n    process {name}\n    weight -60\n}}\n");
    let a = lab.lvsd(0, &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["web"])));
    backup(&mut lab);
    expect_holder(&lab, VIP, 0, "the process runs");
    assert!(
        lab.log(a)
            .contains("track_process: following the kernel's process events"),
        "{}",
        lab.log(a)
    );
    procs.stop("web");
    expect_holder(&lab, VIP, 1, "the process stopped");
    expect_log(
        &lab,
        a,
        "Quorum lost for tracked process web (0 running)",
        1,
    );
    procs.sleep("web", &name, &["1000"]);
    expect_holder(&lab, VIP, 0, "the process started again");
    expect_log(
        &lab,
        a,
        "Quorum gained for tracked process web (1 running)",
        1,
    );
}

#[test]
fn quorum_and_quorum_max_bound_the_matching_processes() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("q");
    let path = procs.link(&name, "/bin/sleep");
    // Command lines "PATH 10..." count (the last parameter may go on); "PATH 99" does not.
    let block = format!(
        "vrrp_track_process pool {{
    process {} 10
    param_match initial
    quorum 2
    quorum_max 3
}}
",
        path.display()
    );
    procs.sleep("w1", &name, &["1000"]);
    procs.sleep("other", &name, &["99"]);
    let a = lab.lvsd(0, &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["pool"])));
    backup(&mut lab);
    expect_log(
        &lab,
        a,
        "(VI_1) Entering FAULT STATE (track_process pool quorum lost)",
        1,
    );
    expect_holder(&lab, VIP, 1, "one of two processes");
    procs.sleep("w2", &name, &["1001"]);
    expect_log(
        &lab,
        a,
        "Quorum gained for tracked process pool (2 running)",
        1,
    );
    expect_holder(&lab, VIP, 0, "two of two");
    procs.sleep("w3", &name, &["1002"]);
    procs.sleep("w4", &name, &["1003"]);
    expect_log(
        &lab,
        a,
        "Quorum lost for tracked process pool (4 running)",
        1,
    );
    expect_holder(&lab, VIP, 1, "four, one more than quorum_max");
    procs.stop("w4");
    expect_log(
        &lab,
        a,
        "Quorum gained for tracked process pool (3 running)",
        1,
    );
    expect_holder(&lab, VIP, 0, "three again");
    let log = lab.log(a);
    assert_eq!(
        log.matches("Quorum gained").count() + log.matches("Quorum lost").count(),
        3,
        "the third process changed nothing:\n{log}"
    );
}

#[test]
fn terminate_delay_holds_the_vip_and_a_quick_restart_keeps_it() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("t");
    let block =
        format!("vrrp_track_process web {{\n    process {name}\n    terminate_delay 4\n}}\n");
    procs.sleep("web", &name, &["1000"]);
    let a = lab.lvsd(0, &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["web"])));
    backup(&mut lab);
    expect_holder(&lab, VIP, 0, "the process runs");

    // Stopped: the address stays for the 4 s delay, then moves.
    let t0 = Instant::now();
    procs.stop("web");
    lab.assert_stays(VIP, 0, Duration::from_secs(3));
    expect_holder(&lab, VIP, 1, "after terminate_delay");
    assert!(t0.elapsed() >= Duration::from_secs(4), "{:?}", t0.elapsed());
    expect_log(
        &lab,
        a,
        "(VI_1) Entering FAULT STATE (track_process web quorum lost)",
        1,
    );

    // Back, then a restart quicker than the delay: no loss, no move.
    procs.sleep("web", &name, &["1000"]);
    expect_holder(&lab, VIP, 0, "the process started again");
    procs.stop("web");
    procs.sleep("web", &name, &["1000"]);
    lab.assert_stays(VIP, 0, Duration::from_secs(6));
    assert_eq!(
        lab.log(a).matches("Quorum lost").count(),
        1,
        "{}",
        lab.log(a)
    );
}

#[test]
fn fork_delay_rides_out_a_child_that_a_plain_block_counts() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("f");
    let python = procs.link(&name, "/usr/bin/python3");
    let go = lab.path("fork-now");
    // One process expected; when `go` appears it forks a copy of itself that lives 6 s.
    let script = format!(
        "import os, time\nwhile not os.path.exists({go:?}):\n    time.sleep(0.05)\nif os.fork() == 0:\n    time.sleep(6)\n    os._exit(0)\nos.wait()\ntime.sleep(1000)\n"
    );
    let blocks = format!(
        "vrrp_track_process patient {{
    process {name}
    quorum_max 1
    fork_delay 9
}}
vrrp_track_process plain {{
    process {name}
    quorum_max 1
}}
"
    );
    procs.spawn("py", &python, &["-c", &script]);
    let node0 = conf(&blocks, "VI_1", 51, VIP, 150, &tracking(&["patient"]))
        + &conf("", "VI_2", 52, VIP2, 150, &tracking(&["plain"]));
    let node1 = conf("", "VI_1", 51, VIP, 100, "") + &conf("", "VI_2", 52, VIP2, 100, "");
    let a = lab.lvsd(0, &node0);
    lab.lvsd(1, &node1);
    expect_holder(&lab, VIP, 0, "one process");
    expect_holder(&lab, VIP2, 0, "one process");
    std::fs::write(&go, "").expect("trigger the fork");
    // Two processes for 6 s: the plain block loses its quorum at once, the patient one waits
    // 9 s, by when the child is gone.
    expect_log(
        &lab,
        a,
        "Quorum lost for tracked process plain (2 running)",
        1,
    );
    expect_holder(&lab, VIP2, 1, "the plain block sees two");
    assert_eq!(lab.holders(VIP), [0], "{}", lab.all_logs());
    expect_log(
        &lab,
        a,
        "Quorum gained for tracked process plain (1 running)",
        1,
    );
    expect_holder(&lab, VIP2, 0, "the child ended");
    lab.assert_stays(VIP, 0, Duration::from_secs(4));
    assert!(
        !lab.log(a).contains("tracked process patient"),
        "{}",
        lab.log(a)
    );
}

#[test]
fn keepalived_takes_over_while_the_process_is_stopped() {
    if !can_run() || !keepalived_available() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("k");
    // Weight 0: FAULT without the process.
    let block = format!("vrrp_track_process web {{\n    process {name}\n}}\n");
    procs.sleep("web", &name, &["1000"]);
    let a = lab.lvsd(0, &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["web"])));
    let ka = lab.keepalived(1, &conf("", "VI_1", 51, VIP, 100, ""));
    expect_holder(&lab, VIP, 0, "lvsd with its process");
    procs.stop("web");
    expect_holder(&lab, VIP, 1, "keepalived while the process is stopped");
    expect_log(
        &lab,
        a,
        "(VI_1) Entering FAULT STATE (track_process web quorum lost)",
        1,
    );
    expect_log(&lab, ka, "(VI_1) Entering MASTER STATE", 1);
    procs.sleep("web", &name, &["1000"]);
    expect_holder(
        &lab,
        VIP,
        0,
        "lvsd preempts keepalived once the process is back",
    );
    expect_log(&lab, ka, "(VI_1) Entering BACKUP STATE", 2);
}

#[test]
fn a_reload_changes_the_quorum_and_can_stop_the_tracking() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("r");
    let block = |quorum: u32| {
        format!("vrrp_track_process web {{\n    process {name}\n    quorum {quorum}\n}}\n")
    };
    let with = |quorum: u32| conf(&block(quorum), "VI_1", 51, VIP, 150, &tracking(&["web"]));
    procs.sleep("web", &name, &["1000"]);
    let a = lab.lvsd(0, &with(1));
    backup(&mut lab);
    expect_holder(&lab, VIP, 0, "quorum 1 of 1");
    lab.reload(a, &with(2));
    expect_log(
        &lab,
        a,
        "(VI_1) Entering FAULT STATE (track_process web quorum lost)",
        1,
    );
    expect_holder(&lab, VIP, 1, "a reload asks for 2");
    lab.reload(a, &with(1));
    expect_holder(&lab, VIP, 0, "back to 1");
    // No more tracking: the process may stop.
    lab.reload(a, &conf("", "VI_1", 51, VIP, 150, ""));
    expect_log(&lab, a, "track_process: no process tracked any more", 1);
    procs.stop("web");
    lab.assert_stays(VIP, 0, Duration::from_secs(3));
}

#[test]
fn without_process_events_proc_is_read_every_second() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("p");
    let path = procs.link(&name, "/bin/sleep");
    // The whole command line, exactly: "PATH 1000" counts, "PATH 2000" does not.
    let block = format!(
        "vrrp_track_process web {{\n    process {} 1000\n}}\n",
        path.display()
    );
    procs.sleep("other", &name, &["2000"]);
    let a = lab.lvsd_with(
        0,
        &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["web"])),
        &["-l", "-P", "-G"],
        &[("LVSD_PROC_EVENTS", OsStr::new("0"))],
    );
    backup(&mut lab);
    expect_holder(&lab, VIP, 1, "only another command line runs");
    assert!(
        lab.log(a)
            .contains("track_process: LVSD_PROC_EVENTS=0, reading /proc every 1s"),
        "{}",
        lab.log(a)
    );
    procs.sleep("web", &name, &["1000"]);
    expect_log(
        &lab,
        a,
        "Quorum gained for tracked process web (1 running)",
        1,
    );
    expect_holder(&lab, VIP, 0, "the process was found by a scan");
    procs.stop("web");
    expect_log(
        &lab,
        a,
        "Quorum lost for tracked process web (0 running)",
        1,
    );
    expect_holder(&lab, VIP, 1, "the process is gone");
}

#[test]
fn lost_events_are_made_up_by_reading_proc_again() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("l");
    let block = format!("vrrp_track_process web {{\n    process {name}\n}}\n");
    procs.sleep("web", &name, &["1000"]);
    let a = lab.lvsd(0, &conf(&block, "VI_1", 51, VIP, 150, &tracking(&["web"])));
    backup(&mut lab);
    expect_holder(&lab, VIP, 0, "the process runs");
    let rescan = "track_process: reading /proc again after lost events";
    let before = lab.log(a).matches(rescan).count();
    // While lvsd is stopped, 100,000 renames (an event each, some 70 MB of buffer; lvsd's is at
    // most 16 MiB this soon) fill its socket; then the tracked process ends, and its exit
    // cannot be queued.
    lab.signal(a, libc::SIGSTOP);
    std::thread::spawn(|| {
        for i in 0..100_000u32 {
            let n = std::ffi::CString::new(format!("lvtp-flood{}", i % 10)).expect("name");
            // SAFETY: PR_SET_NAME with a NUL-terminated name renames this thread only.
            unsafe { libc::prctl(libc::PR_SET_NAME, n.as_ptr()) };
        }
    })
    .join()
    .expect("flood thread");
    procs.stop("web");
    lab.signal(a, libc::SIGCONT);
    expect_log(&lab, a, rescan, before + 1);
    expect_log(
        &lab,
        a,
        "Quorum lost for tracked process web (0 running)",
        1,
    );
    expect_holder(
        &lab,
        VIP,
        1,
        "the scan after the loss found the process gone",
    );
}

#[test]
fn a_sync_group_tracking_a_process_moves_all_its_addresses() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let mut procs = Procs::new(&lab);
    let name = unique("g");
    let blocks = format!(
        "vrrp_track_process web {{\n    process {name}\n}}\nvrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n{}\n}}\n",
        tracking(&["web"])
    );
    procs.sleep("web", &name, &["1000"]);
    let node0 = conf(&blocks, "VI_1", 51, VIP, 150, "") + &conf("", "VI_2", 52, VIP2, 150, "");
    let node1 = conf("", "VI_1", 51, VIP, 100, "") + &conf("", "VI_2", 52, VIP2, 100, "");
    let a = lab.lvsd(0, &node0);
    lab.lvsd(1, &node1);
    expect_holder(&lab, VIP, 0, "the group's process runs");
    expect_holder(&lab, VIP2, 0, "the group's process runs");
    procs.stop("web");
    expect_holder(&lab, VIP, 1, "the group's process stopped");
    expect_holder(&lab, VIP2, 1, "the group's process stopped");
    expect_log(&lab, a, "VRRP_Group(G) Syncing instances to FAULT state", 1);
    procs.sleep("web", &name, &["1000"]);
    expect_holder(&lab, VIP, 0, "back");
    expect_holder(&lab, VIP2, 0, "back");
}

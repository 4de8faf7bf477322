//! Operations end to end, in a network namespace: lvsd becomes VRRP master and mails the change to
//! a real SMTP server, writes keepalived's dump files on SIGUSR1 / SIGUSR2 / the JSON signal, and
//! serves /metrics (checked with promtool when installed) and /status. Needs root.

#[allow(dead_code)] // helpers shared with the VRRP tests
mod common;

use common::netns::{can_run, Lab};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The python SMTP sink, killed on drop.
struct Sink(Child);
impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn in_ns(lab: &Lab, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns(0)])
        .args(args)
        .output()
        .expect("run in namespace")
}

#[test]
fn mail_dumps_and_metrics() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let mail = lab.path("mail");
    std::fs::create_dir(&mail).expect("mail dir");
    let sink = Sink(
        Command::new("ip")
            .args(["netns", "exec", &lab.ns(0), "python3"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/smtp_sink.py"
            ))
            .args(["127.0.0.1", "2525"])
            .arg(&mail)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SMTP sink"),
    );
    let mut sink = sink;
    // The sink says "ready" once it listens (port 2525 of the lab's own namespace: nothing else
    // runs there), so lvsd's first mail finds it.
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sink.0.stdout.as_mut().expect("piped")),
        &mut ready,
    )
    .expect("read the sink");
    assert_eq!(ready, "ready\n", "the SMTP sink did not start");
    let dir = lab.dir.path().display().to_string();
    let conf = format!(
        "global_defs {{
  router_id lb1
  notification_email {{ ops@example.com }}
  notification_email_from lvsd@example.com
  smtp_server 127.0.0.1 2525
  smtp_connect_timeout 5
  smtp_alert
  state_dump_file {dir}/k.data
  stats_dump_file {dir}/k.stats
  json_dump_file {dir}/k.json
  metrics_listen 127.0.0.1:0
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {{ 10.9.0.100/24 }}
}}
"
    );
    let d = lab.lvsd(0, &conf);
    let master = "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state";
    let mails = || -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(&mail)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v.iter()
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    };
    wait_for("the MASTER mail", Duration::from_secs(10), || {
        mails().iter().any(|m| m.contains(master))
    });
    let all = mails();
    assert_eq!(
        all.iter().filter(|m| m.contains(master)).count(),
        1,
        "{all:?}"
    );
    let m = all.iter().find(|m| m.contains(master)).expect("mail");
    for line in [
        "MAIL FROM:<lvsd@example.com>",
        "RCPT TO:<ops@example.com>",
        "From: lvsd@example.com",
        "To: ops@example.com",
        "=> VRRP Instance is now owning VRRP VIPs <=",
    ] {
        assert!(m.lines().any(|l| l == line), "mail lacks {line:?}:\n{m}");
    }
    drop(sink);

    // Dumps: SIGUSR1 data, SIGUSR2 stats, SIGRTMIN+2 JSON (keepalived --signum JSON). lvsd logs
    // "wrote PATH" once a file is complete.
    lab.signal(d, libc::SIGUSR1);
    lab.signal(d, libc::SIGUSR2);
    lab.signal(d, libc::SIGRTMIN() + 2);
    let read = |n: &str| std::fs::read_to_string(lab.path(n)).unwrap_or_default();
    for n in ["k.data", "k.stats", "k.json"] {
        let wrote = format!("wrote {dir}/{n}");
        assert!(
            lab.wait_log(d, &wrote, 1, Duration::from_secs(5)),
            "no '{wrote}':\n{}",
            lab.log(d)
        );
    }
    assert!(
        read("k.data").contains("   State = MASTER"),
        "{}",
        read("k.data")
    );
    assert!(read("k.stats").starts_with("VRRP Instance: VI_1\n  Advertisements:\n"));
    let json: serde_json::Value = serde_json::from_str(&read("k.json")).expect("JSON dump parses");
    assert_eq!(json[0]["data"]["iname"], "VI_1");
    assert_eq!(json[0]["data"]["state"], 2);
    assert_eq!(json[0]["stats"]["become_master"], 1);
    assert!(json[0]["stats"]["advert_sent"].as_u64().unwrap_or(0) >= 1);

    // /metrics and /status from inside the namespace, on the port lvsd reports.
    let served = "metrics and status on http://127.0.0.1:";
    assert!(
        lab.wait_log(d, served, 1, Duration::from_secs(5)),
        "{}",
        lab.log(d)
    );
    let log = lab.log(d);
    let port: u16 = log[log.find(served).expect("logged") + served.len()..]
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in the metrics line:\n{log}"));
    assert_ne!(port, 0, "the port bound, not the one asked for");
    let get = |path: &str| {
        let out = in_ns(
            &lab,
            &[
                "python3",
                "-c",
                &format!(
                    "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}{path}').read().decode())"
                ),
            ],
        );
        assert!(
            out.status.success(),
            "GET {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let metrics = get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "lvsd_vrrp_state{instance=\"VI_1\"} 2"),
        "{metrics}"
    );
    let status: serde_json::Value = serde_json::from_str(&get("/status")).expect("status JSON");
    assert_eq!(status["vrrp_instances"][0]["state"], "MASTER");
    if Command::new("promtool").arg("--version").output().is_ok() {
        let p = lab.write("metrics.txt", &metrics);
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("promtool check metrics < {}", p.display()))
            .output()
            .expect("promtool");
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("promtool not installed: metrics format not checked by it");
    }
    assert!(
        lab.log(d).contains("SMTP alert successfully sent"),
        "{}",
        lab.log(d)
    );
}

/// VRRPv2 Master_Down_Interval at advert_int 1 s and priority 100: 3 s + (256 - 100) / 256 s,
/// plus a margin for noticing (polling `ip addr`) on a busy machine.
fn takeover_bound() -> Duration {
    Duration::from_secs(3)
        + Duration::from_millis((256 - 100) * 1000 / 256)
        + Duration::from_secs(1)
}

/// A master (priority 150) and a backup (100) elect, the master is killed with SIGKILL: the time
/// until the backup holds the VIP, with `mail` lines in global_defs.
fn failover_time(mail: &str, check: impl FnOnce(&Lab)) -> Duration {
    let mut lab = Lab::new(3);
    // Node 2 stands for a mail server whose packets are dropped: connections to it hang.
    let nft = lab.run_in(
        2,
        &[
            "nft",
            "add table inet bh; add chain inet bh in { type filter hook input priority 0; }; add rule inet bh in tcp dport 25 drop",
        ],
    );
    assert!(
        nft.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&nft.stderr)
    );
    let conf = |prio: u8| {
        format!(
            "global_defs {{\n router_id lb{prio}\n{mail}\n}}\nvrrp_instance VI_1 {{\n state BACKUP\n interface eth0\n virtual_router_id 64\n priority {prio}\n advert_int 1\n virtual_ipaddress {{ 10.9.0.100/24 }}\n}}\n"
        )
    };
    let a = lab.lvsd(0, &conf(150));
    let b = lab.lvsd(1, &conf(100));
    assert!(
        lab.wait_holder("10.9.0.100", 0, Duration::from_secs(10))
            .is_some(),
        "the priority 150 node becomes master:\n{}",
        lab.all_logs()
    );
    wait_for("the backup", Duration::from_secs(10), || {
        lab.log(b).contains("(VI_1) Entering BACKUP STATE")
    });
    lab.signal(a, libc::SIGKILL);
    let t0 = Instant::now();
    lab.wait_exit(a).expect("lvsd exits on SIGKILL");
    let took = lab
        .wait_holder_any("10.9.0.100", 1, Duration::from_secs(40))
        .map(|_| t0.elapsed())
        .unwrap_or_else(|| panic!("the backup never took over:\n{}", lab.all_logs()));
    check(&lab);
    took
}

/// An unreachable smtp_server (packets dropped, so every mail hangs until smtp_connect_timeout)
/// delays no VRRP takeover: mails are sent beside the state machine, not in it.
#[test]
fn unreachable_mail_server_does_not_delay_failover() {
    if !can_run() {
        return;
    }
    let plain = failover_time("", |_| {});
    let mail = "notification_email { ops@example.com }\n notification_email_from lvsd@example.com\n smtp_server 10.9.0.3 25\n smtp_connect_timeout 30\n smtp_alert";
    let blackholed = failover_time(mail, |lab| {
        // The mails are really hanging: the backup's BACKUP and MASTER alerts wait in SYN-SENT.
        let ss = lab.run_in(1, &["ss", "-tn", "state", "syn-sent", "dst", "10.9.0.3"]);
        let out = String::from_utf8_lossy(&ss.stdout);
        assert!(
            out.contains("10.9.0.3:25"),
            "mail connections to the blackholed server: {out}\n{}",
            lab.all_logs()
        );
        assert!(!lab.log(1).contains("SMTP alert successfully sent"));
    });
    eprintln!("takeover after kill -9: {plain:?} without mail, {blackholed:?} with the mail server blackholed");
    for (what, t) in [
        ("without mail", plain),
        ("mail server blackholed", blackholed),
    ] {
        assert!(
            t <= takeover_bound(),
            "{what}: takeover took {t:?}, the VRRP bound is {:?}",
            takeover_bound()
        );
    }
}

/// `lvsd --signum NAME`, as an operator gets the number for kill -s.
fn signum(name: &str) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["--signum", name])
        .output()
        .expect("lvsd --signum");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("lvsd --signum {name}: {out:?}"))
}

#[test]
fn stats_clear_writes_then_zeroes_the_counters_and_no_signum_signal_kills() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let dir = lab.dir.path().display().to_string();
    let conf = format!(
        "global_defs {{
  stats_dump_file {dir}/k.stats
  json_dump_file {dir}/k.json
  state_dump_file {dir}/k.data
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {{ 10.9.0.100/24 }}
}}
"
    );
    let d = lab.lvsd(0, &conf);
    assert!(
        lab.wait_holder("10.9.0.100", 0, Duration::from_secs(8))
            .is_some(),
        "{}",
        lab.log(d)
    );
    let stats = lab.path("k.stats");
    // Each dump is complete once lvsd logs "wrote PATH" once more.
    let wrote =
        |lab: &Lab, name: &str| lab.log(d).matches(&format!("wrote {dir}/{name}\n")).count();
    let await_dump = |lab: &Lab, name: &str, before: usize| {
        wait_for(
            &format!("dump {name} number {}", before + 1),
            Duration::from_secs(5),
            || wrote(lab, name) > before,
        )
    };
    let fresh_stats = |lab: &mut Lab, sig: i32| -> String {
        let before = wrote(lab, "k.stats");
        lab.signal(d, sig);
        await_dump(lab, "k.stats", before);
        std::fs::read_to_string(&stats).unwrap_or_default()
    };
    let sent = |text: &str| -> u64 {
        let mut lines = text.lines().skip_while(|l| !l.contains("Advertisements:"));
        lines
            .find_map(|l| l.trim().strip_prefix("Sent: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no 'Sent:' in\n{text}"))
    };
    // A few adverts first, so that counting again from 0 shows.
    let t0 = std::time::Instant::now();
    let before = loop {
        let s = fresh_stats(&mut lab, libc::SIGUSR2);
        if sent(&s) >= 3 || t0.elapsed() > Duration::from_secs(10) {
            break s;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(before.contains("  Became master: 1\n"), "{before}");

    // STATS_CLEAR: keepalived writes the stats, then clears the counters.
    let cleared = fresh_stats(&mut lab, signum("STATS_CLEAR"));
    assert!(cleared.contains("  Became master: 1\n"), "{cleared}");
    assert!(lab.running(d), "STATS_CLEAR killed lvsd:\n{}", lab.log(d));
    let after = fresh_stats(&mut lab, libc::SIGUSR2);
    assert!(after.contains("  Became master: 0\n"), "{after}");
    assert!(
        sent(&after) < sent(&cleared),
        "adverts sent count again from 0:\n{cleared}\n---\n{after}"
    );

    // Every signal --signum names except STOP leaves lvsd running (and master): each has done its
    // work (a reload, a dump) before lvsd is asked whether it still runs.
    for (name, done) in [
        ("RELOAD", "reload done"),
        ("DATA", "k.data"),
        ("STATS", "k.stats"),
        ("STATS_CLEAR", "k.stats"),
        ("JSON", "k.json"),
    ] {
        let count = |lab: &Lab| {
            if done.starts_with("k.") {
                wrote(lab, done)
            } else {
                lab.log(d).matches(done).count()
            }
        };
        let before = count(&lab);
        lab.signal(d, signum(name));
        wait_for(&format!("{name} handled"), Duration::from_secs(10), || {
            count(&lab) > before
        });
        assert!(lab.running(d), "{name} killed lvsd:\n{}", lab.log(d));
    }
    assert_eq!(lab.holders("10.9.0.100"), [0]);
    lab.signal(d, signum("STOP"));
    let st = lab.wait_exit(d).expect("STOP ends lvsd");
    assert!(st.success(), "{}", lab.log(d));
}

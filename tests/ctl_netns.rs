//! `lvsd ctl` against running directors in network namespaces (VRRP only, so no IPVS is needed;
//! the IPVS commands are covered in the kernel lab, tests/lab/suite.d/lvsd-ctl.sh):
//! - `vrrp VI backup` hands the VIP over with no gap longer than one advert, the director stays
//!   BACKUP until `resume`, and `events` streams every transition of the scenario;
//! - the socket is root's: another user cannot connect, a control_group member may only look;
//!   garbage, oversized, truncated and unknown requests get clear errors and change nothing;
//! - 100 clients at once are all answered (served, or told to come back) while VRRP adverts keep
//!   flowing;
//! - a second lvsd on the same socket refuses to start; the socket goes at stop.
//!
//! Needs root; skips with a printed reason otherwise.

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

use common::netns::{can_run, Lab};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VIP: &str = "10.9.0.100";

fn conf(priority: u8, extra_global: &str) -> String {
    format!(
        "global_defs {{\n router_id d{priority}\n {extra_global}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority {priority}\n advert_int 1\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

/// The control socket of daemon `d` (beside its pid file).
fn sock(lab: &Lab, d: usize) -> PathBuf {
    lab.path(&format!("lvsd{d}.sock"))
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// `lvsd ctl -s SOCK ARGS` as root (or with a prefix such as setpriv): exit code and stdout.
fn ctl(prefix: &[&str], socket: &Path, args: &[&str]) -> (i32, String, String) {
    let (prog, rest) = match prefix.split_first() {
        Some((p, r)) => (*p, r.to_vec()),
        None => (env!("CARGO_BIN_EXE_lvsd"), Vec::new()),
    };
    let mut c = Command::new(prog);
    c.args(&rest);
    if !prefix.is_empty() {
        c.arg(env!("CARGO_BIN_EXE_lvsd"));
    }
    let o = c
        .arg("ctl")
        .arg("-s")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lvsd ctl");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// One raw request (bytes as given, the write side closed after) and the reply line.
fn raw(socket: &Path, bytes: &[u8]) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // The daemon may answer (and close) before everything is written: a broken pipe is fine.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).expect("reply");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply {line:?}: {e}"))
}

#[test]
fn vrrp_backup_hands_the_vip_over_within_one_advert_and_events_see_every_transition() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    // The lower director first, so the higher one hears it when it preempts.
    let b = lab.lvsd(1, &conf(100, ""));
    lab.wait_holder(VIP, 1, Duration::from_secs(10))
        .expect("B takes the VIP");
    let a = lab.lvsd(0, &conf(150, ""));
    lab.wait_holder(VIP, 0, Duration::from_secs(10))
        .expect("A preempts");
    let sa = sock(&lab, a);
    wait_for("A's socket", Duration::from_secs(5), || sa.exists());
    // events, started before the scenario.
    let mut ev = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["ctl", "--json", "-s"])
        .arg(&sa)
        .arg("events")
        .stdout(Stdio::piped())
        .spawn()
        .expect("events");
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = ev.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { return };
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let first = lines
        .recv_timeout(Duration::from_secs(5))
        .expect("events answers");
    assert!(first.contains("\"streaming\":true"), "{first}");

    // Watch the VIP on both sides while handing over.
    let watch = {
        let (n0, n1) = (lab.ns(0), lab.ns(1));
        std::thread::spawn(move || {
            let has = |ns: &str| {
                let o = Command::new("ip")
                    .args(["-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).contains(&format!("inet {VIP}/"))
            };
            let t0 = Instant::now();
            let (mut left, mut arrived) = (None, None);
            while t0.elapsed() < Duration::from_secs(10) && arrived.is_none() {
                if left.is_none() && !has(&n0) {
                    left = Some(Instant::now());
                }
                if left.is_some() && has(&n1) {
                    arrived = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            arrived
                .zip(left)
                .map(|(a, l)| a.saturating_duration_since(l))
        })
    };
    let (code, out, err) = ctl(&[], &sa, &["vrrp", "VI_1", "backup"]);
    assert_eq!(code, 0, "{out}{err}\n{}", lab.all_logs());
    eprintln!("handed over: {out}");
    assert!(out.contains("took over"), "{out}");
    let gap = watch.join().unwrap().expect("the VIP moved to B");
    assert!(
        gap < Duration::from_secs(1),
        "no one held the VIP for {gap:?}, more than one advert interval"
    );
    // Held: A, the higher priority, does not preempt back.
    lab.assert_stays(VIP, 1, Duration::from_secs(4));
    let (code, out, _) = ctl(&[], &sa, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("held by lvsd ctl"), "{out}");
    let (code, _, err) = ctl(&[], &sa, &["vrrp", "VI_1", "resume"]);
    assert_eq!(code, 0, "{err}");
    lab.wait_holder(VIP, 0, Duration::from_secs(10))
        .expect("A preempts again once resumed");

    // The stream saw MASTER -> BACKUP with the hold, its end, and BACKUP -> MASTER, in that order.
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        let Ok(l) = lines.recv_timeout(Duration::from_secs(5)) else {
            break;
        };
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        let e = &v["event"];
        assert!(e["time"].as_f64().unwrap() > 1.0e9, "{l}");
        kinds.push(match e["kind"].as_str().unwrap() {
            "vrrp_state" => format!("state {}", e["state"].as_str().unwrap()),
            "vrrp_held" => format!("held {}", e["held"]),
            k => k.to_string(),
        });
    }
    let _ = ev.kill();
    let _ = ev.wait();
    assert_eq!(
        kinds,
        ["state BACKUP", "held true", "held false", "state MASTER"],
        "events: {kinds:?}"
    );
    let _ = b;
}

#[test]
fn another_user_cannot_connect_a_control_group_member_may_only_look_and_bad_requests_change_nothing(
) {
    if !can_run() {
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let mut lab = Lab::new(1);
    // gid 65534 (nogroup) may look.
    let d = lab.lvsd(0, &conf(100, "control_group 65534"));
    lab.wait_holder(VIP, 0, Duration::from_secs(10))
        .expect("master");
    let s = sock(&lab, d);
    wait_for("the socket", Duration::from_secs(5), || s.exists());
    let meta = std::fs::metadata(&s).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!((meta.uid(), meta.gid()), (0, 65534));

    let stranger = ["setpriv", "--reuid=65534", "--regid=1", "--clear-groups"];
    let (code, _, err) = ctl(&stranger, &s, &["status"]);
    assert_eq!(code, 2, "another user is not let in: {err}");
    let member = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let (code, out, err) = ctl(&member, &s, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("VI_1") && out.contains("MASTER"), "{out}");
    let (code, _, err) = ctl(&member, &s, &["vrrp", "VI_1", "backup", "--force"]);
    assert_eq!(code, 1);
    assert!(err.contains("permission denied"), "{err}");
    assert!(lab.wait_log(d, "refused: read-only access", 1, Duration::from_secs(5)));
    assert!(lab.log(d).contains("ctl: uid 65534: status"));

    let cases: &[(&[u8], &str)] = &[
        (b"hello\n", "not JSON"),
        (b"{\"v\":1,\"cmd\":\"explode\"}\n", "command 'explode'"),
        (
            b"{\"v\":1,\"cmd\":\"status\",\"verbose\":true}\n",
            "unknown field",
        ),
        (b"{\"v\":9,\"cmd\":\"status\"}\n", "version 9"),
        (b"{\"v\":1,\"cmd\":\"status\"", "truncated request"),
        (
            b"{\"v\":1,\"cmd\":\"vrrp\",\"instance\":\"VI_9\",\"action\":\"backup\"}\n",
            "no vrrp_instance 'VI_9'",
        ),
        (
            b"{\"v\":1,\"cmd\":\"disable\",\"vs\":\"10.0.0.1:80\",\"rs\":\"10.0.0.2\"}\n",
            "not running (lvsd -P)",
        ),
    ];
    for (req, want) in cases {
        let v = raw(&s, req);
        assert_eq!(v["ok"], false, "{v}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(req));
    }
    let big = vec![b'x'; 70 * 1024];
    let v = raw(&s, &big);
    assert!(v["error"].as_str().unwrap().contains("too long"), "{v}");
    // Nothing changed: still MASTER, still running.
    lab.assert_stays(VIP, 0, Duration::from_secs(2));
    assert!(lab.running(d));
}

#[test]
fn a_hundred_clients_at_once_are_answered_while_adverts_keep_flowing() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(2);
    let a = lab.lvsd(0, &conf(150, ""));
    lab.wait_holder(VIP, 0, Duration::from_secs(10))
        .expect("A master");
    lab.lvsd(1, &conf(100, ""));
    let s = sock(&lab, a);
    wait_for("the socket", Duration::from_secs(5), || s.exists());
    let started = Instant::now();
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut c = UnixStream::connect(&s).expect("connect");
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                c.write_all(b"{\"v\":1,\"cmd\":\"status\"}\n").unwrap();
                let mut reply = String::new();
                c.read_to_string(&mut reply).expect("a reply");
                reply
            })
        })
        .collect();
    let replies: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let served = replies.iter().filter(|r| r.contains("\"ok\":true")).count();
    let busy = replies
        .iter()
        .filter(|r| r.contains("too many clients"))
        .count();
    assert_eq!(
        served + busy,
        100,
        "every client got an answer: {replies:?}"
    );
    assert!(served >= 64, "at least the limit is served: {served}");
    eprintln!(
        "100 clients: {served} served, {busy} told to retry, in {:?}",
        started.elapsed()
    );
    // The master never stopped advertising: B never took the VIP.
    lab.assert_stays(VIP, 0, Duration::from_secs(3));
    assert!(!lab.log(1).contains("Entering MASTER"), "{}", lab.log(1));
}

#[test]
fn a_second_lvsd_on_the_socket_refuses_to_start_and_the_socket_goes_at_stop() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    let first = lab.lvsd(0, &conf(100, ""));
    let s = sock(&lab, first);
    wait_for("the socket", Duration::from_secs(5), || s.exists());
    let sflag = s.to_string_lossy().into_owned();
    let second = lab.lvsd_with(
        0,
        &conf(100, ""),
        &["-l", "-P", "-G", "--control-socket", &sflag],
        &[],
    );
    let status = lab.wait_exit(second).expect("the second lvsd exits");
    assert!(!status.success());
    assert!(
        lab.log(second).contains("another lvsd is running"),
        "{}",
        lab.log(second)
    );
    assert!(lab.running(first));
    lab.signal(first, libc::SIGTERM);
    lab.wait_exit(first).expect("stops");
    assert!(!s.exists(), "the socket was removed at stop");
}

/// HTTP GET on the node's loopback; the status code, or None while nothing answers.
fn http_status(lab: &Lab, node: usize, port: u16, path: &str) -> Option<u16> {
    let o = lab.run_in(
        node,
        &[
            "python3",
            "-c",
            &format!(
                "import urllib.request,urllib.error,sys\n\
                 try:\n  print(urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=2).status)\n\
                 except urllib.error.HTTPError as e:\n  print(e.code)\n\
                 except Exception:\n  sys.exit(1)"
            ),
        ],
    );
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

#[test]
fn ready_answers_503_until_vrrp_has_settled_then_200() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new(1);
    // A port in the node's own namespace: nothing else there can hold it.
    // advert_int 5: a lone backup waits 15.6 s before it is MASTER, ample for the first answer.
    let slow = conf(100, "metrics_listen 127.0.0.1:9650").replace("advert_int 1", "advert_int 5");
    lab.lvsd(0, &slow);
    let t0 = Instant::now();
    let first = loop {
        if let Some(code) = http_status(&lab, 0, 9650, "/ready") {
            break code;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no HTTP answer");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(first, 503, "ready before VRRP settled");
    lab.wait_holder(VIP, 0, Duration::from_secs(30))
        .expect("master");
    wait_for("/ready 200", Duration::from_secs(5), || {
        http_status(&lab, 0, 9650, "/ready") == Some(200)
    });
}

//! lvsd's BIRD shell (src/announce/client.rs) against the real BIRD 2, in a network namespace of
//! its own: a control socket that does not exist yet, a BIRD that refuses the commands (its
//! configuration does not include lvsd's file) until the operator fixes it, a BIRD restart while
//! the VIPs changed, and the stop. What BIRD exports to its kernel table (table 100 here) is what
//! a router would hear. The directors' end-to-end behaviour (health, ECMP, SIGTERM, kill -9) is
//! the kernel lab's lvsd-bgp part. Needs root and bird2; skipped with the reason otherwise.

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd::announce::bird::Route;
use lvsd::announce::client::{self, Desired, Report, Told};

#[allow(dead_code)] // helpers shared with the other namespace tests
mod common;

struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn sh(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn wait(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn bird_conf(dir: &Path, include: bool) -> String {
    format!(
        "router id 10.99.0.1;\nlog \"{}\" all;\nprotocol device {{}}\nprotocol kernel {{ ipv4 {{ export all; }}; kernel table 100; }}\nprotocol kernel {{ ipv6 {{ export all; }}; kernel table 100; }}\n{}",
        dir.join("bird.log").display(),
        if include {
            format!("include \"{}/lvsd-vips*.conf\";\n", dir.display())
        } else {
            String::new()
        }
    )
}

fn start_bird(ns: &str, dir: &Path) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "bird", "-c"])
        .arg(dir.join("bird.conf"))
        .arg("-s")
        .arg(dir.join("bird.ctl"))
        .arg("-P")
        .arg(dir.join("bird.pid"))
        .status()
        .expect("start bird");
    assert!(
        st.success(),
        "bird did not start: {}",
        std::fs::read_to_string(dir.join("bird.log")).unwrap_or_default()
    );
}

fn stop_bird(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("bird.pid")).expect("bird.pid");
    let pid = pid.trim().to_string();
    let _ = Command::new("kill").arg(&pid).status();
    wait("BIRD to end", 10, || {
        !Path::new(&format!("/proc/{pid}")).exists()
    });
}

fn table(ns: &str) -> String {
    sh(ns, &["ip", "route", "show", "table", "100"])
        + &sh(ns, &["ip", "-6", "route", "show", "table", "100"])
}

/// The shell on a thread that entered the namespace (the liveness interface is created there).
fn spawn_shell(
    ns: &str,
    rx: tokio::sync::watch::Receiver<Arc<Desired>>,
    tx: tokio::sync::mpsc::UnboundedSender<Report>,
) -> std::thread::JoinHandle<()> {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("netns file");
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a namespace descriptor we hold.
        assert_eq!(
            unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) },
            0,
            "setns"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, client::run(rx, tx));
    })
}

/// Reports until `f` says enough.
fn until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Report>,
    secs: u64,
    what: &str,
    mut f: impl FnMut(&Report) -> bool,
) -> Vec<Report> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(r) => {
                let done = f(&r);
                seen.push(r);
                if done {
                    return seen;
                }
            }
            Err(_) => {
                assert!(
                    Instant::now() < end,
                    "timed out waiting for {what}; reports: {seen:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn the_bird_shell_against_bird_2() {
    if !common::netns::can_run() || !common::netns::tool_available("bird", "--version", "bird2") {
        return;
    }
    let name = format!("lvbg{:x}", std::process::id());
    Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .expect("netns add");
    let ns = Ns(name);
    sh(&ns.0, &["ip", "link", "set", "lo", "up"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let v4: std::net::IpAddr = "192.0.2.10".parse().unwrap();
    let v6: std::net::IpAddr = "2001:db8::10".parse().unwrap();
    let routes = |a4: bool, a6: bool| {
        vec![
            Route {
                protocol: lvsd::announce::protocol_name("lvsd_", v4),
                addr: v4,
                announced: a4,
            },
            Route {
                protocol: lvsd::announce::protocol_name("lvsd_", v6),
                addr: v6,
                announced: a6,
            },
        ]
    };
    let desired = |gen, a4, a6, stop| Desired {
        gen,
        socket: d.join("bird.ctl"),
        include: d.join("lvsd-vips.conf"),
        iface: "lvsd-bgp".into(),
        source: "/etc/keepalived/keepalived.conf".into(),
        routes: routes(a4, a6),
        stop,
    };
    let (dtx, drx) = tokio::sync::watch::channel(Arc::new(desired(1, true, false, false)));
    let (rtx, mut rrx) = tokio::sync::mpsc::unbounded_channel();
    let shell = spawn_shell(&ns.0, drx, rtx);

    // No BIRD yet: the socket does not exist; nothing is announced and the device stays down.
    let seen = until(
        &mut rrx,
        10,
        "a failed connection",
        |r| matches!(r, Report::Connection { connected: false, error: Some(e) } if e.contains("No such file")),
    );
    assert!(!seen
        .iter()
        .any(|r| matches!(r, Report::Tie { up: true, .. })));
    let link = sh(&ns.0, &["ip", "link", "show", "lvsd-bgp"]);
    assert!(
        link.contains("lvsd-bgp") && !link.contains(",UP"),
        "device: {link}"
    );
    let file = std::fs::read_to_string(d.join("lvsd-vips.conf")).expect("include file");
    assert!(file.contains("protocol static lvsd_v4_192_0_2_10 {\n\tdisabled no;"));

    // A BIRD whose configuration lacks lvsd's file refuses the commands: nothing announced.
    std::fs::write(d.join("bird.conf"), bird_conf(&d, false)).unwrap();
    start_bird(&ns.0, &d);
    until(
        &mut rrx,
        10,
        "a refused enable",
        |r| matches!(r, Report::Told(l) if l.iter().any(|(p, t)| p == "lvsd_v4_192_0_2_10" && matches!(t, Told::Refused(e) if e.starts_with("9001")))),
    );
    assert!(!table(&ns.0).contains("192.0.2.10"), "{}", table(&ns.0));

    // The operator fixes bird.conf: BIRD reads lvsd's file, lvsd's retry finds it enabled.
    std::fs::write(d.join("bird.conf"), bird_conf(&d, true)).unwrap();
    let reply = sh(
        &ns.0,
        &[
            "birdc",
            "-s",
            d.join("bird.ctl").to_str().unwrap(),
            "configure",
        ],
    );
    assert!(reply.contains("Reconfigured"), "{reply}");
    until(
        &mut rrx,
        10,
        "the VIP enabled after the fix",
        |r| matches!(r, Report::Told(l) if l.iter().any(|(p, t)| p == "lvsd_v4_192_0_2_10" && *t == Told::Enabled)),
    );
    wait("the IPv4 VIP in BIRD's kernel table", 10, || {
        table(&ns.0).contains("192.0.2.10 dev lvsd-bgp")
    });
    assert!(!table(&ns.0).contains("2001:db8::10"));
    assert!(sh(&ns.0, &["ip", "link", "show", "lvsd-bgp"]).contains(",UP"));

    // BIRD restarts while the VIPs change: it comes back with the current state.
    stop_bird(&d);
    until(&mut rrx, 10, "the lost connection", |r| {
        matches!(
            r,
            Report::Connection {
                connected: false,
                ..
            }
        )
    });
    dtx.send(Arc::new(desired(2, false, true, false))).unwrap();
    wait("the include file to follow", 10, || {
        std::fs::read_to_string(d.join("lvsd-vips.conf"))
            .is_ok_and(|f| f.contains("lvsd_v6_2001_db8_0_0_0_0_0_10 {\n\tdisabled no;"))
    });
    start_bird(&ns.0, &d);
    until(&mut rrx, 10, "the reconnection", |r| {
        matches!(
            r,
            Report::Connection {
                connected: true,
                ..
            }
        )
    });
    until(&mut rrx, 10, "generation 2 applied", |r| {
        matches!(r, Report::Synced(2))
    });
    wait("the IPv6 VIP only", 10, || {
        let t = table(&ns.0);
        t.contains("2001:db8::10 dev lvsd-bgp") && !t.contains("192.0.2.10")
    });

    // Stop: everything withdrawn, the device deleted.
    dtx.send(Arc::new(desired(3, false, false, true))).unwrap();
    until(&mut rrx, 10, "the stop", |r| matches!(r, Report::Stopped));
    shell.join().expect("shell thread");
    wait("an empty table", 10, || {
        let t = table(&ns.0);
        !t.contains("192.0.2.10") && !t.contains("2001:db8::10")
    });
    assert!(sh(&ns.0, &["ip", "link", "show", "lvsd-bgp"]).contains("does not exist"));
    let file = std::fs::read_to_string(d.join("lvsd-vips.conf")).unwrap();
    assert!(!file.contains("disabled no"), "{file}");
    stop_bird(&d);
}

#[test]
fn the_sample_bird_configurations_parse() {
    if !common::netns::tool_available("bird", "--version", "bird2") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in [
        "scripts/bird-scaleout.conf",
        "scripts/bird-scaleout-router.conf",
    ] {
        let out = Command::new("bird")
            .arg("-p")
            .arg("-c")
            .arg(root.join(f))
            .output()
            .expect("bird -p");
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_include_file_lvsd_writes_parses_in_bird() {
    if !common::netns::tool_available("bird", "--version", "bird2") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let routes: Vec<Route> = (0..1000u32)
        .map(|i| {
            let a = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a29_0000 + i));
            Route {
                protocol: lvsd::announce::protocol_name("lvsd_", a),
                addr: a,
                announced: i % 2 == 0,
            }
        })
        .chain(std::iter::once({
            let a: std::net::IpAddr = "2001:db8::ffff:1".parse().unwrap();
            Route {
                protocol: lvsd::announce::protocol_name("lvsd_", a),
                addr: a,
                announced: true,
            }
        }))
        .collect();
    let inc = dir.path().join("vips.conf");
    std::fs::write(
        &inc,
        lvsd::announce::bird::include_file("/x.conf", "lvsd-bgp", &routes),
    )
    .unwrap();
    let conf = dir.path().join("bird.conf");
    std::fs::write(
        &conf,
        format!(
            "router id 10.0.0.1;\nprotocol device {{}}\ninclude \"{}\";\n",
            inc.display()
        ),
    )
    .unwrap();
    let out = Command::new("bird")
        .arg("-p")
        .arg("-c")
        .arg(&conf)
        .output()
        .expect("bird -p");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

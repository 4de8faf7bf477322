//! A small network lab for integration tests: nodes in their own network namespaces on one
//! bridge (in a hub namespace), running lvsd or keepalived. Everything it creates is removed
//! when it is dropped, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// None (with the reason printed) when the lab cannot run here.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: network namespace tests need root");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("skipped: iproute2 (ip) is not installed");
        return false;
    }
    true
}

pub fn keepalived_available() -> bool {
    tool_available("keepalived", "-v", "keepalived")
}

/// Whether `cmd arg` runs (a test that needs it is skipped, and says so, when it does not).
pub fn tool_available(cmd: &str, arg: &str, what: &str) -> bool {
    let ok = Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("skipped: {what} is not installed");
    }
    ok
}

/// Adds namespace `name`. One of that name already there was left by a test process that had our pid
/// and was killed before it could clean up (Ctrl-C skips destructors; pids are reused): our counter
/// makes the name unique among this process's labs, so it is removed first.
fn fresh_netns(name: &str) {
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
    ip(&["netns", "add", name]);
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Daemon {
    pub node: usize,
    child: Option<Child>,
    /// keepalived's VRRP child, which survives a SIGKILL of its parent.
    extra_pid_file: Option<PathBuf>,
    pub log: PathBuf,
    /// The configuration file it reads (again on SIGHUP).
    pub conf: PathBuf,
}

pub struct Lab {
    prefix: String,
    nodes: usize,
    pub dir: tempfile::TempDir,
    daemons: Vec<Daemon>,
    /// Helper processes (listeners, captures), killed on drop.
    helpers: Vec<Child>,
}

impl Lab {
    /// `nodes` namespaces with eth0 = 10.9.0.(n+1)/24 on a shared bridge.
    pub fn new(nodes: usize) -> Lab {
        // Unique on the machine: the whole pid (at most 0x400000, 6 digits) and a counter keep
        // the veth names ("{prefix}n{node}") within the 15 bytes of an interface name.
        let prefix = format!(
            "lt{:x}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let lab = Lab {
            prefix,
            nodes: 0,
            dir: tempfile::tempdir().expect("temp dir"),
            daemons: Vec::new(),
            helpers: Vec::new(),
        };
        let hub = lab.hub();
        fresh_netns(&hub);
        let mut lab = lab;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for n in 0..nodes {
            let ns = lab.ns(n);
            let peer = format!("{}n{n}", lab.prefix);
            fresh_netns(&ns);
            lab.nodes = n + 1;
            // Both ends made in their namespaces: nothing of the lab ever lives in the machine's.
            ip(&[
                "link", "add", &peer, "netns", &hub, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &hub, "link", "set", &peer, "master", "br0", "up"]);
            let addr = format!("10.9.0.{}/24", n + 1);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn hub(&self) -> String {
        format!("{}hub", self.prefix)
    }

    pub fn ns(&self, node: usize) -> String {
        format!("{}n{node}", self.prefix)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// Starts lvsd on `node` with this configuration text (VRRP only, logging to stderr, not to
    /// the machine's syslog); returns the daemon's index.
    pub fn lvsd(&mut self, node: usize, conf: &str) -> usize {
        self.lvsd_with(node, conf, &["-l", "-P", "-G"], &[])
    }

    /// Starts lvsd on `node` with these flags (besides -n, -f and -p) and environment variables.
    /// Its stderr goes to `lvsd{index}.log` in the lab directory (created or truncated).
    pub fn lvsd_with(
        &mut self,
        node: usize,
        conf: &str,
        flags: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> usize {
        let n = self.daemons.len();
        let conf = self.write(&format!("lvsd{n}.conf"), conf);
        let log = self.path(&format!("lvsd{n}.log"));
        let pid = self.path(&format!("lvsd{n}.pid"));
        let logf = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)
            .expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node), env!("CARGO_BIN_EXE_lvsd")])
            .arg("-n")
            .args(flags)
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(&pid)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("start lvsd");
        self.daemons.push(Daemon {
            node,
            child: Some(child),
            extra_pid_file: None,
            log,
            conf,
        });
        n
    }

    /// Starts keepalived (VRRP only) on `node`.
    pub fn keepalived(&mut self, node: usize, conf: &str) -> usize {
        let n = self.daemons.len();
        let conf = self.write(&format!("ka{n}.conf"), conf);
        let log = self.path(&format!("ka{n}.log"));
        let vrrp_pid = self.path(&format!("ka{n}.vrrp.pid"));
        let logf = std::fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node), "keepalived"])
            .args(["-n", "-l", "-D", "-P", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(self.path(&format!("ka{n}.pid")))
            .arg("-r")
            .arg(&vrrp_pid)
            .arg("-c")
            .arg(self.path(&format!("ka{n}.chk.pid")))
            .stdout(logf.try_clone().expect("log file"))
            .stderr(logf)
            .spawn()
            .expect("start keepalived");
        self.daemons.push(Daemon {
            node,
            child: Some(child),
            extra_pid_file: Some(vrrp_pid),
            log,
            conf,
        });
        n
    }

    /// The daemon's process id (`ip netns exec` execs it, so this is lvsd's own).
    #[allow(dead_code)] // not every test binary uses it
    pub fn pid(&self, d: usize) -> Option<u32> {
        self.daemons[d].child.as_ref().map(Child::id)
    }

    /// Where a daemon's stderr goes.
    #[allow(dead_code)] // not every test binary uses it
    pub fn log_path(&self, d: usize) -> &Path {
        &self.daemons[d].log
    }

    pub fn log(&self, d: usize) -> String {
        std::fs::read_to_string(&self.daemons[d].log).unwrap_or_default()
    }

    /// Replaces the daemon's configuration file and sends SIGHUP.
    pub fn reload(&mut self, d: usize, conf: &str) {
        std::fs::write(&self.daemons[d].conf, conf).expect("write config");
        self.signal(d, libc::SIGHUP);
    }

    /// Polls the daemon's log until `needle` occurs in it `count` times; false at the timeout.
    pub fn wait_log(&self, d: usize, needle: &str, count: usize, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.log(d).matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends `sig`; SIGKILL also kills keepalived's VRRP child, as a crash of the whole daemon.
    pub fn signal(&mut self, d: usize, sig: i32) {
        let dm = &mut self.daemons[d];
        if let Some(c) = &dm.child {
            // SAFETY: kill(2) on our own child process.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
        if sig == libc::SIGKILL {
            if let Some(pid) = dm.extra_pid_file.as_deref().and_then(read_pid) {
                // SAFETY: kill(2) on the pid keepalived wrote for its VRRP child.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }

    /// Whether the daemon is still running (not exited, not killed).
    #[allow(dead_code)] // not every test crate that includes this module uses it
    pub fn running(&mut self, d: usize) -> bool {
        match &mut self.daemons[d].child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits for the daemon to exit (after a signal); its exit status, or None after 10 s.
    pub fn wait_exit(&mut self, d: usize) -> Option<std::process::ExitStatus> {
        let mut child = self.daemons[d].child.take()?;
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(s)) = child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.daemons[d].child = Some(child);
        None
    }

    /// Runs `ip ARGS` inside a node's namespace.
    pub fn ip_in(&self, node: usize, args: &[&str]) {
        let ns = self.ns(node);
        let mut v = vec!["-n", ns.as_str()];
        v.extend_from_slice(args);
        ip(&v);
    }

    /// Runs a command inside a node's namespace; its output.
    pub fn run_in(&self, node: usize, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec")
    }

    /// Starts a helper process inside a node's namespace; it is killed when the lab drops.
    pub fn spawn_in(&mut self, node: usize, args: &[&str]) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start helper");
        self.helpers.push(child);
    }

    /// Starts tcpdump on a node's eth0 with this filter, its lines (`-l -n`) going to the file
    /// `name` in the lab directory, and returns once tcpdump says it is listening: every packet
    /// sent from then on is in the file. Killed when the lab drops.
    #[allow(dead_code)] // not every test binary captures
    pub fn capture(&mut self, node: usize, filter: &str, name: &str) -> PathBuf {
        let out = self.path(name);
        let err = self.path(&format!("{name}.err"));
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(node)])
            .args(["tcpdump", "-l", "-n", "-i", "eth0", filter])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("capture file"))
            .stderr(std::fs::File::create(&err).expect("capture log"))
            .spawn()
            .expect("start tcpdump");
        self.helpers.push(child);
        let t0 = Instant::now();
        while !std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("listening on")
        {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "tcpdump did not start: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        out
    }

    /// Nodes that carry `addr` on any interface now (eth0, or a VMAC interface).
    pub fn holders(&self, addr: &str) -> Vec<usize> {
        (0..self.nodes)
            .filter(|&n| {
                let out = Command::new("ip")
                    .args(["-n", &self.ns(n), "-o", "addr", "show"])
                    .output()
                    .expect("ip addr");
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .any(|w| w.split('/').next() == Some(addr))
            })
            .collect()
    }

    /// Polls until exactly `node` holds `addr`; the time it took, or None at the timeout.
    pub fn wait_holder(&self, addr: &str, node: usize, timeout: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.holders(addr) == [node] {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Until `node` holds `addr` (others may still have it: a killed daemon removes nothing).
    pub fn wait_holder_any(&self, addr: &str, node: usize, timeout: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.holders(addr).contains(&node) {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Asserts that `node` keeps holding `addr` alone for `period`: a negative assertion (no
    /// takeover, no flap), so the wait is the thing tested. Right after an election a period of
    /// one advert_int or more shows that the election settled (a loser that took the VIP as well,
    /// or a winner that hands it back, shows at the next adverts); where a longer period is the
    /// point, the caller says why it suffices.
    pub fn assert_stays(&self, addr: &str, node: usize, period: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < period {
            let h = self.holders(addr);
            assert_eq!(
                h,
                [node],
                "{addr} must stay on node {node} only; logs:\n{}",
                self.all_logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that nodes 0 and 1 both keep holding `addr` for `period` (a split brain).
    pub fn assert_both_stay(&self, addr: &str, period: Duration) {
        let t0 = Instant::now();
        while t0.elapsed() < period {
            assert_eq!(self.holders(addr), [0, 1], "{}", self.all_logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn all_logs(&self) -> String {
        (0..self.daemons.len())
            .map(|d| {
                format!(
                    "--- daemon {d} (node {}):\n{}",
                    self.daemons[d].node,
                    self.log(d)
                )
            })
            .collect()
    }
}

fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.helpers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &mut self.daemons {
            if let Some(mut c) = d.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            if let Some(pid) = d.extra_pid_file.as_deref().and_then(read_pid) {
                // SAFETY: kill(2) on keepalived's VRRP child, which outlives its killed parent.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.hub()])
            .status();
        for n in 0..self.nodes {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .status();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.all_logs());
        }
    }
}

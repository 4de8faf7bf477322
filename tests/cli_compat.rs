//! keepalived's command line on the lvsd binary: the flags an init script passes must mean what they
//! mean to keepalived 2.2.7. No root needed.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn lvsd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .output()
        .expect("run lvsd")
}

#[test]
fn small_v_prints_the_version_as_keepalived_does() {
    for flag in ["-v", "--version"] {
        let out = lvsd(&[flag]);
        assert!(
            out.status.success(),
            "lvsd {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("lvsd {}", env!("CARGO_PKG_VERSION")),
            "lvsd {flag}"
        );
    }
}

/// A process that waits to be signalled; killed on drop.
struct Target(Child);
impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Target {
    fn start() -> Target {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("sleep");
        cmd.arg("60").stdin(Stdio::null());
        // SIGHUP's default action, even when the tests run with it ignored (nohup), which the
        // child would inherit and so survive the reload's signal.
        // SAFETY: signal(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                Ok(())
            });
        }
        Target(cmd.spawn().expect("start sleep"))
    }

    /// The signal that ended it, waiting up to 5 s.
    fn ended_by(&mut self) -> Option<i32> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(s)) = self.0.try_wait() {
                return s.signal();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

#[test]
fn reload_takes_the_pid_file_after_the_command_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("lvsd.pid");
    let pid_arg = pid_file.to_str().expect("utf-8 path");
    for args in [
        vec!["reload", "-p", pid_arg],
        vec!["reload", "--pid", pid_arg],
        vec!["-p", pid_arg, "reload"],
    ] {
        let mut target = Target::start();
        std::fs::write(&pid_file, format!("{}\n", target.0.id())).expect("write pid file");
        let out = lvsd(&args);
        assert!(
            out.status.success(),
            "lvsd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(target.ended_by(), Some(libc::SIGHUP), "lvsd {args:?}");
    }
    let out = lvsd(&["reload", "-p", "/nonexistent/lvsd.pid"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/lvsd.pid"),
        "the error names the pid file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

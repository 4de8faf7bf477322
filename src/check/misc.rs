//! MISC_CHECK: run a program (no shell) in its own process group (started by `spawn.rs`, without a
//! fork); its exit code decides. On misc_timeout the whole group is killed, so a script's children
//! do not outlive it. Runs take a
//! slot under the shared script limit first; misc_timeout counts from the start, not the wait.

use super::decide::{Outcome, WeightAdj};
use super::net::secs;
use super::spawn::Script;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct MiscProbe {
    /// The command line as configured (for logs).
    pub command: String,
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub dynamic: bool,
    /// uid and gid to run as, when `user` is set.
    pub ids: Option<(u32, u32)>,
}

impl MiscProbe {
    pub fn new(
        command: &str,
        timeout: Duration,
        dynamic: bool,
        user: Option<&str>,
        group: Option<&str>,
    ) -> Result<MiscProbe, String> {
        let argv = crate::notify::command::split(command)
            .map_err(|e| format!("misc_path '{command}': {e}"))?;
        let ids = match user {
            Some(u) => Some(crate::notify::command::ids(u, group).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(MiscProbe {
            command: command.to_string(),
            argv,
            timeout,
            dynamic,
            ids,
        })
    }

    pub async fn run(&self) -> Outcome {
        let name = &self.command;
        if self.argv.is_empty() {
            return Outcome::fail(format!("Misc check for [{name}] failed: empty misc_path"));
        }
        let _slot = crate::notify::limit::slot(name).await;
        let mut child = match Script::start(&self.argv, self.ids) {
            Ok(c) => c,
            Err(e) => {
                return Outcome::fail(format!("Misc check for [{name}] failed: cannot run: {e}"))
            }
        };
        match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(Ok(status)) => self.judge(status),
            Ok(Err(e)) => Outcome::fail(format!("Misc check for [{name}] failed: {e}")),
            Err(_) => {
                child.kill_group();
                let _ = child.wait().await;
                Outcome::fail(format!(
                    "Misc check for [{name}] timed out: timeout after {}",
                    secs(self.timeout)
                ))
            }
        }
    }

    /// keepalived's exit codes: 0 up; 1 down; with misc_dynamic, 2-255 up with weight code - 2.
    pub fn judge(&self, status: ExitStatus) -> Outcome {
        let name = &self.command;
        match status.code() {
            Some(0) => Outcome::pass(format!("Misc check for [{name}] succeeded")),
            Some(c) if self.dynamic && (2..=255).contains(&c) => Outcome::pass(format!(
                "Misc check for [{name}] succeeded, exit code {c}: weight {}",
                c - 2
            ))
            .with_weight(WeightAdj::Set((c - 2) as u32)),
            Some(c) => Outcome::fail(format!("Misc check for [{name}] failed: exit code {c}")),
            None => Outcome::fail(format!(
                "Misc check for [{name}] failed: killed by signal {}",
                status.signal().unwrap_or(0)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(dynamic: bool) -> MiscProbe {
        MiscProbe::new("/bin/true", Duration::from_secs(1), dynamic, None, None).unwrap()
    }

    #[test]
    fn exit_codes_follow_keepalived() {
        let st = ExitStatus::from_raw;
        // Raw wait statuses: exit code N is N << 8.
        assert!(probe(false).judge(st(0)).ok);
        assert!(!probe(false).judge(st(1 << 8)).ok);
        assert!(
            !probe(false).judge(st(12 << 8)).ok,
            "2-255 fail without misc_dynamic"
        );
        let o = probe(true).judge(st(12 << 8));
        assert!(o.ok);
        assert_eq!(o.weight, Some(WeightAdj::Set(10)));
        assert!(!probe(true).judge(st(1 << 8)).ok);
        assert_eq!(
            probe(true).judge(st(0)).weight,
            None,
            "exit 0 keeps the weight"
        );
        assert!(!probe(true).judge(st(libc::SIGKILL)).ok);
    }
}

//! The pid file: written at start, removed at a clean stop. A live process in an existing pid
//! file means another daemon runs with this configuration: refuse to start, as keepalived does.

use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PidFileError {
    #[error("already running as pid {pid} (pid file {path})")]
    Running { pid: i32, path: PathBuf },
    #[error("cannot write pid file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    /// Held open with an exclusive lock: two lvsd starting at once cannot both pass the check.
    _lock: std::fs::File,
}

/// A process that exists and is not a zombie (a killed daemon not reaped yet is gone). EPERM
/// means it exists but belongs to another user (lvsd not run as root): alive, as keepalived reads it.
fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    if pid <= 0
        || (unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM))
    {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state != Some("Z")
}

impl PidFile {
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        use std::io::Write;
        use std::os::unix::io::AsRawFd;
        let me = std::process::id() as i32;
        let write_err = |source| PidFileError::Write {
            path: path.into(),
            source,
        };
        let written = || {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
        };
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(write_err)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(PidFileError::Running {
                pid: written().unwrap_or(0),
                path: path.into(),
            });
        }
        // A daemon that does not lock (keepalived, an older lvsd) is seen by its live pid.
        if let Some(pid) = written() {
            if pid != me && alive(pid) {
                return Err(PidFileError::Running {
                    pid,
                    path: path.into(),
                });
            }
        }
        f.set_len(0).map_err(write_err)?;
        f.write_all(format!("{me}\n").as_bytes())
            .map_err(write_err)?;
        Ok(PidFile {
            path: path.into(),
            _lock: f,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_refused_while_alive_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lvsd.pid");
        let f = PidFile::create(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(f);
        assert!(!p.exists());
        // pid 1 is always alive: another daemon "runs" (one of another user, when not root).
        std::fs::write(&p, "1\n").unwrap();
        assert!(matches!(
            PidFile::create(&p),
            Err(PidFileError::Running { pid: 1, .. })
        ));
        // A stale pid file is taken over.
        std::fs::write(&p, "999999999\n").unwrap();
        let held = PidFile::create(&p).unwrap();
        // While it is held, a second one is refused even though the pid in it is ours.
        assert!(matches!(
            PidFile::create(&p),
            Err(PidFileError::Running { .. })
        ));
        drop(held);
    }
}

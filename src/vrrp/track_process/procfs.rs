//! Reading processes from /proc. A process may end while it is read: whatever cannot be read
//! is left out, never an error. Command lines are read only as far as a match needs (reading
//! one touches the process's memory).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::pattern::{is_running, parse_stat, ProcInfo};
use super::quorum::Needs;

/// /proc/PID/stat is short; its name field is at most 64 bytes (kernel threads' names).
const STAT_MAX: u64 = 512;

/// Every running process (not zombies), with what `needs` asks for.
pub fn scan(needs: Needs) -> Vec<ProcInfo> {
    scan_in(Path::new("/proc"), needs)
}

fn scan_in(root: &Path, needs: Needs) -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_in(root, pid, needs))
        .collect()
}

/// One process, or None when it is gone, a zombie, or unreadable.
pub fn read(pid: u32, needs: Needs) -> Option<ProcInfo> {
    read_in(Path::new("/proc"), pid, needs)
}

fn read_in(root: &Path, pid: u32, needs: Needs) -> Option<ProcInfo> {
    let dir = root.join(pid.to_string());
    let stat = read_at_most(&dir.join("stat"), STAT_MAX)?;
    let (comm, state) = parse_stat(&stat)?;
    if !is_running(state) {
        return None;
    }
    let comm = needs.comm.then(|| comm.to_vec());
    let cmdline = match needs.cmdline {
        0 => None,
        n => Some(read_at_most(&dir.join("cmdline"), n as u64)?),
    };
    Some(ProcInfo { pid, comm, cmdline })
}

fn read_at_most(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)
        .ok()?
        .take(max)
        .read_to_end(&mut buf)
        .ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_skips_what_is_not_there() {
        let me = std::process::id();
        let all = Needs {
            comm: true,
            cmdline: 4096,
        };
        let p = read(me, all).expect("this process");
        let comm = std::fs::read("/proc/self/comm").unwrap();
        assert_eq!(p.comm.as_deref(), Some(comm.trim_ascii_end()));
        let argv0 = std::env::args().next().unwrap();
        assert!(p.cmdline.unwrap().starts_with(argv0.as_bytes()));
        let names_only = read(
            me,
            Needs {
                comm: true,
                cmdline: 0,
            },
        )
        .unwrap();
        assert_eq!(names_only.cmdline, None);
        assert!(scan(all).iter().any(|p| p.pid == me));
        // No such process, no such /proc.
        assert_eq!(read(u32::MAX, all), None);
        assert!(scan_in(Path::new("/nonexistent-proc"), all).is_empty());
    }

    #[test]
    fn a_fake_proc_with_zombies_and_junk() {
        let root = tempfile::tempdir().unwrap();
        let mk = |pid: &str, stat: &str, cmdline: &[u8]| {
            let d = root.path().join(pid);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("stat"), stat).unwrap();
            std::fs::write(d.join("cmdline"), cmdline).unwrap();
        };
        mk("10", "10 (nginx) S 1 1", b"nginx: master\0");
        mk("11", "11 (nginx) Z 1 1", b"");
        mk("12", "12 nginx S", b"nginx\0");
        mk("self", "13 (x) S", b"x\0");
        let needs = Needs {
            comm: true,
            cmdline: 6,
        };
        let got = scan_in(root.path(), needs);
        assert_eq!(
            got,
            [ProcInfo {
                pid: 10,
                comm: Some(b"nginx".to_vec()),
                cmdline: Some(b"nginx:".to_vec()),
            }],
            "a zombie, an unparsable stat and a non-pid entry are left out; the command line is cut"
        );
    }
}

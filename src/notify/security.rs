//! enable_script_security, as keepalived documents it: a script run as root must not be
//! replaceable by anyone else, so neither the file nor any directory above it may be owned or
//! writable by a non-root user (a sticky directory protects a root-owned entry).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::command::Prepared;

const SHELLS: [&str; 2] = ["/bin/sh", "/bin/bash"];

/// The program a prepared script runs: its first word; for a shell line, the shell.
fn program(p: &Prepared) -> Option<PathBuf> {
    let first = p.argv.first()?;
    if first.contains('/') {
        return Some(PathBuf::from(first));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(first))
        .find(|c| c.is_file())
}

/// Why running `path` as root is unsafe, if it is.
pub fn unsafe_path(path: &Path) -> Option<String> {
    let full = match path.canonicalize() {
        Ok(p) => p,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    let mut cur = Some(full.as_path());
    let mut is_file = true;
    while let Some(p) = cur {
        let m = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => return Some(format!("{}: {e}", p.display())),
        };
        let writable_by_others = m.mode() & 0o022 != 0;
        let sticky = m.mode() & 0o1000 != 0;
        if m.uid() != 0 {
            return Some(format!("{} is owned by uid {}", p.display(), m.uid()));
        }
        if writable_by_others && (is_file || !sticky) {
            return Some(format!("{} is writable by non-root users", p.display()));
        }
        is_file = false;
        cur = p.parent();
    }
    None
}

/// Checks a script that will run as root; other users' scripts are their own business.
pub fn check(p: &Prepared) -> Result<(), String> {
    if p.uid.is_some_and(|u| u != 0) {
        return Ok(());
    }
    let Some(prog) = program(p) else {
        return Err(format!("cannot find the program of '{}'", p.line));
    };
    if let Some(why) = unsafe_path(&prog) {
        return Err(why);
    }
    // A shell line runs whatever it names: check the script file a shell is given.
    if SHELLS.iter().any(|s| prog == Path::new(s)) {
        if let Some(script) = p.argv.get(1).filter(|a| a.starts_with('/')) {
            if let Some(why) = unsafe_path(Path::new(script)) {
                return Err(why);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn prepared(argv: &[&str]) -> Prepared {
        Prepared {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            uid: None,
            gid: None,
            line: argv.join(" "),
        }
    }

    #[test]
    fn world_writable_scripts_are_refused_for_root() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root to create root-owned files");
            return;
        }
        assert_eq!(check(&prepared(&["/bin/true"])), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("chk.sh");
        std::fs::write(&f, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = f.to_str().unwrap();
        assert_eq!(
            check(&prepared(&[path])),
            Ok(()),
            "root-owned 0755 under sticky /tmp"
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check(&prepared(&[path])).unwrap_err();
        assert!(err.contains("writable by non-root"), "{err}");
        let err = check(&prepared(&["/bin/sh", path])).unwrap_err();
        assert!(
            err.contains("writable by non-root"),
            "a shell running it: {err}"
        );
        let mut other = prepared(&[path]);
        other.uid = Some(65534);
        assert_eq!(check(&other), Ok(()), "not run as root");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&f, Some(65534), None).unwrap();
        assert!(check(&prepared(&[path]))
            .unwrap_err()
            .contains("owned by uid 65534"));
    }
}

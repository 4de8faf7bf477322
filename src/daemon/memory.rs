//! Keeping the daemon's resident memory to what it uses.
//!
//! Two things made lvsd's RSS about twice its live heap: transparent huge pages (on kernels set to
//! `always`, as Debian's, every 2 MiB of the malloc heap that was ever touched became resident as a
//! whole) and the start-up and reload peaks (parsing, planning, the IPVS batch), whose freed pages
//! glibc keeps. The daemon opts out of huge pages and gives freed pages back after those peaks.

use std::process::Command;

/// Opts the daemon out of transparent huge pages. Scripts get the system's setting back, see
/// [`children_default`].
pub fn huge_pages_off() {
    // SAFETY: prctl with integer arguments; affects only this process's memory policy.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r != 0 {
        tracing::debug!(
            "transparent huge pages stay on: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Returns the heap's free pages to the kernel; run after a peak (start-up, a reload).
pub fn trim() {
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The huge-page opt-out is inherited across fork and exec; a script (and a service a notify script
/// starts) runs with the system's default instead.
pub fn children_default(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only an async-signal-safe syscall runs; its result is ignored
    // because a kernel without the flag has nothing to undo.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
            Ok(())
        });
    }
}

/// A check script (MISC_CHECK, vrrp_script) dies with lvsd: after a kill -9 a restarted lvsd runs
/// its own copy, and the old one must not run on beside it. Notify scripts are left alone (they
/// may start services that outlive lvsd).
pub fn dies_with_lvsd(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: between fork and exec only async-signal-safe syscalls run. PDEATHSIG follows the
    // forking thread, which is the engines' thread, alive as long as lvsd; a parent already gone
    // before prctl took effect is seen by getppid.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

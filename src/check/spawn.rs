//! MISC_CHECK scripts started the way posix_spawn starts a program: clone(CLONE_VM | CLONE_VFORK),
//! the child running on a stack of its own in lvsd's memory until it execs. A fork copied lvsd's
//! page tables and made lvsd fault on each page it wrote until the child had exec'd, at every check.
//! std's Command takes its posix_spawn path only without pre_exec hooks, and a check script needs
//! two (PR_SET_PDEATHSIG, and the huge-page opt-out undone: daemon/memory.rs). The child makes only
//! syscalls, on data prepared before the clone. The exit is awaited on a pidfd (CLONE_PIDFD, Linux
//! 5.2); an older kernel ignores that flag and returns none, and the script is then awaited by a
//! blocking waitpid on tokio's blocking pool.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio::io::unix::AsyncFd;

/// The child's stack, until exec: it runs a handful of syscalls.
const STACK: usize = 64 << 10;

extern "C" {
    static environ: *const *const libc::c_char;
}

/// A running script, the leader of its own process group. Dropping it kills the group.
pub struct Script {
    pid: libc::pid_t,
    /// How its exit is awaited; None once reaped.
    exit: Option<Exit>,
}

enum Exit {
    /// Readable once the script has exited.
    Pidfd(AsyncFd<OwnedFd>),
    /// Kernels before 5.2: a blocking waitpid on another thread reaps it and sends the status.
    Waiter(tokio::sync::oneshot::Receiver<io::Result<ExitStatus>>),
}

/// What the child needs, prepared by the parent: pointers into the parent's memory.
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    devnull: libc::c_int,
    ids: Option<(u32, u32)>,
    parent: libc::pid_t,
    /// errno of the step that failed, 0 when the child exec'd.
    err: AtomicI32,
}

impl Script {
    /// Starts `argv` (a program found on PATH when it has no slash) with stdin, stdout and stderr on
    /// /dev/null, in a process group of its own, as `ids` (uid, gid) when given, killed with lvsd.
    pub fn start(argv: &[String], ids: Option<(u32, u32)>) -> io::Result<Script> {
        Script::start_as(argv, ids, true)
    }

    /// `pidfd` false starts it as on a kernel without CLONE_PIDFD (tests of that path).
    fn start_as(argv: &[String], ids: Option<(u32, u32)>, pidfd: bool) -> io::Result<Script> {
        let flags = libc::CLONE_VM
            | libc::CLONE_VFORK
            | libc::SIGCHLD
            | if pidfd { libc::CLONE_PIDFD } else { 0 };
        let invalid = |_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in misc_path");
        let prog = argv
            .first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        let path = find(prog)?;
        let args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()).map_err(invalid))
            .collect::<io::Result<_>>()?;
        let ptrs: Vec<*const libc::c_char> = args
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let devnull: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?
            .into();
        let mut stack = vec![0u8; STACK];
        let top = ((stack.as_mut_ptr() as usize + STACK) & !15) as *mut libc::c_void;
        let args = ChildArgs {
            path: path.as_ptr(),
            argv: ptrs.as_ptr(),
            // SAFETY: environ is the C library's, read as std's Command reads it.
            envp: unsafe { environ },
            devnull: devnull.as_raw_fd(),
            ids,
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
            err: AtomicI32::new(0),
        };
        let mut pidfd: libc::c_int = -1;
        // SAFETY: all signals are blocked around the clone so that none runs one of lvsd's handlers
        // in the child (its handlers are reset there before it unblocks them); the child runs on
        // `stack`, reads `args` and writes only `args.err`, and the parent waits (CLONE_VFORK) until
        // it has exec'd or exited, so all of them outlive its use of them.
        let pid = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let pid = libc::clone(
                child,
                top,
                flags,
                (&args as *const ChildArgs).cast_mut().cast(),
                &mut pidfd as *mut libc::c_int,
            );
            let e = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                return Err(e);
            }
            pid
        };
        drop(stack);
        // SAFETY: when set (>= 0), CLONE_PIDFD stored a new descriptor of the child, owned by
        // nothing else; a kernel before 5.2 leaves it at -1.
        let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
        let mut script = Script { pid, exit: None };
        let err = args.err.load(Ordering::Relaxed);
        if err != 0 {
            // The child has exited: reaped at once.
            let _ = script.reap(0);
            return Err(io::Error::from_raw_os_error(err));
        }
        let Some(pidfd) = pidfd else {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::task::spawn_blocking(move || {
                let mut st: libc::c_int = 0;
                // SAFETY: st is valid for the call; the pid is our child, reaped only here.
                let r = unsafe { libc::waitpid(pid, &mut st, 0) };
                let _ = tx.send(if r == pid {
                    Ok(ExitStatus::from_raw(st))
                } else {
                    Err(io::Error::last_os_error())
                });
            });
            script.exit = Some(Exit::Waiter(rx));
            return Ok(script);
        };
        // SAFETY: the OwnedFd is moved into the AsyncFd, which keeps it open for its own life.
        match unsafe { AsyncFd::register_with_interest(pidfd, tokio::io::Interest::READABLE) } {
            Ok(fd) => script.exit = Some(Exit::Pidfd(fd)),
            Err(e) => {
                let e = e.into_parts().1;
                script.kill_group();
                let _ = script.reap(0);
                return Err(e);
            }
        }
        Ok(script)
    }

    /// The script's pid, which is also its process group.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for the script to exit and reaps it.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            match &mut self.exit {
                None => return Err(io::Error::other("already reaped")),
                Some(Exit::Waiter(rx)) => {
                    let st = rx
                        .await
                        .unwrap_or_else(|_| Err(io::Error::other("the waiter ended")));
                    self.exit = None;
                    return st;
                }
                Some(Exit::Pidfd(fd)) => {
                    let mut ready = fd.readable().await?;
                    ready.clear_ready();
                }
            }
            if let Some(st) = self.reap(libc::WNOHANG)? {
                return Ok(st);
            }
        }
    }

    /// SIGKILL to the script's whole group (its children too).
    pub fn kill_group(&self) {
        // SAFETY: plain syscall; the group is the script's own and lives while it is unreaped.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
    }

    /// waitpid with `flags`: the exit status once the script has exited.
    fn reap(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        let mut st: libc::c_int = 0;
        // SAFETY: st is valid for the call; the pid is our unreaped child.
        let r = unsafe { libc::waitpid(self.pid, &mut st, flags) };
        if r == self.pid {
            self.exit = None;
            Ok(Some(ExitStatus::from_raw(st)))
        } else if r == 0 {
            Ok(None)
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        match &self.exit {
            None => return,
            // Its waiter reaps it once the kill below has ended it.
            Some(Exit::Waiter(_)) => return self.kill_group(),
            Some(Exit::Pidfd(_)) => {}
        }
        self.kill_group();
        if !matches!(self.reap(libc::WNOHANG), Ok(None)) {
            return;
        }
        // Not dead yet: reaped when it is, without waiting here.
        let pid = self.pid;
        let fd = match self.exit.take() {
            Some(Exit::Pidfd(fd)) => Some(fd),
            _ => None,
        };
        let reap = move || {
            let mut st = 0;
            // SAFETY: the killed child is ours and not reaped yet.
            unsafe { libc::waitpid(pid, &mut st, 0) };
        };
        match (tokio::runtime::Handle::try_current(), fd) {
            (Ok(rt), Some(fd)) => {
                rt.spawn(async move {
                    let _ = fd.readable().await;
                    reap();
                });
            }
            _ => reap(),
        }
    }
}

/// The program's path: itself when it has a slash, else the first executable of that name on PATH
/// (as execvp searches).
fn find(prog: &str) -> io::Result<CString> {
    let c = |s: &[u8]| {
        CString::new(s)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in misc_path"))
    };
    if prog.contains('/') {
        return c(prog.as_bytes());
    }
    let path = std::env::var_os("PATH");
    let path = path.as_deref().map_or(
        b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".as_slice(),
        std::os::unix::ffi::OsStrExt::as_bytes,
    );
    for dir in path.split(|&b| b == b':').filter(|d| !d.is_empty()) {
        let full = c(&[dir, b"/", prog.as_bytes()].concat())?;
        // SAFETY: full is a valid C string.
        if unsafe { libc::access(full.as_ptr(), libc::X_OK) } == 0 {
            return Ok(full);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ENOENT))
}

/// The child until exec: syscalls only, in the order std's Command makes them (stdio, ids, group,
/// signals, then the hooks, which must follow the uid change: it clears PDEATHSIG).
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: arg points to the parent's ChildArgs, alive while the parent waits (CLONE_VFORK).
    let a = unsafe { &*(arg as *const ChildArgs) };
    let fail = || -> libc::c_int {
        // SAFETY: errno of this thread; _exit ends the child without running lvsd's exit code.
        unsafe {
            a.err
                .store((*libc::__errno_location()).max(1), Ordering::Relaxed);
            libc::_exit(127)
        }
    };
    // SAFETY: syscalls on data prepared by the parent.
    unsafe {
        for fd in 0..3 {
            let r = if a.devnull == fd {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(a.devnull, fd)
            };
            if r < 0 {
                return fail();
            }
        }
        // Raw syscalls: glibc's wrappers would ask every thread of lvsd (whose thread list this
        // child shares) to change its ids too.
        if let Some((uid, gid)) = a.ids {
            if libc::syscall(libc::SYS_setgid, gid) != 0 {
                return fail();
            }
            if libc::getuid() == 0
                && libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0
            {
                return fail();
            }
            if libc::syscall(libc::SYS_setuid, uid) != 0 {
                return fail();
            }
        }
        if libc::setpgid(0, 0) != 0 {
            return fail();
        }
        // lvsd's handlers are lvsd's code on lvsd's memory: none may run here. Ignored signals
        // stay ignored, except SIGPIPE, which Rust ignores for itself (std's children get it back).
        for sig in 1..65 {
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut sa) != 0 {
                continue;
            }
            if sa.sa_sigaction == libc::SIG_DFL
                || (sa.sa_sigaction == libc::SIG_IGN && sig != libc::SIGPIPE)
            {
                continue;
            }
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // See daemon/memory.rs: children_default and dies_with_lvsd.
        libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != a.parent {
            libc::_exit(1);
        }
        libc::execve(a.path, a.argv, a.envp);
    }
    fail()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn a_script_runs_and_its_exit_code_comes_back() {
        let mut s = Script::start(&argv(&["sh", "-c", "exit 7"]), None).unwrap();
        assert_eq!(s.wait().await.unwrap().code(), Some(7));
        let mut s = Script::start(&argv(&["/bin/true"]), None).unwrap();
        assert!(s.wait().await.unwrap().success());
    }

    #[tokio::test]
    async fn without_a_pidfd_the_script_is_awaited_and_killed_all_the_same() {
        // As on a kernel before 5.2, which ignores CLONE_PIDFD.
        let mut s = Script::start_as(&argv(&["sh", "-c", "exit 9"]), None, false).unwrap();
        assert_eq!(s.wait().await.unwrap().code(), Some(9));
        let e = Script::start_as(&argv(&["/nonexistent/check"]), None, false).err();
        assert_eq!(e.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        let s = Script::start_as(&argv(&["sleep", "300"]), None, false).unwrap();
        let pid = s.id() as libc::pid_t;
        drop(s);
        // Killed and reaped by its waiter: then the pid is gone (kill -0 fails with ESRCH).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // SAFETY: signal 0 only checks that the pid exists.
        while unsafe { libc::kill(pid, 0) } == 0 {
            assert!(std::time::Instant::now() < deadline, "still there");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_program_that_cannot_run_is_an_error_at_start() {
        let e = Script::start(&argv(&["/nonexistent/check"]), None).err();
        assert_eq!(e.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
        let e = Script::start(&argv(&["no-such-program-lvsd"]), None).err();
        assert_eq!(e.map(|e| e.kind()), Some(io::ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn dropping_a_running_script_kills_and_reaps_it() {
        let s = Script::start(&argv(&["sleep", "300"]), None).unwrap();
        let pid = s.id() as libc::pid_t;
        drop(s);
        // Killed at once; reaped when it has died (here or by a task): then the pid is no child.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mut st = 0;
            // SAFETY: WNOHANG on a pid of ours; ECHILD once it was reaped.
            let r = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
            if r < 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "still not reaped");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn the_script_leads_its_group_with_stdio_on_dev_null_and_no_signal_blocked() {
        // By exit code: 0 only when the shell leads its own group and its stdout is /dev/null.
        let script = "read -r _ _ _ _ group _ </proc/$$/stat; [ \"$group\" = $$ ] || exit 2; \
                      [ \"$(readlink /proc/$$/fd/1)\" = /dev/null ] || exit 3";
        let mut s = Script::start(&argv(&["sh", "-c", script]), None).unwrap();
        assert_eq!(s.wait().await.unwrap().code(), Some(0));
        // The program itself (no shell, which blocks signals of its own at times) reads its mask.
        let blk = ["grep", "-q", "^SigBlk:[[:space:]]*0*$", "/proc/self/status"];
        let mut s = Script::start(&argv(&blk), None).unwrap();
        assert_eq!(s.wait().await.unwrap().code(), Some(0), "signals blocked");
    }
}

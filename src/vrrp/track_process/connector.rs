//! The process-events socket: NETLINK_CONNECTOR bound to the process-events group, subscribed
//! with PROC_CN_MCAST_LISTEN. The kernel has its connector only in the initial network
//! namespace and refuses a subscription from any other (ECONNREFUSED, where keepalived 2.2.7
//! gives up); lvsd then opens the socket from a short-lived thread that enters the network
//! namespace of process 1, or else of its nearest ancestor in another one (`ip netns exec`
//! leaves the caller's), which root may. Only datagrams from the kernel (port id 0) are taken.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::wire::{subscribe, CN_IDX_PROC, NETLINK_CONNECTOR};

/// Receive buffer asked for when the configuration sets none (keepalived: the system default,
/// which a burst of a few hundred process events fills).
const DEFAULT_RCVBUF: u32 = 1 << 20;
/// Doubling after lost events stops here.
const MAX_RCVBUF: u32 = 64 << 20;

pub struct Connector {
    fd: OwnedFd,
    /// Set with SO_RCVBUFFORCE (past net.core.rmem_max) rather than SO_RCVBUF.
    force: bool,
}

/// Where the socket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Own,
    Initial,
}

/// What a receive gave.
pub enum Received {
    /// This many bytes from the kernel.
    Kernel(usize),
    /// A datagram from a process, not the kernel: dropped.
    Foreign(u32),
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    match r {
        -1 => Err(io::Error::last_os_error()),
        r => Ok(r),
    }
}

impl Connector {
    /// Opens the socket, sets its buffer and subscribes, marking the request with `seq` and
    /// `ack` (the kernel's answer carries `ack + 1`).
    pub fn open(
        rcvbuf: Option<u32>,
        force: bool,
        seq: u32,
        ack: u32,
    ) -> io::Result<(Connector, Namespace)> {
        let size = rcvbuf.unwrap_or(DEFAULT_RCVBUF);
        // Without a configured size, lvsd asks for more than the default as root may.
        let force = force || rcvbuf.is_none();
        match Connector::open_here(size, force, seq, ack) {
            Ok(c) => Ok((c, Namespace::Own)),
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                match Connector::open_in_initial(size, force, seq, ack) {
                    Ok(c) => Ok((c, Namespace::Initial)),
                    Err(inner) => Err(io::Error::new(
                        e.kind(),
                        format!(
                            "{e} (not the initial network namespace); opening it there: {inner}"
                        ),
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn open_here(size: u32, force: bool, seq: u32, ack: u32) -> io::Result<Connector> {
        // SAFETY: socket(2) with constant arguments; the descriptor is owned at once.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_CONNECTOR,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = CN_IDX_PROC;
        // SAFETY: `sa` is a valid sockaddr_nl of the size given.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::addr_of!(sa).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        let c = Connector { fd, force };
        c.set_rcvbuf(size);
        c.send(&subscribe(true, seq, ack))?;
        Ok(c)
    }

    fn open_in_initial(size: u32, force: bool, seq: u32, ack: u32) -> io::Result<Connector> {
        let t = std::thread::Builder::new()
            .name("lvsd-proc-ns".into())
            .spawn(move || -> io::Result<Connector> {
                let mut tried = vec![namespace_id(Path::new("/proc/thread-self/ns/net"))?];
                let mut last = io::Error::other("no process in another network namespace");
                for pid in candidates() {
                    let Ok(ns) = File::open(format!("/proc/{pid}/ns/net")) else {
                        continue;
                    };
                    let Ok(id) = ns.metadata().map(|m| (m.dev(), m.ino())) else {
                        continue;
                    };
                    if tried.contains(&id) {
                        continue;
                    }
                    tried.push(id);
                    // SAFETY: setns(2) on an open namespace file; it changes only this thread,
                    // which ends right after opening the socket.
                    if let Err(e) = cvt(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })
                    {
                        last = e;
                        continue;
                    }
                    match Connector::open_here(size, force, seq, ack) {
                        Ok(c) => return Ok(c),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            })?;
        t.join()
            .unwrap_or_else(|_| Err(io::Error::other("the thread opening the socket failed")))
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: sending from a valid buffer of its length on our socket.
        cvt(unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } as _)?;
        Ok(())
    }

    fn set_rcvbuf(&self, size: u32) {
        let set = |opt: libc::c_int| {
            let v = size.min(i32::MAX as u32) as libc::c_int;
            // SAFETY: setsockopt with an int option value of its size.
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    std::ptr::addr_of!(v).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the capped SO_RCVBUF still helps.
        if !self.force || set(libc::SO_RCVBUFFORCE) != 0 {
            set(libc::SO_RCVBUF);
        }
    }

    /// The receive buffer the kernel gives (twice what was asked for, for its bookkeeping).
    pub fn rcvbuf(&self) -> u32 {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt into an int of the size given.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                std::ptr::addr_of_mut!(v).cast(),
                &mut len,
            )
        };
        if r == 0 {
            v.max(0) as u32
        } else {
            0
        }
    }

    /// After lost events: twice the buffer (up to a limit); the new size, None at the limit.
    pub fn grow(&self) -> Option<u32> {
        // getsockopt reports double the size set.
        let now = self.rcvbuf() / 2;
        if now >= MAX_RCVBUF {
            return None;
        }
        let want = now.saturating_mul(2).clamp(DEFAULT_RCVBUF, MAX_RCVBUF);
        self.set_rcvbuf(want);
        Some(self.rcvbuf() / 2)
    }

    /// One datagram, without waiting (WouldBlock when there is none; ENOBUFS when the
    /// kernel dropped some since the last receive).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        // SAFETY: sockaddr_nl is plain data; all-zero is valid.
        let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: receiving into a valid buffer of its length, the sender into `from`.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                std::ptr::addr_of_mut!(from).cast(),
                &mut len,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let kernel = len as usize == std::mem::size_of::<libc::sockaddr_nl>()
            && i32::from(from.nl_family) == libc::AF_NETLINK
            && from.nl_pid == 0;
        Ok(match kernel {
            true => Received::Kernel(n as usize),
            false => Received::Foreign(from.nl_pid),
        })
    }
}

fn namespace_id(path: &Path) -> io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Process 1, then this process's ancestors, nearest first.
fn candidates() -> Vec<u32> {
    let mut out = vec![1];
    let mut pid = std::process::id();
    for _ in 0..64 {
        match parent_of(pid) {
            Some(p) if p > 1 && !out.contains(&p) => {
                out.push(p);
                pid = p;
            }
            _ => break,
        }
    }
    out
}

/// The fourth field of /proc/PID/stat, after the name in parentheses.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

impl AsRawFd for Connector {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Connector {
    /// The kernel counts listeners to decide whether to build events at all: say goodbye.
    fn drop(&mut self) {
        let _ = self.send(&subscribe(false, 0, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::track_process::wire::{parse, ProcEvent};
    use std::time::{Duration, Instant};

    #[test]
    fn parents_come_from_proc() {
        // SAFETY: getppid has no preconditions.
        let ppid = unsafe { libc::getppid() } as u32;
        assert_eq!(parent_of(std::process::id()), Some(ppid));
        assert_eq!(parent_of(u32::MAX), None);
        let c = candidates();
        assert_eq!(c[0], 1);
        assert!(c.len() == 1 || c[1] == ppid || ppid == 1, "{c:?}");
    }

    /// Root only: the kernel answers the subscription and reports a child's exec and exit. On a
    /// busy machine the buffer may overflow and drop them (ENOBUFS): a new child is run then.
    #[test]
    fn the_kernel_answers_and_reports_a_child() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: the proc connector needs root");
            return;
        }
        let mark = 0x5eed_0000 ^ std::process::id();
        let (c, _) = Connector::open(None, false, 1, mark).expect("proc connector");
        let mut buf = [0u8; 4096];
        let (mut acked, mut lost_any) = (false, false);
        for _attempt in 0..5 {
            let mut child = std::process::Command::new("true")
                .spawn()
                .expect("run true");
            let pid = child.id();
            child.wait().expect("wait");
            let (mut exec, mut exit, mut lost) = (false, false, false);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !(lost || exec && exit) && Instant::now() < deadline {
                match c.recv(&mut buf) {
                    Ok(Received::Kernel(n)) => {
                        for ev in parse(&buf[..n]).0 {
                            match ev {
                                ProcEvent::Ack { ack, err, .. } if ack == mark.wrapping_add(1) => {
                                    assert_eq!(err, 0);
                                    acked = true;
                                }
                                ProcEvent::Exec { pid: p } if p == pid => exec = true,
                                ProcEvent::Exit { pid: p } if p == pid => exit = true,
                                _ => {}
                            }
                        }
                    }
                    Ok(Received::Foreign(p)) => panic!("a datagram from port {p}"),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => lost = true,
                    Err(e) => panic!("recv: {e}"),
                }
            }
            lost_any |= lost;
            if exec && exit {
                assert!(acked || lost_any, "the subscription is answered");
                assert!(c.grow().is_some_and(|s| s >= 1 << 20));
                return;
            }
            assert!(lost, "exec {exec}, exit {exit} of {pid} within 10 s");
        }
        panic!("events lost five times in a row");
    }
}

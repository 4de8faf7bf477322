//! TCP_CHECK connects without a future each. A connect in progress is a file descriptor in one epoll
//! set of the runner's, with its deadline in a heap: about 40 bytes, where a tokio connect under a
//! timeout cost about 800 (the future, its timer, its I/O registration). Under load thousands are in
//! flight at once (10,000 checks a second against servers slow to answer), so this was most of the
//! daemon's memory. The set's own descriptor is the only one tokio watches.

use super::net::Target;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// How a connect ended.
#[derive(Debug)]
pub enum Connected {
    Yes,
    Failed(io::Error),
    TimedOut(Duration),
}

impl Connected {
    pub fn is_yes(&self) -> bool {
        matches!(self, Connected::Yes)
    }
}

/// A finished connect of checker `slot`, and how long it took.
#[derive(Debug)]
pub struct Done {
    pub slot: u32,
    pub result: Connected,
    pub took: Duration,
}

struct Waiting {
    fd: OwnedFd,
    slot: u32,
    ticket: u32,
    started: Instant,
    timeout: Duration,
}

pub struct Connects {
    ep: AsyncFd<OwnedFd>,
    /// Indexed by descriptor number (small integers, reused after close).
    waiting: Vec<Option<Waiting>>,
    /// (deadline, fd, ticket), earliest first; an entry whose fd now holds another ticket is stale.
    deadlines: BinaryHeap<Reverse<(Instant, RawFd, u32)>>,
    done: VecDeque<Done>,
    next_ticket: u32,
    in_flight: usize,
}

/// Events taken from the set per epoll_wait.
const BATCH: usize = 256;

impl Connects {
    pub fn new() -> io::Result<Connects> {
        // SAFETY: epoll_create1 returns a new descriptor or -1.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd is moved into the AsyncFd, which keeps it open for its own life.
        let ep = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(Connects {
            ep,
            waiting: Vec::new(),
            deadlines: BinaryHeap::new(),
            done: VecDeque::new(),
            next_ticket: 0,
            in_flight: 0,
        })
    }

    /// Connects in progress.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Starts checker `slot`'s connect to `target`; a connect that ends at once is done at once.
    pub fn start(&mut self, slot: u32, target: &Target) {
        let started = Instant::now();
        let finish = |result| Done {
            slot,
            result,
            took: started.elapsed(),
        };
        let sock = match target.socket(socket2::Type::STREAM, socket2::Protocol::TCP) {
            Ok(s) => s,
            Err(e) => return self.done.push_back(finish(Connected::Failed(e))),
        };
        match sock.connect(&target.addr.into()) {
            Ok(()) => {
                reset_on_close(sock.as_fd());
                return self.done.push_back(finish(Connected::Yes));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return self.done.push_back(finish(Connected::Failed(e))),
        }
        // SAFETY: into_raw_fd hands over the socket's only owner.
        let fd = unsafe { OwnedFd::from_raw_fd(sock.into_raw_fd()) };
        let raw = fd.as_raw_fd();
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32,
            u64: raw as u64,
        };
        // SAFETY: both descriptors are open; ev outlives the call.
        if unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, &mut ev) } != 0 {
            return self
                .done
                .push_back(finish(Connected::Failed(io::Error::last_os_error())));
        }
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        let i = raw as usize;
        if self.waiting.len() <= i {
            self.waiting.resize_with(i + 1, || None);
        }
        self.deadlines
            .push(Reverse((started + target.timeout, raw, ticket)));
        self.waiting[i] = Some(Waiting {
            fd,
            slot,
            ticket,
            started,
            timeout: target.timeout,
        });
        self.in_flight += 1;
    }

    /// When the earliest connect still in progress times out. Deadlines of connects that ended are
    /// dropped here, or the runner would wake for each of them (most connects end well before).
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, raw, ticket))) = self.deadlines.peek() {
            let live = self
                .waiting
                .get(raw as usize)
                .and_then(Option::as_ref)
                .is_some_and(|w| w.ticket == ticket);
            if live {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Fails the connects whose deadline has passed.
    pub fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, raw, ticket))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            if let Some(w) = self.take(raw, Some(ticket)) {
                // Closing the socket also removes it from the epoll set.
                self.done.push_back(Done {
                    slot: w.slot,
                    result: Connected::TimedOut(w.timeout),
                    took: w.started.elapsed(),
                });
            }
        }
    }

    /// Waits until a connect in progress has an answer, then collects every answer there is.
    pub async fn collect(&mut self) {
        let Ok(mut guard) = self.ep.readable().await else {
            return;
        };
        // Cleared before draining: an answer arriving after the last epoll_wait makes the set
        // readable again, so none is missed.
        guard.clear_ready();
        drop(guard);
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            // SAFETY: events has room for BATCH entries; timeout 0 never blocks.
            let n = unsafe {
                libc::epoll_wait(self.ep.as_raw_fd(), events.as_mut_ptr(), BATCH as i32, 0)
            };
            if n <= 0 {
                return;
            }
            for ev in &events[..n as usize] {
                let raw = ev.u64 as RawFd;
                let flags = ev.events;
                if let Some(w) = self.take(raw, None) {
                    // Writable without error or hang-up is a connect that succeeded: SO_ERROR is
                    // asked only when there is an error to name (one syscall less per check).
                    let failed = flags & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
                    let result = match if failed { socket_error(&w.fd) } else { Ok(()) } {
                        Ok(()) => {
                            reset_on_close(w.fd.as_fd());
                            Connected::Yes
                        }
                        Err(e) => Connected::Failed(e),
                    };
                    self.done.push_back(Done {
                        slot: w.slot,
                        result,
                        took: w.started.elapsed(),
                    });
                }
            }
            if (n as usize) < BATCH {
                return;
            }
        }
    }

    /// The next finished connect.
    pub fn pop_done(&mut self) -> Option<Done> {
        self.done.pop_front()
    }

    /// Waits for the next finished connect, collecting answers and expiring deadlines meanwhile (for
    /// a caller without a scheduler of its own: one check, a test). With nothing started it waits
    /// forever.
    pub async fn next_done(&mut self) -> Done {
        loop {
            if let Some(d) = self.pop_done() {
                return d;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                _ = self.collect() => {}
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.expire(Instant::now());
                }
            }
        }
    }

    fn take(&mut self, raw: RawFd, ticket: Option<u32>) -> Option<Waiting> {
        let entry = self.waiting.get_mut(raw as usize)?;
        if ticket.is_some_and(|t| entry.as_ref().is_none_or(|w| w.ticket != t)) {
            return None;
        }
        let w = entry.take()?;
        self.in_flight -= 1;
        Some(w)
    }
}

/// A connection that opened has answered the check: closing it with a reset (SO_LINGER 0) ends it
/// at once on both sides, where a FIN would cost the exchange of FINs and leave a TIME_WAIT socket,
/// on the director when it closes first: 60 s of ports per check, 600,000 sockets at 10,000 checks
/// a second. Health checkers commonly close this way (HAProxy's do).
fn reset_on_close(fd: BorrowedFd<'_>) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: fd is open; linger is valid for the duration of the call. A failure only means the
    // socket closes with a FIN.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// SO_ERROR: what the finished non-blocking connect returned.
fn socket_error(fd: &OwnedFd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for the duration of the call.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    match (r, err) {
        (0, 0) => Ok(()),
        (0, e) => Err(io::Error::from_raw_os_error(e)),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener};

    fn target(addr: SocketAddr, timeout_ms: u64) -> Target {
        Target::new(addr, "tcp", Duration::from_millis(timeout_ms))
    }

    #[tokio::test]
    async fn open_port_passes_and_closed_port_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = l.local_addr().unwrap();
        // Bound but not listening, and without SO_REUSEADDR: refused, and no test running in
        // parallel can take the port while we hold it (a released port could be reused).
        let hold =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        hold.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let closed = hold.local_addr().unwrap().as_socket().unwrap();
        let mut c = Connects::new().unwrap();
        c.start(7, &target(open, 2000));
        let d = c.next_done().await;
        assert_eq!(d.slot, 7);
        assert!(matches!(d.result, Connected::Yes), "{d:?}");
        c.start(8, &target(closed, 2000));
        let d = c.next_done().await;
        assert_eq!(d.slot, 8);
        match d.result {
            Connected::Failed(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            r => panic!("expected refused, got {r:?}"),
        }
        assert_eq!(c.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_connection_that_opened_is_closed_with_a_reset() {
        use std::io::Read;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = Connects::new().unwrap();
        c.start(1, &target(l.local_addr().unwrap(), 2000));
        let d = c.next_done().await;
        assert!(matches!(d.result, Connected::Yes), "{d:?}");
        // The checker's socket is closed by now: the server reads a reset, not an end of stream,
        // and the director keeps no TIME_WAIT socket for the check.
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 8];
        let e = s.read(&mut buf).expect_err("a reset");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn unanswered_connect_times_out_and_its_socket_is_closed() {
        // A listener that never accepts, its backlog full: further SYNs go unanswered.
        let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        let _fill: Vec<_> = (0..2)
            .filter_map(|_| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
            })
            .collect();
        let mut c = Connects::new().unwrap();
        c.start(3, &target(addr, 300));
        assert_eq!(c.in_flight(), 1);
        let d = c.next_done().await;
        assert_eq!(d.slot, 3);
        assert!(
            matches!(d.result, Connected::TimedOut(t) if t == Duration::from_millis(300)),
            "{d:?}"
        );
        assert!(d.took >= Duration::from_millis(300));
        assert_eq!(c.in_flight(), 0);
        assert!(c.waiting.iter().all(Option::is_none));
    }
}

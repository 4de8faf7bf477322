//! Where a checker connects and how: address, source binding, interface, fwmark, timeout; and the
//! sockets built from that (socket2 for the options tokio does not expose).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// The resolved connection options of one checker. Held by every checker for the daemon's life,
/// so the options few configurations use are boxed apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// "tcp" or "udp", as keepalived's `[ip]:tcp:port` log form shows it.
    pub proto: &'static str,
    pub bind: Option<Box<Bind>>,
    pub timeout: Duration,
}

/// Source address, port, interface and mark of a checker's sockets.
pub use crate::config::model::SourceBind as Bind;

impl Target {
    pub fn new(addr: SocketAddr, proto: &'static str, timeout: Duration) -> Target {
        Target {
            addr,
            proto,
            bind: None,
            timeout,
        }
    }

    /// Sets the binding; an empty one is not kept.
    pub fn set_bind(&mut self, b: Bind) {
        self.bind = (b != Bind::default()).then(|| Box::new(b));
    }

    /// `[10.0.0.2]:tcp:3306`
    pub fn name(&self) -> String {
        format!("[{}]:{}:{}", self.addr.ip(), self.proto, self.addr.port())
    }

    /// A socket of `ty` with the source address, interface and mark applied.
    pub fn socket(&self, ty: Type, proto: Protocol) -> io::Result<Socket> {
        // Non-blocking and close-on-exec from socket(2) itself: no fcntl calls on every check.
        let sock = Socket::new(
            Domain::for_address(self.addr),
            ty.nonblocking(),
            Some(proto),
        )?;
        let Some(b) = &self.bind else {
            return Ok(sock);
        };
        if let Some(mark) = b.fwmark {
            sock.set_mark(mark)?;
        }
        if let Some(dev) = &b.bind_if {
            sock.bind_device(Some(dev.as_bytes()))?;
        }
        if b.bindto.is_some() || b.bind_port.is_some() {
            let ip = b.bindto.unwrap_or(match self.addr {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            });
            if b.bind_port.is_some() {
                // A fixed source port is reused by every probe, while the last one is in TIME_WAIT.
                sock.set_reuse_address(true)?;
            }
            sock.bind(&SockAddr::from(SocketAddr::new(
                ip,
                b.bind_port.unwrap_or(0),
            )))?;
        }
        Ok(sock)
    }

    /// A TCP connection (no timeout: callers wrap the whole exchange in one).
    pub async fn connect_tcp(&self) -> io::Result<TcpStream> {
        let sock = self.socket(Type::STREAM, Protocol::TCP)?;
        let sock = TcpSocket::from_std_stream(std::net::TcpStream::from(sock));
        sock.connect(self.addr).await
    }

    /// A connected UDP socket: ICMP errors for it come back as errors on receive.
    pub fn connect_udp(&self) -> io::Result<UdpSocket> {
        let sock = self.socket(Type::DGRAM, Protocol::UDP)?;
        match sock.connect(&SockAddr::from(self.addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        UdpSocket::from_std(std::net::UdpSocket::from(sock))
    }
}

/// Runs `fut` under `limit`; `Err(text)` says "timeout after 5 s".
pub async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("timeout after {}", secs(limit)))
}

/// `5 s`, `0.5 s`
pub fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// An I/O error as operators read it: "connection refused", "no route to host".
pub fn io_text(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        k @ (K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::TimedOut
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::AddrInUse
        | K::PermissionDenied
        | K::UnexpectedEof
        | K::BrokenPipe) => k.to_string(),
        _ => e.to_string(),
    }
}

//! PING_CHECK: one ICMP (or ICMPv6) echo request; the matching echo reply must come within
//! connect_timeout. An unprivileged ping (datagram) socket is tried first; when the system does not
//! allow it (net.ipv4.ping_group_range), a raw socket is used (root).

use super::decide::Outcome;
use super::net::{io_text, within, Bind, Target};
use socket2::{Protocol, SockAddr, Socket, Type};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use tokio::io::unix::AsyncFd;

#[derive(Debug, Clone)]
pub struct PingProbe {
    pub target: Target,
}

const ECHO_V4: u8 = 8;
const REPLY_V4: u8 = 0;
const ECHO_V6: u8 = 128;
const REPLY_V6: u8 = 129;

impl PingProbe {
    pub async fn run(&self) -> Outcome {
        let name = format!("[{}]", self.target.addr.ip());
        match within(self.target.timeout, self.exchange()).await {
            Ok(Ok(())) => Outcome::pass(format!("ICMP echo to {name} success")),
            Ok(Err(e)) | Err(e) => Outcome::fail(format!("ICMP echo to {name} failed: {e}")),
        }
    }

    fn open(&self) -> io::Result<(Socket, bool)> {
        let proto = if self.target.addr.is_ipv4() {
            Protocol::ICMPV4
        } else {
            Protocol::ICMPV6
        };
        let mut t = self.target.clone();
        if let Some(b) = t.bind.take() {
            t.set_bind(Bind {
                bind_port: None,
                ..*b
            });
        }
        match t.socket(Type::DGRAM, proto) {
            Ok(s) => Ok((s, false)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
                Ok((t.socket(Type::RAW, proto)?, true))
            }
            Err(e) => Err(e),
        }
    }

    async fn exchange(&self) -> Result<(), String> {
        let (sock, raw) = self
            .open()
            .map_err(|e| format!("cannot open an ICMP socket: {}", io_text(&e)))?;
        let ip = self.target.addr.ip();
        sock.connect(&SockAddr::from(SocketAddr::new(ip, 0)))
            .map_err(|e| io_text(&e))?;
        let id: u16 = rand::random();
        let seq: u16 = rand::random();
        let packet = echo_request(ip.is_ipv4(), id, seq);
        // SAFETY: the AsyncFd owns the Socket, so its descriptor stays open and the same until drop.
        let fd = unsafe { AsyncFd::register(sock) }.map_err(|e| e.to_string())?;
        loop {
            let mut guard = fd.writable().await.map_err(|e| io_text(&e))?;
            match guard.try_io(|s| s.get_ref().send(&packet)) {
                Ok(r) => {
                    r.map_err(|e| io_text(&e))?;
                    break;
                }
                Err(_would_block) => continue,
            }
        }
        let mut buf = [0u8; 2048];
        loop {
            let mut guard = fd.readable().await.map_err(|e| io_text(&e))?;
            let n = match guard.try_io(|s| s.get_ref().read(&mut buf)) {
                Ok(r) => r.map_err(|e| io_text(&e))?,
                Err(_would_block) => continue,
            };
            // Datagram sockets own their identifier (the kernel rewrites it), raw ones see all.
            if is_reply(&buf[..n], ip, raw, id, seq) {
                return Ok(());
            }
        }
    }
}

/// An echo request with a 16-byte payload; the ICMPv4 checksum is ours, the kernel does ICMPv6's.
pub fn echo_request(v4: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v4 { ECHO_V4 } else { ECHO_V6 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"lvsd PING_CHECK!");
    if v4 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `pkt` is the reply to our request. IPv4 raw sockets deliver the IP header too.
pub fn is_reply(pkt: &[u8], ip: IpAddr, raw: bool, id: u16, seq: u16) -> bool {
    let icmp = if raw && ip.is_ipv4() {
        let ihl = usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4;
        match pkt.get(ihl..) {
            Some(rest) if ihl >= 20 => rest,
            _ => return false,
        }
    } else {
        pkt
    };
    if icmp.len() < 8 {
        return false;
    }
    let want = if ip.is_ipv4() { REPLY_V4 } else { REPLY_V6 };
    let got_id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let got_seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    icmp[0] == want && got_seq == seq && (!raw || got_id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies() {
        let p = echo_request(true, 0x1234, 7);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn reply_matching() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mut reply = echo_request(true, 9, 5);
        reply[0] = REPLY_V4;
        assert!(
            is_reply(&reply, v4, false, 1, 5),
            "dgram: id is the kernel's"
        );
        assert!(!is_reply(&reply, v4, false, 9, 6));
        let mut with_ip = vec![0x45; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert!(is_reply(&with_ip, v4, true, 9, 5));
        assert!(!is_reply(&with_ip, v4, true, 8, 5), "raw: id must match");
        assert!(
            !is_reply(&echo_request(true, 9, 5), v4, false, 9, 5),
            "a request is no reply"
        );
    }
}

//! Raw IP sockets for VRRP (protocol 112). One receiving socket per (interface, family) joined to
//! the VRRP groups, one sending socket per instance bound to its source address, so the kernel
//! fills in the IP header with TTL / hop limit 255 (RFC 5798 section 5.1).

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::checksum::IPPROTO_VRRP;
use super::packet::Family;
use super::validate::RxPacket;

/// Largest VRRP packet we accept (255 IPv6 addresses + headers fit comfortably).
const RX_BUF: usize = 9000;

/// Why a received datagram could not be turned into an `RxPacket` (counted, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RxError {
    #[error("truncated IPv4 header ({0} bytes)")]
    ShortIpHeader(usize),
    #[error("not IPv4 (version {0})")]
    NotIpv4(u8),
    #[error("not VRRP (protocol {0})")]
    NotVrrp(u8),
    #[error("IPv6 datagram without hop limit or destination")]
    MissingAncillary,
}

/// Splits a datagram of an IPv4 raw socket (the IP header comes with it).
pub fn parse_ipv4(buf: &[u8]) -> Result<RxPacket, RxError> {
    let short = || RxError::ShortIpHeader(buf.len());
    let first = *buf.first().ok_or_else(short)?;
    if first >> 4 != 4 {
        return Err(RxError::NotIpv4(first >> 4));
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || buf.len() < ihl {
        return Err(short());
    }
    if buf[9] != IPPROTO_VRRP {
        return Err(RxError::NotVrrp(buf[9]));
    }
    let total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    let end = if total >= ihl && total <= buf.len() {
        total
    } else {
        buf.len()
    };
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
    Ok(RxPacket {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: buf[8],
        payload: buf[ihl..end].to_vec(),
    })
}

fn raw(family: Family) -> io::Result<Socket> {
    let domain = match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    };
    let s = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(IPPROTO_VRRP))),
    )?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Receives every VRRP packet arriving on one interface.
pub struct RxSocket {
    fd: AsyncFd<Socket>,
    family: Family,
}

impl RxSocket {
    pub fn open(ifname: &str, ifindex: u32, family: Family, groups: &[IpAddr]) -> io::Result<Self> {
        let s = raw(family)?;
        s.bind_device(Some(ifname.as_bytes()))?;
        for g in groups {
            match g {
                IpAddr::V4(g) => {
                    s.join_multicast_v4_n(g, &InterfaceIndexOrAddress::Index(ifindex))?
                }
                IpAddr::V6(g) => s.join_multicast_v6(g, ifindex)?,
            }
        }
        if family == Family::V6 {
            s.set_recv_hoplimit_v6(true)?;
            set_int(&s, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        }
        // SAFETY: the Socket owns its descriptor, which stays open and unchanged as long as the
        // AsyncFd that owns the Socket.
        let fd = unsafe { AsyncFd::register(s) }.map_err(|e| e.into_parts().1)?;
        Ok(RxSocket { fd, family })
    }

    /// Next datagram; malformed ones come back as `Ok(Err(..))` for the statistics.
    pub async fn recv(&self) -> io::Result<Result<RxPacket, RxError>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let r = guard.try_io(|fd| match self.family {
                Family::V4 => {
                    let mut buf = [MaybeUninit::<u8>::uninit(); RX_BUF];
                    let n = fd.get_ref().recv(&mut buf)?;
                    // SAFETY: recv initialised the first n bytes.
                    let bytes: Vec<u8> = buf[..n]
                        .iter()
                        .map(|b| unsafe { b.assume_init() })
                        .collect();
                    Ok(parse_ipv4(&bytes))
                }
                Family::V6 => recv_v6(fd.get_ref()),
            });
            match r {
                Ok(res) => return res,
                Err(_would_block) => continue,
            }
        }
    }
}

fn set_multicast_ifindex_v4(s: &Socket, ifindex: u32) -> io::Result<()> {
    let m = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: i32::try_from(ifindex).unwrap_or(0),
    };
    // SAFETY: setsockopt with a pointer to a live ip_mreqn and its exact size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&m as *const libc::ip_mreqn).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_int(s: &Socket, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// recvmsg(2) on an IPv6 raw socket: the payload, the source, and from ancillary data the hop
/// limit (IPV6_HOPLIMIT) and the destination (IPV6_PKTINFO).
fn recv_v6(s: &Socket) -> io::Result<Result<RxPacket, RxError>> {
    let mut buf = vec![0u8; RX_BUF];
    let mut cmsg = [0u64; 64];
    // SAFETY: zeroed sockaddr_in6 / msghdr are valid; every pointer refers to a live buffer
    // of the stated length for the duration of the call.
    let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    let mut hops = None;
    let mut dst = None;
    // SAFETY: CMSG_* walk the control buffer the kernel filled, within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let v = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    hops = u8::try_from(v).ok();
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let src = Ipv6Addr::from(from.sin6_addr.s6_addr);
    Ok(match (hops, dst) {
        (Some(ttl), Some(dst)) => Ok(RxPacket {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl,
            payload: buf,
        }),
        _ => Err(RxError::MissingAncillary),
    })
}

/// Sends one instance's adverts from its primary address.
pub struct TxSocket {
    sock: Socket,
    ifindex: u32,
}

impl TxSocket {
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr, ttl: u8) -> io::Result<Self> {
        let s = raw(Family::of(src))?;
        s.bind_device(Some(ifname.as_bytes()))?;
        match src {
            IpAddr::V4(_) => {
                s.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
                // By index, not by address: the source may live on another interface than
                // the one we send on (a VMAC sends from its base interface's address).
                set_multicast_ifindex_v4(&s, ifindex)?;
                s.set_multicast_ttl_v4(255)?;
                s.set_multicast_loop_v4(false)?;
                s.set_ttl_v4(u32::from(ttl))?;
            }
            IpAddr::V6(a) => {
                let scope = if is_link_local(&a) { ifindex } else { 0 };
                s.bind(&SockAddr::from(SocketAddrV6::new(a, 0, 0, scope)))?;
                s.set_multicast_if_v6(ifindex)?;
                s.set_multicast_hops_v6(255)?;
                s.set_multicast_loop_v6(false)?;
                s.set_unicast_hops_v6(u32::from(ttl))?;
            }
        }
        Ok(TxSocket { sock: s, ifindex })
    }

    /// Sends without blocking; a full socket buffer drops the advert (the next one follows).
    pub fn send(&self, dst: IpAddr, bytes: &[u8]) -> io::Result<()> {
        let to = match dst {
            IpAddr::V4(_) => SocketAddr::new(dst, 0),
            IpAddr::V6(a) => {
                let scope = if is_link_local(&a) || a.is_multicast() {
                    self.ifindex
                } else {
                    0
                };
                SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope))
            }
        };
        self.sock.send_to(bytes, &SockAddr::from(to)).map(|_| ())
    }
}

pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_datagram(ttl: u8, proto: u8, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut b = vec![0x45, 0xc0];
        b.extend_from_slice(&total.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, ttl, proto, 0, 0]);
        b.extend_from_slice(&[10, 0, 0, 2, 224, 0, 0, 18]);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn ipv4_header_gives_ttl_addresses_and_payload() {
        let rx = parse_ipv4(&ipv4_datagram(255, 112, &[0x21, 51, 100, 1])).unwrap();
        assert_eq!(rx.ttl, 255);
        assert_eq!(rx.src, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(rx.dst, "224.0.0.18".parse::<IpAddr>().unwrap());
        assert_eq!(rx.payload, vec![0x21, 51, 100, 1]);
    }

    #[test]
    fn garbage_datagrams_are_errors_not_panics() {
        assert_eq!(parse_ipv4(&[]), Err(RxError::ShortIpHeader(0)));
        assert_eq!(parse_ipv4(&[0x45, 0, 0]), Err(RxError::ShortIpHeader(3)));
        assert_eq!(parse_ipv4(&[0x65; 40]), Err(RxError::NotIpv4(6)));
        assert_eq!(
            parse_ipv4(&ipv4_datagram(255, 6, &[1])),
            Err(RxError::NotVrrp(6))
        );
        let mut long_ihl = ipv4_datagram(255, 112, &[]);
        long_ihl[0] = 0x4f;
        assert!(parse_ipv4(&long_ihl).is_err());
        for len in 0..64 {
            let _ = parse_ipv4(&vec![0x46; len]);
        }
    }
}

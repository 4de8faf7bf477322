//! Gratuitous ARP (AF_PACKET) and unsolicited neighbour advertisements (ICMPv6) that tell the
//! segment a VIP moved to this host.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const ETH_P_ARP: u16 = 0x0806;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An Ethernet frame with a gratuitous ARP request: sender and target are both the VIP
/// (RFC 5227 "ARP announcement"), broadcast.
pub fn garp_frame(mac: &[u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet, IPv4, request
    f.extend_from_slice(mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&vip.octets());
    f
}

/// An ICMPv6 neighbour advertisement for `target` with the override flag and our link-layer
/// address; the kernel fills in the checksum of ICMPv6 raw sockets.
pub fn na_message(mac: &[u8; 6], target: Ipv6Addr) -> Vec<u8> {
    let mut m = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    m.extend_from_slice(&[2, 1]); // target link-layer address option, 8 bytes
    m.extend_from_slice(mac);
    m
}

/// Sockets to announce the VIPs of one interface.
pub struct Announcer {
    ifindex: u32,
    mac: [u8; 6],
    packet: Option<OwnedFd>,
    icmp6: Option<Socket>,
}

impl Announcer {
    /// Opens what the VIPs' families need. An interface without a 6-byte MAC (e.g. a tunnel)
    /// gets no announcements.
    pub fn open(ifname: &str, ifindex: u32, mac: &[u8], v4: bool, v6: bool) -> io::Result<Self> {
        let Ok(mac) = <[u8; 6]>::try_from(mac) else {
            return Ok(Announcer {
                ifindex,
                mac: [0; 6],
                packet: None,
                icmp6: None,
            });
        };
        let packet = if v4 { Some(packet_socket()?) } else { None };
        let icmp6 = if v6 {
            let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
            s.bind_device(Some(ifname.as_bytes()))?;
            s.set_multicast_if_v6(ifindex)?;
            s.set_multicast_hops_v6(255)?;
            s.set_unicast_hops_v6(255)?;
            s.set_nonblocking(true)?;
            Some(s)
        } else {
            None
        };
        Ok(Announcer {
            ifindex,
            mac,
            packet,
            icmp6,
        })
    }

    pub fn announce(&self, vip: IpAddr) -> io::Result<()> {
        match vip {
            IpAddr::V4(a) => match &self.packet {
                Some(fd) => self.send_frame(fd, &garp_frame(&self.mac, a)),
                None => Ok(()),
            },
            IpAddr::V6(a) => match &self.icmp6 {
                Some(s) => {
                    let to = SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex);
                    s.send_to(&na_message(&self.mac, a), &SockAddr::from(to))
                        .map(|_| ())
                }
                None => Ok(()),
            },
        }
    }

    fn send_frame(&self, fd: &OwnedFd, frame: &[u8]) -> io::Result<()> {
        // SAFETY: a zeroed sockaddr_ll is valid; we fill the fields sendto needs and pass
        // pointers to live buffers with their exact lengths.
        let mut ll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = ETH_P_ARP.to_be();
        ll.sll_ifindex = self.ifindex as i32;
        ll.sll_halen = 6;
        ll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        let r = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
                (&ll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// A send-only packet socket (protocol 0: it receives nothing).
fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) returns a new descriptor that we own, or -1.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a freshly created, valid descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    #[test]
    fn garp_is_a_broadcast_arp_request_for_the_vip_itself() {
        let f = garp_frame(&MAC, Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "opcode request");
        assert_eq!(&f[22..28], &MAC, "sender MAC");
        assert_eq!(&f[28..32], &[192, 0, 2, 10], "sender IP");
        assert_eq!(&f[38..42], &[192, 0, 2, 10], "target IP");
    }

    #[test]
    fn na_carries_override_target_and_our_mac() {
        let t: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = na_message(&MAC, t);
        assert_eq!(m.len(), 32);
        assert_eq!(m[0], 136);
        assert_eq!(m[4] & 0x20, 0x20, "override flag");
        assert_eq!(m[4] & 0x40, 0, "not solicited");
        assert_eq!(&m[8..24], &t.octets());
        assert_eq!(&m[24..26], &[2, 1]);
        assert_eq!(&m[26..32], &MAC);
    }
}

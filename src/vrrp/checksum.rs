//! Internet checksum (RFC 1071) and the VRRPv3 pseudo-headers (RFC 5798 section 5.2.8).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IPv4 multicast group of VRRP (RFC 5798 section 5.1.1.2).
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group of VRRP (RFC 5798 section 5.1.2.2).
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// How the checksum of a VRRPv3 message is computed. VRRPv2 always sums the message alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// RFC 5798: pseudo-header with the real source and destination addresses.
    #[default]
    Rfc,
    /// No pseudo-header, as in VRRPv2. Later keepalived versions (not 2.2.7) call this
    /// `v3_checksum_as_v2`; some vendors do this for IPv4.
    AsV2,
    /// keepalived before 1.3.6 put the multicast group in the pseudo-header even for unicast
    /// adverts; keepalived's `old_unicast_checksum` keeps talking to such peers.
    OldUnicast,
}

/// One's-complement sum accumulator over 16-bit big-endian words.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum(u32);

impl Sum {
    pub fn bytes(mut self, bytes: &[u8]) -> Sum {
        let mut chunks = bytes.chunks_exact(2);
        for c in &mut chunks {
            self.0 += u32::from(u16::from_be_bytes([c[0], c[1]]));
            self.fold();
        }
        if let [last] = chunks.remainder() {
            // An odd trailing byte is padded with a zero byte on the right (RFC 1071).
            self.0 += u32::from(*last) << 8;
            self.fold();
        }
        self
    }

    fn fold(&mut self) {
        while self.0 > 0xffff {
            self.0 = (self.0 & 0xffff) + (self.0 >> 16);
        }
    }

    /// The checksum field value: the complement of the folded sum.
    pub fn finish(self) -> u16 {
        !(self.0 as u16)
    }
}

/// Checksum of a VRRP message, with or without a pseudo-header.
/// `msg` must carry zero in the checksum field when computing, or the received value when
/// verifying (a correct message then sums to zero).
pub fn vrrp_checksum(msg: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut sum = Sum::default();
    if let Some((src, dst)) = pseudo {
        sum = add_pseudo_header(sum, src, dst, msg.len());
    }
    sum.bytes(msg).finish()
}

/// Adds the pseudo-header of RFC 5798 section 5.2.8 (IPv4 as in RFC 768, IPv6 as in RFC 8200).
/// Mixed families (a caller bug) sum only the addresses given, so the check simply fails.
fn add_pseudo_header(sum: Sum, src: IpAddr, dst: IpAddr, len: usize) -> Sum {
    match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            sum.bytes(&s.octets())
                .bytes(&d.octets())
                .bytes(&len.to_be_bytes())
                .bytes(&[0, 0, 0, IPPROTO_VRRP])
        }
        _ => {
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            sum.bytes(&addr_bytes(src))
                .bytes(&addr_bytes(dst))
                .bytes(&[0, IPPROTO_VRRP])
                .bytes(&len.to_be_bytes())
        }
    }
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The pseudo-header addresses to use for a VRRPv3 message, or None when the mode omits it.
pub fn v3_pseudo(mode: ChecksumMode, src: IpAddr, dst: IpAddr) -> Option<(IpAddr, IpAddr)> {
    match mode {
        ChecksumMode::Rfc => Some((src, dst)),
        ChecksumMode::AsV2 => None,
        ChecksumMode::OldUnicast => {
            let group = match src {
                IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP_V4),
                IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP_V6),
            };
            Some((src, group))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sum() {
        // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded),
        // so the checksum is its complement 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Sum::default().bytes(&data).finish(), !0xddf2u16);
    }

    #[test]
    fn odd_length_pads_right() {
        // [0xab] is the word 0xab00.
        assert_eq!(Sum::default().bytes(&[0xab]).finish(), !0xab00u16);
    }

    #[test]
    fn message_with_its_checksum_sums_to_zero() {
        let mut msg = vec![0x31, 0x07, 0x64, 0x01, 0x00, 0x64, 0, 0, 10, 0, 0, 7];
        let c = vrrp_checksum(&msg, None);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(vrrp_checksum(&msg, None), 0);
    }
}

//! VRRP advertisement codec: VRRPv2 (RFC 3768 section 5.1) and VRRPv3 (RFC 5798 section 5.1),
//! over IPv4 or IPv6. Decoding checks structure only; what a packet means to an instance is
//! judged in `validate`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use thiserror::Error;

use super::checksum::{self, ChecksumMode};

/// Fixed header length, common to both versions.
pub const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data length (RFC 3768 section 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// The only packet type defined (ADVERTISEMENT).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// VRRPv3 Max Adver Int is a 12-bit field of centiseconds.
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6; RFC 2338 for the PASS and AH types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0.
    None,
    /// Type 1: up to 8 bytes of clear text, zero padded.
    Pass([u8; AUTH_DATA_LEN]),
    /// Type 2 (IPsec AH) or any other value, carried as received.
    Other { kind: u8, data: [u8; AUTH_DATA_LEN] },
}

impl Auth {
    /// A PASS authentication from the configured password: only the first 8 bytes count,
    /// as keepalived documents for `auth_pass`.
    pub fn pass(password: &str) -> Auth {
        let mut data = [0u8; AUTH_DATA_LEN];
        for (d, s) in data.iter_mut().zip(password.as_bytes()) {
            *d = *s;
        }
        Auth::Pass(data)
    }

    pub fn kind(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Other { kind, .. } => *kind,
        }
    }

    fn data(&self) -> [u8; AUTH_DATA_LEN] {
        match self {
            Auth::None => [0; AUTH_DATA_LEN],
            Auth::Pass(d) | Auth::Other { data: d, .. } => *d,
        }
    }
}

/// One advertisement, as sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// Advertisement interval field: seconds for VRRPv2 (8 bits), centiseconds for VRRPv3
    /// (12 bits).
    pub interval: u16,
    /// VRRPv2 only; always `Auth::None` for VRRPv3.
    pub auth: Auth,
    pub addresses: Vec<IpAddr>,
}

/// Where the message goes, for the VRRPv3 pseudo-header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub mode: ChecksumMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("packet too short: {len} bytes, the VRRP header needs {HEADER_LEN}")]
    TooShort { len: usize },
    #[error("unsupported VRRP version {0}")]
    BadVersion(u8),
    #[error("invalid packet type {0}, expected 1 (ADVERTISEMENT)")]
    BadType(u8),
    #[error("packet length {len} does not match {count} addresses: expected {expected} bytes")]
    LengthMismatch {
        len: usize,
        count: u8,
        expected: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{0} addresses do not fit the 8-bit count field")]
    TooManyAddresses(usize),
    #[error("address {0} is not of the advert's family")]
    MixedFamilies(IpAddr),
    #[error("advert interval {0} does not fit the version's field")]
    IntervalOutOfRange(u16),
}

impl Advert {
    /// Advertisement interval as a duration.
    pub fn interval_duration(&self) -> Duration {
        match self.version {
            Version::V2 => Duration::from_secs(u64::from(self.interval)),
            Version::V3 => Duration::from_millis(u64::from(self.interval) * 10),
        }
    }

    /// Message length for `count` addresses of `family`. VRRPv2 over IPv6 (keepalived's, outside
    /// strict mode) carries no authentication data.
    pub fn wire_len(version: Version, family: Family, count: usize) -> usize {
        HEADER_LEN + count * family.addr_len() + auth_data_len(version, family)
    }

    /// Encodes the message with its checksum. `to` gives the pseudo-header for VRRPv3 (unused
    /// for VRRPv2); its family also decides the family when the address list is empty.
    pub fn encode(&self, to: &Endpoints) -> Result<Vec<u8>, EncodeError> {
        let family = self
            .addresses
            .first()
            .map(|a| Family::of(*a))
            .unwrap_or(Family::of(to.src));
        if let Some(a) = self.addresses.iter().find(|a| Family::of(**a) != family) {
            return Err(EncodeError::MixedFamilies(*a));
        }
        let count = u8::try_from(self.addresses.len())
            .map_err(|_| EncodeError::TooManyAddresses(self.addresses.len()))?;
        let mut out =
            Vec::with_capacity(Self::wire_len(self.version, family, self.addresses.len()));
        out.push((self.version.number() << 4) | TYPE_ADVERTISEMENT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(count);
        match self.version {
            Version::V2 => {
                let secs = u8::try_from(self.interval)
                    .map_err(|_| EncodeError::IntervalOutOfRange(self.interval))?;
                out.push(self.auth.kind());
                out.push(secs);
            }
            Version::V3 => {
                if self.interval > MAX_V3_INTERVAL_CS {
                    return Err(EncodeError::IntervalOutOfRange(self.interval));
                }
                // The 4 reserved bits stay zero (RFC 5798 section 5.2.5).
                out.extend_from_slice(&self.interval.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]); // checksum, filled below
        for a in &self.addresses {
            match a {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if auth_data_len(self.version, family) > 0 {
            out.extend_from_slice(&self.auth.data());
        }
        let pseudo = pseudo_header(self.version, to);
        let sum = checksum::vrrp_checksum(&out, pseudo);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(out)
    }

    /// Decodes a message whose IP header said `family`. Never panics; the checksum is not
    /// checked here (see `checksum_ok`).
    pub fn decode(bytes: &[u8], family: Family) -> Result<Advert, DecodeError> {
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::TooShort { len: bytes.len() })?;
        let version = match header[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            v => return Err(DecodeError::BadVersion(v)),
        };
        let kind = header[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(kind));
        }
        let count = header[3];
        let expected = Self::wire_len(version, family, usize::from(count));
        if bytes.len() != expected {
            return Err(DecodeError::LengthMismatch {
                len: bytes.len(),
                count,
                expected,
            });
        }
        let addr_end = HEADER_LEN + usize::from(count) * family.addr_len();
        let addresses = bytes[HEADER_LEN..addr_end]
            .chunks_exact(family.addr_len())
            .map(|c| match family {
                Family::V4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                Family::V6 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
            .collect();
        let (interval, auth) = match version {
            Version::V2 => {
                let mut data = [0u8; AUTH_DATA_LEN];
                let carried = &bytes[addr_end..];
                data[..carried.len()].copy_from_slice(carried);
                let auth = match header[4] {
                    0 => Auth::None,
                    1 => Auth::Pass(data),
                    kind => Auth::Other { kind, data },
                };
                (u16::from(header[5]), auth)
            }
            Version::V3 => (
                u16::from_be_bytes([header[4], header[5]]) & MAX_V3_INTERVAL_CS,
                Auth::None,
            ),
        };
        Ok(Advert {
            version,
            vrid: header[1],
            priority: header[2],
            interval,
            auth,
            addresses,
        })
    }

    /// The checksum field of a raw message.
    pub fn raw_checksum(bytes: &[u8]) -> Option<u16> {
        Some(u16::from_be_bytes([*bytes.get(6)?, *bytes.get(7)?]))
    }
}

fn auth_data_len(version: Version, family: Family) -> usize {
    match (version, family) {
        (Version::V2, Family::V4) => AUTH_DATA_LEN,
        _ => 0,
    }
}

/// The pseudo-header a message's checksum covers: VRRPv3's as its mode says; none for VRRPv2 over
/// IPv4, and the IPv6 one for VRRPv2 over IPv6 (keepalived has the kernel sum IPv6 adverts,
/// IPV6_CHECKSUM, whatever their version).
pub(crate) fn pseudo_header(version: Version, ends: &Endpoints) -> Option<(IpAddr, IpAddr)> {
    match version {
        Version::V2 if ends.src.is_ipv6() => Some((ends.src, ends.dst)),
        Version::V2 => None,
        Version::V3 => checksum::v3_pseudo(ends.mode, ends.src, ends.dst),
    }
}

/// Verifies the checksum of a raw message of `version`, received from `from`.
pub fn checksum_ok(bytes: &[u8], version: Version, from: &Endpoints) -> bool {
    checksum::vrrp_checksum(bytes, pseudo_header(version, from)) == 0
}

#[cfg(test)]
#[path = "packet_tests.rs"]
mod tests;

//! Receive-side checks of RFC 3768 section 7.1 / RFC 5798 section 7.1, with keepalived's
//! choices where the RFCs leave room. Every rejection has a typed reason for the log line.

use std::net::IpAddr;

use thiserror::Error;

use super::packet::{self, Advert, Auth, DecodeError, Endpoints, Family, Version};
use super::params::InstanceParams;

/// A VRRP message as the socket shell received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPacket {
    /// IP source of the advert (the sender's primary address).
    pub src: IpAddr,
    /// IP destination (multicast group or our unicast address), for the VRRPv3 pseudo-header.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6) from the IP header.
    pub ttl: u8,
    /// The VRRP message, IP header removed.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Reject {
    #[error("advert from our own address {0}")]
    FromSelf(IpAddr),
    #[error("advert from {src} has family other than ours")]
    WrongFamily { src: IpAddr },
    #[error("invalid TTL/HL {got}, expected {min}..={max}")]
    BadTtl { got: u8, min: u8, max: u8 },
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    #[error("wrong version {got}, expected {expected}")]
    WrongVersion { got: u8, expected: u8 },
    #[error("VRID {0} is not ours")]
    NotOurVrid(u8),
    #[error("bad checksum 0x{got:04x}")]
    BadChecksum { got: u16 },
    #[error("received auth type {got}, expected {expected}")]
    AuthTypeMismatch { got: u8, expected: u8 },
    #[error("authentication failed: wrong password")]
    AuthFailure,
    #[error("auth type {0} is not supported")]
    AuthUnsupported(u8),
    #[error("advertisement interval mismatch: mine {ours} s, received {got} s")]
    IntervalMismatch { got: u16, ours: u16 },
    #[error("unexpected address count {got}, expected {ours}")]
    AddressCountMismatch { got: usize, ours: usize },
    #[error("virtual address {0} not present in the advert")]
    AddressMissing(IpAddr),
}

/// Checks a received packet against our instance. `last_master` is the sender of the last
/// accepted advert (for `skip_check_adv_addr`).
///
/// A mismatched address list is rejected, as keepalived does (RFC 3768 and 5798 only say the
/// receiver MAY log it); `skip_check_adv_addr` skips the check for the known master.
pub fn validate(
    params: &InstanceParams,
    rx: &RxPacket,
    last_master: Option<IpAddr>,
) -> Result<Advert, Reject> {
    if rx.src == params.primary {
        return Err(Reject::FromSelf(rx.src));
    }
    if Family::of(rx.src) != params.family {
        return Err(Reject::WrongFamily { src: rx.src });
    }
    if !(params.min_ttl..=params.max_ttl).contains(&rx.ttl) {
        return Err(Reject::BadTtl {
            got: rx.ttl,
            min: params.min_ttl,
            max: params.max_ttl,
        });
    }
    let advert = Advert::decode(&rx.payload, params.family)?;
    if advert.version != params.version {
        return Err(Reject::WrongVersion {
            got: advert.version.number(),
            expected: params.version.number(),
        });
    }
    if advert.vrid != params.vrid {
        return Err(Reject::NotOurVrid(advert.vrid));
    }
    let ends = Endpoints {
        src: rx.src,
        dst: rx.dst,
        mode: params.checksum,
    };
    if !packet::checksum_ok(&rx.payload, advert.version, &ends) {
        return Err(Reject::BadChecksum {
            got: Advert::raw_checksum(&rx.payload).unwrap_or(0),
        });
    }
    if advert.version == Version::V2 {
        check_auth(&params.auth, &advert.auth)?;
        let ours = super::timers::v2_interval_field(params.advert_interval);
        if advert.interval != ours {
            return Err(Reject::IntervalMismatch {
                got: advert.interval,
                ours,
            });
        }
    }
    let known_master = params.skip_check_adv_addr && last_master == Some(rx.src);
    if !known_master {
        check_addresses(&params.vips, &advert.addresses)?;
    }
    Ok(advert)
}

fn check_auth(ours: &Auth, got: &Auth) -> Result<(), Reject> {
    if ours.kind() != got.kind() {
        return Err(Reject::AuthTypeMismatch {
            got: got.kind(),
            expected: ours.kind(),
        });
    }
    match (ours, got) {
        (Auth::None, Auth::None) => Ok(()),
        (Auth::Pass(a), Auth::Pass(b)) if a == b => Ok(()),
        (Auth::Pass(_), Auth::Pass(_)) => Err(Reject::AuthFailure),
        // IPsec AH lives in a header of its own, which this codec does not handle.
        _ => Err(Reject::AuthUnsupported(got.kind())),
    }
}

fn check_addresses(ours: &[IpAddr], got: &[IpAddr]) -> Result<(), Reject> {
    if ours.len() != got.len() {
        return Err(Reject::AddressCountMismatch {
            got: got.len(),
            ours: ours.len(),
        });
    }
    match ours.iter().find(|a| !got.contains(a)) {
        Some(missing) => Err(Reject::AddressMissing(*missing)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::checksum::ChecksumMode;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn ours_v2() -> InstanceParams {
        let mut p = InstanceParams::new("VI_1", 51, ip("10.0.0.1"), vec![ip("10.0.0.100")]);
        p.auth = Auth::pass("secret12");
        p
    }

    fn advert_v2() -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 120,
            interval: 1,
            auth: Auth::pass("secret12xyz"), // only 8 bytes count
            addresses: vec![ip("10.0.0.100")],
        }
    }

    fn rx(advert: &Advert, src: &str, dst: &str) -> RxPacket {
        let ends = Endpoints {
            src: ip(src),
            dst: ip(dst),
            mode: ChecksumMode::Rfc,
        };
        RxPacket {
            src: ip(src),
            dst: ip(dst),
            ttl: 255,
            payload: advert.encode(&ends).expect("encodable"),
        }
    }

    #[test]
    fn a_matching_v2_pass_advert_is_accepted() {
        let got = validate(
            &ours_v2(),
            &rx(&advert_v2(), "10.0.0.2", "224.0.0.18"),
            None,
        );
        assert_eq!(got.map(|a| a.priority), Ok(120));
    }

    #[test]
    fn every_rfc_receive_check_has_its_reason() {
        let p = ours_v2();
        let good = rx(&advert_v2(), "10.0.0.2", "224.0.0.18");
        let check = |f: &dyn Fn(&mut RxPacket, &mut Advert)| {
            let mut a = advert_v2();
            let mut r = good.clone();
            f(&mut r, &mut a);
            if a != advert_v2() {
                r.payload = rx(&a, "10.0.0.2", "224.0.0.18").payload;
            }
            validate(&p, &r, None)
        };
        assert_eq!(
            check(&|r, _| r.src = ip("10.0.0.1")),
            Err(Reject::FromSelf(ip("10.0.0.1")))
        );
        assert_eq!(
            check(&|r, _| r.ttl = 254),
            Err(Reject::BadTtl {
                got: 254,
                min: 255,
                max: 255
            })
        );
        assert_eq!(
            check(&|r, _| r.payload[0] = 0x51),
            Err(Reject::Malformed(DecodeError::BadVersion(5)))
        );
        assert_eq!(
            check(&|r, _| r.payload[0] = 0x22),
            Err(Reject::Malformed(DecodeError::BadType(2)))
        );
        assert_eq!(check(&|_, a| a.vrid = 52), Err(Reject::NotOurVrid(52)));
        assert!(matches!(
            check(&|r, _| r.payload.truncate(12)),
            Err(Reject::Malformed(DecodeError::LengthMismatch { .. }))
        ));
        assert!(matches!(
            check(&|r, _| r.payload[2] ^= 1),
            Err(Reject::BadChecksum { .. })
        ));
        assert_eq!(
            check(&|_, a| a.auth = Auth::None),
            Err(Reject::AuthTypeMismatch {
                got: 0,
                expected: 1
            })
        );
        assert_eq!(
            check(&|_, a| a.auth = Auth::pass("wrong")),
            Err(Reject::AuthFailure)
        );
        assert_eq!(
            check(&|_, a| a.interval = 2),
            Err(Reject::IntervalMismatch { got: 2, ours: 1 })
        );
        assert_eq!(
            check(&|_, a| a.addresses.push(ip("10.0.0.101"))),
            Err(Reject::AddressCountMismatch { got: 2, ours: 1 })
        );
        assert_eq!(
            check(&|_, a| a.addresses = vec![ip("10.0.0.99")]),
            Err(Reject::AddressMissing(ip("10.0.0.100")))
        );
    }

    #[test]
    fn v3_checks_pseudo_header_and_wrong_version() {
        let mut p = InstanceParams::new("VI_6", 9, ip("fe80::1"), vec![ip("2001:db8::9")]);
        p.advert_interval = Duration::from_millis(500);
        let a = Advert {
            version: Version::V3,
            vrid: 9,
            priority: 100,
            interval: 100, // a different interval is not an error in VRRPv3
            auth: Auth::None,
            addresses: vec![ip("2001:db8::9")],
        };
        let good = rx(&a, "fe80::2", "ff02::12");
        assert_eq!(validate(&p, &good, None), Ok(a.clone()));
        let mut spoofed = good.clone();
        spoofed.src = ip("fe80::3");
        assert!(matches!(
            validate(&p, &spoofed, None),
            Err(Reject::BadChecksum { .. })
        ));
        p.version = Version::V2;
        assert_eq!(
            validate(&p, &good, None),
            Err(Reject::WrongVersion {
                got: 3,
                expected: 2
            })
        );
        let mut v4 = good;
        v4.src = ip("10.0.0.2");
        assert!(matches!(
            validate(&p, &v4, None),
            Err(Reject::WrongFamily { .. })
        ));
    }

    #[test]
    fn unicast_ttl_range_and_known_master_address_skip() {
        let mut p = ours_v2();
        p.min_ttl = 1;
        p.max_ttl = 255;
        let mut a = advert_v2();
        a.addresses = vec![ip("10.0.0.99")];
        let mut r = rx(&a, "10.0.0.2", "10.0.0.1");
        r.ttl = 64;
        assert_eq!(
            validate(&p, &r, None),
            Err(Reject::AddressMissing(ip("10.0.0.100")))
        );
        p.skip_check_adv_addr = true;
        // Still checked for a new master, skipped for the one we know.
        assert!(validate(&p, &r, Some(ip("10.0.0.3"))).is_err());
        assert!(validate(&p, &r, Some(ip("10.0.0.2"))).is_ok());
    }
}

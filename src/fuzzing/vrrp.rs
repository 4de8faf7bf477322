//! Packets from the wire: VRRP adverts through the receive path of an instance (IP header split,
//! RFC checks, authentication, state machine), and the kernel's process events.

use crate::vrrp::checksum::{self, ChecksumMode};
use crate::vrrp::packet::{self, Auth, Endpoints, Version};
use crate::vrrp::params::{InitialState, InstanceParams};
use crate::vrrp::socket::parse_ipv4;
use crate::vrrp::state::{Input, Instance};
use crate::vrrp::track_process::wire;
use crate::vrrp::validate::RxPacket;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Byte 0 chooses: bit 0 IPv6 (else the bytes after are a whole IPv4 datagram; for IPv6 byte 1 is
/// the hop limit and the rest the VRRP message), bit 1 fix the checksum (so that the checks after
/// it are reached), bits 2-3 which instance hears it, bit 4 skip_check_adv_addr, bit 5 the
/// instance is MASTER (else BACKUP).
pub fn vrrp(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let v6 = sel & 1 != 0;
    let rx = if v6 {
        let Some((&ttl, payload)) = rest.split_first() else {
            return;
        };
        RxPacket {
            src: ip("fe80::2"),
            dst: ip("ff02::12"),
            ttl,
            payload: payload.to_vec(),
        }
    } else {
        match parse_ipv4(rest) {
            Ok(rx) => rx,
            Err(_) => return,
        }
    };
    let mut p = params(v6, (sel >> 2) & 3);
    p.skip_check_adv_addr = sel & 0x10 != 0;
    if sel & 0x20 != 0 {
        p.initial_state = InitialState::Master;
    }
    let rx = if sel & 2 != 0 {
        fix_checksum(rx, &p)
    } else {
        rx
    };
    hear(p, rx);
}

/// An instance hears the packet twice (the second time from a known master) and its timers run.
fn hear(p: InstanceParams, rx: RxPacket) {
    let t0 = Instant::now();
    let mut vi = Instance::new(p);
    vi.handle(t0, Input::Start);
    let t1 = t0 + Duration::from_millis(10);
    vi.handle(t1, Input::Packet(rx.clone()));
    vi.handle(t1, Input::Packet(rx));
    vi.handle(t1 + Duration::from_secs(4), Input::TimerFired);
}

/// The instances a packet may reach: VRRPv2 with PASS, without authentication, VRRPv3 with each
/// checksum mode; IPv6 ones with VRRPv3 or (keepalived outside strict mode) VRRPv2.
fn params(v6: bool, which: u8) -> InstanceParams {
    let (primary, vips) = if v6 {
        ("fe80::1", ["fe80::100", "2001:db8::100"])
    } else {
        ("10.0.0.1", ["10.0.0.100", "10.0.0.101"])
    };
    let mut p = InstanceParams::new(
        "VI_1",
        51,
        ip(primary),
        vips.iter().map(|a| ip(a)).collect(),
    );
    match which {
        0 => {
            p.version = Version::V2;
            p.auth = Auth::pass("secret12");
        }
        1 => p.version = Version::V2,
        2 => p.version = Version::V3,
        _ => {
            p.version = Version::V3;
            p.checksum = if v6 {
                ChecksumMode::AsV2
            } else {
                ChecksumMode::OldUnicast
            };
        }
    }
    if p.version == Version::V3 {
        p.advert_interval = Duration::from_millis(100);
    }
    p
}

/// The message with the checksum the receiver expects for its version byte.
fn fix_checksum(mut rx: RxPacket, p: &InstanceParams) -> RxPacket {
    let version = match rx.payload.first().map(|b| b >> 4) {
        Some(2) => Version::V2,
        Some(3) => Version::V3,
        _ => return rx,
    };
    if rx.payload.len() < 8 {
        return rx;
    }
    let ends = Endpoints {
        src: rx.src,
        dst: rx.dst,
        mode: p.checksum,
    };
    rx.payload[6..8].fill(0);
    let sum = checksum::vrrp_checksum(&rx.payload, packet::pseudo_header(version, &ends));
    rx.payload[6..8].copy_from_slice(&sum.to_be_bytes());
    rx
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// A datagram of the process events connector.
pub fn proc_connector(data: &[u8]) {
    let _ = wire::parse(data);
}

//! Scale-out: VIPs announced over BGP by BIRD 2 while their virtual servers can serve them.
//!
//! - `core`: which VIP should be announced now, and why (pure, explicit time);
//! - `bird`: BIRD's control-socket protocol (reply codes) and the generated include file (pure);
//! - `client`: the BIRD shell, a task that owns the connection, the include file and the
//!   liveness interface, and applies the newest desired state (reconnecting, re-telling);
//! - `tie`: the liveness interface, a tun device lvsd holds open: every VIP's route goes through
//!   it, so the kernel removes it, and BIRD withdraws the routes, when lvsd ends however it ends;
//! - `engine`: the follower task the daemon wires to the director (virtual-server health) and to
//!   VRRP (instance states).

pub mod bird;
pub mod client;
pub mod core;
pub mod engine;
pub mod tie;

use std::net::IpAddr;

/// The BIRD protocol lvsd generates for a VIP: `lvsd_v4_192_0_2_10`, `lvsd_v6_2001_db8_0_0_0_0_0_10`
/// (every IPv6 group written out, so two addresses never share a name).
pub fn protocol_name(prefix: &str, addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{prefix}v4_{}_{}_{}_{}", o[0], o[1], o[2], o[3])
        }
        IpAddr::V6(a) => {
            let groups: Vec<String> = a.segments().iter().map(|g| format!("{g:x}")).collect();
            format!("{prefix}v6_{}", groups.join("_"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_are_bird_symbols_and_distinct() {
        let v4: IpAddr = "198.51.100.10".parse().unwrap();
        assert_eq!(protocol_name("lvsd_", v4), "lvsd_v4_198_51_100_10");
        let mapped: IpAddr = "::ffff:1.2.3.4".parse().unwrap();
        let other: IpAddr = "::ffff:102:304".parse().unwrap();
        assert_eq!(mapped, other);
        let a: IpAddr = "::ffff:1:2:3:4".parse().unwrap();
        assert_ne!(protocol_name("p", mapped), protocol_name("p", a));
        let long: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        // 20 characters of prefix at most: BIRD's symbols have 64.
        assert!(protocol_name(&"x".repeat(20), long).len() <= 64);
    }
}

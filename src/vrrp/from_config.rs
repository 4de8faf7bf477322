//! The config model's `vrrp_instance` as the core's `InstanceParams`. The shell resolves what only
//! the running system knows (the primary address of the interface) and passes it in.

use std::net::IpAddr;

use super::checksum::ChecksumMode;
use super::packet::{Auth, Family, Version};
use super::params::{GarpParams, InitialState, InstanceParams};
use crate::config::model::{self, AuthType, Config, VrrpInstance};

/// Address family of an instance (see [`VrrpInstance::is_ipv6`]).
pub fn family(inst: &VrrpInstance) -> Family {
    if inst.is_ipv6() {
        Family::V6
    } else {
        Family::V4
    }
}

/// The interface an instance runs on: its own, else global_defs default_interface.
pub fn interface_of(cfg: &Config, inst: &VrrpInstance) -> String {
    inst.interface
        .clone()
        .unwrap_or_else(|| cfg.global.default_interface.clone())
}

/// Where the instance sends adverts: the multicast group, or its unicast peers.
pub fn destinations(cfg: &Config, inst: &VrrpInstance) -> Vec<IpAddr> {
    if !inst.unicast_peer.is_empty() {
        return inst.unicast_peer.iter().map(|p| p.addr).collect();
    }
    let group = match family(inst) {
        Family::V4 => inst.mcast_dst_ip.unwrap_or(cfg.global.vrrp_mcast_group4),
        Family::V6 => inst.mcast_dst_ip.unwrap_or(cfg.global.vrrp_mcast_group6),
    };
    vec![group]
}

/// TTL / hop limit of sent adverts: 255 for multicast (RFC), unicast_ttl for unicast.
pub fn send_ttl(inst: &VrrpInstance) -> u8 {
    match inst.unicast_peer.is_empty() {
        true => 255,
        false => inst.unicast_ttl.unwrap_or(255),
    }
}

/// Virtual addresses carried in adverts: `virtual_ipaddress` of the instance's family (keepalived
/// treats the other family's addresses as excluded ones).
pub fn advertised_vips(inst: &VrrpInstance) -> Vec<IpAddr> {
    let fam = family(inst);
    inst.virtual_ipaddress
        .iter()
        .map(|a| a.addr)
        .filter(|a| Family::of(*a) == fam)
        .collect()
}

pub fn checksum_mode(inst: &VrrpInstance) -> ChecksumMode {
    if inst.v3_checksum_as_v2 {
        ChecksumMode::AsV2
    } else if inst.old_unicast_checksum {
        ChecksumMode::OldUnicast
    } else {
        ChecksumMode::Rfc
    }
}

/// Accepted TTL range: multicast adverts must arrive with 255 (RFC); unicast ones with what the
/// first unicast_peer allows (keepalived checks nothing unless min_ttl/max_ttl are given).
fn ttl_range(inst: &VrrpInstance) -> (u8, u8) {
    match inst.unicast_peer.first() {
        None => (255, 255),
        Some(p) => (p.min_ttl.unwrap_or(0), p.max_ttl.unwrap_or(255)),
    }
}

fn auth(inst: &VrrpInstance) -> Auth {
    match &inst.authentication {
        Some(model::Authentication {
            auth_type: Some(AuthType::Pass),
            auth_pass,
            ..
        }) => Auth::pass(auth_pass.as_deref().unwrap_or("")),
        _ => Auth::None,
    }
}

/// How long `inst` holds a preemption back for the master's connection table: the sync daemon
/// follows it or another member of its sync group, and lvs_sync_catchup is not off.
pub fn catchup_hold(cfg: &Config, inst: &VrrpInstance) -> Option<std::time::Duration> {
    let followed = cfg.global.lvs_sync_daemon.as_ref()?.instance.as_ref()?;
    let hold = cfg.global.lvs_sync_catchup.timeout.0;
    let grouped = |a: &str, b: &str| {
        cfg.sync_groups
            .iter()
            .any(|g| g.group.iter().any(|m| m == a) && g.group.iter().any(|m| m == b))
    };
    (!hold.is_zero() && (&inst.name == followed || grouped(&inst.name, followed))).then_some(hold)
}

pub fn instance_params(inst: &VrrpInstance, primary: IpAddr) -> InstanceParams {
    let mut p = InstanceParams::new(
        &inst.name,
        inst.virtual_router_id,
        primary,
        advertised_vips(inst),
    );
    p.family = family(inst);
    // VRRPv2 over IPv6 too when the file says version 2, as keepalived runs it (outside strict mode).
    p.version = match inst.version {
        3 => Version::V3,
        _ => Version::V2,
    };
    p.priority = inst.priority;
    p.advert_interval = inst.advert_int.0;
    p.initial_state = match inst.state {
        model::InitialState::Master => InitialState::Master,
        model::InitialState::Backup => InitialState::Backup,
    };
    p.preempt = !inst.nopreempt;
    p.preempt_delay = inst.preempt_delay.0;
    p.accept = inst.accept.unwrap_or(!inst.strict_mode);
    p.auth = match p.version {
        Version::V2 => auth(inst),
        Version::V3 => Auth::None,
    };
    p.checksum = checksum_mode(inst);
    (p.min_ttl, p.max_ttl) = ttl_range(inst);
    p.skip_check_adv_addr = inst.skip_check_adv_addr;
    p.lower_prio_no_advert = inst.lower_prio_no_advert;
    p.higher_prio_send_advert = inst.higher_prio_send_advert;
    p.down_timer_adverts = inst.down_timer_adverts.max(1);
    p.garp = GarpParams {
        master_delay: inst.garp_master_delay.0,
        master_repeat: inst.garp_master_repeat,
        lower_prio_delay: inst.garp_lower_prio_delay.0,
        lower_prio_repeat: inst.garp_lower_prio_repeat,
        master_refresh: inst.garp_master_refresh.0,
        master_refresh_repeat: inst.garp_master_refresh_repeat,
    };
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, LoadOptions};
    use std::io::Write;

    fn instance(text: &str) -> VrrpInstance {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        let loaded = load(
            f.path(),
            &LoadOptions {
                config_id: "x".into(),
                check_machine: false,
            },
        );
        let cfg = loaded.config.expect("valid config");
        cfg.vrrp_instances[0].clone()
    }

    #[test]
    fn v2_pass_instance_maps_every_field() {
        let i = instance(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 150\n advert_int 2\n nopreempt\n authentication {\n auth_type PASS\n auth_pass secret99\n }\n virtual_ipaddress {\n 192.0.2.10/24\n 192.0.2.11\n 2001:db8::1\n }\n}\n",
        );
        let p = instance_params(&i, "192.0.2.2".parse().unwrap());
        assert_eq!(p.name, "VI_1");
        assert_eq!((p.vrid, p.priority, p.version), (51, 150, Version::V2));
        assert_eq!(p.advert_interval, std::time::Duration::from_secs(2));
        assert!(!p.preempt);
        assert_eq!(p.auth, Auth::pass("secret99"));
        assert_eq!(
            p.vips,
            vec![
                "192.0.2.10".parse::<IpAddr>().unwrap(),
                "192.0.2.11".parse().unwrap()
            ],
            "the IPv6 address is not advertised by an IPv4 instance"
        );
        assert_eq!((p.min_ttl, p.max_ttl), (255, 255));
    }

    #[test]
    fn checksum_keywords_map_to_distinct_modes() {
        let base = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n version 3\n unicast_src_ip 10.0.0.1\n unicast_peer {\n 10.0.0.2\n }\n virtual_ipaddress {\n 10.0.0.9\n }\n";
        let old = instance(&format!("{base} old_unicast_checksum\n}}\n"));
        assert_eq!(checksum_mode(&old), ChecksumMode::OldUnicast);
        let v2 = instance(&format!("{base} v3_checksum_as_v2\n}}\n"));
        assert_eq!(checksum_mode(&v2), ChecksumMode::AsV2);
        let rfc = instance(&format!("{base}}}\n"));
        assert_eq!(checksum_mode(&rfc), ChecksumMode::Rfc);
        let p = instance_params(&rfc, "10.0.0.1".parse().unwrap());
        assert_eq!(p.version, Version::V3);
        assert_eq!(p.auth, Auth::None);
        assert_eq!((p.min_ttl, p.max_ttl), (0, 255), "unicast accepts any TTL");
    }
}

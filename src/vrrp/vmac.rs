//! use_vmac: a macvlan (mode private) carrying the virtual router MAC (RFC 5798 section 7.3,
//! 00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID) on top of the instance's interface. The VIPs
//! and, unless vmac_xmit_base, the adverts go on it, so that hosts and switches follow the
//! master by its MAC, not by gratuitous ARP alone.

use rtnetlink::packet_route::link::MacVlanMode;
use rtnetlink::{LinkMacVlan, LinkUnspec};
use tracing::{info, warn};

use super::netlink::{Link, Netlink, NetlinkError};
use super::packet::Family;

/// The interface name: the configured one, else `vrrp.<VRID>` (keepalived's default).
pub fn name(configured: Option<&str>, vrid: u8) -> String {
    configured.map_or_else(|| format!("vrrp.{vrid}"), str::to_string)
}

/// The MAC: the configured one (five octets take the VRID as the sixth), else the RFC's.
pub fn address(configured: Option<&str>, vrid: u8, family: Family) -> Result<[u8; 6], String> {
    let Some(text) = configured else {
        let kind = match family {
            Family::V4 => 1,
            Family::V6 => 2,
        };
        return Ok([0, 0, 0x5e, 0, kind, vrid]);
    };
    let octets: Vec<u8> = text
        .split(':')
        .map(|o| u8::from_str_radix(o, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("use_vmac: bad MAC address {text}"))?;
    match octets[..] {
        [a, b, c, d, e] => Ok([a, b, c, d, e, vrid]),
        [a, b, c, d, e, f] => Ok([a, b, c, d, e, f]),
        _ => Err(format!("use_vmac: bad MAC address {text}")),
    }
}

/// What the daemon changed, to undo at stop.
#[derive(Debug, Clone)]
pub struct Vmac {
    pub link: Link,
    base: String,
    /// The base interface's arp_ignore and arp_announce before we set them (IPv4), restored
    /// at stop.
    base_arp_ignore: Option<String>,
    base_arp_announce: Option<String>,
}

fn sysctl_path(family: &str, ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/{family}/conf/{ifname}/{key}")
}

fn write_sysctl(family: &str, ifname: &str, key: &str, value: &str) {
    let p = sysctl_path(family, ifname, key);
    if let Err(e) = std::fs::write(&p, value) {
        warn!("cannot set {p} to {value}: {e}");
    }
}

fn request(what: String) -> impl FnOnce(rtnetlink::Error) -> NetlinkError {
    move |source| NetlinkError::Request { what, source }
}

/// Creates the macvlan (replacing one left by a killed daemon) and brings it up.
pub async fn create(
    nl: &Netlink,
    base: &Link,
    name: &str,
    mac: [u8; 6],
    family: Family,
) -> Result<Vmac, NetlinkError> {
    if let Ok(old) = nl.link(name).await {
        info!("removing leftover VMAC interface {name}");
        nl.handle()
            .link()
            .del(old.index)
            .execute()
            .await
            .map_err(request(format!("removing interface {name}")))?;
    }
    let msg = LinkMacVlan::new(name, base.index, MacVlanMode::Private)
        .address(mac.to_vec())
        .build();
    nl.handle()
        .link()
        .add(msg)
        .execute()
        .await
        .map_err(request(format!("creating macvlan {name} on {}", base.name)))?;
    let mut base_arp_ignore = None;
    let mut base_arp_announce = None;
    match family {
        Family::V4 => {
            // ARP for a VIP must be answered by the VMAC only, not by the base interface too
            // (a broadcast request reaches both); and the VMAC answers for nothing else.
            base_arp_ignore =
                std::fs::read_to_string(sysctl_path("ipv4", &base.name, "arp_ignore")).ok();
            write_sysctl("ipv4", &base.name, "arp_ignore", "1");
            // Replies from a VIP leave by the base: ARP requests they need must ask from the
            // base's own address, or neighbours would map the VIP to the base's MAC.
            base_arp_announce =
                std::fs::read_to_string(sysctl_path("ipv4", &base.name, "arp_announce")).ok();
            write_sysctl("ipv4", &base.name, "arp_announce", "2");
            write_sysctl("ipv4", name, "arp_ignore", "1");
            // Requests arrive on the VMAC but the route back is the base: no reverse-path check.
            write_sysctl("ipv4", name, "rp_filter", "0");
            let all = std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter")
                .unwrap_or_default();
            if all.trim() != "0" && !all.is_empty() {
                warn!(
                    "net.ipv4.conf.all.rp_filter is {}: traffic to VIPs on {name} may be dropped",
                    all.trim()
                );
            }
        }
        // Every VMAC would derive the same link-local address from the shared MAC: none; the
        // base's own link-local is added instead (the advert source).
        Family::V6 => write_sysctl("ipv6", name, "addr_gen_mode", "1"),
    }
    let link = nl.link(name).await?;
    nl.handle()
        .link()
        .set(LinkUnspec::new_with_index(link.index).up().build())
        .execute()
        .await
        .map_err(request(format!("bringing {name} up")))?;
    info!(
        "VMAC interface {name} ({}) on {}",
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        base.name
    );
    Ok(Vmac {
        link,
        base: base.name.clone(),
        base_arp_ignore,
        base_arp_announce,
    })
}

/// Removes the macvlan (its VIPs go with it) and restores the base interface's setting.
pub async fn remove(nl: &Netlink, v: &Vmac) {
    if let Err(e) = nl.handle().link().del(v.link.index).execute().await {
        warn!("removing VMAC interface {}: {e}", v.link.name);
    }
    if let Some(old) = &v.base_arp_ignore {
        write_sysctl("ipv4", &v.base, "arp_ignore", old.trim());
    }
    if let Some(old) = &v.base_arp_announce {
        write_sysctl("ipv4", &v.base, "arp_announce", old.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_and_rfc_mac_per_family() {
        assert_eq!(name(None, 51), "vrrp.51");
        assert_eq!(name(Some("vmac1"), 51), "vmac1");
        assert_eq!(address(None, 51, Family::V4), Ok([0, 0, 0x5e, 0, 1, 51]));
        assert_eq!(address(None, 7, Family::V6), Ok([0, 0, 0x5e, 0, 2, 7]));
    }

    #[test]
    fn configured_mac_with_five_octets_takes_the_vrid() {
        assert_eq!(
            address(Some("02:11:22:33:44"), 9, Family::V4),
            Ok([2, 0x11, 0x22, 0x33, 0x44, 9])
        );
        assert_eq!(
            address(Some("02:11:22:33:44:55"), 9, Family::V4),
            Ok([2, 0x11, 0x22, 0x33, 0x44, 0x55])
        );
        assert!(address(Some("02:11"), 9, Family::V4).is_err());
        assert!(address(Some("zz:11:22:33:44"), 9, Family::V4).is_err());
    }
}

//! rtnetlink shell: interface lookup, virtual address add/remove, link state monitoring.

use std::net::{IpAddr, Ipv4Addr};

use futures::stream::TryStreamExt;
use futures::StreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::{Handle, MulticastGroup};
use thiserror::Error;
use tokio::sync::mpsc;

use crate::config::model::IpAddress;

const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ESRCH: i32 = 3;
const ENOENT: i32 = 2;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("cannot open a netlink socket: {0}")]
    Open(#[from] std::io::Error),
    #[error("interface {0} not found")]
    NoSuchInterface(String),
    #[error("interface {name}: no {family} address to send adverts from")]
    NoAddress { name: String, family: &'static str },
    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("address {addr}: {why}")]
    BadAddress { addr: IpAddr, why: String },
}

/// What the shell needs to know of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Vec<u8>,
    /// IFF_UP and IFF_RUNNING, as keepalived tracks interfaces.
    pub up: bool,
}

fn link_of(msg: &LinkMessage) -> Link {
    let mut l = Link {
        index: msg.header.index,
        name: String::new(),
        mac: Vec::new(),
        up: msg.header.flags.contains(LinkFlags::Up)
            && msg.header.flags.contains(LinkFlags::Running),
    };
    for a in &msg.attributes {
        match a {
            LinkAttribute::IfName(n) => l.name = n.clone(),
            LinkAttribute::Address(m) => l.mac = m.clone(),
            _ => {}
        }
    }
    l
}

/// A virtual address as the kernel gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ifindex: u32,
    pub label: Option<String>,
    pub scope: AddressScope,
    pub brd: Option<Ipv4Addr>,
    pub nodad: bool,
}

impl Vip {
    /// From a config line; `dev` defaults to the instance's interface (already resolved).
    pub fn from_config(a: &IpAddress, ifindex: u32) -> Result<Vip, NetlinkError> {
        let bad = |why: String| NetlinkError::BadAddress { addr: a.addr, why };
        let scope = match a.scope.as_deref() {
            None | Some("global") => AddressScope::Universe,
            Some("site") => AddressScope::Site,
            Some("link") => AddressScope::Link,
            Some("host") => AddressScope::Host,
            Some("nowhere") => AddressScope::Nowhere,
            Some(n) => AddressScope::Other(n.parse().map_err(|_| bad(format!("scope {n}")))?),
        };
        let brd = match (a.addr, a.brd.as_deref()) {
            (_, None | Some("-")) => None,
            (IpAddr::V4(v4), Some("+")) => {
                let host_bits = 32u32.saturating_sub(u32::from(a.prefix));
                let mask = if host_bits >= 32 {
                    u32::MAX
                } else {
                    (1u32 << host_bits) - 1
                };
                Some(Ipv4Addr::from(u32::from(v4) | mask))
            }
            (IpAddr::V4(_), Some(b)) => Some(b.parse().map_err(|_| bad(format!("brd {b}")))?),
            (IpAddr::V6(_), Some(_)) => None,
        };
        Ok(Vip {
            addr: a.addr,
            prefix: a.prefix,
            ifindex,
            label: a.label.clone(),
            scope,
            brd,
            // RFC 5798 section 8.2: no duplicate address detection for virtual addresses,
            // a VIP must be usable the moment a new master takes it.
            nodad: a.nodad || a.addr.is_ipv6(),
        })
    }
}

#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a connection; its I/O runs as a task of the current runtime.
    pub fn open() -> Result<Netlink, NetlinkError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// The raw handle, for the requests of other shell modules (vmac).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    pub async fn link(&self, name: &str) -> Result<Link, NetlinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(link_of(&msg)),
            Ok(None) | Err(_) => Err(NetlinkError::NoSuchInterface(name.to_string())),
        }
    }

    /// Addresses on an interface, with their prefix length.
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<(IpAddr, u8)>, NetlinkError> {
        let mut out = Vec::new();
        let mut s = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        loop {
            match s.try_next().await {
                Ok(Some(msg)) => {
                    let local = msg.attributes.iter().find_map(|a| match a {
                        AddressAttribute::Local(ip) => Some(*ip),
                        _ => None,
                    });
                    let addr = local.or_else(|| {
                        msg.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    });
                    if let Some(a) = addr {
                        out.push((a, msg.header.prefix_len));
                    }
                }
                Ok(None) => return Ok(out),
                Err(e) => {
                    return Err(NetlinkError::Request {
                        what: format!("listing addresses of interface {ifindex}"),
                        source: e,
                    })
                }
            }
        }
    }

    /// Adds a VIP; an address already present counts as added (e.g. left by a killed daemon).
    pub async fn add(&self, vip: &Vip) -> Result<(), NetlinkError> {
        let mut req = self.handle.address().add(vip.ifindex, vip.addr, vip.prefix);
        let msg = req.message_mut();
        msg.header.scope = vip.scope;
        if let Some(l) = &vip.label {
            msg.attributes.push(AddressAttribute::Label(l.clone()));
        }
        if let Some(b) = vip.brd {
            msg.attributes.push(AddressAttribute::Broadcast(b));
        }
        if vip.nodad {
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EEXIST => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("adding {}/{}", vip.addr, vip.prefix),
                source: e,
            }),
        }
    }

    /// Removes a VIP; an address already gone counts as removed.
    pub async fn del(&self, vip: &Vip) -> Result<(), NetlinkError> {
        let mut req = self.handle.address().add(vip.ifindex, vip.addr, vip.prefix);
        let msg = req.message_mut().clone();
        match self.handle.address().del(msg).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EADDRNOTAVAIL => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("removing {}/{}", vip.addr, vip.prefix),
                source: e,
            }),
        }
    }
}

impl Netlink {
    /// Adds a route; one already present counts as added.
    pub async fn add_route(&self, what: &str, msg: &RouteMessage) -> Result<(), NetlinkError> {
        match self.handle.route().add(msg.clone()).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EEXIST => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("adding route {what}"),
                source: e,
            }),
        }
    }

    /// Removes a route; one already gone counts as removed.
    pub async fn del_route(&self, what: &str, msg: &RouteMessage) -> Result<(), NetlinkError> {
        match self.handle.route().del(msg.clone()).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ESRCH => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("removing route {what}"),
                source: e,
            }),
        }
    }
}

impl Netlink {
    /// Adds a policy rule; one already present counts as added.
    pub async fn add_rule(&self, what: &str, msg: &RuleMessage) -> Result<(), NetlinkError> {
        let mut req = self.handle.rule().add();
        *req.message_mut() = msg.clone();
        match req.execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == EEXIST => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("adding rule {what}"),
                source: e,
            }),
        }
    }

    /// Removes a policy rule; one already gone counts as removed.
    pub async fn del_rule(&self, what: &str, msg: &RuleMessage) -> Result<(), NetlinkError> {
        match self.handle.rule().del(msg.clone()).execute().await {
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code().abs() == ENOENT => Ok(()),
            r => r.map_err(|e| NetlinkError::Request {
                what: format!("removing rule {what}"),
                source: e,
            }),
        }
    }
}

/// Watches link changes (like `ip monitor link`), sending every interface's state to `tx`
/// until the receiver goes away.
pub fn monitor_links(tx: mpsc::UnboundedSender<Link>) -> Result<(), NetlinkError> {
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let link = match msg.payload {
                netlink_packet_core::NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewLink(l),
                ) => link_of(&l),
                netlink_packet_core::NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::DelLink(l),
                ) => Link {
                    up: false,
                    ..link_of(&l)
                },
                _ => continue,
            };
            if tx.send(link).is_err() {
                return;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(addr: &str, prefix: u8, brd: Option<&str>, scope: Option<&str>) -> IpAddress {
        let mut a = IpAddress::new(addr.parse().unwrap(), prefix, Default::default());
        a.brd = brd.map(String::from);
        a.scope = scope.map(String::from);
        a.label = Some("eth0:vip".into());
        a
    }

    #[test]
    fn broadcast_plus_is_computed_from_the_prefix() {
        let v = Vip::from_config(&line("192.0.2.10", 24, Some("+"), Some("link")), 3).unwrap();
        assert_eq!(v.brd, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(v.scope, AddressScope::Link);
        assert_eq!(v.label.as_deref(), Some("eth0:vip"));
        let v = Vip::from_config(&line("192.0.2.10", 32, Some("+"), None), 3).unwrap();
        assert_eq!(v.brd, Some(Ipv4Addr::new(192, 0, 2, 10)));
        let v = Vip::from_config(&line("192.0.2.10", 24, Some("192.0.2.127"), None), 3).unwrap();
        assert_eq!(v.brd, Some(Ipv4Addr::new(192, 0, 2, 127)));
        assert!(Vip::from_config(&line("192.0.2.10", 24, Some("bogus"), None), 3).is_err());
    }
}

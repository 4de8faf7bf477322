//! virtual_routes: `ip route`-style lines of the config as route messages, added while MASTER.
//! Multipath (`nexthop`) routes and extra options (mtu, realms ...) are not supported yet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::route::{RouteMessage, RouteProtocol, RouteScope, RouteType};
use rtnetlink::RouteMessageBuilder;
use thiserror::Error;

use crate::config::model::Route;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    #[error("route {0}: bad destination")]
    Destination(String),
    #[error("route {to}: {what} is not supported yet")]
    Unsupported { to: String, what: String },
    #[error("route {to}: unknown {what} '{value}'")]
    Unknown {
        to: String,
        what: &'static str,
        value: String,
    },
    #[error("route {to}: {why}")]
    Invalid { to: String, why: String },
}

fn destination(r: &Route) -> Result<(IpAddr, u8), RouteError> {
    let bad = || RouteError::Destination(r.to.clone());
    let v6 = r.inet6 || r.via.is_some_and(|a| a.is_ipv6()) || r.src.is_some_and(|a| a.is_ipv6());
    if r.to == "default" {
        let any = match v6 {
            true => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            false => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        return Ok((any, 0));
    }
    let (addr, len) = match r.to.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| bad())?)),
        None => (r.to.as_str(), None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    if len > max {
        return Err(bad());
    }
    Ok((addr, len))
}

fn table(r: &Route) -> Result<u32, RouteError> {
    Ok(match r.table.as_deref() {
        None | Some("main") => 254,
        Some("local") => 255,
        Some("default") => 253,
        Some(t) => t.parse().map_err(|_| RouteError::Unknown {
            to: r.to.clone(),
            what: "table",
            value: t.into(),
        })?,
    })
}

fn kind(r: &Route) -> Result<RouteType, RouteError> {
    Ok(match r.route_type.as_deref() {
        None | Some("unicast") => RouteType::Unicast,
        Some("local") => RouteType::Local,
        Some("broadcast") => RouteType::Broadcast,
        Some("anycast") => RouteType::Anycast,
        Some("multicast") => RouteType::Multicast,
        Some("blackhole") => RouteType::BlackHole,
        Some("unreachable") => RouteType::Unreachable,
        Some("prohibit") => RouteType::Prohibit,
        Some("throw") => RouteType::Throw,
        Some(t) => {
            return Err(RouteError::Unknown {
                to: r.to.clone(),
                what: "type",
                value: t.into(),
            })
        }
    })
}

fn scope(r: &Route) -> Result<Option<RouteScope>, RouteError> {
    Ok(Some(match r.scope.as_deref() {
        None => return Ok(None),
        Some("global" | "universe") => RouteScope::Universe,
        Some("site") => RouteScope::Site,
        Some("link") => RouteScope::Link,
        Some("host") => RouteScope::Host,
        Some("nowhere") => RouteScope::NoWhere,
        Some(s) => RouteScope::Other(s.parse().map_err(|_| RouteError::Unknown {
            to: r.to.clone(),
            what: "scope",
            value: s.into(),
        })?),
    }))
}

/// The builder's error type is not exported by rtnetlink; only its description is kept.
fn invalid<E: std::fmt::Debug>(to: &str) -> impl Fn(E) -> RouteError + '_ {
    move |e| RouteError::Invalid {
        to: to.to_string(),
        why: format!("{e:?}"),
    }
}

/// The route message for a config line; `dev` is the resolved interface index, if any.
/// Routes are marked `proto keepalived`, as keepalived marks them.
pub fn route_message(r: &Route, dev: Option<u32>) -> Result<RouteMessage, RouteError> {
    if !r.nexthops.is_empty() {
        return Err(RouteError::Unsupported {
            to: r.to.clone(),
            what: "nexthop".into(),
        });
    }
    if let Some((name, _)) = r.options.first() {
        return Err(RouteError::Unsupported {
            to: r.to.clone(),
            what: format!("option {name}"),
        });
    }
    let invalid = invalid(&r.to);
    let (addr, len) = destination(r)?;
    let kind = kind(r)?;
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(addr, len)
        .map_err(&invalid)?
        .table_id(table(r)?)
        .protocol(RouteProtocol::KeepAlived)
        .kind(kind);
    if let Some(src) = r.src {
        b = b.pref_source(src).map_err(&invalid)?;
    }
    if let Some(via) = r.via {
        b = b.gateway(via).map_err(&invalid)?;
    }
    if let Some(i) = dev {
        b = b.output_interface(i);
    }
    if let Some(m) = r.metric {
        b = b.priority(m);
    }
    if r.onlink {
        b = b.onlink();
    }
    // As ip(8): a route without gateway to a unicast destination is on the link.
    let default_scope = match (kind, r.via) {
        (RouteType::Unicast, None) if dev.is_some() => RouteScope::Link,
        (RouteType::Local, _) => RouteScope::Host,
        _ => RouteScope::Universe,
    };
    b = b.scope(scope(r)?.unwrap_or(default_scope));
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::route::RouteAttribute;

    fn route(to: &str) -> Route {
        Route::new(to, Default::default())
    }

    #[test]
    fn gateway_route_with_table_metric_and_source() {
        let mut r = route("192.168.5.0/24");
        r.via = Some("10.9.0.254".parse().unwrap());
        r.src = Some("10.9.0.100".parse().unwrap());
        r.table = Some("100".into());
        r.metric = Some(7);
        let m = route_message(&r, Some(3)).unwrap();
        assert_eq!(m.header.destination_prefix_length, 24);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.protocol, RouteProtocol::KeepAlived);
        let has = |a: RouteAttribute| m.attributes.contains(&a);
        assert!(has(RouteAttribute::Oif(3)));
        assert!(has(RouteAttribute::Priority(7)));
        assert_eq!(m.header.table, 100);
        assert!(m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Gateway(_))));
    }

    #[test]
    fn defaults_types_and_errors() {
        let m = route_message(&route("default"), None).unwrap();
        assert_eq!(m.header.destination_prefix_length, 0);
        let mut r = route("10.1.0.0/16");
        r.route_type = Some("blackhole".into());
        assert_eq!(
            route_message(&r, None).unwrap().header.kind,
            RouteType::BlackHole
        );
        let direct = route_message(&route("10.2.0.0/16"), Some(2)).unwrap();
        assert_eq!(
            direct.header.scope,
            RouteScope::Link,
            "on-link without gateway"
        );
        assert!(route_message(&route("10.0.0.0/40"), None).is_err());
        assert!(route_message(&route("nonsense"), None).is_err());
        let mut r = route("10.3.0.0/16");
        r.table = Some("nosuch".into());
        assert!(matches!(
            route_message(&r, None),
            Err(RouteError::Unknown { what: "table", .. })
        ));
    }
}

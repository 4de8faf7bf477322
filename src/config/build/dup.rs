//! Addresses and peers given twice in one vrrp_instance, found as each is read (keepalived 2.3.3
//! and later do the same; 2.2.7 says nothing). Each warning is at the second one and names the
//! first. A duplicate unicast_peer or excluded address is dropped, as 2.3.3 does. A duplicate
//! virtual_ipaddress stays in the adverts, as 2.2.7 sends it: a 2.2.7 peer with the same file
//! refuses adverts with fewer addresses than it has, and 2.3.3 and later only log the count.

use crate::config::model::{IpAddress, UnicastPeer};
use crate::config::values::Ctx;

/// The first of `list` with `a`'s address, on the same interface when `same_dev`.
fn first<'a>(list: &'a [IpAddress], a: &IpAddress, same_dev: bool) -> Option<&'a IpAddress> {
    list.iter()
        .find(|o| o.addr == a.addr && (!same_dev || o.dev == a.dev))
}

/// Warns when `a`, a virtual_ipaddress, was given before (a VIP anywhere, or an excluded one on
/// the same interface); it is kept.
pub fn vip(ctx: &mut Ctx, inst: &str, a: &IpAddress, vips: &[IpAddress], excl: &[IpAddress]) {
    let (before, what) = match first(vips, a, false) {
        Some(o) => (o, "virtual_ipaddress"),
        None => match first(excl, a, true) {
            Some(o) => (o, "virtual_ipaddress_excluded"),
            None => return,
        },
    };
    ctx.warn_also(
        a.span,
        before.span,
        format!(
            "vrrp_instance {inst}: virtual address {} is already in its {what}; remove one (lvsd adds it once and advertises it twice, as keepalived 2.2.7; keepalived 2.3.3 and later ignore this one)",
            a.addr
        ),
    );
}

/// Warns and says true when `a`, an excluded address, was given before on the same interface.
pub fn excluded(
    ctx: &mut Ctx,
    inst: &str,
    a: &IpAddress,
    vips: &[IpAddress],
    excl: &[IpAddress],
) -> bool {
    let Some(before) = first(vips, a, true).or_else(|| first(excl, a, true)) else {
        return false;
    };
    ctx.warn_also(
        a.span,
        before.span,
        format!(
            "vrrp_instance {inst}: excluded address {} is already given for the same interface; this one is ignored, as keepalived 2.3.3 and later do",
            a.addr
        ),
    );
    true
}

/// Warns and says true when peer `p` was given before.
pub fn peer(ctx: &mut Ctx, inst: &str, p: &UnicastPeer, peers: &[UnicastPeer]) -> bool {
    let Some(before) = peers.iter().find(|o| o.addr == p.addr) else {
        return false;
    };
    ctx.warn_also(
        p.span,
        before.span,
        format!(
            "vrrp_instance {inst}: unicast_peer {} is given twice; this one is ignored (it would get every advert twice), as keepalived 2.3.3 and later do",
            p.addr
        ),
    );
    true
}

//! Settings that do not fit together, settled the way keepalived 2.2.7 settles them when it starts
//! (vrrp_complete_instance in vrrp/vrrp.c, validate_check_config in check/check_data.c): the
//! configuration keepalived runs runs, with a warning naming the keyword, and the model holds what
//! actually runs. Only what keepalived itself refuses is an error here.

use super::vrrp::KeywordSpans;
use crate::config::diag::Span;
use crate::config::model::*;
use crate::config::values::Ctx;
use std::time::Duration;

/// What the instance block set explicitly (the model holds defaults for the rest).
pub struct Given<'a> {
    pub spans: &'a KeywordSpans,
    pub state: bool,
    pub priority: bool,
    pub garp_lower_prio_delay: Option<Timer>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub owner_ignore_adverts: Option<bool>,
}

/// keepalived's default down_timer_adverts, the only value strict mode allows.
const DOWN_TIMER_ADVERTS: u32 = 3;

pub fn vrrp_instance(ctx: &mut Ctx, i: &mut VrrpInstance, given: &Given, g: &Global) {
    let name = i.name.clone();
    let inst_span = i.span;
    let at = |kws: &[&str]| given.spans.any_or(kws, inst_span);
    let strict = i.strict_mode;
    let ipv6 = i.is_ipv6();
    let mut warn = |ctx: &mut Ctx, span: Span, what: String| {
        ctx.warn(span, format!("vrrp_instance {name}: {what}"));
    };

    if ipv6 && i.version == 2 && strict {
        warn(
            ctx,
            at(&["version"]),
            "strict mode: IPv6 needs VRRP version 3; version 3 is used, as keepalived does".into(),
        );
        i.version = 3;
    }
    if i.no_virtual_ipaddress && strict {
        warn(
            ctx,
            at(&["no_virtual_ipaddress"]),
            "no_virtual_ipaddress does not go with strict mode; ignored, as keepalived 2.2.8 and later do".into(),
        );
        i.no_virtual_ipaddress = false;
    }
    if i.virtual_ipaddress.is_empty() && i.no_virtual_ipaddress {
        // Meant (addresses managed elsewhere, e.g. cloud floating IPs): VRRPv3 runs without any,
        // against RFC 5798, as keepalived 2.2.8 and later allow.
    } else if i.virtual_ipaddress.is_empty() {
        if i.version == 3 || strict {
            // keepalived stops with a configuration error here.
            ctx.err(
                i.span,
                format!(
                    "vrrp_instance {name}: no virtual_ipaddress; {} needs at least one (keepalived refuses it too)",
                    if strict { "strict mode" } else { "VRRP version 3" }
                ),
            );
        } else {
            warn(ctx, i.span, "no virtual_ipaddress".into());
        }
    }

    let owner = |i: &VrrpInstance| i.priority == 255;
    if !given.priority && i.state == InitialState::Master {
        warn(
            ctx,
            at(&["state"]),
            "'state MASTER' without 'priority': priority 255 (the address owner), as keepalived does"
                .into(),
        );
        i.priority = 255;
    }
    if !given.state {
        i.state = if owner(i) {
            InitialState::Master
        } else {
            InitialState::Backup
        };
    } else if strict && (i.state == InitialState::Master) != owner(i) {
        let (now, why) = if owner(i) {
            (
                InitialState::Master,
                "priority 255 (the address owner) starts as MASTER",
            )
        } else {
            (
                InitialState::Backup,
                "only the address owner (priority 255) may start as MASTER; it starts as BACKUP",
            )
        };
        warn(
            ctx,
            at(&["state"]),
            format!("strict mode: {why}, as keepalived does"),
        );
        i.state = now;
    }

    settle_auth(ctx, i, &mut warn, given);

    if strict && !i.unicast_peer.is_empty() {
        warn(
            ctx,
            at(&["unicast_peer"]),
            "strict mode does not allow unicast peers (RFC); keepalived 2.2.7 runs them all the same, and so does lvsd"
                .into(),
        );
    }
    if let Some(v) = i.use_vmac.as_mut().filter(|v| strict && v.mac.is_some()) {
        warn(
            ctx,
            at(&["use_vmac"]),
            "strict mode: a MAC address for use_vmac is not allowed; the RFC one (00:00:5e:00:01:VRID) is used, as keepalived does".into(),
        );
        v.mac = None;
    }

    i.owner_ignore_adverts = owner_ignore_adverts(ctx, i, given, g, &at);
    if owner(i) && i.nopreempt {
        warn(
            ctx,
            at(&["nopreempt"]),
            "nopreempt does not go with priority 255; ignored, as keepalived does".into(),
        );
        i.nopreempt = false;
    }
    if i.state == InitialState::Master {
        if i.nopreempt {
            warn(
                ctx,
                at(&["nopreempt"]),
                "nopreempt needs 'state BACKUP'; ignored, as keepalived does".into(),
            );
            i.nopreempt = false;
        }
        if !i.preempt_delay.0.is_zero() {
            warn(
                ctx,
                at(&["preempt_delay"]),
                "preempt_delay needs 'state BACKUP'; ignored, as keepalived does".into(),
            );
            i.preempt_delay = Timer::secs(0);
        }
    }
    if !i.preempt_delay.0.is_zero() && (strict || i.nopreempt) {
        let why = if strict {
            "strict mode does not allow preempt_delay"
        } else {
            "preempt_delay does not go with nopreempt"
        };
        warn(
            ctx,
            at(&["preempt_delay"]),
            format!("{why}; ignored, as keepalived does"),
        );
        i.preempt_delay = Timer::secs(0);
    }
    if strict && i.down_timer_adverts != DOWN_TIMER_ADVERTS {
        warn(
            ctx,
            at(&["down_timer_adverts"]),
            format!("strict mode: down_timer_adverts must be {DOWN_TIMER_ADVERTS}; {DOWN_TIMER_ADVERTS} is used, as keepalived does"),
        );
        i.down_timer_adverts = DOWN_TIMER_ADVERTS;
    }

    // accept: on by default, except in strict mode for an instance that does not own the addresses.
    let accept = i.accept.unwrap_or(owner(i) || !strict);
    i.accept = Some(if accept && !owner(i) && strict && i.version == 2 {
        warn(
            ctx,
            at(&["accept"]),
            "strict mode: 'accept' is not allowed with VRRP version 2 (RFC 3768) unless priority is 255; ignored, as keepalived does".into(),
        );
        false
    } else {
        accept
    });

    if !i.unicast_peer.is_empty() && i.mcast_dst_ip.is_some() {
        warn(
            ctx,
            at(&["mcast_dst_ip"]),
            "mcast_dst_ip does not go with unicast peers; ignored, as keepalived does".into(),
        );
        i.mcast_dst_ip = None;
    }

    settle_lower_prio(ctx, i, &mut warn, given, g);
}

fn settle_auth(
    ctx: &mut Ctx,
    i: &mut VrrpInstance,
    warn: &mut impl FnMut(&mut Ctx, Span, String),
    given: &Given,
) {
    let Some(a) = &i.authentication else {
        return;
    };
    let Some(kind) = a.auth_type.clone() else {
        if a.auth_pass.is_some() {
            warn(
                ctx,
                given.spans.any_or(&["authentication"], i.span),
                "auth_pass without auth_type: no authentication is used".into(),
            );
        }
        i.authentication = None;
        return;
    };
    let at = a.type_span;
    let dropped = if i.strict_mode {
        Some("strict mode does not allow authentication")
    } else if i.version == 3 {
        Some("VRRP version 3 has no authentication")
    } else if a.auth_pass.as_deref().unwrap_or("").is_empty() {
        Some("auth_type without auth_pass")
    } else if kind == AuthType::Ah && i.is_ipv6() {
        Some("AH authentication does not work with IPv6")
    } else if i.is_ipv6() {
        // keepalived 2.2.7 sends VRRPv2 over IPv6 without the password, and reads "the password"
        // at an offset of the IPv4 header it does not have: PASS there cannot work.
        Some("VRRPv2 over IPv6 carries no password (keepalived 2.2.7 sends none)")
    } else {
        None
    };
    if let Some(why) = dropped {
        warn(
            ctx,
            at,
            format!("{why}; the instance runs without authentication, as keepalived does"),
        );
        i.authentication = None;
        return;
    }
    if kind == AuthType::Ah {
        // keepalived wraps AH adverts in an IPsec header lvsd neither sends nor reads. The file
        // stays accepted (keepalived's own samples use AH, and lvsd pairs work without it), but
        // loudly: an lvsd and a keepalived peer using AH would not hear each other.
        warn(ctx, at, "'auth_type AH' is not supported by lvsd: this instance runs without authentication, and keepalived peers using AH will not hear it nor it them (both would become MASTER); use 'auth_type PASS' on every router, or no authentication".into());
        if i.state == InitialState::Master && i.priority != 255 {
            warn(
                ctx,
                given.spans.any_or(&["state"], i.span),
                "'state MASTER' does not go with AH authentication (the AH sequence number must be learnt first); it starts as BACKUP, as keepalived does".into(),
            );
            i.state = InitialState::Backup;
        }
    }
}

/// Strict mode's RFC behaviour towards lower priority masters: no extra GARPs, no advert in reply.
fn settle_lower_prio(
    ctx: &mut Ctx,
    i: &mut VrrpInstance,
    warn: &mut impl FnMut(&mut Ctx, Span, String),
    given: &Given,
    g: &Global,
) {
    let strict = i.strict_mode;
    let inst_span = i.span;
    let at = |kw: &str| given.spans.any_or(&[kw], inst_span);
    let mut forced = |ctx: &mut Ctx, kw: &str, what: &str| {
        warn(
            ctx,
            at(kw),
            format!("strict mode requires {what}; ignored, as keepalived does"),
        );
    };
    i.garp_lower_prio_repeat = match given.garp_lower_prio_repeat {
        Some(n) if strict && n != 0 => {
            forced(ctx, "garp_lower_prio_repeat", "no repeated GARPs");
            0
        }
        Some(n) => n,
        None if strict => 0,
        None => g
            .vrrp_garp_lower_prio_repeat
            .unwrap_or(i.garp_master_repeat),
    };
    i.garp_lower_prio_delay = match given.garp_lower_prio_delay {
        Some(t) if strict && !t.0.is_zero() => {
            forced(ctx, "garp_lower_prio_delay", "no repeated GARP delay");
            Timer(Duration::ZERO)
        }
        Some(t) => t,
        None if strict => Timer(Duration::ZERO),
        None => g.vrrp_garp_lower_prio_delay.unwrap_or(i.garp_master_delay),
    };
    i.lower_prio_no_advert = match given.lower_prio_no_advert {
        Some(false) if strict => {
            forced(
                ctx,
                "lower_prio_no_advert",
                "lower_prio_no_advert (no advert in reply to a lower priority master)",
            );
            true
        }
        Some(v) => v,
        None => strict || g.vrrp_lower_prio_no_advert.unwrap_or(false),
    };
    i.higher_prio_send_advert = match given.higher_prio_send_advert {
        Some(true) if strict => {
            forced(
                ctx,
                "higher_prio_send_advert",
                "higher_prio_send_advert to be off",
            );
            false
        }
        Some(v) => v,
        None => !strict && g.vrrp_higher_prio_send_advert.unwrap_or(false),
    };
}

/// A virtual_server's own options that keepalived drops or completes (validate_check_config).
pub fn virtual_server_options(
    ctx: &mut Ctx,
    vs: &mut VirtualServer,
    spans: &KeywordSpans,
    protocol_set: bool,
) {
    let at = |kw: &str| spans.any_or(&[kw], vs.span);
    let fwmark = matches!(vs.key, VsKey::Fwmark { .. });
    if fwmark && protocol_set {
        ctx.warn(
            at("protocol"),
            "a fwmark virtual_server has no protocol: 'protocol' is ignored, as keepalived does",
        );
    }
    if fwmark && vs.ha_suspend {
        ctx.warn(
            at("ha_suspend"),
            "ha_suspend does not work with a fwmark virtual_server; ignored, as keepalived does",
        );
        vs.ha_suspend = false;
    }
    if vs.ops && matches!(vs.key, VsKey::Addr { .. }) && vs.protocol != Protocol::Udp {
        ctx.warn(
            at("ops"),
            format!(
                "'ops' (one-packet scheduling) only applies to UDP, and this service is {}; ignored, as keepalived does",
                vs.protocol.name().to_ascii_uppercase()
            ),
        );
        vs.ops = false;
    }
    if let (Some(g), VsKey::Addr { ip, .. }) = (&vs.persistence_granularity, &vs.key) {
        // keepalived reads a prefix length as an IPv4 netmask (24 -> 0.0.0.24) and falls back to
        // none for a netmask on IPv6: a malformed value, refused like the others.
        if g.contains('.') != ip.is_ipv4() {
            ctx.err(at("persistence_granularity"), format!("persistence_granularity {g} does not fit the address family of {ip} (IPv4 takes a netmask, IPv6 a prefix length)"));
        }
    }
    if matches!(vs.key, VsKey::Addr { port: 0, .. }) && vs.persistence_timeout.is_none() {
        ctx.warn(
            vs.span,
            "a virtual_server without a port must be persistent: persistence_timeout 360 is used, as keepalived does",
        );
        vs.persistence_timeout = Some(PERSISTENCE_TIMEOUT);
    }
    if vs.persistence_granularity.is_some() && vs.persistence_timeout.is_none() {
        ctx.warn(
            at("persistence_granularity"),
            "persistence_granularity makes the service persistent: persistence_timeout 360 is used, as keepalived does",
        );
        vs.persistence_timeout = Some(PERSISTENCE_TIMEOUT);
    }
    if vs.persistence_engine.is_some() && vs.persistence_timeout.is_none() {
        ctx.warn(
            at("persistence_engine"),
            "persistence_engine needs persistence_timeout; ignored, as keepalived does",
        );
        vs.persistence_engine = None;
    }
}

/// keepalived's default persistence timeout (seconds), also when it makes a service persistent.
pub const PERSISTENCE_TIMEOUT: u32 = 360;

fn family_name(ipv4: bool) -> &'static str {
    if ipv4 {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Real servers keepalived leaves out (another address family, listed twice), the ports it
/// programs, and the quorum it can reach.
pub fn real_servers(ctx: &mut Ctx, vs: &mut VirtualServer, spans: &KeywordSpans) {
    // A service's family: its address's; a fwmark or group service takes ip_family or that of
    // its first real server that is not tunnelled (keepalived's order).
    let mut ipv4 = match &vs.key {
        VsKey::Addr { ip, .. } => Some(ip.is_ipv4()),
        _ => vs.ip_family.as_deref().map(|f| f == "inet"),
    };
    let mut seen = std::collections::HashSet::new();
    vs.real_servers.retain(|rs| {
        if !matches!(rs.lvs_method, LvsMethod::Tun { .. }) {
            let v4 = *ipv4.get_or_insert(rs.ip.is_ipv4());
            if v4 != rs.ip.is_ipv4() {
                ctx.warn(rs.span, format!(
                    "real_server {} is {} but the service is {}, and only TUN forwarding may mix families; ignored, as keepalived does",
                    rs.ip,
                    family_name(rs.ip.is_ipv4()),
                    family_name(v4)
                ));
                return false;
            }
        }
        if !seen.insert((rs.ip, rs.port)) {
            ctx.warn(
                rs.span,
                format!(
                    "real_server {} port {} is listed twice; the second is ignored, as keepalived does",
                    rs.ip, rs.port
                ),
            );
            return false;
        }
        true
    });
    let tunnelled = |m: Option<LvsMethod>| matches!(m, Some(LvsMethod::Tun { .. }));
    if let Some(sorry) = vs
        .sorry_server
        .as_ref()
        .filter(|s| !tunnelled(s.lvs_method))
    {
        let v4 = *ipv4.get_or_insert(sorry.ip.is_ipv4());
        if v4 != sorry.ip.is_ipv4() {
            ctx.warn(
                spans.any_or(&["sorry_server"], vs.span),
                format!(
                    "sorry_server {} is {} but the service is {}; ignored, as keepalived does",
                    sorry.ip,
                    family_name(sorry.ip.is_ipv4()),
                    family_name(v4)
                ),
            );
            vs.sorry_server = None;
        }
    }
    let service_port = match &vs.key {
        VsKey::Addr { port, .. } => Some(*port),
        VsKey::Fwmark { .. } => Some(0),
        VsKey::Group { .. } => None,
    };
    for rs in &mut vs.real_servers {
        let Some(port) = service_port else {
            break;
        };
        if rs.lvs_method == LvsMethod::Nat {
            if rs.port == 0 {
                rs.port = port;
            }
        } else if rs.port != port {
            // Only NAT rewrites the port: the kernel gets the service's (the checkers keep the
            // configured one, as keepalived's do).
            ctx.warn(rs.span, format!(
                "real_server {}: only NAT forwards to another port; it is programmed with port {port}, as keepalived does",
                rs.ip
            ));
        }
    }
    if vs.real_servers.is_empty() {
        return; // the virtual_server is ignored
    }
    let total: u64 = vs.real_servers.iter().map(|r| u64::from(r.weight)).sum();
    if u64::from(vs.quorum) > total {
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        ctx.warn(
            spans.any_or(&["quorum"], vs.span),
            format!(
                "quorum {} is above the total weight {total} of its real servers; {total} is used, as keepalived does",
                vs.quorum
            ),
        );
        vs.quorum = total;
    }
    if vs.hysteresis > 0 && vs.hysteresis >= vs.quorum {
        let now = vs.quorum.saturating_sub(1);
        ctx.warn(
            spans.any_or(&["hysteresis"], vs.span),
            format!(
                "hysteresis {} is not below quorum {}; {now} is used, as keepalived does",
                vs.hysteresis, vs.quorum
            ),
        );
        vs.hysteresis = now;
    }
}

/// owner_ignore_adverts as keepalived 2.3.3 settles it: only for the address owner, on by default
/// in strict mode (RFC 5798 6.4.3: the owner drops adverts), else vrrp_owner_ignore_adverts.
/// keepalived also forces it on when an owner turns it off outside strict mode, with a message
/// about strict mode; lvsd keeps the operator's "off" there.
fn owner_ignore_adverts(
    ctx: &mut Ctx,
    i: &VrrpInstance,
    given: &Given,
    g: &Global,
    at: &dyn Fn(&[&str]) -> Span,
) -> bool {
    let owner = i.priority == 255;
    match given.owner_ignore_adverts {
        Some(true) if !owner => {
            ctx.warn(
                at(&["owner_ignore_adverts"]),
                format!("vrrp_instance {}: owner_ignore_adverts only applies to priority 255 (the address owner); ignored, as keepalived does", i.name),
            );
            false
        }
        Some(false) if owner && i.strict_mode => {
            ctx.warn(
                at(&["owner_ignore_adverts"]),
                format!("vrrp_instance {}: strict mode: the address owner must ignore adverts (RFC 5798); owner_ignore_adverts is on, as keepalived does", i.name),
            );
            true
        }
        Some(v) => v,
        None => owner && (i.strict_mode || g.vrrp_owner_ignore_adverts),
    }
}

//! vrrp_script, track_file, vrrp_track_process, vrrp_sync_group and vrrp_instance.

use super::addr;
use super::dup;
use super::global::set;
use crate::config::diag::Span;
use crate::config::model::*;
use crate::config::tree::Node;
use crate::config::values::Ctx;
use std::net::IpAddr;

/// vrrp_script interval / timeout: seconds to the millisecond, rounded as keepalived 2.3.2 and
/// later read them (2.2.7 takes whole seconds only); 0 becomes 1 s with a warning, as keepalived.
fn script_timer(ctx: &mut Ctx, n: &Node, script: &str) -> Option<Timer> {
    let t = ctx.timer(n, 86400.0)?;
    let ms = (t.0.as_micros() + 500) / 1000;
    if ms == 0 {
        ctx.warn(
            n.args.first().map_or(n.span(), |a| a.span),
            format!("vrrp_script {script}: {} must be more than 0; 1 second is used, as keepalived does", n.kw()),
        );
        return Some(Timer::secs(1));
    }
    Some(Timer(std::time::Duration::from_millis(ms as u64)))
}

fn name_arg(ctx: &mut Ctx, n: &Node, what: &str) -> String {
    match n.args.first() {
        Some(t) => {
            ctx.extra(n, 1);
            t.text.clone()
        }
        None => {
            ctx.err(n.end_span(), format!("'{}': expected {what}", n.kw()));
            String::new()
        }
    }
}

pub fn vrrp_script(ctx: &mut Ctx, node: &Node) -> VrrpScript {
    let mut s = VrrpScript {
        name: name_arg(ctx, node, "a script name"),
        script: Script {
            command: String::new(),
            user: None,
            group: None,
        },
        interval: Timer::secs(1),
        timeout: None,
        weight: 0,
        reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
        span: node.span(),
    };
    let mut have_script = false;
    for n in ctx.block(node) {
        match n.kw() {
            "script" => {
                if let Some(sc) = ctx.script(n) {
                    s.script = sc;
                    have_script = true;
                }
            }
            "interval" => set(&mut s.interval, script_timer(ctx, n, &s.name)),
            "timeout" => s.timeout = script_timer(ctx, n, &s.name),
            "weight" => {
                if let Some(t) =
                    ctx.arg(n, 0, "a weight from -253 to 253, and optionally 'reverse'")
                {
                    set(&mut s.weight, ctx.int_in(n, t, -253, 253).map(|v| v as i32));
                    s.reverse = reverse_flag(ctx, n, 1);
                }
            }
            "rise" => set(&mut s.rise, ctx.u32v(n, 1, 1_000_000)),
            "fall" => set(&mut s.fall, ctx.u32v(n, 1, 1_000_000)),
            "user" => {
                if let Some(u) = ctx.arg(n, 0, "a user name, and optionally a group") {
                    s.script.user = Some(u.text.clone());
                    s.script.group = n.args.get(1).map(|t| t.text.clone());
                    ctx.extra(n, 2);
                }
            }
            "init_fail" => set(&mut s.init_fail, ctx.flag(n)),
            _ => ctx.unknown(n, "vrrp_script"),
        }
    }
    if !have_script && node.block.is_some() {
        // Validation leaves it out; keepalived removes it too.
        ctx.warn(
            node.span(),
            format!(
                "vrrp_script {}: no 'script' line in its block; the vrrp_script is ignored, as keepalived does",
                s.name
            ),
        );
    }
    s
}

/// `[reverse|noreverse|no_reverse]` at argument `i`.
fn reverse_flag(ctx: &mut Ctx, n: &Node, i: usize) -> bool {
    match n.args.get(i).map(|t| t.text.as_str()) {
        None => false,
        Some("reverse") => {
            ctx.extra(n, i + 1);
            true
        }
        Some("noreverse" | "no_reverse") => {
            ctx.extra(n, i + 1);
            false
        }
        Some(other) => {
            ctx.err(
                n.args[i].span,
                format!(
                    "'{}': expected 'reverse' or 'noreverse' after the weight, found '{other}'",
                    n.kw()
                ),
            );
            false
        }
    }
}

pub fn track_file(ctx: &mut Ctx, node: &Node) -> TrackFile {
    let mut f = TrackFile {
        name: name_arg(ctx, node, "a track file name"),
        file: String::new(),
        weight: 1,
        reverse: false,
        init_file: None,
        span: node.span(),
    };
    for n in ctx.block(node) {
        match n.kw() {
            "file" => set(&mut f.file, ctx.string(n, "a file path")),
            "weight" => {
                if let Some(t) = ctx.arg(n, 0, "a weight, and optionally 'reverse'") {
                    set(
                        &mut f.weight,
                        ctx.int_in(n, t, -2_147_483_647, 2_147_483_647)
                            .map(|v| v as i32),
                    );
                    f.reverse = reverse_flag(ctx, n, 1);
                }
            }
            "init_file" => {
                ctx.no_block(n);
                let mut value = None;
                let mut overwrite = false;
                for t in &n.args {
                    if t.text == "overwrite" {
                        overwrite = true;
                    } else {
                        value = ctx.int_in(n, t, i64::from(i32::MIN), i64::from(i32::MAX));
                    }
                }
                f.init_file = Some((value, overwrite));
            }
            _ => ctx.unknown(n, "track_file"),
        }
    }
    if f.file.is_empty() && node.block.is_some() {
        // Validation leaves it out; keepalived ignores it too.
        ctx.warn(
            node.span(),
            format!(
                "track_file {}: no 'file' line in its block; the track_file is ignored, as keepalived does",
                f.name
            ),
        );
    }
    f
}

/// The kernel keeps this many bytes of a process name (TASK_COMM_LEN - 1).
const COMM_MAX: usize = 15;

pub fn track_process(ctx: &mut Ctx, node: &Node) -> TrackProcess {
    let mut p = TrackProcess {
        name: name_arg(ctx, node, "a name"),
        process: String::new(),
        params: Vec::new(),
        param_match: None,
        full_command: false,
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: Timer::default(),
        terminate_delay: Timer::default(),
        span: node.span(),
    };
    let mut process_at = None;
    let mut quorum_set = None;
    for n in ctx.block(node) {
        match n.kw() {
            "process" => {
                ctx.no_block(n);
                if process_at.is_some() {
                    ctx.err(
                        n.span(),
                        format!(
                            "vrrp_track_process {}: 'process' is already set; one process per block",
                            p.name
                        ),
                    );
                } else if let Some(t) =
                    ctx.arg(n, 0, "a process name and optionally its parameters")
                {
                    p.process = t.text.clone();
                    p.params = n.args[1..].iter().map(|t| t.text.clone()).collect();
                    process_at = Some(t.span);
                }
            }
            "param_match" => {
                ctx.no_block(n);
                ctx.extra(n, 1);
                p.param_match = match n.args.first().map(|t| t.text.as_str()) {
                    None => Some(ParamMatch::Exact),
                    Some("initial") => Some(ParamMatch::Initial),
                    Some("partial") => Some(ParamMatch::Partial),
                    Some("exact") => {
                        ctx.warn(
                            n.args[0].span,
                            "'param_match exact': keepalived 2.2.7 knows only 'initial' and 'partial' (and ignores this line); lvsd takes it as 'param_match' alone: the parameters must be exactly those given",
                        );
                        Some(ParamMatch::Exact)
                    }
                    Some(other) => {
                        ctx.err(
                            n.args[0].span,
                            format!("'param_match': expected nothing, 'initial' or 'partial', found '{other}'"),
                        );
                        p.param_match
                    }
                };
            }
            "weight" => {
                if let Some(t) = ctx.arg(n, 0, "a weight from -254 to 254") {
                    set(&mut p.weight, ctx.int_in(n, t, -254, 254).map(|v| v as i32));
                    p.reverse = reverse_flag(ctx, n, 1);
                }
            }
            "quorum" => {
                quorum_set = ctx.u32v(n, 1, 65535).map(|q| (q, n.span()));
                if let Some((q, _)) = quorum_set {
                    p.quorum = q;
                }
            }
            "quorum_max" => p.quorum_max = ctx.u32v(n, 0, 65535),
            "delay" => {
                if let Some(t) = ctx.timer(n, 3600.0) {
                    p.fork_delay = t;
                    p.terminate_delay = t;
                }
            }
            "fork_delay" => set(&mut p.fork_delay, ctx.timer(n, 3600.0)),
            "terminate_delay" => set(&mut p.terminate_delay, ctx.timer(n, 3600.0)),
            "full_command" => set(&mut p.full_command, ctx.flag(n)),
            _ => ctx.unknown(n, "vrrp_track_process"),
        }
    }
    if node.block.is_some() && process_at.is_none() {
        ctx.err(
            node.span(),
            format!(
                "vrrp_track_process {}: expected a 'process' line in its block",
                p.name
            ),
        );
    }
    // keepalived: parameters or param_match compare the command line, parameters exactly.
    if !p.params.is_empty() || p.param_match.is_some() {
        p.full_command = true;
    }
    if !p.params.is_empty() && p.param_match.is_none() {
        p.param_match = Some(ParamMatch::Exact);
    }
    match (p.quorum_max, quorum_set) {
        // quorum_max 0: the quorum is that no such process runs.
        (Some(0), Some((q, span))) if q > 1 => ctx.err(
            span,
            format!(
                "vrrp_track_process {}: quorum {q} is above quorum_max 0",
                p.name
            ),
        ),
        (Some(0), _) => p.quorum = 0,
        (Some(max), Some((q, span))) if q > max => ctx.err(
            span,
            format!(
                "vrrp_track_process {}: quorum {q} is above quorum_max {max}",
                p.name
            ),
        ),
        _ => {}
    }
    if let (Some(span), false) = (process_at, p.full_command) {
        process_name_warnings(ctx, span, &p);
    }
    p
}

/// Names that can never equal a process name (what /proc/PID/comm shows).
fn process_name_warnings(ctx: &mut Ctx, span: crate::config::diag::Span, p: &TrackProcess) {
    if p.process.starts_with('/') {
        ctx.warn(
            span,
            format!(
                "vrrp_track_process {}: '{}' is compared with the process name (such as 'nginx'), not its path; use 'full_command' to match the command line",
                p.name, p.process
            ),
        );
    } else if p.process.len() > COMM_MAX {
        ctx.warn(
            span,
            format!(
                "vrrp_track_process {}: the kernel keeps the first {COMM_MAX} bytes of a process name, so '{}' never matches one (as in keepalived); use 'full_command' to match the command line",
                p.name, p.process
            ),
        );
    }
}

/// Lines of a track_* block: `NAME [weight N] [reverse|noreverse]`.
fn tracks(ctx: &mut Ctx, node: &Node, min: i64, max: i64) -> Vec<Track> {
    let mut out = Vec::new();
    for n in ctx.block(node) {
        ctx.no_block(n);
        let mut t = Track {
            name: n.kw().to_string(),
            weight: None,
            reverse: false,
            span: n.span(),
        };
        let mut i = 0;
        while i < n.args.len() {
            match n.args[i].text.as_str() {
                "weight" => {
                    match n.args.get(i + 1) {
                        Some(v) => {
                            t.weight = ctx.int_in(n, v, min, max).map(|w| w as i32);
                            i += 2;
                        }
                        None => {
                            ctx.err(n.end_span(), format!("track {}: expected a number from {min} to {max} after 'weight'", t.name));
                            i += 1;
                        }
                    }
                }
                "reverse" => {
                    t.reverse = true;
                    i += 1;
                }
                "noreverse" | "no_reverse" => i += 1,
                other => {
                    ctx.err(
                        n.args[i].span,
                        format!(
                            "track {}: expected 'weight N' or 'reverse', found '{other}'",
                            t.name
                        ),
                    );
                    i += 1;
                }
            }
        }
        out.push(t);
    }
    out
}

fn notify_kw(ctx: &mut Ctx, n: &Node, notify: &mut Notify) -> bool {
    match n.kw() {
        "notify_master" => notify.master = ctx.script(n),
        "notify_backup" => notify.backup = ctx.script(n),
        "notify_fault" => notify.fault = ctx.script(n),
        "notify_stop" => notify.stop = ctx.script(n),
        "notify_deleted" => {
            notify.deleted = if n.args.is_empty() {
                Some(Script {
                    command: String::new(),
                    user: None,
                    group: None,
                })
            } else {
                ctx.script(n)
            }
        }
        "notify" => notify.any = ctx.script(n),
        "notify_master_rx_lower_pri" => notify.master_rx_lower_pri = ctx.script(n),
        "notify_priority_changes" => notify.priority_changes = ctx.flag(n),
        _ => return false,
    }
    true
}

pub fn sync_group(ctx: &mut Ctx, node: &Node) -> SyncGroup {
    let mut g = SyncGroup {
        name: name_arg(ctx, node, "a group name"),
        group: Vec::new(),
        track_interface: Vec::new(),
        track_script: Vec::new(),
        track_file: Vec::new(),
        track_process: Vec::new(),
        notify: Notify::default(),
        smtp_alert: None,
        global_tracking: false,
        sync_group_tracking_weight: false,
        member_spans: Vec::new(),
        span: node.span(),
    };
    for n in ctx.block(node) {
        if notify_kw(ctx, n, &mut g.notify) {
            continue;
        }
        match n.kw() {
            "group" => {
                for m in ctx.block(n) {
                    ctx.none(m);
                    g.group.push(m.kw().to_string());
                    g.member_spans.push(m.span());
                }
            }
            "track_interface" => g.track_interface = tracks(ctx, n, -253, 253),
            "track_script" => g.track_script = tracks(ctx, n, -253, 253),
            "track_file" => g.track_file = tracks(ctx, n, -254, 254),
            "track_process" => g.track_process = tracks(ctx, n, -254, 254),
            "track_bfd" => ctx.ignored(n),
            "smtp_alert" => g.smtp_alert = ctx.flag(n),
            "global_tracking" => set(&mut g.global_tracking, ctx.flag(n)),
            "sync_group_tracking_weight" => set(&mut g.sync_group_tracking_weight, ctx.flag(n)),
            _ => ctx.unknown(n, "vrrp_sync_group"),
        }
    }
    if g.group.is_empty() && node.block.is_some() {
        // Validation removes it; keepalived does too.
        ctx.warn(
            node.span(),
            format!(
                "vrrp_sync_group {}: no 'group {{ ... }}' naming its instances; the sync group is ignored, as keepalived does",
                g.name
            ),
        );
    }
    g
}

/// What the instance block said, before global defaults and the address family decide the rest.
pub struct InstanceDraft {
    pub inst: VrrpInstance,
    pub version: Option<u8>,
    pub vrid_set: bool,
    pub garp_master_delay: Option<Timer>,
    pub garp_master_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<Timer>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub garp_master_refresh: Option<Timer>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub owner_ignore_adverts: Option<bool>,
    pub strict_mode: Option<bool>,
    pub skip_check_adv_addr: Option<bool>,
    pub down_timer_adverts: Option<u32>,
    pub advert_span: Option<crate::config::diag::Span>,
    pub state_set: bool,
    pub priority_set: bool,
    /// Where each keyword of the block stands (the last one when repeated), for diagnostics about
    /// settings that do not fit together.
    pub spans: KeywordSpans,
}

/// Keyword -> place of its line in one block.
#[derive(Debug, Default)]
pub struct KeywordSpans(Vec<(String, Span)>);

impl KeywordSpans {
    pub fn note(&mut self, n: &Node) {
        self.0.push((n.kw().to_string(), n.span()));
    }

    /// The last line with this keyword (keepalived keeps the last setting).
    pub fn get(&self, kw: &str) -> Option<Span> {
        self.0.iter().rev().find(|(k, _)| k == kw).map(|(_, s)| *s)
    }

    /// The place of the first keyword of `kws` that occurs, else `fallback`.
    pub fn any_or(&self, kws: &[&str], fallback: Span) -> Span {
        kws.iter().find_map(|k| self.get(k)).unwrap_or(fallback)
    }
}

/// keepalived's rule for an instance's address family: the first address the block names (source,
/// multicast group, unicast peer or virtual address, in file order) decides it, and a later address
/// of the other family is left out with a warning.
#[derive(Default)]
struct FamilyRule {
    ipv6: Option<bool>,
}

impl FamilyRule {
    /// Whether `a` fits the instance's family (deciding it when it is the first address).
    fn fits(&mut self, a: IpAddr) -> bool {
        *self.ipv6.get_or_insert(a.is_ipv6()) == a.is_ipv6()
    }

    fn family(&self) -> &'static str {
        if self.ipv6 == Some(true) {
            "IPv6"
        } else {
            "IPv4"
        }
    }

    /// An optional single address (unicast_src_ip, mcast_src_ip, mcast_dst_ip).
    fn single(&mut self, ctx: &mut Ctx, n: &Node, name: &str, a: Option<IpAddr>) -> Option<IpAddr> {
        let a = a?;
        if self.fits(a) {
            return Some(a);
        }
        ctx.warn(n.span(), format!(
            "vrrp_instance {name}: '{}' {a} is not of the instance's address family ({}, decided by its first address); ignored, as keepalived does",
            n.kw(),
            self.family()
        ));
        None
    }
}

pub fn vrrp_instance(ctx: &mut Ctx, node: &Node) -> InstanceDraft {
    let mut d = InstanceDraft {
        inst: VrrpInstance {
            name: name_arg(ctx, node, "an instance name"),
            state: InitialState::Backup,
            interface: None,
            virtual_router_id: 0,
            priority: 100,
            advert_int: Timer::secs(1),
            version: 2,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            dont_track_primary: false,
            mcast_src_ip: None,
            mcast_dst_ip: None,
            unicast_src_ip: None,
            unicast_peer: Vec::new(),
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            old_unicast_checksum: false,
            v3_checksum_as_v2: false,
            use_vmac: None,
            vmac_xmit_base: false,
            native_ipv6: false,
            garp_master_delay: Timer::secs(5),
            garp_master_repeat: 5,
            garp_lower_prio_delay: Timer::secs(5),
            garp_lower_prio_repeat: 5,
            garp_master_refresh: Timer::secs(0),
            garp_master_refresh_repeat: 1,
            garp_extra_if: None,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            accept: None,
            nopreempt: false,
            preempt_delay: Timer::secs(0),
            strict_mode: false,
            skip_check_adv_addr: false,
            promote_secondaries: false,
            no_virtual_ipaddress: false,
            owner_ignore_adverts: false,
            notify: Notify::default(),
            smtp_alert: None,
            debug: 0,
            linkbeat_use_polling: false,
            sync_group: None,
            span: node.span(),
            vrid_span: node.span(),
        },
        version: None,
        vrid_set: false,
        garp_master_delay: None,
        garp_master_repeat: None,
        garp_lower_prio_delay: None,
        garp_lower_prio_repeat: None,
        garp_master_refresh: None,
        garp_master_refresh_repeat: None,
        lower_prio_no_advert: None,
        higher_prio_send_advert: None,
        owner_ignore_adverts: None,
        strict_mode: None,
        skip_check_adv_addr: None,
        down_timer_adverts: None,
        advert_span: None,
        state_set: false,
        priority_set: false,
        spans: KeywordSpans::default(),
    };
    let i = &mut d.inst;
    let mut fam = FamilyRule::default();
    for n in ctx.block(node) {
        d.spans.note(n);
        if notify_kw(ctx, n, &mut i.notify) {
            continue;
        }
        let kw = n.kw();
        match kw {
            "state" => {
                d.state_set = true;
                if let Some(t) = ctx.one(n, "MASTER or BACKUP") {
                    match t.text.to_ascii_uppercase().as_str() {
                        "MASTER" => i.state = InitialState::Master,
                        "BACKUP" => i.state = InitialState::Backup,
                        _ => ctx.err(
                            t.span,
                            format!("'state': expected MASTER or BACKUP, found '{}'", t.text),
                        ),
                    }
                }
            }
            "interface" => i.interface = ctx.string(n, "an interface name"),
            "virtual_router_id" => {
                i.vrid_span = n.span();
                if let Some(v) = ctx.u8v(n, 1, 255) {
                    i.virtual_router_id = v;
                }
                d.vrid_set = true;
            }
            "priority" => {
                d.priority_set = true;
                set(&mut i.priority, ctx.u8v(n, 1, 255));
            }
            "advert_int" => {
                d.advert_span = n.args.first().map(|t| t.span);
                set(&mut i.advert_int, ctx.timer(n, 255.0));
            }
            "version" => d.version = ctx.u8v(n, 2, 3),
            "authentication" => i.authentication = authentication(ctx, n),
            "virtual_ipaddress" => {
                // Several blocks add up, as in keepalived.
                for a in addresses(ctx, n) {
                    if fam.fits(a.addr) {
                        dup::vip(
                            ctx,
                            &i.name,
                            &a,
                            &i.virtual_ipaddress,
                            &i.virtual_ipaddress_excluded,
                        );
                        i.virtual_ipaddress.push(a);
                    } else {
                        ctx.warn(a.span, format!(
                            "vrrp_instance {}: virtual address {} is not of the instance's address family ({}, decided by its first address); ignored, as keepalived does (put it in virtual_ipaddress_excluded)",
                            i.name, a.addr, fam.family()
                        ));
                    }
                }
            }
            "virtual_ipaddress_excluded" => {
                for a in addresses(ctx, n) {
                    if !dup::excluded(
                        ctx,
                        &i.name,
                        &a,
                        &i.virtual_ipaddress,
                        &i.virtual_ipaddress_excluded,
                    ) {
                        i.virtual_ipaddress_excluded.push(a);
                    }
                }
            }
            "virtual_routes" => {
                i.virtual_routes = ctx
                    .block(n)
                    .iter()
                    .filter_map(|r| addr::route(ctx, r))
                    .collect()
            }
            "virtual_rules" => {
                i.virtual_rules = ctx
                    .block(n)
                    .iter()
                    .filter_map(|r| addr::rule(ctx, r))
                    .collect()
            }
            "track_interface" => i.track_interface = tracks(ctx, n, -253, 253),
            "track_script" => i.track_script = tracks(ctx, n, -253, 253),
            "track_file" => i.track_file = tracks(ctx, n, -254, 254),
            "track_process" => i.track_process = tracks(ctx, n, -254, 254),
            "dont_track_primary" => set(&mut i.dont_track_primary, ctx.flag(n)),
            "mcast_src_ip" => {
                let a = ctx.ip(n);
                i.mcast_src_ip = fam.single(ctx, n, &i.name, a);
            }
            "mcast_dst_ip" => {
                let a = ctx.ip(n);
                i.mcast_dst_ip = fam.single(ctx, n, &i.name, a);
            }
            "unicast_src_ip" => {
                let a = ctx.ip(n);
                i.unicast_src_ip = fam.single(ctx, n, &i.name, a);
            }
            "unicast_peer" => {
                for p in peers(ctx, n) {
                    if dup::peer(ctx, &i.name, &p, &i.unicast_peer) {
                        continue;
                    }
                    if fam.fits(p.addr) {
                        i.unicast_peer.push(p);
                    } else {
                        ctx.warn(p.span, format!(
                            "vrrp_instance {}: unicast_peer {} is not of the instance's address family ({}, decided by its first address); ignored, as keepalived does",
                            i.name, p.addr, fam.family()
                        ));
                    }
                }
            }
            "unicast_ttl" => i.unicast_ttl = ctx.u8v(n, 0, 255),
            "unicast_fault_no_peer" => set(&mut i.unicast_fault_no_peer, ctx.flag(n)),
            "check_unicast_src" => set(&mut i.check_unicast_src, ctx.flag(n)),
            "old_unicast_checksum" => {
                ctx.no_block(n);
                i.old_unicast_checksum = n.args.first().map(|t| t.text.as_str()) != Some("never");
            }
            "v3_checksum_as_v2" => {
                ctx.no_block(n);
                i.v3_checksum_as_v2 = n.args.first().map(|t| t.text.as_str()) != Some("never");
            }
            "use_vmac" => {
                ctx.no_block(n);
                ctx.extra(n, 2);
                i.use_vmac = Some(UseVmac {
                    name: n.args.first().map(|t| t.text.clone()),
                    mac: n.args.get(1).map(|t| t.text.clone()),
                });
            }
            "vmac_xmit_base" => set(&mut i.vmac_xmit_base, ctx.flag(n)),
            "native_ipv6" => {
                // keepalived: it makes the instance IPv6 and VRRPv3, unless IPv4 was decided.
                if fam.ipv6 == Some(false) {
                    ctx.warn(n.span(), format!("vrrp_instance {}: native_ipv6 with IPv4 addresses; ignored, as keepalived does", i.name));
                } else if ctx.flag(n) == Some(true) {
                    i.native_ipv6 = true;
                    fam.ipv6 = Some(true);
                    d.version = Some(3);
                }
            }
            "garp_master_delay" => d.garp_master_delay = ctx.timer(n, 86400.0),
            "garp_master_repeat" => d.garp_master_repeat = ctx.u32v(n, 0, 1_000_000),
            "garp_lower_prio_delay" => d.garp_lower_prio_delay = ctx.timer(n, 86400.0),
            "garp_lower_prio_repeat" => d.garp_lower_prio_repeat = ctx.u32v(n, 0, 1_000_000),
            "garp_master_refresh" => d.garp_master_refresh = ctx.timer(n, 86400.0),
            "garp_master_refresh_repeat" => {
                d.garp_master_refresh_repeat = ctx.u32v(n, 0, 1_000_000)
            }
            "garp_extra_if" => {
                ctx.no_block(n);
                let all = n.args.first().is_some_and(|t| t.text == "all");
                let idx = usize::from(all);
                match n.args.get(idx) {
                    Some(t) => {
                        i.garp_extra_if = ctx.int_in(n, t, 0, 86400).map(|v| (all, v as u32))
                    }
                    None => ctx.err(n.end_span(), "'garp_extra_if': expected [all] SECONDS"),
                }
            }
            "down_timer_adverts" => d.down_timer_adverts = ctx.u32v(n, 1, 100),
            "lower_prio_no_advert" => d.lower_prio_no_advert = ctx.flag(n),
            "higher_prio_send_advert" => d.higher_prio_send_advert = ctx.flag(n),
            "owner_ignore_adverts" => d.owner_ignore_adverts = ctx.flag(n),
            "no_virtual_ipaddress" => set(&mut i.no_virtual_ipaddress, ctx.flag(n)),
            "accept" => {
                ctx.none(n);
                i.accept = Some(true);
            }
            "no_accept" => {
                ctx.none(n);
                i.accept = Some(false);
            }
            "nopreempt" => {
                ctx.none(n);
                i.nopreempt = true;
            }
            "preempt" => {
                ctx.none(n);
                i.nopreempt = false;
            }
            "preempt_delay" => set(&mut i.preempt_delay, ctx.timer(n, 1000.0)),
            "strict_mode" => d.strict_mode = ctx.flag(n),
            "skip_check_adv_addr" => d.skip_check_adv_addr = ctx.flag(n),
            "promote_secondaries" => set(&mut i.promote_secondaries, ctx.flag(n)),
            "smtp_alert" => i.smtp_alert = ctx.flag(n),
            "debug" => set(
                &mut i.debug,
                if n.args.is_empty() {
                    Some(1)
                } else {
                    ctx.u8v(n, 0, 4)
                },
            ),
            "linkbeat_use_polling" => set(&mut i.linkbeat_use_polling, ctx.flag(n)),
            "lvs_sync_daemon_interface" => {
                ctx.warn(n.span(), "'lvs_sync_daemon_interface' is obsolete; use 'lvs_sync_daemon IF inst NAME' in global_defs");
            }
            "vrf" | "use_vmac_addr" | "use_ipvlan" | "track_bfd" | "track_src_ip"
            | "kernel_rx_buf_size" => ctx.ignored(n),
            _ => ctx.unknown(n, &format!("vrrp_instance {}", i.name)),
        }
    }
    d
}

fn authentication(ctx: &mut Ctx, node: &Node) -> Option<Authentication> {
    let mut a = Authentication {
        auth_type: None,
        auth_pass: None,
        type_span: node.span(),
    };
    for n in ctx.block(node) {
        match n.kw() {
            "auth_type" => {
                if let Some(t) = ctx.one(n, "PASS or AH") {
                    a.type_span = t.span;
                    match t.text.to_ascii_uppercase().as_str() {
                        "PASS" => a.auth_type = Some(AuthType::Pass),
                        "AH" => a.auth_type = Some(AuthType::Ah),
                        _ => ctx.err(
                            t.span,
                            format!("'auth_type': expected PASS or AH, found '{}'", t.text),
                        ),
                    }
                }
            }
            "auth_pass" => {
                if let Some(t) = ctx.one(n, "a password (up to 8 characters)") {
                    if t.text.len() > 8 {
                        ctx.warn(t.span, "'auth_pass': only the first 8 characters are used (as keepalived does)");
                    }
                    a.auth_pass = Some(t.text.chars().take(8).collect());
                }
            }
            _ => ctx.unknown(n, "authentication"),
        }
    }
    Some(a)
}

pub fn addresses(ctx: &mut Ctx, node: &Node) -> Vec<IpAddress> {
    ctx.block(node)
        .iter()
        .filter_map(|n| addr::ip_address(ctx, n))
        .collect()
}

fn peers(ctx: &mut Ctx, node: &Node) -> Vec<UnicastPeer> {
    let mut out = Vec::new();
    for n in ctx.block(node) {
        ctx.no_block(n);
        let Some(a) = crate::config::values::parse_ip(n.kw()) else {
            ctx.err(
                n.span(),
                format!("unicast_peer: expected an IP address, found '{}'", n.kw()),
            );
            continue;
        };
        let mut p = UnicastPeer {
            addr: a,
            min_ttl: None,
            max_ttl: None,
            span: n.span(),
        };
        let mut k = 0;
        while k < n.args.len() {
            let key = &n.args[k];
            let v = n.args.get(k + 1);
            match (key.text.as_str(), v) {
                ("min_ttl", Some(v)) => p.min_ttl = ctx.int_in(n, v, 0, 255).map(|x| x as u8),
                ("max_ttl", Some(v)) => p.max_ttl = ctx.int_in(n, v, 0, 255).map(|x| x as u8),
                _ => ctx.err(
                    key.span,
                    format!(
                        "unicast_peer {a}: expected 'min_ttl N' or 'max_ttl N', found '{}'",
                        key.text
                    ),
                ),
            }
            k += 2;
        }
        out.push(p);
    }
    out
}

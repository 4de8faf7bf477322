//! From the keyword tree to the typed model: one module per family of blocks.

mod addr;
mod check;
mod dup;
mod global;
mod http;
mod lvs;
mod lvsd_only;
mod settle;
mod vrrp;

pub use lvs::SCHEDULERS;

use super::model::*;
use super::tree::Node;
use super::values::Ctx;

/// Top-level blocks keepalived knows that lvsd reads without acting on.
const UNSUPPORTED_BLOCKS: &[&str] = &[
    "bfd_instance",
    "garp_group",
    "linkbeat_interfaces",
    "track_group",
    "interface_up_down_delays",
];

/// Turns top-level statements into the model one at a time, as the tree builder finishes them.
pub struct Builder {
    cfg: Config,
    drafts: Vec<vrrp::InstanceDraft>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            cfg: Config::empty(),
            drafts: Vec::new(),
        }
    }

    pub fn top(&mut self, ctx: &mut Ctx, n: &Node) {
        let cfg = &mut self.cfg;
        match n.kw() {
            "global_defs" => global::build(ctx, n, &mut cfg.global),
            "static_ipaddress" => cfg.static_ipaddress.extend(vrrp::addresses(ctx, n)),
            "static_routes" => {
                let routes: Vec<Route> = ctx
                    .block(n)
                    .iter()
                    .filter_map(|r| addr::route(ctx, r))
                    .collect();
                cfg.static_routes.extend(routes);
            }
            "static_rules" => {
                let rules: Vec<Rule> = ctx
                    .block(n)
                    .iter()
                    .filter_map(|r| addr::rule(ctx, r))
                    .collect();
                cfg.static_rules.extend(rules);
            }
            "lvs_sysctl" => lvsd_only::lvs_sysctl(ctx, n, &mut cfg.global.lvs_sysctl),
            "lvs_sync_catchup" => {
                lvsd_only::lvs_sync_catchup(ctx, n, &mut cfg.global.lvs_sync_catchup)
            }
            "SSL" => {
                if let Some(first) = &cfg.ssl {
                    ctx.warn_also(
                        n.span(),
                        first.span,
                        "SSL is defined twice; this one replaces the first, as in keepalived",
                    );
                }
                cfg.ssl = Some(http::ssl_block(ctx, n));
            }
            "bgp_announce" => {
                let b = lvsd_only::bgp_announce(ctx, n);
                if cfg.bgp_announce.is_some() {
                    ctx.warn(
                        n.span(),
                        "bgp_announce is defined twice; this one is ignored",
                    );
                } else {
                    cfg.bgp_announce = Some(b);
                }
            }
            "vrrp_script" => cfg.vrrp_scripts.push(vrrp::vrrp_script(ctx, n)),
            "track_file" | "vrrp_track_file" => cfg.track_files.push(vrrp::track_file(ctx, n)),
            "vrrp_track_process" => cfg.track_processes.push(vrrp::track_process(ctx, n)),
            "vrrp_sync_group" => cfg.sync_groups.push(vrrp::sync_group(ctx, n)),
            "vrrp_instance" => self.drafts.push(vrrp::vrrp_instance(ctx, n)),
            "virtual_server_group" => cfg
                .virtual_server_groups
                .push(lvs::virtual_server_group(ctx, n)),
            "virtual_server" => {
                if let Some(vs) = lvs::virtual_server(ctx, n) {
                    cfg.virtual_servers.push(vs);
                }
            }
            // Top-level process settings keepalived takes outside global_defs.
            "net_namespace"
            | "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "instance"
            | "use_pid_dir"
            | "linkbeat_use_polling"
            | "child_wait_time" => {
                ctx.ignored(n);
                cfg.global.ignored.push(n.kw().to_string());
            }
            kw if UNSUPPORTED_BLOCKS.contains(&kw) => {
                ctx.ignored(n);
                cfg.unsupported_blocks.push(kw.to_string());
            }
            _ => ctx.unknown(n, "the top level"),
        }
    }

    /// Instances take their defaults from global_defs wherever it stands in the file.
    pub fn finish(mut self, ctx: &mut Ctx) -> Config {
        let global = &self.cfg.global;
        self.cfg.vrrp_instances = self
            .drafts
            .into_iter()
            .map(|d| finish_instance(ctx, d, global))
            .collect();
        self.cfg
    }
}

/// Applies global defaults and the address family to an instance, then settles what does not fit
/// together as keepalived does.
fn finish_instance(ctx: &mut Ctx, d: vrrp::InstanceDraft, g: &Global) -> VrrpInstance {
    let mut i = d.inst;
    if !d.vrid_set {
        ctx.err(
            i.span,
            format!(
                "vrrp_instance {}: expected 'virtual_router_id N' (1-255)",
                i.name
            ),
        );
    }
    i.version = d
        .version
        .unwrap_or(if i.is_ipv6() { 3 } else { g.vrrp_version });
    i.strict_mode = d.strict_mode.unwrap_or(g.vrrp_strict);
    i.garp_master_delay = d.garp_master_delay.unwrap_or(g.vrrp_garp_master_delay);
    i.garp_master_repeat = d.garp_master_repeat.unwrap_or(g.vrrp_garp_master_repeat);
    i.garp_master_refresh = d.garp_master_refresh.unwrap_or(g.vrrp_garp_master_refresh);
    i.garp_master_refresh_repeat = d
        .garp_master_refresh_repeat
        .unwrap_or(g.vrrp_garp_master_refresh_repeat);
    if g.vrrp_min_garp {
        i.garp_master_repeat = d.garp_master_repeat.unwrap_or(1);
        i.garp_master_delay = d.garp_master_delay.unwrap_or(Timer::secs(0));
    }
    i.skip_check_adv_addr = d.skip_check_adv_addr.unwrap_or(g.vrrp_skip_check_adv_addr);
    i.down_timer_adverts = d.down_timer_adverts.unwrap_or(g.vrrp_down_timer_adverts);
    i.check_unicast_src |= g.vrrp_check_unicast_src;
    if i.interface.is_none() {
        // keepalived 2.2.7 stops on it ("Unknown interface!"), with or without default_interface
        // and unicast peers: an instance without its interface would run on a guess.
        ctx.err(
            i.span,
            format!(
                "vrrp_instance {}: expected 'interface NAME' (keepalived refuses an instance without one; default_interface is only for static addresses)",
                i.name
            ),
        );
    }
    let given = settle::Given {
        spans: &d.spans,
        state: d.state_set,
        priority: d.priority_set,
        garp_lower_prio_delay: d.garp_lower_prio_delay,
        garp_lower_prio_repeat: d.garp_lower_prio_repeat,
        lower_prio_no_advert: d.lower_prio_no_advert,
        higher_prio_send_advert: d.higher_prio_send_advert,
        owner_ignore_adverts: d.owner_ignore_adverts,
    };
    settle::vrrp_instance(ctx, &mut i, &given, g);
    let at = d.advert_span.unwrap_or(i.span);
    let micros = i.advert_int.0.as_micros();
    if i.version == 2 {
        if !micros.is_multiple_of(1_000_000) || micros == 0 {
            ctx.err(at, format!("vrrp_instance {}: VRRPv2 advert_int must be whole seconds from 1 to 255 (use 'version 3' for sub-second adverts)", i.name));
        }
    } else if !micros.is_multiple_of(10_000) || !(10_000..=40_950_000).contains(&micros) {
        ctx.err(at, format!("vrrp_instance {}: VRRPv3 advert_int must be from 0.01 to 40.95 seconds in steps of 0.01", i.name));
    }
    i
}

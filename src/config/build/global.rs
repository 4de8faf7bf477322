//! global_defs.

use crate::config::model::{FlushOnStop, Global, LvsSyncDaemon, SmtpServer};
use crate::config::tree::Node;
use crate::config::values::{parse_ip, Ctx};

/// global_defs keywords keepalived knows that lvsd reads without acting on them (process tuning, SNMP,
/// DBus, firewall integration ...). Each gets a warning and is listed in `--dump-conf` under
/// `global.ignored`.
const IGNORED: &[&str] = &[
    "tmp_config_directory",
    "config_save_dir",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "linkbeat_use_polling",
    "child_wait_time",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "disable_local_igmp",
    "vrrp_priority",
    "checker_priority",
    "bfd_priority",
    "vrrp_no_swap",
    "checker_no_swap",
    "bfd_no_swap",
    "vrrp_cpu_affinity",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "vrrp_rt_priority",
    "checker_rt_priority",
    "bfd_rt_priority",
    "vrrp_rlimit_rttime",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "enable_snmp_keepalived",
    "enable_dbus",
    "dbus_service_name",
    "dynamic_interfaces",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "rs_init_notifies",
    "no_checker_emails",
    "umask",
    "log_unknown_vrids",
    "vmac_prefix",
    "vmac_addr_prefix",
    "random_seed",
    "reload_check_config",
    "include_check",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "fifo_write_vrrp_states_on_reload",
    "min_auto_priority_delay",
    "vrrp_garp_extra_if",
    "vrrp_gna_interval_extra",
    "vrrp_dont_track_primary",
    "script_security",
    "vrrp_skip_check_adv_addr_extra",
    "smtp_alert_bfd",
    "vrrp_track_process_delay",
    "checker_log_all_failures_extra",
];

pub fn build(ctx: &mut Ctx, node: &Node, g: &mut Global) {
    for n in ctx.block(node) {
        let kw = n.kw();
        match kw {
            "router_id" => g.router_id = ctx.string(n, "a name for this director"),
            "lvs_id" => {
                ctx.warn(
                    n.span(),
                    "'lvs_id' is the old name of 'router_id'; use router_id",
                );
                g.router_id = ctx.string(n, "a name for this director");
            }
            "notification_email" => {
                let items: Vec<String> = ctx.block(n).iter().map(|e| e.kw().to_string()).collect();
                for e in ctx.block(n) {
                    ctx.extra(e, 0);
                }
                g.notification_email.extend(items);
            }
            "notification_email_from" => {
                g.notification_email_from = ctx.string(n, "an email address")
            }
            "smtp_server" => {
                if let Some(host) = ctx.arg(n, 0, "an address or host name, and optionally a port")
                {
                    let port = match n.args.get(1) {
                        Some(p) => ctx.port_tok(n, p),
                        None => Some(25),
                    };
                    ctx.extra(n, 2);
                    if let Some(port) = port {
                        g.smtp_server = Some(SmtpServer {
                            host: host.text.clone(),
                            port,
                        });
                    }
                }
            }
            "smtp_helo_name" => g.smtp_helo_name = ctx.string(n, "a host name"),
            "smtp_connect_timeout" => set(&mut g.smtp_connect_timeout, ctx.timer(n, 86400.0)),
            "smtp_alert" => g.smtp_alert = ctx.flag(n),
            "smtp_alert_vrrp" => g.smtp_alert_vrrp = ctx.flag(n),
            "smtp_alert_checker" => g.smtp_alert_checker = ctx.flag(n),
            "checker_log_all_failures" => set(&mut g.checker_log_all_failures, ctx.flag(n)),
            "share_checks" => set(&mut g.share_checks, ctx.flag(n)),
            "no_email_faults" => set(&mut g.no_email_faults, ctx.flag(n)),
            "script_user" => {
                if let Some(u) = ctx.arg(n, 0, "a user name, and optionally a group") {
                    g.script_user = Some((u.text.clone(), n.args.get(1).map(|t| t.text.clone())));
                    ctx.extra(n, 2);
                }
            }
            "enable_script_security" => set(&mut g.enable_script_security, ctx.flag(n)),
            "default_interface" => {
                set(&mut g.default_interface, ctx.string(n, "an interface name"))
            }
            "vrrp_mcast_group4" => {
                if let Some(a) = ctx.ip(n) {
                    if a.is_ipv4() && a.is_multicast() {
                        g.vrrp_mcast_group4 = a;
                    } else {
                        ctx.err(
                            n.args[0].span,
                            format!("'{kw}': expected an IPv4 multicast address, found '{a}'"),
                        );
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(a) = ctx.ip(n) {
                    if a.is_ipv6() && a.is_multicast() {
                        g.vrrp_mcast_group6 = a;
                    } else {
                        ctx.err(
                            n.args[0].span,
                            format!("'{kw}': expected an IPv6 multicast address, found '{a}'"),
                        );
                    }
                }
            }
            "vrrp_version" => set(&mut g.vrrp_version, ctx.u8v(n, 2, 3)),
            "vrrp_strict" => set(&mut g.vrrp_strict, ctx.flag(n)),
            "vrrp_garp_master_delay" => set(&mut g.vrrp_garp_master_delay, ctx.timer(n, 86400.0)),
            "vrrp_garp_master_repeat" => {
                set(&mut g.vrrp_garp_master_repeat, ctx.u32v(n, 0, 1_000_000))
            }
            "vrrp_garp_lower_prio_delay" => g.vrrp_garp_lower_prio_delay = ctx.timer(n, 86400.0),
            "vrrp_garp_lower_prio_repeat" => {
                g.vrrp_garp_lower_prio_repeat = ctx.u32v(n, 0, 1_000_000)
            }
            "vrrp_garp_master_refresh" => {
                set(&mut g.vrrp_garp_master_refresh, ctx.timer(n, 86400.0))
            }
            "vrrp_garp_master_refresh_repeat" => set(
                &mut g.vrrp_garp_master_refresh_repeat,
                ctx.u32v(n, 0, 1_000_000),
            ),
            "vrrp_garp_interval" => set(&mut g.vrrp_garp_interval, ctx.timer(n, 1.0)),
            "vrrp_gna_interval" => set(&mut g.vrrp_gna_interval, ctx.timer(n, 1.0)),
            "vrrp_min_garp" => set(&mut g.vrrp_min_garp, ctx.flag(n)),
            "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = ctx.flag(n),
            "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = ctx.flag(n),
            "vrrp_check_unicast_src" => set(&mut g.vrrp_check_unicast_src, ctx.flag(n)),
            "vrrp_skip_check_adv_addr" => set(&mut g.vrrp_skip_check_adv_addr, ctx.flag(n)),
            "vrrp_owner_ignore_adverts" => set(&mut g.vrrp_owner_ignore_adverts, ctx.flag(n)),
            "vrrp_startup_delay" => set(&mut g.vrrp_startup_delay, ctx.timer(n, 180.0)),
            "vrrp_notify_priority_changes" => set(&mut g.vrrp_notify_priority_changes, ctx.flag(n)),
            "vrrp_down_timer_adverts" => set(&mut g.vrrp_down_timer_adverts, ctx.u32v(n, 1, 100)),
            "max_auto_priority" => {
                g.max_auto_priority = match n.args.first() {
                    None => Some(99),
                    Some(_) => ctx.num(n, -1, 99).map(|v| v as i32),
                }
            }
            "lvs_timeouts" => lvs_timeouts(ctx, n, g),
            "lvs_sync_daemon" => g.lvs_sync_daemon = sync_daemon(ctx, n),
            "lvs_flush" => set(&mut g.lvs_flush, ctx.flag(n)),
            "lvs_flush_on_stop" => {
                g.lvs_flush_on_stop = match n.args.first().map(|t| t.text.as_str()) {
                    None => FlushOnStop::All,
                    Some("VS") => FlushOnStop::VirtualServers,
                    Some(other) => {
                        ctx.err(
                            n.args[0].span,
                            format!("'{kw}': expected nothing or 'VS', found '{other}'"),
                        );
                        g.lvs_flush_on_stop
                    }
                }
            }
            "notify_fifo" => g.notify_fifo = ctx.script(n),
            "notify_fifo_script" => g.notify_fifo_script = ctx.script(n),
            "vrrp_notify_fifo" => g.vrrp_notify_fifo = ctx.script(n),
            "vrrp_notify_fifo_script" => g.vrrp_notify_fifo_script = ctx.script(n),
            "lvs_notify_fifo" => g.lvs_notify_fifo = ctx.script(n),
            "lvs_notify_fifo_script" => g.lvs_notify_fifo_script = ctx.script(n),
            "startup_script" => g.startup_script = ctx.script(n),
            "startup_script_timeout" => set(&mut g.startup_script_timeout, ctx.timer(n, 1000.0)),
            "shutdown_script" => g.shutdown_script = ctx.script(n),
            "shutdown_script_timeout" => set(&mut g.shutdown_script_timeout, ctx.timer(n, 1000.0)),
            "state_dump_file" => g.state_dump_file = ctx.string(n, "a file path"),
            "stats_dump_file" => g.stats_dump_file = ctx.string(n, "a file path"),
            "json_dump_file" => g.json_dump_file = ctx.string(n, "a file path"),
            "control_socket" => g.control_socket = ctx.string(n, "a path for lvsd ctl's socket"),
            "control_group" => {
                g.control_group = ctx.string(
                    n,
                    "a group whose members may look (lvsd ctl status, events)",
                )
            }
            "metrics_listen" => {
                g.metrics_listen = ctx.string(n, "an address:port such as 127.0.0.1:9650")
            }
            "process_monitor_rcv_bufs" => {
                g.process_monitor_rcv_bufs = ctx.u32v(n, 0, u32::MAX).filter(|&v| v > 0)
            }
            "process_monitor_rcv_bufs_force" => {
                set(&mut g.process_monitor_rcv_bufs_force, ctx.flag(n))
            }
            _ if IGNORED.contains(&kw) => {
                ctx.ignored(n);
                g.ignored.push(kw.to_string());
            }
            _ => ctx.unknown(n, "global_defs"),
        }
    }
}

/// Keeps the default when the value was malformed (the error is already reported).
pub fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn lvs_timeouts(ctx: &mut Ctx, n: &Node, g: &mut Global) {
    ctx.no_block(n);
    if n.args.is_empty() {
        ctx.err(
            n.end_span(),
            "'lvs_timeouts': expected at least one of tcp SECS, tcpfin SECS, udp SECS",
        );
    }
    let mut i = 0;
    while i < n.args.len() {
        let name = &n.args[i];
        let Some(v) = n.args.get(i + 1) else {
            ctx.err(
                n.end_span(),
                format!("'lvs_timeouts': expected seconds after '{}'", name.text),
            );
            break;
        };
        let secs = ctx.int_in(n, v, 0, i64::from(i32::MAX)).map(|s| s as u32);
        match name.text.as_str() {
            "tcp" => g.lvs_timeouts.tcp = secs,
            "tcpfin" => g.lvs_timeouts.tcpfin = secs,
            "udp" => g.lvs_timeouts.udp = secs,
            other => ctx.err(
                name.span,
                format!("'lvs_timeouts': expected tcp, tcpfin or udp, found '{other}'"),
            ),
        }
        i += 2;
    }
}

fn sync_daemon(ctx: &mut Ctx, n: &Node) -> Option<LvsSyncDaemon> {
    let ifname = ctx.arg(
        n,
        0,
        "an interface name, then [inst] VRRP_INSTANCE, id N, maxlen N, port N, ttl N, group ADDR",
    )?;
    let mut d = LvsSyncDaemon {
        interface: ifname.text.clone(),
        instance: None,
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
        span: n.span(),
    };
    let mut i = 1;
    while i < n.args.len() {
        let key = &n.args[i];
        let val = n.args.get(i + 1);
        let needs_value = matches!(
            key.text.as_str(),
            "inst" | "id" | "maxlen" | "port" | "ttl" | "group"
        );
        if needs_value && val.is_none() {
            ctx.err(
                n.end_span(),
                format!("'lvs_sync_daemon': expected a value after '{}'", key.text),
            );
            break;
        }
        match (key.text.as_str(), val) {
            ("inst", Some(v)) => d.instance = Some(v.text.clone()),
            ("id", Some(v)) => d.sync_id = ctx.int_in(n, v, 0, 255).map(|x| x as u8),
            ("maxlen", Some(v)) => d.maxlen = ctx.int_in(n, v, 1, 65507).map(|x| x as u16),
            ("port", Some(v)) => d.port = ctx.int_in(n, v, 1, 65535).map(|x| x as u16),
            ("ttl", Some(v)) => d.ttl = ctx.int_in(n, v, 1, 255).map(|x| x as u8),
            ("group", Some(v)) => match parse_ip(&v.text) {
                Some(a) if a.is_multicast() => d.group = Some(a),
                _ => ctx.err(
                    v.span,
                    format!(
                        "'lvs_sync_daemon': expected a multicast group address, found '{}'",
                        v.text
                    ),
                ),
            },
            _ if i == 1 && d.instance.is_none() => {
                // The instance name may be given without 'inst' (older syntax).
                d.instance = Some(key.text.clone());
                i += 1;
                continue;
            }
            _ => {
                ctx.err(key.span, format!("'lvs_sync_daemon': expected inst, id, maxlen, port, ttl or group, found '{}'", key.text));
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    Some(d)
}

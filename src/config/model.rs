//! The typed configuration: what lvsd understood from keepalived.conf, with keepalived's defaults filled
//! in. `lvsd --dump-conf` prints this as JSON.

use super::diag::Span;
use serde::{Serialize, Serializer};
use std::net::IpAddr;
use std::time::Duration;

/// A time value in seconds with microsecond resolution (keepalived's `<TIMER>`); JSON shows seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timer(pub Duration);

impl Timer {
    pub const fn secs(s: u64) -> Timer {
        Timer(Duration::from_secs(s))
    }
}

impl Serialize for Timer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

/// A script to run: the command line as written (split later, honouring single quotes) and its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    pub command: String,
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: Global,
    pub static_ipaddress: Vec<IpAddress>,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
    pub vrrp_scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFile>,
    pub track_processes: Vec<TrackProcess>,
    pub sync_groups: Vec<SyncGroup>,
    pub vrrp_instances: Vec<VrrpInstance>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// Blocks lvsd reads but does not act on (bfd_instance, garp_group, linkbeat_interfaces, ...).
    pub unsupported_blocks: Vec<String>,
    /// lvsd only (top-level `bgp_announce` block): VIPs announced over BGP by BIRD.
    pub bgp_announce: Option<BgpAnnounce>,
    /// The top-level `SSL` block: the client certificate SSL_GET presents.
    pub ssl: Option<SslClient>,
}

/// keepalived's top-level `SSL` block. The CA file is read, as keepalived, but not used to verify
/// (keepalived sets no verification; tls_verify_ca does that).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SslClient {
    pub certificate: Option<String>,
    pub key: Option<String>,
    /// Decrypts the key.
    pub password: Option<Secret>,
    pub ca: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl Config {
    /// A configuration with nothing in it (keepalived's defaults everywhere).
    pub fn empty() -> Config {
        Config {
            global: Global::default(),
            static_ipaddress: Vec::new(),
            static_routes: Vec::new(),
            static_rules: Vec::new(),
            vrrp_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            sync_groups: Vec::new(),
            vrrp_instances: Vec::new(),
            virtual_server_groups: Vec::new(),
            virtual_servers: Vec::new(),
            unsupported_blocks: Vec::new(),
            bgp_announce: None,
            ssl: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Timer,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub checker_log_all_failures: bool,
    /// lvsd only: a real server that several virtual servers check with identical checkers is
    /// probed once for all of them.
    pub share_checks: bool,
    pub no_email_faults: bool,
    pub script_user: Option<(String, Option<String>)>,
    pub enable_script_security: bool,
    pub default_interface: String,
    pub vrrp_mcast_group4: IpAddr,
    pub vrrp_mcast_group6: IpAddr,
    pub vrrp_version: u8,
    pub vrrp_strict: bool,
    pub vrrp_garp_master_delay: Timer,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_lower_prio_delay: Option<Timer>,
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_garp_master_refresh: Timer,
    pub vrrp_garp_master_refresh_repeat: u32,
    pub vrrp_garp_interval: Timer,
    pub vrrp_gna_interval: Timer,
    pub vrrp_min_garp: bool,
    pub vrrp_lower_prio_no_advert: Option<bool>,
    pub vrrp_higher_prio_send_advert: Option<bool>,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_skip_check_adv_addr: bool,
    /// Default of owner_ignore_adverts for priority-255 instances (keepalived 2.3.3).
    pub vrrp_owner_ignore_adverts: bool,
    pub vrrp_startup_delay: Timer,
    pub vrrp_notify_priority_changes: bool,
    pub vrrp_down_timer_adverts: u32,
    pub max_auto_priority: Option<i32>,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// lvsd only (top-level `lvs_sysctl` block): net.ipv4.vs.* values lvsd sets at start.
    pub lvs_sysctl: LvsSysctl,
    /// lvsd only (top-level `lvs_sync_catchup` block): how a returning director catches up.
    pub lvs_sync_catchup: SyncCatchup,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: FlushOnStop,
    pub notify_fifo: Option<Script>,
    pub notify_fifo_script: Option<Script>,
    pub vrrp_notify_fifo: Option<Script>,
    pub vrrp_notify_fifo_script: Option<Script>,
    pub lvs_notify_fifo: Option<Script>,
    pub lvs_notify_fifo_script: Option<Script>,
    pub startup_script: Option<Script>,
    pub startup_script_timeout: Timer,
    pub shutdown_script: Option<Script>,
    pub shutdown_script_timeout: Timer,
    pub state_dump_file: Option<String>,
    pub stats_dump_file: Option<String>,
    pub json_dump_file: Option<String>,
    pub metrics_listen: Option<String>,
    /// lvsd only: lvsd ctl's socket, and a group whose members may use its read-only commands.
    pub control_socket: Option<String>,
    pub control_group: Option<String>,
    /// Receive buffer of the process-event socket (vrrp_track_process), and whether to force it
    /// past net.core.rmem_max.
    pub process_monitor_rcv_bufs: Option<u32>,
    pub process_monitor_rcv_bufs_force: bool,
    /// global_defs keywords lvsd accepts for compatibility but does not act on.
    pub ignored: Vec<String>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Timer::secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            checker_log_all_failures: false,
            share_checks: true,
            no_email_faults: false,
            script_user: None,
            enable_script_security: false,
            default_interface: "eth0".into(),
            vrrp_mcast_group4: IpAddr::from([224, 0, 0, 18]),
            vrrp_mcast_group6: IpAddr::from([0xff02, 0, 0, 0, 0, 0, 0, 0x12]),
            vrrp_version: 2,
            vrrp_strict: false,
            vrrp_garp_master_delay: Timer::secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_master_refresh: Timer::secs(0),
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: Timer::secs(0),
            vrrp_gna_interval: Timer::secs(0),
            vrrp_min_garp: false,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: None,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_owner_ignore_adverts: false,
            vrrp_startup_delay: Timer::secs(0),
            vrrp_notify_priority_changes: false,
            vrrp_down_timer_adverts: 3,
            max_auto_priority: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_sync_daemon: None,
            lvs_sysctl: LvsSysctl::default(),
            lvs_sync_catchup: SyncCatchup::default(),
            lvs_flush: false,
            lvs_flush_on_stop: FlushOnStop::No,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            lvs_notify_fifo: None,
            lvs_notify_fifo_script: None,
            startup_script: None,
            startup_script_timeout: Timer::secs(10),
            shutdown_script: None,
            shutdown_script_timeout: Timer::secs(10),
            state_dump_file: None,
            stats_dump_file: None,
            json_dump_file: None,
            metrics_listen: None,
            control_socket: None,
            control_group: None,
            process_monitor_rcv_bufs: None,
            process_monitor_rcv_bufs_force: false,
            ignored: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub instance: Option<String>,
    pub sync_id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
    #[serde(skip)]
    pub span: Span,
}

/// The `net.ipv4.vs.*` settings that decide what the sync daemons send and how a director treats a
/// packet of a connection it has no entry for; `None` leaves the kernel's value alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LvsSysctl {
    /// (threshold, period): sync a connection at its `threshold`th packet, then every `period`.
    pub sync_threshold: Option<(u32, u32)>,
    /// Seconds; non-zero syncs on state changes and then at most this often.
    pub sync_refresh_period: Option<u32>,
    /// 0-3: resends of a sync message within sync_refresh_period / 8.
    pub sync_retries: Option<u8>,
    pub sync_persist_mode: Option<bool>,
    pub sloppy_tcp: Option<bool>,
    pub sloppy_sctp: Option<bool>,
    pub conntrack: Option<bool>,
    pub expire_nodest_conn: Option<bool>,
    pub expire_quiescent_template: Option<bool>,
}

impl LvsSysctl {
    /// (file name under /proc/sys/net/ipv4/vs, value as the kernel reads it) of each set key.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let b = |v: bool| u8::from(v).to_string();
        let mut out = Vec::new();
        if let Some((t, p)) = self.sync_threshold {
            out.push(("sync_threshold", format!("{t} {p}")));
        }
        let nums = [
            ("sync_refresh_period", self.sync_refresh_period),
            ("sync_retries", self.sync_retries.map(u32::from)),
        ];
        for (k, v) in nums {
            if let Some(v) = v {
                out.push((k, v.to_string()));
            }
        }
        let flags = [
            ("sync_persist_mode", self.sync_persist_mode),
            ("sloppy_tcp", self.sloppy_tcp),
            ("sloppy_sctp", self.sloppy_sctp),
            ("conntrack", self.conntrack),
            ("expire_nodest_conn", self.expire_nodest_conn),
            ("expire_quiescent_template", self.expire_quiescent_template),
        ];
        for (k, v) in flags {
            if let Some(v) = v {
                out.push((k, b(v)));
            }
        }
        out
    }
}

/// A director that is about to preempt asks the master for its connection table first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SyncCatchup {
    /// Longest preemption is held back waiting for the table; zero turns catch-up off.
    pub timeout: Timer,
    /// UDP port of the catch-up requests; `None`: the sync daemon's port + 1.
    pub port: Option<u16>,
}

impl Default for SyncCatchup {
    fn default() -> Self {
        SyncCatchup {
            timeout: Timer::secs(10),
            port: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushOnStop {
    No,
    /// Flush the whole table.
    All,
    /// Remove only the virtual servers lvsd manages (the kernel drops their real servers).
    VirtualServers,
}

/// An address line of virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpAddress {
    pub addr: IpAddr,
    pub prefix: u8,
    pub brd: Option<String>,
    pub dev: Option<String>,
    pub scope: Option<String>,
    pub label: Option<String>,
    pub peer: Option<IpAddr>,
    pub home: bool,
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub use_vmac: bool,
    pub preferred_lft: Option<String>,
    pub track_group: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

impl IpAddress {
    /// An address with every option at its default.
    pub fn new(addr: IpAddr, prefix: u8, span: Span) -> Self {
        IpAddress {
            addr,
            prefix,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            home: false,
            nodad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            use_vmac: false,
            preferred_lft: None,
            track_group: None,
            span,
        }
    }
}

/// A route of virtual_routes / static_routes, in `ip route` syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// unicast (default), blackhole, unreachable, prohibit, throw, local, broadcast, ...
    pub route_type: Option<String>,
    pub to: String,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub table: Option<String>,
    pub metric: Option<u32>,
    pub scope: Option<String>,
    pub protocol: Option<String>,
    pub onlink: bool,
    pub no_track: bool,
    pub inet6: bool,
    pub append: bool,
    /// `nexthop` / `or` alternatives.
    pub nexthops: Vec<Nexthop>,
    /// Further `ip route` options (mtu, advmss, realms ...), as name and value.
    pub options: Vec<(String, String)>,
    pub track_group: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub weight: Option<u32>,
    pub onlink: bool,
}

impl Route {
    /// A route to `to` with every option at its default.
    pub fn new(to: &str, span: Span) -> Self {
        Route {
            route_type: None,
            to: to.to_string(),
            src: None,
            via: None,
            dev: None,
            table: None,
            metric: None,
            scope: None,
            protocol: None,
            onlink: false,
            no_track: false,
            inet6: false,
            append: false,
            nexthops: Vec::new(),
            options: Vec::new(),
            track_group: None,
            span,
        }
    }
}

/// A rule of virtual_rules / static_rules, in `ip rule` syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub from: Option<String>,
    pub to: Option<String>,
    pub table: Option<String>,
    pub preference: Option<u32>,
    pub no_track: bool,
    pub inet6: bool,
    pub options: Vec<(String, String)>,
    pub track_group: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub script: Script,
    pub interval: Timer,
    pub timeout: Option<Timer>,
    pub weight: i32,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: String,
    pub weight: i32,
    pub reverse: bool,
    pub init_file: Option<(Option<i64>, bool)>,
    #[serde(skip)]
    pub span: Span,
}

/// How the parameters of a tracked process are compared (`param_match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// The process has exactly these parameters (none, when none are given).
    Exact,
    /// The first parameters are these, the last one possibly longer (`initial`).
    Initial,
    /// The first parameters are these, whole; more may follow (`partial`).
    Partial,
}

/// A `vrrp_track_process` block, with keepalived's defaults and its implied settings filled in:
/// parameters or `param_match` imply `full_command`, parameters alone imply exact matching.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackProcess {
    pub name: String,
    /// The name to find: the process name (/proc/PID/comm), or with `full_command` the first
    /// word of the command line (argv[0]).
    pub process: String,
    /// Parameters that must follow argv[0] (see `param_match`).
    pub params: Vec<String>,
    pub param_match: Option<ParamMatch>,
    pub full_command: bool,
    pub weight: i32,
    pub reverse: bool,
    /// Fewest matching processes for the quorum (0 with `quorum_max 0`).
    pub quorum: u32,
    /// Most matching processes for the quorum; None: no limit.
    pub quorum_max: Option<u32>,
    /// How long a quorum gained or lost by a fork waits before it counts.
    pub fork_delay: Timer,
    /// How long a quorum lost or gained by a process exit waits before it counts.
    pub terminate_delay: Timer,
    #[serde(skip)]
    pub span: Span,
}

/// A reference from an instance or group to a tracked object, with an optional weight override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Track {
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: bool,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Notify {
    pub master: Option<Script>,
    pub backup: Option<Script>,
    pub fault: Option<Script>,
    pub stop: Option<Script>,
    pub deleted: Option<Script>,
    pub any: Option<Script>,
    pub master_rx_lower_pri: Option<Script>,
    pub priority_changes: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub group: Vec<String>,
    pub track_interface: Vec<Track>,
    pub track_script: Vec<Track>,
    pub track_file: Vec<Track>,
    pub track_process: Vec<Track>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    pub global_tracking: bool,
    pub sync_group_tracking_weight: bool,
    /// Where each name of `group` stands.
    #[serde(skip)]
    pub member_spans: Vec<Span>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    pub auth_type: Option<AuthType>,
    /// At most 8 bytes are used on the wire (as keepalived).
    pub auth_pass: Option<String>,
    /// Where the auth_type value is, for validation.
    #[serde(skip)]
    pub type_span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseVmac {
    pub name: Option<String>,
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub state: InitialState,
    pub interface: Option<String>,
    pub virtual_router_id: u8,
    pub priority: u8,
    pub advert_int: Timer,
    /// 2 or 3; defaults to global vrrp_version, and 3 for IPv6 instances.
    pub version: u8,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddress: Vec<IpAddress>,
    pub virtual_ipaddress_excluded: Vec<IpAddress>,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    pub track_interface: Vec<Track>,
    pub track_script: Vec<Track>,
    pub track_file: Vec<Track>,
    pub track_process: Vec<Track>,
    pub dont_track_primary: bool,
    pub mcast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peer: Vec<UnicastPeer>,
    pub unicast_ttl: Option<u8>,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: bool,
    /// `old_unicast_checksum` (keepalived 2.2.7): VRRPv3 unicast checksum with the multicast group
    /// as the pseudo-header destination, as keepalived before 1.3.6 computed it.
    pub old_unicast_checksum: bool,
    /// `v3_checksum_as_v2` (later keepalived): VRRPv3 checksum without a pseudo-header.
    pub v3_checksum_as_v2: bool,
    pub use_vmac: Option<UseVmac>,
    pub vmac_xmit_base: bool,
    pub native_ipv6: bool,
    pub garp_master_delay: Timer,
    pub garp_master_repeat: u32,
    pub garp_lower_prio_delay: Timer,
    pub garp_lower_prio_repeat: u32,
    pub garp_master_refresh: Timer,
    pub garp_master_refresh_repeat: u32,
    pub garp_extra_if: Option<(bool, u32)>,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// `Some(true)` for accept, `Some(false)` for no_accept; the default depends on strict mode.
    pub accept: Option<bool>,
    pub nopreempt: bool,
    pub preempt_delay: Timer,
    pub strict_mode: bool,
    pub skip_check_adv_addr: bool,
    pub promote_secondaries: bool,
    /// An instance without VIPs on purpose (keepalived 2.2.8): no warning, and VRRPv3 allowed.
    pub no_virtual_ipaddress: bool,
    /// The address owner drops the adverts it receives (keepalived 2.3.3; RFC 5798 6.4.3).
    pub owner_ignore_adverts: bool,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    pub debug: u8,
    pub linkbeat_use_polling: bool,
    /// The sync group this instance belongs to, filled in by validation.
    pub sync_group: Option<String>,
    #[serde(skip)]
    pub span: Span,
    /// Where virtual_router_id is, for diagnostics.
    #[serde(skip)]
    pub vrid_span: Span,
}

impl VrrpInstance {
    /// The instance's address family (keepalived's rule): that of its addresses, which the builder
    /// keeps to one family; IPv4 when it names none.
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ipaddress
            .first()
            .map(|a| a.addr)
            .or(self.unicast_src_ip)
            .or(self.mcast_src_ip)
            .or(self.unicast_peer.first().map(|p| p.addr))
            .or(self.mcast_dst_ip)
            .map_or(self.native_ipv6, |a| a.is_ipv6())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    Nocsum,
    Csum,
    Remcsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "UPPERCASE")]
pub enum LvsMethod {
    Nat,
    Dr,
    Tun {
        tunnel_type: TunnelType,
        port: Option<u16>,
        csum: Option<TunnelCsum>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsKey {
    Addr { ip: IpAddr, port: u16 },
    Fwmark { mark: u32 },
    Group { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VsgEntry {
    /// First and last address (inclusive), and port (0 for a persistent service without port).
    Range {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    Fwmark {
        mark: u32,
        inet6: Option<bool>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub ip: IpAddr,
    pub port: u16,
    pub lvs_method: Option<LvsMethod>,
    pub inhibit: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    pub key: VsKey,
    pub protocol: Protocol,
    pub lvs_sched: String,
    pub lvs_method: LvsMethod,
    pub sched_flags: SchedFlags,
    pub ops: bool,
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<String>,
    pub persistence_engine: Option<String>,
    pub ip_family: Option<String>,
    pub delay_loop: Timer,
    pub ha_suspend: bool,
    pub alpha: bool,
    pub omega: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub sorry_server: Option<SorryServer>,
    pub virtualhost: Option<String>,
    pub inhibit_on_failure: bool,
    pub smtp_alert: Option<bool>,
    pub snmp_name: Option<String>,
    pub real_servers: Vec<RealServer>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SchedFlags {
    pub flag_1: bool,
    pub flag_2: bool,
    pub flag_3: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServer {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub lvs_method: LvsMethod,
    pub uthreshold: u32,
    pub lthreshold: u32,
    /// Boxed: one real server in thousands has them, and every real server is kept for the daemon's life.
    pub notify_up: Option<Box<Script>>,
    pub notify_down: Option<Box<Script>>,
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub delay_loop: Timer,
    /// lvsd only: coming up, the weight rises from 1 to `weight` over this time.
    pub slow_start: Option<Timer>,
    pub checkers: Vec<Checker>,
    #[serde(skip)]
    pub span: Span,
}

impl RealServer {
    /// The kernel refuses a destination whose lower connection threshold is above its upper one
    /// (ERANGE; an upper threshold of 0 means none, and counts as 0); keepalived then runs without it.
    pub fn kernel_refuses(&self) -> bool {
        self.lthreshold > self.uthreshold
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checker {
    #[serde(flatten)]
    pub kind: CheckKind,
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    /// bindto, bind_if, bind_port, fwmark: boxed apart, as few checkers have any and every checker
    /// is kept for the daemon's life.
    #[serde(flatten)]
    pub bind: Option<Box<SourceBind>>,
    pub alpha: bool,
    pub connect_timeout: Timer,
    pub retry: u32,
    pub delay_before_retry: Timer,
    pub warmup: Timer,
    pub delay_loop: Timer,
    pub log_all_failures: bool,
    #[serde(skip)]
    pub span: Span,
}

/// Where a checker's sockets come from: source address and port, interface, fwmark.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceBind {
    pub bindto: Option<IpAddr>,
    pub bind_if: Option<String>,
    pub bind_port: Option<u16>,
    pub fwmark: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum CheckKind {
    #[serde(rename = "TCP_CHECK")]
    Tcp,
    // Boxed, as MISC_CHECK's script: a TCP_CHECK then takes 56 bytes, not the largest kind's 112.
    #[serde(rename = "HTTP_GET")]
    Http(Box<HttpCheck>),
    #[serde(rename = "SSL_GET")]
    Ssl(Box<HttpCheck>),
    #[serde(rename = "SMTP_CHECK")]
    Smtp { helo_name: Option<String> },
    #[serde(rename = "DNS_CHECK")]
    Dns { query_type: String, name: String },
    #[serde(rename = "MISC_CHECK")]
    Misc {
        misc_path: Box<Script>,
        misc_timeout: Option<Timer>,
        misc_dynamic: bool,
    },
    #[serde(rename = "UDP_CHECK")]
    Udp {
        payload: Option<Vec<u8>>,
        require_reply: Option<Vec<HexNibble>>,
        min_reply_length: u32,
        max_reply_length: u32,
    },
    #[serde(rename = "PING_CHECK")]
    Ping,
    #[serde(rename = "FILE_CHECK")]
    File {
        track_file: String,
        dynamic: bool,
        weight: Option<i32>,
        reverse: bool,
    },
    #[serde(rename = "BFD_CHECK")]
    Bfd { name: String },
}

/// One nibble of a UDP_CHECK `require_reply` pattern: a value, or `X` (any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HexNibble {
    Value(u8),
    Any,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct HttpCheck {
    pub http_protocol: Option<String>,
    pub fast_recovery: bool,
    pub enable_sni: bool,
    pub sni_name: Option<String>,
    /// SSL_GET (keepalived 2.2.8): send close_notify before closing, for every url.
    pub tls_compliant: bool,
    /// SSL_GET, lvsd only: verify the server's certificate against these CAs (PEM file).
    pub tls_verify_ca: Option<String>,
    /// SSL_GET, lvsd only: the name the certificate must carry. Default: the handshake's name.
    pub tls_verify_name: Option<String>,
    pub virtualhost: Option<String>,
    pub urls: Vec<Url>,
}

/// A value that must never be shown: `--dump-conf`, Debug output and the status dumps print
/// `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Headers whose value is a credential.
pub const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

fn headers_redacted<S: Serializer>(h: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(h.len()))?;
    for (name, value) in h {
        let secret = SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str());
        seq.serialize_element(&(name, if secret { "<redacted>" } else { value }))?;
    }
    seq.end()
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Url {
    pub path: String,
    pub digest: Option<String>,
    /// Inclusive ranges; empty means the default 200-299.
    pub status_code: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u32>,
    pub regex_max_offset: Option<u32>,
    /// lvsd only: the request method. Default: GET.
    pub method: Option<String>,
    /// lvsd only: extra request headers, in the file's order (credentials among them redacted in
    /// the JSON).
    #[serde(serialize_with = "headers_redacted")]
    pub headers: Vec<(String, String)>,
    /// HTTP Basic credentials (keepalived pull request 2677's names, not in a keepalived release).
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// SSL_GET (keepalived 2.2.8): send close_notify before closing.
    pub tls_compliant: bool,
    #[serde(skip)]
    pub span: Span,
}

/// When a VIP counts as servable: while any of its virtual servers has quorum, or only while all do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequireServices {
    #[default]
    Any,
    All,
}

/// lvsd only: `bgp_announce { ... }`. Which VIPs this director announces through BIRD, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpAnnounce {
    /// BIRD's control socket.
    pub bird_socket: String,
    /// The file lvsd generates with one `protocol static` per VIP (bird.conf includes it).
    pub include_file: String,
    /// Start of the BIRD protocol names lvsd generates (`lvsd_v4_192_0_2_10`).
    pub protocol_prefix: String,
    /// The tun device lvsd holds open; every VIP's route goes through it, so BIRD withdraws the
    /// routes when lvsd's process ends, however it ends.
    pub liveness_interface: String,
    /// Defaults for the VIPs below.
    pub require_services: RequireServices,
    pub vrrp_instance: Option<String>,
    /// Health must hold this long before a VIP is announced (withdrawal is at once).
    pub announce_delay: Timer,
    /// At a clean stop: how long IPVS keeps serving after the VIPs were withdrawn, for the
    /// routers to move the flows away.
    pub withdraw_delay: Timer,
    pub vips: Vec<AnnouncedVip>,
    #[serde(skip)]
    pub span: Span,
}

impl Default for BgpAnnounce {
    fn default() -> Self {
        BgpAnnounce {
            bird_socket: "/run/bird/bird.ctl".into(),
            include_file: "/etc/bird/lvsd-vips.conf".into(),
            protocol_prefix: "lvsd_".into(),
            liveness_interface: "lvsd-bgp".into(),
            require_services: RequireServices::Any,
            vrrp_instance: None,
            announce_delay: Timer::secs(0),
            withdraw_delay: Timer::secs(1),
            vips: Vec::new(),
            span: Span::default(),
        }
    }
}

/// One announced VIP (a /32 or /128 route), with its block's defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnouncedVip {
    pub addr: IpAddr,
    pub require_services: RequireServices,
    /// Announced only while this instance is MASTER.
    pub vrrp_instance: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

//! What one VRRP instance is configured with. The integrator fills this from the config model;
//! defaults follow keepalived 2.2.7.

use std::net::IpAddr;
use std::time::Duration;

use super::checksum::ChecksumMode;
use super::packet::{Auth, Family, Version};

/// Priority of the address owner (RFC 5798 section 5.2.4).
pub const PRIORITY_OWNER: u8 = 255;

/// The `state` keyword: only the initial state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

/// Gratuitous ARP / unsolicited NA timing (keepalived `garp_*` keywords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpParams {
    /// Delay of the second burst after becoming MASTER; zero means no second burst.
    pub master_delay: Duration,
    /// Messages per burst after becoming MASTER.
    pub master_repeat: u32,
    /// Delay of the second burst after a lower priority advert was received as MASTER.
    pub lower_prio_delay: Duration,
    /// Messages per burst after a lower priority advert was received as MASTER; 0 sends none.
    pub lower_prio_repeat: u32,
    /// Period of refresh bursts while MASTER; zero disables refreshing.
    pub master_refresh: Duration,
    /// Messages per refresh burst.
    pub master_refresh_repeat: u32,
}

impl Default for GarpParams {
    /// keepalived's documented defaults: 5 messages, again 5 s later, no refresh; the lower
    /// priority values default to the master ones.
    fn default() -> Self {
        GarpParams {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceParams {
    /// Instance name, used in every log line: `(VI_1) Entering MASTER STATE`.
    pub name: String,
    pub vrid: u8,
    pub version: Version,
    pub family: Family,
    /// Configured (base) priority, 1..=255; 255 makes this router the address owner.
    pub priority: u8,
    /// Our advertisement interval. VRRPv2 sends whole seconds, VRRPv3 centiseconds.
    pub advert_interval: Duration,
    pub initial_state: InitialState,
    /// `preempt` (default) or `nopreempt` (false).
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// Accept mode; carried for the shell (firewalling of VIPs), the state machine ignores it.
    pub accept: bool,
    /// Our primary address: advert source, and the tie-breaker at equal priority.
    pub primary: IpAddr,
    /// Virtual addresses carried in adverts (`virtual_ipaddress`, not the excluded ones).
    pub vips: Vec<IpAddr>,
    /// VRRPv2 authentication (`auth_type PASS` + `auth_pass`); ignored for VRRPv3.
    pub auth: Auth,
    pub checksum: ChecksumMode,
    /// Accepted TTL / hop limit range: 255..=255 for multicast (RFC), wider for unicast.
    pub min_ttl: u8,
    pub max_ttl: u8,
    /// Skip the address list check when the advert comes from the master we already know.
    pub skip_check_adv_addr: bool,
    /// As MASTER, do not answer a lower priority advert with one of ours.
    pub lower_prio_no_advert: bool,
    /// As MASTER, send one advert before yielding to a higher priority one.
    pub higher_prio_send_advert: bool,
    /// Master_Down_Interval = this many advert intervals + skew (RFC: 3).
    pub down_timer_adverts: u32,
    pub garp: GarpParams,
    /// The IPVS sync daemon follows this instance (or its sync group): before preempting a
    /// master, ask for its connection table and wait for it at most this long.
    pub catchup_hold: Option<Duration>,
}

impl InstanceParams {
    /// An instance with keepalived's defaults: priority 100, advert_int 1 s, preempt, VRRPv2
    /// for IPv4 and VRRPv3 for IPv6, multicast TTL check, no authentication.
    pub fn new(name: &str, vrid: u8, primary: IpAddr, vips: Vec<IpAddr>) -> Self {
        let family = Family::of(primary);
        InstanceParams {
            name: name.to_string(),
            vrid,
            version: match family {
                Family::V4 => Version::V2,
                Family::V6 => Version::V3,
            },
            family,
            priority: 100,
            advert_interval: Duration::from_secs(1),
            initial_state: InitialState::Backup,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept: true,
            primary,
            vips,
            auth: Auth::None,
            checksum: ChecksumMode::Rfc,
            min_ttl: 255,
            max_ttl: 255,
            skip_check_adv_addr: false,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: 3,
            garp: GarpParams::default(),
            catchup_hold: None,
        }
    }

    pub fn is_address_owner(&self) -> bool {
        self.priority == PRIORITY_OWNER
    }

    /// keepalived documents that nopreempt and preempt_delay only work when the initial
    /// state is not MASTER; such an instance always preempts at once.
    pub fn effective_preempt(&self) -> bool {
        self.preempt || self.initial_state == InitialState::Master
    }

    pub fn effective_preempt_delay(&self) -> Duration {
        match self.initial_state {
            InitialState::Master => Duration::ZERO,
            InitialState::Backup => self.preempt_delay,
        }
    }
}

//! Which IPVS sync daemons run: the pure half. With `lvs_sync_daemon IFACE VI_NAME` the kernel
//! runs the master daemon (it sends the connection table) while that instance is MASTER and the
//! backup daemon (it receives) otherwise, as keepalived 2.2.7 does; without an instance both run
//! for as long as lvsd does.

use std::collections::HashMap;
use std::net::IpAddr;

use ipvs::{Daemon, DaemonState};
use serde::Serialize;

use crate::config::model::Config;
use crate::vrrp::State;

/// The kernel's defaults (ip_vs_sync.c), for the catch-up sender and the views.
pub const DEFAULT_GROUP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, 81));
pub const DEFAULT_PORT: u16 = 8848;

/// lvs_sync_daemon with every default resolved: what the daemons are started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncSpec {
    pub interface: String,
    /// The VRRP instance the daemon's role follows.
    pub follows: Option<String>,
    /// `id`, else the followed instance's virtual_router_id, else 0 (accept any).
    pub syncid: u8,
    pub maxlen: Option<u16>,
    pub group: Option<IpAddr>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
}

impl SyncSpec {
    pub fn from_config(cfg: &Config) -> Option<SyncSpec> {
        let d = cfg.global.lvs_sync_daemon.as_ref()?;
        let vrid = d
            .instance
            .as_ref()
            .and_then(|n| cfg.vrrp_instances.iter().find(|i| &i.name == n))
            .map(|i| i.virtual_router_id);
        Some(SyncSpec {
            interface: d.interface.clone(),
            follows: d.instance.clone(),
            syncid: d.sync_id.or(vrid).unwrap_or(0),
            maxlen: d.maxlen,
            group: d.group,
            port: d.port,
            ttl: d.ttl,
        })
    }

    pub fn daemon(&self, state: DaemonState) -> Daemon {
        let mut d = Daemon::new(state, &self.interface, u32::from(self.syncid));
        d.sync_maxlen = self.maxlen;
        d.mcast_group = self.group;
        d.mcast_port = self.port;
        d.mcast_ttl = self.ttl;
        d
    }

    pub fn group(&self) -> IpAddr {
        self.group.unwrap_or(DEFAULT_GROUP)
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// The role for the VRRP states known so far: an instance not heard of yet is starting, so
    /// it receives.
    pub fn role(&self, states: &HashMap<String, State>) -> Role {
        match &self.follows {
            None => Role::Both,
            Some(name) if states.get(name) == Some(&State::Master) => Role::Master,
            Some(_) => Role::Backup,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Master,
    Backup,
    Both,
}

impl Role {
    pub fn daemons(self) -> &'static [DaemonState] {
        match self {
            Role::Master => &[DaemonState::Master],
            Role::Backup => &[DaemonState::Backup],
            Role::Both => &[DaemonState::Master, DaemonState::Backup],
        }
    }
}

/// The operations that take the running daemons to `want`: the unwanted one stops first, as
/// keepalived switches (a kernel runs one master and one backup per namespace).
pub fn switch(running: &[DaemonState], want: &[DaemonState]) -> Vec<(bool, DaemonState)> {
    let stop = running
        .iter()
        .filter(|s| !want.contains(s))
        .map(|s| (false, *s));
    let start = want
        .iter()
        .filter(|s| !running.contains(s))
        .map(|s| (true, *s));
    stop.chain(start).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, LoadOptions};

    fn spec(text: &str) -> Option<SyncSpec> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.conf");
        std::fs::write(&p, text).unwrap();
        let opts = LoadOptions {
            config_id: "lvs1".into(),
            check_machine: false,
        };
        let loaded = config::load(&p, &opts);
        SyncSpec::from_config(loaded.config.as_ref().expect("valid"))
    }

    const PAIR: &str = "global_defs {\n lvs_sync_daemon eth1 VI_1\n}\n\
        vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n \
        virtual_ipaddress {\n 10.0.0.100\n }\n}\n";

    #[test]
    fn the_sync_id_defaults_to_the_followed_instances_vrid() {
        let s = spec(PAIR).unwrap();
        assert_eq!((s.syncid, s.follows.as_deref()), (51, Some("VI_1")));
        let s = spec(&PAIR.replace("eth1 VI_1", "eth1 VI_1 id 7")).unwrap();
        assert_eq!(s.syncid, 7);
        let s = spec("global_defs {\n lvs_sync_daemon eth1\n}\n").unwrap();
        assert_eq!((s.syncid, s.follows), (0, None));
        assert_eq!(spec("global_defs {\n router_id a\n}\n"), None);
    }

    #[test]
    fn the_role_follows_the_instance_and_is_both_without_one() {
        let s = spec(PAIR).unwrap();
        let mut st = HashMap::new();
        assert_eq!(s.role(&st), Role::Backup, "not heard of yet: starting");
        st.insert("VI_1".to_string(), State::Master);
        assert_eq!(s.role(&st), Role::Master);
        for other in [State::Backup, State::Fault, State::Stop] {
            st.insert("VI_1".to_string(), other);
            assert_eq!(s.role(&st), Role::Backup, "{other}");
        }
        let both = spec("global_defs {\n lvs_sync_daemon eth1\n}\n").unwrap();
        assert_eq!(both.role(&st), Role::Both);
    }

    #[test]
    fn switching_stops_the_unwanted_daemon_before_starting_the_other() {
        use DaemonState::*;
        assert_eq!(
            switch(&[Backup], Role::Master.daemons()),
            vec![(false, Backup), (true, Master)]
        );
        assert_eq!(switch(&[Master], Role::Master.daemons()), vec![]);
        assert_eq!(
            switch(&[], Role::Both.daemons()),
            vec![(true, Master), (true, Backup)]
        );
        assert_eq!(switch(&[Master, Backup], &[]).len(), 2);
    }
}

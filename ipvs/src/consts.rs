//! Numeric values of the IPVS generic netlink interface, as in `<linux/ip_vs.h>`.
//!
//! Each value is pinned by a unit test below; the two MH scheduler flags are not in the
//! uapi header (the kernel defines them in `ip_vs_mh.c` as aliases of SCHED1/SCHED2).

/// Generic netlink family name and version.
pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 1;

/// `IP_VS_VERSION_CODE` (1.2.1).
pub const IP_VS_VERSION_CODE: u32 = 0x010201;

/// Maximum lengths of names, including the terminating NUL.
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
pub const IP_VS_PENAME_MAXLEN: usize = 16;
pub const IP_VS_IFNAME_MAXLEN: usize = 16;

// Virtual service flags.
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;
pub const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
pub const IP_VS_SVC_F_SCHED_MH_PORT: u32 = IP_VS_SVC_F_SCHED2;

// Sync daemon states.
pub const IP_VS_STATE_NONE: u32 = 0x0000;
pub const IP_VS_STATE_MASTER: u32 = 0x0001;
pub const IP_VS_STATE_BACKUP: u32 = 0x0002;

// Connection flags: forwarding methods.
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
pub const IP_VS_CONN_F_MASQ: u32 = 0x0000;
pub const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
pub const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
pub const IP_VS_CONN_F_DROUTE: u32 = 0x0003;
pub const IP_VS_CONN_F_BYPASS: u32 = 0x0004;

// Tunnel types and encapsulation flags.
pub const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u8 = 0;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u8 = 1;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u8 = 2;
pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1 << 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 1 << 1;

// Commands.
pub const IPVS_CMD_UNSPEC: u8 = 0;
pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_GET_DEST: u8 = 8;
pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
pub const IPVS_CMD_GET_DAEMON: u8 = 11;
pub const IPVS_CMD_SET_CONFIG: u8 = 12;
pub const IPVS_CMD_GET_CONFIG: u8 = 13;
pub const IPVS_CMD_SET_INFO: u8 = 14;
pub const IPVS_CMD_GET_INFO: u8 = 15;
pub const IPVS_CMD_ZERO: u8 = 16;
pub const IPVS_CMD_FLUSH: u8 = 17;

// First-level command attributes.
pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// Service attributes (nested in IPVS_CMD_ATTR_SERVICE).
pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

// Destination attributes (nested in IPVS_CMD_ATTR_DEST).
pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

// Sync daemon attributes (nested in IPVS_CMD_ATTR_DAEMON).
pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

// Statistics attributes (nested in the *_ATTR_STATS and *_ATTR_STATS64 attributes).
pub const IPVS_STATS_ATTR_CONNS: u16 = 1;
pub const IPVS_STATS_ATTR_INPKTS: u16 = 2;
pub const IPVS_STATS_ATTR_OUTPKTS: u16 = 3;
pub const IPVS_STATS_ATTR_INBYTES: u16 = 4;
pub const IPVS_STATS_ATTR_OUTBYTES: u16 = 5;
pub const IPVS_STATS_ATTR_CPS: u16 = 6;
pub const IPVS_STATS_ATTR_INPPS: u16 = 7;
pub const IPVS_STATS_ATTR_OUTPPS: u16 = 8;
pub const IPVS_STATS_ATTR_INBPS: u16 = 9;
pub const IPVS_STATS_ATTR_OUTBPS: u16 = 10;
pub const IPVS_STATS_ATTR_PAD: u16 = 11;

// GET_INFO reply attributes (top level).
pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// Address families as the kernel numbers them (`AF_INET`, `AF_INET6`).
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values are read off /usr/include/linux/ip_vs.h: enums count from 0 in order.
    #[test]
    fn family_and_version() {
        assert_eq!(IPVS_GENL_NAME, "IPVS");
        assert_eq!(IPVS_GENL_VERSION, 0x1);
        assert_eq!(IP_VS_VERSION_CODE, 0x010201);
        assert_eq!(
            (
                IP_VS_SCHEDNAME_MAXLEN,
                IP_VS_PENAME_MAXLEN,
                IP_VS_IFNAME_MAXLEN
            ),
            (16, 16, 16)
        );
    }

    #[test]
    fn service_flags() {
        assert_eq!(IP_VS_SVC_F_PERSISTENT, 0x1);
        assert_eq!(IP_VS_SVC_F_HASHED, 0x2);
        assert_eq!(IP_VS_SVC_F_ONEPACKET, 0x4);
        assert_eq!(IP_VS_SVC_F_SCHED1, 0x8);
        assert_eq!(IP_VS_SVC_F_SCHED2, 0x10);
        assert_eq!(IP_VS_SVC_F_SCHED3, 0x20);
        assert_eq!(IP_VS_SVC_F_SCHED_SH_FALLBACK, 0x8);
        assert_eq!(IP_VS_SVC_F_SCHED_SH_PORT, 0x10);
        assert_eq!(IP_VS_SVC_F_SCHED_MH_FALLBACK, 0x8);
        assert_eq!(IP_VS_SVC_F_SCHED_MH_PORT, 0x10);
    }

    #[test]
    fn daemon_states_forwarding_and_tunnels() {
        assert_eq!(
            (IP_VS_STATE_NONE, IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP),
            (0, 1, 2)
        );
        assert_eq!(IP_VS_CONN_F_FWD_MASK, 7);
        assert_eq!(
            [
                IP_VS_CONN_F_MASQ,
                IP_VS_CONN_F_LOCALNODE,
                IP_VS_CONN_F_TUNNEL,
                IP_VS_CONN_F_DROUTE,
                IP_VS_CONN_F_BYPASS
            ],
            [0, 1, 2, 3, 4]
        );
        assert_eq!(
            [
                IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
                IP_VS_CONN_F_TUNNEL_TYPE_GUE,
                IP_VS_CONN_F_TUNNEL_TYPE_GRE
            ],
            [0, 1, 2]
        );
        assert_eq!(
            [
                IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM,
                IP_VS_TUNNEL_ENCAP_FLAG_CSUM,
                IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
            ],
            [0, 1, 2]
        );
    }

    #[test]
    fn commands() {
        let cmds = [
            IPVS_CMD_UNSPEC,
            IPVS_CMD_NEW_SERVICE,
            IPVS_CMD_SET_SERVICE,
            IPVS_CMD_DEL_SERVICE,
            IPVS_CMD_GET_SERVICE,
            IPVS_CMD_NEW_DEST,
            IPVS_CMD_SET_DEST,
            IPVS_CMD_DEL_DEST,
            IPVS_CMD_GET_DEST,
            IPVS_CMD_NEW_DAEMON,
            IPVS_CMD_DEL_DAEMON,
            IPVS_CMD_GET_DAEMON,
            IPVS_CMD_SET_CONFIG,
            IPVS_CMD_GET_CONFIG,
            IPVS_CMD_SET_INFO,
            IPVS_CMD_GET_INFO,
            IPVS_CMD_ZERO,
            IPVS_CMD_FLUSH,
        ];
        assert_eq!(cmds.to_vec(), (0..=17).collect::<Vec<u8>>());
    }

    #[test]
    fn command_attributes() {
        assert_eq!(
            [
                IPVS_CMD_ATTR_SERVICE,
                IPVS_CMD_ATTR_DEST,
                IPVS_CMD_ATTR_DAEMON,
                IPVS_CMD_ATTR_TIMEOUT_TCP,
                IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
                IPVS_CMD_ATTR_TIMEOUT_UDP
            ],
            [1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn service_attributes() {
        let attrs = [
            IPVS_SVC_ATTR_AF,
            IPVS_SVC_ATTR_PROTOCOL,
            IPVS_SVC_ATTR_ADDR,
            IPVS_SVC_ATTR_PORT,
            IPVS_SVC_ATTR_FWMARK,
            IPVS_SVC_ATTR_SCHED_NAME,
            IPVS_SVC_ATTR_FLAGS,
            IPVS_SVC_ATTR_TIMEOUT,
            IPVS_SVC_ATTR_NETMASK,
            IPVS_SVC_ATTR_STATS,
            IPVS_SVC_ATTR_PE_NAME,
            IPVS_SVC_ATTR_STATS64,
        ];
        assert_eq!(attrs.to_vec(), (1..=12).collect::<Vec<u16>>());
    }

    #[test]
    fn dest_attributes() {
        let attrs = [
            IPVS_DEST_ATTR_ADDR,
            IPVS_DEST_ATTR_PORT,
            IPVS_DEST_ATTR_FWD_METHOD,
            IPVS_DEST_ATTR_WEIGHT,
            IPVS_DEST_ATTR_U_THRESH,
            IPVS_DEST_ATTR_L_THRESH,
            IPVS_DEST_ATTR_ACTIVE_CONNS,
            IPVS_DEST_ATTR_INACT_CONNS,
            IPVS_DEST_ATTR_PERSIST_CONNS,
            IPVS_DEST_ATTR_STATS,
            IPVS_DEST_ATTR_ADDR_FAMILY,
            IPVS_DEST_ATTR_STATS64,
            IPVS_DEST_ATTR_TUN_TYPE,
            IPVS_DEST_ATTR_TUN_PORT,
            IPVS_DEST_ATTR_TUN_FLAGS,
        ];
        assert_eq!(attrs.to_vec(), (1..=15).collect::<Vec<u16>>());
    }

    #[test]
    fn daemon_stats_and_info_attributes() {
        let daemon = [
            IPVS_DAEMON_ATTR_STATE,
            IPVS_DAEMON_ATTR_MCAST_IFN,
            IPVS_DAEMON_ATTR_SYNC_ID,
            IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            IPVS_DAEMON_ATTR_MCAST_GROUP,
            IPVS_DAEMON_ATTR_MCAST_GROUP6,
            IPVS_DAEMON_ATTR_MCAST_PORT,
            IPVS_DAEMON_ATTR_MCAST_TTL,
        ];
        assert_eq!(daemon.to_vec(), (1..=8).collect::<Vec<u16>>());
        let stats = [
            IPVS_STATS_ATTR_CONNS,
            IPVS_STATS_ATTR_INPKTS,
            IPVS_STATS_ATTR_OUTPKTS,
            IPVS_STATS_ATTR_INBYTES,
            IPVS_STATS_ATTR_OUTBYTES,
            IPVS_STATS_ATTR_CPS,
            IPVS_STATS_ATTR_INPPS,
            IPVS_STATS_ATTR_OUTPPS,
            IPVS_STATS_ATTR_INBPS,
            IPVS_STATS_ATTR_OUTBPS,
            IPVS_STATS_ATTR_PAD,
        ];
        assert_eq!(stats.to_vec(), (1..=11).collect::<Vec<u16>>());
        assert_eq!(
            [IPVS_INFO_ATTR_VERSION, IPVS_INFO_ATTR_CONN_TAB_SIZE],
            [1, 2]
        );
        assert_eq!((AF_INET, AF_INET6), (2, 10));
    }
}

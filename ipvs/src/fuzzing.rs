//! Harnesses for coverage-guided fuzzing (the lvsd repository's fuzz/ crate) and for the
//! regression run over the saved corpus: each takes arbitrary bytes and must return without
//! panicking, whatever the bytes. They call the same decoders the client and lvsd use.

use std::net::IpAddr;

use crate::attr::{self, AttrSet};
use crate::client::{replies, Reply};
use crate::conns::{self, SyncConn};
use crate::plan::Table;
use crate::types::{Destination, Family, Forward, Protocol, Service, ServiceKey};
use crate::wire;

/// A receive buffer from the IPVS socket: split into netlink messages as the client does, and
/// every data payload (and the whole input, as one genl payload) through every decoder.
pub fn netlink(data: &[u8]) {
    if let Ok(msgs) = replies(data) {
        for m in msgs {
            if let Reply::Data { payload, .. } = m {
                genl_payload(payload);
            }
        }
    }
    genl_payload(data);
}

fn genl_payload(p: &[u8]) {
    let _ = wire::command(p);
    let _ = wire::decode_any(p);
    let _ = wire::decode_service_key(p);
    // A dump reply: the client decodes a destination with the service's family as fallback.
    if let Ok(s) = wire::decode_service(p) {
        let _ = wire::decode_dest(p, Some(s.service.key.family()));
    }
    for fallback in [None, Some(Family::Inet), Some(Family::Inet6)] {
        let _ = wire::decode_dest(p, fallback);
        let _ = wire::decode_dest_key(p, fallback);
    }
    let _ = wire::decode_daemon(p);
    let _ = wire::decode_config(p);
    let _ = wire::decode_info(p);
    // Raw attribute walking, nested one level, as the decoders do.
    if let Ok((_, attrs)) = wire::split_genl(p) {
        if let Ok(top) = attr::parse(attrs) {
            for a in top {
                if let Ok(set) = AttrSet::parse(a.value, "fuzz") {
                    for kind in 0..16 {
                        let _ = set.u8(kind);
                        let _ = set.u16(kind);
                        let _ = set.be16(kind);
                        let _ = set.u32(kind);
                        let _ = set.uint(kind);
                        let _ = set.string(kind);
                    }
                }
            }
        }
    }
}

/// The connection table's text (`/proc/net/ip_vs_conn`) and version 1 sync messages: what is
/// decoded encodes back to the same entries, and parsed connections turn into sync entries
/// against a table that holds their services.
pub fn conns(data: &[u8]) {
    if let Ok((syncid, entries)) = conns::decode_sync_message(data) {
        let again: Vec<SyncConn> =
            conns::sync_messages(syncid, conns::DEFAULT_SYNC_MAXLEN, &entries)
                .iter()
                .flat_map(|m| match conns::decode_sync_message(m) {
                    Ok((id, e)) if id == syncid => e,
                    other => panic!("re-encoded sync message does not decode: {other:?}"),
                })
                .collect();
        assert_eq!(again, entries, "sync entries changed in a round trip");
    }
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = conns::parse_conns(&text) else {
        return;
    };
    let _ = conns::sync_entries(&parsed, &Table::new());
    let table = table_of(&parsed);
    let entries = conns::sync_entries(&parsed, &table);
    for m in conns::sync_messages(1, conns::DEFAULT_SYNC_MAXLEN, &entries) {
        if let Err(e) = conns::decode_sync_message(&m) {
            panic!("encoded sync message does not decode: {e}");
        }
    }
}

/// TCP and UDP services for every connection's virtual address, and a fwmark service per
/// family, each with the connection's real server, so that every branch of the matching runs.
fn table_of(parsed: &[conns::Conn]) -> Table {
    let mut t = Table::new();
    for c in parsed {
        let dest = || Destination::new(c.daddr, c.dport, Forward::Masq);
        let family = if c.client.is_ipv4() {
            Family::Inet
        } else {
            Family::Inet6
        };
        let mark = match c.vaddr {
            IpAddr::V4(a) => u32::from(a),
            IpAddr::V6(_) => 1,
        };
        let keys = [
            ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: c.vaddr,
                port: c.vport,
            },
            ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: c.vaddr,
                port: c.vport,
            },
            ServiceKey::Fwmark { family, mark },
        ];
        for key in keys {
            if !t.services.contains_key(&key) {
                t.insert_service(Service::new(key, "wlc").persistent(300));
            }
            // A destination of the other family is refused by the table: that is fine here.
            let _ = t.insert_dest(&key, dest());
        }
    }
    t
}

//! Catch-up: a director about to preempt gets the master's connection table first, so failback
//! keeps the connections made while it was away (the kernel syncs a connection only when its
//! packets pass, so an idle one never reaches a director that was down).
//!
//! The returning director (`ask`) sends a request over UDP to the master's address; the master's
//! lvsd (`serve`) acknowledges, reads its kernel's connection table, sends it as IPVS sync
//! messages to the sync group (where the returning director's kernel backup daemon takes them in,
//! like any sync traffic) and then answers how many entries it sent. This module is the request
//! and reply text, one line per datagram:
//!
//! ```text
//! lvsd-catchup 1 request syncid=51 nonce=93120
//! lvsd-catchup 1 ack nonce=93120
//! lvsd-catchup 1 done nonce=93120 entries=1000 messages=25
//! lvsd-catchup 1 refused nonce=93120 reason=syncid-mismatch
//! ```

pub mod ask;
pub mod serve;

const MAGIC: &str = "lvsd-catchup";
const VERSION: &str = "1";
/// Longest datagram either side reads.
pub const MAX_DATAGRAM: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Request {
        syncid: u8,
        nonce: u64,
    },
    Ack {
        nonce: u64,
    },
    Done {
        nonce: u64,
        entries: u64,
        messages: u64,
    },
    Refused {
        nonce: u64,
        reason: String,
    },
}

impl Msg {
    pub fn encode(&self) -> String {
        let body = match self {
            Msg::Request { syncid, nonce } => format!("request syncid={syncid} nonce={nonce}"),
            Msg::Ack { nonce } => format!("ack nonce={nonce}"),
            Msg::Done {
                nonce,
                entries,
                messages,
            } => format!("done nonce={nonce} entries={entries} messages={messages}"),
            Msg::Refused { nonce, reason } => format!("refused nonce={nonce} reason={reason}"),
        };
        format!("{MAGIC} {VERSION} {body}\n")
    }

    /// Reads one datagram; `None` for anything that is not a message of this version.
    pub fn decode(b: &[u8]) -> Option<Msg> {
        let text = std::str::from_utf8(b).ok()?.strip_suffix('\n')?;
        let mut words = text.split(' ');
        if words.next()? != MAGIC || words.next()? != VERSION {
            return None;
        }
        let kind = words.next()?;
        let mut fields = std::collections::HashMap::new();
        for w in words {
            let (k, v) = w.split_once('=')?;
            if fields.insert(k, v).is_some() {
                return None;
            }
        }
        let num = |k: &str| fields.get(k)?.parse::<u64>().ok();
        let msg = match kind {
            "request" => Msg::Request {
                syncid: fields.get("syncid")?.parse().ok()?,
                nonce: num("nonce")?,
            },
            "ack" => Msg::Ack {
                nonce: num("nonce")?,
            },
            "done" => Msg::Done {
                nonce: num("nonce")?,
                entries: num("entries")?,
                messages: num("messages")?,
            },
            "refused" => Msg::Refused {
                nonce: num("nonce")?,
                reason: fields.get("reason")?.to_string(),
            },
            _ => return None,
        };
        Some(msg)
    }

    pub fn nonce(&self) -> u64 {
        match self {
            Msg::Request { nonce, .. }
            | Msg::Ack { nonce }
            | Msg::Done { nonce, .. }
            | Msg::Refused { nonce, .. } => *nonce,
        }
    }
}

/// The UDP port of catch-up requests: lvs_sync_catchup's `port`, else the sync port + 1.
pub fn port(cfg: &crate::config::model::Config, spec: &super::syncd::SyncSpec) -> u16 {
    cfg.global
        .lvs_sync_catchup
        .port
        .unwrap_or_else(|| spec.port().wrapping_add(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        for m in [
            Msg::Request {
                syncid: 51,
                nonce: 93120,
            },
            Msg::Ack { nonce: 1 },
            Msg::Done {
                nonce: u64::MAX,
                entries: 1000,
                messages: 25,
            },
            Msg::Refused {
                nonce: 2,
                reason: "syncid-mismatch".into(),
            },
        ] {
            let text = m.encode();
            assert!(text.len() < MAX_DATAGRAM);
            assert_eq!(Msg::decode(text.as_bytes()), Some(m));
        }
        assert_eq!(
            Msg::Ack { nonce: 7 }.encode(),
            "lvsd-catchup 1 ack nonce=7\n"
        );
    }

    #[test]
    fn anything_else_is_not_a_message() {
        for bad in [
            &b""[..],
            b"lvsd-catchup 1 ack nonce=7",
            b"lvsd-catchup 2 ack nonce=7\n",
            b"other 1 ack nonce=7\n",
            b"lvsd-catchup 1 ack\n",
            b"lvsd-catchup 1 ack nonce=x\n",
            b"lvsd-catchup 1 ack nonce=1 nonce=2\n",
            b"lvsd-catchup 1 request syncid=256 nonce=1\n",
            b"lvsd-catchup 1 hello nonce=1\n",
            b"\xff\xfe\n",
        ] {
            assert_eq!(Msg::decode(bad), None, "{bad:?}");
        }
    }
}

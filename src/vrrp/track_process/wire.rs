//! The kernel's process events connector on the wire (linux/connector.h, linux/cn_proc.h): the
//! subscription request and the events, decoded from bytes without trusting any length.
//! A datagram is nlmsghdr (16 bytes) + cn_msg (20) + proc_event (16-byte header + data).

/// Netlink protocol of the connector, its process-events index and value.
pub const NETLINK_CONNECTOR: i32 = 11;
pub const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;

const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// Offset of the event data in a proc_event (after what, cpu, timestamp).
const EVENT_DATA: usize = 16;

/// An event lvsd uses; threads' events are left out (only thread-group leaders are processes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    /// The kernel's answer to a subscription: `ack` is the request's plus one, `err` an errno.
    Ack {
        seq: u32,
        ack: u32,
        err: u32,
    },
    Fork {
        parent: u32,
        child: u32,
    },
    Exec {
        pid: u32,
    },
    Comm {
        pid: u32,
        comm: Vec<u8>,
    },
    Exit {
        pid: u32,
    },
}

/// The PROC_CN_MCAST_LISTEN (or _IGNORE) request, marked with `seq` / `ack` to find its answer.
pub fn subscribe(listen: bool, seq: u32, ack: u32) -> Vec<u8> {
    let op = if listen {
        PROC_CN_MCAST_LISTEN
    } else {
        PROC_CN_MCAST_IGNORE
    };
    let len = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&ack.to_ne_bytes());
    m.extend_from_slice(&4u16.to_ne_bytes()); // data length
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&op.to_ne_bytes());
    m
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The events in one datagram; malformed or foreign messages are skipped (counted in the
/// second value, for the log).
pub fn parse(datagram: &[u8]) -> (Vec<ProcEvent>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    let mut off = 0;
    while off + NLMSG_HDRLEN <= datagram.len() {
        let Some(len) = u32_at(datagram, off).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDRLEN || len > datagram.len() - off {
            bad += 1;
            break;
        }
        let kind = u16_at(datagram, off + 4).unwrap_or(NLMSG_NOOP);
        let payload = &datagram[off + NLMSG_HDRLEN..off + len];
        if !matches!(kind, NLMSG_NOOP | NLMSG_ERROR | NLMSG_OVERRUN) {
            match connector_event(payload) {
                Some(Some(ev)) => out.push(ev),
                Some(None) => {}
                None => bad += 1,
            }
        }
        // Messages are 4-byte aligned.
        off += (len + 3) & !3;
    }
    (out, bad)
}

/// Some(None): a valid message lvsd does not use (another connector, a thread, uid changes...);
/// None: malformed.
fn connector_event(p: &[u8]) -> Option<Option<ProcEvent>> {
    let idx = u32_at(p, 0)?;
    let val = u32_at(p, 4)?;
    let seq = u32_at(p, 8)?;
    let ack = u32_at(p, 12)?;
    let len = usize::from(u16_at(p, 16)?);
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) {
        return Some(None);
    }
    let ev = p.get(CN_MSG_LEN..CN_MSG_LEN + len)?;
    let what = u32_at(ev, 0)?;
    let d = |i: usize| u32_at(ev, EVENT_DATA + 4 * i);
    let leader = |pid: u32, tgid: u32| (pid == tgid).then_some(tgid);
    Some(match what {
        PROC_EVENT_NONE => Some(ProcEvent::Ack {
            seq,
            ack,
            err: d(0)?,
        }),
        PROC_EVENT_FORK => {
            let (parent_tgid, child_pid, child_tgid) = (d(1)?, d(2)?, d(3)?);
            leader(child_pid, child_tgid).map(|child| ProcEvent::Fork {
                parent: parent_tgid,
                child,
            })
        }
        PROC_EVENT_EXEC => leader(d(0)?, d(1)?).map(|pid| ProcEvent::Exec { pid }),
        PROC_EVENT_COMM => {
            let name = ev.get(EVENT_DATA + 8..EVENT_DATA + 24)?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            leader(d(0)?, d(1)?).map(|pid| ProcEvent::Comm {
                pid,
                comm: name[..end].to_vec(),
            })
        }
        PROC_EVENT_EXIT => leader(d(0)?, d(1)?).map(|pid| ProcEvent::Exit { pid }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram as the kernel sends it: `what` and the event data words (and bytes after).
    fn datagram(what: u32, words: &[u32], tail: &[u8]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&1u32.to_ne_bytes()); // cpu
        ev.extend_from_slice(&123u64.to_ne_bytes()); // timestamp
        for w in words {
            ev.extend_from_slice(&w.to_ne_bytes());
        }
        ev.extend_from_slice(tail);
        ev.resize(40, 0); // sizeof(struct proc_event)
        let mut cn = Vec::new();
        for w in [CN_IDX_PROC, CN_VAL_PROC, 7, 0] {
            cn.extend_from_slice(&w.to_ne_bytes());
        }
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&0u16.to_ne_bytes());
        cn.extend_from_slice(&ev);
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + cn.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&cn);
        m
    }

    #[test]
    fn the_subscription_is_a_connector_message_of_40_bytes() {
        let m = subscribe(true, 9, 77);
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u16_at(&m, 4), Some(NLMSG_DONE));
        assert_eq!(u32_at(&m, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&m, 20), Some(CN_VAL_PROC));
        assert_eq!((u32_at(&m, 24), u32_at(&m, 28)), (Some(9), Some(77)));
        assert_eq!(u16_at(&m, 32), Some(4));
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
        assert_eq!(
            u32_at(&subscribe(false, 1, 1), 36),
            Some(PROC_CN_MCAST_IGNORE)
        );
    }

    #[test]
    fn events_of_processes_are_decoded() {
        // fork: parent pid/tgid, child pid/tgid.
        let (ev, bad) = parse(&datagram(PROC_EVENT_FORK, &[100, 100, 200, 200], &[]));
        assert_eq!(
            (ev, bad),
            (
                vec![ProcEvent::Fork {
                    parent: 100,
                    child: 200
                }],
                0
            )
        );
        let (ev, _) = parse(&datagram(PROC_EVENT_EXEC, &[300, 300], &[]));
        assert_eq!(ev, [ProcEvent::Exec { pid: 300 }]);
        let (ev, _) = parse(&datagram(PROC_EVENT_EXIT, &[300, 300, 0, 9, 1, 1], &[]));
        assert_eq!(ev, [ProcEvent::Exit { pid: 300 }]);
        let (ev, _) = parse(&datagram(
            PROC_EVENT_COMM,
            &[5, 5],
            b"Web Content\0\0\0\0\0",
        ));
        assert_eq!(
            ev,
            [ProcEvent::Comm {
                pid: 5,
                comm: b"Web Content".to_vec()
            }]
        );
        let (ev, _) = parse(&datagram(PROC_EVENT_NONE, &[1], &[]));
        assert_eq!(
            ev,
            [ProcEvent::Ack {
                seq: 7,
                ack: 0,
                err: 1
            }]
        );
    }

    #[test]
    fn threads_and_other_events_are_left_out() {
        // A new thread 201 of process 200; a thread's exec, rename and exit.
        for (what, words) in [
            (PROC_EVENT_FORK, &[100, 100, 201, 200][..]),
            (PROC_EVENT_EXEC, &[301, 300]),
            (PROC_EVENT_COMM, &[6, 5]),
            (PROC_EVENT_EXIT, &[301, 300]),
            (0x4, &[5, 5, 0, 0]), // uid change
        ] {
            assert_eq!(parse(&datagram(what, words, &[])), (vec![], 0), "{what:#x}");
        }
    }

    #[test]
    fn malformed_messages_are_counted_not_trusted() {
        let good = datagram(PROC_EVENT_EXEC, &[300, 300], &[]);
        // Cut anywhere: never a panic, never an event from a half message.
        for cut in 0..good.len() {
            let (ev, _) = parse(&good[..cut]);
            assert!(ev.is_empty(), "cut at {cut}");
        }
        // A header claiming more than was received.
        let mut long = good.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(parse(&long), (vec![], 1));
        // A connector data length past the message.
        let mut over = good.clone();
        over[32..34].copy_from_slice(&500u16.to_ne_bytes());
        assert_eq!(parse(&over), (vec![], 1));
        // Another connector's message is valid but not ours.
        let mut other = good;
        other[16..20].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(parse(&other), (vec![], 0));
    }

    #[test]
    fn two_messages_in_one_datagram_are_both_read() {
        let mut d = datagram(PROC_EVENT_EXEC, &[1, 1], &[]);
        d.extend(datagram(PROC_EVENT_EXIT, &[2, 2], &[]));
        assert_eq!(
            parse(&d).0,
            [ProcEvent::Exec { pid: 1 }, ProcEvent::Exit { pid: 2 }]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse(&bytes);
        }
    }
}

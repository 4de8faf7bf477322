//! Receiving sockets: one per (interface, index, family), each read by a task that forwards
//! datagrams to the engine. A reload opens the sockets new slots need and closes unused ones.
//! At most `MAX_QUEUED` datagrams wait for the engine: under a flood the tasks read and drop the
//! rest (counted, logged by the engine), so memory does not grow with what the network sends.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use super::{EngineError, Event};
use crate::vrrp::packet::Family;
use crate::vrrp::socket::RxSocket;

/// (interface name, interface index, family).
pub type ListenKey = (String, u32, Family);

/// Datagrams waiting for the engine, at most.
pub const MAX_QUEUED: usize = 1024;

/// Shared by the receiving tasks and the engine (one thread: a Cell is enough).
#[derive(Debug, Default)]
pub struct Backlog {
    queued: Cell<usize>,
    dropped: Cell<u64>,
}

impl Backlog {
    /// The engine took one datagram.
    pub fn taken(&self) {
        self.queued.set(self.queued.get().saturating_sub(1));
    }

    /// Datagrams dropped since the last call.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.replace(0)
    }

    /// Whether one more may be queued; counts it, or counts it dropped.
    fn admit(&self) -> bool {
        if self.queued.get() >= MAX_QUEUED {
            self.dropped.set(self.dropped.get() + 1);
            return false;
        }
        self.queued.set(self.queued.get() + 1);
        true
    }
}

#[derive(Default)]
pub struct Listeners {
    open: HashMap<ListenKey, (BTreeSet<IpAddr>, JoinHandle<()>)>,
    pub backlog: Rc<Backlog>,
}

impl Listeners {
    /// Makes exactly `wanted` listen, each joined to its groups: a socket whose groups are
    /// unchanged stays, others are opened before the ones they replace close. Returns the
    /// first error (the other sockets are still handled).
    pub fn sync(
        &mut self,
        wanted: HashMap<ListenKey, BTreeSet<IpAddr>>,
        tx: &mpsc::UnboundedSender<Event>,
    ) -> Result<(), EngineError> {
        let mut first_err = None;
        for (key, groups) in &wanted {
            if self.open.get(key).is_some_and(|(g, _)| g == groups) {
                continue;
            }
            match spawn(key, groups, tx, self.backlog.clone()) {
                Ok(task) => {
                    if let Some((_, old)) = self.open.insert(key.clone(), (groups.clone(), task)) {
                        old.abort();
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.open.retain(|key, (_, task)| {
            let keep = wanted.contains_key(key);
            if !keep {
                task.abort();
            }
            keep
        });
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn spawn(
    key: &ListenKey,
    groups: &BTreeSet<IpAddr>,
    tx: &mpsc::UnboundedSender<Event>,
    backlog: Rc<Backlog>,
) -> Result<JoinHandle<()>, EngineError> {
    let (ifname, ifindex, family) = key.clone();
    let groups: Vec<IpAddr> = groups.iter().copied().collect();
    let sock =
        RxSocket::open(&ifname, ifindex, family, &groups).map_err(|e| EngineError::Socket {
            instance: ifname.clone(),
            what: format!("receive socket on {ifname}"),
            source: e,
        })?;
    let tx = tx.clone();
    Ok(tokio::task::spawn_local(async move {
        loop {
            match sock.recv().await {
                Ok(_) if !backlog.admit() => {}
                Ok(rx) => {
                    if tx
                        .send(Event::Packet {
                            ifindex,
                            family,
                            rx,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) => {
                    warn!("receive on {ifname}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }))
}

//! Receiving sockets: one per (interface, index, family), each read by a task that forwards
//! datagrams to the engine. A reload opens the sockets new slots need and closes unused ones.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use super::{EngineError, Event};
use crate::vrrp::packet::Family;
use crate::vrrp::socket::RxSocket;

/// (interface name, interface index, family).
pub type ListenKey = (String, u32, Family);

#[derive(Default)]
pub struct Listeners {
    open: HashMap<ListenKey, (BTreeSet<IpAddr>, JoinHandle<()>)>,
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
            match spawn(key, groups, tx) {
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

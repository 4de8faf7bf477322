//! Draining on reload: a real server removed from the configuration keeps its IPVS entry at weight 0
//! until its connections end (or a timeout), because deleting a destination makes the kernel drop the
//! packets of its established connections.

use ipvs::{DestKey, Destination, ServiceKey, Table};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long a removed real server may keep connections after a reload.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Default, Clone)]
pub struct Drain {
    pending: HashMap<(ServiceKey, DestKey), (Destination, Instant)>,
}

impl Drain {
    /// Destinations of services that stay, present in `old` and gone from `new`, start draining.
    pub fn note_removed(&mut self, old: &Table, new: &Table, now: Instant) {
        for (key, vs) in &new.services {
            let Some(before) = old.services.get(key) else {
                continue;
            };
            for (dk, d) in &before.dests {
                if !vs.dests.contains_key(dk) {
                    let mut zero = *d;
                    zero.weight = 0;
                    self.pending
                        .entry((*key, *dk))
                        .or_insert((zero, now + DRAIN_TIMEOUT));
                }
            }
        }
    }

    /// `desired` plus the draining destinations (weight 0) of services that still exist.
    pub fn effective(&mut self, desired: &Table) -> Table {
        self.pending.retain(|(k, dk), _| {
            desired
                .services
                .get(k)
                .is_some_and(|vs| !vs.dests.contains_key(dk))
        });
        let mut t = desired.clone();
        for ((k, dk), (d, _)) in &self.pending {
            if let Some(vs) = t.services.get_mut(k) {
                vs.dests.insert(*dk, *d);
            }
        }
        t
    }

    /// Drops destinations without connections (`conns` says how many, None = gone) or past the timeout;
    /// true when something was dropped.
    pub fn settle(
        &mut self,
        now: Instant,
        conns: impl Fn(&ServiceKey, &DestKey) -> Option<u32>,
    ) -> bool {
        let before = self.pending.len();
        self.pending.retain(|(k, dk), (_, deadline)| {
            now < *deadline && conns(k, dk).is_some_and(|c| c > 0)
        });
        self.pending.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn services(&self) -> BTreeSet<ServiceKey> {
        self.pending.keys().map(|(k, _)| *k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::{Forward, Service};

    fn table(dests: &[(u8, u32)]) -> Table {
        let k = ServiceKey::tcp("192.0.2.1".parse().expect("ip"), 80);
        let mut t = Table::new();
        t.insert_service(Service::new(k, "wrr"));
        for (last, w) in dests {
            let mut d = Destination::new(
                format!("10.0.0.{last}").parse().expect("ip"),
                80,
                Forward::Masq,
            );
            d.weight = *w;
            t.insert_dest(&k, d).expect("dest");
        }
        t
    }

    fn weights(t: &Table) -> Vec<(String, u32)> {
        t.services
            .values()
            .flat_map(|v| v.dests.values().map(|d| (d.addr.to_string(), d.weight)))
            .collect()
    }

    #[test]
    fn a_removed_server_stays_at_weight_zero_until_idle_or_timeout() {
        let t0 = Instant::now();
        let old = table(&[(1, 3), (2, 1)]);
        let new = table(&[(2, 1)]);
        let mut d = Drain::default();
        d.note_removed(&old, &new, t0);
        assert_eq!(
            weights(&d.effective(&new)),
            vec![("10.0.0.1".into(), 0), ("10.0.0.2".into(), 1)]
        );
        // Still 4 connections: it stays.
        assert!(!d.settle(t0 + Duration::from_secs(1), |_, _| Some(4)));
        assert_eq!(d.effective(&new).dest_count(), 2);
        // Idle: it goes.
        assert!(d.settle(t0 + Duration::from_secs(2), |_, _| Some(0)));
        assert_eq!(weights(&d.effective(&new)), vec![("10.0.0.2".into(), 1)]);
        // Busy forever: the timeout ends it.
        d.note_removed(&old, &new, t0);
        assert!(d.settle(t0 + DRAIN_TIMEOUT, |_, _| Some(9)));
        assert!(d.is_empty());
    }

    #[test]
    fn a_server_added_back_stops_draining() {
        let t0 = Instant::now();
        let mut d = Drain::default();
        d.note_removed(&table(&[(1, 3), (2, 1)]), &table(&[(2, 1)]), t0);
        let back = table(&[(1, 5), (2, 1)]);
        assert_eq!(
            weights(&d.effective(&back)),
            vec![("10.0.0.1".into(), 5), ("10.0.0.2".into(), 1)]
        );
        assert!(d.is_empty());
    }
}

//! Discarded adverts: counted by reason, and logged once per (reason, peer) for the first
//! `MAX_PEERS` pairs. Past that (a flood from many, perhaps forged, sources) they are counted and
//! summed up in one line per `SUMMARY_EVERY` at most, so that neither memory nor the log grows
//! with what the network sends. Pure: the engine passes the time.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// (reason, peer) pairs logged one by one.
pub const MAX_PEERS: usize = 256;
/// Shortest gap between two summary lines.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Rejects {
    totals: BTreeMap<String, u64>,
    logged: HashSet<(String, IpAddr)>,
    /// Discarded since the last summary without a line of their own.
    quiet: u64,
    last_summary: Option<Instant>,
}

/// What to log for one discarded advert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The first of this reason from this peer: a line of its own.
    First,
    /// A summary of `quiet` adverts (this one included) discarded without a line.
    Summary {
        quiet: u64,
    },
    None,
}

impl Rejects {
    /// Counts a discarded datagram that names no peer (malformed before its source is known).
    pub fn count(&mut self, reason: &str) {
        self.add(reason, 1);
    }

    pub fn add(&mut self, reason: &str, n: u64) {
        *self.totals.entry(reason.to_string()).or_default() += n;
    }

    /// Counts an advert of `peer` discarded for `reason` and says what to log.
    pub fn note(&mut self, now: Instant, reason: &str, peer: IpAddr) -> Line {
        self.count(reason);
        let pair = (reason.to_string(), peer);
        if self.logged.contains(&pair) {
            return Line::None;
        }
        if self.logged.len() < MAX_PEERS {
            self.logged.insert(pair);
            return Line::First;
        }
        self.quiet += 1;
        if self
            .last_summary
            .is_some_and(|t| now.duration_since(t) < SUMMARY_EVERY)
        {
            return Line::None;
        }
        self.last_summary = Some(now);
        Line::Summary {
            quiet: std::mem::take(&mut self.quiet),
        }
    }

    /// Totals by reason, for the log at stop.
    pub fn totals(&self) -> impl Iterator<Item = (&String, &u64)> {
        self.totals.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u32) -> IpAddr {
        IpAddr::from((0x0a00_0000 + n).to_be_bytes())
    }

    #[test]
    fn each_reason_and_peer_is_logged_once() {
        let (mut r, t) = (Rejects::default(), Instant::now());
        assert_eq!(r.note(t, "BadTtl", peer(1)), Line::First);
        assert_eq!(r.note(t, "BadTtl", peer(1)), Line::None);
        assert_eq!(r.note(t, "AuthFailure", peer(1)), Line::First);
        assert_eq!(r.note(t, "BadTtl", peer(2)), Line::First);
        let totals: Vec<_> = r.totals().collect();
        assert_eq!(
            totals,
            [
                (&"AuthFailure".to_string(), &1),
                (&"BadTtl".to_string(), &3)
            ]
        );
    }

    #[test]
    fn a_flood_from_many_sources_is_summed_up_once_a_minute() {
        let (mut r, t0) = (Rejects::default(), Instant::now());
        for n in 0..MAX_PEERS as u32 {
            assert_eq!(r.note(t0, "BadChecksum", peer(n)), Line::First);
        }
        let first = MAX_PEERS as u32;
        assert_eq!(
            r.note(t0, "BadChecksum", peer(first)),
            Line::Summary { quiet: 1 }
        );
        for n in 1..100_000 {
            assert_eq!(r.note(t0, "BadChecksum", peer(first + n)), Line::None);
        }
        let t1 = t0 + SUMMARY_EVERY;
        assert_eq!(
            r.note(t1, "BadChecksum", peer(first + 100_000)),
            Line::Summary { quiet: 100_000 }
        );
        assert_eq!(r.logged.len(), MAX_PEERS, "memory stays bounded");
        assert_eq!(r.totals().map(|(_, n)| *n).sum::<u64>(), 100_257);
    }
}

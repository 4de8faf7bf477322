//! Keeps the services lvsd owns equal to a desired table, planning against the [`Mirror`] (what
//! lvsd last applied) so that a change costs only its own operations. The kernel is read:
//! - at the first sync (start, or `lvsd ipvs sync`), where services of other programs are found;
//! - when a reply shows the kernel differs (another program added, edited or deleted one of ours):
//!   the table is read once, re-planned and re-applied, and the drift is logged;
//! - when the netlink socket failed mid-batch (the kernel's state is unknown);
//! - on reload ([`TableSync::recheck`], after the reload's own changes are applied).
//!
//! Why on reload and not periodically: keepalived never reads the table back, so an edit made with
//! ipvsadm stays until keepalived touches that entry, and operators use that (a manual weight 0
//! during an incident). A periodic re-check would silently undo such an edit at an arbitrary moment,
//! and cost a full dump every period on a large table. A reload is the operator's own request to
//! make IPVS equal the file: there an accidental `ipvsadm -C` or a stray edit is repaired (with
//! keepalived it takes a restart), and the cost of the dump comes after the change is visible.

use super::mirror::Mirror;
use ipvs::{plan, BatchReport, DestKey, Op, ServiceKey, Table};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tracing::{error, warn};

/// The two kernel calls a sync needs; `ipvs::Client` in lvsd.
pub trait Backend {
    /// The whole table (a dump).
    fn table(&mut self) -> Result<Table, ipvs::Error>;
    /// Operations in order, each acknowledged or refused independently.
    fn apply(&mut self, ops: &[Op]) -> Result<BatchReport, ipvs::Error>;
}

impl Backend for ipvs::Client {
    fn table(&mut self) -> Result<Table, ipvs::Error> {
        ipvs::Client::table(self)
    }
    fn apply(&mut self, ops: &[Op]) -> Result<BatchReport, ipvs::Error> {
        ipvs::Client::apply(self, ops)
    }
}

/// What one synchronisation did.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    /// Operations sent (both rounds when drift made lvsd re-plan).
    pub ops: usize,
    /// The refusals that remain, one line each (object and cause).
    pub failed: Vec<String>,
    /// Whether the kernel's table was read (the first sync, drift, a socket failure, a re-check).
    pub reread: bool,
    /// Whether the kernel differed from what lvsd had applied.
    pub drifted: bool,
    pub elapsed: Duration,
}

#[derive(Debug, Default)]
pub struct TableSync {
    mirror: Mirror,
    /// Services lvsd created or adopted: the only ones it edits or deletes.
    owned: BTreeSet<ServiceKey>,
}

/// The end of one planned batch.
enum Round {
    Clean,
    /// A refusal showed the kernel differs: what it was, for the log.
    Drift(String),
}

impl TableSync {
    pub fn owned(&self) -> &BTreeSet<ServiceKey> {
        &self.owned
    }

    /// Takes ownership of services (e.g. to remove the configured ones without having created
    /// them); their state is not known, so the next sync reads the kernel.
    pub fn adopt<'a>(&mut self, keys: impl IntoIterator<Item = &'a ServiceKey>) {
        self.owned.extend(keys);
        self.mirror.forget();
    }

    /// Makes the owned services equal to `desired`; new destinations of a service are added in
    /// the order `rank` gives (the configuration's).
    pub fn sync(
        &mut self,
        kernel: &mut impl Backend,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        if self.mirror.table().is_some() {
            match self.round(kernel, desired, &rank, &mut report) {
                Ok(Round::Clean) => {
                    report.elapsed = started.elapsed();
                    return Ok(report);
                }
                Ok(Round::Drift(what)) => {
                    report.drifted = true;
                    warn!("IPVS: the kernel's table differs from what lvsd applied ({what}): another program changed it; reading it again");
                }
                Err(e) => warn!("IPVS: {e}; reading the kernel's table again"),
            }
        }
        self.read(kernel, desired)?;
        report.reread = true;
        self.second_round(kernel, desired, &rank, &mut report)?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The operations a sync to `desired` would send now (None: the kernel's table is not known,
    /// so the sync would read it first).
    pub fn planned(
        &self,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Option<Vec<Op>> {
        let mut ops = plan(desired, self.mirror.table()?);
        order_adds(&mut ops, rank);
        Some(ops)
    }

    /// Reads the kernel's table, logs how it differs from what lvsd applied, and makes the owned
    /// services equal to `desired` (the reload's re-check; see the module comment).
    pub fn recheck(
        &mut self,
        kernel: &mut impl Backend,
        desired: &Table,
        rank: impl Fn(&ServiceKey, &DestKey) -> usize,
    ) -> Result<SyncReport, ipvs::Error> {
        let started = Instant::now();
        let believed = self.mirror.forget();
        self.read(kernel, desired)?;
        let mut report = SyncReport {
            reread: true,
            ..SyncReport::default()
        };
        if let (Some(believed), Some(seen)) = (&believed, self.mirror.table()) {
            // What it takes to turn the kernel back into what lvsd had applied.
            let back = plan(believed, seen);
            if let Some(first) = back.first() {
                report.drifted = true;
                warn!(
                    "IPVS: the kernel's table had drifted from what lvsd applied: {} operation(s) to restore it, the first: {first}; correcting",
                    back.len()
                );
            }
        }
        self.second_round(kernel, desired, &rank, &mut report)?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// The round after a fresh read: if the kernel changed again meanwhile, the belief is dropped
    /// and the next sync reads it once more (no loop against another program).
    fn second_round(
        &mut self,
        kernel: &mut impl Backend,
        desired: &Table,
        rank: &impl Fn(&ServiceKey, &DestKey) -> usize,
        report: &mut SyncReport,
    ) -> Result<(), ipvs::Error> {
        if let Round::Drift(what) = self.round(kernel, desired, rank, report)? {
            report.drifted = true;
            self.mirror.forget();
            error!("IPVS: the kernel's table changed again while lvsd applied its changes ({what}); it is read again at the next change");
        }
        Ok(())
    }

    /// Believes the kernel's table for the owned and the desired services.
    fn read(&mut self, kernel: &mut impl Backend, desired: &Table) -> Result<(), ipvs::Error> {
        let actual = kernel.table()?;
        let owned = &self.owned;
        self.mirror.load(actual, |k| {
            owned.contains(k) || desired.services.contains_key(k)
        });
        Ok(())
    }

    /// Plans `desired` against the belief, applies it and updates the belief with the replies.
    fn round(
        &mut self,
        kernel: &mut impl Backend,
        desired: &Table,
        rank: &impl Fn(&ServiceKey, &DestKey) -> usize,
        report: &mut SyncReport,
    ) -> Result<Round, ipvs::Error> {
        let Some(believed) = self.mirror.table() else {
            return Ok(Round::Drift("the table is not known".into()));
        };
        let mut ops = plan(desired, believed);
        order_adds(&mut ops, rank);
        let batch = if ops.is_empty() {
            BatchReport::default()
        } else {
            match kernel.apply(&ops) {
                Ok(b) => b,
                Err(e) => {
                    self.mirror.forget();
                    return Err(e);
                }
            }
        };
        report.ops += ops.len();
        let errno = |i: usize| {
            batch
                .failed
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, e)| e.errno())
        };
        let drift = self.mirror.record(&ops, errno);
        let line = |i: usize, e: &ipvs::Error| match ops.get(i) {
            Some(op) => format!("{op}: {}", e.reason()),
            None => e.to_string(),
        };
        if let Some(&first) = drift.first() {
            let what = batch
                .failed
                .iter()
                .find(|(j, _)| *j == first)
                .map(|(i, e)| line(*i, e))
                .unwrap_or_else(|| format!("{} was accepted", ops[first]));
            let more = drift.len() - 1;
            return Ok(Round::Drift(if more > 0 {
                format!("{what}, and {more} more")
            } else {
                what
            }));
        }
        report.failed = batch.failed.iter().map(|(i, e)| line(*i, e)).collect();
        for f in &report.failed {
            error!("IPVS: {f}");
        }
        // A service whose deletion was refused stays owned, so that the next sync tries again.
        self.owned = desired.services.keys().copied().collect();
        if let Some(t) = self.mirror.table() {
            self.owned.extend(t.services.keys().copied());
        }
        Ok(Round::Clean)
    }
}

/// Sorts each run of consecutive AddDest operations of one service by `rank`.
fn order_adds(ops: &mut [Op], rank: impl Fn(&ServiceKey, &DestKey) -> usize) {
    let mut i = 0;
    while i < ops.len() {
        let Op::AddDest(key, _) = &ops[i] else {
            i += 1;
            continue;
        };
        let key = *key;
        let run = ops[i..]
            .iter()
            .take_while(|o| matches!(o, Op::AddDest(k, _) if *k == key))
            .count();
        ops[i..i + run].sort_by_key(|o| match o {
            Op::AddDest(k, d) => rank(k, &d.key()),
            _ => usize::MAX,
        });
        i += run;
    }
}

#[cfg(test)]
mod tests;

//! The pure core of track_process: which processes each vrrp_track_process counts, and whether
//! it has its quorum (quorum <= count <= quorum_max), with keepalived 2.2.7's delays:
//! - a change of the verdict caused by a fork of a counted process waits `fork_delay`, one
//!   caused by a counted process's exit waits `terminate_delay`; a process that execs into a
//!   match, or out of one, or is renamed, counts at once;
//! - when the count crosses back while a change waits, the waiting change is dropped;
//! - when a delay ends, the verdict is that of the count then;
//! - at start (and for a block a reload adds or changes) the verdict is the count's, at once;
//! - a rescan of /proc (events lost, or no events at all) gains the quorum after `fork_delay`
//!   and loses it after `terminate_delay`.
//!
//! Unlike keepalived, a process counts once per block however often it is reported (an exec
//! into the same name, a fork already seen by a scan).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::pattern::{Pattern, ProcInfo};
use crate::config::model::TrackProcess;

/// One vrrp_track_process, as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Def {
    pub name: String,
    pub pattern: Pattern,
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Duration,
    pub terminate_delay: Duration,
}

impl Def {
    pub fn new(tp: &TrackProcess) -> Def {
        Def {
            name: tp.name.clone(),
            pattern: Pattern::new(tp),
            quorum: tp.quorum,
            quorum_max: tp.quorum_max.unwrap_or(u32::MAX),
            fork_delay: tp.fork_delay.0,
            terminate_delay: tp.terminate_delay.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A new process (not a thread) `child` of `parent`.
    Fork {
        parent: u32,
        child: u32,
    },
    /// A process called exec: what /proc says of it now.
    Exec(ProcInfo),
    /// A process renamed itself (prctl PR_SET_NAME): its new name.
    Comm {
        pid: u32,
        comm: Vec<u8>,
    },
    Exit {
        pid: u32,
    },
    /// Every running process, read from /proc.
    Rescan(Vec<ProcInfo>),
    /// A delay may have ended.
    Tick,
}

/// A verdict that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    pub up: bool,
    /// Matching processes now.
    pub count: usize,
}

/// What /proc must be read for: process names, and how much of command lines (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    pub comm: bool,
    pub cmdline: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Fork,
    Exit,
    /// Exec or rename into a match.
    Appear,
    /// Exec or rename out of a match.
    Vanish,
}

#[derive(Debug)]
struct Tracked {
    def: Def,
    pids: HashSet<u32>,
    /// The verdict the instances see.
    up: bool,
    /// A gained or lost quorum waiting for fork_delay / terminate_delay.
    fork_due: Option<Instant>,
    exit_due: Option<Instant>,
}

impl Tracked {
    fn new(def: Def, procs: &[ProcInfo]) -> Tracked {
        let pids = matching(&def, procs);
        let mut t = Tracked {
            def,
            pids,
            up: false,
            fork_due: None,
            exit_due: None,
        };
        t.up = t.in_range();
        t
    }

    fn in_range(&self) -> bool {
        let n = self.pids.len() as u64;
        n >= u64::from(self.def.quorum) && n <= u64::from(self.def.quorum_max)
    }

    fn add(&mut self, pid: u32, now: Instant, cause: Cause) -> Option<bool> {
        let before = self.in_range();
        if !self.pids.insert(pid) {
            return None;
        }
        self.crossed(before, now, cause)
    }

    fn remove(&mut self, pid: u32, now: Instant, cause: Cause) -> Option<bool> {
        let before = self.in_range();
        if !self.pids.remove(&pid) {
            return None;
        }
        self.crossed(before, now, cause)
    }

    /// After the count changed by one: the verdict, if it changes now.
    fn crossed(&mut self, before: bool, now: Instant, cause: Cause) -> Option<bool> {
        let target = self.in_range();
        if target == before {
            return None;
        }
        match cause {
            // Crossing back cancels the other delay, and the verdict stays as it was.
            Cause::Fork => {
                if self.exit_due.take().is_none() && !self.def.fork_delay.is_zero() {
                    self.fork_due.get_or_insert(now + self.def.fork_delay);
                    return None;
                }
            }
            Cause::Exit => {
                if self.fork_due.take().is_none() && !self.def.terminate_delay.is_zero() {
                    self.exit_due.get_or_insert(now + self.def.terminate_delay);
                    return None;
                }
            }
            Cause::Appear => self.exit_due = None,
            Cause::Vanish => self.fork_due = None,
        }
        self.set(target)
    }

    fn set(&mut self, up: bool) -> Option<bool> {
        if self.up == up {
            return None;
        }
        self.up = up;
        Some(up)
    }

    fn tick(&mut self, now: Instant) -> Option<bool> {
        let due = |d: &mut Option<Instant>| d.take_if(|t| *t <= now).is_some();
        let fired = due(&mut self.fork_due) | due(&mut self.exit_due);
        match fired {
            true => self.set(self.in_range()),
            false => None,
        }
    }

    /// The matching processes are now `pids` (a rescan): a gained quorum waits fork_delay, a
    /// lost one terminate_delay.
    fn rescan(&mut self, pids: HashSet<u32>, now: Instant) -> Option<bool> {
        self.pids = pids;
        let target = self.in_range();
        if target == self.up {
            self.fork_due = None;
            self.exit_due = None;
            return None;
        }
        let (delay, due, other) = match target {
            true => (self.def.fork_delay, &mut self.fork_due, &mut self.exit_due),
            false => (
                self.def.terminate_delay,
                &mut self.exit_due,
                &mut self.fork_due,
            ),
        };
        *other = None;
        if delay.is_zero() {
            *due = None;
            return self.set(target);
        }
        due.get_or_insert(now + delay);
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        match (self.fork_due, self.exit_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn matching(def: &Def, procs: &[ProcInfo]) -> HashSet<u32> {
    procs
        .iter()
        .filter(|p| def.pattern.matches(p))
        .map(|p| p.pid)
        .collect()
}

/// Every vrrp_track_process some instance or sync group tracks.
#[derive(Debug, Default)]
pub struct Quorums {
    tracked: Vec<Tracked>,
}

impl Quorums {
    /// At start: the verdicts of the processes running now, without delay.
    pub fn new(defs: Vec<Def>, procs: &[ProcInfo]) -> Quorums {
        Quorums {
            tracked: defs.into_iter().map(|d| Tracked::new(d, procs)).collect(),
        }
    }

    /// A reload: blocks that stay as they were keep their processes, verdicts and delays (and
    /// are reconciled with `procs` as a rescan); new or changed ones start from `procs`.
    pub fn reconfigure(&mut self, defs: Vec<Def>, now: Instant, procs: &[ProcInfo]) -> Vec<Change> {
        let mut old = std::mem::take(&mut self.tracked);
        let mut changes = Vec::new();
        for def in defs {
            match old.iter().position(|t| t.def == def) {
                Some(i) => {
                    let mut t = old.swap_remove(i);
                    let pids = matching(&t.def, procs);
                    if let Some(up) = t.rescan(pids, now) {
                        changes.push(change(&t, up));
                    }
                    self.tracked.push(t);
                }
                None => self.tracked.push(Tracked::new(def, procs)),
            }
        }
        changes
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Change> {
        let mut out = Vec::new();
        for t in &mut self.tracked {
            let up = match &input {
                Input::Fork { parent, child } if t.pids.contains(parent) => {
                    t.add(*child, now, Cause::Fork)
                }
                Input::Fork { .. } => None,
                Input::Exec(info) => match t.def.pattern.matches(info) {
                    true => t.add(info.pid, now, Cause::Appear),
                    false => t.remove(info.pid, now, Cause::Vanish),
                },
                // A rename says nothing about the command line.
                Input::Comm { .. } if !t.def.pattern.by_comm() => None,
                Input::Comm { pid, comm } => match t.def.pattern.comm_matches(comm) {
                    true => t.add(*pid, now, Cause::Appear),
                    false => t.remove(*pid, now, Cause::Vanish),
                },
                Input::Exit { pid } => t.remove(*pid, now, Cause::Exit),
                Input::Rescan(procs) => {
                    let pids = matching(&t.def, procs);
                    t.rescan(pids, now)
                }
                Input::Tick => t.tick(now),
            };
            if let Some(up) = up {
                out.push(change(t, up));
            }
        }
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.tracked.iter().filter_map(Tracked::next_deadline).min()
    }

    /// Every block's verdict and count.
    pub fn statuses(&self) -> Vec<Change> {
        self.tracked.iter().map(|t| change(t, t.up)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    pub fn needs(&self) -> Needs {
        let mut n = Needs::default();
        for t in &self.tracked {
            match t.def.pattern.full_command() {
                true => n.cmdline = n.cmdline.max(t.def.pattern.cmdline_needed()),
                false => n.comm = true,
            }
        }
        n
    }
}

fn change(t: &Tracked, up: bool) -> Change {
    Change {
        name: t.def.name.clone(),
        up,
        count: t.pids.len(),
    }
}

#[cfg(test)]
#[path = "quorum_tests.rs"]
mod tests;

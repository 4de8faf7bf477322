//! What the director tells the engines that follow its health (DESIGN.md: the leader sends small
//! typed messages over a channel the daemon wires at start). The BGP announcer follows each
//! virtual server: whether it has quorum, and whether its quorum rests on checks (every real
//! server with checkers had its first verdict), so a VIP is never announced on the assumption
//! that untested servers are up.

use std::collections::{BTreeSet, HashMap};

use super::Director;
use crate::config::model::Config;
use crate::status::snapshot::vs_label;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsHealth {
    pub quorum: bool,
    /// Every real server with checkers had its first verdict.
    pub checked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Every virtual server now, by label (at start and after each reload): replaces what came
    /// before.
    All(Vec<(String, VsHealth)>),
    /// One virtual server changed.
    One(String, VsHealth),
}

struct Vs {
    label: String,
    unchecked: BTreeSet<usize>,
    /// What the follower was told last.
    told: Option<VsHealth>,
}

/// The director shell's record of first verdicts, and of what it told the follower: pure, fed
/// by the shell, which sends what `changes` returns.
pub struct Tracker {
    vs: Vec<Vs>,
}

impl Tracker {
    /// At start: real servers with checkers wait for their first verdict.
    pub fn new(cfg: &Config) -> Tracker {
        Tracker {
            vs: cfg
                .virtual_servers
                .iter()
                .map(|v| Vs {
                    label: vs_label(v),
                    unchecked: v
                        .real_servers
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| !r.checkers.is_empty())
                        .map(|(i, _)| i)
                        .collect(),
                    told: None,
                })
                .collect(),
        }
    }

    /// After a reload: real servers that stay (same virtual server label, same address and port)
    /// keep their first verdict.
    pub fn reloaded(&self, old_cfg: &Config, cfg: &Config) -> Tracker {
        let mut next = Tracker::new(cfg);
        let old: HashMap<&str, (usize, &Vs)> = self
            .vs
            .iter()
            .enumerate()
            .map(|(i, v)| (v.label.as_str(), (i, v)))
            .collect();
        for (vi, v) in next.vs.iter_mut().enumerate() {
            let Some((oi, ov)) = old.get(v.label.as_str()) else {
                continue;
            };
            let (Some(oc), Some(nc)) = (
                old_cfg.virtual_servers.get(*oi),
                cfg.virtual_servers.get(vi),
            ) else {
                continue;
            };
            v.unchecked.retain(|&r| {
                let rs = &nc.real_servers[r];
                let before = oc
                    .real_servers
                    .iter()
                    .position(|o| o.ip == rs.ip && o.port == rs.port);
                // Unchecked unless it was checked before.
                before.is_none_or(|o| ov.unchecked.contains(&o))
            });
        }
        next
    }

    /// Every checker of real server `rs` came to its first verdict.
    pub fn checked(&mut self, vs: usize, rs: usize) {
        if let Some(v) = self.vs.get_mut(vs) {
            v.unchecked.remove(&rs);
        }
    }

    fn health(&self, d: &Director, i: usize) -> VsHealth {
        VsHealth {
            quorum: d.quorum_up(i).unwrap_or(false),
            checked: self.vs[i].unchecked.is_empty(),
        }
    }

    /// Every virtual server's health (sent at start and after a reload).
    pub fn all(&mut self, d: &Director) -> Health {
        let mut out = Vec::with_capacity(self.vs.len());
        for i in 0..self.vs.len() {
            let h = self.health(d, i);
            self.vs[i].told = Some(h);
            out.push((self.vs[i].label.clone(), h));
        }
        Health::All(out)
    }

    /// The virtual servers whose health changed since they were last told.
    pub fn changes(&mut self, d: &Director) -> Vec<Health> {
        let mut out = Vec::new();
        for i in 0..self.vs.len() {
            let h = self.health(d, i);
            if self.vs[i].told != Some(h) {
                self.vs[i].told = Some(h);
                out.push(Health::One(self.vs[i].label.clone(), h));
            }
        }
        out
    }
}

//! vrrp_sync_group: member instances move together, as keepalived documents it. One member in
//! FAULT puts the others in FAULT until no member has a fault of its own; a member becoming
//! MASTER takes the others (in BACKUP) to MASTER; a MASTER falling back to BACKUP takes the
//! other MASTERs to BACKUP.
//!
//! The integrator reports every member's state after each `Instance::handle` with `update`,
//! and feeds the returned commands to the named members as `Input::Sync`.

use super::state::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncCommand {
    /// Become MASTER (from BACKUP), with the reason for the log line.
    Master(String),
    /// Become BACKUP (from MASTER).
    Backup(String),
    /// Enter FAULT because another member is faulty.
    Fault(String),
    /// The group's fault cleared; leave FAULT unless faulty on your own.
    Recover(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: String,
    /// Last reported state, or the state a command just sent will put it in.
    state: State,
    own_fault: bool,
    sync_faulted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    name: String,
    members: Vec<Member>,
}

impl SyncGroup {
    pub fn new(name: &str, members: &[&str]) -> Self {
        SyncGroup {
            name: name.to_string(),
            members: members
                .iter()
                .map(|m| Member {
                    name: m.to_string(),
                    state: State::Init,
                    own_fault: false,
                    sync_faulted: false,
                })
                .collect(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn index_of(&self, member: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == member)
    }

    /// Group state for the group's notify scripts: FAULT if any member is faulty, MASTER if
    /// any member is MASTER, else BACKUP (INIT before any member started).
    pub fn state(&self) -> State {
        let any = |s: State| self.members.iter().any(|m| m.state == s);
        if self.members.iter().any(|m| m.own_fault) || any(State::Fault) {
            State::Fault
        } else if any(State::Master) {
            State::Master
        } else if any(State::Backup) {
            State::Backup
        } else {
            State::Init
        }
    }

    /// Member `idx` is now in `state` (its own tracking says `own_fault`): the commands for the
    /// other members, as (member index, command).
    pub fn update(
        &mut self,
        idx: usize,
        state: State,
        own_fault: bool,
    ) -> Vec<(usize, SyncCommand)> {
        let Some(me) = self.members.get_mut(idx) else {
            return Vec::new();
        };
        let prev = me.state;
        me.state = state;
        me.own_fault = own_fault;
        let who = me.name.clone();
        let mut out = self.propagate_faults(&who);
        let group_faulty = self.members.iter().any(|m| m.own_fault);
        if prev == state || group_faulty {
            return out;
        }
        let follow = match (prev, state) {
            (_, State::Master) => Some((State::Backup, State::Master)),
            (State::Master, State::Backup) => Some((State::Master, State::Backup)),
            _ => None,
        };
        if let Some((from, to)) = follow {
            let reason = format!("sync group {}: {who} entered {to} state", self.name);
            for (i, m) in self.members.iter_mut().enumerate() {
                if i != idx && m.state == from {
                    m.state = to;
                    out.push((
                        i,
                        match to {
                            State::Master => SyncCommand::Master(reason.clone()),
                            _ => SyncCommand::Backup(reason.clone()),
                        },
                    ));
                }
            }
        }
        out
    }

    /// Every member must be sync-faulted exactly while some other member has its own fault.
    fn propagate_faults(&mut self, who: &str) -> Vec<(usize, SyncCommand)> {
        let faulty: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.own_fault)
            .map(|m| m.name.clone())
            .collect();
        let mut out = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            let culprit = faulty.iter().find(|f| **f != m.name);
            if culprit.is_some() == m.sync_faulted {
                continue;
            }
            m.sync_faulted = culprit.is_some();
            match culprit {
                Some(c) => {
                    if matches!(m.state, State::Backup | State::Master) {
                        m.state = State::Fault;
                    }
                    let why = format!("sync group {}: {c} is in FAULT state", self.name);
                    out.push((i, SyncCommand::Fault(why)));
                }
                None => {
                    let why = format!("sync group {}: {who} recovered", self.name);
                    out.push((i, SyncCommand::Recover(why)));
                }
            }
        }
        out
    }
}

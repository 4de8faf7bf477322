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

    /// A group rebuilt by a reload around running members, each as (name, state, own fault,
    /// sync-faulted now); `reconcile` then makes it consistent.
    pub fn with_members(name: &str, members: &[(&str, State, bool, bool)]) -> Self {
        SyncGroup {
            name: name.to_string(),
            members: members
                .iter()
                .map(|&(m, state, own_fault, sync_faulted)| Member {
                    name: m.to_string(),
                    state,
                    own_fault,
                    sync_faulted,
                })
                .collect(),
        }
    }

    /// Commands that make a rebuilt group consistent: sync faults while another member has a
    /// fault of its own (recoveries where none has), and without faults the BACKUP members
    /// follow a member that is MASTER, as when it became MASTER.
    pub fn reconcile(&mut self) -> Vec<(usize, SyncCommand)> {
        let recovered = format!("sync group {}: rebuilt by reload", self.name);
        let mut out = self.propagate_faults(&recovered);
        if self.members.iter().any(|m| m.own_fault) {
            return out;
        }
        let Some(master) = self.members.iter().find(|m| m.state == State::Master) else {
            return out;
        };
        let reason = format!(
            "sync group {}: {} is in MASTER state",
            self.name, master.name
        );
        for (i, m) in self.members.iter_mut().enumerate() {
            if m.state == State::Backup {
                m.state = State::Master;
                out.push((i, SyncCommand::Master(reason.clone())));
            }
        }
        out
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
        let recovered = format!("sync group {}: {who} recovered", self.name);
        let mut out = self.propagate_faults(&recovered);
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

    /// Every member must be sync-faulted exactly while some other member has its own fault;
    /// `recovered` is the reason given to members that recover.
    fn propagate_faults(&mut self, recovered: &str) -> Vec<(usize, SyncCommand)> {
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
                None => out.push((i, SyncCommand::Recover(recovered.to_string()))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::params::InstanceParams;
    use crate::vrrp::state::{Action, Input, Instance};
    use crate::vrrp::track::{Kind, Status, Tracker};
    use std::time::{Duration, Instant};

    /// Two instances on one router, grouped as VG_1, plus the group; feeds inputs and
    /// applies the group's commands the way the integrator must.
    struct Router {
        now: Instant,
        vis: Vec<Instance>,
        group: SyncGroup,
        actions: Vec<(usize, Action)>,
    }

    impl Router {
        fn new() -> Router {
            let mk = |name: &str, vrid: u8, vip: &str| {
                let p = InstanceParams::new(
                    name,
                    vrid,
                    "10.0.0.1".parse().unwrap(),
                    vec![vip.parse().unwrap()],
                );
                Instance::new(p)
            };
            Router {
                now: Instant::now(),
                vis: vec![mk("VI_1", 1, "10.0.0.100"), mk("VI_2", 2, "10.0.1.100")],
                group: SyncGroup::new("VG_1", &["VI_1", "VI_2"]),
                actions: Vec::new(),
            }
        }

        fn feed(&mut self, idx: usize, input: Input) {
            let mut queue = vec![(idx, input)];
            while let Some((i, input)) = queue.pop() {
                let acts = self.vis[i].handle(self.now, input);
                self.actions.extend(acts.into_iter().map(|a| (i, a)));
                let vi = &self.vis[i];
                let own = vi.own_fault().is_some();
                for (j, cmd) in self.group.update(i, vi.state(), own) {
                    queue.push((j, Input::Sync(cmd)));
                }
            }
        }

        fn states(&self) -> (State, State) {
            (self.vis[0].state(), self.vis[1].state())
        }

        fn last_reason(&self, idx: usize) -> String {
            self.actions
                .iter()
                .rev()
                .find_map(|(i, a)| match a {
                    Action::Notify { reason, .. } if *i == idx => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        }
    }

    fn fault_tracker() -> Tracker {
        let mut t = Tracker::new();
        t.track(Kind::Interface, "eth1", 0, false, Status::Up(true));
        t
    }

    #[test]
    fn one_member_becoming_master_takes_the_other_along() {
        let mut r = Router::new();
        r.feed(0, Input::Start);
        // VI_2 starts later, so VI_1's down timer runs out first.
        r.now += Duration::from_secs(1);
        r.feed(1, Input::Start);
        r.now += Duration::from_secs(3);
        r.feed(0, Input::TimerFired);
        assert_eq!(r.states(), (State::Master, State::Master));
        assert_eq!(
            r.last_reason(1),
            "sync group VG_1: VI_1 entered MASTER state"
        );
        assert!(r.actions.contains(&(1, Action::AddVips)));
        assert_eq!(r.group.state(), State::Master);
    }

    #[test]
    fn one_member_going_backup_takes_the_other_along() {
        let mut r = Router::new();
        r.feed(0, Input::Start);
        r.feed(1, Input::Start);
        r.now += Duration::from_secs(4);
        r.feed(0, Input::TimerFired);
        assert_eq!(r.states(), (State::Master, State::Master));
        // A higher priority master appears for VRID 2 only.
        let peer = Instance::new(InstanceParams {
            priority: 200,
            ..InstanceParams::new(
                "VI_2",
                2,
                "10.0.0.2".parse().unwrap(),
                vec!["10.0.1.100".parse().unwrap()],
            )
        });
        let ends = crate::vrrp::packet::Endpoints {
            src: "10.0.0.2".parse().unwrap(),
            dst: "224.0.0.18".parse().unwrap(),
            mode: Default::default(),
        };
        let rx = crate::vrrp::validate::RxPacket {
            src: ends.src,
            dst: ends.dst,
            ttl: 255,
            payload: peer.advert(200).encode(&ends).unwrap(),
        };
        r.feed(1, Input::Packet(rx));
        assert_eq!(r.states(), (State::Backup, State::Backup));
        assert_eq!(
            r.last_reason(0),
            "sync group VG_1: VI_2 entered BACKUP state"
        );
        assert!(r.actions.contains(&(0, Action::RemoveVips)));
    }

    #[test]
    fn a_fault_in_one_member_faults_the_group_until_it_recovers() {
        let mut r = Router::new();
        r.feed(0, Input::Start);
        r.feed(1, Input::Start);
        r.now += Duration::from_secs(4);
        r.feed(0, Input::TimerFired);
        let mut t = fault_tracker();
        r.feed(
            1,
            Input::Track(t.set_up(Kind::Interface, "eth1", false).unwrap()),
        );
        assert_eq!(r.states(), (State::Fault, State::Fault));
        assert_eq!(r.last_reason(0), "sync group VG_1: VI_2 is in FAULT state");
        // VI_1 was MASTER: it released with a priority 0 advert and removed its VIPs.
        let vi1: Vec<&Action> = r
            .actions
            .iter()
            .filter(|(i, _)| *i == 0)
            .map(|(_, a)| a)
            .collect();
        assert!(vi1.contains(&&Action::Send(r.vis[0].advert(0))));
        assert!(vi1.contains(&&Action::RemoveVips));
        assert_eq!(r.group.state(), State::Fault);

        r.now += Duration::from_secs(1);
        r.feed(
            1,
            Input::Track(t.set_up(Kind::Interface, "eth1", true).unwrap()),
        );
        assert_eq!(r.states(), (State::Backup, State::Backup));
        assert_eq!(r.last_reason(0), "sync group VG_1: VI_2 recovered");
    }

    #[test]
    fn a_group_rebuilt_by_reload_pulls_backups_to_the_master_and_settles_faults() {
        // VI_1 MASTER and VI_2 BACKUP are grouped by a reload: VI_2 follows VI_1.
        let mut g = SyncGroup::with_members(
            "G",
            &[
                ("VI_1", State::Master, false, false),
                ("VI_2", State::Backup, false, false),
            ],
        );
        assert_eq!(
            g.reconcile(),
            [(
                1,
                SyncCommand::Master("sync group G: VI_1 is in MASTER state".into())
            )]
        );
        assert_eq!(g.reconcile(), [], "consistent now");

        // VI_3 has a fault of its own: the others fault with it, nobody is pulled to MASTER.
        let mut g = SyncGroup::with_members(
            "G",
            &[
                ("VI_1", State::Master, false, false),
                ("VI_3", State::Fault, true, false),
            ],
        );
        assert_eq!(
            g.reconcile(),
            [(
                0,
                SyncCommand::Fault("sync group G: VI_3 is in FAULT state".into())
            )]
        );

        // VI_2 was faulted by a member the reload took out of its group: it recovers.
        let mut g = SyncGroup::with_members(
            "G",
            &[
                ("VI_1", State::Backup, false, false),
                ("VI_2", State::Fault, false, true),
            ],
        );
        assert_eq!(
            g.reconcile(),
            [(
                1,
                SyncCommand::Recover("sync group G: rebuilt by reload".into())
            )]
        );
    }

    #[test]
    fn group_stays_faulty_while_any_member_has_its_own_fault() {
        let mut r = Router::new();
        r.feed(0, Input::Start);
        r.feed(1, Input::Start);
        let mut t1 = fault_tracker();
        let mut t2 = fault_tracker();
        r.feed(
            0,
            Input::Track(t1.set_up(Kind::Interface, "eth1", false).unwrap()),
        );
        r.feed(
            1,
            Input::Track(t2.set_up(Kind::Interface, "eth1", false).unwrap()),
        );
        r.feed(
            0,
            Input::Track(t1.set_up(Kind::Interface, "eth1", true).unwrap()),
        );
        assert_eq!(
            r.states(),
            (State::Fault, State::Fault),
            "VI_2 is still faulty"
        );
        r.feed(
            1,
            Input::Track(t2.set_up(Kind::Interface, "eth1", true).unwrap()),
        );
        assert_eq!(r.states(), (State::Backup, State::Backup));
    }
}

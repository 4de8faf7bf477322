//! RFC scenarios with virtual time: a tiny simulated LAN delivers every advert an instance
//! sends to the other connected instances at once, and fires timers in deadline order.

use super::*;
use crate::vrrp::checksum::ChecksumMode;
use crate::vrrp::packet::Endpoints;
use crate::vrrp::track::{Kind, Status, Tracker};
use std::collections::VecDeque;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// keepalived-like VRRPv2 instance VI_1 / VRID 51 with VIP 10.0.0.100.
fn router(primary: &str, priority: u8) -> InstanceParams {
    let mut p = InstanceParams::new("VI_1", 51, ip(primary), vec![ip("10.0.0.100")]);
    p.priority = priority;
    p
}

fn v3_router(primary: &str, priority: u8, interval: Duration) -> InstanceParams {
    let mut p = router(primary, priority);
    p.version = Version::V3;
    p.advert_interval = interval;
    p
}

/// What the wire carries from `from` for one sent advert.
fn packet(from: &InstanceParams, advert: &Advert) -> RxPacket {
    let ends = Endpoints {
        src: from.primary,
        dst: ip("224.0.0.18"),
        mode: ChecksumMode::Rfc,
    };
    RxPacket {
        src: from.primary,
        dst: ends.dst,
        ttl: 255,
        payload: advert.encode(&ends).expect("encodable advert"),
    }
}

struct Lan {
    t0: Instant,
    now: Instant,
    nodes: Vec<Instance>,
    connected: Vec<bool>,
    /// (time since t0, node, action) for every action performed.
    log: Vec<(Duration, usize, Action)>,
}

impl Lan {
    fn new(params: Vec<InstanceParams>) -> Lan {
        let t0 = Instant::now();
        let connected = vec![true; params.len()];
        Lan {
            t0,
            now: t0,
            nodes: params.into_iter().map(Instance::new).collect(),
            connected,
            log: Vec::new(),
        }
    }

    fn at(&mut self, t: f64) -> &mut Self {
        self.run_until(t);
        self
    }

    /// Feeds one input and delivers what results, breadth first.
    fn feed(&mut self, node: usize, input: Input) {
        let mut queue = VecDeque::from([(node, input)]);
        while let Some((n, input)) = queue.pop_front() {
            for action in self.nodes[n].handle(self.now, input) {
                if let Action::Send(advert) = &action {
                    if self.connected[n] {
                        let pkt = packet(self.nodes[n].params(), advert);
                        for other in 0..self.nodes.len() {
                            if other != n && self.connected[other] {
                                queue.push_back((other, Input::Packet(pkt.clone())));
                            }
                        }
                    }
                }
                self.log.push((self.now - self.t0, n, action));
            }
        }
    }

    fn run_until(&mut self, t: f64) {
        let end = self.t0 + secs(t);
        loop {
            let next = (0..self.nodes.len())
                .filter_map(|n| self.nodes[n].next_deadline().map(|d| (d, n)))
                .min();
            match next {
                Some((d, n)) if d <= end => {
                    self.now = self.now.max(d);
                    self.feed(n, Input::TimerFired);
                }
                _ => break,
            }
        }
        self.now = self.now.max(end);
    }

    fn state(&self, n: usize) -> State {
        self.nodes[n].state()
    }

    /// Transitions of node n: (time, state, reason).
    fn transitions(&self, n: usize) -> Vec<(Duration, State, String)> {
        self.log
            .iter()
            .filter(|(_, node, _)| *node == n)
            .filter_map(|(t, _, a)| match a {
                Action::Notify { state, reason, .. } => Some((*t, *state, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn became_master_at(&self, n: usize) -> Option<Duration> {
        self.transitions(n)
            .into_iter()
            .rev()
            .find(|(_, s, _)| *s == State::Master)
            .map(|(t, _, _)| t)
    }

    fn actions_of(&self, n: usize, from: f64) -> Vec<Action> {
        self.log
            .iter()
            .filter(|(t, node, _)| *node == n && *t >= secs(from))
            .map(|(_, _, a)| a.clone())
            .collect()
    }
}

#[test]
fn lone_backup_takes_over_after_three_adverts_plus_skew() {
    // Priority 90, advert_int 1 s: 3 x 1 s + (256 - 90) / 256 s = 3.6484375 s.
    let t0 = Instant::now();
    let mut vi = Instance::new(router("10.0.0.1", 90));
    let start = vi.handle(t0, Input::Start);
    assert!(matches!(
        &start[..],
        [Action::Notify {
            state: State::Backup,
            ..
        }]
    ));
    let down = t0 + Duration::from_nanos(3_648_437_500);
    assert_eq!(vi.next_deadline(), Some(down));
    assert!(vi
        .handle(down - Duration::from_nanos(1), Input::TimerFired)
        .is_empty());
    let acts = vi.handle(down, Input::TimerFired);
    assert_eq!(
        acts,
        vec![
            Action::Notify {
                state: State::Master,
                priority: 90,
                reason: "master down timer expired".into()
            },
            Action::Send(vi.advert(90)),
            Action::AddVips,
            Action::SendGarp { count: 5 },
        ]
    );
    // Then one advert per interval.
    assert_eq!(vi.next_deadline(), Some(down + secs(1.0)));
}

#[test]
fn election_highest_priority_becomes_master() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(20.0);
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(lan.state(1), State::Master);
    // B's Master_Down_Interval: 3 + 56/256 s; A never was master.
    assert_eq!(lan.became_master_at(1), Some(secs(3.21875)));
    assert_eq!(lan.became_master_at(0), None);
}

#[test]
fn backup_takes_over_when_master_goes_silent() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    lan.connected[1] = false; // B's last advert went out at 9.21875 s
    lan.at(20.0);
    assert_eq!(lan.state(0), State::Master);
    // 9.21875 + 3 + 156/256 s.
    assert_eq!(lan.became_master_at(0), Some(secs(12.828125)));
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "master down timer expired"
    );
}

#[test]
fn master_shutdown_sends_priority_zero_and_backup_takes_over_after_skew() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Stop);
    assert_eq!(
        lan.actions_of(1, 10.0)[..2],
        [Action::Send(lan.nodes[1].advert(0)), Action::RemoveVips]
    );
    assert_eq!(lan.state(1), State::Stop);
    lan.at(20.0);
    // Skew_Time for priority 100: 156/256 s after the priority 0 advert.
    assert_eq!(lan.became_master_at(0), Some(secs(10.609375)));
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "master released (priority 0 advert)"
    );
}

#[test]
fn higher_priority_router_preempts_when_it_comes_up() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    assert_eq!(lan.state(0), State::Master);
    lan.feed(1, Input::Start);
    lan.at(30.0);
    // B discards A's lower priority adverts and takes over after its own down interval.
    assert_eq!(lan.became_master_at(1), Some(secs(13.21875)));
    assert_eq!(lan.state(0), State::Backup);
    let (t, _, reason) = lan.transitions(0).last().unwrap().clone();
    assert_eq!(t, secs(13.21875));
    assert_eq!(reason, "higher priority 200 advert from 10.0.0.2");
}

#[test]
fn nopreempt_leaves_the_lower_priority_master_in_place() {
    let mut b = router("10.0.0.2", 200);
    b.preempt = false;
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(60.0);
    assert_eq!(lan.state(0), State::Master);
    assert_eq!(lan.state(1), State::Backup);
    assert_eq!(lan.became_master_at(1), None);
}

#[test]
fn nopreempt_is_ignored_with_initial_state_master() {
    // keepalived: "For this to work, the initial state must not be MASTER".
    let mut b = router("10.0.0.2", 200);
    b.preempt = false;
    b.initial_state = crate::vrrp::params::InitialState::Master;
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(30.0);
    assert_eq!(lan.state(1), State::Master);
}

#[test]
fn preempt_delay_postpones_the_takeover() {
    let mut b = router("10.0.0.2", 200);
    b.preempt_delay = secs(2.0);
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(15.0);
    assert_eq!(lan.state(1), State::Backup, "still within the delay");
    lan.at(30.0);
    // 10 + 3.21875 + 2 s.
    assert_eq!(lan.became_master_at(1), Some(secs(15.21875)));
    assert_eq!(lan.state(0), State::Backup);
}

#[test]
fn preempt_delay_counts_from_the_first_lower_priority_advert() {
    // B is backup under a higher master C; C's priority drops below B's through tracking:
    // B takes over preempt_delay later than it would without it.
    let mut b = router("10.0.0.2", 150);
    b.preempt_delay = secs(4.0);
    let mut lan = Lan::new(vec![router("10.0.0.3", 200), b]);
    lan.feed(0, Input::Start);
    lan.at(5.0);
    lan.feed(1, Input::Start);
    lan.at(10.0); // C advertises at 3.21875 + k
    let mut tracker = Tracker::new();
    tracker.track(Kind::Script, "chk", -100, false, Status::Up(true));
    let change = tracker.set_up(Kind::Script, "chk", false).unwrap();
    lan.feed(0, Input::Track(change));
    assert_eq!(lan.nodes[0].priority(), 100);
    lan.at(30.0);
    // Last priority 200 advert at 9.21875; without delay B would take over 3 + 106/256 s
    // later (12.6328125 s); with it 4 s after that.
    assert_eq!(lan.became_master_at(1), Some(secs(16.6328125)));
}

#[test]
fn equal_priority_partition_heals_to_the_higher_address() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 100)]);
    lan.connected = vec![false, false];
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    assert_eq!((lan.state(0), lan.state(1)), (State::Master, State::Master));
    lan.connected = vec![true, true];
    lan.at(20.0);
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(lan.state(1), State::Master);
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "same priority 100 advert from higher address 10.0.0.2"
    );
}

#[test]
fn master_answers_a_lower_priority_advert_at_once() {
    let t0 = Instant::now();
    let a = router("10.0.0.2", 200);
    let mut vi = Instance::new(a.clone());
    vi.handle(t0, Input::Start);
    vi.handle(t0 + secs(4.0), Input::TimerFired);
    assert_eq!(vi.state(), State::Master);
    let other = Instance::new(router("10.0.0.1", 100));
    let rx = packet(other.params(), &other.advert(100));
    let acts = vi.handle(t0 + secs(4.5), Input::Packet(rx.clone()));
    assert!(matches!(&acts[0], Action::Log(l) if l.contains("lower priority 100, ours 200")));
    assert_eq!(acts[1], Action::Send(vi.advert(200)));
    assert_eq!(acts[2], Action::SendGarp { count: 5 });
    // With lower_prio_no_advert (RFC behaviour) it stays silent.
    let mut quiet = a;
    quiet.lower_prio_no_advert = true;
    quiet.garp.lower_prio_repeat = 0;
    let mut vi = Instance::new(quiet);
    vi.handle(t0, Input::Start);
    vi.handle(t0 + secs(4.0), Input::TimerFired);
    let acts = vi.handle(t0 + secs(4.5), Input::Packet(rx));
    assert!(acts.iter().all(|a| matches!(a, Action::Log(_))));
}

#[test]
fn v3_backup_adopts_the_masters_advert_interval() {
    // Master sends 50 cs; the backup is configured for 100 cs.
    let mut lan = Lan::new(vec![
        v3_router("10.0.0.2", 200, secs(0.5)),
        v3_router("10.0.0.1", 100, secs(1.0)),
    ]);
    lan.feed(0, Input::Start);
    lan.at(3.0); // master at 3 x 0.5 + 56 x 0.5 / 256 = 1.609375 s
    lan.feed(1, Input::Start);
    lan.at(10.0);
    assert_eq!(lan.nodes[1].master_adver_int(), secs(0.5));
    assert!(lan.actions_of(1, 0.0).contains(&Action::Log(
        "advertisement interval updated from 1000ms to 500ms by master".into()
    )));
    lan.connected[0] = false; // last advert at 1.609375 + 16 x 0.5 = 9.609375 s
    lan.at(20.0);
    // RFC 5798: 3 x 0.5 s + (156 x 0.5 / 256) s = 1.8046875 s after the last advert.
    assert_eq!(lan.became_master_at(1), Some(secs(11.4140625)));
}

#[test]
fn tracking_lowers_master_below_backup_and_backup_preempts() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 150), router("10.0.0.2", 100)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    assert_eq!(lan.state(0), State::Master); // master since 3.4140625 s
    let mut tracker = Tracker::new();
    tracker.track(Kind::Script, "chk_nginx", -60, false, Status::Up(true));
    let change = tracker.set_up(Kind::Script, "chk_nginx", false).unwrap();
    lan.feed(0, Input::Track(change));
    assert_eq!(lan.nodes[0].priority(), 90);
    lan.at(20.0);
    // The last priority 150 advert left at 9.4140625 s; B discards the priority 90 ones and
    // its Master_Down_Interval (3 + 156/256 s) runs out.
    assert_eq!(lan.became_master_at(1), Some(secs(13.0234375)));
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "higher priority 100 advert from 10.0.0.2"
    );
}

#[test]
fn fault_releases_the_master_role_and_recovery_returns_to_backup() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 200), router("10.0.0.2", 100)]);
    lan.feed(0, Input::Start);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    let mut tracker = Tracker::new();
    tracker.track(Kind::Interface, "eth0", 0, false, Status::Up(true));
    let down = tracker.set_up(Kind::Interface, "eth0", false).unwrap();
    lan.feed(0, Input::Track(down));
    assert_eq!(
        lan.actions_of(0, 10.0),
        vec![
            Action::Send(lan.nodes[0].advert(0)),
            Action::RemoveVips,
            Action::Notify {
                state: State::Fault,
                priority: 200,
                reason: "track_interface eth0 down".into()
            },
        ]
    );
    assert_eq!(lan.nodes[0].next_deadline(), None);
    lan.at(15.0);
    assert_eq!(lan.became_master_at(1), Some(secs(10.0 + 156.0 / 256.0)));
    // Adverts are ignored in FAULT.
    assert_eq!(lan.state(0), State::Fault);
    let up = tracker.set_up(Kind::Interface, "eth0", true).unwrap();
    lan.feed(0, Input::Track(up));
    assert_eq!(lan.transitions(0).last().unwrap().1, State::Backup);
    assert_eq!(
        lan.transitions(0).last().unwrap().2,
        "track_interface eth0 up"
    );
    lan.at(30.0);
    // Priority 200 preempts again after its down interval.
    assert_eq!(lan.state(0), State::Master);
    assert_eq!(lan.state(1), State::Backup);
}

#[test]
fn starting_with_a_fault_enters_fault_directly() {
    let t0 = Instant::now();
    let mut vi = Instance::new(router("10.0.0.1", 100));
    let mut tracker = Tracker::new();
    tracker.track(Kind::Script, "chk", 0, false, Status::Up(true));
    vi.handle(
        t0,
        Input::Track(tracker.set_up(Kind::Script, "chk", false).unwrap()),
    );
    let acts = vi.handle(t0, Input::Start);
    assert!(matches!(
        &acts[..],
        [Action::Notify {
            state: State::Fault,
            ..
        }]
    ));
}

#[test]
fn address_owner_becomes_master_at_once() {
    let t0 = Instant::now();
    let mut vi = Instance::new(router("10.0.0.1", 255));
    let acts = vi.handle(t0, Input::Start);
    assert_eq!(vi.state(), State::Master);
    assert!(acts.contains(&Action::AddVips));
    assert!(acts.contains(&Action::Send(vi.advert(255))));
}

#[test]
fn master_sends_second_garp_burst_and_refreshes() {
    let mut p = router("10.0.0.1", 255);
    p.garp.master_refresh = secs(60.0);
    p.garp.master_refresh_repeat = 2;
    let mut lan = Lan::new(vec![p]);
    lan.feed(0, Input::Start);
    lan.at(61.5);
    let garps: Vec<(Duration, u32)> = lan
        .log
        .iter()
        .filter_map(|(t, _, a)| match a {
            Action::SendGarp { count } => Some((*t, *count)),
            _ => None,
        })
        .collect();
    assert_eq!(garps, vec![(secs(0.0), 5), (secs(5.0), 5), (secs(60.0), 2)]);
}

#[test]
fn invalid_adverts_are_discarded_with_a_reason() {
    let t0 = Instant::now();
    let mut vi = Instance::new(router("10.0.0.1", 100));
    vi.handle(t0, Input::Start);
    let deadline = vi.next_deadline();
    let other = Instance::new(router("10.0.0.2", 200));
    let mut rx = packet(other.params(), &other.advert(200));
    rx.ttl = 64;
    let acts = vi.handle(t0 + secs(1.0), Input::Packet(rx));
    assert_eq!(
        acts,
        vec![Action::Discard(Reject::BadTtl {
            got: 64,
            min: 255,
            max: 255
        })]
    );
    assert_eq!(
        vi.next_deadline(),
        deadline,
        "a rejected advert does not reset the timer"
    );
}

#[test]
fn arbitrary_packets_never_panic_the_instance() {
    use proptest::prelude::*;
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &(prop::collection::vec(any::<u8>(), 0..64), any::<u8>()),
            |(payload, ttl)| {
                let t0 = Instant::now();
                let mut vi = Instance::new(router("10.0.0.1", 100));
                vi.handle(t0, Input::Start);
                let rx = RxPacket {
                    src: ip("10.0.0.2"),
                    dst: ip("224.0.0.18"),
                    ttl,
                    payload,
                };
                vi.handle(t0, Input::Packet(rx));
                Ok(())
            },
        )
        .expect("no panic");
}

#[path = "state_reload_tests.rs"]
mod reload;

/// When node n asked for the master's connection table.
fn catchup_asked(lan: &Lan, n: usize) -> Vec<(Duration, IpAddr)> {
    lan.log
        .iter()
        .filter(|(_, node, _)| *node == n)
        .filter_map(|(t, _, a)| match a {
            Action::CatchUp { master } => Some((*t, *master)),
            _ => None,
        })
        .collect()
}

fn with_catchup(mut p: InstanceParams, hold: f64) -> InstanceParams {
    p.catchup_hold = Some(secs(hold));
    p
}

#[test]
fn a_preempting_backup_asks_for_the_table_and_an_early_answer_keeps_the_timing() {
    let b = with_catchup(router("10.0.0.2", 200), 10.0);
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(11.0);
    let asked = catchup_asked(&lan, 1);
    assert_eq!(asked.len(), 1, "one request per preemption");
    assert_eq!(asked[0].1, ip("10.0.0.1"));
    lan.feed(1, Input::CaughtUp);
    lan.at(30.0);
    // As without catch-up: the table came before the down timer ran out.
    assert_eq!(lan.became_master_at(1), Some(secs(13.21875)));
    assert_eq!(catchup_asked(&lan, 1).len(), 1);
}

#[test]
fn without_an_answer_preemption_waits_for_the_hold_then_goes_on() {
    let b = with_catchup(router("10.0.0.2", 200), 6.0);
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(15.0);
    assert_eq!(lan.state(1), State::Backup, "held past the down timer");
    assert_eq!(lan.state(0), State::Master);
    lan.at(30.0);
    let asked_at = catchup_asked(&lan, 1)[0].0;
    assert_eq!(lan.became_master_at(1), Some(asked_at + secs(6.0)));
}

#[test]
fn an_answer_during_the_hold_takes_over_at_once() {
    let b = with_catchup(router("10.0.0.2", 200), 10.0);
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(15.0);
    assert_eq!(lan.state(1), State::Backup);
    lan.feed(1, Input::CaughtUp);
    assert_eq!(lan.state(1), State::Backup, "the timer fires next");
    lan.at(15.0);
    assert_eq!(lan.became_master_at(1), Some(secs(15.0)));
}

#[test]
fn a_master_that_dies_during_the_hold_is_taken_over_without_waiting() {
    let b = with_catchup(router("10.0.0.2", 200), 30.0);
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), b]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(15.0);
    // A's last advert reaches B at 15 s at the latest (one per second).
    lan.connected[0] = false;
    lan.at(40.0);
    let t = lan.became_master_at(1).expect("took over");
    assert!(
        t <= secs(15.0 + 3.22),
        "took over at {t:?}, not after the 30 s hold"
    );
}

#[test]
fn no_table_is_asked_for_under_a_higher_master_or_without_catchup() {
    let a = with_catchup(router("10.0.0.1", 100), 10.0);
    let mut lan = Lan::new(vec![a, router("10.0.0.2", 200)]);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    lan.feed(0, Input::Start);
    lan.at(30.0);
    assert!(catchup_asked(&lan, 0).is_empty());
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.at(10.0);
    lan.feed(1, Input::Start);
    lan.at(30.0);
    assert!(catchup_asked(&lan, 1).is_empty());
}

#[test]
fn a_held_master_hands_over_at_once_and_stays_backup_until_resumed() {
    let mut lan = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    lan.feed(0, Input::Start);
    lan.at(5.0);
    lan.feed(1, Input::Start);
    lan.at(10.0);
    assert_eq!(lan.state(1), State::Master);
    assert!(lan.nodes[1].peer_heard(), "B preempted A: it heard it");
    lan.feed(1, Input::Hold(true));
    assert_eq!(
        lan.actions_of(1, 10.0)[..2],
        [Action::Send(lan.nodes[1].advert(0)), Action::RemoveVips]
    );
    assert_eq!(lan.state(1), State::Backup);
    lan.at(40.0);
    // A takes over after its skew time, as after a shutdown; B, higher, does not preempt back.
    assert_eq!(lan.became_master_at(0), Some(secs(10.609375)));
    let mut fresh = Lan::new(vec![router("10.0.0.1", 100), router("10.0.0.2", 200)]);
    fresh.feed(0, Input::Start);
    fresh.feed(1, Input::Start);
    fresh.at(10.0);
    assert!(
        !fresh.nodes[1].peer_heard(),
        "started together, B won before A ever advertised"
    );
    assert_eq!(lan.state(1), State::Backup);
    assert!(lan.nodes[1].held());
    lan.feed(1, Input::Hold(false));
    lan.at(60.0);
    assert_eq!(lan.state(1), State::Master, "resumed: preempts again");
    assert_eq!(lan.state(0), State::Backup);
}

#[test]
fn a_held_backup_is_not_made_master_by_its_sync_group_nor_its_timer() {
    let mut vi = Instance::new(router("10.0.0.1", 100));
    let t0 = Instant::now();
    vi.handle(t0, Input::Start);
    vi.handle(t0, Input::Hold(true));
    assert_eq!(vi.next_deadline(), None);
    vi.handle(
        t0 + secs(1.0),
        Input::Sync(crate::vrrp::sync::SyncCommand::Master("group".into())),
    );
    assert_eq!(vi.state(), State::Backup);
    // Resumed without a master heard: it takes the addresses after a skew time.
    vi.handle(t0 + secs(5.0), Input::Hold(false));
    let d = vi.next_deadline().unwrap();
    assert!(d <= t0 + secs(6.0));
    vi.handle(d, Input::TimerFired);
    assert_eq!(vi.state(), State::Master);
}

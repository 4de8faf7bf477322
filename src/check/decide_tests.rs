use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn timing(alpha: bool, retry: u32, dbr: u64, delay_loop: u64) -> Timing {
    Timing {
        alpha,
        retry,
        delay_before_retry: secs(dbr),
        delay_loop: secs(delay_loop),
        urls: 1,
        fast_recovery: false,
    }
}

fn rounds(alpha: bool, urls: u32, fast_recovery: bool) -> Timing {
    Timing {
        urls,
        fast_recovery,
        ..timing(alpha, 1, 2, 10)
    }
}

/// Drives a checker in virtual time: each probe's result comes from `result(seconds since t0)`.
/// Returns the probe times and the state changes (seconds since t0, up).
struct Sim {
    t0: Instant,
    core: CheckerCore,
    next: Instant,
    probes: Vec<u64>,
    changes: Vec<(u64, bool)>,
    retries: Vec<(u64, u32)>,
    weights: Vec<(u64, WeightAdj)>,
    /// (time, url) of each probe.
    steps: Vec<(u64, u32)>,
}

impl Sim {
    fn new(t: Timing, offset: u64) -> Sim {
        let t0 = Instant::now();
        let mut core = CheckerCore::new(t);
        let acts = core.handle(
            t0,
            Input::Start {
                offset: secs(offset),
            },
        );
        let next = match acts.as_slice() {
            [Action::Arm(at)] => *at,
            other => panic!("start gave {other:?}"),
        };
        Sim {
            t0,
            core,
            next,
            probes: Vec::new(),
            changes: Vec::new(),
            retries: Vec::new(),
            weights: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn at(&self, i: Instant) -> u64 {
        (i - self.t0).as_secs()
    }

    /// Runs until `until` seconds; each probe takes `took` seconds.
    fn run(&mut self, until: u64, took: u64, result: impl Fn(u64) -> Outcome) {
        self.run_urls(until, took, |t, _| result(t))
    }

    /// As `run`, the result also depending on the url checked.
    fn run_urls(&mut self, until: u64, took: u64, result: impl Fn(u64, u32) -> Outcome) {
        while self.at(self.next) <= until {
            let now = self.next;
            assert_eq!(self.core.handle(now, Input::Due), vec![Action::Run]);
            let t = self.at(now);
            self.probes.push(t);
            let step = self.core.step();
            self.steps.push((t, step));
            assert!(
                self.steps.len() < 1000,
                "runaway schedule: {:?}",
                self.steps
            );
            let done = now + secs(took);
            let mut armed = None;
            for a in self.core.handle(done, Input::Result(result(t, step))) {
                match a {
                    Action::Arm(at) => armed = Some(at),
                    Action::Changed { up, .. } => self.changes.push((t, up)),
                    Action::Retry { attempt, .. } => self.retries.push((t, attempt)),
                    Action::Weight(w) => self.weights.push((t, w)),
                    Action::StillDown { .. } | Action::Run | Action::UrlPassed { .. } => {}
                }
            }
            self.next = armed.expect("every result arms the next probe");
        }
    }
}

fn ok(_: u64) -> Outcome {
    Outcome::pass("fine")
}

#[test]
fn probes_follow_the_delay_loop_grid_from_the_warmup_offset() {
    let mut s = Sim::new(timing(false, 1, 1, 10), 7);
    s.run(50, 3, ok);
    // A probe taking 3 s does not shift the schedule.
    assert_eq!(s.probes, vec![7, 17, 27, 37, 47]);
    assert!(s.changes.is_empty(), "an UP checker that passes stays UP");
}

#[test]
fn up_checker_is_retried_before_going_down() {
    // retry 2, delay_before_retry 4: fail at 0, retry at 4 and 8, then DOWN.
    let mut s = Sim::new(timing(false, 2, 4, 60), 0);
    s.run(60, 0, |_| Outcome::fail("connection refused"));
    assert_eq!(s.retries, vec![(0, 1), (4, 2)]);
    assert_eq!(s.changes, vec![(8, false)]);
    // Once DOWN, probes go back to the delay_loop grid (no retries while down).
    assert_eq!(s.probes, vec![0, 4, 8, 60]);
}

#[test]
fn success_during_retries_keeps_the_checker_up_and_resets_the_count() {
    let mut s = Sim::new(timing(false, 1, 2, 10), 0);
    // Fails at 0, passes on the retry at 2; fails at 10, retry at 12 fails -> DOWN at 12.
    s.run(30, 0, |t| {
        if t == 0 || t >= 10 {
            Outcome::fail("timeout after 5 s")
        } else {
            Outcome::pass("ok")
        }
    });
    assert_eq!(s.retries, vec![(0, 1), (10, 1)]);
    assert_eq!(s.changes, vec![(12, false)]);
    assert_eq!(s.probes, vec![0, 2, 10, 12, 20, 30]);
}

#[test]
fn retry_zero_goes_down_on_the_first_failure() {
    let mut s = Sim::new(timing(false, 0, 1, 5), 0);
    s.run(5, 0, |t| {
        if t == 5 {
            Outcome::fail("x")
        } else {
            Outcome::pass("y")
        }
    });
    assert!(s.retries.is_empty());
    assert_eq!(s.changes, vec![(5, false)]);
}

#[test]
fn alpha_starts_down_and_comes_up_on_first_success() {
    let mut s = Sim::new(timing(true, 3, 1, 10), 2);
    assert!(!s.core.is_up());
    s.run(30, 0, |t| {
        if t < 20 {
            Outcome::fail("refused")
        } else {
            Outcome::pass("ok")
        }
    });
    // No retries while DOWN: failures at 2 and 12 only, UP at 22.
    assert!(s.retries.is_empty());
    assert_eq!(s.changes, vec![(22, true)]);
    assert_eq!(s.probes, vec![2, 12, 22]);
}

#[test]
fn without_alpha_the_checker_starts_up() {
    let s = Sim::new(timing(false, 1, 1, 10), 0);
    assert!(s.core.is_up());
    let rs = RsState::new(5, &[false, false]);
    assert!(rs.is_up());
    assert!(matches!(rs.initial(), RsEvent::Up { .. }));
    let rs = RsState::new(5, &[false, true]);
    assert!(!rs.is_up());
    assert!(matches!(rs.initial(), RsEvent::Down { .. }));
}

#[test]
fn warmup_offset_delays_only_the_first_probe() {
    let mut s = Sim::new(timing(false, 1, 1, 6), 5);
    s.run(24, 1, ok);
    assert_eq!(s.probes, vec![5, 11, 17, 23]);
}

#[test]
fn flapping_server_gives_one_change_per_transition() {
    // Alternates 20 s bad / 20 s good; retry 1, delay_before_retry 1, delay_loop 5.
    let mut s = Sim::new(timing(false, 1, 1, 5), 0);
    s.run(80, 0, |t| {
        if (t / 20) % 2 == 1 {
            Outcome::fail("HTTP status 503 not in 200-299")
        } else {
            Outcome::pass("ok")
        }
    });
    // Bad from 20: fail at 20, retry at 21 fails -> DOWN at 21; good from 40: UP at 40; bad from 60,
    // good again from 80.
    assert_eq!(
        s.changes,
        vec![(21, false), (40, true), (61, false), (80, true)]
    );
    // Retry slot at 21 does not shift the grid: next probes are 25, 30, ...
    assert!(s.probes.contains(&25) && s.probes.contains(&45) && s.probes.contains(&80));
}

#[test]
fn misc_dynamic_weight_is_reported_only_when_it_changes() {
    let mut s = Sim::new(timing(false, 0, 1, 10), 0);
    s.run(50, 0, |t| match t {
        // exit 12 -> weight 10; exit 0 -> unchanged; exit 22 -> 20
        0 | 10 => Outcome::pass("exit 12").with_weight(WeightAdj::Set(10)),
        20 => Outcome::pass("exit 0"),
        30 => Outcome::fail("exit 1"),
        _ => Outcome::pass("exit 22").with_weight(WeightAdj::Set(20)),
    });
    assert_eq!(
        s.weights,
        vec![(0, WeightAdj::Set(10)), (40, WeightAdj::Set(20))]
    );
    assert_eq!(s.changes, vec![(30, false), (40, true)]);
}

#[test]
fn real_server_is_up_only_when_all_checkers_are() {
    let mut rs = RsState::new(1, &[false, false]);
    let down = |r: &str| Action::Changed {
        up: false,
        reason: r.into(),
    };
    let up = |r: &str| Action::Changed {
        up: true,
        reason: r.into(),
    };
    assert_eq!(
        rs.apply(0, &down("TCP connection to [10.0.0.2]:tcp:80 failed")),
        vec![RsEvent::Down {
            reason: "TCP connection to [10.0.0.2]:tcp:80 failed".into()
        }]
    );
    assert!(rs.apply(1, &down("b")).is_empty(), "already down");
    assert!(rs.apply(0, &up("a ok")).is_empty(), "checker 1 still down");
    assert_eq!(
        rs.apply(1, &up("b ok")),
        vec![RsEvent::Up {
            reason: "b ok".into()
        }]
    );
    assert!(rs.apply(7, &down("no such checker")).is_empty());
}

#[test]
fn dynamic_weights_combine_as_keepalived() {
    // Configured weight 3; one MISC_CHECK exiting 12 sets the weight to 10.
    let mut rs = RsState::new(3, &[false, false]);
    let ev = rs.apply(0, &Action::Weight(WeightAdj::Set(10)));
    assert!(matches!(
        ev.as_slice(),
        [RsEvent::Weight { weight: 10, .. }]
    ));
    // A FILE_CHECK with value 2 x weight 5 adds 10 more.
    let ev = rs.apply(1, &Action::Weight(WeightAdj::Add(10)));
    assert!(matches!(
        ev.as_slice(),
        [RsEvent::Weight { weight: 20, .. }]
    ));
    // A negative file value cannot take the weight below 0.
    let ev = rs.apply(1, &Action::Weight(WeightAdj::Add(-100)));
    assert!(matches!(ev.as_slice(), [RsEvent::Weight { weight: 0, .. }]));
    // Same weight again: no event.
    assert!(rs
        .apply(1, &Action::Weight(WeightAdj::Add(-200)))
        .is_empty());
    assert_eq!(rs.weight(), 0);
}

#[test]
fn one_url_per_delay_loop_and_a_down_checker_up_after_a_whole_round() {
    // Three urls, url 1 fails from 25 to 45: each check fetches one url, the next a delay_loop
    // later; the failed url is fetched again (retry, then each delay_loop) until it passes, and
    // the round starts again from the first url; the checker is up once all three passed.
    let mut s = Sim::new(rounds(false, 3, false), 0);
    s.run_urls(100, 0, |t, url| {
        if url == 1 && (25..45).contains(&t) {
            Outcome::fail("HTTP status code error")
        } else {
            Outcome::pass("ok")
        }
    });
    assert_eq!(
        s.steps,
        vec![
            (0, 0),
            (10, 1),
            (20, 2),
            (30, 0),
            (40, 1), // fails
            (42, 1), // retry fails: down
            (50, 1), // passes: the round starts again
            (60, 0),
            (70, 1),
            (80, 2), // a whole round since the failure: up
            (90, 0),
            (100, 1),
        ]
    );
    assert_eq!(s.changes, vec![(42, false), (80, true)]);
}

#[test]
fn fast_recovery_checks_the_round_without_delay_while_down_or_unjudged() {
    // At start (no verdict yet) the three urls go back to back; after the failure the failed
    // url waits for the delay_loop, then the round runs at once.
    let mut s = Sim::new(rounds(false, 3, true), 0);
    s.run_urls(60, 0, |t, url| {
        if url == 2 && (10..25).contains(&t) {
            Outcome::fail("regex did not match")
        } else {
            Outcome::pass("ok")
        }
    });
    assert_eq!(
        s.steps,
        vec![
            (0, 0),
            (0, 1),
            (0, 2),  // first verdict at once
            (10, 0), // up and judged: one url per delay_loop again
            (20, 1),
            (30, 2),
            (40, 0),
            (50, 1),
            (60, 2),
        ]
    );
    let mut s = Sim::new(rounds(true, 3, true), 0);
    s.run_urls(40, 0, |t, url| {
        if url == 1 && t < 15 {
            Outcome::fail("connection refused")
        } else {
            Outcome::pass("ok")
        }
    });
    // alpha: down from start; url 1 fails at 0 and is known failed, so it waits (10); when it
    // passes at 20 the round restarts and runs at once.
    assert_eq!(
        s.steps,
        vec![
            (0, 0),
            (0, 1),
            (10, 1),
            (20, 1),
            (20, 0),
            (20, 1),
            (20, 2),
            (30, 0),
            (40, 1)
        ]
    );
    assert_eq!(s.changes, vec![(20, true)]);
}

#[test]
fn one_url_comes_up_on_its_first_pass() {
    let mut s = Sim::new(rounds(false, 1, true), 0);
    s.run_urls(40, 0, |t, _| {
        if (5..15).contains(&t) {
            Outcome::fail("refused")
        } else {
            Outcome::pass("ok")
        }
    });
    assert_eq!(s.changes, vec![(12, false), (20, true)]);
    assert_eq!(s.probes, vec![0, 10, 12, 20, 30, 40]);
}

#[test]
fn only_a_pass_of_an_up_checker_leaves_its_reason_unused() {
    let t0 = Instant::now();
    let mut core = CheckerCore::new(timing(false, 1, 1, 5));
    core.handle(t0, Input::Start { offset: secs(0) });
    assert!(!core.uses_reason(true), "up and passing: nothing to say");
    assert!(core.uses_reason(false), "a failure is retried and logged");
    // The pass of an up checker only re-arms it.
    let acts = core.handle(t0, Input::Result(Outcome::pass(String::new())));
    assert!(matches!(acts.as_slice(), [Action::Arm(_)]), "{acts:?}");
    // Down (alpha): its first pass is a change, told with its reason.
    let mut down = CheckerCore::new(timing(true, 1, 1, 5));
    down.handle(t0, Input::Start { offset: secs(0) });
    assert!(down.uses_reason(true));
}

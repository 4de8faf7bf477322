//! The checker decision core, free of sockets and clocks: when to probe, how many retries before a
//! failure counts, alpha mode, and how checker states combine into a real server's state and weight.
//! keepalived's rules: an UP checker that fails is retried `retry` times, `delay_before_retry` apart,
//! before it goes DOWN; a DOWN checker goes UP on its first success; probes follow a fixed grid of
//! `delay_loop` from a (random) start offset, so slow probes do not make the schedule drift.

use std::time::{Duration, Instant};

/// How a passing check sets its checker's part of the real server's weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightAdj {
    /// MISC_CHECK misc_dynamic: the exit code minus 2 is the weight this checker asks for.
    Set(u32),
    /// FILE_CHECK: the file's value times the weight, added to the configured weight.
    Add(i64),
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    /// `None` keeps the checker's current weight (misc_dynamic exit code 0).
    pub weight: Option<WeightAdj>,
    pub reason: String,
}

impl Outcome {
    pub fn pass(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            weight: None,
            reason: reason.into(),
        }
    }
    pub fn fail(reason: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            weight: None,
            reason: reason.into(),
        }
    }
    pub fn with_weight(mut self, w: WeightAdj) -> Outcome {
        self.weight = Some(w);
        self
    }
}

/// A checker's timing options, with keepalived's defaults already resolved by the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub alpha: bool,
    pub retry: u32,
    pub delay_before_retry: Duration,
    pub delay_loop: Duration,
    /// Checks in a round: an HTTP_GET's urls, one per delay_loop (1 for the other kinds).
    pub urls: u32,
    /// HTTP_GET fast_recovery: a round's next url at once while the checker is not up.
    pub fast_recovery: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Begin; the shell picks `offset` at random in [0, warmup].
    Start { offset: Duration },
    /// The armed time has come.
    Due,
    /// A probe finished.
    Result(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a probe now.
    Run,
    /// Feed `Input::Due` at this time.
    Arm(Instant),
    /// The checker changed state.
    Changed { up: bool, reason: String },
    /// The checker's weight changed (only on passing checks).
    Weight(WeightAdj),
    /// An UP checker failed and will be probed again after delay_before_retry.
    Retry {
        attempt: u32,
        of: u32,
        reason: String,
    },
    /// A DOWN checker failed again (for operators who log all failures).
    StillDown { reason: String },
    /// A url of an HTTP_GET round passed; `next` is checked next (no verdict yet).
    UrlPassed { next: u32, of: u32 },
}

/// One checker's state.
#[derive(Debug, Clone)]
pub struct CheckerCore {
    timing: Timing,
    up: bool,
    retries_done: u32,
    base: Option<Instant>,
    weight: Option<WeightAdj>,
    /// The url (of `Timing::urls`) the next check fetches.
    url: u32,
    /// The checker is down on the current url: it is fetched again until it passes.
    failed_url: bool,
    /// A whole round passed, or the checker went down, once since start.
    judged: bool,
}

impl CheckerCore {
    /// Without alpha a checker starts UP (the real server is in service until a check fails); with
    /// alpha it starts DOWN until its first success.
    pub fn new(timing: Timing) -> CheckerCore {
        CheckerCore {
            timing,
            up: !timing.alpha,
            retries_done: 0,
            base: None,
            weight: None,
            url: 0,
            failed_url: false,
            judged: false,
        }
    }

    /// Which check of the round runs next (an HTTP_GET's url; 0 for the other kinds).
    pub fn step(&self) -> u32 {
        self.url
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Whether a result that passes (`ok`) or fails would use its reason: a pass of an UP checker
    /// changes nothing and says nothing, so its words need not be written (most checks).
    pub fn uses_reason(&self, ok: bool) -> bool {
        !(ok && self.up)
    }

    /// Between a failure of an UP checker and its verdict: the next probe decides whether the real
    /// server goes down.
    pub fn retrying(&self) -> bool {
        self.retries_done > 0
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        match input {
            Input::Start { offset } => {
                let first = now + offset;
                self.base = Some(first);
                vec![Action::Arm(first)]
            }
            Input::Due => vec![Action::Run],
            Input::Result(o) if o.ok => self.passed(now, o),
            Input::Result(o) => self.failed(now, o.reason),
        }
    }

    /// keepalived's HTTP_GET rounds: one url per check, the next after delay_loop; a round ends
    /// when the last url passes, and a checker that is down comes up only then. When the url it
    /// failed on passes, the round starts again from the first url (that url counting as passed
    /// when it is the first). With one url (every other kind) a pass ends the round.
    fn passed(&mut self, now: Instant, o: Outcome) -> Vec<Action> {
        let mut acts = Vec::new();
        self.retries_done = 0;
        if o.weight.is_some() && o.weight != self.weight {
            self.weight = o.weight;
            acts.extend(o.weight.map(Action::Weight));
        }
        let urls = self.timing.urls.max(1);
        let passed = if std::mem::take(&mut self.failed_url) {
            self.url == 0
        } else {
            true
        };
        self.url = if passed { self.url + 1 } else { 0 };
        if self.url < urls {
            acts.push(Action::UrlPassed {
                next: self.url,
                of: urls,
            });
            // fast_recovery: no delay_loop between the urls of a round that can bring the checker
            // up (or give its first verdict); a url known failed waits as usual.
            let at = if self.timing.fast_recovery && (!self.up || !self.judged) {
                now
            } else {
                self.next_slot(now)
            };
            acts.push(Action::Arm(at));
            return acts;
        }
        self.url = 0;
        self.judged = true;
        if !self.up {
            self.up = true;
            acts.push(Action::Changed {
                up: true,
                reason: o.reason,
            });
        }
        acts.push(Action::Arm(self.next_slot(now)));
        acts
    }

    /// A failed url is fetched again (retries, then each delay_loop) until it passes.
    fn failed(&mut self, now: Instant, reason: String) -> Vec<Action> {
        if !self.up {
            self.failed_url = true;
            self.judged = true;
            return vec![
                Action::StillDown { reason },
                Action::Arm(self.next_slot(now)),
            ];
        }
        if self.retries_done < self.timing.retry {
            self.retries_done += 1;
            return vec![
                Action::Retry {
                    attempt: self.retries_done,
                    of: self.timing.retry,
                    reason,
                },
                Action::Arm(now + self.timing.delay_before_retry),
            ];
        }
        self.up = false;
        self.retries_done = 0;
        self.failed_url = true;
        self.judged = true;
        vec![
            Action::Changed { up: false, reason },
            Action::Arm(self.next_slot(now)),
        ]
    }

    /// The first slot of the `delay_loop` grid strictly after `now`.
    fn next_slot(&self, now: Instant) -> Instant {
        let period = self.timing.delay_loop.max(Duration::from_millis(1));
        let base = self.base.unwrap_or(now);
        if now < base {
            return base;
        }
        let elapsed = (now - base).as_nanos();
        let k = elapsed / period.as_nanos() + 1;
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        base + period.saturating_mul(k)
    }
}

/// What the director is told about a real server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsEvent {
    Up { reason: String },
    Down { reason: String },
    Weight { weight: u32, reason: String },
}

/// A real server's state from its checkers: UP when all are UP (or when it has none).
#[derive(Debug, Clone)]
pub struct RsState {
    configured: u32,
    checkers: Vec<(bool, Option<WeightAdj>)>,
    up: bool,
    weight: u32,
}

impl RsState {
    /// `alphas` holds each checker's alpha flag, which sets its initial state.
    pub fn new(configured: u32, alphas: &[bool]) -> RsState {
        let checkers: Vec<_> = alphas.iter().map(|a| (!a, None)).collect();
        let up = checkers.iter().all(|c| c.0);
        RsState {
            configured,
            checkers,
            up,
            weight: configured,
        }
    }

    /// The state a reload keeps (same checkers, same order) under a new configured weight: a
    /// weight a checker set (misc_dynamic, FILE_CHECK) stays, the configured one follows the file.
    pub fn carried(mut self, configured: u32) -> RsState {
        if self.weight == self.configured {
            self.weight = configured;
        }
        self.configured = configured;
        self
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The event announcing the initial state, so the director needs no other source.
    pub fn initial(&self) -> RsEvent {
        if self.up {
            RsEvent::Up {
                reason: "initial state: no checker in alpha mode".into(),
            }
        } else {
            RsEvent::Down {
                reason: "initial state: alpha checker, down until its first success".into(),
            }
        }
    }

    /// Applies one checker's action; returns the real server's events.
    pub fn apply(&mut self, idx: usize, action: &Action) -> Vec<RsEvent> {
        let Some(slot) = self.checkers.get_mut(idx) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match action {
            Action::Changed { up, reason } => {
                slot.0 = *up;
                let all = self.checkers.iter().all(|c| c.0);
                if all != self.up {
                    self.up = all;
                    let reason = reason.clone();
                    out.push(if all {
                        RsEvent::Up { reason }
                    } else {
                        RsEvent::Down { reason }
                    });
                }
            }
            Action::Weight(w) => {
                slot.1 = Some(*w);
                let weight = self.effective_weight();
                if weight != self.weight {
                    self.weight = weight;
                    let reason = match w {
                        WeightAdj::Set(v) => format!("dynamic weight {v} from a MISC_CHECK"),
                        WeightAdj::Add(d) => format!("FILE_CHECK adds {d} to the weight"),
                    };
                    out.push(RsEvent::Weight { weight, reason });
                }
            }
            _ => {}
        }
        out
    }

    /// keepalived's rule: each dynamic MISC_CHECK moves the weight by (exit code - 2 - configured), so
    /// a single one sets it to exit code - 2; FILE_CHECKs add value x weight. Clamped to IPVS's range.
    fn effective_weight(&self) -> u32 {
        let base = i64::from(self.configured);
        let sum: i64 = self
            .checkers
            .iter()
            .filter_map(|c| c.1)
            .map(|w| match w {
                WeightAdj::Set(v) => i64::from(v) - base,
                WeightAdj::Add(d) => d,
            })
            .sum();
        (base + sum).clamp(0, i64::from(i32::MAX)) as u32
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

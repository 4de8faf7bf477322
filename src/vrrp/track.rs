//! Tracking, as keepalived documents it: vrrp_script results with rise/fall, track_interface,
//! track_file, track_process (quorum gained or lost); weights with sign and `reverse`;
//! unweighted items put the instance in FAULT.

use std::fmt;

/// Consecutive-result filter of one `vrrp_script` (shared by every instance tracking it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptState {
    rise: u32,
    fall: u32,
    up: bool,
    /// Consecutive results contradicting the current status.
    run: u32,
}

impl ScriptState {
    /// Starts OK, or failed with `init_fail`.
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        ScriptState {
            rise: rise.max(1),
            fall: fall.max(1),
            up: !init_fail,
            run: 0,
        }
    }

    /// Records one exit status; returns the new status when it flips: after `fall`
    /// consecutive failures, or `rise` consecutive successes.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.up {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.run < needed {
            return None;
        }
        self.up = success;
        self.run = 0;
        Some(success)
    }

    pub fn is_up(&self) -> bool {
        self.up
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Script,
    Interface,
    File,
    Process,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Script => "track_script",
            Kind::Interface => "track_interface",
            Kind::File => "track_file",
            Kind::Process => "track_process",
        })
    }
}

/// Current status of a tracked item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Script OK / interface up (true) or failed / down (false).
    Up(bool),
    /// Number read from a track_file.
    Value(i64),
}

/// What tracking asks of an instance: a priority adjustment, or FAULT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub delta: i32,
    /// Why the instance must be in FAULT, if it must.
    pub fault: Option<String>,
}

/// A change of one tracked item, with the resulting verdict for the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackChange {
    /// e.g. "track_script chk_nginx failed".
    pub reason: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    kind: Kind,
    name: String,
    weight: i32,
    reverse: bool,
    status: Status,
}

/// Lowest track_file contribution before the instance goes FAULT (keepalived: below -253).
const FILE_FAULT_BELOW: i64 = -253;

impl Item {
    /// Priority contribution, or Err(fault description).
    fn contribution(&self) -> Result<i64, String> {
        let w = i64::from(self.weight);
        match self.status {
            Status::Up(up) => {
                // reverse flips both the status and the sign of the weight.
                let effective_up = up != self.reverse;
                let w = if self.reverse { -w } else { w };
                match w {
                    0 if effective_up => Ok(0),
                    0 => Err(format!(
                        "{} {} {}",
                        self.kind,
                        self.name,
                        self.down_word(up)
                    )),
                    w if w > 0 && effective_up => Ok(w),
                    w if w < 0 && !effective_up => Ok(w),
                    _ => Ok(0),
                }
            }
            Status::Value(v) => {
                if w == 0 {
                    let failed = (v != 0) != self.reverse;
                    return match failed {
                        true => Err(format!("{} {} value {v}", self.kind, self.name)),
                        false => Ok(0),
                    };
                }
                let c = v.saturating_mul(if self.reverse { -w } else { w });
                match c < FILE_FAULT_BELOW {
                    true => Err(format!(
                        "{} {} value {v} x weight {w}",
                        self.kind, self.name
                    )),
                    false => Ok(c),
                }
            }
        }
    }

    fn down_word(&self, up: bool) -> &'static str {
        match (self.kind, up) {
            (Kind::Interface, true) => "up",
            (Kind::Interface, false) => "down",
            (Kind::Process, true) => "quorum gained",
            (Kind::Process, false) => "quorum lost",
            (_, true) => "succeeded",
            (_, false) => "failed",
        }
    }
}

/// The items one instance (or sync group) tracks, with this instance's weights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    items: Vec<Item>,
}

impl Tracker {
    pub fn new() -> Self {
        Tracker::default()
    }

    /// Adds an item; `weight` 0 means unweighted (FAULT when failed).
    pub fn track(&mut self, kind: Kind, name: &str, weight: i32, reverse: bool, initial: Status) {
        self.items.push(Item {
            kind,
            name: name.to_string(),
            weight,
            reverse,
            status: initial,
        });
    }

    /// A script's filtered status or an interface's link state changed.
    pub fn set_up(&mut self, kind: Kind, name: &str, up: bool) -> Option<TrackChange> {
        let item = self
            .items
            .iter_mut()
            .find(|i| i.kind == kind && i.name == name)?;
        if item.status == Status::Up(up) {
            return None;
        }
        item.status = Status::Up(up);
        let reason = format!("{kind} {name} {}", item.down_word(up));
        Some(self.change(reason))
    }

    /// A track_file was read.
    pub fn set_value(&mut self, name: &str, value: i64) -> Option<TrackChange> {
        let item = self
            .items
            .iter_mut()
            .find(|i| i.kind == Kind::File && i.name == name)?;
        if item.status == Status::Value(value) {
            return None;
        }
        item.status = Status::Value(value);
        Some(self.change(format!("track_file {name} value {value}")))
    }

    fn change(&self, reason: String) -> TrackChange {
        TrackChange {
            reason,
            verdict: self.verdict(),
        }
    }

    /// The sum of weights and the first fault, over every item.
    pub fn verdict(&self) -> Verdict {
        let mut delta: i64 = 0;
        let mut fault = None;
        for item in &self.items {
            match item.contribution() {
                Ok(c) => delta = delta.saturating_add(c),
                Err(why) => {
                    fault.get_or_insert(why);
                }
            }
        }
        Verdict {
            delta: delta.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            fault,
        }
    }
}

/// Effective priority: base + tracking delta, limited to 1..=254; the address owner (255)
/// keeps 255 whatever tracking says.
pub fn effective_priority(base: u8, delta: i32) -> u8 {
    if base == super::params::PRIORITY_OWNER {
        return base;
    }
    (i64::from(base) + i64::from(delta)).clamp(1, 254) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_flips_after_fall_failures_and_rise_successes() {
        let mut s = ScriptState::new(2, 3, false);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(true), None, "a success breaks the run of failures");
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), Some(false), "third consecutive failure");
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(true), "second consecutive success");
        assert!(ScriptState::new(1, 1, true).record(true) == Some(true));
    }

    #[test]
    fn unweighted_failure_is_a_fault_with_its_reason() {
        let mut t = Tracker::new();
        t.track(Kind::Script, "chk_nginx", 0, false, Status::Up(true));
        assert_eq!(t.verdict(), Verdict::default());
        let c = t.set_up(Kind::Script, "chk_nginx", false).unwrap();
        assert_eq!(c.reason, "track_script chk_nginx failed");
        assert_eq!(
            c.verdict.fault.as_deref(),
            Some("track_script chk_nginx failed")
        );
        assert_eq!(
            t.set_up(Kind::Script, "chk_nginx", false),
            None,
            "no change, no event"
        );
    }

    #[test]
    fn weights_follow_keepalived_sign_rules() {
        let mut t = Tracker::new();
        // +10 while eth1 is up; -20 while chk is failed.
        t.track(Kind::Interface, "eth1", 10, false, Status::Up(true));
        t.track(Kind::Script, "chk", -20, false, Status::Up(true));
        assert_eq!(t.verdict().delta, 10);
        assert_eq!(
            t.set_up(Kind::Script, "chk", false).unwrap().verdict.delta,
            -10
        );
        let c = t.set_up(Kind::Interface, "eth1", false).unwrap();
        assert_eq!(c.reason, "track_interface eth1 down");
        assert_eq!(
            c.verdict,
            Verdict {
                delta: -20,
                fault: None
            }
        );
    }

    #[test]
    fn reverse_inverts_the_adjustment() {
        let mut t = Tracker::new();
        // Positive weight reversed: priority decreased while up.
        t.track(Kind::Interface, "eth2", 15, true, Status::Up(true));
        assert_eq!(t.verdict().delta, -15);
        assert_eq!(
            t.set_up(Kind::Interface, "eth2", false)
                .unwrap()
                .verdict
                .delta,
            0
        );
        // Negative weight reversed: priority increased while down.
        let mut t = Tracker::new();
        t.track(Kind::Script, "s", -5, true, Status::Up(false));
        assert_eq!(t.verdict().delta, 5);
        // weight 0 reverse: FAULT while the script is up.
        let mut t = Tracker::new();
        t.track(Kind::Script, "s", 0, true, Status::Up(false));
        assert_eq!(t.verdict().fault, None);
        assert!(t
            .set_up(Kind::Script, "s", true)
            .unwrap()
            .verdict
            .fault
            .is_some());
    }

    #[test]
    fn track_process_weights_as_keepalived() {
        // Positive weight: added while the quorum holds.
        let mut t = Tracker::new();
        t.track(Kind::Process, "nginx", 20, false, Status::Up(true));
        assert_eq!(t.verdict().delta, 20);
        let c = t.set_up(Kind::Process, "nginx", false).unwrap();
        assert_eq!(c.reason, "track_process nginx quorum lost");
        assert_eq!(c.verdict, Verdict::default());
        // Negative weight: subtracted while it is lost; reversed, added while it is lost.
        let mut t = Tracker::new();
        t.track(Kind::Process, "p", -30, false, Status::Up(false));
        assert_eq!(t.verdict().delta, -30);
        let mut t = Tracker::new();
        t.track(Kind::Process, "p", -30, true, Status::Up(false));
        assert_eq!(t.verdict().delta, 30);
        assert_eq!(t.set_up(Kind::Process, "p", true).unwrap().verdict.delta, 0);
        // Weight 0: FAULT without the quorum; 'weight 0 reverse': FAULT with it.
        let mut t = Tracker::new();
        t.track(Kind::Process, "p", 0, false, Status::Up(false));
        assert_eq!(
            t.verdict().fault.as_deref(),
            Some("track_process p quorum lost")
        );
        let mut t = Tracker::new();
        t.track(Kind::Process, "p", 0, true, Status::Up(true));
        assert_eq!(
            t.verdict().fault.as_deref(),
            Some("track_process p quorum gained")
        );
        assert_eq!(
            t.set_up(Kind::Process, "p", false).unwrap().verdict,
            Verdict::default()
        );
    }

    #[test]
    fn track_file_value_times_weight() {
        let mut t = Tracker::new();
        t.track(Kind::File, "prio", 2, false, Status::Value(0));
        assert_eq!(t.set_value("prio", 5).unwrap().verdict.delta, 10);
        assert_eq!(t.set_value("prio", -5).unwrap().verdict.delta, -10);
        // Below -253 the instance goes FAULT.
        assert!(t.set_value("prio", -127).unwrap().verdict.fault.is_some());
        // Weight 0: non-zero is failure, zero is OK.
        let mut t = Tracker::new();
        t.track(Kind::File, "f", 0, false, Status::Value(0));
        assert!(t.set_value("f", 1).unwrap().verdict.fault.is_some());
        assert_eq!(t.set_value("f", 0).unwrap().verdict.fault, None);
    }

    #[test]
    fn effective_priority_is_clamped_and_owner_fixed() {
        assert_eq!(effective_priority(100, 30), 130);
        assert_eq!(effective_priority(100, 500), 254);
        assert_eq!(effective_priority(100, -500), 1);
        assert_eq!(effective_priority(255, -100), 255);
    }
}

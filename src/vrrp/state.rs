//! One VRRP instance as a pure state machine (RFC 3768 section 6.4, RFC 5798 section 6.4, with
//! keepalived's extensions: FAULT, preempt_delay, answering lower priority adverts, GARP timers).
//!
//! The shell feeds `Input`s with the current time and performs the returned `Action`s in order;
//! it calls `handle(now, Input::TimerFired)` when `next_deadline()` is reached.
//!
//! Startup: the address owner (priority 255) becomes MASTER at once (RFC); any other instance
//! starts in BACKUP and takes over after Master_Down_Interval (+ preempt_delay) without adverts,
//! also with `state MASTER`, as keepalived documents. `state MASTER` only disables nopreempt and
//! preempt_delay (keepalived: they need a BACKUP initial state). Leaving FAULT follows the same
//! rule as startup.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::garp::GarpTimers;
use super::packet::{Advert, Auth, Version};
use super::params::InstanceParams;
use super::sync::SyncCommand;
use super::timers;
use super::track::{effective_priority, TrackChange};
use super::validate::{validate, Reject, RxPacket};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Start,
    Packet(RxPacket),
    TimerFired,
    Track(TrackChange),
    Sync(SyncCommand),
    /// Shutdown.
    Stop,
    /// Reload: new parameters for the same instance (same name, VRID, family and version). The
    /// state, timers and VIPs are kept; only what the new values demand changes.
    Reconfigure(Box<InstanceParams>),
    /// Removed by a reload: a MASTER releases with priority 0 as at shutdown, and the shell
    /// announces the deletion (keepalived's DELETED or FAULT notify) instead of STOP.
    Delete,
    /// The connection table asked for with `Action::CatchUp` is here, or cannot be had.
    CaughtUp,
    /// lvsd ctl vrrp backup (true): a MASTER hands over as at shutdown (priority 0 advert), and the
    /// instance stays BACKUP whatever it hears, until resumed (false).
    Hold(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advert (the shell encodes it with its addresses and checksum mode).
    Send(Advert),
    AddVips,
    RemoveVips,
    /// One burst of gratuitous ARP / unsolicited NA for every VIP, `count` messages each.
    SendGarp {
        count: u32,
    },
    /// A state transition: log "(VI_1) Entering MASTER STATE (reason)", run notify scripts.
    Notify {
        state: State,
        priority: u8,
        reason: String,
    },
    /// A received packet was rejected; for the log and statistics.
    Discard(Reject),
    /// An informational event worth a log line.
    Log(String),
    /// The instance was deleted by a reload (after its release): notify the deletion.
    Deleted {
        priority: u8,
    },
    /// About to preempt `master` (with `catchup_hold`): fetch its connection table, then feed
    /// `Input::CaughtUp`. Preemption waits for it at most `catchup_hold`.
    CatchUp {
        master: IpAddr,
    },
}

/// Where a preempting backup is with the master's connection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchUp {
    Idle,
    /// Asked; preemption is held until `until` at the latest. `held`: the down timer has run out
    /// once already, so the answer takes over at once.
    Waiting {
        until: Instant,
        held: bool,
    },
    Done,
}

#[derive(Debug, Clone)]
pub struct Instance {
    p: InstanceParams,
    state: State,
    priority: u8,
    /// Priority adjustment from tracking, kept to recompute the priority when the base changes.
    track_delta: i32,
    own_fault: Option<String>,
    sync_fault: Option<String>,
    /// Master_Adver_Interval: ours, or the master's (VRRPv3) while BACKUP.
    master_adver_int: Duration,
    /// Adver_Timer while MASTER, Master_Down_Timer while BACKUP.
    timer: Option<Instant>,
    /// Why the Master_Down_Timer will fire, for the transition reason.
    down_cause: &'static str,
    /// preempt_delay already added to the running Master_Down_Timer.
    preempt_delayed: bool,
    last_master: Option<IpAddr>,
    garp: GarpTimers,
    catchup: CatchUp,
    /// While BACKUP: when a lower priority advert was last discarded (we are preempting).
    lower_seen: Option<Instant>,
    /// Held BACKUP by the operator.
    held: bool,
    /// An advert from another router was accepted since start.
    peer_heard: bool,
}

const DOWN_TIMER_EXPIRED: &str = "master down timer expired";
const MASTER_RELEASED: &str = "master released (priority 0 advert)";

impl Instance {
    pub fn new(params: InstanceParams) -> Self {
        let master_adver_int = params.advert_interval;
        let priority = effective_priority(params.priority, 0);
        Instance {
            p: params,
            state: State::Init,
            priority,
            track_delta: 0,
            own_fault: None,
            sync_fault: None,
            master_adver_int,
            timer: None,
            down_cause: DOWN_TIMER_EXPIRED,
            preempt_delayed: false,
            last_master: None,
            garp: GarpTimers::default(),
            catchup: CatchUp::Idle,
            lower_seen: None,
            held: false,
            peer_heard: false,
        }
    }

    /// Held BACKUP by the operator (lvsd ctl vrrp backup).
    pub fn held(&self) -> bool {
        self.held
    }

    /// Whether another router's advert was ever accepted: a hand-over has someone to go to.
    pub fn peer_heard(&self) -> bool {
        self.peer_heard
    }

    /// The master a BACKUP last heard.
    pub fn last_master(&self) -> Option<IpAddr> {
        self.last_master
    }

    pub fn name(&self) -> &str {
        &self.p.name
    }
    pub fn params(&self) -> &InstanceParams {
        &self.p
    }
    pub fn state(&self) -> State {
        self.state
    }
    /// Effective priority (base + tracking).
    pub fn priority(&self) -> u8 {
        self.priority
    }
    /// FAULT caused by this instance's own tracking (not by its sync group).
    pub fn own_fault(&self) -> Option<&str> {
        self.own_fault.as_deref()
    }
    /// FAULT imposed by the sync group.
    pub fn sync_fault(&self) -> Option<&str> {
        self.sync_fault.as_deref()
    }
    pub fn master_adver_int(&self) -> Duration {
        self.master_adver_int
    }

    /// When the shell must next feed `Input::TimerFired`.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Master => [self.timer, self.garp.next_deadline()]
                .into_iter()
                .flatten()
                .min(),
            State::Backup if self.held => None,
            State::Backup => self.timer,
            _ => None,
        }
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Packet(rx) => self.on_packet(now, rx, &mut out),
            Input::TimerFired => self.on_timer(now, &mut out),
            Input::Track(change) => self.on_track(now, change, &mut out),
            Input::Sync(cmd) => self.on_sync(now, cmd, &mut out),
            Input::Stop => self.stop(&mut out),
            Input::Reconfigure(p) => self.reconfigure(now, *p, &mut out),
            Input::Delete => self.delete(&mut out),
            Input::CaughtUp => self.caught_up(now, &mut out),
            Input::Hold(on) => self.hold(now, on, &mut out),
        }
        out
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Init | State::Stop) {
            return;
        }
        self.master_adver_int = self.p.advert_interval;
        self.last_master = None;
        if let Some(why) = self.fault_reason() {
            self.enter_fault(why, out);
        } else if self.p.is_address_owner() {
            self.become_master(now, "address owner (priority 255)".into(), out);
        } else {
            self.become_backup(now, "init".into(), out);
            self.delay_preemption();
        }
    }

    /// Advertisement this instance sends at `priority`.
    pub fn advert(&self, priority: u8) -> Advert {
        let (interval, auth) = match self.p.version {
            Version::V2 => (
                timers::v2_interval_field(self.p.advert_interval),
                self.p.auth,
            ),
            Version::V3 => (
                timers::v3_interval_field(self.p.advert_interval),
                Auth::None,
            ),
        };
        Advert {
            version: self.p.version,
            vrid: self.p.vrid,
            priority,
            interval,
            auth,
            addresses: self.p.vips.clone(),
        }
    }

    fn down_interval(&self) -> Duration {
        timers::master_down_interval(
            self.p.version,
            self.priority,
            self.master_adver_int,
            self.p.down_timer_adverts,
        )
    }

    fn skew(&self) -> Duration {
        timers::skew_time(self.p.version, self.priority, self.master_adver_int)
    }

    fn fault_reason(&self) -> Option<String> {
        self.own_fault.clone().or_else(|| self.sync_fault.clone())
    }

    fn notify(&self, out: &mut Vec<Action>, reason: String) {
        out.push(Action::Notify {
            state: self.state,
            priority: self.priority,
            reason,
        });
    }

    fn become_master(&mut self, now: Instant, reason: String, out: &mut Vec<Action>) {
        self.end_preemption();
        self.state = State::Master;
        self.master_adver_int = self.p.advert_interval;
        self.timer = Some(now + self.p.advert_interval);
        self.preempt_delayed = false;
        self.notify(out, reason);
        out.push(Action::Send(self.advert(self.priority)));
        out.push(Action::AddVips);
        let burst = self.garp.enter_master(now, &self.p.garp);
        if burst > 0 {
            out.push(Action::SendGarp { count: burst });
        }
    }

    /// Enters BACKUP with a fresh Master_Down_Timer based on the current Master_Adver_Interval.
    fn become_backup(&mut self, now: Instant, reason: String, out: &mut Vec<Action>) {
        if self.state == State::Master {
            out.push(Action::RemoveVips);
        }
        self.garp.clear();
        self.end_preemption();
        self.state = State::Backup;
        self.timer = Some(now + self.down_interval());
        self.down_cause = DOWN_TIMER_EXPIRED;
        self.preempt_delayed = false;
        self.notify(out, reason);
    }

    /// keepalived: preempt_delay also applies to the advertisement timeout at startup.
    fn delay_preemption(&mut self) {
        let delay = self.p.effective_preempt_delay();
        if let (false, Some(t)) = (delay.is_zero(), self.timer) {
            self.timer = Some(t + delay);
            self.preempt_delayed = true;
        }
    }

    /// A MASTER leaving tells the others at once with priority 0 (RFC section 6.4.3 shutdown).
    fn release(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            out.push(Action::Send(self.advert(0)));
            out.push(Action::RemoveVips);
        }
        self.garp.clear();
        self.end_preemption();
        self.timer = None;
    }

    /// A preemption (and its catch-up) is over: done, or no longer wanted.
    fn end_preemption(&mut self) {
        self.catchup = CatchUp::Idle;
        self.lower_seen = None;
    }

    fn enter_fault(&mut self, reason: String, out: &mut Vec<Action>) {
        self.release(out);
        self.state = State::Fault;
        self.notify(out, reason);
    }

    fn leave_fault(&mut self, now: Instant, reason: String, out: &mut Vec<Action>) {
        self.master_adver_int = self.p.advert_interval;
        if self.p.is_address_owner() {
            self.become_master(now, reason, out);
        } else {
            self.become_backup(now, reason, out);
        }
    }

    fn stop(&mut self, out: &mut Vec<Action>) {
        if matches!(self.state, State::Init | State::Stop) {
            return;
        }
        self.release(out);
        self.state = State::Stop;
        self.last_master = None;
        self.notify(out, "shutdown".into());
    }

    fn delete(&mut self, out: &mut Vec<Action>) {
        self.release(out);
        self.state = State::Stop;
        self.last_master = None;
        out.push(Action::Deleted {
            priority: self.priority,
        });
    }

    /// keepalived keeps a reloaded instance's state: a MASTER advertises its new priority and
    /// interval from its next advert on, a BACKUP's Master_Down_Timer only ever shortens (a new
    /// priority that wins with preempt takes over through the normal protocol, as the next
    /// lower priority advert is discarded).
    fn reconfigure(&mut self, now: Instant, p: InstanceParams, out: &mut Vec<Action>) {
        let old = std::mem::replace(&mut self.p, p);
        let priority = effective_priority(self.p.priority, self.track_delta);
        if priority != self.priority {
            out.push(Action::Log(format!(
                "Changing effective priority from {} to {} (reload)",
                self.priority, priority
            )));
            self.priority = priority;
        }
        let interval_changed = self.p.advert_interval != old.advert_interval;
        match self.state {
            State::Master if interval_changed => {
                self.master_adver_int = self.p.advert_interval;
                let next = now + self.p.advert_interval;
                self.timer = Some(self.timer.map_or(next, |t| t.min(next)));
            }
            State::Backup if self.p.is_address_owner() => {
                self.become_master(now, "address owner (priority 255)".into(), out);
            }
            State::Backup => {
                // VRRPv3 backups time the master by its advertised interval, learnt from its
                // adverts; VRRPv2 ones by their own.
                if interval_changed && self.p.version == Version::V2 {
                    self.master_adver_int = self.p.advert_interval;
                }
                let due = now + self.down_interval();
                if self.timer.is_none_or(|t| due < t) {
                    self.timer = Some(due);
                }
            }
            _ => {}
        }
    }

    fn on_packet(&mut self, now: Instant, rx: RxPacket, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Backup | State::Master) {
            return;
        }
        let src = rx.src;
        match validate(&self.p, &rx, self.last_master) {
            Err(reject) => out.push(Action::Discard(reject)),
            Ok(advert) if self.state == State::Backup => {
                self.peer_heard = true;
                self.backup_rx(now, src, &advert, out)
            }
            Ok(advert) => {
                self.peer_heard = true;
                self.master_rx(now, src, &advert, out)
            }
        }
    }

    /// RFC 3768 / 5798 section 6.4.2, "If an ADVERTISEMENT is received".
    fn backup_rx(&mut self, now: Instant, src: IpAddr, a: &Advert, out: &mut Vec<Action>) {
        if a.priority == 0 {
            out.push(Action::Log(
                "Backup received priority 0 advertisement".into(),
            ));
            self.timer = Some(now + self.skew());
            self.down_cause = MASTER_RELEASED;
            return;
        }
        if self.held || !self.p.effective_preempt() || a.priority >= self.priority {
            if a.version == Version::V3 {
                self.adopt_interval(a, out);
            }
            self.timer = Some(now + self.down_interval());
            self.down_cause = DOWN_TIMER_EXPIRED;
            self.preempt_delayed = false;
            self.last_master = Some(src);
            self.end_preemption();
            return;
        }
        // Preempt: discard, so the Master_Down_Timer runs out and we take over.
        out.push(Action::Log(format!(
            "received lower priority ({}) advert from {src} - discarding",
            a.priority
        )));
        if !self.preempt_delayed {
            self.delay_preemption();
        }
        self.lower_seen = Some(now);
        if let (Some(hold), CatchUp::Idle) = (self.p.catchup_hold, self.catchup) {
            self.catchup = CatchUp::Waiting {
                until: now + hold,
                held: false,
            };
            out.push(Action::CatchUp { master: src });
        }
    }

    /// While the master we preempt is still advertising and its table has not come, the takeover
    /// waits (at most `catchup_hold`); a master that went silent is taken over at once.
    fn hold_for_catchup(&mut self, now: Instant, out: &mut Vec<Action>) -> bool {
        let CatchUp::Waiting { until, held } = self.catchup else {
            return false;
        };
        let alive_until = self.lower_seen.map(|t| t + self.down_interval());
        match alive_until {
            Some(alive) if now < alive && now < until => {
                if !held {
                    out.push(Action::Log(
                        "holding preemption until the master's connection table is synced".into(),
                    ));
                }
                self.catchup = CatchUp::Waiting { until, held: true };
                self.timer = Some(until.min(alive));
                true
            }
            Some(_) if now >= until => {
                out.push(Action::Log(format!(
                    "connection table not synced within {} s; preempting anyway",
                    self.p.catchup_hold.unwrap_or_default().as_secs_f64()
                )));
                false
            }
            _ => false,
        }
    }

    fn hold(&mut self, now: Instant, on: bool, out: &mut Vec<Action>) {
        if on == self.held {
            return;
        }
        self.held = on;
        if on {
            if self.state == State::Master {
                out.push(Action::Send(self.advert(0)));
                // The master that takes over is news: forget whom we heard before we won.
                self.last_master = None;
                self.become_backup(now, "held BACKUP by the operator".into(), out);
            }
            return;
        }
        if self.state == State::Backup {
            out.push(Action::Log("resumed by the operator".into()));
            // No master heard since: take the addresses back soon, as after a priority 0 advert.
            self.timer = Some(match self.last_master {
                Some(_) => now + self.down_interval(),
                None => now + self.skew(),
            });
            self.down_cause = DOWN_TIMER_EXPIRED;
        }
    }

    fn caught_up(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let CatchUp::Waiting { held, .. } = self.catchup {
            self.catchup = CatchUp::Done;
            if held && self.state == State::Backup {
                out.push(Action::Log("master's connection table synced".into()));
                self.timer = Some(now);
            }
        }
    }

    /// RFC 5798: a backup uses the master's advertised interval for its timers.
    fn adopt_interval(&mut self, a: &Advert, out: &mut Vec<Action>) {
        let theirs = a.interval_duration();
        if theirs.is_zero() || theirs == self.master_adver_int {
            return;
        }
        out.push(Action::Log(format!(
            "advertisement interval updated from {}ms to {}ms by master",
            self.master_adver_int.as_millis(),
            theirs.as_millis()
        )));
        self.master_adver_int = theirs;
    }

    /// RFC 3768 / 5798 section 6.4.3, "If an ADVERTISEMENT is received".
    fn master_rx(&mut self, now: Instant, src: IpAddr, a: &Advert, out: &mut Vec<Action>) {
        if a.priority == 0 {
            out.push(Action::Log("Master received priority 0 message".into()));
            out.push(Action::Send(self.advert(self.priority)));
            self.timer = Some(now + self.p.advert_interval);
            return;
        }
        let higher = a.priority > self.priority;
        let tie_lost = a.priority == self.priority && src > self.p.primary;
        if higher || tie_lost {
            let reason = if higher {
                format!("higher priority {} advert from {src}", a.priority)
            } else {
                format!(
                    "same priority {} advert from higher address {src}",
                    a.priority
                )
            };
            if self.p.higher_prio_send_advert {
                out.push(Action::Send(self.advert(self.priority)));
            }
            self.master_adver_int = match a.version {
                Version::V3 if !a.interval_duration().is_zero() => a.interval_duration(),
                _ => self.p.advert_interval,
            };
            self.last_master = Some(src);
            self.become_backup(now, reason, out);
            return;
        }
        // keepalived: a lower priority router believes it is master (e.g. after a partition);
        // answer at once and re-announce our addresses instead of waiting for the next advert.
        out.push(Action::Log(format!(
            "Received advert from {src} with lower priority {}, ours {}, forcing new election",
            a.priority, self.priority
        )));
        if !self.p.lower_prio_no_advert {
            out.push(Action::Send(self.advert(self.priority)));
        }
        let burst = self.garp.lower_priority_seen(now, &self.p.garp);
        if burst > 0 {
            out.push(Action::SendGarp { count: burst });
        }
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Master {
            for count in self.garp.due(now, &self.p.garp) {
                out.push(Action::SendGarp { count });
            }
        }
        let due = self.timer.is_some_and(|t| t <= now);
        match self.state {
            State::Backup if due => {
                if self.hold_for_catchup(now, out) {
                    return;
                }
                let reason = self.down_cause.to_string();
                self.become_master(now, reason, out);
            }
            State::Master if due => {
                out.push(Action::Send(self.advert(self.priority)));
                self.timer = Some(now + self.p.advert_interval);
            }
            _ => {}
        }
    }

    fn on_track(&mut self, now: Instant, change: TrackChange, out: &mut Vec<Action>) {
        self.track_delta = change.verdict.delta;
        let new = effective_priority(self.p.priority, change.verdict.delta);
        if new != self.priority {
            out.push(Action::Log(format!(
                "Changing effective priority from {} to {} ({})",
                self.priority, new, change.reason
            )));
            self.priority = new;
        }
        self.own_fault = change.verdict.fault.clone();
        match (self.state, &self.own_fault) {
            (State::Backup | State::Master, Some(_)) => self.enter_fault(change.reason, out),
            (State::Fault, None) if self.sync_fault.is_none() => {
                self.leave_fault(now, change.reason, out)
            }
            _ => {}
        }
    }

    fn on_sync(&mut self, now: Instant, cmd: SyncCommand, out: &mut Vec<Action>) {
        match cmd {
            SyncCommand::Master(reason) if self.state == State::Backup && !self.held => {
                self.become_master(now, reason, out)
            }
            SyncCommand::Backup(reason) if self.state == State::Master => {
                self.become_backup(now, reason, out)
            }
            SyncCommand::Fault(reason) => {
                self.sync_fault = Some(reason.clone());
                if matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault(reason, out);
                }
            }
            SyncCommand::Recover(reason) => {
                self.sync_fault = None;
                if self.state == State::Fault && self.own_fault.is_none() {
                    self.leave_fault(now, reason, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

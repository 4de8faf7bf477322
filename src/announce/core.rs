//! Which VIP should be announced now, and why: the pure core of the BGP integration. It hears the
//! director's virtual-server health and the VRRP states, and decides per VIP; time is explicit
//! (announce_delay), and it knows nothing of BIRD.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::model::{Config, RequireServices};
use crate::director::news::VsHealth;
use crate::vrrp::State;

/// What one VIP needs: its virtual servers (by label), how many of them must serve, the VRRP
/// instance it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipSpec {
    pub addr: IpAddr,
    /// The BIRD protocol lvsd generates for it.
    pub protocol: String,
    pub services: Vec<String>,
    pub require: RequireServices,
    pub vrrp_instance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    pub vips: Vec<VipSpec>,
    pub announce_delay: Duration,
}

impl Spec {
    /// The announcements a configuration asks for (empty without a bgp_announce block).
    pub fn from_config(cfg: &Config) -> Spec {
        let Some(b) = &cfg.bgp_announce else {
            return Spec::default();
        };
        let vips = b
            .vips
            .iter()
            .map(|v| VipSpec {
                addr: v.addr,
                protocol: super::protocol_name(&b.protocol_prefix, v.addr),
                services: crate::config::scaleout::services_of(cfg, v.addr)
                    .into_iter()
                    .map(|i| crate::status::snapshot::vs_label(&cfg.virtual_servers[i]))
                    .collect(),
                require: v.require_services,
                vrrp_instance: v.vrrp_instance.clone(),
            })
            .collect();
        Spec {
            vips,
            announce_delay: b.announce_delay.0,
        }
    }
}

pub enum Input {
    /// Every virtual server's health now (the director's start and each reload).
    AllServices(Vec<(String, VsHealth)>),
    /// One virtual server's health changed.
    Service(String, VsHealth),
    /// A VRRP instance entered a state.
    Vrrp { instance: String, state: State },
    /// Time passed (a VIP waits for announce_delay).
    Tick,
    /// A reload: new VIPs, services or options; VIPs that stay keep their state.
    Reload(Spec),
    /// lvsd stops: everything is withdrawn.
    Stop,
}

/// A VIP whose announcement changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub addr: IpAddr,
    pub protocol: String,
    pub announce: bool,
    pub why: String,
}

/// One VIP's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipState {
    pub spec: VipSpec,
    pub announced: bool,
    /// When `announced` last changed (or the VIP was configured).
    pub since: Instant,
    pub why: String,
    /// Healthy since then, waiting for announce_delay.
    pending: Option<Instant>,
    pub changes: u64,
}

pub struct Core {
    spec: Spec,
    health: HashMap<String, VsHealth>,
    /// Whether the director reported at all (before it did, nothing is known to serve).
    heard: bool,
    vrrp: HashMap<String, State>,
    vips: Vec<VipState>,
    stopping: bool,
    /// A VIP's state or reason changed since `take_dirty`.
    dirty: bool,
}

impl Core {
    pub fn new(spec: Spec, now: Instant) -> Core {
        let vips = spec.vips.iter().map(|v| fresh(v.clone(), now)).collect();
        Core {
            spec,
            health: HashMap::new(),
            heard: false,
            vrrp: HashMap::new(),
            vips,
            stopping: false,
            dirty: true,
        }
    }

    pub fn vips(&self) -> &[VipState] {
        &self.vips
    }

    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// When a waiting VIP is due (feed `Tick` then).
    pub fn next_wake(&self) -> Option<Instant> {
        self.vips
            .iter()
            .filter(|v| !v.announced)
            .filter_map(|v| v.pending)
            .min()
            .map(|t| t + self.spec.announce_delay)
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Change> {
        match input {
            Input::AllServices(all) => {
                self.heard = true;
                self.health = all.into_iter().collect();
            }
            Input::Service(vs, h) => {
                self.heard = true;
                self.health.insert(vs, h);
            }
            Input::Vrrp { instance, state } => {
                self.vrrp.insert(instance, state);
            }
            Input::Tick => {}
            Input::Reload(spec) => {
                let mut old: HashMap<IpAddr, VipState> =
                    self.vips.drain(..).map(|v| (v.spec.addr, v)).collect();
                self.vips = spec
                    .vips
                    .iter()
                    .map(|v| match old.remove(&v.addr) {
                        Some(mut s) if s.spec.protocol == v.protocol => {
                            s.spec = v.clone();
                            s
                        }
                        _ => fresh(v.clone(), now),
                    })
                    .collect();
                self.spec = spec;
                self.dirty = true;
            }
            Input::Stop => self.stopping = true,
        }
        self.decide(now)
    }

    fn decide(&mut self, now: Instant) -> Vec<Change> {
        let mut out = Vec::new();
        let delay = self.spec.announce_delay;
        for i in 0..self.vips.len() {
            let (ok, mut why) = self.verdict(&self.vips[i].spec);
            let v = &mut self.vips[i];
            let announce = if !ok {
                v.pending = None;
                false
            } else if v.announced || delay.is_zero() {
                true
            } else {
                let since = *v.pending.get_or_insert(now);
                let due = since + delay;
                if now >= due {
                    true
                } else {
                    why = format!(
                        "{why}; announce_delay: announced in {:.1} s",
                        due.saturating_duration_since(now).as_secs_f64()
                    );
                    false
                }
            };
            if announce != v.announced {
                v.announced = announce;
                v.since = now;
                v.changes += 1;
                v.pending = None;
                out.push(Change {
                    addr: v.spec.addr,
                    protocol: v.spec.protocol.clone(),
                    announce,
                    why: why.clone(),
                });
            }
            if why != v.why {
                v.why = why;
                self.dirty = true;
            }
        }
        if !out.is_empty() {
            self.dirty = true;
        }
        out
    }

    /// Whether a VIP may be announced, and the reason in words.
    fn verdict(&self, v: &VipSpec) -> (bool, String) {
        if self.stopping {
            return (false, "lvsd is stopping".into());
        }
        if !self.heard {
            return (false, "no health report from the director yet".into());
        }
        let mut serving = Vec::new();
        let mut not = Vec::new();
        for s in &v.services {
            match self.health.get(s) {
                Some(h) if h.quorum && h.checked => serving.push(s.as_str()),
                Some(h) if !h.checked => not.push(format!("{s} waits for its first checks")),
                Some(_) => not.push(format!("{s} has no quorum")),
                None => not.push(format!("{s} is not running")),
            }
        }
        let services_ok = match v.require {
            RequireServices::Any => !serving.is_empty(),
            RequireServices::All => not.is_empty() && !serving.is_empty(),
        };
        if !services_ok {
            return (false, not.join("; "));
        }
        let mut why = match v.require {
            RequireServices::Any if serving.len() == 1 => format!("{} has quorum", serving[0]),
            RequireServices::Any => format!("{} have quorum", serving.join(", ")),
            RequireServices::All => format!("all of {} have quorum", serving.join(", ")),
        };
        if let Some(inst) = &v.vrrp_instance {
            match self.vrrp.get(inst) {
                Some(State::Master) => why.push_str(&format!("; VRRP {inst} is MASTER")),
                Some(s) => return (false, format!("VRRP {inst} is {s}, not MASTER")),
                None => return (false, format!("VRRP {inst} has not started")),
            }
        }
        (true, why)
    }
}

fn fresh(spec: VipSpec, now: Instant) -> VipState {
    VipState {
        spec,
        announced: false,
        since: now,
        why: "starting".into(),
        pending: None,
        changes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(addr: &str, services: &[&str], require: RequireServices, vrrp: Option<&str>) -> VipSpec {
        let addr: IpAddr = addr.parse().unwrap();
        VipSpec {
            addr,
            protocol: crate::announce::protocol_name("lvsd_", addr),
            services: services.iter().map(|s| s.to_string()).collect(),
            require,
            vrrp_instance: vrrp.map(String::from),
        }
    }

    fn up() -> VsHealth {
        VsHealth {
            quorum: true,
            checked: true,
        }
    }
    fn down() -> VsHealth {
        VsHealth {
            quorum: false,
            checked: true,
        }
    }
    fn unchecked() -> VsHealth {
        VsHealth {
            quorum: true,
            checked: false,
        }
    }

    const A: &str = "[192.0.2.10]:tcp:80";
    const B: &str = "[192.0.2.10]:tcp:443";

    fn core(vips: Vec<VipSpec>, delay: u64) -> (Core, Instant) {
        let t0 = Instant::now();
        let c = Core::new(
            Spec {
                vips,
                announce_delay: Duration::from_secs(delay),
            },
            t0,
        );
        (c, t0)
    }

    fn all(list: &[(&str, VsHealth)]) -> Input {
        Input::AllServices(list.iter().map(|(s, h)| (s.to_string(), *h)).collect())
    }

    #[test]
    fn nothing_is_announced_before_the_director_reports() {
        let (mut c, t0) = core(vec![vip("192.0.2.10", &[A], RequireServices::Any, None)], 0);
        assert!(c.handle(t0, Input::Tick).is_empty());
        assert!(!c.vips()[0].announced);
        assert_eq!(c.vips()[0].why, "no health report from the director yet");
    }

    #[test]
    fn a_service_that_was_never_checked_is_not_announced() {
        let (mut c, t0) = core(vec![vip("192.0.2.10", &[A], RequireServices::Any, None)], 0);
        assert!(c.handle(t0, all(&[(A, unchecked())])).is_empty());
        assert_eq!(c.vips()[0].why, format!("{A} waits for its first checks"));
        let ch = c.handle(t0, Input::Service(A.into(), up()));
        assert_eq!(ch.len(), 1);
        assert!(ch[0].announce);
        assert_eq!(ch[0].protocol, "lvsd_v4_192_0_2_10");
        assert_eq!(ch[0].why, format!("{A} has quorum"));
    }

    #[test]
    fn quorum_loss_withdraws_at_once_and_its_return_announces() {
        let (mut c, t0) = core(vec![vip("192.0.2.10", &[A], RequireServices::Any, None)], 0);
        c.handle(t0, all(&[(A, up())]));
        assert!(c.vips()[0].announced);
        let t1 = t0 + Duration::from_secs(5);
        let ch = c.handle(t1, Input::Service(A.into(), down()));
        assert_eq!(
            ch,
            vec![Change {
                addr: "192.0.2.10".parse().unwrap(),
                protocol: "lvsd_v4_192_0_2_10".into(),
                announce: false,
                why: format!("{A} has no quorum"),
            }]
        );
        assert_eq!(c.vips()[0].since, t1);
        assert_eq!(c.vips()[0].changes, 2);
        // The same news again changes nothing.
        assert!(c.handle(t1, Input::Service(A.into(), down())).is_empty());
    }

    #[test]
    fn any_needs_one_service_all_needs_every_one() {
        let (mut c, t0) = core(
            vec![
                vip("192.0.2.10", &[A, B], RequireServices::Any, None),
                vip("192.0.2.11", &[A, B], RequireServices::All, None),
            ],
            0,
        );
        c.handle(t0, all(&[(A, up()), (B, down())]));
        assert!(c.vips()[0].announced);
        assert!(!c.vips()[1].announced);
        assert_eq!(c.vips()[1].why, format!("{B} has no quorum"));
        c.handle(t0, Input::Service(B.into(), up()));
        assert!(c.vips()[1].announced);
        assert_eq!(c.vips()[1].why, format!("all of {A}, {B} have quorum"));
        c.handle(t0, Input::Service(A.into(), down()));
        c.handle(t0, Input::Service(B.into(), down()));
        assert!(!c.vips()[0].announced);
        assert_eq!(
            c.vips()[0].why,
            format!("{A} has no quorum; {B} has no quorum")
        );
    }

    #[test]
    fn a_service_gone_from_the_report_counts_as_down() {
        let (mut c, t0) = core(vec![vip("192.0.2.10", &[A], RequireServices::Any, None)], 0);
        c.handle(t0, all(&[(A, up())]));
        let ch = c.handle(t0, all(&[(B, up())]));
        assert!(!ch[0].announce);
        assert_eq!(ch[0].why, format!("{A} is not running"));
    }

    #[test]
    fn a_vrrp_tie_announces_only_while_master() {
        let (mut c, t0) = core(
            vec![vip("192.0.2.10", &[A], RequireServices::Any, Some("VI_1"))],
            0,
        );
        c.handle(t0, all(&[(A, up())]));
        assert!(!c.vips()[0].announced);
        assert_eq!(c.vips()[0].why, "VRRP VI_1 has not started");
        c.handle(
            t0,
            Input::Vrrp {
                instance: "VI_1".into(),
                state: State::Backup,
            },
        );
        assert_eq!(c.vips()[0].why, "VRRP VI_1 is BACKUP, not MASTER");
        let ch = c.handle(
            t0,
            Input::Vrrp {
                instance: "VI_1".into(),
                state: State::Master,
            },
        );
        assert!(ch[0].announce);
        assert_eq!(ch[0].why, format!("{A} has quorum; VRRP VI_1 is MASTER"));
        let ch = c.handle(
            t0,
            Input::Vrrp {
                instance: "VI_1".into(),
                state: State::Fault,
            },
        );
        assert!(!ch[0].announce);
    }

    #[test]
    fn announce_delay_waits_for_health_to_hold() {
        let (mut c, t0) = core(vec![vip("192.0.2.10", &[A], RequireServices::Any, None)], 5);
        assert!(c.handle(t0, all(&[(A, up())])).is_empty());
        assert_eq!(c.next_wake(), Some(t0 + Duration::from_secs(5)));
        assert!(
            c.vips()[0].why.contains("announced in 5.0 s"),
            "{}",
            c.vips()[0].why
        );
        // Health lost meanwhile: the wait starts again.
        c.handle(
            t0 + Duration::from_secs(2),
            Input::Service(A.into(), down()),
        );
        assert_eq!(c.next_wake(), None);
        let t3 = t0 + Duration::from_secs(3);
        c.handle(t3, Input::Service(A.into(), up()));
        assert!(c
            .handle(t3 + Duration::from_millis(4999), Input::Tick)
            .is_empty());
        let ch = c.handle(t3 + Duration::from_secs(5), Input::Tick);
        assert!(ch[0].announce);
        assert_eq!(c.next_wake(), None);
        // Withdrawal does not wait.
        let ch = c.handle(
            t3 + Duration::from_secs(6),
            Input::Service(A.into(), down()),
        );
        assert!(!ch[0].announce);
    }

    #[test]
    fn stop_withdraws_everything() {
        let (mut c, t0) = core(
            vec![
                vip("192.0.2.10", &[A], RequireServices::Any, None),
                vip("2001:db8::10", &[B], RequireServices::Any, None),
            ],
            0,
        );
        c.handle(t0, all(&[(A, up()), (B, up())]));
        let ch = c.handle(t0, Input::Stop);
        assert_eq!(ch.len(), 2);
        assert!(ch
            .iter()
            .all(|c| !c.announce && c.why == "lvsd is stopping"));
        assert_eq!(ch[1].protocol, "lvsd_v6_2001_db8_0_0_0_0_0_10");
        // Nothing comes back while stopping.
        assert!(c.handle(t0, Input::Service(A.into(), up())).is_empty());
    }

    #[test]
    fn a_reload_keeps_the_vips_that_stay() {
        let a = vip("192.0.2.10", &[A], RequireServices::Any, None);
        let (mut c, t0) = core(vec![a.clone()], 0);
        c.handle(t0, all(&[(A, up())]));
        let t1 = t0 + Duration::from_secs(1);
        let b = vip("192.0.2.11", &[B], RequireServices::Any, None);
        let ch = c.handle(
            t1,
            Input::Reload(Spec {
                vips: vec![a, b],
                announce_delay: Duration::ZERO,
            }),
        );
        // The new VIP's service is not in the last report: not announced.
        assert!(ch.is_empty());
        assert!(c.vips()[0].announced);
        assert_eq!(c.vips()[0].since, t0);
        assert!(!c.vips()[1].announced);
        let ch = c.handle(t1, all(&[(A, up()), (B, up())]));
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].addr, "192.0.2.11".parse::<IpAddr>().unwrap());
    }
}

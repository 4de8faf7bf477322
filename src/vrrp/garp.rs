//! When a MASTER sends gratuitous ARP / unsolicited NA bursts: at once on becoming MASTER, a
//! second burst after `garp_master_delay`, periodic refreshes every `garp_master_refresh`, and
//! the `garp_lower_prio_*` bursts after a lower priority advert.

use std::time::Instant;

use super::params::GarpParams;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GarpTimers {
    /// Pending second burst: when, and how many messages.
    second: Option<(Instant, u32)>,
    refresh: Option<Instant>,
}

impl GarpTimers {
    /// Entering MASTER: returns the size of the immediate burst and arms the later ones.
    pub fn enter_master(&mut self, now: Instant, p: &GarpParams) -> u32 {
        self.second = (!p.master_delay.is_zero() && p.master_repeat > 0)
            .then(|| (now + p.master_delay, p.master_repeat));
        self.refresh = (!p.master_refresh.is_zero()).then(|| now + p.master_refresh);
        p.master_repeat
    }

    /// A lower priority advert reached us as MASTER: the other router may have taken the
    /// addresses, so claim them again.
    pub fn lower_priority_seen(&mut self, now: Instant, p: &GarpParams) -> u32 {
        if p.lower_prio_repeat > 0 && !p.lower_prio_delay.is_zero() {
            self.second = Some((now + p.lower_prio_delay, p.lower_prio_repeat));
        }
        p.lower_prio_repeat
    }

    /// Bursts due at `now`, each as its message count.
    pub fn due(&mut self, now: Instant, p: &GarpParams) -> Vec<u32> {
        let mut bursts = Vec::new();
        if let Some((at, count)) = self.second {
            if at <= now {
                self.second = None;
                bursts.push(count);
            }
        }
        if let Some(at) = self.refresh {
            if at <= now {
                self.refresh = Some(now + p.master_refresh);
                bursts.push(p.master_refresh_repeat);
            }
        }
        bursts.retain(|c| *c > 0);
        bursts
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [self.second.map(|(at, _)| at), self.refresh]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn clear(&mut self) {
        *self = GarpTimers::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn master_burst_then_second_burst_then_refresh() {
        let p = GarpParams {
            master_delay: Duration::from_secs(5),
            master_repeat: 3,
            master_refresh: Duration::from_secs(60),
            master_refresh_repeat: 2,
            ..GarpParams::default()
        };
        let t0 = Instant::now();
        let mut g = GarpTimers::default();
        assert_eq!(g.enter_master(t0, &p), 3);
        assert_eq!(g.next_deadline(), Some(t0 + Duration::from_secs(5)));
        assert!(g.due(t0 + Duration::from_secs(4), &p).is_empty());
        assert_eq!(g.due(t0 + Duration::from_secs(5), &p), vec![3]);
        assert_eq!(g.next_deadline(), Some(t0 + Duration::from_secs(60)));
        assert_eq!(g.due(t0 + Duration::from_secs(60), &p), vec![2]);
        assert_eq!(g.next_deadline(), Some(t0 + Duration::from_secs(120)));
        g.clear();
        assert_eq!(g.next_deadline(), None);
    }

    #[test]
    fn zero_delay_means_a_single_burst() {
        // vrrp_min_garp: one message, no second burst, no refresh.
        let p = GarpParams {
            master_delay: Duration::ZERO,
            master_repeat: 1,
            ..GarpParams::default()
        };
        let mut g = GarpTimers::default();
        assert_eq!(g.enter_master(Instant::now(), &p), 1);
        assert_eq!(g.next_deadline(), None);
    }
}

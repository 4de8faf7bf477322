//! The clean stop of every instance, and keepalived's --dont-release-vrrp (`-V`): stop without
//! handing over, so that a restarted lvsd (or an operator) finds the addresses still in place.

use tracing::info;

use super::Engine;
use crate::vrrp::{Action, Input};

impl Engine {
    /// Stops every instance: masters send priority 0 and remove their VIPs, virtual routes and rules,
    /// notify_stop runs, use_vmac interfaces are removed. With `release` false (-V) the kernel keeps
    /// all of it and no priority 0 advert is sent, as keepalived 2.2.7 does; notify_stop still runs.
    pub(super) async fn shutdown(&mut self, release: bool) {
        self.keep_on_stop = !release;
        for i in 0..self.slots.len() {
            self.feed(i, Input::Stop).await;
        }
        if !release {
            return;
        }
        for s in &self.slots {
            if let Some(v) = &s.vmac {
                crate::vrrp::vmac::remove(&self.nl, v).await;
            }
        }
    }

    /// Whether an action of instance `i` is skipped because the stop leaves everything in place:
    /// the last adverts (priority 0) and the removal of the VIPs, routes and rules.
    pub(super) fn kept_on_stop(&self, i: usize, a: &Action) -> bool {
        if !self.keep_on_stop {
            return false;
        }
        match a {
            Action::Send(_) => true,
            Action::RemoveVips => {
                info!(
                    "({}) leaving VIPs, virtual routes and rules in place (--dont-release-vrrp)",
                    self.slots[i].vi.name()
                );
                true
            }
            _ => false,
        }
    }
}

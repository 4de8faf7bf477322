//! vrrp_startup_delay: the instances start this long after lvsd (keepalived: only at its start,
//! never on a reload). The deadline is fixed at start, as keepalived's: a reload during the wait
//! neither restarts nor changes it, and its value only counts at the next start. The engine keeps
//! answering meanwhile: a stop ends the wait, a reload applies its static_* entries at once and
//! the rest when the instances start, a hold is refused.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::info;

use super::{Control, Engine};
use crate::config::model::Config;

/// How the wait ended.
pub(super) enum Waited {
    /// The delay ran out; the newest configuration a reload brought meanwhile, if any.
    Start(Option<Arc<Config>>),
    Stop,
}

impl Engine {
    pub(super) async fn startup_delay(
        &mut self,
        ctl: &mut mpsc::Receiver<Control>,
        delay: Duration,
    ) -> Waited {
        info!("delaying VRRP start by {delay:?} (vrrp_startup_delay)");
        let until = tokio::time::Instant::now() + delay;
        let mut pending = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return Waited::Start(pending),
                c = ctl.recv() => match c {
                    Some(Control::Reload(new)) => {
                        info!("reload during vrrp_startup_delay: static entries now, instances when the delay ends");
                        self.statics.apply(&new).await;
                        pending = Some(new);
                    }
                    Some(Control::Hold { reply, .. }) => {
                        let _ = reply.send(Err("VRRP has not started yet (vrrp_startup_delay)".into()));
                    }
                    Some(Control::Stop) | None => return Waited::Stop,
                },
            }
        }
    }
}

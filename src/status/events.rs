//! The event stream of `lvsd ctl events`: one JSON object per VRRP transition, real-server health
//! change, quorum change and reload, published by the status task to every subscriber.

use std::cell::RefCell;
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::snapshot::Snapshot;
use super::Event;

thread_local! {
    static SUBSCRIBERS: RefCell<Vec<mpsc::UnboundedSender<Value>>> = const { RefCell::new(Vec::new()) };
}

/// A new subscriber; it gets every event from now on (the status task runs on this thread).
pub fn subscribe() -> mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    SUBSCRIBERS.with(|s| s.borrow_mut().push(tx));
    rx
}

pub fn subscribers() -> usize {
    SUBSCRIBERS.with(|s| s.borrow().len())
}

/// Sends `ev` (as it changes `sn`, before it is applied) to the subscribers; closed ones go.
pub fn publish(sn: &Snapshot, ev: &Event, now: SystemTime) {
    if subscribers() == 0 {
        return;
    }
    let Some(mut v) = describe(sn, ev) else {
        return;
    };
    v["time"] = json!(now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64()));
    SUBSCRIBERS.with(|s| s.borrow_mut().retain(|tx| tx.send(v.clone()).is_ok()));
}

/// The event a subscriber sees, or None for what the stream leaves out (adverts, counters, or a
/// report that changes nothing).
pub fn describe(sn: &Snapshot, ev: &Event) -> Option<Value> {
    match ev {
        Event::VrrpState {
            instance,
            state,
            priority,
        } => {
            let before = sn.instances.iter().find(|i| &i.cfg.name == instance)?;
            (before.state != *state).then(|| {
                json!({"kind": "vrrp_state", "instance": instance, "state": state.to_string(),
                       "previous": before.state.to_string(), "priority": priority})
            })
        }
        Event::VrrpGroup { group, state } => {
            Some(json!({"kind": "vrrp_group", "group": group, "state": state.to_string()}))
        }
        Event::RealServer {
            vs,
            rs,
            alive,
            weight,
            reason,
        } => {
            let v = sn.servers.get(*vs)?;
            let r = v.real_servers.get(*rs)?;
            (r.alive != *alive).then(|| {
                json!({"kind": "real_server", "virtual_server": v.label, "real_server": r.label,
                       "up": alive, "weight": weight, "reason": reason})
            })
        }
        Event::Quorum { vs, up } => {
            let v = sn.servers.get(*vs)?;
            (v.quorum_up != *up)
                .then(|| json!({"kind": "quorum", "virtual_server": v.label, "up": up}))
        }
        Event::Reloaded(_) => Some(json!({"kind": "reload", "ok": true})),
        Event::ReloadFailed => Some(json!({"kind": "reload", "ok": false})),
        Event::VrrpHeld { instance, held } => {
            Some(json!({"kind": "vrrp_held", "instance": instance, "held": held}))
        }
        Event::BgpChange {
            vip,
            announced,
            why,
        } => {
            Some(json!({"kind": "bgp", "vip": vip.to_string(), "announced": announced, "why": why}))
        }
        _ => None,
    }
}

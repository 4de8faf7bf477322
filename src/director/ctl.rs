//! What `lvsd ctl` asks of the director: drain, disable, enable and weight real servers, and the
//! summary of a reload before it is applied. The engine runs these on its own state (one owner) and
//! answers over a oneshot channel.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::admin::{Admin, DEFAULT_DRAIN};
use super::{Action, Director};
use crate::config::model::{CheckKind, Config};
use crate::control::select;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCmd {
    Drain { timeout: Option<Duration> },
    Disable,
    Enable,
    Weight(u32),
}

/// A control request for the director engine.
pub enum Ctl {
    Admin {
        vs: String,
        rs: String,
        cmd: AdminCmd,
        reply: oneshot::Sender<Result<Value, String>>,
    },
    /// What a reload to this configuration would change in IPVS and the checkers.
    Plan {
        cfg: std::sync::Arc<Config>,
        reply: oneshot::Sender<Value>,
    },
}

/// Applies an admin command to every real server the names select; the result lists them with
/// their new state.
pub fn admin(
    d: &mut Director,
    cfg: &Config,
    vs: &str,
    rs: &str,
    cmd: AdminCmd,
    now: Instant,
    wall: SystemTime,
) -> Result<(Value, Vec<Action>), String> {
    let targets = select::resolve(cfg, vs, rs)?;
    let admin = match cmd {
        AdminCmd::Drain { timeout } => Some(Admin::drain(wall, timeout.unwrap_or(DEFAULT_DRAIN))),
        AdminCmd::Disable => Some(Admin::Maintenance),
        AdminCmd::Enable => None,
        AdminCmd::Weight(w) => Some(Admin::Weight { weight: w }),
    };
    let mut actions = Vec::new();
    let mut rows = Vec::new();
    for (v, r) in targets {
        // A drain of a server already out of the table has nothing to wait for.
        let next = match (admin, d.admin(v, r)) {
            (Some(Admin::Drain { .. }), Some(Admin::Maintenance)) => Some(Admin::Maintenance),
            (a, _) => a,
        };
        actions.extend(d.set_admin(v, r, next, now));
        let (vl, rl) = d.key(v, r).unwrap_or_default();
        rows.push(json!({
            "vs": vl,
            "rs": rl,
            "state": next.map_or("enabled", |a| a.name()),
            "weight_now": d.live_weight(v, r),
        }));
    }
    Ok((json!({ "changed": rows }), actions))
}

/// keepalived's name of a checker type (the model's serde name).
fn kind(k: &CheckKind) -> String {
    match serde_json::to_value(k) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(m)) => m
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// Checkers of a configuration, one line each, to compare two configurations.
fn checkers(cfg: &Config) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for vs in &cfg.virtual_servers {
        let vl = crate::status::snapshot::vs_label(vs);
        for rs in &vs.real_servers {
            for c in &rs.checkers {
                out.insert(format!("{} {}:{} of {vl}", kind(&c.kind), rs.ip, rs.port));
            }
        }
    }
    out
}

/// The checkers a reload from `old` to `new` adds and removes.
pub fn checker_changes(old: &Config, new: &Config) -> Value {
    let (a, b) = (checkers(old), checkers(new));
    json!({
        "added": b.difference(&a).collect::<Vec<_>>(),
        "removed": a.difference(&b).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, LoadOptions};
    use std::sync::Arc;

    fn cfg(text: &str) -> Arc<Config> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.conf");
        std::fs::write(&p, text).unwrap();
        let l = load(
            &p,
            &LoadOptions {
                config_id: "t".into(),
                check_machine: false,
            },
        );
        let r = l.render();
        Arc::new(l.config.unwrap_or_else(|| panic!("{r:?}")))
    }

    const TWO: &str = "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.0.2 80 {\n  TCP_CHECK {\n  }\n }\n real_server 10.0.0.3 80 {\n }\n}\n\
        virtual_server 10.0.0.1 443 {\n protocol TCP\n real_server 10.0.0.2 443 {\n }\n}\n\
        virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.0.0.2 53 {\n }\n}\n\
        virtual_server 10.0.0.1 53 {\n protocol TCP\n real_server 10.0.0.2 53 {\n }\n}\n";

    #[test]
    fn a_wildcard_takes_a_real_server_out_of_every_virtual_server() {
        let c = cfg(TWO);
        let mut d = Director::new(&c);
        let (v, _) = admin(
            &mut d,
            &c,
            "*",
            "10.0.0.2",
            AdminCmd::Disable,
            Instant::now(),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(v["changed"].as_array().unwrap().len(), 4);
        assert!(d
            .desired()
            .services
            .values()
            .all(|s| s.dests.keys().all(|k| k.addr.to_string() != "10.0.0.2")));
    }

    #[test]
    fn names_that_match_nothing_or_too_much_are_errors_that_change_nothing() {
        let c = cfg(TWO);
        let mut d = Director::new(&c);
        let before = d.desired();
        for (vs, rs, want) in [
            (
                "10.0.0.9:80",
                "10.0.0.2",
                "no virtual_server is '10.0.0.9:80'",
            ),
            ("10.0.0.1:80", "10.0.0.9", "no real_server 10.0.0.9"),
            ("10.0.0.1:53", "10.0.0.2", "several virtual servers"),
            ("nonsense", "10.0.0.2", "not a virtual server"),
            ("*", "x", "not a real server"),
        ] {
            let e = admin(
                &mut d,
                &c,
                vs,
                rs,
                AdminCmd::Disable,
                Instant::now(),
                SystemTime::now(),
            )
            .unwrap_err();
            assert!(e.contains(want), "{vs} {rs}: {e}");
        }
        assert_eq!(d.desired(), before);
        assert!(admin(
            &mut d,
            &c,
            "udp:10.0.0.1:53",
            "10.0.0.2:53",
            AdminCmd::Weight(3),
            Instant::now(),
            SystemTime::now()
        )
        .is_ok());
    }

    #[test]
    fn a_reload_that_drops_a_checker_lists_it() {
        let a = cfg(TWO);
        let b = cfg(&TWO.replace("  TCP_CHECK {\n  }\n", ""));
        let v = checker_changes(&a, &b);
        assert_eq!(
            v["removed"],
            json!(["TCP_CHECK 10.0.0.2:80 of [10.0.0.1]:tcp:80"])
        );
        assert_eq!(v["added"], json!([]));
    }
}

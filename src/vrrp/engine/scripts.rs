//! vrrp_script runners: one task per script some instance or sync group tracks, running it every
//! `interval` with its `timeout` (a run killed at the timeout counts as a failure). Each task
//! reports with a generation number, so results of a task a reload replaced are ignored.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::Event;
use crate::config::model::{Config, Global, VrrpScript};
use crate::notify::command::{prepare, run_check};
use crate::notify::security;

/// Starts one script's task; None when it cannot run (it is then reported failed for good).
pub(super) fn spawn(
    s: &VrrpScript,
    global: &Global,
    gen: u64,
    tx: &mpsc::UnboundedSender<Event>,
) -> Option<JoinHandle<()>> {
    let prepared = match prepare(&s.script, global.script_user.as_ref(), &[]) {
        Ok(p) => p,
        Err(e) => {
            warn!("VRRP_Script({}): {e}; it counts as failed", s.name);
            report_failed(tx, &s.name, gen, s.fall);
            return None;
        }
    };
    if let Err(why) = security::check(&prepared) {
        if global.enable_script_security {
            error!(
                "VRRP_Script({}) disabled: {why}; it counts as failed",
                s.name
            );
            report_failed(tx, &s.name, gen, s.fall);
            return None;
        }
        warn!(
            "VRRP_Script({}) SECURITY: runs as root although {why}",
            s.name
        );
    }
    let interval = s.interval.0.max(Duration::from_millis(10));
    // keepalived: the timeout defaults to the interval.
    let timeout = s.timeout.map(|t| t.0).unwrap_or(interval);
    let (tx, name) = (tx.clone(), s.name.clone());
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let outcome = run_check(&prepared, Some(timeout)).await;
            if !outcome.success() {
                tracing::debug!("VRRP_Script({name}) ended with {outcome:?}");
            }
            let ok = outcome.success();
            if tx
                .send(Event::Script {
                    name: name.clone(),
                    gen,
                    ok,
                })
                .is_err()
            {
                return;
            }
        }
    }))
}

/// A script that cannot run is failed for good: as many failures as `fall` needs.
fn report_failed(tx: &mpsc::UnboundedSender<Event>, name: &str, gen: u64, fall: u32) {
    for _ in 0..fall.max(1) {
        let _ = tx.send(Event::Script {
            name: name.to_string(),
            gen,
            ok: false,
        });
    }
}

/// How often track_files are read (keepalived watches them with inotify).
const FILE_POLL: Duration = Duration::from_millis(500);

/// One task reading every track_file, reporting each value once at start and then its changes.
pub(super) fn spawn_file_watcher(
    cfg: &Config,
    tx: mpsc::UnboundedSender<Event>,
) -> Option<JoinHandle<()>> {
    let files: Vec<(String, String)> = cfg
        .track_files
        .iter()
        .map(|f| (f.name.clone(), f.file.clone()))
        .collect();
    if files.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut last: Vec<Option<i64>> = vec![None; files.len()];
        loop {
            for ((name, path), seen) in files.iter().zip(last.iter_mut()) {
                let value = super::setup::read_track_file(path);
                if *seen != Some(value) {
                    *seen = Some(value);
                    let ev = Event::File {
                        name: name.clone(),
                        value,
                    };
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(FILE_POLL).await;
        }
    }))
}

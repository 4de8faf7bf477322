//! The health-check and IPVS engine: checkers report, the director decides, the kernel shell applies
//! (DESIGN.md's one-way flow). netlink calls block, so the kernel lives on a thread of its own and
//! always applies the newest desired table.

use super::kernel::Kernel;
use super::{Action, Director};
use crate::check::runner::{CheckEvent, EventKind, Runner};
use crate::config::model::{Config, Script};
use crate::notify::command;
use ipvs::Table;
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

pub enum Control {
    Stop,
}

enum KernelCmd {
    Sync(Table),
    Stop,
}

/// Runs until `Control::Stop`; then runs omega notifications and removes what it programmed.
pub async fn run(cfg: Config, mut ctl: mpsc::Receiver<Control>) -> Result<(), String> {
    if cfg.virtual_servers.is_empty() {
        info!("no virtual_server configured: IPVS is not touched");
        let _ = ctl.recv().await;
        return Ok(());
    }
    let mut director = Director::new(&cfg.virtual_servers, &cfg.virtual_server_groups);
    let (ktx, ready, kernel_thread) = start_kernel(&cfg, &director)?;
    ready
        .await
        .map_err(|_| "the IPVS thread ended at start".to_string())??;

    let (etx, mut erx) = mpsc::channel::<CheckEvent>(4096);
    let runner = Runner::start(&cfg, etx).map_err(|e| e.to_string())?;
    info!(
        "{} real server(s) under health checks ({} tasks)",
        runner.servers(),
        runner.len()
    );
    let fifo = fifo(&cfg);
    let script_user = cfg.global.script_user.clone();
    let act = |actions: Vec<Action>| {
        for a in actions {
            match a {
                Action::Log(l) => info!("{l}"),
                Action::Script { script, why } => spawn_script(script, script_user.clone(), why),
                Action::Fifo(line) => {
                    if let Some(f) = &fifo {
                        let _ = f.send(line);
                    }
                }
            }
        }
    };
    loop {
        tokio::select! {
            ev = erx.recv() => {
                let Some(ev) = ev else { break };
                let before = director.desired();
                act(apply_event(&mut director, ev));
                // Take every event already queued before touching the kernel once.
                while let Ok(ev) = erx.try_recv() {
                    act(apply_event(&mut director, ev));
                }
                let now = director.desired();
                if now != before {
                    let _ = ktx.send(KernelCmd::Sync(now));
                }
            }
            c = ctl.recv() => match c {
                Some(Control::Stop) | None => break,
            },
        }
    }
    runner.shutdown().await;
    act(director.shutdown_notifications());
    let _ = ktx.send(KernelCmd::Stop);
    // lvsd must not exit before its services are removed.
    let _ = tokio::task::spawn_blocking(move || kernel_thread.join()).await;
    Ok(())
}

fn apply_event(d: &mut Director, ev: CheckEvent) -> Vec<Action> {
    let alive = match ev.kind {
        EventKind::Up => true,
        EventKind::Down => false,
        EventKind::Weight(_) => d.is_alive(ev.vs, ev.rs).unwrap_or(true),
    };
    let weight = match ev.kind {
        EventKind::Weight(w) => Some(w),
        _ => None,
    };
    d.set_health(ev.vs, ev.rs, alive, weight, &ev.reason)
}

type Ready = oneshot::Receiver<Result<(), String>>;
type KernelStart = (
    std::sync::mpsc::Sender<KernelCmd>,
    Ready,
    std::thread::JoinHandle<()>,
);

/// Starts the kernel thread and programs the initial table (every real server as the director says).
fn start_kernel(cfg: &Config, director: &Director) -> Result<KernelStart, String> {
    let (tx, rx) = std::sync::mpsc::channel::<KernelCmd>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let global = cfg.global.clone();
    let sync_id = cfg
        .global
        .lvs_sync_daemon
        .as_ref()
        .and_then(|d| d.instance.as_ref())
        .and_then(|n| cfg.vrrp_instances.iter().find(|i| &i.name == n))
        .map_or(0, |i| i.virtual_router_id);
    let initial = director.desired();
    let ranks: HashMap<_, _> = director.ranks();
    let handle = std::thread::Builder::new()
        .name("ipvs".into())
        .spawn(move || {
            let rank = |k: &ipvs::ServiceKey, d: &ipvs::DestKey| {
                ranks.get(&(*k, *d)).copied().unwrap_or(usize::MAX)
            };
            let mut kernel = match Kernel::start(&global, sync_id) {
                Ok(k) => k,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("IPVS: {e}")));
                    return;
                }
            };
            match kernel.sync(&initial, rank) {
                Ok(r) => info!(
                    "IPVS programmed: {} services, {} destinations, {} operations in {:.3} s",
                    initial.services.len(),
                    initial.dest_count(),
                    r.ops,
                    r.elapsed.as_secs_f64()
                ),
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("IPVS: {e}")));
                    return;
                }
            }
            let _ = ready_tx.send(Ok(()));
            while let Ok(cmd) = rx.recv() {
                // Only the newest table matters.
                let mut cmd = cmd;
                while let Ok(next) = rx.try_recv() {
                    if matches!(cmd, KernelCmd::Stop) {
                        break;
                    }
                    cmd = next;
                }
                match cmd {
                    KernelCmd::Sync(t) => {
                        if let Err(e) = kernel.sync(&t, rank) {
                            error!("IPVS: {e}");
                        }
                    }
                    KernelCmd::Stop => break,
                }
            }
            match kernel.stop(global.lvs_flush_on_stop) {
                Ok(r) => info!("IPVS: removed lvsd's services ({} operations)", r.ops),
                Err(e) => error!("IPVS: on stop: {e}"),
            }
        })
        .map_err(|e| format!("cannot start the IPVS thread: {e}"))?;
    Ok((tx, ready_rx, handle))
}

fn fifo(cfg: &Config) -> Option<mpsc::UnboundedSender<String>> {
    let path = cfg
        .global
        .lvs_notify_fifo
        .as_ref()
        .or(cfg.global.notify_fifo.as_ref())?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(crate::notify::fifo_writer(PathBuf::from(&path.command), rx));
    Some(tx)
}

/// notify_up / notify_down / quorum scripts: keepalived appends no arguments.
fn spawn_script(script: Script, default_user: Option<(String, Option<String>)>, why: String) {
    match command::prepare(&script, default_user.as_ref(), &[]) {
        Ok(p) => {
            tokio::spawn(async move {
                let out = command::run(&p, Some(std::time::Duration::from_secs(30))).await;
                if !out.success() {
                    warn!("{why}: script '{}' ended with {out:?}", p.line);
                }
            });
        }
        Err(e) => warn!("{why}: script '{}': {e}", script.command),
    }
}

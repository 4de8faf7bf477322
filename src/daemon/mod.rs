//! The daemon: logging, pid file, signals, and the engines as tasks. Each engine owns its state
//! and takes commands over a channel; a health-check / IPVS engine is added beside VRRP here.

pub mod fds;
pub mod logging;
pub mod memory;
pub mod pidfile;
pub mod sdnotify;
pub mod syslog;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::cli::Cli;
use crate::config::model::Config;
use crate::director::engine as lvs_engine;
use crate::vrrp::engine::{self as vrrp_engine, Control};

pub const DEFAULT_PID_FILE: &str = "/run/lvsd.pid";

/// Runs the daemon until SIGTERM/SIGINT; the exit code for main.
pub fn run(cli: &Cli, cfg: Config) -> ExitCode {
    // Before anything else opens a file: what lvsd inherited must not reach its scripts.
    fds::cloexec_inherited();
    memory::huge_pages_off();
    logging::init(logging::Flags {
        console: cli.log_console,
        no_syslog: cli.no_syslog,
        facility: cli.log_facility,
        detail: cli.log_detail,
    });
    let max = cli
        .max_scripts
        .map_or_else(crate::notify::limit::default_max, |n| n as usize);
    crate::notify::limit::set_max(max);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = tokio::task::LocalSet::new();
    match local.block_on(&rt, serve(cli, cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: &Cli, cfg: Config) -> Result<(), String> {
    let pid_path = cli
        .pid
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PID_FILE));
    let _pid = pidfile::PidFile::create(&pid_path).map_err(|e| e.to_string())?;
    // Before the engines touch anything: a second lvsd on this socket must not start.
    let ctl_path = control_socket(cli, &cfg);
    let mut ctl_sock =
        match crate::control::server::bind(&ctl_path, cfg.global.control_group.as_deref()) {
            Ok(s) => Some(s),
            Err(crate::control::server::BindError::Busy(e)) => return Err(e),
            Err(crate::control::server::BindError::Other(e)) => {
                warn!("control socket: {e}; lvsd ctl is not available");
                None
            }
        };
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    info!("Starting lvsd {}", env!("CARGO_PKG_VERSION"));

    // One model shared by the engines and the status task (a 10,000-server model is megabytes).
    let cfg = Arc::new(cfg);
    let cfg_lvs = cfg.clone();
    let mut engines = Vec::new();
    if !cli.check {
        engines.push(crate::status::Engine::Vrrp);
    }
    if !cli.vrrp {
        engines.push(crate::status::Engine::Ipvs);
    }
    let snap = crate::status::spawn(&cfg, cli.metrics_listen.clone(), engines);
    let mut break_err: Option<String> = None;
    // The director follows VRRP (sync daemon role, catch-up) when both engines run.
    let (mut links, vrrp_link) = if cli.check || cli.vrrp {
        (crate::vrrp::news::Links::default(), None)
    } else {
        let (news_tx, news_rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = mpsc::unbounded_channel();
        (
            crate::vrrp::news::Links {
                news: Some(news_tx),
                caught_up: Some(up_rx),
                states: None,
            },
            Some(lvs_engine::VrrpLink {
                news: news_rx,
                caught_up: up_tx,
            }),
        )
    };
    // The BGP announcer follows the director's virtual-server health and the VRRP states.
    let mut announce_links = crate::announce::engine::Links::default();
    let health_tx = if cli.vrrp {
        None
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        announce_links.health = Some(rx);
        Some(tx)
    };
    if !cli.check {
        let (tx, rx) = mpsc::unbounded_channel();
        links.states = Some(tx);
        announce_links.vrrp = Some(rx);
    }
    let (announce_tx, announce_rx) = mpsc::channel(4);
    let mut announce = Some(tokio::task::spawn_local(crate::announce::engine::run(
        cfg.clone(),
        announce_rx,
        announce_links,
        crate::announce::engine::Options {
            source: cli.use_file.display().to_string(),
            checks: !cli.vrrp,
            vrrp: !cli.check,
        },
    )));
    sdnotify::spawn_watchdog();
    // The VRRP engine needs no Send (it owns raw sockets through Rc), so it runs on this thread.
    let (vrrp_tx, vrrp_rx) = mpsc::channel(4);
    let release_vrrp = !cli.dont_release_vrrp;
    let mut vrrp = if cli.check {
        info!("VRRP disabled by --check");
        None
    } else {
        Some(tokio::task::spawn_local(async move {
            vrrp_engine::run(cfg, vrrp_rx, release_vrrp, links).await
        }))
    };

    // Health checks and IPVS, unless -P (VRRP only): a config without virtual_server never touches IPVS.
    let (lvs_tx, lvs_rx) = mpsc::channel(4);
    let mut lvs = if cli.vrrp {
        info!("health checks and IPVS disabled by --vrrp");
        None
    } else {
        Some(tokio::task::spawn_local(lvs_engine::run(
            cfg_lvs,
            lvs_rx,
            !cli.dont_release_ipvs,
            vrrp_link,
            Some(state_file(cli)),
            health_tx,
        )))
    };

    let (reload_tx, mut reload_rx) = mpsc::channel::<crate::control::server::ReloadAsk>(4);
    if let Some(sock) = ctl_sock.as_mut() {
        crate::control::server::serve(
            sock,
            crate::control::server::Handles {
                snap: snap.clone(),
                lvs: (!cli.vrrp).then(|| lvs_tx.clone()),
                vrrp: (!cli.check).then(|| vrrp_tx.clone()),
                reload: reload_tx,
            },
        );
    }
    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM received, stopping"); break; }
            _ = int.recv() => { info!("SIGINT received, stopping"); break; }
            _ = hup.recv() => reload(cli, &vrrp_tx, &lvs_tx, &announce_tx).await,
            Some(ask) = reload_rx.recv() => {
                let r = ctl_reload(cli, ask.dry_run, &snap, &vrrp_tx, &lvs_tx, &announce_tx).await;
                let _ = ask.reply.send(r);
            }
            r = async { match lvs.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                lvs = None;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => { error!("{e}"); break_err = Some(e); break; }
                    Err(e) => { break_err = Some(format!("health-check engine failed: {e}")); break; }
                }
            }
            r = async { match vrrp.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                return match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("VRRP: {e}")),
                    Err(e) => Err(format!("VRRP engine failed: {e}")),
                };
            }
        }
    }
    sdnotify::stopping();
    // The routers hear the withdrawals first and move the flows to the other directors, while
    // this one still serves them (withdraw_delay); then VRRP releases the addresses before IPVS
    // loses the services: a packet that still reached a VIP without its service would meet the
    // local stack, which resets the connection; without the VIP it is dropped and retransmitted
    // to the new master.
    if let Some(h) = announce.take() {
        let _ = announce_tx
            .send(crate::announce::engine::Control::Stop)
            .await;
        if let Err(e) = h.await {
            error!("BGP announcer failed: {e}");
        }
    }
    let mut vrrp_err = None;
    if let Some(h) = vrrp {
        let _ = vrrp_tx.send(Control::Stop).await;
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => vrrp_err = Some(format!("VRRP: {e}")),
            Err(e) => vrrp_err = Some(format!("VRRP engine failed: {e}")),
        }
    }
    if let Some(h) = lvs {
        let _ = lvs_tx.send(lvs_engine::Control::Stop).await;
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!("{e}"),
            Err(e) => error!("health-check engine failed: {e}"),
        }
    }
    if let Some(e) = vrrp_err {
        return Err(e);
    }
    info!("Stopped lvsd");
    match break_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The control socket: --control-socket, global_defs control_socket, beside a -p pid file other
/// than the default (so several lvsd, as keepalived instances, each have one), or the default.
pub fn control_socket(cli: &Cli, cfg: &Config) -> PathBuf {
    if let Some(p) = &cli.control_socket {
        return p.clone();
    }
    if let Some(p) = &cfg.global.control_socket {
        return p.into();
    }
    match &cli.pid {
        Some(p) if p != std::path::Path::new(DEFAULT_PID_FILE) => p.with_extension("sock"),
        _ => PathBuf::from(crate::control::DEFAULT_SOCKET),
    }
}

/// The state file: --state-file, beside a -p pid file other than the default (each lvsd of a
/// machine its own, as for the control socket), else /var/lib/lvsd/state.json.
pub fn state_file(cli: &Cli) -> PathBuf {
    if let Some(p) = &cli.state_file {
        return p.clone();
    }
    match &cli.pid {
        Some(p) if p != std::path::Path::new(DEFAULT_PID_FILE) => p.with_extension("state.json"),
        _ => PathBuf::from(crate::director::admin::DEFAULT_STATE_FILE),
    }
}

/// Reads the configuration file again; the rendered diagnostics when it has errors.
async fn load_again(cli: &Cli) -> Result<Config, Vec<String>> {
    let opts = crate::config::LoadOptions {
        config_id: cli
            .config_id
            .clone()
            .unwrap_or_else(crate::config::default_config_id),
        check_machine: true,
    };
    let path = cli.use_file.clone();
    let loaded = tokio::task::spawn_blocking(move || crate::config::load(&path, &opts))
        .await
        .map_err(|e| vec![format!("reading the configuration failed: {e}")])?;
    let lines = loaded.render();
    match loaded.config {
        Some(c) => {
            for line in &lines {
                warn!("{line}");
            }
            Ok(c)
        }
        None => Err(lines),
    }
}

/// SIGHUP: read the file again; an invalid one changes nothing. Each engine takes the new
/// configuration and applies only the differences. The signal loop awaits this, so reloads in
/// quick succession are applied one after the other, in order.
async fn reload(
    cli: &Cli,
    vrrp_tx: &mpsc::Sender<Control>,
    lvs_tx: &mpsc::Sender<lvs_engine::Control>,
    announce_tx: &mpsc::Sender<crate::announce::engine::Control>,
) {
    info!("SIGHUP received: reloading {}", cli.use_file.display());
    sdnotify::reloading();
    match load_again(cli).await {
        Ok(new) => apply_reload(cli, Arc::new(new), vrrp_tx, lvs_tx, announce_tx).await,
        Err(lines) => refused(&lines),
    }
}

fn refused(lines: &[String]) {
    for line in lines {
        warn!("{line}");
    }
    error!("reload failed: the new configuration has errors; keeping the running configuration");
    crate::status::emit(crate::status::Event::ReloadFailed);
    // systemd was told RELOADING=1 (for a signal): the old configuration runs on, so ready again.
    sdnotify::ready();
}

async fn apply_reload(
    cli: &Cli,
    new: Arc<Config>,
    vrrp_tx: &mpsc::Sender<Control>,
    lvs_tx: &mpsc::Sender<lvs_engine::Control>,
    announce_tx: &mpsc::Sender<crate::announce::engine::Control>,
) {
    // The engines are told first and the status views after, so the director's kernel request does
    // not wait behind the views' rebuild (everything runs on one thread). The views still hear of
    // the reload before any engine can report on the new configuration: no engine runs before this
    // task yields, and a full queue is waited for only after the views were told.
    let vrrp = (!cli.check).then(|| offer(vrrp_tx, Control::Reload(new.clone())));
    let lvs = (!cli.vrrp).then(|| offer(lvs_tx, lvs_engine::Control::Reload(new.clone())));
    let announce = offer(
        announce_tx,
        crate::announce::engine::Control::Reload(new.clone()),
    );
    crate::status::emit(crate::status::Event::Reloaded(new));
    if !finish_offer(vrrp_tx, vrrp).await {
        warn!("reload: VRRP is not running");
    }
    if !finish_offer(lvs_tx, lvs).await {
        warn!("reload: health checks and IPVS are not running");
    }
    if !finish_offer(announce_tx, Some(announce)).await {
        warn!("reload: the BGP announcer is not running");
    }
    sdnotify::ready();
    info!("reload done");
}

/// A message handed to an engine without waiting: `Ok(None)` taken, `Ok(Some)` back when its
/// queue is full, `Err` when the engine has stopped.
fn offer<T>(tx: &mpsc::Sender<T>, msg: T) -> Result<Option<T>, ()> {
    match tx.try_send(msg) {
        Ok(()) => Ok(None),
        Err(mpsc::error::TrySendError::Full(m)) => Ok(Some(m)),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
    }
}

/// Waits for a queue `offer` found full; false when the engine has stopped. `None`: not offered.
async fn finish_offer<T>(tx: &mpsc::Sender<T>, offered: Option<Result<Option<T>, ()>>) -> bool {
    match offered {
        None | Some(Ok(None)) => true,
        Some(Ok(Some(m))) => tx.send(m).await.is_ok(),
        Some(Err(())) => false,
    }
}

/// lvsd ctl reload [--dry-run]: what the new file changes (VRRP instances, IPVS operations,
/// checkers), then, without --dry-run, the reload itself.
async fn ctl_reload(
    cli: &Cli,
    dry_run: bool,
    snap: &std::rc::Rc<std::cell::RefCell<crate::status::snapshot::Snapshot>>,
    vrrp_tx: &mpsc::Sender<Control>,
    lvs_tx: &mpsc::Sender<lvs_engine::Control>,
    announce_tx: &mpsc::Sender<crate::announce::engine::Control>,
) -> Result<serde_json::Value, String> {
    info!(
        "lvsd ctl reload{}: reading {}",
        if dry_run { " --dry-run" } else { "" },
        cli.use_file.display()
    );
    let new = match load_again(cli).await {
        Ok(c) => Arc::new(c),
        Err(lines) => {
            if !dry_run {
                refused(&lines);
            }
            return Err(format!(
                "the configuration has errors; nothing changed:\n{}",
                lines.join("\n")
            ));
        }
    };
    let old = snap.borrow().config.clone();
    let vrrp = crate::vrrp::reload::Plan::new(&old, &new).describe();
    let ipvs = if cli.vrrp {
        serde_json::Value::Null
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let ask = lvs_engine::Control::Ctl(crate::director::ctl::Ctl::Plan {
            cfg: new.clone(),
            reply: tx,
        });
        match lvs_tx.send(ask).await {
            Ok(()) => rx.await.unwrap_or(serde_json::Value::Null),
            Err(_) => serde_json::Value::Null,
        }
    };
    if !dry_run {
        apply_reload(cli, new, vrrp_tx, lvs_tx, announce_tx).await;
    }
    Ok(serde_json::json!({
        "applied": !dry_run,
        "vrrp": vrrp,
        "ipvs": ipvs["ipvs"],
        "checkers": ipvs["checkers"],
    }))
}

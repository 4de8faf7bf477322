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
    crate::status::spawn(&cfg, cli.metrics_listen.clone(), engines);
    let mut break_err: Option<String> = None;
    // The director follows VRRP (sync daemon role, catch-up) when both engines run.
    let (links, vrrp_link) = if cli.check || cli.vrrp {
        (crate::vrrp::news::Links::default(), None)
    } else {
        let (news_tx, news_rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = mpsc::unbounded_channel();
        (
            crate::vrrp::news::Links {
                news: Some(news_tx),
                caught_up: Some(up_rx),
            },
            Some(lvs_engine::VrrpLink {
                news: news_rx,
                caught_up: up_tx,
            }),
        )
    };
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
        )))
    };

    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM received, stopping"); break; }
            _ = int.recv() => { info!("SIGINT received, stopping"); break; }
            _ = hup.recv() => reload(cli, &vrrp_tx, &lvs_tx).await,
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
    // VRRP releases the addresses before IPVS loses the services: a packet that still reached a
    // VIP without its service would meet the local stack, which resets the connection; without
    // the VIP it is dropped and retransmitted to the new master.
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

/// SIGHUP: read the file again; an invalid one changes nothing. Each engine takes the new
/// configuration and applies only the differences. The signal loop awaits this, so reloads in
/// quick succession are applied one after the other, in order.
async fn reload(
    cli: &Cli,
    vrrp_tx: &mpsc::Sender<Control>,
    lvs_tx: &mpsc::Sender<lvs_engine::Control>,
) {
    info!("SIGHUP received: reloading {}", cli.use_file.display());
    sdnotify::reloading();
    let opts = crate::config::LoadOptions {
        config_id: cli
            .config_id
            .clone()
            .unwrap_or_else(crate::config::default_config_id),
        check_machine: true,
    };
    let path = cli.use_file.clone();
    let loaded = match tokio::task::spawn_blocking(move || crate::config::load(&path, &opts)).await
    {
        Ok(l) => l,
        Err(e) => {
            error!("reload failed ({e}); keeping the running configuration");
            crate::status::emit(crate::status::Event::ReloadFailed);
            sdnotify::ready();
            return;
        }
    };
    for line in loaded.render() {
        warn!("{line}");
    }
    let Some(new) = loaded.config else {
        error!(
            "reload failed: the new configuration has errors; keeping the running configuration"
        );
        crate::status::emit(crate::status::Event::ReloadFailed);
        // systemd was told RELOADING=1: the old configuration runs on, so ready again.
        sdnotify::ready();
        return;
    };
    let new = Arc::new(new);
    // Before the engines hear of it, so the status views are the new ones when their reports come.
    crate::status::emit(crate::status::Event::Reloaded(new.clone()));
    if !cli.check && vrrp_tx.send(Control::Reload(new.clone())).await.is_err() {
        warn!("reload: VRRP is not running");
    }
    if !cli.vrrp && lvs_tx.send(lvs_engine::Control::Reload(new)).await.is_err() {
        warn!("reload: health checks and IPVS are not running");
    }
    sdnotify::ready();
    info!("reload done");
}

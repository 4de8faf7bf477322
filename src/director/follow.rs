//! The director following VRRP: the sync daemons' role tracks the instance lvs_sync_daemon
//! names, the catch-up responder answers returning directors, and a catch-up is fetched before
//! this director preempts (vrrp::news has the messages).

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::info;

use super::catchup::{self, ask, serve};
use super::engine::KernelCmd;
use super::syncd::{Role, SyncSpec};
use crate::config::model::Config;
use crate::status;
use crate::vrrp::news::{CaughtUp, News};
use crate::vrrp::State;

type Kernel = std::sync::mpsc::Sender<KernelCmd>;

/// A finished catch-up this recent answers another instance of the same sync group at once.
const FRESH: Duration = Duration::from_secs(2);

#[derive(Clone, Copy)]
enum Asking {
    Idle,
    Running,
    Finished(Instant),
}

pub struct Follow {
    spec: Option<SyncSpec>,
    states: HashMap<String, State>,
    role: Role,
    kernel: Kernel,
    /// Catch-up: the longest wait, the request port, and the responder task on that port.
    hold: Duration,
    port: u16,
    server: Option<JoinHandle<()>>,
    caught_up: Option<mpsc::UnboundedSender<CaughtUp>>,
    asking: Rc<Cell<Asking>>,
}

impl Follow {
    /// `role`: what the IPVS thread started the daemons with.
    pub fn new(
        cfg: &Config,
        role: Role,
        kernel: Kernel,
        caught_up: Option<mpsc::UnboundedSender<CaughtUp>>,
    ) -> Follow {
        let mut f = Follow {
            spec: SyncSpec::from_config(cfg),
            states: HashMap::new(),
            role,
            kernel,
            hold: Duration::ZERO,
            port: 0,
            server: None,
            caught_up,
            asking: Rc::new(Cell::new(Asking::Idle)),
        };
        f.catchup_settings(cfg);
        f
    }

    fn catchup_settings(&mut self, cfg: &Config) {
        let (hold, port) = match &self.spec {
            Some(s) if s.follows.is_some() => {
                (cfg.global.lvs_sync_catchup.timeout.0, catchup::port(cfg, s))
            }
            _ => (Duration::ZERO, 0),
        };
        let changed = port != self.port || self.server.is_none();
        self.hold = hold;
        self.port = port;
        if hold.is_zero() {
            self.stop_server();
        } else if changed {
            self.stop_server();
            if let Some(spec) = self.spec.clone() {
                let k = self.kernel.clone();
                let fetch: serve::Fetch = Box::new(move || {
                    let (tx, rx) = oneshot::channel();
                    k.send(KernelCmd::Entries(tx)).ok().map(|_| rx)
                });
                self.server = Some(tokio::task::spawn_local(serve::run(port, spec, fetch)));
            }
        }
    }

    fn stop_server(&mut self) {
        if let Some(t) = self.server.take() {
            t.abort();
        }
    }

    pub fn news(&mut self, n: News) {
        match n {
            News::State { instance, state } => {
                self.states.insert(instance, state);
                self.update_role();
            }
            News::CatchUp { instance, master } => self.catch_up(&instance, master),
        }
    }

    fn update_role(&mut self) {
        let Some(spec) = &self.spec else { return };
        let role = spec.role(&self.states);
        if role != self.role {
            self.role = role;
            let _ = self.kernel.send(KernelCmd::Syncd {
                spec: Some(spec.clone()),
                role,
            });
        }
    }

    /// A reload: changed daemon settings restart the daemons, unchanged ones are left alone.
    pub fn reload(&mut self, cfg: &Config) {
        let spec = SyncSpec::from_config(cfg);
        let role = spec.as_ref().map_or(self.role, |s| s.role(&self.states));
        if spec != self.spec || role != self.role {
            if spec != self.spec {
                info!("reload: lvs_sync_daemon changed; restarting the sync daemons");
            }
            let _ = self.kernel.send(KernelCmd::Syncd {
                spec: spec.clone(),
                role,
            });
        }
        let respec = spec != self.spec;
        self.spec = spec;
        self.role = role;
        if respec {
            self.stop_server();
        }
        self.catchup_settings(cfg);
    }

    fn answer(&self) {
        if let Some(tx) = &self.caught_up {
            let _ = tx.send(CaughtUp);
        }
    }

    fn catch_up(&mut self, instance: &str, master: std::net::IpAddr) {
        let syncid = match &self.spec {
            Some(s) if !self.hold.is_zero() => s.syncid,
            _ => return self.answer(),
        };
        match self.asking.get() {
            Asking::Running => return,
            Asking::Finished(t) if t.elapsed() < FRESH => return self.answer(),
            _ => {}
        }
        info!("({instance}) catch-up: asking {master} for its connection table");
        self.asking.set(Asking::Running);
        let (asking, tx, port, hold) = (
            self.asking.clone(),
            self.caught_up.clone(),
            self.port,
            self.hold,
        );
        tokio::task::spawn_local(async move {
            let started = Instant::now();
            let outcome = ask::ask(master, port, syncid, hold).await;
            ask::log(master, started.elapsed(), &outcome);
            if let ask::Outcome::Synced { synced, .. } = outcome {
                status::emit(status::Event::CatchUp {
                    served: false,
                    entries: synced,
                });
            }
            asking.set(Asking::Finished(Instant::now()));
            if let Some(tx) = tx {
                let _ = tx.send(CaughtUp);
            }
        });
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.stop_server();
    }
}

/// The next VRRP news, or never when no VRRP engine runs.
pub async fn next_news(rx: &mut Option<mpsc::UnboundedReceiver<News>>) -> Option<News> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

//! The announcer: a follower task (DESIGN.md). It hears the director's virtual-server health and
//! the VRRP instances' states over the channels the daemon wires at start, lets the core decide,
//! hands the newest desired state to the BIRD shell (client.rs) and reports to the status views.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::bird::Route;
use super::client::{self, Desired, Report, Told};
use super::core::{Core, Input, Spec};
use crate::config::model::Config;
use crate::director::news::Health;
use crate::status::{self, BgpView, BgpVipView};
use crate::vrrp::news::News;

pub enum Control {
    /// Withdraw every VIP, then wait withdraw_delay; the daemon removes IPVS services after.
    Stop,
    Reload(Arc<Config>),
}

/// The announcer's ends of the leaders' channels; None where that engine does not run.
#[derive(Default)]
pub struct Links {
    pub health: Option<mpsc::UnboundedReceiver<Health>>,
    pub vrrp: Option<mpsc::UnboundedReceiver<News>>,
}

/// How lvsd runs: the configuration file (named in the include file), and which engines run.
pub struct Options {
    pub source: String,
    pub checks: bool,
    pub vrrp: bool,
}

/// The longest wait at stop for BIRD to confirm the withdrawals.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

struct Shell {
    desired: watch::Sender<Arc<Desired>>,
    task: tokio::task::JoinHandle<()>,
}

struct Announcer {
    cfg: Arc<Config>,
    opts: Options,
    core: Core,
    gen: u64,
    shell: Option<Shell>,
    reports: (
        mpsc::UnboundedSender<Report>,
        mpsc::UnboundedReceiver<Report>,
    ),
    told: HashMap<String, Told>,
    view: BgpView,
    synced: u64,
}

pub async fn run(cfg: Arc<Config>, mut ctl: mpsc::Receiver<Control>, links: Links, opts: Options) {
    let Links {
        mut health,
        mut vrrp,
    } = links;
    let now = Instant::now();
    let mut a = Announcer {
        core: Core::new(Spec::from_config(&cfg), now),
        cfg: cfg.clone(),
        opts,
        gen: 0,
        shell: None,
        reports: mpsc::unbounded_channel(),
        told: HashMap::new(),
        view: BgpView::default(),
        synced: 0,
    };
    a.configure();
    loop {
        let wake = a.core.next_wake();
        tokio::select! {
            c = ctl.recv() => match c {
                Some(Control::Reload(new)) => a.reload(new),
                Some(Control::Stop) | None => break,
            },
            Some(h) = next(&mut health) => {
                let mut inputs = vec![h];
                // Everything queued at once, then one decision.
                if let Some(rx) = health.as_mut() {
                    while let Ok(h) = rx.try_recv() {
                        inputs.push(h);
                    }
                }
                for h in inputs {
                    let input = match h {
                        Health::All(all) => Input::AllServices(all),
                        Health::One(vs, h) => Input::Service(vs, h),
                    };
                    a.feed(input);
                }
                a.publish_if_changed();
            }
            Some(n) = next(&mut vrrp) => {
                if let News::State { instance, state } = n {
                    a.feed(Input::Vrrp { instance, state });
                    a.publish_if_changed();
                }
            }
            Some(r) = a.reports.1.recv() => a.report(r),
            _ = sleep_until(wake) => {
                a.feed(Input::Tick);
                a.publish_if_changed();
            }
        }
    }
    a.stop().await;
}

async fn next<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

impl Announcer {
    /// Starts (or stops) the BIRD shell as the configuration asks, and warns about engines that
    /// do not run.
    fn configure(&mut self) {
        let Some(b) = &self.cfg.bgp_announce else {
            if let Some(s) = &self.shell {
                info!("BGP: bgp_announce removed; withdrawing every VIP");
                let _ = s.desired.send(Arc::new(Desired {
                    stop: true,
                    ..self.desired()
                }));
            }
            self.shell = None;
            self.emit();
            return;
        };
        if !self.opts.checks {
            warn!("BGP: health checks do not run (--vrrp): no VIP is ever announced");
        }
        if !self.opts.vrrp && b.vips.iter().any(|v| v.vrrp_instance.is_some()) {
            warn!("BGP: VRRP does not run (--check): VIPs tied to a vrrp_instance are never announced");
        }
        if self.shell.is_none() {
            info!(
                "BGP: announcing {} VIP(s) through BIRD at {} (include file {}, liveness interface {})",
                b.vips.len(),
                b.bird_socket,
                b.include_file,
                b.liveness_interface
            );
            let (tx, rx) = watch::channel(Arc::new(self.desired()));
            let task = tokio::task::spawn_local(client::run(rx, self.reports.0.clone()));
            self.shell = Some(Shell { desired: tx, task });
        } else {
            self.publish();
        }
        self.emit();
    }

    fn desired(&self) -> Desired {
        let b = self.cfg.bgp_announce.clone().unwrap_or_default();
        Desired {
            gen: self.gen,
            socket: b.bird_socket.into(),
            include: b.include_file.into(),
            iface: b.liveness_interface,
            source: self.opts.source.clone(),
            routes: self
                .core
                .vips()
                .iter()
                .map(|v| Route {
                    protocol: v.spec.protocol.clone(),
                    addr: v.spec.addr,
                    announced: v.announced,
                })
                .collect(),
            stop: false,
        }
    }

    fn feed(&mut self, input: Input) {
        for c in self.core.handle(Instant::now(), input) {
            let verb = if c.announce { "announced" } else { "withdrawn" };
            info!("BGP: VIP {} {verb}: {}", c.addr, c.why);
            status::emit(status::Event::BgpChange {
                vip: c.addr,
                announced: c.announce,
                why: c.why,
            });
            self.gen += 1;
        }
    }

    fn publish_if_changed(&mut self) {
        let dirty = self.core.take_dirty();
        if self
            .shell
            .as_ref()
            .is_some_and(|s| s.desired.borrow().gen != self.gen)
        {
            self.publish();
        }
        if dirty {
            self.emit();
        }
    }

    fn publish(&mut self) {
        let d = self.desired();
        if let Some(s) = &self.shell {
            let _ = s.desired.send(Arc::new(d));
        }
    }

    fn reload(&mut self, new: Arc<Config>) {
        self.cfg = new;
        self.gen += 1;
        self.feed(Input::Reload(Spec::from_config(&self.cfg)));
        self.core.take_dirty();
        self.configure();
    }

    fn report(&mut self, r: Report) {
        match r {
            Report::Connection { connected, error } => {
                if connected != self.view.connected {
                    self.view.connected_since = SystemTime::now();
                }
                self.view.connected = connected;
                self.view.bird_error = error;
                if !connected {
                    self.told.clear();
                }
            }
            Report::Told(list) => {
                for (p, t) in list {
                    self.told.insert(p, t);
                }
            }
            Report::Tie { up, error } => {
                self.view.tie_up = up;
                self.view.tie_error = error;
            }
            Report::Synced(g) => {
                self.synced = g;
                return;
            }
            Report::Stopped => return,
        }
        self.emit();
    }

    /// Reports the views (/status, /metrics, lvsd ctl).
    fn emit(&mut self) {
        let Some(b) = &self.cfg.bgp_announce else {
            status::emit(status::Event::Bgp(None));
            return;
        };
        let (now, wall) = (Instant::now(), SystemTime::now());
        self.view.socket = b.bird_socket.clone();
        self.view.include_file = b.include_file.clone();
        self.view.tie = b.liveness_interface.clone();
        self.view.vips = self
            .core
            .vips()
            .iter()
            .map(|v| BgpVipView {
                addr: v.spec.addr,
                protocol: v.spec.protocol.clone(),
                announced: v.announced,
                since: wall - now.saturating_duration_since(v.since),
                why: v.why.clone(),
                bird: match self.told.get(&v.spec.protocol) {
                    Some(Told::Enabled) => "enabled".into(),
                    Some(Told::Disabled) => "disabled".into(),
                    Some(Told::Refused(e)) => format!("refused: {e}"),
                    None => "unknown".into(),
                },
                changes: v.changes,
                services: v.spec.services.clone(),
                vrrp_instance: v.spec.vrrp_instance.clone(),
            })
            .collect();
        status::emit(status::Event::Bgp(Some(self.view.clone())));
    }

    /// Withdraws everything, waits until BIRD confirmed (or STOP_WAIT), then withdraw_delay.
    async fn stop(mut self) {
        let Some(shell) = self.shell.take() else {
            return;
        };
        let was_announced = self
            .core
            .vips()
            .iter()
            .filter(|v| self.told.get(&v.spec.protocol) == Some(&Told::Enabled) || v.announced)
            .count();
        self.feed(Input::Stop);
        self.core.take_dirty();
        let _ = shell.desired.send(Arc::new(Desired {
            stop: true,
            ..self.desired()
        }));
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.reports.1.recv()).await {
                Ok(Some(Report::Stopped)) | Ok(None) => break,
                Ok(Some(r)) => self.report(r),
                Err(_) => {
                    warn!("BGP: BIRD did not confirm the withdrawals within {} s; the liveness interface is deleted all the same", STOP_WAIT.as_secs());
                    shell.task.abort();
                    break;
                }
            }
        }
        self.emit();
        let delay = self
            .cfg
            .bgp_announce
            .as_ref()
            .map_or(std::time::Duration::ZERO, |b| b.withdraw_delay.0);
        if was_announced > 0 && !delay.is_zero() {
            info!(
                "BGP: {was_announced} VIP(s) withdrawn; IPVS keeps serving for withdraw_delay {:.1} s while the routers move the flows",
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        } else {
            info!("BGP: every VIP withdrawn");
        }
    }
}

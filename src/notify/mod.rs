//! Notify scripts and the notify FIFO, run as keepalived runs them, never blocking an engine: each
//! object (instance or sync group) has its own queue, so its scripts run one after the other in
//! the order of its state changes, while different objects run in parallel (under `limit`).

pub mod command;
pub mod email;
pub mod limit;
pub mod queue;
pub mod security;

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::{error, warn};

use crate::config::model::{Notify, Script};
use command::prepare;
use queue::{Job, Queues};

/// What changed state, as the notify scripts' first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Instance,
    Group,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Instance => "INSTANCE",
            Kind::Group => "GROUP",
        }
    }
}

/// One state change to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub name: String,
    /// MASTER, BACKUP, FAULT, STOP or DELETED.
    pub state: String,
    pub priority: u8,
}

impl Event {
    /// keepalived's four extra arguments of `notify` scripts: `INSTANCE "VI_1" MASTER 100`.
    pub fn args(&self) -> Vec<String> {
        vec![
            self.kind.word().to_string(),
            self.name.clone(),
            self.state.clone(),
            self.priority.to_string(),
        ]
    }

    /// The FIFO line: `INSTANCE "VI_1" MASTER 100`.
    pub fn fifo_line(&self) -> String {
        format!(
            "{} \"{}\" {} {}\n",
            self.kind.word(),
            self.name,
            self.state,
            self.priority
        )
    }

    /// The scripts this event runs: the state's own script, then the generic `notify` one
    /// with the four arguments.
    pub fn scripts<'a>(&self, n: &'a Notify) -> Vec<(&'a Script, Vec<String>)> {
        let own = match self.state.as_str() {
            "MASTER" => n.master.as_ref(),
            "BACKUP" => n.backup.as_ref(),
            "FAULT" => n.fault.as_ref(),
            "STOP" => n.stop.as_ref(),
            // A bare notify_deleted only changes the word.
            "DELETED" => n.deleted.as_ref().filter(|s| !s.command.is_empty()),
            _ => None,
        };
        own.map(|s| (s, Vec::new()))
            .into_iter()
            .chain(n.any.as_ref().map(|s| (s, self.args())))
            .collect()
    }
}

/// An instance deleted by a reload, as keepalived 2.2.7 announces it (checked against it): with
/// notify_deleted the state is DELETED and its script (if it names one) runs; without, the state
/// is FAULT, but only the generic `notify` script and the FIFO hear it (notify_fault does not
/// run). The scripts to run come back with the event.
pub fn deleted(name: &str, priority: u8, n: &Notify) -> (Event, Notify) {
    let mut scripts = n.clone();
    let state = match n.deleted {
        Some(_) => "DELETED",
        None => {
            scripts.fault = None;
            "FAULT"
        }
    };
    let ev = Event {
        kind: Kind::Instance,
        name: name.to_string(),
        state: state.into(),
        priority,
    };
    (ev, scripts)
}

/// Runs notify scripts per object in order and writes the FIFO.
pub struct Notifier {
    default_user: Option<(String, Option<String>)>,
    /// enable_script_security: unsafe scripts are not run.
    script_security: bool,
    queues: Queues,
    fifo: Option<mpsc::UnboundedSender<String>>,
    fifo_path: Option<PathBuf>,
}

impl Notifier {
    /// `fifo`: the vrrp_notify_fifo (or notify_fifo) path, created when missing.
    pub fn new(
        default_user: Option<(String, Option<String>)>,
        script_security: bool,
        fifo: Option<PathBuf>,
    ) -> Self {
        Notifier {
            default_user,
            script_security,
            queues: Queues::new(),
            fifo: fifo.clone().map(open_fifo),
            fifo_path: fifo,
        }
    }

    /// A reload changed script_user, enable_script_security or the FIFO: scripts queued
    /// already run as they were prepared; a new FIFO path closes the old one.
    pub fn reconfigure(
        &mut self,
        default_user: Option<(String, Option<String>)>,
        script_security: bool,
        fifo: Option<PathBuf>,
    ) {
        self.default_user = default_user;
        self.script_security = script_security;
        if fifo != self.fifo_path {
            self.fifo = fifo.clone().map(open_fifo);
            self.fifo_path = fifo;
        }
    }

    pub fn notify(&mut self, ev: &Event, scripts: &Notify) {
        if let Some(f) = &self.fifo {
            let _ = f.send(ev.fifo_line());
        }
        let key = format!("{}:{}", ev.kind.word(), ev.name);
        for (script, args) in ev.scripts(scripts) {
            match prepare(script, self.default_user.as_ref(), &args) {
                Ok(p) => {
                    if let Err(why) = security::check(&p) {
                        if self.script_security {
                            error!("({}) notify script '{}' not run: {why}", ev.name, p.line);
                            continue;
                        }
                        warn!(
                            "({}) SECURITY: notify script '{}' runs as root: {why}",
                            ev.name, p.line
                        );
                    }
                    let job = Job {
                        script: p,
                        timeout: None,
                        why: key.clone(),
                    };
                    self.queues.push(&key, job);
                }
                Err(e) => warn!("({}) notify script '{}': {e}", ev.name, script.command),
            }
        }
    }

    /// Lets the queued scripts finish (at most `limit`), e.g. notify_stop at shutdown.
    pub async fn drain(self, limit: Duration) {
        drop(self.fifo);
        self.queues.drain(limit).await;
    }
}

/// Starts the writer of a FIFO; it ends (closing the FIFO) when the sender is dropped.
fn open_fifo(path: PathBuf) -> mpsc::UnboundedSender<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(fifo_writer(path, rx));
    tx
}

/// keepalived creates the FIFO when it does not exist. Opened read-write so that opening never
/// waits for a reader and a reader going away never fails our writes.
pub(crate) async fn fifo_writer(path: PathBuf, mut rx: mpsc::UnboundedReceiver<String>) {
    if !path.exists() {
        if let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) {
            // SAFETY: mkfifo with a valid NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                warn!(
                    "cannot create notify fifo {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    let mut f = match tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            warn!("cannot open notify fifo {}: {e}", path.display());
            return;
        }
    };
    while let Some(line) = rx.recv().await {
        if let Err(e) = f.write_all(line.as_bytes()).await {
            warn!("notify fifo {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(c: &str) -> Script {
        Script {
            command: c.into(),
            user: None,
            group: None,
        }
    }

    #[test]
    fn event_arguments_and_fifo_line_follow_keepalived() {
        let ev = Event {
            kind: Kind::Instance,
            name: "VI_1".into(),
            state: "MASTER".into(),
            priority: 100,
        };
        assert_eq!(ev.fifo_line(), "INSTANCE \"VI_1\" MASTER 100\n");
        let n = Notify {
            master: Some(script("/m.sh")),
            backup: Some(script("/b.sh")),
            any: Some(script("/n.sh")),
            ..Default::default()
        };
        let s = ev.scripts(&n);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0.command, "/m.sh");
        assert!(s[0].1.is_empty());
        assert_eq!(s[1].0.command, "/n.sh");
        assert_eq!(s[1].1, ["INSTANCE", "VI_1", "MASTER", "100"]);
    }

    #[test]
    fn a_deleted_instance_is_fault_without_notify_fault_unless_notify_deleted() {
        let mut n = Notify {
            fault: Some(script("/f.sh")),
            stop: Some(script("/s.sh")),
            any: Some(script("/n.sh")),
            ..Default::default()
        };
        let (ev, scripts) = deleted("VI_2", 150, &n);
        assert_eq!(ev.fifo_line(), "INSTANCE \"VI_2\" FAULT 150\n");
        let run: Vec<(&str, Vec<String>)> = ev
            .scripts(&scripts)
            .into_iter()
            .map(|(s, a)| (s.command.as_str(), a))
            .collect();
        assert_eq!(run, [("/n.sh", ev.args())]);
        assert_eq!(ev.args(), ["INSTANCE", "VI_2", "FAULT", "150"]);

        // A bare notify_deleted: DELETED, still only the generic script.
        n.deleted = Some(script(""));
        let (ev, scripts) = deleted("VI_2", 150, &n);
        assert_eq!(ev.state, "DELETED");
        assert_eq!(ev.scripts(&scripts).len(), 1);
        // notify_deleted with a script: it runs first.
        n.deleted = Some(script("/d.sh"));
        let (ev, scripts) = deleted("VI_2", 150, &n);
        let names: Vec<&str> = ev
            .scripts(&scripts)
            .iter()
            .map(|(s, _)| s.command.as_str())
            .collect();
        assert_eq!(names, ["/d.sh", "/n.sh"]);
    }

    #[tokio::test]
    async fn scripts_of_one_object_run_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("log");
        let mut n = Notifier::new(None, false, None);
        // Each script takes less time than the one before: scripts run side by side would
        // finish, and write, in the reverse order.
        let notify = Notify {
            any: Some(script(&format!(
                "/bin/sh -c 'case $3 in BACKUP) sleep 0.3;; MASTER) sleep 0.2;; FAULT) sleep 0.1;; esac; echo \"$3\" >> {}' x",
                out.display()
            ))),
            ..Default::default()
        };
        for state in ["BACKUP", "MASTER", "FAULT", "STOP"] {
            let ev = Event {
                kind: Kind::Instance,
                name: "VI_1".into(),
                state: state.into(),
                priority: 100,
            };
            n.notify(&ev, &notify);
        }
        n.drain(Duration::from_secs(10)).await;
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "BACKUP\nMASTER\nFAULT\nSTOP\n");
    }
}

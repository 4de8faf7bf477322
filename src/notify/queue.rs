//! Scripts queued per object (a VRRP instance, a sync group, a real server, a virtual server): one
//! object's scripts run one after the other in the order they were queued, different objects in
//! parallel, all under the shared limit (`limit`). A worker task lives only while its object has
//! scripts queued, so ten thousand quiet real servers cost nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::command::{run, Outcome, Prepared};

/// One script to run for an object.
#[derive(Debug, Clone)]
pub struct Job {
    pub script: Prepared,
    /// Killed after this long (from its start, not from when it was queued).
    pub timeout: Option<Duration>,
    /// For the log: what the script is for (`notify_down [10.0.0.2]:tcp:80`, `INSTANCE:VI_1`).
    pub why: String,
}

type Pending = Arc<Mutex<HashMap<String, VecDeque<Job>>>>;

#[derive(Default)]
pub struct Queues {
    pending: Pending,
    workers: JoinSet<()>,
}

impl Queues {
    pub fn new() -> Queues {
        Queues::default()
    }

    /// Queues `job` behind the object's earlier scripts; returns at once.
    pub fn push(&mut self, object: &str, job: Job) {
        while self.workers.try_join_next().is_some() {}
        let Ok(mut pending) = self.pending.lock() else {
            warn!(
                "{}: script '{}' not run (queue lock poisoned)",
                job.why, job.script.line
            );
            return;
        };
        if let Some(q) = pending.get_mut(object) {
            q.push_back(job);
            return;
        }
        pending.insert(object.to_string(), VecDeque::from([job]));
        drop(pending);
        self.workers
            .spawn(worker(self.pending.clone(), object.to_string()));
    }

    /// Lets the queued scripts finish, at most `limit` (e.g. notify_stop at shutdown).
    pub async fn drain(mut self, limit: Duration) {
        let all = async { while self.workers.join_next().await.is_some() {} };
        if tokio::time::timeout(limit, all).await.is_err() {
            warn!("scripts still running after {limit:?}, not waiting longer");
        }
    }
}

/// Runs the object's scripts until its queue is empty; the queue entry goes with the worker.
async fn worker(pending: Pending, object: String) {
    loop {
        let job = {
            let Ok(mut p) = pending.lock() else { return };
            let next = p.get_mut(&object).and_then(VecDeque::pop_front);
            if next.is_none() {
                p.remove(&object);
            }
            next
        };
        let Some(job) = job else { return };
        match run(&job.script, job.timeout).await {
            Outcome::Exited(0) => debug!("{}: script '{}' done", job.why, job.script.line),
            o => warn!("{}: script '{}' ended with {o:?}", job.why, job.script.line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::command::argv;

    fn job(line: &str) -> Job {
        Job {
            script: Prepared {
                argv: argv(line, &[]).expect("argv"),
                uid: None,
                gid: None,
                line: line.into(),
            },
            timeout: None,
            why: "test".into(),
        }
    }

    #[tokio::test]
    async fn one_object_in_order_and_workers_end_when_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("log");
        let mut q = Queues::new();
        for (obj, word) in [
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("a", "a3"),
            ("b", "b2"),
        ] {
            let sleep = if word.ends_with('1') { "0.2" } else { "0" };
            q.push(
                obj,
                job(&format!("sleep {sleep}; echo {word} >> {}", out.display())),
            );
        }
        assert_eq!(q.workers.len(), 2, "one worker per busy object");
        let pending = q.pending.clone();
        q.drain(Duration::from_secs(10)).await;
        let got = std::fs::read_to_string(&out).expect("log");
        let order = |p: &str| got.lines().filter(|l| l.starts_with(p)).collect::<Vec<_>>();
        assert_eq!(order("a"), ["a1", "a2", "a3"]);
        assert_eq!(order("b"), ["b1", "b2"]);
        assert!(
            pending.lock().expect("lock").is_empty(),
            "idle objects leave no entry"
        );
    }
}

//! One limit for every script lvsd runs (notify scripts, vrrp_script track scripts, MISC_CHECK,
//! notify_up/down and quorum scripts): at most `max` processes at once, so a flapping pool of
//! thousands of real servers cannot fork-bomb the machine. Slots are handed out first come, first
//! served (tokio's semaphore is fair), so scripts start in the order they asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// How often "the limit is reached" may be logged again while it keeps being reached.
const WARN_AGAIN: Duration = Duration::from_secs(600);

struct Limit {
    max: usize,
    slots: Arc<Semaphore>,
    /// When the limit was last logged, and how many scripts waited since.
    warned: Mutex<Option<Instant>>,
    waited: AtomicU64,
}

static LIMIT: OnceLock<Limit> = OnceLock::new();

/// 64, or 4 per CPU on machines with more than 16 CPUs.
pub fn default_max() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (4 * cpus).max(64)
}

/// Sets the limit; only the first call (before any script ran) counts. False if it was set already.
pub fn set_max(max: usize) -> bool {
    let mut fresh = false;
    LIMIT.get_or_init(|| {
        fresh = true;
        Limit::new(max)
    });
    fresh
}

/// The limit in force.
pub fn max() -> usize {
    limit().max
}

fn limit() -> &'static Limit {
    LIMIT.get_or_init(|| Limit::new(default_max()))
}

impl Limit {
    fn new(max: usize) -> Limit {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Limit {
            max,
            slots: Arc::new(Semaphore::new(max)),
            warned: Mutex::new(None),
            waited: AtomicU64::new(0),
        }
    }

    fn note_wait(&self, what: &str) {
        let n = self.waited.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut last) = self.warned.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < WARN_AGAIN) {
            return;
        }
        *last = Some(Instant::now());
        self.waited.store(0, Ordering::Relaxed);
        warn!(
            "{} scripts are running, the most lvsd runs at once (--max-scripts): '{what}' and others wait for a slot ({n} waited since this was last logged)",
            self.max
        );
    }
}

/// A running script's slot; dropping it lets the next waiting script start.
pub struct Slot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// Waits for a free slot, in order of arrival. `what` names the script for the log.
pub async fn slot(what: &str) -> Slot {
    let l = limit();
    if let Ok(p) = l.slots.clone().try_acquire_owned() {
        return Slot(Some(p));
    }
    l.note_wait(what);
    // The semaphore is never closed; were it, running unbounded would beat hanging forever.
    Slot(l.slots.clone().acquire_owned().await.ok())
}

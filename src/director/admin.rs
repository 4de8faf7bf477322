//! Operators' runtime settings for real servers (`lvsd ctl drain|disable|weight`), and the state
//! file that keeps them across reloads and restarts until `enable` clears them. Pure, but for
//! `load` and `save`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub const DEFAULT_STATE_FILE: &str = "/var/lib/lvsd/state.json";
/// How long a drain waits for connections to end when the operator gives no timeout.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Admin {
    /// Weight 0: no new connections; maintenance once its active connections end, or at `until`
    /// (seconds since the epoch).
    Drain { until: f64 },
    /// Out of the table (kept at weight 0 with inhibit_on_failure).
    Maintenance,
    /// This weight instead of the configured or checked one while up.
    Weight { weight: u32 },
}

impl Admin {
    pub fn drain(now: SystemTime, timeout: Duration) -> Admin {
        Admin::Drain {
            until: secs(now + timeout),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Admin::Drain { .. } => "draining",
            Admin::Maintenance => "maintenance",
            Admin::Weight { .. } => "weight",
        }
    }

    /// A drain whose time ran out.
    pub fn expired(&self, now: SystemTime) -> bool {
        matches!(self, Admin::Drain { until } if secs(now) >= *until)
    }
}

pub fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A real server as the state file names it: its virtual server's and its own keepalived label
/// (`[10.0.0.1]:tcp:80`, `[10.0.0.2]:tcp:8080`), which survive reordering of the file.
pub type Key = (String, String);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides(pub BTreeMap<Key, Admin>);

#[derive(Serialize, Deserialize)]
struct Entry {
    vs: String,
    rs: String,
    #[serde(flatten)]
    admin: Admin,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    overrides: Vec<Entry>,
}

impl Overrides {
    pub fn to_json(&self) -> String {
        let f = File {
            version: 1,
            overrides: self
                .0
                .iter()
                .map(|((vs, rs), a)| Entry {
                    vs: vs.clone(),
                    rs: rs.clone(),
                    admin: *a,
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&f).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn from_json(text: &str) -> Result<Overrides, String> {
        let f: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if f.version != 1 {
            return Err(format!("version {} is not supported", f.version));
        }
        Ok(Overrides(
            f.overrides
                .into_iter()
                .map(|e| ((e.vs, e.rs), e.admin))
                .collect(),
        ))
    }

    /// The file's overrides; a missing file is none, an unreadable one is an error (and leaves the
    /// running overrides alone).
    pub fn load(path: &Path) -> Result<Overrides, String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Overrides::from_json(&t).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overrides::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Replaces the file atomically (written beside it, then renamed), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(self.to_json().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Slow start: the weight a real server that came up `elapsed` ago has, rising in whole steps from
/// 1 to `weight` over `span`.
pub fn ramp_weight(weight: u32, elapsed: Duration, span: Duration) -> u32 {
    if weight == 0 || span.is_zero() || elapsed >= span {
        return weight;
    }
    let frac = elapsed.as_secs_f64() / span.as_secs_f64();
    ((f64::from(weight) * frac).ceil() as u32).clamp(1, weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_survive_the_file() {
        let mut o = Overrides::default();
        let k = |r: &str| ("[10.0.0.1]:tcp:80".to_string(), r.to_string());
        o.0.insert(k("[10.0.0.2]:tcp:80"), Admin::Maintenance);
        o.0.insert(k("[10.0.0.3]:tcp:80"), Admin::Weight { weight: 7 });
        o.0.insert(k("[10.0.0.4]:tcp:80"), Admin::Drain { until: 1e9 });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.json");
        o.save(&p).unwrap();
        assert_eq!(Overrides::load(&p).unwrap(), o);
        assert!(!p.with_extension("json.tmp").exists());
        assert_eq!(
            Overrides::load(&dir.path().join("none")).unwrap(),
            Overrides::default()
        );
        std::fs::write(&p, "{").unwrap();
        assert!(Overrides::load(&p).unwrap_err().contains("state.json"));
        std::fs::write(&p, r#"{"version":2,"overrides":[]}"#).unwrap();
        assert!(Overrides::load(&p).unwrap_err().contains("version 2"));
    }

    #[test]
    fn a_drain_expires_at_its_time() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1000);
        let d = Admin::drain(t0, Duration::from_secs(30));
        assert!(!d.expired(t0 + Duration::from_secs(29)));
        assert!(d.expired(t0 + Duration::from_secs(30)));
        assert!(!Admin::Maintenance.expired(t0));
    }

    #[test]
    fn slow_start_rises_in_steps_to_the_weight() {
        let s = Duration::from_secs;
        assert_eq!(ramp_weight(10, s(0), s(10)), 1);
        assert_eq!(ramp_weight(10, s(3), s(10)), 3);
        assert_eq!(ramp_weight(10, Duration::from_millis(3500), s(10)), 4);
        assert_eq!(ramp_weight(10, s(10), s(10)), 10);
        assert_eq!(ramp_weight(3, s(1), s(60)), 1);
        assert_eq!(ramp_weight(0, s(1), s(10)), 0);
        assert_eq!(ramp_weight(5, s(1), s(0)), 5);
    }
}

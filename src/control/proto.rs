//! The control protocol, version 1: one JSON request per line, one JSON reply per line (`events`
//! then streams one event per line). Pure: parsing, access classes, reply shapes.
//!
//! ```text
//! {"v":1,"cmd":"status"}
//! {"v":1,"cmd":"drain","vs":"10.0.0.1:80","rs":"10.0.0.2:8080","timeout":120}
//! {"v":1,"cmd":"disable","vs":"*","rs":"10.0.0.2"}
//! {"v":1,"cmd":"enable","vs":"*","rs":"10.0.0.2"}
//! {"v":1,"cmd":"weight","vs":"tcp:10.0.0.1:80","rs":"10.0.0.2:8080","weight":5}
//! {"v":1,"cmd":"vrrp","instance":"VI_1","action":"backup","force":false}
//! {"v":1,"cmd":"reload","dry_run":true}
//! {"v":1,"cmd":"events"}
//! ```
//! Replies: `{"v":1,"ok":true,"result":...}` or `{"v":1,"ok":false,"error":"..."}`; events:
//! `{"v":1,"event":{"time":...,"kind":...}}`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const VERSION: u64 = 1;
/// Longest request line read (the longest real one is a few hundred bytes).
pub const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Status,
    /// Weight 0 now; out of the table (maintenance) once its connections end or `timeout` passes.
    Drain {
        vs: String,
        rs: String,
        #[serde(default)]
        timeout: Option<u64>,
    },
    /// Out of the table now (maintenance).
    Disable {
        vs: String,
        rs: String,
    },
    /// Back to its configured state (through slow start).
    Enable {
        vs: String,
        rs: String,
    },
    /// A runtime weight until `enable`.
    Weight {
        vs: String,
        rs: String,
        weight: u32,
    },
    Vrrp {
        instance: String,
        action: VrrpAction,
        #[serde(default)]
        force: bool,
    },
    Reload {
        #[serde(default)]
        dry_run: bool,
    },
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VrrpAction {
    /// Hand the VIPs over (priority 0 advert) and stay BACKUP until `resume`.
    Backup,
    Resume,
}

/// What a peer may do: root everything, the configured group only look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    Full,
}

impl Command {
    pub fn needs(&self) -> Access {
        match self {
            Command::Status | Command::Events | Command::Reload { dry_run: true } => {
                Access::ReadOnly
            }
            _ => Access::Full,
        }
    }

    /// A short name for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Drain { .. } => "drain",
            Command::Disable { .. } => "disable",
            Command::Enable { .. } => "enable",
            Command::Weight { .. } => "weight",
            Command::Vrrp { .. } => "vrrp",
            Command::Reload { dry_run: true } => "reload --dry-run",
            Command::Reload { dry_run: false } => "reload",
            Command::Events => "events",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    v: Option<u64>,
}

/// Reads one request line (without its newline). Errors are what the peer is told.
pub fn parse(line: &[u8]) -> Result<Command, String> {
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_string())?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the request is not JSON: {e}"))?;
    let env: Envelope = serde_json::from_value(value.clone())
        .map_err(|_| "expected a JSON object with \"v\" and \"cmd\"".to_string())?;
    match env.v {
        Some(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "protocol version {v} is not supported (this lvsd speaks {VERSION})"
            ))
        }
        None => return Err("the request has no protocol version \"v\"".into()),
    }
    let Value::Object(mut map) = value else {
        return Err("expected a JSON object".into());
    };
    map.remove("v");
    let cmd = map.get("cmd").and_then(Value::as_str).map(str::to_string);
    let keys: Vec<String> = map.keys().cloned().collect();
    let parsed: Command = serde_json::from_value(Value::Object(map)).map_err(|e| match &cmd {
        None => "the request has no \"cmd\"".to_string(),
        Some(c) => format!("command '{c}': {e}"),
    })?;
    // Commands without fields ignore extra ones in serde: every key must be one of the command's.
    if let Value::Object(known) = serde_json::to_value(&parsed).unwrap_or(Value::Null) {
        if let Some(k) = keys.iter().find(|k| !known.contains_key(*k)) {
            return Err(format!(
                "command '{}': unknown field `{k}`",
                cmd.unwrap_or_default()
            ));
        }
    }
    Ok(parsed)
}

/// Replies put "v" first, so a reader can tell the version before the (perhaps large) rest.
pub fn ok(result: Value) -> String {
    format!("{{\"v\":{VERSION},\"ok\":true,\"result\":{result}}}\n")
}

pub fn error(msg: &str) -> String {
    format!(
        "{{\"v\":{VERSION},\"ok\":false,\"error\":{}}}\n",
        Value::from(msg)
    )
}

pub fn event(ev: Value) -> String {
    format!("{{\"v\":{VERSION},\"event\":{ev}}}\n")
}

fn line(v: Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// A request as the client sends it.
pub fn request(cmd: &Command) -> String {
    let mut v = serde_json::to_value(cmd).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("v".into(), json!(VERSION));
    }
    line(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_round_trips_through_its_line() {
        for c in [
            Command::Status,
            Command::Drain {
                vs: "10.0.0.1:80".into(),
                rs: "10.0.0.2:8080".into(),
                timeout: Some(120),
            },
            Command::Disable {
                vs: "*".into(),
                rs: "10.0.0.2".into(),
            },
            Command::Enable {
                vs: "*".into(),
                rs: "10.0.0.2".into(),
            },
            Command::Weight {
                vs: "fwm:1".into(),
                rs: "10.0.0.2:0".into(),
                weight: 5,
            },
            Command::Vrrp {
                instance: "VI_1".into(),
                action: VrrpAction::Backup,
                force: true,
            },
            Command::Reload { dry_run: true },
            Command::Events,
        ] {
            let l = request(&c);
            assert!(l.ends_with('\n'));
            assert_eq!(parse(l.trim_end().as_bytes()), Ok(c));
        }
    }

    #[test]
    fn bad_requests_are_told_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"\xff", "not UTF-8"),
            (b"hello", "not JSON"),
            (b"[1,2]", "JSON object"),
            (br#"{"cmd":"status"}"#, "no protocol version"),
            (br#"{"v":2,"cmd":"status"}"#, "version 2 is not supported"),
            (br#"{"v":1}"#, "no \"cmd\""),
            (br#"{"v":1,"cmd":"explode"}"#, "command 'explode'"),
            (br#"{"v":1,"cmd":"drain","vs":"a"}"#, "missing field `rs`"),
            (br#"{"v":1,"cmd":"status","x":1}"#, "unknown field"),
            (
                br#"{"v":1,"cmd":"weight","vs":"a","rs":"b","weight":-1}"#,
                "command 'weight'",
            ),
            (
                br#"{"v":1,"cmd":"vrrp","instance":"VI_1","action":"fly"}"#,
                "command 'vrrp'",
            ),
        ];
        for (line, want) in cases {
            let e = parse(line).unwrap_err();
            assert!(e.contains(want), "{:?}: {e}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn replies_put_the_version_first_and_parse() {
        let r = ok(json!({"a": [1, 2]}));
        assert!(r.starts_with("{\"v\":1,\"ok\":true,\"result\":"), "{r}");
        let v: Value = serde_json::from_str(r.trim_end()).unwrap();
        assert_eq!(v["result"]["a"][1], 2);
        let e: Value = serde_json::from_str(error("bad \"x\"\n").trim_end()).unwrap();
        assert_eq!(
            (e["ok"].clone(), e["error"].clone()),
            (json!(false), json!("bad \"x\"\n"))
        );
        assert!(event(json!({"kind": "reload"})).starts_with("{\"v\":1,\"event\":"));
    }

    #[test]
    fn only_looking_is_read_only() {
        assert_eq!(Command::Status.needs(), Access::ReadOnly);
        assert_eq!(Command::Events.needs(), Access::ReadOnly);
        assert_eq!(Command::Reload { dry_run: true }.needs(), Access::ReadOnly);
        assert_eq!(Command::Reload { dry_run: false }.needs(), Access::Full);
        assert_eq!(
            Command::Disable {
                vs: "*".into(),
                rs: "x".into()
            }
            .needs(),
            Access::Full
        );
    }
}

//! `lvsd ctl`: one request to the daemon's control socket, its reply as a table or JSON.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;

use super::proto::{self, Command, VrrpAction};
use crate::cli::{CtlArgs, CtlCommand, CtlVrrpAction};

pub fn command(c: &CtlCommand) -> Command {
    match c {
        CtlCommand::Status => Command::Status,
        CtlCommand::Drain { vs, rs, timeout } => Command::Drain {
            vs: vs.clone(),
            rs: rs.clone(),
            timeout: *timeout,
        },
        CtlCommand::Disable { vs, rs } => Command::Disable {
            vs: vs.clone(),
            rs: rs.clone(),
        },
        CtlCommand::Enable { vs, rs } => Command::Enable {
            vs: vs.clone(),
            rs: rs.clone(),
        },
        CtlCommand::Weight { vs, rs, weight } => Command::Weight {
            vs: vs.clone(),
            rs: rs.clone(),
            weight: *weight,
        },
        CtlCommand::Vrrp {
            instance,
            action,
            force,
        } => Command::Vrrp {
            instance: instance.clone(),
            action: match action {
                CtlVrrpAction::Backup => VrrpAction::Backup,
                CtlVrrpAction::Resume => VrrpAction::Resume,
            },
            force: *force,
        },
        CtlCommand::Reload { dry_run } => Command::Reload { dry_run: *dry_run },
        CtlCommand::Events => Command::Events,
    }
}

/// Sends the command; exit 0 on success, 1 when lvsd answered with an error, 2 when it could not
/// be asked.
pub fn run(args: &CtlArgs, socket: &Path) -> ExitCode {
    let cmd = command(&args.command);
    let mut stream = match UnixStream::connect(socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "lvsd ctl: cannot connect to {}: {e} (is lvsd running? root only, or a control_group member)",
                socket.display()
            );
            return ExitCode::from(2);
        }
    };
    if let Err(e) = stream.write_all(proto::request(&cmd).as_bytes()) {
        eprintln!("lvsd ctl: sending: {e}");
        return ExitCode::from(2);
    }
    let mut lines = BufReader::new(stream).lines();
    let first = match lines.next() {
        Some(Ok(l)) => l,
        Some(Err(e)) => {
            eprintln!("lvsd ctl: reading the reply: {e}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("lvsd ctl: lvsd closed the connection without a reply");
            return ExitCode::from(2);
        }
    };
    // --json: a successful reply's result printed as it came (status can be megabytes).
    let ok_prefix = format!("{{\"v\":{},\"ok\":true,\"result\":", proto::VERSION);
    if args.json && !matches!(cmd, Command::Events) {
        if let Some(result) = first
            .strip_prefix(&ok_prefix)
            .and_then(|r| r.strip_suffix('}'))
        {
            println!("{result}");
            return ExitCode::SUCCESS;
        }
    }
    let reply: Value = match serde_json::from_str(&first) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("lvsd ctl: the reply is not JSON ({e}): {first}");
            return ExitCode::from(2);
        }
    };
    if reply["ok"] != Value::Bool(true) {
        if args.json {
            println!("{first}");
        }
        eprintln!(
            "lvsd ctl: {}",
            reply["error"]
                .as_str()
                .unwrap_or("lvsd refused the request")
        );
        return ExitCode::from(1);
    }
    if let Command::Events = cmd {
        // The first line says the stream is on: a script knows from it that no event is missed.
        if args.json {
            println!("{first}");
            let _ = std::io::stdout().flush();
        }
        for l in lines {
            let Ok(l) = l else { break };
            if args.json {
                println!("{l}");
            } else if let Ok(v) = serde_json::from_str::<Value>(&l) {
                println!("{}", event_line(&v["event"]));
            }
            let _ = std::io::stdout().flush();
        }
        return ExitCode::SUCCESS;
    }
    let result = &reply["result"];
    if args.json {
        println!("{result}");
    } else {
        print!("{}", human(&cmd, result));
    }
    ExitCode::SUCCESS
}

fn event_line(e: &Value) -> String {
    let mut parts = vec![format!("{:.3}", e["time"].as_f64().unwrap_or(0.0))];
    if let Some(m) = e.as_object() {
        for (k, v) in m {
            if k != "time" {
                parts.push(format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                ));
            }
        }
    }
    parts.join(" ")
}

fn human(cmd: &Command, v: &Value) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    match cmd {
        Command::Status => o = super::view::table(v),
        Command::Reload { .. } => {
            let _ = writeln!(
                o,
                "{}",
                if v["applied"] == Value::Bool(true) {
                    "reloaded:"
                } else {
                    "a reload would change (dry run, nothing applied):"
                }
            );
            let vrrp = v["vrrp"].as_array().cloned().unwrap_or_default();
            let _ = writeln!(
                o,
                "  VRRP: {}",
                if vrrp.is_empty() { "nothing" } else { "" }
            );
            for l in vrrp {
                let _ = writeln!(o, "    {}", l.as_str().unwrap_or_default());
            }
            match v["ipvs"]["operations"].as_u64() {
                Some(n) => {
                    let _ = writeln!(o, "  IPVS: {n} operation(s)");
                    for op in v["ipvs"]["ops"].as_array().into_iter().flatten() {
                        let _ = writeln!(o, "    {}", op.as_str().unwrap_or_default());
                    }
                }
                None => {
                    let _ = writeln!(
                        o,
                        "  IPVS: {}",
                        v["ipvs"]["note"].as_str().unwrap_or("not running")
                    );
                }
            }
            for (what, key) in [("added", "added"), ("removed", "removed")] {
                for c in v["checkers"][key].as_array().into_iter().flatten() {
                    let _ = writeln!(o, "  checker {what}: {}", c.as_str().unwrap_or_default());
                }
            }
        }
        Command::Vrrp { .. } => {
            let names: Vec<&str> = v["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let _ = writeln!(
                o,
                "{}: {}{}",
                names.join(", "),
                if v["held"] == Value::Bool(true) {
                    "held BACKUP"
                } else {
                    "resumed"
                },
                match v["new_master"].as_str() {
                    Some(m) => format!(
                        "; {m} took over after {:.2} s",
                        v["after_seconds"].as_f64().unwrap_or(0.0)
                    ),
                    None => String::new(),
                }
            );
        }
        _ => {
            for r in v["changed"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    o,
                    "{} of {}: {}{}",
                    r["rs"].as_str().unwrap_or_default(),
                    r["vs"].as_str().unwrap_or_default(),
                    r["state"].as_str().unwrap_or_default(),
                    match r["weight_now"].as_u64() {
                        Some(w) => format!(" (weight in IPVS {w})"),
                        None => " (not in IPVS)".to_string(),
                    }
                );
            }
        }
    }
    o
}

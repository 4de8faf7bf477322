//! The control socket's request line and the catch-up datagram.

use crate::config::model::Config;
use crate::config::{load, LoadOptions};
use crate::control::proto::{self, Command};
use crate::control::select;
use crate::director::catchup::Msg;
use std::sync::OnceLock;

/// A request line as the server reads it: a command it accepts is one the client can send, and
/// the servers it names are looked up in a configuration as the server does.
pub fn control(data: &[u8]) {
    let line = data.strip_suffix(b"\n").unwrap_or(data);
    let Ok(cmd) = proto::parse(line) else {
        return;
    };
    let again = proto::request(&cmd);
    let again = again.strip_suffix('\n').unwrap_or(&again);
    assert_eq!(
        proto::parse(again.as_bytes()).as_ref(),
        Ok(&cmd),
        "a request changed in a round trip"
    );
    let _ = (cmd.needs(), cmd.name());
    match &cmd {
        Command::Drain { vs, rs, .. }
        | Command::Disable { vs, rs }
        | Command::Enable { vs, rs }
        | Command::Weight { vs, rs, .. } => {
            if let Some(cfg) = servers() {
                let _ = select::resolve(cfg, vs, rs);
            }
        }
        _ => {}
    }
}

/// Virtual servers of every kind a request can name: by address (IPv4, IPv6, two protocols on
/// one address), fwmark and group.
fn servers() -> Option<&'static Config> {
    static CFG: OnceLock<Option<Config>> = OnceLock::new();
    CFG.get_or_init(|| {
        let text = "virtual_server_group G {\n 10.0.0.9 80\n}\n\
            virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.0.1.2 80 {\n }\n real_server 10.0.1.3 8080 {\n }\n}\n\
            virtual_server 10.0.0.1 80 {\n protocol UDP\n real_server 10.0.1.2 80 {\n }\n}\n\
            virtual_server fd00::1 443 {\n protocol TCP\n real_server fd00::2 443 {\n }\n}\n\
            virtual_server fwmark 7 {\n real_server 10.0.1.4 0 {\n }\n}\n\
            virtual_server group G {\n protocol TCP\n real_server 10.0.1.5 80 {\n }\n}\n";
        let dir = std::env::temp_dir().join(format!("lvsd-fuzz-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join("keepalived.conf");
        std::fs::write(&path, text).ok()?;
        let opts = LoadOptions {
            config_id: "main".into(),
            check_machine: false,
        };
        let cfg = load(&path, &opts).config;
        let _ = std::fs::remove_dir_all(&dir);
        cfg
    })
    .as_ref()
}

/// A catch-up datagram; what decodes encodes back to the same message.
pub fn catchup(data: &[u8]) {
    if let Some(m) = Msg::decode(data) {
        assert_eq!(
            Msg::decode(m.encode().as_bytes()),
            Some(m),
            "a catch-up message changed in a round trip"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_load_and_every_kind_resolves() {
        let cfg = servers().expect("the harness's configuration loads");
        assert_eq!(cfg.virtual_servers.len(), 5);
        for (vs, rs) in [
            ("tcp:10.0.0.1:80", "10.0.1.2"),
            ("[fd00::1]:tcp:443", "[fd00::2]:443"),
            ("fwm:7", "10.0.1.4"),
            ("group:G", "10.0.1.5:80"),
            ("*", "10.0.1.2"),
        ] {
            assert!(select::resolve(cfg, vs, rs).is_ok(), "{vs} {rs}");
        }
    }
}

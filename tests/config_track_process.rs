//! vrrp_track_process blocks as keepalived 2.2.7 reads them: implied settings, delays, quorum
//! bounds, and warnings for names that can never match, each at its place.

use lvsd::config::model::ParamMatch;
use lvsd::config::{load, LoadOptions, Severity};

fn load_text(text: &str) -> (lvsd::config::Loaded, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("tp.conf");
    std::fs::write(&f, text).expect("write config");
    let opts = LoadOptions {
        config_id: "test".into(),
        check_machine: false,
    };
    let loaded = load(&f, &opts);
    let rendered = loaded.render().join("\n");
    (loaded, rendered)
}

const INSTANCE: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority 100
    virtual_ipaddress {
        10.0.0.1/24
    }
    track_process {
        web
        cache
        nothing
    }
}
";

#[test]
fn implied_settings_and_delays_are_filled_in() {
    let text = format!(
        "vrrp_track_process web {{
    process /usr/sbin/nginx -g \"daemon off;\"
    weight -30 reverse
    delay 2.5
    fork_delay 0.5
}}
vrrp_track_process cache {{
    process varnishd
    param_match initial
    quorum 2
    quorum_max 4
    terminate_delay 3
}}
vrrp_track_process nothing {{
    process telnetd
    quorum_max 0
}}
{INSTANCE}"
    );
    let (loaded, rendered) = load_text(&text);
    let cfg = loaded.config.unwrap_or_else(|| panic!("{rendered}"));
    assert!(rendered.is_empty(), "no diagnostics: {rendered}");
    let [web, cache, nothing] = &cfg.track_processes[..] else {
        panic!("three blocks")
    };
    assert_eq!(web.process, "/usr/sbin/nginx");
    assert_eq!(web.params, ["-g", "daemon off;"]);
    assert!(web.full_command, "parameters imply full_command");
    assert_eq!(web.param_match, Some(ParamMatch::Exact));
    assert_eq!((web.weight, web.reverse), (-30, true));
    assert_eq!(
        web.fork_delay.0.as_millis(),
        500,
        "fork_delay after delay wins"
    );
    assert_eq!(web.terminate_delay.0.as_millis(), 2500);
    assert!(cache.full_command, "param_match implies full_command");
    assert_eq!(cache.param_match, Some(ParamMatch::Initial));
    assert_eq!((cache.quorum, cache.quorum_max), (2, Some(4)));
    assert_eq!(cache.weight, 0, "keepalived's default weight");
    assert_eq!(
        (
            cache.fork_delay.0.as_millis(),
            cache.terminate_delay.0.as_millis()
        ),
        (0, 3000)
    );
    assert_eq!(
        (nothing.quorum, nothing.quorum_max),
        (0, Some(0)),
        "up while none runs"
    );
    assert!(!nothing.full_command);
}

#[test]
fn names_that_never_match_and_keepalived_gaps_are_warned_at_their_place() {
    let text = "vrrp_track_process web {
    process a-very-long-process-name
}
vrrp_track_process cache {
    process /usr/sbin/varnishd
}
vrrp_track_process nothing {
    process sleep
    param_match exact
}
vrrp_track_process idle {
    process sleep
}
"
    .to_string()
        + INSTANCE;
    let (loaded, rendered) = load_text(&text);
    assert!(loaded.config.is_some(), "warnings only: {rendered}");
    let warnings: Vec<(u32, u32, &str)> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.span.line, d.span.col, d.message.as_str()))
        .collect();
    let has = |line: u32, col: u32, part: &str| {
        warnings
            .iter()
            .any(|(l, c, m)| (*l, *c) == (line, col) && m.contains(part))
    };
    assert!(
        has(2, 13, "the kernel keeps the first 15 bytes of a process name, so 'a-very-long-process-name' never matches"),
        "{rendered}"
    );
    assert!(
        has(
            5,
            13,
            "is compared with the process name (such as 'nginx'), not its path"
        ),
        "{rendered}"
    );
    assert!(
        has(9, 17, "keepalived 2.2.7 knows only 'initial' and 'partial'"),
        "{rendered}"
    );
    assert!(
        has(
            11,
            1,
            "vrrp_track_process idle is not tracked by any vrrp_instance or sync group"
        ),
        "{rendered}"
    );
    assert_eq!(warnings.len(), 4, "{rendered}");
    let cfg = loaded.config.unwrap();
    assert_eq!(cfg.track_processes[2].param_match, Some(ParamMatch::Exact));
    assert!(cfg.track_processes[2].full_command);
}

#[test]
fn quorum_below_one_and_a_second_process_line_are_errors() {
    let (loaded, rendered) = load_text(
        "vrrp_track_process web {\n    process nginx\n    process httpd\n    quorum 0\n}\n",
    );
    assert!(loaded.config.is_none());
    let errors: Vec<(u32, u32)> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.span.line, d.span.col))
        .collect();
    assert_eq!(errors, [(3, 5), (4, 12)], "{rendered}");
    assert!(rendered.contains("'process' is already set"), "{rendered}");
}

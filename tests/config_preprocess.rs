//! include, $VAR, @id and ~SEQ through the whole front end, with the places errors point at.

use lvsd::config::{load, Config, LoadOptions, Loaded};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

fn load_id(p: &Path, id: &str) -> Loaded {
    load(
        p,
        &LoadOptions {
            config_id: id.into(),
            check_machine: false,
        },
    )
}

fn ok(p: &Path, id: &str) -> Config {
    let l = load_id(p, id);
    let msgs = l.render();
    l.config.unwrap_or_else(|| panic!("errors: {msgs:#?}"))
}

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n";

#[test]
fn include_is_relative_to_the_including_file_with_globs_and_braces() {
    let d = tempfile::tempdir().expect("tmp");
    let main = write(
        d.path(),
        "etc/keepalived.conf",
        "global_defs { router_id main }\ninclude conf.d/*.conf\ninclude extra/{a,b}.inc\n",
    );
    write(d.path(), "etc/conf.d/10-vi.conf", INSTANCE);
    write(
        d.path(),
        "etc/conf.d/20-vs.conf",
        "include ../vs/web.part\n",
    );
    write(
        d.path(),
        "etc/vs/web.part",
        "virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 192.0.2.2 80 { weight 2 }\n}\n",
    );
    write(
        d.path(),
        "etc/extra/a.inc",
        "vrrp_script a {\n script /bin/true\n}\n",
    );
    write(
        d.path(),
        "etc/extra/b.inc",
        "vrrp_script b {\n script /bin/false\n}\n",
    );
    let c = ok(&main, "x");
    assert_eq!(c.global.router_id.as_deref(), Some("main"));
    assert_eq!(c.vrrp_instances.len(), 1);
    assert_eq!(c.virtual_servers[0].real_servers[0].weight, 2);
    let names: Vec<&str> = c.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
}

#[test]
fn errors_in_included_files_name_that_file_and_line() {
    let d = tempfile::tempdir().expect("tmp");
    let main = write(
        d.path(),
        "k.conf",
        "global_defs { router_id x }\ninclude inc/vi.conf\n",
    );
    let inc = write(
        d.path(),
        "inc/vi.conf",
        "\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 0\n}\n",
    );
    let l = load_id(&main, "x");
    assert!(l.config.is_none());
    let e = l.errors().next().expect("an error");
    assert_eq!(l.sources.path(e.span.file), inc.as_path());
    assert_eq!((e.span.line, e.span.col), (4, 21));
}

#[test]
fn include_loop_and_missing_include_are_errors_at_the_include_line() {
    let d = tempfile::tempdir().expect("tmp");
    let a = write(
        d.path(),
        "a.conf",
        "global_defs { router_id a }\ninclude b.conf\n",
    );
    write(d.path(), "b.conf", "\n\ninclude a.conf\n");
    let l = load_id(&a, "x");
    let e = l.errors().next().expect("loop error");
    assert!(e.message.contains("include loop"), "{}", e.message);
    assert!(
        e.message.contains("a.conf -> ") && e.message.contains("b.conf"),
        "{}",
        e.message
    );
    assert_eq!(
        l.sources.path(e.span.file),
        d.path().join("b.conf").as_path()
    );
    assert_eq!(e.span.line, 3);

    let m = write(
        d.path(),
        "m.conf",
        "global_defs { router_id a }\n\n  include nothere.conf\n",
    );
    let l = load_id(&m, "x");
    let e = l.errors().next().expect("missing error");
    assert!(e.message.contains("nothere.conf"), "{}", e.message);
    assert_eq!((e.span.line, e.span.col), (3, 3));

    // A pattern that matches nothing is only a warning, as an empty conf.d is normal.
    let g = write(
        d.path(),
        "g.conf",
        "global_defs { router_id a }\ninclude empty.d/*.conf\n",
    );
    let l = load_id(&g, "x");
    assert!(l.config.is_some());
    assert!(l
        .render()
        .iter()
        .any(|r| r.contains("warning: include: no file matches")));
}

#[test]
fn parameters_conditionals_and_sequences_build_the_model() {
    let d = tempfile::tempdir().expect("tmp");
    let text = r#"
@main $PRIO=150
@backup $PRIO=100
$VIP=192.0.2.
$RS= \
real_server 10.0.0.${N} 80 { \
    weight ${N} \
    @main inhibit_on_failure \
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    priority $PRIO
    virtual_ipaddress {
        ~SEQ(I, 1, 3) ${VIP}${I}/32
    }
}
virtual_server ${VIP}10 80 {
    protocol TCP
    ~SEQ(N, 1, 2, 5) $RS
}
"#;
    let p = write(d.path(), "k.conf", text);
    let main = ok(&p, "main");
    let vi = &main.vrrp_instances[0];
    assert_eq!(vi.priority, 150);
    let vips: Vec<String> = vi
        .virtual_ipaddress
        .iter()
        .map(|a| a.addr.to_string())
        .collect();
    assert_eq!(vips, vec!["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    let rs = &main.virtual_servers[0].real_servers;
    let got: Vec<(String, u32, bool)> = rs
        .iter()
        .map(|r| (r.ip.to_string(), r.weight, r.inhibit_on_failure))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10.0.0.1".into(), 1, true),
            ("10.0.0.3".into(), 3, true),
            ("10.0.0.5".into(), 5, true)
        ]
    );
    let backup = ok(&p, "backup");
    assert_eq!(backup.vrrp_instances[0].priority, 100);
    assert!(!backup.virtual_servers[0].real_servers[0].inhibit_on_failure);
}

#[test]
fn an_undefined_parameter_is_reported_where_it_is_used() {
    let d = tempfile::tempdir().expect("tmp");
    let p = write(
        d.path(),
        "k.conf",
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id $VRID\n}\n",
    );
    let l = load_id(&p, "x");
    let e = l.errors().next().expect("error");
    assert!(e.message.contains("found '$VRID'"), "{}", e.message);
    assert_eq!((e.span.line, e.span.col), (3, 21));
}

#[test]
fn comments_quotes_and_braces_on_the_next_line() {
    let d = tempfile::tempdir().expect("tmp");
    let text = "global_defs   # the globals\n{\n  router_id \"two words\" ! a comment\n  notification_email\n  {\n    'a@b.c' # x\n  }\n}\n";
    let p = write(d.path(), "k.conf", text);
    let c = ok(&p, "x");
    assert_eq!(c.global.router_id.as_deref(), Some("two words"));
    assert_eq!(c.global.notification_email, vec!["a@b.c"]);
}

#[test]
fn legacy_spellings_are_understood() {
    let d = tempfile::tempdir().expect("tmp");
    let text = "global_defs {\n lvs_id old\n}\nvrrp_instance VI_1 {\n state backup\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\nvirtual_server 192.0.2.1 80 {\n lb_algo rr\n lb_kind DR\n protocol TCP\n real_server 192.0.2.2 80 {\n  HTTP_GET {\n   url { path / }\n   nb_get_retry 4\n  }\n }\n}\n";
    let p = write(d.path(), "k.conf", text);
    let l = load_id(&p, "x");
    let warnings = l.render();
    let c = l.config.expect("accepted");
    assert_eq!(c.global.router_id.as_deref(), Some("old"));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("2:2: warning: 'lvs_id' is the old name of 'router_id'")),
        "{warnings:?}"
    );
    assert_eq!(
        c.vrrp_instances[0].state,
        lvsd::config::model::InitialState::Backup
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.lvs_sched, "rr");
    assert_eq!(vs.lvs_method, lvsd::config::model::LvsMethod::Dr);
    assert_eq!(vs.real_servers[0].checkers[0].retry, 4);
}

#[test]
fn unknown_keywords_warn_with_their_place_and_do_not_fail() {
    let d = tempfile::tempdir().expect("tmp");
    let p = write(
        d.path(),
        "k.conf",
        "global_defs {\n   router_id a\n   frobnicate 3\n}\n",
    );
    let l = load_id(&p, "x");
    assert!(l.config.is_some());
    let r = l.render();
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].ends_with("k.conf:3:4: warning: unknown keyword 'frobnicate' in global_defs; ignored"),
        "{}",
        r[0]
    );
}

#[test]
fn defaults_are_keepalived_defaults() {
    let d = tempfile::tempdir().expect("tmp");
    let text = format!("{INSTANCE}virtual_server 192.0.2.1 80 {{\n protocol TCP\n real_server 192.0.2.2 80 {{\n  TCP_CHECK {{ }}\n  }}\n}}\n");
    let p = write(d.path(), "k.conf", &text);
    let c = ok(&p, "x");
    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.advert_int.0.as_secs(), 1);
    assert_eq!(vi.version, 2);
    assert_eq!(vi.garp_master_delay.0.as_secs(), 5);
    assert_eq!(vi.garp_master_repeat, 5);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.delay_loop.0.as_secs(), 60);
    assert_eq!(vs.lvs_sched, "wlc");
    assert_eq!(vs.quorum, 1);
    let chk = &vs.real_servers[0].checkers[0];
    assert_eq!(chk.connect_timeout.0.as_secs(), 5);
    assert_eq!(chk.retry, 1);
    assert_eq!(chk.delay_before_retry.0.as_secs(), 1);
    assert_eq!(vs.real_servers[0].weight, 1);
}

/// `${_ENV NAME}` (keepalived 2.4.0) reads lvsd's own environment; an unset variable is replaced
/// by nothing, as keepalived, with a warning at its place.
#[test]
fn env_variables_come_from_lvsds_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "vrrp_instance VI_1 {\n interface ${_ENV LVSD_T_IFACE}\n virtual_router_id 1\n priority 1${_ENV LVSD_T_UNSET}20\n virtual_ipaddress { 192.0.2.1 }\n}\n";
    let p = write(dir.path(), "env.conf", text);
    let run = |env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"));
        c.args(["--dump-conf", "-f"]).arg(&p);
        c.env_remove("LVSD_T_UNSET").env_remove("LVSD_T_IFACE");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run lvsd")
    };
    let out = run(&[("LVSD_T_IFACE", "eth7")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let dump: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let vi = dump
        .pointer("/vrrp_instances/0")
        .or_else(|| dump.pointer("/model/vrrp_instances/0"))
        .expect("an instance");
    assert_eq!(vi["interface"], "eth7");
    assert_eq!(vi["priority"], 120);
    assert!(
        err.contains(&format!(
            "{}:4:12: warning: ${{_ENV LVSD_T_UNSET}}: the environment variable LVSD_T_UNSET is not set",
            p.display()
        )),
        "{err}"
    );
    // Without the interface variable the line has no value: an error at that line.
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2:"));
}

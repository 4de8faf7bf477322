//! `lvsd -t` on scale-out configurations: every part of the recipe an announced VIP's services
//! miss is a warning at its place (lvsd.conf(5), SCALE OUT), a NAT service of an announced VIP is
//! told to stay an active/backup pair, and the sample needs none of them.

use lvsd::config::{load, LoadOptions, Severity};
use std::path::{Path, PathBuf};

fn check(text: &str) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("k.conf");
    std::fs::write(&f, text).expect("write");
    let l = load(
        &f,
        &LoadOptions {
            config_id: "t".into(),
            check_machine: false,
        },
    );
    let lines = l
        .diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d.span.line,
                d.span.col,
                if d.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                },
                d.message
            )
        })
        .collect();
    (l.config.is_some(), lines)
}

fn has(lines: &[String], place: &str, part: &str) -> bool {
    lines
        .iter()
        .any(|l| l.starts_with(&format!("{place} ")) && l.contains(part))
}

#[test]
fn a_scale_out_config_missing_the_recipe_is_warned_at_each_place() {
    let (ok, w) = check(
        "bgp_announce {
    vip 192.0.2.10
    vip 192.0.2.20
}
virtual_server 192.0.2.10 80 {
    lvs_sched rr
    lvs_method DR
    protocol TCP
    real_server 192.0.2.21 80 {
    }
}
virtual_server 192.0.2.20 80 {
    lvs_sched mh
    lvs_method DR
    protocol TCP
    real_server 192.0.2.21 80 {
        inhibit_on_failure
    }
    real_server 192.0.2.22 80 {
    }
}
virtual_server 192.0.2.30 80 {
    lvs_sched rr
    lvs_method NAT
    protocol TCP
    real_server 10.0.0.2 80 {
    }
}
",
    );
    assert!(ok, "{w:?}");
    assert!(has(&w, "5:1", "lvs_sched is rr"), "{w:#?}");
    assert!(has(&w, "12:1", "without mh-port"), "{w:#?}");
    assert!(has(&w, "12:1", "without mh-fallback"), "{w:#?}");
    assert!(
        has(
            &w,
            "19:5",
            "real_server 192.0.2.22:80 without inhibit_on_failure"
        ),
        "{w:#?}"
    );
    assert!(has(&w, "1:1", "sloppy_tcp 1"), "{w:#?}");
    // A service that is not announced is none of bgp_announce's business.
    assert!(!w.iter().any(|l| l.starts_with("22:1 ")), "{w:#?}");
}

#[test]
fn an_announced_nat_service_stays_an_active_backup_pair() {
    let (ok, w) = check(
        "lvs_sysctl {
    sloppy_tcp 1
}
bgp_announce {
    vip 192.0.2.10
}
virtual_server 192.0.2.10 80 {
    lvs_sched mh
    mh-port
    mh-fallback
    lvs_method NAT
    protocol TCP
    inhibit_on_failure
    real_server 10.0.0.2 80 {
    }
}
",
    );
    assert!(ok, "{w:?}");
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        has(&w, "7:1", "NAT real server answers through one gateway"),
        "{w:#?}"
    );
    assert!(w[0].contains("active/backup pair with connection sync"));
}

#[test]
fn a_vip_in_a_virtual_server_group_range_is_served_and_defaults_apply() {
    let (ok, w) = check(
        "lvs_sysctl {
    sloppy_tcp 1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        192.0.2.100
    }
}
bgp_announce {
    vrrp_instance VI_1
    require_services all
    vip 192.0.2.12
    vip 2001:db8::10/128 require_services any vrrp_instance VI_1
}
virtual_server_group G {
    192.0.2.10-20 80
}
virtual_server group G {
    lvs_sched mh
    mh-port
    mh-fallback
    lvs_method DR
    protocol TCP
    inhibit_on_failure
    real_server 192.0.2.21 80 {
    }
}
virtual_server 2001:db8::10 80 {
    lvs_sched mh
    mh-port
    mh-fallback
    lvs_method TUN
    protocol TCP
    inhibit_on_failure
    real_server 2001:db8::21 80 {
    }
}
",
    );
    assert!(ok, "{w:?}");
    assert!(w.is_empty(), "{w:#?}");
}

#[test]
fn the_sample_needs_no_warning_of_the_recipe() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let f: PathBuf = root.join("conf.d/scaleout-dr-bgp.conf");
    let text = std::fs::read_to_string(f).expect("sample");
    let (ok, w) = check(&text);
    assert!(ok && w.is_empty(), "{w:#?}");
}

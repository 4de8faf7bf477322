//! Every sample in conf.d passes `lvsd -t`, and `--dump-conf` shows the values written in it.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn conf(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("conf.d")
        .join(name)
}

fn lvsd(args: &[&str], file: &PathBuf) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .arg("-f")
        .arg(file)
        .output()
        .expect("run lvsd")
}

fn dump(name: &str, id: &str) -> Value {
    let out = lvsd(&["--dump-conf", "-i", id], &conf(name));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn every_sample_passes_config_test_without_errors() {
    let mut n = 0;
    for entry in std::fs::read_dir(conf("")).expect("conf.d") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "conf") {
            continue;
        }
        n += 1;
        for id in ["lvs1", "web1", "redis1", "nat1", "v6a", "other"] {
            let out = lvsd(&["-t", "-i", id], &path);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{} -i {id}: {err}",
                path.display()
            );
            // Only machine-dependent warnings (interfaces of the target director) are expected.
            for line in err.lines() {
                assert!(
                    line.contains("does not exist on this machine"),
                    "{}: unexpected diagnostic: {line}",
                    path.display()
                );
            }
        }
    }
    assert!(n >= 7, "conf.d has {n} samples");
}

#[test]
fn nginx_sample_tracks_its_check_script() {
    let web1 = dump("nginx-hot-standby.conf", "web1");
    let web2 = dump("nginx-hot-standby.conf", "web2");
    let i = &web1["vrrp_instances"][0];
    assert_eq!(i["name"], "VI_NGINX");
    assert_eq!(i["virtual_router_id"], 51);
    assert_eq!(i["priority"], 110);
    assert_eq!(web2["vrrp_instances"][0]["priority"], 100);
    assert_eq!(i["state"], "BACKUP");
    assert_eq!(i["authentication"]["auth_type"], "PASS");
    assert_eq!(i["authentication"]["auth_pass"], "nginx51");
    assert_eq!(i["virtual_ipaddress"][0]["addr"], "192.0.2.10");
    assert_eq!(i["virtual_ipaddress"][0]["prefix"], 24);
    assert_eq!(i["virtual_ipaddress"][0]["label"], "eth0:vip");
    assert_eq!(i["track_script"][0]["name"], "chk_nginx");
    let s = &web1["vrrp_scripts"][0];
    assert_eq!(s["interval"], 2.0);
    assert_eq!(s["weight"], -20);
    assert_eq!((s["rise"].as_u64(), s["fall"].as_u64()), (Some(2), Some(2)));
    let cmd = s["script"]["command"].as_str().expect("command");
    assert!(cmd.ends_with("/conf.d/../scripts/check_nginx.sh"), "{cmd}");
    assert_eq!(web1["global"]["enable_script_security"], true);
}

#[test]
fn mysql_sample_checks_3306_and_notifies_down() {
    let d = dump("mysql-tcp-check.conf", "any");
    let vs = &d["virtual_servers"][0];
    assert_eq!(vs["key"]["ip"], "192.0.2.30");
    assert_eq!(vs["key"]["port"], 3306);
    assert_eq!(vs["protocol"], "TCP");
    assert_eq!(vs["lvs_sched"], "wrr");
    assert_eq!(vs["lvs_method"]["method"], "DR");
    assert_eq!(vs["persistence_timeout"], 50);
    assert_eq!(vs["delay_loop"], 2.0);
    let rs = &vs["real_servers"][0];
    assert_eq!(rs["weight"], 3);
    assert!(rs["notify_down"]["command"]
        .as_str()
        .expect("notify_down")
        .contains("mysql-down.sh 192.0.2.31"));
    let c = &rs["checkers"][0];
    assert_eq!(c["type"], "TCP_CHECK");
    assert_eq!(c["connect_port"], 3306);
    assert_eq!(c["connect_timeout"], 3.0);
    assert_eq!(c["retry"], 3);
    assert_eq!(c["delay_before_retry"], 1.0);
    assert_eq!(d["vrrp_instances"][0]["nopreempt"], true);
}

#[test]
fn redis_sample_has_per_node_unicast_and_notify_scripts() {
    let r1 = dump("redis-master-backup.conf", "redis1");
    let r2 = dump("redis-master-backup.conf", "redis2");
    let i1 = &r1["vrrp_instances"][0];
    let i2 = &r2["vrrp_instances"][0];
    assert_eq!(i1["unicast_src_ip"], "192.0.2.41");
    assert_eq!(i1["unicast_peer"].as_array().expect("peers").len(), 1);
    assert_eq!(i1["unicast_peer"][0]["addr"], "192.0.2.42");
    assert_eq!(i2["unicast_peer"][0]["addr"], "192.0.2.41");
    assert_eq!(
        (i1["priority"].as_u64(), i2["priority"].as_u64()),
        (Some(150), Some(100))
    );
    assert!(i1["notify"]["master"]["command"]
        .as_str()
        .expect("master")
        .ends_with("redis-notify.sh master 192.0.2.42"));
    assert!(i1["notify"]["backup"]["command"]
        .as_str()
        .expect("backup")
        .ends_with("redis-notify.sh backup 192.0.2.42"));
    assert!(i1["notify"]["fault"]["command"]
        .as_str()
        .expect("fault")
        .ends_with("redis-notify.sh fault"));
    assert!(i1["notify"]["stop"]["command"]
        .as_str()
        .expect("stop")
        .ends_with("redis-notify.sh stop"));
    assert_eq!(
        r1["global"]["vrrp_notify_fifo"]["command"],
        "/run/lvsd-redis.fifo"
    );
}

#[test]
fn dr_sample_has_wrr_persistence_and_http_checks() {
    let d = dump("lvs-dr-pair.conf", "lvs1");
    let b = dump("lvs-dr-pair.conf", "lvs2");
    assert_eq!(d["vrrp_instances"][0]["state"], "MASTER");
    assert_eq!(b["vrrp_instances"][0]["state"], "BACKUP");
    assert_eq!(d["global"]["notification_email"][0], "ops@example.com");
    assert_eq!(d["global"]["smtp_server"]["port"], 25);
    assert_eq!(d["global"]["lvs_sync_daemon"]["interface"], "eth0");
    assert_eq!(d["global"]["lvs_sync_daemon"]["instance"], "VI_WEB");
    assert_eq!(d["global"]["lvs_sync_daemon"]["sync_id"], 10);
    let vs = &d["virtual_servers"][0];
    assert_eq!(vs["lvs_sched"], "wrr");
    assert_eq!(vs["persistence_timeout"], 300);
    assert_eq!(vs["persistence_granularity"], "255.255.255.0");
    assert_eq!(
        (vs["quorum"].as_u64(), vs["hysteresis"].as_u64()),
        (Some(2), Some(1))
    );
    let weights: Vec<u64> = vs["real_servers"]
        .as_array()
        .expect("rs")
        .iter()
        .map(|r| r["weight"].as_u64().expect("w"))
        .collect();
    assert_eq!(weights, vec![3, 2, 1]);
    let url = &vs["real_servers"][1]["checkers"][0]["urls"][0];
    assert_eq!(url["path"], "/health");
    assert_eq!(url["status_code"][0], serde_json::json!([200, 299]));
    assert_eq!(
        vs["real_servers"][2]["checkers"][0]["urls"][0]["digest"],
        "9b3a0c85a887a256d6939da88aabd8cd"
    );
    assert_eq!(vs["real_servers"][0]["checkers"][0]["retry"], 2);
}

#[test]
fn nat_sample_syncs_both_vips_and_sets_timeouts() {
    let d = dump("lvs-nat-pair.conf", "nat1");
    assert_eq!(
        d["global"]["lvs_timeouts"],
        serde_json::json!({"tcp": 900, "tcpfin": 120, "udp": 300})
    );
    assert_eq!(
        d["sync_groups"][0]["group"],
        serde_json::json!(["VI_OUTSIDE", "VI_INSIDE"])
    );
    assert_eq!(d["vrrp_instances"][1]["sync_group"], "VG_NAT");
    assert_eq!(d["vrrp_instances"][1]["interface"], "eth1");
    // Connection sync on the inside LAN, following the outside instance (and its group).
    assert_eq!(d["global"]["lvs_sync_daemon"]["interface"], "eth1");
    assert_eq!(d["global"]["lvs_sync_daemon"]["instance"], "VI_OUTSIDE");
    assert_eq!(
        d["global"]["lvs_sysctl"]["sync_threshold"],
        serde_json::json!([3, 20])
    );
    assert_eq!(d["global"]["lvs_sync_catchup"]["timeout"], 10.0);
    let vs = &d["virtual_servers"][0];
    assert_eq!(vs["lvs_sched"], "rr");
    assert_eq!(vs["lvs_method"]["method"], "NAT");
    assert_eq!(vs["real_servers"][0]["port"], 8080);
    assert_eq!(vs["real_servers"][2]["inhibit_on_failure"], true);
    assert_eq!(vs["real_servers"][0]["inhibit_on_failure"], false);
    assert_eq!(vs["real_servers"][0]["checkers"][0]["connect_timeout"], 2.0);
}

#[test]
fn maintenance_sample_uses_dynamic_misc_checks() {
    let d = dump("maintenance-misc-check.conf", "x");
    let c = &d["virtual_servers"][0]["real_servers"][1]["checkers"][0];
    assert_eq!(c["type"], "MISC_CHECK");
    assert_eq!(c["misc_dynamic"], true);
    assert_eq!(c["misc_timeout"], 3.0);
    assert_eq!(
        c["retry"], 0,
        "MISC_CHECK retries default to 0 as in keepalived"
    );
    assert!(c["misc_path"]["command"]
        .as_str()
        .expect("path")
        .ends_with("rs-maintenance.sh 192.0.2.52 443 10"));
}

#[test]
fn ipv6_sample_is_vrrpv3_with_subsecond_adverts() {
    let d = dump("ipv6-vrrpv3.conf", "v6a");
    let i = &d["vrrp_instances"][0];
    assert_eq!(i["version"], 3);
    assert_eq!(i["advert_int"], 0.5);
    assert_eq!(i["priority"], 120);
    assert_eq!(i["virtual_ipaddress"][0]["addr"], "fe80::101");
    assert_eq!(i["virtual_ipaddress"][1]["prefix"], 64);
    let vs = &d["virtual_servers"][0];
    assert_eq!(vs["key"]["ip"], "2001:db8:10::10");
    assert_eq!(vs["real_servers"][1]["ip"], "2001:db8:10::22");
}

/// keepalived's own samples (Debian package) that keepalived itself accepts are accepted by lvsd too.
#[test]
fn keepalived_debian_samples_parse() {
    let dir = PathBuf::from("/usr/share/doc/keepalived/samples");
    if !dir.exists() {
        panic!("keepalived's samples are missing: install the keepalived package (the README test command does)");
    }
    let good = [
        "keepalived.conf.HTTP_GET.port",
        "keepalived.conf.IPv6",
        "keepalived.conf.PING_CHECK",
        "keepalived.conf.SMTP_CHECK",
        "keepalived.conf.UDP_CHECK",
        "keepalived.conf.fwmark",
        "keepalived.conf.inhibit",
        "keepalived.conf.misc_check",
        "keepalived.conf.misc_check_arg",
        "keepalived.conf.quorum",
        "keepalived.conf.sample",
        "keepalived.conf.status_code",
        "keepalived.conf.track_interface",
        "keepalived.conf.virtual_server_group",
        "keepalived.conf.virtualhost",
        "keepalived.conf.vrrp",
        "keepalived.conf.vrrp.localcheck",
        "keepalived.conf.vrrp.routes",
        "keepalived.conf.vrrp.scripts",
        "keepalived.conf.vrrp.static_ipaddress",
        "keepalived.conf.vrrp.sync",
    ];
    for name in good {
        let out = lvsd(&["-t"], &dir.join(name));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // This one is only valid with its config id, as its comment says.
    let out = lvsd(
        &["-t", "-i", "high"],
        &dir.join("keepalived.conf.conditional_conf"),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its VRRP instance uses auth_type AH, which lvsd does not implement: accepted, with a warning
    // that names the place and says the instance runs unauthenticated.
    let out = lvsd(&["-t"], &dir.join("keepalived.conf.SSL_GET"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("keepalived.conf.SSL_GET:20:19: warning: vrrp_instance VI_1: 'auth_type AH' is not supported by lvsd: this instance runs without authentication"),
        "{err}"
    );
    // Its sync group names its members outside a 'group { }' block: keepalived ignores the unknown
    // keywords and removes the empty group, and runs the rest; so does lvsd, saying so.
    let out = lvsd(&["-t"], &dir.join("keepalived.conf.vrrp.lvs_syncd"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("keepalived.conf.vrrp.lvs_syncd:3:1: warning: vrrp_sync_group VG1: no 'group { ... }' naming its instances; the sync group is ignored, as keepalived does"),
        "{err}"
    );
    // This one carries a malformed address (192.168.100./24), which lvsd refuses.
    let out = lvsd(&["-t"], &dir.join("keepalived.conf.vrrp.rules"));
    assert_eq!(
        out.status.code(),
        Some(5),
        "keepalived.conf.vrrp.rules should fail"
    );
}

#[test]
fn signum_prints_keepalived_numbers() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["--signum", "JSON"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "36");
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["--signum=RELOAD"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
}

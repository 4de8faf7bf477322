//! The optional HTTP server (metrics_listen / --metrics-listen): `/metrics` in Prometheus text
//! format and `/status` as JSON, both rendered from the snapshot on each request.

use std::cell::RefCell;
use std::convert::Infallible;
use std::fmt::Write;
use std::rc::Rc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tracing::{info, warn};

use super::dump::state_number;
use super::snapshot::Snapshot;

/// Binds and serves on the current LocalSet; a bad address or a busy port is logged, not fatal.
pub fn spawn(addr: &str, snap: Rc<RefCell<Snapshot>>) {
    let addr = addr.to_string();
    tokio::task::spawn_local(async move {
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                warn!("metrics: cannot listen on {addr}: {e}");
                return;
            }
        };
        // The address bound, not the one asked for: port 0 picks a free port, and this line
        // tells which (tests start lvsd that way).
        let bound = listener.local_addr().map_or(addr, |a| a.to_string());
        info!("metrics and status on http://{bound}/metrics and /status");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let snap = snap.clone();
            tokio::task::spawn_local(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let snap = snap.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let wants_ipvs =
                            path == "/metrics" && !snap.borrow().config.virtual_servers.is_empty();
                        // The counters live in the kernel: read them at scrape time, off this
                        // thread (netlink blocks), and skip them where IPVS cannot be read.
                        let kernel = if wants_ipvs {
                            tokio::task::spawn_blocking(ipvs_entries)
                                .await
                                .ok()
                                .flatten()
                        } else {
                            None
                        };
                        let extra = kernel
                            .map(|e| ipvs_metrics(&snap.borrow(), &e))
                            .unwrap_or_default();
                        Ok::<_, Infallible>(respond(&snap.borrow(), &path, &extra))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

pub type Entries = Vec<(ipvs::ServiceEntry, Vec<ipvs::DestEntry>)>;

/// The kernel's IPVS table with counters, or None where it cannot be read (no IPVS here).
pub fn ipvs_entries() -> Option<Entries> {
    let mut c = ipvs::Client::connect().ok()?;
    c.entries().ok()
}

/// `[10.0.0.1]:tcp:80` / `FWM 1`, as the snapshot labels virtual servers.
pub fn service_label(k: &ipvs::ServiceKey) -> String {
    match k {
        ipvs::ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("[{addr}]:{}:{port}", protocol.name().to_ascii_lowercase()),
        ipvs::ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

/// Per real server of lvsd's own virtual servers: IPVS connections, packets and bytes.
pub fn ipvs_metrics(sn: &Snapshot, entries: &Entries) -> String {
    // lvsd's own services, with the protocol their real servers are labelled with elsewhere in
    // /metrics (a fwmark service's too); the views are in the configuration's order.
    let ours: std::collections::HashMap<&str, &str> = sn
        .servers
        .iter()
        .zip(&sn.config.virtual_servers)
        .map(|(v, c)| (v.label.as_str(), super::snapshot::proto_name(c.protocol)))
        .collect();
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    let rows: Vec<(String, String, &ipvs::DestEntry)> = entries
        .iter()
        .filter_map(|(s, ds)| {
            let vs = service_label(&s.service.key);
            let proto = *ours.get(vs.as_str())?;
            Some((vs, proto, ds))
        })
        .flat_map(|(vs, proto, ds)| {
            ds.iter().map(move |d| {
                (
                    vs.clone(),
                    format!("[{}]:{proto}:{}", d.dest.addr, d.dest.port),
                    d,
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    type Get = fn(&ipvs::DestEntry) -> u64;
    let series: [(&str, &str, &str, Get); 7] = [
        (
            "lvsd_ipvs_active_connections",
            "gauge",
            "Active connections to the real server (IPVS)",
            |d| u64::from(d.active_conns),
        ),
        (
            "lvsd_ipvs_inactive_connections",
            "gauge",
            "Inactive connections to the real server (IPVS)",
            |d| u64::from(d.inactive_conns),
        ),
        (
            "lvsd_ipvs_connections_total",
            "counter",
            "Connections scheduled to the real server (IPVS)",
            |d| d.stats.map_or(0, |s| s.conns),
        ),
        (
            "lvsd_ipvs_packets_in_total",
            "counter",
            "Packets from clients to the real server (IPVS)",
            |d| d.stats.map_or(0, |s| s.inpkts),
        ),
        (
            "lvsd_ipvs_packets_out_total",
            "counter",
            "Packets from the real server to clients (IPVS)",
            |d| d.stats.map_or(0, |s| s.outpkts),
        ),
        (
            "lvsd_ipvs_bytes_in_total",
            "counter",
            "Bytes from clients to the real server (IPVS)",
            |d| d.stats.map_or(0, |s| s.inbytes),
        ),
        (
            "lvsd_ipvs_bytes_out_total",
            "counter",
            "Bytes from the real server to clients (IPVS)",
            |d| d.stats.map_or(0, |s| s.outbytes),
        ),
    ];
    for (name, kind, help, get) in series {
        f.head(name, kind, help);
        for (vs, rs, d) in &rows {
            f.line(name, &[("virtual_server", vs), ("real_server", rs)], get(d));
        }
    }
    out
}

/// `extra`: metrics read elsewhere (the kernel's IPVS counters), appended to /metrics.
fn respond(sn: &Snapshot, path: &str, extra: &str) -> Response<Full<Bytes>> {
    let (code, ctype, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics(sn) + extra,
        ),
        "/status" => (StatusCode::OK, "application/json", status(sn)),
        "/ready" if sn.ready() => (StatusCode::OK, "text/plain", "ready\n".into()),
        "/ready" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            format!(
                "not ready: {}\n",
                if sn.started {
                    "real servers wait for their first check"
                } else {
                    "starting"
                }
            ),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /status or /ready\n".into(),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// A label value with Prometheus' escapes.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn line(&mut self, name: &str, labels: &[(&str, &str)], v: u64) {
        let l: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {v}", l.join(","));
    }
}

/// Prometheus text exposition format 0.0.4.
pub fn metrics(sn: &Snapshot) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    type Get = fn(&super::snapshot::InstanceView) -> u64;
    let per_instance: [(&str, &str, &str, Get); 7] = [
        (
            "lvsd_vrrp_state",
            "gauge",
            "VRRP instance state: 0 init, 1 backup, 2 master, 3 fault",
            |i| u64::from(state_number(i.state)),
        ),
        (
            "lvsd_vrrp_base_priority",
            "gauge",
            "Configured VRRP priority",
            |i| u64::from(i.cfg.priority),
        ),
        (
            "lvsd_vrrp_effective_priority",
            "gauge",
            "VRRP priority after tracking",
            |i| u64::from(i.effective_priority),
        ),
        (
            "lvsd_vrrp_adverts_sent_total",
            "counter",
            "VRRP adverts sent",
            |i| i.stats.advert_sent,
        ),
        (
            "lvsd_vrrp_adverts_received_total",
            "counter",
            "VRRP adverts received",
            |i| i.stats.advert_rcvd,
        ),
        (
            "lvsd_vrrp_become_master_total",
            "counter",
            "Transitions to MASTER",
            |i| i.stats.become_master,
        ),
        (
            "lvsd_vrrp_release_master_total",
            "counter",
            "Transitions out of MASTER",
            |i| i.stats.release_master,
        ),
    ];
    for (name, kind, help, get) in per_instance {
        if sn.instances.is_empty() {
            break;
        }
        f.head(name, kind, help);
        for i in &sn.instances {
            f.line(name, &[("instance", &i.cfg.name)], get(i));
        }
    }
    let rejected =
        sn.instances.iter().any(|i| !i.stats.rejects.is_empty()) || !sn.rejects.is_empty();
    if rejected {
        let n = "lvsd_vrrp_rejected_packets_total";
        f.head(
            n,
            "counter",
            "VRRP packets discarded, by reason (instance \"\" when none matched)",
        );
        for i in &sn.instances {
            for (r, v) in &i.stats.rejects {
                f.line(n, &[("instance", &i.cfg.name), ("reason", r)], *v);
            }
        }
        for (r, v) in &sn.rejects {
            f.line(n, &[("instance", ""), ("reason", r)], *v);
        }
    }
    if sn.servers.iter().any(|v| !v.real_servers.is_empty()) {
        for (name, help) in [
            (
                "lvsd_real_server_up",
                "1 when the real server passes its health checks",
            ),
            (
                "lvsd_real_server_weight",
                "Weight of the real server while up",
            ),
        ] {
            f.head(name, "gauge", help);
            for vs in &sn.servers {
                for rs in &vs.real_servers {
                    let v = if name == "lvsd_real_server_up" {
                        u64::from(rs.alive)
                    } else {
                        u64::from(rs.weight)
                    };
                    f.line(
                        name,
                        &[("virtual_server", &vs.label), ("real_server", &rs.label)],
                        v,
                    );
                }
            }
        }
    }
    f.head(
        "lvsd_real_server_override",
        "gauge",
        "1 while an operator's setting (lvsd ctl) holds the real server, by mode",
    );
    f.head(
        "lvsd_real_server_slow_start",
        "gauge",
        "1 while the real server's weight still rises (slow_start)",
    );
    for vs in &sn.servers {
        for rs in &vs.real_servers {
            let labels = [
                ("virtual_server", vs.label.as_str()),
                ("real_server", rs.label.as_str()),
            ];
            if let Some(a) = &rs.admin {
                f.line(
                    "lvsd_real_server_override",
                    &[labels[0], labels[1], ("mode", a.name())],
                    1,
                );
            }
            f.line("lvsd_real_server_slow_start", &labels, u64::from(rs.rising));
        }
    }
    if let Some(d) = &sn.sync.daemon {
        f.head(
            "lvsd_sync_daemon_running",
            "gauge",
            "1 while the kernel runs this IPVS sync daemon for lvsd",
        );
        f.line(
            "lvsd_sync_daemon_running",
            &[("role", "master")],
            u64::from(d.master),
        );
        f.line(
            "lvsd_sync_daemon_running",
            &[("role", "backup")],
            u64::from(d.backup),
        );
        f.head(
            "lvsd_sync_catchups_total",
            "counter",
            "Connection-table catch-ups: served as master, asked for before preempting",
        );
        f.line(
            "lvsd_sync_catchups_total",
            &[("side", "served")],
            sn.sync.served.0,
        );
        f.line(
            "lvsd_sync_catchups_total",
            &[("side", "asked")],
            sn.sync.asked.0,
        );
        f.head(
            "lvsd_sync_catchup_entries_total",
            "counter",
            "Connection entries sent (served) or received (asked) by catch-ups",
        );
        f.line(
            "lvsd_sync_catchup_entries_total",
            &[("side", "served")],
            sn.sync.served.1,
        );
        f.line(
            "lvsd_sync_catchup_entries_total",
            &[("side", "asked")],
            sn.sync.asked.1,
        );
    }
    if let Some(b) = &sn.bgp {
        bgp_metrics(&mut f, b);
    }
    f.head("lvsd_reloads_total", "counter", "Configuration reloads");
    let _ = writeln!(f.out, "lvsd_reloads_total {}", sn.reloads);
    f.head(
        "lvsd_reload_failures_total",
        "counter",
        "Reloads refused because the new file had errors",
    );
    let _ = writeln!(f.out, "lvsd_reload_failures_total {}", sn.reload_failures);
    if let Some(ok) = sn.last_reload_ok {
        f.head(
            "lvsd_last_reload_success",
            "gauge",
            "1 if the last reload applied, 0 if it was refused",
        );
        let _ = writeln!(f.out, "lvsd_last_reload_success {}", u8::from(ok));
    }
    if !sn.latency.is_empty() {
        f.head(
            "lvsd_checker_duration_seconds",
            "histogram",
            "Duration of health-check probes by checker type",
        );
        for (kind, h) in &sn.latency {
            let mut cum = 0;
            for (i, n) in h.counts.iter().enumerate() {
                cum += n;
                let le = match super::snapshot::LATENCY_BOUNDS.get(i) {
                    Some(b) => b.to_string(),
                    None => "+Inf".to_string(),
                };
                let _ = writeln!(
                    f.out,
                    "lvsd_checker_duration_seconds_bucket{{type=\"{kind}\",le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(
                f.out,
                "lvsd_checker_duration_seconds_sum{{type=\"{kind}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                f.out,
                "lvsd_checker_duration_seconds_count{{type=\"{kind}\"}} {}",
                h.count
            );
        }
    }
    out
}

fn bgp_metrics(f: &mut Family, b: &super::BgpView) {
    f.head(
        "lvsd_bgp_bird_connected",
        "gauge",
        "1 while lvsd is connected to BIRD's control socket",
    );
    f.line(
        "lvsd_bgp_bird_connected",
        &[("socket", b.socket.as_str())],
        u64::from(b.connected),
    );
    f.head(
        "lvsd_bgp_liveness_interface_up",
        "gauge",
        "1 while the liveness interface every VIP route goes through is up",
    );
    f.line(
        "lvsd_bgp_liveness_interface_up",
        &[("interface", b.tie.as_str())],
        u64::from(b.tie_up),
    );
    let vips: Vec<(String, &super::BgpVipView)> =
        b.vips.iter().map(|v| (v.addr.to_string(), v)).collect();
    f.head(
        "lvsd_bgp_vip_announced",
        "gauge",
        "1 while lvsd wants the VIP announced (its services can serve it)",
    );
    for (a, v) in &vips {
        f.line(
            "lvsd_bgp_vip_announced",
            &[("vip", a), ("protocol", &v.protocol)],
            u64::from(v.announced),
        );
    }
    f.head(
        "lvsd_bgp_vip_bird_enabled",
        "gauge",
        "1 while BIRD confirmed the VIP's protocol enabled",
    );
    for (a, v) in &vips {
        f.line(
            "lvsd_bgp_vip_bird_enabled",
            &[("vip", a), ("protocol", &v.protocol)],
            u64::from(v.bird == "enabled"),
        );
    }
    f.head(
        "lvsd_bgp_vip_bird_refused",
        "gauge",
        "1 while BIRD refuses the last command for the VIP",
    );
    for (a, v) in &vips {
        f.line(
            "lvsd_bgp_vip_bird_refused",
            &[("vip", a), ("protocol", &v.protocol)],
            u64::from(v.bird.starts_with("refused")),
        );
    }
    f.head(
        "lvsd_bgp_vip_changes_total",
        "counter",
        "Times the VIP was announced or withdrawn",
    );
    for (a, v) in &vips {
        f.line(
            "lvsd_bgp_vip_changes_total",
            &[("vip", a), ("protocol", &v.protocol)],
            v.changes,
        );
    }
    f.head(
        "lvsd_bgp_vip_last_change_seconds",
        "gauge",
        "When the VIP was last announced or withdrawn (Unix time)",
    );
    for (a, v) in &vips {
        let t = v
            .since
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let _ = writeln!(
            f.out,
            "lvsd_bgp_vip_last_change_seconds{{vip=\"{}\",protocol=\"{}\"}} {t:.3}",
            esc(a),
            esc(&v.protocol)
        );
    }
}

/// The BGP announcer as JSON (/status, lvsd ctl status).
pub fn bgp_json(b: &Option<super::BgpView>) -> Value {
    let Some(b) = b else {
        return Value::Null;
    };
    let epoch = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    json!({
        "bird_socket": b.socket,
        "include_file": b.include_file,
        "connected": b.connected,
        "connected_since": epoch(b.connected_since),
        "error": b.bird_error,
        "liveness_interface": b.tie,
        "liveness_interface_up": b.tie_up,
        "liveness_interface_error": b.tie_error,
        "vips": b.vips.iter().map(|v| json!({
            "vip": v.addr.to_string(),
            "protocol": v.protocol,
            "announced": v.announced,
            "on_air": v.on_air(b),
            "since": epoch(v.since),
            "why": v.why,
            "bird": v.bird,
            "changes": v.changes,
            "virtual_servers": v.services,
            "vrrp_instance": v.vrrp_instance,
        })).collect::<Vec<_>>(),
    })
}

/// `/status`: instances and real servers as JSON.
pub fn status(sn: &Snapshot) -> String {
    let v = json!({
        "vrrp_instances": sn.instances.iter().map(|i| json!({
            "name": i.cfg.name,
            "state": i.state.to_string(),
            "base_priority": i.cfg.priority,
            "effective_priority": i.effective_priority,
            "adverts_sent": i.stats.advert_sent,
            "adverts_received": i.stats.advert_rcvd,
            "become_master": i.stats.become_master,
            "rejected": i.stats.rejects,
        })).collect::<Vec<_>>(),
        "virtual_servers": sn.servers.iter().map(|vs| json!({
            "name": vs.label,
            "real_servers": vs.real_servers.iter().map(|rs| json!({
                "name": rs.label, "up": rs.alive, "weight": rs.weight,
                "weight_now": rs.weight_now, "override": rs.admin, "slow_start": rs.rising,
            })).collect::<Vec<_>>(),
            "quorum_up": vs.quorum_up,
        })).collect::<Vec<_>>(),
        "reloads": sn.reloads,
        "ready": sn.ready(),
        "sync_daemon": sn.sync.daemon.as_ref().map(|d| json!({
            "interface": d.spec.interface,
            "follows": d.spec.follows,
            "syncid": d.spec.syncid,
            "running": sn.sync.role(),
            "master": d.master,
            "backup": d.backup,
            "since": sn.sync.since.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            "catchups_served": sn.sync.served.0,
            "catchups_asked": sn.sync.asked.0,
        })),
        "bgp": bgp_json(&sn.bgp),
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

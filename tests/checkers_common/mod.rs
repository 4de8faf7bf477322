//! Shared helpers for the checker tests: configs built from text, and small real servers on loopback.
#![allow(dead_code)]

use lvsd::check::Probe;
use lvsd::config::model::Config;
use lvsd::config::{load, LoadOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Parses a keepalived.conf text (must be valid).
pub fn config(text: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let loaded = load(
        &path,
        &LoadOptions {
            config_id: String::new(),
            check_machine: false,
        },
    );
    let rendered = loaded.render();
    loaded
        .config
        .unwrap_or_else(|| panic!("config does not load: {rendered:?}\n{text}"))
}

/// keepalived.conf is line-based; tests write short blocks on one line, with `;` between keywords:
/// `TCP_CHECK { connect_timeout 1; connect_port 80 }`.
pub fn lines(compact: &str) -> String {
    compact
        .replace("{ ", "{\n")
        .replace(" }", "\n}")
        .replace("; ", "\n")
}

/// The probe of a single checker block on real server `rs` ("127.0.0.1 8080"), with `top` above.
pub fn probe_with(top: &str, rs: &str, block: &str) -> Probe {
    let vip = if rs.contains(':') {
        "fd00::1"
    } else {
        "10.0.0.1"
    };
    let cfg = config(&format!(
        "{top}\nvirtual_server {vip} 80 {{\n  protocol TCP\n  real_server {rs} {{\n{}\n  }}\n}}\n",
        lines(block)
    ));
    let rs = &cfg.virtual_servers[0].real_servers[0];
    Probe::build(&cfg, rs, &rs.checkers[0]).expect("probe builds")
}

pub fn probe(rs: &str, block: &str) -> Probe {
    probe_with("", rs, block)
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn closed_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A minimal HTTP/1.0 server: `routes` maps a path to (status, body); "/slow" never answers.
/// Returns its port and the requests it received.
pub async fn http_server(
    routes: Vec<(&'static str, u16, &'static str)>,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let routes = routes.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).into_owned();
                let path = text.split(' ').nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(text);
                if path == "/slow" {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let (code, body) = routes
                    .iter()
                    .find(|r| r.0 == path)
                    .map(|r| (r.1, r.2))
                    .unwrap_or((404, "not found"));
                let resp = format!(
                    "HTTP/1.0 {code} Whatever\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:port.
pub fn wait_listening(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `python3 -m http.server` serving `dir` on a free port.
pub fn python_http(dir: &Path) -> (Proc, u16) {
    let port = closed_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let p = Proc(child);
    wait_listening(port);
    (p, port)
}

/// `openssl s_server -WWW` (a real TLS server) serving `dir` with a fresh self-signed certificate.
pub fn tls_server(dir: &Path) -> (Proc, u16) {
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=lvsd-test",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success(), "openssl req");
    let port = closed_port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "cert.pem",
            "-key",
            "key.pem",
            "-WWW",
            "-quiet",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server runs");
    let p = Proc(child);
    wait_listening(port);
    (p, port)
}

/// A UDP echo server; returns its port.
pub async fn udp_echo() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = s.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    port
}

/// A UDP socket that receives and never answers; kept alive by the returned handle.
pub async fn udp_silent() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

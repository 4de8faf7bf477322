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

/// Writes an executable (0755) file, through a child process. A file this process had open for
/// writing would be inherited by any child that a test running beside this one forks meanwhile,
/// and exec(2) of the file fails with ETXTBSY until that child has exec'd in turn.
pub fn write_executable(path: &Path, text: &str) {
    let st = Command::new("sh")
        .args(["-c", "printf %s \"$2\" > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .arg(text)
        .status()
        .expect("sh runs");
    assert!(st.success(), "cannot write {}", path.display());
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

/// A TCP port on 127.0.0.1 that refuses connections for as long as this lives, and that no other
/// socket can take meanwhile: it is bound but not listening, without SO_REUSEADDR. (A port bound
/// and released could be handed to a server of a test running in parallel.)
pub struct ClosedPort(socket2::Socket);

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        ClosedPort(s)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().as_socket().unwrap().port()
    }

    /// The server comes up on the very same port: the socket starts listening.
    pub fn listen(self) -> std::net::TcpListener {
        self.0.listen(128).unwrap();
        self.0.into()
    }
}

/// A UDP port on 127.0.0.1 that answers every datagram with ICMP port unreachable for as long as
/// this lives, and that no other socket can take meanwhile: the socket holding it is connected to
/// its own address, so datagrams from any other port match no socket.
pub struct ClosedUdpPort(std::net::UdpSocket);

impl ClosedUdpPort {
    pub fn new() -> ClosedUdpPort {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.connect(s.local_addr().unwrap()).unwrap();
        ClosedUdpPort(s)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
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

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Reads the child's stdout until a line for which `port_of` finds the port it listens on (the
/// server has bound and listens by then); the rest of its stdout is drained by a thread so that
/// the server never blocks on a full pipe.
fn reported_port(child: &mut Child, what: &str, port_of: impl Fn(&str) -> Option<u16>) -> u16 {
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("{what} exited without reporting its port; its output: {seen:?}");
        }
        if let Some(port) = port_of(&line) {
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return port;
        }
        seen.push_str(&line);
    }
}

/// `python3 -m http.server` serving `dir` on a port of its own choosing (port 0), which it reports.
pub fn python_http(dir: &Path) -> (Proc, u16) {
    let child = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let mut p = Proc(child);
    // "Serving HTTP on 127.0.0.1 port 39781 (http://127.0.0.1:39781/) ..."
    let port = reported_port(&mut p.0, "python3 -m http.server", |l| {
        l.split(" port ").nth(1)?.split(' ').next()?.parse().ok()
    });
    (p, port)
}

/// `openssl s_server -WWW` (a real TLS server) serving `dir` with a fresh self-signed certificate,
/// on a port of its own choosing (port 0), which it reports.
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
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-cert",
            "cert.pem",
            "-key",
            "key.pem",
            "-WWW",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server runs");
    let mut p = Proc(child);
    // "ACCEPT 127.0.0.1:45575"
    let port = reported_port(&mut p.0, "openssl s_server", |l| {
        l.strip_prefix("ACCEPT ")?
            .trim()
            .rsplit(':')
            .next()?
            .parse()
            .ok()
    });
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

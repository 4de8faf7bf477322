//! HTTP_GET / SSL_GET beyond keepalived 2.2.7's request: method, headers and Basic credentials as a
//! real server receives them, keepalived's one url per check with fast_recovery seen in the order
//! of the requests, certificate verification against openssl-made CAs, the SNI name a TLS server
//! reads from the ClientHello, and tls_compliant's close_notify. All on loopback.

mod checkers_common;
use checkers_common::*;
use lvsd::check::{CheckEvent, EventKind, Runner};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PASSWORD: &str = "Op3n-S3same!";
/// base64("monitor:Op3n-S3same!")
const BASIC: &str = "Basic bW9uaXRvcjpPcDNuLVMzc2FtZSE=";

/// An HTTP/1.0 server that records each request (in arrival order) and answers 200, except that
/// the path in `failing` gets 503 while `fail` is set.
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    fail: Arc<AtomicBool>,
}

impl Recorder {
    async fn start(failing: &'static str) -> Recorder {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicBool::new(false));
        let (log, flag) = (requests.clone(), fail.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (log, flag) = (log.clone(), flag.clone());
                tokio::spawn(async move {
                    let Some(req) = read_head(&mut s).await else {
                        return;
                    };
                    let path = req.split(' ').nth(1).unwrap_or("").to_string();
                    log.lock().unwrap().push(req);
                    let code = if path == failing && flag.load(Ordering::SeqCst) {
                        503
                    } else {
                        200
                    };
                    let resp = format!("HTTP/1.0 {code} X\r\nContent-Length: 2\r\n\r\nok");
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        Recorder {
            port,
            requests,
            fail,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.split(' ').nth(1).unwrap_or("").to_string())
            .collect()
    }

    /// Waits (at most 20 s) until `n` requests have come.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let paths = self.paths();
            if paths.len() >= n {
                return paths;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {paths:?} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&req).into_owned())
}

/// The next health event (not the first-verdict marker), within 20 s.
async fn next(rx: &mut mpsc::Receiver<CheckEvent>) -> CheckEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("an event within 20 s")
            .expect("runner alive");
        if e.kind != EventKind::Checked {
            return e;
        }
    }
}

fn one_server(port: u16, vs_opts: &str, checker: &str) -> String {
    lines(&format!(
        "virtual_server 10.0.0.1 80 {{ protocol TCP; {vs_opts}; \
         real_server 127.0.0.1 {port} {{ {checker} }} }}"
    ))
}

#[tokio::test]
async fn method_headers_and_basic_credentials_reach_the_server() {
    let srv = Recorder::start("").await;
    let p = probe(
        &format!("127.0.0.1 {}", srv.port),
        &format!(
            "HTTP_GET {{ connect_timeout 2; url {{ path /head; method HEAD; header X-Probe lvsd; \
             header Accept \"application/json\" }}; url {{ path /auth; username monitor; \
             password \"{PASSWORD}\"; header User-Agent probe/1 }}; url {{ path /post; method POST }} }}"
        ),
    );
    for step in 0..3 {
        let o = p.run_step(step).await;
        assert!(o.ok, "url {step}: {o:?}");
    }
    let reqs = srv.requests();
    let lower: Vec<String> = reqs.iter().map(|r| r.to_ascii_lowercase()).collect();
    assert!(
        reqs[0].starts_with("HEAD /head HTTP/1.0\r\n"),
        "{}",
        reqs[0]
    );
    assert!(reqs[0].contains("\r\nX-Probe: lvsd\r\n"), "{}", reqs[0]);
    assert!(reqs[0].contains("\r\nAccept: application/json\r\n"));
    assert!(lower[0].contains("user-agent: keepaliveclient\r\n"));
    assert!(!lower[0].contains("authorization"), "no credentials there");
    assert!(reqs[1].starts_with("GET /auth HTTP/1.0\r\n"), "{}", reqs[1]);
    assert!(
        reqs[1].contains(&format!("\r\nAuthorization: {BASIC}\r\n")),
        "{}",
        reqs[1]
    );
    assert!(reqs[1].contains("\r\nUser-Agent: probe/1\r\n"), "replaced");
    assert!(!lower[1].contains("keepaliveclient"), "{}", reqs[1]);
    assert!(
        reqs[2].starts_with("POST /post HTTP/1.0\r\n"),
        "{}",
        reqs[2]
    );
    assert!(reqs[2].contains("\r\nContent-Length: 0\r\n"), "{}", reqs[2]);
}

/// A tracing writer that keeps every line logged while it is the default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_are_never_logged_nor_dumped() {
    let srv = Recorder::start("/auth").await;
    srv.fail.store(true, Ordering::SeqCst);
    let text = one_server(
        srv.port,
        "delay_loop 0.2; warmup 0",
        &format!(
            "HTTP_GET {{ connect_timeout 2; retry 1; delay_before_retry 0.1; url {{ path /auth; \
             username monitor; password \"{PASSWORD}\" }} }}"
        ),
    );
    // The checker's own log lines, at every level, while it fails and is retried.
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let cfg = config(&text);
    let (tx, mut rx) = mpsc::channel(16);
    let runner = Runner::start(&cfg, tx).unwrap();
    let _initial = next(&mut rx).await;
    let down = next(&mut rx).await;
    assert_eq!(down.kind, EventKind::Down, "{down:?}");
    runner.shutdown().await;
    drop(guard);
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("url(/auth)"),
        "the failure is logged: {logged}"
    );
    let secret = BASIC.trim_start_matches("Basic ");
    for leak in [PASSWORD, secret] {
        assert!(!logged.contains(leak), "{leak} in the log:\n{logged}");
        assert!(!format!("{cfg:?}").contains(leak), "{leak} in Debug");
        assert!(!down.reason.contains(leak));
    }
    assert!(
        srv.requests()[0].contains(&format!("Authorization: {BASIC}\r\n")),
        "yet the server got them"
    );

    // --dump-conf and lvsd -t.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("keepalived.conf");
    std::fs::write(&f, &text).unwrap();
    let dump = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("--dump-conf")
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap();
    assert!(dump.status.success(), "{dump:?}");
    let out = String::from_utf8_lossy(&dump.stdout);
    assert!(out.contains("\"password\": \"<redacted>\""), "{out}");
    assert!(out.contains("\"username\": \"monitor\""), "{out}");
    assert!(!out.contains(PASSWORD) && !String::from_utf8_lossy(&dump.stderr).contains(PASSWORD));
    // A broken line next to the password: the diagnostic does not quote it.
    std::fs::write(
        &f,
        text.replace("username monitor", "username \"mon:itor\""),
    )
    .unwrap();
    let t = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&t.stderr);
    assert_eq!(t.status.code(), Some(5), "{err}");
    assert!(
        err.contains("'username': expected a user name without ':'"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    // Nor a word of an unquoted password with a space.
    std::fs::write(&f, text.replace(&format!("\"{PASSWORD}\""), "Op3n S3same")).unwrap();
    let t = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .arg("-f")
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&t.stderr);
    assert_eq!(t.status.code(), Some(5), "{err}");
    assert!(err.contains("'password': expected one word"), "{err}");
    assert!(!err.contains("S3same") && !err.contains("Op3n"), "{err}");
}

#[tokio::test]
async fn one_url_per_delay_loop_in_order() {
    let srv = Recorder::start("").await;
    let cfg = config(&one_server(
        srv.port,
        "delay_loop 0.2; warmup 0",
        "HTTP_GET { connect_timeout 2; url { path /a }; url { path /b }; url { path /c } }",
    ));
    let (tx, _rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    let paths = srv.wait_for(7).await;
    assert_eq!(paths[..7], ["/a", "/b", "/c", "/a", "/b", "/c", "/a"]);
    runner.shutdown().await;
}

#[tokio::test]
async fn fast_recovery_runs_a_round_without_waiting_for_delay_loop() {
    // alpha: down until a whole round passed. With a delay_loop of an hour, only fast_recovery
    // can bring it up within the test's deadline.
    let srv = Recorder::start("").await;
    let cfg = config(&one_server(
        srv.port,
        "delay_loop 3600; warmup 0",
        "alpha; HTTP_GET { connect_timeout 2; fast_recovery; url { path /a }; url { path /b }; url { path /c } }",
    ));
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Down, "alpha start");
    let up = next(&mut rx).await;
    assert_eq!(up.kind, EventKind::Up, "{up:?}");
    assert_eq!(srv.paths(), ["/a", "/b", "/c"]);
    runner.shutdown().await;
}

#[tokio::test]
async fn a_failed_url_is_fetched_again_then_the_round_restarts() {
    let srv = Recorder::start("/b").await;
    srv.fail.store(true, Ordering::SeqCst);
    let cfg = config(&one_server(
        srv.port,
        "delay_loop 0.3; warmup 0",
        "HTTP_GET { connect_timeout 2; retry 0; fast_recovery; url { path /a }; url { path /b }; url { path /c } }",
    ));
    let (tx, mut rx) = mpsc::channel(64);
    let runner = Runner::start(&cfg, tx).unwrap();
    assert_eq!(next(&mut rx).await.kind, EventKind::Up, "initial state");
    let down = next(&mut rx).await;
    assert_eq!(down.kind, EventKind::Down);
    assert!(down.reason.contains("url(/b)"), "{}", down.reason);
    // While down only the failed url is fetched.
    let seen = srv.wait_for(4).await;
    srv.fail.store(false, Ordering::SeqCst);
    let up = next(&mut rx).await;
    assert_eq!(up.kind, EventKind::Up, "{up:?}");
    let paths = srv.paths();
    let fails = paths.len() - 4;
    assert_eq!(paths[..2], ["/a", "/b"], "{paths:?}");
    assert!(paths[2..fails].iter().all(|p| p == "/b"), "{paths:?}");
    assert!(fails >= 3 && seen.len() >= 4, "{paths:?}");
    assert_eq!(
        paths[fails..],
        ["/b", "/a", "/b", "/c"],
        "the failed url passes, then a whole round from the first: {paths:?}"
    );
    runner.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// TLS: a CA and a server certificate made by the openssl CLI.

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// ca.pem (signs srv.pem: SAN www.example.test and 127.0.0.1), other-ca.pem (signs nothing).
fn pki(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN=lvsd test {ca}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    issue(
        dir,
        "srv",
        "/CN=www.example.test",
        "subjectAltName=DNS:www.example.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
}

/// NAME.key and NAME.pem: a P-256 key and its certificate for SUBJ signed by ca.pem, with the
/// extensions EXT.
fn issue(dir: &Path, name: &str, subj: &str, ext: &str) {
    let (key, csr, pem, extfile) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subj,
        ],
    );
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
}

/// `openssl s_server -WWW` with srv.pem, serving `dir`; reports its port.
fn s_server(dir: &Path) -> (Proc, u16) {
    s_server_with(dir, &[])
}

fn s_server_with(dir: &Path, extra: &[&str]) -> (Proc, u16) {
    use std::io::BufRead;
    let mut child = Proc(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-cert",
                "srv.pem",
                "-key",
                "srv.key",
                "-WWW",
            ])
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server runs"),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "s_server ended");
        // "ACCEPT 127.0.0.1:45575"
        if let Some(port) = line
            .strip_prefix("ACCEPT ")
            .and_then(|a| a.trim().rsplit(':').next()?.parse().ok())
        {
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
            return (child, port);
        }
    }
}

#[tokio::test]
async fn ssl_get_verifies_the_certificate_only_when_asked() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    std::fs::write(dir.path().join("health"), "fine\n").unwrap();
    let (_srv, port) = s_server(dir.path());
    let d = dir.path().display();
    let run = |opts: String| {
        let p = probe(
            &format!("127.0.0.1 {port}"),
            &format!("SSL_GET {{ connect_timeout 3; {opts}; url {{ path /health }} }}"),
        );
        async move { p.run().await }
    };
    // keepalived's default: any certificate.
    let o = run("tls_verify_name nobody.example.test; sni_name x.example.test".to_string()).await;
    assert!(o.ok, "no verification by default: {o:?}");
    // The right CA and the name in the certificate (SNI name, then the address).
    let o = run(format!(
        "tls_verify_ca {d}/ca.pem; sni_name www.example.test"
    ))
    .await;
    assert!(o.ok, "right CA, right name: {o:?}");
    let o = run(format!("tls_verify_ca {d}/ca.pem")).await;
    assert!(o.ok, "without SNI the address is checked (IP SAN): {o:?}");
    // Another CA.
    let o = run(format!(
        "tls_verify_ca {d}/other-ca.pem; sni_name www.example.test"
    ))
    .await;
    assert!(!o.ok);
    assert!(o.reason.contains("TLS handshake"), "{}", o.reason);
    assert!(
        o.reason.to_lowercase().contains("unknownissuer"),
        "{}",
        o.reason
    );
    // The right CA, a name the certificate does not carry.
    for opts in [
        "sni_name other.example.test".to_string(),
        "sni_name www.example.test; tls_verify_name other.example.test".to_string(),
    ] {
        let o = run(format!("tls_verify_ca {d}/ca.pem; {opts}")).await;
        assert!(!o.ok, "{opts}");
        assert!(
            o.reason.contains("certificate not valid for name"),
            "{opts}: {}",
            o.reason
        );
    }
    // The name checked may differ from the one sent.
    let o = run(format!(
        "tls_verify_ca {d}/ca.pem; sni_name other.example.test; tls_verify_name www.example.test"
    ))
    .await;
    assert!(o.ok, "{o:?}");
}

/// What a TLS server saw of one connection.
#[derive(Debug, Clone)]
struct TlsSeen {
    sni: Option<String>,
    request: String,
    close_notify: bool,
}

/// A rustls server with srv.pem: records the ClientHello's server name, the request, and whether
/// the client ended with close_notify (a clean end of stream) or just closed the connection.
async fn recording_tls_server(dir: &Path) -> (u16, Arc<Mutex<Vec<TlsSeen>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("srv.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("srv.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (config, log) = (config.clone(), log.clone());
            tokio::spawn(async move {
                let acceptor =
                    tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
                let Ok(start) = acceptor.await else { return };
                let sni = start.client_hello().server_name().map(str::to_string);
                let Ok(mut tls) = start.into_stream(config).await else {
                    return;
                };
                let Some(request) = read_head(&mut tls).await else {
                    return;
                };
                let _ = tls
                    .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                let _ = tls.flush().await;
                // Ok(0) only after close_notify; a bare TCP close is UnexpectedEof.
                let mut rest = Vec::new();
                let close_notify = tls.read_to_end(&mut rest).await.is_ok();
                log.lock().unwrap().push(TlsSeen {
                    sni,
                    request,
                    close_notify,
                });
            });
        }
    });
    (port, seen)
}

/// Waits (at most 10 s) for the server's record of connection `i`.
async fn record(seen: &Arc<Mutex<Vec<TlsSeen>>>, i: usize) -> TlsSeen {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = seen.lock().unwrap().get(i) {
            return s.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no connection {i}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn sni_name_reaches_the_server_and_tls_compliant_sends_close_notify() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let (port, seen) = recording_tls_server(dir.path()).await;
    let rs = format!("127.0.0.1 {port}");
    let cases = [
        ("url { path /plain }", None, false),
        (
            "enable_sni; virtualhost www.example.test; url { path /vhost }",
            Some("www.example.test"),
            false,
        ),
        (
            "sni_name sni.example.test; virtualhost www.example.test; url { path /sni }",
            Some("sni.example.test"),
            false,
        ),
        // keepalived: a url's virtualhost is its SNI name when no sni_name is set.
        (
            "enable_sni; url { path /u; virtualhost url.example.test }",
            Some("url.example.test"),
            false,
        ),
        ("tls_compliant; url { path /tc }", None, true),
        ("url { path /utc; tls_compliant }", None, true),
    ];
    for (i, (block, sni, close_notify)) in cases.iter().enumerate() {
        let o = probe(&rs, &format!("SSL_GET {{ connect_timeout 3; {block} }}"))
            .run()
            .await;
        assert!(o.ok, "{block}: {o:?}");
        let s = record(&seen, i).await;
        assert_eq!(s.sni.as_deref(), *sni, "{block}: {s:?}");
        assert_eq!(s.close_notify, *close_notify, "{block}: {s:?}");
        assert!(s.request.starts_with("GET /"), "{s:?}");
    }
}

#[test]
fn keepalived_2_2_7_knows_fast_recovery_and_enable_sni_only() {
    if !Path::new("/usr/sbin/keepalived").exists() {
        eprintln!("keepalived not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("keepalived.conf");
    let t = |text: &str| {
        std::fs::write(&f, lines(text)).unwrap();
        let ka = Command::new("/usr/sbin/keepalived")
            .args(["-t", "-l", "-f"])
            .arg(&f)
            .output()
            .unwrap();
        let lv = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("-t")
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        let ka_text = format!(
            "{}{}",
            String::from_utf8_lossy(&ka.stdout),
            String::from_utf8_lossy(&ka.stderr)
        );
        (ka.status.code(), ka_text, lv)
    };
    let wrap = |checker: &str| {
        format!(
            "virtual_server 192.0.2.1 443 {{ protocol TCP; lb_algo rr; lb_kind NAT; \
             real_server 192.0.2.2 443 {{ {checker} }} }}"
        )
    };
    let (code, ka, lv) = t(&wrap(
        "SSL_GET { enable_sni; fast_recovery; http_protocol 1.1; url { path / } }",
    ));
    assert_eq!(code, Some(0), "keepalived 2.2.7 takes them: {ka}");
    assert!(lv.status.success() && lv.stderr.is_empty(), "{lv:?}");
    let newer = [
        "tls_compliant",
        "sni_name",
        "method",
        "header",
        "username",
        "password",
        "tls_verify_ca",
    ];
    let (code, ka, lv) = t(&wrap(
        "SSL_GET { tls_compliant; sni_name www.example.test; tls_verify_ca /etc/ssl/certs/ca-certificates.crt; \
         url { path /; method HEAD; header X-A b; username u; password p } }",
    ));
    assert_eq!(code, Some(5), "{ka}");
    for kw in newer {
        assert!(
            ka.contains(&format!("Unknown keyword '{kw}'")),
            "keepalived 2.2.7 does not know {kw}: {ka}"
        );
    }
    assert!(
        lv.status.success() && lv.stderr.is_empty(),
        "lvsd takes them without a word: {}",
        String::from_utf8_lossy(&lv.stderr)
    );
}

#[test]
fn the_keywords_land_in_the_model_as_written() {
    use lvsd::config::model::CheckKind;
    let cfg = config(&lines(
        "virtual_server 10.0.0.1 443 { protocol TCP; real_server 10.0.0.2 443 { \
         SSL_GET { fast_recovery; sni_name www.example.test; tls_compliant; \
         tls_verify_ca /etc/ssl/ca.pem; tls_verify_name api.example.test; \
         url { path /a; method OPTIONS; header X-A 1; header X-B \"two words\"; username u; password p; tls_compliant off }; \
         url { path /b; header Authorization \"Bearer t0k3n\" } } } }",
    ));
    let CheckKind::Ssl(h) = &cfg.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!("an SSL_GET");
    };
    assert!(h.fast_recovery && h.enable_sni && h.tls_compliant);
    assert_eq!(h.sni_name.as_deref(), Some("www.example.test"));
    assert_eq!(h.tls_verify_ca.as_deref(), Some("/etc/ssl/ca.pem"));
    assert_eq!(h.tls_verify_name.as_deref(), Some("api.example.test"));
    let u = &h.urls[0];
    assert_eq!(u.method.as_deref(), Some("OPTIONS"));
    assert_eq!(
        u.headers,
        [
            ("X-A".into(), "1".into()),
            ("X-B".into(), "two words".into())
        ]
    );
    assert_eq!(u.username.as_deref(), Some("u"));
    assert_eq!(u.password.as_ref().map(|p| p.expose()), Some("p"));
    assert!(!u.tls_compliant);
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains("\"password\":\"<redacted>\""), "{json}");
    assert!(json.contains("[\"X-B\",\"two words\"]"), "{json}");
    assert!(
        json.contains("[\"Authorization\",\"<redacted>\"]"),
        "{json}"
    );
    assert!(!json.contains("t0k3n"), "{json}");
}

#[test]
fn a_ca_file_that_cannot_be_used_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    for (file, says) in [
        (dir.path().join("missing.pem"), "No such file"),
        (empty, "no certificate in the file"),
    ] {
        let cfg = config(&lines(&format!(
            "virtual_server 10.0.0.1 443 {{ protocol TCP; real_server 10.0.0.2 443 {{ \
             SSL_GET {{ tls_verify_ca {}; url {{ path / }} }} }} }}",
            file.display()
        )));
        let rs = &cfg.virtual_servers[0].real_servers[0];
        let err = lvsd::check::Probe::build(&cfg, rs, &rs.checkers[0])
            .expect_err("no probe without its CAs")
            .to_string();
        assert!(
            err.contains(&format!("tls_verify_ca {}", file.display())) && err.contains(says),
            "{err}"
        );
        assert!(
            err.starts_with("real server [10.0.0.2]:443: SSL_GET:"),
            "{err}"
        );
    }
}

/// cli.pem / cli.key: a client certificate signed by ca.pem (pki); cli-enc.key the same key as
/// encrypted PKCS#8 (password "s3cret"), cli-legacy.key in OpenSSL's legacy encryption.
fn client_pki(dir: &Path) {
    issue(
        dir,
        "cli",
        "/CN=lvsd health check",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "cli.key",
            "-out",
            "cli-enc.key",
            "-passout",
            "pass:s3cret",
        ],
    );
    openssl(
        dir,
        &[
            "ec",
            "-in",
            "cli.key",
            "-out",
            "cli-legacy.key",
            "-aes256",
            "-passout",
            "pass:s3cret",
        ],
    );
}

#[tokio::test]
async fn ssl_get_presents_the_ssl_blocks_client_certificate() {
    if !have("openssl") {
        eprintln!("openssl not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    client_pki(dir.path());
    std::fs::write(dir.path().join("health"), "fine\n").unwrap();
    // The server asks for a client certificate and refuses the handshake without one from ca.pem.
    let (_srv, port) = s_server_with(dir.path(), &["-Verify", "1", "-CAfile", "ca.pem"]);
    let d = dir.path().display();
    let build = |top: String| {
        let cfg = config(&format!(
            "{top}\nvirtual_server 10.0.0.1 443 {{\n protocol TCP\n real_server 127.0.0.1 {port} {{\n\
             SSL_GET {{\n connect_timeout 3\n url {{\n path /health\n }}\n }}\n }}\n}}\n"
        ));
        let rs = &cfg.virtual_servers[0].real_servers[0];
        lvsd::check::probe::Probe::build(&cfg, rs, &rs.checkers[0]).map_err(|e| e.to_string())
    };
    let o = build(String::new()).unwrap().run().await;
    assert!(!o.ok, "no client certificate: refused by the server: {o:?}");
    for top in [
        format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli.key\n ca {d}/ca.pem\n}}"),
        format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli-enc.key\n password s3cret\n}}"),
    ] {
        let o = build(top.clone()).unwrap().run().await;
        assert!(o.ok, "{top}: {o:?}");
    }
    // Key and certificate in one file, as keepalived's samples have them.
    let both = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join("cli.pem")).unwrap(),
        std::fs::read_to_string(dir.path().join("cli.key")).unwrap()
    );
    std::fs::write(dir.path().join("both.pem"), both).unwrap();
    let o = build(format!("SSL {{\n certificate {d}/both.pem\n}}"))
        .unwrap()
        .run()
        .await;
    assert!(o.ok, "one file: {o:?}");
    // What cannot be used is an error naming the keyword and the file, before any check.
    for (top, want) in [
        (
            format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli-enc.key\n password wrong\n}}"),
            "cannot decrypt",
        ),
        (
            format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli-enc.key\n}}"),
            "has no password",
        ),
        (
            format!(
                "SSL {{\n certificate {d}/cli.pem\n key {d}/cli-legacy.key\n password s3cret\n}}"
            ),
            "openssl pkcs8 -topk8",
        ),
        (
            format!("SSL {{\n certificate {d}/missing.pem\n key {d}/cli.key\n}}"),
            "SSL certificate",
        ),
        (
            format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli.pem\n}}"),
            "no private key",
        ),
        (
            format!("SSL {{\n certificate {d}/cli.pem\n key {d}/cli.key\n ca {d}/nope.pem\n}}"),
            "SSL ca",
        ),
    ] {
        let e = build(top.clone()).expect_err(&top);
        assert!(e.contains(want), "{top}: {e}");
    }
    // The password never shows in the dump.
    let cfg = config(&format!(
        "SSL {{\n certificate {d}/cli.pem\n key {d}/cli-enc.key\n password s3cret\n}}\n"
    ));
    let dump = serde_json::to_string(&cfg).unwrap();
    assert!(
        !dump.contains("s3cret") && dump.contains("<redacted>"),
        "{dump}"
    );
}

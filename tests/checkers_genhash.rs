//! `lvsd genhash` against keepalived's own genhash binary, on the same servers.

mod checkers_common;
use checkers_common::*;
use clap::Parser;
use lvsd::check::genhash::{digest, run, GenhashArgs};
use std::process::{Command, ExitCode};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: GenhashArgs,
}

fn args(line: &[&str]) -> GenhashArgs {
    let mut argv = vec!["genhash"];
    argv.extend_from_slice(line);
    Cli::try_parse_from(argv).expect("genhash arguments").args
}

fn theirs(line: &[&str]) -> Option<String> {
    if !have("genhash") {
        eprintln!("keepalived's genhash not installed: comparison skipped");
        return None;
    }
    let out = Command::new("genhash").args(line).output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn ours(line: &[&str]) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(digest(&args(line)))
        .expect("genhash works")
        .trim()
        .to_string()
}

#[test]
fn same_digest_as_keepalived_genhash_over_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<html>lvsd genhash test</html>\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 100_000]).unwrap();
    let (_server, port) = python_http(dir.path());
    let port = port.to_string();
    for url in ["/index.html", "/big.bin", "/missing", "/"] {
        let line = ["-s", "127.0.0.1", "-p", &port, "-u", url];
        let mine = ours(&line);
        assert_eq!(mine.len(), 32, "{mine}");
        assert!(mine.chars().all(|c| c.is_ascii_hexdigit()));
        if url == "/index.html" {
            assert_eq!(
                mine,
                lvsd::check::http::md5_hex(b"<html>lvsd genhash test</html>\n")
            );
        }
        if let Some(t) = theirs(&line) {
            assert_eq!(mine, t, "digest of {url}");
        }
    }
    let verbose = ours(&["-s", "127.0.0.1", "-p", &port, "-u", "/index.html", "-v"]);
    assert!(verbose.contains("<html>lvsd genha"), "body dump: {verbose}");
    assert!(verbose.contains(&lvsd::check::http::md5_hex(
        b"<html>lvsd genhash test</html>\n"
    )));
    assert!(verbose.contains("HTTP Header Ascii Buffer"));
}

#[test]
fn same_digest_as_keepalived_genhash_over_tls() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.txt"), "tls page\n").unwrap();
    let (_server, port) = tls_server(dir.path());
    let port = port.to_string();
    let line = ["-S", "-s", "127.0.0.1", "-p", &port, "-u", "/page.txt"];
    let mine = ours(&line);
    assert_eq!(mine.len(), 32);
    if let Some(t) = theirs(&line) {
        assert_eq!(mine, t);
    }
}

#[test]
fn refused_connection_is_an_error_exit() {
    let closed = ClosedPort::new();
    let port = closed.port().to_string();
    assert_eq!(
        run(args(&["-s", "127.0.0.1", "-p", &port, "-u", "/"])),
        ExitCode::FAILURE
    );
}

/// A server answering every connection with `answer`, and leaving the connection open when `keep`
/// (a keep-alive server); each request's head is sent on the channel.
fn raw_server(answer: &'static [u8], keep: bool) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with(b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
            let _ = s.write_all(answer);
            if keep {
                open.push(s);
            }
        }
    });
    (port, rx)
}

#[test]
fn raw_bodies_and_the_request_as_keepalived_genhash() {
    // keepalived digests the bytes after the head as they come: chunked framing included, cut at
    // Content-Length when there is one.
    let cases: [(&[u8], bool, &[u8]); 3] = [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            false,
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nbodyTRAILING",
            false,
            b"body",
        ),
        // A keep-alive server: Content-Length ends the page, not the server's close.
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            true,
            b"abc",
        ),
    ];
    for (answer, keep, body) in cases {
        let (port, seen) = raw_server(answer, keep);
        let port = port.to_string();
        let line = [
            "-s",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "/health?x=1",
            "-t",
            "10",
        ];
        let started = std::time::Instant::now();
        assert_eq!(ours(&line), lvsd::check::http::md5_hex(body), "{answer:?}");
        // The keep-alive server never closes: only a page ended at Content-Length comes back
        // before the timeout (set far above the few milliseconds the exchange takes).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the page ended without waiting for the timeout"
        );
        let mine = seen.recv().unwrap();
        assert_eq!(
            mine,
            format!("GET /health?x=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:{port}\r\n\r\n")
        );
        if !keep {
            if let Some(t) = theirs(&line) {
                assert_eq!(ours(&line), t, "digest of {answer:?}");
                let _ = seen.recv().unwrap();
                assert_eq!(seen.recv().unwrap(), mine, "the request keepalived sends");
            }
        }
    }
}

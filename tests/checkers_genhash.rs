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
    let port = closed_port().to_string();
    assert_eq!(
        run(args(&["-s", "127.0.0.1", "-p", &port, "-u", "/"])),
        ExitCode::FAILURE
    );
}

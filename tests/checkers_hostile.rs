//! Real servers and scripts that misbehave on purpose: an HTTP server that sends an endless body
//! or an endless head, MISC_CHECK scripts that print megabytes or print forever and never exit.
//! Each check ends with a clear verdict within its bounds; nothing grows with what they send.

mod checkers_common;
use checkers_common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that reads the request, writes `head`, then `piece` again and again until the
/// client goes away.
async fn endless(head: &'static [u8], piece: &'static [u8]) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = l.local_addr().expect("address").port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let mut req = [0u8; 1024];
        let _ = s.read(&mut req).await;
        if s.write_all(head).await.is_err() {
            return;
        }
        while s.write_all(piece).await.is_ok() {}
    });
    port
}

async fn get(port: u16) -> lvsd::check::Outcome {
    // A timeout far above what 16 MiB on loopback takes: the size bound is what ends the check.
    probe(
        &format!("127.0.0.1 {port}"),
        "HTTP_GET { connect_timeout 60; url { path / } }",
    )
    .run()
    .await
}

#[tokio::test]
async fn an_endless_body_ends_the_check_at_16_mib() {
    let port = endless(b"HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 65536]).await;
    let o = get(port).await;
    assert!(!o.ok);
    assert!(
        o.reason
            .ends_with("failed: response larger than 16777216 bytes"),
        "{}",
        o.reason
    );
}

#[tokio::test]
async fn an_endless_head_in_small_pieces_ends_the_check_at_16_mib() {
    let port = endless(b"HTTP/1.1 200 OK\r\n", b"X-Pad: 0123456789abcdef\r\n").await;
    let o = get(port).await;
    assert!(!o.ok);
    assert!(
        o.reason
            .ends_with("failed: response larger than 16777216 bytes"),
        "{}",
        o.reason
    );
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

#[tokio::test]
async fn a_misc_check_printing_megabytes_is_judged_by_its_exit_code() {
    // lvsd never reads a check's output (it goes to /dev/null), so 64 MiB on each stream can
    // neither block the script nor fill lvsd's memory.
    let dir = tempfile::tempdir().expect("temp dir");
    let s = script(
        dir.path(),
        "loud.sh",
        "head -c 67108864 /dev/zero; head -c 67108864 /dev/zero >&2; exit 0",
    );
    let o = probe(
        "127.0.0.1 80",
        &format!(
            "MISC_CHECK {{ misc_path {}; misc_timeout 30 }}",
            s.display()
        ),
    )
    .run()
    .await;
    assert!(o.ok, "{o:?}");
}

#[tokio::test]
async fn a_misc_check_printing_forever_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = script(
        dir.path(),
        "forever.sh",
        "while :; do echo flood; echo flood >&2; done",
    );
    let o = probe(
        "127.0.0.1 80",
        &format!("MISC_CHECK {{ misc_path {}; misc_timeout 1 }}", s.display()),
    )
    .run()
    .await;
    assert!(!o.ok);
    assert_eq!(
        o.reason,
        format!(
            "Misc check for [{}] timed out: timeout after 1 s",
            s.display()
        )
    );
}

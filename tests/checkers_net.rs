//! Network checkers against real servers on loopback, each passing and failing.

mod checkers_common;
use checkers_common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

fn rs(port: u16) -> String {
    format!("127.0.0.1 {port}")
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this user may open an ICMP socket as PING_CHECK does (a datagram one, allowed by
/// net.ipv4.ping_group_range, else a raw one, root's); says why the test is skipped otherwise.
fn may_ping(test: &str, v6: bool) -> bool {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let ok = Socket::new(domain, Type::DGRAM, Some(proto)).is_ok()
        || Socket::new(domain, Type::RAW, Some(proto)).is_ok();
    if !ok {
        eprintln!(
            "{test}: skipped, ICMP sockets need root or a group in net.ipv4.ping_group_range"
        );
    }
    ok
}

#[tokio::test]
async fn tcp_check_passes_on_a_listener_and_fails_when_refused() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let o = probe(&rs(port), "TCP_CHECK { connect_timeout 1 }")
        .run()
        .await;
    assert!(o.ok, "{o:?}");
    assert_eq!(
        o.reason,
        format!("TCP connection to [127.0.0.1]:tcp:{port} success")
    );

    let closed = ClosedPort::new();
    let port = closed.port();
    let o = probe(&rs(port), "TCP_CHECK { connect_timeout 1 }")
        .run()
        .await;
    assert!(!o.ok);
    assert_eq!(
        o.reason,
        format!("TCP connection to [127.0.0.1]:tcp:{port} failed: connection refused")
    );
}

#[tokio::test]
async fn tcp_check_uses_connect_port_and_bindto() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    // SO_MARK needs CAP_NET_ADMIN: without root, the rest is checked.
    let fwmark = if root() {
        "; fwmark 7"
    } else {
        eprintln!("tcp_check_uses_connect_port_and_bindto: fwmark left out, it needs root");
        ""
    };
    let block = format!(
        "TCP_CHECK {{ connect_ip 127.0.0.1; connect_port {port}; bindto 127.0.0.9{fwmark} }}"
    );
    let closed = ClosedPort::new();
    let p = probe(&rs(closed.port()), &block);
    let accept = tokio::time::timeout(Duration::from_secs(5), l.accept());
    let (o, accepted) = tokio::join!(p.run(), accept);
    assert!(o.ok, "{o:?}");
    let (_, peer) = accepted.expect("the probe connected").unwrap();
    assert_eq!(
        peer.ip().to_string(),
        "127.0.0.9",
        "bindto sets the source address"
    );
}

#[tokio::test]
async fn http_get_status_digest_regex_and_virtualhost() {
    let (port, seen) = http_server(vec![
        ("/ok", 200, "hello\n"),
        ("/down", 503, "maintenance"),
        ("/teapot", 418, "short and stout"),
    ])
    .await;
    let run = |block: &str| {
        let p = probe(
            &rs(port),
            &format!("HTTP_GET {{ connect_timeout 2; {block} }}"),
        );
        async move { p.run().await }
    };
    // md5("hello\n") = b1946ac92492d2347c6235b4d2611184
    let o = run("url { path /ok; digest b1946ac92492d2347c6235b4d2611184 }").await;
    assert!(o.ok, "{o:?}");
    assert_eq!(
        o.reason,
        format!("HTTP connection to [127.0.0.1]:tcp:{port} success")
    );

    let o = run("url { path /down }").await;
    assert!(!o.ok);
    assert!(
        o.reason.starts_with(&format!(
            "HTTP status code error to [127.0.0.1]:tcp:{port} url(/down), status_code [503]"
        )),
        "{}",
        o.reason
    );
    assert!(o.reason.contains("HTTP status 503 not in 200-299"));

    assert!(
        run("url { path /teapot; status_code 200 400-499 }")
            .await
            .ok
    );
    assert!(run("url { path /down; status_code 503 }").await.ok);

    let o = run("url { path /ok; digest 00000000000000000000000000000000 }").await;
    assert!(!o.ok);
    assert!(o.reason.contains("MD5 digest error"), "{}", o.reason);
    assert!(o.reason.contains("digest mismatch"), "{}", o.reason);
    assert!(o
        .reason
        .contains("MD5SUM [b1946ac92492d2347c6235b4d2611184]"));

    assert!(
        run("url { path /teapot; status_code 418; regex \"and st\" }")
            .await
            .ok
    );
    let o = run("url { path /ok; regex \"^bye\" }").await;
    assert!(!o.ok);
    assert!(o.reason.contains("regex did not match"), "{}", o.reason);
    assert!(
        !run("url { path /ok; regex hello; regex_no_match }")
            .await
            .ok
    );

    // Two urls, one per check (as keepalived): the first passes, the second fails.
    let two = probe(
        &rs(port),
        "HTTP_GET { connect_timeout 2; url { path /ok }; url { path /down } }",
    );
    assert!(two.run_step(0).await.ok);
    assert!(!two.run_step(1).await.ok);
    assert!(two.run_step(2).await.ok, "step 2 is the first url again");

    seen.lock().unwrap().clear();
    assert!(
        run("virtualhost www.example.test; url { path /ok }")
            .await
            .ok
    );
    assert!(run("http_protocol 1.1; url { path /ok }").await.ok);
    let reqs = seen.lock().unwrap().clone();
    let lower: Vec<String> = reqs.iter().map(|r| r.to_ascii_lowercase()).collect();
    assert!(lower[0].starts_with("get /ok http/1.0\r\n"), "{}", reqs[0]);
    assert!(
        lower[0].contains("host: www.example.test\r\n"),
        "{}",
        reqs[0]
    );
    assert!(lower[0].contains("user-agent: keepaliveclient\r\n"));
    assert!(lower[1].starts_with("get /ok http/1.1\r\n"), "{}", reqs[1]);
    assert!(lower[1].contains(&format!("host: 127.0.0.1:{port}\r\n")));
    assert!(lower[1].contains("connection: close\r\n"));
}

#[tokio::test]
async fn http_get_fails_when_refused_or_too_slow() {
    let closed = ClosedPort::new();
    let port = closed.port();
    let o = probe(&rs(port), "HTTP_GET { connect_timeout 1; url { path / } }")
        .run()
        .await;
    assert!(!o.ok);
    assert_eq!(
        o.reason,
        format!("HTTP connection to [127.0.0.1]:tcp:{port} url(/) failed: connection refused")
    );

    let (port, _) = http_server(vec![]).await;
    let started = Instant::now();
    let o = probe(
        &rs(port),
        "HTTP_GET { connect_timeout 0.5; url { path /slow } }",
    )
    .run()
    .await;
    assert!(!o.ok);
    assert!(
        o.reason.ends_with("failed: timeout after 0.5 s"),
        "{}",
        o.reason
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn ssl_get_against_openssl_s_server() {
    if !have("openssl") {
        eprintln!("openssl not installed: SSL_GET test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("health.txt"), "secure hello\n").unwrap();
    let (_server, port) = tls_server(dir.path());
    let digest = lvsd::check::http::md5_hex(b"secure hello\n");
    let block =
        format!("SSL_GET {{ connect_timeout 3; url {{ path /health.txt; digest {digest} }} }}");
    let o = probe(&rs(port), &block).run().await;
    assert!(o.ok, "{o:?}");
    assert!(o.reason.starts_with("SSL connection to"));
    let o = probe(&rs(port), "SSL_GET { connect_timeout 3; enable_sni; sni_name www.example.test; url { path /health.txt; regex \"^secure\" } }")
        .run()
        .await;
    assert!(o.ok, "with SNI: {o:?}");
    // s_server answers 200 with an error text for a missing file: the digest catches it.
    let block =
        format!("SSL_GET {{ connect_timeout 3; url {{ path /missing.txt; digest {digest} }} }}");
    let o = probe(&rs(port), &block).run().await;
    assert!(!o.ok);
    assert!(o.reason.contains("digest mismatch"), "{}", o.reason);
    // A plain-text server is no TLS server.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\nplain").await;
    });
    let o = probe(&rs(plain), "SSL_GET { connect_timeout 2; url { path / } }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.contains("TLS handshake"), "{}", o.reason);
}

#[derive(Clone, Copy)]
enum Smtp {
    Good,
    RejectGreeting,
    RejectHelo,
    Silent,
}

/// An SMTP responder; returns its port and the HELO line it received.
async fn smtp_server(mode: Smtp) -> (u16, tokio::sync::oneshot::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (rd, mut wr) = s.into_split();
        let mut rd = BufReader::new(rd);
        match mode {
            Smtp::Silent => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            Smtp::RejectGreeting => {
                let _ = wr.write_all(b"554 go away\r\n").await;
                return;
            }
            _ => {
                let _ = wr.write_all(b"220-mx.test ESMTP\r\n220 ready\r\n").await;
            }
        }
        let mut helo = String::new();
        let _ = rd.read_line(&mut helo).await;
        let _ = tx.send(helo.clone());
        let reply: &[u8] = if matches!(mode, Smtp::RejectHelo) {
            b"501 bad helo\r\n"
        } else {
            b"250 mx.test\r\n"
        };
        let _ = wr.write_all(reply).await;
        let mut quit = String::new();
        let _ = rd.read_line(&mut quit).await;
        if quit.starts_with("QUIT") {
            let _ = wr.write_all(b"221 bye\r\n").await;
        }
    });
    (port, rx)
}

#[tokio::test]
async fn smtp_check_greeting_helo_quit() {
    let (port, helo) = smtp_server(Smtp::Good).await;
    let o = probe(
        &rs(port),
        "SMTP_CHECK { connect_timeout 2; helo_name probe.example.test }",
    )
    .run()
    .await;
    assert!(o.ok, "{o:?}");
    assert_eq!(helo.await.unwrap(), "HELO probe.example.test\r\n");

    let (port, _) = smtp_server(Smtp::RejectGreeting).await;
    let o = probe(&rs(port), "SMTP_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(
        o.reason
            .contains("greeting reply '554 go away', expected 220"),
        "{}",
        o.reason
    );

    let (port, _) = smtp_server(Smtp::RejectHelo).await;
    let o = probe(&rs(port), "SMTP_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.contains("expected 250"), "{}", o.reason);

    let (port, _) = smtp_server(Smtp::Silent).await;
    let o = probe(&rs(port), "SMTP_CHECK { connect_timeout 0.5 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.ends_with("timeout after 0.5 s"), "{}", o.reason);
}

#[derive(Clone, Copy)]
enum Dns {
    Answer,
    Refuse,
    WrongId,
}

/// A DNS responder built on hickory-proto messages; returns its port and the question it saw.
async fn dns_server(mode: Dns) -> (u16, tokio::sync::oneshot::Receiver<String>) {
    use hickory_proto::op::{Message, OpCode, ResponseCode};
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = s.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let (n, from) = s.recv_from(&mut buf).await.unwrap();
        let q = Message::from_vec(&buf[..n]).unwrap();
        let id = q.metadata.id;
        let question = q
            .queries
            .first()
            .map(|q| format!("{} {}", q.name(), q.query_type()))
            .unwrap_or_default();
        let _ = tx.send(question);
        let mut r = match mode {
            Dns::Answer => Message::response(id, OpCode::Query),
            Dns::Refuse => Message::error_msg(id, OpCode::Query, ResponseCode::Refused),
            Dns::WrongId => Message::response(id.wrapping_add(1), OpCode::Query),
        };
        r.queries = q.queries.clone();
        let _ = s.send_to(&r.to_vec().unwrap(), from).await;
    });
    (port, rx)
}

#[tokio::test]
async fn dns_check_needs_noerror_with_the_query_id() {
    let (port, question) = dns_server(Dns::Answer).await;
    let o = probe(
        &rs(port),
        "DNS_CHECK { connect_timeout 2; type A; name www.example.test }",
    )
    .run()
    .await;
    assert!(o.ok, "{o:?}");
    assert_eq!(
        o.reason,
        format!("DNS connection to [127.0.0.1]:udp:{port} success")
    );
    assert_eq!(question.await.unwrap(), "www.example.test. A");

    let (port, question) = dns_server(Dns::Answer).await;
    assert!(
        probe(&rs(port), "DNS_CHECK { connect_timeout 2 }")
            .run()
            .await
            .ok
    );
    assert_eq!(
        question.await.unwrap(),
        ". SOA",
        "keepalived's default query"
    );

    let (port, _) = dns_server(Dns::Refuse).await;
    let o = probe(&rs(port), "DNS_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(
        o.reason.contains("failed: rcode") && o.reason.ends_with("Refused"),
        "{}",
        o.reason
    );

    let (port, _) = dns_server(Dns::WrongId).await;
    let o = probe(&rs(port), "DNS_CHECK { connect_timeout 0.5 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.ends_with("timeout after 0.5 s"), "{}", o.reason);

    let closed = ClosedUdpPort::new();
    let o = probe(&rs(closed.port()), "DNS_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.contains("connection refused"), "{}", o.reason);
}

#[tokio::test]
async fn udp_check_reply_pattern_lengths_and_port_unreachable() {
    let port = udp_echo().await;
    let run = |block: String| {
        let p = probe(
            &rs(port),
            &format!("UDP_CHECK {{ connect_timeout 1; {block} }}"),
        );
        async move { p.run().await }
    };
    let o = run("payload c0ffee42; require_reply c0fXeX".into()).await;
    assert!(o.ok, "{o:?}");
    let o = run("payload c0ffee42; require_reply c1".into()).await;
    assert!(!o.ok);
    assert!(
        o.reason.ends_with("reply does not match require_reply"),
        "{}",
        o.reason
    );
    let o = run("payload c0ffee42; require_reply; min_reply_length 5".into()).await;
    assert!(!o.ok);
    assert!(
        o.reason.contains("reply of 4 bytes, expected 5-255"),
        "{}",
        o.reason
    );
    assert!(
        run("require_reply; max_reply_length 16".into()).await.ok,
        "random 16-byte payload"
    );

    let (_silent, quiet) = udp_silent().await;
    let o = probe(&rs(quiet), "UDP_CHECK { connect_timeout 0.3 }")
        .run()
        .await;
    assert!(o.ok, "no ICMP error means up: {o:?}");
    let o = probe(
        &rs(quiet),
        "UDP_CHECK { connect_timeout 0.3; require_reply }",
    )
    .run()
    .await;
    assert!(!o.ok);
    assert!(o.reason.contains("no reply"), "{}", o.reason);

    let closed = ClosedUdpPort::new();
    let o = probe(&rs(closed.port()), "UDP_CHECK { connect_timeout 1 }")
        .run()
        .await;
    assert!(!o.ok);
    assert!(o.reason.ends_with("ICMP port unreachable"), "{}", o.reason);
}

#[tokio::test]
async fn ping_check_loopback_and_unreachable() {
    if !may_ping("ping_check_loopback_and_unreachable", false) {
        return;
    }
    let o = probe("127.0.0.1 0", "PING_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(o.ok, "{o:?}");
    assert_eq!(o.reason, "ICMP echo to [127.0.0.1] success");
    // TEST-NET-3 (RFC 5737): nothing answers there.
    let o = probe("203.0.113.9 0", "PING_CHECK { connect_timeout 0.5 }")
        .run()
        .await;
    assert!(!o.ok, "{o:?}");
    assert!(o.reason.starts_with("ICMP echo to [203.0.113.9] failed"));
}

#[tokio::test]
async fn ping_check_ipv6_loopback() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback: skipped");
        return;
    }
    if !may_ping("ping_check_ipv6_loopback", true) {
        return;
    }
    let o = probe("::1 0", "PING_CHECK { connect_timeout 2 }")
        .run()
        .await;
    assert!(o.ok, "{o:?}");
}

//! What real servers answer health checks: the HTTP_GET / SSL_GET response reader and verdict,
//! DNS_CHECK replies, UDP_CHECK replies against require_reply.

use crate::check::dns;
use crate::check::http::{get_on, judge, BodyRegex, GetSpec, HttpProtocol, UrlCheck};
use crate::check::net::Target;
use crate::check::udp::UdpProbe;
use crate::config::model::HexNibble;
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Byte 0: the low 7 bits are the size of each read (0: everything at once), the top bit ends
/// the stream as a TLS peer without close_notify does (UnexpectedEof). The rest is the response.
pub fn http_response(data: &[u8]) {
    let Some((&sel, response)) = data.split_first() else {
        return;
    };
    let stream = Peer {
        data: response,
        chunk: usize::from(sel & 0x7f),
        tls_eof: sel & 0x80 != 0,
    };
    let spec = GetSpec::get("/health", None, HttpProtocol::V11);
    let Ok(fetched) = futures::executor::block_on(get_on(stream, "192.0.2.2", &spec)) else {
        return;
    };
    let _ = (fetched.head(), fetched.body());
    for url in urls() {
        let _ = judge(url, &fetched).map(|v| v.text());
    }
}

/// The url blocks the page is judged against: status only, digest, regex with offsets.
fn urls() -> &'static [UrlCheck] {
    static URLS: OnceLock<Vec<UrlCheck>> = OnceLock::new();
    URLS.get_or_init(|| {
        let url = |digest: Option<&str>, regex: Option<BodyRegex>| UrlCheck {
            digest: digest.map(str::to_string),
            status: vec![(200, 200), (301, 302)],
            regex,
            ..UrlCheck::new("/health")
        };
        let re = BodyRegex::new("o+k", &["caseless".into()], false, Some(2), Some(64)).ok();
        vec![
            url(None, None),
            url(Some("d41d8cd98f00b204e9800998ecf8427e"), None),
            url(None, re),
        ]
    })
}

/// A server that sends `data` in reads of `chunk` bytes (0: all at once) and takes whatever is
/// written; the end of its data is EOF, or UnexpectedEof with `tls_eof`.
pub(crate) struct Peer<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
    pub tls_eof: bool,
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.data.is_empty() && self.tls_eof {
            return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
        }
        let want = if self.chunk == 0 {
            self.data.len()
        } else {
            self.chunk
        };
        let n = want.min(self.data.len()).min(buf.remaining());
        let (now, later) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A datagram answering a DNS_CHECK query: with the id it carries (so that the rcode is read),
/// and with another one (ignored).
pub fn dns_reply(data: &[u8]) {
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let _ = dns::judge_reply(data, id);
    let _ = dns::judge_reply(data, id.wrapping_add(1));
}

/// Byte 0: the number of require_reply nibbles that follow (one byte each, 0-15 a value, others
/// `X`), then the minimum and maximum reply lengths (one byte each), then the reply.
pub fn udp_reply(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let Some((nibbles, rest)) = rest.split_at_checked(usize::from(n)) else {
        return;
    };
    let pattern: Vec<HexNibble> = nibbles
        .iter()
        .map(|&b| {
            if b < 16 {
                HexNibble::Value(b)
            } else {
                HexNibble::Any
            }
        })
        .collect();
    let (min, max, reply) = match rest {
        [min, max, reply @ ..] => (usize::from(*min), usize::from(*max), reply),
        _ => (0, 65535, rest),
    };
    let probe = UdpProbe {
        target: Target::new(([192, 0, 2, 2], 53).into(), "udp", Duration::from_secs(1)),
        payload: None,
        require_reply: Some(pattern.clone()),
        min_reply_length: min,
        max_reply_length: max,
    };
    let _ = probe.check_reply(reply, &pattern);
}

//! HTTP_GET and SSL_GET: one url per check (the decision core picks which), one request on a
//! connection of its own (HTTP/1.x, TLS by rustls), then the status code range, the MD5 digest of
//! the body and the regex are checked in keepalived's order.

use super::decide::Outcome;
use super::http_request::request;
pub use super::http_request::GetSpec;
use super::net::{io_text, within, Target};
use super::tls;
use crate::config::model::Secret;
use md5::{Digest, Md5};
use regex::bytes::{Regex, RegexBuilder};
use rustls::pki_types::ServerName;
use std::fmt::Write as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// keepalived's `http_protocol`: 1.0 (default), 1.0C (1.0 with Connection: close), 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProtocol {
    V10,
    V10Close,
    V11,
}

impl HttpProtocol {
    pub fn parse(s: Option<&str>) -> Option<HttpProtocol> {
        match s {
            None | Some("1.0") => Some(HttpProtocol::V10),
            Some("1.0C") | Some("1.0c") => Some(HttpProtocol::V10Close),
            Some("1.1") => Some(HttpProtocol::V11),
            Some(_) => None,
        }
    }
}

/// TLS settings for SSL_GET.
#[derive(Clone)]
pub struct TlsSetup {
    pub connector: TlsConnector,
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsSetup({:?})", self.server_name)
    }
}

/// A compiled `regex` of a url block.
#[derive(Debug, Clone)]
pub struct BodyRegex {
    pub re: Regex,
    pub no_match: bool,
    pub min_offset: Option<usize>,
    pub max_offset: Option<usize>,
}

impl BodyRegex {
    /// Compiles with keepalived's (PCRE2) option names mapped onto the regex crate's flags.
    pub fn new(
        pattern: &str,
        options: &[String],
        no_match: bool,
        min_offset: Option<u32>,
        max_offset: Option<u32>,
    ) -> Result<BodyRegex, regex::Error> {
        let mut b = RegexBuilder::new(pattern);
        for o in options {
            match o.as_str() {
                "caseless" => b.case_insensitive(true),
                "multiline" => b.multi_line(true),
                "dotall" => b.dot_matches_new_line(true),
                "extended" => b.ignore_whitespace(true),
                "ungreedy" => b.swap_greed(true),
                "never_utf" => b.unicode(false),
                _ => &mut b,
            };
        }
        Ok(BodyRegex {
            re: b.build()?,
            no_match,
            min_offset: min_offset.map(|v| v as usize),
            max_offset: max_offset.map(|v| v as usize),
        })
    }

    /// Whether the body matches, honouring the offsets (a match must start within them).
    pub fn matches(&self, body: &[u8]) -> bool {
        let start = self.min_offset.unwrap_or(0);
        let Some(hay) = body.get(start..) else {
            return false;
        };
        match self.re.find(hay) {
            Some(m) => self.max_offset.is_none_or(|max| start + m.start() <= max),
            None => false,
        }
    }
}

/// One `url { }` block.
#[derive(Debug, Clone)]
pub struct UrlCheck {
    pub path: String,
    pub digest: Option<String>,
    /// Inclusive ranges; empty means 200-299.
    pub status: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<BodyRegex>,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// The `Authorization` value made from username and password.
    pub authorization: Option<Secret>,
    /// SSL_GET tls_compliant (the checker's or the url's).
    pub close_notify: bool,
    /// SSL_GET: this url's handshake name when it differs from the checker's (its virtualhost).
    pub server_name: Option<ServerName<'static>>,
}

impl UrlCheck {
    /// A plain GET of `path` with the default status range.
    pub fn new(path: impl Into<String>) -> UrlCheck {
        UrlCheck {
            path: path.into(),
            digest: None,
            status: Vec::new(),
            virtualhost: None,
            regex: None,
            method: "GET".into(),
            headers: Vec::new(),
            authorization: None,
            close_notify: false,
            server_name: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpProbe {
    pub target: Target,
    pub tls: Option<TlsSetup>,
    pub protocol: HttpProtocol,
    /// The checker's (or its real/virtual server's) virtualhost; a url's own one wins.
    pub virtualhost: Option<String>,
    pub urls: Vec<UrlCheck>,
}

/// What a GET returned: the response as read, with the body's place in it.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    raw: Vec<u8>,
    body_start: usize,
    body_end: usize,
}

impl Fetched {
    /// The status line and headers, for genhash -v.
    pub fn head(&self) -> &[u8] {
        &self.raw[..self.body_start]
    }

    /// The body, cut at Content-Length when the server sent one.
    pub fn body(&self) -> &[u8] {
        &self.raw[self.body_start..self.body_end]
    }
}

impl HttpProbe {
    fn kind(&self) -> &'static str {
        if self.tls.is_some() {
            "SSL"
        } else {
            "HTTP"
        }
    }

    /// Checks url number `step` (modulo their count): keepalived checks one url per round.
    pub async fn run(&self, step: u32) -> Outcome {
        let name = self.target.name();
        let Some(url) = self.urls.get(step as usize % self.urls.len().max(1)) else {
            return Outcome::pass(format!("{} connection to {name} success", self.kind()));
        };
        let vhost = url.virtualhost.as_deref().or(self.virtualhost.as_deref());
        let spec = GetSpec {
            method: &url.method,
            headers: &url.headers,
            authorization: url.authorization.as_ref(),
            close_notify: url.close_notify,
            ..GetSpec::get(&url.path, vhost, self.protocol)
        };
        let tls = self.tls.as_ref().map(|t| match &url.server_name {
            Some(n) => TlsSetup {
                connector: t.connector.clone(),
                server_name: n.clone(),
            },
            None => t.clone(),
        });
        let fetched = match within(
            self.target.timeout,
            fetch(&self.target, tls.as_ref(), &spec),
        )
        .await
        {
            Ok(Ok(f)) => f,
            Ok(Err(e)) | Err(e) => {
                return Outcome::fail(format!(
                    "{} connection to {name} url({}) failed: {e}",
                    self.kind(),
                    url.path
                ))
            }
        };
        if let Some(reason) = judge(url, &fetched) {
            let what = match reason {
                Verdict::Status { .. } => "HTTP status code error",
                Verdict::Digest { .. } => "MD5 digest error",
                Verdict::Regex { .. } => "Regex match failed",
            };
            return Outcome::fail(format!(
                "{what} to {name} url({}), {}",
                url.path,
                reason.text()
            ));
        }
        Outcome::pass(format!("{} connection to {name} success", self.kind()))
    }
}

/// Why a fetched page fails its url block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Status { got: u16, ranges: String },
    Digest { got: String, want: String },
    Regex { no_match: bool },
}

impl Verdict {
    pub fn text(&self) -> String {
        match self {
            Verdict::Status { got, ranges } => {
                format!("status_code [{got}]: HTTP status {got} not in {ranges}")
            }
            Verdict::Digest { got, want } => {
                format!("MD5SUM [{got}]: digest mismatch, expected {want}")
            }
            Verdict::Regex { no_match: false } => "regex did not match".into(),
            Verdict::Regex { no_match: true } => "regex matched (regex_no_match)".into(),
        }
    }
}

/// keepalived's order: status, then digest, then regex.
pub fn judge(url: &UrlCheck, f: &Fetched) -> Option<Verdict> {
    let ranges: &[(u16, u16)] = if url.status.is_empty() {
        &[(200, 299)]
    } else {
        &url.status
    };
    if !ranges.iter().any(|(a, b)| (*a..=*b).contains(&f.status)) {
        let text: Vec<String> = ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        return Some(Verdict::Status {
            got: f.status,
            ranges: text.join(" "),
        });
    }
    if let Some(want) = &url.digest {
        let got = md5_hex(f.body());
        if !got.eq_ignore_ascii_case(want) {
            return Some(Verdict::Digest {
                got,
                want: want.clone(),
            });
        }
    }
    if let Some(re) = &url.regex {
        if re.matches(f.body()) == re.no_match {
            return Some(Verdict::Regex {
                no_match: re.no_match,
            });
        }
    }
    None
}

pub fn md5_hex(data: &[u8]) -> String {
    let mut s = String::with_capacity(32);
    for b in Md5::digest(data) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Connects (with TLS when given), sends one GET and reads the whole body. No timeout of its own.
pub async fn fetch(
    target: &Target,
    tls: Option<&TlsSetup>,
    spec: &GetSpec<'_>,
) -> Result<Fetched, String> {
    let tcp = target.connect_tcp().await.map_err(|e| io_text(&e))?;
    // Closed with a reset once the page is read (or the check gave up), as TCP_CHECK does
    // (connects.rs): no FIN exchange, no TIME_WAIT socket on either side. A failure only means a
    // FIN.
    let _ = tcp.set_zero_linger();
    let host = host_header(target, spec.virtualhost);
    // The TLS branch boxed: its handshake state (about 3 KiB) is not carried by every plain HTTP_GET
    // in flight, which with a slow pool means thousands of them.
    match tls {
        None => get_on(tcp, &host, spec).await,
        Some(t) => Box::pin(get_tls(t, tcp, &host, spec)).await,
    }
}

async fn get_tls(
    t: &TlsSetup,
    tcp: tokio::net::TcpStream,
    host: &str,
    spec: &GetSpec<'_>,
) -> Result<Fetched, String> {
    let stream = t
        .connector
        .connect(t.server_name.clone(), tcp)
        .await
        .map_err(|e| format!("TLS handshake: {}", io_text(&e)))?;
    get_on(stream, host, spec).await
}

/// `Host:` as keepalived sends it: the virtualhost, else `address:port` (the port always, even 80).
fn host_header(target: &Target, vhost: Option<&str>) -> String {
    match (vhost, target.addr) {
        (Some(v), _) => v.to_string(),
        (None, std::net::SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
        (None, a) => a.to_string(),
    }
}

/// One GET on its own connection, read as keepalived reads it: to the end of the stream (or until
/// Content-Length bytes of body have come), the body taken raw (no chunked decoding) and cut at
/// Content-Length. Written by hand rather than with hyper: a check is one request and one answer, and
/// with thousands in flight hyper's per-connection task, channel and buffers cost more CPU and memory
/// than the check itself.
pub(crate) async fn get_on<S>(
    mut stream: S,
    host: &str,
    spec: &GetSpec<'_>,
) -> Result<Fetched, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let req = request(host, spec)?;
    stream
        .write_all(&req)
        .await
        .map_err(|e| format!("sending the request: {}", io_text(&e)))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("sending the request: {}", io_text(&e)))?;
    drop(req);
    let mut raw = Vec::with_capacity(READ_CHUNK);
    let mut head: Option<Head> = None;
    let bodyless = spec.bodyless_answer();
    loop {
        if let Some(h) = &mut head {
            if bodyless {
                h.content_length = Some(0);
            }
            if h.content_length
                .is_some_and(|n| raw.len() - h.body_start >= n)
            {
                break;
            }
        }
        if raw.len() >= MAX_RESPONSE {
            return Err(format!("response larger than {MAX_RESPONSE} bytes"));
        }
        raw.reserve(READ_CHUNK);
        let before = raw.len();
        let n = match stream.read_buf(&mut raw).await {
            Ok(n) => n,
            // A TLS peer that closes without close_notify, after a whole head: the end of the page.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && head.is_some() => 0,
            Err(e) => return Err(format!("reading the response: {}", io_text(&e))),
        };
        if n == 0 {
            break;
        }
        // Only the new bytes (and the 3 before them) can complete the blank line: a server that
        // sends an endless head in small pieces costs a scan of each piece, not of all it sent.
        if head.is_none() && Head::ends_in(&raw[before.saturating_sub(3)..]) {
            head = Head::parse(&raw);
        }
    }
    let Some(h) = head else {
        return Err(if raw.is_empty() {
            "no data received".into()
        } else {
            "incomplete HTTP header".into()
        });
    };
    let body_end = match h.content_length {
        Some(n) => raw.len().min(h.body_start + n),
        None => raw.len(),
    };
    if spec.close_notify {
        // tls_compliant: close_notify, as OpenSSL's SSL_shutdown sends it; the page is already
        // read, so a peer that has gone meanwhile changes nothing.
        let _ = stream.shutdown().await;
    }
    Ok(Fetched {
        status: h.status,
        raw,
        body_start: h.body_start,
        body_end,
    })
}

/// Response bytes read at a time, and the most a check reads before giving up.
const READ_CHUNK: usize = 2048;
const MAX_RESPONSE: usize = 16 << 20;

/// What the status line and headers say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    /// keepalived's reading: the number after `HTTP/x.y`, 0 when there is none (a status error).
    status: u16,
    content_length: Option<usize>,
    body_start: usize,
}

impl Head {
    /// Whether `bytes` hold a blank line that ends a head.
    fn ends_in(bytes: &[u8]) -> bool {
        find(bytes, b"\r\n\r\n").is_some() || find(bytes, b"\n\n").is_some()
    }

    /// `None` until the blank line ending the headers has arrived.
    fn parse(raw: &[u8]) -> Option<Head> {
        let (head_len, body_start) = find(raw, b"\r\n\r\n")
            .map(|i| (i, i + 4))
            .or_else(|| find(raw, b"\n\n").map(|i| (i, i + 2)))?;
        let head = &raw[..head_len];
        let mut lines = head.split(|&b| b == b'\n');
        let status = lines.next().map_or(0, status_of);
        let content_length = lines.find_map(|l| {
            let (name, value) = l.split_at(l.iter().position(|&b| b == b':')?);
            if !name.trim_ascii().eq_ignore_ascii_case(b"content-length") {
                return None;
            }
            std::str::from_utf8(value[1..].trim_ascii())
                .ok()?
                .parse()
                .ok()
        });
        Some(Head {
            status,
            content_length,
            body_start,
        })
    }
}

/// `HTTP/1.1 200 OK` -> 200.
fn status_of(line: &[u8]) -> u16 {
    let line = line.trim_ascii();
    if !line.starts_with(b"HTTP/") {
        return 0;
    }
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    words
        .nth(1)
        .filter(|w| w.len() == 3)
        .and_then(|w| std::str::from_utf8(w).ok()?.parse().ok())
        .unwrap_or(0)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The handshake name for SSL_GET: with SNI, sni_name else the virtualhost; without, the address.
/// With `verify`, the certificate must chain to its CAs and carry its name, else the handshake's.
pub fn tls_setup(
    enable_sni: bool,
    sni_name: Option<&str>,
    vhost: Option<&str>,
    ip: std::net::IpAddr,
    verify: Option<&tls::Verify>,
    identity: Option<&super::tls_identity::ClientIdentity>,
) -> Result<TlsSetup, rustls::Error> {
    Ok(TlsSetup {
        connector: tls::connector(enable_sni, verify, identity)?,
        server_name: handshake_name(enable_sni, sni_name, vhost, ip),
    })
}

/// See tls_setup.
pub fn handshake_name(
    enable_sni: bool,
    sni_name: Option<&str>,
    vhost: Option<&str>,
    ip: std::net::IpAddr,
) -> ServerName<'static> {
    let name = if enable_sni { sni_name.or(vhost) } else { None };
    tls::server_name(name, ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(status: u16, body: &str) -> Fetched {
        let head = format!("HTTP/1.0 {status} X\r\n\r\n");
        let raw = format!("{head}{body}").into_bytes();
        Fetched {
            status,
            body_start: head.len(),
            body_end: raw.len(),
            raw,
        }
    }

    fn url() -> UrlCheck {
        UrlCheck::new("/")
    }

    fn read(data: &[u8], chunk: usize) -> Result<Fetched, String> {
        let peer = crate::fuzzing::checks::Peer {
            data,
            chunk,
            tls_eof: false,
        };
        futures::executor::block_on(get_on(
            peer,
            "h",
            &GetSpec::get("/", None, HttpProtocol::V11),
        ))
    }

    #[test]
    fn the_head_is_found_however_the_reads_split_it() {
        for resp in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"[..],
            b"HTTP/1.0 404 X\n\nbody",
        ] {
            let whole = read(resp, 0).expect("a response");
            for chunk in 1..8 {
                let f = read(resp, chunk).expect("a response");
                assert_eq!(
                    (f.status, f.head(), f.body()),
                    (whole.status, whole.head(), whole.body())
                );
            }
        }
    }

    #[test]
    fn a_head_that_never_ends_costs_a_scan_of_each_piece_only() {
        // 256 KiB of header lines in 16-byte reads: rescanning all of it at every read took
        // seconds of the checker task's time; each piece is scanned once.
        let mut resp = b"HTTP/1.1 200 OK\r\n".to_vec();
        while resp.len() < 256 << 10 {
            resp.extend_from_slice(b"X-Pad: 0123456789\r\n");
        }
        assert_eq!(
            read(&resp, 16).err().as_deref(),
            Some("incomplete HTTP header")
        );
    }

    #[test]
    fn status_defaults_to_2xx_and_honours_ranges() {
        assert_eq!(judge(&url(), &page(204, "")), None);
        let v = judge(&url(), &page(503, "")).unwrap();
        assert_eq!(
            v.text(),
            "status_code [503]: HTTP status 503 not in 200-299"
        );
        let u = UrlCheck {
            status: vec![(200, 200), (400, 499)],
            ..url()
        };
        assert_eq!(judge(&u, &page(404, "")), None);
        assert!(judge(&u, &page(201, ""))
            .unwrap()
            .text()
            .contains("200 400-499"));
    }

    #[test]
    fn digest_is_md5_of_the_body() {
        // md5("hello\n"), as `echo hello | md5sum` prints it.
        assert_eq!(md5_hex(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        let u = UrlCheck {
            digest: Some("b1946ac92492d2347c6235b4d2611184".into()),
            ..url()
        };
        assert_eq!(judge(&u, &page(200, "hello\n")), None);
        assert!(matches!(
            judge(&u, &page(200, "hello")),
            Some(Verdict::Digest { .. })
        ));
    }

    #[test]
    fn regex_with_options_offsets_and_no_match() {
        let re = BodyRegex::new("status: OK", &["caseless".into()], false, None, None).unwrap();
        let u = UrlCheck {
            regex: Some(re),
            ..url()
        };
        assert_eq!(judge(&u, &page(200, "x STATUS: ok")), None);
        assert_eq!(
            judge(&u, &page(200, "down")),
            Some(Verdict::Regex { no_match: false })
        );
        let re = BodyRegex::new("error", &[], true, None, None).unwrap();
        let u = UrlCheck {
            regex: Some(re),
            ..url()
        };
        assert_eq!(judge(&u, &page(200, "all fine")), None);
        assert!(judge(&u, &page(200, "an error")).is_some());
        let re = BodyRegex::new("ok", &[], false, Some(2), Some(4)).unwrap();
        assert!(re.matches(b"xxok"));
        assert!(!re.matches(b"ok"), "before min offset");
        assert!(!re.matches(b"xxxxxok"), "starts after max offset");
    }
}

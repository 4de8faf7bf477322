//! HTTP_GET and SSL_GET: one GET per url on a connection of its own (hyper 1, HTTP/1.x), then the
//! status code range, the MD5 digest of the body and the regex are checked in keepalived's order.

use super::decide::Outcome;
use super::net::{io_text, within, Target};
use super::tls;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::{Request, Version};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use regex::bytes::{Regex, RegexBuilder};
use rustls::pki_types::ServerName;
use std::fmt::Write as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

/// Bodies above this are refused rather than buffered (a health page is small).
const MAX_BODY: usize = 16 << 20;

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

/// What a GET returned.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    /// The status line and headers as text, for genhash -v.
    pub head: String,
    pub body: Bytes,
}

impl HttpProbe {
    fn kind(&self) -> &'static str {
        if self.tls.is_some() {
            "SSL"
        } else {
            "HTTP"
        }
    }

    /// Checks every url in turn; the first failure is the outcome.
    pub async fn run(&self) -> Outcome {
        let name = self.target.name();
        for url in &self.urls {
            let vhost = url.virtualhost.as_deref().or(self.virtualhost.as_deref());
            let spec = GetSpec {
                path: &url.path,
                virtualhost: vhost,
                protocol: self.protocol,
            };
            let fetched = match within(
                self.target.timeout,
                fetch(&self.target, self.tls.as_ref(), &spec),
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
        let got = md5_hex(&f.body);
        if !got.eq_ignore_ascii_case(want) {
            return Some(Verdict::Digest {
                got,
                want: want.clone(),
            });
        }
    }
    if let Some(re) = &url.regex {
        if re.matches(&f.body) == re.no_match {
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

/// What to GET.
#[derive(Debug, Clone, Copy)]
pub struct GetSpec<'a> {
    pub path: &'a str,
    pub virtualhost: Option<&'a str>,
    pub protocol: HttpProtocol,
}

/// Connects (with TLS when given), sends one GET and reads the whole body. No timeout of its own.
pub async fn fetch(
    target: &Target,
    tls: Option<&TlsSetup>,
    spec: &GetSpec<'_>,
) -> Result<Fetched, String> {
    let tcp = target.connect_tcp().await.map_err(|e| io_text(&e))?;
    let host = host_header(target, spec.virtualhost, tls.is_some());
    // Each branch boxed: the TLS handshake's state (about 3 KiB) is not carried by every plain
    // HTTP_GET in flight, which with a slow pool means thousands of them.
    match tls {
        None => Box::pin(get_on(tcp, &host, spec)).await,
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

/// `Host:` as keepalived sends it: the virtualhost, else the address, with the port unless default.
fn host_header(target: &Target, vhost: Option<&str>, tls: bool) -> String {
    if let Some(v) = vhost {
        return v.to_string();
    }
    let ip = match target.addr.ip() {
        std::net::IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    };
    let port = target.addr.port();
    if port == if tls { 443 } else { 80 } {
        ip
    } else {
        format!("{ip}:{port}")
    }
}

async fn get_on<S>(stream: S, host: &str, spec: &GetSpec<'_>) -> Result<Fetched, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Reads of 4 KiB (hyper starts at 8 KiB and grows): a health page is small, and with thousands
    // of checks in flight against a slow pool the buffers were most of lvsd's memory.
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .read_buf_exact_size(Some(4096))
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let version = match spec.protocol {
        HttpProtocol::V11 => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let mut req = Request::builder()
        .method("GET")
        .uri(spec.path)
        .version(version)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("invalid url path '{}': {e}", spec.path))?;
    let h = req.headers_mut();
    h.insert(USER_AGENT, HeaderValue::from_static("KeepAliveClient"));
    h.insert(
        HOST,
        HeaderValue::from_str(host).map_err(|_| format!("invalid virtualhost '{host}'"))?,
    );
    if spec.protocol != HttpProtocol::V10 {
        h.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let exchange = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("HTTP request: {e}"))?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        let mut head = format!(
            "{:?} {} {}\r\n",
            parts.version,
            parts.status.as_u16(),
            parts.status.canonical_reason().unwrap_or("")
        );
        for (k, v) in &parts.headers {
            let _ = write!(head, "{k}: {}\r\n", String::from_utf8_lossy(v.as_bytes()));
        }
        Ok(Fetched {
            status: parts.status.as_u16(),
            head,
            body,
        })
    };
    let mut exchange = std::pin::pin!(exchange);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = &mut exchange => return r,
        _ = &mut conn => {}
    }
    // The connection finished first (an HTTP/1.0 close): the body is already buffered.
    exchange.await
}

/// The handshake name for SSL_GET: with SNI, sni_name else the virtualhost; without, the address.
pub fn tls_setup(
    enable_sni: bool,
    sni_name: Option<&str>,
    vhost: Option<&str>,
    ip: std::net::IpAddr,
) -> Result<TlsSetup, rustls::Error> {
    let name = if enable_sni { sni_name.or(vhost) } else { None };
    Ok(TlsSetup {
        connector: tls::connector(enable_sni)?,
        server_name: tls::server_name(name, ip),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(status: u16, body: &str) -> Fetched {
        Fetched {
            status,
            head: String::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    fn url() -> UrlCheck {
        UrlCheck {
            path: "/".into(),
            digest: None,
            status: Vec::new(),
            virtualhost: None,
            regex: None,
        }
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

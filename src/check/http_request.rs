//! The request an HTTP_GET / SSL_GET url sends: keepalived's, plus the method, headers and Basic
//! credentials a url may add.

use super::http::HttpProtocol;
use crate::config::model::Secret;

/// What to send for one url.
#[derive(Debug, Clone, Copy)]
pub struct GetSpec<'a> {
    pub path: &'a str,
    pub virtualhost: Option<&'a str>,
    pub protocol: HttpProtocol,
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    /// The whole `Authorization` value (`Basic ...`).
    pub authorization: Option<&'a Secret>,
    /// SSL_GET tls_compliant: close the session with close_notify.
    pub close_notify: bool,
}

impl<'a> GetSpec<'a> {
    /// keepalived's plain GET.
    pub fn get(path: &'a str, virtualhost: Option<&'a str>, protocol: HttpProtocol) -> Self {
        GetSpec {
            path,
            virtualhost,
            protocol,
            method: "GET",
            headers: &[],
            authorization: None,
            close_notify: false,
        }
    }

    /// A HEAD answer has no body, whatever its Content-Length says.
    pub fn bodyless_answer(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

/// `Basic base64(user:password)` (RFC 7617), kept secret.
pub fn basic_authorization(user: &str, password: &Secret) -> Secret {
    let pair = format!("{user}:{}", password.expose());
    Secret::new(format!("Basic {}", base64(pair.as_bytes())))
}

/// keepalived's request: `GET path HTTP/1.x`, its User-Agent, `Connection: close` for 1.0C and
/// 1.1, then lvsd's additions (Authorization, the url's headers, Content-Length 0 for a method that
/// carries a body) and `Host:` last, as keepalived writes it.
pub fn request(host: &str, spec: &GetSpec<'_>) -> Result<Vec<u8>, String> {
    if spec
        .path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("invalid url path '{}'", spec.path));
    }
    if host.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!("invalid virtualhost '{host}'"));
    }
    let minor = if spec.protocol == HttpProtocol::V11 {
        1
    } else {
        0
    };
    let mut r = format!("{} {} HTTP/1.{minor}\r\n", spec.method, spec.path);
    let own_agent = spec
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"));
    if !own_agent {
        r.push_str("User-Agent: KeepAliveClient\r\n");
    }
    if spec.protocol != HttpProtocol::V10 {
        r.push_str("Connection: close\r\n");
    }
    if let Some(a) = spec.authorization {
        r.push_str("Authorization: ");
        r.push_str(a.expose());
        r.push_str("\r\n");
    }
    for (name, value) in spec.headers {
        r.push_str(name);
        r.push_str(": ");
        r.push_str(value);
        r.push_str("\r\n");
    }
    if ["POST", "PUT", "PATCH"]
        .iter()
        .any(|m| spec.method.eq_ignore_ascii_case(m))
    {
        r.push_str("Content-Length: 0\r\n");
    }
    r.push_str("Host: ");
    r.push_str(host);
    r.push_str("\r\n\r\n");
    Ok(r.into_bytes())
}

/// Standard base64 with padding (RFC 4648): twenty lines instead of a crate.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        // RFC 7617's example.
        let a = basic_authorization("Aladdin", &Secret::new("open sesame".into()));
        assert_eq!(a.expose(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(format!("{a:?}"), "<redacted>");
    }

    #[test]
    fn keepalived_request_unchanged_and_additions_before_host() {
        let plain = GetSpec::get("/h", None, HttpProtocol::V10);
        assert_eq!(
            request("10.0.0.2:80", &plain).unwrap(),
            b"GET /h HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.2:80\r\n\r\n"
        );
        let headers = vec![
            ("X-Probe".to_string(), "lvsd".to_string()),
            ("User-Agent".to_string(), "probe/1".to_string()),
        ];
        let auth = Secret::new("Basic eDp5".into());
        let spec = GetSpec {
            method: "POST",
            headers: &headers,
            authorization: Some(&auth),
            ..GetSpec::get("/h", None, HttpProtocol::V11)
        };
        let text = String::from_utf8(request("h", &spec).unwrap()).unwrap();
        assert_eq!(
            text,
            "POST /h HTTP/1.1\r\nConnection: close\r\nAuthorization: Basic eDp5\r\nX-Probe: lvsd\r\nUser-Agent: probe/1\r\nContent-Length: 0\r\nHost: h\r\n\r\n"
        );
    }
}

//! The keywords of HTTP_GET and SSL_GET and of their `url { }` blocks.

use super::global::set;
use crate::config::diag::Span;
use crate::config::model::*;
use crate::config::tree::Node;
use crate::config::values::Ctx;

/// Handles a checker-level keyword of HTTP_GET (`tls` false) or SSL_GET; false when `n` is none.
pub fn keyword(ctx: &mut Ctx, n: &Node, tls: bool, http: &mut HttpCheck) -> bool {
    match (tls, n.kw()) {
        (_, "url") => {
            if let Some(u) = url(ctx, n, tls) {
                http.urls.push(u);
            }
        }
        (_, "http_protocol") => {
            if let Some(t) = ctx.one(n, "1.0, 1.0C or 1.1") {
                if matches!(t.text.as_str(), "1.0" | "1.0C" | "1.0c" | "1.1") {
                    http.http_protocol = Some(t.text.clone());
                } else {
                    ctx.err(
                        t.span,
                        format!(
                            "'http_protocol': expected 1.0, 1.0C or 1.1, found '{}'",
                            t.text
                        ),
                    );
                }
            }
        }
        (_, "fast_recovery") => set(&mut http.fast_recovery, ctx.flag(n)),
        (true, "enable_sni") => set(&mut http.enable_sni, ctx.flag(n)),
        // keepalived: `sni_name` alone turns SNI on with the default name.
        (true, "sni_name") if n.args.is_empty() => {
            ctx.no_block(n);
            http.enable_sni = true;
        }
        (true, "sni_name") => {
            if let Some(t) = ctx.one(n, "a server name") {
                if valid_dns_name(&t.text) {
                    http.sni_name = Some(t.text.clone());
                    http.enable_sni = true;
                } else {
                    ctx.err(
                        t.span,
                        format!(
                            "'sni_name': expected a DNS name such as www.example.com, found '{}'",
                            t.text
                        ),
                    );
                }
            }
        }
        (true, "tls_compliant") => set(&mut http.tls_compliant, ctx.flag(n)),
        (true, "tls_verify_ca") => {
            if let Some(t) = ctx.one(n, "the path of a PEM file of CA certificates") {
                if t.text.starts_with('/') {
                    http.tls_verify_ca = Some(t.text.clone());
                } else {
                    ctx.err(
                        t.span,
                        format!(
                            "'tls_verify_ca': expected an absolute path, found '{}'",
                            t.text
                        ),
                    );
                }
            }
        }
        (true, "tls_verify_name") => {
            if let Some(t) = ctx.one(n, "a DNS name or an address") {
                if valid_dns_name(&t.text) || t.text.parse::<std::net::IpAddr>().is_ok() {
                    http.tls_verify_name = Some(t.text.clone());
                } else {
                    ctx.err(
                        t.span,
                        format!(
                            "'tls_verify_name': expected a DNS name or an address, found '{}'",
                            t.text
                        ),
                    );
                }
            }
        }
        _ => return false,
    }
    true
}

/// What the whole checker block must hold together.
pub fn settle(ctx: &mut Ctx, node: &Node, http: &HttpCheck) {
    if http.tls_verify_name.is_some() && http.tls_verify_ca.is_none() {
        ctx.warn(
            node.span(),
            "SSL_GET: 'tls_verify_name' without 'tls_verify_ca' has no effect: the certificate is not verified",
        );
    }
}

fn url(ctx: &mut Ctx, node: &Node, tls: bool) -> Option<Url> {
    let mut u = Url {
        path: String::new(),
        digest: None,
        status_code: Vec::new(),
        virtualhost: None,
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
        method: None,
        headers: Vec::new(),
        username: None,
        password: None,
        tls_compliant: false,
        span: node.span(),
    };
    let mut auth_span = None;
    for n in ctx.block(node) {
        match n.kw() {
            "path" => set(&mut u.path, ctx.string(n, "a URL path such as /health")),
            "digest" => {
                if let Some(t) = ctx.one(n, "an MD5 digest (32 hex digits, as genhash prints)") {
                    if t.text.len() == 32 && t.text.chars().all(|c| c.is_ascii_hexdigit()) {
                        u.digest = Some(t.text.to_ascii_lowercase());
                    } else {
                        ctx.err(t.span, format!("'digest': expected 32 hex digits (an MD5 from genhash), found '{}'", t.text));
                    }
                }
            }
            "status_code" => status_code(ctx, n, &mut u),
            "virtualhost" => u.virtualhost = ctx.string(n, "a host name"),
            "regex" => {
                if let Some(t) = ctx.one(n, "a regular expression") {
                    if let Err(e) = regex_syntax_check(&t.text) {
                        ctx.err(t.span, format!("'regex': {e}"));
                    } else {
                        u.regex = Some(t.text.clone());
                    }
                }
            }
            "regex_no_match" => set(&mut u.regex_no_match, ctx.flag(n)),
            "regex_options" => u.regex_options = n.args.iter().map(|t| t.text.clone()).collect(),
            "regex_min_offset" => u.regex_min_offset = ctx.u32v(n, 0, u32::MAX),
            "regex_max_offset" => u.regex_max_offset = ctx.u32v(n, 0, u32::MAX),
            "regex_stack" => ctx.ignored(n),
            "method" => {
                if let Some(t) = ctx.one(n, "an HTTP method such as GET or HEAD") {
                    if is_token(&t.text) {
                        u.method = Some(t.text.clone());
                    } else {
                        ctx.err(
                            t.span,
                            format!(
                                "'method': expected an HTTP method such as GET or HEAD, found '{}'",
                                t.text
                            ),
                        );
                    }
                }
            }
            "header" => {
                if let Some(h) = header(ctx, n) {
                    u.headers.push(h);
                }
            }
            "username" => {
                if let Some(t) = ctx.one(n, "a user name") {
                    if t.text.contains(':') || has_control(&t.text) {
                        ctx.err(
                            t.span,
                            "'username': expected a user name without ':' or control characters",
                        );
                    } else {
                        u.username = Some(t.text.clone());
                        auth_span.get_or_insert(n.span());
                    }
                }
            }
            "password" => {
                // The value is never echoed, not even in a diagnostic (ctx.one would quote an
                // extra word).
                ctx.no_block(n);
                if n.args.len() > 1 {
                    ctx.err(
                        n.args[1].span,
                        "'password': expected one word (quote a password with spaces)",
                    );
                } else if let Some(t) = ctx.arg(n, 0, "a password") {
                    if has_control(&t.text) {
                        ctx.err(
                            t.span,
                            "'password': expected a password without control characters",
                        );
                    } else {
                        u.password = Some(Secret::new(t.text.clone()));
                        auth_span.get_or_insert(n.span());
                    }
                }
            }
            "tls_compliant" if tls => set(&mut u.tls_compliant, ctx.flag(n)),
            _ => ctx.unknown(n, "url"),
        }
    }
    if let Some(span) = auth_span {
        credentials(ctx, span, &u);
    }
    if u.path.is_empty() {
        ctx.warn(
            node.span(),
            "url: no 'path' line; the url is ignored, as keepalived does",
        );
        return None;
    }
    Some(u)
}

fn status_code(ctx: &mut Ctx, n: &Node, u: &mut Url) {
    if n.args.is_empty() {
        ctx.err(
            n.end_span(),
            "'status_code': expected codes or ranges such as 200 or 200-299",
        );
    }
    for t in &n.args {
        let parsed = match t.text.split_once('-') {
            Some((a, b)) => a.parse::<u16>().ok().zip(b.parse::<u16>().ok()),
            None => t.text.parse::<u16>().ok().map(|v| (v, v)),
        };
        match parsed {
            Some((a, b)) if (100..=599).contains(&a) && (100..=599).contains(&b) && a <= b => {
                u.status_code.push((a, b))
            }
            _ => ctx.err(
                t.span,
                format!(
                    "'status_code': expected a code 100-599 or a range like 200-299, found '{}'",
                    t.text
                ),
            ),
        }
    }
}

/// Headers lvsd writes itself: a second one would contradict it.
const OWN_HEADERS: &[(&str, &str)] = &[
    ("host", "set it with 'virtualhost'"),
    ("connection", "'http_protocol' sets it"),
    ("content-length", "no request body is sent"),
    ("transfer-encoding", "no request body is sent"),
];

/// `header NAME VALUE`: one request header.
fn header(ctx: &mut Ctx, n: &Node) -> Option<(String, String)> {
    let name = ctx.arg(n, 0, "a header name and its value")?;
    let Some(value) = n.args.get(1) else {
        ctx.err(
            n.end_span(),
            "'header': expected a header name and its value, such as header Accept application/json",
        );
        return None;
    };
    ctx.extra(n, 2);
    if !is_token(&name.text) {
        ctx.err(
            name.span,
            format!(
                "'header': expected a header name (letters, digits, '-'), found '{}'",
                name.text
            ),
        );
        return None;
    }
    let lower = name.text.to_ascii_lowercase();
    if let Some((_, why)) = OWN_HEADERS.iter().find(|(h, _)| *h == lower) {
        ctx.err(
            name.span,
            format!("'header': lvsd writes '{}' itself: {why}", name.text),
        );
        return None;
    }
    if has_control(&value.text) {
        ctx.err(
            value.span,
            "'header': expected a value without line breaks or control characters",
        );
        return None;
    }
    Some((name.text.clone(), value.text.clone()))
}

/// Basic credentials need both halves, and replace any Authorization header.
fn credentials(ctx: &mut Ctx, span: Span, u: &Url) {
    match (&u.username, &u.password) {
        (Some(_), None) => ctx.err(span, "url: 'username' without 'password'"),
        (None, Some(_)) => ctx.err(span, "url: 'password' without 'username'"),
        _ => {}
    }
    if u.headers
        .iter()
        .any(|(h, _)| h.eq_ignore_ascii_case("authorization"))
    {
        ctx.err(
            span,
            "url: 'username' and 'password' make the Authorization header; drop the 'header Authorization' line",
        );
    }
}

/// RFC 9110 `token`: what a method or a header name may be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

/// A host name as SNI carries it: dot-separated labels of letters, digits, '-' and '_'.
fn valid_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.parse::<std::net::IpAddr>().is_err()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A light check that a regex is balanced; the HTTP checker compiles it for real.
fn regex_syntax_check(re: &str) -> Result<(), String> {
    let mut depth = 0i32;
    let mut escaped = false;
    let mut in_class = false;
    for c in re.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced ')' in the regular expression".into());
                }
            }
            _ => {}
        }
    }
    if depth != 0 || in_class {
        return Err("unbalanced '(' or '[' in the regular expression".into());
    }
    Ok(())
}

/// `SSL { certificate FILE  key FILE  password PASS  ca FILE }`: the client certificate (chain) and
/// key SSL_GET presents to servers that ask for one.
pub fn ssl_block(ctx: &mut Ctx, node: &Node) -> SslClient {
    let mut s = SslClient {
        certificate: None,
        key: None,
        password: None,
        ca: None,
        span: node.span(),
    };
    for n in ctx.block(node) {
        match n.kw() {
            "certificate" => s.certificate = ctx.string(n, "a PEM certificate file"),
            "key" => s.key = ctx.string(n, "a PEM private key file"),
            "password" => s.password = ctx.string(n, "the key's password").map(Secret::new),
            "ca" => s.ca = ctx.string(n, "a PEM CA file"),
            _ => ctx.unknown(n, "SSL"),
        }
    }
    s
}

//! One probe per configured checker, built from the config model with keepalived's defaults.

use super::decide::{Outcome, Timing};
use super::dns::DnsProbe;
use super::file::FileProbe;
use super::http::{BodyRegex, HttpProbe, HttpProtocol, UrlCheck};
use super::http_request::basic_authorization;
use super::misc::MiscProbe;
use super::net::{Bind, Target};
use super::ping::PingProbe;
use super::smtp::{host_name, SmtpProbe};
use super::tcp::TcpProbe;
use super::tls::Verify;
use super::udp::UdpProbe;
use crate::config::model::{CheckKind, Checker, Config, HttpCheck, RealServer, SslClient};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("real server {rs}: {checker}: {msg}")]
    Invalid {
        rs: String,
        checker: &'static str,
        msg: String,
    },
    #[error("real server {rs}: {checker} is not supported by lvsd; the checker is ignored")]
    Unsupported { rs: String, checker: &'static str },
    /// enable_script_security refused the MISC_CHECK's script: it is left out, as an unsafe notify
    /// script is not run.
    #[error("real server {rs}: {checker} script not run: {why}; the checker is left out")]
    Refused {
        rs: String,
        checker: &'static str,
        why: String,
    },
}

/// Each kind behind an `Arc`: a checker holds 16 bytes whatever its kind, and a running check shares
/// its probe with the checker instead of copying it.
#[derive(Debug, Clone)]
pub enum Probe {
    Tcp(Arc<TcpProbe>),
    Http(Arc<HttpProbe>),
    Smtp(Arc<SmtpProbe>),
    Dns(Arc<DnsProbe>),
    Misc(Arc<MiscProbe>),
    Udp(Arc<UdpProbe>),
    Ping(Arc<PingProbe>),
    File(Arc<FileProbe>),
}

/// What to do with a check's future: box it alone (`Probe::run`) or with the caller's bookkeeping
/// (the runner's), so that a running check is one allocation.
pub trait Launch {
    type Out;
    fn launch<F: Future<Output = Outcome> + Send + 'static>(self, check: F) -> Self::Out;
}

struct Alone;

impl Launch for Alone {
    type Out = Pin<Box<dyn Future<Output = Outcome> + Send>>;
    fn launch<F: Future<Output = Outcome> + Send + 'static>(self, check: F) -> Self::Out {
        Box::pin(check)
    }
}

/// keepalived's keyword for a checker kind.
pub fn kind_name(kind: &CheckKind) -> &'static str {
    match kind {
        CheckKind::Tcp => "TCP_CHECK",
        CheckKind::Http(_) => "HTTP_GET",
        CheckKind::Ssl(_) => "SSL_GET",
        CheckKind::Smtp { .. } => "SMTP_CHECK",
        CheckKind::Dns { .. } => "DNS_CHECK",
        CheckKind::Misc { .. } => "MISC_CHECK",
        CheckKind::Udp { .. } => "UDP_CHECK",
        CheckKind::Ping => "PING_CHECK",
        CheckKind::File { .. } => "FILE_CHECK",
        CheckKind::Bfd { .. } => "BFD_CHECK",
    }
}

pub fn timing(c: &Checker) -> Timing {
    Timing {
        alpha: c.alpha,
        retry: c.retry,
        delay_before_retry: c.delay_before_retry.0,
        delay_loop: c.delay_loop.0,
        urls: match &c.kind {
            CheckKind::Http(h) | CheckKind::Ssl(h) => {
                h.urls.len().clamp(1, u32::MAX as usize) as u32
            }
            _ => 1,
        },
        fast_recovery: match &c.kind {
            CheckKind::Http(h) | CheckKind::Ssl(h) => h.fast_recovery,
            _ => false,
        },
    }
}

impl Probe {
    /// One check, its future boxed (each kind's state differs in size: 12 KB for SSL, 400 B for TCP).
    pub async fn run(&self) -> Outcome {
        self.launch(0, Alone).await
    }

    /// Check number `step` of a round (the url of an HTTP_GET; the other kinds have one step).
    pub async fn run_step(&self, step: u32) -> Outcome {
        self.launch(step, Alone).await
    }

    /// One check as an owned future, handed to `l`.
    pub fn launch<L: Launch>(&self, step: u32, l: L) -> L::Out {
        match self {
            Probe::Tcp(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::Http(p) => {
                let p = p.clone();
                l.launch(async move { p.run(step).await })
            }
            Probe::Smtp(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::Dns(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::Misc(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::Udp(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::Ping(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
            Probe::File(p) => {
                let p = p.clone();
                l.launch(async move { p.run().await })
            }
        }
    }

    /// Builds the probe for checker `c` of real server `rs`.
    pub fn build(cfg: &Config, rs: &RealServer, c: &Checker) -> Result<Probe, BuildError> {
        let checker = kind_name(&c.kind);
        let invalid = |msg: String| BuildError::Invalid {
            rs: format!("[{}]:{}", rs.ip, rs.port),
            checker,
            msg,
        };
        let target = |proto: &'static str, default_port: u16| {
            let port = c.connect_port.unwrap_or(rs.port);
            let port = if port == 0 { default_port } else { port };
            let mut t = Target::new(
                SocketAddr::new(c.connect_ip.unwrap_or(rs.ip), port),
                proto,
                c.connect_timeout.0,
            );
            if let Some(b) = &c.bind {
                t.set_bind(Bind::clone(b));
            }
            t
        };
        Ok(match &c.kind {
            CheckKind::Tcp => Probe::Tcp(Arc::new(TcpProbe::new(target("tcp", 0)))),
            CheckKind::Http(h) => Probe::Http(Arc::new(
                http(h, target("tcp", 80), rs, None).map_err(invalid)?,
            )),
            CheckKind::Ssl(h) => Probe::Http(Arc::new(
                http(h, target("tcp", 443), rs, Some(cfg.ssl.as_ref())).map_err(invalid)?,
            )),
            CheckKind::Smtp { helo_name } => Probe::Smtp(Arc::new(SmtpProbe {
                target: target("tcp", 25),
                helo_name: helo_name
                    .clone()
                    .or_else(|| cfg.global.smtp_helo_name.clone())
                    .unwrap_or_else(host_name),
            })),
            CheckKind::Dns { query_type, name } => Probe::Dns(Arc::new(
                DnsProbe::new(target("udp", 53), name, query_type).map_err(invalid)?,
            )),
            CheckKind::Misc {
                misc_path,
                misc_timeout,
                misc_dynamic,
            } => {
                // As for notify scripts: the script's own user, else global_defs script_user; with
                // enable_script_security a script others could change is not run as root.
                let default_user = cfg.global.script_user.as_ref();
                // A line or user that cannot be prepared is reported by MiscProbe::new below.
                let insecure = crate::notify::command::prepare(misc_path, default_user, &[])
                    .ok()
                    .and_then(|p| crate::notify::security::check(&p).err());
                if let Some(why) = insecure {
                    if cfg.global.enable_script_security {
                        return Err(BuildError::Refused {
                            rs: format!("[{}]:{}", rs.ip, rs.port),
                            checker,
                            why,
                        });
                    }
                    tracing::warn!(
                        "SECURITY: MISC_CHECK script '{}' runs as root: {why}",
                        misc_path.command
                    );
                }
                let (user, group) = match (&misc_path.user, default_user) {
                    (Some(u), _) => (Some(u.as_str()), misc_path.group.as_deref()),
                    (None, Some((u, g))) => (Some(u.as_str()), g.as_deref()),
                    (None, None) => (None, None),
                };
                Probe::Misc(Arc::new(
                    MiscProbe::new(
                        &misc_path.command,
                        misc_timeout.map_or(c.delay_loop.0, |t| t.0),
                        *misc_dynamic,
                        user,
                        group,
                    )
                    .map_err(invalid)?,
                ))
            }
            CheckKind::Udp {
                payload,
                require_reply,
                min_reply_length,
                max_reply_length,
            } => Probe::Udp(Arc::new(UdpProbe {
                target: target("udp", 0),
                payload: payload.clone(),
                require_reply: require_reply.clone(),
                min_reply_length: *min_reply_length as usize,
                max_reply_length: *max_reply_length as usize,
            })),
            CheckKind::Ping => Probe::Ping(Arc::new(PingProbe {
                target: target("icmp", 0),
            })),
            CheckKind::File {
                track_file,
                weight,
                reverse,
                ..
            } => {
                let tf = cfg
                    .track_files
                    .iter()
                    .find(|t| &t.name == track_file)
                    .ok_or_else(|| invalid(format!("no track_file named '{track_file}'")))?;
                let (weight, reverse) = match weight {
                    Some(w) => (*w, *reverse),
                    None => (tf.weight, tf.reverse),
                };
                Probe::File(Arc::new(FileProbe {
                    track_file: track_file.clone(),
                    path: tf.file.clone(),
                    weight,
                    reverse,
                    rs_weight: rs.weight,
                }))
            }
            CheckKind::Bfd { .. } => {
                return Err(BuildError::Unsupported {
                    rs: format!("[{}]:{}", rs.ip, rs.port),
                    checker,
                })
            }
        })
    }
}

/// `tls`: None for HTTP_GET; for SSL_GET, the SSL block if there is one.
fn http(
    h: &HttpCheck,
    target: Target,
    rs: &RealServer,
    tls: Option<Option<&SslClient>>,
) -> Result<HttpProbe, String> {
    let protocol = HttpProtocol::parse(h.http_protocol.as_deref())
        .ok_or_else(|| format!("bad http_protocol {:?}", h.http_protocol))?;
    let virtualhost = h.virtualhost.clone().or_else(|| rs.virtualhost.clone());
    let mut urls = Vec::new();
    for u in &h.urls {
        let regex = match &u.regex {
            Some(re) => Some(
                BodyRegex::new(
                    re,
                    &u.regex_options,
                    u.regex_no_match,
                    u.regex_min_offset,
                    u.regex_max_offset,
                )
                .map_err(|e| format!("url {}: regex: {e}", u.path))?,
            ),
            None => None,
        };
        let authorization = match (&u.username, &u.password) {
            (Some(user), Some(pass)) => Some(basic_authorization(user, pass)),
            _ => None,
        };
        // keepalived's SNI for a url: sni_name, else the url's virtualhost, else the checker's.
        let server_name = match (tls.is_some(), &u.virtualhost) {
            (true, Some(v)) if h.enable_sni && h.sni_name.is_none() => Some(
                super::http::handshake_name(true, None, Some(v), target.addr.ip()),
            ),
            _ => None,
        };
        urls.push(UrlCheck {
            path: u.path.clone(),
            digest: u.digest.clone(),
            status: u.status_code.clone(),
            virtualhost: u.virtualhost.clone(),
            regex,
            method: u.method.clone().unwrap_or_else(|| "GET".into()),
            headers: u.headers.clone(),
            authorization,
            close_notify: tls.is_some() && (h.tls_compliant || u.tls_compliant),
            server_name,
        });
    }
    let tls = if let Some(ssl) = tls {
        let verify = match &h.tls_verify_ca {
            Some(ca) => Some(Verify::load(ca, h.tls_verify_name.as_deref())?),
            None => None,
        };
        let identity = match ssl {
            Some(s) => super::tls_identity::ClientIdentity::load(s)?,
            None => None,
        };
        Some(
            super::http::tls_setup(
                h.enable_sni,
                h.sni_name.as_deref(),
                virtualhost.as_deref(),
                target.addr.ip(),
                verify.as_ref(),
                identity.as_ref(),
            )
            .map_err(|e| format!("TLS setup: {e}"))?,
        )
    } else {
        None
    };
    Ok(HttpProbe {
        target,
        tls,
        protocol,
        virtualhost,
        urls,
    })
}

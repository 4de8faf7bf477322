//! Email alerts as keepalived sends them (smtp_alert): same subjects, bodies and headers, so mail
//! filters keep working. Each mail is one tokio task with a plain SMTP dialogue bounded by
//! smtp_connect_timeout, so a dead server never delays an engine; failures are logged once until a
//! mail gets through again.

use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tracing::{info, warn};

use crate::config::model::Global;

/// Where and how to send; None from `from_global` when no alert can be sent.
#[derive(Debug, Clone)]
pub struct Mailer {
    server: (String, u16),
    helo: String,
    from: String,
    to: Vec<String>,
    router_id: String,
    timeout: Duration,
    failing: Arc<AtomicBool>,
}

/// One alert: subject and body without the `[router_id] ` prefix and the `=> <=` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: String,
}

/// The local host name (keepalived's default router_id, HELO name and sender domain).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Mailer {
    /// keepalived sends nothing without notification_email and smtp_server.
    pub fn from_global(g: &Global) -> Option<Mailer> {
        let server = g.smtp_server.as_ref()?;
        if g.notification_email.is_empty() {
            return None;
        }
        let host = hostname();
        Some(Mailer {
            server: (server.host.clone(), server.port),
            helo: g.smtp_helo_name.clone().unwrap_or_else(|| host.clone()),
            from: g
                .notification_email_from
                .clone()
                .unwrap_or_else(|| format!("keepalived@{host}")),
            to: g.notification_email.clone(),
            router_id: g.router_id.clone().unwrap_or(host),
            timeout: g.smtp_connect_timeout.0,
            failing: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The whole message after DATA, lines ending in CRLF, dot-stuffed, without the final ".".
    pub fn message(&self, alert: &Alert, now: SystemTime) -> String {
        let mut m = format!(
            "Date: {}\r\nFrom: {}\r\nSubject: [{}] {}\r\nX-Mailer: Keepalived\r\nTo: {}\r\n\r\n",
            rfc2822(now),
            self.from,
            self.router_id,
            alert.subject,
            self.to.join(", ")
        );
        for line in alert.body.lines() {
            if line.starts_with('.') {
                m.push('.');
            }
            m.push_str(line);
            m.push_str("\r\n");
        }
        m
    }

    /// Sends in the background; returns at once.
    pub fn send(&self, alert: Alert) {
        let me = self.clone();
        tokio::spawn(async move {
            let what = alert.subject.clone();
            let msg = me.message(&alert, SystemTime::now());
            match tokio::time::timeout(me.timeout, me.dialogue(&msg)).await {
                Ok(Ok(())) => {
                    if me.failing.swap(false, Ordering::Relaxed) {
                        info!(
                            "SMTP: mails to {}:{} are delivered again",
                            me.server.0, me.server.1
                        );
                    }
                    info!("SMTP alert successfully sent: {what}");
                }
                Ok(Err(e)) => me.failed(&e),
                Err(_) => me.failed(&format!("no answer within {:?}", me.timeout)),
            }
        });
    }

    fn failed(&self, why: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            warn!(
                "SMTP: cannot send alert to {}:{}: {why} (logged once until a mail gets through)",
                self.server.0, self.server.1
            );
        }
    }

    async fn dialogue(&self, msg: &str) -> Result<(), String> {
        let (host, port) = self.server.clone();
        let addrs: Vec<_> = tokio::task::spawn_blocking(move || {
            (host.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("resolving the server: {e}"))?;
        let addr = addrs.first().ok_or("the server name has no address")?;
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        expect(&mut r, 220).await?;
        let mut steps = vec![
            (format!("HELO {}\r\n", self.helo), 250),
            (format!("MAIL FROM:<{}>\r\n", self.from), 250),
        ];
        steps.extend(self.to.iter().map(|t| (format!("RCPT TO:<{t}>\r\n"), 250)));
        steps.push(("DATA\r\n".into(), 354));
        steps.push((format!("{msg}\r\n.\r\n"), 250));
        steps.push(("QUIT\r\n".into(), 221));
        for (line, code) in steps {
            w.write_all(line.as_bytes())
                .await
                .map_err(|e| format!("write: {e}"))?;
            expect(&mut r, code).await?;
        }
        Ok(())
    }
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn expect<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, code: u16) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        let got: Option<u16> = line.get(..3).and_then(|c| c.parse().ok());
        if line.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        return match got {
            Some(c) if c == code => Ok(()),
            _ => Err(format!("expected {code}, got '{}'", line.trim_end())),
        };
    }
}

/// keepalived's wording for a VRRP instance (`group` false) or sync group state change.
pub fn vrrp_alert(name: &str, state: &str, group: bool) -> Alert {
    let body = match (group, state) {
        (false, "MASTER") => "=> VRRP Instance is now owning VRRP VIPs <=".to_string(),
        (false, "BACKUP") => "=> VRRP Instance is no longer owning VRRP VIPs <=".to_string(),
        (false, "FAULT") => "=> VRRP Instance is in FAULT state <=".to_string(),
        (false, s) => format!("=> VRRP Instance is in {s} state <="),
        (true, s) => format!("=> All VRRP group instances are now in {s} state <="),
    };
    let what = if group { "VRRP Group" } else { "VRRP Instance" };
    Alert {
        subject: format!("{what} {name} - Entering {state} state"),
        body,
    }
}

/// keepalived's wording for a real server going up or down (labels as `[ip]:tcp:port`).
pub fn checker_alert(rs: &str, vs: &str, up: bool, reason: &str) -> Alert {
    let body = match (up, reason.is_empty()) {
        (true, _) => "=> CHECK succeed on service <=".to_string(),
        (false, true) => "=> CHECK failed on service <=".to_string(),
        (false, false) => format!("=> CHECK failed on service : {reason} <="),
    };
    Alert {
        subject: format!(
            "Realserver {rs} of virtual server {vs} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body,
    }
}

/// `Tue, 24 Nov 2026 09:01:50 +0000`, in UTC.
pub fn rfc2822(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} +0000",
        WD[days.rem_euclid(7) as usize],
        MO[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_matches_keepalived_format() {
        // keepalived's mail in tests/support/keepalived-2.2.7/mail-master.txt.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_510_914);
        assert_eq!(rfc2822(t), "Tue, 24 Nov 2026 09:01:54 +0000");
        assert_eq!(rfc2822(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc2822(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
    }

    #[test]
    fn message_is_keepalived_s() {
        let g = Global {
            router_id: Some("lb1".into()),
            notification_email: vec!["ops@example.com".into(), "other@example.com".into()],
            notification_email_from: Some("ka@example.com".into()),
            smtp_server: Some(crate::config::model::SmtpServer {
                host: "127.0.0.1".into(),
                port: 2525,
            }),
            ..Global::default()
        };
        let m = Mailer::from_global(&g).expect("mailer");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_510_914);
        let text = m.message(&vrrp_alert("VI_1", "MASTER", false), t);
        let want = include_str!("../../tests/support/keepalived-2.2.7/mail-master.txt");
        let want_data = want.split("\n\n").skip(1).collect::<Vec<_>>().join("\n\n");
        // The sink also records the empty line that precedes the final "." on the wire.
        assert_eq!(text.replace("\r\n", "\n") + "\n", want_data);
    }

    #[test]
    fn no_mailer_without_recipients_or_server() {
        assert!(Mailer::from_global(&Global::default()).is_none());
    }

    #[test]
    fn checker_subject() {
        let a = checker_alert("[10.0.0.2]:tcp:80", "[10.0.0.1]:tcp:80", false, "");
        assert_eq!(
            a.subject,
            "Realserver [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN"
        );
    }
}

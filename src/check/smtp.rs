//! SMTP_CHECK: read the 220 greeting, send HELO, expect 250, then QUIT.

use super::decide::Outcome;
use super::net::{io_text, within, Target};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Clone)]
pub struct SmtpProbe {
    pub target: Target,
    pub helo_name: String,
}

/// Longest reply line accepted (RFC 5321 allows 512 octets).
const MAX_LINE: usize = 4096;

impl SmtpProbe {
    pub async fn run(&self) -> Outcome {
        let name = self.target.name();
        let result = within(self.target.timeout, self.exchange()).await;
        match result {
            Ok(Ok(())) => Outcome::pass(format!("SMTP connection to {name} success")),
            Ok(Err(e)) | Err(e) => Outcome::fail(format!("SMTP connection to {name} failed: {e}")),
        }
    }

    async fn exchange(&self) -> Result<(), String> {
        let stream = self.target.connect_tcp().await.map_err(|e| io_text(&e))?;
        let (rd, mut wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        expect(&mut rd, 220, "greeting").await?;
        wr.write_all(format!("HELO {}\r\n", self.helo_name).as_bytes())
            .await
            .map_err(|e| io_text(&e))?;
        expect(&mut rd, 250, "HELO").await?;
        // The check has passed; QUIT is a courtesy whose answer does not matter.
        let _ = wr.write_all(b"QUIT\r\n").await;
        Ok(())
    }
}

/// Reads one (possibly multi-line `250-...`) reply and checks its code.
async fn expect<R: AsyncBufReadExt + Unpin>(
    rd: &mut R,
    want: u16,
    what: &str,
) -> Result<(), String> {
    loop {
        let mut line = Vec::new();
        let n = (&mut *rd)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| io_text(&e))?;
        if n == 0 {
            return Err(format!(
                "connection closed while waiting for the {what} reply"
            ));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        let code = text.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(format!("bad {what} reply '{text}'"));
        };
        if text.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        if code != want {
            return Err(format!("{what} reply '{text}', expected {want}"));
        }
        return Ok(());
    }
}

/// keepalived's default HELO name: this host's name.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or truncates.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

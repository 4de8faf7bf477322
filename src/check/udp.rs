//! UDP_CHECK: send the payload (or random bytes) on a connected socket. An ICMP port unreachable
//! (seen as ECONNREFUSED) fails the check. With require_reply a reply must come within the
//! timeout, its length within [min, max] and its bytes match the hex pattern (X = any nibble);
//! without it, silence until the timeout passes.

use super::decide::Outcome;
use super::net::{io_text, secs, Target};
use crate::config::model::HexNibble;
use std::io;

#[derive(Debug, Clone)]
pub struct UdpProbe {
    pub target: Target,
    pub payload: Option<Vec<u8>>,
    pub require_reply: Option<Vec<HexNibble>>,
    pub min_reply_length: usize,
    pub max_reply_length: usize,
}

/// Length of the random payload sent when none is configured.
const RANDOM_PAYLOAD: usize = 16;

impl UdpProbe {
    pub async fn run(&self) -> Outcome {
        let name = self.target.name();
        match self.exchange().await {
            Ok(what) => Outcome::pass(format!("UDP connection to {name} success: {what}")),
            Err(e) => Outcome::fail(format!("UDP connection to {name} failed: {e}")),
        }
    }

    async fn exchange(&self) -> Result<String, String> {
        let sock = self.target.connect_udp().map_err(|e| io_text(&e))?;
        let payload = match &self.payload {
            Some(p) => p.clone(),
            None => {
                let mut p = vec![0u8; RANDOM_PAYLOAD];
                rand::fill(&mut p[..]);
                p
            }
        };
        sock.send(&payload)
            .await
            .map_err(|e| unreachable_text(&e))?;
        let mut buf = vec![0u8; 65535];
        let got = tokio::time::timeout(self.target.timeout, sock.recv(&mut buf)).await;
        match (got, &self.require_reply) {
            (Ok(Err(e)), _) => Err(unreachable_text(&e)),
            (Err(_), None) => Ok("no ICMP error".into()),
            (Err(_), Some(_)) => Err(format!(
                "no reply, timeout after {}",
                secs(self.target.timeout)
            )),
            (Ok(Ok(_)), None) => Ok("reply received".into()),
            (Ok(Ok(n)), Some(pattern)) => self.check_reply(&buf[..n], pattern),
        }
    }

    pub(crate) fn check_reply(
        &self,
        reply: &[u8],
        pattern: &[HexNibble],
    ) -> Result<String, String> {
        if reply.len() < self.min_reply_length || reply.len() > self.max_reply_length {
            return Err(format!(
                "reply of {} bytes, expected {}-{}",
                reply.len(),
                self.min_reply_length,
                self.max_reply_length
            ));
        }
        if !reply_matches(reply, pattern) {
            return Err("reply does not match require_reply".into());
        }
        Ok(format!("reply of {} bytes matches", reply.len()))
    }
}

fn unreachable_text(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        "ICMP port unreachable".into()
    } else {
        io_text(e)
    }
}

/// keepalived's rule: the reply must match over the shorter of the reply and the pattern.
pub fn reply_matches(reply: &[u8], pattern: &[HexNibble]) -> bool {
    pattern.chunks(2).zip(reply).all(|(pair, byte)| {
        let nib = |n: &HexNibble, v: u8| match n {
            HexNibble::Any => true,
            HexNibble::Value(x) => *x == v,
        };
        let hi = pair.first().is_none_or(|n| nib(n, byte >> 4));
        let lo = pair.get(1).is_none_or(|n| nib(n, byte & 0x0f));
        hi && lo
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use HexNibble::{Any, Value as V};

    #[test]
    fn pattern_with_any_nibbles() {
        let pat = [V(0xa), V(0xb), Any, V(1), Any, Any];
        assert!(reply_matches(&[0xab, 0x71, 0xff], &pat));
        assert!(reply_matches(&[0xab, 0x01], &pat), "shorter reply");
        assert!(
            reply_matches(&[0xab, 0x01, 0x00, 0x99], &pat),
            "longer reply"
        );
        assert!(!reply_matches(&[0xab, 0x72], &pat));
        assert!(!reply_matches(&[0xac], &pat));
    }
}

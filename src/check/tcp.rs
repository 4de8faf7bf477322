//! TCP_CHECK: the real server passes when a TCP connection opens within connect_timeout.

use super::decide::Outcome;
use super::net::{io_text, within, Target};

#[derive(Debug, Clone)]
pub struct TcpProbe {
    pub target: Target,
}

impl TcpProbe {
    pub async fn run(&self) -> Outcome {
        let name = self.target.name();
        match within(self.target.timeout, self.target.connect_tcp()).await {
            Ok(Ok(_stream)) => Outcome::pass(format!("TCP connection to {name} success")),
            Ok(Err(e)) => {
                Outcome::fail(format!("TCP connection to {name} failed: {}", io_text(&e)))
            }
            Err(t) => Outcome::fail(format!("TCP connection to {name} failed: {t}")),
        }
    }
}

//! TCP_CHECK: the real server passes when a TCP connection opens within connect_timeout.

use super::decide::Outcome;
use super::net::{io_text, within, Target};

#[derive(Debug, Clone)]
pub struct TcpProbe {
    pub target: Target,
    /// `[10.0.0.2]:tcp:3306` and the success text, formatted once: a check runs every delay_loop
    /// for the daemon's life.
    name: Box<str>,
    success: Box<str>,
}

impl TcpProbe {
    pub fn new(target: Target) -> TcpProbe {
        let name = target.name();
        let success = format!("TCP connection to {name} success").into_boxed_str();
        TcpProbe {
            target,
            name: name.into_boxed_str(),
            success,
        }
    }

    pub async fn run(&self) -> Outcome {
        let name = &self.name;
        match within(self.target.timeout, self.target.connect_tcp()).await {
            Ok(Ok(_stream)) => Outcome::pass(self.success.as_ref()),
            Ok(Err(e)) => {
                Outcome::fail(format!("TCP connection to {name} failed: {}", io_text(&e)))
            }
            Err(t) => Outcome::fail(format!("TCP connection to {name} failed: {t}")),
        }
    }
}

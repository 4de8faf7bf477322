//! TCP_CHECK: the real server passes when a TCP connection opens within connect_timeout. The runner
//! connects through `connects::Connects`; `run` is the same check on its own (tests, one-off use).

use super::connects::Connected;
use super::decide::Outcome;
use super::net::{io_text, secs, Target};

/// Only the target: the texts are formatted when a check ends, not kept by each of 10,000 checkers.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    pub target: Target,
}

impl TcpProbe {
    pub fn new(target: Target) -> TcpProbe {
        TcpProbe { target }
    }

    pub async fn run(&self) -> Outcome {
        let result =
            match tokio::time::timeout(self.target.timeout, self.target.connect_tcp()).await {
                Ok(Ok(_stream)) => Connected::Yes,
                Ok(Err(e)) => Connected::Failed(e),
                Err(_) => Connected::TimedOut(self.target.timeout),
            };
        self.outcome(result)
    }

    /// The check's verdict in keepalived's words.
    pub fn outcome(&self, result: Connected) -> Outcome {
        let name = self.target.name();
        match result {
            Connected::Yes => Outcome::pass(format!("TCP connection to {name} success")),
            Connected::Failed(e) => {
                Outcome::fail(format!("TCP connection to {name} failed: {}", io_text(&e)))
            }
            Connected::TimedOut(t) => Outcome::fail(format!(
                "TCP connection to {name} failed: timeout after {}",
                secs(t)
            )),
        }
    }
}

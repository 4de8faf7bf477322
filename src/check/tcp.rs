//! TCP_CHECK: the real server passes when a TCP connection opens within connect_timeout. The runner
//! connects through its own `connects::Connects`; `run` is the same check on its own (tests, one-off
//! use), through a set of one.

use super::connects::{Connected, Connects};
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
        let result = match Connects::new() {
            Ok(mut c) => {
                c.start(0, &self.target);
                c.next_done().await.result
            }
            Err(e) => Connected::Failed(e),
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

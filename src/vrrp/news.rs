//! What the VRRP engine tells the engines that follow it, and what they answer (DESIGN.md: the
//! leader sends small typed messages over channels the daemon wires at start). The director
//! follows one instance with the IPVS sync daemon's role, and fetches the master's connection
//! table before this director preempts it; the BGP announcer follows the states of the instances
//! its VIPs are tied to.

use std::net::IpAddr;

use tokio::sync::mpsc;

use super::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// An instance entered `state` (sent for every transition, the first one included).
    State { instance: String, state: State },
    /// `instance` is about to preempt `master`: fetch its connection table, then answer
    /// [`CaughtUp`].
    CatchUp { instance: String, master: IpAddr },
}

/// The master's connection table is here, or cannot be had: preemption may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp;

/// The VRRP engine's ends of the channels; `None` where no engine follows (e.g. `-P`).
#[derive(Default)]
pub struct Links {
    pub news: Option<mpsc::UnboundedSender<News>>,
    pub caught_up: Option<mpsc::UnboundedReceiver<CaughtUp>>,
    /// A follower of the instances' states only (the BGP announcer): every `News::State`.
    pub states: Option<mpsc::UnboundedSender<News>>,
}

//! Health checkers: a pure decision core (`decide`), one async probe per checker type, and the runner
//! that schedules probes, feeds their outcomes to the core and reports real server events.

pub mod connects;
pub mod decide;
pub mod dns;
pub mod fdlimit;
pub mod file;
pub mod genhash;
pub mod http;
pub mod http_request;
pub mod misc;
pub mod net;
pub mod ping;
pub mod probe;
pub mod runner;
pub mod smtp;
pub mod spawn;
pub mod tcp;
pub mod tls;
pub mod tls_identity;
pub mod udp;

pub use decide::{CheckerCore, Outcome, RsEvent, RsState, WeightAdj};
pub use probe::{BuildError, Probe};
pub use runner::{CheckEvent, EventKind, Runner};

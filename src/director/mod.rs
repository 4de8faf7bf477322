//! The director: virtual and real server state -> the desired IPVS table (see DESIGN.md).

pub mod admin;
pub mod catchup;
pub mod ctl;
pub mod drain;
pub mod engine;
mod follow;
pub mod kernel;
mod mirror;
pub mod news;
mod pool;
pub mod services;
mod sync;
pub mod syncd;
mod sysctl;

pub use pool::{Action, Director};

#[cfg(test)]
mod tests;

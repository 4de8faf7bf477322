//! The director: virtual and real server state -> the desired IPVS table (see DESIGN.md).

pub mod drain;
pub mod engine;
pub mod kernel;
mod mirror;
mod pool;
pub mod services;
mod sync;

pub use pool::{Action, Director};

#[cfg(test)]
mod tests;

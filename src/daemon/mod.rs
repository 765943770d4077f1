//! The tokio daemon and its CLI clients.
pub mod cli;

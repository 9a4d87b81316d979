//! The Stratus process: configuration, startup, the HTTP router and the admin CLI.

pub mod cli;
pub mod config;
pub mod http;
pub mod startup;
pub mod telemetry;

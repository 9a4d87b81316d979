//! The Stratus process: configuration, startup, the HTTP router and the admin CLI.

pub mod bench;
pub mod bench_events;
pub mod bench_groups;
pub mod cli;
pub mod config;
pub mod fault_proxy;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod roles;
pub mod startup;
pub mod telemetry;

//! Logging: readable in a terminal, JSON with `STRATUS_LOG_FORMAT=json`.

use crate::config::{LogFormat, Settings};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(settings: &Settings) {
    let filter =
        EnvFilter::try_new(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests start many apps in one process) is not an error.
    let _ = match settings.log_format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
}

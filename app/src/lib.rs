#![recursion_limit = "256"]
//! Stratus: the application crate.
//!
//! - `model`, `error`, `rbac`: types and rules that compile for both the server and the browser.
//! - `api`: thin Leptos server functions (mounted under `/rpc`) that call the backend.
//! - `pages`, `components`: the UI.
//! - `backend` (feature `ssr`): the domain, one module per area, and the only place that touches the database.

pub mod api;
pub mod components;
pub mod error;
pub mod faults;
pub mod live;
pub mod model;
pub mod pages;
pub mod rbac;
pub mod readable;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod backend;

pub mod chunks;
mod shell;
pub use shell::{shell, App};

//! Cloud providers. Each talks to its cloud through the provider's official SDK and passes the
//! provider's own error messages through verbatim.

pub mod aws;

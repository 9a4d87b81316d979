//! Where tenants' resources live: cloud accounts (credentials kept as secrets), the provider
//! seam that opens an account into a handle on its cloud, and the zone survey.

pub mod accounts;
pub mod endpoints;
pub mod providers;
pub mod sandbox;
pub mod zone_survey;

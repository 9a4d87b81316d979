//! Integration tests: the real server on port 0, a fresh database per test.

mod accounts;
mod audit;
mod authz_matrix;
mod events;
mod health;
mod instance_groups;
mod queue;
mod rest_api;
mod secrets;
mod sessions;
mod support;
mod tenancy;
mod zones;

//! Integration tests: the real server on port 0, a fresh database per test.

mod account_security;
mod accounts;
mod audit;
mod authz_matrix;
mod databases;
mod events;
mod fault_proxy;
mod group_chaos;
mod group_health;
mod health;
mod instance_groups;
mod overview;
mod queue;
mod rest_api;
mod sandbox;
mod secrets;
mod security;
mod sessions;
mod stream_security;
mod support;
mod tenancy;
mod zones;

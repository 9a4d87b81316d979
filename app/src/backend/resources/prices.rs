//! The price list plans estimate monthly cost from: on-demand list prices kept in the
//! repository (`prices.json`: dated, with its source), per region. Zones cost nothing;
//! instance types and database classes are priced here for the resources that use them.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::LazyLock;

/// How the plan names the list it used.
pub const LIST_NAME: &str = "AWS on-demand list prices (prices.json, 2026-12-01)";

/// Hours in a billing month, as AWS's calculator counts them.
pub const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Debug, Deserialize)]
pub struct PriceList {
    pub date: String,
    pub source: String,
    pub currency: String,
    /// region → instance type → USD per hour.
    pub instance_hourly: HashMap<String, HashMap<String, f64>>,
    /// region → database class → USD per hour (single zone; a standby doubles it).
    pub database_hourly: HashMap<String, HashMap<String, f64>>,
    /// instance type → vCPUs (what the tenant's vCPU quota counts).
    pub instance_vcpus: HashMap<String, u32>,
    /// region → USD per GiB-month of database storage (single zone; a standby doubles it).
    pub database_storage_gb_month: HashMap<String, f64>,
}

pub static PRICES: LazyLock<PriceList> = LazyLock::new(|| {
    serde_json::from_str(include_str!("prices.json")).expect("prices.json is valid (tested)")
});

/// Monthly cents for `count` instances of `instance_type` in `region`, if the list has it.
pub fn instance_monthly_cents(region: &str, instance_type: &str, count: i64) -> Option<i64> {
    let hourly = PRICES.instance_hourly.get(region)?.get(instance_type)?;
    Some((hourly * HOURS_PER_MONTH * 100.0 * count as f64).round() as i64)
}

/// The vCPUs of `instance_type`, if the list knows it.
pub fn instance_vcpus(instance_type: &str) -> Option<u32> {
    PRICES.instance_vcpus.get(instance_type).copied()
}

/// The instance types Stratus can price and count, sorted.
pub fn instance_types() -> Vec<&'static str> {
    let mut types: Vec<&str> = PRICES.instance_vcpus.keys().map(String::as_str).collect();
    types.sort();
    types
}

/// Monthly cents for a database of `class` with `storage_gb` in `region`, doubled with a
/// standby (RDS Multi-AZ bills both instance hours and storage twice), if the list has it.
pub fn database_monthly_cents(
    region: &str,
    class: &str,
    storage_gb: i32,
    standby: bool,
) -> Option<i64> {
    let hourly = PRICES.database_hourly.get(region)?.get(class)?;
    let storage = PRICES.database_storage_gb_month.get(region)?;
    let copies = if standby { 2.0 } else { 1.0 };
    let dollars = (hourly * HOURS_PER_MONTH + storage * f64::from(storage_gb)) * copies;
    Some((dollars * 100.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_prices_a_month() {
        assert_eq!(PRICES.currency, "USD");
        assert!(LIST_NAME.contains(&PRICES.date));
        // t3.micro in us-east-1: $0.0104 an hour, $7.59 a month.
        assert_eq!(
            instance_monthly_cents("us-east-1", "t3.micro", 1),
            Some(759)
        );
        assert_eq!(instance_monthly_cents("us-east-1", "no.such", 1), None);
        // Every priced type has its vCPUs, and every counted type a price in every region.
        for (region, types) in &PRICES.instance_hourly {
            for t in types.keys() {
                assert!(instance_vcpus(t).is_some(), "{t} has no vCPUs");
            }
            for t in instance_types() {
                assert!(types.contains_key(t), "{t} has no price in {region}");
            }
        }
        // db.t3.micro in us-east-1 with 20 GiB: $13.14 + $2.30 a month; twice with a standby.
        assert_eq!(
            database_monthly_cents("us-east-1", "db.t3.micro", 20, false),
            Some(1544)
        );
        assert_eq!(
            database_monthly_cents("us-east-1", "db.t3.micro", 20, true),
            Some(3088)
        );
    }
}

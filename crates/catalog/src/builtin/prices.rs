//! Annual electricity prices for large consumers by country or state, and the exchange
//! rates used to express them in USD.
//!
//! These are averages typed in from memory of the statistics named in each source string
//! (EIA for US states, Eurostat for the EU, national regulators elsewhere), rounded to two
//! significant figures, so they are `Low` confidence: good enough to rank sites, not to
//! budget. Hourly wholesale prices for 22 zones can be loaded from
//! `shared/data/green_dcc/wide_2023_hourly_price_usd_per_mwh.csv` (`--price-series`).
//!
//! China: the design note gives western large-industry power at about 0.3 to 0.4 CNY/kWh and
//! the east coast about 30% higher. We use 0.35 CNY/kWh for western hubs and
//! 0.35 × 1.3 = 0.455 CNY/kWh for eastern ones; provincial tariffs were not found in the
//! sources we could search and should be supplied by the user where known.

use xisuan_model::{Confidence, Sourced, UsdPerKwh};

pub use xisuan_model::units::{CNY_PER_USD, CNY_PER_USD_SOURCE};
/// USD per EUR: 2023 annual average of the ECB reference rate, about 1.08 (recalled).
pub const USD_PER_EUR: f64 = 1.08;

/// Western EDWC hubs, CNY/kWh (design note: 0.3 to 0.4; midpoint).
pub const CN_WEST_CNY_PER_KWH: f64 = 0.35;
/// Eastern hubs, CNY/kWh: western price × 1.3 (design note: east about 30% higher).
pub const CN_EAST_CNY_PER_KWH: f64 = 0.455;

const EIA: &str = "EIA Electric Power Monthly, average industrial price 2023 (recalled, rounded; verify)";
const EUROSTAT: &str = "Eurostat nrg_pc_205 non-household price 2023, excl. VAT, at 1.08 USD/EUR (recalled, rounded; verify)";
const NATIONAL: &str = "national regulator / utility industrial tariff around 2023 (recalled, rounded; verify)";

/// (key, USD/kWh, source). Keys are ISO country codes, `US-XX` for states, `CA-XX` for
/// provinces, and `CN-east` / `CN-west` for the two Chinese price levels.
const TABLE: &[(&str, f64, &str)] = &[
    ("US-VA", 0.085, EIA),
    ("US-OH", 0.078, EIA),
    ("US-CA", 0.20, EIA),
    ("US-OR", 0.078, EIA),
    ("US-WA", 0.068, EIA),
    ("US-IA", 0.077, EIA),
    ("US-IL", 0.085, EIA),
    ("US-TX", 0.074, EIA),
    ("US-SC", 0.072, EIA),
    ("US-AZ", 0.079, EIA),
    ("US-NV", 0.098, EIA),
    ("US-UT", 0.069, EIA),
    ("US-WY", 0.073, EIA),
    ("CA-QC", 0.040, NATIONAL),
    ("CA-ON", 0.10, NATIONAL),
    ("BR", 0.13, NATIONAL),
    ("CL", 0.12, NATIONAL),
    ("DE", 0.22, EUROSTAT),
    ("FR", 0.16, EUROSTAT),
    ("NL", 0.18, EUROSTAT),
    ("BE", 0.19, EUROSTAT),
    ("IE", 0.26, EUROSTAT),
    ("IT", 0.23, EUROSTAT),
    ("ES", 0.14, EUROSTAT),
    ("SE", 0.085, EUROSTAT),
    ("FI", 0.095, EUROSTAT),
    ("PL", 0.19, EUROSTAT),
    ("NO", 0.075, NATIONAL),
    ("CH", 0.19, NATIONAL),
    ("GB", 0.30, NATIONAL),
    ("JP", 0.18, NATIONAL),
    ("KR", 0.11, NATIONAL),
    ("SG", 0.23, NATIONAL),
    ("HK", 0.16, NATIONAL),
    ("TW", 0.11, NATIONAL),
    ("IN", 0.10, NATIONAL),
    ("ID", 0.075, NATIONAL),
    ("AU", 0.17, NATIONAL),
    ("ZA", 0.09, NATIONAL),
    ("AE", 0.08, NATIONAL),
    ("BH", 0.08, NATIONAL),
    ("QA", 0.04, NATIONAL),
    ("SA", 0.05, NATIONAL),
    ("IL", 0.14, NATIONAL),
];

/// The annual price for a key. Chinese keys are converted from CNY at `CNY_PER_USD`.
pub fn price(key: &str) -> Sourced<UsdPerKwh> {
    match key {
        "CN-west" => Sourced::new(
            UsdPerKwh(CN_WEST_CNY_PER_KWH / CNY_PER_USD),
            format!("western large-industry tariff ≈ {CN_WEST_CNY_PER_KWH} CNY/kWh (design note range 0.3–0.4; provincial tariff not verified); {CNY_PER_USD_SOURCE}"),
            Confidence::Low,
        ),
        "CN-east" => Sourced::new(
            UsdPerKwh(CN_EAST_CNY_PER_KWH / CNY_PER_USD),
            format!("eastern tariff ≈ {CN_EAST_CNY_PER_KWH} CNY/kWh = western 0.35 × 1.3 (design note: east ~30% higher; not verified); {CNY_PER_USD_SOURCE}"),
            Confidence::Low,
        ),
        _ => {
            let (_, usd, src) = TABLE
                .iter()
                .find(|(k, _, _)| *k == key)
                .unwrap_or_else(|| panic!("built-in price key `{key}` missing from prices.rs"));
            Sourced::new(UsdPerKwh(*usd), format!("{key}: {src}"), Confidence::Low)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_east_is_thirty_percent_above_west() {
        // 0.455 / 0.35 = 1.3; in USD 0.35 / 7.08 = 0.04944 USD/kWh.
        let (w, e) = (price("CN-west").value.0, price("CN-east").value.0);
        assert!((e / w - 1.3).abs() < 1e-9);
        assert!((w - 0.049435).abs() < 1e-5);
    }
}

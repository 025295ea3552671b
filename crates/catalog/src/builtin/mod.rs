//! The built-in default catalog: facts typed in by hand, each with its source and a
//! confidence, so that the planner runs with no files at all. Whole series and traces are
//! never copied here; they are loaded from files the user points at (see `xisuan-io`).
//!
//! Conventions shared by the provider files:
//! * coordinates are city-level (the provider names the city or metro; the exact campus is
//!   rarely public), so their confidence is `Medium`;
//! * grid factors are location-based annual averages, cited per provider file;
//! * electricity prices are country or state averages for large consumers (`prices.rs`);
//! * capacities are `Illustrative` placeholders so that examples run, never inventories.

pub mod alibaba;
pub mod aws;
pub mod azure;
pub mod cities;
pub mod edwc;
pub mod gcp;
pub mod prices;
pub mod zones;

use crate::ids::{Provider, PueKind, Role, SiteId};
use crate::site::{Site, UserRegion};
use std::collections::BTreeMap;
use xisuan_model::{Confidence, KgPerKwh, Sourced, Usd};

/// Every built-in site: the ten EDWC clusters first, then the cloud regions.
pub fn sites() -> Vec<Site> {
    let mut out = edwc::sites();
    out.extend(aws::sites());
    out.extend(azure::sites());
    out.extend(gcp::sites());
    out.extend(alibaba::sites());
    out
}

pub fn user_regions() -> Vec<UserRegion> {
    cities::regions()
}

/// A cloud region as typed in by the provider files: code, city, country (ISO alpha-2),
/// state or province, latitude, longitude, grid zone, grid factor in gCO2e/kWh, and the key
/// of its electricity price in `prices.rs`.
pub(crate) type CloudRow = (&'static str, &'static str, &'static str, &'static str, f64, f64, Option<&'static str>, f64, &'static str);

pub(crate) const CITY_LEVEL: &str = "city named by the provider's region list; coordinates of the city centre (approximate)";

/// Builds a cloud region from a row, with the provider's fleet PUE and a carbon source.
pub(crate) fn cloud_site(provider: Provider, row: &CloudRow, carbon: Sourced<KgPerKwh>, pue: Sourced<f64>, pue_kind: PueKind) -> Site {
    let (code, city, country, state, lat, lon, zone, _g, price_key) = *row;
    let id = SiteId::parse(&format!("{}-{}", provider.as_str(), code.to_ascii_lowercase())).expect("built-in ids are slugs");
    Site {
        id,
        name: format!("{} {} ({city})", provider_label(provider), code),
        provider,
        role: Role::CloudRegion,
        country: country.to_string(),
        region: state.to_string(),
        hub: None,
        lat,
        lon,
        location_source: CITY_LEVEL.to_string(),
        location_confidence: Confidence::Medium,
        grid_zone: zone.map(str::to_string),
        carbon_annual: carbon,
        low_carbon_share: None,
        price_annual: prices::price(price_key),
        pue,
        pue_kind,
        capacity: illustrative_capacity(country == "CN", false),
        gpu_hour_price: BTreeMap::new(),
        dispatch: None,
        storage: None,
    }
}

fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::Aws => "AWS",
        Provider::Azure => "Azure",
        Provider::Gcp => "Google Cloud",
        Provider::Alibaba => "Alibaba Cloud",
        Provider::Edwc => "EDWC",
        Provider::User => "user",
    }
}

pub(crate) const ILLUSTRATIVE_CAPACITY: &str = "illustrative default so that examples run; not a real inventory (override in a catalog TOML)";

/// Placeholder accelerator counts. Chinese sites get accelerators sold there (Huawei
/// Ascend 910B, NVIDIA H20); west hubs are larger because that is the policy's intent.
pub(crate) fn illustrative_capacity(china: bool, west_hub: bool) -> BTreeMap<String, Sourced<u32>> {
    let entries: &[(&str, u32)] = match (china, west_hub) {
        (true, true) => &[("ascend-910b", 8192), ("h20", 4096)],
        (true, false) => &[("ascend-910b", 2048), ("h20", 1024)],
        (false, _) => &[("h100", 1024), ("a100-80gb", 512)],
    };
    entries.iter().map(|(k, n)| (k.to_string(), Sourced::new(*n, ILLUSTRATIVE_CAPACITY, Confidence::Illustrative))).collect()
}

/// One GPU-hour price entry.
pub(crate) fn gpu_price(usd: f64, source: &str, confidence: Confidence) -> Sourced<Usd> {
    Sourced::new(Usd(usd), source, confidence)
}

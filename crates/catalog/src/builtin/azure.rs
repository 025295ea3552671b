//! Azure regions. Grid factors: `shared/data/ccf/ccf_region_emission_factors.csv` (Cloud
//! Carbon Footprint's Azure constants). Cities: Azure's public geographies list. PUE:
//! Microsoft's reported global fleet average of 1.18 (newest designs about 1.12), as
//! reported by DatacenterDynamics in December 2024.

use super::{cloud_site, CloudRow};
use crate::ids::{Provider, PueKind};
use crate::site::Site;
use xisuan_model::{Confidence, KgPerKwh, Sourced};

const ROWS: &[CloudRow] = &[
    ("eastus", "Virginia", "US", "Virginia", 36.67, -78.39, Some("US-MIDA-PJM"), 379.069, "US-VA"),
    ("eastus2", "Virginia", "US", "Virginia", 36.67, -78.39, Some("US-MIDA-PJM"), 379.069, "US-VA"),
    ("centralus", "Iowa", "US", "Iowa", 41.59, -93.62, Some("US-MIDW-MISO"), 426.254, "US-IA"),
    ("northcentralus", "Illinois", "US", "Illinois", 41.88, -87.63, Some("US-MIDA-PJM"), 410.608, "US-IL"),
    ("southcentralus", "Texas", "US", "Texas", 29.42, -98.49, Some("US-TEX-ERCO"), 373.231, "US-TX"),
    ("westcentralus", "Wyoming", "US", "Wyoming", 41.14, -104.82, None, 322.167, "US-WY"),
    ("westus", "California", "US", "California", 37.78, -122.42, Some("US-CAL-CISO"), 322.167, "US-CA"),
    ("westus2", "Washington", "US", "Washington", 47.23, -119.85, None, 322.167, "US-WA"),
    ("westus3", "Arizona", "US", "Arizona", 33.45, -112.07, Some("US-SW-AZPS"), 322.167, "US-AZ"),
    ("canadacentral", "Toronto", "CA", "Ontario", 43.65, -79.38, Some("CA-ON"), 120.0, "CA-ON"),
    ("canadaeast", "Quebec City", "CA", "Quebec", 46.81, -71.21, Some("CA-QC"), 120.0, "CA-QC"),
    ("brazilsouth", "Sao Paulo State", "BR", "Sao Paulo", -23.55, -46.63, Some("BR-CS"), 61.7, "BR"),
    ("northeurope", "Ireland", "IE", "Dublin", 53.35, -6.26, Some("IE"), 278.6, "IE"),
    ("westeurope", "Netherlands", "NL", "North Holland", 52.37, 4.90, Some("NL"), 328.4, "NL"),
    ("uksouth", "London", "GB", "England", 51.51, -0.13, Some("GB"), 225.0, "GB"),
    ("ukwest", "Cardiff", "GB", "Wales", 51.48, -3.18, Some("GB"), 225.0, "GB"),
    ("francecentral", "Paris", "FR", "Ile-de-France", 48.86, 2.35, Some("FR"), 51.28, "FR"),
    ("germanywestcentral", "Frankfurt", "DE", "Hesse", 50.11, 8.68, Some("DE-LU"), 338.66, "DE"),
    ("swedencentral", "Gavle", "SE", "Gavleborg", 60.67, 17.14, Some("SE-SE3"), 5.67, "SE"),
    ("switzerlandnorth", "Zurich", "CH", "Zurich", 47.38, 8.54, Some("CH"), 11.52, "CH"),
    ("norwayeast", "Oslo", "NO", "Oslo", 59.91, 10.75, Some("NO-NO1"), 7.62, "NO"),
    ("eastasia", "Hong Kong", "HK", "Hong Kong", 22.32, 114.17, Some("HK"), 710.0, "HK"),
    ("southeastasia", "Singapore", "SG", "Singapore", 1.35, 103.82, Some("SG"), 408.0, "SG"),
    ("japaneast", "Tokyo", "JP", "Tokyo", 35.68, 139.69, Some("JP-TK"), 465.8, "JP"),
    ("japanwest", "Osaka", "JP", "Osaka", 34.69, 135.50, Some("JP-KN"), 465.8, "JP"),
    ("koreacentral", "Seoul", "KR", "Seoul", 37.57, 126.98, Some("KR"), 415.6, "KR"),
    ("australiaeast", "New South Wales", "AU", "New South Wales", -33.87, 151.21, Some("AU-NSW"), 790.0, "AU"),
    ("australiasoutheast", "Victoria", "AU", "Victoria", -37.81, 144.96, Some("AU-VIC"), 960.0, "AU"),
    ("centralindia", "Pune", "IN", "Maharashtra", 18.52, 73.86, Some("IN-WE"), 708.2, "IN"),
    ("southindia", "Chennai", "IN", "Tamil Nadu", 13.08, 80.27, Some("IN-SO"), 708.2, "IN"),
    ("westindia", "Mumbai", "IN", "Maharashtra", 19.08, 72.88, Some("IN-WE"), 708.2, "IN"),
    ("uaenorth", "Dubai", "AE", "Dubai", 25.20, 55.27, Some("AE"), 404.1, "AE"),
    ("southafricanorth", "Johannesburg", "ZA", "Gauteng", -26.20, 28.05, Some("ZA"), 900.6, "ZA"),
];

pub fn sites() -> Vec<Site> {
    ROWS.iter()
        .map(|row| {
            let g = row.7;
            let carbon = Sourced::new(
                KgPerKwh::from_g_per_kwh(g),
                format!("Cloud Carbon Footprint Azure grid factor for {} = {g} g/kWh (shared/data/ccf/ccf_region_emission_factors.csv)", row.0),
                Confidence::Medium,
            );
            let pue = Sourced::new(
                1.18,
                "Microsoft global data-centre fleet PUE ≈1.18 (newest designs ≈1.12), as reported by DatacenterDynamics 2024-12; fleet average, not per region",
                Confidence::Medium,
            );
            cloud_site(Provider::Azure, row, carbon, pue, PueKind::Reported)
        })
        .collect()
}

//! AWS regions. Grid factors: `shared/data/ccf/ccf_region_emission_factors.csv` (Cloud
//! Carbon Footprint's AWS constants; US regions resolve to eGRID NERC-region factors, the
//! rest are CCF literals from carbonfootprint.com / EEA). Cities: AWS's public "Regions and
//! Availability Zones" list. PUE: AWS's first published global figure, 1.15 for 2023
//! (announced at re:Invent, December 2024; reported by DatacenterDynamics).

use super::{cloud_site, CloudRow};
use crate::ids::{Provider, PueKind};
use crate::site::Site;
use xisuan_model::{Confidence, KgPerKwh, Sourced};

const ROWS: &[CloudRow] = &[
    ("us-east-1", "N. Virginia", "US", "Virginia", 39.04, -77.49, Some("US-MIDA-PJM"), 379.069, "US-VA"),
    ("us-east-2", "Ohio", "US", "Ohio", 39.96, -83.00, Some("US-MIDA-PJM"), 410.608, "US-OH"),
    ("us-west-1", "N. California", "US", "California", 37.34, -121.89, Some("US-CAL-CISO"), 322.167, "US-CA"),
    ("us-west-2", "Oregon", "US", "Oregon", 45.84, -119.70, Some("US-NW-BPAT"), 322.167, "US-OR"),
    ("af-south-1", "Cape Town", "ZA", "Western Cape", -33.92, 18.42, Some("ZA"), 900.6, "ZA"),
    ("ap-east-1", "Hong Kong", "HK", "Hong Kong", 22.32, 114.17, Some("HK"), 710.0, "HK"),
    ("ap-south-1", "Mumbai", "IN", "Maharashtra", 19.08, 72.88, Some("IN-WE"), 708.2, "IN"),
    ("ap-northeast-3", "Osaka", "JP", "Osaka", 34.69, 135.50, Some("JP-KN"), 465.8, "JP"),
    ("ap-northeast-2", "Seoul", "KR", "Seoul", 37.57, 126.98, Some("KR"), 415.6, "KR"),
    ("ap-southeast-1", "Singapore", "SG", "Singapore", 1.35, 103.82, Some("SG"), 408.0, "SG"),
    ("ap-southeast-2", "Sydney", "AU", "New South Wales", -33.87, 151.21, Some("AU-NSW"), 760.0, "AU"),
    ("ap-southeast-3", "Jakarta", "ID", "Jakarta", -6.21, 106.85, Some("ID"), 717.7, "ID"),
    ("ap-northeast-1", "Tokyo", "JP", "Tokyo", 35.68, 139.69, Some("JP-TK"), 465.8, "JP"),
    ("ca-central-1", "Montreal", "CA", "Quebec", 45.50, -73.57, Some("CA-QC"), 120.0, "CA-QC"),
    ("cn-north-1", "Beijing", "CN", "Beijing", 39.90, 116.41, Some("CN-Beijing"), 537.4, "CN-east"),
    ("cn-northwest-1", "Ningxia", "CN", "Ningxia", 37.51, 105.19, Some("CN-Ningxia"), 537.4, "CN-west"),
    ("eu-central-1", "Frankfurt", "DE", "Hesse", 50.11, 8.68, Some("DE-LU"), 311.0, "DE"),
    ("eu-west-1", "Ireland", "IE", "Dublin", 53.35, -6.26, Some("IE"), 278.6, "IE"),
    ("eu-west-2", "London", "GB", "England", 51.51, -0.13, Some("GB"), 225.0, "GB"),
    ("eu-south-1", "Milan", "IT", "Lombardy", 45.46, 9.19, Some("IT-NO"), 213.4, "IT"),
    ("eu-west-3", "Paris", "FR", "Ile-de-France", 48.86, 2.35, Some("FR"), 51.1, "FR"),
    ("eu-north-1", "Stockholm", "SE", "Stockholm", 59.33, 18.07, Some("SE-SE3"), 8.8, "SE"),
    ("me-south-1", "Bahrain", "BH", "Bahrain", 26.07, 50.56, Some("BH"), 505.9, "BH"),
    ("me-central-1", "UAE", "AE", "Abu Dhabi", 24.45, 54.38, Some("AE"), 404.1, "AE"),
    ("sa-east-1", "Sao Paulo", "BR", "Sao Paulo", -23.55, -46.63, Some("BR-CS"), 61.7, "BR"),
];

pub fn sites() -> Vec<Site> {
    ROWS.iter()
        .map(|row| {
            let g = row.7;
            let carbon = Sourced::new(
                KgPerKwh::from_g_per_kwh(g),
                format!("Cloud Carbon Footprint AWS grid factor for {} = {g} g/kWh (shared/data/ccf/ccf_region_emission_factors.csv)", row.0),
                Confidence::Medium,
            );
            let pue = Sourced::new(
                1.15,
                "AWS global PUE 1.15 for 2023, first published at re:Invent 2024 (DatacenterDynamics, 2024-12); fleet average, not per region",
                Confidence::Medium,
            );
            cloud_site(Provider::Aws, row, carbon, pue, PueKind::Reported)
        })
        .collect()
}

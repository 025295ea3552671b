//! Google Cloud regions. Grid factors and carbon-free-energy shares:
//! `shared/data/gcp_region_carbon/2023.csv` (GoogleCloudPlatform/region-carbon-info, yearly
//! 2023: location-based grid intensity and Google CFE%). Cities: the same file's `Location`
//! column and Google's public region list. PUE: Google's published fleet-wide trailing
//! twelve-month PUE of about 1.10, measured with a published method.

use super::{cloud_site, CloudRow};
use crate::ids::{Provider, PueKind};
use crate::site::Site;
use xisuan_model::{Confidence, KgPerKwh, Sourced};

/// Rows plus Google's CFE share (0..1) from the same file.
const ROWS: &[(CloudRow, f64)] = &[
    (("africa-south1", "Johannesburg", "ZA", "Gauteng", -26.20, 28.05, Some("ZA"), 646.0, "ZA"), 0.16),
    (("asia-east1", "Taiwan", "TW", "Changhua County", 24.07, 120.54, Some("TW"), 451.0, "TW"), 0.18),
    (("asia-east2", "Hong Kong", "HK", "Hong Kong", 22.32, 114.17, Some("HK"), 360.0, "HK"), 0.28),
    (("asia-northeast1", "Tokyo", "JP", "Tokyo", 35.68, 139.69, Some("JP-TK"), 459.0, "JP"), 0.16),
    (("asia-northeast2", "Osaka", "JP", "Osaka", 34.69, 135.50, Some("JP-KN"), 385.0, "JP"), 0.30),
    (("asia-northeast3", "Seoul", "KR", "Seoul", 37.57, 126.98, Some("KR"), 378.0, "KR"), 0.35),
    (("asia-south1", "Mumbai", "IN", "Maharashtra", 19.08, 72.88, Some("IN-WE"), 648.0, "IN"), 0.14),
    (("asia-south2", "Delhi", "IN", "Delhi", 28.61, 77.21, Some("IN-NO"), 529.0, "IN"), 0.29),
    (("asia-southeast1", "Singapore", "SG", "Singapore", 1.35, 103.70, Some("SG"), 369.0, "SG"), 0.04),
    (("asia-southeast2", "Jakarta", "ID", "Jakarta", -6.21, 106.85, Some("ID"), 580.0, "ID"), 0.13),
    (("australia-southeast1", "Sydney", "AU", "New South Wales", -33.87, 151.21, Some("AU-NSW"), 501.0, "AU"), 0.33),
    (("australia-southeast2", "Melbourne", "AU", "Victoria", -37.81, 144.96, Some("AU-VIC"), 456.0, "AU"), 0.40),
    (("europe-central2", "Warsaw", "PL", "Masovia", 52.23, 21.01, Some("PL"), 723.0, "PL"), 0.31),
    (("europe-north1", "Finland", "FI", "Hamina", 60.57, 27.20, Some("FI"), 46.0, "FI"), 0.98),
    (("europe-southwest1", "Madrid", "ES", "Madrid", 40.42, -3.70, Some("ES"), 131.0, "ES"), 0.76),
    (("europe-west1", "Belgium", "BE", "Hainaut", 50.45, 3.82, Some("BE"), 122.0, "BE"), 0.82),
    (("europe-west2", "London", "GB", "England", 51.51, -0.13, Some("GB"), 136.0, "GB"), 0.92),
    (("europe-west3", "Frankfurt", "DE", "Hesse", 50.11, 8.68, Some("DE-LU"), 345.0, "DE"), 0.90),
    (("europe-west4", "Netherlands", "NL", "Groningen", 53.44, 6.83, Some("NL"), 236.0, "NL"), 0.80),
    (("europe-west6", "Zurich", "CH", "Zurich", 47.38, 8.54, Some("CH"), 59.0, "CH"), 0.92),
    (("europe-west8", "Milan", "IT", "Lombardy", 45.46, 9.19, Some("IT-NO"), 249.0, "IT"), 0.52),
    (("europe-west9", "Paris", "FR", "Ile-de-France", 48.86, 2.35, Some("FR"), 34.0, "FR"), 0.94),
    (("europe-west10", "Berlin", "DE", "Berlin", 52.52, 13.40, Some("DE-LU"), 345.0, "DE"), 0.90),
    (("europe-west12", "Turin", "IT", "Piedmont", 45.07, 7.69, Some("IT-NO"), 249.0, "IT"), 0.52),
    (("me-central1", "Doha", "QA", "Doha", 25.29, 51.53, Some("QA"), 575.0, "QA"), 0.00),
    (("me-central2", "Dammam", "SA", "Eastern Province", 26.43, 50.10, Some("SA"), 569.0, "SA"), 0.00),
    (("me-west1", "Tel Aviv", "IL", "Tel Aviv", 32.09, 34.78, Some("IL"), 463.0, "IL"), 0.05),
    (("northamerica-northeast1", "Montreal", "CA", "Quebec", 45.50, -73.57, Some("CA-QC"), 2.0, "CA-QC"), 1.00),
    (("northamerica-northeast2", "Toronto", "CA", "Ontario", 43.65, -79.38, Some("CA-ON"), 47.0, "CA-ON"), 0.87),
    (("southamerica-east1", "Sao Paulo", "BR", "Sao Paulo", -23.55, -46.63, Some("BR-CS"), 56.0, "BR"), 0.90),
    (("southamerica-west1", "Santiago", "CL", "Santiago", -33.45, -70.67, Some("CL-SEN"), 138.0, "CL"), 0.91),
    (("us-central1", "Iowa", "US", "Iowa", 41.26, -95.86, Some("US-MIDW-MISO"), 430.0, "US-IA"), 0.95),
    (("us-east1", "South Carolina", "US", "South Carolina", 33.20, -80.01, None, 560.0, "US-SC"), 0.29),
    (("us-east4", "N. Virginia", "US", "Virginia", 39.04, -77.49, Some("US-MIDA-PJM"), 322.0, "US-VA"), 0.52),
    (("us-east5", "Columbus", "US", "Ohio", 39.96, -83.00, Some("US-MIDA-PJM"), 322.0, "US-OH"), 0.52),
    (("us-south1", "Dallas", "US", "Texas", 32.78, -96.80, Some("US-TEX-ERCO"), 321.0, "US-TX"), 0.79),
    (("us-west1", "Oregon", "US", "Oregon", 45.60, -121.18, Some("US-NW-BPAT"), 94.0, "US-OR"), 0.84),
    (("us-west2", "Los Angeles", "US", "California", 34.05, -118.24, Some("US-CAL-CISO"), 198.0, "US-CA"), 0.55),
    (("us-west3", "Salt Lake City", "US", "Utah", 40.76, -111.89, Some("US-NW-PACE"), 588.0, "US-UT"), 0.29),
    (("us-west4", "Las Vegas", "US", "Nevada", 36.17, -115.14, Some("US-SW-NEVP"), 373.0, "US-NV"), 0.26),
];

const FILE: &str = "GoogleCloudPlatform/region-carbon-info yearly 2023 (shared/data/gcp_region_carbon/2023.csv)";

pub fn sites() -> Vec<Site> {
    ROWS.iter()
        .map(|(row, cfe)| {
            let g = row.7;
            let carbon = Sourced::new(
                KgPerKwh::from_g_per_kwh(g),
                format!("{FILE}: grid carbon intensity of {} = {g} gCO2eq/kWh (location-based)", row.0),
                Confidence::High,
            );
            let pue = Sourced::new(
                1.10,
                "Google fleet-wide trailing-twelve-month PUE ≈1.10 (Google data-centre efficiency disclosures; DatacenterDynamics 2024-12); fleet average, not per region",
                Confidence::Medium,
            );
            let mut site = cloud_site(Provider::Gcp, row, carbon, pue, PueKind::Measured);
            site.low_carbon_share = Some(Sourced::new(
                *cfe,
                format!("{FILE}: Google CFE% of {} (hourly carbon-free energy share, Google's own supply)", row.0),
                Confidence::High,
            ));
            site
        })
        .collect()
}

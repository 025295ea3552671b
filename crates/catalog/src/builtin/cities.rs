//! Well-known cities where demand comes from, with coordinates (city centre, rounded to
//! 0.01°) and a rough weight: the urban-agglomeration population in millions around 2020
//! from the UN World Urbanization Prospects 2018 (recalled and rounded, so `Low`). Used to
//! resolve a city name to the nearest site and to weight user demand.

use crate::site::UserRegion;
use xisuan_model::{Confidence, Sourced};

const SOURCE: &str = "UN World Urbanization Prospects 2018, urban agglomeration population ~2020, millions (recalled, rounded; verify)";

/// (name, country, lat, lon, population in millions).
const CITIES: &[(&str, &str, f64, f64, f64)] = &[
    ("Shanghai", "CN", 31.23, 121.47, 27.1),
    ("Beijing", "CN", 39.90, 116.41, 20.5),
    ("Shenzhen", "CN", 22.54, 114.06, 12.4),
    ("Guangzhou", "CN", 23.13, 113.26, 13.3),
    ("Chengdu", "CN", 30.57, 104.07, 9.1),
    ("Chongqing", "CN", 29.56, 106.55, 15.9),
    ("Hangzhou", "CN", 30.27, 120.16, 7.6),
    ("Wuhan", "CN", 30.59, 114.31, 8.4),
    ("Xi'an", "CN", 34.34, 108.94, 8.0),
    ("Tianjin", "CN", 39.34, 117.36, 13.6),
    ("Nanjing", "CN", 32.06, 118.80, 8.8),
    ("Hong Kong", "HK", 22.32, 114.17, 7.5),
    ("Taipei", "TW", 25.03, 121.57, 2.7),
    ("Tokyo", "JP", 35.68, 139.69, 37.4),
    ("Osaka", "JP", 34.69, 135.50, 19.2),
    ("Seoul", "KR", 37.57, 126.98, 10.0),
    ("Singapore", "SG", 1.35, 103.82, 5.9),
    ("Jakarta", "ID", -6.21, 106.85, 10.8),
    ("Mumbai", "IN", 19.08, 72.88, 20.4),
    ("Delhi", "IN", 28.61, 77.21, 30.3),
    ("Bangalore", "IN", 12.97, 77.59, 12.3),
    ("Sydney", "AU", -33.87, 151.21, 4.9),
    ("Melbourne", "AU", -37.81, 144.96, 4.9),
    ("Dubai", "AE", 25.20, 55.27, 2.9),
    ("Frankfurt", "DE", 50.11, 8.68, 0.8),
    ("Berlin", "DE", 52.52, 13.40, 3.6),
    ("London", "GB", 51.51, -0.13, 9.3),
    ("Paris", "FR", 48.86, 2.35, 11.0),
    ("Amsterdam", "NL", 52.37, 4.90, 1.1),
    ("Madrid", "ES", 40.42, -3.70, 6.6),
    ("Milan", "IT", 45.46, 9.19, 3.1),
    ("Stockholm", "SE", 59.33, 18.07, 1.6),
    ("Warsaw", "PL", 52.23, 21.01, 1.8),
    ("New York", "US", 40.71, -74.01, 18.8),
    ("San Francisco", "US", 37.77, -122.42, 3.3),
    ("Los Angeles", "US", 34.05, -118.24, 12.4),
    ("Chicago", "US", 41.88, -87.63, 8.9),
    ("Dallas", "US", 32.78, -96.80, 6.3),
    ("Seattle", "US", 47.61, -122.33, 3.4),
    ("Washington", "US", 38.91, -77.04, 5.3),
    ("Toronto", "CA", 43.65, -79.38, 6.2),
    ("Montreal", "CA", 45.50, -73.57, 4.2),
    ("Sao Paulo", "BR", -23.55, -46.63, 22.0),
    ("Johannesburg", "ZA", -26.20, 28.05, 5.8),
    ("Cairo", "EG", 30.04, 31.24, 20.9),
    ("Lagos", "NG", 6.52, 3.38, 14.4),
];

pub fn regions() -> Vec<UserRegion> {
    CITIES
        .iter()
        .map(|(name, country, lat, lon, pop)| UserRegion {
            name: name.to_string(),
            country: country.to_string(),
            lat: *lat,
            lon: *lon,
            weight: Sourced::new(*pop, SOURCE, Confidence::Low),
        })
        .collect()
}

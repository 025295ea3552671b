//! Well-known cities where demand comes from, with coordinates (city centre, rounded to
//! 0.01°) and a rough weight: the urban-agglomeration population in millions around 2020
//! from the UN World Urbanization Prospects 2018 (recalled and rounded, so `Low`). Used to
//! resolve a city name to the nearest site and to weight user demand.

use crate::site::UserRegion;
use xisuan_model::{Confidence, Sourced};

const SOURCE: &str = "UN World Urbanization Prospects 2018, urban agglomeration population ~2020, millions (recalled, rounded; verify)";

/// Standard time offsets (hours from UTC, without daylight saving) are the IANA time zone
/// database's for each city's zone (Asia/Shanghai, Asia/Kolkata, America/New_York, ...).
const TZ_SOURCE: &str = "IANA time zone database, standard offset of the city's zone (no daylight saving)";

/// (name, country, lat, lon, population in millions, standard UTC offset in hours).
const CITIES: &[(&str, &str, f64, f64, f64, f64)] = &[
    ("Shanghai", "CN", 31.23, 121.47, 27.1, 8.0),
    ("Beijing", "CN", 39.90, 116.41, 20.5, 8.0),
    ("Shenzhen", "CN", 22.54, 114.06, 12.4, 8.0),
    ("Guangzhou", "CN", 23.13, 113.26, 13.3, 8.0),
    ("Chengdu", "CN", 30.57, 104.07, 9.1, 8.0),
    ("Chongqing", "CN", 29.56, 106.55, 15.9, 8.0),
    ("Hangzhou", "CN", 30.27, 120.16, 7.6, 8.0),
    ("Wuhan", "CN", 30.59, 114.31, 8.4, 8.0),
    ("Xi'an", "CN", 34.34, 108.94, 8.0, 8.0),
    ("Tianjin", "CN", 39.34, 117.36, 13.6, 8.0),
    ("Nanjing", "CN", 32.06, 118.80, 8.8, 8.0),
    ("Hong Kong", "HK", 22.32, 114.17, 7.5, 8.0),
    ("Taipei", "TW", 25.03, 121.57, 2.7, 8.0),
    ("Tokyo", "JP", 35.68, 139.69, 37.4, 9.0),
    ("Osaka", "JP", 34.69, 135.50, 19.2, 9.0),
    ("Seoul", "KR", 37.57, 126.98, 10.0, 9.0),
    ("Singapore", "SG", 1.35, 103.82, 5.9, 8.0),
    ("Jakarta", "ID", -6.21, 106.85, 10.8, 7.0),
    ("Mumbai", "IN", 19.08, 72.88, 20.4, 5.5),
    ("Delhi", "IN", 28.61, 77.21, 30.3, 5.5),
    ("Bangalore", "IN", 12.97, 77.59, 12.3, 5.5),
    ("Sydney", "AU", -33.87, 151.21, 4.9, 10.0),
    ("Melbourne", "AU", -37.81, 144.96, 4.9, 10.0),
    ("Dubai", "AE", 25.20, 55.27, 2.9, 4.0),
    ("Frankfurt", "DE", 50.11, 8.68, 0.8, 1.0),
    ("Berlin", "DE", 52.52, 13.40, 3.6, 1.0),
    ("London", "GB", 51.51, -0.13, 9.3, 0.0),
    ("Paris", "FR", 48.86, 2.35, 11.0, 1.0),
    ("Amsterdam", "NL", 52.37, 4.90, 1.1, 1.0),
    ("Madrid", "ES", 40.42, -3.70, 6.6, 1.0),
    ("Milan", "IT", 45.46, 9.19, 3.1, 1.0),
    ("Stockholm", "SE", 59.33, 18.07, 1.6, 1.0),
    ("Warsaw", "PL", 52.23, 21.01, 1.8, 1.0),
    ("New York", "US", 40.71, -74.01, 18.8, -5.0),
    ("San Francisco", "US", 37.77, -122.42, 3.3, -8.0),
    ("Los Angeles", "US", 34.05, -118.24, 12.4, -8.0),
    ("Chicago", "US", 41.88, -87.63, 8.9, -6.0),
    ("Dallas", "US", 32.78, -96.80, 6.3, -6.0),
    ("Seattle", "US", 47.61, -122.33, 3.4, -8.0),
    ("Washington", "US", 38.91, -77.04, 5.3, -5.0),
    ("Toronto", "CA", 43.65, -79.38, 6.2, -5.0),
    ("Montreal", "CA", 45.50, -73.57, 4.2, -5.0),
    ("Sao Paulo", "BR", -23.55, -46.63, 22.0, -3.0),
    ("Johannesburg", "ZA", -26.20, 28.05, 5.8, 2.0),
    ("Cairo", "EG", 30.04, 31.24, 20.9, 2.0),
    ("Lagos", "NG", 6.52, 3.38, 14.4, 1.0),
];

pub fn regions() -> Vec<UserRegion> {
    CITIES
        .iter()
        .map(|(name, country, lat, lon, pop, tz)| UserRegion {
            name: name.to_string(),
            country: country.to_string(),
            lat: *lat,
            lon: *lon,
            weight: Sourced::new(*pop, SOURCE, Confidence::Low),
            utc_offset_hours: Some(Sourced::new(*tz, TZ_SOURCE, Confidence::High)),
        })
        .collect()
}

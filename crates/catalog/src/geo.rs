//! Great-circle distance. Latency where nothing is measured is derived from it, so the
//! formula and the Earth radius are stated here once.

/// Mean Earth radius in km (IUGG mean radius R1 = 6,371.0088 km).
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Haversine distance in km between two points given in degrees.
pub fn great_circle_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_edwc_latency_matrix() {
        // ../shared/data/edwc/edwc_estimated_latency_matrix.csv lists Zhangjiakou
        // (40.77, 114.88) to Zhongwei (37.51, 105.19) as 910.3 km.
        let d = great_circle_km(40.77, 114.88, 37.51, 105.19);
        assert!((d - 910.3).abs() < 1.0, "{d}");
        // YRD zone (31.15, 121.12) to Zhongwei: 1,621.8 km in the same file.
        let d = great_circle_km(31.15, 121.12, 37.51, 105.19);
        assert!((d - 1621.8).abs() < 1.5, "{d}");
    }
}

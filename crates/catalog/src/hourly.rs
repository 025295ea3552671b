//! The one model of what a site's electricity costs and emits, hour by hour, over a window.
//! `plan` (scenario files), `simulate` with flags and `simulate --scenario` all build their
//! sites through `site_hours`, so the same site gets the same numbers on every path.
//!
//! - **Carbon**: the hour's value in the zone's series (gCO2e/kWh ÷ 1000); an hour the series
//!   lacks takes the site's annual factor; a site with no series uses its annual factor.
//! - **Price**: the site's annual price (what a large consumer pays, network charges and taxes
//!   included) plus the hour's deviation from the wholesale series' mean over the whole series
//!   (a year for the 2023 files; USD/MWh ÷ 1000), clamped at 0. Because the reference is the
//!   series' own mean, an hour's price does not depend on the window asked for. Wholesale levels omit network charges and taxes, so only
//!   their shape is used; the clamp keeps negative wholesale hours from paying the consumer.
//!   An hour the series lacks takes the annual price; a site with no series pays its annual
//!   price every hour.
//! - **Outside a series**: an hour before or after the series reads the series at the same
//!   offset modulo its length, which for a calendar-year series is the same hour of that year.
//!
//! Every substitution is counted and said in a diagnostic. Pure: no files, no clock.

use crate::catalog::Catalog;
use crate::series::HourlySeries;
use crate::site::Site;
use xisuan_model::Diagnostic;

/// A site's hourly rates over a window, and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteHours {
    pub usd_per_kwh: Vec<f64>,
    pub kg_per_kwh: Vec<f64>,
    /// "hourly ZONE (file)" or "annual (source)".
    pub carbon_source: String,
    pub price_source: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// The values of `hours` hours from `start` (UTC hour index): `None` where the series has no
/// value, and how many hours fell outside the series and were read at the same offset modulo
/// its length.
pub fn window(s: &HourlySeries, start: i64, hours: usize) -> (Vec<Option<f64>>, usize) {
    let len = s.values.len() as i64;
    if len == 0 {
        return (vec![None; hours], 0);
    }
    let mut outside = 0;
    let v = (0..hours as i64)
        .map(|i| {
            let mut h = start + i - s.start;
            if h < 0 || h >= len {
                outside += 1;
                h = h.rem_euclid(len);
            }
            s.values[h as usize]
        })
        .collect();
    (v, outside)
}

/// Carbon intensity per hour, kg/kWh: the series' value, or `annual` where it has none.
pub fn carbon_per_hour(annual_kg_per_kwh: f64, g_per_kwh: &[Option<f64>]) -> Vec<f64> {
    g_per_kwh.iter().map(|v| v.map(|g| g / 1000.0).unwrap_or(annual_kg_per_kwh)).collect()
}

/// Electricity price per hour, USD/kWh: `annual` plus the hour's deviation from `mean` (the
/// wholesale series' mean, USD/MWh), clamped at 0; `annual` where the series has no value.
pub fn price_per_hour(annual_usd_per_kwh: f64, wholesale_usd_per_mwh: &[Option<f64>], mean: f64) -> Vec<f64> {
    wholesale_usd_per_mwh.iter().map(|w| w.map(|mwh| (annual_usd_per_kwh + (mwh - mean) / 1000.0).max(0.0)).unwrap_or(annual_usd_per_kwh)).collect()
}

/// A site's carbon and price for `hours` hours from `start` under the model above.
pub fn site_hours(catalog: &Catalog, site: &Site, start: i64, hours: usize) -> SiteHours {
    let id = site.id.as_str();
    let mut diagnostics = Vec::new();
    let (cseries, cdiag) = catalog.series.series_for_site(site);
    let (pseries, pdiag) = catalog.series.price_series_for_site(site);
    diagnostics.extend(cdiag);
    diagnostics.extend(pdiag);
    let annual_kg = site.carbon_annual.value.0;
    let annual_usd = site.price_annual.value.0;
    let mut note = |what: &str, w: &[Option<f64>], outside: usize, fill: &str| {
        let missing = w.iter().filter(|v| v.is_none()).count();
        if missing > 0 {
            diagnostics.push(Diagnostic::warning(id, format!("{missing} of {hours} hours have no {what} value in the series; {fill} fills them")));
        }
        if outside > 0 {
            diagnostics.push(Diagnostic::warning(
                id,
                format!("{outside} of {hours} hours fall outside the {what} series; it is read at the same offset modulo its length (the same hour of a calendar-year series)"),
            ));
        }
    };
    let (kg_per_kwh, carbon_source) = match cseries {
        Some(s) => {
            let (w, outside) = window(s, start, hours);
            note("carbon", &w, outside, "the annual factor");
            (carbon_per_hour(annual_kg, &w), format!("hourly {} ({})", s.zone, s.origin))
        }
        None => (vec![annual_kg; hours], format!("annual {:.0} g/kWh ({})", site.carbon_annual.value.g_per_kwh(), site.carbon_annual.source)),
    };
    let (usd_per_kwh, price_source) = match pseries {
        Some(s) => {
            let (w, outside) = window(s, start, hours);
            note("price", &w, outside, "the annual price");
            (
                price_per_hour(annual_usd, &w, s.mean().unwrap_or(0.0)),
                format!("annual {annual_usd:.4} USD/kWh ({}) plus the hourly deviation of {} ({})", site.price_annual.source, s.zone, s.origin),
            )
        }
        None => (vec![annual_usd; hours], format!("annual {annual_usd:.4} USD/kWh ({})", site.price_annual.source)),
    };
    SiteHours { usd_per_kwh, kg_per_kwh, carbon_source, price_source, diagnostics }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(start: i64, values: &[Option<f64>]) -> HourlySeries {
        HourlySeries { zone: "Z".into(), unit: "u".into(), start, values: values.to_vec(), origin: "f".into() }
    }

    #[test]
    fn prices_are_the_annual_level_plus_the_wholesale_shape_clamped_at_zero() {
        // Wholesale 20, 40, 60, missing against a series mean of 40 USD/MWh, annual 0.03 USD/kWh:
        // 0.03 − 0.02 = 0.01; 0.03; 0.03 + 0.02 = 0.05; the missing hour pays the annual 0.03.
        let p = price_per_hour(0.03, &[Some(20.0), Some(40.0), Some(60.0), None], 40.0);
        let want = [0.01, 0.03, 0.05, 0.03];
        assert!(p.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12), "{p:?}");
        // A −200 USD/MWh hour against a mean of 0 would pay 0.17 USD/kWh to consume: clamped.
        assert_eq!(price_per_hour(0.03, &[Some(-200.0), Some(200.0)], 0.0)[0], 0.0);
    }

    #[test]
    fn hours_outside_a_series_read_the_same_offset_of_it() {
        let s = series(100, &[Some(1.0), Some(2.0), None]);
        // Hours 98..104: 98 → offset −2 → 1 (value 2); 99 → 2 (None); 100..102 inside; 103 → 0.
        let (w, outside) = window(&s, 98, 6);
        assert_eq!(w, vec![Some(2.0), None, Some(1.0), Some(2.0), None, Some(1.0)]);
        assert_eq!(outside, 3);
        assert_eq!(carbon_per_hour(0.5, &w)[1], 0.5);
    }
}

//! Hourly grid series (carbon intensity, electricity price) and their parsers.
//!
//! Three layouts are read, all from `&str` with an `origin` name used in diagnostics:
//!
//! * **wide**: first column a UTC timestamp (`datetime_utc`), one column per zone, as in
//!   `shared/data/green_dcc/wide_2023_hourly_*.csv`;
//! * **long**: Electricity-Maps-style exports, one row per zone and time. Accepted headers
//!   (case-insensitive, `CO₂` and `CO2` alike): time in `Datetime (UTC)`, `datetime_utc`,
//!   `datetime`, `time`, `timestamp`; zone in `Zone Id`, `zone_id`, `zone`, `zone_key`
//!   (optional: otherwise the zone comes from the caller); value in
//!   `Carbon Intensity gCO₂eq/kWh (LCA)`, `carbon_intensity_lca`, `carbon_intensity`,
//!   `Carbon Intensity`, `carbonIntensity` (falling back to `... (direct)` with a note), or
//!   for prices `Price (USD/MWh)`, `price_usd_per_mwh`, `price`;
//! * **lets_wait_awhile**: `Time,Carbon Intensity` at 15 or 30 minutes, averaged to hours.
//!   That repository does not state a time zone; its 2020 files have no gap at the spring
//!   daylight-saving change (29 March) and no repeated hour in October, which fits UTC and
//!   not local time, so they are read as UTC.
//!
//! Timestamps may carry an offset (`Z`, `+08:00`); those without one are taken as UTC, which
//! is what every supported header says. Sub-hourly samples are averaged into their UTC hour.
//! A missing hour stays `None` and is reported (count and first hour); nothing is filled. A
//! malformed row is skipped and reported with origin, line and field.

use crate::error::CatalogError;
use crate::site::Site;
use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;
use std::collections::BTreeMap;
use xisuan_model::Diagnostic;

/// What a series measures, which fixes its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Grid carbon intensity in gCO2e/kWh.
    Carbon,
    /// Wholesale electricity price in USD/MWh (may be negative).
    Price,
}

impl SeriesKind {
    pub fn unit(self) -> &'static str {
        match self {
            SeriesKind::Carbon => "gCO2e/kWh",
            SeriesKind::Price => "USD/MWh",
        }
    }
    fn plausible(self, v: f64) -> Result<(), String> {
        match self {
            SeriesKind::Carbon if !(0.0..=3000.0).contains(&v) => Err(format!("{v} is outside 0..3000 gCO2e/kWh")),
            SeriesKind::Price if v.abs() > 100_000.0 => Err(format!("{v} is outside -100000..100000 USD/MWh")),
            _ => Ok(()),
        }
    }
}

/// One zone's hourly values. `start` is a UTC hour index (unix seconds / 3600); `values[i]`
/// belongs to hour `start + i`, and `None` means the hour is missing from the source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlySeries {
    pub zone: String,
    pub unit: String,
    pub start: i64,
    pub values: Vec<Option<f64>>,
    /// Where the values came from (a file name).
    pub origin: String,
}

impl HourlySeries {
    /// The hour after the last one.
    pub fn end(&self) -> i64 {
        self.start + self.values.len() as i64
    }
    pub fn get(&self, hour: i64) -> Option<f64> {
        if hour < self.start {
            return None;
        }
        self.values.get((hour - self.start) as usize).copied().flatten()
    }
    /// Number of hours with a value.
    pub fn present(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }
    /// Mean over the hours present.
    pub fn mean(&self) -> Option<f64> {
        let (s, n) = self.values.iter().flatten().fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        (n > 0).then(|| s / n as f64)
    }
}

/// Zone keys that name the same grid in different sources: green-dcc's wide files say
/// `BR-SP` and `CL-SIC` where Electricity Maps says `BR-CS` and `CL-SEN`; lets-wait-awhile's
/// German file is `DE` where the bidding zone is `DE-LU`.
const ZONE_ALIASES: &[&[&str]] = &[&["DE-LU", "DE"], &["BR-CS", "BR-SP"], &["CL-SEN", "CL-SIC"]];

fn zone_candidates(zone: &str) -> Vec<&str> {
    let mut out = vec![zone];
    for group in ZONE_ALIASES {
        if group.contains(&zone) {
            out.extend(group.iter().copied().filter(|z| *z != zone));
        }
    }
    out
}

/// Carbon and price series by zone; a site finds its series through `Site::grid_zone`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeriesSet {
    pub carbon: BTreeMap<String, HourlySeries>,
    pub price: BTreeMap<String, HourlySeries>,
}

impl SeriesSet {
    /// Adds a series; a second series for the same zone replaces the first, with a note.
    pub fn insert(&mut self, kind: SeriesKind, series: HourlySeries) -> Option<Diagnostic> {
        let map = match kind {
            SeriesKind::Carbon => &mut self.carbon,
            SeriesKind::Price => &mut self.price,
        };
        let zone = series.zone.clone();
        let origin = series.origin.clone();
        map.insert(zone.clone(), series)
            .map(|old| Diagnostic::warning(origin, format!("zone {zone}: replaces the series read earlier from {}", old.origin)))
    }

    fn lookup<'a>(map: &'a BTreeMap<String, HourlySeries>, zone: &str) -> Option<&'a HourlySeries> {
        zone_candidates(zone).into_iter().find_map(|z| map.get(z))
    }

    pub fn carbon_for_zone(&self, zone: &str) -> Option<&HourlySeries> {
        Self::lookup(&self.carbon, zone)
    }
    pub fn price_for_zone(&self, zone: &str) -> Option<&HourlySeries> {
        Self::lookup(&self.price, zone)
    }

    /// The hourly carbon series of a site, or a diagnostic saying which annual factor is
    /// used instead (and, for China, why no hourly series exists).
    pub fn series_for_site(&self, site: &Site) -> (Option<&HourlySeries>, Option<Diagnostic>) {
        if let Some(s) = site.grid_zone.as_deref().and_then(|z| self.carbon_for_zone(z)) {
            return (Some(s), None);
        }
        let annual = format!(
            "annual factor used: {:.0} gCO2e/kWh ({}; confidence {})",
            site.carbon_annual.value.g_per_kwh(),
            site.carbon_annual.source,
            site.carbon_annual.confidence
        );
        let message = if site.in_mainland_china() {
            format!("China publishes annual provincial factors only; hourly carbon not available unless you supply a series; {annual}")
        } else {
            match &site.grid_zone {
                Some(z) => format!("no hourly carbon series loaded for zone {z}; {annual}"),
                None => format!("no grid zone known, so no hourly carbon series; {annual}"),
            }
        };
        (None, Some(Diagnostic::info(site.id.as_str(), message)))
    }

    /// The hourly price series of a site, or a diagnostic naming the annual price used.
    pub fn price_series_for_site(&self, site: &Site) -> (Option<&HourlySeries>, Option<Diagnostic>) {
        if let Some(s) = site.grid_zone.as_deref().and_then(|z| self.price_for_zone(z)) {
            return (Some(s), None);
        }
        let message = format!(
            "no hourly price series loaded; annual price used: {:.4} USD/kWh ({}; confidence {})",
            site.price_annual.value.0, site.price_annual.source, site.price_annual.confidence
        );
        (None, Some(Diagnostic::info(site.id.as_str(), message)))
    }
}

/// What a parser returns: the series it could build and what it had to say about the input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub series: Vec<HourlySeries>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a timestamp into unix seconds. Accepts RFC 3339 (`2023-01-01T08:00:00+08:00`,
/// `...Z`), the same with a space for `T`, and naive `YYYY-MM-DD HH:MM[:SS]` taken as UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let with_t = t.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&with_t) {
        return Ok(dt.timestamp());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%:z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(dt) = DateTime::parse_from_str(&with_t, fmt) {
            return Ok(dt.timestamp());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&with_t, fmt) {
            return Ok(dt.and_utc().timestamp());
        }
    }
    Err(format!("`{t}` is not a timestamp (expected e.g. 2023-01-01 00:00:00, 2023-01-01T08:00:00+08:00)"))
}

/// Formats a UTC hour index for people: `2023-03-26T02:00Z`.
pub fn format_hour(hour: i64) -> String {
    DateTime::from_timestamp(hour * 3600, 0).map(|d| d.format("%Y-%m-%dT%H:00Z").to_string()).unwrap_or_else(|| format!("hour {hour}"))
}

fn normalize_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_lowercase().replace('₂', "2")
}

const TIME_HEADERS: &[&str] = &["datetime (utc)", "datetime_utc", "datetime", "time", "timestamp", "date"];
const ZONE_HEADERS: &[&str] = &["zone id", "zone_id", "zone", "zoneid", "zone key", "zone_key"];
const CARBON_HEADERS: &[&str] =
    &["carbon intensity gco2eq/kwh (lca)", "carbon_intensity_lca", "carbon_intensity", "carbon intensity", "carbonintensity"];
const CARBON_DIRECT_HEADERS: &[&str] = &["carbon intensity gco2eq/kwh (direct)", "carbon_intensity_direct"];
const PRICE_HEADERS: &[&str] = &["price (usd/mwh)", "price_usd_per_mwh", "price"];

fn find_col(headers: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| headers.iter().position(|h| h == n))
}

/// True for text that means "no value" in the exports we read (pandas writes NaN as empty).
fn is_missing(cell: &str) -> bool {
    matches!(cell.trim().to_ascii_lowercase().as_str(), "" | "nan" | "na" | "n/a" | "null" | "none")
}

/// Collects malformed-row diagnostics, keeping the first few in full and counting the rest
/// so that a broken file does not bury the other messages.
struct RowErrors<'a> {
    origin: &'a str,
    shown: usize,
    hidden: usize,
    out: Vec<Diagnostic>,
}

impl<'a> RowErrors<'a> {
    const MAX_SHOWN: usize = 20;
    fn new(origin: &'a str) -> Self {
        RowErrors { origin, shown: 0, hidden: 0, out: Vec::new() }
    }
    fn push(&mut self, line: u64, field: &str, message: String) {
        if self.shown < Self::MAX_SHOWN {
            self.out.push(Diagnostic::error(format!("{}:{line}", self.origin), format!("field `{field}`: {message}; row skipped")));
            self.shown += 1;
        } else {
            self.hidden += 1;
        }
    }
    fn finish(mut self) -> Vec<Diagnostic> {
        if self.hidden > 0 {
            self.out.push(Diagnostic::error(self.origin, format!("{} more malformed rows skipped", self.hidden)));
        }
        self.out
    }
}

/// One sample before hourly assembly.
struct Sample {
    secs: i64,
    value: Option<f64>,
}

/// Groups samples into UTC hours (averaging sub-hourly ones), keeps the first of exact
/// duplicates, and reports duplicates and missing hours.
fn assemble(zone: &str, kind: SeriesKind, origin: &str, mut samples: Vec<Sample>, diags: &mut Vec<Diagnostic>) -> Option<HourlySeries> {
    if samples.is_empty() {
        diags.push(Diagnostic::warning(origin, format!("zone {zone}: no rows with data")));
        return None;
    }
    samples.sort_by_key(|s| s.secs); // stable: the first of duplicates stays first
    let mut duplicates = 0usize;
    let mut first_duplicate = None;
    let mut by_hour: BTreeMap<i64, (f64, usize, usize)> = BTreeMap::new(); // sum, n values, n samples
    let mut last_secs = None;
    for s in &samples {
        if last_secs == Some(s.secs) {
            duplicates += 1;
            first_duplicate.get_or_insert(s.secs);
            continue;
        }
        last_secs = Some(s.secs);
        let e = by_hour.entry(s.secs.div_euclid(3600)).or_insert((0.0, 0, 0));
        e.2 += 1;
        if let Some(v) = s.value {
            e.0 += v;
            e.1 += 1;
        }
    }
    if duplicates > 0 {
        diags.push(Diagnostic::warning(
            origin,
            format!(
                "zone {zone}: {duplicates} duplicate timestamps (first {}); the first value of each was kept",
                DateTime::from_timestamp(first_duplicate.unwrap_or(0), 0).map(|d| d.format("%Y-%m-%dT%H:%MZ").to_string()).unwrap_or_default()
            ),
        ));
    }
    let sub_hourly = by_hour.values().filter(|e| e.2 > 1).count();
    if sub_hourly > 0 {
        diags.push(Diagnostic::info(origin, format!("zone {zone}: sub-hourly samples averaged into {sub_hourly} UTC hours")));
    }
    let start = *by_hour.keys().next().expect("non-empty");
    let end = *by_hour.keys().next_back().expect("non-empty") + 1;
    let mut values = vec![None; (end - start) as usize];
    for (h, (sum, n, _)) in &by_hour {
        if *n > 0 {
            values[(h - start) as usize] = Some(sum / *n as f64);
        }
    }
    let missing: Vec<i64> = values.iter().enumerate().filter(|(_, v)| v.is_none()).map(|(i, _)| start + i as i64).collect();
    if let Some(first) = missing.first() {
        diags.push(Diagnostic::warning(
            origin,
            format!(
                "zone {zone}: {} of {} hours missing (first {}); they stay empty, nothing is filled",
                missing.len(),
                values.len(),
                format_hour(*first)
            ),
        ));
    }
    Some(HourlySeries { zone: zone.to_string(), unit: kind.unit().to_string(), start, values, origin: origin.to_string() })
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes())
}

fn headers_of(rdr: &mut csv::Reader<&[u8]>, origin: &str) -> Result<Vec<String>, CatalogError> {
    let h = rdr.headers().map_err(|e| CatalogError::Format {
        origin: origin.to_string(),
        line: 1,
        message: format!("cannot read the CSV header: {e}"),
    })?;
    Ok(h.iter().map(normalize_header).collect())
}

fn parse_value(kind: SeriesKind, cell: &str) -> Result<Option<f64>, String> {
    if is_missing(cell) {
        return Ok(None);
    }
    let v: f64 = cell.trim().parse().map_err(|_| format!("`{cell}` is not a number"))?;
    if !v.is_finite() {
        return Err(format!("`{cell}` is not a finite number"));
    }
    kind.plausible(v)?;
    Ok(Some(v))
}

/// Parses the wide layout: a time column, then one column per zone.
pub fn parse_wide(text: &str, origin: &str, kind: SeriesKind) -> Result<Parsed, CatalogError> {
    let mut rdr = reader(text);
    let headers = headers_of(&mut rdr, origin)?;
    let raw_headers: Vec<String> =
        rdr.headers().map(|h| h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_string()).collect()).unwrap_or_default();
    if headers.len() < 2 || !TIME_HEADERS.contains(&headers[0].as_str()) {
        return Err(CatalogError::Format {
            origin: origin.to_string(),
            line: 1,
            message: format!(
                "a wide series file starts with a time column (`datetime_utc`) and then one column per zone; got `{}`",
                raw_headers.join(",")
            ),
        });
    }
    let zones = &raw_headers[1..];
    let mut samples: Vec<Vec<Sample>> = zones.iter().map(|_| Vec::new()).collect();
    let mut errors = RowErrors::new(origin);
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(line, "row", format!("unreadable CSV: {e}"));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() != raw_headers.len() {
            errors.push(line, "row", format!("has {} fields, header has {}", rec.len(), raw_headers.len()));
            continue;
        }
        let secs = match parse_timestamp(&rec[0]) {
            Ok(s) => s,
            Err(m) => {
                errors.push(line, &raw_headers[0], m);
                continue;
            }
        };
        let mut row = Vec::with_capacity(zones.len());
        let mut bad = None;
        for (i, zone) in zones.iter().enumerate() {
            match parse_value(kind, &rec[i + 1]) {
                Ok(v) => row.push(v),
                Err(m) => {
                    bad = Some((zone.clone(), m));
                    break;
                }
            }
        }
        match bad {
            Some((zone, m)) => errors.push(line, &zone, m),
            None => {
                for (i, v) in row.into_iter().enumerate() {
                    samples[i].push(Sample { secs, value: v });
                }
            }
        }
    }
    let mut diagnostics = errors.finish();
    let mut series = Vec::new();
    for (zone, s) in zones.iter().zip(samples) {
        if let Some(hs) = assemble(zone, kind, origin, s, &mut diagnostics) {
            series.push(hs);
        }
    }
    Ok(Parsed { series, diagnostics })
}

/// Parses the long layout (one row per time, and per zone where a zone column exists).
/// `zone_hint` names the zone when the file has no zone column.
pub fn parse_long(text: &str, origin: &str, kind: SeriesKind, zone_hint: Option<&str>) -> Result<Parsed, CatalogError> {
    let mut rdr = reader(text);
    let headers = headers_of(&mut rdr, origin)?;
    let raw: Vec<String> = rdr.headers().map(|h| h.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    let format_err = |message: String| CatalogError::Format { origin: origin.to_string(), line: 1, message };
    let time_col = find_col(&headers, TIME_HEADERS)
        .ok_or_else(|| format_err(format!("no time column (one of {}) in `{}`", TIME_HEADERS.join(", "), raw.join(","))))?;
    let zone_col = find_col(&headers, ZONE_HEADERS);
    let mut diagnostics = Vec::new();
    let value_col = match kind {
        SeriesKind::Carbon => match find_col(&headers, CARBON_HEADERS) {
            Some(c) => c,
            None => {
                let c = find_col(&headers, CARBON_DIRECT_HEADERS)
                    .ok_or_else(|| format_err(format!("no carbon-intensity column (one of {}) in `{}`", CARBON_HEADERS.join(", "), raw.join(","))))?;
                diagnostics.push(Diagnostic::info(origin, "no life-cycle (LCA) column; the direct-emission column is used"));
                c
            }
        },
        SeriesKind::Price => find_col(&headers, PRICE_HEADERS)
            .ok_or_else(|| format_err(format!("no price column (one of {}) in `{}`", PRICE_HEADERS.join(", "), raw.join(","))))?,
    };
    if zone_col.is_none() && zone_hint.is_none() {
        return Err(format_err(format!("no zone column (one of {}) and no zone given; name it as ZONE=FILE", ZONE_HEADERS.join(", "))));
    }
    let mut by_zone: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let mut errors = RowErrors::new(origin);
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(line, "row", format!("unreadable CSV: {e}"));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let needed = [Some(time_col), zone_col, Some(value_col)].into_iter().flatten().max().unwrap_or(0);
        if rec.len() <= needed {
            errors.push(line, "row", format!("has {} fields, expected at least {}", rec.len(), needed + 1));
            continue;
        }
        let secs = match parse_timestamp(&rec[time_col]) {
            Ok(s) => s,
            Err(m) => {
                errors.push(line, &raw[time_col], m);
                continue;
            }
        };
        let value = match parse_value(kind, &rec[value_col]) {
            Ok(v) => v,
            Err(m) => {
                errors.push(line, &raw[value_col], m);
                continue;
            }
        };
        let zone = match zone_col {
            Some(c) if !rec[c].trim().is_empty() => rec[c].trim().to_string(),
            Some(c) => match zone_hint {
                Some(z) => z.to_string(),
                None => {
                    errors.push(line, &raw[c], "empty zone".to_string());
                    continue;
                }
            },
            None => zone_hint.unwrap_or_default().to_string(),
        };
        by_zone.entry(zone).or_default().push(Sample { secs, value });
    }
    let mut all = errors.finish();
    all.append(&mut diagnostics);
    let mut series = Vec::new();
    for (zone, samples) in by_zone {
        if let Some(hs) = assemble(&zone, kind, origin, samples, &mut all) {
            series.push(hs);
        }
    }
    if series.is_empty() && !all.iter().any(|d| d.message.contains("no rows")) {
        all.push(Diagnostic::warning(origin, "no usable rows"));
    }
    Ok(Parsed { series, diagnostics: all })
}

/// Parses a lets-wait-awhile file (`Time,Carbon Intensity`, 15 or 30 minutes, UTC; see the
/// module note) into hourly means for `zone`.
pub fn parse_lets_wait_awhile(text: &str, origin: &str, zone: &str) -> Result<Parsed, CatalogError> {
    parse_long(text, origin, SeriesKind::Carbon, Some(zone))
}

/// Tells the layout from the header and parses accordingly.
pub fn parse_auto(text: &str, origin: &str, kind: SeriesKind, zone_hint: Option<&str>) -> Result<Parsed, CatalogError> {
    let mut rdr = reader(text);
    let headers = headers_of(&mut rdr, origin)?;
    let long = find_col(&headers, ZONE_HEADERS).is_some()
        || find_col(&headers, CARBON_HEADERS).is_some()
        || find_col(&headers, CARBON_DIRECT_HEADERS).is_some()
        || find_col(&headers, PRICE_HEADERS).is_some();
    if long {
        parse_long(text, origin, kind, zone_hint)
    } else {
        parse_wide(text, origin, kind)
    }
}

/// Guesses a zone from a file name: `DE-LU_2023_hourly.csv` → `DE-LU`, `fr_ci.csv` → `FR`,
/// `ger_ci.csv` → `DE` (lets-wait-awhile's name for Germany).
pub fn zone_hint_from_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.split('.').next().unwrap_or(base);
    let first = stem.split('_').next()?.to_ascii_uppercase();
    let zone = match first.as_str() {
        "GER" => "DE".to_string(),
        other => other.to_string(),
    };
    let ok = !zone.is_empty()
        && zone.len() <= 16
        && zone.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && zone.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    ok.then_some(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_offsets_become_utc() {
        // 08:00 at +08:00 is midnight UTC; 2023-01-01T00:00Z is unix 1,672,531,200.
        assert_eq!(parse_timestamp("2023-01-01T08:00:00+08:00").unwrap(), 1_672_531_200);
        assert_eq!(parse_timestamp("2023-01-01 00:00:00+00:00").unwrap(), 1_672_531_200);
        assert_eq!(parse_timestamp("2023-01-01T00:00:00Z").unwrap(), 1_672_531_200);
        assert_eq!(parse_timestamp("2023-01-01 00:00:00").unwrap(), 1_672_531_200);
        assert_eq!(parse_timestamp("2023-01-01 00:00").unwrap(), 1_672_531_200);
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn wide_rows_with_bad_values_are_skipped_and_named() {
        let text = "datetime_utc,DE-LU,SG\n2023-01-01 00:00:00,100,400\n2023-01-01 01:00:00,abc,410\n2023-01-01 02:00:00,120,\n";
        let p = parse_wide(text, "w.csv", SeriesKind::Carbon).unwrap();
        let de = p.series.iter().find(|s| s.zone == "DE-LU").unwrap();
        // Line 3 (hour 1) was skipped for both zones; SG's empty cell at hour 2 is missing.
        assert_eq!(de.values, vec![Some(100.0), None, Some(120.0)]);
        let sg = p.series.iter().find(|s| s.zone == "SG").unwrap();
        assert_eq!(sg.values, vec![Some(400.0), None, None]);
        let bad = p.diagnostics.iter().find(|d| d.location == "w.csv:3").unwrap();
        assert!(bad.message.contains("field `DE-LU`") && bad.message.contains("abc"), "{bad}");
        assert!(p.diagnostics.iter().any(|d| d.message.contains("zone SG: 2 of 3 hours missing (first 2023-01-01T01:00Z)")));
    }

    #[test]
    fn long_exports_accept_header_variants_and_offsets() {
        let text = "Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (LCA)\n2023-01-01T08:00:00+08:00,SG,500\n2023-01-01T09:00:00+08:00,SG,510\n";
        let p = parse_long(text, "em.csv", SeriesKind::Carbon, None).unwrap();
        assert_eq!(p.series.len(), 1);
        assert_eq!(p.series[0].start, 1_672_531_200 / 3600);
        assert_eq!(p.series[0].values, vec![Some(500.0), Some(510.0)]);
        let text = "datetime,zone,carbon_intensity\n2023-01-01 00:00,FR,50\n";
        assert_eq!(parse_long(text, "x", SeriesKind::Carbon, None).unwrap().series[0].zone, "FR");
    }

    #[test]
    fn half_hours_average_into_hours_and_duplicates_keep_the_first() {
        // (40 + 60) / 2 = 50 for 00:00; 01:00 has 30, then a duplicate 01:00 (99) is ignored.
        let text = "Time,Carbon Intensity\n2020-01-01 00:00:00,40\n2020-01-01 00:30:00,60\n2020-01-01 01:00:00,30\n2020-01-01 01:00:00,99\n";
        let p = parse_lets_wait_awhile(text, "fr_ci.csv", "FR").unwrap();
        assert_eq!(p.series[0].values, vec![Some(50.0), Some(30.0)]);
        assert!(p.diagnostics.iter().any(|d| d.message.contains("1 duplicate timestamps")));
    }

    #[test]
    fn zone_hints_from_file_names() {
        assert_eq!(zone_hint_from_file_name("/x/DE-LU_2023_hourly.csv").as_deref(), Some("DE-LU"));
        assert_eq!(zone_hint_from_file_name("ger_ci.csv").as_deref(), Some("DE"));
        assert_eq!(zone_hint_from_file_name("fr_ci.csv").as_deref(), Some("FR"));
    }
}

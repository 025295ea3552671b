//! Forecasts of an hourly series (carbon intensity, electricity price) from its past only.
//!
//! In operation nobody knows tomorrow's carbon or prices; a policy that reads the actual
//! series plans with hindsight. Here a forecast is *issued* at an hour `i`: the values up to
//! and including hour `i` are known (grid operators publish the current hour's mix and price),
//! everything after is predicted, at any horizon. Two models:
//!
//! * **seasonal naive**: the value at the same hour of the last known day,
//!   `f(i + h) = y(i + h − 24⌈h/24⌉)`; the usual baseline of carbon-forecasting work
//!   (Maji et al., "CarbonCast", BuildSys 2022, report it beside their models).
//! * **profile**: the mean of the same hour of day over the last seven days, plus the current
//!   hour's departure from that profile, decaying by `φ` per hour ahead, where `φ` is the
//!   lag-one autocorrelation of the departures over the last week (estimated from the past at
//!   each issue, nothing tuned): `f(i + h) = P(i + h) + φ^h · (y(i) − P(i))`. Weekly means
//!   smooth one odd day; the decaying departure keeps what is known about the next few hours.
//!
//! Pure: no I/O, no clock.

use serde::Serialize;

/// A forecasting model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    SeasonalNaive,
    Profile,
}

impl Model {
    pub const ALL: [Model; 2] = [Model::SeasonalNaive, Model::Profile];

    pub fn name(self) -> &'static str {
        match self {
            Model::SeasonalNaive => "seasonal-naive",
            Model::Profile => "profile",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == s)
    }
}

const DAY: usize = 24;
const WEEK_DAYS: usize = 7;

/// The mean of `y` at the hours `t − 24k` (k = 1..=7) that exist and are at most `known`.
fn profile_at(y: &[f64], t: usize, known: usize) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0;
    // The first k with t − 24k ≤ known.
    let first = if t > known { (t - known).div_ceil(DAY) } else { 1 };
    for k in first..first + WEEK_DAYS {
        let Some(at) = t.checked_sub(DAY * k) else { break };
        sum += y[at];
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// Forecasts `horizon` hours after hour `issue` of `y`, reading only `y[..=issue]`.
/// `issue` must be an index of `y`.
pub fn forecast(model: Model, y: &[f64], issue: usize, horizon: usize) -> Vec<f64> {
    let known = &y[..=issue];
    match model {
        Model::SeasonalNaive => (1..=horizon)
            .map(|h| match (issue + h).checked_sub(DAY * h.div_ceil(DAY)) {
                Some(at) => known[at],
                // Less than a day of history: the last value.
                None => known[issue],
            })
            .collect(),
        Model::Profile => {
            let p_now = profile_at(known, issue, issue);
            let Some(p_now) = p_now else {
                return vec![known[issue]; horizon];
            };
            let departure = known[issue] - p_now;
            let phi = persistence(known, issue);
            let mut decay = 1.0;
            (1..=horizon)
                .map(|h| {
                    decay *= phi;
                    profile_at(known, issue + h, issue).unwrap_or(known[issue]) + decay * departure
                })
                .collect()
        }
    }
}

/// The lag-one autocorrelation of the departures from the weekly profile over the last week
/// before `issue` (inclusive), in [0, 1); 0 where there is too little history.
fn persistence(y: &[f64], issue: usize) -> f64 {
    let from = issue.saturating_sub(DAY * WEEK_DAYS - 1).max(DAY);
    let e: Vec<f64> = (from..=issue).filter_map(|t| profile_at(y, t, t).map(|p| y[t] - p)).collect();
    let (mut num, mut den) = (0.0, 0.0);
    for w in e.windows(2) {
        num += w[1] * w[0];
        den += w[0] * w[0];
    }
    if den > 0.0 && num.is_finite() {
        (num / den).clamp(0.0, 0.99)
    } else {
        0.0
    }
}

/// The series as seen at hour `issue` of `series`: `past` (the hours before hour 0, oldest
/// first) is history only; hours `0..=issue` are the actual values, the rest is the model's
/// forecast issued then.
pub fn as_seen(model: Model, past: &[f64], series: &[f64], issue: usize) -> Vec<f64> {
    let issue = issue.min(series.len().saturating_sub(1));
    if series.is_empty() {
        return Vec::new();
    }
    let mut y: Vec<f64> = Vec::with_capacity(past.len() + series.len());
    y.extend_from_slice(past);
    y.extend_from_slice(&series[..=issue]);
    let rest = series.len() - issue - 1;
    let f = forecast(model, &y, y.len() - 1, rest);
    let mut out = series[..=issue].to_vec();
    out.extend(f);
    out
}

/// The errors of day-ahead forecasts over a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Errors {
    /// Mean absolute error, in the series' unit.
    pub mae: f64,
    /// Mean absolute error over the mean absolute value, in per cent (robust where values
    /// come near zero, as prices do; also called WAPE).
    pub wape_pct: f64,
    /// Forecasts scored (issue hour, horizon pairs).
    pub n: usize,
}

/// Scores forecasts issued at every hour from `warmup` on, for horizons 1..=`horizon`, against
/// the actual values that followed.
pub fn errors(model: Model, y: &[f64], warmup: usize, horizon: usize) -> Errors {
    let (mut abs, mut level, mut n) = (0.0, 0.0, 0usize);
    for issue in warmup..y.len().saturating_sub(horizon) {
        let f = forecast(model, y, issue, horizon);
        for (h, v) in f.iter().enumerate() {
            let actual = y[issue + 1 + h];
            abs += (v - actual).abs();
            level += actual.abs();
            n += 1;
        }
    }
    Errors { mae: if n > 0 { abs / n as f64 } else { f64::NAN }, wape_pct: if level > 0.0 { 100.0 * abs / level } else { f64::NAN }, n }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(days: usize) -> Vec<f64> {
        (0..days * DAY).map(|t| 100.0 + 50.0 * ((t % DAY) as f64 / 24.0 * std::f64::consts::TAU).sin()).collect()
    }

    #[test]
    fn a_daily_pattern_is_forecast_exactly_by_both() {
        let y = daily(20);
        for m in Model::ALL {
            let f = forecast(m, &y, 10 * DAY + 5, 48);
            for (h, v) in f.iter().enumerate() {
                assert!((v - y[10 * DAY + 6 + h]).abs() < 1e-9, "{m:?} h={h}: {v} vs {}", y[10 * DAY + 6 + h]);
            }
            assert!(errors(m, &y, 8 * DAY, 24).mae < 1e-9);
        }
    }

    #[test]
    fn a_forecast_reads_no_value_after_its_issue_hour() {
        let y = daily(20);
        let mut z = y.clone();
        for v in &mut z[200..] {
            *v = -7.0;
        }
        for m in Model::ALL {
            assert_eq!(forecast(m, &y, 199, 60), forecast(m, &z, 199, 60));
            assert_eq!(as_seen(m, &y[..30], &y[30..], 169), as_seen(m, &z[..30], &z[30..], 169));
        }
    }

    #[test]
    fn as_seen_keeps_the_known_hours_and_the_length() {
        let y = daily(3);
        let s = as_seen(Model::Profile, &[], &y, 30);
        assert_eq!(s.len(), y.len());
        assert_eq!(&s[..=30], &y[..=30]);
        // With one value known and no history, every forecast is that value.
        assert!(as_seen(Model::SeasonalNaive, &[], &y, 0)[1..].iter().all(|&v| v == y[0]));
    }

    #[test]
    fn the_profile_keeps_a_persistent_departure() {
        // A daily pattern plus a level shift in the last few hours: the profile model carries
        // part of the shift into the next hours, the seasonal-naive one cannot.
        let mut y = daily(10);
        let n = y.len();
        for (k, v) in y[n - 48..].iter_mut().enumerate() {
            *v += if k >= 44 { 30.0 } else { (k % 3) as f64 };
        }
        let f = forecast(Model::Profile, &y, n - 1, 2);
        let base = daily(11)[n];
        assert!(f[0] > base + 1.0, "{} vs {base}", f[0]);
    }
}

//! The bounds on what xisuan accepts, and the one check every entry point uses for a number.
//!
//! Every value that reaches the core (from a scenario file, a flag, a trace or, next, the HTTP
//! API) is checked against these bounds once, where the core builds its types: finite, not
//! negative where a negative makes no sense, and small enough that every product and index
//! the planner and the simulator compute fits its integer type and its memory. The bounds are
//! far beyond any real workload (the largest published training clusters hold about 10⁵
//! accelerators; a year has 8,784 hours at most), so they reject mistakes, not work.

/// The longest horizon planned or simulated, and the longest job: one leap year, in hours.
pub const MAX_HOURS: u32 = 8_784;
/// Hours an hourly series may span (ten years), so that a file cannot make us allocate more.
pub const MAX_SERIES_HOURS: i64 = 87_840;
/// Accelerators of one type at one site.
pub const MAX_SITE_ACCELERATORS: u32 = 10_000_000;
/// Accelerators one job or one replica uses at once.
pub const MAX_JOB_ACCELERATORS: u32 = 1_000_000;
/// Bytes one job may move: one exabyte.
pub const MAX_BYTES: f64 = 1e18;
/// Requests per second of one service in one region, and one replica's throughput.
pub const MAX_RPS: f64 = 1e9;
/// Average power of one accelerator with its host share, kW (the largest boards draw ~1.2 kW).
pub const MAX_KW_PER_ACCELERATOR: f64 = 10.0;
/// Power usage effectiveness; old enterprise rooms reach 2.5 to 3.
pub const MAX_PUE: f64 = 5.0;
/// Electricity price, USD per kWh (wholesale spikes reach a few USD per kWh).
pub const MAX_USD_PER_KWH: f64 = 100.0;
/// Grid carbon intensity, kgCO2e per kWh (lignite plants emit about 1.2).
pub const MAX_KG_PER_KWH: f64 = 5.0;
/// Price of an accelerator-hour beyond electricity, USD.
pub const MAX_USD_PER_ACCELERATOR_HOUR: f64 = 10_000.0;
/// Carbon price, USD per tonne CO2e.
pub const MAX_CARBON_USD_PER_T: f64 = 100_000.0;
/// Any other money rate (per GB moved, per hour of delay, per unit of penalty), USD.
pub const MAX_USD_RATE: f64 = 1e9;
/// Network round trip or latency objective, ms.
pub const MAX_LATENCY_MS: f64 = 100_000.0;
/// Bandwidth of one link, Gbit/s.
pub const MAX_GBPS: f64 = 1e6;
/// Jobs, services, sites and regions in one problem.
pub const MAX_JOBS: usize = 1_000_000;
pub const MAX_SITES: usize = 10_000;
pub const MAX_SERVICES: usize = 10_000;
pub const MAX_REGIONS: usize = 10_000;
/// Length of an id or a name, bytes.
pub const MAX_ID_LEN: usize = 256;

/// Checks that `v` is a finite number in `[lo, hi]`; the message says what was expected.
pub fn in_range(v: f64, lo: f64, hi: f64) -> Result<f64, String> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!("must be a finite number in [{}, {}], got {v}", fmt(lo), fmt(hi)))
    }
}

/// Checks that `v` is a finite number in `(0, hi]`.
pub fn positive(v: f64, hi: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 && v <= hi {
        Ok(v)
    } else {
        Err(format!("must be a finite number in (0, {}], got {v}", fmt(hi)))
    }
}

/// Checks a count against `[lo, hi]`.
pub fn count(v: u64, lo: u64, hi: u64) -> Result<u64, String> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(format!("must be a whole number in [{lo}, {hi}], got {v}"))
    }
}

/// Checks an id or name: not empty, not too long, no control characters.
pub fn id(s: &str) -> Result<&str, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else if s.len() > MAX_ID_LEN {
        Err(format!("is {} bytes long; at most {MAX_ID_LEN}", s.len()))
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(s)
    }
}

/// Converts a non-negative float to `u32`, or says it does not fit (no silent saturation).
pub fn to_u32(v: f64) -> Result<u32, String> {
    if v.is_finite() && v >= 0.0 && v <= u32::MAX as f64 {
        Ok(v as u32)
    } else {
        Err(format!("{v} does not fit a whole count up to {}", u32::MAX))
    }
}

fn fmt(x: f64) -> String {
    if x.abs() >= 1e6 && x.fract() == 0.0 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_reject_what_cannot_be_computed_with() {
        assert!(in_range(f64::NAN, 0.0, 1.0).is_err());
        assert!(in_range(f64::INFINITY, 0.0, f64::MAX).is_err());
        assert!(in_range(-1.0, 0.0, 1.0).is_err());
        assert_eq!(in_range(0.0, 0.0, 1.0), Ok(0.0));
        assert!(positive(0.0, 1.0).is_err());
        assert_eq!(in_range(-1.0, 0.0, 1e9).unwrap_err(), "must be a finite number in [0, 1e9], got -1");
        assert!(to_u32(1e30).is_err());
        assert_eq!(to_u32(7.0), Ok(7));
        assert!(id("").is_err() && id("a\u{7}").is_err() && id("ok").is_ok());
    }
}

//! Units as newtypes over `f64`, so that GPU-hours cannot be added to kilowatt-hours.
//!
//! Each unit stores one canonical scale (FLOPs, hours, kWh, USD, kg CO2e, bytes, watts,
//! kg CO2e per kWh) and offers named conversions for the scales people read (PF-days, MWh,
//! tonnes). Arithmetic that keeps the unit (sum, scale by a plain number) is implemented;
//! arithmetic that changes the unit is spelled out as a method (`KWh::from_power`).

use serde::Serialize;
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub f64);

        impl $name {
            /// The unit symbol printed after the number.
            pub const UNIT: &'static str = $suffix;
            pub const ZERO: $name = $name(0.0);
            pub fn value(self) -> f64 {
                self.0
            }
            pub fn max(self, other: Self) -> Self {
                $name(self.0.max(other.0))
            }
            pub fn min(self, other: Self) -> Self {
                $name(self.0.min(other.0))
            }
        }
        impl Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0 + o.0)
            }
        }
        impl AddAssign for $name {
            fn add_assign(&mut self, o: $name) {
                self.0 += o.0;
            }
        }
        impl Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }
        impl Mul<f64> for $name {
            type Output = $name;
            fn mul(self, k: f64) -> $name {
                $name(self.0 * k)
            }
        }
        impl Div<f64> for $name {
            type Output = $name;
            fn div(self, k: f64) -> $name {
                $name(self.0 / k)
            }
        }
        /// The ratio of two quantities of the same unit is a plain number.
        impl Div for $name {
            type Output = f64;
            fn div(self, o: $name) -> f64 {
                self.0 / o.0
            }
        }
        impl Sum for $name {
            fn sum<I: Iterator<Item = $name>>(it: I) -> $name {
                $name(it.map(|x| x.0).sum())
            }
        }
        impl<'a> Sum<&'a $name> for $name {
            fn sum<I: Iterator<Item = &'a $name>>(it: I) -> $name {
                $name(it.map(|x| x.0).sum())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", crate::units::human(self.0), $suffix)
            }
        }
    };
}

unit!(
    /// Floating-point operations (a count, not a rate).
    Flops, "FLOP"
);
unit!(
    /// Floating-point operations per second.
    FlopsPerSec, "FLOP/s"
);
unit!(
    /// Accelerator-hours (GPU-, TPU- or NPU-hours).
    GpuHours, "GPU-h"
);
unit!(
    /// A duration in hours.
    Hours, "h"
);
unit!(
    /// Energy in kilowatt-hours.
    KWh, "kWh"
);
unit!(
    /// Power in watts.
    Watts, "W"
);
unit!(
    /// Money in US dollars.
    Usd, "USD"
);
unit!(
    /// Greenhouse-gas emissions in kilograms of CO2-equivalent.
    KgCo2e, "kgCO2e"
);
unit!(
    /// Grid carbon intensity in kilograms of CO2-equivalent per kilowatt-hour.
    KgPerKwh, "kgCO2e/kWh"
);
unit!(
    /// Electricity price in US dollars per kilowatt-hour.
    UsdPerKwh, "USD/kWh"
);
unit!(
    /// An amount of data in bytes.
    Bytes, "B"
);
unit!(
    /// Link bandwidth in gigabits per second.
    Gbps, "Gbit/s"
);
unit!(
    /// A duration or latency in milliseconds.
    Millis, "ms"
);

/// Seconds in a day, and FLOPs in one petaFLOP/s-day.
pub const SECONDS_PER_DAY: f64 = 86_400.0;
pub const FLOPS_PER_PF_DAY: f64 = 1e15 * SECONDS_PER_DAY;

impl Flops {
    /// petaFLOP/s-days, the unit of the GPT-3 paper (1 PF-day = 8.64e19 FLOPs).
    pub fn pf_days(self) -> f64 {
        self.0 / FLOPS_PER_PF_DAY
    }
}

impl Hours {
    pub fn days(self) -> f64 {
        self.0 / 24.0
    }
    pub fn seconds(self) -> f64 {
        self.0 * 3600.0
    }
    pub fn from_seconds(s: f64) -> Hours {
        Hours(s / 3600.0)
    }
}

impl KWh {
    pub fn mwh(self) -> f64 {
        self.0 / 1000.0
    }
    /// Energy drawn by `power` over `hours`.
    pub fn from_power(power: Watts, hours: Hours) -> KWh {
        KWh(power.0 * hours.0 / 1000.0)
    }
    /// Emissions of this energy at a grid intensity.
    pub fn emissions(self, intensity: KgPerKwh) -> KgCo2e {
        KgCo2e(self.0 * intensity.0)
    }
    /// Cost of this energy at a price.
    pub fn cost(self, price: UsdPerKwh) -> Usd {
        Usd(self.0 * price.0)
    }
}

impl KgCo2e {
    pub fn tonnes(self) -> f64 {
        self.0 / 1000.0
    }
}

impl KgPerKwh {
    /// From grams per kWh, the unit most grid data is published in.
    pub fn from_g_per_kwh(g: f64) -> KgPerKwh {
        KgPerKwh(g / 1000.0)
    }
    pub fn g_per_kwh(self) -> f64 {
        self.0 * 1000.0
    }
}

impl Bytes {
    pub const TB: f64 = 1e12;
    pub const GB: f64 = 1e9;
    pub fn terabytes(self) -> f64 {
        self.0 / Self::TB
    }
    pub fn gigabytes(self) -> f64 {
        self.0 / Self::GB
    }
    /// Parses sizes such as `50TB`, `1.5 PB`, `800GiB`, `123` (bytes). Decimal prefixes are
    /// powers of 1000, binary ones (`KiB`, `MiB`, ...) powers of 1024.
    pub fn parse(text: &str) -> Result<Bytes, String> {
        let t = text.trim();
        let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.trim().parse().map_err(|_| format!("`{text}` is not a size (expected e.g. 50TB, 800GiB)"))?;
        let k = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "kb" | "k" => 1e3,
            "mb" | "m" => 1e6,
            "gb" | "g" => 1e9,
            "tb" | "t" => 1e12,
            "pb" | "p" => 1e15,
            "kib" => 1024.0,
            "mib" => 1024f64.powi(2),
            "gib" => 1024f64.powi(3),
            "tib" => 1024f64.powi(4),
            "pib" => 1024f64.powi(5),
            other => return Err(format!("unknown size unit `{other}` in `{text}`")),
        };
        if !(n.is_finite() && n >= 0.0) {
            return Err(format!("size `{text}` must be a non-negative number"));
        }
        Ok(Bytes(n * k))
    }
}

impl Watts {
    pub fn kw(self) -> f64 {
        self.0 / 1000.0
    }
}

/// Formats a number for people: four significant figures, thousands separators for large
/// magnitudes, scientific notation beyond 1e15 or below 1e-3.
pub fn human(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e15).contains(&a) {
        return format!("{x:.3e}");
    }
    if a >= 1000.0 {
        let rounded = x.round() as i128;
        let s = rounded.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        return if x < 0.0 { format!("-{out}") } else { out };
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

/// CNY per USD: 2023 annual average of about 7.08 (recalled from the Federal Reserve H.10
/// series; the PBOC central parity averaged close to 7.05). Stated so users can change it.
pub const CNY_PER_USD: f64 = 7.08;
pub const CNY_PER_USD_SOURCE: &str = "CNY→USD at 7.08 CNY/USD (2023 annual average, recalled from Federal Reserve H.10; verify)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pf_day_is_8_64e19_flops() {
        // 3.14e23 FLOPs / 8.64e19 = 3,634 PF-days (GPT-3 paper: 3.64e3).
        assert!((Flops(3.14e23).pf_days() - 3634.26).abs() < 0.01);
    }

    #[test]
    fn sizes_parse_with_decimal_and_binary_prefixes() {
        assert_eq!(Bytes::parse("50TB").unwrap(), Bytes(50e12));
        assert_eq!(Bytes::parse("1 GiB").unwrap(), Bytes(1073741824.0));
        assert_eq!(Bytes::parse("12").unwrap(), Bytes(12.0));
        assert!(Bytes::parse("-1TB").is_err());
        assert!(Bytes::parse("5 parsecs").is_err());
    }

    #[test]
    fn human_numbers_are_readable() {
        assert_eq!(human(1_234_567.8), "1,234,568");
        assert_eq!(human(1.23456), "1.235");
        assert_eq!(human(0.05), "0.05000");
        assert_eq!(human(3.14e23), "3.140e23");
        assert_eq!(human(-2500.0), "-2,500");
    }
}

//! The world a simulation runs in: sites with accelerators, hourly carbon and price, PUE and
//! power; links between them; the jobs that arrive. Built at the edge (from the catalog and a
//! trace) and handed in as a value; the simulator never looks anything up itself.
//!
//! Time is in hours from the start of the simulated period (hour 0 = `World::start_hour`).
//! Hourly series have `World::hours` values. A run that goes past the last value reads the
//! series again from its start (hour `h` uses value `h mod hours`); the edge makes the series
//! long enough that only jobs delayed by queues ever do, and the result says how many did.

use crate::SimError;

/// A place with accelerators, as the simulator sees it.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub id: String,
    /// Accelerators at the site (one accelerator type per world).
    pub capacity: u32,
    pub pue: f64,
    /// Non-electricity price of an accelerator-hour, USD (0 for an owned fleet).
    pub usd_per_gpu_hour: f64,
    /// Grid carbon intensity per hour, kgCO2e/kWh (location-based).
    pub kg_per_kwh: Vec<f64>,
    /// Electricity price per hour, USD/kWh.
    pub usd_per_kwh: Vec<f64>,
    /// Accelerators reserved for inference in each hour (empty: none). Shorter series repeat.
    pub inference_gpus: Vec<u32>,
}

/// A directed network path for bulk data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// Provisioned bandwidth, Gbit/s.
    pub gbps: f64,
    /// Share of the bandwidth a bulk transfer achieves.
    pub efficiency: f64,
    /// Egress price, USD per GB moved.
    pub usd_per_gb: f64,
}

impl LinkSpec {
    /// Hours to move `bytes` when the link is free.
    pub fn hours(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            0.0
        } else {
            bytes * 8.0 / (self.gbps * 1e9 * self.efficiency) / 3600.0
        }
    }
    pub fn usd(&self, bytes: f64) -> f64 {
        bytes / 1e9 * self.usd_per_gb
    }
}

/// A batch job from a trace, after defaults were applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// Hours from hour 0.
    pub arrival_h: f64,
    /// Hours of work (at any site: one accelerator type per world).
    pub duration_h: f64,
    pub gpus: u32,
    /// Where the job's data is and where its owner would run it by default.
    pub home: usize,
    pub data_bytes: f64,
    /// Must finish by this time, hours from hour 0.
    pub deadline_h: f64,
    /// May be checkpointed, suspended and resumed.
    pub pausable: bool,
}

impl Job {
    /// Hours the job may wait and still meet its deadline.
    pub fn slack_h(&self) -> f64 {
        (self.deadline_h - self.arrival_h - self.duration_h).max(0.0)
    }
}

/// Everything a run needs besides the jobs and the policy.
#[derive(Debug, Clone)]
pub struct World {
    pub sites: Vec<SiteSpec>,
    /// `links[from][to]`; the diagonal is unused.
    pub links: Vec<Vec<LinkSpec>>,
    /// Average power per accelerator including its host share, kW, before PUE (one
    /// accelerator type per world).
    pub kw_per_gpu: f64,
    /// Length of every hourly series.
    pub hours: u32,
    /// UTC hour (hours since 1970-01-01) of hour 0, for reports.
    pub start_hour: i64,
    /// Extra hours of work each resume costs a suspended job (restoring a checkpoint),
    /// drawn at the same power as the job.
    pub resume_overhead_h: f64,
    /// Per site, the hours just before hour 0 (oldest first): history that forecasts may read
    /// (`RunOptions::forecast`), never charged. Empty: no history.
    pub past: Vec<Past>,
}

/// A site's carbon and prices before the simulated window, as in `SiteSpec`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Past {
    pub kg_per_kwh: Vec<f64>,
    pub usd_per_kwh: Vec<f64>,
}

impl World {
    /// Checks shapes and ranges, so the engine may index freely.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: String, msg: String| Err(SimError::World(format!("{what}: {msg}")));
        let n = self.sites.len();
        if n == 0 || self.hours == 0 {
            return bad("world".into(), "needs at least one site and one hour".into());
        }
        for s in &self.sites {
            let h = self.hours as usize;
            if s.kg_per_kwh.len() != h || s.usd_per_kwh.len() != h {
                return bad(format!("site {}", s.id), format!("series must have {h} hourly values"));
            }
            if !(s.pue >= 1.0) || !s.usd_per_gpu_hour.is_finite() {
                return bad(format!("site {}", s.id), "PUE must be at least 1 and the accelerator-hour price finite".into());
            }
            if s.kg_per_kwh.iter().chain(&s.usd_per_kwh).any(|v| !v.is_finite()) || s.kg_per_kwh.iter().any(|&v| v < 0.0) {
                return bad(format!("site {}", s.id), "series values must be finite, carbon non-negative".into());
            }
        }
        if self.links.len() != n || self.links.iter().any(|r| r.len() != n) {
            return bad("links".into(), format!("must be a {n} x {n} matrix"));
        }
        for (a, row) in self.links.iter().enumerate() {
            for (b, l) in row.iter().enumerate() {
                if a != b && !(l.gbps > 0.0 && l.efficiency > 0.0 && l.usd_per_gb >= 0.0) {
                    return bad(format!("link {a}->{b}"), "bandwidth and efficiency must be positive".into());
                }
            }
        }
        if !(self.kw_per_gpu >= 0.0 && self.kw_per_gpu.is_finite()) {
            return bad("power".into(), "kW per accelerator must be non-negative".into());
        }
        if !(self.resume_overhead_h >= 0.0) {
            return bad("resume overhead".into(), "must be non-negative".into());
        }
        if !self.past.is_empty() && self.past.len() != n {
            return bad("past".into(), format!("history for {} sites, the world has {n}", self.past.len()));
        }
        for (s, p) in self.sites.iter().zip(&self.past) {
            if p.kg_per_kwh.len() != p.usd_per_kwh.len()
                || p.kg_per_kwh.len() > crate::MAX_PAST_H
                || p.kg_per_kwh.iter().chain(&p.usd_per_kwh).any(|v| !v.is_finite())
                || p.kg_per_kwh.iter().any(|&v| v < 0.0)
            {
                return bad(
                    format!("site {} history", s.id),
                    format!("carbon and price must have the same length (at most {} h), finite, carbon non-negative", crate::MAX_PAST_H),
                );
            }
        }
        Ok(())
    }

    /// Checks jobs against the world.
    pub fn validate_jobs(&self, jobs: &[Job]) -> Result<(), SimError> {
        for j in jobs {
            let bad = |m: &str| Err(SimError::Job(j.id.clone(), m.to_string()));
            if j.home >= self.sites.len() {
                return bad("home site out of range");
            }
            if !(j.arrival_h >= 0.0 && j.arrival_h.is_finite()) {
                return bad("arrival must be a non-negative number of hours");
            }
            if !(j.duration_h > 0.0 && j.duration_h.is_finite()) || j.gpus == 0 {
                return bad("needs a positive duration and at least one accelerator");
            }
            if !(j.deadline_h >= j.arrival_h) || !(j.data_bytes >= 0.0) {
                return bad("deadline before arrival or negative data size");
            }
        }
        if jobs.windows(2).any(|w| w[1].arrival_h < w[0].arrival_h) {
            return Err(SimError::World("jobs must be sorted by arrival".into()));
        }
        Ok(())
    }
}

impl World {
    /// The world of a planning problem (a scenario): its sites with their capacity of
    /// `accelerator`, hourly series, PUE and accelerator-hour price; its links; its start.
    /// The problem's jobs and services are not used: jobs come from a trace.
    pub fn from_problem(p: &xisuan_plan::Problem, accelerator: &str, kw_per_gpu: f64, resume_overhead_h: f64) -> World {
        World {
            sites: p
                .sites
                .iter()
                .map(|s| SiteSpec {
                    id: s.id.clone(),
                    capacity: s.capacity_of(accelerator),
                    pue: s.pue,
                    usd_per_gpu_hour: s.gpu_hour_usd(accelerator),
                    kg_per_kwh: s.kg_per_kwh.clone(),
                    usd_per_kwh: s.usd_per_kwh.clone(),
                    inference_gpus: Vec::new(),
                })
                .collect(),
            links: p
                .links
                .iter()
                .map(|row| row.iter().map(|l| LinkSpec { gbps: l.gbps, efficiency: l.efficiency, usd_per_gb: l.usd_per_gb }).collect())
                .collect(),
            kw_per_gpu,
            hours: p.slots,
            start_hour: p.start_hour,
            resume_overhead_h,
            past: Vec::new(),
        }
    }

    /// Makes every hourly series at least `hours` long by reading it again from its start;
    /// returns how many hours were added.
    pub fn extend_to(&mut self, hours: u32) -> u32 {
        if hours <= self.hours {
            return 0;
        }
        let n = self.hours as usize;
        let wrap = |v: &mut Vec<f64>| {
            let extra: Vec<f64> = (n..hours as usize).map(|i| v[i % n]).collect();
            v.extend(extra);
        };
        for s in &mut self.sites {
            wrap(&mut s.kg_per_kwh);
            wrap(&mut s.usd_per_kwh);
        }
        let added = hours - self.hours;
        self.hours = hours;
        added
    }
}

/// A site's rates per kW drawn (PUE included), with prefix sums so that the cost or carbon of
/// any interval is O(1). Past the series end it wraps around (see the module note).
#[derive(Debug, Clone)]
pub struct Curve {
    pub per_hour: Vec<f64>,
    prefix: Vec<f64>,
}

impl Curve {
    pub fn new(values: &[f64], pue: f64) -> Curve {
        let per_hour: Vec<f64> = values.iter().map(|v| v * pue).collect();
        let mut prefix = Vec::with_capacity(per_hour.len() + 1);
        let mut acc = 0.0;
        prefix.push(0.0);
        for v in &per_hour {
            acc += v;
            prefix.push(acc);
        }
        Curve { per_hour, prefix }
    }

    /// The integral from hour 0 to `t` (hours, fractional).
    pub fn cumulative(&self, t: f64) -> f64 {
        let n = self.per_hour.len();
        let total = self.prefix[n];
        let laps = (t / n as f64).floor();
        let rest = t - laps * n as f64;
        let h = (rest.floor() as usize).min(n - 1);
        laps * total + self.prefix[h] + (rest - h as f64) * self.per_hour[h]
    }

    /// The integral over `[a, b)`.
    pub fn integral(&self, a: f64, b: f64) -> f64 {
        self.cumulative(b) - self.cumulative(a)
    }

    /// The value at hour `t` (wrapping).
    pub fn at(&self, t: f64) -> f64 {
        let n = self.per_hour.len();
        self.per_hour[(t.max(0.0).floor() as usize) % n]
    }

    /// The mean over the whole series.
    pub fn mean(&self) -> f64 {
        self.prefix[self.per_hour.len()] / self.per_hour.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_integrates_fractional_and_wrapping_intervals() {
        // Rates 1, 2, 3 with PUE 2 → 2, 4, 6 per kW.
        let c = Curve::new(&[1.0, 2.0, 3.0], 2.0);
        // [0.5, 1.5): 0.5 × 2 + 0.5 × 4 = 3.
        assert!((c.integral(0.5, 1.5) - 3.0).abs() < 1e-12);
        // [2.5, 3.5) wraps: 0.5 × 6 + 0.5 × 2 = 4.
        assert!((c.integral(2.5, 3.5) - 4.0).abs() < 1e-12);
        // Two full laps: 2 × 12.
        assert!((c.integral(0.0, 6.0) - 24.0).abs() < 1e-12);
        assert_eq!(c.at(4.2), 4.0);
    }
}

//! The planning problem as the planner sees it: sites with hourly prices and carbon, jobs and
//! services with their needs, the network between them, and what to minimise.
//!
//! This is a value assembled at the edge from the catalog, the estimator and a scenario file;
//! the planner never reads those itself. Indices (`SiteIx`, slot numbers) replace names inside
//! the planner; names come back out in the `Plan`.

use serde::Serialize;

/// An index into `Problem::sites`.
pub type SiteIx = usize;
/// An index into `Problem::regions`.
pub type RegionIx = usize;

/// A place work can run: a hub, cluster or cloud region.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    /// Eastern demand hub (near users) or not; the "nearest eastern hub" baseline uses it.
    pub east: bool,
    /// Accelerators available, by type id, in every slot.
    pub capacity: Vec<(String, u32)>,
    /// Electricity price per slot, USD/kWh.
    pub usd_per_kwh: Vec<f64>,
    /// Grid carbon intensity per slot, kgCO2e/kWh (location-based).
    pub kg_per_kwh: Vec<f64>,
    pub pue: f64,
    /// Non-electricity cost per accelerator-hour (facility, amortised hardware or rental net of
    /// power), by accelerator type. Missing types cost 0 beyond electricity.
    pub usd_per_gpu_hour: Vec<(String, f64)>,
    /// Latitude and longitude, for "nearest" baselines.
    pub lat: f64,
    pub lon: f64,
}

impl Site {
    pub fn capacity_of(&self, acc: &str) -> u32 {
        self.capacity.iter().find(|(a, _)| a == acc).map(|c| c.1).unwrap_or(0)
    }
    pub fn gpu_hour_usd(&self, acc: &str) -> f64 {
        self.usd_per_gpu_hour.iter().find(|(a, _)| a == acc).map(|c| c.1).unwrap_or(0.0)
    }
}

/// An accelerator type a job can use, and how fast it runs there relative to the reference.
#[derive(Debug, Clone, Serialize)]
pub struct AcceleratorOption {
    pub accelerator: String,
    /// Throughput relative to the job's reference accelerator (1.0 = same speed).
    pub speed: f64,
    /// Average power per accelerator including host share, kW (before PUE).
    pub kw_per_gpu: f64,
}

/// A training or fine-tuning job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: String,
    pub gpus: u32,
    /// Hours of work on the reference accelerator (the first option).
    pub hours: f64,
    pub accelerators: Vec<AcceleratorOption>,
    /// Where the input data is, and how much of it must move to run elsewhere.
    pub data_site: SiteIx,
    pub data_bytes: f64,
    /// First slot the job may start (data transfer may begin then too).
    pub earliest: u32,
    /// Slot by which the job must have finished (exclusive end).
    pub deadline: u32,
    /// Can be checkpointed and paused (run in non-contiguous slots at one site).
    pub pausable: bool,
    /// Sites allowed by data-residency rules; `None` allows all.
    pub allowed_sites: Option<Vec<SiteIx>>,
}

/// A user population whose requests an inference service must answer.
#[derive(Debug, Clone, Serialize)]
pub struct Region {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// An inference service with hourly demand from user regions and a latency objective.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub id: String,
    pub accelerator: String,
    pub gpus_per_replica: u32,
    /// Requests per second one replica sustains at the latency target.
    pub replica_rps: f64,
    pub kw_per_gpu: f64,
    /// Round-trip network latency the user may see at most, in ms.
    pub slo_ms: f64,
    /// Requests per second by region and slot: `demand[region][slot]`.
    pub demand: Vec<Vec<f64>>,
    pub allowed_sites: Option<Vec<SiteIx>>,
}

/// A network path between two sites.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Link {
    /// Usable bandwidth for bulk transfers, Gbit/s.
    pub gbps: f64,
    /// Share of the bandwidth a bulk transfer achieves (protocol and contention).
    pub efficiency: f64,
    /// Price per GB moved, USD.
    pub usd_per_gb: f64,
}

impl Link {
    /// Hours to move `bytes` over this link.
    pub fn hours(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            return 0.0;
        }
        bytes * 8.0 / (self.gbps * 1e9 * self.efficiency) / 3600.0
    }
    pub fn usd(&self, bytes: f64) -> f64 {
        bytes / 1e9 * self.usd_per_gb
    }
}

/// What the planner minimises: weighted cost, carbon priced in USD per tonne, and delay.
#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub cost_weight: f64,
    /// Carbon price, USD per tonne CO2e, applied with `carbon_weight`.
    pub carbon_usd_per_t: f64,
    pub carbon_weight: f64,
    /// USD per hour a job finishes later than it could have (completion-time weight).
    pub delay_usd_per_hour: f64,
    /// Optional cap on total emissions, tonnes CO2e.
    pub carbon_cap_t: Option<f64>,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            cost_weight: 1.0,
            carbon_usd_per_t: 0.0,
            carbon_weight: 1.0,
            delay_usd_per_hour: 0.0,
            carbon_cap_t: None,
        }
    }
}

impl Objective {
    /// The score of spending `usd`, emitting `kg` and finishing `delay_h` late.
    pub fn score(&self, usd: f64, kg: f64, delay_h: f64) -> f64 {
        self.cost_weight * usd + self.carbon_weight * self.carbon_usd_per_t * kg / 1000.0 + self.delay_usd_per_hour * delay_h
    }
}

/// Everything the planner needs, with no reference to files, clocks or names it must look up.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Number of hourly slots planned.
    pub slots: u32,
    /// UTC hour (hours since 1970-01-01) of slot 0, for reporting only.
    pub start_hour: i64,
    pub sites: Vec<Site>,
    pub jobs: Vec<Job>,
    pub services: Vec<Service>,
    pub regions: Vec<Region>,
    /// `links[from][to]`; the diagonal is unused (no transfer within a site).
    pub links: Vec<Vec<Link>>,
    /// Round-trip latency from each region to each site, ms: `latency_ms[region][site]`.
    pub latency_ms: Vec<Vec<f64>>,
    pub objective: Objective,
}

/// A problem that does not hold together (wrong lengths, indices out of range).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct ProblemError {
    pub what: String,
    pub message: String,
}

impl Problem {
    /// Checks shapes and ranges; the planner may index freely afterwards.
    pub fn validate(&self) -> Result<(), ProblemError> {
        let err = |what: String, message: String| Err(ProblemError { what, message });
        let n = self.sites.len();
        let t = self.slots as usize;
        if n == 0 {
            return err("sites".into(), "no sites".into());
        }
        for s in &self.sites {
            if s.usd_per_kwh.len() != t || s.kg_per_kwh.len() != t {
                return err(format!("site {}", s.id), format!("series must have {t} hourly values"));
            }
            if !(s.pue >= 1.0) {
                return err(format!("site {}", s.id), format!("PUE {} below 1", s.pue));
            }
        }
        if self.links.len() != n || self.links.iter().any(|r| r.len() != n) {
            return err("links".into(), format!("must be a {n} x {n} matrix"));
        }
        if self.latency_ms.len() != self.regions.len() || self.latency_ms.iter().any(|r| r.len() != n) {
            return err("latency".into(), "must be regions x sites".into());
        }
        for j in &self.jobs {
            let w = format!("job {}", j.id);
            if j.data_site >= n {
                return err(w, "data site out of range".into());
            }
            if j.accelerators.is_empty() {
                return err(w, "no accelerator type".into());
            }
            if j.gpus == 0 || !(j.hours > 0.0) {
                return err(w, "needs at least one accelerator and a positive duration".into());
            }
            if j.accelerators.iter().any(|a| !(a.speed > 0.0) || !(a.kw_per_gpu >= 0.0)) {
                return err(w, "accelerator speed must be positive and power non-negative".into());
            }
            if let Some(a) = &j.allowed_sites {
                if a.iter().any(|&s| s >= n) {
                    return err(w, "allowed site out of range".into());
                }
            }
        }
        for v in &self.services {
            let w = format!("service {}", v.id);
            if v.demand.len() != self.regions.len() || v.demand.iter().any(|d| d.len() != t) {
                return err(w, "demand must be regions x slots".into());
            }
            if !(v.replica_rps > 0.0) || v.gpus_per_replica == 0 {
                return err(w, "replica capacity and size must be positive".into());
            }
        }
        Ok(())
    }
}

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

impl Job {
    /// Whether running at site `s` moves the job's data there (it is neither the data's site
    /// nor one that holds a copy, and there is data).
    pub fn moves_data_to(&self, s: SiteIx) -> bool {
        s != self.data_site && self.data_bytes > 0.0 && !self.data_at.contains(&s)
    }
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
    /// Other sites that already hold a complete copy of the data (an earlier attempt's
    /// verified transfer): nothing moves to run there.
    pub data_at: Vec<SiteIx>,
    /// First slot the job may start (data transfer may begin then too).
    pub earliest: u32,
    /// Slot by which the job must have finished (exclusive end).
    pub deadline: u32,
    /// Can be checkpointed and paused (run in non-contiguous slots at one site).
    pub pausable: bool,
    /// Sites allowed by data-residency rules; `None` allows all.
    pub allowed_sites: Option<Vec<SiteIx>>,
    /// Where and when (site, start slot) an earlier planning round put this job: any other
    /// choice pays `Objective::churn_usd`, so that re-planning does not move work for nothing.
    pub previous: Option<(SiteIx, u32)>,
}

/// A user population whose requests an inference service must answer.
#[derive(Debug, Clone, Serialize)]
pub struct Region {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
}

/// Daily demand curve: share of the peak by local hour. Consumer traffic peaks in the evening
/// and bottoms out before dawn; the curve is a cosine with its peak at 21:00 and a trough of 30%
/// of the peak at 09:00 (an assumption to replace with measured demand where you have it).
pub fn diurnal(local_hour: f64) -> f64 {
    0.65 + 0.35 * ((local_hour - 21.0) / 24.0 * std::f64::consts::TAU).cos()
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

/// What the planner minimises: weighted cost, carbon priced in USD per tonne, delay, and a
/// penalty for work left undone. Every plan, baseline and bound is on this one scale.
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
    /// USD per accelerator-hour of work the plan leaves undone: a job not placed pays it for
    /// its accelerators × reference hours; demand not served pays it for the replica-hours it
    /// would need. The default, `DEFAULT_UNPLACED_USD_PER_GPU_HOUR`, is ten times the dearest
    /// on-demand accelerator-hour in the catalog, so that a plan drops work only when it cannot
    /// be placed; a lower value lets the planner drop work that costs more than it is worth.
    pub unplaced_usd_per_gpu_hour: f64,
    /// USD charged for moving a job away from its `previous` placement (rolling re-planning).
    pub churn_usd: f64,
}

/// Ten times the dearest on-demand accelerator-hour in the hardware catalog (B200, 5 USD/h
/// from Lambda's list price).
pub const DEFAULT_UNPLACED_USD_PER_GPU_HOUR: f64 = 50.0;

impl Default for Objective {
    fn default() -> Self {
        Objective {
            cost_weight: 1.0,
            carbon_usd_per_t: 0.0,
            carbon_weight: 1.0,
            delay_usd_per_hour: 0.0,
            carbon_cap_t: None,
            unplaced_usd_per_gpu_hour: DEFAULT_UNPLACED_USD_PER_GPU_HOUR,
            churn_usd: 0.0,
        }
    }
}

impl Objective {
    /// The score of spending `usd`, emitting `kg` and finishing `delay_h` late.
    pub fn score(&self, usd: f64, kg: f64, delay_h: f64) -> f64 {
        self.cost_weight * usd + self.carbon_weight * self.carbon_usd_per_t * kg / 1000.0 + self.delay_usd_per_hour * delay_h
    }
    /// The penalty of leaving job `j` unplaced.
    pub fn job_penalty(&self, j: &Job) -> f64 {
        self.unplaced_usd_per_gpu_hour * j.gpus as f64 * j.hours
    }
    /// The penalty of one replica-hour of service `v` left unrun: its accelerators at
    /// `unplaced_usd_per_gpu_hour`.
    pub fn replica_penalty(&self, v: &Service) -> f64 {
        self.unplaced_usd_per_gpu_hour * v.gpus_per_replica as f64
    }
    /// The penalty of leaving `rps` requests per second of one region unserved for one slot:
    /// the replica-hours it would need, in whole replicas (a sliver of demand needs a replica
    /// as much as a full one does).
    pub fn unmet_penalty(&self, v: &Service, rps: f64) -> f64 {
        if rps <= 1e-9 {
            0.0
        } else {
            self.replica_penalty(v) * (rps / v.replica_rps - 1e-9).ceil().max(1.0)
        }
    }
    /// A linear lower bound on `unmet_penalty`, per request per second (for relaxations).
    pub fn unmet_penalty_per_rps_hour(&self, v: &Service) -> f64 {
        self.replica_penalty(v) / v.replica_rps
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

/// Where in a `Problem` a value is wrong, so that the edge can point at the line of the file
/// (or the JSON field) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    Problem(&'static str),
    Objective(&'static str),
    Site(usize, &'static str),
    Job(usize, &'static str),
    Service(usize, &'static str),
    Region(usize, &'static str),
    Link(usize, usize, &'static str),
}

/// A problem that does not hold together: a value that is not finite, out of its range, an id
/// used twice, or a reference that does not resolve. `what` names the field for people
/// (`job pretrain-003: hours`); `at` locates it for the edge.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {message}")]
pub struct ProblemError {
    pub at: At,
    pub what: String,
    pub message: String,
}

impl Problem {
    /// Checks every value the planner computes with: shapes, ranges, finiteness, unique ids and
    /// references. Every entry point (scenario files, flags, the simulator's world, the API)
    /// builds a `Problem` and calls this once; the planner may then index and multiply freely
    /// (every product of hours, accelerators and slots fits its integer type).
    pub fn validate(&self) -> Result<(), ProblemError> {
        self.validate_world(xisuan_model::limits::MAX_HOURS)?;
        self.validate_work()
    }

    /// Checks the world alone (horizon, objective, sites, links, regions), for a horizon of up
    /// to `max_slots` hours: the simulator's world runs past the planning horizon's cap.
    pub fn validate_world(&self, max_slots: u32) -> Result<(), ProblemError> {
        use xisuan_model::limits::*;
        let fail = |at: At, what: String, message: String| Err(ProblemError { at, what, message });
        let n = self.sites.len();
        let t = self.slots as usize;
        if self.slots == 0 || self.slots > max_slots {
            return fail(At::Problem("slots"), "horizon".into(), format!("must be 1 to {max_slots} hourly slots, got {}", self.slots));
        }
        if n == 0 {
            return fail(At::Problem("sites"), "sites".into(), "no sites".into());
        }
        for (what, len, max) in [
            ("sites", n, MAX_SITES),
            ("jobs", self.jobs.len(), MAX_JOBS),
            ("services", self.services.len(), MAX_SERVICES),
            ("regions", self.regions.len(), MAX_REGIONS),
        ] {
            if len > max {
                return fail(At::Problem(what), what.into(), format!("{len} given; at most {max}"));
            }
        }
        let o = &self.objective;
        for (field, v, hi) in [
            ("cost_weight", o.cost_weight, 1e6),
            ("carbon_usd_per_t", o.carbon_usd_per_t, MAX_CARBON_USD_PER_T),
            ("carbon_weight", o.carbon_weight, 1e6),
            ("delay_usd_per_hour", o.delay_usd_per_hour, MAX_USD_RATE),
        ] {
            if let Err(m) = in_range(v, 0.0, hi) {
                return fail(At::Objective(field), format!("objective.{field}"), m);
            }
        }
        if let Err(m) = in_range(o.churn_usd, 0.0, MAX_USD_RATE) {
            return fail(At::Objective("churn_usd"), "objective.churn_usd".into(), m);
        }
        if let Err(m) = in_range(o.unplaced_usd_per_gpu_hour, 0.0, MAX_USD_RATE) {
            return fail(At::Objective("unplaced_usd_per_gpu_hour"), "objective.unplaced_usd_per_gpu_hour".into(), m);
        }
        if o.cost_weight == 0.0 && o.carbon_weight * o.carbon_usd_per_t == 0.0 && o.delay_usd_per_hour == 0.0 {
            return fail(
                At::Objective("cost_weight"),
                "objective".into(),
                "weighs nothing: give a positive cost_weight, carbon price (with carbon_weight) or delay_usd_per_hour".into(),
            );
        }
        if let Some(cap) = o.carbon_cap_t {
            if let Err(m) = in_range(cap, 0.0, 1e12) {
                return fail(At::Objective("carbon_cap_t"), "objective.carbon_cap_t".into(), m);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, s) in self.sites.iter().enumerate() {
            let w = |f: &str| format!("site {}: {f}", s.id);
            let check = |field: &'static str, r: Result<f64, String>| r.map(|_| ()).or_else(|m| fail(At::Site(i, field), w(field), m));
            if let Err(m) = id(&s.id) {
                return fail(At::Site(i, "id"), format!("sites[{i}].id"), m);
            }
            if !seen.insert(s.id.as_str()) {
                return fail(At::Site(i, "id"), w("id"), "appears twice".into());
            }
            if s.usd_per_kwh.len() != t || s.kg_per_kwh.len() != t {
                return fail(At::Site(i, "series"), w("series"), format!("must have {t} hourly values"));
            }
            check("pue", in_range(s.pue, 1.0, MAX_PUE))?;
            check("lat", in_range(s.lat, -90.0, 90.0))?;
            check("lon", in_range(s.lon, -180.0, 180.0))?;
            for &v in &s.usd_per_kwh {
                check("usd_per_kwh", in_range(v, 0.0, MAX_USD_PER_KWH))?;
            }
            for &v in &s.kg_per_kwh {
                check("kg_per_kwh", in_range(v, 0.0, MAX_KG_PER_KWH))?;
            }
            let mut types = std::collections::HashSet::new();
            for (a, c) in &s.capacity {
                if !types.insert(a.as_str()) {
                    return fail(At::Site(i, "capacity"), w("capacity"), format!("accelerator type {a} listed twice"));
                }
                if let Err(m) = count(*c as u64, 0, MAX_SITE_ACCELERATORS as u64) {
                    return fail(At::Site(i, "capacity"), w(&format!("capacity of {a}")), m);
                }
            }
            for (_, v) in &s.usd_per_gpu_hour {
                check("usd_per_gpu_hour", in_range(*v, 0.0, MAX_USD_PER_ACCELERATOR_HOUR))?;
            }
        }
        if self.links.len() != n || self.links.iter().any(|r| r.len() != n) {
            return fail(At::Problem("links"), "links".into(), format!("must be a {n} x {n} matrix"));
        }
        for (a, row) in self.links.iter().enumerate() {
            for (b, l) in row.iter().enumerate() {
                if a == b {
                    continue;
                }
                let what = |f: &str| format!("link {} -> {}: {f}", self.sites[a].id, self.sites[b].id);
                for (field, r) in [
                    // A kilobit per second at 1% efficiency still gives finite transfer hours.
                    ("gbps", in_range(l.gbps, 1e-6, MAX_GBPS)),
                    ("efficiency", in_range(l.efficiency, 0.01, 1.0)),
                    ("usd_per_gb", in_range(l.usd_per_gb, 0.0, MAX_USD_RATE)),
                ] {
                    if let Err(m) = r {
                        return fail(At::Link(a, b, field), what(field), m);
                    }
                }
            }
        }
        let mut names = std::collections::HashSet::new();
        for (g, r) in self.regions.iter().enumerate() {
            if let Err(m) = id(&r.name) {
                return fail(At::Region(g, "name"), format!("regions[{g}].name"), m);
            }
            if !names.insert(r.name.as_str()) {
                return fail(At::Region(g, "name"), format!("region {}", r.name), "appears twice".into());
            }
        }
        if self.latency_ms.len() != self.regions.len() || self.latency_ms.iter().any(|r| r.len() != n) {
            return fail(At::Problem("latency_ms"), "latency".into(), "must be regions x sites".into());
        }
        for (g, row) in self.latency_ms.iter().enumerate() {
            for &ms in row {
                if let Err(m) = in_range(ms, 0.0, MAX_LATENCY_MS) {
                    return fail(At::Region(g, "latency_ms"), format!("region {}: latency", self.regions[g].name), m);
                }
            }
        }
        Ok(())
    }

    /// Checks the jobs and services against the world (call `validate_world` first).
    pub fn validate_work(&self) -> Result<(), ProblemError> {
        use xisuan_model::limits::*;
        let fail = |at: At, what: String, message: String| Err(ProblemError { at, what, message });
        let n = self.sites.len();
        let t = self.slots as usize;
        let mut ids = std::collections::HashSet::new();
        for (i, j) in self.jobs.iter().enumerate() {
            let w = |f: &str| format!("job {}: {f}", j.id);
            let at = |f: &'static str| At::Job(i, f);
            if let Err(m) = id(&j.id) {
                return fail(at("id"), format!("jobs[{i}].id"), m);
            }
            if !ids.insert(j.id.as_str()) {
                return fail(at("id"), w("id"), "appears twice".into());
            }
            if let Err(m) = count(j.gpus as u64, 1, MAX_JOB_ACCELERATORS as u64) {
                return fail(at("gpus"), w("gpus"), m);
            }
            if let Err(m) = positive(j.hours, MAX_HOURS as f64) {
                return fail(at("hours"), w("hours"), m);
            }
            if j.accelerators.is_empty() {
                return fail(at("accelerators"), w("accelerators"), "needs at least one accelerator type".into());
            }
            let mut types = std::collections::HashSet::new();
            for a in &j.accelerators {
                if !types.insert(a.accelerator.as_str()) {
                    return fail(at("accelerators"), w("accelerators"), format!("{} listed twice", a.accelerator));
                }
                // Slower than 1/1000 of the reference would make a job of MAX_HOURS run for
                // longer than any horizon can hold.
                if let Err(m) = in_range(a.speed, 1e-3, 1e3) {
                    return fail(at("accelerators"), w(&format!("speed of {}", a.accelerator)), m);
                }
                if let Err(m) = in_range(a.kw_per_gpu, 0.0, MAX_KW_PER_ACCELERATOR) {
                    return fail(at("accelerators"), w(&format!("kW per accelerator of {}", a.accelerator)), m);
                }
            }
            if let Some(&bad) = j.data_at.iter().find(|&&s| s >= n) {
                return fail(at("data_at"), w("data_at"), format!("site index {bad} out of range"));
            }
            if j.data_site >= n {
                return fail(at("data_site"), w("data_site"), format!("site index {} out of range", j.data_site));
            }
            if let Err(m) = in_range(j.data_bytes, 0.0, MAX_BYTES) {
                return fail(at("data_bytes"), w("data size (bytes)"), m);
            }
            if j.earliest >= self.slots {
                return fail(at("earliest"), w("earliest start"), format!("slot {} is not within the {}-slot horizon", j.earliest, self.slots));
            }
            if j.deadline <= j.earliest {
                return fail(at("deadline"), w("deadline"), format!("slot {} is not after the earliest start {}", j.deadline, j.earliest));
            }
            if let Some(a) = &j.allowed_sites {
                if let Some(&s) = a.iter().find(|&&s| s >= n) {
                    return fail(at("allowed_sites"), w("allowed sites"), format!("site index {s} out of range"));
                }
            }
            if let Some((s, _)) = j.previous {
                if s >= n {
                    return fail(at("previous"), w("previous site"), format!("site index {s} out of range"));
                }
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, v) in self.services.iter().enumerate() {
            let w = |f: &str| format!("service {}: {f}", v.id);
            let at = |f: &'static str| At::Service(i, f);
            if let Err(m) = id(&v.id) {
                return fail(at("id"), format!("services[{i}].id"), m);
            }
            if !ids.insert(v.id.as_str()) {
                return fail(at("id"), w("id"), "appears twice".into());
            }
            if let Err(m) = count(v.gpus_per_replica as u64, 1, MAX_JOB_ACCELERATORS as u64) {
                return fail(at("gpus_per_replica"), w("gpus_per_replica"), m);
            }
            for (field, r) in [
                ("replica_rps", positive(v.replica_rps, MAX_RPS)),
                ("kw_per_gpu", in_range(v.kw_per_gpu, 0.0, MAX_KW_PER_ACCELERATOR)),
                ("slo_ms", positive(v.slo_ms, MAX_LATENCY_MS)),
            ] {
                if let Err(m) = r {
                    return fail(at(field), w(field), m);
                }
            }
            if v.demand.len() != self.regions.len() || v.demand.iter().any(|d| d.len() != t) {
                return fail(at("demand"), w("demand"), "must be regions x slots".into());
            }
            for (g, row) in v.demand.iter().enumerate() {
                for &x in row {
                    if let Err(m) = in_range(x, 0.0, MAX_RPS) {
                        return fail(at("demand"), w(&format!("demand from {} (requests/s)", self.regions[g].name)), m);
                    }
                }
            }
            if let Some(a) = &v.allowed_sites {
                if let Some(&s) = a.iter().find(|&&s| s >= n) {
                    return fail(at("allowed_sites"), w("allowed sites"), format!("site index {s} out of range"));
                }
            }
        }
        Ok(())
    }
}

//! Scenario files: the TOML a user writes to ask for a plan, and its translation into the
//! planner's `Problem`.
//!
//! A scenario names a time window, the sites (from the catalog, with hourly series where
//! files are given), time-of-use tariffs, training jobs (listed, or drawn from a seeded
//! template), inference services with demand by city, and the objective. Job durations can be
//! given in hours or estimated from parameters and tokens by the estimator; accelerator power
//! and speed come from the estimator's hardware catalog. See `examples/` and
//! `docs/scenario.md` for the format. Errors name the file, the line and the field.
//!
//! Paths in a scenario are relative to the scenario file; a path starting with `@data/` is
//! relative to the shared data folder (`../shared/data` or `$XISUAN_DATA_DIR`).

use crate::shared_data_dir;
use crate::world::{Basis, Tou, WorldSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;
use xisuan_catalog::series::{format_hour, parse_timestamp};
use xisuan_catalog::{Catalog, SeriesKind};
use xisuan_estimate::{estimate_train, find_accelerator, TrainInput};
use xisuan_model::Diagnostic;
use xisuan_plan::synth::Rng;
use xisuan_plan::{AcceleratorOption, Job, Link, Objective, Problem, Region, Service, Site};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    scenario: Header,
    #[serde(default)]
    catalog: CatalogRef,
    objective: Option<Spanned<ObjectiveEntry>>,
    #[serde(default)]
    costs: CostsEntry,
    #[serde(default)]
    accelerators: BTreeMap<String, Spanned<AccEntry>>,
    #[serde(default)]
    time_of_use: Vec<Spanned<TouEntry>>,
    #[serde(default)]
    jobs: Vec<Spanned<JobEntry>>,
    #[serde(default)]
    job_batches: Vec<Spanned<BatchEntry>>,
    #[serde(default)]
    services: Vec<Spanned<ServiceEntry>>,
    market: Option<Spanned<MarketEntry>>,
}

/// The compute market (`xisuan_plan::market`): each site's own capacity is reserved (its fee
/// paid whether used or not); pools bought by the hour beside it; how spot capacity behaves.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarketEntry {
    /// The reserved capacity's fee per accelerator-hour, paid for every hour whether used or
    /// not (reported as a fixed cost; the planner treats an hour of it as free beyond power).
    reserved_usd_per_gpu_hour: f64,
    #[serde(default)]
    pools: Vec<PoolEntry>,
    /// Per accelerator type: how its spot capacity is interrupted.
    #[serde(default)]
    spot: BTreeMap<String, SpotEntry>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolEntry {
    site: String,
    accelerator: String,
    /// "on-demand" or "spot".
    tier: String,
    count: u32,
    usd_per_gpu_hour: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpotEntry {
    interruptions_per_hour: f64,
    /// Hours of work each restart costs (restore the checkpoint, re-acquire the nodes).
    restart_h: f64,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    name: String,
    #[serde(default)]
    description: String,
    /// First hour planned, UTC (e.g. "2023-07-03T00:00:00Z").
    start: Spanned<String>,
    hours: Spanned<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CatalogRef {
    overlay: Option<String>,
    #[serde(default)]
    carbon_series: Vec<String>,
    #[serde(default)]
    price_series: Vec<String>,
    /// Site ids to plan over (all sites with capacity if empty).
    #[serde(default)]
    sites: Vec<Spanned<String>>,
    /// Cities whose users services answer (default: those named by services).
    #[serde(default)]
    regions: Vec<Spanned<String>>,
}

/// The objective's keys, each with its span so that an error names its line. Missing keys take
/// the defaults in `objective()`.
#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct ObjectiveEntry {
    cost_weight: Option<Spanned<f64>>,
    carbon_usd_per_t: Option<Spanned<f64>>,
    carbon_weight: Option<Spanned<f64>>,
    delay_usd_per_hour: Option<Spanned<f64>>,
    carbon_cap_t: Option<Spanned<f64>>,
    /// USD per accelerator-hour of work left undone (unplaced jobs, unmet demand).
    unplaced_usd_per_gpu_hour: Option<Spanned<f64>>,
}

impl ObjectiveEntry {
    fn objective(&self) -> Objective {
        let v = |x: &Option<Spanned<f64>>, d: f64| x.as_ref().map(|s| *s.get_ref()).unwrap_or(d);
        Objective {
            cost_weight: v(&self.cost_weight, 1.0),
            carbon_usd_per_t: v(&self.carbon_usd_per_t, 0.0),
            carbon_weight: v(&self.carbon_weight, 1.0),
            delay_usd_per_hour: v(&self.delay_usd_per_hour, 0.0),
            carbon_cap_t: self.carbon_cap_t.as_ref().map(|s| *s.get_ref()),
            unplaced_usd_per_gpu_hour: v(&self.unplaced_usd_per_gpu_hour, xisuan_plan::DEFAULT_UNPLACED_USD_PER_GPU_HOUR),
            churn_usd: 0.0,
        }
    }
    /// The span of a key, if it was given.
    fn span_of(&self, key: &str) -> Option<std::ops::Range<usize>> {
        let f = match key {
            "cost_weight" => &self.cost_weight,
            "carbon_usd_per_t" => &self.carbon_usd_per_t,
            "carbon_weight" => &self.carbon_weight,
            "delay_usd_per_hour" => &self.delay_usd_per_hour,
            "carbon_cap_t" => &self.carbon_cap_t,
            "unplaced_usd_per_gpu_hour" => &self.unplaced_usd_per_gpu_hour,
            _ => &None,
        };
        f.as_ref().map(|s| s.span())
    }
}

/// How accelerator time is paid for.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CostsEntry {
    /// "owned" (default): electricity at the site's price plus the hardware's purchase price
    /// over four years; "rental": the site's on-demand price per accelerator-hour, which
    /// includes electricity (energy and carbon are still counted).
    basis: Option<Spanned<String>>,
}

/// Per accelerator type: power and non-electricity cost, overriding the estimator's defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccEntry {
    kw_per_gpu: Option<f64>,
    usd_per_gpu_hour: Option<f64>,
    source: Option<String>,
}

/// A time-of-use tariff: price multipliers by local hour for some sites.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TouEntry {
    sites: Vec<String>,
    utc_offset_hours: i32,
    /// 24 multipliers of the site's annual price, local hours 0..23.
    factors: Vec<f64>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobEntry {
    id: String,
    /// Accelerator types the job can use, the first being the reference for `hours`.
    accelerators: Vec<String>,
    gpus: Spanned<u32>,
    hours: Option<Spanned<f64>>,
    /// Or: estimate hours from parameters and tokens (estimator defaults for MFU).
    params: Option<f64>,
    tokens: Option<f64>,
    data_site: String,
    data_tb: Option<Spanned<f64>>,
    earliest_hour: Option<Spanned<u32>>,
    deadline_hour: Option<Spanned<u32>>,
    #[serde(default)]
    pausable: bool,
    /// Data residency: the job may run only at these sites, or in these countries.
    sites: Option<Vec<String>>,
    countries: Option<Vec<String>>,
    /// Hours between checkpoints (what an interruption on spot capacity loses; default 1).
    checkpoint_every_h: Option<f64>,
}

/// Many jobs drawn from ranges with a seed, so that examples stay short and reproducible.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchEntry {
    count: u32,
    seed: u64,
    id_prefix: String,
    accelerators: Vec<String>,
    /// Sizes to draw from, in accelerators.
    gpus: Vec<u32>,
    /// Hours on the reference accelerator, [low, high].
    hours: [f64; 2],
    data_sites: Vec<String>,
    data_tb: [f64; 2],
    earliest_hour: [u32; 2],
    /// Deadline = earliest + hours × slack, slack drawn from [low, high].
    slack: [f64; 2],
    #[serde(default)]
    pausable_share: f64,
    countries: Option<Vec<String>>,
    /// Hours between checkpoints of every job of the batch (default 1).
    checkpoint_every_h: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    id: String,
    accelerator: String,
    gpus_per_replica: u32,
    replica_rps: f64,
    slo_ms: f64,
    /// Peak requests per second by city.
    demand: Vec<DemandEntry>,
    sites: Option<Vec<String>>,
    countries: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandEntry {
    city: String,
    peak_rps: f64,
    /// Local time offset from UTC for the daily curve, hours (default: the city's standard
    /// offset from the catalog).
    utc_offset_hours: Option<f64>,
}

/// A scenario turned into a problem, with what the translation had to say.
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub problem: Problem,
    pub catalog: Catalog,
    /// How the scenario's sites were built, to build them again for another window (the
    /// simulator runs past the scenario's hours).
    pub world: WorldSpec,
    pub diagnostics: Vec<Diagnostic>,
    /// The compute market, when the scenario has one (its pools are already in `problem`).
    pub market: Option<Market>,
}

/// A scenario's compute market, for reports and for replaying spot interruptions.
#[derive(Debug, Clone, Serialize)]
pub struct Market {
    pub reserved_usd_per_gpu_hour: f64,
    /// The reserved capacity's fee over the horizon (for the accelerator types the market
    /// sells), USD: paid whatever the plan.
    pub reserved_fixed_usd: f64,
    pub pools: Vec<xisuan_plan::market::Pool>,
    pub spot: Vec<xisuan_plan::market::SpotMarket>,
    /// Per job of the problem, hours between checkpoints.
    pub checkpoint_h: Vec<f64>,
    pub source: String,
}

/// Checkpoint interval when a job does not give one, hours.
pub const DEFAULT_CHECKPOINT_H: f64 = 1.0;

/// An error in a scenario file, naming the file, line and field.
#[derive(Debug)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ScenarioError {}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The daily demand curve (defined with the planner's types, so the control plane uses the
/// same one).
pub use xisuan_plan::diurnal;

/// Reads the files a scenario names (its overlay and series). `from_text_with` takes one so
/// that tests and the fuzzer can serve files from memory.
pub trait Files {
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// The file system.
pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

struct Loader<'a> {
    text: &'a str,
    origin: String,
    dir: PathBuf,
}

impl Loader<'_> {
    fn err(&self, span: std::ops::Range<usize>, field: &str, msg: impl std::fmt::Display) -> ScenarioError {
        ScenarioError(format!("{}:{}: {field}: {msg}", self.origin, line_of(self.text, span.start)))
    }
    fn path(&self, p: &str) -> PathBuf {
        if let Some(rest) = p.strip_prefix("@data/") {
            shared_data_dir().map(|d| d.join(rest)).unwrap_or_else(|| PathBuf::from(p))
        } else {
            self.dir.join(p)
        }
    }
}

/// Where each job and service of the problem came from in the file, so that an error the
/// core finds (`Problem::validate`) points at the right line.
struct Origins {
    jobs: Vec<JobOrigin>,
    services: Vec<std::ops::Range<usize>>,
    objective: Option<(std::ops::Range<usize>, ObjectiveEntry)>,
}

/// A job's table in the file, its label, and the spans of the keys it gave (by `Problem` field).
struct JobOrigin {
    entry: std::ops::Range<usize>,
    label: String,
    keys: Vec<(&'static str, std::ops::Range<usize>)>,
}

/// The scenario key of a `Problem` field, for messages.
fn job_key(field: &str) -> &str {
    match field {
        "data_bytes" => "data_tb",
        "earliest" => "earliest_hour",
        "deadline" => "deadline_hour",
        "allowed_sites" => "sites",
        other => other,
    }
}

fn locate(l: &Loader, o: &Origins, e: &xisuan_plan::ProblemError) -> ScenarioError {
    use xisuan_plan::At;
    match &e.at {
        At::Job(i, f) => match o.jobs.get(*i) {
            Some(jo) => {
                let span = jo.keys.iter().find(|k| k.0 == *f).map(|k| k.1.clone()).unwrap_or(jo.entry.clone());
                l.err(span, &format!("{}.{}", jo.label, job_key(f)), &e.message)
            }
            None => ScenarioError(format!("{}: {e}", l.origin)),
        },
        At::Service(i, f) => match o.services.get(*i) {
            Some(span) => l.err(span.clone(), &format!("services[{i}].{f}"), e),
            None => ScenarioError(format!("{}: {e}", l.origin)),
        },
        At::Objective(f) => match &o.objective {
            Some((span, entry)) => l.err(entry.span_of(f).unwrap_or(span.clone()), &format!("objective.{f}"), &e.message),
            None => ScenarioError(format!("{}: {e}", l.origin)),
        },
        _ => ScenarioError(format!("{}: {e}", l.origin)),
    }
}

/// Reads and translates a scenario file.
pub fn load(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError(format!("{}: cannot read: {e}", path.display())))?;
    let origin = path.display().to_string();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    from_text(&text, &origin, &dir)
}

/// Translates scenario text; `dir` resolves relative paths.
pub fn from_text(text: &str, origin: &str, dir: &Path) -> anyhow::Result<Scenario> {
    from_text_with(text, origin, dir, &Disk)
}

/// Translates scenario text, reading the files it names through `files`.
pub fn from_text_with(text: &str, origin: &str, dir: &Path, files: &dyn Files) -> anyhow::Result<Scenario> {
    use xisuan_model::limits::{self, MAX_HOURS};
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        ScenarioError(format!("{origin}:{line}: {}", e.message()))
    })?;
    let l = Loader { text, origin: origin.to_string(), dir: dir.to_path_buf() };
    let mut diagnostics = Vec::new();

    // The world: catalog, overlay, series.
    let read = |what: &str, p: &Path| files.read(p).map_err(|e| ScenarioError(format!("{origin}: {what}: cannot read {}: {e}", p.display())));
    let mut catalog = Catalog::builtin();
    if let Some(o) = &file.catalog.overlay {
        let p = l.path(o);
        let t = read("catalog.overlay", &p)?;
        catalog.merge_toml(&t, &p.display().to_string())?;
    }
    for (list, kind, what) in [
        (&file.catalog.carbon_series, SeriesKind::Carbon, "catalog.carbon_series"),
        (&file.catalog.price_series, SeriesKind::Price, "catalog.price_series"),
    ] {
        for spec in list {
            let (zone, path) = crate::split_zone_with(Path::new(spec), |p| files.read(p).is_ok());
            let path = l.path(&path.to_string_lossy());
            let t = read(what, &path)?;
            let hint = zone.or_else(|| xisuan_catalog::series::zone_hint_from_file_name(&path.to_string_lossy()));
            catalog.add_series_text(&t, &path.display().to_string(), kind, hint.as_deref())?;
        }
    }
    diagnostics.extend(catalog.diagnostics.iter().cloned());

    let start_s = parse_timestamp(file.scenario.start.get_ref()).map_err(|e| l.err(file.scenario.start.span(), "scenario.start", e))?;
    let start_hour = start_s.div_euclid(3600);
    let slots = *file.scenario.hours.get_ref();
    if slots == 0 || slots > MAX_HOURS {
        return Err(l.err(file.scenario.hours.span(), "scenario.hours", format!("must be 1 to {MAX_HOURS} hours, got {slots}")).into());
    }

    let site_ids: Vec<String> = if file.catalog.sites.is_empty() {
        catalog.sites.iter().filter(|s| !s.capacity.is_empty()).map(|s| s.id.as_str().to_string()).collect()
    } else {
        let mut ids: Vec<String> = Vec::new();
        for (i, s) in file.catalog.sites.iter().enumerate() {
            let r = catalog.resolve(s.get_ref()).map_err(|e| l.err(s.span(), &format!("catalog.sites[{i}]"), e))?;
            let id = r.site.id.as_str().to_string();
            if ids.contains(&id) {
                return Err(l.err(s.span(), &format!("catalog.sites[{i}]"), format!("site {id} is listed twice")).into());
            }
            ids.push(id);
        }
        ids
    };

    // Accelerator power and non-electricity cost: scenario overrides, else the estimator.
    let acc_of = |name: &str, span: std::ops::Range<usize>, field: &str, l: &Loader| {
        find_accelerator(name)
            .ok_or_else(|| l.err(span, field, format!("unknown accelerator `{name}`; known: {}", xisuan_estimate::hardware::ids().join(", "))))
    };
    let mut overrides: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for (name, entry) in &file.accelerators {
        let a = acc_of(name, entry.span(), &format!("accelerators.{name}"), &l)?;
        let e = entry.get_ref();
        if let Some(k) = e.kw_per_gpu {
            limits::positive(k, limits::MAX_KW_PER_ACCELERATOR).map_err(|m| l.err(entry.span(), &format!("accelerators.{name}.kw_per_gpu"), m))?;
        }
        if let Some(u) = e.usd_per_gpu_hour {
            limits::in_range(u, 0.0, limits::MAX_USD_PER_ACCELERATOR_HOUR)
                .map_err(|m| l.err(entry.span(), &format!("accelerators.{name}.usd_per_gpu_hour"), m))?;
        }
        if overrides.insert(a.id.to_string(), (e.kw_per_gpu, e.usd_per_gpu_hour)).is_some() {
            return Err(l.err(entry.span(), &format!("accelerators.{name}"), format!("accelerator {} is given twice", a.id)).into());
        }
        if let Some(src) = &e.source {
            diagnostics.push(Diagnostic::info(format!("accelerator {}", a.id), format!("power/cost override: {src}")));
        }
    }

    let basis = match file.costs.basis.as_ref() {
        None => Basis::Owned,
        Some(b) => Basis::parse(b.get_ref()).map_err(|m| l.err(b.span(), "costs.basis", m))?,
    };
    if basis == Basis::Rental {
        diagnostics.push(Diagnostic::info(
            "costs",
            "rental basis: on-demand prices per accelerator-hour include electricity; electricity prices set to 0, energy and carbon still counted",
        ));
    }

    // Time-of-use tariffs multiply the price by local hour.
    let mut tou = Vec::new();
    for (i, t) in file.time_of_use.iter().enumerate() {
        let e = t.get_ref();
        let field = format!("time_of_use[{i}]");
        if e.factors.len() != 24 || e.factors.iter().any(|f| limits::in_range(*f, 0.0, 100.0).is_err()) {
            return Err(l.err(t.span(), &format!("{field}.factors"), "needs 24 finite multipliers in [0, 100], local hours 0..23").into());
        }
        if !(-12..=14).contains(&e.utc_offset_hours) {
            return Err(l.err(t.span(), &format!("{field}.utc_offset_hours"), format!("must be -12 to 14, got {}", e.utc_offset_hours)).into());
        }
        let mut sites = Vec::new();
        for sid in &e.sites {
            let r = catalog.resolve(sid).map_err(|m| l.err(t.span(), &format!("{field}.sites"), m))?;
            sites.push(r.site.id.as_str().to_string());
        }
        tou.push(Tou { sites, utc_offset_hours: e.utc_offset_hours, factors: e.factors.clone(), source: e.source.clone() });
    }

    let world = WorldSpec { catalog: catalog.clone(), site_ids: site_ids.clone(), basis, tou, accelerators: overrides };
    let sites: Vec<Site> = world.sites(start_hour, slots, &mut diagnostics).into_iter().map(|b| b.site).collect();
    let kw_of = |name: &str, span: std::ops::Range<usize>, field: &str| -> Result<(String, f64), ScenarioError> {
        let a = acc_of(name, span, field, &l)?;
        Ok((a.id.to_string(), world.kw_cost(a).0))
    };

    let site_ix = |name: &str, span: std::ops::Range<usize>, field: &str| -> Result<usize, ScenarioError> {
        let r = catalog.resolve(name).map_err(|e| l.err(span.clone(), field, e))?;
        sites
            .iter()
            .position(|s| s.id == r.site.id.as_str())
            .ok_or_else(|| l.err(span, field, format!("site {} is not among catalog.sites of this scenario", r.site.id.as_str())))
    };
    let residency = |sites_f: &Option<Vec<String>>,
                     countries: &Option<Vec<String>>,
                     span: std::ops::Range<usize>,
                     field: &str|
     -> Result<Option<Vec<usize>>, ScenarioError> {
        let mut allowed: Option<Vec<usize>> = None;
        if let Some(list) = sites_f {
            let mut v = Vec::new();
            for s in list {
                v.push(site_ix(s, span.clone(), &format!("{field}.sites"))?);
            }
            allowed = Some(v);
        }
        if let Some(cs) = countries {
            let by_country: Vec<usize> = site_ids
                .iter()
                .enumerate()
                .filter(|(_, id)| catalog.site(id).is_some_and(|s| cs.iter().any(|c| c.eq_ignore_ascii_case(&s.country))))
                .map(|(i, _)| i)
                .collect();
            allowed = Some(match allowed {
                Some(a) => a.into_iter().filter(|i| by_country.contains(i)).collect(),
                None => by_country,
            });
        }
        Ok(allowed)
    };
    let options = |names: &[String], span: std::ops::Range<usize>, field: &str| -> Result<Vec<AcceleratorOption>, ScenarioError> {
        let reference = acc_of(names.first().map(String::as_str).unwrap_or(""), span.clone(), &format!("{field}.accelerators"), &l)?;
        let mut out = Vec::new();
        for name in names {
            let (id, kw) = kw_of(name, span.clone(), &format!("{field}.accelerators"))?;
            let a = find_accelerator(&id).expect("kw_of resolved it");
            // Speed relative to the reference, from sustained throughput (peak × default MFU).
            let speed = (a.peak_bf16.0 * a.default_mfu.value) / (reference.peak_bf16.0 * reference.default_mfu.value);
            out.push(AcceleratorOption { accelerator: id, speed, kw_per_gpu: kw });
        }
        Ok(out)
    };

    // Jobs: listed ones, then seeded batches. Values are checked once, by `Problem::validate`
    // below; `origins` lets its errors name the line. Only what the translation itself needs
    // (ranges to draw from, estimator inputs) is checked here.
    let mut origins = Origins { jobs: Vec::new(), services: Vec::new(), objective: file.objective.as_ref().map(|o| (o.span(), o.get_ref().clone())) };
    let mut jobs = Vec::new();
    let mut checkpoint_h: Vec<f64> = Vec::new();
    let checkpoint_of = |c: Option<f64>, span: std::ops::Range<usize>, field: &str| -> Result<f64, ScenarioError> {
        let c = c.unwrap_or(DEFAULT_CHECKPOINT_H);
        limits::in_range(c, 0.01, MAX_HOURS as f64).map_err(|m| l.err(span, &format!("{field}.checkpoint_every_h"), m))?;
        Ok(c)
    };
    for (i, je) in file.jobs.iter().enumerate() {
        let j = je.get_ref();
        let field = format!("jobs[{i}]");
        if j.accelerators.is_empty() {
            return Err(l.err(je.span(), &format!("{field}.accelerators"), "needs at least one accelerator type").into());
        }
        let accelerators = options(&j.accelerators, je.span(), &field)?;
        let reference = find_accelerator(&accelerators[0].accelerator).expect("resolved");
        let hours = match (j.hours.as_ref().map(|h| *h.get_ref()), j.params, j.tokens) {
            (Some(h), None, None) => h,
            (None, Some(n), Some(d)) => {
                let e = estimate_train(&TrainInput::new(n, d, reference, *j.gpus.get_ref())).map_err(|e| l.err(je.span(), &field, e))?;
                e.wall.0
            }
            _ => return Err(l.err(je.span(), &field, "give either hours, or params and tokens").into()),
        };
        let data_site = site_ix(&j.data_site, je.span(), &format!("{field}.data_site"))?;
        let mut spans = vec![("gpus", j.gpus.span())];
        for (key, sp) in [
            ("hours", j.hours.as_ref().map(|x| x.span())),
            ("data_bytes", j.data_tb.as_ref().map(|x| x.span())),
            ("earliest", j.earliest_hour.as_ref().map(|x| x.span())),
            ("deadline", j.deadline_hour.as_ref().map(|x| x.span())),
        ] {
            if let Some(sp) = sp {
                spans.push((key, sp));
            }
        }
        origins.jobs.push(JobOrigin { entry: je.span(), label: field.clone(), keys: spans });
        checkpoint_h.push(checkpoint_of(j.checkpoint_every_h, je.span(), &field)?);
        jobs.push(Job {
            id: j.id.clone(),
            gpus: *j.gpus.get_ref(),
            hours,
            accelerators,
            data_site,
            data_bytes: j.data_tb.as_ref().map(|x| *x.get_ref()).unwrap_or(0.0) * 1e12,
            earliest: j.earliest_hour.as_ref().map(|x| *x.get_ref()).unwrap_or(0),
            deadline: j.deadline_hour.as_ref().map(|x| *x.get_ref()).unwrap_or(slots),
            pausable: j.pausable,
            allowed_sites: residency(&j.sites, &j.countries, je.span(), &field)?,
            previous: None,
            data_at: Vec::new(),
        });
    }
    for (bi, be) in file.job_batches.iter().enumerate() {
        let b = be.get_ref();
        let field = format!("job_batches[{bi}]");
        let e = |what: &str, m: String| l.err(be.span(), &format!("{field}.{what}"), m);
        if b.gpus.is_empty() || b.accelerators.is_empty() || b.data_sites.is_empty() {
            return Err(l.err(be.span(), &field, "gpus, accelerators and data_sites need at least one entry").into());
        }
        if b.count as usize > limits::MAX_JOBS {
            return Err(e("count", format!("{} jobs; at most {}", b.count, limits::MAX_JOBS)).into());
        }
        let range = |what: &str, r: [f64; 2], lo: f64, hi: f64| -> Result<(), ScenarioError> {
            for v in r {
                limits::in_range(v, lo, hi).map_err(|m| e(what, m))?;
            }
            if r[0] > r[1] {
                return Err(e(what, format!("[{}, {}] is not [low, high]", r[0], r[1])));
            }
            Ok(())
        };
        range("hours", b.hours, 0.25, MAX_HOURS as f64)?;
        range("data_tb", b.data_tb, 0.0, limits::MAX_BYTES / 1e12)?;
        range("slack", b.slack, 1.0, 1e6)?;
        range("earliest_hour", [b.earliest_hour[0] as f64, b.earliest_hour[1] as f64], 0.0, (slots - 1) as f64)?;
        limits::in_range(b.pausable_share, 0.0, 1.0).map_err(|m| e("pausable_share", m))?;
        let accelerators = options(&b.accelerators, be.span(), &field)?;
        let data_sites: Vec<usize> = b.data_sites.iter().map(|s| site_ix(s, be.span(), &format!("{field}.data_sites"))).collect::<Result<_, _>>()?;
        let allowed = residency(&None, &b.countries, be.span(), &field)?;
        let mut rng = Rng::new(b.seed);
        for k in 0..b.count {
            let id = format!("{}-{:03}", b.id_prefix, k + 1);
            let hours = (rng.range(b.hours[0], b.hours[1]) * 4.0).round() / 4.0;
            let earliest = b.earliest_hour[0] + rng.below((b.earliest_hour[1] - b.earliest_hour[0]) as u64 + 1) as u32;
            let slack = rng.range(b.slack[0], b.slack[1]);
            // Deadlines are whole slots: the job's end (earliest + hours × slack) rounded up,
            // plus one slot of margin, within the horizon. Computed in f64 so no slack wraps.
            let deadline = ((earliest as f64 + hours * slack).ceil() + 1.0).min(slots as f64) as u32;
            origins.jobs.push(JobOrigin { entry: be.span(), label: format!("{field} (job {id})"), keys: Vec::new() });
            checkpoint_h.push(checkpoint_of(b.checkpoint_every_h, be.span(), &field)?);
            jobs.push(Job {
                id,
                gpus: b.gpus[rng.below(b.gpus.len() as u64) as usize],
                hours,
                accelerators: accelerators.clone(),
                data_site: data_sites[rng.below(data_sites.len() as u64) as usize],
                data_bytes: rng.range(b.data_tb[0], b.data_tb[1]) * 1e12,
                earliest,
                deadline,
                pausable: rng.f64() < b.pausable_share,
                allowed_sites: allowed.clone(),
                previous: None,
                data_at: Vec::new(),
            });
        }
    }

    // Regions: the cities services name (and any listed), with latency to every site.
    let mut region_names: Vec<String> = Vec::new();
    for r in &file.catalog.regions {
        let c = catalog.city(r.get_ref()).ok_or_else(|| l.err(r.span(), "catalog.regions", format!("unknown city `{}`", r.get_ref())))?;
        if !region_names.contains(&c.name) {
            region_names.push(c.name.clone());
        }
    }
    for se in &file.services {
        for d in &se.get_ref().demand {
            let c = catalog.city(&d.city).ok_or_else(|| {
                l.err(se.span(), "services.demand.city", format!("unknown city `{}` (see `xisuan sites --json` user_regions)", d.city))
            })?;
            if !region_names.contains(&c.name) {
                region_names.push(c.name.clone());
            }
        }
    }
    let regions: Vec<Region> = region_names
        .iter()
        .map(|n| {
            let c = catalog.city(n).unwrap();
            Region { name: c.name.clone(), lat: c.lat, lon: c.lon }
        })
        .collect();
    let latency_ms: Vec<Vec<f64>> = region_names
        .iter()
        .map(|n| {
            let c = catalog.city(n).unwrap();
            site_ids.iter().map(|id| catalog.network.latency_from_region(c, catalog.site(id).unwrap()).value.0).collect()
        })
        .collect();

    let mut services = Vec::new();
    for (vi, se) in file.services.iter().enumerate() {
        let v = se.get_ref();
        let field = format!("services[{vi}]");
        let (acc, kw) = kw_of(&v.accelerator, se.span(), &format!("{field}.accelerator"))?;
        let mut demand = vec![vec![0.0; slots as usize]; regions.len()];
        let mut named = Vec::new();
        for d in &v.demand {
            let c = catalog.city(&d.city).unwrap();
            if named.contains(&c.name) {
                return Err(l.err(se.span(), &format!("{field}.demand"), format!("city {} is listed twice", c.name)).into());
            }
            named.push(c.name.clone());
            let g = region_names.iter().position(|n| *n == c.name).unwrap();
            if let Some(off) = d.utc_offset_hours {
                xisuan_model::limits::in_range(off, -12.0, 14.0).map_err(|m| l.err(se.span(), &format!("{field}.demand.utc_offset_hours"), m))?;
            }
            let offset = match (d.utc_offset_hours, &c.utc_offset_hours) {
                (Some(o), _) => o,
                (None, Some(o)) => o.value,
                (None, None) => {
                    // A user-defined region without a time zone: solar time, said so.
                    let o = (c.lon / 15.0).round();
                    diagnostics.push(Diagnostic::warning(
                        c.name.clone(),
                        format!("no UTC offset known; the daily demand curve uses solar time (UTC{o:+}); set utc_offset_hours"),
                    ));
                    o
                }
            };
            for (t, x) in demand[g].iter_mut().enumerate() {
                let local = ((start_hour + t as i64) as f64 + offset).rem_euclid(24.0);
                *x += d.peak_rps * diurnal(local);
            }
        }
        origins.services.push(se.span());
        services.push(Service {
            id: v.id.clone(),
            accelerator: acc,
            gpus_per_replica: v.gpus_per_replica,
            replica_rps: v.replica_rps,
            kw_per_gpu: kw,
            slo_ms: v.slo_ms,
            demand,
            allowed_sites: residency(&v.sites, &v.countries, se.span(), &field)?,
        });
    }

    let links: Vec<Vec<Link>> = world.links();
    diagnostics.push(Diagnostic::info(
        "network",
        "transfers priced per GB at the catalog's rate; a leased line (xisuan transfer --pricing leased-line) is not considered by the planner",
    ));
    let objective = file.objective.as_ref().map(|o| o.get_ref().objective()).unwrap_or_else(|| ObjectiveEntry::default().objective());
    let parsed_market = match &file.market {
        None => None,
        Some(me) => {
            use xisuan_plan::market::{Pool, SpotMarket, Tier};
            let m = me.get_ref();
            let e = |what: &str, msg: String| l.err(me.span(), &format!("market.{what}"), msg);
            limits::in_range(m.reserved_usd_per_gpu_hour, 0.0, limits::MAX_USD_PER_ACCELERATOR_HOUR)
                .map_err(|x| e("reserved_usd_per_gpu_hour", x))?;
            let mut pools = Vec::new();
            for (i, pe) in m.pools.iter().enumerate() {
                let f = format!("pools[{i}]");
                let tier = match pe.tier.as_str() {
                    "on-demand" => Tier::OnDemand,
                    "spot" => Tier::Spot,
                    other => {
                        return Err(e(
                            &format!("{f}.tier"),
                            format!("`{other}`: must be on-demand or spot (a site's own capacity is its reserved pool)"),
                        )
                        .into())
                    }
                };
                let acc = acc_of(&pe.accelerator, me.span(), &format!("market.{f}.accelerator"), &l)?.id.to_string();
                limits::in_range(pe.usd_per_gpu_hour, 0.0, limits::MAX_USD_PER_ACCELERATOR_HOUR)
                    .map_err(|x| e(&format!("{f}.usd_per_gpu_hour"), x))?;
                limits::count(pe.count as u64, 0, limits::MAX_SITE_ACCELERATORS as u64).map_err(|x| e(&format!("{f}.count"), x))?;
                let site = site_ix(&pe.site, me.span(), &format!("market.{f}.site"))?;
                pools.push(Pool { site, accelerator: acc, tier, count: pe.count, usd_per_gpu_hour: pe.usd_per_gpu_hour });
            }
            let mut spot = Vec::new();
            for (name, se) in &m.spot {
                let acc = acc_of(name, me.span(), &format!("market.spot.{name}"), &l)?.id.to_string();
                limits::in_range(se.interruptions_per_hour, 0.0, 100.0).map_err(|x| e(&format!("spot.{name}.interruptions_per_hour"), x))?;
                limits::in_range(se.restart_h, 0.0, 24.0).map_err(|x| e(&format!("spot.{name}.restart_h"), x))?;
                diagnostics.push(Diagnostic::info(
                    "market",
                    format!("{acc} spot: {} interruptions per hour, {} h per restart ({})", se.interruptions_per_hour, se.restart_h, se.source),
                ));
                spot.push(SpotMarket { accelerator: acc, interruptions_per_hour: se.interruptions_per_hour, restart_h: se.restart_h });
            }
            Some((m, pools, spot))
        }
    };
    let mut problem = Problem { slots, start_hour, sites, jobs, services, regions, links, latency_ms, objective };
    let market = match parsed_market {
        None => None,
        Some((m, pools, spot)) => {
            use xisuan_plan::market::add_pools;
            let e = |what: &str, msg: String| l.err(file.market.as_ref().expect("parsed").span(), &format!("market.{what}"), msg);
            // The fee is for the reserved capacity of the types the market sells.
            let sold = |acc: &str| pools.iter().any(|x| x.accelerator == acc) || spot.iter().any(|x| x.accelerator == acc);
            let reserved_gpus: u64 = problem.sites.iter().flat_map(|s| s.capacity.iter().filter(|c| sold(&c.0)).map(|c| c.1 as u64)).sum();
            let reserved_fixed_usd = reserved_gpus as f64 * slots as f64 * m.reserved_usd_per_gpu_hour;
            add_pools(&mut problem, &pools, &spot, &checkpoint_h, Some(0.0)).map_err(|x| e("pools", x))?;
            diagnostics.push(Diagnostic::info(
                "market",
                format!("each site's own capacity is reserved at {} USD per accelerator-hour, paid whether used or not: {:.0} USD over the horizon, not in the plan's costs; pools bought by the hour are TYPE@on-demand and TYPE@spot ({})", m.reserved_usd_per_gpu_hour, reserved_fixed_usd, m.source),
            ));
            Some(Market {
                reserved_usd_per_gpu_hour: m.reserved_usd_per_gpu_hour,
                reserved_fixed_usd,
                pools,
                spot,
                checkpoint_h: checkpoint_h.clone(),
                source: m.source.clone(),
            })
        }
    };
    problem.validate().map_err(|e| locate(&l, &origins, &e))?;
    diagnostics.push(Diagnostic::info("scenario", format!("{} hourly slots from {}", slots, format_hour(start_hour))));
    Ok(Scenario { name: file.scenario.name, description: file.scenario.description, problem, catalog, world, diagnostics, market })
}

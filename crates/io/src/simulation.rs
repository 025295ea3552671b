//! The simulator's inputs, read and checked: a trace of jobs, the world they arrive in (from a
//! scenario file, or from catalog sites and series named by flags), and the rules that fill
//! what the trace leaves out. `xisuan simulate` hands its flags here as a `SimSpec` and gets a
//! `Built` back; the run itself is `xisuan_sim::simulate`.
//!
//! Both ways of naming a world build their sites with `world::WorldSpec`, so a site gets the
//! same hourly carbon and prices as in `xisuan plan` (the one price model of
//! `xisuan_catalog::hourly`), and the world passes `Problem::validate_world` like a plan's.
//! A world in which no job can ever run (no capacity of the accelerator type, every job larger
//! than every site) is bad input, not a table of zeros.

use crate::scenario::Scenario;
use crate::trace::{self, TimeUnit, TraceFormat};
use crate::world::{Basis, BuiltSite, WorldSpec};
use crate::InputError;
use serde::Serialize;
use std::path::PathBuf;
use xisuan_catalog::series::{format_hour, parse_timestamp};
use xisuan_catalog::{Catalog, Site as CatalogSite};
use xisuan_estimate::find_accelerator;
use xisuan_model::forecast::Model;
use xisuan_model::limits::{self, MAX_HOURS};
use xisuan_model::Diagnostic;
use xisuan_sim::{build_jobs, Defaults, JobSpec, Rng, World};

/// What the user asked for; every field is checked by `build`.
#[derive(Debug, Clone, Default)]
pub struct SimSpec {
    /// The job trace; without one, the scenario's own jobs (each arriving at its earliest hour).
    pub trace: Option<PathBuf>,
    pub format: Option<String>,
    pub time_unit: String,
    pub scenario: Option<PathBuf>,
    pub sites: Vec<String>,
    pub carbon_series: Vec<PathBuf>,
    pub price_series: Vec<PathBuf>,
    pub catalog: Option<PathBuf>,
    /// First hour (UTC), `YYYY-MM-DD` or a timestamp.
    pub start: Option<String>,
    /// Hours of arrivals.
    pub hours: Option<u32>,
    pub seed: u64,
    pub accelerator: Option<String>,
    pub capacity: Option<u32>,
    pub pue: Option<f64>,
    pub kw_per_gpu: Option<f64>,
    pub cost_basis: Option<String>,
    pub data_gb: f64,
    /// `SHORTxLONG` hours.
    pub max_wait: String,
    pub pausable: bool,
    pub resume_overhead_h: f64,
    pub carbon_price: Option<f64>,
    pub delay_penalty: f64,
    pub inference: Option<PathBuf>,
    pub inference_sites: Vec<String>,
    pub tokens_per_gpu_s: f64,
    /// What policies see ahead: `perfect` (the actual series) or a forecasting model's name
    /// (`xisuan_model::forecast::Model`). Default: perfect.
    pub forecast: Option<String>,
}

/// The parameters of a run, printed with its results.
#[derive(Serialize, Clone, Debug)]
pub struct Params {
    pub trace: String,
    pub format: String,
    pub jobs: usize,
    pub seed: u64,
    pub start_utc: String,
    pub arrival_hours: u32,
    pub series_hours: u32,
    pub accelerator: String,
    pub kw_per_gpu: f64,
    pub cost_basis: String,
    pub data_gb_default: f64,
    pub max_wait_h: [f64; 2],
    pub pausable_default: bool,
    pub resume_overhead_h: f64,
    pub carbon_usd_per_t: f64,
    pub delay_usd_per_gpu_hour: f64,
    pub price_model: &'static str,
    pub link_model: &'static str,
    pub queue_model: &'static str,
    /// What the policies saw ahead: "perfect (the actual series)" or the forecasting model.
    pub foresight: String,
}

/// One site of the run, as reported.
#[derive(Serialize, Clone, Debug)]
pub struct SiteOut {
    pub id: String,
    pub zone: Option<String>,
    pub capacity: u32,
    pub pue: f64,
    pub mean_carbon_g_per_kwh: f64,
    pub mean_price_usd_per_mwh: f64,
    pub carbon_source: String,
    pub price_source: String,
    pub inference_gpus_peak: u32,
}

/// A run ready to go: the world, the jobs, what to print about them.
pub struct Built {
    pub world: World,
    /// The world as a planning problem over the simulated hours (no jobs), for the controller.
    pub problem: xisuan_plan::Problem,
    /// The jobs as the controller receives them (submission hour since the epoch, spec); a
    /// scenario's jobs are all submitted at its start with their own earliest hours.
    pub arrivals: Vec<xisuan_control::Arrival>,
    pub sites: Vec<SiteOut>,
    pub params: Params,
    pub jobs: Vec<xisuan_sim::Job>,
    pub diagnostics: Vec<Diagnostic>,
    /// The forecasting model policies plan with (`None`: the actual series).
    pub forecast: Option<Model>,
}

/// How hourly prices are built (one model for every path; docs/scenario.md).
pub const PRICE_MODEL: &str =
    "annual site price + hourly deviation of the zone's wholesale series from the series' mean, clamped at 0 (annual price where no series)";

fn bad(m: impl Into<String>) -> anyhow::Error {
    InputError(m.into()).into()
}

/// `--start`: a UTC date (`2023-06-01`) or timestamp, as an hour index.
pub fn parse_start(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let full = if t.len() == 10 { format!("{t} 00:00:00") } else { t.to_string() };
    let secs = parse_timestamp(&full).map_err(|m| bad(format!("--start: {m}")))?;
    Ok(secs.div_euclid(3600))
}

/// The named sites, or the first catalog site in each zone that has a carbon series.
fn pick_sites(catalog: &Catalog, names: &[String], diags: &mut Vec<Diagnostic>) -> anyhow::Result<Vec<String>> {
    if !names.is_empty() {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let id = catalog.resolve(n).map_err(|e| bad(format!("--sites: {e}")))?.site.id.to_string();
            if out.contains(&id) {
                return Err(bad(format!("--sites: {id} is named twice")));
            }
            out.push(id);
        }
        return Ok(out);
    }
    let mut out: Vec<&CatalogSite> = Vec::new();
    for zone in catalog.series.carbon.keys() {
        let site =
            catalog.sites.iter().find(|s| s.grid_zone.as_deref().and_then(|z| catalog.series.carbon_for_zone(z)).is_some_and(|hs| &hs.zone == zone));
        match site {
            Some(s) => out.push(s),
            None => diags.push(Diagnostic::info(zone.as_str(), "no catalog site in this zone; its series is not simulated")),
        }
    }
    if out.is_empty() {
        return Err(bad("no sites: pass --sites, or --carbon-series with zones that catalog sites are in"));
    }
    Ok(out.iter().map(|s| s.id.to_string()).collect())
}

/// The accelerator type of a world: the one asked for; with a scenario, the type its jobs use
/// most (accelerator-hours), else its services'; otherwise the type the sites hold most of.
fn pick_accelerator(spec: &SimSpec, scenario: Option<&Scenario>, sites: &[BuiltSite]) -> anyhow::Result<String> {
    if let Some(a) = &spec.accelerator {
        let acc = find_accelerator(a)
            .ok_or_else(|| bad(format!("--accelerator: unknown accelerator `{a}`; known: {}", xisuan_estimate::hardware::ids().join(", "))))?;
        return Ok(acc.id.to_string());
    }
    let mut weight: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    if let Some(scn) = scenario {
        for j in &scn.problem.jobs {
            *weight.entry(j.accelerators[0].accelerator.clone()).or_default() += j.gpus as f64 * j.hours;
        }
        if weight.is_empty() {
            for v in &scn.problem.services {
                *weight.entry(v.accelerator.clone()).or_default() += v.gpus_per_replica as f64;
            }
        }
    }
    if weight.is_empty() {
        for s in sites {
            for (a, n) in &s.site.capacity {
                *weight.entry(a.clone()).or_default() += *n as f64;
            }
        }
    }
    weight
        .into_iter()
        .filter(|x| x.1 > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(a, _)| a)
        .ok_or_else(|| bad("the chosen sites have no accelerators: pass --accelerator and --capacity, or a catalog overlay with capacity"))
}

fn non_negative(v: f64, name: &str) -> anyhow::Result<f64> {
    limits::in_range(v, 0.0, limits::MAX_USD_RATE).map_err(|m| bad(format!("{name}: {m}")))
}

/// Reads and checks everything a run needs.
pub fn build(spec: &SimSpec) -> anyhow::Result<Built> {
    let format = spec.format.as_deref().map(TraceFormat::parse).transpose().map_err(|m| bad(format!("--format: {m}")))?;
    let forecast = match spec.forecast.as_deref() {
        None | Some("perfect") => None,
        Some(name) => Some(
            Model::parse(name)
                .ok_or_else(|| bad(format!("--forecast: unknown `{name}` (known: perfect, {})", Model::ALL.map(|m| m.name()).join(", "))))?,
        ),
    };
    let unit = TimeUnit::parse(&spec.time_unit).map_err(|m| bad(format!("--time-unit: {m}")))?;
    let (ws, wl) = spec
        .max_wait
        .split_once('x')
        .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)))
        .filter(|(a, b)| limits::in_range(*a, 0.0, MAX_HOURS as f64).is_ok() && limits::in_range(*b, 0.0, MAX_HOURS as f64).is_ok())
        .ok_or_else(|| bad(format!("--max-wait: `{}` is not SHORTxLONG hours (each 0 to {MAX_HOURS}), e.g. 6x24", spec.max_wait)))?;
    limits::in_range(spec.data_gb, 0.0, limits::MAX_BYTES / 1e9).map_err(|m| bad(format!("--data-gb: {m}")))?;
    limits::in_range(spec.resume_overhead_h, 0.0, 100.0).map_err(|m| bad(format!("--resume-overhead-h: {m}")))?;
    if let Some(c) = spec.carbon_price {
        limits::in_range(c, 0.0, limits::MAX_CARBON_USD_PER_T).map_err(|m| bad(format!("--carbon-price: {m}")))?;
    }
    non_negative(spec.delay_penalty, "--delay-penalty")?;
    if let Some(k) = spec.kw_per_gpu {
        limits::in_range(k, 0.0, limits::MAX_KW_PER_ACCELERATOR).map_err(|m| bad(format!("--kw-per-gpu: {m}")))?;
    }
    if let Some(p) = spec.pue {
        limits::in_range(p, 1.0, limits::MAX_PUE).map_err(|m| bad(format!("--pue: {m}")))?;
    }
    if let Some(c) = spec.capacity {
        limits::count(c as u64, 1, limits::MAX_SITE_ACCELERATORS as u64).map_err(|m| bad(format!("--capacity: {m}")))?;
    }
    if let Some(h) = spec.hours {
        limits::count(h as u64, 1, MAX_HOURS as u64).map_err(|m| bad(format!("--hours: {m}")))?;
    }
    limits::positive(spec.tokens_per_gpu_s, 1e9).map_err(|m| bad(format!("--tokens-per-gpu-s: {m}")))?;

    let mut diagnostics = Vec::new();

    // The world: a scenario's, or catalog sites and series named by flags.
    let scenario = match &spec.scenario {
        Some(path) => {
            if !spec.sites.is_empty()
                || !spec.carbon_series.is_empty()
                || !spec.price_series.is_empty()
                || spec.start.is_some()
                || spec.catalog.is_some()
                || spec.cost_basis.is_some()
            {
                return Err(bad("--scenario sets the sites, series, catalog, start and cost basis: drop --sites, --carbon-series, --price-series, --catalog, --start and --cost-basis"));
            }
            let scn = crate::scenario::load(path).map_err(|e| bad(format!("{e:#}")))?;
            diagnostics.extend(scn.diagnostics.iter().cloned());
            Some(scn)
        }
        None => None,
    };
    // The jobs: a trace's, or the scenario's own (each arriving at its earliest hour).
    let (tr, format_name, trace_name) = match (&spec.trace, &scenario) {
        (Some(path), _) => {
            let tr = trace::read_jobs(path, format, unit).map_err(|e| bad(e.to_string()))?;
            let name = match format.or_else(|| TraceFormat::detect(std::fs::read_to_string(path).unwrap_or_default().lines().next().unwrap_or(""))) {
                Some(TraceFormat::Gaia) => "gaia",
                Some(TraceFormat::AlibabaPod) => "alibaba-pod",
                Some(TraceFormat::AzureLlm) => "azure-llm",
                _ => "csv",
            };
            (tr, name, path.display().to_string())
        }
        (None, Some(scn)) => {
            let p = &scn.problem;
            let jobs = p
                .jobs
                .iter()
                .map(|j| trace::TraceJob {
                    id: j.id.clone(),
                    arrival_h: j.earliest as f64,
                    duration_h: j.hours,
                    gpus: j.gpus,
                    site: Some(p.sites[j.data_site].id.clone()),
                    data_gb: Some(j.data_bytes / 1e9),
                    deadline_h: Some(j.deadline as f64),
                    pausable: Some(j.pausable),
                })
                .collect();
            (
                trace::JobTrace { jobs, diagnostics: Vec::new() },
                "scenario jobs",
                spec.scenario.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            )
        }
        (None, None) => return Err(bad("--trace: needed unless --scenario gives the jobs")),
    };
    diagnostics.extend(tr.diagnostics.iter().cloned());
    let world_spec = match &scenario {
        Some(scn) => scn.world.clone(),
        None => {
            let catalog = crate::load_catalog(spec.catalog.as_deref(), &spec.carbon_series, &spec.price_series).map_err(|e| bad(format!("{e:#}")))?;
            diagnostics.extend(
                catalog.diagnostics.iter().filter(|d| d.severity != xisuan_model::Severity::Info || !d.message.contains("China publishes")).cloned(),
            );
            let site_ids = pick_sites(&catalog, &spec.sites, &mut diagnostics)?;
            let basis = match &spec.cost_basis {
                Some(b) => Basis::parse(b).map_err(|m| bad(format!("--cost-basis: {m}")))?,
                None => Basis::Owned,
            };
            WorldSpec { catalog, site_ids, basis, tou: Vec::new(), accelerators: Default::default() }
        }
    };
    let start_hour = match (&scenario, &spec.start) {
        (Some(scn), _) => scn.problem.start_hour,
        (None, Some(t)) => parse_start(t)?,
        (None, None) => {
            world_spec.catalog.series.carbon.values().map(|s| s.start).min().ok_or_else(|| bad("--start: needed when no --carbon-series is given"))?
        }
    };

    // Arrivals within the horizon; later ones are reported, not silently dropped.
    let last = tr.jobs.iter().map(|j| j.arrival_h).fold(0.0, f64::max);
    let hours = match spec.hours {
        Some(h) => h,
        None => {
            let h = last.floor() + 1.0;
            if h > MAX_HOURS as f64 {
                return Err(bad(format!("the trace's arrivals span {h} hours; pass --hours (at most {MAX_HOURS}) to simulate part of it")));
            }
            h as u32
        }
    };
    let (inside, late): (Vec<_>, Vec<_>) = tr.jobs.into_iter().partition(|j| j.arrival_h < hours as f64);
    if !late.is_empty() {
        diagnostics.push(Diagnostic::warning(
            trace_name.clone(),
            format!("{} jobs arrive at or after hour {hours} (--hours) and are not simulated", late.len()),
        ));
    }
    if inside.is_empty() {
        return Err(bad("the trace has no job arriving within --hours"));
    }
    let defaults = Defaults { short_h: 2.0, wait_short_h: ws, wait_long_h: wl, data_bytes: spec.data_gb * 1e9, pausable: spec.pausable };
    let site_ids = &world_spec.site_ids;
    let mut specs = Vec::with_capacity(inside.len());
    for j in &inside {
        let home = match &j.site {
            None => None,
            Some(name) => {
                let site = world_spec.catalog.resolve(name).map_err(|e| bad(format!("{trace_name}: job {}: site: {e}", j.id)))?.site;
                Some(
                    site_ids
                        .iter()
                        .position(|s| s == site.id.as_str())
                        .ok_or_else(|| bad(format!("{trace_name}: job {}: site {} is not among the simulated sites", j.id, site.id)))?,
                )
            }
        };
        specs.push(JobSpec {
            id: j.id.clone(),
            arrival_h: j.arrival_h,
            duration_h: j.duration_h,
            gpus: j.gpus,
            home,
            data_bytes: j.data_gb.map(|g| g * 1e9),
            deadline_h: j.deadline_h,
            pausable: j.pausable,
        });
    }
    let jobs = build_jobs(&specs, site_ids.len(), &defaults, &mut Rng::new(spec.seed));
    // Series long enough for the last job to finish within its window; past that, the
    // simulator reads them again from their start (and counts the jobs that did).
    let reach = jobs.iter().map(|j| j.deadline_h).fold(hours as f64, f64::max);
    let cap = hours as f64 + 2.0 * MAX_HOURS as f64;
    if reach > cap {
        diagnostics.push(Diagnostic::warning(
            "simulation",
            format!("deadlines reach hour {reach:.0}; series are built for {cap:.0} hours and read again from their start after that"),
        ));
    }
    let series_hours = reach.min(cap).ceil() as u32 + 1;

    let mut built = world_spec.sites(start_hour, series_hours, &mut diagnostics);
    let accelerator = pick_accelerator(spec, scenario.as_ref(), &built)?;
    let acc = find_accelerator(&accelerator).expect("picked from known ids");
    for b in &mut built {
        if let Some(c) = spec.capacity {
            b.site.capacity.retain(|x| x.0 != accelerator);
            b.site.capacity.push((accelerator.clone(), c));
            if !b.site.usd_per_gpu_hour.iter().any(|x| x.0 == accelerator) {
                let cost = world_spec.kw_cost(acc).1;
                b.site
                    .usd_per_gpu_hour
                    .push((accelerator.clone(), if world_spec.basis == Basis::Owned { cost } else { acc.default_usd_per_hour.value }));
            }
        }
        if let Some(p) = spec.pue {
            b.site.pue = p;
        }
    }
    let kw_per_gpu = spec.kw_per_gpu.unwrap_or(world_spec.kw_cost(acc).0);
    let problem = xisuan_plan::Problem {
        slots: series_hours,
        start_hour,
        sites: built.iter().map(|b| b.site.clone()).collect(),
        jobs: vec![],
        services: vec![],
        regions: vec![],
        links: world_spec.links(),
        latency_ms: vec![],
        objective: xisuan_plan::Objective::default(),
    };
    problem.validate_world(limits::MAX_SERIES_HOURS as u32).map_err(|e| bad(format!("world: {e}")))?;
    let mut world = World::from_problem(&problem, &accelerator, kw_per_gpu, spec.resume_overhead_h);
    if let Some(model) = forecast {
        // Forecasts read up to two weeks before the window, where the series has them (never
        // read again from the series' other end, which would be a look at the future).
        let covered = |id: &str| {
            let Some(site) = world_spec.catalog.site(id) else { return true };
            let c = world_spec.catalog.series.series_for_site(site).0.map(|s| s.start);
            let p = world_spec.catalog.series.price_series_for_site(site).0.map(|s| s.start);
            [c, p].into_iter().flatten().all(|s| s <= start_hour - xisuan_sim::MAX_PAST_H as i64)
        };
        let past = world_spec.sites(start_hour - xisuan_sim::MAX_PAST_H as i64, xisuan_sim::MAX_PAST_H as u32, &mut Vec::new());
        world.past = past
            .iter()
            .map(|b| {
                if covered(&b.site.id) {
                    xisuan_sim::Past { kg_per_kwh: b.site.kg_per_kwh.clone(), usd_per_kwh: b.site.usd_per_kwh.clone() }
                } else {
                    xisuan_sim::Past::default()
                }
            })
            .collect();
        let short: Vec<&str> = past.iter().filter(|b| !covered(&b.site.id)).map(|b| b.site.id.as_str()).collect();
        if !short.is_empty() {
            diagnostics.push(Diagnostic::warning("forecast", format!("{} has no series before {}: its {} forecasts start from the simulated hours alone (seasonal patterns after a day, the weekly profile after a week)", short.join(", "), format_hour(start_hour - xisuan_sim::MAX_PAST_H as i64), model.name())));
        }
    }

    // A world in which no job can ever run is a mistake in the input, not a result.
    let largest = world.sites.iter().map(|s| s.capacity).max().unwrap_or(0);
    if largest == 0 {
        let have: std::collections::BTreeSet<&str> =
            built.iter().flat_map(|b| b.site.capacity.iter().filter(|c| c.1 > 0).map(|c| c.0.as_str())).collect();
        return Err(bad(format!(
            "no simulated site has {accelerator} accelerators (they have: {}); pass --accelerator with one of those, or --capacity",
            if have.is_empty() { "none".to_string() } else { have.into_iter().collect::<Vec<_>>().join(", ") }
        )));
    }
    let too_big = jobs.iter().filter(|j| j.gpus > largest).count();
    if too_big == jobs.len() {
        return Err(bad(format!("every job needs more {accelerator} accelerators than the largest site has ({largest}); pass --capacity")));
    }
    if too_big > 0 {
        diagnostics.push(Diagnostic::warning(
            "simulation",
            format!("{too_big} of {} jobs need more than the largest site's {largest} {accelerator} accelerators and can never run", jobs.len()),
        ));
    }

    let origin = spec.scenario.as_ref().map(|p| p.display().to_string());
    let mut site_out: Vec<SiteOut> = built
        .iter()
        .zip(&world.sites)
        .map(|(b, w)| {
            let n = w.kg_per_kwh.len().max(1) as f64;
            SiteOut {
                id: w.id.clone(),
                zone: b.zone.clone(),
                capacity: w.capacity,
                pue: w.pue,
                mean_carbon_g_per_kwh: w.kg_per_kwh.iter().sum::<f64>() / n * 1000.0,
                mean_price_usd_per_mwh: w.usd_per_kwh.iter().sum::<f64>() / n * 1000.0,
                carbon_source: match &origin {
                    Some(o) => format!("scenario {o}: {}", b.carbon_source),
                    None => b.carbon_source.clone(),
                },
                price_source: match &origin {
                    Some(o) => format!("scenario {o}: {}", b.price_source),
                    None => b.price_source.clone(),
                },
                inference_gpus_peak: 0,
            }
        })
        .collect();

    if let Some(path) = &spec.inference {
        let d = trace::read_demand(path).map_err(|e| bad(e.to_string()))?;
        diagnostics.extend(d.diagnostics.iter().cloned());
        let mut gpus = Vec::with_capacity(d.hours.len());
        for h in &d.hours {
            let need = ((h.context_tokens as f64 + h.generated_tokens as f64) / 3600.0 / spec.tokens_per_gpu_s).ceil();
            gpus.push(limits::to_u32(need).map_err(|m| bad(format!("--inference: accelerators for one hour: {m}")))?);
        }
        diagnostics.push(Diagnostic::info(
            path.display().to_string(),
            format!("inference: {} hour(s) of demand repeated over the {series_hours} simulated hours; accelerators per hour = tokens/s ÷ {} tokens/s per accelerator", gpus.len(), spec.tokens_per_gpu_s),
        ));
        let names = if spec.inference_sites.is_empty() { vec![site_ids[0].clone()] } else { spec.inference_sites.clone() };
        for n in &names {
            let id = world_spec.catalog.resolve(n).map_err(|e| bad(format!("--inference-sites: {e}")))?.site.id.clone();
            let i = site_ids
                .iter()
                .position(|s| *s == id.as_str())
                .ok_or_else(|| bad(format!("--inference-sites: {id} is not among the simulated sites")))?;
            world.sites[i].inference_gpus = gpus.clone();
            site_out[i].inference_gpus_peak = gpus.iter().copied().max().unwrap_or(0);
        }
    }
    let carbon_price = spec.carbon_price.unwrap_or(match &scenario {
        Some(scn) => scn.problem.objective.carbon_usd_per_t,
        None => 190.0,
    });
    let params = Params {
        trace: trace_name.clone(),
        format: format_name.to_string(),
        jobs: jobs.len(),
        seed: spec.seed,
        start_utc: format_hour(start_hour),
        arrival_hours: hours,
        series_hours,
        accelerator: accelerator.clone(),
        kw_per_gpu,
        cost_basis: world_spec.basis.name().to_string(),
        data_gb_default: spec.data_gb,
        max_wait_h: [ws, wl],
        pausable_default: spec.pausable,
        resume_overhead_h: spec.resume_overhead_h,
        carbon_usd_per_t: carbon_price,
        delay_usd_per_gpu_hour: spec.delay_penalty,
        price_model: PRICE_MODEL,
        link_model: "FIFO per directed link, full bandwidth x efficiency per transfer",
        queue_model: "strict FIFO per site, no backfilling",
        foresight: match forecast {
            None => "perfect: policies see the actual carbon and price series".into(),
            Some(m) => format!("{} forecasts, issued at each arrival's hour from the actual hours before it (two weeks of history); runs are charged the actual series", m.name()),
        },
    };
    // The controller plans with the scenario's objective, or the simulation's carbon price
    // and delay penalty (per job-hour).
    let mut problem = problem;
    problem.objective = match &scenario {
        Some(scn) => scn.problem.objective.clone(),
        None => xisuan_plan::Objective { carbon_usd_per_t: carbon_price, delay_usd_per_hour: spec.delay_penalty, ..Default::default() },
    };
    let h0 = start_hour as f64;
    let arrivals: Vec<xisuan_control::Arrival> = match (&scenario, &spec.trace) {
        // A scenario's own jobs reach the controller as `xisuan plan` sees them (every
        // accelerator option, data, residency), all submitted at its first hour; its services
        // stay in the world and are planned beside them in every round.
        (Some(scn), None) => {
            let sp = &scn.problem;
            problem = sp.clone();
            problem.jobs.clear();
            sp.jobs
                .iter()
                .map(|j| xisuan_control::Arrival {
                    id: j.id.clone(),
                    at_h: h0,
                    spec: xisuan_control::JobSpec {
                        name: Some(j.id.clone()),
                        gpus: j.gpus,
                        hours: j.hours,
                        accelerators: j
                            .accelerators
                            .iter()
                            .map(|a| xisuan_control::AccOption { accelerator: a.accelerator.clone(), speed: a.speed, kw_per_gpu: a.kw_per_gpu })
                            .collect(),
                        data_site: sp.sites[j.data_site].id.clone(),
                        data_bytes: j.data_bytes,
                        earliest_h: h0 + j.earliest as f64,
                        deadline_h: Some(h0 + j.deadline as f64),
                        pausable: j.pausable,
                        allowed_sites: j.allowed_sites.as_ref().map(|a| a.iter().map(|&s| sp.sites[s].id.clone()).collect()),
                        checkpoint_every_h: 1.0,
                        run: None,
                    },
                })
                .collect()
        }
        _ => jobs
            .iter()
            .map(|j| xisuan_control::Arrival {
                id: j.id.clone(),
                at_h: h0 + j.arrival_h,
                spec: xisuan_control::JobSpec {
                    name: Some(j.id.clone()),
                    gpus: j.gpus,
                    hours: j.duration_h,
                    accelerators: vec![xisuan_control::AccOption { accelerator: accelerator.clone(), speed: 1.0, kw_per_gpu }],
                    data_site: site_ids[j.home].clone(),
                    data_bytes: j.data_bytes,
                    earliest_h: h0 + j.arrival_h,
                    deadline_h: Some(h0 + j.deadline_h),
                    pausable: j.pausable,
                    allowed_sites: None,
                    checkpoint_every_h: 1.0,
                    run: None,
                },
            })
            .collect(),
    };
    // A scenario's world is built twice (by the scenario and for the simulator); say each thing once.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert(format!("{d:?}")));
    Ok(Built { world, problem, arrivals, sites: site_out, params, jobs, diagnostics, forecast })
}

/// Runs the simulation's jobs through the control plane's own code (`xisuan_control::drive`:
/// hourly planning rounds with `solve`, dispatch, the simulated backend) and reports the same
/// metrics as the simulator's policies. Each job is costed as the round that dispatched it
/// planned it; the simulated backend runs it exactly so.
pub fn run_controller(
    b: &Built,
    solve: &mut dyn FnMut(&xisuan_plan::Problem) -> Result<xisuan_plan::Plan, String>,
) -> anyhow::Result<xisuan_sim::Metrics> {
    use std::collections::HashMap;
    use xisuan_control::{Event, Placement, Status};
    let p = &b.problem;
    let h0 = p.start_hour;
    let mut world_at = |h: i64| -> xisuan_plan::Problem {
        let off = ((h - h0).max(0) as usize).min(p.slots as usize - 1);
        let slots = (p.slots as usize - off).clamp(1, 168);
        let mut w = p.clone();
        w.start_hour = h0 + off as i64;
        w.slots = slots as u32;
        for s in &mut w.sites {
            s.usd_per_kwh = s.usd_per_kwh[off..off + slots].to_vec();
            s.kg_per_kwh = s.kg_per_kwh[off..off + slots].to_vec();
        }
        for v in &mut w.services {
            for d in &mut v.demand {
                *d = d[off..off + slots].to_vec();
            }
        }
        w.objective.churn_usd = xisuan_control::DEFAULT_CHURN_USD;
        w
    };
    let start = b.arrivals.iter().map(|a| a.at_h).fold(f64::INFINITY, f64::min).max(h0 as f64).floor();
    let until = h0 as f64 + p.slots as f64;
    let (state, log) = xisuan_control::drive(&b.arrivals, start, until, &mut xisuan_control::Drive { world_at: &mut world_at, solve })
        .map_err(|e| bad(format!("controller: {e}")))?;
    let mut last: HashMap<&str, &Placement> = HashMap::new();
    let mut executed: HashMap<&str, &Placement> = HashMap::new();
    let mut rounds = 0;
    for e in &log {
        match e {
            Event::Planned(r) => {
                rounds += 1;
                for pl in &r.placements {
                    last.insert(pl.job.as_str(), pl);
                }
            }
            Event::JobDispatched { id, .. } => {
                if let Some(pl) = last.get(id.as_str()) {
                    executed.insert(id.as_str(), pl);
                }
            }
            _ => {}
        }
    }
    let site_ix: HashMap<&str, usize> = p.sites.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut m = xisuan_sim::Metrics {
        policy: "controller".into(),
        description: format!("the control plane's own loop (xisuan server's code): hourly rolling-horizon planning rounds ({rounds} here) with churn {} USD per move, dispatch when a job's start (or its data transfer) comes, simulated execution in whole hours", xisuan_control::DEFAULT_CHURN_USD),
        jobs: state.jobs.len(),
        completed: 0,
        unplaceable: 0,
        unfinished: 0,
        cost_usd: 0.0,
        electricity_usd: 0.0,
        gpu_hour_usd: 0.0,
        transfer_usd: 0.0,
        carbon_kg: 0.0,
        energy_kwh: 0.0,
        wait_h: Default::default(),
        queue_h: Default::default(),
        completion_h: Default::default(),
        deadline_misses: 0,
        slo_violation_site_hours: 0,
        slo_shortfall_gpu_hours: 0.0,
        bytes_moved: 0.0,
        jobs_moved: 0,
        resumes: 0,
        jobs_past_series_end: 0,
        capacity_ignored: false,
        events: log.len() as u64,
        sites: p.sites.iter().map(|s| xisuan_sim::SiteUse { site: s.id.clone(), jobs: 0, gpu_hours: 0.0, utilisation: 0.0 }).collect(),
    };
    let (mut waits, mut completions) = (Vec::new(), Vec::new());
    for j in state.jobs.values() {
        if j.status != Status::Completed {
            m.unfinished += 1;
            continue;
        }
        m.completed += 1;
        let Some(pl) = executed.get(j.id.as_str()) else { continue };
        m.cost_usd += pl.cost_usd;
        m.electricity_usd += pl.electricity_usd;
        m.transfer_usd += pl.transfer_usd;
        m.gpu_hour_usd += pl.cost_usd - pl.electricity_usd - pl.transfer_usd;
        m.carbon_kg += pl.carbon_kg;
        m.energy_kwh += pl.energy_kwh;
        if pl.bytes_moved > 0.0 {
            m.bytes_moved += pl.bytes_moved;
            m.jobs_moved += 1;
        }
        let began = j.history.iter().find(|(_, w)| w == "started").map(|(t, _)| *t).unwrap_or(pl.start_h);
        let end = j.end_h.unwrap_or(pl.end_h);
        waits.push(began - j.spec.earliest_h);
        completions.push(end - j.spec.earliest_h);
        if j.spec.deadline_h.is_some_and(|d| end > d + 1e-6) {
            m.deadline_misses += 1;
        }
        if let Some(&s) = site_ix.get(pl.site.as_str()) {
            let u = &mut m.sites[s];
            u.jobs += 1;
            u.gpu_hours += j.spec.gpus as f64 * (pl.end_h - pl.start_h).max(0.0);
        }
    }
    for (u, site) in m.sites.iter_mut().zip(&b.world.sites) {
        let hours = b.params.arrival_hours as f64;
        u.utilisation = if site.capacity == 0 { 0.0 } else { u.gpu_hours / (site.capacity as f64 * hours) };
    }
    m.wait_h = xisuan_sim::Stats::of(waits);
    m.completion_h = xisuan_sim::Stats::of(completions);
    Ok(m)
}

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

use crate::{add_series, shared_data_dir};
use serde::Deserialize;
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
    #[serde(default)]
    objective: ObjectiveEntry,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectiveEntry {
    #[serde(default = "one")]
    cost_weight: f64,
    #[serde(default)]
    carbon_usd_per_t: f64,
    #[serde(default = "one")]
    carbon_weight: f64,
    #[serde(default)]
    delay_usd_per_hour: f64,
    carbon_cap_t: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl Default for ObjectiveEntry {
    fn default() -> Self {
        ObjectiveEntry { cost_weight: 1.0, carbon_usd_per_t: 0.0, carbon_weight: 1.0, delay_usd_per_hour: 0.0, carbon_cap_t: None }
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
    gpus: u32,
    hours: Option<f64>,
    /// Or: estimate hours from parameters and tokens (estimator defaults for MFU).
    params: Option<f64>,
    tokens: Option<f64>,
    data_site: String,
    #[serde(default)]
    data_tb: f64,
    #[serde(default)]
    earliest_hour: u32,
    deadline_hour: Option<u32>,
    #[serde(default)]
    pausable: bool,
    /// Data residency: the job may run only at these sites, or in these countries.
    sites: Option<Vec<String>>,
    countries: Option<Vec<String>>,
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
    /// Local time offset from UTC for the daily curve (default from longitude).
    utc_offset_hours: Option<i32>,
}

/// A scenario turned into a problem, with what the translation had to say.
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub problem: Problem,
    pub catalog: Catalog,
    pub diagnostics: Vec<Diagnostic>,
}

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

/// Daily demand curve: share of the peak by local hour. Consumer traffic peaks in the evening
/// and bottoms out before dawn; the curve is a cosine with its peak at 21:00 and a trough of 30%
/// of the peak at 09:00 (an assumption to replace with measured demand where you have it).
pub fn diurnal(local_hour: f64) -> f64 {
    0.65 + 0.35 * ((local_hour - 21.0) / 24.0 * std::f64::consts::TAU).cos()
}

/// A job's accelerator options: each type's power and cost (via `kw_cost`, which validates the
/// name) and its speed relative to the reference, from sustained throughput (peak × default MFU).
/// Resolves an accelerator name to (id, kW per accelerator, USD per accelerator-hour).
type KwCost<'a> = dyn FnMut(&str, std::ops::Range<usize>, &str) -> Result<(String, f64, f64), ScenarioError> + 'a;

fn options(
    kw_cost: &mut KwCost,
    names: &[String],
    reference: &xisuan_estimate::Accelerator,
    span: std::ops::Range<usize>,
    field: &str,
) -> Result<Vec<AcceleratorOption>, ScenarioError> {
    let mut out = Vec::new();
    for name in names {
        let (id, kw, _) = kw_cost(name, span.clone(), &format!("{field}.accelerators"))?;
        let a = find_accelerator(&id).expect("kw_cost resolved it");
        let speed = (a.peak_bf16.0 * a.default_mfu.value) / (reference.peak_bf16.0 * reference.default_mfu.value);
        out.push(AcceleratorOption { accelerator: id, speed, kw_per_gpu: kw });
    }
    Ok(out)
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

/// Reads and translates a scenario file.
pub fn load(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError(format!("{}: cannot read: {e}", path.display())))?;
    let origin = path.display().to_string();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    from_text(&text, &origin, &dir)
}

/// Translates scenario text; `dir` resolves relative paths.
pub fn from_text(text: &str, origin: &str, dir: &Path) -> anyhow::Result<Scenario> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        ScenarioError(format!("{origin}:{line}: {}", e.message()))
    })?;
    let l = Loader { text, origin: origin.to_string(), dir: dir.to_path_buf() };
    let mut diagnostics = Vec::new();

    // The world: catalog, overlay, series.
    let mut catalog = Catalog::builtin();
    if let Some(o) = &file.catalog.overlay {
        let p = l.path(o);
        let t = std::fs::read_to_string(&p).map_err(|e| ScenarioError(format!("{origin}: catalog.overlay: cannot read {}: {e}", p.display())))?;
        catalog.merge_toml(&t, &p.display().to_string())?;
    }
    for s in &file.catalog.carbon_series {
        add_series(&mut catalog, &l.path(s), SeriesKind::Carbon)?;
    }
    for s in &file.catalog.price_series {
        add_series(&mut catalog, &l.path(s), SeriesKind::Price)?;
    }
    diagnostics.extend(catalog.diagnostics.iter().cloned());

    let start_s = parse_timestamp(file.scenario.start.get_ref()).map_err(|e| l.err(file.scenario.start.span(), "scenario.start", e))?;
    let start_hour = start_s.div_euclid(3600);
    let slots = *file.scenario.hours.get_ref();
    if slots == 0 || slots > 24 * 366 {
        return Err(l.err(file.scenario.hours.span(), "scenario.hours", format!("must be 1..8784, got {slots}")).into());
    }

    let site_ids: Vec<String> = if file.catalog.sites.is_empty() {
        catalog.sites.iter().filter(|s| !s.capacity.is_empty()).map(|s| s.id.as_str().to_string()).collect()
    } else {
        let mut ids = Vec::new();
        for (i, s) in file.catalog.sites.iter().enumerate() {
            let r = catalog.resolve(s.get_ref()).map_err(|e| l.err(s.span(), &format!("catalog.sites[{i}]"), e))?;
            ids.push(r.site.id.as_str().to_string());
        }
        ids
    };

    // Accelerator power and non-electricity cost: scenario overrides, else the estimator.
    let mut acc_info: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let acc_of = |name: &str, span: std::ops::Range<usize>, field: &str, l: &Loader| {
        find_accelerator(name).ok_or_else(|| l.err(span, field, format!("unknown accelerator `{name}`; known: {}", xisuan_estimate::hardware::ids().join(", "))))
    };
    let mut kw_cost = |name: &str, span: std::ops::Range<usize>, field: &str| -> Result<(String, f64, f64), ScenarioError> {
        let a = acc_of(name, span.clone(), field, &l)?;
        let id = a.id.to_string();
        if let Some(v) = acc_info.get(&id) {
            return Ok((id, v.0, v.1));
        }
        let over = file.accelerators.get(&id).or_else(|| file.accelerators.get(name));
        // Default power: the estimator's average chip power plus 10% host share (Patterson
        // et al. 2021); default cost: purchase price over four years of hours.
        let kw = over.and_then(|o| o.get_ref().kw_per_gpu).unwrap_or(a.default_power_w.value * 1.1 / 1000.0);
        let usd = over
            .and_then(|o| o.get_ref().usd_per_gpu_hour)
            .unwrap_or(a.default_capex_usd.value / (4.0 * 8760.0));
        acc_info.insert(id.clone(), (kw, usd));
        Ok((id, kw, usd))
    };
    for (name, entry) in &file.accelerators {
        let a = acc_of(name, entry.span(), &format!("accelerators.{name}"), &l)?;
        let e = entry.get_ref();
        if e.kw_per_gpu.is_some_and(|k| !(k > 0.0 && k < 10.0)) {
            return Err(l.err(entry.span(), &format!("accelerators.{name}.kw_per_gpu"), "must be in (0, 10) kW").into());
        }
        if let Some(src) = &e.source {
            diagnostics.push(Diagnostic::info(format!("accelerator {}", a.id), format!("power/cost override: {src}")));
        }
    }

    let rental = match file.costs.basis.as_ref().map(|b| (b.get_ref().as_str(), b.span())) {
        None | Some(("owned", _)) => false,
        Some(("rental", _)) => true,
        Some((other, span)) => return Err(l.err(span, "costs.basis", format!("`{other}` is not owned or rental")).into()),
    };
    if rental {
        diagnostics.push(Diagnostic::info("costs", "rental basis: on-demand prices per accelerator-hour include electricity; electricity prices set to 0, energy and carbon still counted"));
    }

    // Sites with per-slot series.
    let mut sites = Vec::new();
    for id in &site_ids {
        let s = catalog.site(id).expect("resolved above");
        let (cseries, cdiag) = catalog.series_for_site(s);
        let (pseries, pdiag) = catalog.series.price_series_for_site(s);
        diagnostics.extend(cdiag);
        diagnostics.extend(pdiag);
        let annual_kg = s.carbon_annual.value.0;
        let annual_usd = s.price_annual.value.0;
        let mut missing_c = 0;
        let kg: Vec<f64> = (0..slots as i64)
            .map(|t| match cseries.map(|c| c.get(start_hour + t)) {
                Some(Some(g)) => g / 1000.0,
                Some(None) => {
                    missing_c += 1;
                    annual_kg
                }
                None => annual_kg,
            })
            .collect();
        if missing_c > 0 {
            diagnostics.push(Diagnostic::warning(id.clone(), format!("{missing_c} of {slots} hours have no carbon value in the series; the annual factor fills them")));
        }
        // Hourly prices: the site's annual price plus the hour's deviation from the wholesale
        // series' mean over the window (wholesale levels omit network charges and taxes).
        let usd: Vec<f64> = match pseries {
            Some(ps) => {
                let window: Vec<Option<f64>> = (0..slots as i64).map(|t| ps.get(start_hour + t)).collect();
                let present: Vec<f64> = window.iter().flatten().copied().collect();
                let mean = if present.is_empty() { 0.0 } else { present.iter().sum::<f64>() / present.len() as f64 };
                let missing = window.len() - present.len();
                if missing > 0 {
                    diagnostics.push(Diagnostic::warning(id.clone(), format!("{missing} of {slots} hours have no price in the series; the annual price fills them")));
                }
                window.iter().map(|w| w.map(|mwh| (annual_usd + (mwh - mean) / 1000.0).max(0.0)).unwrap_or(annual_usd)).collect()
            }
            None => vec![annual_usd; slots as usize],
        };
        let usd = if rental { vec![0.0; slots as usize] } else { usd };
        let mut capacity = Vec::new();
        let mut gpu_hour = Vec::new();
        for (acc, c) in &s.capacity {
            let Some(a) = find_accelerator(acc) else {
                diagnostics.push(Diagnostic::warning(id.clone(), format!("capacity of unknown accelerator `{acc}` ignored")));
                continue;
            };
            capacity.push((a.id.to_string(), c.value));
            let cost = if rental {
                s.gpu_hour_price.get(acc).map(|p| p.value.0).unwrap_or(a.default_usd_per_hour.value)
            } else {
                kw_cost(a.id, 0..0, "capacity")?.2
            };
            gpu_hour.push((a.id.to_string(), cost));
        }
        sites.push(Site {
            id: id.clone(),
            name: s.name.clone(),
            east: matches!(s.role, xisuan_catalog::Role::EastDemandHub),
            capacity,
            usd_per_kwh: usd,
            kg_per_kwh: kg,
            pue: s.pue.value,
            usd_per_gpu_hour: gpu_hour,
            lat: s.lat,
            lon: s.lon,
        });
    }

    // Time-of-use tariffs multiply the price by local hour.
    for (i, tou) in file.time_of_use.iter().enumerate() {
        let t = tou.get_ref();
        if t.factors.len() != 24 || t.factors.iter().any(|f| !(*f >= 0.0)) {
            return Err(l.err(tou.span(), &format!("time_of_use[{i}].factors"), "needs 24 non-negative multipliers, local hours 0..23").into());
        }
        for sid in &t.sites {
            let r = catalog.resolve(sid).map_err(|e| l.err(tou.span(), &format!("time_of_use[{i}].sites"), e))?;
            let Some(site) = sites.iter_mut().find(|s| s.id == r.site.id.as_str()) else { continue };
            for (k, p) in site.usd_per_kwh.iter_mut().enumerate() {
                let local = (start_hour + k as i64 + t.utc_offset_hours as i64).rem_euclid(24) as usize;
                *p *= t.factors[local];
            }
            diagnostics.push(Diagnostic::info(site.id.clone(), format!("time-of-use tariff applied: {}", t.source)));
        }
    }

    let site_ix = |name: &str, span: std::ops::Range<usize>, field: &str| -> Result<usize, ScenarioError> {
        let r = catalog.resolve(name).map_err(|e| l.err(span.clone(), field, e))?;
        sites
            .iter()
            .position(|s| s.id == r.site.id.as_str())
            .ok_or_else(|| l.err(span, field, format!("site {} is not among catalog.sites of this scenario", r.site.id.as_str())))
    };
    let residency = |sites_f: &Option<Vec<String>>, countries: &Option<Vec<String>>, span: std::ops::Range<usize>, field: &str| -> Result<Option<Vec<usize>>, ScenarioError> {
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

    // Jobs: listed ones, then seeded batches.
    let mut jobs = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (i, je) in file.jobs.iter().enumerate() {
        let j = je.get_ref();
        let field = format!("jobs[{i}]");
        if !ids.insert(j.id.clone()) {
            return Err(l.err(je.span(), &format!("{field}.id"), format!("duplicate job id `{}`", j.id)).into());
        }
        if j.accelerators.is_empty() {
            return Err(l.err(je.span(), &format!("{field}.accelerators"), "needs at least one accelerator type").into());
        }
        if j.gpus == 0 {
            return Err(l.err(je.span(), &format!("{field}.gpus"), "must be at least 1").into());
        }
        let reference = acc_of(&j.accelerators[0], je.span(), &format!("{field}.accelerators"), &l)?;
        let hours = match (j.hours, j.params, j.tokens) {
            (Some(h), None, None) if h > 0.0 => h,
            (Some(h), None, None) => return Err(l.err(je.span(), &format!("{field}.hours"), format!("must be positive, got {h}")).into()),
            (None, Some(n), Some(d)) => {
                let e = estimate_train(&TrainInput::new(n, d, reference, j.gpus)).map_err(|e| l.err(je.span(), &field, e))?;
                e.wall.0
            }
            _ => return Err(l.err(je.span(), &field, "give either hours, or params and tokens").into()),
        };
        let accelerators = options(&mut kw_cost, &j.accelerators, reference, je.span(), &field)?;
        let data_site = site_ix(&j.data_site, je.span(), &format!("{field}.data_site"))?;
        let deadline = j.deadline_hour.unwrap_or(slots);
        if deadline <= j.earliest_hour {
            return Err(l.err(je.span(), &format!("{field}.deadline_hour"), format!("{deadline} is not after earliest_hour {}", j.earliest_hour)).into());
        }
        if !(j.data_tb >= 0.0) {
            return Err(l.err(je.span(), &format!("{field}.data_tb"), "must not be negative").into());
        }
        jobs.push(Job {
            id: j.id.clone(),
            gpus: j.gpus,
            hours,
            accelerators,
            data_site,
            data_bytes: j.data_tb * 1e12,
            earliest: j.earliest_hour,
            deadline,
            pausable: j.pausable,
            allowed_sites: residency(&j.sites, &j.countries, je.span(), &field)?,
        });
    }
    for (bi, be) in file.job_batches.iter().enumerate() {
        let b = be.get_ref();
        let field = format!("job_batches[{bi}]");
        if b.gpus.is_empty() || b.accelerators.is_empty() || b.data_sites.is_empty() {
            return Err(l.err(be.span(), &field, "gpus, accelerators and data_sites need at least one entry").into());
        }
        let ranges_ok = b.hours[0] > 0.0 && b.hours[0] <= b.hours[1] && b.slack[0] >= 1.0 && b.slack[0] <= b.slack[1];
        if !ranges_ok || b.earliest_hour[0] > b.earliest_hour[1] {
            return Err(l.err(be.span(), &field, "ranges must be [low, high] with hours > 0 and slack >= 1").into());
        }
        let reference = acc_of(&b.accelerators[0], be.span(), &format!("{field}.accelerators"), &l)?;
        let accelerators = options(&mut kw_cost, &b.accelerators, reference, be.span(), &field)?;
        let data_sites: Vec<usize> = b
            .data_sites
            .iter()
            .map(|s| site_ix(s, be.span(), &format!("{field}.data_sites")))
            .collect::<Result<_, _>>()?;
        let allowed = residency(&None, &b.countries, be.span(), &field)?;
        let mut rng = Rng::new(b.seed);
        for k in 0..b.count {
            let id = format!("{}-{:03}", b.id_prefix, k + 1);
            if !ids.insert(id.clone()) {
                return Err(l.err(be.span(), &format!("{field}.id_prefix"), format!("duplicate job id `{id}`")).into());
            }
            let hours = (rng.range(b.hours[0], b.hours[1]) * 4.0).round() / 4.0;
            let earliest = b.earliest_hour[0] + rng.below((b.earliest_hour[1] - b.earliest_hour[0] + 1) as u64) as u32;
            let slack = rng.range(b.slack[0], b.slack[1]);
            let deadline = ((earliest as f64 + hours * slack).ceil() as u32 + 1).min(slots);
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
            let c = catalog.city(&d.city).ok_or_else(|| l.err(se.span(), "services.demand.city", format!("unknown city `{}` (see `xisuan sites --json` user_regions)", d.city)))?;
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
        let (acc, kw, _) = kw_cost(&v.accelerator, se.span(), &format!("{field}.accelerator"))?;
        if !(v.replica_rps > 0.0) || v.gpus_per_replica == 0 || !(v.slo_ms > 0.0) {
            return Err(l.err(se.span(), &field, "replica_rps, gpus_per_replica and slo_ms must be positive").into());
        }
        let mut demand = vec![vec![0.0; slots as usize]; regions.len()];
        for d in &v.demand {
            let c = catalog.city(&d.city).unwrap();
            let g = region_names.iter().position(|n| *n == c.name).unwrap();
            let offset = d.utc_offset_hours.map(f64::from).unwrap_or((c.lon / 15.0).round());
            for (t, x) in demand[g].iter_mut().enumerate() {
                let local = ((start_hour + t as i64) as f64 + offset).rem_euclid(24.0);
                *x += d.peak_rps * diurnal(local);
            }
        }
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

    // Links: bandwidth and per-GB price from the catalog's network model.
    let mut links = Vec::new();
    for a in &site_ids {
        let sa = catalog.site(a).unwrap();
        let mut row = Vec::new();
        for b in &site_ids {
            let sb = catalog.site(b).unwrap();
            row.push(Link { gbps: catalog.network.bandwidth(sa, sb).value.0, efficiency: 0.8, usd_per_gb: catalog.network.price_per_gb(sa, sb).value });
        }
        links.push(row);
    }
    diagnostics.push(Diagnostic::info(
        "network",
        "transfers priced per GB at the catalog's rate; a leased line (xisuan transfer --pricing leased-line) is not considered by the planner",
    ));
    let o = &file.objective;
    let problem = Problem {
        slots,
        start_hour,
        sites,
        jobs,
        services,
        regions,
        links,
        latency_ms,
        objective: Objective {
            cost_weight: o.cost_weight,
            carbon_usd_per_t: o.carbon_usd_per_t,
            carbon_weight: o.carbon_weight,
            delay_usd_per_hour: o.delay_usd_per_hour,
            carbon_cap_t: o.carbon_cap_t,
        },
    };
    problem.validate().map_err(|e| ScenarioError(format!("{origin}: {e}")))?;
    diagnostics.push(Diagnostic::info(
        "scenario",
        format!("{} hourly slots from {}", slots, format_hour(start_hour)),
    ));
    Ok(Scenario { name: file.scenario.name, description: file.scenario.description, problem, catalog, diagnostics })
}

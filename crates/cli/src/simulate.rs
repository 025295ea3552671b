//! `xisuan simulate`: replays a trace of job arrivals against sites with hourly carbon and
//! prices under one or more policies, and prints what each delivered (cost, carbon, energy,
//! waiting, queueing, completion, deadline misses, SLO violations, site use, data moved) as a
//! table, as JSON, or as an HTML report with charts.
//!
//! Wiring only: the trace is read by `xisuan_io::trace`, the catalog by `xisuan_io`, the run
//! is `xisuan_sim::simulate`. The world is a planning `Problem`, from the shared scenario
//! loader (`--scenario`) or built from flags (`--sites`, `--carbon-series`, `--price-series`,
//! `--start`), turned into a sim `World` by `World::from_problem`.

use crate::output::Table;
use crate::BadInput;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xisuan_catalog::series::{format_hour, parse_timestamp, HourlySeries};
use xisuan_catalog::{Catalog, Site as CatalogSite};
use xisuan_io::trace::{self, TimeUnit, TraceFormat};
use xisuan_model::{human, Diagnostic};
use xisuan_sim::{
    build_jobs, policy_by_name, Defaults, JobSpec, Metrics, PlannerSettings, Rng, RunOptions,
    RunResult, World, POLICIES,
};

#[derive(Args)]
#[command(after_help = "\
Examples:
  xisuan simulate --trace ../shared/data/gaia_job_traces/pai_1k.csv \\
      --carbon-series ../shared/data/green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv \\
      --price-series ../shared/data/green_dcc/wide_2023_hourly_price_usd_per_mwh.csv \\
      --start 2023-06-01 --hours 720
  xisuan simulate --trace jobs.csv --format csv --sites aws-us-east-1,gcp-europe-west1 \\
      --carbon-series ci.csv --policy planner,lets-wait-awhile --json
  xisuan simulate --trace pods.csv --format alibaba-pod --carbon-series ci.csv --report out/
  xisuan simulate --trace jobs.csv --scenario examples/edwc/scenario.toml

Sites: --sites names catalog site ids; without it, the first catalog site in each zone that
--carbon-series covers. A site with no hourly series uses its annual factor (said in the notes).
Jobs without a deadline may wait 6 h (shorter than 2 h) or 24 h (GAIA's -w 6x24).
Policies: planner, run-now, cheapest, greenest, lets-wait-awhile, gaia, oracle (default: all).
docs/simulate.md explains the model; docs/trace-format.md the CSV trace format.")]
pub struct SimulateArgs {
    /// The job trace.
    #[arg(long, value_name = "FILE")]
    trace: PathBuf,
    /// gaia, alibaba-pod, azure-llm or csv (default: detected from the header).
    #[arg(long)]
    format: Option<String>,
    /// Unit of a GAIA trace's times: auto, s or h.
    #[arg(long = "time-unit", default_value = "auto")]
    time_unit: String,
    /// A scenario TOML (as for `xisuan plan`): its sites, series, start, capacities and carbon
    /// price; its jobs are ignored (the trace gives them).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Catalog site ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    sites: Vec<String>,
    /// Hourly carbon series (wide or long CSV); repeatable; ZONE=PATH names a file's zone.
    #[arg(long = "carbon-series", value_name = "FILE")]
    carbon_series: Vec<PathBuf>,
    /// Hourly price series (USD/MWh); repeatable.
    #[arg(long = "price-series", value_name = "FILE")]
    price_series: Vec<PathBuf>,
    /// A catalog TOML merged over the built-in default.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// First hour of the simulation (UTC), e.g. 2023-06-01 (default: the carbon series' start).
    #[arg(long)]
    start: Option<String>,
    /// Hours of arrivals to simulate (default: up to the trace's last arrival).
    #[arg(long)]
    hours: Option<u32>,
    /// Policies to compare, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    policy: Vec<String>,
    /// Seed of the run's random choices (home sites of jobs whose trace names none).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Accelerator type whose capacity and price apply (default: h100, or with --scenario the
    /// type with the most accelerators).
    #[arg(long)]
    accelerator: Option<String>,
    /// Accelerators per site (default: the catalog's, illustrative).
    #[arg(long)]
    capacity: Option<u32>,
    /// PUE of every site (default: each catalog site's own).
    #[arg(long)]
    pue: Option<f64>,
    /// Average power per accelerator, kW before PUE (default 0.7: H100 SXM TDP).
    #[arg(long = "kw-per-gpu", default_value_t = 0.7)]
    kw_per_gpu: f64,
    /// Data each job moves when it runs away from home, GB, for traces that do not say.
    #[arg(long = "data-gb", default_value_t = 0.0)]
    data_gb: f64,
    /// Hours a job shorter/longer than 2 h may wait, for traces without deadlines (SHORTxLONG).
    #[arg(long = "max-wait", default_value = "6x24")]
    max_wait: String,
    /// Let jobs the trace does not mark pausable suspend and resume.
    #[arg(long)]
    pausable: bool,
    /// Hours of work each resume adds (restoring a checkpoint).
    #[arg(long = "resume-overhead-h", default_value_t = 0.05)]
    resume_overhead_h: f64,
    /// Planner: carbon price, USD per tonne CO2e (default: US EPA 2023 social cost of carbon, 2% discount rate).
    /// [default: 190, or the scenario's]
    #[arg(long = "carbon-price")]
    carbon_price: Option<f64>,
    /// Planner: penalty per accelerator-hour a job waits, USD.
    #[arg(long = "delay-penalty", default_value_t = 0.1)]
    delay_penalty: f64,
    /// Inference demand (Azure LLM trace): reserves accelerators every hour at --inference-sites.
    #[arg(long, value_name = "FILE")]
    inference: Option<PathBuf>,
    /// Sites that serve the inference demand, comma-separated (default: the first site).
    #[arg(long = "inference-sites", value_delimiter = ',')]
    inference_sites: Vec<String>,
    /// Tokens per second one accelerator serves (context + generated; illustrative default).
    #[arg(long = "tokens-per-gpu-s", default_value_t = 5000.0)]
    tokens_per_gpu_s: f64,
    /// Print JSON instead of tables (byte-identical for the same inputs and seed).
    #[arg(long)]
    json: bool,
    /// Write an HTML report with charts to DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

/// The parameters of a run, printed with its results.
#[derive(Serialize, Clone)]
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
    pub data_gb_default: f64,
    pub max_wait_h: [f64; 2],
    pub pausable_default: bool,
    pub resume_overhead_h: f64,
    pub carbon_usd_per_t: f64,
    pub delay_usd_per_gpu_hour: f64,
    pub link_model: &'static str,
    pub queue_model: &'static str,
}

/// One site of the run, as reported.
#[derive(Serialize, Clone)]
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

#[derive(Serialize)]
pub struct Out<'a> {
    pub parameters: &'a Params,
    pub sites: &'a [SiteOut],
    pub policies: Vec<&'a Metrics>,
    pub diagnostics: &'a [Diagnostic],
}

fn bad(m: impl Into<String>) -> anyhow::Error {
    BadInput(m.into()).into()
}

fn parse_start(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    let full = if t.len() == 10 {
        format!("{t} 00:00:00")
    } else {
        t.to_string()
    };
    let secs = parse_timestamp(&full).map_err(|m| bad(format!("--start: {m}")))?;
    Ok(secs.div_euclid(3600))
}

/// Hour values of a series from `start` for `n` hours: a missing hour takes the series'
/// mean, an hour outside the series reads it again from its start; both are counted.
fn take_series(s: &HourlySeries, start: i64, n: usize, scale: f64) -> (Vec<f64>, usize, usize) {
    let mean = s.mean().unwrap_or(0.0);
    let len = s.values.len() as i64;
    let (mut missing, mut outside) = (0, 0);
    let v = (0..n as i64)
        .map(|i| {
            let mut h = start + i - s.start;
            if h < 0 || h >= len {
                outside += 1;
                h = h.rem_euclid(len);
            }
            s.values[h as usize].unwrap_or_else(|| {
                missing += 1;
                mean
            }) * scale
        })
        .collect();
    (v, missing, outside)
}

/// Picks the sites: the named ones, or the first catalog site in each zone with a carbon series.
fn pick_sites<'c>(
    catalog: &'c Catalog,
    names: &[String],
    diags: &mut Vec<Diagnostic>,
) -> anyhow::Result<Vec<&'c CatalogSite>> {
    if !names.is_empty() {
        return names.iter().map(|n| Ok(catalog.resolve(n)?.site)).collect();
    }
    let mut out: Vec<&CatalogSite> = Vec::new();
    for zone in catalog.series.carbon.keys() {
        let site = catalog.sites.iter().find(|s| {
            s.grid_zone
                .as_deref()
                .and_then(|z| catalog.series.carbon_for_zone(z))
                .is_some_and(|hs| &hs.zone == zone)
        });
        match site {
            Some(s) => out.push(s),
            None => diags.push(Diagnostic::info(
                zone.as_str(),
                "no catalog site in this zone; its series is not simulated",
            )),
        }
    }
    if out.is_empty() {
        return Err(bad(
            "no sites: pass --sites, or --carbon-series with zones that catalog sites are in",
        ));
    }
    Ok(out)
}

struct Built {
    world: World,
    sites: Vec<SiteOut>,
    params: Params,
    jobs: Vec<xisuan_sim::Job>,
    diagnostics: Vec<Diagnostic>,
}

fn build(args: &SimulateArgs) -> anyhow::Result<Built> {
    let format = args
        .format
        .as_deref()
        .map(TraceFormat::parse)
        .transpose()
        .map_err(|m| bad(format!("--format: {m}")))?;
    let unit = TimeUnit::parse(&args.time_unit).map_err(|m| bad(format!("--time-unit: {m}")))?;
    let (ws, wl) = args
        .max_wait
        .split_once('x')
        .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)))
        .filter(|(a, b)| *a >= 0.0 && *b >= 0.0)
        .ok_or_else(|| {
            bad(format!(
                "--max-wait: `{}` is not SHORTxLONG hours, e.g. 6x24",
                args.max_wait
            ))
        })?;
    for (v, name) in [
        (args.kw_per_gpu, "--kw-per-gpu"),
        (args.data_gb, "--data-gb"),
        (args.resume_overhead_h, "--resume-overhead-h"),
        (args.carbon_price.unwrap_or(0.0), "--carbon-price"),
        (args.delay_penalty, "--delay-penalty"),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad(format!(
                "{name}: must be a non-negative number, got {v}"
            )));
        }
    }
    if args.pue.is_some_and(|p| !(p >= 1.0 && p.is_finite())) {
        return Err(bad("--pue: must be at least 1"));
    }
    if args.tokens_per_gpu_s.is_nan() || args.tokens_per_gpu_s <= 0.0 {
        return Err(bad("--tokens-per-gpu-s: must be positive"));
    }
    let tr = trace::read_jobs(&args.trace, format, unit).map_err(|e| bad(e.to_string()))?;
    let format_name = match format.or_else(|| {
        TraceFormat::detect(
            std::fs::read_to_string(&args.trace)
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or(""),
        )
    }) {
        Some(TraceFormat::Gaia) => "gaia",
        Some(TraceFormat::AlibabaPod) => "alibaba-pod",
        Some(TraceFormat::AzureLlm) => "azure-llm",
        _ => "csv",
    };
    let mut diagnostics = tr.diagnostics;
    let scenario = match &args.scenario {
        Some(path) => {
            if !args.sites.is_empty()
                || !args.carbon_series.is_empty()
                || !args.price_series.is_empty()
                || args.start.is_some()
                || args.catalog.is_some()
            {
                return Err(bad("--scenario sets the sites, series, catalog and start: drop --sites, --carbon-series, --price-series, --catalog and --start"));
            }
            let scn = xisuan_io::scenario::load(path).map_err(|e| bad(format!("{e:#}")))?;
            diagnostics.extend(scn.diagnostics.iter().cloned());
            Some(scn)
        }
        None => None,
    };
    let catalog = match &scenario {
        Some(scn) => scn.catalog.clone(),
        None => xisuan_io::load_catalog(
            args.catalog.as_deref(),
            &args.carbon_series,
            &args.price_series,
        )?,
    };
    if scenario.is_none() {
        diagnostics.extend(
            catalog
                .diagnostics
                .iter()
                .filter(|d| {
                    d.severity != xisuan_model::Severity::Info
                        || !d.message.contains("China publishes")
                })
                .cloned(),
        );
    }
    let site_ids: Vec<String> = match &scenario {
        Some(scn) => scn.problem.sites.iter().map(|x| x.id.clone()).collect(),
        None => pick_sites(&catalog, &args.sites, &mut diagnostics)?
            .iter()
            .map(|x| x.id.to_string())
            .collect(),
    };
    let start_hour = match (&scenario, &args.start) {
        (Some(scn), _) => scn.problem.start_hour,
        (None, Some(t)) => parse_start(t)?,
        (None, None) => catalog
            .series
            .carbon
            .values()
            .map(|s| s.start)
            .min()
            .ok_or_else(|| bad("--start: needed when no --carbon-series is given"))?,
    };
    let accelerator = match (&args.accelerator, &scenario) {
        (Some(a), _) => a.clone(),
        (None, Some(scn)) => most_capacity(&scn.problem),
        (None, None) => "h100".to_string(),
    };
    let carbon_price = args.carbon_price.unwrap_or(match &scenario {
        Some(scn) => scn.problem.objective.carbon_usd_per_t,
        None => 190.0,
    });

    // Arrivals within the horizon; later ones are reported, not silently dropped.
    let last = tr.jobs.iter().map(|j| j.arrival_h).fold(0.0, f64::max);
    let hours = args.hours.unwrap_or((last.floor() as u32) + 1).max(1);
    let (inside, late): (Vec<_>, Vec<_>) = tr
        .jobs
        .into_iter()
        .partition(|j| j.arrival_h < hours as f64);
    if !late.is_empty() {
        diagnostics.push(Diagnostic::warning(
            args.trace.display().to_string(),
            format!(
                "{} jobs arrive at or after hour {hours} (--hours) and are not simulated",
                late.len()
            ),
        ));
    }
    if inside.is_empty() {
        return Err(bad("the trace has no job arriving within --hours"));
    }
    let defaults = Defaults {
        short_h: 2.0,
        wait_short_h: ws,
        wait_long_h: wl,
        data_bytes: args.data_gb * 1e9,
        pausable: args.pausable,
    };
    let mut specs = Vec::with_capacity(inside.len());
    for j in &inside {
        let home = match &j.site {
            None => None,
            Some(name) => {
                let site = catalog
                    .resolve(name)
                    .map_err(|e| bad(format!("{}: job {}: site: {e}", args.trace.display(), j.id)))?
                    .site;
                Some(
                    site_ids
                        .iter()
                        .position(|s| s == site.id.as_str())
                        .ok_or_else(|| {
                            bad(format!(
                                "{}: job {}: site {} is not among the simulated sites",
                                args.trace.display(),
                                j.id,
                                site.id
                            ))
                        })?,
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
    let jobs = build_jobs(&specs, site_ids.len(), &defaults, &mut Rng::new(args.seed));
    // Series long enough for the last job to finish within its window.
    let reach = jobs
        .iter()
        .map(|j| j.deadline_h)
        .fold(hours as f64, f64::max);
    let series_hours = reach.ceil() as u32 + 1;

    let (mut world, mut site_out) = match &scenario {
        Some(scn) => {
            let mut w = World::from_problem(
                &scn.problem,
                &accelerator,
                args.kw_per_gpu,
                args.resume_overhead_h,
            );
            for x in &mut w.sites {
                if let Some(c) = args.capacity {
                    x.capacity = c;
                }
                if let Some(p) = args.pue {
                    x.pue = p;
                }
            }
            let out = scenario_sites(
                &w,
                &catalog,
                &args
                    .scenario
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
                    .to_string(),
            );
            let added = w.extend_to(series_hours);
            if added > 0 {
                diagnostics.push(Diagnostic::warning(
                    "scenario",
                    format!("the scenario's {} hours are read again from its start for {added} more hours, so that every job can finish within its window", scn.problem.slots),
                ));
            }
            (w, out)
        }
        None => {
            let sites: Vec<&CatalogSite> =
                site_ids.iter().filter_map(|id| catalog.site(id)).collect();
            let (p, out) = problem_from_catalog(
                &catalog,
                &sites,
                args,
                &accelerator,
                start_hour,
                series_hours,
                &mut diagnostics,
            );
            (
                World::from_problem(&p, &accelerator, args.kw_per_gpu, args.resume_overhead_h),
                out,
            )
        }
    };

    if let Some(path) = &args.inference {
        let d = trace::read_demand(path).map_err(|e| bad(e.to_string()))?;
        diagnostics.extend(d.diagnostics.iter().cloned());
        let gpus: Vec<u32> = d
            .hours
            .iter()
            .map(|h| {
                (((h.context_tokens + h.generated_tokens) as f64 / 3600.0 / args.tokens_per_gpu_s)
                    .ceil()) as u32
            })
            .collect();
        diagnostics.push(Diagnostic::info(
            path.display().to_string(),
            format!("inference: {} hour(s) of demand repeated over the {series_hours} simulated hours; accelerators per hour = tokens/s ÷ {} tokens/s per accelerator", gpus.len(), args.tokens_per_gpu_s),
        ));
        let names = if args.inference_sites.is_empty() {
            vec![site_ids[0].clone()]
        } else {
            args.inference_sites.clone()
        };
        for n in &names {
            let id = catalog.resolve(n)?.site.id.clone();
            let i = site_ids
                .iter()
                .position(|s| *s == id.as_str())
                .ok_or_else(|| {
                    bad(format!(
                        "--inference-sites: {id} is not among the simulated sites"
                    ))
                })?;
            world.sites[i].inference_gpus = gpus.clone();
            site_out[i].inference_gpus_peak = gpus.iter().copied().max().unwrap_or(0);
        }
    }
    let params = Params {
        trace: args.trace.display().to_string(),
        format: format_name.to_string(),
        jobs: jobs.len(),
        seed: args.seed,
        start_utc: format_hour(start_hour),
        arrival_hours: hours,
        series_hours,
        accelerator: accelerator.clone(),
        kw_per_gpu: args.kw_per_gpu,
        data_gb_default: args.data_gb,
        max_wait_h: [ws, wl],
        pausable_default: args.pausable,
        resume_overhead_h: args.resume_overhead_h,
        carbon_usd_per_t: carbon_price,
        delay_usd_per_gpu_hour: args.delay_penalty,
        link_model: "FIFO per directed link, full bandwidth x efficiency per transfer",
        queue_model: "strict FIFO per site, no backfilling",
    };
    Ok(Built {
        world,
        sites: site_out,
        params,
        jobs,
        diagnostics,
    })
}

/// The planning problem of the chosen sites over the simulated hours, and how each site's
/// numbers were found.
fn problem_from_catalog(
    catalog: &Catalog,
    sites: &[&CatalogSite],
    args: &SimulateArgs,
    accelerator: &str,
    start_hour: i64,
    series_hours: u32,
    diags: &mut Vec<Diagnostic>,
) -> (xisuan_plan::Problem, Vec<SiteOut>) {
    let n = series_hours as usize;
    let mut out = Vec::new();
    let mut psites = Vec::new();
    for s in sites {
        let zone = s.grid_zone.clone();
        let (kg, carbon_source) = match zone
            .as_deref()
            .and_then(|z| catalog.series.carbon_for_zone(z))
        {
            Some(hs) => {
                let (v, missing, outside) = take_series(hs, start_hour, n, 1e-3);
                note_gaps(diags, s, "carbon", missing, outside);
                (v, format!("hourly {} ({})", hs.zone, hs.origin))
            }
            None => (
                vec![s.carbon_annual.value.0; n],
                format!(
                    "annual {} ({})",
                    human(s.carbon_annual.value.g_per_kwh()),
                    s.carbon_annual.source
                ),
            ),
        };
        let (usd, price_source) = match zone
            .as_deref()
            .and_then(|z| catalog.series.price_for_zone(z))
        {
            Some(hs) => {
                let (v, missing, outside) = take_series(hs, start_hour, n, 1e-3);
                note_gaps(diags, s, "price", missing, outside);
                (v, format!("hourly {} ({})", hs.zone, hs.origin))
            }
            None => (
                vec![s.price_annual.value.0; n],
                format!("annual ({})", s.price_annual.source),
            ),
        };
        let capacity = args
            .capacity
            .unwrap_or_else(|| s.capacity.get(accelerator).map(|c| c.value).unwrap_or(0));
        if capacity == 0 {
            diags.push(Diagnostic::warning(
                s.id.as_str(),
                format!(
                    "no {} accelerators (pass --capacity or --accelerator)",
                    accelerator
                ),
            ));
        }
        let gpu_usd = s
            .gpu_hour_price
            .get(accelerator)
            .map(|p| p.value.0)
            .unwrap_or(0.0);
        out.push(SiteOut {
            id: s.id.to_string(),
            zone: zone.clone(),
            capacity,
            pue: args.pue.unwrap_or(s.pue.value),
            mean_carbon_g_per_kwh: kg.iter().sum::<f64>() / n as f64 * 1000.0,
            mean_price_usd_per_mwh: usd.iter().sum::<f64>() / n as f64 * 1000.0,
            carbon_source,
            price_source,
            inference_gpus_peak: 0,
        });
        psites.push(xisuan_plan::Site {
            id: s.id.to_string(),
            name: s.name.clone(),
            east: false,
            capacity: vec![(accelerator.to_string(), capacity)],
            usd_per_kwh: usd,
            kg_per_kwh: kg,
            pue: args.pue.unwrap_or(s.pue.value),
            usd_per_gpu_hour: vec![(accelerator.to_string(), gpu_usd)],
            lat: s.lat,
            lon: s.lon,
        });
    }
    let links = sites
        .iter()
        .map(|a| {
            sites
                .iter()
                .map(|b| xisuan_plan::Link {
                    gbps: catalog.network.bandwidth(a, b).value.0,
                    efficiency: xisuan_catalog::network::DEFAULT_EFFICIENCY,
                    usd_per_gb: catalog.network.price_per_gb(a, b).value,
                })
                .collect()
        })
        .collect();
    let p = xisuan_plan::Problem {
        slots: series_hours,
        start_hour,
        sites: psites,
        jobs: vec![],
        services: vec![],
        regions: vec![],
        links,
        latency_ms: vec![],
        objective: xisuan_plan::Objective::default(),
    };
    (p, out)
}

/// The accelerator type a problem's sites hold most of.
fn most_capacity(p: &xisuan_plan::Problem) -> String {
    let mut total: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for s in &p.sites {
        for (a, n) in &s.capacity {
            *total.entry(a.as_str()).or_default() += *n as u64;
        }
    }
    total
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| "h100".to_string())
}

/// How a scenario's sites are reported: their series as the scenario built them.
fn scenario_sites(w: &World, catalog: &Catalog, origin: &str) -> Vec<SiteOut> {
    w.sites
        .iter()
        .map(|s| {
            let n = s.kg_per_kwh.len().max(1) as f64;
            SiteOut {
                id: s.id.clone(),
                zone: catalog.site(&s.id).and_then(|c| c.grid_zone.clone()),
                capacity: s.capacity,
                pue: s.pue,
                mean_carbon_g_per_kwh: s.kg_per_kwh.iter().sum::<f64>() / n * 1000.0,
                mean_price_usd_per_mwh: s.usd_per_kwh.iter().sum::<f64>() / n * 1000.0,
                carbon_source: format!("scenario {origin}"),
                price_source: format!("scenario {origin}"),
                inference_gpus_peak: 0,
            }
        })
        .collect()
}

fn note_gaps(
    diags: &mut Vec<Diagnostic>,
    s: &CatalogSite,
    what: &str,
    missing: usize,
    outside: usize,
) {
    if missing > 0 {
        diags.push(Diagnostic::warning(
            s.id.as_str(),
            format!("{missing} hours missing in the {what} series; the series mean was used"),
        ));
    }
    if outside > 0 {
        diags.push(Diagnostic::warning(s.id.as_str(), format!("{outside} simulated hours fall outside the {what} series; it was read again from its start")));
    }
}

/// Runs every policy and returns the results with each run's wall time.
fn run_all(b: &Built, names: &[String], hidden: bool) -> anyhow::Result<Vec<(RunResult, f64)>> {
    let settings = PlannerSettings {
        carbon_usd_per_t: b.params.carbon_usd_per_t,
        delay_usd_per_gpu_hour: b.params.delay_usd_per_gpu_hour,
        ticks_per_hour: 12,
    };
    let mut out = Vec::new();
    for name in names {
        let mut policy = policy_by_name(name, &b.world, &b.jobs, settings)
            .map_err(|e| bad(format!("--policy: {e}")))?;
        let bar = if hidden {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(b.jobs.len() as u64)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>16} [{bar:30}] {pos}/{len} jobs {elapsed}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        let t0 = Instant::now();
        let r = xisuan_sim::simulate(
            &b.world,
            &b.jobs,
            policy.as_mut(),
            RunOptions { hourly: true },
            &mut |done, _| bar.set_position(done as u64),
        )?;
        bar.finish_and_clear();
        out.push((r, t0.elapsed().as_secs_f64()));
    }
    Ok(out)
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let b = build(args)?;
    let names: Vec<String> = if args.policy.is_empty() {
        POLICIES.iter().map(|s| s.to_string()).collect()
    } else {
        args.policy.clone()
    };
    let hidden = args.json || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let results = run_all(&b, &names, hidden)?;
    let out = Out {
        parameters: &b.params,
        sites: &b.sites,
        policies: results.iter().map(|r| &r.0.metrics).collect(),
        diagnostics: &b.diagnostics,
    };
    if let Some(dir) = &args.report {
        write_report(dir, &b, &results)?;
    }
    if args.json {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&out)?));
    }
    let mut text = render_text(&out, &results.iter().map(|r| r.1).collect::<Vec<_>>());
    if let Some(dir) = &args.report {
        outln!(text, "\nReport: {}", dir.join("index.html").display());
    }
    crate::emit(&text)
}

fn write_report(dir: &Path, b: &Built, results: &[(RunResult, f64)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| bad(format!("--report: cannot create {}: {e}", dir.display())))?;
    let html = crate::sim_report::html(&b.params, &b.sites, &b.world, results, &b.diagnostics);
    std::fs::write(dir.join("index.html"), html)
        .map_err(|e| bad(format!("--report: cannot write {}: {e}", dir.display())))?;
    Ok(())
}

/// The policy table: totals, then times, then site use; every number with its unit.
pub fn render_text(out: &Out, walls: &[f64]) -> String {
    let p = out.parameters;
    let mut s = String::new();
    outln!(
        s,
        "Simulated {} jobs from {} ({}), arrivals over {} h from {}, {} sites, seed {}",
        p.jobs,
        p.trace,
        p.format,
        p.arrival_hours,
        p.start_utc,
        out.sites.len(),
        p.seed
    );
    let mut t = Table::new(&[
        "policy",
        "cost (USD)",
        "carbon (kgCO2e)",
        "energy (kWh)",
        "vs oracle",
        "moved (GB)",
        "deadline misses",
        "SLO viol. (site-h)",
        "unfinished",
        "run time (s)",
    ]);
    let oracle = out
        .policies
        .iter()
        .find(|m| m.policy == "oracle")
        .map(|m| m.carbon_kg);
    for (m, w) in out.policies.iter().zip(walls) {
        t.row(vec![
            m.policy.clone(),
            format!("{:.2}", m.cost_usd),
            format!("{:.2}", m.carbon_kg),
            format!("{:.1}", m.energy_kwh),
            oracle
                .filter(|o| *o > 0.0)
                .map(|o| format!("{:.3}x", m.carbon_kg / o))
                .unwrap_or_else(|| "-".into()),
            format!("{:.1}", m.bytes_moved / 1e9),
            format!("{}", m.deadline_misses),
            format!("{}", m.slo_violation_site_hours),
            format!("{}", m.unfinished + m.unplaceable),
            format!("{w:.3}"),
        ]);
    }
    outln!(s, "\n{}", t.render());
    let mut t = Table::new(&[
        "policy",
        "wait mean (h)",
        "wait p50 (h)",
        "wait p99 (h)",
        "queue mean (h)",
        "queue p99 (h)",
        "completion mean (h)",
        "completion p50 (h)",
        "completion p99 (h)",
    ]);
    for m in &out.policies {
        t.row(vec![
            m.policy.clone(),
            format!("{:.3}", m.wait_h.mean),
            format!("{:.3}", m.wait_h.p50),
            format!("{:.3}", m.wait_h.p99),
            format!("{:.3}", m.queue_h.mean),
            format!("{:.3}", m.queue_h.p99),
            format!("{:.3}", m.completion_h.mean),
            format!("{:.3}", m.completion_h.p50),
            format!("{:.3}", m.completion_h.p99),
        ]);
    }
    outln!(s, "{}", t.render());
    let mut header = vec![
        "site".to_string(),
        "zone".into(),
        "capacity (acc.)".into(),
        "carbon (gCO2e/kWh)".into(),
        "price (USD/MWh)".into(),
    ];
    header.extend(
        out.policies
            .iter()
            .map(|m| format!("{} util. (%)", m.policy)),
    );
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = Table::new(&hdr);
    for (i, site) in out.sites.iter().enumerate() {
        let mut row = vec![
            site.id.clone(),
            site.zone.clone().unwrap_or_else(|| "-".into()),
            format!("{}", site.capacity),
            format!("{:.1}", site.mean_carbon_g_per_kwh),
            format!("{:.2}", site.mean_price_usd_per_mwh),
        ];
        row.extend(
            out.policies
                .iter()
                .map(|m| format!("{:.3}", m.sites[i].utilisation * 100.0)),
        );
        t.row(row);
    }
    outln!(s, "Sites (mean carbon and price over the simulated hours; utilisation = accelerator-hours run ÷ capacity × hours):\n{}", t.render());
    outln!(s, "Policies:");
    for m in &out.policies {
        outln!(s, "  {:<17} {}", m.policy, m.description);
    }
    outln!(
        s,
        "\nParameters: {} kW per accelerator ({}); data moved per job away from home {} GB unless the trace says; waits {} h / {} h for jobs under / over 2 h unless the trace gives deadlines; resume overhead {} h; planner carbon price {} USD/tCO2e, delay penalty {} USD per accelerator-hour; links: {}; queues: {}.",
        p.kw_per_gpu, p.accelerator, p.data_gb_default, p.max_wait_h[0], p.max_wait_h[1], p.resume_overhead_h, p.carbon_usd_per_t, p.delay_usd_per_gpu_hour, p.link_model, p.queue_model
    );
    if !out.diagnostics.is_empty() {
        outln!(s, "\nNotes:");
        for d in out.diagnostics {
            outln!(s, "  {d}");
        }
    }
    s
}

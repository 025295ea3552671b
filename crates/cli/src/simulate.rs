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
use xisuan_io::simulation::{build, Built, Params, SimSpec, SiteOut};
use xisuan_model::Diagnostic;
use xisuan_sim::{policy_by_name, Metrics, PlannerSettings, RunOptions, RunResult, POLICIES};

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
Policies: planner, run-now, cheapest, greenest, lets-wait-awhile, gaia, oracle (default: all), and
controller: the control plane's own loop (hourly planning rounds, dispatch, simulated execution).
With --scenario and no --trace, the scenario's own jobs are simulated.
docs/simulate.md explains the model; docs/trace-format.md the CSV trace format.")]
pub struct SimulateArgs {
    /// The job trace (default with --scenario: the scenario's own jobs).
    #[arg(long, value_name = "FILE", required_unless_present = "scenario")]
    trace: Option<PathBuf>,
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
    /// Accelerator type whose capacity and price apply (default: with --scenario the type its
    /// jobs use most, otherwise the type the chosen sites hold most of).
    #[arg(long)]
    accelerator: Option<String>,
    /// Accelerators per site (default: the catalog's, illustrative).
    #[arg(long)]
    capacity: Option<u32>,
    /// PUE of every site (default: each catalog site's own).
    #[arg(long)]
    pue: Option<f64>,
    /// Average power per accelerator with its host share, kW before PUE (default: the
    /// accelerator's average power plus 10% for the host, as in scenario files).
    #[arg(long = "kw-per-gpu")]
    kw_per_gpu: Option<f64>,
    /// What an accelerator-hour costs beyond electricity: owned (purchase price over four
    /// years, the same everywhere) or rental (the site's on-demand price, electricity
    /// included). Default owned; a scenario sets its own.
    #[arg(long = "cost-basis", value_name = "owned|rental")]
    cost_basis: Option<String>,
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
    /// What policies see of carbon and prices ahead: perfect (the actual series, as the
    /// GAIA and Let's Wait Awhile papers' error-free runs), seasonal-naive or profile (a
    /// forecast issued at each arrival's hour; `xisuan forecast` scores them). Runs are always
    /// charged the actual series; the oracle bound always sees it.
    #[arg(long, default_value = "perfect", value_name = "MODEL")]
    forecast: String,
    /// Print JSON instead of tables (byte-identical for the same inputs and seed).
    #[arg(long)]
    json: bool,
    /// Write an HTML report with charts to DIR/index.html.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
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

impl SimulateArgs {
    fn spec(&self) -> SimSpec {
        SimSpec {
            trace: self.trace.clone(),
            format: self.format.clone(),
            time_unit: self.time_unit.clone(),
            scenario: self.scenario.clone(),
            sites: self.sites.clone(),
            carbon_series: self.carbon_series.clone(),
            price_series: self.price_series.clone(),
            catalog: self.catalog.clone(),
            start: self.start.clone(),
            hours: self.hours,
            seed: self.seed,
            accelerator: self.accelerator.clone(),
            capacity: self.capacity,
            pue: self.pue,
            kw_per_gpu: self.kw_per_gpu,
            cost_basis: self.cost_basis.clone(),
            data_gb: self.data_gb,
            max_wait: self.max_wait.clone(),
            pausable: self.pausable,
            resume_overhead_h: self.resume_overhead_h,
            carbon_price: self.carbon_price,
            delay_penalty: self.delay_penalty,
            inference: self.inference.clone(),
            inference_sites: self.inference_sites.clone(),
            tokens_per_gpu_s: self.tokens_per_gpu_s,
            forecast: Some(self.forecast.clone()),
        }
    }
}

/// Runs every policy and returns the results with each run's wall time.
fn run_all(b: &Built, names: &[String], hidden: bool) -> anyhow::Result<Vec<(RunResult, f64)>> {
    let settings =
        PlannerSettings { carbon_usd_per_t: b.params.carbon_usd_per_t, delay_usd_per_gpu_hour: b.params.delay_usd_per_gpu_hour, ticks_per_hour: 12 };
    let mut out = Vec::new();
    for name in names {
        if name == "controller" {
            // The control plane's own loop, with the same planner `xisuan server` runs.
            let t0 = Instant::now();
            let metrics = xisuan_io::simulation::run_controller(b, &mut |p| {
                use xisuan_plan::Solver;
                // The server's planner with a stopping rule that does not read the clock (its
                // iteration limit and target gap; no time-limited MILP), so runs repeat exactly.
                xisuan_milp::auto::Auto { time_budget_s: 1e9, milp_max_columns: 0, ..Default::default() }.solve(p).map_err(|e| e.to_string())
            })?;
            out.push((RunResult { metrics, outcomes: Vec::new(), busy_hourly: Vec::new() }, t0.elapsed().as_secs_f64()));
            continue;
        }
        let mut policy = policy_by_name(name, &b.world, &b.jobs, settings).map_err(|e| bad(format!("--policy: {e}")))?;
        let bar = if hidden { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(b.jobs.len() as u64) };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} jobs {elapsed}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_prefix(name.clone());
        let t0 = Instant::now();
        let r = xisuan_sim::simulate(&b.world, &b.jobs, policy.as_mut(), RunOptions { hourly: true, forecast: b.forecast }, &mut |done, _| {
            bar.set_position(done as u64)
        })?;
        bar.finish_and_clear();
        out.push((r, t0.elapsed().as_secs_f64()));
    }
    Ok(out)
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let names: Vec<String> = if args.policy.is_empty() { POLICIES.iter().map(|s| s.to_string()).collect() } else { args.policy.clone() };
    if let Some(bad_name) = names.iter().find(|n| !POLICIES.contains(&n.as_str()) && *n != "lwa" && *n != "controller") {
        return Err(bad(format!("--policy: unknown policy `{bad_name}` (known: {}, controller)", POLICIES.join(", "))));
    }
    let b = build(&args.spec())?;
    let hidden = args.json || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let results = run_all(&b, &names, hidden)?;
    let out = Out { parameters: &b.params, sites: &b.sites, policies: results.iter().map(|r| &r.0.metrics).collect(), diagnostics: &b.diagnostics };
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
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("--report: cannot create {}: {e}", dir.display())))?;
    let html = crate::sim_report::html(&b.params, &b.sites, &b.world, results, &b.diagnostics);
    std::fs::write(dir.join("index.html"), html).map_err(|e| bad(format!("--report: cannot write {}: {e}", dir.display())))?;
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
    let oracle = out.policies.iter().find(|m| m.policy == "oracle").map(|m| m.carbon_kg);
    for (m, w) in out.policies.iter().zip(walls) {
        t.row(vec![
            m.policy.clone(),
            format!("{:.2}", m.cost_usd),
            format!("{:.2}", m.carbon_kg),
            format!("{:.1}", m.energy_kwh),
            oracle.filter(|o| *o > 0.0).map(|o| format!("{:.3}x", m.carbon_kg / o)).unwrap_or_else(|| "-".into()),
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
    let mut header = vec!["site".to_string(), "zone".into(), "capacity (acc.)".into(), "carbon (gCO2e/kWh)".into(), "price (USD/MWh)".into()];
    header.extend(out.policies.iter().map(|m| format!("{} util. (%)", m.policy)));
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
        row.extend(out.policies.iter().map(|m| format!("{:.3}", m.sites[i].utilisation * 100.0)));
        t.row(row);
    }
    outln!(s, "Sites (mean carbon and price over the simulated hours; utilisation = accelerator-hours run ÷ capacity × hours):\n{}", t.render());
    outln!(s, "Policies:");
    for m in &out.policies {
        outln!(s, "  {:<17} {}", m.policy, m.description);
    }
    outln!(
        s,
        "\nParameters: {:.3} kW per accelerator ({}, cost basis {}); prices: {}; data moved per job away from home {} GB unless the trace says; waits {} h / {} h for jobs under / over 2 h unless the trace gives deadlines; resume overhead {} h; planner carbon price {} USD/tCO2e, delay penalty {} USD per accelerator-hour; links: {}; queues: {}; foresight: {}.",
        p.kw_per_gpu, p.accelerator, p.cost_basis, p.price_model, p.data_gb_default, p.max_wait_h[0], p.max_wait_h[1], p.resume_overhead_h, p.carbon_usd_per_t, p.delay_usd_per_gpu_hour, p.link_model, p.queue_model, p.foresight
    );
    if !out.diagnostics.is_empty() {
        outln!(s, "\nNotes:");
        for d in out.diagnostics {
            outln!(s, "  {d}");
        }
    }
    s
}

//! `xisuan plan SCENARIO.toml`: loads a scenario, solves it with the MILP or the heuristic,
//! checks the plan's invariants, and prints a table (or JSON) with totals, baselines, the
//! bound and the gap, and a reason for every site not used.

use crate::output::{human, Table};
use crate::BadInput;
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::PathBuf;
use xisuan_milp::auto::Auto;
use xisuan_milp::Milp;
use xisuan_plan::baselines::baselines;
use xisuan_plan::check::check;
use xisuan_plan::heuristic::{self, Heuristic};
use xisuan_plan::{Plan, Reason, Solver, Stage};

#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum SolverArg {
    /// Heuristic and completion, Lagrangian bound and repair, then the MILP only where it can
    /// still close the gap, within --time-budget (the default).
    Auto,
    /// Exact mixed-integer program (HiGHS), warm-started from the heuristic; reports the LP bound.
    Milp,
    /// Filter, score, select with time shifting, then completion; reports the LP bound when small.
    Heuristic,
}

#[derive(Args)]
#[command(after_help = "Examples:
  xisuan plan examples/edwc/scenario.toml
  xisuan plan examples/edwc/scenario.toml --solver heuristic --json --out plan.json
  xisuan plan examples/infeasible.toml --strict        # exit code 3 if any work cannot be placed
Exit codes: 0 plan complete; 1 internal error; 2 bad input; 3 work left unplaced (with --strict).")]
pub struct PlanArgs {
    /// Scenario file (TOML): window, sites and series, jobs, services, objective.
    #[arg(required_unless_present = "server")]
    scenario: Option<PathBuf>,
    /// Show a server's latest planning round instead (with --token or $XISUAN_TOKEN).
    #[arg(long, value_name = "URL", conflicts_with = "scenario")]
    server: Option<String>,
    /// The tenant token for --server (default $XISUAN_TOKEN).
    #[arg(long, requires = "server")]
    token: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    solver: SolverArg,
    /// Seconds the auto solver may spend in all (it stops earlier at --target-gap; the EDWC
    /// example takes a fraction of a second, 10,000 jobs about 25 s on 2 cores).
    #[arg(long, default_value_t = 30.0, allow_hyphen_values = true)]
    time_budget: f64,
    /// Proven gap at which the auto solver stops improving (0.01 = 1%).
    #[arg(long, default_value_t = 0.01, allow_hyphen_values = true)]
    target_gap: f64,
    /// USD per accelerator-hour of work left undone (unplaced jobs; unmet demand in the
    /// replica-hours it needs), overriding the scenario's (default 50).
    #[arg(long, allow_hyphen_values = true)]
    unplaced_usd_per_gpu_hour: Option<f64>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the JSON plan to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit with code 3 when any job or demand cannot be placed.
    #[arg(long)]
    strict: bool,
    /// MILP time limit in seconds with --solver milp (HiGHS checks it between cut rounds, so
    /// it can run over).
    #[arg(long, default_value_t = 60.0, allow_hyphen_values = true)]
    time_limit: f64,
    /// MILP relative gap at which to stop, with --solver milp.
    #[arg(long, default_value_t = 0.002, allow_hyphen_values = true)]
    mip_gap: f64,
    /// Skip the baselines (faster on large scenarios).
    #[arg(long)]
    no_baselines: bool,
    /// Show every job in the table (default: the first 20 and every unplaced one).
    #[arg(long)]
    all_jobs: bool,
    /// Override the scenario's carbon price, USD per tonne CO2e.
    #[arg(long, allow_hyphen_values = true)]
    carbon_usd_per_t: Option<f64>,
    /// Override the scenario's carbon cap for the whole plan, tonnes CO2e (MILP enforces it).
    #[arg(long, allow_hyphen_values = true)]
    carbon_cap_t: Option<f64>,
    /// With a scenario that has a [market]: plan each tier mix (on-demand only, reserved +
    /// on-demand, on-demand + spot, all three) and replay each plan RUNS times against seeded
    /// spot interruptions, with fallback to on-demand when a job's slack runs out; prints cost
    /// (the reserved fee included), carbon and deadline misses per mix.
    #[arg(long, value_name = "RUNS")]
    replay_market: Option<u32>,
    /// Seed of the interruption draws for --replay-market.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Work left unplaced under `--strict` (exit code 3).
#[derive(Debug)]
pub struct Incomplete(pub String);
impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Incomplete {}

fn reason_text(r: &Reason) -> String {
    r.to_string()
}

pub fn run(a: &PlanArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.server {
        let client = xisuan_server::client::Client::new(url, a.token.clone().or_else(|| std::env::var("XISUAN_TOKEN").ok()));
        return crate::server::remote_plan_with(&client, a.json);
    }
    let scenario = a.scenario.as_ref().expect("clap requires a scenario without --server");
    if !scenario.exists() {
        return Err(BadInput(format!("{}: no such scenario file", scenario.display())).into());
    }
    let mut sc = xisuan_io::scenario::load(scenario).map_err(|e| BadInput(format!("{e:#}")))?;
    use xisuan_model::limits::{in_range, MAX_CARBON_USD_PER_T};
    if let Some(c) = a.carbon_usd_per_t {
        in_range(c, 0.0, MAX_CARBON_USD_PER_T).map_err(|m| BadInput(format!("--carbon-usd-per-t: {m}")))?;
        sc.problem.objective.carbon_usd_per_t = c;
    }
    if let Some(c) = a.carbon_cap_t {
        in_range(c, 0.0, 1e12).map_err(|m| BadInput(format!("--carbon-cap-t: {m}")))?;
        sc.problem.objective.carbon_cap_t = Some(c);
    }
    if let Some(u) = a.unplaced_usd_per_gpu_hour {
        in_range(u, 0.0, xisuan_model::limits::MAX_USD_RATE).map_err(|m| BadInput(format!("--unplaced-usd-per-gpu-hour: {m}")))?;
        sc.problem.objective.unplaced_usd_per_gpu_hour = u;
    }
    xisuan_model::limits::positive(a.time_budget, 1e6).map_err(|m| BadInput(format!("--time-budget: {m}")))?;
    in_range(a.target_gap, 0.0, 1.0).map_err(|m| BadInput(format!("--target-gap: {m}")))?;
    // Flags change the problem after the scenario's own check: check it again.
    sc.problem.validate().map_err(|e| BadInput(format!("{e}")))?;
    let p = &sc.problem;
    let milp = Milp { time_limit_s: a.time_limit, mip_rel_gap: a.mip_gap, ..Milp::default() };
    milp.validate().map_err(|e| BadInput(format!("--time-limit/--mip-gap: {e}")))?;
    let t = std::time::Instant::now();
    let mut plan: Plan = match a.solver {
        SolverArg::Auto => Auto { time_budget_s: a.time_budget, target_gap: a.target_gap, ..Auto::default() }.solve(p)?,
        SolverArg::Milp => milp.solve(p)?,
        SolverArg::Heuristic => xisuan_milp::heuristic_with_lp_bound(p, &Heuristic::default(), &Milp::default(), 400_000)?,
    };
    if plan.stages.is_empty() {
        plan.stages.push(Stage { name: format!("{:?} solve", a.solver).to_lowercase(), seconds: t.elapsed().as_secs_f64() });
    }
    if !a.no_baselines {
        let t = std::time::Instant::now();
        plan.baselines = baselines(p);
        plan.stages.push(Stage { name: "baselines".into(), seconds: t.elapsed().as_secs_f64() });
    }
    let violations = check(p, &plan);
    if !violations.is_empty() {
        anyhow::bail!("internal error: the plan breaks its invariants: {}", violations.join("; "));
    }
    let solve = |q: &xisuan_plan::Problem| -> anyhow::Result<Plan> {
        Ok(match a.solver {
            SolverArg::Auto => Auto { time_budget_s: a.time_budget, target_gap: a.target_gap, ..Auto::default() }.solve(q)?,
            SolverArg::Milp => milp.solve(q)?,
            SolverArg::Heuristic => heuristic::solve(q, &Heuristic::default()),
        })
    };
    let market_replay = match (a.replay_market, &sc.market) {
        (None, _) => None,
        (Some(_), None) => return Err(BadInput("--replay-market: the scenario has no [market] section (see docs/scenario.md)".into()).into()),
        (Some(runs), Some(m)) => {
            xisuan_model::limits::count(runs as u64, 1, 100_000).map_err(|x| BadInput(format!("--replay-market: {x}")))?;
            Some(replay_mixes(p, m, runs, a.seed, &solve)?)
        }
    };
    let json_value = json!({
        "scenario": sc.name,
        "start_hour_utc": xisuan_catalog::series::format_hour(p.start_hour),
        "slots": p.slots,
        "units": {"cost": "USD", "carbon": "kgCO2e", "energy": "kWh", "bytes": "B", "slots": "hours from start", "latency": "ms", "demand": "requests/s"},
        "plan": plan,
        "market_replay": market_replay,
        "diagnostics": sc.diagnostics,
    });
    if let Some(out) = &a.out {
        std::fs::write(out, serde_json::to_string_pretty(&json_value)?).map_err(|e| BadInput(format!("--out {}: {e}", out.display())))?;
    }
    if a.json {
        crate::emit(&(serde_json::to_string_pretty(&json_value)? + "\n"))?;
    } else {
        let mut text = render(&sc, &plan, a.all_jobs);
        if let Some(rows) = &market_replay {
            text.push_str(&render_replay(rows, a.replay_market.unwrap_or(0), a.seed));
        }
        crate::emit(&text)?;
    }
    let unmet = plan.totals.unmet_rps_hours;
    if a.strict && (!plan.unplaced.is_empty() || unmet > 1e-9) {
        return Err(Incomplete(format!(
            "--strict: {} job(s) unplaced and {} rps-hours of demand unmet (reasons above)",
            plan.unplaced.len(),
            human(unmet)
        ))
        .into());
    }
    Ok(())
}

fn render(sc: &xisuan_io::scenario::Scenario, plan: &Plan, all: bool) -> String {
    let p = &sc.problem;
    let mut out = String::new();
    outln!(
        out,
        "Scenario: {} ({} sites, {} jobs, {} services, {} hourly slots from {})",
        sc.name,
        p.sites.len(),
        p.jobs.len(),
        p.services.len(),
        p.slots,
        xisuan_catalog::series::format_hour(p.start_hour)
    );
    outln!(out, "Solver: {}\n", plan.solver);

    let mut t = Table::new(&["job", "site", "accelerators", "start h", "end h", "transfer", "cost USD", "kgCO2e", "why not the runner-up"]);
    for (i, j) in plan.jobs.iter().enumerate() {
        if !all && i >= 20 {
            break;
        }
        let runner = j
            .rejected
            .iter()
            .filter_map(|r| match &r.reason {
                Reason::Costlier { extra_score, .. } => Some((extra_score, r)),
                _ => None,
            })
            .min_by(|a, b| a.0.total_cmp(b.0))
            .map(|(_, r)| format!("{}: {}", r.site, reason_text(&r.reason)))
            .unwrap_or_else(|| "no other feasible site".into());
        let transfer = j.transfer.as_ref().map(|x| format!("{} TB {:.1} h", human(x.bytes / 1e12), x.hours)).unwrap_or_else(|| "-".into());
        t.row(vec![
            j.job.clone(),
            j.site.clone(),
            format!("{} {}", j.gpus, j.accelerator),
            j.start_slot.to_string(),
            j.end_slot.to_string(),
            transfer,
            human(j.cost_usd),
            human(j.carbon_kg),
            runner,
        ]);
    }
    out.push_str(&t.render());
    if !all && plan.jobs.len() > 20 {
        outln!(out, "... {} more placed jobs (--all-jobs or --json for every one)", plan.jobs.len() - 20);
    }
    if !plan.unplaced.is_empty() {
        outln!(out, "\nUnplaced jobs, with every site's reason:");
        for u in &plan.unplaced {
            outln!(out, "  {}:", u.job);
            for r in &u.reasons {
                outln!(out, "    {:<22} {}", r.site, reason_text(&r.reason));
            }
        }
    }
    if !plan.services.is_empty() {
        let mut t = Table::new(&["service", "sites used", "max replicas/slot", "worst latency ms", "unmet rps-h", "cost USD", "kgCO2e"]);
        for s in &plan.services {
            let mut used: Vec<&str> = s.slots.iter().map(|x| x.site.as_str()).collect();
            used.sort();
            used.dedup();
            let max_rep = s.slots.iter().map(|x| x.replicas).max().unwrap_or(0);
            t.row(vec![
                s.service.clone(),
                used.join(","),
                max_rep.to_string(),
                human(s.worst_latency_ms),
                human(s.unmet_rps_hours),
                human(s.cost_usd),
                human(s.carbon_kg),
            ]);
        }
        outln!(out, "\nInference services:");
        out.push_str(&t.render());
        for s in &plan.services {
            for r in s.rejected.iter().filter(|r| matches!(r.reason, Reason::Latency { .. })).take(3) {
                outln!(out, "  {} not served from {}: {}", s.service, r.site, reason_text(&r.reason));
            }
        }
    }

    let mut t = Table::new(&[
        "plan",
        "cost USD",
        "electricity USD",
        "tCO2e",
        "energy MWh",
        "penalty USD",
        "objective",
        "placed",
        "unplaced",
        "late",
        "unmet rps-h",
        "cost vs plan",
        "carbon vs plan",
    ]);
    let row = |name: &str, x: &xisuan_plan::Totals, t: &mut Table| {
        let rel = |a: f64, b: f64| if b.abs() > 0.0 { format!("{:+.1}%", (a / b - 1.0) * 100.0) } else { "-".into() };
        t.row(vec![
            name.into(),
            human(x.cost_usd),
            human(x.electricity_usd),
            human(x.carbon_kg / 1000.0),
            human(x.energy_kwh / 1000.0),
            human(x.penalty_usd),
            human(x.objective),
            x.jobs_placed.to_string(),
            x.jobs_unplaced.to_string(),
            x.deadline_misses.to_string(),
            human(x.unmet_rps_hours),
            rel(x.cost_usd, plan.totals.cost_usd),
            rel(x.carbon_kg, plan.totals.carbon_kg),
        ]);
    };
    row(&format!("{} (this plan)", plan.solver), &plan.totals, &mut t);
    for b in &plan.baselines {
        row(&b.name, &b.totals, &mut t);
    }
    outln!(out, "\nTotals (objective = cost weight x USD + carbon price x tCO2e + delay USD/h x hours late + {} USD per accelerator-hour of work left undone):", human(p.objective.unplaced_usd_per_gpu_hour));
    out.push_str(&t.render());
    for b in &plan.baselines {
        outln!(out, "  {}: {}", b.name, b.description);
    }
    outln!(out, "\nData moved: {} TB, transfers {} USD", human(plan.totals.bytes_moved / 1e12), human(plan.totals.transfer_usd));
    for b in &plan.bounds {
        outln!(out, "Lower bound ({}): {}", b.kind, human(b.value));
    }
    match plan.gap {
        Some(g) => outln!(out, "Gap to the best bound: {:.3}%", g * 100.0),
        None => outln!(out, "Gap to the best bound: unknown (no valid bound)"),
    }
    for n in &plan.notes {
        outln!(out, "  note: {n}");
    }
    if !plan.stages.is_empty() {
        let parts: Vec<String> = plan.stages.iter().map(|s| format!("{} {:.2} s", s.name, s.seconds)).collect();
        outln!(out, "Time: {}", parts.join(", "));
    }
    let important: Vec<_> = sc.diagnostics.iter().filter(|d| d.severity != xisuan_model::Severity::Info).collect();
    let infos = sc.diagnostics.len() - important.len();
    if !important.is_empty() || infos > 0 {
        outln!(out, "\nDiagnostics ({} notes; all in --json):", infos);
        for d in important {
            outln!(out, "  {d}");
        }
    }
    out
}

/// One tier mix, planned and replayed.
#[derive(serde::Serialize)]
struct MixRow {
    mix: &'static str,
    placed: usize,
    jobs: usize,
    /// The reserved capacity's fee over the horizon (0 without reserved capacity), USD.
    reserved_fee_usd: f64,
    /// What the plan expected the work to cost (accelerator-hours bought, power, transfers), USD.
    planned_usd: f64,
    replay: xisuan_sim::market::Replay,
    /// Reserved fee + replayed cost, USD.
    total_usd: f64,
}

/// Plans each tier mix of the scenario's market and replays it against spot interruptions.
fn replay_mixes(
    p: &xisuan_plan::Problem,
    m: &xisuan_io::scenario::Market,
    runs: u32,
    seed: u64,
    solve: &dyn Fn(&xisuan_plan::Problem) -> anyhow::Result<Plan>,
) -> anyhow::Result<Vec<MixRow>> {
    use xisuan_plan::market::{tier_of, Tier};
    let mut rows = Vec::new();
    for (mix, keep) in [
        ("on-demand only", [false, true, false]),
        ("reserved + on-demand", [true, true, false]),
        ("on-demand + spot", [false, true, true]),
        ("reserved + on-demand + spot", [true, true, true]),
    ] {
        let mut q = p.clone();
        for s in &mut q.sites {
            for (acc, count) in &mut s.capacity {
                let i = match tier_of(acc).1 {
                    Tier::Reserved => 0,
                    Tier::OnDemand => 1,
                    Tier::Spot => 2,
                };
                if !keep[i] {
                    *count = 0;
                }
            }
        }
        let plan = solve(&q)?;
        let replay = xisuan_sim::market::replay(&q, &plan, &m.spot, &m.checkpoint_h, runs, seed);
        let fee = if keep[0] { m.reserved_fixed_usd } else { 0.0 };
        rows.push(MixRow {
            mix,
            placed: plan.jobs.len(),
            jobs: q.jobs.len(),
            reserved_fee_usd: fee,
            planned_usd: plan.jobs.iter().map(|j| j.cost_usd).sum(),
            total_usd: fee + replay.cost_usd,
            replay,
        });
    }
    Ok(rows)
}

fn render_replay(rows: &[MixRow], runs: u32, seed: u64) -> String {
    let mut t = Table::new(&[
        "tier mix",
        "placed",
        "reserved fee USD",
        "planned USD",
        "replayed USD",
        "total USD",
        "tCO2e",
        "spot jobs",
        "interruptions",
        "fallbacks",
        "deadline misses",
    ]);
    for r in rows {
        t.row(vec![
            r.mix.into(),
            format!("{}/{}", r.placed, r.jobs),
            human(r.reserved_fee_usd),
            human(r.planned_usd),
            human(r.replay.cost_usd),
            human(r.total_usd),
            format!("{:.1}", r.replay.carbon_kg / 1000.0),
            r.replay.spot_jobs.to_string(),
            format!("{:.1}", r.replay.interruptions),
            format!("{:.1}", r.replay.fallbacks),
            format!("{:.2} ({:.2}%)", r.replay.deadline_misses, r.replay.deadline_miss_pct),
        ]);
    }
    format!(
        "\nCompute market: each tier mix planned, then replayed {runs} times against spot interruptions (seed {seed}; means per run; a spot job whose slack runs out finishes on on-demand):\n{}",
        t.render()
    )
}

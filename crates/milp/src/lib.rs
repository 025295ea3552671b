//! The exact planner: a time-indexed mixed-integer program over the same candidates the
//! heuristic scores, solved by HiGHS. It reports two lower bounds: the LP relaxation (solved
//! apart, integrality dropped) and HiGHS's own best MIP bound, and warm-starts from the
//! heuristic's plan so that a time limit still returns a good plan.
//!
//! Formulation (one binary per feasible (job, site, accelerator, start); Nomad-style filtering
//! has already removed the impossible ones, so deadlines, residency and accelerator types are
//! satisfied by construction):
//! - each job: Σ starts + unplaced = 1 (unplaced is penalised far above any placement);
//! - pausable jobs: a site choice z and per-slot binaries x with Σ_t x = slots · z (they hold
//!   whole hours, so the cost of any slot set is exact);
//! - each (site, accelerator, slot): Σ running jobs' accelerators + services' replicas ≤ capacity;
//! - each service, region, slot: Σ flows to sites within the latency objective + unmet = demand,
//!   and flows at a site ≤ its integer replicas × replica throughput;
//! - optionally Σ emissions ≤ cap.
//!
//! This adapter knows HiGHS; the `plan` crate does not. `auto` is the default way to plan:
//! heuristic, completion, Lagrangian bound and repair, then the MILP only where it can still
//! close the gap, within a time budget.

pub mod auto;

use highs::{ColProblem, HighsModelStatus, Row, Sense};
use std::collections::HashMap;
use xisuan_plan::assemble::{assemble, Decisions, JobDecision, ServiceDecision};
use xisuan_plan::candidates::{Ctx, JobOptions};
use xisuan_plan::heuristic::{self, Heuristic};
use xisuan_plan::{Bound, Plan, Problem, SolveError, Solver};

/// Settings of the MILP solve.
#[derive(Debug, Clone)]
pub struct Milp {
    /// Wall-clock limit for the MIP solve, seconds.
    pub time_limit_s: f64,
    /// Stop when the incumbent is within this relative gap of the best bound.
    pub mip_rel_gap: f64,
    /// Also solve the LP relaxation apart and report it as a bound.
    pub lp_bound: bool,
    /// Start from the heuristic's plan.
    pub warm_start: bool,
    pub threads: u32,
    /// Extra HiGHS options (name, value), e.g. ("mip_heuristic_effort", 0.3).
    pub options: Vec<(String, f64)>,
    /// Print HiGHS's log to stderr.
    pub verbose: bool,
}

impl Milp {
    /// Checks the settings before they reach HiGHS, which aborts on values out of range.
    pub fn validate(&self) -> Result<(), SolveError> {
        use xisuan_model::limits::in_range;
        let f = |name: &str, r: Result<f64, String>| r.map(|_| ()).map_err(|m| SolveError::Settings(format!("{name}: {m}")));
        f("time limit (s)", xisuan_model::limits::positive(self.time_limit_s, 1e7))?;
        f("MIP gap", in_range(self.mip_rel_gap, 0.0, 1.0))?;
        if self.threads == 0 || self.threads > 1024 {
            return Err(SolveError::Settings(format!("threads: must be 1 to 1024, got {}", self.threads)));
        }
        for (k, v) in &self.options {
            if !v.is_finite() {
                return Err(SolveError::Settings(format!("HiGHS option {k}: must be finite, got {v}")));
            }
        }
        Ok(())
    }
}

impl Default for Milp {
    fn default() -> Self {
        Milp { time_limit_s: 60.0, mip_rel_gap: 0.002, lp_bound: true, warm_start: true, threads: 1, options: Vec::new(), verbose: false }
    }
}

/// What a column means.
#[derive(Debug, Clone, Copy)]
enum Var {
    Start { job: usize, option: usize, start: u32 },
    Choose { job: usize, option: usize },
    Run { job: usize, option: usize, slot: u32 },
    End { job: usize },
    Unplaced { job: usize },
    Replicas { svc: usize, site: usize, slot: u32 },
    Flow { svc: usize, region: usize, site: usize, slot: u32 },
    Unmet { svc: usize, region: usize, slot: u32 },
    UnmetReplicas { svc: usize, region: usize, slot: u32 },
}

struct Model {
    pb: ColProblem,
    vars: Vec<Var>,
    /// Constant added to the solver's objective (delay offsets of pausable jobs).
    offset: f64,
    /// Penalty coefficient of each unplaced job and of unmet demand (to separate them out).
    penalty_cols: Vec<(usize, f64)>,
}

fn build(ctx: &Ctx, opts: &[JobOptions], integer: bool) -> Model {
    let p = ctx.p;
    let obj = &p.objective;
    let mut pb = ColProblem::default();
    let mut vars = Vec::new();
    let mut penalty_cols = Vec::new();
    let mut offset = 0.0;
    let mut cap_rows: HashMap<(usize, usize, u32), Row> = HashMap::new();
    let mut cap_row = |pb: &mut ColProblem, s: usize, a: usize, t: u32| -> Row {
        *cap_rows.entry((s, a, t)).or_insert_with(|| pb.add_row(..=ctx.capacity[s][a] as f64))
    };
    let carbon_row = obj.carbon_cap_t.map(|cap| pb.add_row(..=cap * 1000.0));
    let add = |pb: &mut ColProblem, vars: &mut Vec<Var>, v: Var, cost: f64, hi: f64, int: bool, rows: &[(Row, f64)]| {
        pb.add_column_with_integrality(cost, 0.0..=hi, rows, int && integer);
        vars.push(v);
    };

    for (ji, j) in p.jobs.iter().enumerate() {
        let jo = &opts[ji];
        let assign = pb.add_row(1.0..=1.0);
        // Leaving a job out pays the objective's own penalty, so the MILP's objective and its
        // bounds are on the plan's scale.
        let penalty = obj.job_penalty(j);
        penalty_cols.push((vars.len(), penalty));
        add(&mut pb, &mut vars, Var::Unplaced { job: ji }, penalty, 1.0, false, &[(assign, 1.0)]);
        if j.pausable {
            let ideal_end = Ctx::ideal_end(j);
            let mut end_rows: HashMap<u32, Row> = HashMap::new();
            if obj.delay_usd_per_hour > 0.0 {
                // e_j ≥ (t + 1) · x[j,o,t]: the job ends after its last slot run.
                for o in &jo.options {
                    for t in o.first_start..o.last_start + o.slots {
                        end_rows.entry(t).or_insert_with(|| pb.add_row(0.0..));
                    }
                }
                let rows: Vec<(Row, f64)> = end_rows.values().map(|&r| (r, 1.0)).collect();
                offset -= obj.delay_usd_per_hour * ideal_end;
                // e_j itself, bounded below by the ideal end (delay is never negative).
                pb.add_column_with_integrality(obj.delay_usd_per_hour, ideal_end..=f64::INFINITY, &rows, false);
                vars.push(Var::End { job: ji });
            }
            for (oi, o) in jo.options.iter().enumerate() {
                let count = pb.add_row(0.0..=0.0);
                let rates = &ctx.rates[o.site];
                let rate = |t: u32| obj.score(rates.usd_per_kw[t as usize], rates.kg_per_kw[t as usize], 0.0) * o.kw_total;
                let window = o.first_start..o.last_start + o.slots;
                // Pausable jobs hold whole hours (see `Ctx::eval_slots`), so this is exact.
                // Churn (re-planning) is charged here when the site changes; a pausable job
                // that stays but starts elsewhere pays it in `assemble` only.
                let churn = match j.previous {
                    Some((ps, _)) if ps != o.site => obj.churn_usd,
                    _ => 0.0,
                };
                let fixed = obj.score(o.gpu_hour_usd_total * o.slots as f64 + o.transfer_usd, 0.0, 0.0) + churn;
                add(&mut pb, &mut vars, Var::Choose { job: ji, option: oi }, fixed, 1.0, true, &[(assign, 1.0), (count, -(o.slots as f64))]);
                for t in window {
                    let mut rows = vec![(count, 1.0), (cap_row(&mut pb, o.site, o.acc, t), j.gpus as f64)];
                    if let Some(r) = end_rows.get(&t) {
                        rows.push((*r, -(t as f64 + 1.0)));
                    }
                    if let Some(c) = carbon_row {
                        rows.push((c, o.kw_total * rates.kg_per_kw[t as usize]));
                    }
                    add(&mut pb, &mut vars, Var::Run { job: ji, option: oi, slot: t }, rate(t), 1.0, true, &rows);
                }
            }
        } else {
            for (oi, o) in jo.options.iter().enumerate() {
                for t in o.first_start..=o.last_start {
                    let e = ctx.eval(j, o, t);
                    let mut rows = Vec::with_capacity(o.slots as usize + 2);
                    rows.push((assign, 1.0));
                    for u in t..t + o.slots {
                        rows.push((cap_row(&mut pb, o.site, o.acc, u), j.gpus as f64));
                    }
                    if let Some(c) = carbon_row {
                        rows.push((c, e.kg));
                    }
                    add(&mut pb, &mut vars, Var::Start { job: ji, option: oi, start: t }, e.score, 1.0, true, &rows);
                }
            }
        }
    }

    for (vi, v) in p.services.iter().enumerate() {
        let Some(acc) = ctx.accs.ix(&v.accelerator) else { continue };
        let feasible: Vec<Vec<usize>> = (0..p.regions.len()).map(|g| ctx.service_sites(v, g).0).collect();
        // Unmet demand pays whole replicas (`Objective::unmet_penalty`): u ≤ rps · n, n integer.
        let replica_penalty = obj.replica_penalty(v);
        for t in 0..p.slots {
            let mut site_rows: HashMap<usize, Row> = HashMap::new();
            for (g, (dem, sites_g)) in v.demand.iter().zip(&feasible).enumerate() {
                let d = dem[t as usize];
                if d <= 0.0 {
                    continue;
                }
                let demand = pb.add_row(d..=d);
                let whole = pb.add_row(..=0.0);
                add(&mut pb, &mut vars, Var::Unmet { svc: vi, region: g, slot: t }, 0.0, f64::INFINITY, false, &[(demand, 1.0), (whole, 1.0)]);
                penalty_cols.push((vars.len(), replica_penalty));
                let most = (d / v.replica_rps - 1e-9).ceil().max(1.0);
                add(&mut pb, &mut vars, Var::UnmetReplicas { svc: vi, region: g, slot: t }, replica_penalty, most, true, &[(whole, -v.replica_rps)]);
                for &s in sites_g {
                    let sr = *site_rows.entry(s).or_insert_with(|| pb.add_row(..=0.0));
                    add(
                        &mut pb,
                        &mut vars,
                        Var::Flow { svc: vi, region: g, site: s, slot: t },
                        0.0,
                        f64::INFINITY,
                        false,
                        &[(demand, 1.0), (sr, 1.0)],
                    );
                }
            }
            let mut sites: Vec<_> = site_rows.into_iter().collect();
            sites.sort_by_key(|x| x.0);
            for (s, sr) in sites {
                let (usd, kg, _) = ctx.replica_eval(v, s, t);
                let mut rows = vec![(sr, -v.replica_rps), (cap_row(&mut pb, s, acc, t), v.gpus_per_replica as f64)];
                if let Some(c) = carbon_row {
                    rows.push((c, kg));
                }
                let max_r = (ctx.capacity[s][acc] / v.gpus_per_replica) as f64;
                add(&mut pb, &mut vars, Var::Replicas { svc: vi, site: s, slot: t }, obj.score(usd, kg, 0.0), max_r, true, &rows);
            }
        }
    }
    Model { pb, vars, offset, penalty_cols }
}

/// Column values of a set of decisions, for warm-starting HiGHS.
fn warm(m: &Model, ctx: &Ctx, d: &Decisions) -> Vec<f64> {
    let p = ctx.p;
    let mut replicas: HashMap<(usize, usize, u32), f64> = HashMap::new();
    let mut flows: HashMap<(usize, usize, usize, u32), f64> = HashMap::new();
    for (vi, sds) in d.services.iter().enumerate() {
        for sd in sds {
            replicas.insert((vi, sd.site, sd.slot), sd.replicas as f64);
            for &(g, x) in &sd.served {
                flows.insert((vi, g, sd.site, sd.slot), x);
            }
        }
    }
    let mut served: HashMap<(usize, usize, u32), f64> = HashMap::new();
    for (&(v, g, _, t), x) in &flows {
        *served.entry((v, g, t)).or_default() += x;
    }
    let unmet_of = |svc: usize, region: usize, slot: u32| {
        (p.services[svc].demand[region][slot as usize] - served.get(&(svc, region, slot)).copied().unwrap_or(0.0)).max(0.0)
    };
    m.vars
        .iter()
        .map(|v| match *v {
            Var::Start { job, option, start } => matches!(&d.jobs[job], Some(jd) if jd.option == option && jd.slots[0] == start) as u8 as f64,
            Var::Choose { job, option } => matches!(&d.jobs[job], Some(jd) if jd.option == option) as u8 as f64,
            Var::Run { job, option, slot } => matches!(&d.jobs[job], Some(jd) if jd.option == option && jd.slots.contains(&slot)) as u8 as f64,
            Var::End { job } => {
                let j = &p.jobs[job];
                let ideal = Ctx::ideal_end(j);
                match &d.jobs[job] {
                    Some(jd) => (*jd.slots.last().unwrap() as f64 + 1.0).max(ideal),
                    None => ideal,
                }
            }
            Var::Unplaced { job } => d.jobs[job].is_none() as u8 as f64,
            Var::Replicas { svc, site, slot } => replicas.get(&(svc, site, slot)).copied().unwrap_or(0.0),
            Var::Flow { svc, region, site, slot } => flows.get(&(svc, region, site, slot)).copied().unwrap_or(0.0),
            Var::Unmet { svc, region, slot } => unmet_of(svc, region, slot),
            Var::UnmetReplicas { svc, region, slot } => {
                let v = &p.services[svc];
                (unmet_of(svc, region, slot) / v.replica_rps - 1e-9).ceil().max(0.0)
            }
        })
        .collect()
}

fn decisions(m: &Model, ctx: &Ctx, cols: &[f64]) -> Decisions {
    let p = ctx.p;
    let mut jobs: Vec<Option<JobDecision>> = vec![None; p.jobs.len()];
    let mut runs: HashMap<(usize, usize), Vec<u32>> = HashMap::new();
    let mut reps: HashMap<(usize, usize, u32), u32> = HashMap::new();
    let mut flows: HashMap<(usize, usize, u32), Vec<(usize, f64)>> = HashMap::new();
    let mut unmet = vec![0.0; p.services.len()];
    for (v, &x) in m.vars.iter().zip(cols) {
        match *v {
            Var::Start { job, option, start } if x > 0.5 => {
                let o = &ctx_opts_slots(ctx, job, option);
                jobs[job] = Some(JobDecision { option, slots: (start..start + o).collect() });
            }
            Var::Run { job, option, slot } if x > 0.5 => runs.entry((job, option)).or_default().push(slot),
            Var::Replicas { svc, site, slot } if x > 0.5 => {
                reps.insert((svc, site, slot), x.round() as u32);
            }
            Var::Flow { svc, region, site, slot } if x > 1e-9 => flows.entry((svc, site, slot)).or_default().push((region, x)),
            Var::Unmet { svc, .. } if x > 1e-9 => unmet[svc] += x,
            _ => {}
        }
    }
    for ((job, option), mut slots) in runs {
        slots.sort_unstable();
        jobs[job] = Some(JobDecision { option, slots });
    }
    let mut services = vec![Vec::new(); p.services.len()];
    let mut keys: Vec<_> = reps.keys().copied().collect();
    keys.sort();
    for (svc, site, slot) in keys {
        let replicas = reps[&(svc, site, slot)];
        let served = flows.remove(&(svc, site, slot)).unwrap_or_default();
        services[svc].push(ServiceDecision { slot, site, replicas, served });
    }
    Decisions { jobs, services, unmet, late_ok: false }
}

/// Slots a job's option occupies (looked up again from the filter stage).
fn ctx_opts_slots(ctx: &Ctx, job: usize, option: usize) -> u32 {
    let j = &ctx.p.jobs[job];
    let o = &j.accelerators[ctx.job_options(j).options[option].option];
    ((j.hours / o.speed) - 1e-9).ceil().max(1.0) as u32
}

fn configure(model: &mut highs::Model, s: &Milp) {
    if s.verbose {
        model.set_option("output_flag", true);
        model.set_option("log_to_console", true);
    } else {
        model.make_quiet();
    }
    for (k, v) in &s.options {
        model.set_option(k.as_str(), *v);
    }
    model.set_option("time_limit", s.time_limit_s);
    model.set_option("mip_rel_gap", s.mip_rel_gap);
    model.set_option("threads", s.threads as i32);
    // Same answer for the same model: HiGHS's own random seed, fixed.
    model.set_option("random_seed", 0);
}

/// The LP relaxation's optimum (a lower bound on every plan's objective, penalties included).
pub fn lp_bound(p: &Problem, settings: &Milp) -> Result<Bound, SolveError> {
    p.validate()?;
    settings.validate()?;
    let ctx = Ctx::new(p);
    let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
    lp_bound_of(&ctx, &opts, settings)
}

fn lp_bound_of(ctx: &Ctx, opts: &[JobOptions], settings: &Milp) -> Result<Bound, SolveError> {
    let m = build(ctx, opts, false);
    let offset = m.offset;
    let mut model = m.pb.optimise(Sense::Minimise);
    configure(&mut model, settings);
    let solved = model.try_solve().map_err(|e| SolveError::Solver(format!("HiGHS LP: {e:?}")))?;
    match solved.status() {
        HighsModelStatus::Optimal => Ok(Bound { value: solved.objective_value() + offset, kind: "lp_relaxation".into() }),
        HighsModelStatus::ModelEmpty => Ok(Bound { value: offset, kind: "lp_relaxation".into() }),
        s => Err(SolveError::Solver(format!("LP relaxation ended with status {s:?}"))),
    }
}

impl Solver for Milp {
    fn name(&self) -> &str {
        "milp"
    }

    fn solve(&self, p: &Problem) -> Result<Plan, SolveError> {
        p.validate()?;
        self.validate()?;
        let ctx = Ctx::new(p);
        let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
        let start = self.warm_start.then(|| heuristic::decide_complete(&ctx, &opts, &Heuristic::default()));
        self.solve_from(&ctx, &opts, start)
    }
}

impl Milp {
    /// Solves from a warm start (any solver's decisions) on a context built by the caller.
    pub fn solve_from(&self, ctx: &Ctx, opts: &[JobOptions], start_decisions: Option<Decisions>) -> Result<Plan, SolveError> {
        let p = ctx.p;
        let (ctx, opts) = (ctx, opts);
        let m = build(ctx, opts, true);
        let n_cols = m.vars.len();
        let offset = m.offset;
        let warm_cols = start_decisions.as_ref().map(|d| warm(&m, ctx, d));
        let penalty_cols = m.penalty_cols.clone();
        let vars = m.vars.clone();
        let mut model = m.pb.optimise(Sense::Minimise);
        configure(&mut model, self);
        if let Some(cols) = &warm_cols {
            // A rejected warm start only costs time; the solve goes on without it.
            let _ = model.try_set_solution(Some(cols), None, None, None);
        }
        let solved = model.try_solve().map_err(|e| SolveError::Solver(format!("HiGHS: {e:?}")))?;
        let status = solved.status();
        let mut notes = vec![format!("HiGHS status {status:?}; {n_cols} columns")];
        let (d, mip_obj) = match status {
            HighsModelStatus::Optimal | HighsModelStatus::ReachedTimeLimit | HighsModelStatus::ReachedIterationLimit
                if solved.get_solution().columns().len() == n_cols =>
            {
                let cols = solved.get_solution().columns().to_vec();
                let m2 = Model { pb: ColProblem::default(), vars, offset, penalty_cols: penalty_cols.clone() };
                (decisions(&m2, ctx, &cols), Some(solved.objective_value() + offset))
            }
            HighsModelStatus::ModelEmpty => (
                Decisions {
                    jobs: vec![None; p.jobs.len()],
                    services: vec![Vec::new(); p.services.len()],
                    unmet: vec![0.0; p.services.len()],
                    late_ok: false,
                },
                Some(offset),
            ),
            s => match start_decisions.clone() {
                Some(d) => {
                    notes.push(format!("MILP returned no solution ({s:?}); plan is the heuristic's"));
                    (d, None)
                }
                None => return Err(SolveError::Solver(format!("HiGHS ended with status {s:?} and no solution"))),
            },
        };
        let mut d = d;
        xisuan_plan::complete::complete(ctx, opts, &mut d);
        let mut plan = assemble(ctx, opts, &d, "milp");
        // A rejected warm start can leave HiGHS with a worse incumbent at its time limit.
        if let Some(sd) = &start_decisions {
            let start = assemble(ctx, opts, sd, "milp");
            if start.totals.objective < plan.totals.objective - 1e-9 * plan.totals.objective.abs() {
                notes.push("HiGHS's incumbent was worse than its warm start; plan is the warm start".into());
                plan = start;
            }
        }
        // HiGHS's best bound on the MIP objective (penalties included).
        if let (Ok(dual), Some(obj)) = (solved.double_info_value(c"mip_dual_bound"), mip_obj) {
            if dual.is_finite() {
                plan.bounds.push(Bound { value: dual + offset, kind: "mip_dual".into() });
            }
            let gap = solved.mip_gap();
            if gap.is_finite() {
                notes.push(format!("HiGHS MIP gap {:.4}% (objective {obj:.2})", gap * 100.0));
            }
        }
        if self.lp_bound {
            match lp_bound_of(ctx, opts, self) {
                Ok(b) => plan.bounds.push(b),
                Err(e) => notes.push(format!("LP bound not computed: {e}")),
            }
        }
        plan.notes = notes;
        plan.set_gap();
        Ok(plan)
    }
}

/// Heuristic plan with the LP-relaxation bound added when the problem is small enough to solve
/// it (`max_columns`); larger problems keep the capacity-relaxation bound alone.
pub fn heuristic_with_lp_bound(p: &Problem, h: &Heuristic, settings: &Milp, max_columns: usize) -> Result<Plan, SolveError> {
    p.validate()?;
    settings.validate()?;
    let mut plan = heuristic::solve(p, h);
    let ctx = Ctx::new(p);
    let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
    let columns: usize = opts
        .iter()
        .zip(&p.jobs)
        .map(|(jo, j)| jo.options.iter().map(|o| (o.last_start - o.first_start + 1 + if j.pausable { o.slots } else { 0 }) as usize).sum::<usize>())
        .sum();
    if columns <= max_columns {
        match lp_bound_of(&ctx, &opts, settings) {
            Ok(b) => plan.bounds.push(b),
            Err(e) => plan.notes.push(format!("LP bound not computed: {e}")),
        }
    } else {
        plan.notes.push(format!("LP bound skipped ({columns} columns); capacity-relaxation bound only"));
    }
    plan.set_gap();
    Ok(plan)
}

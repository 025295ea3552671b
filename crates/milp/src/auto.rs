//! The default planner: an answer in seconds with a proven gap, at any size.
//!
//! 1. the heuristic, then the completion passes (`plan::complete`);
//! 2. the capacity-relaxation bound (instant) and the Lagrangian bound (`plan::lagrange`),
//!    iterated within a share of the time budget;
//! 3. repairs of the heuristic's plan steered by the Lagrangian capacity prices (their mean
//!    over the iterations, and the best bound's), kept if they score better;
//! 4. only if the gap is still above the target and the MILP is small enough to help, the MILP
//!    warm-started from the best plan, with what is left of the budget.
//!
//! Each stage's wall time is recorded in `Plan::stages`. This adapter reads the clock (the
//! `plan` crate does not) and passes a stop function into the Lagrangian loop.

use crate::Milp;
use std::time::Instant;
use xisuan_plan::assemble::{assemble, objective_of};
use xisuan_plan::candidates::{Ctx, JobOptions};
use xisuan_plan::heuristic::{self, capacity_relaxation_bound, decide_complete, decide_with_prices, Heuristic};
use xisuan_plan::lagrange::{relax_from, Settings};
use xisuan_plan::{Plan, Problem, SolveError, Solver, Stage};

/// Settings of the default planner.
#[derive(Debug, Clone)]
pub struct Auto {
    /// Wall-clock seconds for the whole solve (HiGHS may overrun its share a little).
    pub time_budget_s: f64,
    /// Stop improving once the proven gap is at most this.
    pub target_gap: f64,
    /// The MILP runs only below this many columns: HiGHS checks its time limit between
    /// phases and was seen to overrun it fivefold at 46,000 columns (a 250-job batch), so
    /// larger problems rely on the Lagrangian bound to stay within the budget.
    pub milp_max_columns: usize,
    pub lagrange_iterations: u32,
    pub heuristic: Heuristic,
}

impl Default for Auto {
    fn default() -> Self {
        Auto { time_budget_s: 30.0, target_gap: 0.01, milp_max_columns: 20_000, lagrange_iterations: 400, heuristic: Heuristic::default() }
    }
}

/// Columns the MILP would have for these options.
pub fn columns(p: &Problem, opts: &[JobOptions]) -> usize {
    let jobs: usize = opts
        .iter()
        .zip(&p.jobs)
        .map(|(jo, j)| jo.options.iter().map(|o| (o.last_start - o.first_start + 1 + if j.pausable { o.slots } else { 0 }) as usize).sum::<usize>())
        .sum();
    let services: usize = p.services.iter().map(|v| v.demand.len() * p.sites.len() * p.slots as usize).sum();
    jobs + services
}

impl Solver for Auto {
    fn name(&self) -> &str {
        "auto"
    }

    fn solve(&self, p: &Problem) -> Result<Plan, SolveError> {
        p.validate()?;
        if !(self.time_budget_s > 0.0 && self.time_budget_s.is_finite()) {
            return Err(SolveError::Settings(format!("time budget: must be a positive number of seconds, got {}", self.time_budget_s)));
        }
        let t0 = Instant::now();
        let mut stages = Vec::new();
        let mut lap = Instant::now();
        // Stages that repeat (rounds of the Lagrangian and its repair) add up under one name.
        let mut mark = |name: &str, stages: &mut Vec<Stage>| {
            let secs = lap.elapsed().as_secs_f64();
            match stages.iter_mut().find(|s| s.name == name) {
                Some(s) => s.seconds += secs,
                None => stages.push(Stage { name: name.into(), seconds: secs }),
            }
            lap = Instant::now();
        };
        let ctx = Ctx::new(p);
        let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
        let capped = p.objective.carbon_cap_t.is_some();
        // With a carbon cap, the heuristic meets it by raising its carbon price (its own solve);
        // its decisions are rebuilt for the MILP's warm start only when the cap is absent.
        // Without a cap the plan is assembled (reasons and all) once, at the end; candidates
        // are compared by `objective_of`.
        let (mut best, mut decisions) =
            if capped { (Some(heuristic::solve(p, &self.heuristic)), None) } else { (None, Some(decide_complete(&ctx, &opts, &self.heuristic))) };
        let mut best_objective = match (&best, &decisions) {
            (Some(plan), _) => plan.totals.objective,
            (None, Some(d)) => objective_of(&ctx, &opts, d),
            (None, None) => unreachable!("one of the two is set"),
        };
        let mut repaired = false;
        mark("heuristic and completion", &mut stages);
        let mut bounds = vec![capacity_relaxation_bound(&ctx, &opts)];
        mark("capacity-relaxation bound", &mut stages);
        let gap_of = |obj: f64, bound: f64| (obj - bound) / obj.abs().max(1e-9);
        let budget = self.time_budget_s;
        let settings = Settings { max_iterations: self.lagrange_iterations, target_gap: self.target_gap };
        // Rounds of Lagrangian iterations, each followed by a repair steered by its prices;
        // a better plan tightens the next round's step target. Up to 70% of the budget; the
        // MILP, where it runs, gets the rest.
        let rounds = 2;
        let mut relaxation: Option<xisuan_plan::lagrange::Relaxation> = None;
        let mut iterations = 0;
        let steered = Heuristic { order: xisuan_plan::heuristic::Order::Regret, ..self.heuristic.clone() };
        for round in 0..rounds {
            let until = budget * [0.4, 0.75][round];
            let mut stop = |_it: u32, _b: f64| t0.elapsed().as_secs_f64() > until;
            let r = relax_from(&ctx, &opts, best_objective, &settings, relaxation.as_ref(), &mut stop);
            iterations += r.iterations;
            mark("Lagrangian bound", &mut stages);
            if !capped {
                // Repairs steered by the prices averaged over the iterations and by those of
                // the best bound; the better plan is kept.
                for prices in [&r.mean_prices, &r.prices] {
                    let d = decide_with_prices(&ctx, &opts, &steered, prices);
                    let objective = objective_of(&ctx, &opts, &d);
                    if objective < best_objective - 1e-9 * best_objective.abs() {
                        best_objective = objective;
                        decisions = Some(d);
                        repaired = true;
                    }
                }
                mark("repair with capacity prices", &mut stages);
            }
            let done = gap_of(best_objective, r.bound.value) <= self.target_gap || t0.elapsed().as_secs_f64() > 0.75 * budget;
            relaxation = Some(r);
            if done {
                break;
            }
        }
        let mut best = match best.take() {
            Some(plan) => plan,
            None => assemble(&ctx, &opts, decisions.as_ref().expect("uncapped runs keep decisions"), "heuristic"),
        };
        if repaired {
            best.notes.push("plan repaired with the Lagrangian capacity prices".into());
        }
        mark("assembling the plan", &mut stages);
        let relaxation = relaxation.expect("at least one round");
        bounds.push(relaxation.bound.clone());
        let lagrangian_iterations = iterations;
        let bound = bounds.iter().map(|b| b.value).fold(f64::NEG_INFINITY, f64::max);
        let n_cols = columns(p, &opts);
        let left = budget - t0.elapsed().as_secs_f64();
        let mut solver = "auto: heuristic + Lagrangian".to_string();
        if gap_of(best.totals.objective, bound) > self.target_gap && n_cols <= self.milp_max_columns && left > 1.0 {
            // HiGHS checks its limit between phases and can overrun it severalfold on hard
            // models, so it gets half of what is left.
            let milp = Milp { time_limit_s: 0.5 * left, lp_bound: false, mip_rel_gap: self.target_gap, ..Milp::default() };
            match milp.solve_from(&ctx, &opts, decisions.clone()) {
                Ok(m) => {
                    bounds.extend(m.bounds.iter().cloned());
                    best.notes.extend(m.notes.iter().map(|n| format!("MILP: {n}")));
                    if m.totals.objective < best.totals.objective - 1e-9 * best.totals.objective.abs()
                        && (!capped || m.totals.carbon_kg <= p.objective.carbon_cap_t.unwrap_or(f64::INFINITY) * 1000.0 + 1e-6)
                    {
                        let notes = std::mem::take(&mut best.notes);
                        best = m;
                        best.notes = notes;
                        solver = "auto: heuristic + Lagrangian + MILP".into();
                    }
                }
                Err(e) => best.notes.push(format!("MILP not used: {e}")),
            }
            mark("MILP", &mut stages);
        } else if n_cols > self.milp_max_columns {
            best.notes.push(format!("MILP skipped: {n_cols} columns, above {}", self.milp_max_columns));
        }
        best.notes.push(format!("Lagrangian bound after {lagrangian_iterations} iterations"));
        best.solver = solver;
        best.bounds = bounds;
        best.set_gap();
        best.stages = stages;
        Ok(best)
    }
}

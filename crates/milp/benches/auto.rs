//! The default planner (`xisuan plan`, solver auto) at scale: wall time, proven gap, and where
//! the time went, on the synthetic shapes of the older benchmarks so the figures compare:
//! the MILP-scale batches (250, 1,000 and 2,000 jobs × 10 sites × 72 slots) and the heuristic's
//! 10,000 jobs × 30 sites × 168 slots. `cargo bench -p xisuan-milp --bench auto`.
//! `--quick` runs only the 10,000-job case. `AUTO_BUDGET` (seconds) and `AUTO_ITERS` (the
//! Lagrangian iteration cap) override the defaults for experiments. Unplaced jobs are listed
//! with their penalty, so a gap can be split into work left undone and the rest.

use std::time::Instant;
use xisuan_milp::auto::Auto;
use xisuan_plan::synth::{synthetic, Shape};
use xisuan_plan::Solver;

fn run(name: &str, shape: Shape, seed: u64, auto: &Auto) {
    let p = synthetic(seed, &shape);
    let t = Instant::now();
    let plan = auto.solve(&p).expect("auto");
    let wall = t.elapsed().as_secs_f64();
    let best = plan.best_bound().map(|b| b.kind.clone()).unwrap_or_default();
    println!(
        "{name}: {wall:.1} s, objective {:.0}, gap {:.2}% (best bound {best}), placed {}/{}, unmet {:.1} rps-h; {}",
        plan.totals.objective,
        plan.gap.unwrap_or(f64::NAN) * 100.0,
        plan.totals.jobs_placed,
        p.jobs.len(),
        plan.totals.unmet_rps_hours,
        plan.solver
    );
    let stages: Vec<String> = plan.stages.iter().map(|s| format!("{} {:.2} s", s.name, s.seconds)).collect();
    println!("    stages: {}", stages.join(", "));
    for b in &plan.bounds {
        println!("    bound {}: {:.0}", b.kind, b.value);
    }
    for n in &plan.notes {
        println!("    note: {n}");
    }
    println!("    penalty for work left undone: {:.0} USD", plan.totals.penalty_usd);
    for u in &plan.unplaced {
        let j = p.jobs.iter().find(|j| j.id == u.job).unwrap();
        let why: Vec<String> = u.reasons.iter().take(3).map(|r| format!("{}: {:?}", r.site, r.reason)).collect();
        println!("    unplaced {} ({} accelerators x {:.1} h, slots {}..{}): {}", u.job, j.gpus, j.hours, j.earliest, j.deadline, why.join("; "));
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let auto = Auto {
        target_gap: 0.01,
        time_budget_s: std::env::var("AUTO_BUDGET").ok().and_then(|b| b.parse().ok()).unwrap_or(30.0),
        lagrange_iterations: std::env::var("AUTO_ITERS").ok().and_then(|b| b.parse().ok()).unwrap_or(400),
        ..Auto::default()
    };
    run(
        "10,000 jobs x 30 sites x 168 slots",
        Shape { sites: 30, slots: 168, jobs: 10_000, services: 10, regions: 8, capacity: 2_500, pausable_share: 0.2 },
        2026,
        &auto,
    );
    if quick {
        return;
    }
    for jobs in [250usize, 1000, 2000] {
        let shape = Shape { sites: 10, slots: 72, jobs, services: 2, regions: 4, capacity: jobs as u32 * 3, pausable_share: 0.2 };
        run(&format!("{jobs} jobs x 10 sites x 72 slots"), shape, 7, &auto);
    }
}

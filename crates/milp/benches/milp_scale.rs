//! The exact planner on growing batches: jobs × 10 sites × 72 hourly slots, with a 60 s
//! HiGHS limit. Prints wall time, columns, objective against the heuristic, and the gap to the
//! best bound. `cargo bench -p xisuan-milp --bench milp_scale`.

use std::time::Instant;
use xisuan_milp::Milp;
use xisuan_plan::heuristic::{solve, Heuristic};
use xisuan_plan::synth::{synthetic, Shape};
use xisuan_plan::Solver;

fn main() {
    for jobs in [250usize, 1000, 2000] {
        let shape = Shape { sites: 10, slots: 72, jobs, services: 2, regions: 4, capacity: jobs as u32 * 3, pausable_share: 0.2 };
        let p = synthetic(7, &shape);
        let t = Instant::now();
        let h = solve(&p, &Heuristic::default());
        let th = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let m = Milp { time_limit_s: 60.0, lp_bound: false, ..Milp::default() }.solve(&p).expect("milp");
        let tm = t.elapsed().as_secs_f64();
        println!(
            "{jobs:>5} jobs: heuristic {th:.2} s objective {:.0}; MILP {tm:.1} s objective {:.0} ({:+.2}% vs heuristic), gap to bound {:.2}%, unplaced {}/{}; {}",
            h.totals.objective,
            m.totals.objective,
            (m.totals.objective / h.totals.objective - 1.0) * 100.0,
            m.gap.unwrap_or(f64::NAN) * 100.0,
            m.unplaced.len(),
            h.unplaced.len(),
            m.notes.join("; ")
        );
    }
}

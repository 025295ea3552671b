//! The heuristic at scale: 10,000 jobs × 30 sites × 168 hourly slots (plus 10 services from 8
//! regions). Prints wall time per solve and the process's peak resident memory.
//!
//! `cargo bench -p xisuan-plan --bench plan_10k` (target: 2 s or less on a 2-core machine).

use std::time::Instant;
use xisuan_plan::baselines::baselines;
use xisuan_plan::heuristic::{solve, Heuristic};
use xisuan_plan::synth::{synthetic, Shape};

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let shape = Shape { sites: 30, slots: 168, jobs: 10_000, services: 10, regions: 8, capacity: 2_500, pausable_share: 0.2 };
    let t0 = Instant::now();
    let p = synthetic(2026, &shape);
    let gen = t0.elapsed();
    println!(
        "problem: {} jobs x {} sites x {} slots, {} services; generated in {:.3} s",
        p.jobs.len(),
        p.sites.len(),
        p.slots,
        p.services.len(),
        gen.as_secs_f64()
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let plan = solve(&p, &Heuristic::default());
        times.push(t.elapsed().as_secs_f64());
        last = Some(plan);
    }
    let plan = last.unwrap();
    times.sort_by(f64::total_cmp);
    println!(
        "heuristic: median {:.3} s, min {:.3} s, max {:.3} s over {} runs; placed {}, unplaced {}, gap to capacity-relaxation bound {:.2}%",
        times[1],
        times[0],
        times[2],
        times.len(),
        plan.totals.jobs_placed,
        plan.totals.jobs_unplaced,
        plan.gap.unwrap_or(f64::NAN) * 100.0
    );
    // Where the time goes, stage by stage.
    let t = Instant::now();
    let ctx = xisuan_plan::candidates::Ctx::new(&p);
    let opts: Vec<_> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
    let t_filter = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let d = Heuristic::default().decide(&ctx, &opts);
    let t_decide = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = xisuan_plan::assemble::assemble(&ctx, &opts, &d, "heuristic");
    let t_assemble = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = xisuan_plan::heuristic::capacity_relaxation_bound(&ctx, &opts);
    let t_bound = t.elapsed().as_secs_f64();
    println!("stages: filter {t_filter:.3} s, select {t_decide:.3} s, assemble with reasons {t_assemble:.3} s, bound {t_bound:.3} s");
    let t = Instant::now();
    let b = baselines(&p);
    println!("baselines ({}): {:.3} s", b.len(), t.elapsed().as_secs_f64());
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory: {mib:.0} MiB");
    }
}

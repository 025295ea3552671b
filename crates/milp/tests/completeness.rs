//! Completeness, checked independently of the solvers (heuristic, auto, MILP): on random problems (fixed seeds), no
//! plan leaves a job unplaced that fits in the plan's final free capacity, and no demand unmet
//! where a site within the latency objective has room (spare throughput in a replica already
//! running, or accelerators free for another one). The checker rebuilds capacity use from the
//! plan's own placements and the problem alone; it shares no code with the planner beyond the
//! `Problem` and `Plan` types. Penalties (50 USD per accelerator-hour) are far above what any
//! synthetic option costs, so every job and request that fits is worth placing.

use proptest::prelude::*;
use std::collections::HashMap;
use xisuan_milp::auto::Auto;
use xisuan_milp::Milp;
use xisuan_plan::heuristic::{solve, Heuristic};
use xisuan_plan::synth::{synthetic, Shape};
use xisuan_plan::{Plan, Problem, Reason, Solver};

mod common;
use common::free_after;

/// Whether job `ji` fits anywhere in `free`, by its own rules: residency, accelerator type,
/// data transfer before the start, duration on that accelerator, deadline.
fn job_fits(p: &Problem, ji: usize, free: &HashMap<(usize, String), Vec<i64>>) -> Option<String> {
    let j = &p.jobs[ji];
    for s in 0..p.sites.len() {
        if j.allowed_sites.as_ref().is_some_and(|a| !a.contains(&s)) {
            continue;
        }
        let transfer_h = if s == j.data_site { 0.0 } else { p.links[j.data_site][s].hours(j.data_bytes) };
        for o in &j.accelerators {
            let Some(row) = free.get(&(s, o.accelerator.clone())) else { continue };
            let slots = ((j.hours / o.speed) - 1e-9).ceil().max(1.0) as u64;
            let first = j.earliest as u64 + (transfer_h - 1e-9).ceil().max(0.0) as u64;
            let end = j.deadline.min(p.slots) as u64;
            if first + slots > end {
                continue;
            }
            let room = |t: u64| row[t as usize] >= j.gpus as i64;
            let fits = if j.pausable {
                (first..end).filter(|&t| room(t)).count() as u64 >= slots
            } else {
                (first..=end - slots).any(|t| (t..t + slots).all(room))
            };
            if fits {
                return Some(format!("{} fits at {} on {}", j.id, p.sites[s].id, o.accelerator));
            }
        }
    }
    None
}

// Regions, slots and sites index several tables at once here.
#[allow(clippy::needless_range_loop)]
fn incomplete(p: &Problem, plan: &Plan) -> Vec<String> {
    let free = free_after(p, plan);
    let mut out = Vec::new();
    for u in &plan.unplaced {
        let ji = p.jobs.iter().position(|j| j.id == u.job).unwrap();
        if u.reasons.iter().any(|r| matches!(r.reason, Reason::DearerThanPenalty { .. })) {
            continue;
        }
        if let Some(m) = job_fits(p, ji, &free) {
            out.push(format!("unplaced job that fits: {m}"));
        }
    }
    for sp in &plan.services {
        let (vi, v) = p.services.iter().enumerate().find(|(_, v)| v.id == sp.service).unwrap();
        let _ = vi;
        let region_ix: HashMap<&str, usize> = p.regions.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
        let mut served = vec![vec![0.0; p.slots as usize]; p.regions.len()];
        let mut load: HashMap<(String, u32), (u32, f64)> = HashMap::new();
        for ss in &sp.slots {
            let e = load.entry((ss.site.clone(), ss.slot)).or_insert((0, 0.0));
            e.0 += ss.replicas;
            for (r, x) in &ss.served {
                served[region_ix[r.as_str()]][ss.slot as usize] += x;
                e.1 += x;
            }
        }
        for g in 0..p.regions.len() {
            for t in 0..p.slots {
                if v.demand[g][t as usize] - served[g][t as usize] <= 1e-6 {
                    continue;
                }
                for s in 0..p.sites.len() {
                    if v.allowed_sites.as_ref().is_some_and(|a| !a.contains(&s)) || p.latency_ms[g][s] > v.slo_ms {
                        continue;
                    }
                    let Some(row) = free.get(&(s, v.accelerator.clone())) else { continue };
                    let (reps, used) = load.get(&(p.sites[s].id.clone(), t)).copied().unwrap_or((0, 0.0));
                    if reps as f64 * v.replica_rps - used > 1e-6 {
                        out.push(format!(
                            "{} leaves {} unmet in slot {t} with spare replica throughput at {}",
                            v.id, p.regions[g].name, p.sites[s].id
                        ));
                    } else if row[t as usize] >= v.gpus_per_replica as i64 {
                        out.push(format!("{} leaves {} unmet in slot {t} with room for a replica at {}", v.id, p.regions[g].name, p.sites[s].id));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_checker_finds_a_job_dropped_from_a_plan() {
    // A roomy problem places every job; unplacing one by hand must be caught.
    let mut p = synthetic(1, &Shape { sites: 2, slots: 48, jobs: 6, services: 1, regions: 2, capacity: 400, pausable_share: 0.0 });
    p.services[0].slo_ms = 1000.0;
    let mut plan = solve(&p, &Heuristic::default());
    assert!(incomplete(&p, &plan).is_empty());
    let jp = plan.jobs.remove(0);
    plan.unplaced.push(xisuan_plan::Unplaced { job: jp.job.clone(), reasons: vec![] });
    let v = incomplete(&p, &plan);
    assert!(v.iter().any(|m| m.contains(&jp.job)), "{v:?}");
    // Dropping the replicas of a service slot leaves demand unmet beside free capacity.
    let mut plan = solve(&p, &Heuristic::default());
    let slot = plan.services[0].slots.remove(0);
    assert!(!incomplete(&p, &plan).is_empty(), "removed {slot:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(9), ..ProptestConfig::default() })]

    #[test]
    fn plans_leave_nothing_undone_that_fits(seed in any::<u64>(), sites in 1usize..5, slots in 12u32..48, jobs in 1usize..40, services in 0usize..3, capacity in 16u32..200) {
        let shape = Shape { sites, slots, jobs, services, regions: 3, capacity, pausable_share: 0.3 };
        let p = synthetic(seed, &shape);
        let h = solve(&p, &Heuristic::default());
        let v = incomplete(&p, &h);
        prop_assert!(v.is_empty(), "heuristic: {v:#?}");
        let a = Auto { time_budget_s: 2.0, ..Auto::default() }.solve(&p).unwrap();
        let v = incomplete(&p, &a);
        prop_assert!(v.is_empty(), "auto: {v:#?}");
        if jobs <= 15 {
            let m = Milp { time_limit_s: 2.0, lp_bound: false, ..Milp::default() }.solve(&p).unwrap();
            let v = incomplete(&p, &m);
            prop_assert!(v.is_empty(), "milp: {v:#?}");
        }
    }
}

//! Completion passes, run after any solver (the heuristic, the MILP at its time limit, a
//! Lagrangian repair) so that no plan leaves undone what it could do:
//!
//! 1. replicas that serve nothing are removed (a replica is paid whole, so a site keeps just
//!    enough replicas for the demand it serves);
//! 2. unmet demand is topped up from free capacity within each region's latency objective,
//!    first in the spare room of replicas already paid for, then with new replicas where a
//!    replica costs less than the penalty of the demand it would serve;
//! 3. unplaced jobs are inserted wherever they fit and score less than their penalty;
//! 4. placed jobs move to a better option that fits, until none does, so that a placed job's
//!    "capacity" reason for a cheaper site is true of the final plan;
//! 5. demand still unmet is topped up again from the room that moved jobs left.
//!
//! Every pass only lowers the objective, so the result is never worse than the solver's.

use crate::assemble::{Decisions, JobDecision, ServiceDecision};
use crate::candidates::{Ctx, Free, JobOptions};
use crate::heuristic::{best_placement, Timing};

/// Runs the completion passes on `d` in place.
pub fn complete(ctx: &Ctx, opts: &[JobOptions], d: &mut Decisions) {
    trim_replicas(ctx, d);
    let mut free = Free::after(ctx, opts, d);
    top_up_demand(ctx, &mut free, d);
    place_jobs(ctx, opts, &mut free, d);
    // A job that moved to a better option left room where it was: demand still unmet there
    // gets it. (Topping up only takes free capacity, so no job could now use room it lost.)
    top_up_demand(ctx, &mut free, d);
}

/// Replicas needed for `load` requests per second.
fn needed(load: f64, rps: f64) -> u32 {
    if load <= 1e-9 {
        0
    } else {
        (load / rps - 1e-9).ceil().max(1.0) as u32
    }
}

fn trim_replicas(ctx: &Ctx, d: &mut Decisions) {
    for (vi, sds) in d.services.iter_mut().enumerate() {
        let v = &ctx.p.services[vi];
        for sd in sds.iter_mut() {
            let load: f64 = sd.served.iter().map(|x| x.1).sum();
            sd.replicas = sd.replicas.min(needed(load, v.replica_rps));
            sd.served.retain(|x| x.1 > 1e-12);
        }
        sds.retain(|sd| sd.replicas > 0);
    }
}

fn top_up_demand(ctx: &Ctx, free: &mut Free, d: &mut Decisions) {
    let p = ctx.p;
    for (vi, v) in p.services.iter().enumerate() {
        let Some(a) = ctx.accs.ix(&v.accelerator) else { continue };
        // One more replica removes the penalty of one replica's worth of unmet demand (or of
        // the sliver left, which needs a whole replica too).
        let pen = p.objective.replica_penalty(v);
        let feasible: Vec<Vec<usize>> = (0..p.regions.len()).map(|g| ctx.service_sites(v, g).0).collect();
        let sds = &mut d.services[vi];
        for t in 0..p.slots {
            let mut served = vec![0.0f64; p.regions.len()];
            for sd in sds.iter().filter(|sd| sd.slot == t) {
                for &(g, x) in &sd.served {
                    served[g] += x;
                }
            }
            let mut regions: Vec<usize> = (0..p.regions.len()).filter(|&g| v.demand[g][t as usize] - served[g] > 1e-9).collect();
            if regions.is_empty() {
                continue;
            }
            regions.sort_by_key(|&g| (feasible[g].len(), g));
            for g in regions {
                let mut rest = v.demand[g][t as usize] - served[g];
                let mut sites = feasible[g].clone();
                let score = |s: usize| {
                    let (usd, kg, _) = ctx.replica_eval(v, s, t);
                    p.objective.score(usd, kg, 0.0)
                };
                sites.sort_by(|&x, &y| score(x).total_cmp(&score(y)).then(x.cmp(&y)));
                // Spare room in replicas already paid for costs nothing more.
                for &s in &sites {
                    if rest <= 1e-9 {
                        break;
                    }
                    if let Some(sd) = sds.iter_mut().find(|sd| sd.slot == t && sd.site == s) {
                        let load: f64 = sd.served.iter().map(|x| x.1).sum();
                        let spare = sd.replicas as f64 * v.replica_rps - load;
                        if spare > 1e-9 {
                            let x = rest.min(spare);
                            add_served(sd, g, x);
                            rest -= x;
                            d.unmet[vi] -= x;
                        }
                    }
                }
                // New replicas where one costs less than the penalty of what it serves.
                for &s in &sites {
                    while rest > 1e-9 && free.free[s][a][t as usize] >= v.gpus_per_replica {
                        let x = rest.min(v.replica_rps);
                        if score(s) >= pen {
                            break;
                        }
                        free.take(s, a, [t], v.gpus_per_replica);
                        match sds.iter_mut().find(|sd| sd.slot == t && sd.site == s) {
                            Some(sd) => {
                                sd.replicas += 1;
                                add_served(sd, g, x);
                            }
                            None => sds.push(ServiceDecision { slot: t, site: s, replicas: 1, served: vec![(g, x)] }),
                        }
                        rest -= x;
                        d.unmet[vi] -= x;
                    }
                }
            }
        }
        d.unmet[vi] = d.unmet[vi].max(0.0);
        sds.sort_by_key(|sd| (sd.slot, sd.site));
    }
}

fn add_served(sd: &mut ServiceDecision, g: usize, x: f64) {
    match sd.served.iter_mut().find(|e| e.0 == g) {
        Some(e) => e.1 += x,
        None => sd.served.push((g, x)),
    }
}

/// The best free placement of job `j` that scores below `below`, looking only at options whose
/// best start (capacity aside, `floor`) could beat it: a placed job mostly has few such options,
/// so this is much cheaper than ranking every candidate.
fn better_placement(
    ctx: &Ctx,
    j: &crate::problem::Job,
    jo: &JobOptions,
    floor: &[f64],
    free: &Free,
    below: f64,
    buf: &mut Vec<crate::heuristic::Cand>,
) -> Option<(JobDecision, f64)> {
    let mut best: Option<(JobDecision, f64)> = None;
    for (oi, o) in jo.options.iter().enumerate() {
        let limit = best.as_ref().map(|b| b.1).unwrap_or(below);
        if floor[oi] >= limit {
            continue;
        }
        if j.pausable {
            let one = JobOptions { options: vec![o.clone()], rejected: Vec::new() };
            if let Some((mut d, score)) = best_placement(ctx, j, &one, free, Timing::Shift, buf) {
                if score < limit {
                    d.option = oi;
                    best = Some((d, score));
                }
            }
            continue;
        }
        let mut found: Option<(u32, f64)> = None;
        for t in o.first_start..=o.last_start {
            let sc = ctx.score(j, o, t);
            if sc < found.map(|f| f.1).unwrap_or(limit) && free.fits(o.site, o.acc, t, o.slots, j.gpus) {
                found = Some((t, sc));
            }
        }
        if let Some((t, sc)) = found {
            best = Some((JobDecision { option: oi, slots: (t..t + o.slots).collect() }, sc));
        }
    }
    best
}

fn place_jobs(ctx: &Ctx, opts: &[JobOptions], free: &mut Free, d: &mut Decisions) {
    let p = ctx.p;
    let timing = if d.late_ok { Timing::Asap } else { Timing::Shift };
    let mut buf = Vec::new();
    // Least flexible first, as the heuristic orders them.
    let order = crate::heuristic::placement_order(p, opts);
    let score_of = |ji: usize, jd: &crate::assemble::JobDecision| {
        let j = &p.jobs[ji];
        let o = &opts[ji].options[jd.option];
        if j.pausable {
            ctx.eval_slots(j, o, &jd.slots).score
        } else {
            ctx.score(j, o, jd.slots[0])
        }
    };
    // Each option's best score with capacity aside: a job at or below all of them cannot
    // improve, and options above its current score are not looked at.
    let floors: Vec<Vec<f64>> = (0..p.jobs.len())
        .map(|ji| {
            opts[ji]
                .options
                .iter()
                .map(|o| crate::heuristic::best_unconstrained(ctx, &p.jobs[ji], &JobOptions { options: vec![o.clone()], rejected: Vec::new() }))
                .collect()
        })
        .collect();
    for _ in 0..10 {
        let mut changed = false;
        for &ji in &order {
            let j = &p.jobs[ji];

            match d.jobs[ji].clone() {
                None => {
                    if let Some((jd, _)) = best_placement(ctx, j, &opts[ji], free, timing, &mut buf).filter(|b| b.1 < p.objective.job_penalty(j)) {
                        let o = &opts[ji].options[jd.option];
                        free.take(o.site, o.acc, jd.slots.iter().copied(), j.gpus);
                        d.jobs[ji] = Some(jd);
                        changed = true;
                    }
                }
                Some(cur) => {
                    let now = score_of(ji, &cur);
                    let below = now - 1e-9 * (1.0 + now.abs());
                    if floors[ji].iter().all(|&f| f >= below) {
                        continue;
                    }
                    let o = &opts[ji].options[cur.option];
                    free.give(o.site, o.acc, cur.slots.iter().copied(), j.gpus);
                    let better = if timing == Timing::Shift {
                        better_placement(ctx, j, &opts[ji], &floors[ji], free, below, &mut buf)
                    } else {
                        best_placement(ctx, j, &opts[ji], free, timing, &mut buf)
                    };
                    match better {
                        Some((jd, score)) if score < below => {
                            let o2 = &opts[ji].options[jd.option];
                            free.take(o2.site, o2.acc, jd.slots.iter().copied(), j.gpus);
                            d.jobs[ji] = Some(jd);
                            changed = true;
                        }
                        _ => free.take(o.site, o.acc, cur.slots.iter().copied(), j.gpus),
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

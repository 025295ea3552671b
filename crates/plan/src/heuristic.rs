//! The fast planner: filter, score, select, with time shifting. Services are placed first
//! (they are tied to users by latency and cannot wait); then jobs, least flexible first, each
//! at its best-scoring (site, start) whose capacity is still free; then improvement passes move
//! single jobs to better free options until none improves.
//!
//! Deterministic: ties break on site index, then start slot.

use crate::assemble::{assemble, Decisions, JobDecision, ServiceDecision};
use crate::candidates::{Ctx, Free, JobOptions, SiteOption};
use crate::plan::{Bound, Plan};
use crate::problem::{Job, Problem};

/// How jobs may be placed in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// Any start between the earliest and the deadline (time shifting).
    Shift,
    /// As early as capacity allows (no time shifting).
    Asap,
}

/// Settings of the heuristic.
#[derive(Debug, Clone)]
pub struct Heuristic {
    pub timing: Timing,
    /// Improvement passes after the greedy placement (0 for pure greedy).
    pub passes: u32,
}

impl Default for Heuristic {
    fn default() -> Self {
        Heuristic { timing: Timing::Shift, passes: 2 }
    }
}

/// A scored candidate: option index and start slot.
#[derive(Clone, Copy)]
struct Cand {
    score: f64,
    option: u32,
    start: u32,
}

/// The cheapest `o.slots` free slots in the option's window, for a pausable job.
fn pausable_slots(ctx: &Ctx, j: &Job, o: &SiteOption, free: &Free) -> Option<Vec<u32>> {
    let rates = &ctx.rates[o.site];
    let obj = &ctx.p.objective;
    let mut window: Vec<(f64, u32)> = (o.first_start..o.last_start + o.slots)
        .filter(|&t| free.free[o.site][o.acc][t as usize] >= j.gpus)
        .map(|t| (obj.score(rates.usd_per_kw[t as usize], rates.kg_per_kw[t as usize], 0.0), t))
        .collect();
    if window.len() < o.slots as usize {
        return None;
    }
    window.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut slots: Vec<u32> = window[..o.slots as usize].iter().map(|w| w.1).collect();
    slots.sort_unstable();
    Some(slots)
}

/// Best free placement of job `j`, or None.
fn best_placement(ctx: &Ctx, j: &Job, jo: &JobOptions, free: &Free, timing: Timing, buf: &mut Vec<Cand>) -> Option<(JobDecision, f64)> {
    buf.clear();
    let mut best_pausable: Option<(JobDecision, f64)> = None;
    for (oi, o) in jo.options.iter().enumerate() {
        if j.pausable && timing == Timing::Shift {
            if let Some(slots) = pausable_slots(ctx, j, o, free) {
                let e = ctx.eval_slots(j, o, &slots);
                if best_pausable.as_ref().is_none_or(|b| e.score < b.1) {
                    best_pausable = Some((JobDecision { option: oi, slots }, e.score));
                }
            }
            continue;
        }
        match timing {
            Timing::Shift => {
                for t in o.first_start..=o.last_start {
                    buf.push(Cand { score: ctx.eval(j, o, t).score, option: oi as u32, start: t });
                }
            }
            Timing::Asap => {
                // The first start with room at this site; its score decides between sites.
                if let Some(t) = (o.first_start..=o.last_start).find(|&t| free.fits(o.site, o.acc, t, o.slots, j.gpus)) {
                    buf.push(Cand { score: ctx.eval(j, o, t).score, option: oi as u32, start: t });
                }
            }
        }
    }
    if j.pausable && timing == Timing::Shift {
        return best_pausable;
    }
    let cmp = |a: &Cand, b: &Cand| a.score.total_cmp(&b.score).then(a.option.cmp(&b.option)).then(a.start.cmp(&b.start));
    // Most jobs fit in one of their best few options: sort those first, the rest only if needed.
    let k = buf.len().min(32);
    if k == 0 {
        return None;
    }
    if buf.len() > k {
        buf.select_nth_unstable_by(k - 1, cmp);
    }
    buf[..k].sort_by(cmp);
    let fits = |c: &Cand| {
        let o = &jo.options[c.option as usize];
        free.fits(o.site, o.acc, c.start, o.slots, j.gpus)
    };
    let found = buf[..k].iter().find(|c| fits(c)).copied().or_else(|| {
        let rest = &mut buf[k..];
        rest.sort_by(cmp);
        rest.iter().find(|c| fits(c)).copied()
    })?;
    let o = &jo.options[found.option as usize];
    Some((JobDecision { option: found.option as usize, slots: (found.start..found.start + o.slots).collect() }, found.score))
}

/// Places every service slot by slot, best-ranked feasible site first (lowest `rank(service,
/// region, site, slot)`), splitting a region's demand when a site fills up. Returns decisions and
/// unmet demand per service.
pub fn place_services(
    ctx: &Ctx,
    free: &mut Free,
    rank: &dyn Fn(&crate::problem::Service, usize, usize, u32) -> f64,
) -> (Vec<Vec<ServiceDecision>>, Vec<f64>) {
    let p = ctx.p;
    let mut all = Vec::new();
    let mut unmet = Vec::new();
    for v in &p.services {
        let acc = ctx.accs.ix(&v.accelerator);
        let feasible: Vec<Vec<usize>> = (0..p.regions.len()).map(|g| ctx.service_sites(v, g).0).collect();
        let mut decisions = Vec::new();
        let mut miss = 0.0;
        for t in 0..p.slots {
            // load[s] = rps assigned; served[s] = (region, rps)
            let mut load = vec![0.0f64; p.sites.len()];
            let mut served: Vec<Vec<(usize, f64)>> = vec![Vec::new(); p.sites.len()];
            let mut regions: Vec<usize> = (0..p.regions.len()).filter(|&g| v.demand[g][t as usize] > 0.0).collect();
            regions.sort_by_key(|&g| (feasible[g].len(), g));
            for g in regions {
                let mut rest = v.demand[g][t as usize];
                let mut sites = feasible[g].clone();
                sites.sort_by(|&a, &b| rank(v, g, a, t).total_cmp(&rank(v, g, b, t)).then(a.cmp(&b)));
                for s in sites {
                    let Some(a) = acc else { break };
                    let max_replicas = free.free[s][a][t as usize] / v.gpus_per_replica;
                    let headroom = max_replicas as f64 * v.replica_rps - load[s];
                    if headroom <= 1e-9 {
                        continue;
                    }
                    let x = rest.min(headroom);
                    load[s] += x;
                    served[s].push((g, x));
                    rest -= x;
                    if rest <= 1e-9 {
                        break;
                    }
                }
                if rest > 1e-9 {
                    miss += rest;
                }
            }
            for s in 0..p.sites.len() {
                if load[s] <= 0.0 {
                    continue;
                }
                let replicas = (load[s] / v.replica_rps - 1e-9).ceil().max(1.0) as u32;
                if let Some(a) = acc {
                    free.take(s, a, [t], replicas * v.gpus_per_replica);
                }
                decisions.push(ServiceDecision { slot: t, site: s, replicas, served: std::mem::take(&mut served[s]) });
            }
        }
        all.push(decisions);
        unmet.push(miss);
    }
    (all, unmet)
}

impl Heuristic {
    /// Runs the heuristic and returns decisions (for reuse by baselines and tests).
    pub fn decide(&self, ctx: &Ctx, opts: &[JobOptions]) -> Decisions {
        let p = ctx.p;
        let mut free = Free::new(ctx);
        let by_score = |v: &crate::problem::Service, _g: usize, s: usize, t: u32| {
            let (usd, kg, _) = ctx.replica_eval(v, s, t);
            p.objective.score(usd, kg, 0.0)
        };
        let (services, unmet) = place_services(ctx, &mut free, &by_score);

        // Least flexible first: smallest slack between earliest start and deadline, then the
        // largest GPU-hours; index last for determinism.
        let mut order: Vec<usize> = (0..p.jobs.len()).collect();
        order.sort_by(|&a, &b| {
            let (ja, jb) = (&p.jobs[a], &p.jobs[b]);
            let slack = |j: &Job| (j.deadline.min(p.slots) as f64 - j.earliest as f64) - j.hours;
            slack(ja)
                .total_cmp(&slack(jb))
                .then((jb.gpus as f64 * jb.hours).total_cmp(&(ja.gpus as f64 * ja.hours)))
                .then(a.cmp(&b))
        });
        let mut jobs: Vec<Option<JobDecision>> = vec![None; p.jobs.len()];
        let mut scores = vec![0.0; p.jobs.len()];
        let mut buf = Vec::new();
        for &ji in &order {
            let j = &p.jobs[ji];
            if let Some((d, score)) = best_placement(ctx, j, &opts[ji], &free, self.timing, &mut buf) {
                let o = &opts[ji].options[d.option];
                free.take(o.site, o.acc, d.slots.iter().copied(), j.gpus);
                scores[ji] = score;
                jobs[ji] = Some(d);
            }
        }
        // Improvement: lift each job out and put it back at its best free option. A move
        // never worsens the objective, so passes converge.
        for _ in 0..self.passes {
            let mut improved = false;
            for &ji in &order {
                let j = &p.jobs[ji];
                let Some(cur) = jobs[ji].clone() else {
                    // Retry jobs that found no room: earlier moves may have freed some.
                    if let Some((d, score)) = best_placement(ctx, j, &opts[ji], &free, self.timing, &mut buf) {
                        let o = &opts[ji].options[d.option];
                        free.take(o.site, o.acc, d.slots.iter().copied(), j.gpus);
                        scores[ji] = score;
                        jobs[ji] = Some(d);
                        improved = true;
                    }
                    continue;
                };
                let o = &opts[ji].options[cur.option];
                free.give(o.site, o.acc, cur.slots.iter().copied(), j.gpus);
                let (d, score) = best_placement(ctx, j, &opts[ji], &free, self.timing, &mut buf).expect("its own slot is free");
                if score < scores[ji] - 1e-9 {
                    improved = true;
                    scores[ji] = score;
                    let o = &opts[ji].options[d.option];
                    free.take(o.site, o.acc, d.slots.iter().copied(), j.gpus);
                    jobs[ji] = Some(d);
                } else {
                    free.take(o.site, o.acc, cur.slots.iter().copied(), j.gpus);
                }
            }
            if !improved {
                break;
            }
        }
        Decisions { jobs, services, unmet, late_ok: false }
    }
}

/// A lower bound on the objective of any plan that places the jobs in `placed`: each such job
/// at its own best option and each service region-slot at its cheapest feasible site, as if
/// capacity were unlimited and replicas divisible. Unplaced jobs are reported apart, so the
/// bound covers the same jobs as the objective it is compared with.
pub fn capacity_relaxation_bound(ctx: &Ctx, opts: &[JobOptions], d: &Decisions) -> Bound {
    let p = ctx.p;
    let placed: Vec<bool> = d.jobs.iter().map(Option::is_some).collect();
    // Demand actually served, by service, region and slot: the bound covers the same demand.
    let mut served = vec![vec![vec![0.0f64; p.slots as usize]; p.regions.len()]; p.services.len()];
    for (vi, decisions) in d.services.iter().enumerate() {
        for sd in decisions {
            for &(g, x) in &sd.served {
                served[vi][g][sd.slot as usize] += x;
            }
        }
    }
    let mut total = 0.0;
    for (ji, j) in p.jobs.iter().enumerate() {
        if !placed[ji] {
            continue;
        }
        let best = opts[ji]
            .options
            .iter()
            .map(|o| {
                if j.pausable {
                    let rates = &ctx.rates[o.site];
                    let mut w: Vec<f64> = (o.first_start..o.last_start + o.slots)
                        .map(|t| p.objective.score(rates.usd_per_kw[t as usize], rates.kg_per_kw[t as usize], 0.0))
                        .collect();
                    w.sort_by(f64::total_cmp);
                    // Energy of the cheapest slots, plus the parts that do not depend on time.
                    let energy: f64 = w[..o.slots as usize].iter().sum::<f64>() * o.kw_total;
                    let frac_saving = (o.slots as f64 - o.hours) * w[o.slots as usize - 1] * o.kw_total;
                    let fixed = p.objective.score(o.gpu_hour_usd_total * o.hours + o.transfer_usd, 0.0, 0.0);
                    energy - frac_saving.max(0.0) + fixed
                } else {
                    (o.first_start..=o.last_start).map(|t| ctx.eval(j, o, t).score).fold(f64::INFINITY, f64::min)
                }
            })
            .fold(f64::INFINITY, f64::min);
        if best.is_finite() {
            total += best;
        }
    }
    for (vi, v) in p.services.iter().enumerate() {
        for g in 0..p.regions.len() {
            let sites = ctx.service_sites(v, g).0;
            for t in 0..p.slots {
                let dmd = served[vi][g][t as usize];
                if dmd <= 0.0 {
                    continue;
                }
                let best = sites
                    .iter()
                    .map(|&s| {
                        let (usd, kg, _) = ctx.replica_eval(v, s, t);
                        p.objective.score(usd, kg, 0.0)
                    })
                    .fold(f64::INFINITY, f64::min);
                if best.is_finite() {
                    total += best * dmd / v.replica_rps;
                }
            }
        }
    }
    Bound { value: total, kind: "capacity_relaxation".into() }
}

/// Plans `p` with the heuristic, reporting the capacity-relaxation bound.
pub fn solve(p: &Problem, h: &Heuristic) -> Plan {
    let ctx = Ctx::new(p);
    let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
    let d = h.decide(&ctx, &opts);
    let mut plan = assemble(&ctx, &opts, &d, "heuristic");
    plan.bounds.push(capacity_relaxation_bound(&ctx, &opts, &d));
    plan.set_gap();
    plan
}

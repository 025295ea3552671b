//! A lower bound at any size: Lagrangian relaxation of the capacity constraints.
//!
//! Each (site, accelerator type, slot) gets a price λ ≥ 0 per accelerator. With capacity
//! priced instead of enforced, the problem falls apart into one small problem per job and per
//! (service, slot), and for every λ
//!
//! ```text
//! L(λ) = Σ_jobs min(penalty, min over options and starts of score + accelerators × Σ λ)
//!      + Σ_(service, slot) min cost of serving its demand with whole replicas at replica cost + λ
//!      − Σ λ × capacity
//! ```
//!
//! is a lower bound on the objective of every plan (weak duality: a plan within capacity pays
//! at least L(λ) for any λ ≥ 0). A job's problem is the planner's own scoring with prices added
//! (prefix sums make a start O(1)); a service's problem keeps replicas whole, which the LP
//! relaxation cannot, and is bounded from below by the larger of two relaxations of it (each
//! region served at its cheapest feasible site, divisibly; or all demand served at the
//! cheapest sites any region may use, in whole replicas). Subgradient steps (Polyak's step
//! towards the best plan's objective, with a halving step scale) raise λ where capacity is
//! over-used. The prices (the best bound's, and their mean over the iterations) are also
//! shadow prices with which the heuristic repairs its own plan (`heuristic::decide_with_prices`).
//!
//! Pure: no clock. The caller passes `stop`, asked once per iteration, to end early.

use crate::candidates::{Ctx, JobOptions};
use crate::plan::Bound;

/// How long to iterate.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_iterations: u32,
    /// Stop once (upper − bound) / upper is at most this.
    pub target_gap: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_iterations: 300, target_gap: 1e-4 }
    }
}

/// The result: the best bound found and the prices that gave it.
#[derive(Debug, Clone)]
pub struct Relaxation {
    pub bound: Bound,
    /// λ[site][acc][slot], USD per accelerator per slot.
    pub prices: Vec<Vec<Vec<f64>>>,
    pub iterations: u32,
    /// The step scale reached, to continue from.
    pub scale: f64,
    /// The prices averaged over the iterations (an exponential moving average, weight
    /// `MEAN_WEIGHT` per iteration). Subgradient prices zig-zag from step to step; their
    /// average is smoother and steers a repair better than the prices of the best bound
    /// (on the 10,000-job benchmark, a plan 1.8% above the bound against 2.5%).
    pub mean_prices: Vec<Vec<Vec<f64>>>,
}

/// The weight of each iteration's prices in `Relaxation::mean_prices`: about the last fifty
/// iterations count (0.01 and 0.1 each steered the 10,000-job repair to a 2.0% gap, 0.2 to
/// 2.9%).
const MEAN_WEIGHT: f64 = 0.02;

/// One option of one job, reduced to what its subproblem needs.
#[derive(Debug, Clone)]
struct Opt {
    site: usize,
    acc: usize,
    first: u32,
    last: u32,
    /// Whole slots held.
    k: u32,
    /// Whole hours and the fraction of the last slot used (non-pausable jobs).
    full: u32,
    frac: f64,
    kw: f64,
    /// Score of what does not depend on the start (accelerator-hours, transfer).
    fixed: f64,
    /// Delay is `dcoef × max(0, t − t0)` for a start `t`.
    t0: f64,
    dcoef: f64,
    /// Best value with no prices, and its start (reused while the window stays unpriced).
    unpriced: (f64, u32),
    /// Re-planning: a non-pausable job at its previous site pays `churn` at every start but
    /// `churn_free`; elsewhere the churn is in `fixed`. (A pausable job's churn at its previous
    /// site is left out, which keeps the value a lower bound.)
    churn: f64,
    churn_free: Option<u32>,
}

/// Every job's options, and per site the score of one kW drawn in each slot (with prefix sums).
struct Tables {
    opts: Vec<Vec<Opt>>,
    rate: Vec<Vec<f64>>,
    prefix: Vec<Vec<f64>>,
}

fn prefix_of(v: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len() + 1);
    let mut acc = 0.0;
    out.push(0.0);
    for x in v {
        acc += x;
        out.push(acc);
    }
    out
}

impl Tables {
    fn new(ctx: &Ctx, opts: &[JobOptions]) -> Tables {
        let p = ctx.p;
        let obj = &p.objective;
        let rate: Vec<Vec<f64>> =
            ctx.rates.iter().map(|r| r.usd_per_kw.iter().zip(&r.kg_per_kw).map(|(&u, &k)| obj.score(u, k, 0.0)).collect()).collect();
        let prefix = rate.iter().map(|r| prefix_of(r)).collect();
        let mut t = Tables { opts: Vec::new(), rate, prefix };
        for (ji, jo) in opts.iter().enumerate() {
            let j = &p.jobs[ji];
            let ideal = Ctx::ideal_end(j);
            let mut v = Vec::with_capacity(jo.options.len());
            for o in &jo.options {
                let full = o.hours.floor() as u32;
                let frac = if o.hours - full as f64 > 1e-9 { o.hours - full as f64 } else { 0.0 };
                let held = if j.pausable { o.slots as f64 } else { o.hours };
                let (churn_fixed, churn, churn_free) = match j.previous {
                    Some((ps, pt)) if ps == o.site => (0.0, if j.pausable { 0.0 } else { obj.churn_usd }, Some(pt)),
                    Some(_) => (obj.churn_usd, 0.0, None),
                    None => (0.0, 0.0, None),
                };
                let mut opt = Opt {
                    site: o.site,
                    acc: o.acc,
                    first: o.first_start,
                    last: o.last_start,
                    k: o.slots,
                    full,
                    frac,
                    kw: o.kw_total,
                    fixed: obj.score(o.gpu_hour_usd_total * held + o.transfer_usd, 0.0, 0.0) + churn_fixed,
                    t0: if j.pausable { ideal - 1.0 } else { ideal - o.hours },
                    dcoef: obj.delay_usd_per_hour,
                    unpriced: (f64::INFINITY, 0),
                    churn,
                    churn_free,
                };
                opt.unpriced = t.best(&opt, j.pausable, 0.0, None, &mut Vec::new(), &mut Vec::new());
                v.push(opt);
            }
            // Cheapest first without prices: prices only raise a value, so once the next
            // option's unpriced value is above the best found, no later option can win.
            v.sort_by(|a, b| a.unpriced.0.total_cmp(&b.unpriced.0));
            t.opts.push(v);
        }
        t
    }

    /// A lower bound on a pausable option's value: the k cheapest hours of its window and the
    /// delay of the earliest end any k hours allow.
    fn pausable_floor(&self, o: &Opt, g: f64, lam: Option<(&[f64], &[f64])>, scratch: &mut Vec<(f64, u32)>) -> f64 {
        let sr = &self.rate[o.site];
        scratch.clear();
        for t in o.first..o.last + o.k {
            let l = lam.map(|(per, _)| per[t as usize]).unwrap_or(0.0);
            scratch.push((o.kw * sr[t as usize] + g * l, t));
        }
        let k = o.k as usize;
        if scratch.len() > k {
            scratch.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        }
        let sum: f64 = scratch[..k].iter().map(|x| x.0).sum();
        sum + o.fixed + o.dcoef * ((o.first + o.k - 1) as f64 - o.t0).max(0.0)
    }

    /// The best value of option `o` at prices `lam` (per slot, with prefix `lpre`) for a job
    /// of `g` accelerators, and its start (for a pausable job: the end of its window, its
    /// slots left in `scratch`).
    fn best(
        &self,
        o: &Opt,
        pausable: bool,
        g: f64,
        lam: Option<(&[f64], &[f64])>,
        scratch: &mut Vec<(f64, u32)>,
        values: &mut Vec<f64>,
    ) -> (f64, u32) {
        let sr = &self.rate[o.site];
        let sp = &self.prefix[o.site];
        if pausable {
            // For each possible last slot e (whole hours held), the cheapest k − 1 slots before
            // it plus e itself, plus the delay of ending at e: exact, by a max-heap that keeps
            // the cheapest k − 1 as e advances. The chosen slots are left in `scratch`.
            use crate::candidates::SlotCost as R;
            use std::collections::BinaryHeap;
            let k = o.k as usize;
            let rate = |t: u32| o.kw * sr[t as usize] + g * lam.map(|(per, _)| per[t as usize]).unwrap_or(0.0);
            let mut heap: BinaryHeap<R> = BinaryHeap::with_capacity(k);
            let mut sum = 0.0;
            let mut best: Option<(f64, u32)> = None;
            for e in o.first..o.last + o.k {
                if heap.len() == k - 1 {
                    let total = sum + rate(e) + o.dcoef * (e as f64 - o.t0).max(0.0);
                    if best.is_none_or(|b| total < b.0) {
                        best = Some((total, e));
                    }
                }
                if k > 1 {
                    heap.push(R(rate(e), e));
                    sum += rate(e);
                    if heap.len() > k - 1 {
                        sum -= heap.pop().map(|r| r.0).unwrap_or(0.0);
                    }
                }
            }
            let Some((v, end)) = best else { return (f64::INFINITY, o.first) };
            scratch.clear();
            for t in o.first..end {
                scratch.push((rate(t), t));
            }
            if k > 1 && scratch.len() > k - 1 {
                scratch.select_nth_unstable_by(k - 2, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            }
            scratch.truncate(k - 1);
            scratch.push((rate(end), end));
            return (v + o.fixed, end);
        }
        // Straight-line arithmetic over slices (vectorised by the compiler), then one scan for
        // the minimum: this loop is most of the relaxation's time.
        let (s0, n, full, k) = (o.first as usize, (o.last - o.first + 1) as usize, o.full as usize, o.k as usize);
        let buf = values;
        buf.clear();
        buf.extend(sp[s0 + full..s0 + full + n].iter().zip(&sp[s0..s0 + n]).map(|(b, a)| o.kw * (b - a)));
        if o.frac > 0.0 {
            for (v, r) in buf.iter_mut().zip(&sr[s0 + full..s0 + full + n]) {
                *v += o.kw * o.frac * r;
            }
        }
        if let Some((_, lp)) = lam {
            for (v, (b, a)) in buf.iter_mut().zip(lp[s0 + k..s0 + k + n].iter().zip(&lp[s0..s0 + n])) {
                *v += g * (b - a);
            }
        }
        if o.dcoef > 0.0 {
            for (i, v) in buf.iter_mut().enumerate() {
                *v += o.dcoef * ((s0 + i) as f64 - o.t0).max(0.0);
            }
        }
        if o.churn > 0.0 {
            for (i, v) in buf.iter_mut().enumerate() {
                if Some(o.first + i as u32) != o.churn_free {
                    *v += o.churn;
                }
            }
        }
        let mut best = (f64::INFINITY, o.first);
        for (i, &v) in buf.iter().enumerate() {
            if v < best.0 {
                best = (v, o.first + i as u32);
            }
        }
        (best.0 + o.fixed, best.1)
    }
}

/// One job's subproblem at prices `lam` (prefix sums `pre`): its value (at most its penalty)
/// and the slots it would hold, if running beats the penalty.
type Held = Option<(usize, usize, Vec<u32>)>;

/// Buffers reused across a thread's subproblems.
#[derive(Default)]
struct Scratch {
    pairs: Vec<(f64, u32)>,
    values: Vec<f64>,
}

/// Per (site, type) and window length k, the least a job of one accelerator can pay in prices
/// over k slots: contiguous (`span[s][a][k]`, the cheapest window) and any k slots
/// (`any[s][a][k]`, the k cheapest). An option whose unpriced value plus this is above the
/// best found needs no scan.
struct Floors {
    span: Vec<Vec<Vec<f64>>>,
    any: Vec<Vec<Vec<f64>>>,
}

impl Floors {
    fn new(lam: &[Vec<Vec<f64>>], pre: &[Vec<Vec<f64>>], lengths: &[bool]) -> Floors {
        let t_len = lengths.len().saturating_sub(1);
        let mut span = Vec::with_capacity(lam.len());
        let mut any = Vec::with_capacity(lam.len());
        for (site, site_pre) in lam.iter().zip(pre) {
            let mut sp = Vec::with_capacity(site.len());
            let mut an = Vec::with_capacity(site.len());
            for (l, pr) in site.iter().zip(site_pre) {
                let mut by_k = vec![0.0; t_len + 1];
                let mut sorted = l.clone();
                sorted.sort_by(f64::total_cmp);
                let small = prefix_of(&sorted);
                for k in 1..=t_len {
                    if lengths[k] {
                        by_k[k] = (0..=t_len - k).map(|t| pr[t + k] - pr[t]).fold(f64::INFINITY, f64::min);
                    }
                }
                sp.push(by_k);
                an.push(small);
            }
            span.push(sp);
            any.push(an);
        }
        Floors { span, any }
    }
}

fn job_choice(
    tables: &Tables,
    ctx: &Ctx,
    ji: usize,
    lam: &[Vec<Vec<f64>>],
    pre: &[Vec<Vec<f64>>],
    floors: &Floors,
    scratch: &mut Scratch,
) -> (f64, Held) {
    let j = &ctx.p.jobs[ji];
    let g = j.gpus as f64;
    let penalty = ctx.p.objective.job_penalty(j);
    let lam_of = |o: &Opt| Some((lam[o.site][o.acc].as_slice(), pre[o.site][o.acc].as_slice()));
    let priced = |o: &Opt| {
        let pr = &pre[o.site][o.acc];
        pr[(o.last + o.k) as usize] - pr[o.first as usize] > 0.0
    };
    if !j.pausable {
        let mut best = (penalty, None::<(usize, u32)>);
        for (oi, o) in tables.opts[ji].iter().enumerate() {
            // Options come cheapest-unpriced first; prices only add, so none later can win.
            if o.unpriced.0 >= best.0 {
                break;
            }
            if o.unpriced.0 + g * floors.span[o.site][o.acc][o.k as usize] >= best.0 {
                continue;
            }
            let (v, t) = if priced(o) { tables.best(o, false, g, lam_of(o), &mut scratch.pairs, &mut scratch.values) } else { o.unpriced };
            if v < best.0 {
                best = (v, Some((oi, t)));
            }
        }
        let held = best.1.map(|(oi, t)| {
            let o = &tables.opts[ji][oi];
            (o.site, o.acc, (t..t + o.k).collect())
        });
        return (best.0, held);
    }
    // A pausable job's exact value costs a heap scan. Options come cheapest-unpriced first;
    // each is ruled out by the cheapest test that can: its unpriced value (prices only add),
    // then that plus the k cheapest prices at its site anywhere, then the k cheapest hours of
    // its own window, before the scan.
    let mut best = (penalty, None::<(usize, Vec<u32>)>);
    for (oi, o) in tables.opts[ji].iter().enumerate() {
        if o.unpriced.0 >= best.0 {
            break;
        }
        let is_priced = priced(o);
        if is_priced
            && (o.unpriced.0 + g * floors.any[o.site][o.acc][o.k as usize] >= best.0
                || tables.pausable_floor(o, g, lam_of(o), &mut scratch.pairs) >= best.0)
        {
            continue;
        }
        let (v, _) = tables.best(o, true, g, if is_priced { lam_of(o) } else { None }, &mut scratch.pairs, &mut scratch.values);
        if v < best.0 {
            best = (v, Some((oi, scratch.pairs[..o.k as usize].iter().map(|x| x.1).collect())));
        }
    }
    let held = best.1.map(|(oi, slots)| {
        let o = &tables.opts[ji][oi];
        (o.site, o.acc, slots)
    });
    (best.0, held)
}

/// A lower bound on serving service `vi` in slot `t` at prices `lam`, and the replicas by site
/// of the whole-replica relaxation (for the subgradient).
fn service_choice(ctx: &Ctx, vi: usize, t: u32, feasible: &[Vec<usize>], acc: usize, lam: &[Vec<Vec<f64>>]) -> (f64, Vec<(usize, u32)>) {
    let p = ctx.p;
    let v = &p.services[vi];
    let obj = &p.objective;
    let pen = obj.unmet_penalty_per_rps_hour(v);
    let gpr = v.gpus_per_replica as f64;
    let cost = |s: usize| {
        let (usd, kg, _) = ctx.replica_eval(v, s, t);
        obj.score(usd, kg, 0.0) + gpr * lam[s][acc][t as usize]
    };
    // Relaxation 1: each region at its cheapest feasible site, replicas divisible.
    let mut divisible = 0.0;
    // Relaxation 2: all demand that can be served at the cheapest sites any region may use.
    let mut union: Vec<usize> = Vec::new();
    let (mut servable, mut stranded) = (0.0, 0.0);
    for (g, sites) in feasible.iter().enumerate() {
        let d = v.demand[g][t as usize];
        if d <= 0.0 {
            continue;
        }
        divisible += d * sites.iter().map(|&s| cost(s) / v.replica_rps).fold(pen, f64::min);
        if sites.is_empty() {
            stranded += obj.unmet_penalty(v, d);
        } else {
            servable += d;
            for &s in sites {
                if !union.contains(&s) {
                    union.push(s);
                }
            }
        }
    }
    let mut priced: Vec<(f64, usize)> = union.iter().map(|&s| (cost(s), s)).collect();
    priced.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut whole = stranded;
    let mut rest = servable;
    let mut replicas = Vec::new();
    'sites: for (c, s) in priced {
        let cap = (ctx.capacity[s][acc] / v.gpus_per_replica.max(1)) as u64;
        let mut n = 0u32;
        while rest > 1e-12 && (n as u64) < cap {
            let x = rest.min(v.replica_rps);
            // Unmet demand pays whole replicas, so a replica is worth running while it costs
            // less than one replica's penalty, whatever share of it the demand fills.
            if c >= obj.replica_penalty(v) {
                if n > 0 {
                    replicas.push((s, n));
                }
                break 'sites;
            }
            whole += c;
            rest -= x;
            n += 1;
        }
        if n > 0 {
            replicas.push((s, n));
        }
        if rest <= 1e-12 {
            break;
        }
    }
    whole += obj.unmet_penalty(v, rest.max(0.0));
    (divisible.max(whole), replicas)
}

/// Maximises L(λ) by projected subgradient steps, starting from λ = 0; `upper` is the objective
/// of a known plan (Polyak's target). `stop(iteration, best_bound)` may end the run early.
pub fn relax(ctx: &Ctx, opts: &[JobOptions], upper: f64, settings: &Settings, stop: &mut dyn FnMut(u32, f64) -> bool) -> Relaxation {
    relax_from(ctx, opts, upper, settings, None, stop)
}

/// `relax`, continuing from an earlier run's best prices and step scale (with a better
/// `upper`, e.g. the objective of a plan repaired with those prices).
pub fn relax_from(
    ctx: &Ctx,
    opts: &[JobOptions],
    upper: f64,
    settings: &Settings,
    from: Option<&Relaxation>,
    stop: &mut dyn FnMut(u32, f64) -> bool,
) -> Relaxation {
    let p = ctx.p;
    let (n_sites, n_accs, t_len) = (p.sites.len(), ctx.accs.0.len(), p.slots as usize);
    let zero = || vec![vec![vec![0.0f64; t_len]; n_accs]; n_sites];
    let mut lam = from.map(|r| r.prices.clone()).unwrap_or_else(zero);
    let tables = Tables::new(ctx, opts);
    let mut lengths = vec![false; t_len + 1];
    for o in tables.opts.iter().flatten() {
        lengths[(o.k as usize).min(t_len)] = true;
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    let feasible: Vec<Vec<Vec<usize>>> = p.services.iter().map(|v| (0..p.regions.len()).map(|g| ctx.service_sites(v, g).0).collect()).collect();
    let service_acc: Vec<Option<usize>> = p.services.iter().map(|v| ctx.accs.ix(&v.accelerator)).collect();
    // No accelerator-slot is worth more than the penalty of leaving its work undone: at a
    // higher price every job would rather pay its penalty. Any λ ≥ 0 gives a valid bound, so
    // keeping λ in [0, max_price] only stops the steps from overshooting.
    let max_price = p.objective.unplaced_usd_per_gpu_hour.max(1e-9);
    let mut best = from.map(|r| r.bound.value).unwrap_or(f64::NEG_INFINITY);
    let mut best_lam = lam.clone();
    // Polyak's step scale starts at 2 and halves after `PATIENCE` iterations without a better
    // bound; a share of the last direction smooths the zig-zag of plain subgradient steps.
    const PATIENCE: u32 = 12;
    const MOMENTUM: f64 = 0.3;
    let mut scale = from.map(|r| (r.scale * 2.0).min(2.0)).unwrap_or(2.0);
    let mut since_better = 0;
    let mut iterations = 0;
    let mut direction = zero();
    let mut mean = from.map(|r| r.mean_prices.clone()).unwrap_or_else(|| lam.clone());
    while iterations < settings.max_iterations {
        iterations += 1;
        for s in 0..n_sites {
            for a in 0..n_accs {
                for t in 0..t_len {
                    mean[s][a][t] += MEAN_WEIGHT * (lam[s][a][t] - mean[s][a][t]);
                }
            }
        }
        let pre: Vec<Vec<Vec<f64>>> = lam.iter().map(|site| site.iter().map(|v| prefix_of(v)).collect()).collect();
        let floors = Floors::new(&lam, &pre, &lengths);
        // Jobs are independent given the prices: split them over threads. Each job's value is
        // kept and summed in job order, so the bound does not depend on the thread count.
        let n_jobs = p.jobs.len();
        let chunk = n_jobs.div_ceil(threads).max(1);
        // Per thread: each job's value, and its usage by site, accelerator and slot.
        type Part = (Vec<f64>, Vec<Vec<Vec<f64>>>);
        let parts: Vec<Part> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n_jobs)
                .step_by(chunk)
                .map(|from| {
                    let (tables, lam, pre, zero, floors) = (&tables, &lam, &pre, &zero, &floors);
                    scope.spawn(move || {
                        let mut values = Vec::with_capacity(chunk);
                        let mut usage = zero();
                        let mut scratch = Scratch::default();
                        for ji in from..(from + chunk).min(n_jobs) {
                            let (v, held) = job_choice(tables, ctx, ji, lam, pre, floors, &mut scratch);
                            values.push(v);
                            if let Some((s, a, slots)) = held {
                                for t in slots {
                                    usage[s][a][t as usize] += ctx.p.jobs[ji].gpus as f64;
                                }
                            }
                        }
                        (values, usage)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("no panic in a subproblem")).collect()
        });
        let mut usage = zero();
        let mut value = 0.0;
        for (values, u) in parts {
            value += values.iter().sum::<f64>();
            for (s, site) in u.into_iter().enumerate() {
                for (a, row) in site.into_iter().enumerate() {
                    for (t, x) in row.into_iter().enumerate() {
                        usage[s][a][t] += x;
                    }
                }
            }
        }
        for (vi, v) in p.services.iter().enumerate() {
            let Some(a) = service_acc[vi] else {
                // No site has its accelerator: all its demand is unmet.
                value += v.demand.iter().flatten().map(|&d| p.objective.unmet_penalty(v, d)).sum::<f64>();
                continue;
            };
            for t in 0..p.slots {
                let (w, reps) = service_choice(ctx, vi, t, &feasible[vi], a, &lam);
                value += w;
                for (s, n) in reps {
                    usage[s][a][t as usize] += (n * v.gpus_per_replica) as f64;
                }
            }
        }
        let mut norm = 0.0;
        for s in 0..n_sites {
            for a in 0..n_accs {
                let cap = ctx.capacity[s][a] as f64;
                for t in 0..t_len {
                    value -= lam[s][a][t] * cap;
                    let mut g = usage[s][a][t] - cap;
                    if lam[s][a][t] <= 0.0 && g < 0.0 {
                        g = 0.0;
                    }
                    // A little of the last direction smooths the zig-zag of plain subgradients.
                    let d = g + MOMENTUM * direction[s][a][t];
                    direction[s][a][t] = d;
                    norm += d * d;
                }
            }
        }
        if best == f64::NEG_INFINITY || value > best + 1e-9 * best.abs().max(1.0) {
            best = value;
            best_lam.clone_from(&lam);
            since_better = 0;
        } else {
            since_better += 1;
            if since_better >= PATIENCE {
                scale /= 2.0;
                since_better = 0;
            }
        }
        let gap = (upper - best) / upper.abs().max(1e-9);
        if gap <= settings.target_gap || norm <= 1e-12 || scale < 1e-4 || stop(iterations, best) {
            break;
        }
        let step = scale * (upper - best).max(1e-9 * upper.abs().max(1.0)) / norm;
        for s in 0..n_sites {
            for a in 0..n_accs {
                for t in 0..t_len {
                    lam[s][a][t] = (lam[s][a][t] + step * direction[s][a][t]).clamp(0.0, max_price);
                }
            }
        }
    }
    Relaxation { bound: Bound { value: best, kind: "lagrangian".into() }, prices: best_lam, iterations, scale, mean_prices: mean }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{synthetic, Shape};

    #[test]
    fn the_fast_option_scores_match_the_planners_own() {
        let p = synthetic(3, &Shape { sites: 3, slots: 48, jobs: 20, services: 0, regions: 1, capacity: 64, pausable_share: 0.0 });
        let ctx = Ctx::new(&p);
        let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
        let tables = Tables::new(&ctx, &opts);
        for (ji, jo) in opts.iter().enumerate() {
            for (oi, o) in jo.options.iter().enumerate() {
                let best = (o.first_start..=o.last_start).map(|t| ctx.eval(&p.jobs[ji], o, t).score).fold(f64::INFINITY, f64::min);
                let fast = tables.opts[ji].iter().find(|x| x.site == o.site && x.acc == o.acc).unwrap().unpriced.0;
                assert!((best - fast).abs() <= 1e-9 * best.abs().max(1.0), "job {ji} option {oi}: {best} vs {fast}");
            }
        }
    }
}

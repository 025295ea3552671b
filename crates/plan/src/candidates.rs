//! The filter and score stages shared by every solver: for each job, which sites are possible
//! at all (and a named reason for each that is not), and what each (site, start) option costs,
//! emits and scores. Prefix sums over each site's hourly rates make one option O(1).

use crate::plan::Reason;
use crate::problem::{Job, Problem, Service, SiteIx};

/// A slot and its cost, totally ordered by cost then slot: the heap key of the exact
/// pausable subproblems (the cheapest k − 1 slots before each possible last slot), shared by
/// the heuristic and the Lagrangian so both pick the same slots.
#[derive(Debug, PartialEq)]
pub(crate) struct SlotCost(pub f64, pub u32);

impl Eq for SlotCost {}

impl PartialOrd for SlotCost {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SlotCost {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// A site's hourly rates per kW drawn (price and carbon, PUE included), with prefix sums.
#[derive(Debug, Clone)]
pub struct Rates {
    pub usd_per_kw: Vec<f64>,
    pub kg_per_kw: Vec<f64>,
    /// The objective's score of one kW drawn in each slot (cost and priced carbon).
    pub score_per_kw: Vec<f64>,
    prefix_usd: Vec<f64>,
    prefix_kg: Vec<f64>,
    prefix_score: Vec<f64>,
}

impl Rates {
    fn new(usd_per_kwh: &[f64], kg_per_kwh: &[f64], pue: f64, obj: &crate::problem::Objective) -> Rates {
        let usd: Vec<f64> = usd_per_kwh.iter().map(|p| p * pue).collect();
        let kg: Vec<f64> = kg_per_kwh.iter().map(|c| c * pue).collect();
        let score: Vec<f64> = usd.iter().zip(&kg).map(|(&u, &k)| obj.score(u, k, 0.0)).collect();
        let prefix = |v: &[f64]| {
            let mut out = Vec::with_capacity(v.len() + 1);
            let mut acc = 0.0;
            out.push(0.0);
            for x in v {
                acc += x;
                out.push(acc);
            }
            out
        };
        Rates { prefix_usd: prefix(&usd), prefix_kg: prefix(&kg), prefix_score: prefix(&score), usd_per_kw: usd, kg_per_kw: kg, score_per_kw: score }
    }
    /// The score per kW drawn over `hours` from slot `start` (last slot partial).
    #[inline]
    pub fn score_span(&self, start: u32, hours: f64) -> f64 {
        let full = hours as usize;
        let frac = hours - full as f64;
        let s = start as usize;
        let mut v = self.prefix_score[s + full] - self.prefix_score[s];
        if frac > 1e-9 {
            v += frac * self.score_per_kw[s + full];
        }
        v
    }
    /// USD and kg per kW drawn over `hours` starting at slot `start` (last slot partial).
    #[inline]
    pub fn span(&self, start: u32, hours: f64) -> (f64, f64) {
        // `as usize` truncates toward zero, which is floor for the non-negative hours here.
        let full = hours as usize;
        let frac = hours - full as f64;
        let s = start as usize;
        let mut usd = self.prefix_usd[s + full] - self.prefix_usd[s];
        let mut kg = self.prefix_kg[s + full] - self.prefix_kg[s];
        if frac > 1e-9 {
            usd += frac * self.usd_per_kw[s + full];
            kg += frac * self.kg_per_kw[s + full];
        }
        (usd, kg)
    }
}

/// The accelerator types that appear anywhere, so capacity can be an array.
#[derive(Debug, Clone)]
pub struct AccTypes(pub Vec<String>);

impl AccTypes {
    pub fn ix(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|a| a == name)
    }
}

/// One way to run a job at a site with one accelerator type.
#[derive(Debug, Clone)]
pub struct SiteOption {
    pub site: SiteIx,
    pub acc: usize,
    /// Index into the job's `accelerators`.
    pub option: usize,
    /// Hours the job runs here (reference hours / speed).
    pub hours: f64,
    /// Whole slots occupied.
    pub slots: u32,
    pub kw_total: f64,
    pub gpu_hour_usd_total: f64,
    pub transfer_hours: f64,
    pub transfer_usd: f64,
    pub first_start: u32,
    /// Last start that ends by the deadline (inclusive).
    pub last_start: u32,
    /// The score of what does not depend on the start (accelerator-hours and the transfer).
    pub fixed_score: f64,
    /// The job's ideal end (`Ctx::ideal_end`), for delay.
    pub ideal_end: f64,
}

/// Cost, carbon and score of one concrete option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    pub usd: f64,
    /// The electricity part of `usd`.
    pub electricity_usd: f64,
    pub kg: f64,
    pub kwh: f64,
    pub delay_h: f64,
    pub score: f64,
}

/// The possible sites of one job, and why the others are impossible.
#[derive(Debug, Clone)]
pub struct JobOptions {
    pub options: Vec<SiteOption>,
    pub rejected: Vec<(SiteIx, Reason)>,
}

/// Precomputed rates and accelerator types for a problem.
pub struct Ctx<'a> {
    pub p: &'a Problem,
    pub rates: Vec<Rates>,
    pub accs: AccTypes,
    /// capacity[site][acc]
    pub capacity: Vec<Vec<u32>>,
    /// Shadow prices of capacity, when a Lagrangian repair steers a solver with them: scores
    /// include them, costs do not. Plans are always assembled with a context without them.
    pub shadow: Option<Shadow>,
}

/// Prices per accelerator and slot by site and type (`per[site][acc][slot]`), with prefix sums.
#[derive(Debug, Clone)]
pub struct Shadow {
    pub per: Vec<Vec<Vec<f64>>>,
    prefix: Vec<Vec<Vec<f64>>>,
}

impl Shadow {
    pub fn new(per: Vec<Vec<Vec<f64>>>) -> Shadow {
        let prefix = per
            .iter()
            .map(|site| {
                site.iter()
                    .map(|v| {
                        let mut out = Vec::with_capacity(v.len() + 1);
                        let mut acc = 0.0;
                        out.push(0.0);
                        for x in v {
                            acc += x;
                            out.push(acc);
                        }
                        out
                    })
                    .collect()
            })
            .collect();
        Shadow { per, prefix }
    }
    /// The sum of prices over slots `start..start + slots`.
    #[inline]
    pub fn span(&self, s: SiteIx, a: usize, start: u32, slots: u32) -> f64 {
        let p = &self.prefix[s][a];
        p[(start + slots) as usize] - p[start as usize]
    }
    #[inline]
    pub fn at(&self, s: SiteIx, a: usize, t: u32) -> f64 {
        self.per[s][a][t as usize]
    }
}

impl<'a> Ctx<'a> {
    pub fn new(p: &'a Problem) -> Ctx<'a> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |n: &str| {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_string());
            }
        };
        for s in &p.sites {
            for (a, _) in &s.capacity {
                add(a);
            }
        }
        for j in &p.jobs {
            for a in &j.accelerators {
                add(&a.accelerator);
            }
        }
        for v in &p.services {
            add(&v.accelerator);
        }
        let accs = AccTypes(names);
        let capacity = p.sites.iter().map(|s| accs.0.iter().map(|a| s.capacity_of(a)).collect()).collect();
        Ctx {
            rates: p.sites.iter().map(|s| Rates::new(&s.usd_per_kwh, &s.kg_per_kwh, s.pue, &p.objective)).collect(),
            p,
            accs,
            capacity,
            shadow: None,
        }
    }

    /// The same context with shadow prices on capacity (see `Shadow`).
    pub fn with_shadow(&self, shadow: Shadow) -> Ctx<'a> {
        Ctx { p: self.p, rates: self.rates.clone(), accs: self.accs.clone(), capacity: self.capacity.clone(), shadow: Some(shadow) }
    }

    /// The shadow price of one accelerator of type `a` at site `s` in slot `t` (0 without).
    #[inline]
    pub fn shadow_at(&self, s: SiteIx, a: usize, t: u32) -> f64 {
        self.shadow.as_ref().map(|x| x.at(s, a, t)).unwrap_or(0.0)
    }

    /// Filters the sites of job `j`, naming a reason for each impossible one.
    pub fn job_options(&self, j: &Job) -> JobOptions {
        let p = self.p;
        let mut options = Vec::new();
        let mut rejected = Vec::new();
        for (s, site) in p.sites.iter().enumerate() {
            if let Some(allowed) = &j.allowed_sites {
                if !allowed.contains(&s) {
                    rejected.push((s, Reason::Residency));
                    continue;
                }
            }
            let (transfer_hours, transfer_usd) = if !j.moves_data_to(s) {
                (0.0, 0.0)
            } else {
                let l = &p.links[j.data_site][s];
                (l.hours(j.data_bytes), l.usd(j.data_bytes))
            };
            let mut reason: Option<Reason> = None;
            let mut any_type = false;
            for (oi, o) in j.accelerators.iter().enumerate() {
                let Some(acc) = self.accs.ix(&o.accelerator) else { continue };
                let cap = self.capacity[s][acc];
                if cap == 0 {
                    continue;
                }
                any_type = true;
                if cap < j.gpus {
                    reason.get_or_insert(Reason::TooSmall { capacity: cap, needed: j.gpus });
                    continue;
                }
                let hours = j.hours / o.speed;
                // `Problem::validate` bounds hours and speed, so `slots` fits; the transfer may
                // take longer than any horizon, so the start is compared in f64 first.
                let slots = (hours - 1e-9).ceil().max(1.0) as u32;
                let first = j.earliest as f64 + (transfer_hours - 1e-9).ceil().max(0.0);
                let end_limit = j.deadline.min(p.slots);
                if first + slots as f64 > end_limit as f64 {
                    let r =
                        Reason::Deadline { earliest_end_slot: j.earliest as f64 + transfer_hours + hours, deadline_slot: j.deadline, transfer_hours };
                    // A deadline miss explains more than a size mismatch on another type.
                    reason = Some(r);
                    continue;
                }
                options.push(SiteOption {
                    site: s,
                    acc,
                    option: oi,
                    hours,
                    slots,
                    kw_total: j.gpus as f64 * o.kw_per_gpu,
                    gpu_hour_usd_total: j.gpus as f64 * site.gpu_hour_usd(&o.accelerator),
                    transfer_hours,
                    transfer_usd,
                    first_start: first as u32,
                    last_start: end_limit - slots,
                    fixed_score: p.objective.score(j.gpus as f64 * site.gpu_hour_usd(&o.accelerator) * hours + transfer_usd, 0.0, 0.0),
                    ideal_end: Self::ideal_end(j),
                });
            }
            if !any_type {
                rejected.push((s, Reason::AcceleratorType { wanted: j.accelerators.iter().map(|a| a.accelerator.clone()).collect() }));
            } else if !options.iter().any(|o| o.site == s) {
                rejected.push((s, reason.unwrap_or(Reason::Capacity)));
            }
        }
        JobOptions { options, rejected }
    }

    /// The earliest the job could possibly finish anywhere, in hours from slot 0 (the reference
    /// for delay): its earliest slot plus its run time on its fastest accelerator, with no data
    /// to move. Waiting, moving data and a slower accelerator all count as delay.
    pub fn ideal_end(j: &Job) -> f64 {
        let fastest = j.accelerators.iter().map(|a| a.speed).fold(f64::MIN_POSITIVE, f64::max);
        j.earliest as f64 + j.hours / fastest
    }

    /// The score alone of running option `o` of job `j` from `start` (what `eval` gives as
    /// `score`, computed from one prefix sum: the planner's inner loops use it).
    #[inline]
    pub fn score(&self, j: &Job, o: &SiteOption, start: u32) -> f64 {
        let obj = &self.p.objective;
        let delay = (start as f64 + o.hours - o.ideal_end).max(0.0);
        let shadow = self.shadow.as_ref().map(|x| j.gpus as f64 * x.span(o.site, o.acc, start, o.slots)).unwrap_or(0.0);
        o.kw_total * self.rates[o.site].score_span(start, o.hours)
            + o.fixed_score
            + obj.delay_usd_per_hour * delay
            + shadow
            + self.churn(j, o.site, start)
    }

    /// Cost, carbon and score of running option `o` of job `j` from `start`.
    #[inline]
    pub fn eval(&self, j: &Job, o: &SiteOption, start: u32) -> Eval {
        let (usd_kw, kg_kw) = self.rates[o.site].span(start, o.hours);
        let electricity_usd = o.kw_total * usd_kw;
        let usd = electricity_usd + o.gpu_hour_usd_total * o.hours + o.transfer_usd;
        let kg = o.kw_total * kg_kw;
        let kwh = o.kw_total * o.hours * self.p.sites[o.site].pue;
        let delay_h = (start as f64 + o.hours - Self::ideal_end(j)).max(0.0);
        let shadow = self.shadow.as_ref().map(|x| j.gpus as f64 * x.span(o.site, o.acc, start, o.slots)).unwrap_or(0.0);
        Eval { usd, electricity_usd, kg, kwh, delay_h, score: self.p.objective.score(usd, kg, delay_h) + shadow + self.churn(j, o.site, start) }
    }

    /// The churn charge of running job `j` at `site` from `start` (0 at its previous placement,
    /// or when it has none).
    #[inline]
    pub fn churn(&self, j: &Job, site: SiteIx, start: u32) -> f64 {
        match j.previous {
            Some(prev) if prev != (site, start) => self.p.objective.churn_usd,
            _ => 0.0,
        }
    }

    /// Cost, carbon and score of running a pausable job in the given slots. A pausable job is
    /// checkpointed and resumed at hour boundaries, so it holds (and powers) its accelerators
    /// for every hour it is scheduled, the last one included.
    pub fn eval_slots(&self, j: &Job, o: &SiteOption, slots: &[u32]) -> Eval {
        let r = &self.rates[o.site];
        let (usd_kw, kg_kw) = slots.iter().fold((0.0, 0.0), |(u, k), &t| (u + r.usd_per_kw[t as usize], k + r.kg_per_kw[t as usize]));
        let held = slots.len() as f64;
        let electricity_usd = o.kw_total * usd_kw;
        let usd = electricity_usd + o.gpu_hour_usd_total * held + o.transfer_usd;
        let kg = o.kw_total * kg_kw;
        let kwh = o.kw_total * held * self.p.sites[o.site].pue;
        let end = slots.last().map(|&t| t as f64 + 1.0).unwrap_or(0.0);
        let delay_h = (end - Self::ideal_end(j)).max(0.0);
        let shadow: f64 = slots.iter().map(|&t| j.gpus as f64 * self.shadow_at(o.site, o.acc, t)).sum();
        let churn = self.churn(j, o.site, slots.first().copied().unwrap_or(0));
        Eval { usd, electricity_usd, kg, kwh, delay_h, score: self.p.objective.score(usd, kg, delay_h) + shadow + churn }
    }

    /// Cost, carbon and energy of one replica of service `v` at site `s` in slot `t`.
    pub fn replica_eval(&self, v: &Service, s: SiteIx, t: u32) -> (f64, f64, f64) {
        let site = &self.p.sites[s];
        let kw = v.gpus_per_replica as f64 * v.kw_per_gpu;
        let usd = self.replica_electricity(v, s, t) + v.gpus_per_replica as f64 * site.gpu_hour_usd(&v.accelerator);
        let kg = kw * self.rates[s].kg_per_kw[t as usize];
        (usd, kg, kw * site.pue)
    }

    /// The electricity cost of one replica-hour of service `v` at site `s` in slot `t`.
    pub fn replica_electricity(&self, v: &Service, s: SiteIx, t: u32) -> f64 {
        v.gpus_per_replica as f64 * v.kw_per_gpu * self.rates[s].usd_per_kw[t as usize]
    }

    /// Sites that may serve `region` for service `v`, and the reasons for the others.
    pub fn service_sites(&self, v: &Service, region: usize) -> (Vec<SiteIx>, Vec<(SiteIx, Reason)>) {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let acc = self.accs.ix(&v.accelerator);
        for s in 0..self.p.sites.len() {
            if let Some(a) = &v.allowed_sites {
                if !a.contains(&s) {
                    bad.push((s, Reason::Residency));
                    continue;
                }
            }
            let cap = acc.map(|a| self.capacity[s][a]).unwrap_or(0);
            if cap == 0 {
                bad.push((s, Reason::AcceleratorType { wanted: vec![v.accelerator.clone()] }));
                continue;
            }
            if cap < v.gpus_per_replica {
                bad.push((s, Reason::TooSmall { capacity: cap, needed: v.gpus_per_replica }));
                continue;
            }
            let ms = self.p.latency_ms[region][s];
            if ms > v.slo_ms {
                bad.push((s, Reason::Latency { region: self.p.regions[region].name.clone(), ms, slo_ms: v.slo_ms }));
                continue;
            }
            ok.push(s);
        }
        (ok, bad)
    }
}

/// Free accelerators per site, type and slot, with the operations placement needs.
#[derive(Debug, Clone)]
pub struct Free {
    /// free[site][acc][slot]
    pub free: Vec<Vec<Vec<u32>>>,
}

impl Free {
    /// The capacity left after a set of decisions.
    pub fn after(ctx: &Ctx, opts: &[JobOptions], d: &crate::assemble::Decisions) -> Free {
        let mut free = Free::new(ctx);
        for (ji, jd) in d.jobs.iter().enumerate() {
            if let Some(jd) = jd {
                let o = &opts[ji].options[jd.option];
                free.take_saturating(o.site, o.acc, jd.slots.iter().copied(), ctx.p.jobs[ji].gpus);
            }
        }
        for (vi, sds) in d.services.iter().enumerate() {
            let v = &ctx.p.services[vi];
            let Some(a) = ctx.accs.ix(&v.accelerator) else { continue };
            for sd in sds {
                free.take_saturating(sd.site, a, [sd.slot], sd.replicas * v.gpus_per_replica);
            }
        }
        free
    }
    /// Like `take`, but a decision that overfills a slot leaves it at 0 (the invariant checker
    /// reports the overfill; this only answers "is there room").
    fn take_saturating(&mut self, s: SiteIx, a: usize, slots: impl IntoIterator<Item = u32>, gpus: u32) {
        for t in slots {
            let f = &mut self.free[s][a][t as usize];
            *f = f.saturating_sub(gpus);
        }
    }
    pub fn new(ctx: &Ctx) -> Free {
        let t = ctx.p.slots as usize;
        Free { free: ctx.capacity.iter().map(|per| per.iter().map(|&c| vec![c; t]).collect()).collect() }
    }
    pub fn fits(&self, s: SiteIx, a: usize, start: u32, slots: u32, gpus: u32) -> bool {
        self.free[s][a][start as usize..(start + slots) as usize].iter().all(|&f| f >= gpus)
    }
    pub fn take(&mut self, s: SiteIx, a: usize, slots: impl IntoIterator<Item = u32>, gpus: u32) {
        for t in slots {
            let f = &mut self.free[s][a][t as usize];
            debug_assert!(*f >= gpus);
            *f -= gpus;
        }
    }
    pub fn give(&mut self, s: SiteIx, a: usize, slots: impl IntoIterator<Item = u32>, gpus: u32) {
        for t in slots {
            self.free[s][a][t as usize] += gpus;
        }
    }
}

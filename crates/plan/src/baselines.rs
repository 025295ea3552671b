//! The simple policies a plan is compared against, each run on the same problem and costed by
//! the same code: everything in the nearest eastern hub, the cheapest site, the greenest site,
//! and the planner's own site choice without time shifting. Baselines run jobs as soon as
//! capacity allows at their chosen site and may finish late; misses are counted, not hidden.

use crate::assemble::{assemble, Decisions, JobDecision};
use crate::candidates::{Ctx, Free, JobOptions};
use crate::heuristic::{place_services, Heuristic, Timing};
use crate::plan::Baseline;
use crate::problem::{Job, Problem, SiteIx};

fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Runs each job at the first site in `rank`'s order (best first) where it can finish by its
/// deadline, as early as capacity allows; when no site can, at the option that ends first
/// (late). A site that is full is skipped, as a real greedy operator would.
fn forced(ctx: &Ctx, relaxed: &[JobOptions], rank: &dyn Fn(&Job, &JobOptions) -> Vec<SiteIx>, free: &mut Free) -> Vec<Option<JobDecision>> {
    let p = ctx.p;
    let mut order: Vec<usize> = (0..p.jobs.len()).collect();
    order.sort_by_key(|&i| (p.jobs[i].earliest, i));
    let mut out = vec![None; p.jobs.len()];
    for ji in order {
        let j = &p.jobs[ji];
        let jo = &relaxed[ji];
        let earliest_at = |site: SiteIx| {
            jo.options
                .iter()
                .enumerate()
                .filter(|(_, o)| o.site == site)
                .filter_map(|(oi, o)| {
                    (o.first_start..=o.last_start).find(|&t| free.fits(o.site, o.acc, t, o.slots, j.gpus)).map(|t| (oi, t, t + o.slots))
                })
                .min_by_key(|x| x.2)
        };
        let ranked = rank(j, jo);
        let on_time = ranked.iter().find_map(|&s| earliest_at(s).filter(|x| x.2 <= j.deadline));
        let choice = on_time.or_else(|| ranked.iter().filter_map(|&s| earliest_at(s)).min_by_key(|x| x.2));
        if let Some((oi, t, end)) = choice {
            let o = &jo.options[oi];
            free.take(o.site, o.acc, t..end, j.gpus);
            out[ji] = Some(JobDecision { option: oi, slots: (t..end).collect() });
        }
    }
    out
}

/// The distinct sites of a job's options, sorted by `key` (ties by index).
fn sites_by(jo: &JobOptions, key: impl Fn(SiteIx, usize) -> f64) -> Vec<SiteIx> {
    let mut v: Vec<(f64, SiteIx)> = Vec::new();
    for o in &jo.options {
        let k = key(o.site, o.option);
        match v.iter_mut().find(|x| x.1 == o.site) {
            Some(x) => x.0 = x.0.min(k),
            None => v.push((k, o.site)),
        }
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|x| x.1).collect()
}

/// Mean over the horizon of a per-slot site metric.
fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// All baselines for `p`, costed like the plan.
pub fn baselines(p: &Problem) -> Vec<Baseline> {
    let ctx = Ctx::new(p);
    // Baselines may run past deadlines: options over the whole horizon.
    let mut relaxed_p = p.clone();
    for j in &mut relaxed_p.jobs {
        j.deadline = p.slots;
    }
    let relaxed_ctx = Ctx::new(&relaxed_p);
    let relaxed: Vec<JobOptions> = relaxed_p.jobs.iter().map(|j| relaxed_ctx.job_options(j)).collect();
    let site_pos = |s: SiteIx| (p.sites[s].lat, p.sites[s].lon);
    let mut out = Vec::new();

    // Mean cost per accelerator-hour and carbon per kWh of each site, for the greedy picks.
    let usd_rate = |s: SiteIx, acc: &str, kw: f64| mean(&ctx.rates[s].usd_per_kw) * kw + p.sites[s].gpu_hour_usd(acc);
    let kg_rate = |s: SiteIx| mean(&ctx.rates[s].kg_per_kw);

    type Pick<'a> = Box<dyn Fn(&Job, &JobOptions) -> Vec<SiteIx> + 'a>;
    type Rank<'a> = Box<dyn Fn(&crate::problem::Service, usize, usize, u32) -> f64 + 'a>;
    let policies: Vec<(&str, &str, Pick, Rank)> = vec![
        (
            "nearest-east",
            "every job at the eastern hub nearest its data (the next nearest when full), every region served from the nearest site, run now",
            Box::new(|j: &Job, jo: &JobOptions| {
                // Eastern hubs first, nearest first; other sites only when no eastern one can.
                sites_by(jo, |s, _| km(site_pos(s), site_pos(j.data_site)) + if p.sites[s].east { 0.0 } else { 1e6 })
            }),
            Box::new(|_v, g, s, _t| p.latency_ms[g][s]),
        ),
        (
            "cheapest",
            "every job and service at the cheapest site with room (mean electricity and facility price), run now",
            Box::new(|j: &Job, jo: &JobOptions| sites_by(jo, |s, oi| usd_rate(s, &j.accelerators[oi].accelerator, j.accelerators[oi].kw_per_gpu))),
            Box::new(move |v, _g, s, _t| usd_rate(s, &v.accelerator, v.kw_per_gpu)),
        ),
        (
            "greenest",
            "every job and service at the site with room and the lowest mean grid carbon intensity, run now",
            Box::new(|_j: &Job, jo: &JobOptions| sites_by(jo, |s, _| kg_rate(s))),
            Box::new(move |_v, _g, s, _t| kg_rate(s)),
        ),
    ];
    for (name, description, pick, rank) in policies {
        let mut free = Free::new(&ctx);
        let (services, unmet) = place_services(&ctx, &mut free, &*rank, false);
        let jobs = forced(&ctx, &relaxed, &*pick, &mut free);
        let d = Decisions { jobs, services, unmet, late_ok: true };
        let plan = assemble(&ctx, &relaxed, &d, name);
        out.push(Baseline { name: name.into(), description: description.into(), totals: plan.totals });
    }

    // The planner's scoring without time shifting: the site choice alone.
    let h = Heuristic { timing: Timing::Asap, passes: 0, ..Heuristic::default() };
    let opts: Vec<JobOptions> = p.jobs.iter().map(|j| ctx.job_options(j)).collect();
    let d = h.decide(&ctx, &opts);
    let plan = assemble(&ctx, &opts, &d, "run-now");
    out.push(Baseline {
        name: "run-now".into(),
        description: "the planner's site choice, started as soon as capacity allows (no time shifting)".into(),
        totals: plan.totals,
    });
    out
}

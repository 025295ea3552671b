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

/// Runs each job at the site `pick` chooses among its options, as early as capacity allows.
fn forced(ctx: &Ctx, relaxed: &[JobOptions], pick: &dyn Fn(&Job, &JobOptions) -> Option<SiteIx>, free: &mut Free) -> Vec<Option<JobDecision>> {
    let p = ctx.p;
    let mut order: Vec<usize> = (0..p.jobs.len()).collect();
    order.sort_by_key(|&i| (p.jobs[i].earliest, i));
    let mut out = vec![None; p.jobs.len()];
    for ji in order {
        let j = &p.jobs[ji];
        let jo = &relaxed[ji];
        let Some(site) = pick(j, jo) else { continue };
        let found = jo
            .options
            .iter()
            .enumerate()
            .filter(|(_, o)| o.site == site)
            .filter_map(|(oi, o)| (o.first_start..=o.last_start).find(|&t| free.fits(o.site, o.acc, t, o.slots, j.gpus)).map(|t| (oi, o, t)))
            .min_by_key(|(_, o, t)| t + o.slots);
        if let Some((oi, o, t)) = found {
            free.take(o.site, o.acc, t..t + o.slots, j.gpus);
            out[ji] = Some(JobDecision { option: oi, slots: (t..t + o.slots).collect() });
        }
    }
    out
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

    type Pick<'a> = Box<dyn Fn(&Job, &JobOptions) -> Option<SiteIx> + 'a>;
    type Rank<'a> = Box<dyn Fn(&crate::problem::Service, usize, usize, u32) -> f64 + 'a>;
    let policies: Vec<(&str, &str, Pick, Rank)> = vec![
        (
            "nearest-east",
            "every job at the eastern hub nearest its data, every region served from the nearest site, run now",
            Box::new(|j: &Job, jo: &JobOptions| {
                let east: Vec<SiteIx> = jo.options.iter().map(|o| o.site).filter(|&s| p.sites[s].east).collect();
                let pool = if east.is_empty() { jo.options.iter().map(|o| o.site).collect() } else { east };
                pool.into_iter().min_by(|&a, &b| km(site_pos(a), site_pos(j.data_site)).total_cmp(&km(site_pos(b), site_pos(j.data_site))))
            }),
            Box::new(|_v, g, s, _t| p.latency_ms[g][s]),
        ),
        (
            "cheapest",
            "every job and service at the cheapest site (mean electricity and facility price), run now",
            Box::new(|j: &Job, jo: &JobOptions| {
                jo.options
                    .iter()
                    .min_by(|a, b| {
                        let ra = usd_rate(a.site, &j.accelerators[a.option].accelerator, j.accelerators[a.option].kw_per_gpu);
                        let rb = usd_rate(b.site, &j.accelerators[b.option].accelerator, j.accelerators[b.option].kw_per_gpu);
                        ra.total_cmp(&rb).then(a.site.cmp(&b.site))
                    })
                    .map(|o| o.site)
            }),
            Box::new(move |v, _g, s, _t| usd_rate(s, &v.accelerator, v.kw_per_gpu)),
        ),
        (
            "greenest",
            "every job and service at the site with the lowest mean grid carbon intensity, run now",
            Box::new(|_j: &Job, jo: &JobOptions| {
                jo.options.iter().min_by(|a, b| kg_rate(a.site).total_cmp(&kg_rate(b.site)).then(a.site.cmp(&b.site))).map(|o| o.site)
            }),
            Box::new(move |_v, _g, s, _t| kg_rate(s)),
        ),
    ];
    for (name, description, pick, rank) in policies {
        let mut free = Free::new(&ctx);
        let (services, unmet) = place_services(&ctx, &mut free, &*rank);
        let jobs = forced(&ctx, &relaxed, &*pick, &mut free);
        let d = Decisions { jobs, services, unmet, late_ok: true };
        let plan = assemble(&ctx, &relaxed, &d, name);
        out.push(Baseline { name: name.into(), description: description.into(), totals: plan.totals });
    }

    // The planner's scoring without time shifting: the site choice alone.
    let h = Heuristic { timing: Timing::Asap, passes: 0 };
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

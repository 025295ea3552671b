//! Turns a solver's decisions (an option and slots per job, replicas per service, site and
//! slot) into a `Plan`: costs, carbon, transfers, totals, and a named reason for every site a
//! job did not use. Every solver and baseline goes through here, so their plans are comparable.

use crate::candidates::{Ctx, Free, JobOptions};
use crate::heuristic::{best_placement, Timing};
use crate::plan::*;
use crate::problem::SiteIx;

/// Where one job runs, as a solver decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobDecision {
    /// Index into that job's `JobOptions::options`.
    pub option: usize,
    pub slots: Vec<u32>,
}

/// A service's replicas at a site in a slot, and the demand they serve by region.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDecision {
    pub slot: u32,
    pub site: SiteIx,
    pub replicas: u32,
    pub served: Vec<(usize, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Decisions {
    pub jobs: Vec<Option<JobDecision>>,
    /// Per service, its per-slot, per-site replicas.
    pub services: Vec<Vec<ServiceDecision>>,
    /// Per service, unmet demand in rps-hours.
    pub unmet: Vec<f64>,
    /// Whether each job may finish after its deadline (baselines only).
    pub late_ok: bool,
}

/// The objective of a set of decisions, as `assemble` would total it, without building the
/// plan (no reasons): for comparing candidate plans cheaply.
pub fn objective_of(ctx: &Ctx, opts: &[JobOptions], d: &Decisions) -> f64 {
    let p = ctx.p;
    let mut total = 0.0;
    for (ji, job) in p.jobs.iter().enumerate() {
        total += match &d.jobs[ji] {
            None => p.objective.job_penalty(job),
            Some(dec) => {
                let o = &opts[ji].options[dec.option];
                if job.pausable {
                    ctx.eval_slots(job, o, &dec.slots).score
                } else {
                    ctx.eval(job, o, dec.slots[0]).score
                }
            }
        };
    }
    for (vi, v) in p.services.iter().enumerate() {
        let mut served = vec![vec![0.0f64; p.slots as usize]; p.regions.len()];
        for sd in d.services.get(vi).map(Vec::as_slice).unwrap_or(&[]) {
            let (usd, kg, _) = ctx.replica_eval(v, sd.site, sd.slot);
            total += p.objective.score(usd, kg, 0.0) * sd.replicas as f64;
            for &(g, x) in &sd.served {
                served[g][sd.slot as usize] += x;
            }
        }
        for (g, dem) in v.demand.iter().enumerate() {
            for (t, &x) in dem.iter().enumerate() {
                total += p.objective.unmet_penalty(v, (x - served[g][t]).max(0.0));
            }
        }
    }
    total
}

pub fn assemble(ctx: &Ctx, opts: &[JobOptions], d: &Decisions, solver: &str) -> Plan {
    let p = ctx.p;
    let mut jobs = Vec::new();
    let mut unplaced = Vec::new();
    let mut totals = Totals::default();
    let name = |s: SiteIx| p.sites[s].id.clone();
    // What is left once every decision holds its capacity: an unplaced job's reason at a
    // possible site is "capacity" only if none of its options there fits in it.
    let free = Free::after(ctx, opts, d);
    let mut buf = Vec::new();

    for (ji, job) in p.jobs.iter().enumerate() {
        let jo = &opts[ji];
        let mut rejected: Vec<SiteRejection> = jo.rejected.iter().map(|(s, r)| SiteRejection { site: name(*s), reason: r.clone() }).collect();
        match &d.jobs[ji] {
            None => {
                let penalty = p.objective.job_penalty(job);
                totals.penalty_usd += penalty;
                totals.objective += penalty;
                let mut seen = Vec::new();
                for o in &jo.options {
                    if seen.contains(&o.site) {
                        continue;
                    }
                    seen.push(o.site);
                    let here = JobOptions { options: jo.options.iter().filter(|x| x.site == o.site).cloned().collect(), rejected: Vec::new() };
                    let timing = if d.late_ok { Timing::Asap } else { Timing::Shift };
                    let reason = match best_placement(ctx, job, &here, &free, timing, &mut buf) {
                        Some((_, score)) => Reason::DearerThanPenalty { score, penalty },
                        None => Reason::Capacity,
                    };
                    rejected.push(SiteRejection { site: name(o.site), reason });
                }
                unplaced.push(Unplaced { job: job.id.clone(), reasons: rejected });
            }
            Some(dec) => {
                let o = &jo.options[dec.option];
                let start = dec.slots[0];
                // Pausable jobs hold whole hours, wherever their slots fall (`Ctx::eval_slots`).
                let e = if job.pausable { ctx.eval_slots(job, o, &dec.slots) } else { ctx.eval(job, o, start) };
                // Why not the other possible sites: their best option's score, capacity ignored.
                for s in jo.options.iter().map(|x| x.site).filter(|&s| s != o.site).collect::<std::collections::BTreeSet<_>>() {
                    let best = jo
                        .options
                        .iter()
                        .filter(|x| x.site == s)
                        .flat_map(|x| (x.first_start..=x.last_start).map(move |t| (x, t)))
                        .map(|(x, t)| ctx.eval(job, x, t))
                        .min_by(|a, b| a.score.total_cmp(&b.score));
                    if let Some(b) = best {
                        let reason = if b.score >= e.score - 1e-9 {
                            Reason::Costlier { extra_score: b.score - e.score, extra_usd: b.usd - e.usd, extra_kg: b.kg - e.kg }
                        } else {
                            // Cheaper in isolation, but its capacity went to other work.
                            Reason::Capacity
                        };
                        rejected.push(SiteRejection { site: name(s), reason });
                    }
                }
                let transfer = job.moves_data_to(o.site).then(|| TransferPlan {
                    from: name(job.data_site),
                    to: name(o.site),
                    bytes: job.data_bytes,
                    start_slot: job.earliest,
                    hours: o.transfer_hours,
                    usd: o.transfer_usd,
                });
                let end_slot = dec.slots.last().unwrap() + 1;
                let missed = end_slot > job.deadline;
                totals.cost_usd += e.usd;
                totals.electricity_usd += e.electricity_usd;
                totals.carbon_kg += e.kg;
                totals.energy_kwh += e.kwh;
                totals.objective += e.score;
                totals.transfer_usd += o.transfer_usd;
                if transfer.is_some() {
                    totals.bytes_moved += job.data_bytes;
                }
                totals.jobs_placed += 1;
                totals.deadline_misses += missed as usize;
                rejected.sort_by(|a, b| a.site.cmp(&b.site));
                jobs.push(JobPlacement {
                    job: job.id.clone(),
                    site: name(o.site),
                    accelerator: ctx.accs.0[o.acc].clone(),
                    gpus: job.gpus,
                    slots: dec.slots.clone(),
                    start_slot: start,
                    end_slot,
                    transfer,
                    energy_kwh: e.kwh,
                    cost_usd: e.usd,
                    electricity_usd: e.electricity_usd,
                    carbon_kg: e.kg,
                    delay_hours: e.delay_h,
                    missed_deadline: missed,
                    rejected,
                });
            }
        }
    }
    totals.jobs_unplaced = unplaced.len();

    let mut services = Vec::new();
    for (vi, v) in p.services.iter().enumerate() {
        let mut sp = ServicePlacement {
            service: v.id.clone(),
            slots: Vec::new(),
            energy_kwh: 0.0,
            cost_usd: 0.0,
            carbon_kg: 0.0,
            unmet_rps_hours: d.unmet.get(vi).copied().unwrap_or(0.0),
            worst_latency_ms: 0.0,
            rejected: Vec::new(),
        };
        for sd in d.services.get(vi).map(Vec::as_slice).unwrap_or(&[]) {
            if sd.replicas == 0 {
                continue;
            }
            let (usd, kg, kwh) = ctx.replica_eval(v, sd.site, sd.slot);
            let r = sd.replicas as f64;
            totals.electricity_usd += ctx.replica_electricity(v, sd.site, sd.slot) * r;
            sp.cost_usd += usd * r;
            sp.carbon_kg += kg * r;
            sp.energy_kwh += kwh * r;
            for (g, _) in &sd.served {
                sp.worst_latency_ms = sp.worst_latency_ms.max(p.latency_ms[*g][sd.site]);
            }
            sp.slots.push(ServiceSlot {
                slot: sd.slot,
                site: name(sd.site),
                replicas: sd.replicas,
                served: sd.served.iter().map(|(g, x)| (p.regions[*g].name.clone(), *x)).collect(),
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for g in 0..p.regions.len() {
            if v.demand[g].iter().all(|&x| x <= 0.0) {
                continue;
            }
            for (s, reason) in ctx.service_sites(v, g).1 {
                if seen.insert(s) {
                    sp.rejected.push(SiteRejection { site: name(s), reason });
                }
            }
        }
        totals.cost_usd += sp.cost_usd;
        totals.carbon_kg += sp.carbon_kg;
        totals.energy_kwh += sp.energy_kwh;
        // Unmet demand pays for the whole replicas it would need, region by region, slot by slot.
        let mut served = vec![vec![0.0f64; p.slots as usize]; p.regions.len()];
        for sd in d.services.get(vi).map(Vec::as_slice).unwrap_or(&[]) {
            for &(g, x) in &sd.served {
                served[g][sd.slot as usize] += x;
            }
        }
        let mut penalty = 0.0;
        for (g, dem) in v.demand.iter().enumerate() {
            for (t, &x) in dem.iter().enumerate() {
                penalty += p.objective.unmet_penalty(v, (x - served[g][t]).max(0.0));
            }
        }
        totals.penalty_usd += penalty;
        totals.objective += p.objective.score(sp.cost_usd, sp.carbon_kg, 0.0) + penalty;
        totals.unmet_rps_hours += sp.unmet_rps_hours;
        services.push(sp);
    }

    Plan {
        solver: solver.to_string(),
        jobs,
        unplaced,
        services,
        totals,
        bounds: Vec::new(),
        gap: None,
        baselines: Vec::new(),
        notes: Vec::new(),
        stages: Vec::new(),
    }
}

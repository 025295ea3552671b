//! Replaying a plan's spot placements against interruptions (seeded), to see what a tier mix
//! costs and how many deadlines it misses, not just what it is expected to cost.
//!
//! Every job on reserved or on-demand capacity runs as planned. A job on spot capacity starts
//! when planned and works at the accelerator's full speed; interruptions arrive as a Poisson
//! process (`SpotMarket::interruptions_per_hour`, per hour of running); each loses the work
//! since the last checkpoint and pays a restart. After each interruption the job checks its
//! slack the way "Can't Be Late" (Wu et al., NSDI 2024) does: if what is left, plus a restart
//! and one checkpoint interval of margin, no longer fits before the deadline, the rest runs on
//! the site's on-demand pool (assumed to have room: cloud on-demand capacity), without
//! further interruptions; a site without one keeps the job on spot.
//!
//! Costs: accelerator-hours at the tier's price, electricity and carbon at the plan's own
//! per-hour rate for that job (its planned electricity and carbon over its planned hours,
//! applied to the hours actually run). A pausable job on spot is replayed as one run from its
//! first planned slot. Deterministic for a seed: draws come from SplitMix64 in job order.

use serde::Serialize;
use xisuan_plan::market::{tier_of, SpotMarket, Tier};
use xisuan_plan::synth::Rng;
use xisuan_plan::{Plan, Problem};

/// What the replays of one plan came to (means over the runs).
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    pub runs: u32,
    /// Jobs the plan placed, and of those on spot capacity.
    pub jobs: usize,
    pub spot_jobs: usize,
    /// Cost of the jobs' accelerator-hours, electricity and transfers, USD.
    pub cost_usd: f64,
    pub carbon_kg: f64,
    pub interruptions: f64,
    /// Spot jobs that finished on on-demand capacity.
    pub fallbacks: f64,
    /// Jobs that finished after their deadline, and as a share of placed jobs (%).
    pub deadline_misses: f64,
    pub deadline_miss_pct: f64,
}

/// Replays `plan` `runs` times. `checkpoint_h[j]` is job `j`'s checkpoint interval.
pub fn replay(p: &Problem, plan: &Plan, spot: &[SpotMarket], checkpoint_h: &[f64], runs: u32, seed: u64) -> Replay {
    let mut r = Rng::new(seed);
    let job_ix = |id: &str| p.jobs.iter().position(|j| j.id == id);
    let site_ix = |id: &str| p.sites.iter().position(|s| s.id == id);
    let (mut cost, mut carbon, mut interruptions, mut fallbacks, mut misses) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let spot_jobs = plan.jobs.iter().filter(|jp| tier_of(&jp.accelerator).1 == Tier::Spot).count();
    for _ in 0..runs.max(1) {
        for jp in &plan.jobs {
            let (Some(ji), Some(si)) = (job_ix(&jp.job), site_ix(&jp.site)) else { continue };
            let (job, site) = (&p.jobs[ji], &p.sites[si]);
            let planned_h = jp.slots.len().max(1) as f64;
            // Electricity and carbon per hour of this job's run, as planned.
            let (usd_h, kg_h) = (jp.electricity_usd / planned_h, jp.carbon_kg / planned_h);
            let transfer = jp.transfer.as_ref().map(|t| t.usd).unwrap_or(0.0);
            let (base, tier) = tier_of(&jp.accelerator);
            let g = jp.gpus as f64;
            if tier != Tier::Spot {
                cost += jp.cost_usd;
                carbon += jp.carbon_kg;
                continue;
            }
            let m = spot.iter().find(|m| m.accelerator == base);
            let speed = job.accelerators.iter().find(|o| o.accelerator == base).map(|o| o.speed).unwrap_or(1.0);
            let work = job.hours / speed;
            let c = checkpoint_h.get(ji).copied().unwrap_or(1.0).max(1e-3);
            let deadline = job.deadline as f64;
            let spot_price = site.gpu_hour_usd(&jp.accelerator);
            let od = format!("{base}@on-demand");
            let od_price = (site.capacity_of(&od) > 0).then(|| site.gpu_hour_usd(&od));
            let (rate, restart) = m.map(|m| (m.interruptions_per_hour, m.restart_h)).unwrap_or((0.0, 0.0));
            let mut t = jp.start_slot as f64;
            let mut done = 0.0;
            let (mut spot_h, mut od_h) = (0.0, 0.0);
            loop {
                let left = work - done;
                if left <= 1e-12 {
                    break;
                }
                let next = if rate > 0.0 { -(1.0 - r.f64()).ln() / rate } else { f64::INFINITY };
                if next >= left {
                    spot_h += left;
                    t += left;
                    break;
                }
                interruptions += 1.0;
                spot_h += next + restart;
                done += (next / c).floor() * c;
                t += next + restart;
                let left = work - done;
                // The safety net: finish on on-demand once the slack no longer covers a restart
                // and a checkpoint interval beyond the work left.
                if od_price.is_some() && t + left + c > deadline {
                    fallbacks += 1.0;
                    od_h += left;
                    t += left;
                    break;
                }
            }
            if t > deadline + 1e-9 {
                misses += 1.0;
            }
            cost += g * (spot_h * spot_price + od_h * od_price.unwrap_or(0.0)) + (spot_h + od_h) * usd_h + transfer;
            carbon += (spot_h + od_h) * kg_h;
        }
    }
    let n = runs.max(1) as f64;
    let jobs = plan.jobs.len();
    Replay {
        runs: runs.max(1),
        jobs,
        spot_jobs,
        cost_usd: cost / n,
        carbon_kg: carbon / n,
        interruptions: interruptions / n,
        fallbacks: fallbacks / n,
        deadline_misses: misses / n,
        deadline_miss_pct: if jobs > 0 { 100.0 * misses / n / jobs as f64 } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xisuan_plan::heuristic::{solve, Heuristic};
    use xisuan_plan::market::{add_pools, Pool};
    use xisuan_plan::synth::{synthetic, Shape};

    /// A problem whose only capacity is spot, interrupted at `rate` per hour.
    fn spot_only(rate: f64) -> (Problem, Vec<SpotMarket>, Vec<f64>) {
        let mut p = synthetic(4, &Shape { sites: 2, slots: 48, jobs: 12, services: 0, regions: 1, capacity: 64, pausable_share: 0.0 });
        let mut pools = Vec::new();
        for (s, site) in p.sites.iter_mut().enumerate() {
            for (acc, count) in &mut site.capacity {
                pools.push(Pool { site: s, accelerator: acc.clone(), tier: Tier::Spot, count: 512, usd_per_gpu_hour: 0.5 });
                pools.push(Pool { site: s, accelerator: acc.clone(), tier: Tier::OnDemand, count: 0, usd_per_gpu_hour: 2.0 });
                *count = 0;
            }
        }
        let accs: Vec<String> = pools.iter().map(|x| x.accelerator.clone()).collect();
        let spot: Vec<SpotMarket> =
            accs.iter().map(|a| SpotMarket { accelerator: a.clone(), interruptions_per_hour: rate, restart_h: 0.1 }).collect();
        let ck = vec![0.5; p.jobs.len()];
        add_pools(&mut p, &pools, &spot, &ck, Some(0.0)).unwrap();
        (p, spot, ck)
    }

    #[test]
    fn replays_are_deterministic_and_interruptions_cost_time_and_money() {
        let (p, spot, ck) = spot_only(0.0);
        let plan = solve(&p, &Heuristic::default());
        assert!(plan.jobs.iter().all(|j| tier_of(&j.accelerator).1 == Tier::Spot) && !plan.jobs.is_empty());
        let calm = replay(&p, &plan, &spot, &ck, 20, 1);
        assert_eq!((calm.interruptions, calm.deadline_misses, calm.fallbacks), (0.0, 0.0, 0.0));
        // The same plan under frequent interruptions: more cost, the same seed the same replay.
        let stormy: Vec<SpotMarket> = spot.iter().map(|m| SpotMarket { interruptions_per_hour: 2.0, ..m.clone() }).collect();
        let a = replay(&p, &plan, &stormy, &ck, 20, 1);
        assert!(a.interruptions > 0.0 && a.cost_usd > calm.cost_usd && a.carbon_kg > calm.carbon_kg, "{a:?} vs {calm:?}");
        let b = replay(&p, &plan, &stormy, &ck, 20, 1);
        assert_eq!((a.cost_usd, a.interruptions, a.deadline_misses), (b.cost_usd, b.interruptions, b.deadline_misses));
        assert_ne!(replay(&p, &plan, &stormy, &ck, 20, 2).interruptions, a.interruptions);
    }
}

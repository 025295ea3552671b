//! The compute market: reserved, on-demand and spot capacity, as accelerator pools the planner
//! already knows how to use.
//!
//! A site's own capacity of an accelerator type (`h800`) is its **reserved** pool: contracted
//! or owned, paid whether used or not, so an hour of it costs nothing more than its power.
//! Pools bought by the hour are further accelerator types named `TYPE@on-demand` and
//! `TYPE@spot`, with their own capacity and price per accelerator-hour at each site that sells
//! them. A job that may run on `TYPE` may run on each of its tiers: on-demand at the same speed,
//! spot at its *expected* speed, since every interruption throws away the work since the last
//! checkpoint and pays a restart. With interruptions a Poisson process of rate `r` per hour of
//! running, a checkpoint every `c` hours of running and `R` hours per restart, a checkpoint
//! interval of work takes `(e^{rc} − 1)(1/r + R)` hours in expectation (the renewal argument:
//! `e^{rc} − 1` interruptions before `c` uninterrupted hours, each after `1/r` hours less the
//! ones completed, plus its restart), so
//!
//! ```text
//! speed_spot = speed × c / ((e^{rc} − 1)(1/r + R))     (→ speed as r → 0)
//! ```
//!
//! ("Can't Be Late", Wu et al., NSDI 2024, uses restart overheads of 0.05–0.2 h). Whether a
//! spot job then meets its deadline is a question for simulation (`xisuan_sim::market`), not
//! for the expected value.
//!
//! The completion passes (`complete`) move a placed job to any option that scores better and
//! fits; reserved capacity at the same site and hours costs less than the same hours bought,
//! so no plan leaves reserved capacity idle while the same work pays for on-demand or spot
//! hours there (property-tested in `tests/invariants.rs`).
//!
//! Pure: no I/O, no clock.

use crate::problem::{AcceleratorOption, Problem, SiteIx};
use serde::Serialize;

/// How capacity is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    Reserved,
    OnDemand,
    Spot,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Reserved => "reserved",
            Tier::OnDemand => "on-demand",
            Tier::Spot => "spot",
        }
    }
}

/// The accelerator type and tier of a pool id: `h800@spot` → (`h800`, spot); `h800` → reserved.
pub fn tier_of(accelerator: &str) -> (&str, Tier) {
    match accelerator.split_once('@') {
        Some((base, "on-demand")) => (base, Tier::OnDemand),
        Some((base, "spot")) => (base, Tier::Spot),
        _ => (accelerator, Tier::Reserved),
    }
}

/// The pool id of a tier of an accelerator type.
pub fn pool_id(base: &str, tier: Tier) -> String {
    match tier {
        Tier::Reserved => base.to_string(),
        t => format!("{base}@{}", t.name()),
    }
}

/// Capacity bought by the hour at one site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    pub site: SiteIx,
    /// The accelerator type (`h800`).
    pub accelerator: String,
    /// `OnDemand` or `Spot`.
    pub tier: Tier,
    pub count: u32,
    /// Price per accelerator-hour, USD (power is paid on top, as for every pool).
    pub usd_per_gpu_hour: f64,
}

/// How spot capacity of one accelerator type behaves (the same at every site that sells it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpotMarket {
    pub accelerator: String,
    /// Interruptions per hour of running.
    pub interruptions_per_hour: f64,
    /// Hours of work a restart costs (restore a checkpoint, re-acquire nodes).
    pub restart_h: f64,
}

/// The expected speed on spot of work that runs at `speed` on the reserved pool and saves a
/// checkpoint every `checkpoint_h` hours.
pub fn spot_speed(speed: f64, checkpoint_h: f64, m: &SpotMarket) -> f64 {
    let (r, c) = (m.interruptions_per_hour, checkpoint_h);
    if r * c < 1e-9 {
        return speed / (1.0 + r * (c / 2.0 + m.restart_h));
    }
    speed * c / ((r * c).exp_m1() * (1.0 / r + m.restart_h))
}

/// Adds the pools to the problem: capacity and price at their sites, and for each job that may
/// use an accelerator type, an option on each of its tiers sold anywhere (`checkpoint_h[j]`:
/// job `j`'s checkpoint interval, hours). The reserved pools' own price per accelerator-hour is
/// set to `reserved_usd_per_gpu_hour` (0 when the fee is sunk).
pub fn add_pools(
    p: &mut Problem,
    pools: &[Pool],
    spot: &[SpotMarket],
    checkpoint_h: &[f64],
    reserved_usd_per_gpu_hour: Option<f64>,
) -> Result<(), String> {
    if checkpoint_h.len() != p.jobs.len() {
        return Err(format!("checkpoint intervals for {} jobs, the problem has {}", checkpoint_h.len(), p.jobs.len()));
    }
    for pool in pools {
        if pool.tier == Tier::Reserved {
            return Err(format!("pool of {} at site {}: the reserved pool is the site's own capacity", pool.accelerator, pool.site));
        }
        if pool.accelerator.contains('@') {
            return Err(format!("pool accelerator `{}`: give the type without a tier", pool.accelerator));
        }
        let Some(site) = p.sites.get_mut(pool.site) else {
            return Err(format!("pool of {}: no site {}", pool.accelerator, pool.site));
        };
        if !(pool.usd_per_gpu_hour >= 0.0 && pool.usd_per_gpu_hour.is_finite()) {
            return Err(format!("pool {}: price must be a non-negative number", pool_id(&pool.accelerator, pool.tier)));
        }
        if pool.tier == Tier::Spot && !spot.iter().any(|m| m.accelerator == pool.accelerator) {
            return Err(format!("spot pool of {} at {}: no interruption rate for {} spot capacity", pool.accelerator, site.id, pool.accelerator));
        }
        let id = pool_id(&pool.accelerator, pool.tier);
        if site.capacity.iter().any(|c| c.0 == id) {
            return Err(format!("site {}: {id} is given twice", site.id));
        }
        site.capacity.push((id.clone(), pool.count));
        site.usd_per_gpu_hour.retain(|c| c.0 != id);
        site.usd_per_gpu_hour.push((id, pool.usd_per_gpu_hour));
    }
    if let Some(fee) = reserved_usd_per_gpu_hour {
        for site in &mut p.sites {
            for (acc, _) in site.capacity.clone() {
                if tier_of(&acc).1 == Tier::Reserved {
                    site.usd_per_gpu_hour.retain(|c| c.0 != acc);
                    site.usd_per_gpu_hour.push((acc, fee));
                }
            }
        }
    }
    for m in spot {
        if !(m.interruptions_per_hour >= 0.0 && m.interruptions_per_hour.is_finite() && m.restart_h >= 0.0 && m.restart_h.is_finite()) {
            return Err(format!("{} spot: interruptions per hour and restart hours must be non-negative numbers", m.accelerator));
        }
    }
    for (j, job) in p.jobs.iter_mut().enumerate() {
        let c = checkpoint_h[j];
        if !(c > 0.0 && c.is_finite()) {
            return Err(format!("job {}: checkpoint interval must be a positive number of hours, got {c}", job.id));
        }
        let mut extra = Vec::new();
        for o in &job.accelerators {
            for tier in [Tier::OnDemand, Tier::Spot] {
                if !pools.iter().any(|x| x.accelerator == o.accelerator && x.tier == tier) {
                    continue;
                }
                let speed = match tier {
                    Tier::Spot => spot_speed(o.speed, c, spot.iter().find(|m| m.accelerator == o.accelerator).expect("checked above")),
                    _ => o.speed,
                };
                extra.push(AcceleratorOption { accelerator: pool_id(&o.accelerator, tier), speed, kw_per_gpu: o.kw_per_gpu });
            }
        }
        job.accelerators.extend(extra);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_round_trip() {
        for t in [Tier::Reserved, Tier::OnDemand, Tier::Spot] {
            assert_eq!(tier_of(&pool_id("h800", t)), ("h800", t));
        }
        assert_eq!(tier_of("h800@unknown"), ("h800@unknown", Tier::Reserved));
    }

    #[test]
    fn spot_is_slower_by_the_work_its_interruptions_lose() {
        let m = SpotMarket { accelerator: "h100".into(), interruptions_per_hour: 0.5, restart_h: 0.1 };
        // Half an interruption per hour, checkpoints every hour, 0.1 h per restart: an hour
        // of work takes (e^0.5 − 1)(2 + 0.1) = 1.3625 h.
        assert!((spot_speed(1.0, 1.0, &m) - 1.0 / ((0.5f64).exp_m1() * 2.1)).abs() < 1e-12);
        // Rare interruptions: about half a checkpoint interval and a restart lost per interruption.
        let rare = SpotMarket { interruptions_per_hour: 1e-4, ..m.clone() };
        assert!((1.0 / spot_speed(1.0, 1.0, &rare) - (1.0 + 1e-4 * 0.6)).abs() < 1e-8);
        assert_eq!(spot_speed(2.0, 1.0, &SpotMarket { interruptions_per_hour: 0.0, ..m }), 2.0);
    }
}

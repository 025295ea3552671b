//! What a run delivered: per-job outcomes and the per-policy totals people compare (cost,
//! carbon, energy, waiting, queueing, completion, deadline misses, SLO violations, use of
//! each site, data moved). Field names carry their unit; percentiles are nearest-rank.

use crate::policy::Policy;
use crate::world::{Job, World};
use serde::Serialize;

/// What happened to one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobOutcome {
    pub site: Option<usize>,
    /// Start of the first segment and end of the last, hours from hour 0.
    pub start_h: f64,
    pub end_h: f64,
    /// Hours spent in site queues (ready but not started), over all segments.
    pub queue_h: f64,
    pub kg: f64,
    pub kwh: f64,
    pub electricity_usd: f64,
    pub gpu_hour_usd: f64,
    pub transfer_usd: f64,
    pub bytes_moved: f64,
    pub resumes: u32,
    /// Each run (segment) as (start, end), hours, resume overhead included.
    pub runs: Vec<(f64, f64)>,
    pub completed: bool,
    /// The chosen site can never hold the job (more accelerators than it has).
    pub unplaceable: bool,
    /// Some of the run fell past the end of the hourly series (read again from the start).
    pub past_series_end: bool,
}

impl JobOutcome {
    pub fn usd(&self) -> f64 {
        self.electricity_usd + self.gpu_hour_usd + self.transfer_usd
    }
}

/// Mean and nearest-rank percentiles of a sample, hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stats {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(mut v: Vec<f64>) -> Stats {
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stats { mean: v.iter().sum::<f64>() / v.len() as f64, p50: rank(0.5), p99: rank(0.99), max: v[v.len() - 1] }
    }
}

/// Use of one site by one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteUse {
    pub site: String,
    pub jobs: usize,
    /// Accelerator-hours run within the simulated hours.
    pub gpu_hours: f64,
    /// `gpu_hours` / (capacity × hours), 0..1 (can exceed 1 only for a bound).
    pub utilisation: f64,
}

/// The totals of one policy's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub policy: String,
    pub description: String,
    pub jobs: usize,
    pub completed: usize,
    /// Sent to a site too small for them; never run.
    pub unplaceable: usize,
    /// Neither completed nor unplaceable when the events ran out (blocked in a queue).
    pub unfinished: usize,
    pub cost_usd: f64,
    pub electricity_usd: f64,
    pub gpu_hour_usd: f64,
    pub transfer_usd: f64,
    pub carbon_kg: f64,
    pub energy_kwh: f64,
    /// Start of the first run minus arrival (deliberate waiting, transfer and queueing).
    pub wait_h: Stats,
    /// Time in site queues only.
    pub queue_h: Stats,
    /// End of the last run minus arrival.
    pub completion_h: Stats,
    pub deadline_misses: usize,
    pub slo_violation_site_hours: u64,
    pub slo_shortfall_gpu_hours: f64,
    pub bytes_moved: f64,
    pub jobs_moved: usize,
    pub resumes: u64,
    pub jobs_past_series_end: usize,
    pub capacity_ignored: bool,
    pub events: u64,
    pub sites: Vec<SiteUse>,
}

/// A run's totals, per-job outcomes, and optionally accelerators busy per site and hour.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub metrics: Metrics,
    pub outcomes: Vec<JobOutcome>,
    /// busy[site][hour]: accelerator-hours run in that hour (empty unless asked for).
    pub busy_hourly: Vec<Vec<f64>>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn summarize(
    world: &World,
    jobs: &[Job],
    policy: &dyn Policy,
    outcomes: Vec<JobOutcome>,
    busy_in_horizon: Vec<f64>,
    busy_hourly: Vec<Vec<f64>>,
    slo: (u64, f64),
    events: u64,
) -> RunResult {
    let done: Vec<(&Job, &JobOutcome)> = jobs.iter().zip(&outcomes).filter(|(_, o)| o.completed).collect();
    let sum = |f: fn(&JobOutcome) -> f64| outcomes.iter().map(f).sum::<f64>();
    let mut per_site = vec![0usize; world.sites.len()];
    for o in &outcomes {
        if let Some(s) = o.site {
            per_site[s] += 1;
        }
    }
    let metrics = Metrics {
        policy: policy.name().to_string(),
        description: policy.describe(),
        jobs: jobs.len(),
        completed: done.len(),
        unplaceable: outcomes.iter().filter(|o| o.unplaceable).count(),
        unfinished: outcomes.iter().filter(|o| !o.completed && !o.unplaceable).count(),
        cost_usd: sum(JobOutcome::usd),
        electricity_usd: sum(|o| o.electricity_usd),
        gpu_hour_usd: sum(|o| o.gpu_hour_usd),
        transfer_usd: sum(|o| o.transfer_usd),
        carbon_kg: sum(|o| o.kg),
        energy_kwh: sum(|o| o.kwh),
        wait_h: Stats::of(done.iter().map(|(j, o)| o.start_h - j.arrival_h).collect()),
        queue_h: Stats::of(done.iter().map(|(_, o)| o.queue_h).collect()),
        completion_h: Stats::of(done.iter().map(|(j, o)| o.end_h - j.arrival_h).collect()),
        deadline_misses: done.iter().filter(|(j, o)| o.end_h > j.deadline_h + 1e-9).count(),
        slo_violation_site_hours: slo.0,
        slo_shortfall_gpu_hours: slo.1,
        bytes_moved: sum(|o| o.bytes_moved),
        jobs_moved: outcomes.iter().filter(|o| o.bytes_moved > 0.0).count(),
        resumes: outcomes.iter().map(|o| o.resumes as u64).sum(),
        jobs_past_series_end: outcomes.iter().filter(|o| o.past_series_end).count(),
        capacity_ignored: policy.is_bound(),
        events,
        sites: world
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| SiteUse {
                site: s.id.clone(),
                jobs: per_site[i],
                gpu_hours: busy_in_horizon[i],
                utilisation: if s.capacity == 0 { 0.0 } else { busy_in_horizon[i] / (s.capacity as f64 * world.hours as f64) },
            })
            .collect(),
    };
    RunResult { metrics, outcomes, busy_hourly }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        // 100 values 1..=100: p50 is the 50th, p99 the 99th.
        let s = Stats::of((1..=100).map(f64::from).collect());
        assert_eq!((s.p50, s.p99, s.max, s.mean), (50.0, 99.0, 100.0, 50.5));
        assert_eq!(Stats::of(vec![]), Stats::default());
    }
}

//! From trace rows to simulated jobs: what a trace does not say (home site, data size,
//! deadline, whether the job may pause) is filled by stated rules, and the one random choice —
//! the home site of a job whose trace names none — comes from the run's seeded generator.
//!
//! The deadline rule for traces without deadlines is GAIA's two queues (`-w 6x24`): a job
//! shorter than 2 h may wait 6 h, a longer one 24 h, so it must end by arrival + wait + length.

use crate::world::Job;
use xisuan_plan::synth::Rng;

/// A job as a trace gives it; `None` fields get the defaults of `Defaults`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobSpec {
    pub id: String,
    pub arrival_h: f64,
    pub duration_h: f64,
    pub gpus: u32,
    /// Index of the home site, if the trace names one.
    pub home: Option<usize>,
    pub data_bytes: Option<f64>,
    pub deadline_h: Option<f64>,
    pub pausable: Option<bool>,
}

/// The rules that fill what a trace leaves out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    /// Jobs shorter than this (hours) are "short".
    pub short_h: f64,
    /// Hours a short / long job may wait beyond its arrival.
    pub wait_short_h: f64,
    pub wait_long_h: f64,
    /// Data to move when the job runs away from home, bytes.
    pub data_bytes: f64,
    pub pausable: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { short_h: 2.0, wait_short_h: 6.0, wait_long_h: 24.0, data_bytes: 0.0, pausable: false }
    }
}

impl Defaults {
    pub fn wait_h(&self, duration_h: f64) -> f64 {
        if duration_h < self.short_h {
            self.wait_short_h
        } else {
            self.wait_long_h
        }
    }
}

/// Builds jobs from specs, drawing missing home sites uniformly from `sites` sites with
/// `rng`, and sorts them by arrival (stable, so equal arrivals keep trace order).
pub fn build_jobs(specs: &[JobSpec], sites: usize, d: &Defaults, rng: &mut Rng) -> Vec<Job> {
    let mut jobs: Vec<Job> = specs
        .iter()
        .map(|s| {
            // Draw for every job, named home or not, so that one row's home does not shift
            // the draws of all the rows after it.
            let drawn = rng.below(sites as u64) as usize;
            Job {
                id: s.id.clone(),
                arrival_h: s.arrival_h,
                duration_h: s.duration_h,
                gpus: s.gpus,
                home: s.home.unwrap_or(drawn),
                data_bytes: s.data_bytes.unwrap_or(d.data_bytes),
                deadline_h: s.deadline_h.unwrap_or(s.arrival_h + s.duration_h + d.wait_h(s.duration_h)),
                pausable: s.pausable.unwrap_or(d.pausable),
            }
        })
        .collect();
    jobs.sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_gaia_queues_and_the_seed() {
        let specs = vec![
            JobSpec { id: "a".into(), arrival_h: 1.0, duration_h: 1.5, gpus: 1, ..Default::default() },
            JobSpec { id: "b".into(), arrival_h: 0.5, duration_h: 3.0, gpus: 2, home: Some(2), ..Default::default() },
        ];
        let d = Defaults::default();
        let jobs = build_jobs(&specs, 4, &d, &mut Rng::new(7));
        // Sorted by arrival: b first. b: 0.5 + 3 + 24 = 27.5; a: 1 + 1.5 + 6 = 8.5.
        assert_eq!((jobs[0].id.as_str(), jobs[0].deadline_h, jobs[0].home), ("b", 27.5, 2));
        assert_eq!(jobs[1].deadline_h, 8.5);
        let again = build_jobs(&specs, 4, &d, &mut Rng::new(7));
        assert_eq!(jobs, again);
    }
}

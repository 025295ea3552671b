//! The simulator of xisuan: a year of real arrivals replayed against sites with finite
//! accelerators, FIFO queues, links, hourly carbon and prices, under a policy, to show what the
//! policy delivers rather than what a one-week plan promises.
//!
//! Pure: no files, no clock, no global random state. The caller builds a `World` and the jobs
//! (with `jobs::build_jobs` and a seeded generator), picks a `Policy`, and calls
//! `engine::simulate`; the same inputs give the same result, bit for bit. `kernel` is the
//! generic discrete-event core (dslab-style: time, then sequence number); `engine` the domain
//! on top of it; `policy` and `planner` the policies; `metrics` what is measured.

// Validation uses negated comparisons (`!(x >= 0.0)`) on purpose: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod engine;
pub mod jobs;
pub mod kernel;
pub mod market;
pub mod metrics;
pub mod planner;
pub mod policy;
pub mod world;

pub use engine::{simulate, RunOptions};
pub use jobs::{build_jobs, Defaults, JobSpec};
pub use metrics::{JobOutcome, Metrics, RunResult, SiteUse, Stats};
pub use planner::{Planner, PlannerSettings};
pub use policy::{Cheapest, Decision, Gaia, Greenest, LetsWaitAwhile, Oracle, Policy, RunNow, Segment, View};
pub use world::{Curve, Job, LinkSpec, Past, SiteSpec, World};

/// The most history (hours before the window) a world may carry for forecasts: two weeks,
/// all that the forecasting models read.
pub const MAX_PAST_H: usize = 336;
pub use xisuan_plan::synth::Rng;

/// Why a run could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("invalid world: {0}")]
    World(String),
    #[error("job {0}: {1}")]
    Job(String, String),
    #[error("policy decision for job {0} is invalid: {1}")]
    Policy(String, String),
    #[error("unknown policy `{0}` (known: {1})")]
    UnknownPolicy(String, String),
}

/// Names accepted by `policy_by_name`, in report order.
pub const POLICIES: &[&str] = &["planner", "run-now", "cheapest", "greenest", "lets-wait-awhile", "gaia", "oracle"];

/// Builds a policy by its name. `gaia` averages its queue lengths over `jobs`, as GAIA does.
pub fn policy_by_name(name: &str, world: &World, jobs: &[Job], planner: PlannerSettings) -> Result<Box<dyn Policy>, SimError> {
    Ok(match name {
        "planner" => Box::new(Planner::new(world, planner)),
        "run-now" => Box::new(RunNow),
        "cheapest" => Box::new(Cheapest),
        "greenest" => Box::new(Greenest),
        "lets-wait-awhile" | "lwa" => Box::new(LetsWaitAwhile),
        "gaia" => Box::new(Gaia::from_jobs(jobs)),
        "oracle" => Box::new(Oracle),
        other => return Err(SimError::UnknownPolicy(other.to_string(), POLICIES.join(", "))),
    })
}

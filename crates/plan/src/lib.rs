//! The planner: decides where and when each training job and inference service runs, by cost,
//! carbon, latency, capacity, deadlines and data movement, and says why.
//!
//! Pure: `plan` knows nothing about files, clocks, Slurm or the catalog's formats. It takes a
//! `Problem` value and returns a `Plan` value. Stages are small and named (Nomad's
//! feasibility-then-ranking stack): `candidates` filters sites with a reason for each rejection
//! and scores options; `heuristic` selects; `assemble` costs a set of decisions the same way for
//! every solver; `baselines` runs the simple policies; `check` verifies a plan's invariants.
//! The exact MILP lives in the `xisuan-milp` adapter behind the `Solver` trait.

// Validation uses negated comparisons (`!(x >= 0.0)`) on purpose: they also reject NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod assemble;
pub mod baselines;
pub mod candidates;
pub mod check;
pub mod complete;
pub mod heuristic;
pub mod lagrange;
pub mod market;
pub mod online;
pub mod plan;
pub mod problem;
pub mod synth;

pub use plan::*;
pub use problem::*;

/// A way to solve a `Problem`. The heuristic is here; the MILP is in `xisuan-milp`.
pub trait Solver {
    fn name(&self) -> &str;
    fn solve(&self, p: &Problem) -> Result<Plan, SolveError>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    #[error(transparent)]
    Problem(#[from] ProblemError),
    #[error("solver failed: {0}")]
    Solver(String),
    /// A solver setting out of its range (a time limit that is not positive, a gap below 0).
    #[error("{0}")]
    Settings(String),
}

/// The heuristic behind the `Solver` trait.
impl Solver for heuristic::Heuristic {
    fn name(&self) -> &str {
        "heuristic"
    }
    fn solve(&self, p: &Problem) -> Result<Plan, SolveError> {
        p.validate()?;
        Ok(heuristic::solve(p, self))
    }
}

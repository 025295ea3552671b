//! The control plane's pure core: what the control plane knows (tenants, jobs and their
//! states, sites that are down, planning rounds) as a `State`, the `Event`s that change it,
//! and the decisions taken from it.
//!
//! Event sourcing in two halves, as in Nomad's plan queue or a Kubernetes reconcile loop:
//! - `decide` functions take the state, the time and a command or observation (a submission, a
//!   cancellation, "this job started", a planning round) and return the events that follow, or
//!   a `Rejection` naming why not. Illegal transitions are rejected here.
//! - `State::apply` folds one event into the state. Replaying the same events gives the same
//!   state, which is how a restarted server (or a second replica) rebuilds what it knows.
//!
//! Time is an argument (hours since the Unix epoch, fractional), planning is a function passed
//! in, and nothing here reads a clock, a file or a database: the server drives this crate with
//! the wall clock, the simulator with simulated time, and tests with a hand-set clock.
//!
//! Services (inference with hourly demand and a latency objective) are active until stopped;
//! every round re-plans their replicas, and the round's first hour is what runs.
//!
//! Job states: pending → planned → dispatched → running → completed; a failure, a preemption
//! or its site going down sends dispatched or running work back to pending with the work done
//! up to its last checkpoint; cancelled from any state but completed.

pub mod cluster;
mod decide;
pub mod run;
mod service;
mod state;

pub use decide::*;
pub use run::{CheckpointRef, Input, RunSpec, TransferKind, TransferRecord, TransferSpec, TransferStatus};
pub use service::*;
pub use state::*;

//! What the control loop's follower needs of a real cluster behind a site: Slurm
//! (`slurm::Slurm`, through its commands or slurmrestd) or Kubernetes (`k8s::KubeClusters`).

use crate::slurm::{Submission, SubmitError};
use std::collections::BTreeSet;
use xisuan_control::cluster::Attempt;

/// What a cluster's controller says of its nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Nodes that do not answer it: they may still be running what they ran.
    pub silent: BTreeSet<String>,
    /// Why no node can run work, if none can.
    pub trouble: Option<String>,
    /// Accelerators that cannot take new work, by type: those in use on nodes that can
    /// (everyone's work, ours included), and all those of nodes down, drained or silent.
    pub gpus_held: std::collections::BTreeMap<String, u32>,
}

/// A cluster behind sites, as the follower task beside the control loop sees it: Slurm's
/// commands or slurmrestd (`slurm::Slurm`), or a Kubernetes API server (`k8s::KubeClusters`).
/// What they report is typed in the control crate (`xisuan_control::cluster`), which alone
/// decides what each state means.
pub trait Backend: Send + Sync {
    /// The word that starts reasons ("slurm", "kubernetes").
    fn kind(&self) -> &'static str;
    /// Its nodes, as its controller sees them; `Err` when the controller did not answer.
    fn health(&self, site: &str) -> Result<Health, String>;
    /// Our attempts there, pending, running and recently ended.
    fn queue(&self, site: &str) -> Result<Vec<Attempt>, String>;
    /// One attempt as the cluster's record of finished work has it, once its queue has
    /// forgotten it: `Ok(None)` when the record has no trace of it, `Err` when there is no
    /// such record to ask (or it did not answer).
    fn accounting(&self, site: &str, job: &str, attempt: u32) -> Result<Option<Attempt>, String>;
    fn submit(&self, site: &str, s: &Submission) -> Result<String, SubmitError>;
    /// Stops every attempt of our job there.
    fn cancel(&self, site: &str, job: &str) -> Result<(), String>;
}

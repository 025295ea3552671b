//! What the control loop's follower needs of a real cluster behind a site: Slurm
//! (`slurm::Slurm`, through its commands or slurmrestd) or Kubernetes (`k8s::KubeClusters`).

use crate::slurm::{SlurmJob, Submission, SubmitError};

/// A cluster behind sites, as the follower task beside the control loop sees it: Slurm's
/// commands or slurmrestd (`slurm::Slurm`), or a Kubernetes API server (`k8s::KubeClusters`). Their
/// common vocabulary is Slurm's: a job's state is one of Slurm's job states.
pub trait Backend: Send + Sync {
    /// The word that starts reasons ("slurm", "kubernetes").
    fn kind(&self) -> &'static str;
    /// Whether the cluster answers and can run work; `Err` says why not.
    fn health(&self, site: &str) -> Result<(), String>;
    /// Our jobs there, pending, running and recently ended.
    fn queue(&self, site: &str) -> Result<Vec<SlurmJob>, String>;
    fn submit(&self, site: &str, s: &Submission) -> Result<String, SubmitError>;
    /// Stops every attempt of our job there.
    fn cancel(&self, site: &str, job: &str) -> Result<(), String>;
    /// Whether an error means the cluster did not answer (rather than answered no).
    fn is_unreachable(&self, message: &str) -> bool;
}


//! What a real cluster reports of one attempt of a job, and what that means to the control
//! plane: the one place where Slurm's job states (and Kubernetes', mapped onto them) are read.
//!
//! The rule this module serves (the fencing rule): an attempt handed to a cluster may be
//! running there until the cluster confirms it has ended: its state is a final one (not
//! `COMPLETING`, whose nodes have not yet said the job is gone) and none of the nodes it ran on
//! is silent (a node that does not answer may still be running it, whatever the controller
//! recorded). Until then the job does not start anywhere else. Completed work is credited, not
//! run again, whenever the cluster's queue or its accounting says it completed.

use std::collections::BTreeSet;

/// A job's state as its cluster reports it: Slurm's job states (`squeue`, `sacct`, slurmrestd),
/// each kept apart because each means something different here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting at the cluster (`PENDING`; its reason says why: `Resources`, `Priority`,
    /// `BeginTime`, `ReqNodeNotAvail`, a hold...).
    Pending,
    /// `RUNNING`, `CONFIGURING` (nodes booting), `RESIZING`, `SIGNALING`.
    Running,
    /// `SUSPENDED` or `STOPPED`: it holds its nodes and may go on.
    Suspended,
    /// It has ended but its nodes have not confirmed it (`COMPLETING`, `STAGE_OUT`).
    Completing,
    /// `COMPLETED`: exited 0.
    Completed,
    /// `FAILED` (non-zero exit) or `SPECIAL_EXIT`.
    Failed,
    /// `CANCELLED` (by xisuan, a user or an administrator) or `REVOKED`.
    Cancelled,
    /// `TIMEOUT`: its time limit ended it.
    Timeout,
    /// `NODE_FAIL`: a node it ran on failed. The node may still be running it.
    NodeFail,
    /// `PREEMPTED` by higher-priority work.
    Preempted,
    /// `OUT_OF_MEMORY`.
    OutOfMemory,
    /// `BOOT_FAIL`: its nodes did not boot; it never ran.
    BootFail,
    /// `DEADLINE`: Slurm's `--deadline` passed.
    Deadline,
    /// `REQUEUED`, `REQUEUE_HOLD`, `REQUEUE_FED`: Slurm put it back in its queue (it may run
    /// there again).
    Requeued,
    /// The controller no longer knows it while its accounting still shows it pending or
    /// running (a "runaway" record, as after a controller lost its saved state): its nodes
    /// stop it when they next register, so it has ended, not completed.
    Vanished,
    /// A word this version does not know: treated as possibly running.
    Unknown(String),
}

impl JobState {
    /// Reads Slurm's word for a state, as `squeue` (`%T`), `sacct` (`State`, which may say
    /// `CANCELLED by 0`) and slurmrestd print it.
    pub fn parse(word: &str) -> JobState {
        let w = word.split_whitespace().next().unwrap_or("").trim_end_matches('+').to_ascii_uppercase();
        match w.as_str() {
            "PENDING" | "PD" | "RESV_DEL_HOLD" => JobState::Pending,
            "RUNNING" | "R" | "CONFIGURING" | "CF" | "RESIZING" | "RS" | "SIGNALING" | "SI" => JobState::Running,
            "SUSPENDED" | "S" | "STOPPED" | "ST" => JobState::Suspended,
            "COMPLETING" | "CG" | "STAGE_OUT" | "SO" => JobState::Completing,
            "COMPLETED" | "CD" => JobState::Completed,
            "FAILED" | "F" | "SPECIAL_EXIT" | "SE" => JobState::Failed,
            "CANCELLED" | "CA" | "REVOKED" | "RV" => JobState::Cancelled,
            "TIMEOUT" | "TO" => JobState::Timeout,
            "NODE_FAIL" | "NF" => JobState::NodeFail,
            "PREEMPTED" | "PR" => JobState::Preempted,
            "OUT_OF_MEMORY" | "OOM" => JobState::OutOfMemory,
            "BOOT_FAIL" | "BF" => JobState::BootFail,
            "DEADLINE" | "DL" => JobState::Deadline,
            "REQUEUED" | "RQ" | "REQUEUE_HOLD" | "RH" | "REQUEUE_FED" | "RF" => JobState::Requeued,
            _ => JobState::Unknown(word.to_string()),
        }
    }

    /// Slurm's word for it.
    pub fn word(&self) -> &str {
        match self {
            JobState::Pending => "PENDING",
            JobState::Running => "RUNNING",
            JobState::Suspended => "SUSPENDED",
            JobState::Completing => "COMPLETING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Cancelled => "CANCELLED",
            JobState::Timeout => "TIMEOUT",
            JobState::NodeFail => "NODE_FAIL",
            JobState::Preempted => "PREEMPTED",
            JobState::OutOfMemory => "OUT_OF_MEMORY",
            JobState::BootFail => "BOOT_FAIL",
            JobState::Deadline => "DEADLINE",
            JobState::Requeued => "REQUEUED",
            JobState::Vanished => "VANISHED",
            JobState::Unknown(w) => w,
        }
    }

    /// Whether it is waiting in, or running on, the cluster (so xisuan cancels it there when
    /// it should not be there).
    pub fn is_active(&self) -> bool {
        matches!(self, JobState::Pending | JobState::Running | JobState::Suspended | JobState::Requeued | JobState::Unknown(_))
    }
}

impl Attempt {
    /// The attempt as accounting recorded it, given that the controller's queue does not list
    /// it: a record still pending or running there has vanished from the controller.
    pub fn from_accounting(mut self) -> Attempt {
        if matches!(self.state, JobState::Pending | JobState::Running | JobState::Suspended | JobState::Completing | JobState::Requeued) {
            self.reason = format!("accounting says {} but the controller does not know it", self.state.word());
            self.state = JobState::Vanished;
        }
        self
    }
}

/// One attempt as the cluster reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The cluster's id for it (Slurm's job id).
    pub cluster_id: String,
    /// Our job id and attempt (from its name).
    pub job: String,
    pub attempt: u32,
    pub state: JobState,
    /// Slurm's reason (why pending, or why it ended).
    pub reason: String,
    /// The nodes it ran on (empty when it never got any, or the cluster did not say).
    pub nodes: Vec<String>,
}

/// Where the cluster's record of an attempt came from, or that it has none.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// In the controller's queue, or in its accounting (`sacct`) after the controller forgot it.
    Reported(Attempt),
    /// Neither its queue nor its accounting knows it: it never reached the cluster.
    Nowhere,
    /// Not in its queue, and there is no accounting to ask: its fate is unknown.
    Unknown,
}

/// What a report means for the attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    /// Waiting at the cluster (pending, held, requeued).
    Queued,
    /// Running (or suspended) there.
    Running,
    /// Ended, but not yet confirmed gone from its nodes: wait.
    Ending,
    /// Completed: credit it.
    Completed,
    /// Ended, confirmed: it may run elsewhere, from its newest checkpoint.
    Ended(String),
    /// Ended by the controller's record, but a node it ran on does not answer and may still
    /// run it: it is fenced until the node answers.
    Unconfirmed(String),
}

/// What the report of an attempt means, given the cluster's nodes that do not answer.
pub fn meaning(a: &Attempt, silent_nodes: &BTreeSet<String>) -> Meaning {
    let silent: Vec<&String> = a.nodes.iter().filter(|n| silent_nodes.contains(*n)).collect();
    let why = if a.reason.is_empty() || a.reason == "None" { a.state.word().to_string() } else { format!("{} ({})", a.state.word(), a.reason) };
    match &a.state {
        JobState::Pending | JobState::Requeued => Meaning::Queued,
        JobState::Running | JobState::Suspended | JobState::Unknown(_) => Meaning::Running,
        JobState::Completing => Meaning::Ending,
        JobState::Completed => Meaning::Completed,
        _ if !silent.is_empty() => Meaning::Unconfirmed(format!(
            "{why}, but {} does not answer and may still run it",
            silent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )),
        // A node failure with no node named: the controller lost the node; wait for it.
        JobState::NodeFail if a.nodes.is_empty() => Meaning::Unconfirmed(format!("{why}: its nodes are not known to have stopped it")),
        _ => Meaning::Ended(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(state: &str, nodes: &[&str]) -> Attempt {
        Attempt {
            cluster_id: "7".into(),
            job: "j".into(),
            attempt: 1,
            state: JobState::parse(state),
            reason: String::new(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn every_slurm_state_is_read_deliberately() {
        for (w, s) in [
            ("PENDING", JobState::Pending),
            ("CONFIGURING", JobState::Running),
            ("COMPLETING", JobState::Completing),
            ("CANCELLED by 0", JobState::Cancelled),
            ("NODE_FAIL", JobState::NodeFail),
            ("REQUEUE_HOLD", JobState::Requeued),
            ("OUT_OF_MEMORY", JobState::OutOfMemory),
            ("BOOT_FAIL", JobState::BootFail),
            ("DEADLINE", JobState::Deadline),
            ("PREEMPTED", JobState::Preempted),
            ("TIMEOUT", JobState::Timeout),
        ] {
            assert_eq!(JobState::parse(w), s, "{w}");
        }
        assert_eq!(JobState::parse("SOMETHING_NEW"), JobState::Unknown("SOMETHING_NEW".into()));
        assert!(JobState::parse("SOMETHING_NEW").is_active(), "an unknown state may be running");
    }

    #[test]
    fn an_end_counts_only_once_its_nodes_confirm_it() {
        let none = BTreeSet::new();
        let silent: BTreeSet<String> = ["beta1".to_string()].into();
        assert_eq!(meaning(&attempt("COMPLETING", &["beta1"]), &none), Meaning::Ending);
        assert_eq!(meaning(&attempt("COMPLETED", &["beta1"]), &silent), Meaning::Completed, "completed work is credited even from a silent node");
        assert!(matches!(meaning(&attempt("CANCELLED", &["beta1"]), &none), Meaning::Ended(_)));
        assert!(matches!(meaning(&attempt("CANCELLED", &["beta1"]), &silent), Meaning::Unconfirmed(_)), "a cancel the node never got");
        assert!(matches!(meaning(&attempt("NODE_FAIL", &["beta1", "beta2"]), &silent), Meaning::Unconfirmed(_)));
        assert!(matches!(meaning(&attempt("NODE_FAIL", &["beta2"]), &silent), Meaning::Ended(_)));
        assert!(matches!(meaning(&attempt("NODE_FAIL", &[]), &none), Meaning::Unconfirmed(_)));
        assert_eq!(meaning(&attempt("REQUEUED", &[]), &none), Meaning::Queued);
        assert_eq!(meaning(&attempt("WHATEVER", &[]), &none), Meaning::Running);
    }
}

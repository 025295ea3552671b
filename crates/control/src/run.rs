//! What a job runs and the bytes it needs where it runs: the job's program (`RunSpec`), its
//! inputs on a site's storage, the transfers that stage them (and its newest checkpoint) at the
//! site chosen for an attempt, and the layout of a job's folder on every site's storage. All
//! pure: the edge executes transfers (rclone) and reports them as events.
//!
//! A job's folder on a site's storage (paths relative to the storage's root):
//!
//! ```text
//! xisuan/jobs/JOB/                 the job's working folder (XISUAN_JOB_DIR; `workdir` is under it)
//! xisuan/jobs/JOB/inputs/NAME      each input, by its file name   (XISUAN_INPUT_DIR)
//! xisuan/jobs/JOB/checkpoints/     what it saves; carried to the next site (XISUAN_CHECKPOINT_DIR)
//! xisuan/jobs/JOB/outputs/         what it leaves; copied back to its data site (XISUAN_OUTPUT_DIR)
//! xisuan/jobs/JOB/logs/attempt-N.out   stdout and stderr of attempt N
//! ```
//!
//! Progress is what the job has saved: the manifest `CHECKPOINT_MANIFEST` in its checkpoint
//! folder, `{"step": S, "total_steps": T, "progress": S/T, "path": "DIR"}`, written atomically
//! after the folder `DIR` it names is complete.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file a job writes (atomically) in `XISUAN_CHECKPOINT_DIR` after each complete checkpoint.
pub const CHECKPOINT_MANIFEST: &str = "xisuan-checkpoint.json";

/// Transfers that fail this many times in a row for one attempt give the attempt up: the job
/// goes back to pending and avoids that site.
pub const TRANSFER_TRIES: u32 = 3;

/// A file or folder a job reads, on a site's storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The site whose storage holds it.
    pub site: String,
    /// Its path under that storage's root.
    pub path: String,
    /// Its size as the storage reported it at submission, bytes.
    pub bytes: f64,
}

impl Input {
    /// The name it has in `XISUAN_INPUT_DIR`: the last part of its path.
    pub fn name(&self) -> &str {
        self.path.trim_end_matches('/').rsplit('/').next().unwrap_or(&self.path)
    }
}

/// What a job runs: a command (argv) or a batch script, its environment and working folder, an
/// OCI image where the site runs containers, and the inputs it reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunSpec {
    /// The program and its arguments (run with `exec`, no shell), or empty with `script`.
    #[serde(default)]
    pub command: Vec<String>,
    /// A batch script's body, as for `sbatch` (a `#!` line of its own, or `/bin/sh`).
    #[serde(default)]
    pub script: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The working folder, relative to the job's folder at the site (default: that folder).
    #[serde(default)]
    pub workdir: Option<String>,
    /// An OCI image (required where the site runs Kubernetes).
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// Copy `XISUAN_OUTPUT_DIR` back to the job's data site when it completes (default true).
    #[serde(default = "yes")]
    pub copy_outputs: bool,
}

fn yes() -> bool {
    true
}

/// A field of a run that is not acceptable, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> RunError {
    RunError { field: field.into(), message: message.into() }
}

/// A relative path with no `..`, no empty or `.` parts and no control characters.
fn relative_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("must not be empty".into());
    }
    if p.len() > 4096 {
        return Err(format!("is {} characters long (at most 4,096)", p.len()));
    }
    if p.starts_with('/') {
        return Err(format!("`{p}` is absolute; give a path relative to the storage's root"));
    }
    if p.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    if p.trim_end_matches('/').split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err(format!("`{p}` has an empty, `.` or `..` part"));
    }
    Ok(())
}

impl RunSpec {
    /// Checks a run once, for every entry point: a command or a script (not both, not empty),
    /// environment names that are names and leave xisuan's own alone, a working folder inside
    /// the job's folder, inputs with distinct names on sites `known_site` knows, with sizes.
    pub fn validate(&self, known_site: &dyn Fn(&str) -> bool) -> Result<(), RunError> {
        match (self.command.is_empty(), &self.script) {
            (true, None) => {
                return Err(err(
                    "command",
                    "give the program to run as `command` (a list: program and arguments) or `script` (a batch script's body)",
                ))
            }
            (false, Some(_)) => return Err(err("script", "give `command` or `script`, not both")),
            (true, Some(s)) if s.trim().is_empty() => return Err(err("script", "is empty")),
            _ => {}
        }
        if self.command.first().is_some_and(|c| c.trim().is_empty()) {
            return Err(err("command[0]", "the program's name is empty"));
        }
        if self.command.len() > 1024 {
            return Err(err("command", format!("{} arguments (at most 1,024)", self.command.len())));
        }
        for (i, a) in self.command.iter().enumerate() {
            if a.contains('\0') || a.len() > 65_536 {
                return Err(err(format!("command[{i}]"), "holds a NUL byte or is over 64 KiB"));
            }
        }
        if self.script.as_ref().is_some_and(|s| s.len() > 1 << 20 || s.contains('\0')) {
            return Err(err("script", "is over 1 MiB or holds a NUL byte"));
        }
        if self.env.len() > 256 {
            return Err(err("env", format!("{} variables (at most 256)", self.env.len())));
        }
        for (k, v) in &self.env {
            let name_ok = !k.is_empty()
                && k.len() <= 256
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name_ok {
                return Err(err(format!("env.{k}"), "is not a variable name (letters, digits and _, not starting with a digit)"));
            }
            if k.starts_with("XISUAN_") || k.starts_with("SLURM_") {
                return Err(err(format!("env.{k}"), "XISUAN_ and SLURM_ variables are set by xisuan and Slurm"));
            }
            if v.contains('\0') || v.len() > 65_536 {
                return Err(err(format!("env.{k}"), "holds a NUL byte or is over 64 KiB"));
            }
        }
        if let Some(w) = &self.workdir {
            relative_path(w).map_err(|m| err("workdir", format!("{m} (it is relative to the job's folder at the site)")))?;
        }
        if let Some(i) = &self.image {
            if i.trim().is_empty() || i.len() > 1024 || i.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err("image", format!("`{i}` is not an image reference (e.g. docker.io/library/python:3.12)")));
            }
        }
        if self.inputs.len() > 1000 {
            return Err(err("inputs", format!("{} inputs (at most 1,000)", self.inputs.len())));
        }
        let mut names = BTreeMap::new();
        for (k, input) in self.inputs.iter().enumerate() {
            let at = format!("inputs[{k}]");
            if !known_site(&input.site) {
                return Err(err(
                    at,
                    format!(
                        "site `{}` has no storage this server knows (give SITE:PATH with a site whose catalog entry names its storage)",
                        input.site
                    ),
                ));
            }
            relative_path(&input.path).map_err(|m| err(at.clone(), m))?;
            if !(input.bytes.is_finite() && input.bytes >= 0.0 && input.bytes <= xisuan_model::limits::MAX_BYTES) {
                return Err(err(at, format!("size {} bytes is out of range", input.bytes)));
            }
            if let Some(other) = names.insert(input.name().to_string(), k) {
                return Err(err(
                    at,
                    format!("its name `{}` is that of inputs[{other}] too; each input needs its own name in XISUAN_INPUT_DIR", input.name()),
                ));
            }
        }
        Ok(())
    }

    /// Bytes of the inputs held at `site`'s storage (what moves when the job runs elsewhere).
    pub fn bytes_at(&self, site: &str) -> f64 {
        self.inputs.iter().filter(|i| i.site == site).map(|i| i.bytes).sum()
    }
}

/// A job's folder on every site's storage.
pub fn job_dir(job: &str) -> String {
    format!("xisuan/jobs/{job}")
}

pub fn input_dir(job: &str) -> String {
    format!("{}/inputs", job_dir(job))
}

pub fn checkpoint_dir(job: &str) -> String {
    format!("{}/checkpoints", job_dir(job))
}

pub fn output_dir(job: &str) -> String {
    format!("{}/outputs", job_dir(job))
}

pub fn log_file(job: &str, attempt: u32) -> String {
    format!("{}/logs/attempt-{attempt}.out", job_dir(job))
}

/// What a transfer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// An input, to the site an attempt runs at.
    Input,
    /// The newest complete checkpoint (the manifest and the folder it names), to the next site.
    Checkpoint,
    /// The outputs of a completed job, back to its data site.
    Output,
}

impl TransferKind {
    pub fn name(self) -> &'static str {
        match self {
            TransferKind::Input => "input",
            TransferKind::Checkpoint => "checkpoint",
            TransferKind::Output => "output",
        }
    }
}

/// A transfer a job needs: from a path on one site's storage to a path on another's (the same
/// site: a link, nothing moves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferSpec {
    /// `JOB/aATTEMPT/KIND/INDEX`: one per thing carried per attempt.
    pub id: String,
    pub job: String,
    pub attempt: u32,
    pub kind: TransferKind,
    pub from_site: String,
    pub from_path: String,
    pub to_site: String,
    pub to_path: String,
    /// Bytes expected (the input's size; 0 where not known before it runs).
    pub bytes: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    Running,
    Done,
    Failed,
}

/// A transfer as the control plane knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRecord {
    #[serde(flatten)]
    pub spec: TransferSpec,
    pub status: TransferStatus,
    /// Times it was started (a failed one is started again, up to `TRANSFER_TRIES`).
    pub tries: u32,
    pub started_h: f64,
    pub ended_h: Option<f64>,
    /// Bytes the engine moved (0 when the destination already held them).
    pub bytes_moved: f64,
    /// Seconds the engine took, wall clock.
    pub seconds: f64,
    /// The engine's words when it failed, or a note (already there, linked).
    pub note: String,
}

/// The newest complete checkpoint xisuan has seen of a job: where, which folder, how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRef {
    pub site: String,
    /// The folder the manifest names, relative to the checkpoint folder.
    pub path: String,
    pub step: u64,
    pub total_steps: u64,
}

/// The transfers an attempt at `site` needs before it may start: each input that is not on
/// that site's storage (or is, and is linked into the job's folder), and the newest checkpoint
/// when it was saved at another site.
pub fn staging(job: &str, run: &RunSpec, checkpoint: Option<&CheckpointRef>, site: &str, attempt: u32) -> Vec<TransferSpec> {
    let mut out: Vec<TransferSpec> = run
        .inputs
        .iter()
        .enumerate()
        .map(|(k, i)| TransferSpec {
            id: format!("{job}/a{attempt}/input/{k}"),
            job: job.into(),
            attempt,
            kind: TransferKind::Input,
            from_site: i.site.clone(),
            from_path: i.path.clone(),
            to_site: site.into(),
            to_path: format!("{}/{}", input_dir(job), i.name()),
            bytes: i.bytes,
        })
        .collect();
    if let Some(c) = checkpoint.filter(|c| c.site != site) {
        out.push(TransferSpec {
            id: format!("{job}/a{attempt}/checkpoint/0"),
            job: job.into(),
            attempt,
            kind: TransferKind::Checkpoint,
            from_site: c.site.clone(),
            from_path: checkpoint_dir(job),
            to_site: site.into(),
            to_path: checkpoint_dir(job),
            bytes: 0.0,
        });
    }
    out
}

/// Sites other than its data site that hold every input of a job, verified (an earlier
/// attempt's finished input transfers): the planner moves nothing to run there again.
pub fn inputs_held(state: &crate::State, job: &crate::JobRecord) -> Vec<String> {
    let Some(run) = &job.spec.run else {
        return Vec::new();
    };
    if run.inputs.is_empty() {
        return Vec::new();
    }
    let mut held: BTreeMap<&str, usize> = BTreeMap::new();
    // Transfers are keyed JOB/aN/input/K: each (site, K) counts once.
    let mut seen = std::collections::BTreeSet::new();
    for t in state.transfers.range(format!("{}/", job.id)..).take_while(|(id, _)| id.starts_with(&format!("{}/", job.id))).map(|(_, t)| t) {
        if t.spec.kind == TransferKind::Input && t.status == TransferStatus::Done && t.spec.to_site != job.spec.data_site {
            let k = t.spec.id.rsplit('/').next().unwrap_or("");
            if seen.insert((t.spec.to_site.clone(), k.to_string())) {
                *held.entry(t.spec.to_site.as_str()).or_default() += 1;
            }
        }
    }
    held.into_iter().filter(|(_, n)| *n == run.inputs.len()).map(|(s, _)| s.to_string()).collect()
}

/// The transfer that copies a completed job's outputs back to its data site, if one is due.
pub fn outputs_back(job: &str, run: &RunSpec, ran_at: &str, data_site: &str, attempt: u32) -> Option<TransferSpec> {
    (run.copy_outputs && ran_at != data_site).then(|| TransferSpec {
        id: format!("{job}/a{attempt}/output/0"),
        job: job.into(),
        attempt,
        kind: TransferKind::Output,
        from_site: ran_at.into(),
        from_path: output_dir(job),
        to_site: data_site.into(),
        to_path: output_dir(job),
        bytes: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunSpec {
        RunSpec {
            command: vec!["python3".into(), "train.py".into()],
            inputs: vec![Input { site: "a".into(), path: "data/set.npy".into(), bytes: 2e8 }],
            copy_outputs: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_run_is_checked_field_by_field() {
        let known = |s: &str| s == "a" || s == "b";
        assert_eq!(run().validate(&known), Ok(()));
        let bad = |r: RunSpec| r.validate(&known).unwrap_err().field;
        assert_eq!(bad(RunSpec { command: vec![], ..run() }), "command");
        assert_eq!(bad(RunSpec { script: Some("echo".into()), ..run() }), "script");
        assert_eq!(bad(RunSpec { command: vec![], script: Some("  ".into()), ..run() }), "script");
        assert_eq!(bad(RunSpec { command: vec!["".into()], ..run() }), "command[0]");
        assert_eq!(bad(RunSpec { env: [("XISUAN_JOB_ID".to_string(), "x".to_string())].into(), ..run() }), "env.XISUAN_JOB_ID");
        assert_eq!(bad(RunSpec { env: [("1A".to_string(), "x".to_string())].into(), ..run() }), "env.1A");
        assert_eq!(bad(RunSpec { workdir: Some("../x".into()), ..run() }), "workdir");
        assert_eq!(bad(RunSpec { workdir: Some("/abs".into()), ..run() }), "workdir");
        assert_eq!(bad(RunSpec { image: Some("two words".into()), ..run() }), "image");
        let mut r = run();
        r.inputs[0].site = "nowhere".into();
        assert_eq!(bad(r), "inputs[0]");
        let mut r = run();
        r.inputs.push(Input { site: "b".into(), path: "other/set.npy".into(), bytes: 1.0 });
        let e = r.validate(&known).unwrap_err();
        assert!(e.field == "inputs[1]" && e.message.contains("inputs[0]"), "{e:?}");
    }

    #[test]
    fn staging_moves_inputs_and_a_checkpoint_saved_elsewhere() {
        let r = run();
        let at_b = staging("j1", &r, None, "b", 1);
        assert_eq!(at_b.len(), 1);
        assert_eq!((at_b[0].from_site.as_str(), at_b[0].to_path.as_str(), at_b[0].bytes), ("a", "xisuan/jobs/j1/inputs/set.npy", 2e8));
        let c = CheckpointRef { site: "b".into(), path: "step-00000150".into(), step: 150, total_steps: 3000 };
        let at_c = staging("j1", &r, Some(&c), "c", 2);
        assert_eq!(at_c.iter().map(|t| t.kind).collect::<Vec<_>>(), vec![TransferKind::Input, TransferKind::Checkpoint]);
        assert_eq!(at_c[1].id, "j1/a2/checkpoint/0");
        // Resumed where it saved: only the inputs.
        assert_eq!(staging("j1", &r, Some(&c), "b", 2).len(), 1);
        assert!(outputs_back("j1", &r, "a", "a", 1).is_none());
        // After attempt 1 staged its input at b, b holds it: the planner moves nothing there.
        let mut state = crate::State::default();
        state.apply(&crate::Event::TenantCreated {
            id: "t".into(),
            name: "t".into(),
            token_sha256: "x".into(),
            quota_gpus: None,
            admin: false,
            at_h: 0.0,
        });
        let spec = crate::JobSpec {
            name: None,
            gpus: 1,
            hours: 1.0,
            accelerators: vec![],
            data_site: "a".into(),
            data_bytes: 2e8,
            earliest_h: 0.0,
            deadline_h: None,
            pausable: false,
            allowed_sites: None,
            checkpoint_every_h: 1.0,
            run: Some(r.clone()),
        };
        state.apply(&crate::Event::JobSubmitted { id: "j1".into(), tenant: "t".into(), spec, at_h: 0.0, request_sha256: None });
        assert!(inputs_held(&state, &state.jobs["j1"]).is_empty());
        state.apply(&crate::Event::TransferStarted { spec: at_b[0].clone(), at_h: 0.1 });
        assert!(inputs_held(&state, &state.jobs["j1"]).is_empty(), "not before it has arrived");
        state.apply(&crate::Event::TransferFinished {
            id: at_b[0].id.clone(),
            job: "j1".into(),
            bytes_moved: 2e8,
            seconds: 10.0,
            note: String::new(),
            at_h: 0.2,
        });
        assert_eq!(inputs_held(&state, &state.jobs["j1"]), vec!["b".to_string()]);
        assert_eq!(outputs_back("j1", &r, "c", "a", 2).unwrap().to_site, "a");
    }
}

//! Dispatch to real Slurm clusters through Slurm's own commands (`sbatch`, `squeue`, `scancel`,
//! `sinfo`), one cluster per site, each named by its `slurm.conf` (`SLURM_CONF`).
//!
//! A dispatched placement becomes a batch job named `xisuan-JOB-aATTEMPT`: its accelerators as
//! `--gpus=TYPE:N` (Slurm picks the nodes), its start as `--begin` (the planned start in wall
//! time, with planning hours scaled by `--hour-seconds`), a time limit of its wall time plus a
//! margin, and a script that sleeps through its work in checkpoint steps, writing its progress
//! after each (a stand-in for a training job that checkpoints). What Slurm reports comes back as
//! the controller's observations: running → started, gone from the queue as completed →
//! finished, failed, cancelled by others or timed out → failed (back to pending with the work up
//! to the last checkpoint, which the controller assumes from the time run). A cluster whose
//! nodes are all down or unreachable is reported, and its site is marked down.
//!
//! Names are `xisuan-STORE-JOB-aATTEMPT`, where STORE is a random id kept in the store's
//! metadata: a restarted server (or another replica on the same database) recognises what it
//! submitted before and does not submit it again, and another xisuan store sharing a cluster
//! is left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

/// One job as Slurm shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmJob {
    pub slurm_id: String,
    /// Our job id and attempt, parsed from the name.
    pub job: String,
    pub attempt: u32,
    /// PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ...
    pub state: String,
    pub reason: String,
}

/// The Slurm cluster behind a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Its slurm.conf (`SLURM_CONF` for every command).
    pub conf: PathBuf,
    /// The partition jobs go to (the cluster's default when `None`).
    pub partition: Option<String>,
}

/// Why a submission did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitError {
    /// The controller did not answer (down, unreachable, timed out): the site is down.
    Unreachable(String),
    /// The cluster answered and said no (unknown partition, an accelerator type or count it
    /// does not have, a QOS or account limit): this job should go elsewhere.
    Refused(String),
}

impl SubmitError {
    /// Slurm's words for a controller that did not answer, as its commands print them.
    fn classify(message: String) -> SubmitError {
        const NO_ANSWER: [&str; 5] = ["Unable to contact slurm controller", "Socket timed out", "Connection refused", "Zero Bytes were transmitted", "cannot run sbatch"];
        if NO_ANSWER.iter().any(|m| message.contains(m)) {
            SubmitError::Unreachable(message)
        } else {
            SubmitError::Refused(message)
        }
    }
}

/// The Slurm clusters behind sites.
#[derive(Debug, Clone, Default)]
pub struct Slurm {
    /// Site id → its cluster.
    pub sites: BTreeMap<String, Cluster>,
    /// Where job scripts write their output and progress.
    pub workdir: PathBuf,
    /// This store's id in job names (set when the server opens its store).
    pub prefix: String,
}

/// What a submission asks for.
#[derive(Debug, Clone)]
pub struct Submission {
    pub job: String,
    pub attempt: u32,
    pub accelerator: String,
    pub gpus: u32,
    /// Seconds from now to the planned start.
    pub begin_in_s: f64,
    /// Seconds of work left at the accelerator's speed.
    pub run_s: f64,
    /// Seconds between checkpoints.
    pub checkpoint_s: f64,
}

pub fn job_name(prefix: &str, job: &str, attempt: u32) -> String {
    format!("xisuan-{prefix}-{job}-a{attempt}")
}

fn parse_name(prefix: &str, name: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix("xisuan-")?.strip_prefix(prefix)?.strip_prefix('-')?;
    let (job, attempt) = rest.rsplit_once("-a")?;
    Some((job.to_string(), attempt.parse().ok()?))
}

impl Slurm {
    /// Parses `SITE=PATH[:PARTITION]` pairs (from `--slurm`).
    pub fn parse(pairs: &[String], workdir: PathBuf) -> Result<Slurm, String> {
        let mut sites = BTreeMap::new();
        for p in pairs {
            let (site, rest) = p.split_once('=').ok_or_else(|| format!("`{p}` is not SITE=PATH/TO/slurm.conf[:PARTITION]"))?;
            let (conf, partition) = match rest.rsplit_once(':') {
                Some((conf, part)) if !part.is_empty() && !part.contains('/') => (conf, Some(part.to_string())),
                _ => (rest, None),
            };
            let conf = PathBuf::from(conf);
            if !conf.is_file() {
                return Err(format!("{site}: {}: no such file", conf.display()));
            }
            if sites.insert(site.to_string(), Cluster { conf, partition }).is_some() {
                return Err(format!("site {site} is named twice"));
            }
        }
        Ok(Slurm { sites, workdir, prefix: String::new() })
    }

    pub fn has(&self, site: &str) -> bool {
        self.sites.contains_key(site)
    }

    fn command(&self, site: &str, program: &str) -> Result<Command, String> {
        let cluster = self.sites.get(site).ok_or_else(|| format!("site {site} has no Slurm cluster"))?;
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &cluster.conf);
        Ok(c)
    }

    fn run(&self, site: &str, program: &str, args: &[String]) -> Result<String, String> {
        let out = self.command(site, program)?.args(args).output().map_err(|e| format!("{site}: cannot run {program}: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("{site}: {program}: {}", err.trim().lines().last().unwrap_or("failed")));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Submits a job; returns Slurm's job id, or why not.
    pub fn submit(&self, site: &str, s: &Submission) -> Result<String, SubmitError> {
        std::fs::create_dir_all(&self.workdir).map_err(|e| SubmitError::Refused(format!("{}: {e}", self.workdir.display())))?;
        let name = job_name(&self.prefix, &s.job, s.attempt);
        let progress = self.workdir.join(format!("{name}.progress"));
        let steps = (s.run_s / s.checkpoint_s.max(0.001)).ceil().max(1.0) as u64;
        let step = s.run_s / steps as f64;
        // The work: sleep in checkpoint steps, recording progress after each.
        let script = format!(
            "#!/bin/sh\nfor i in $(seq 1 {steps}); do sleep {step:.3}; echo \"$i/{steps}\" > '{}'; done\n",
            progress.display()
        );
        let limit_min = ((s.run_s * 1.5 + 60.0) / 60.0).ceil() as u64;
        let mut args = vec![
            "--parsable".to_string(),
            format!("--job-name={name}"),
            format!("--gpus={}:{}", s.accelerator, s.gpus),
            format!("--begin=now+{}", s.begin_in_s.max(0.0).round() as u64),
            format!("--time={limit_min}"),
            "--no-requeue".to_string(),
            format!("--output={}", self.workdir.join(format!("{name}.out")).display()),
            format!("--chdir={}", self.workdir.display()),
            format!("--wrap={script}"),
        ];
        if let Some(p) = self.sites.get(site).and_then(|c| c.partition.as_ref()) {
            args.push(format!("--partition={p}"));
        }
        let out = self.run(site, "sbatch", &args).map_err(SubmitError::classify)?;
        Ok(out.trim().split(';').next().unwrap_or("").to_string())
    }

    /// Our jobs in the cluster's queue (pending, running, and recently ended ones Slurm still
    /// lists).
    pub fn queue(&self, site: &str) -> Result<Vec<SlurmJob>, String> {
        let out = self.run(site, "squeue", &["-h".into(), "-t".into(), "all".into(), "-o".into(), "%i|%j|%T|%r".into()])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                let (job, attempt) = parse_name(&self.prefix, f.get(1)?)?;
                Some(SlurmJob { slurm_id: f[0].to_string(), job, attempt, state: f.get(2)?.to_string(), reason: f.get(3).unwrap_or(&"").to_string() })
            })
            .collect())
    }

    /// Cancels our job (every attempt of it) on a site.
    pub fn cancel(&self, site: &str, job: &str) -> Result<(), String> {
        for j in self.queue(site)?.into_iter().filter(|j| j.job == job && matches!(j.state.as_str(), "PENDING" | "RUNNING" | "CONFIGURING" | "SUSPENDED")) {
            self.run(site, "scancel", &[j.slurm_id])?;
        }
        Ok(())
    }

    /// Whether the cluster answers and has a node that can run work; `Err` says why not.
    pub fn health(&self, site: &str) -> Result<(), String> {
        let out = self.run(site, "sinfo", &["-h".into(), "-N".into(), "-o".into(), "%T".into()])?;
        let states: BTreeSet<&str> = out.lines().map(str::trim).collect();
        if states.iter().any(|s| !s.starts_with("down") && !s.starts_with("drain") && !s.starts_with("fail") && !s.ends_with('*')) {
            Ok(())
        } else {
            Err(format!("{site}: no node up (states: {})", states.into_iter().collect::<Vec<_>>().join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_store_job_and_attempt() {
        assert_eq!(parse_name("f00d", &job_name("f00d", "job-ab12-a9", 3)), Some(("job-ab12-a9".into(), 3)));
        assert_eq!(parse_name("beef", &job_name("f00d", "job-ab12", 3)), None, "another store's job");
        assert_eq!(parse_name("f00d", "other-job"), None);
    }

    #[test]
    fn a_site_may_name_its_partition() {
        let conf = std::env::temp_dir().join(format!("xisuan-slurm-parse-{}.conf", std::process::id()));
        std::fs::write(&conf, "").unwrap();
        let c = conf.display();
        let s = Slurm::parse(&[format!("a={c}"), format!("b={c}:gpu")], PathBuf::new()).unwrap();
        assert_eq!(s.sites["a"].partition, None);
        assert_eq!(s.sites["b"], Cluster { conf: conf.clone(), partition: Some("gpu".into()) });
        assert!(Slurm::parse(&[format!("a={c}"), format!("a={c}")], PathBuf::new()).unwrap_err().contains("named twice"));
        assert!(Slurm::parse(&["a=/no/such/slurm.conf".into()], PathBuf::new()).unwrap_err().contains("no such file"));
        assert!(Slurm::parse(&["just-a-path".into()], PathBuf::new()).is_err());
        let _ = std::fs::remove_file(conf);
    }

    #[test]
    fn a_silent_controller_is_told_apart_from_a_refusal() {
        // Slurm 22.05's words, as sbatch prints them.
        let down = SubmitError::classify("gamma: sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)".into());
        assert!(matches!(down, SubmitError::Unreachable(_)));
        for no in ["sbatch: error: Batch job submission failed: Invalid partition name specified", "sbatch: error: Batch job submission failed: Requested node configuration is not available"] {
            assert!(matches!(SubmitError::classify(no.into()), SubmitError::Refused(_)), "{no}");
        }
    }
}

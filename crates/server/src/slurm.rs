//! Dispatch to real Slurm clusters, one cluster per site, through Slurm's own commands
//! (`sbatch`, `squeue`, `scancel`, `sinfo`, with the cluster's `slurm.conf` as `SLURM_CONF`) or
//! through slurmrestd (its REST API, OpenAPI v0.0.38 as in Slurm 22.05, authenticated with a JWT
//! read from a file on every request, so a rotated token is picked up; an expired one is
//! reported as such and the site is down until the file holds a valid one).
//!
//! A dispatched placement becomes a batch job named `xisuan-JOB-aATTEMPT` that runs the job's
//! own program (`Program`: its command `exec`ed from a batch script, or its script) in its
//! folder on the site's storage, with exactly its own environment and the `XISUAN_*` folders,
//! stdout and stderr into `logs/attempt-N.out` there: its accelerators as `--gpus=TYPE:N`
//! (Slurm picks the nodes), its start as `--begin` (the planned start in wall time, with
//! planning hours scaled by `--hour-seconds`), a time limit of its planned run plus a margin,
//! and `--signal=B:USR1` before that limit so it can save. What Slurm reports comes back as the
//! controller's observations: running → started, gone from the queue as completed → finished,
//! failed, cancelled by others or timed out → failed (back to pending from its newest saved
//! checkpoint). A cluster whose nodes are all down or unreachable is reported, and its site is
//! marked down.
//!
//! Names are `xisuan-STORE-JOB-aATTEMPT`, where STORE is a random id kept in the store's
//! metadata: a restarted server (or another replica on the same database) recognises what it
//! submitted before and does not submit it again, and another xisuan store sharing a cluster
//! is left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use crate::cluster::Health;
use xisuan_control::cluster::{Attempt, JobState};

impl crate::cluster::Backend for Slurm {
    fn kind(&self) -> &'static str {
        "slurm"
    }
    fn health(&self, site: &str) -> Result<Health, String> {
        Slurm::health(self, site)
    }
    fn queue(&self, site: &str) -> Result<Vec<Attempt>, String> {
        Slurm::queue(self, site)
    }
    fn accounting(&self, site: &str, job: &str, attempt: u32) -> Result<Option<Attempt>, String> {
        Slurm::accounting(self, site, job, attempt)
    }
    fn submit(&self, site: &str, s: &Submission) -> Result<String, SubmitError> {
        Slurm::submit(self, site, s)
    }
    fn cancel(&self, site: &str, job: &str) -> Result<(), String> {
        Slurm::cancel(self, site, job)
    }
}

/// How xisuan talks to a cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Slurm's commands with this slurm.conf as `SLURM_CONF`.
    Commands { conf: PathBuf },
    /// slurmrestd at `url` (e.g. `http://127.0.0.1:6820`), OpenAPI `version`, with the JWT in
    /// `token_file` (the token alone or `SLURM_JWT=...` as `scontrol token` prints it).
    Rest { url: String, version: String, token_file: PathBuf },
}

/// The Slurm cluster behind a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub access: Access,
    /// The partition jobs go to (the cluster's default when `None`).
    pub partition: Option<String>,
}

/// Why a submission did not go through.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitError {
    /// The controller did not answer, or it is not certain that it did not take the job
    /// (down, unreachable, timed out, an answer lost): the site is down and the attempt fenced
    /// there until the cluster confirms it does not have it.
    Unreachable(String),
    /// The cluster answered and said no (unknown partition, an accelerator type or count it
    /// does not have, a QOS or account limit): this job should go elsewhere.
    Refused(String),
}

/// Slurm's error numbers (slurm_errno.h) that mean its controller was not reached or did not
/// answer, rather than answered no: communication (1000–1099, 1800–1899), sockets
/// (5000–5099), authentication (6000–6099), and -1 (an unspecified error, which is what
/// slurmrestd 22.05 returns for every request while its controller is down, with HTTP 500;
/// with a lower status it is an answer).
pub fn errno_is_silence(errno: i64) -> bool {
    matches!(errno, -1 | 1000..=1099 | 1800..=1899 | 5000..=5099 | 6000..=6099)
}

impl SubmitError {
    /// sbatch's words. Only an answer from the controller ("Batch job submission failed:"
    /// with a reason other than not reaching it) is a refusal; anything else may mean the job
    /// was taken, and counts as no answer.
    fn classify(message: String) -> SubmitError {
        const NO_ANSWER: [&str; 6] = [
            "Unable to contact slurm controller",
            "Socket timed out",
            "Connection refused",
            "Zero Bytes were transmitted",
            "Authentication",
            "Protocol authentication",
        ];
        if message.contains("Batch job submission failed:") && !NO_ANSWER.iter().any(|m| message.contains(m)) {
            SubmitError::Refused(message)
        } else {
            SubmitError::Unreachable(message)
        }
    }
}

/// A slurmrestd request that failed: `silent` when the cluster did not answer (no connection,
/// HTTP 5xx, an error number that means the controller was not reached, a token that has
/// expired), else it answered no.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    pub silent: bool,
    pub message: String,
}

impl From<RestError> for String {
    fn from(e: RestError) -> String {
        e.message
    }
}

/// The Slurm clusters behind sites.
#[derive(Debug, Clone, Default)]
pub struct Slurm {
    /// Site id → its cluster.
    pub sites: BTreeMap<String, Cluster>,
    /// The server's folder (default storage for sites whose catalog entry names none).
    pub workdir: PathBuf,
    /// This store's id in job names (set when the server opens its store).
    pub prefix: String,
    /// Tenant name → the Slurm account its work is charged to (`--account`).
    pub accounts: BTreeMap<String, String>,
    /// Site → accelerator type → the most a node there has (from each health check), for the
    /// layout of multi-node jobs.
    pub per_node: std::sync::Arc<std::sync::Mutex<BTreeMap<String, BTreeMap<String, u32>>>>,
    /// Site → the OpenAPI version agreed with its slurmrestd (read from its `/openapi/v3`).
    pub versions: std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>>,
}

/// The versions of slurmrestd's API this client speaks, newest first. v0.0.38 is Slurm
/// 22.05's, tested on the testbed; a slurmrestd that serves none of them is refused, naming
/// what it serves.
pub const REST_VERSIONS: [&str; 1] = ["v0.0.38"];

/// The version to use with a slurmrestd that serves `served` (controller API versions), when
/// the site's configuration names `configured`: that one if it is served and known, else the
/// newest known one served.
pub fn choose_version(configured: &str, served: &BTreeSet<String>) -> Result<String, String> {
    if served.contains(configured) && REST_VERSIONS.contains(&configured) {
        return Ok(configured.to_string());
    }
    REST_VERSIONS.iter().find(|v| served.contains(**v)).map(|v| v.to_string()).ok_or_else(|| {
        format!(
            "it serves the API versions {}, and this xisuan speaks {} (Slurm 22.05)",
            served.iter().cloned().collect::<Vec<_>>().join(", "),
            REST_VERSIONS.join(", ")
        )
    })
}

/// The nodes a job of `gpus` accelerators asks for and the accelerators on each, where a node
/// has at most `per_node`: one node when it fits, else the fewest nodes that hold it, the
/// accelerators spread evenly (rounded up: 6 on nodes of 4 is 2 × 3; 7 is 2 × 4).
pub fn layout(gpus: u32, per_node: Option<u32>) -> (u32, u32) {
    match per_node {
        Some(p) if p > 0 && gpus > p => {
            let nodes = gpus.div_ceil(p);
            (nodes, gpus.div_ceil(nodes))
        }
        _ => (1, gpus),
    }
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
    /// Seconds of work left at the accelerator's speed, as planned.
    pub run_s: f64,
    /// The tenant's name (its Slurm account, where one is configured).
    pub tenant: String,
    /// What runs, as the cluster's nodes see it.
    pub program: Program,
}

/// The job's program at its site: a command (argv) or a batch script, its whole environment
/// (xisuan's `XISUAN_*` variables and the job's own), working folder and output file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    pub command: Vec<String>,
    pub script: Option<String>,
    pub env: BTreeMap<String, String>,
    pub chdir: String,
    /// stdout and stderr of this attempt.
    pub output: String,
    pub image: Option<String>,
    /// The storage's root on the nodes, and the PersistentVolumeClaim that holds it (Kubernetes).
    pub mount: String,
    pub pvc: Option<String>,
}

impl Program {
    /// The batch script: the job's own, or one that `exec`s its command (so signals Slurm
    /// sends the batch step reach the program itself).
    pub fn batch_script(&self) -> String {
        match &self.script {
            Some(s) if s.starts_with("#!") => s.clone(),
            Some(s) => format!("#!/bin/sh\n{s}"),
            None => format!("#!/bin/sh\nexec {}\n", self.command.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ")),
        }
    }
}

/// A word quoted for sh: inside single quotes, each single quote as '\''.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The time limit a submission gets, in minutes (Slurm's unit): half again its run, and a
/// minute. Slurm ends a job at its limit (after its KillWait, 30 s by default).
pub fn time_limit_min(run_s: f64) -> u64 {
    ((run_s * 1.5 + 60.0) / 60.0).ceil() as u64
}

/// Seconds before its time limit that a job gets SIGUSR1 (`--signal=B:USR1@N`) to save a
/// checkpoint: a tenth of the limit, at least 10 s and at most 5 minutes.
pub fn signal_lead_s(limit_min: u64) -> u64 {
    (limit_min * 6).clamp(10, 300)
}

/// Seconds xisuan waits between SIGUSR1 and `scancel` when it cancels a running job.
pub const CANCEL_GRACE_S: u64 = 5;

/// GPUs by type in a node's GRES (`gpu:h800:2(IDX:0-1)`, `gpu:h800:1,gpu:a100:2`); a GPU
/// without a type counts as type "".
pub fn gres_counts(gres: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in gres.chars().chain([',']) {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                let f: Vec<&str> = item.split(':').collect();
                match f.as_slice() {
                    ["gpu", t, n] => out.extend(n.parse().ok().map(|n| (t.to_string(), n))),
                    ["gpu", n] => out.extend(n.parse().ok().map(|n| (String::new(), n))),
                    _ => {}
                }
                item.clear();
            }
            _ if depth == 0 => item.push(c),
            _ => {}
        }
    }
    out
}

/// A Slurm host list (`beta[1-2,4],gpu07`) as node names.
pub fn expand_hostlist(list: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut depth, mut start) = (0, 0);
    let mut parts = Vec::new();
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty() && *p != "None" && *p != "(null)") {
        let Some((prefix, rest)) = p.split_once('[') else {
            names.push(p.to_string());
            continue;
        };
        let (ranges, suffix) = rest.split_once(']').unwrap_or((rest, ""));
        for r in ranges.split(',') {
            match r.split_once('-') {
                Some((a, b)) => {
                    let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) else { continue };
                    for n in x..=y.min(x + 100_000) {
                        names.push(format!("{prefix}{n:0width$}{suffix}", width = a.len()));
                    }
                }
                None => names.push(format!("{prefix}{r}{suffix}")),
            }
        }
    }
    names
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
    /// Parses `SITE=PATH[:PARTITION]` pairs (from `--slurm`) and
    /// `SITE=URL,token=PATH[,partition=P][,version=V]` (from `--slurmrest`).
    pub fn parse(pairs: &[String], rest: &[String], workdir: PathBuf) -> Result<Slurm, String> {
        let mut sites = BTreeMap::new();
        for p in pairs {
            let (site, spec) = p.split_once('=').ok_or_else(|| format!("`{p}` is not SITE=PATH/TO/slurm.conf[:PARTITION]"))?;
            let (conf, partition) = match spec.rsplit_once(':') {
                Some((conf, part)) if !part.is_empty() && !part.contains('/') => (conf, Some(part.to_string())),
                _ => (spec, None),
            };
            let conf = PathBuf::from(conf);
            if !conf.is_file() {
                return Err(format!("{site}: {}: no such file", conf.display()));
            }
            if sites.insert(site.to_string(), Cluster { access: Access::Commands { conf }, partition }).is_some() {
                return Err(format!("site {site} is named twice"));
            }
        }
        for p in rest {
            let usage = || format!("`{p}` is not SITE=URL,token=PATH[,partition=P][,version=v0.0.38]");
            let (site, spec) = p.split_once('=').ok_or_else(usage)?;
            let mut parts = spec.split(',');
            let url =
                parts.next().filter(|u| u.starts_with("http://") || u.starts_with("https://")).ok_or_else(usage)?.trim_end_matches('/').to_string();
            let (mut token_file, mut partition, mut version) = (None, None, "v0.0.38".to_string());
            for kv in parts {
                match kv.split_once('=') {
                    Some(("token", v)) if !v.is_empty() => token_file = Some(PathBuf::from(v)),
                    Some(("partition", v)) if !v.is_empty() => partition = Some(v.to_string()),
                    Some(("version", v)) if v.starts_with('v') => version = v.to_string(),
                    _ => return Err(format!("{site}: `{kv}`: expected token=PATH, partition=NAME or version=vX.Y.Z")),
                }
            }
            let token_file = token_file.ok_or_else(|| format!("{site}: token=PATH is required (the JWT from `scontrol token`)"))?;
            if sites.insert(site.to_string(), Cluster { access: Access::Rest { url, version, token_file }, partition }).is_some() {
                return Err(format!("site {site} is named twice"));
            }
        }
        Ok(Slurm { sites, workdir, ..Slurm::default() })
    }

    /// Adds the cluster a catalog file names for `site` (`dispatch = {...}`), unless a flag
    /// already named one (flags win). A relative path is relative to that file's folder.
    pub fn add_from_catalog(&mut self, site: &str, d: &xisuan_catalog::Dispatch) -> Result<(), String> {
        use xisuan_catalog::Dispatch;
        if self.sites.contains_key(site) {
            return Ok(());
        }
        let near = |origin: &str, p: &str| {
            let p = PathBuf::from(p);
            match std::path::Path::new(origin).parent() {
                Some(dir) if p.is_relative() => dir.join(p),
                _ => p,
            }
        };
        let cluster = match d {
            Dispatch::Slurm { conf, partition, origin } => {
                let conf = near(origin, conf);
                if !conf.is_file() {
                    return Err(format!("{origin}: site {site}: dispatch.conf: {}: no such file", conf.display()));
                }
                Cluster { access: Access::Commands { conf }, partition: partition.clone() }
            }
            Dispatch::Slurmrest { url, token, partition, version, origin } => Cluster {
                access: Access::Rest {
                    url: url.clone(),
                    version: version.clone().unwrap_or_else(|| "v0.0.38".into()),
                    token_file: near(origin, token),
                },
                partition: partition.clone(),
            },
            Dispatch::Kubernetes { origin, .. } => return Err(format!("{origin}: site {site}: a Kubernetes cluster is not a Slurm one")),
        };
        self.sites.insert(site.to_string(), cluster);
        Ok(())
    }

    pub fn has(&self, site: &str) -> bool {
        self.sites.contains_key(site)
    }

    fn command(&self, site: &str, program: &str) -> Result<Command, String> {
        let cluster = self.sites.get(site).ok_or_else(|| format!("site {site} has no Slurm cluster"))?;
        let Access::Commands { conf } = &cluster.access else {
            return Err(format!("site {site} is reached through slurmrestd"));
        };
        let mut c = Command::new(program);
        c.env("SLURM_CONF", conf);
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
        let name = job_name(&self.prefix, &s.job, s.attempt);
        if let Some(image) = &s.program.image {
            return Err(SubmitError::Refused(format!("the job names the image {image}, and this site's Slurm cluster runs no container runtime xisuan knows (run it where a Kubernetes cluster is, or without an image)")));
        }
        let script = s.program.batch_script();
        let limit_min = time_limit_min(s.run_s);
        let signal = format!("B:USR1@{}", signal_lead_s(limit_min));
        let begin = format!("now+{}", s.begin_in_s.max(0.0).round() as u64);
        let cluster = self.sites.get(site).ok_or_else(|| SubmitError::Refused(format!("site {site} has no Slurm cluster")))?;
        let largest = self.per_node.lock().ok().and_then(|m| m.get(site).and_then(|t| t.get(&s.accelerator)).copied());
        let (nodes, per_node) = layout(s.gpus, largest);
        let account = self.accounts.get(&s.tenant);
        if let Access::Rest { .. } = cluster.access {
            let mut job = serde_json::json!({
                "name": name,
                // A count (slurmrestd 22.05 ignores the [minimum, maximum] form its schema
                // documents: measured, the job got one node).
                "nodes": nodes,
                "gpus_per_node": format!("{}:{}", s.accelerator, per_node),
                "tasks_per_node": 1,
                "begin_time": begin,
                "time_limit": limit_min,
                "no_requeue": true,
                // slurmrestd v0.0.38 refuses the `B:` (batch script) form: the signal reaches
                // the job's steps (srun) only.
                "signal": signal.trim_start_matches("B:"),
                "standard_output": s.program.output,
                "current_working_directory": s.program.chdir,
                "environment": s.program.env,
            });
            if let Some(p) = &cluster.partition {
                job["partition"] = p.clone().into();
            }
            if let Some(a) = account {
                job["account"] = a.clone().into();
            }
            let v = self.rest(site, "POST", "job/submit", Some(serde_json::json!({"script": script, "job": job}))).map_err(|e| {
                if e.silent {
                    SubmitError::Unreachable(e.message)
                } else {
                    SubmitError::Refused(e.message)
                }
            })?;
            return Ok(v["job_id"].to_string());
        }
        let mut args = vec![
            "--parsable".to_string(),
            format!("--job-name={name}"),
            format!("--nodes={nodes}"),
            format!("--gpus-per-node={}:{per_node}", s.accelerator),
            "--ntasks-per-node=1".to_string(),
            format!("--begin={begin}"),
            format!("--time={limit_min}"),
            format!("--signal={signal}"),
            "--no-requeue".to_string(),
            "--export=ALL".to_string(),
            format!("--output={}", s.program.output),
            format!("--chdir={}", s.program.chdir),
        ];
        if let Some(p) = &cluster.partition {
            args.push(format!("--partition={p}"));
        }
        if let Some(a) = account {
            args.push(format!("--account={a}"));
        }
        // The job's environment is exactly its own (sbatch's is cleared, so nothing of the
        // server's, such as its tokens, reaches the job); the script comes on stdin.
        let mut c = self.command(site, "sbatch").map_err(SubmitError::Refused)?;
        c.env_clear();
        if let Access::Commands { conf } = &cluster.access {
            c.env("SLURM_CONF", conf);
        }
        c.envs(&s.program.env)
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let failed = |e: std::io::Error| SubmitError::classify(format!("{site}: cannot run sbatch: {e}"));
        let mut child = c.spawn().map_err(failed)?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(script.as_bytes()).map_err(failed)?;
        }
        let out = child.wait_with_output().map_err(failed)?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(SubmitError::classify(format!("{site}: sbatch: {}", err.trim().lines().last().unwrap_or("failed"))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().split(';').next().unwrap_or("").to_string())
    }

    fn is_rest(&self, site: &str) -> bool {
        self.sites.get(site).is_some_and(|c| matches!(c.access, Access::Rest { .. }))
    }

    /// One slurmrestd request; its `errors` (or no answer, or a token that has expired) as
    /// `Err` in words, prefixed with the site.
    fn rest(&self, site: &str, method: &str, path: &str, body: Option<serde_json::Value>) -> Result<serde_json::Value, RestError> {
        self.rest_at(site, method, "slurm", path, body)
    }

    /// A request to one of slurmrestd's APIs: `api` is "slurm" (the controller) or "slurmdb"
    /// (accounting).
    fn rest_at(&self, site: &str, method: &str, api: &str, path: &str, body: Option<serde_json::Value>) -> Result<serde_json::Value, RestError> {
        let silent = |message: String| RestError { silent: true, message };
        let Some(Cluster { access: Access::Rest { url, version, token_file }, .. }) = self.sites.get(site) else {
            return Err(RestError { silent: false, message: format!("site {site} has no slurmrestd") });
        };
        let text = std::fs::read_to_string(token_file).map_err(|e| silent(format!("{site}: slurmrestd token {}: {e}", token_file.display())))?;
        let token = text.trim().trim_start_matches("SLURM_JWT=").trim().to_string();
        let claims = jwt_claims(&token).ok_or_else(|| silent(format!("{site}: slurmrestd token {}: not a JWT", token_file.display())))?;
        let user = claims["sun"].as_str().unwrap_or("").to_string();
        // Whether the token has expired, `slack` seconds early: slurmrestd counts in whole
        // seconds, so an answer that fails in the token's last second failed for its expiry.
        let expired = |slack: f64| {
            let exp = claims["exp"].as_f64()?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            (exp <= now + slack).then(|| {
                format!(
                    "{site}: slurmrestd token in {} expired {:.0} s ago (issue a new one: scontrol token username={user})",
                    token_file.display(),
                    (now - exp).max(0.0)
                )
            })
        };
        if let Some(why) = expired(0.0) {
            return Err(silent(why));
        }
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(std::time::Duration::from_secs(20))).build().into();
        let version = self.versions.lock().ok().and_then(|v| v.get(site).cloned()).unwrap_or_else(|| version.clone());
        // An empty `api`: a path of slurmrestd's own (its OpenAPI document).
        let full = if api.is_empty() { format!("{url}/{path}") } else { format!("{url}/{api}/{version}/{path}") };
        let send = || match (method, &body) {
            // slurmrestd 22.05 takes exactly `application/json` (not with a charset).
            ("POST", Some(b)) => agent
                .post(&full)
                .header("X-SLURM-USER-NAME", &user)
                .header("X-SLURM-USER-TOKEN", &token)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            ("DELETE", _) => agent.delete(&full).header("X-SLURM-USER-NAME", &user).header("X-SLURM-USER-TOKEN", &token).call(),
            _ => agent.get(&full).header("X-SLURM-USER-NAME", &user).header("X-SLURM-USER-TOKEN", &token).call(),
        };
        // A reading that gets no answer (a connection reset, say) is tried once more before the
        // site is said to be silent: one dropped connection is not a failed cluster. A submission
        // is not retried, so it can never be sent twice.
        let answer = match send() {
            Err(_) if method == "GET" => {
                std::thread::sleep(std::time::Duration::from_millis(500));
                send()
            }
            a => a,
        };
        let mut r = answer.map_err(|e| silent(expired(1.0).unwrap_or_else(|| format!("{site}: no answer from slurmrestd at {url}: {e}"))))?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().map_err(|e| silent(format!("{site}: no answer from slurmrestd at {url}: {e}")))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| RestError {
            silent: status >= 500,
            message: format!("{site}: slurmrestd {path}: {} (HTTP {status})", text.trim().chars().take(200).collect::<String>()),
        })?;
        let errors: Vec<(i64, String)> = v["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let words =
                    [e["error"].as_str(), e["description"].as_str()].into_iter().flatten().filter(|x| !x.is_empty()).collect::<Vec<_>>().join(": ");
                (e["error_number"].as_i64().or_else(|| e["errno"].as_i64()).unwrap_or(-1), words)
            })
            .collect();
        // A submission that names the job it made succeeded, whatever warnings come with it
        // (slurmrestd 22.05 lists "Required node not available" as an error for a job it queued).
        if status < 400 && v["job_id"].as_u64().is_some_and(|id| id > 0) {
            return Ok(v);
        }
        if !errors.is_empty() || status >= 400 {
            if let Some(why) = expired(1.0) {
                return Err(silent(why));
            }
            // Classified by HTTP status and Slurm's error numbers, not by the words.
            let silence = status >= 500 || errors.iter().any(|(n, _)| *n != -1 && errno_is_silence(*n));
            let words = if errors.is_empty() {
                "failed".to_string()
            } else {
                errors.iter().map(|(n, w)| format!("{w} (error {n})")).collect::<Vec<_>>().join("; ")
            };
            return Err(RestError { silent: silence, message: format!("{site}: slurmrestd {path}: {words} (HTTP {status})") });
        }
        Ok(v)
    }

    /// Agrees on the API version with a site's slurmrestd, once: reads the paths its
    /// OpenAPI document (`/openapi/v3`) serves.
    fn negotiate(&self, site: &str) -> Result<(), String> {
        if self.versions.lock().map(|v| v.contains_key(site)).unwrap_or(false) {
            return Ok(());
        }
        let Some(Cluster { access: Access::Rest { url, version, .. }, .. }) = self.sites.get(site) else { return Ok(()) };
        let doc = self.rest_at(site, "GET", "", "openapi/v3", None)?;
        let served: BTreeSet<String> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.keys())
            .filter_map(|p| p.strip_prefix("/slurm/")?.split('/').next().map(str::to_string))
            .collect();
        let chosen = choose_version(version, &served).map_err(|why| format!("{site}: slurmrestd at {url}: {why}"))?;
        if let Ok(mut v) = self.versions.lock() {
            v.insert(site.to_string(), chosen);
        }
        Ok(())
    }

    /// Our jobs in the cluster's queue (pending, running, and recently ended ones Slurm still
    /// lists).
    pub fn queue(&self, site: &str) -> Result<Vec<Attempt>, String> {
        if self.is_rest(site) {
            let v = self.rest(site, "GET", "jobs", None)?;
            return Ok(v["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|j| {
                    let (job, attempt) = parse_name(&self.prefix, j["name"].as_str()?)?;
                    Some(Attempt {
                        cluster_id: j["job_id"].to_string(),
                        job,
                        attempt,
                        state: JobState::parse(j["job_state"].as_str()?),
                        reason: j["state_reason"].as_str().unwrap_or("").to_string(),
                        nodes: expand_hostlist(j["nodes"].as_str().unwrap_or("")),
                    })
                })
                .collect());
        }
        let out = self.run(site, "squeue", &["-h".into(), "-t".into(), "all".into(), "-o".into(), "%i|%j|%T|%r|%N".into()])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                let (job, attempt) = parse_name(&self.prefix, f.get(1)?)?;
                Some(Attempt {
                    cluster_id: f[0].to_string(),
                    job,
                    attempt,
                    state: JobState::parse(f.get(2)?),
                    reason: f.get(3).unwrap_or(&"").to_string(),
                    nodes: expand_hostlist(f.get(4).unwrap_or(&"")),
                })
            })
            .collect())
    }

    /// An attempt as the cluster's accounting (slurmdbd, through `sacct` or slurmrestd's
    /// slurmdb API) recorded it, once the controller has forgotten it (`MinJobAge`):
    /// `Ok(None)` when accounting has no record of it; `Err` when there is no accounting to
    /// ask, or it did not answer.
    pub fn accounting(&self, site: &str, job: &str, attempt: u32) -> Result<Option<Attempt>, String> {
        let name = job_name(&self.prefix, job, attempt);
        let found: Vec<Attempt> = if self.is_rest(site) {
            let v =
                self.rest_at(site, "GET", "slurmdb", &format!("jobs?job_name={name}"), None).map_err(|e| format!("{} (accounting)", e.message))?;
            v["jobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|j| j["name"].as_str() == Some(name.as_str()))
                .map(|j| Attempt {
                    cluster_id: j["job_id"].to_string(),
                    job: job.to_string(),
                    attempt,
                    state: JobState::parse(j["state"]["current"].as_str().unwrap_or("")),
                    reason: j["state"]["reason"].as_str().unwrap_or("").to_string(),
                    nodes: expand_hostlist(j["nodes"].as_str().unwrap_or("")),
                })
                .collect()
        } else {
            let out = self.run(
                site,
                "sacct",
                &[
                    "-X".into(),
                    "-n".into(),
                    "-P".into(),
                    "-S".into(),
                    "2000-01-01".into(),
                    "-E".into(),
                    "now".into(),
                    format!("--name={name}"),
                    "-o".into(),
                    "JobIDRaw,JobName,State,Reason,NodeList".into(),
                ],
            )?;
            out.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('|').collect();
                    (f.get(1) == Some(&name.as_str())).then(|| Attempt {
                        cluster_id: f[0].to_string(),
                        job: job.to_string(),
                        attempt,
                        state: JobState::parse(f.get(2).unwrap_or(&"")),
                        reason: f.get(3).unwrap_or(&"").to_string(),
                        nodes: expand_hostlist(f.get(4).unwrap_or(&"")),
                    })
                })
                .collect()
        };
        // The newest record of that name (a requeued job has several).
        Ok(found.into_iter().max_by_key(|a| a.cluster_id.parse::<u64>().unwrap_or(0)))
    }

    /// Cancels our job (every attempt of it) on a site. A running one gets SIGUSR1 first
    /// (as before its time limit) and `CANCEL_GRACE_S` to save, then Slurm's own cancel
    /// (SIGTERM, and SIGKILL after the cluster's KillWait).
    pub fn cancel(&self, site: &str, job: &str) -> Result<(), String> {
        let live: Vec<Attempt> = self.queue(site)?.into_iter().filter(|j| j.job == job && j.state.is_active()).collect();
        let running: Vec<&Attempt> = live.iter().filter(|j| j.state == JobState::Running).collect();
        for j in &running {
            // The warning is a courtesy: the cancel below happens whether it got through or not.
            let _ = if self.is_rest(site) {
                self.rest(site, "DELETE", &format!("job/{}?signal=SIGUSR1", j.cluster_id), None).map(|_| String::new()).map_err(String::from)
            } else {
                self.run(site, "scancel", &["--batch".into(), "--signal=USR1".into(), j.cluster_id.clone()])
            };
        }
        if !running.is_empty() {
            std::thread::sleep(std::time::Duration::from_secs(CANCEL_GRACE_S));
        }
        for j in &live {
            if self.is_rest(site) {
                self.rest(site, "DELETE", &format!("job/{}", j.cluster_id), None)?;
            } else {
                self.run(site, "scancel", std::slice::from_ref(&j.cluster_id))?;
            }
        }
        Ok(())
    }

    /// Its nodes as the controller sees them (`Err`: the controller did not answer).
    pub fn health(&self, site: &str) -> Result<Health, String> {
        let mut largest: BTreeMap<String, u32> = BTreeMap::new();
        // Each node: name, state as sinfo words it, its GPUs, its GPUs in use.
        type Node = (String, String, Vec<(String, u32)>, Vec<(String, u32)>);
        let nodes: Vec<Node> = if self.is_rest(site) {
            self.negotiate(site)?;
            let v = self.rest(site, "GET", "nodes", None)?;
            v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    let name = n["name"].as_str().unwrap_or("").to_string();
                    let flags: Vec<&str> = n["state_flags"].as_array().into_iter().flatten().filter_map(|f| f.as_str()).collect();
                    // Flags such as DRAIN or NOT_RESPONDING as sinfo shows them.
                    let state = n["state"].as_str().unwrap_or("unknown").to_lowercase();
                    let state = if flags.iter().any(|f| f.starts_with("DRAIN")) {
                        "drained".to_string()
                    } else if flags.contains(&"NOT_RESPONDING") {
                        format!("{state}*")
                    } else {
                        state
                    };
                    (name, state, gres_counts(n["gres"].as_str().unwrap_or("")), gres_counts(n["gres_used"].as_str().unwrap_or("")))
                })
                .collect()
        } else {
            let out = self.run(site, "sinfo", &["-h".into(), "-N".into(), "-O".into(), "NodeList:|,StateLong:|,GresUsed:|,Gres:".into()])?;
            out.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('|').map(str::trim).collect();
                    Some((f.first()?.to_string(), f.get(1)?.to_string(), gres_counts(f.get(3).unwrap_or(&"")), gres_counts(f.get(2).unwrap_or(&""))))
                })
                .collect()
        };
        // sinfo marks a node that does not answer with `*` (slurmrestd: NOT_RESPONDING).
        let silent: BTreeSet<String> = nodes.iter().filter(|n| n.1.ends_with('*')).map(|n| n.0.clone()).collect();
        let takes_work = |s: &str| !s.starts_with("down") && !s.starts_with("drain") && !s.starts_with("fail") && !s.ends_with('*');
        // What cannot take new work: the GPUs in use on nodes that can, and every GPU of a node
        // that cannot (down, drained, failed, silent).
        let mut gpus_held: BTreeMap<String, u32> = BTreeMap::new();
        for (_, state, total, used) in &nodes {
            for (t, k) in total {
                let m = largest.entry(t.clone()).or_default();
                *m = (*m).max(*k);
            }
            for (t, k) in if takes_work(state) { used } else { total } {
                *gpus_held.entry(t.clone()).or_default() += k;
            }
        }
        let states: BTreeSet<String> = nodes.into_iter().map(|n| n.1).collect();
        let usable = states.iter().any(|s| takes_work(s));
        let trouble = (!usable).then(|| format!("{site}: no node up (states: {})", states.into_iter().collect::<Vec<_>>().join(", ")));
        if let Ok(mut m) = self.per_node.lock() {
            m.insert(site.to_string(), largest);
        }
        Ok(Health { silent, trouble, gpus_held })
    }
}

/// The claims of a JWT (its middle part, base64url JSON), unverified: slurmctld verifies it;
/// xisuan only reads the user and the expiry to say clearly when a token has run out.
fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_s_cluster_is_found_beside_its_file_and_flags_win() {
        let dir = std::env::temp_dir().join(format!("xisuan-dispatch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("alpha")).unwrap();
        std::fs::write(dir.join("alpha/slurm.conf"), "ClusterName=alpha\n").unwrap();
        let origin = dir.join("sites.toml").display().to_string();
        let d = xisuan_catalog::Dispatch::Slurm { conf: "alpha/slurm.conf".into(), partition: Some("gpu".into()), origin: origin.clone() };
        let mut s = Slurm::default();
        s.add_from_catalog("edwc-yrd", &d).unwrap();
        assert_eq!(s.sites["edwc-yrd"], Cluster { access: Access::Commands { conf: dir.join("alpha/slurm.conf") }, partition: Some("gpu".into()) });
        let missing = xisuan_catalog::Dispatch::Slurm { conf: "beta/slurm.conf".into(), partition: None, origin: origin.clone() };
        let e = s.add_from_catalog("edwc-guian", &missing).unwrap_err();
        assert!(e.contains("site edwc-guian: dispatch.conf") && e.contains("no such file"), "{e}");
        // A flag named it first: the catalog's entry is not used.
        let mut flagged = Slurm::parse(&[format!("edwc-guian={}", dir.join("alpha/slurm.conf").display())], &[], dir.clone()).unwrap();
        flagged.add_from_catalog("edwc-guian", &missing).unwrap();
        let rest =
            xisuan_catalog::Dispatch::Slurmrest { url: "http://127.0.0.1:6820".into(), token: "jwt".into(), partition: None, version: None, origin };
        flagged.add_from_catalog("edwc-qingyang", &rest).unwrap();
        assert_eq!(
            flagged.sites["edwc-qingyang"].access,
            Access::Rest { url: "http://127.0.0.1:6820".into(), version: "v0.0.38".into(), token_file: dir.join("jwt") }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

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
        let s = Slurm::parse(&[format!("a={c}"), format!("b={c}:gpu")], &[], PathBuf::new()).unwrap();
        assert_eq!(s.sites["a"].partition, None);
        assert_eq!(s.sites["b"], Cluster { access: Access::Commands { conf: conf.clone() }, partition: Some("gpu".into()) });
        assert!(Slurm::parse(&[format!("a={c}"), format!("a={c}")], &[], PathBuf::new()).unwrap_err().contains("named twice"));
        assert!(Slurm::parse(&["a=/no/such/slurm.conf".into()], &[], PathBuf::new()).unwrap_err().contains("no such file"));
        assert!(Slurm::parse(&["just-a-path".into()], &[], PathBuf::new()).is_err());
        let r = Slurm::parse(&[], &["c=http://127.0.0.1:6820/,token=/t/jwt,partition=gpu".into()], PathBuf::new()).unwrap();
        assert_eq!(
            r.sites["c"],
            Cluster {
                access: Access::Rest { url: "http://127.0.0.1:6820".into(), version: "v0.0.38".into(), token_file: "/t/jwt".into() },
                partition: Some("gpu".into())
            }
        );
        assert!(Slurm::parse(&[], &["c=http://h:1".into()], PathBuf::new()).unwrap_err().contains("token=PATH is required"));
        assert!(Slurm::parse(&[], &["c=h:1,token=x".into()], PathBuf::new()).is_err());
        assert!(Slurm::parse(&[format!("c={c}")], &["c=http://h:1,token=x".into()], PathBuf::new()).unwrap_err().contains("named twice"));
        let _ = std::fs::remove_file(conf);
    }

    #[test]
    fn the_api_version_is_agreed_with_slurmrestd() {
        let served = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
        assert_eq!(choose_version("v0.0.38", &served(&["v0.0.37", "v0.0.38"])), Ok("v0.0.38".into()));
        assert_eq!(
            choose_version("v0.0.36", &served(&["v0.0.36", "v0.0.38"])),
            Ok("v0.0.38".into()),
            "a version this client does not speak is not used"
        );
        let e = choose_version("v0.0.38", &served(&["v0.0.39", "v0.0.40"])).unwrap_err();
        assert!(e.contains("v0.0.39, v0.0.40") && e.contains("speaks v0.0.38"), "{e}");
    }

    #[test]
    fn multi_node_jobs_ask_for_their_layout() {
        assert_eq!(layout(4, Some(4)), (1, 4));
        assert_eq!(layout(8, Some(4)), (2, 4));
        assert_eq!(layout(6, Some(4)), (2, 3));
        assert_eq!(layout(7, Some(4)), (2, 4));
        assert_eq!(layout(16, Some(8)), (2, 8));
        assert_eq!(layout(3, None), (1, 3));
    }

    #[test]
    fn gres_in_use_is_read_by_type() {
        assert_eq!(gres_counts("gpu:h800:2(IDX:0-1)"), [("h800".to_string(), 2)]);
        assert_eq!(gres_counts("gpu:h800:1(IDX:3),gpu:a100:2(IDX:0,2)"), [("h800".to_string(), 1), ("a100".to_string(), 2)]);
        assert_eq!(gres_counts("gpu:h800:0(IDX:N/A)"), [("h800".to_string(), 0)]);
        assert!(gres_counts("(null)").is_empty());
    }

    #[test]
    fn host_lists_are_expanded() {
        assert_eq!(expand_hostlist("beta[1-2,4],gpu07"), ["beta1", "beta2", "beta4", "gpu07"]);
        assert_eq!(expand_hostlist("n[08-10]"), ["n08", "n09", "n10"]);
        assert!(expand_hostlist("None").is_empty() && expand_hostlist("").is_empty());
    }

    #[test]
    fn a_silent_controller_is_told_apart_from_a_refusal() {
        // Slurm 22.05's words, as sbatch prints them.
        let down =
            SubmitError::classify("gamma: sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)".into());
        assert!(matches!(down, SubmitError::Unreachable(_)));
        for no in [
            "sbatch: error: Batch job submission failed: Invalid partition name specified",
            "sbatch: error: Batch job submission failed: Requested node configuration is not available",
        ] {
            assert!(matches!(SubmitError::classify(no.into()), SubmitError::Refused(_)), "{no}");
        }
        // Anything that is not the controller's answer may mean the job was taken.
        assert!(matches!(SubmitError::classify("gamma: cannot run sbatch: Broken pipe".into()), SubmitError::Unreachable(_)));
        // slurmrestd 22.05 with its controller down: HTTP 500, error -1 ("Unspecified error").
        assert!(errno_is_silence(-1) && errno_is_silence(1800) && errno_is_silence(5004) && errno_is_silence(1007));
        assert!(!errno_is_silence(2015) && !errno_is_silence(2072), "invalid partition, invalid gres: answers");
    }

    #[test]
    fn a_token_s_claims_are_read_and_its_expiry_is_said_plainly() {
        use base64::Engine as _;
        let enc = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.sig", enc(&serde_json::json!({"alg": "HS256"})), enc(&serde_json::json!({"exp": 1000, "iat": 900, "sun": "ops"})));
        let claims = jwt_claims(&token).unwrap();
        assert_eq!((claims["sun"].as_str(), claims["exp"].as_f64()), (Some("ops"), Some(1000.0)));
        assert_eq!(jwt_claims("not-a-jwt"), None);
        let file = std::env::temp_dir().join(format!("xisuan-jwt-{}", std::process::id()));
        std::fs::write(&file, format!("SLURM_JWT={token}\n")).unwrap();
        let s = Slurm::parse(&[], &[format!("c=http://127.0.0.1:9,token={}", file.display())], PathBuf::new()).unwrap();
        let err = s.health("c").map(|_| ()).unwrap_err();
        assert!(err.contains("expired") && err.contains("scontrol token username=ops"), "{err}");
        assert!(s.rest("c", "GET", "nodes", None).unwrap_err().silent, "an expired token: the cluster cannot be asked");
        let _ = std::fs::remove_file(file);
    }
}

//! Kubernetes: a plan's placements as `batch/v1` Jobs queued through Kueue, and, for users
//! with several clusters, what sends each Job to the cluster the plan chose (a Karmada
//! `PropagationPolicy`, or MultiKueue's `managedBy`); the `kube` client creates, follows and
//! deletes them.
//!
//! A placement becomes one Job named `xisuan-JOB-aATTEMPT` (a DNS label) in the given namespace:
//! `kueue.x-k8s.io/queue-name` names the LocalQueue, the Job starts suspended as Kueue expects,
//! its pod asks for the accelerators as an extended resource (`nvidia.com/gpu`,
//! `huawei.com/Ascend910`) and selects nodes labelled `xisuan.io/accelerator=TYPE` (the label a
//! Kueue ResourceFlavor's `nodeLabels` would carry), `backoffLimit` is 0 (xisuan re-places a
//! failed attempt itself, from its last checkpoint), and `activeDeadlineSeconds` is the planned
//! run time with a margin, as with Slurm's time limit, and a finished Job is kept a week
//! (`ttlSecondsAfterFinished`). Kubernetes has no start time for a Job:
//! the planned start and end, the site and the cluster are annotations, and a Job is to be
//! created at its start (what a dispatcher does; `kubectl apply` of an exported plan creates
//! them all at once).

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Kueue's label naming the LocalQueue a Job is submitted to.
pub const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// Set on every Job xisuan makes (what it lists, watches and cleans up).
pub const MANAGED_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "xisuan");
/// The node label that says which accelerator type a node has.
pub const ACCELERATOR_LABEL: &str = "xisuan.io/accelerator";
/// MultiKueue's controller name: a Job with this `spec.managedBy` is run on a worker cluster.
pub const MULTIKUEUE: &str = "kueue.x-k8s.io/multikueue";

/// How placements become manifests.
#[derive(Debug, Clone)]
pub struct Options {
    pub namespace: String,
    /// Kueue LocalQueue.
    pub queue: String,
    /// The training image and, optionally, its command.
    pub image: String,
    pub command: Option<Vec<String>>,
    /// Site id → cluster name (Karmada member or MultiKueue worker); by default the site id.
    pub clusters: BTreeMap<String, String>,
    /// Also write a Karmada PropagationPolicy pinning each Job to its site's cluster.
    pub karmada: bool,
    /// Set `spec.managedBy` for MultiKueue.
    pub multikueue: bool,
    /// The xisuan store that made the Job (`xisuan server`'s id): part of the name and the
    /// `xisuan.io/store` label, so two stores can share a namespace.
    pub store: Option<String>,
}

/// Seconds a finished Job is kept before Kubernetes deletes it.
pub const FINISHED_JOB_TTL_S: i32 = 7 * 24 * 3600;

/// The label naming the store that made a Job.
pub const STORE_LABEL: &str = "xisuan.io/store";

impl Default for Options {
    fn default() -> Options {
        Options {
            namespace: "default".into(),
            queue: "xisuan".into(),
            image: String::new(),
            command: None,
            clusters: BTreeMap::new(),
            karmada: false,
            multikueue: false,
            store: None,
        }
    }
}

/// One placement to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    pub job: String,
    pub attempt: u32,
    pub site: String,
    pub accelerator: String,
    pub gpus: u32,
    /// Planned start and end, Unix seconds.
    pub start_unix_s: i64,
    pub end_unix_s: i64,
    /// Hours it runs (the planned slots; fewer than end − start for a pausable job).
    pub run_hours: f64,
    /// The job's own program (command, image, environment, its site's volume), when it says
    /// what it runs; `None` for an exported plan, which runs the options' image.
    pub program: Option<crate::slurm::Program>,
}

/// A Job name from xisuan's job id and attempt: lowercase letters, digits and '-', at most 63
/// characters, unique per (id, attempt) (a hash of the id is kept when it must be shortened).
pub fn job_name(job: &str, attempt: u32) -> String {
    let mut clean: String = job.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let lossless = clean == job;
    let tail = format!("-a{attempt}");
    let room = 63 - "xisuan-".len() - tail.len();
    if !lossless || clean.len() > room {
        // FNV-1a of the original id keeps distinct ids distinct after cleaning or cutting.
        let h = job.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        clean.truncate(room - 9);
        clean = format!("{}-{:08x}", clean.trim_end_matches('-'), h as u32);
    }
    format!("xisuan-{clean}{tail}")
}

/// The extended resource a device plugin advertises for an accelerator type.
pub fn resource_name(accelerator: &str) -> &'static str {
    let a = accelerator.to_ascii_lowercase();
    if a.starts_with("ascend") {
        "huawei.com/Ascend910"
    } else if a.starts_with("tpu") {
        "google.com/tpu"
    } else if a.starts_with("mi") {
        "amd.com/gpu"
    } else {
        "nvidia.com/gpu"
    }
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn rfc3339(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl Options {
    fn cluster(&self, site: &str) -> String {
        self.clusters.get(site).cloned().unwrap_or_else(|| site.to_string())
    }
}

/// The Job for one placement.
pub fn job(w: &Work, o: &Options) -> Job {
    let name = match &o.store {
        Some(store) => job_name(&format!("{store}-{}", w.job), w.attempt),
        None => job_name(&w.job, w.attempt),
    };
    let mut labels = BTreeMap::from([
        (STORE_LABEL.to_string(), o.store.clone().unwrap_or_default()),
        (QUEUE_LABEL.to_string(), o.queue.clone()),
        (MANAGED_LABEL.0.to_string(), MANAGED_LABEL.1.to_string()),
        (
            "xisuan.io/site".to_string(),
            o.cluster(&w.site).chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect(),
        ),
        (ACCELERATOR_LABEL.to_string(), w.accelerator.clone()),
    ]);
    labels.retain(|_, v| !v.is_empty());
    let annotations = BTreeMap::from([
        ("xisuan.io/job".to_string(), w.job.clone()),
        ("xisuan.io/attempt".to_string(), w.attempt.to_string()),
        ("xisuan.io/site".to_string(), w.site.clone()),
        ("xisuan.io/cluster".to_string(), o.cluster(&w.site)),
        ("xisuan.io/planned-start".to_string(), rfc3339(w.start_unix_s)),
        ("xisuan.io/planned-end".to_string(), rfc3339(w.end_unix_s)),
        ("xisuan.io/run-hours".to_string(), format!("{}", w.run_hours)),
    ]);
    let gpus = Quantity(w.gpus.to_string());
    let mut env: Vec<EnvVar> = [
        ("XISUAN_JOB", w.job.clone()),
        ("XISUAN_ATTEMPT", w.attempt.to_string()),
        ("XISUAN_SITE", w.site.clone()),
        ("XISUAN_RUN_HOURS", format!("{}", w.run_hours)),
        ("XISUAN_RUN_SECONDS", format!("{}", (w.run_hours * 3600.0).round() as i64)),
    ]
    .into_iter()
    .map(|(k, v)| EnvVar { name: k.into(), value: Some(v), ..Default::default() })
    .collect();
    // The job's own program: its environment (XISUAN_* folders on the site's volume), its
    // image and command, and the volume holding the site's storage at the same path.
    let (mut image, mut command, mut working_dir, mut volumes, mut mounts) = (o.image.clone(), o.command.clone(), None, None, None);
    if let Some(p) = &w.program {
        env.retain(|e| !p.env.contains_key(&e.name));
        env.extend(p.env.iter().map(|(k, v)| EnvVar { name: k.clone(), value: Some(v.clone()), ..Default::default() }));
        image = p.image.clone().unwrap_or(image);
        command = Some(match &p.script {
            Some(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
            None => p.command.clone(),
        });
        working_dir = Some(p.chdir.clone());
        if let Some(claim) = &p.pvc {
            volumes = Some(vec![Volume {
                name: "xisuan-storage".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim.clone(), read_only: None }),
                ..Default::default()
            }]);
            mounts = Some(vec![VolumeMount { name: "xisuan-storage".into(), mount_path: p.mount.clone(), ..Default::default() }]);
        }
    }
    // Time limit: the planned run with half again and a minute, as for Slurm.
    let limit_s = (w.run_hours * 3600.0 * 1.5 + 60.0).ceil() as i64;
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(o.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(JobSpec {
            // Kueue admits a queued Job by unsuspending it; without a queue it starts at once.
            suspend: Some(!o.queue.is_empty()),
            backoff_limit: Some(0),
            active_deadline_seconds: Some(limit_s),
            // Finished Jobs are removed by Kubernetes after a week (xisuan reads their outcome
            // within seconds; a server down for longer than that reruns the work from its last
            // checkpoint rather than leaving Jobs to pile up).
            ttl_seconds_after_finished: Some(FINISHED_JOB_TTL_S),
            managed_by: o.multikueue.then(|| MULTIKUEUE.to_string()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([(MANAGED_LABEL.0.to_string(), MANAGED_LABEL.1.to_string())])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    volumes,
                    node_selector: Some(BTreeMap::from([(ACCELERATOR_LABEL.to_string(), w.accelerator.clone())])),
                    containers: vec![Container {
                        name: "work".into(),
                        image: Some(image),
                        command,
                        working_dir,
                        volume_mounts: mounts,
                        env: Some(env),
                        resources: Some(ResourceRequirements {
                            limits: Some(BTreeMap::from([(resource_name(&w.accelerator).to_string(), gpus.clone())])),
                            requests: Some(BTreeMap::from([(resource_name(&w.accelerator).to_string(), gpus)])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// A Karmada PropagationPolicy sending one Job to its site's member cluster (Karmada's API
/// group is not in `k8s-openapi`, so this is plain JSON in its documented shape).
pub fn propagation_policy(w: &Work, o: &Options) -> Value {
    let name = job_name(&w.job, w.attempt);
    json!({
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy",
        "metadata": {"name": name, "namespace": o.namespace, "labels": {MANAGED_LABEL.0: MANAGED_LABEL.1}},
        "spec": {
            "resourceSelectors": [{"apiVersion": "batch/v1", "kind": "Job", "name": name}],
            "placement": {"clusterAffinity": {"clusterNames": [o.cluster(&w.site)]}}
        }
    })
}

/// Every manifest for a set of placements, as one `v1/List` (what `kubectl apply -f` takes).
pub fn manifests(works: &[Work], o: &Options) -> Value {
    let mut items = Vec::new();
    for w in works {
        items.push(serde_json::to_value(job(w, o)).unwrap_or(Value::Null));
        if o.karmada {
            items.push(propagation_policy(w, o));
        }
    }
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The parts of `xisuan plan --json` an export needs.
#[derive(Debug, Deserialize)]
struct PlanFile {
    start_hour_utc: String,
    plan: PlanBody,
}
#[derive(Debug, Deserialize)]
struct PlanBody {
    jobs: Vec<PlannedJob>,
}
#[derive(Debug, Deserialize)]
struct PlannedJob {
    job: String,
    site: String,
    accelerator: String,
    gpus: u32,
    start_slot: u32,
    end_slot: u32,
    slots: Vec<u32>,
}

/// `2023-07-02T16:00Z` (the plan's first hour) as Unix seconds.
fn parse_hour(s: &str) -> Option<i64> {
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next().flatten().unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || !(0..24).contains(&hh) || !(0..60).contains(&mm) {
        return None;
    }
    // days-from-civil
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60)
}

/// The placements of a plan as printed by `xisuan plan --json`; errors name the JSON field.
pub fn works_from_plan_json(text: &str) -> Result<Vec<Work>, String> {
    let f: PlanFile = serde_json::from_str(text).map_err(|e| format!("not the JSON of `xisuan plan --json`: {e}"))?;
    let t0 = parse_hour(&f.start_hour_utc).ok_or_else(|| format!("start_hour_utc: `{}` is not an hour like 2023-07-02T16:00Z", f.start_hour_utc))?;
    f.plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            if j.end_slot < j.start_slot || j.slots.is_empty() || j.gpus == 0 {
                return Err(format!("plan.jobs[{i}] ({}): empty or inverted slots, or no accelerators", j.job));
            }
            Ok(Work {
                job: j.job.clone(),
                attempt: 1,
                site: j.site.clone(),
                accelerator: j.accelerator.clone(),
                gpus: j.gpus,
                start_unix_s: t0 + j.start_slot as i64 * 3600,
                end_unix_s: t0 + j.end_slot as i64 * 3600,
                run_hours: j.slots.len() as f64,
                program: None,
            })
        })
        .collect()
}

/// A namespace's Jobs on one API server, through the `kube` client.
pub struct Kube {
    pub api: kube::Api<Job>,
    client: kube::Client,
    namespace: String,
}

impl Kube {
    /// A client for the API server at `url` (plain HTTP: a `kubectl proxy`, or a test server).
    pub fn new(url: &str, namespace: &str) -> Result<Kube, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        let mut config = kube::Config::new(uri);
        config.connect_timeout = Some(std::time::Duration::from_secs(5));
        config.read_timeout = Some(std::time::Duration::from_secs(30));
        let client = kube::Client::try_from(config).map_err(|e| format!("{url}: {e}"))?;
        Ok(Kube { api: kube::Api::namespaced(client.clone(), namespace), client, namespace: namespace.to_string() })
    }

    /// The API server's version: whether it answers.
    pub async fn version(&self) -> Result<String, kube::Error> {
        Ok(self.client.apiserver_version().await?.git_version)
    }

    /// The output of a Job's pod (Kubernetes labels a Job's pods `job-name=NAME`; with
    /// `backoffLimit: 0` there is one), or `None` before it has one.
    pub async fn job_log(&self, job_name: &str) -> Result<Option<String>, kube::Error> {
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(self.client.clone(), &self.namespace);
        let list = pods.list(&kube::api::ListParams::default().labels(&format!("job-name={job_name}"))).await?;
        match list.items.into_iter().filter_map(|p| p.metadata.name).next_back() {
            None => Ok(None),
            Some(name) => Ok(Some(pods.logs(&name, &kube::api::LogParams::default()).await?)),
        }
    }

    /// The Jobs with these labels (`a=b,c=d`).
    pub async fn list(&self, selector: &str) -> Result<Vec<Job>, kube::Error> {
        Ok(self.api.list(&kube::api::ListParams::default().labels(selector)).await?.items)
    }

    pub async fn create(&self, job: &Job) -> Result<Job, kube::Error> {
        self.api.create(&kube::api::PostParams::default(), job).await
    }

    /// The Jobs xisuan made here.
    pub async fn ours(&self) -> Result<Vec<Job>, kube::Error> {
        let lp = kube::api::ListParams::default().labels(&format!("{}={}", MANAGED_LABEL.0, MANAGED_LABEL.1));
        Ok(self.api.list(&lp).await?.items)
    }

    pub async fn delete(&self, name: &str) -> Result<(), kube::Error> {
        self.api.delete(name, &kube::api::DeleteParams::background()).await.map(|_| ())
    }

    /// Changes to xisuan's Jobs after `version` ("0": from the current state).
    pub async fn watch(
        &self,
        version: &str,
        timeout_s: u32,
    ) -> Result<impl futures_util::Stream<Item = Result<kube::api::WatchEvent<Job>, kube::Error>>, kube::Error> {
        let wp = kube::api::WatchParams::default().labels(&format!("{}={}", MANAGED_LABEL.0, MANAGED_LABEL.1)).timeout(timeout_s);
        self.api.watch(&wp, version).await
    }
}

/// The Kubernetes clusters behind sites, for `xisuan server`: each site's API server (plain
/// HTTP: a `kubectl proxy`, an authenticating sidecar, or a test server), namespace, Kueue
/// queue and image. A dispatched placement is created as the Job `job` makes, at once (the
/// control loop dispatches work when its start has come); Job status becomes Slurm's words for
/// the follower: admitted and active → RUNNING, succeeded → COMPLETED, failed → FAILED (past
/// its deadline → TIMEOUT), deleted → CANCELLED, otherwise PENDING.
#[derive(Debug, Clone, Default)]
pub struct KubeClusters {
    pub sites: BTreeMap<String, KubeSite>,
    /// This store's id (set when the server opens its store).
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KubeSite {
    pub url: String,
    pub namespace: String,
    /// Kueue LocalQueue ("" for none: Jobs then start unsuspended).
    pub queue: String,
    /// The image for jobs that name none (`image=`); without it, a job must name its own.
    pub image: Option<String>,
}

impl KubeSite {
    fn options(&self, prefix: &str) -> Options {
        Options {
            namespace: self.namespace.clone(),
            queue: self.queue.clone(),
            image: self.image.clone().unwrap_or_default(),
            command: None,
            store: Some(prefix.to_string()),
            ..Options::default()
        }
    }
}

/// What starts an error meaning the API server did not answer.
const NO_ANSWER: &str = "no answer from the Kubernetes API server";

impl KubeClusters {
    /// Parses `SITE=URL[,namespace=NS][,queue=Q][,image=IMG]` (from `--kube`).
    pub fn parse(pairs: &[String]) -> Result<KubeClusters, String> {
        let mut sites = BTreeMap::new();
        for p in pairs {
            let usage = || format!("`{p}` is not SITE=URL[,namespace=NS][,queue=Q][,image=IMG]");
            let (site, spec) = p.split_once('=').ok_or_else(usage)?;
            let mut parts = spec.split(',');
            let url =
                parts.next().filter(|u| u.starts_with("http://") || u.starts_with("https://")).ok_or_else(usage)?.trim_end_matches('/').to_string();
            let mut k = KubeSite { url, namespace: "default".into(), queue: "xisuan".into(), image: None };
            for kv in parts {
                match kv.split_once('=') {
                    Some(("namespace", v)) if !v.is_empty() => k.namespace = v.to_string(),
                    Some(("queue", v)) => k.queue = v.to_string(),
                    Some(("image", v)) if !v.is_empty() => k.image = Some(v.to_string()),
                    _ => return Err(format!("{site}: `{kv}`: expected namespace=NS, queue=Q or image=IMG")),
                }
            }
            if sites.insert(site.to_string(), k).is_some() {
                return Err(format!("site {site} is named twice"));
            }
        }
        Ok(KubeClusters { sites, prefix: String::new() })
    }

    /// Adds the cluster a catalog file names for `site` (a `kubernetes` dispatch key), unless a
    /// flag already named one (flags win).
    pub fn add_from_catalog(&mut self, site: &str, d: &xisuan_catalog::Dispatch) -> Result<(), String> {
        let xisuan_catalog::Dispatch::Kubernetes { url, namespace, queue, image, .. } = d else {
            return Err(format!("site {site}: a Slurm cluster is not a Kubernetes one"));
        };
        if self.has(site) {
            return Ok(());
        }
        let or = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
        self.sites.insert(
            site.to_string(),
            KubeSite { url: url.clone(), namespace: or(namespace, "default"), queue: or(queue, "xisuan"), image: image.clone() },
        );
        Ok(())
    }

    pub fn has(&self, site: &str) -> bool {
        self.sites.contains_key(site)
    }

    /// The output of one attempt of a job at `site` (its pod's log), or `None` before it has
    /// a pod.
    pub fn logs(&self, site: &str, job: &str, attempt: u32) -> Result<Option<String>, String> {
        let name = job_name(&format!("{}-{job}", self.prefix), attempt);
        self.call(site, move |k| Box::pin(async move { k.job_log(&name).await })).map_err(|e| Self::words(site, e))
    }

    /// Whether a job must name its own image to run at `site` (a Kubernetes site with no
    /// default image).
    pub fn needs_image(&self, site: &str) -> bool {
        self.sites.get(site).is_some_and(|k| k.image.is_none())
    }

    /// Runs one request against a site's API server from a blocking thread of the runtime.
    fn call<T>(
        &self,
        site: &str,
        f: impl FnOnce(Kube) -> futures_util::future::BoxFuture<'static, Result<T, kube::Error>>,
    ) -> Result<T, kube::Error> {
        let k = self.sites.get(site).ok_or_else(|| kube::Error::Service(format!("site {site} has no Kubernetes cluster").into()))?;
        let kube = Kube::new(&k.url, &k.namespace).map_err(|m| kube::Error::Service(m.into()))?;
        tokio::runtime::Handle::current().block_on(f(kube))
    }

    /// An error in words: the API server's own message when it answered, `NO_ANSWER` when not.
    fn words(site: &str, e: kube::Error) -> String {
        match e {
            kube::Error::Api(s) => format!("{site}: {} ({})", s.message, s.reason),
            other => format!("{site}: {NO_ANSWER}: {other}"),
        }
    }

    fn selector(&self) -> String {
        format!("{}={},{STORE_LABEL}={}", MANAGED_LABEL.0, MANAGED_LABEL.1, self.prefix)
    }
}

/// A Job's state in Slurm's words, and why.
fn state_of(j: &Job) -> (String, String) {
    let status = j.status.clone().unwrap_or_default();
    let cond = |kind: &str| status.conditions.iter().flatten().find(|c| c.type_ == kind && c.status == "True").cloned();
    if j.metadata.deletion_timestamp.is_some() {
        return ("CANCELLED".into(), "deleted".into());
    }
    if status.succeeded.unwrap_or(0) > 0 || cond("Complete").is_some() {
        return ("COMPLETED".into(), String::new());
    }
    if let Some(c) = cond("Failed") {
        let state = if c.reason.as_deref() == Some("DeadlineExceeded") { "TIMEOUT" } else { "FAILED" };
        return (state.into(), format!("{}: {}", c.reason.unwrap_or_default(), c.message.unwrap_or_default()));
    }
    if status.failed.unwrap_or(0) > 0 {
        return ("FAILED".into(), "a pod failed".into());
    }
    if status.active.unwrap_or(0) > 0 {
        return ("RUNNING".into(), String::new());
    }
    let waiting = if j.spec.as_ref().and_then(|s| s.suspend) == Some(true) { "suspended until Kueue admits it" } else { "no pod running yet" };
    ("PENDING".into(), waiting.into())
}

impl crate::cluster::Backend for KubeClusters {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    fn health(&self, site: &str) -> Result<crate::cluster::Health, String> {
        self.call(site, |k| Box::pin(async move { k.version().await })).map(|_| Default::default()).map_err(|e| Self::words(site, e))
    }

    /// The API server is the record: a Job that is not listed was deleted with its pods.
    fn accounting(&self, _site: &str, _job: &str, _attempt: u32) -> Result<Option<xisuan_control::cluster::Attempt>, String> {
        Ok(None)
    }

    fn queue(&self, site: &str) -> Result<Vec<xisuan_control::cluster::Attempt>, String> {
        let selector = self.selector();
        let jobs = self.call(site, move |k| Box::pin(async move { k.list(&selector).await })).map_err(|e| Self::words(site, e))?;
        Ok(jobs
            .iter()
            .filter_map(|j| {
                let ann = j.metadata.annotations.as_ref()?;
                let (state, reason) = state_of(j);
                Some(xisuan_control::cluster::Attempt {
                    cluster_id: j.metadata.name.clone()?,
                    job: ann.get("xisuan.io/job")?.clone(),
                    attempt: ann.get("xisuan.io/attempt")?.parse().ok()?,
                    state: xisuan_control::cluster::JobState::parse(&state),
                    reason,
                    nodes: Vec::new(),
                })
            })
            .collect())
    }

    fn submit(&self, site: &str, s: &crate::slurm::Submission) -> Result<String, crate::slurm::SubmitError> {
        let k = self.sites.get(site).ok_or_else(|| crate::slurm::SubmitError::Refused(format!("site {site} has no Kubernetes cluster")))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let start = now + s.begin_in_s.max(0.0).round() as i64;
        if s.program.image.is_none() && k.image.is_none() {
            return Err(crate::slurm::SubmitError::Refused(
                "the job names no image, nor does the site (image=), and a Kubernetes cluster runs containers: give `image`".into(),
            ));
        }
        let w = Work {
            job: s.job.clone(),
            attempt: s.attempt,
            site: site.to_string(),
            accelerator: s.accelerator.clone(),
            gpus: s.gpus,
            start_unix_s: start,
            end_unix_s: start + s.run_s.round() as i64,
            run_hours: s.run_s / 3600.0,
            program: Some(s.program.clone()),
        };
        let manifest = job(&w, &k.options(&self.prefix));
        let name = manifest.metadata.name.clone().unwrap_or_default();
        match self.call(site, move |k| Box::pin(async move { k.create(&manifest).await })) {
            Ok(_) => Ok(name),
            // Made before (by this store, before a restart): it is ours already.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(name),
            // Refused (invalid, forbidden, over a quota): this job should go elsewhere.
            Err(e @ kube::Error::Api(_)) => Err(crate::slurm::SubmitError::Refused(Self::words(site, e))),
            Err(e) => Err(crate::slurm::SubmitError::Unreachable(Self::words(site, e))),
        }
    }

    fn cancel(&self, site: &str, job_id: &str) -> Result<(), String> {
        for j in self.queue(site)?.into_iter().filter(|j| j.job == job_id && j.state.is_active()) {
            let name = j.cluster_id.clone();
            match self.call(site, move |k| Box::pin(async move { k.delete(&name).await })) {
                Ok(()) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(Self::words(site, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_and_distinct() {
        assert_eq!(job_name("pretrain-1", 2), "xisuan-pretrain-1-a2");
        let a = job_name("Team_A/Pretrain", 1);
        let b = job_name("team-a-pretrain", 1);
        assert_ne!(a, b);
        let long = job_name(&"x".repeat(200), 12);
        for n in [&a, &b, &long] {
            assert!(n.len() <= 63 && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{n}");
        }
    }

    #[test]
    fn kube_flags_parse_with_defaults_and_say_what_is_wrong() {
        let k =
            KubeClusters::parse(&["edwc-guian=http://127.0.0.1:8001/,namespace=train,queue=".into(), "edwc-yrd=https://k.example".into()]).unwrap();
        assert_eq!(
            k.sites["edwc-guian"],
            KubeSite { url: "http://127.0.0.1:8001".into(), namespace: "train".into(), queue: String::new(), image: None }
        );
        assert_eq!((k.sites["edwc-yrd"].namespace.as_str(), k.sites["edwc-yrd"].queue.as_str()), ("default", "xisuan"));
        assert!(KubeClusters::parse(&["edwc-guian=ftp://x".into()]).unwrap_err().contains("SITE=URL"));
        assert!(KubeClusters::parse(&["edwc-guian=http://x,nodes=3".into()]).unwrap_err().contains("`nodes=3`"));
        assert!(KubeClusters::parse(&["a=http://x".into(), "a=http://y".into()]).unwrap_err().contains("named twice"));
        // A queue-less Job starts unsuspended.
        let w = Work {
            job: "j".into(),
            attempt: 1,
            site: "edwc-guian".into(),
            accelerator: "h800".into(),
            gpus: 2,
            start_unix_s: 0,
            end_unix_s: 90,
            run_hours: 0.025,
            program: None,
        };
        let j = job(&w, &k.sites["edwc-guian"].options("ab12"));
        assert_eq!(j.metadata.name.as_deref(), Some("xisuan-ab12-j-a1"));
        assert_eq!(j.spec.as_ref().unwrap().suspend, Some(false));
        let c = &j.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
        assert!(c.env.as_ref().unwrap().iter().any(|e| e.name == "XISUAN_RUN_SECONDS" && e.value.as_deref() == Some("90")));
    }

    #[test]
    fn hours_convert_both_ways() {
        for s in ["2023-07-02T16:00Z", "2000-02-29T00:00Z", "1970-01-01T00:00Z", "2026-12-31T23:00Z"] {
            let t = parse_hour(s).unwrap();
            assert_eq!(rfc3339(t), s.replace(":00Z", ":00:00Z"));
        }
        assert_eq!(parse_hour("2023-07-02T16:00Z"), Some(1_688_313_600));
        assert_eq!(parse_hour("2023-13-02T16:00Z"), None);
    }

    #[test]
    fn a_plan_that_is_not_one_is_refused_with_the_field() {
        assert!(works_from_plan_json("{}").unwrap_err().contains("xisuan plan --json"));
        let bad = r#"{"start_hour_utc": "yesterday", "plan": {"jobs": []}}"#;
        assert!(works_from_plan_json(bad).unwrap_err().contains("start_hour_utc"));
    }
}

//! Kubernetes: the EDWC example's plan exported as manifests (`xisuan export k8s`), read back
//! as `k8s-openapi` types, then created, watched and deleted with the `kube` client.
//!
//! No real Kubernetes API server can run on these machines (no package ships one and there is
//! no container engine; ../shared/docs/platform.md), so the client talks to a small API server
//! written here: the batch/v1 Jobs paths (create, get, list and watch with label selectors,
//! delete), resource versions, watch streams as newline-delimited WatchEvents, and a stand-in
//! for Kueue and the Job controller that admits each Job (unsuspends it) and completes it after
//! its `XISUAN_RUN_SECONDS` (capped, for the export test). It checks what the client sends and
//! answers as the API server documents; it is not Kubernetes. The second test runs
//! `xisuan server --kube` against it: placements become Jobs, Job status becomes the
//! controller's events, a cancelled job's Job is deleted, and an API server that fails marks
//! its site down.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::api::WatchEvent;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use xisuan_server::k8s;

/// The fake API server's state: objects by namespace and name, every change with its
/// resource version, and a channel for watchers.
struct Api {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<(u64, &'static str, Value)>,
    /// The longest a Job runs, whatever its `XISUAN_RUN_SECONDS`.
    max_run: Duration,
    /// Jobs (xisuan's ids) whose first attempt fails.
    fail_first: Mutex<std::collections::BTreeSet<String>>,
    /// When set, every request gets 500 as when etcd times out (503 would be retried by the
    /// `kube` client with backoff, as it is meant to be).
    unavailable: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Inner {
    version: u64,
    jobs: BTreeMap<(String, String), Value>,
    log: Vec<(u64, &'static str, Value)>,
}

impl Api {
    /// Records a change (ADDED, MODIFIED, DELETED) under a new resource version.
    fn change(&self, inner: &mut Inner, kind: &'static str, mut obj: Value) -> Value {
        inner.version += 1;
        obj["metadata"]["resourceVersion"] = json!(inner.version.to_string());
        let key = (obj["metadata"]["namespace"].as_str().unwrap_or("").to_string(), obj["metadata"]["name"].as_str().unwrap_or("").to_string());
        if kind == "DELETED" {
            inner.jobs.remove(&key);
        } else {
            inner.jobs.insert(key, obj.clone());
        }
        inner.log.push((inner.version, kind, obj.clone()));
        let _ = self.changes.send((inner.version, kind, obj.clone()));
        obj
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    (code, Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()}))).into_response()
}

/// `a=b,c=d` against an object's labels.
fn selected(obj: &Value, selector: Option<&String>) -> bool {
    selector.is_none_or(|s| s.split(',').filter(|t| !t.is_empty()).all(|t| t.split_once('=').is_some_and(|(k, v)| obj["metadata"]["labels"][k] == v)))
}

async fn version() -> Json<Value> {
    Json(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-xisuan-test", "platform": "linux/amd64"}))
}

async fn create(State(api): State<Arc<Api>>, Path(ns): Path<String>, Json(mut job): Json<Value>) -> Response {
    // What the client sent must be a Job the typed API accepts.
    if let Err(e) = serde_json::from_value::<Job>(job.clone()) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", format!("not a batch/v1 Job: {e}"));
    }
    let Some(name) = job["metadata"]["name"].as_str().map(str::to_string) else {
        return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "metadata.name: Required value".into());
    };
    let obj = {
        let mut inner = api.inner.lock().unwrap();
        if inner.jobs.contains_key(&(ns.clone(), name.clone())) {
            return status(StatusCode::CONFLICT, "AlreadyExists", format!("jobs.batch \"{name}\" already exists"));
        }
        job["metadata"]["namespace"] = json!(ns);
        job["metadata"]["uid"] = json!(format!("uid-{}", inner.version + 1));
        job["metadata"]["creationTimestamp"] = json!("2026-11-28T00:00:00Z");
        job["status"] = json!({});
        api.change(&mut inner, "ADDED", job)
    };
    // Kueue admits it (unsuspends), the Job controller runs it, and it completes after its run.
    let run_s: f64 = obj["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .and_then(|env| env.iter().find(|e| e["name"] == "XISUAN_RUN_SECONDS"))
        .and_then(|e| e["value"].as_str()?.parse().ok())
        .unwrap_or(0.0);
    let run = Duration::from_secs_f64(run_s.max(0.0)).min(api.max_run);
    // The first attempt of a job in `fail_first` fails (its pod exits non-zero; backoffLimit 0
    // ends it).
    let env_of = |name: &str| {
        obj["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .and_then(|env| env.iter().find(|e| e["name"] == name))
            .and_then(|e| e["value"].as_str())
            .map(str::to_string)
    };
    let fails = env_of("XISUAN_JOB").is_some_and(|j| api.fail_first.lock().unwrap().contains(&j)) && env_of("XISUAN_ATTEMPT").as_deref() == Some("1");
    let api2 = api.clone();
    tokio::spawn(async move {
        for step in 0..2 {
            tokio::time::sleep(if step == 0 { Duration::from_millis(30) } else { run.max(Duration::from_millis(30)) }).await;
            let mut inner = api2.inner.lock().unwrap();
            let Some(mut o) = inner.jobs.get(&(ns.clone(), name.clone())).cloned() else { return };
            if step == 0 {
                o["spec"]["suspend"] = json!(false);
                o["status"] = json!({"active": 1, "startTime": "2026-11-28T00:00:01Z"});
            } else if fails {
                o["status"] = json!({"failed": 1, "startTime": "2026-11-28T00:00:01Z",
                                     "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
            } else {
                o["status"] = json!({"succeeded": 1, "startTime": "2026-11-28T00:00:01Z", "completionTime": "2026-11-28T00:00:02Z",
                                     "conditions": [{"type": "Complete", "status": "True"}]});
            }
            api2.change(&mut inner, "MODIFIED", o);
        }
    });
    (StatusCode::CREATED, Json(obj)).into_response()
}

/// The pod the Job controller made for an admitted Job (`job-name=NAME`), as a PodList.
async fn list_pods(State(api): State<Arc<Api>>, Path(ns): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let inner = api.inner.lock().unwrap();
    let want = q.get("labelSelector").and_then(|s| s.strip_prefix("job-name=")).map(str::to_string);
    let items: Vec<Value> = inner
        .jobs
        .iter()
        .filter(|((n, name), j)| *n == ns && want.as_deref().is_none_or(|w| w == name) && j["spec"]["suspend"] == json!(false))
        .map(|((_, name), _)| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("{name}-pod"), "namespace": ns, "labels": {"job-name": name}}}))
        .collect();
    Json(json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": inner.version.to_string()}, "items": items})).into_response()
}

/// A pod's log, as a stand-in kubelet writes it: what the container was told to run, where,
/// and for which job (so a test sees that xisuan reads the pod's log, not that a program ran).
async fn pod_log(State(api): State<Arc<Api>>, Path((ns, pod)): Path<(String, String)>) -> Response {
    let inner = api.inner.lock().unwrap();
    let Some(job) = pod.strip_suffix("-pod").and_then(|name| inner.jobs.get(&(ns, name.to_string()))) else {
        return status(StatusCode::NOT_FOUND, "NotFound", format!("pods \"{pod}\" not found"));
    };
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let env =
        |k: &str| c["env"].as_array().and_then(|e| e.iter().find(|v| v["name"] == k)).and_then(|v| v["value"].as_str()).unwrap_or("").to_string();
    let cmd: Vec<&str> = c["command"].as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
    format!(
        "stand-in kubelet: {} ran `{}` in {} (job {}, attempt {})\n",
        c["image"].as_str().unwrap_or(""),
        cmd.join(" "),
        c["workingDir"].as_str().unwrap_or(""),
        env("XISUAN_JOB_ID"),
        env("XISUAN_ATTEMPT")
    )
    .into_response()
}

async fn list_or_watch(State(api): State<Arc<Api>>, Path(ns): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let selector = q.get("labelSelector").cloned();
    if q.get("watch").map(String::as_str) != Some("true") {
        let inner = api.inner.lock().unwrap();
        let items: Vec<Value> = inner.jobs.iter().filter(|((n, _), o)| n == &ns && selected(o, selector.as_ref())).map(|(_, o)| o.clone()).collect();
        return Json(
            json!({"apiVersion": "batch/v1", "kind": "JobList", "metadata": {"resourceVersion": inner.version.to_string()}, "items": items}),
        )
        .into_response();
    }
    // A watch: what happened after the given version ("0": the current objects as ADDED),
    // then changes as they come, until timeoutSeconds.
    let from: u64 = q.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
    let timeout = Duration::from_secs(q.get("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(30));
    let (backlog, rx) = {
        let inner = api.inner.lock().unwrap();
        let backlog: VecDeque<(u64, &'static str, Value)> = if from == 0 {
            inner.jobs.values().map(|o| (inner.version, "ADDED", o.clone())).collect()
        } else {
            inner.log.iter().filter(|c| c.0 > from).cloned().collect()
        };
        (backlog, api.changes.subscribe())
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let stream = futures_util::stream::unfold((backlog, rx), move |(mut backlog, mut rx)| {
        let (ns, selector) = (ns.clone(), selector.clone());
        async move {
            loop {
                let (_, kind, obj) = match backlog.pop_front() {
                    Some(c) => c,
                    None => match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Ok(c)) => c,
                        _ => return None,
                    },
                };
                if obj["metadata"]["namespace"] == ns.as_str() && selected(&obj, selector.as_ref()) {
                    let line = json!({"type": kind, "object": obj}).to_string() + "\n";
                    return Some((Ok::<Bytes, std::convert::Infallible>(Bytes::from(line)), (backlog, rx)));
                }
            }
        }
    });
    Response::builder().header("content-type", "application/json").body(Body::from_stream(stream)).unwrap()
}

async fn get_one(State(api): State<Arc<Api>>, Path((ns, name)): Path<(String, String)>) -> Response {
    match api.inner.lock().unwrap().jobs.get(&(ns, name.clone())) {
        Some(o) => Json(o.clone()).into_response(),
        None => status(StatusCode::NOT_FOUND, "NotFound", format!("jobs.batch \"{name}\" not found")),
    }
}

async fn delete(State(api): State<Arc<Api>>, Path((ns, name)): Path<(String, String)>) -> Response {
    let mut inner = api.inner.lock().unwrap();
    match inner.jobs.get(&(ns, name.clone())).cloned() {
        Some(mut o) => {
            o["metadata"]["deletionTimestamp"] = json!("2026-11-28T00:00:03Z");
            Json(api.change(&mut inner, "DELETED", o)).into_response()
        }
        None => status(StatusCode::NOT_FOUND, "NotFound", format!("jobs.batch \"{name}\" not found")),
    }
}

/// Starts the fake API server on a free loopback port; returns its URL and its state.
async fn fake_api_server(max_run: Duration) -> (String, Arc<Api>) {
    let api = Arc::new(Api {
        inner: Mutex::new(Inner::default()),
        changes: broadcast::channel(100_000).0,
        max_run,
        fail_first: Default::default(),
        unavailable: Default::default(),
    });
    let gate = api.clone();
    let app = Router::new()
        .route("/version", get(version))
        .route("/apis/batch/v1/namespaces/{ns}/jobs", get(list_or_watch).post(create))
        .route("/apis/batch/v1/namespaces/{ns}/jobs/{name}", get(get_one).delete(delete))
        .route("/api/v1/namespaces/{ns}/pods", get(list_pods))
        .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(pod_log))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            let down = gate.unavailable.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if down {
                    status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "etcdserver: request timed out".into())
                } else {
                    next.run(req).await
                }
            }
        }))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, api)
}

fn xisuan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xisuan")).args(args).output().unwrap()
}

/// The EDWC example's plan, exported: every placed job is one Job that deserializes into
/// `k8s-openapi`'s type, carries Kueue's queue label, asks for its accelerators on nodes of its
/// type, and is pinned to its site's cluster by a Karmada PropagationPolicy; the `kube` client
/// creates them all, watches each be admitted and complete, and deletes them.
#[test]
fn the_edwc_plan_runs_as_kueue_jobs_through_the_kube_client() {
    let dir = std::env::temp_dir().join(format!("xisuan-k8s-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/edwc/scenario.toml");
    let out = xisuan(&["plan", scenario, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan_path = dir.join("plan.json");
    std::fs::write(&plan_path, &out.stdout).unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let placed: BTreeMap<String, Value> =
        plan["plan"]["jobs"].as_array().unwrap().iter().map(|j| (j["job"].as_str().unwrap().to_string(), j.clone())).collect();
    assert!(placed.len() >= 100, "{} jobs placed", placed.len());

    let manifests = dir.join("manifests.json");
    let out = xisuan(&[
        "export",
        "k8s",
        plan_path.to_str().unwrap(),
        "--image",
        "registry.local/train:v1",
        "--queue",
        "team-a",
        "--namespace",
        "edwc",
        "--karmada",
        "--cluster",
        "edwc-guian=guizhou-1",
        "-o",
        manifests.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_str(&std::fs::read_to_string(&manifests).unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    let (jobs, policies): (Vec<&Value>, Vec<&Value>) = items.iter().partition(|i| i["kind"] == "Job");
    assert_eq!(jobs.len(), placed.len());
    assert_eq!(policies.len(), placed.len());
    let jobs: Vec<Job> = jobs.into_iter().map(|j| serde_json::from_value(j.clone()).expect("a batch/v1 Job")).collect();
    for j in &jobs {
        let meta = &j.metadata;
        let labels = meta.labels.as_ref().unwrap();
        let ann = meta.annotations.as_ref().unwrap();
        assert_eq!(labels[k8s::QUEUE_LABEL], "team-a");
        assert_eq!(meta.namespace.as_deref(), Some("edwc"));
        let p = &placed[&ann["xisuan.io/job"]];
        assert_eq!(ann["xisuan.io/site"], p["site"].as_str().unwrap());
        assert_eq!(ann["xisuan.io/cluster"], if p["site"] == "edwc-guian" { "guizhou-1" } else { p["site"].as_str().unwrap() });
        let spec = j.spec.as_ref().unwrap();
        assert_eq!(spec.suspend, Some(true), "Kueue admits it");
        assert_eq!(spec.backoff_limit, Some(0));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.node_selector.as_ref().unwrap()[k8s::ACCELERATOR_LABEL], p["accelerator"].as_str().unwrap());
        let limits = pod.containers[0].resources.as_ref().unwrap().limits.as_ref().unwrap();
        assert_eq!(limits[k8s::resource_name(p["accelerator"].as_str().unwrap())].0, p["gpus"].to_string());
        assert_eq!(ann["xisuan.io/run-hours"], p["slots"].as_array().unwrap().len().to_string());
        let policy = policies.iter().find(|x| x["metadata"]["name"] == meta.name.as_deref().unwrap()).unwrap();
        assert_eq!(policy["spec"]["placement"]["clusterAffinity"]["clusterNames"][0], ann["xisuan.io/cluster"].as_str());
        assert_eq!(policy["spec"]["resourceSelectors"][0]["kind"], "Job");
    }

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let (url, _) = fake_api_server(Duration::from_millis(30)).await;
        let kube = k8s::Kube::new(&url, "edwc").unwrap();
        // Watch from the start, then create every Job.
        let mut watch = kube.watch("0", 60).await.unwrap().boxed();
        for j in &jobs {
            let made = kube.create(j).await.unwrap();
            assert!(made.metadata.resource_version.is_some());
        }
        // A second create of the same Job is refused by the server, and the client says why.
        let again = kube.create(&jobs[0]).await.unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        assert_eq!(kube.ours().await.unwrap().len(), jobs.len());
        // Every Job is seen added, admitted and completed.
        let mut complete = std::collections::BTreeSet::new();
        let mut added = std::collections::BTreeSet::new();
        while complete.len() < jobs.len() {
            let e = tokio::time::timeout(Duration::from_secs(30), watch.next()).await.expect("watch events").expect("an open watch").unwrap();
            match e {
                WatchEvent::Added(j) => {
                    added.insert(j.metadata.name.unwrap());
                }
                WatchEvent::Modified(j) if j.status.as_ref().and_then(|s| s.succeeded) == Some(1) => {
                    assert_eq!(j.spec.unwrap().suspend, Some(false));
                    complete.insert(j.metadata.name.unwrap());
                }
                _ => {}
            }
        }
        assert_eq!(added.len(), jobs.len());
        // Delete them all; the watch sees each go.
        for j in &jobs {
            kube.delete(j.metadata.name.as_deref().unwrap()).await.unwrap();
        }
        let mut deleted = 0;
        while deleted < jobs.len() {
            if let WatchEvent::Deleted(_) =
                tokio::time::timeout(Duration::from_secs(30), watch.next()).await.expect("watch events").expect("an open watch").unwrap()
            {
                deleted += 1;
            }
        }
        assert!(kube.ours().await.unwrap().is_empty());
    });
}

/// A file that is not a plan is refused with exit code 2 and the reason.
#[test]
fn export_refuses_what_is_not_a_plan() {
    let dir = std::env::temp_dir().join(format!("xisuan-k8s-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"start_hour_utc": "2023-07-02T16:00Z", "plan": {"jobs": [{"job": "a", "site": "s", "accelerator": "h800", "gpus": 0, "start_slot": 1, "end_slot": 2, "slots": [1]}]}}"#).unwrap();
    let out = xisuan(&["export", "k8s", bad.to_str().unwrap(), "--image", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plan.jobs[0] (a)"), "{err}");
}

/// `xisuan server` with one site run by a Kubernetes cluster (the fake API server above) and the
/// others simulated: work placed there becomes Kueue-queued Jobs in the site's namespace,
/// labelled with the store; their status comes back as started and finished; a Job that fails
/// sends its job back to pending and the next attempt runs; a cancelled job's Job is deleted;
/// and an API server that fails marks the site down with its words, and up again when it
/// answers.
#[test]
fn the_server_runs_a_site_s_work_as_kubernetes_jobs() {
    const ADMIN: &str = "k8s-admin-secret";
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, api) = rt.block_on(fake_api_server(Duration::from_secs(3600)));
    let dir = std::env::temp_dir().join(format!("xisuan-k8s-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The testbed's world of three hubs; edwc-guian's cluster is named in its catalog file.
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slurm");
    std::fs::copy(format!("{examples}/world.toml"), dir.join("world.toml")).unwrap();
    let sites = std::fs::read_to_string(format!("{examples}/sites.toml")).unwrap();
    let store = dir.join("store");
    let sites = sites.replacen("source = \"scripts/slurm-testbed: cluster beta", &format!("dispatch = {{ kind = \"kubernetes\", url = \"{url}\", namespace = \"train\", queue = \"team-a\" }}\nstorage = {{ kind = \"local\", root = \"{}\", pvc = \"team-a-data\" }}\nsource = \"scripts/slurm-testbed: cluster beta", store.display()), 1);
    assert!(sites.contains("kind = \"kubernetes\""));
    std::fs::write(dir.join("sites.toml"), sites).unwrap();
    let world = dir.join("world.toml");
    let args = ["server", "--listen", &format!("127.0.0.1:{port}"), "--db", "sqlite:k.db", "--world", world.to_str().unwrap(), "--hour-seconds", "1"];
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(
        Command::new(env!("CARGO_BIN_EXE_xisuan"))
            .args(args)
            .env("XISUAN_ADMIN_TOKEN", ADMIN)
            .current_dir(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let t0 = std::time::Instant::now();
    while xisuan_server::client::Client::new(&base, None).get("/readyz").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server did not come up: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = xisuan_server::client::Client::new(&base, Some(ADMIN.into()));
    let (_, t) = admin.post("/v1/tenants", &json!({"name": "k8s"}), None).unwrap();
    let c = xisuan_server::client::Client::new(&base, Some(t["token"].as_str().unwrap().into()));
    let until = |what: &str, secs: u64, ok: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !ok() {
            assert!(t0.elapsed() < Duration::from_secs(secs), "{what}: {}", std::fs::read_to_string(dir.join("server.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let job = |id: &str, hours: f64| {
        json!({"id": id, "accelerators": ["h800"], "gpus": 2, "hours": hours, "data_site": "edwc-guian", "sites": ["edwc-guian"], "deadline_hour": 200, "checkpoint_every_h": 0.5,
               "image": "docker.io/library/python:3.12", "command": ["python3", "train.py", "--epochs", "3"], "env": {"WANDB_MODE": "offline"}, "workdir": "src"})
    };
    // Without an image a job cannot run on its only (Kubernetes) site: refused, naming the field.
    let mut bare = job("bare", 1.0);
    bare.as_object_mut().unwrap().remove("image");
    let e = c.post("/v1/jobs", &bare, None).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && e.ends_with("(field `image`)"), "{e}");
    let ids: Vec<String> = (0..4)
        .map(|i| c.post("/v1/jobs", &job(&format!("k{i}"), 1.0 + i as f64 * 0.5), None).unwrap().1["id"].as_str().unwrap().to_string())
        .collect();
    let flaky = c.post("/v1/jobs", &job("flaky", 1.0), None).unwrap().1["id"].as_str().unwrap().to_string();
    api.fail_first.lock().unwrap().insert(flaky.clone());
    let state = |id: &str| c.get(&format!("/v1/jobs/{id}")).unwrap();
    until("all five complete", 60, &|| ids.iter().chain([&flaky]).all(|id| state(id)["state"] == "completed"));
    // The failed Job comes back as a failure with Kubernetes' words; the next attempt runs.
    let failures: Vec<Value> =
        admin.get("/v1/events?limit=1000").unwrap()["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "job_failed").cloned().collect();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert_eq!(failures[0]["body"]["id"], flaky.as_str());
    let why = failures[0]["body"]["reason"].as_str().unwrap();
    assert!(why.starts_with("kubernetes: attempt 1 at edwc-guian: FAILED (BackoffLimitExceeded"), "{why}");
    assert_eq!(state(&flaky)["attempts"], 2);
    let jobs: Vec<Value> =
        api.inner.lock().unwrap().jobs.values().filter(|j| j["metadata"]["annotations"]["xisuan.io/job"] != flaky.as_str()).cloned().collect();
    assert_eq!(jobs.len(), 4, "one Job per placement");
    assert_eq!(
        api.inner.lock().unwrap().jobs.values().filter(|j| j["metadata"]["annotations"]["xisuan.io/job"] == flaky.as_str()).count(),
        2,
        "one Job per attempt"
    );
    for id in &ids {
        assert_eq!(state(id)["site"], "edwc-guian");
        let j = jobs.iter().find(|j| j["metadata"]["annotations"]["xisuan.io/job"] == id.as_str()).unwrap_or_else(|| panic!("no Job for {id}"));
        assert_eq!(j["metadata"]["namespace"], "train");
        assert_eq!(j["metadata"]["labels"][k8s::QUEUE_LABEL], "team-a");
        assert!(!j["metadata"]["labels"][k8s::STORE_LABEL].as_str().unwrap().is_empty());
        assert_eq!(j["status"]["succeeded"], 1, "{j:#}");
        assert_eq!(j["spec"]["ttlSecondsAfterFinished"], k8s::FINISHED_JOB_TTL_S);
        // The job's own program: its image, command, environment, working folder, and the
        // site's storage as a volume at the same path.
        let pod = &j["spec"]["template"]["spec"];
        let w = &pod["containers"][0];
        assert_eq!(w["image"], "docker.io/library/python:3.12", "{w:#}");
        assert_eq!(w["command"], json!(["python3", "train.py", "--epochs", "3"]));
        let env: BTreeMap<String, String> = w["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].as_str().unwrap_or("").to_string()))
            .collect();
        let folder = format!("{}/xisuan/jobs/{id}", store.display());
        assert_eq!(env.len(), w["env"].as_array().unwrap().len(), "a variable set twice: {w:#}");
        assert_eq!(env["WANDB_MODE"], "offline");
        assert_eq!(env["XISUAN_JOB_ID"], id.as_str());
        assert_eq!(env["XISUAN_CHECKPOINT_DIR"], format!("{folder}/checkpoints"));
        assert_eq!(env["XISUAN_INPUT_DIR"], format!("{folder}/inputs"));
        assert_eq!(env["XISUAN_OUTPUT_DIR"], format!("{folder}/outputs"));
        assert_eq!(w["workingDir"], format!("{folder}/src"));
        assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "team-a-data");
        assert_eq!(w["volumeMounts"][0]["mountPath"], store.display().to_string());
        // Its output is its pod's log, through the API and to its tenant only.
        let log = c.get(&format!("/v1/jobs/{id}/logs")).unwrap();
        let text = log["text"].as_str().unwrap();
        assert!(text.contains("ran `python3 train.py --epochs 3`") && text.contains(&format!("job {id}, attempt 1")), "{log:#}");
        serde_json::from_value::<Job>(j.clone()).expect("a batch/v1 Job");
    }
    // Each ran for its planned hours (one planning hour = 1 s here): started and finished
    // events are at least that far apart in the server's hours.
    let events = admin.get("/v1/events?limit=1000").unwrap();
    let at = |kind: &str, id: &str| {
        events["events"].as_array().unwrap().iter().find(|e| e["kind"] == kind && e["body"]["id"] == id).map(|e| e["body"]["at_h"].as_f64().unwrap())
    };
    for (i, id) in ids.iter().enumerate() {
        let (s, f) = (at("job_started", id).expect("started"), at("job_finished", id).expect("finished"));
        assert!(f - s >= 1.0 + i as f64 * 0.5 - 0.05, "{id}: started {s}, finished {f}");
    }
    // A long job, cancelled while it runs: its Job is deleted.
    let long = c.post("/v1/jobs", &job("long", 60.0), None).unwrap().1["id"].as_str().unwrap().to_string();
    until("long runs", 30, &|| state(&long)["state"] == "running");
    let name_of = |id: &str| {
        api.inner
            .lock()
            .unwrap()
            .jobs
            .values()
            .find(|j| j["metadata"]["annotations"]["xisuan.io/job"] == id)
            .map(|j| j["metadata"]["name"].as_str().unwrap().to_string())
    };
    assert!(name_of(&long).is_some());
    assert_eq!(c.delete(&format!("/v1/jobs/{long}")).unwrap()["state"], "cancelled");
    until("the cancelled job's Job is deleted", 30, &|| name_of(&long).is_none());
    // The API server fails: the site goes down with its words, and comes back when it answers.
    api.unavailable.store(true, std::sync::atomic::Ordering::SeqCst);
    let down = || {
        admin.get("/v1/events?limit=1000").unwrap()["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-guian")
            .cloned()
    };
    until("edwc-guian down", 30, &|| down().is_some());
    let reason = down().unwrap()["body"]["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("kubernetes:") && reason.contains("etcdserver: request timed out"), "{reason}");
    api.unavailable.store(false, std::sync::atomic::Ordering::SeqCst);
    until("edwc-guian up", 30, &|| {
        admin.get("/v1/events?limit=1000").unwrap()["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "site_up" && e["body"]["site"] == "edwc-guian")
    });
    drop(rt);
}

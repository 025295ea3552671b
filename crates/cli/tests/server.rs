//! `xisuan server` end to end, as separate processes on loopback: durability under kill -9
//! (SQLite, and PostgreSQL where `XISUAN_TEST_POSTGRES` names a server, as `.ci/run` does),
//! tenant isolation, quotas, bad input as 4xx, and two replicas on one PostgreSQL handing the
//! control loop over when the leader dies.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xisuan_server::client::Client;

const ADMIN: &str = "test-admin-token";
/// The scrape token the test servers take for `/metrics` (`XISUAN_METRICS_TOKEN`).
const SCRAPE: &str = "test-scrape-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Option<Child>,
    port: u16,
    db: String,
    dir: PathBuf,
    extra: Vec<String>,
}

impl Server {
    fn start(db: &str, dir: &Path, extra: &[&str]) -> Server {
        let mut s =
            Server { child: None, port: free_port(), db: db.into(), dir: dir.to_path_buf(), extra: extra.iter().map(|x| x.to_string()).collect() };
        s.spawn();
        s
    }
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join(format!("server-{}.log", self.port))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_xisuan"))
            .args(["server", "--listen", &format!("127.0.0.1:{}", self.port), "--db", &self.db, "--hour-seconds", "0.5", "--plan-budget", "2"])
            .args(&self.extra)
            .env("XISUAN_ADMIN_TOKEN", ADMIN)
            .env("XISUAN_METRICS_TOKEN", SCRAPE)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let c = self.client(None);
        let t0 = Instant::now();
        while c.get("/readyz").is_err() {
            assert!(t0.elapsed() < Duration::from_secs(60), "server on {} did not come up", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn client(&self, token: Option<&str>) -> Client {
        Client::new(&self.url(), token.map(str::to_string))
    }
    /// SIGKILL: no shutdown, no flush beyond what was already durable.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xisuan-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tenant(c: &Client, name: &str, quota: Option<u32>) -> String {
    let (status, v) = c.post("/v1/tenants", &json!({"name": name, "quota_gpus": quota}), None).unwrap();
    assert_eq!(status, 201);
    v["token"].as_str().unwrap().to_string()
}

fn job(name: &str, gpus: u32, hours: f64) -> Value {
    json!({"id": name, "accelerators": ["h800"], "gpus": gpus, "hours": hours, "data_site": "edwc-yrd", "data_tb": 0.5})
}

/// All events, through the admin API, every page.
fn events(c: &Client) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let v = c.get(&format!("/v1/events?after={after}&limit=1000")).unwrap();
        let page = v["events"].as_array().unwrap().clone();
        if page.is_empty() {
            return out;
        }
        after = page.last().unwrap()["seq"].as_i64().unwrap();
        out.extend(page);
    }
}

/// A PostgreSQL database of the test's own, if `XISUAN_TEST_POSTGRES` names a server. Without
/// one the test is not run here, and says so; when `.ci/run` asked for the services
/// (`XISUAN_REQUIRE_SERVICES`) it fails instead, so CI is never green without PostgreSQL.
fn postgres_db(name: &str) -> Option<String> {
    let Ok(admin) = std::env::var("XISUAN_TEST_POSTGRES") else {
        assert!(
            std::env::var("XISUAN_REQUIRE_SERVICES").is_err(),
            "XISUAN_REQUIRE_SERVICES is set but XISUAN_TEST_POSTGRES is not: PostgreSQL did not start"
        );
        eprintln!("XISUAN_TEST_POSTGRES not set: {name} is not tested on PostgreSQL here (.ci/run sets it)");
        return None;
    };
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("XISUAN_TEST_POSTGRES reachable");
    let db = format!("xisuan_{name}_{}", std::process::id());
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let base = admin.rsplit_once('/').map(|x| x.0).unwrap_or(&admin);
    Some(format!("{base}/{db}"))
}

/// Clients submit with idempotency keys while the server is killed with SIGKILL mid-stream and
/// restarted; clients retry what got no answer with the same key.
fn kill9_under_load(db: &str, dir: &Path) {
    // Snapshots every 50 events: the restart starts from one and replays the rest.
    let mut server = Server::start(db, dir, &["--snapshot-every", "50"]);
    let token = tenant(&server.client(Some(ADMIN)), "load", None);
    let url = Arc::new(Mutex::new(server.url()));
    let sent = Arc::new(AtomicUsize::new(0));
    let (clients, per_client) = (6, 40);
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut handles = Vec::new();
    for c in 0..clients {
        let (url, sent, acked, token) = (url.clone(), sent.clone(), acked.clone(), token.clone());
        handles.push(std::thread::spawn(move || {
            for i in 0..per_client {
                let key = format!("c{c}-{i}");
                let body = job(&key, 8, 2.0);
                // Retry with the same key until the server answers.
                loop {
                    let client = Client::new(&url.lock().unwrap().clone(), Some(token.clone()));
                    match client.post("/v1/jobs", &body, Some(&key)) {
                        Ok((_, v)) => {
                            let prev = acked.lock().unwrap().insert(key.clone(), v["id"].as_str().unwrap().to_string());
                            // A retried key must come back with the first id.
                            if let Some(p) = prev {
                                assert_eq!(p, v["id"].as_str().unwrap());
                            }
                            sent.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            }
        }));
    }
    // Kill mid-stream, then restart on the same store and port.
    while sent.load(Ordering::SeqCst) < clients * per_client / 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Once a snapshot is written (the metrics say which event it folds up to).
    let t0 = Instant::now();
    while !ureq_text(&format!("{}/metrics", server.url())).lines().any(|l| l.starts_with("xisuan_snapshot_event ") && l != "xisuan_snapshot_event 0")
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "no snapshot written");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before_kill: BTreeMap<String, String> = acked.lock().unwrap().clone();
    server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    server.spawn();
    for h in handles {
        h.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), clients * per_client);
    let log = std::fs::read_to_string(dir.join(format!("server-{}.log", server.port))).unwrap();
    assert!(log.contains("state from the snapshot at event"), "the restart did not use a snapshot:\n{log}");
    let admin = server.client(Some(ADMIN));
    // Every submission acknowledged before the kill is there, under the id it was given.
    let owner = server.client(Some(&token));
    for (key, id) in &before_kill {
        let v = owner.get(&format!("/v1/jobs/{id}")).unwrap_or_else(|e| panic!("{key} -> {id} lost: {e}"));
        assert_eq!(v["name"], key.as_str());
    }
    // Exactly one submission per key, and no job dispatched twice for one attempt.
    let all = events(&admin);
    let mut submitted: BTreeMap<String, usize> = BTreeMap::new();
    let mut dispatched: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for e in &all {
        match e["kind"].as_str().unwrap() {
            "job_submitted" => *submitted.entry(e["body"]["spec"]["name"].as_str().unwrap().to_string()).or_default() += 1,
            "job_dispatched" => *dispatched.entry((e["job"].as_str().unwrap().to_string(), e["body"]["attempt"].as_u64().unwrap())).or_default() += 1,
            _ => {}
        }
    }
    assert_eq!(submitted.len(), clients * per_client);
    assert!(submitted.values().all(|&n| n == 1), "duplicated submissions: {:?}", submitted.iter().filter(|x| *x.1 > 1).collect::<Vec<_>>());
    assert!(dispatched.values().all(|&n| n == 1), "dispatched twice: {:?}", dispatched.iter().filter(|x| *x.1 > 1).collect::<Vec<_>>());
    // The restarted server keeps planning and running the work.
    let t0 = Instant::now();
    loop {
        let v = owner.get("/v1/jobs?limit=1000").unwrap();
        let done = v["jobs"].as_array().unwrap().iter().filter(|j| j["state"] != "pending").count();
        if done > 0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no job planned after the restart");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kill9_under_load_loses_and_duplicates_nothing_on_sqlite() {
    let dir = tempdir("kill9-sqlite");
    kill9_under_load("sqlite:state.db", &dir);
}

#[test]
fn kill9_under_load_loses_and_duplicates_nothing_on_postgres() {
    let Some(db) = postgres_db("kill9") else { return };
    kill9_under_load(&db, &tempdir("kill9-pg"));
}

#[test]
fn tenants_are_isolated_and_quotas_delay_work() {
    let dir = tempdir("tenants");
    let server = Server::start("sqlite:t.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let a = server.client(Some(&tenant(&admin, "a", None)));
    let b_token = tenant(&admin, "b", Some(64));
    let b = server.client(Some(&b_token));
    let (_, v) = a.post("/v1/jobs", &job("a-1", 8, 3.0), None).unwrap();
    let id = v["id"].as_str().unwrap();
    // B cannot read, list or cancel A's job; it looks like it does not exist.
    assert!(b.get(&format!("/v1/jobs/{id}")).unwrap_err().to_string().contains("HTTP 404"));
    assert!(b.delete(&format!("/v1/jobs/{id}")).unwrap_err().to_string().contains("HTTP 404"));
    assert_eq!(b.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().len(), 0);
    // No token, or a wrong one: 401.
    assert!(server.client(None).get("/v1/jobs").unwrap_err().to_string().contains("HTTP 401"));
    assert!(server.client(Some("nope")).get("/v1/jobs").unwrap_err().to_string().contains("HTTP 401"));
    // Only the admin makes tenants.
    assert!(a.post("/v1/tenants", &json!({"name": "x"}), None).unwrap_err().to_string().contains("HTTP 403"));
    // Over its quota of 64, B's second 64-accelerator job waits (pending, with the reason).
    b.post("/v1/jobs", &job("b-1", 64, 40.0), None).unwrap();
    b.post("/v1/jobs", &job("b-2", 64, 40.0), None).unwrap();
    let t0 = Instant::now();
    loop {
        let jobs = b.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().clone();
        let waiting: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "pending").collect();
        let going = jobs.iter().filter(|j| ["planned", "dispatched", "running"].contains(&j["state"].as_str().unwrap())).count();
        if going == 1 && waiting.len() == 1 && waiting[0]["reasons"][0].as_str().unwrap_or("").contains("quota") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "quota not applied: {jobs:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A cancels its own job.
    assert_eq!(a.delete(&format!("/v1/jobs/{id}")).unwrap()["state"], "cancelled");
}

/// Reads server-sent events from `/v1/events/stream` until `done` says so (or 60 s pass):
/// `(id, kind, data)` for each, in order.
fn read_stream(port: u16, token: &str, last_id: Option<i64>, done: impl Fn(&[(i64, String, Value)]) -> bool) -> Vec<(i64, String, Value)> {
    use std::io::{BufRead, BufReader, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let resume = last_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
    write!(tcp, "GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{resume}\r\n").unwrap();
    let mut lines = BufReader::new(tcp).lines();
    let status = lines.next().unwrap().unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let mut out = Vec::new();
    let (mut id, mut kind) = (0i64, String::new());
    let t0 = Instant::now();
    while !done(&out) {
        assert!(t0.elapsed() < Duration::from_secs(60), "stream stalled after {out:?}");
        let line = lines.next().unwrap().unwrap();
        // Chunked framing: size lines are hex numbers; SSE fields are `name: value`.
        if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
            id = v.trim().parse().unwrap();
        } else if let Some(v) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
            kind = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
            out.push((id, kind.clone(), serde_json::from_str(v.trim()).unwrap()));
        }
    }
    out
}

/// The event stream shows a tenant its own jobs' events as they happen, none of another
/// tenant's, and resumes after `Last-Event-ID`.
#[test]
fn the_event_stream_follows_a_tenants_own_jobs() {
    let dir = tempdir("stream");
    let server = Server::start("sqlite:s.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let a_token = tenant(&admin, "a", None);
    let a = server.client(Some(&a_token));
    let b = server.client(Some(&tenant(&admin, "b", None)));
    let (_, v) = b.post("/v1/jobs", &job("b-1", 8, 1.0), None).unwrap();
    let b_id = v["id"].as_str().unwrap().to_string();
    let (_, v) = a.post("/v1/jobs", &job("a-1", 8, 1.0), None).unwrap();
    let a_id = v["id"].as_str().unwrap().to_string();
    // Half an hour of server time per second: the job is planned, dispatched, runs, completes.
    let seen = read_stream(server.port, &a_token, None, |evs| evs.iter().any(|e| e.1 == "job_finished"));
    assert!(seen.iter().all(|e| e.2["job"] == a_id.as_str()), "{seen:#?}");
    assert!(!seen.iter().any(|e| e.2.to_string().contains(&b_id)), "tenant A saw B's job: {seen:#?}");
    let kinds: Vec<&str> = seen.iter().map(|e| e.1.as_str()).collect();
    for k in ["job_submitted", "job_dispatched", "job_started", "job_finished"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "ids increase");
    // Resuming after the first event gives the rest, starting with the second.
    let rest = read_stream(server.port, &a_token, Some(seen[0].0), |evs| evs.len() >= seen.len() - 1);
    assert_eq!(rest[0].0, seen[1].0);
    // A bad Last-Event-ID is a 400 naming the header.
    let err = a.get("/v1/events/stream?after=x").unwrap_err().to_string();
    assert!(err.contains("HTTP 400") && err.contains("after"), "{err}");
}

/// A service submitted over the API gets replicas every hour at a site within its latency
/// objective, with the reasons for the others; another tenant cannot see or stop it; bad
/// fields are 400s naming them; stopping it frees its replicas.
#[test]
fn services_are_planned_near_their_users_and_isolated() {
    let dir = tempdir("services");
    let server = Server::start("sqlite:v.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let a = server.client(Some(&tenant(&admin, "a", None)));
    let b = server.client(Some(&tenant(&admin, "b", None)));
    let body = json!({"id": "chat", "accelerator": "h20", "gpus_per_replica": 8, "replica_rps": 6.0, "slo_ms": 10,
                      "demand": [{"city": "Shanghai", "peak_rps": 300}, {"city": "Hangzhou", "peak_rps": 100}]});
    let (status, v) = a.post("/v1/services", &body, Some("svc-key")).unwrap();
    assert_eq!(status, 201);
    let id = v["id"].as_str().unwrap().to_string();
    // A retry with the same key is the same service.
    let (status, again) = a.post("/v1/services", &body, Some("svc-key")).unwrap();
    assert_eq!((status, again["id"].as_str().unwrap()), (200, id.as_str()));
    let t0 = Instant::now();
    let v = loop {
        let v = a.get(&format!("/v1/services/{id}")).unwrap();
        if !v["replicas"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "never planned: {v:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Only the Yangtze River Delta hub is within 10 ms of Shanghai and Hangzhou; enough
    // replicas for the hour's demand (at most the 400 rps peak / 6 rps each).
    let replicas = v["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 1, "{v:#}");
    assert_eq!(replicas[0]["site"], "edwc-yrd");
    let n = replicas[0]["replicas"].as_u64().unwrap();
    assert!((1..=67).contains(&n), "{n} replicas");
    assert_eq!(v["unmet_rps_hours"], 0.0);
    assert!(v["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("SLO")), "{v:#}");
    // Tenant B sees nothing of it.
    assert!(b.get(&format!("/v1/services/{id}")).unwrap_err().to_string().contains("HTTP 404"));
    assert!(b.delete(&format!("/v1/services/{id}")).unwrap_err().to_string().contains("HTTP 404"));
    assert_eq!(b.get("/v1/services").unwrap()["services"].as_array().unwrap().len(), 0);
    // Bad fields name themselves.
    for (patch, field) in [
        (json!({"replica_rps": -1}), "replica_rps"),
        (json!({"demand": [{"city": "Atlantis", "peak_rps": 1}]}), "demand[0].city"),
        (json!({"demand": [{"city": "Shanghai", "peak_rps": 1e300}]}), "demand[0].peak_rps"),
        (json!({"accelerator": "h9000"}), "accelerator"),
        (json!({"gpus_per_replica": 0}), "gpus_per_replica"),
    ] {
        let mut bad = body.clone();
        for (k, x) in patch.as_object().unwrap() {
            bad[k] = x.clone();
        }
        let err = a.post("/v1/services", &bad, None).unwrap_err().to_string();
        assert!(err.contains("HTTP 400") && err.contains(&format!("(field `{field}`)")), "{field}: {err}");
    }
    // The metrics count its replicas; stopping it frees them at the next round.
    let metrics = ureq_text(&format!("{}/metrics", server.url()));
    assert!(metrics.contains("xisuan_services{state=\"active\"} 1"), "{metrics}");
    assert_eq!(a.delete(&format!("/v1/services/{id}")).unwrap()["state"], "cancelled");
    let v = a.get(&format!("/v1/services/{id}")).unwrap();
    assert_eq!(v["state"], "cancelled");
    assert!(v["replicas"].as_array().unwrap().is_empty());
    assert!(a.delete(&format!("/v1/services/{id}")).unwrap_err().to_string().contains("HTTP 409"));
}

/// Each round plans on forecasts by default and says so: the current hour's carbon is the
/// series' own, later hours are the forecast issued now (they differ from the series where the
/// grid does not repeat itself); `--forecast perfect` plans on the series themselves.
#[test]
fn rounds_plan_on_forecasts_and_say_so() {
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cloud/scenario.toml");
    let dir = tempdir("forecast");
    let seen = Server::start("sqlite:f.db", &dir, &["--world", world]);
    let actual = Server::start("sqlite:p.db", &dir, &["--world", world, "--forecast", "perfect"]);
    let (a, b) = (seen.client(Some(ADMIN)), actual.client(Some(ADMIN)));
    let site = |c: &Client| c.get("/v1/sites").unwrap().as_array().unwrap().iter().find(|s| s["id"] == "gcp-us-west2").unwrap().clone();
    let (f, p) = (site(&a), site(&b));
    let series = |v: &Value| v["kg_per_kwh_hourly"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
    let (fs, ps) = (series(&f), series(&p));
    // Align the two servers' hours (each clock runs on its own).
    let d = (f["start_h"].as_i64().unwrap() - p["start_h"].as_i64().unwrap()) as usize;
    assert!(d < 24, "{d}");
    assert_eq!(fs[0], ps[d], "the current hour is known");
    let differ = (24..fs.len() - d).filter(|&k| (fs[k] - ps[k + d]).abs() > 1e-9).count();
    assert!(differ > 24, "only {differ} forecast hours differ from the series");
    let note = |c: &Client| {
        c.get("/v1/plan").unwrap()["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect::<Vec<_>>().join(" | ")
    };
    assert!(note(&a).contains("planned on forecasts") && note(&a).contains("profile"), "{}", note(&a));
    assert!(note(&b).contains("hindsight"), "{}", note(&b));
}

#[test]
fn bad_requests_are_4xx_naming_the_field() {
    let dir = tempdir("bad");
    let server = Server::start("sqlite:b.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let t = server.client(Some(&tenant(&admin, "t", None)));
    for (body, field) in [
        (json!({"accelerators": ["h800"], "gpus": 0, "hours": 3, "data_site": "edwc-yrd"}), "gpus"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": -1, "data_site": "edwc-yrd"}), "hours"),
        (json!({"accelerators": ["x100"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd"}), "accelerators"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "mars"}), "data_site"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "deadlne_hour": 3}), "deadlne_hour"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "data_tb": 1e300}), "data_tb"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "earliest_hour": 10, "deadline_hour": 5}), "deadline_hour"),
        // Work that could never run (issue 24, failure 8) is refused, not left waiting.
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "sites": []}), "sites"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "countries": ["ZZ"]}), "countries"),
        (json!({"accelerators": ["h800"], "gpus": 8, "hours": 1, "data_site": "edwc-yrd", "countries": []}), "countries"),
        (json!({"accelerators": ["h800"], "gpus": 100000, "hours": 1, "data_site": "edwc-yrd"}), "gpus"),
    ] {
        let e = t.post("/v1/jobs", &body, None).unwrap_err().to_string();
        assert!(e.contains("HTTP 400") && e.contains(&format!("field `{field}`")), "{e}");
    }
    let small = server.client(Some(&tenant(&admin, "small", Some(16))));
    let e =
        small.post("/v1/jobs", &json!({"accelerators": ["h800"], "gpus": 64, "hours": 1, "data_site": "edwc-yrd"}), None).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && e.contains("field `gpus`") && e.contains("quota of 16"), "{e}");
    assert!(small.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().is_empty(), "nothing accepted");
    // The OpenAPI document is served and names the job endpoints.
    let doc = server.client(None).get("/openapi.json").unwrap();
    assert!(doc["paths"]["/v1/jobs"]["post"].is_object());
}

/// Issue 24, failures 1, 7 and 11: an idempotency key names one request (the same key for a
/// service, or with another body, is refused: 409 and 422, nothing written); a finished job
/// cannot be cancelled (409) and stays completed; a tenant name is taken once.
#[test]
fn idempotency_keys_names_and_cancels_are_checked() {
    let dir = tempdir("idem");
    let server = Server::start("sqlite:i.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let t = server.client(Some(&tenant(&admin, "keys", None)));
    let e = admin.post("/v1/tenants", &json!({"name": "keys"}), None).unwrap_err().to_string();
    assert!(e.contains("HTTP 409") && e.contains("a tenant named keys exists"), "{e}");
    let (status, first) = t.post("/v1/jobs", &job("k1", 8, 0.5), Some("key-1")).unwrap();
    assert_eq!(status, 201);
    let (status, again) = t.post("/v1/jobs", &job("k1", 8, 0.5), Some("key-1")).unwrap();
    assert_eq!((status, &again["id"]), (200, &first["id"]));
    let e = t.post("/v1/jobs", &job("k1", 4, 0.5), Some("key-1")).unwrap_err().to_string();
    assert!(e.contains("HTTP 422") && e.contains("different request"), "{e}");
    let service =
        json!({"accelerator": "h20", "gpus_per_replica": 8, "replica_rps": 6.0, "slo_ms": 10, "demand": [{"city": "Shanghai", "peak_rps": 30}]});
    let e = t.post("/v1/services", &service, Some("key-1")).unwrap_err().to_string();
    assert!(e.contains("HTTP 409") && e.contains("job_submitted"), "{e}");
    let (status, svc) = t.post("/v1/services", &service, Some("key-2")).unwrap();
    assert_eq!(status, 201, "{svc}");
    let e = t.post("/v1/jobs", &job("k2", 8, 0.5), Some("key-2")).unwrap_err().to_string();
    assert!(e.contains("HTTP 409") && e.contains("service_submitted"), "{e}");
    assert_eq!(t.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().len(), 1);
    // Finished work is not cancelled.
    let id = first["id"].as_str().unwrap();
    let t0 = Instant::now();
    while t.get(&format!("/v1/jobs/{id}")).unwrap()["state"] != "completed" {
        assert!(t0.elapsed() < Duration::from_secs(60), "{}", t.get(&format!("/v1/jobs/{id}")).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    let e = t.delete(&format!("/v1/jobs/{id}")).unwrap_err().to_string();
    assert!(e.contains("HTTP 409"), "{e}");
    assert_eq!(t.get(&format!("/v1/jobs/{id}")).unwrap()["state"], "completed");
}

#[test]
fn a_second_replica_takes_over_the_control_loop_when_the_leader_dies() {
    let Some(db) = postgres_db("failover") else { return };
    let dir = tempdir("failover");
    let mut servers = [Server::start(&db, &dir, &[]), Server::start(&db, &dir, &[])];
    let metric = |s: &Server, name: &str| -> f64 {
        let text = ureq_text(&format!("{}/metrics", s.url()));
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    // Exactly one of them leads.
    let t0 = Instant::now();
    while metric(&servers[0], "xisuan_leader") + metric(&servers[1], "xisuan_leader") != 1.0 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no single leader");
        std::thread::sleep(Duration::from_millis(100));
    }
    let leader = if metric(&servers[0], "xisuan_leader") == 1.0 { 0 } else { 1 };
    let follower = 1 - leader;
    let token = tenant(&servers[follower].client(Some(ADMIN)), "f", None);
    let f = servers[follower].client(Some(&token));
    let mut ids = BTreeSet::new();
    let mut took = Duration::ZERO;
    for i in 0..20 {
        let (_, v) = f.post("/v1/jobs", &job(&format!("f-{i}"), 8, 1.0), Some(&format!("f-{i}"))).unwrap();
        ids.insert(v["id"].as_str().unwrap().to_string());
        if i == 8 {
            // Kill the leader while jobs are being planned; the follower must lead within seconds.
            servers[leader].kill9();
            let t0 = Instant::now();
            while metric(&servers[follower], "xisuan_leader") != 1.0 {
                assert!(t0.elapsed() < Duration::from_secs(15), "the follower did not take over");
                std::thread::sleep(Duration::from_millis(20));
            }
            took = t0.elapsed();
        }
    }
    // The work is planned and completed.
    let t0 = Instant::now();
    loop {
        let jobs = f.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().clone();
        if jobs.iter().all(|j| j["state"] == "completed") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "work not completed after failover: {:?}",
            jobs.iter().map(|j| j["state"].clone()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("failover: the follower led {:.1} s after the leader was killed", took.as_secs_f64());
    let follower = &servers[follower];
    let all = events(&follower.client(Some(ADMIN)));
    let mut dispatched: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for e in all.iter().filter(|e| e["kind"] == "job_dispatched") {
        *dispatched.entry((e["job"].as_str().unwrap().to_string(), e["body"]["attempt"].as_u64().unwrap())).or_default() += 1;
    }
    assert!(dispatched.values().all(|&n| n == 1), "dispatched twice: {dispatched:?}");
    let planned: BTreeSet<String> = all.iter().filter(|e| e["kind"] == "job_submitted").map(|e| e["job"].as_str().unwrap().to_string()).collect();
    assert_eq!(planned, ids);
}

/// Issue 24, failure 9: 10,000 jobs in one request, all checked before any is taken (a bad
/// one is a 400 naming `jobs[i].field`), all written together; a retry with its key returns
/// the same ids.
#[test]
fn ten_thousand_jobs_go_in_one_bulk_request() {
    let dir = tempdir("bulk");
    let server = Server::start("sqlite:b.db", &dir, &["--no-control-loop"]);
    let admin = server.client(Some(ADMIN));
    let t = server.client(Some(&tenant(&admin, "bulk", None)));
    let mut jobs: Vec<Value> = (0..10_000).map(|i| job(&format!("b{i}"), 1 + i % 8, 1.0 + (i % 5) as f64)).collect();
    jobs[5]["gpus"] = json!(0);
    let e = t.post("/v1/jobs/bulk", &json!({ "jobs": jobs }), Some("bulk-1")).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && e.contains("field `jobs[5].gpus`"), "{e}");
    assert!(t.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().is_empty(), "none taken");
    jobs[5]["gpus"] = json!(1);
    let (status, v) = t.post("/v1/jobs/bulk", &json!({ "jobs": jobs }), Some("bulk-2")).unwrap();
    assert_eq!(status, 201);
    let ids: Vec<String> = v["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10_000);
    let (status, again) = t.post("/v1/jobs/bulk", &json!({ "jobs": jobs }), Some("bulk-2")).unwrap();
    assert_eq!(status, 200);
    assert_eq!(again["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect::<Vec<_>>(), ids);
    let j = t.get(&format!("/v1/jobs/{}", ids[9_999])).unwrap();
    assert_eq!(j["name"], "b9999");
    assert!(t.post("/v1/jobs/bulk", &json!({ "jobs": [] }), None).unwrap_err().to_string().contains("HTTP 400"));
}

/// Issue 24, failure 11: tokens have a life. A tenant's token can be replaced (by the admin
/// or the tenant itself: the old one stops working at once), revoked (by the admin), and made to
/// expire; the admin's token is rotated through the API or by a new XISUAN_ADMIN_TOKEN at the
/// next start, never left as the first one silently.
#[test]
fn tokens_rotate_revoke_and_expire() {
    let dir = tempdir("tokens");
    let mut server = Server::start("sqlite:t.db", &dir, &["--no-control-loop"]);
    let admin = server.client(Some(ADMIN));
    let (_, v) = admin.post("/v1/tenants", &json!({"name": "rot"}), None).unwrap();
    let (id, first) = (v["id"].as_str().unwrap().to_string(), v["token"].as_str().unwrap().to_string());
    // The tenant replaces its own token.
    let (status, v) = server.client(Some(&first)).post(&format!("/v1/tenants/{id}/token"), &json!({}), None).unwrap();
    assert_eq!(status, 201);
    let second = v["token"].as_str().unwrap().to_string();
    assert!(server.client(Some(&first)).get("/v1/jobs").unwrap_err().to_string().contains("HTTP 401"));
    assert!(server.client(Some(&second)).get("/v1/jobs").is_ok());
    // Another tenant cannot touch it.
    let other = server.client(Some(&tenant(&admin, "other", None)));
    assert!(other.post(&format!("/v1/tenants/{id}/token"), &json!({}), None).unwrap_err().to_string().contains("HTTP 404"));
    // The admin revokes it: nothing works until a new one is set.
    assert!(other.delete(&format!("/v1/tenants/{id}/token")).unwrap_err().to_string().contains("HTTP 403"));
    admin.delete(&format!("/v1/tenants/{id}/token")).unwrap();
    assert!(server.client(Some(&second)).get("/v1/jobs").unwrap_err().to_string().contains("HTTP 401"));
    let (_, v) = admin.post(&format!("/v1/tenants/{id}/token"), &json!({"token_days": 0.00003}), None).unwrap();
    let third = v["token"].as_str().unwrap().to_string();
    assert!(v["expires_unix_s"].as_f64().is_some());
    assert!(server.client(Some(&third)).get("/v1/jobs").is_ok());
    std::thread::sleep(Duration::from_secs(3));
    let e = server.client(Some(&third)).get("/v1/jobs").unwrap_err().to_string();
    assert!(e.contains("HTTP 401") && e.contains("expired"), "{e}");
    assert!(admin.delete("/v1/tenants/admin/token").unwrap_err().to_string().contains("HTTP 409"));
    // The admin's token through the API, then through XISUAN_ADMIN_TOKEN at a restart.
    let (_, v) = admin.post("/v1/tenants/admin/token", &json!({}), None).unwrap();
    let new_admin = v["token"].as_str().unwrap().to_string();
    assert!(admin.get("/v1/plan").unwrap_err().to_string().contains("HTTP 401"));
    assert!(server.client(Some(&new_admin)).get("/v1/plan").is_ok());
    server.kill9();
    server.spawn();
    assert!(server.client(Some(&new_admin)).get("/v1/plan").unwrap_err().to_string().contains("HTTP 401"), "XISUAN_ADMIN_TOKEN at start replaces it");
    assert!(server.client(Some(ADMIN)).get("/v1/plan").is_ok());
}

/// Issue 24, failure 4: what one replica has just written, another answers for at once (it
/// reads the log to its end before it says "unknown token" or 404): 20 times over, a tenant
/// made on one is known to the other, and a job submitted on one is found on the other.
#[test]
fn a_replica_answers_for_what_another_just_wrote() {
    let Some(db) = postgres_db("ryw") else { return };
    let dir = tempdir("ryw");
    let servers = [Server::start(&db, &dir, &[]), Server::start(&db, &dir, &["--no-control-loop"])];
    for i in 0..20 {
        let (a, b) = (&servers[i % 2], &servers[1 - i % 2]);
        let token = tenant(&a.client(Some(ADMIN)), &format!("ryw-{i}"), None);
        let on_b = b.client(Some(&token));
        assert!(on_b.get("/v1/jobs").is_ok(), "a token made on one replica is unknown on the other");
        let (_, v) = a.client(Some(&token)).post("/v1/jobs", &job(&format!("r{i}"), 8, 1.0), None).unwrap();
        let id = v["id"].as_str().unwrap();
        let j = on_b.get(&format!("/v1/jobs/{id}")).unwrap();
        assert_eq!(j["id"], id);
    }
}

/// Issue 24, failure 3, end to end on PostgreSQL: a leader frozen for 10 s (SIGSTOP) is
/// replaced within the lease (5 s) and its renewal (1 s), and the new leader plans meanwhile;
/// woken, the old one is a follower and writes nothing. Then every connection both servers
/// hold is cut (pg_terminate_backend): they reconnect and one leads. The raw log afterwards:
/// every round once and in order, every attempt dispatched once, and the loop's writes in
/// epoch order (no write from an epoch after a later one began).
#[test]
fn a_frozen_or_cut_off_leader_is_replaced_and_writes_nothing_after() {
    let Some(db) = postgres_db("splitbrain") else { return };
    let dir = tempdir("splitbrain");
    let servers = [Server::start(&db, &dir, &[]), Server::start(&db, &dir, &[])];
    let leads = |s: &Server| -> bool {
        let text = ureq_text(&format!("{}/metrics", s.url()));
        text.lines().any(|l| l == "xisuan_leader 1")
    };
    let one_leader = |secs: u64| -> usize {
        let t0 = Instant::now();
        loop {
            let l: Vec<bool> = servers.iter().map(leads).collect();
            if l.iter().filter(|x| **x).count() == 1 {
                return l.iter().position(|x| *x).unwrap();
            }
            assert!(t0.elapsed() < Duration::from_secs(secs), "no single leader: {l:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let leader = one_leader(30);
    let follower = 1 - leader;
    let admin = servers[follower].client(Some(ADMIN));
    let t = servers[follower].client(Some(&tenant(&admin, "sb", None)));
    for i in 0..6 {
        t.post("/v1/jobs", &job(&format!("a-{i}"), 8, 2.0), None).unwrap();
    }
    // Freeze the leader.
    let pid = servers[leader].child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let t0 = Instant::now();
    while !leads(&servers[follower]) {
        // The lease (5 s) and a renewal (1 s), with room for a loaded 2-core machine (this
        // binary's other tests run beside it).
        assert!(t0.elapsed() < Duration::from_secs(15), "the follower did not take over from a frozen leader");
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = t0.elapsed();
    let before = events(&admin).iter().filter(|e| e["kind"] == "planned").count();
    for i in 0..6 {
        t.post("/v1/jobs", &job(&format!("b-{i}"), 8, 2.0), None).unwrap();
    }
    std::thread::sleep(Duration::from_secs(10).saturating_sub(t0.elapsed()));
    assert!(events(&admin).iter().filter(|e| e["kind"] == "planned").count() > before, "nobody planned while the old leader was frozen");
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(one_leader(5), follower, "the woken leader is a follower");
    // Cut every connection the servers hold.
    let dbname = db.rsplit('/').next().unwrap().to_string();
    let mut c = postgres::Client::connect(&std::env::var("XISUAN_TEST_POSTGRES").unwrap(), postgres::NoTls).unwrap();
    let cut: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) x",
            &[&dbname],
        )
        .unwrap()
        .get(0);
    assert!(cut >= 4, "{cut} connections cut");
    for i in 0..6 {
        let body = job(&format!("c-{i}"), 8, 2.0);
        let t1 = Instant::now();
        // The first request after the cut may meet the dead connection; a retry with the same
        // key is answered.
        while t.post("/v1/jobs", &body, Some(&format!("c-{i}"))).is_err() {
            assert!(t1.elapsed() < Duration::from_secs(10), "the servers did not reconnect");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    one_leader(15);
    let t1 = Instant::now();
    loop {
        let jobs = t.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().clone();
        if jobs.len() == 18 && jobs.iter().all(|j| j["state"] == "completed") {
            break;
        }
        assert!(t1.elapsed() < Duration::from_secs(90), "{:?}", jobs.iter().map(|j| j["state"].clone()).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("a frozen leader was replaced in {:.1} s", took.as_secs_f64());
    // The raw log.
    let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let rows = c.query("SELECT seq, kind, job, body, epoch FROM events ORDER BY seq", &[]).unwrap();
    let mut rounds = Vec::new();
    let mut dispatched: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut last_epoch = 0i64;
    for r in &rows {
        let (seq, kind, body, epoch): (i64, String, String, Option<i64>) = (r.get(0), r.get(1), r.get(3), r.get(4));
        let body: Value = serde_json::from_str(&body).unwrap();
        if kind == "planned" {
            rounds.push(body["round"].as_u64().unwrap());
        }
        if kind == "job_dispatched" {
            *dispatched.entry((r.get::<_, Option<String>>(2).unwrap(), body["attempt"].as_u64().unwrap())).or_default() += 1;
        }
        if let Some(e) = epoch {
            assert!(e >= last_epoch, "event {seq} written under epoch {e} after epoch {last_epoch} began");
            last_epoch = e;
        }
    }
    assert!(last_epoch >= 2, "the lease changed hands: {last_epoch}");
    assert_eq!(rounds, (1..=rounds.len() as u64).collect::<Vec<_>>(), "rounds once each, in order");
    assert!(dispatched.values().all(|&n| n == 1), "dispatched twice: {dispatched:?}");
    assert_eq!(dispatched.len(), 18);
}

/// Issue 24, failure 5: a tenant's events are paged by its own index, so 10,500 events of
/// another tenant between two of its own neither hide the second nor end its pages early, and a
/// page reads at most its limit. A tenant holds at most 4 event streams at once (429 after).
#[test]
fn a_tenants_events_page_past_any_number_of_others() {
    let dir = tempdir("pages");
    let server = Server::start("sqlite:p.db", &dir, &["--no-control-loop"]);
    let admin = server.client(Some(ADMIN));
    let a = server.client(Some(&tenant(&admin, "a", None)));
    let b_token = tenant(&admin, "b", None);
    a.post("/v1/jobs", &job("first", 8, 1.0), None).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|k| {
            let b = server.client(Some(&b_token));
            std::thread::spawn(move || {
                for i in 0..1313 {
                    b.post("/v1/jobs", &job(&format!("b{k}-{i}"), 8, 1.0), None).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    a.post("/v1/jobs", &job("second", 8, 1.0), None).unwrap();
    let mut seen = Vec::new();
    let mut after = 0i64;
    let mut pages = 0;
    loop {
        let page = a.get(&format!("/v1/events?limit=1&after={after}")).unwrap();
        pages += 1;
        for e in page["events"].as_array().unwrap() {
            seen.push(e["body"]["spec"]["name"].as_str().unwrap_or_default().to_string());
        }
        match page["next"].as_str() {
            Some(n) => after = n.parse().unwrap(),
            None => break,
        }
        assert!(pages < 10, "{seen:?}");
    }
    assert_eq!(seen, ["first", "second"]);
    // The admin sees everything, a page at a time.
    let page = admin.get("/v1/events?limit=1000").unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 1000);
    assert!(page["next"].is_string());
    // Event streams: four at once, the fifth refused, and a turn comes back when one closes.
    let open_stream = |token: &str| -> (std::net::TcpStream, String) {
        use std::io::{BufRead, BufReader, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(tcp, "GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").unwrap();
        let mut status = String::new();
        BufReader::new(tcp.try_clone().unwrap()).read_line(&mut status).unwrap();
        (tcp, status)
    };
    let token = a.token().unwrap().to_string();
    let mut open: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let (tcp, status) = open_stream(&token);
            assert!(status.contains(" 200 "), "{status}");
            tcp
        })
        .collect();
    let (_, status) = open_stream(&token);
    assert!(status.contains(" 429 "), "{status}");
    let (_other, status) = open_stream(&b_token);
    assert!(status.contains(" 200 "), "another tenant's streams are its own: {status}");
    drop(open.pop());
    let t0 = Instant::now();
    while !open_stream(&token).1.contains(" 200 ") {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "a closed stream's turn did not come back (the server notices at its next keep-alive, every 5 s)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A seeded pseudo-random sequence (xorshift64*): the history's choices repeat for a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One row of the raw log: sequence number, kind, job, body, epoch.
type Row = (i64, String, Option<String>, Value, Option<i64>);

/// The independent checker of issue 24: reads the raw event log (not through xisuan's fold or
/// its `control::legal`) and checks, with a transition table of its own: every acknowledged
/// job is there once; no event is illegal for the job's state (as this checker folds it); no
/// attempt is dispatched twice; no round is written twice; the control loop's writes come in
/// epoch order (a write of one epoch never follows a write of a later one). Returns what it
/// counted.
fn check_history(rows: &[Row], acked: &BTreeSet<String>) -> BTreeMap<&'static str, usize> {
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum S {
        Pending,
        Planned,
        Dispatched,
        Running,
        Completed,
        Cancelled,
    }
    struct J {
        s: S,
        site: Option<String>,
        attempts: u64,
    }
    let mut jobs: BTreeMap<String, J> = BTreeMap::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut last_epoch = 0i64;
    let mut rounds = 0u64;
    // The latest round's entries, whole: a job's site, or None where it was unplaced (a round
    // recorded as changes from the one before is folded into it here, by this checker).
    let mut plan: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut down: BTreeSet<String> = BTreeSet::new();
    for (seq, kind, job, body, epoch) in rows {
        *counts.entry("events").or_default() += 1;
        if let Some(e) = epoch {
            assert!(*e >= last_epoch, "event {seq} ({kind}) of epoch {e} after a write of epoch {last_epoch}");
            last_epoch = *e;
        }
        let id = job.clone().unwrap_or_default();
        let illegal = |why: &str| -> ! { panic!("event {seq}: {kind} for {id}: {why}: {body}") };
        match kind.as_str() {
            "job_submitted" => {
                if jobs.insert(id.clone(), J { s: S::Pending, site: None, attempts: 0 }).is_some() {
                    illegal("submitted twice");
                }
            }
            "planned" => {
                let r = body["round"].as_u64().unwrap();
                if r != rounds + 1 {
                    illegal(&format!("round {r} after round {rounds}"));
                }
                rounds = r;
                match body["delta_of"].as_u64() {
                    Some(base) => {
                        assert_eq!(base, r - 1, "event {seq}: round {r} recorded as changes from round {base}");
                        *counts.entry("delta rounds").or_default() += 1;
                        for d in body["dropped"].as_array().into_iter().flatten() {
                            plan.remove(d.as_str().unwrap());
                        }
                    }
                    None => plan.clear(),
                }
                for p in body["placements"].as_array().unwrap() {
                    plan.insert(p["job"].as_str().unwrap().to_string(), Some(p["site"].as_str().unwrap().to_string()));
                }
                for u in body["unplaced"].as_array().unwrap() {
                    plan.insert(u["job"].as_str().unwrap().to_string(), None);
                }
                for (id, site) in &plan {
                    if let Some(j) = jobs.get_mut(id) {
                        if matches!(j.s, S::Pending | S::Planned) {
                            j.s = if site.is_some() { S::Planned } else { S::Pending };
                            j.site = site.clone();
                        }
                    }
                }
            }
            "site_down" => {
                let site = body["site"].as_str().unwrap().to_string();
                for j in jobs.values_mut().filter(|j| j.site.as_deref() == Some(&site) && matches!(j.s, S::Planned | S::Dispatched | S::Running)) {
                    j.s = S::Pending;
                }
                down.insert(site);
            }
            "site_up" => {
                down.remove(body["site"].as_str().unwrap());
            }
            "tenant_created" | "transfer_started" | "transfer_finished" | "transfer_failed" | "service_submitted" | "service_cancelled"
            | "fences_released" => {}
            _ => {
                let Some(j) = jobs.get_mut(&id) else { illegal("no such job") };
                let from = j.s;
                j.s = match (kind.as_str(), from) {
                    ("job_dispatched", S::Planned) => {
                        let a = body["attempt"].as_u64().unwrap();
                        if a != j.attempts + 1 {
                            illegal(&format!("attempt {a} after {} attempts", j.attempts));
                        }
                        let site = body["site"].as_str().unwrap();
                        if down.contains(site) {
                            illegal("dispatched to a site that is down");
                        }
                        j.attempts = a;
                        j.site = Some(site.to_string());
                        *counts.entry("dispatches").or_default() += 1;
                        S::Dispatched
                    }
                    ("job_started", S::Dispatched) => S::Running,
                    ("job_checkpointed", s) if !matches!(s, S::Completed | S::Cancelled) => s,
                    ("job_finished", S::Dispatched | S::Running) => S::Completed,
                    ("job_failed" | "job_refused", S::Dispatched | S::Running) => S::Pending,
                    ("job_cancelled", S::Pending | S::Planned | S::Dispatched | S::Running) => {
                        *counts.entry("cancels").or_default() += 1;
                        S::Cancelled
                    }
                    (k, s) => illegal(&format!("{k} is illegal for a job that is {s:?}")),
                };
            }
        }
    }
    for id in acked {
        assert!(jobs.contains_key(id), "acknowledged job {id} is not in the log");
    }
    counts.insert("jobs", jobs.len());
    counts.insert("completed", jobs.values().filter(|j| j.s == S::Completed).count());
    counts.insert("rounds", rounds as usize);
    counts.insert("epochs", last_epoch as usize);
    counts
}

/// The checker itself: fabricated logs with each kind of fault it looks for are caught.
#[test]
fn the_history_checker_catches_what_it_looks_for() {
    let ev = |seq: i64, kind: &str, job: &str, body: Value, epoch: Option<i64>| {
        (seq, kind.to_string(), (!job.is_empty()).then(|| job.to_string()), body, epoch)
    };
    let round = |n: u64| json!({"round": n, "placements": [{"job": "j", "site": "s"}], "unplaced": []});
    let good = vec![
        ev(1, "job_submitted", "j", json!({}), None),
        ev(2, "planned", "", round(1), Some(1)),
        ev(3, "job_dispatched", "j", json!({"attempt": 1, "site": "s"}), Some(1)),
        ev(4, "job_started", "j", json!({}), Some(1)),
        ev(5, "job_finished", "j", json!({}), Some(2)),
    ];
    let acked: BTreeSet<String> = ["j".to_string()].into();
    check_history(&good, &acked);
    let caught =
        |rows: Vec<Row>, acked: &BTreeSet<String>| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_history(&rows, acked))).is_err();
    let mut resurrected = good[..3].to_vec();
    resurrected.insert(2, ev(9, "job_cancelled", "j", json!({}), None));
    assert!(caught(resurrected, &acked), "a dispatch after a cancel");
    let mut twice = good[..3].to_vec();
    twice.push(ev(4, "job_dispatched", "j", json!({"attempt": 1, "site": "s"}), Some(1)));
    assert!(caught(twice, &acked), "an attempt dispatched twice");
    let mut round_twice = good[..2].to_vec();
    round_twice.push(ev(3, "planned", "", round(1), Some(1)));
    assert!(caught(round_twice, &acked), "a round written twice");
    let mut old_epoch = good.clone();
    old_epoch.push(ev(6, "planned", "", round(2), Some(1)));
    assert!(caught(old_epoch, &acked), "a write of an epoch after a later one");
    assert!(caught(good.clone(), &["k".to_string()].into()), "an acknowledged job missing");
    let mut after_finish = good.clone();
    after_finish.push(ev(6, "job_cancelled", "j", json!({}), None));
    assert!(caught(after_finish, &acked), "a cancel after the finish");
}

/// Issue 24's model-checked history on PostgreSQL: two replicas, clients submitting (with
/// idempotency keys, retried through failures) and cancelling at random, an operator taking
/// sites down and up, and faults at seeded random moments: a server killed with SIGKILL and
/// restarted, the leader frozen (SIGSTOP) past its lease, every database connection cut.
/// Afterwards `check_history` reads the whole raw log. `XISUAN_HISTORY_SECONDS` (default 40;
/// `scripts/history-check` runs longer ones) and `XISUAN_HISTORY_SEED` (default 1).
#[test]
fn a_randomized_history_with_faults_passes_an_independent_check() {
    let Some(db) = postgres_db("history") else { return };
    let seconds: u64 = std::env::var("XISUAN_HISTORY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let seed: u64 = std::env::var("XISUAN_HISTORY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let dir = tempdir("history");
    let servers = Arc::new(Mutex::new(vec![Server::start(&db, &dir, &[]), Server::start(&db, &dir, &[])]));
    let urls: Vec<String> = servers.lock().unwrap().iter().map(|s| s.url()).collect();
    let token = tenant(&Client::new(&urls[0], Some(ADMIN.into())), "history", None);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut handles = Vec::new();
    // Clients: submit, and now and then cancel something acknowledged (any replica).
    for c in 0..3u64 {
        let (stop, acked, token, urls) = (stop.clone(), acked.clone(), token.clone(), urls.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(seed.wrapping_mul(1000) + c + 1);
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let url = &urls[rng.below(2) as usize];
                let t = Client::new(url, Some(token.clone()));
                if rng.below(4) == 0 {
                    let ids: Vec<String> = acked.lock().unwrap().iter().cloned().collect();
                    if !ids.is_empty() {
                        let _ = t.delete(&format!("/v1/jobs/{}", ids[rng.below(ids.len() as u64) as usize]));
                    }
                } else {
                    let key = format!("h{c}-{i}");
                    let body = job(&key, 1 + rng.below(8) as u32, 0.5 + rng.below(6) as f64);
                    let t0 = Instant::now();
                    loop {
                        let u = &urls[rng.below(2) as usize];
                        match Client::new(u, Some(token.clone())).post("/v1/jobs", &body, Some(&key)) {
                            Ok((_, v)) => {
                                acked.lock().unwrap().insert(v["id"].as_str().unwrap().to_string());
                                break;
                            }
                            Err(_) if t0.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(100)),
                            Err(e) => panic!("no replica answered a submission for 30 s: {e}"),
                        }
                    }
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(20 + rng.below(60)));
            }
        }));
    }
    // The operator: a site down now and then, up again a few seconds later.
    {
        let (stop, urls) = (stop.clone(), urls.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = Rng(seed.wrapping_mul(7919) + 17);
            let sites = ["edwc-yrd", "edwc-guian", "edwc-qingyang", "edwc-zhongwei"];
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2000 + rng.below(4000)));
                let site = sites[rng.below(sites.len() as u64) as usize];
                let a = Client::new(&urls[rng.below(2) as usize], Some(ADMIN.into()));
                let _ = a.post(&format!("/v1/sites/{site}/down"), &json!({"reason": "history check"}), None);
                std::thread::sleep(Duration::from_millis(1000 + rng.below(3000)));
                let _ = a.post(&format!("/v1/sites/{site}/up"), &json!({}), None);
            }
        }));
    }
    // Faults, at seeded moments.
    let mut rng = Rng(seed);
    let t0 = Instant::now();
    let mut faults: Vec<String> = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(4000 + rng.below(6000)));
        let which = rng.below(3);
        let k = rng.below(2) as usize;
        match which {
            0 => {
                let mut s = servers.lock().unwrap();
                s[k].kill9();
                std::thread::sleep(Duration::from_millis(500));
                s[k].spawn();
                faults.push(format!("kill -9 of server {k}"));
            }
            1 => {
                let pid = servers.lock().unwrap()[k].child.as_ref().unwrap().id().to_string();
                Command::new("kill").args(["-STOP", &pid]).status().unwrap();
                std::thread::sleep(Duration::from_secs(7));
                Command::new("kill").args(["-CONT", &pid]).status().unwrap();
                faults.push(format!("SIGSTOP of server {k} for 7 s"));
            }
            _ => {
                let dbname = db.rsplit('/').next().unwrap().to_string();
                let mut c = postgres::Client::connect(&std::env::var("XISUAN_TEST_POSTGRES").unwrap(), postgres::NoTls).unwrap();
                c.query_one(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) x",
                    &[&dbname],
                )
                .unwrap();
                faults.push("every database connection cut".into());
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().unwrap();
    }
    // Let the work settle a little, then read the raw log.
    std::thread::sleep(Duration::from_secs(3));
    let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let rows: Vec<Row> = c
        .query("SELECT seq, kind, job, body, epoch FROM events ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), serde_json::from_str(&r.get::<_, String>(3)).unwrap(), r.get(4)))
        .collect();
    let acked = acked.lock().unwrap().clone();
    let counts = check_history(&rows, &acked);
    eprintln!("history (seed {seed}, {seconds} s): {} acknowledged jobs; faults: {}; checked: {counts:?}", acked.len(), faults.join(", "));
    assert!(counts["dispatches"] > 0 && counts["completed"] > 0 && counts["epochs"] >= 2, "{counts:?}");
}

/// A text page (the metrics) read with the admin's token.
fn ureq_text(url: &str) -> String {
    Client::new(url, Some(ADMIN.into())).get("").map(|v| v.as_str().unwrap_or("").to_string()).unwrap_or_default()
}

/// A real Prometheus scrapes `/metrics`; a PromQL query over what it stored returns the number
/// of running jobs. Skipped (with a message) where Debian's `prometheus` is not installed;
/// `.ci/run` installs it.
#[test]
fn prometheus_scrapes_the_metrics_and_promql_counts_running_jobs() {
    let Ok(prom) = which("prometheus") else {
        assert!(std::env::var("XISUAN_REQUIRE_SERVICES").is_err(), "XISUAN_REQUIRE_SERVICES is set but prometheus is not installed");
        eprintln!("prometheus not installed: scrape test skipped (.ci/run installs it)");
        return;
    };
    let dir = tempdir("prometheus");
    let server = Server::start("sqlite:p.db", &dir, &[]);
    let admin = server.client(Some(ADMIN));
    let t = server.client(Some(&tenant(&admin, "p", None)));
    for i in 0..3 {
        // 120 hours of work (within the 168-hour horizon): at 0.5 s per hour they run for
        // the whole test.
        t.post("/v1/jobs", &job(&format!("p-{i}"), 8, 120.0), None).unwrap();
    }
    let running = || t.get("/v1/jobs").unwrap()["jobs"].as_array().unwrap().iter().filter(|j| j["state"] == "running").count();
    let t0 = Instant::now();
    while running() < 3 {
        assert!(t0.elapsed() < Duration::from_secs(60), "jobs did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let port = free_port();
    let config = dir.join("prometheus.yml");
    // Prometheus' own linter finds nothing to say about the metrics (names, units, types).
    let text = ureq_text(&format!("{}/metrics", server.url()));
    assert!(text.contains("xisuan_plan_carbon_grams"), "{text}");
    let mut lint = Command::new(which("promtool").expect("promtool comes with prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        lint.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = lint.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool check metrics: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The metrics are totals over every tenant: a tenant may not read them, the scraper
    // presents the operator's scrape token.
    let e = t.get("/metrics").unwrap_err().to_string();
    assert!(e.contains("HTTP 403"), "{e}");
    assert!(server.client(None).get("/metrics").unwrap_err().to_string().contains("HTTP 401"));
    assert!(server.client(Some(SCRAPE)).get("/metrics").is_ok());
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: xisuan\n    authorization:\n      credentials: {SCRAPE}\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n", server.port)).unwrap();
    let mut child = Command::new(prom)
        .args([
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let query = Client::new(&format!("http://127.0.0.1:{port}"), None);
    let t0 = Instant::now();
    let value = loop {
        if let Ok(v) = query.get("/api/v1/query?query=xisuan_jobs%7Bstate%3D%22running%22%7D") {
            if let Some(x) = v["data"]["result"].get(0).and_then(|r| r["value"][1].as_str()).and_then(|s| s.parse::<f64>().ok()) {
                break x;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "Prometheus stored nothing");
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(value, 3.0, "PromQL says {value} running jobs");
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file())).ok_or(())
}

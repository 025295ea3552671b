//! `xisuan server` dispatching to real Slurm: the three clusters of `scripts/slurm-testbed`
//! stand for three sites, two reached with Slurm's commands and one (gamma) through slurmrestd
//! with a JWT. Runs where `XISUAN_TEST_SLURM` names a started testbed's directory
//! (`.ci/run` starts one and sets it). Checked from Slurm's own records (its completion log),
//! not xisuan's.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xisuan_server::client::Client;

mod testbed;
use testbed::{completions, slurm_time, testbed, unix_now, Kill};

const ADMIN: &str = "slurm-test-admin";
const HOUR_S: f64 = 2.0;
const SITES: [(&str, &str); 3] = [("edwc-yrd", "alpha"), ("edwc-guian", "beta"), ("edwc-qingyang", "gamma")];

/// Where a test job's attempts write their progress lines ("ATTEMPT SITE UNIX_SECONDS", about
/// every half second while they run): a file outside every site's storage, read by the tests as
/// the nodes' own record of what ran when.
fn progress_file(id: &str) -> String {
    let dir = std::env::temp_dir().join(format!("xisuan-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(id).display().to_string()
}

/// Each attempt's first and last progress line: attempt → (site, first, last), Unix seconds.
fn progress(id: &str) -> BTreeMap<u32, (String, f64, f64)> {
    let mut by: BTreeMap<u32, (String, f64, f64)> = BTreeMap::new();
    for l in std::fs::read_to_string(progress_file(id)).unwrap_or_default().lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(a), Some(site), Some(t)) = (f.first().and_then(|a| a.parse().ok()), f.get(1), f.get(2).and_then(|t| t.parse::<f64>().ok())) else {
            continue;
        };
        let e = by.entry(a).or_insert((site.to_string(), t, t));
        e.1 = e.1.min(t);
        e.2 = e.2.max(t);
    }
    by
}

/// By the progress the nodes wrote, no two attempts of the job ran at the same moment.
fn assert_never_twice_at_once(id: &str) {
    let p = progress(id);
    let spans: Vec<&(String, f64, f64)> = p.values().collect();
    for w in spans.windows(2) {
        assert!(w[1].1 > w[0].2, "{id}: attempts overlap by the nodes' progress lines: {p:?}");
    }
}

/// Slurm's accounting (sacct, over the three clusters) of one of our jobs: (cluster, state),
/// once settled: slurmdbd hears of an end a moment after the controller, so this waits (up to
/// 15 s) until there is a record and every record is in a final state.
fn sacct(testbed: &str, id: &str) -> Vec<(String, String)> {
    let t0 = Instant::now();
    loop {
        let r = sacct_now(testbed, id);
        let settled = !r.is_empty() && r.iter().all(|(_, s)| !["PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"].contains(&s.as_str()));
        if settled || t0.elapsed() > Duration::from_secs(15) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Slurm's accounting of one of our jobs as it is now.
fn sacct_now(testbed: &str, id: &str) -> Vec<(String, String)> {
    let out = Command::new("sacct")
        .env("SLURM_CONF", format!("{testbed}/alpha/slurm.conf"))
        .args(["-X", "-n", "-P", "-D", "-S", "2000-01-01", "-M", "alpha,beta,gamma", "-o", "Cluster,JobName,State"])
        .output()
        .unwrap();
    assert!(out.status.success(), "sacct: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.len() == 3 && f[1].starts_with("xisuan-") && f[1].contains(&format!("-{id}-a"))).then(|| (f[0].to_string(), f[2].to_string()))
        })
        .collect()
}

/// What the test's jobs run: a program that works by sleeping, `hours` planning hours in
/// steps of `checkpoint_every_h`, and after each step saves a checkpoint as real jobs do (a
/// folder, then the manifest written atomically), resuming from the newest one. While it works
/// it writes a progress line about every half second (`progress_file`).
fn runs(mut body: Value) -> Value {
    let hours = body["hours"].as_f64().unwrap();
    let every = body["checkpoint_every_h"].as_f64().unwrap_or(1.0);
    let steps = (hours / every).round().max(1.0) as u64;
    let step_s = hours * HOUR_S / steps as f64;
    let ticks = (step_s / 0.5).round().max(1.0) as u64;
    let tick_s = step_s / ticks as f64;
    body["env"] = json!({"TEST_PROGRESS": progress_file(body["id"].as_str().unwrap())});
    let script = format!(
        r#"c="$XISUAN_CHECKPOINT_DIR"; i=0
[ -f "$c/xisuan-checkpoint.json" ] && i=$(sed -n 's/.*"step": \([0-9]*\).*/\1/p' "$c/xisuan-checkpoint.json")
echo "attempt $XISUAN_ATTEMPT at $XISUAN_SITE from step $i"
while [ "$i" -lt {steps} ]; do
  t=0; while [ "$t" -lt {ticks} ]; do sleep {tick_s:.3}; t=$((t+1)); echo "$XISUAN_ATTEMPT $XISUAN_SITE $(date +%s.%N)" >> "$TEST_PROGRESS"; done
  i=$((i+1)); mkdir -p "$c/step-$i"
  printf '{{"step": %d, "total_steps": {steps}, "progress": 0, "path": "step-%d"}}' "$i" "$i" > "$c/m.tmp" && mv "$c/m.tmp" "$c/xisuan-checkpoint.json"
  echo "step $i/{steps}"
done"#
    );
    body["command"] = json!(["/bin/sh", "-c", script]);
    body
}

/// Waits until one job is completed; returns it as the API shows it.
fn until_completed(c: &Client, id: &str, secs: u64) -> Value {
    let t0 = Instant::now();
    loop {
        let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
        if j["state"] == "completed" {
            return j;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "{j:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The testbed's slurmrestd address for a cluster.
fn rest_url(cluster: &str) -> String {
    let port = 6820 + 20 * ["alpha", "beta", "gamma"].iter().position(|c| *c == cluster).unwrap();
    format!("http://127.0.0.1:{port}")
}

/// The testbed's slurmrestd for a cluster, as `--slurmrest` takes it.
fn rest(cluster: &str, token: &str) -> String {
    format!("{},token={token}", rest_url(cluster))
}

/// A server over the testbed's three clusters, named the three ways a user can: alpha by a
/// `dispatch` key in the world's catalog file, gamma by one for slurmrestd, beta by `--slurm`;
/// a tenant's client and the admin's.
fn start(testbed: &str, name: &str) -> (Kill, Client, Client) {
    start_plus(testbed, name, &[])
}

/// `start` with more flags for the server.
fn start_plus(testbed: &str, name: &str, more: &[(String, String)]) -> (Kill, Client, Client) {
    let dir = std::env::temp_dir().join(format!("xisuan-slurm-world-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slurm");
    std::fs::copy(format!("{examples}/world.toml"), dir.join("world.toml")).unwrap();
    let sites = std::fs::read_to_string(format!("{examples}/sites.toml")).unwrap();
    let sites = sites
        .replacen("source = \"scripts/slurm-testbed: cluster alpha", &format!("dispatch = {{ kind = \"slurm\", conf = \"{testbed}/alpha/slurm.conf\" }}\nsource = \"scripts/slurm-testbed: cluster alpha"), 1)
        .replacen("source = \"scripts/slurm-testbed: cluster gamma", &format!("dispatch = {{ kind = \"slurmrest\", url = \"{}\", token = \"{testbed}/gamma/jwt.token\" }}\nsource = \"scripts/slurm-testbed: cluster gamma", rest_url("gamma")), 1);
    assert_eq!(sites.matches("dispatch = ").count(), 2, "{sites}");
    std::fs::write(dir.join("sites.toml"), sites).unwrap();
    let mut clusters = vec![
        ("--slurm".to_string(), format!("edwc-guian={testbed}/beta/slurm.conf")),
        ("--slurm-account".to_string(), "slurm=xisuan-team".to_string()),
    ];
    clusters.extend(more.iter().cloned());
    start_with(name, dir.join("world.toml").to_str().unwrap(), &clusters)
}

/// A server over the given world and clusters (`--slurm` or `--slurmrest`, and its value).
fn start_with(name: &str, world: &str, clusters: &[(String, String)]) -> (Kill, Client, Client) {
    let dir = std::env::temp_dir().join(format!("xisuan-slurm-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (server, url) = serve(&dir, world, clusters);
    let admin = Client::new(&url, Some(ADMIN.into()));
    let (_, v) = admin.post("/v1/tenants", &json!({"name": "slurm"}), None).unwrap();
    let c = Client::new(&url, Some(v["token"].as_str().unwrap().into()));
    (server, c, admin)
}

/// Starts `xisuan server` in `dir` (its database there, kept across restarts); returns it and
/// its address once it answers.
fn serve(dir: &std::path::Path, world: &str, clusters: &[(String, String)]) -> (Kill, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut args: Vec<String> = vec![
        "server".into(),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
        "--db".into(),
        "sqlite:s.db".into(),
        "--world".into(),
        world.into(),
        "--hour-seconds".into(),
        HOUR_S.to_string(),
    ];
    for (flag, value) in clusters {
        args.push(flag.clone());
        args.push(value.clone());
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("server.log")).unwrap();
    let server = Kill(
        Command::new(env!("CARGO_BIN_EXE_xisuan"))
            .args(&args)
            .env("XISUAN_ADMIN_TOKEN", ADMIN)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    while Client::new(&url, None).get("/readyz").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "server did not come up: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, url)
}

/// Every Slurm record of one of our jobs, on any cluster: (cluster, record).
fn records(testbed: &str, id: &str) -> Vec<(String, BTreeMap<String, String>)> {
    SITES
        .iter()
        .flat_map(|(_, cl)| completions(testbed, cl).into_iter().map(move |r| (cl.to_string(), r)))
        .filter(|(_, r)| r.get("Name").is_some_and(|n| n.starts_with("xisuan-") && n.contains(&format!("-{id}-a"))))
        .collect()
}

/// Waits until every job is completed; returns the jobs as the API shows them.
fn until_all_complete(c: &Client, secs: u64) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let jobs = c.get("/v1/jobs?limit=1000").unwrap()["jobs"].as_array().unwrap().clone();
        if jobs.iter().all(|j| j["state"] == "completed") {
            return jobs;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "not all completed: {:#?}",
            jobs.iter().map(|j| (j["name"].clone(), j["state"].clone(), j["site"].clone(), j["reasons"].clone())).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// 30 jobs on three sites backed by three Slurm clusters: each runs on the cluster the plan
/// chose, starting within a planning hour of the planned start (by Slurm's record), and all
/// complete.
#[test]
fn jobs_run_where_and_when_the_plan_says_on_real_slurm() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, admin) = start(&testbed, "plan");
    // 30 jobs of 2, 4 or 6 accelerators and 0.5-1.5 h: more than the 24 accelerators can run at
    // once, so some are planned for later hours. A 6-accelerator job needs two of the
    // testbed's 4-GPU nodes.
    let mut ids = Vec::new();
    let mut gpus_of = BTreeMap::new();
    for i in 0..30 {
        let gpus = if i % 10 == 0 {
            6
        } else if i % 3 == 0 {
            4
        } else {
            2
        };
        let body = runs(json!({"id": format!("s{i}"), "accelerators": ["h800"], "gpus": gpus, "hours": 0.5 + (i % 3) as f64 * 0.5,
                          "data_site": SITES[i % 3].0, "deadline_hour": 48, "checkpoint_every_h": 0.25}));
        let (status, v) = c.post("/v1/jobs", &body, Some(&format!("s{i}"))).unwrap();
        assert_eq!(status, 201);
        ids.push(v["id"].as_str().unwrap().to_string());
        gpus_of.insert(v["id"].as_str().unwrap().to_string(), gpus);
    }
    // Follow them to the end, remembering where and when each was dispatched to start.
    let mut planned: BTreeMap<String, (String, f64)> = BTreeMap::new();
    let t0 = Instant::now();
    loop {
        let v = c.get("/v1/jobs?limit=1000").unwrap();
        // The server's clock: hour H now ↔ this Unix time.
        let (now_unix, plan) = (unix_now(), admin.get("/v1/plan").unwrap());
        let now_h: f64 = plan["notes"][0].as_str().unwrap().split("(hour ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        let jobs = v["jobs"].as_array().unwrap();
        for j in jobs {
            if ["dispatched", "running"].contains(&j["state"].as_str().unwrap()) && !planned.contains_key(j["id"].as_str().unwrap()) {
                let start_unix = now_unix + (j["start_h"].as_f64().unwrap() - now_h) * HOUR_S;
                planned.insert(j["id"].as_str().unwrap().to_string(), (j["site"].as_str().unwrap().to_string(), start_unix));
            }
        }
        if jobs.iter().all(|j| j["state"] == "completed") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "not all completed: {:#?}",
            jobs.iter().map(|j| (j["name"].clone(), j["state"].clone(), j["site"].clone(), j["reasons"].clone())).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every cluster ran some of them (gamma through slurmrestd, the others with the commands).
    for (_, cluster) in SITES {
        assert!(
            ids.iter().any(|id| records(&testbed, id).iter().any(|(cl, r)| cl == cluster && r["JobState"] == "COMPLETED")),
            "nothing ran on {cluster}"
        );
    }
    // Slurm's own record: each job ran once, on the planned site's cluster, from the planned
    // hour (within one planning hour).
    for id in &ids {
        let (site, start_unix) = planned.get(id).unwrap_or_else(|| panic!("{id} never seen dispatched"));
        let cluster = SITES.iter().find(|s| s.0 == site).unwrap().1;
        let runs = records(&testbed, id);
        assert_eq!(runs.len(), 1, "{id}: {runs:?}");
        let (ran_on, rec) = &runs[0];
        assert_eq!(ran_on, cluster, "{id} ran on {ran_on}, planned at {site}");
        assert_eq!(rec["JobState"], "COMPLETED", "{id}: {rec:?}");
        // The layout it asked for (--nodes, --gpus-per-node), and the tenant's account.
        assert_eq!(rec["NodeCnt"], if gpus_of[id] > 4 { "2" } else { "1" }, "{id} of {} GPUs: {rec:?}", gpus_of[id]);
        assert_eq!(rec["Account"], "xisuan-team", "{id}: {rec:?}");
        let started = slurm_time(&rec["StartTime"]);
        assert!((started - start_unix).abs() <= HOUR_S + 1.5, "{id}: Slurm started it at {started}, planned {start_unix}");
    }
}

/// A cluster's nodes go down while jobs run there: xisuan marks the site down, the jobs go back
/// to pending with the work up to their last checkpoint, run elsewhere and complete. By Slurm's
/// records: no job ran in two places at once, and the rerun was no longer than the work left
/// after the last checkpoint (within scheduling slack).
#[test]
fn a_failed_cluster_s_jobs_resume_elsewhere_from_their_checkpoints() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, admin) = start(&testbed, "fail");
    let (hours, ckpt) = (3.0, 0.5);
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = runs(
            json!({"id": format!("f{i}"), "accelerators": ["h800"], "gpus": 4, "hours": hours, "data_site": SITES[i % 3].0, "deadline_hour": 48, "checkpoint_every_h": ckpt}),
        );
        ids.push(c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string());
    }
    // Once jobs have run at least a checkpoint interval, the cluster with the most running ones fails.
    let t0 = Instant::now();
    let (victim_site, victims) = loop {
        let jobs = c.get("/v1/jobs?limit=1000").unwrap()["jobs"].as_array().unwrap().clone();
        let mut by_site: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for j in jobs.iter().filter(|j| j["state"] == "running" && j["done_hours"].as_f64().unwrap() >= ckpt) {
            by_site.entry(j["site"].as_str().unwrap().to_string()).or_default().push(j["id"].as_str().unwrap().to_string());
        }
        if let Some(best) = by_site.into_iter().max_by_key(|x| x.1.len()) {
            break best;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "nothing ran a checkpoint interval: {jobs:#?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let cluster = SITES.iter().find(|s| s.0 == victim_site).unwrap().1;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/slurm-testbed");
    assert!(Command::new(script).args(["down", &testbed, cluster]).status().unwrap().success());
    let jobs = until_all_complete(&c, 120);
    assert!(Command::new(script).args(["up", &testbed, cluster]).status().unwrap().success());
    // xisuan saw the site go down (its cluster had no node up), and up again after.
    let events = admin.get("/v1/events?limit=1000").unwrap()["events"].as_array().unwrap().clone();
    let downs: Vec<&Value> = events.iter().filter(|e| e["kind"] == "site_down" && e["body"]["site"] == victim_site.as_str()).collect();
    assert!(!downs.is_empty() && downs[0]["body"]["reason"].as_str().unwrap().contains("no node up"), "{downs:#?}");
    for id in &ids {
        let runs = records(&testbed, id);
        let done: Vec<_> = runs.iter().filter(|r| r.1["JobState"] == "COMPLETED").collect();
        assert_eq!(done.len(), 1, "{id}: {runs:?}");
        // Never in two places at once (Slurm's start and end times).
        let mut spans: Vec<(f64, f64, &str)> = runs
            .iter()
            .filter(|r| r.1["NodeList"] != "(null)")
            .map(|r| (slurm_time(&r.1["StartTime"]), slurm_time(&r.1["EndTime"]), r.0.as_str()))
            .collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(spans.windows(2).all(|w| w[1].0 >= w[0].1), "{id} ran twice at once: {spans:?}");
        if victims.contains(id) {
            // It ran at the failed cluster first, then elsewhere; the rerun covers only the
            // work left after its last checkpoint.
            let first = spans.iter().find(|s| s.2 == cluster).unwrap_or_else(|| panic!("{id}: no run at {cluster}: {spans:?}"));
            let last = spans.last().unwrap();
            assert_ne!(last.2, cluster, "{id} finished at the failed cluster");
            let worked_h = (first.1 - first.0) / HOUR_S;
            let rerun_h = (last.1 - last.0) / HOUR_S;
            let at_most = hours - ((worked_h / ckpt).floor() - 1.0).max(0.0) * ckpt;
            assert!(
                rerun_h <= at_most + 1.0 / HOUR_S,
                "{id}: ran {worked_h:.2} h at {cluster}, then {rerun_h:.2} h (at most {at_most:.2} h expected)"
            );
            let j = jobs.iter().find(|j| j["id"] == id.as_str()).unwrap();
            assert!(j["attempts"].as_u64().unwrap() >= 2, "{j:#}");
        }
    }
}

/// Waits until `ok` holds for the admin's event list; returns the events.
fn until_events(admin: &Client, secs: u64, what: &str, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let events = admin.get("/v1/events?limit=1000").unwrap()["events"].as_array().unwrap().clone();
        if ok(&events) {
            return events;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "{what}: {:#?}", events.iter().filter(|e| e["kind"] != "planned").collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a cluster says no to, or a controller that does not answer, becomes an event naming
/// the site and Slurm's reason; the work stays pending (or goes where it can run) and the
/// server carries on. Unknown partition (alpha behind edwc-yrd is given one it lacks), an
/// accelerator type the cluster does not have (the catalog says edwc-qingyang has h20; gamma
/// has only h800), and a controller that is down (beta's slurmctld is stopped).
#[test]
fn slurm_errors_become_events_and_the_work_waits() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    // The testbed's world, with a catalog that claims h20 at edwc-qingyang.
    let dir = std::env::temp_dir().join(format!("xisuan-slurm-errors-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slurm");
    std::fs::copy(format!("{examples}/world.toml"), dir.join("world.toml")).unwrap();
    let sites = std::fs::read_to_string(format!("{examples}/sites.toml")).unwrap();
    let sites = sites.replacen("id = \"edwc-qingyang\"\ncapacity = { h800 = 8, h20 = 0", "id = \"edwc-qingyang\"\ncapacity = { h800 = 8, h20 = 8", 1);
    assert!(sites.contains("h20 = 8"));
    std::fs::write(dir.join("sites.toml"), sites).unwrap();
    let clusters: Vec<(String, String)> = [
        format!("edwc-yrd={testbed}/alpha/slurm.conf:no-such-partition"),
        format!("edwc-guian={testbed}/beta/slurm.conf"),
        format!("edwc-qingyang={testbed}/gamma/slurm.conf"),
    ]
    .into_iter()
    .map(|c| ("--slurm".to_string(), c))
    .collect();
    let (_server, c, admin) = start_with("errors", dir.join("world.toml").to_str().unwrap(), &clusters);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/slurm-testbed");
    let job = |id: &str, acc: &str, sites: &[&str]| {
        runs(
            json!({"id": id, "accelerators": [acc], "gpus": 2, "hours": 0.5, "data_site": sites[0], "sites": sites, "deadline_hour": 200, "checkpoint_every_h": 0.25}),
        )
    };
    let part = c.post("/v1/jobs", &job("part", "h800", &["edwc-yrd"]), None).unwrap().1["id"].as_str().unwrap().to_string();
    let gres = c.post("/v1/jobs", &job("gres", "h20", &["edwc-qingyang"]), None).unwrap().1["id"].as_str().unwrap().to_string();
    // Both are refused, each with its site and Slurm's reason.
    let events = until_events(&admin, 60, "two refusals", |ev| ev.iter().filter(|e| e["kind"] == "job_refused").count() >= 2);
    let refusal = |id: &str| {
        events.iter().find(|e| e["kind"] == "job_refused" && e["body"]["id"] == id).unwrap_or_else(|| panic!("{id} not refused: {events:#?}"))["body"]
            .clone()
    };
    let (r1, r2) = (refusal(&part), refusal(&gres));
    assert_eq!(r1["site"], "edwc-yrd");
    assert!(r1["reason"].as_str().unwrap().contains("Invalid partition name"), "{r1}");
    assert_eq!(r2["site"], "edwc-qingyang");
    assert!(r2["reason"].as_str().unwrap().contains("Requested node configuration is not available"), "{r2}");
    // They wait, with the reason, and are not sent back to the clusters that refused them.
    std::thread::sleep(Duration::from_secs_f64(3.0 * HOUR_S));
    for id in [&part, &gres] {
        let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
        assert_eq!(j["state"], "pending", "{j:#}");
        assert!(j["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("refused it (slurm:")), "{j:#}");
        assert_eq!(j["attempts"], 1, "{j:#}");
    }
    // beta's controller stops: its site goes down with Slurm's words; work for it waits.
    assert!(Command::new(script).args(["ctl-down", &testbed, "beta"]).status().unwrap().success());
    let events = until_events(&admin, 60, "edwc-guian down", |ev| ev.iter().any(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-guian"));
    let down = events.iter().find(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-guian").unwrap();
    assert!(down["body"]["reason"].as_str().unwrap().contains("Unable to contact slurm controller"), "{down:#}");
    let ctl = c.post("/v1/jobs", &job("ctl", "h800", &["edwc-guian"]), None).unwrap().1["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs_f64(2.0 * HOUR_S));
    let j = c.get(&format!("/v1/jobs/{ctl}")).unwrap();
    assert_eq!(j["state"], "pending", "{j:#}");
    assert!(j["reasons"].as_array().unwrap().iter().any(|r| r == "edwc-guian: site down"), "{j:#}");
    // The controller comes back: the site is up again and the job runs there to the end.
    assert!(Command::new(script).args(["ctl-up", &testbed, "beta"]).status().unwrap().success());
    assert_eq!(until_completed(&c, &ctl, 90)["site"], "edwc-guian");
    assert!(records(&testbed, &ctl).iter().any(|(cl, r)| cl == "beta" && r["JobState"] == "COMPLETED"));
    // The refused jobs never ran anywhere (Slurm logs a refused submission as FAILED with
    // no nodes), and the server is alive.
    for id in [&part, &gres] {
        let runs = records(&testbed, id);
        assert!(runs.iter().all(|(_, r)| r["NodeList"] == "(null)" && r["JobState"] == "FAILED"), "{id}: {runs:?}");
    }
    assert!(c.get("/readyz").is_ok(), "the server is still up");
}

/// slurmrestd with a JWT that runs out: the site goes down with a reason that says the token
/// expired and how to get a new one; work for it waits; a fresh token in the same file brings the
/// site back and the work runs there.
#[test]
fn an_expired_token_is_said_and_a_fresh_one_brings_the_site_back() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let conf = format!("{testbed}/gamma/slurm.conf");
    let token = |lifespan: u32| {
        let out =
            Command::new("scontrol").args(["token", "username=root", &format!("lifespan={lifespan}")]).env("SLURM_CONF", &conf).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let file = std::env::temp_dir().join(format!("xisuan-slurm-jwt-{}", std::process::id()));
    std::fs::write(&file, token(4)).unwrap();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slurm/world.toml");
    let clusters = vec![
        ("--slurm".to_string(), format!("edwc-yrd={testbed}/alpha/slurm.conf")),
        ("--slurm".to_string(), format!("edwc-guian={testbed}/beta/slurm.conf")),
        ("--slurmrest".to_string(), format!("edwc-qingyang={}", rest("gamma", file.to_str().unwrap()))),
    ];
    let (_server, c, admin) = start_with("token", world, &clusters);
    let events =
        until_events(&admin, 60, "edwc-qingyang down", |ev| ev.iter().any(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-qingyang"));
    let down = events.iter().find(|e| e["kind"] == "site_down").unwrap();
    let reason = down["body"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("edwc-qingyang") && reason.contains("token") && reason.contains("expired") && reason.contains("scontrol token username=root"),
        "{reason}"
    );
    let body = runs(
        json!({"id": "tok", "accelerators": ["h800"], "gpus": 2, "hours": 0.5, "data_site": "edwc-qingyang", "sites": ["edwc-qingyang"], "deadline_hour": 200, "checkpoint_every_h": 0.25}),
    );
    let id = c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_secs_f64(2.0 * HOUR_S));
    let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
    assert_eq!(j["state"], "pending", "{j:#}");
    assert!(j["reasons"].as_array().unwrap().iter().any(|r| r == "edwc-qingyang: site down"), "{j:#}");
    // A fresh token in the same file: the site is back, the job runs there and completes.
    std::fs::write(&file, token(86_400)).unwrap();
    assert_eq!(until_completed(&c, &id, 90)["site"], "edwc-qingyang");
    assert!(records(&testbed, &id).iter().any(|(cl, r)| cl == "gamma" && r["JobState"] == "COMPLETED"));
    let events = admin.get("/v1/events?limit=1000").unwrap()["events"].as_array().unwrap().clone();
    assert!(events.iter().any(|e| e["kind"] == "site_up" && e["body"]["site"] == "edwc-qingyang"));
    let _ = std::fs::remove_file(file);
}

/// A cluster's controller stops answering while our jobs run there: Slurm's nodes may go on
/// running them, so xisuan does not start them elsewhere until the controller answers again and
/// what is left there is cancelled. By Slurm's records, no job ran in two places at once, and
/// every job completed.
/// Fault 5 of issue 23, with a silent controller: the controller is what enforces a job's
/// time limit, so a job may run on its nodes past its limit while the controller is stopped.
/// A job planned for one hour (time limit 2 min) whose first attempt would work for 10 min
/// runs on beta; beta's controller stops 8 s in and stays stopped until the job is 30 s past its
/// limit. All that time the job waits, fenced, and starts nowhere else, whatever the clock says.
/// Once the controller is back it ends the job (TIMEOUT, by Slurm's accounting); only then does
/// attempt 2 start, and by the nodes' own progress lines the two attempts never overlap.
#[test]
fn a_silent_controller_s_jobs_wait_past_their_time_limit_and_never_run_twice_at_once() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, admin) = start(&testbed, "silent");
    let mut body = runs(
        json!({"id": "q0", "accelerators": ["h800"], "gpus": 4, "hours": 1.0, "data_site": "edwc-guian", "sites": ["edwc-guian", "edwc-yrd"], "deadline_hour": 1000, "checkpoint_every_h": 1.0}),
    );
    // Attempt 1 would work for 10 minutes, far past the 2-minute limit Slurm gives a 1-hour
    // job: only Slurm ends it (however slowly the controller comes back on a loaded machine).
    let linger = r#"if [ "$XISUAN_ATTEMPT" = 1 ]; then end=$(( $(date +%s) + 600 )); while [ "$(date +%s)" -lt "$end" ]; do sleep 0.5; echo "$XISUAN_ATTEMPT $XISUAN_SITE $(date +%s.%N)" >> "$TEST_PROGRESS"; done; fi
"#;
    body["command"][2] = json!(format!("{linger}{}", body["command"][2].as_str().unwrap()));
    let id = c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string();
    until_running_at(&c, std::slice::from_ref(&id), "edwc-guian", 60);
    std::thread::sleep(Duration::from_secs(8));
    let limit_s = 60.0 * xisuan_server::slurm::time_limit_min(HOUR_S) as f64;
    assert_eq!(limit_s, 120.0);
    let started = progress("q0")[&1].1;
    testbed_do(&testbed, "ctl-down", "beta");
    until_events(&admin, 60, "edwc-guian down", |ev| ev.iter().any(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-guian"));
    // Past the job's time limit, with Slurm's 30 s KillWait on top: the controller would have
    // ended it by now, but it is not there to; the job still works on its node, and waits.
    while unix_now() < started + limit_s + 30.0 {
        std::thread::sleep(Duration::from_secs(1));
    }
    let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
    assert_eq!((j["state"].as_str(), j["attempts"].as_u64()), (Some("pending"), Some(1)), "{j:#}");
    assert!(j["reasons"][0].as_str().unwrap().contains("may still be running at edwc-guian"), "{j:#}");
    let p = progress("q0");
    assert!(p[&1].2 > started + limit_s + 20.0, "attempt 1 still works past its limit on the node: {p:?}");
    testbed_do(&testbed, "ctl-up", "beta");
    let j = until_completed(&c, &id, 120);
    assert_eq!(j["attempts"], 2, "{j:#}");
    // Slurm's accounting: attempt 1 ended by its time limit, attempt 2 completed (slurmdbd
    // hears of the end a moment after the controller).
    let t0 = Instant::now();
    let mut states: Vec<String> = Vec::new();
    while states.len() < 2 && t0.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(300));
        states = sacct(&testbed, &id).into_iter().map(|r| r.1).collect();
        states.sort();
    }
    assert_eq!(states, ["COMPLETED", "TIMEOUT"], "by sacct");
    let p = progress("q0");
    assert_eq!(p.keys().copied().collect::<Vec<_>>(), [1, 2], "{p:?}");
    assert_never_twice_at_once("q0");
}

/// Runs the testbed script (`scripts/slurm-testbed CMD DIR CLUSTER`).
fn testbed_do(testbed: &str, cmd: &str, cluster: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/slurm-testbed");
    assert!(Command::new(script).args([cmd, testbed, cluster]).status().unwrap().success(), "slurm-testbed {cmd} {cluster}");
}

/// Waits until every one of `ids` is running at `site`.
fn until_running_at(c: &Client, ids: &[String], site: &str, secs: u64) {
    let t0 = Instant::now();
    loop {
        let jobs: Vec<Value> = ids.iter().map(|id| c.get(&format!("/v1/jobs/{id}")).unwrap()).collect();
        if jobs.iter().all(|j| j["state"] == "running" && j["site"] == site) {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(secs), "not all running at {site}: {jobs:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fault 1 and 2 of issue 23: the controller of a site reached through slurmrestd is killed
/// (kill -9) while two jobs run there. slurmrestd then answers HTTP 500 with Slurm's error -1:
/// xisuan counts that as silence and fences both jobs (they start nowhere else, whatever the
/// time). They finish on the nodes while the controller is dead; once it is back (showing them
/// COMPLETING, then COMPLETED) they are credited, never run again: one attempt each, one
/// COMPLETED record each in Slurm's accounting, progress lines from attempt 1 only.
#[test]
fn a_killed_controller_behind_slurmrestd_fences_its_work_and_credits_what_finished() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, admin) = start(&testbed, "rest-kill");
    let mut ids = Vec::new();
    for i in 0..2 {
        let body = runs(
            json!({"id": format!("rk{i}"), "accelerators": ["h800"], "gpus": 4, "hours": 10.0, "data_site": "edwc-qingyang", "sites": ["edwc-qingyang", "edwc-yrd"], "deadline_hour": 100, "checkpoint_every_h": 2.0}),
        );
        ids.push(c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string());
    }
    until_running_at(&c, &ids, "edwc-qingyang", 60);
    // Long enough for the controller to have saved its state (a controller killed within
    // seconds of a submission may lose the job; see the README).
    std::thread::sleep(Duration::from_secs(8));
    testbed_do(&testbed, "ctl-kill", "gamma");
    let ev = until_events(&admin, 60, "edwc-qingyang down", |ev| ev.iter().any(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-qingyang"));
    let down = ev.iter().find(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-qingyang").unwrap();
    assert_eq!(down["body"]["fences"].as_array().map(|f| f.len()), Some(2), "{down:#}");
    // The jobs end on the nodes (20 s of work) while the controller is dead; meanwhile they
    // start nowhere.
    std::thread::sleep(Duration::from_secs(20));
    for id in &ids {
        let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
        assert_eq!((j["state"].as_str(), j["attempts"].as_u64()), (Some("pending"), Some(1)), "{j:#}");
        assert!(j["reasons"][0].as_str().unwrap().contains("may still be running at edwc-qingyang"), "{j:#}");
    }
    testbed_do(&testbed, "ctl-up", "gamma");
    let jobs = until_all_complete(&c, 120);
    for (i, id) in ids.iter().enumerate() {
        let j = jobs.iter().find(|j| j["id"] == id.as_str()).unwrap();
        assert_eq!(j["attempts"], 1, "credited, not run again: {j:#}");
        assert_eq!(sacct(&testbed, id), [("gamma".to_string(), "COMPLETED".to_string())], "{id}");
        let p = progress(&format!("rk{i}"));
        assert_eq!(p.keys().copied().collect::<Vec<_>>(), [1], "{id}: {p:?}");
    }
}

/// Fault 3: `xisuan server` is killed (kill -9) while four jobs run; they finish and Slurm's
/// controller forgets them (`MinJobAge`) before it is started again. The restarted server
/// finds them in Slurm's accounting as completed: credited, nothing run twice.
#[test]
fn a_restart_after_slurm_forgot_finished_work_reruns_nothing() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (mut server, c, _admin) = start(&testbed, "forgot");
    let mut ids = Vec::new();
    for i in 0..4 {
        let body = runs(
            json!({"id": format!("mf{i}"), "accelerators": ["h800"], "gpus": 2, "hours": 2.0, "data_site": "edwc-guian", "sites": ["edwc-guian"], "deadline_hour": 100, "checkpoint_every_h": 1.0}),
        );
        ids.push(c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string());
    }
    until_running_at(&c, &ids, "edwc-guian", 60);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // Until beta's controller no longer lists any of them.
    let t0 = Instant::now();
    loop {
        let out =
            Command::new("squeue").env("SLURM_CONF", format!("{testbed}/beta/slurm.conf")).args(["-h", "-t", "all", "-o", "%j"]).output().unwrap();
        let listed = String::from_utf8_lossy(&out.stdout).lines().filter(|n| ids.iter().any(|id| n.contains(&format!("-{id}-a")))).count();
        if listed == 0 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(150), "Slurm still lists our jobs after 150 s");
        std::thread::sleep(Duration::from_secs(2));
    }
    let dir = std::env::temp_dir().join(format!("xisuan-slurm-test-forgot-{}", std::process::id()));
    let world = std::env::temp_dir().join(format!("xisuan-slurm-world-forgot-{}", std::process::id())).join("world.toml");
    let (_server, url) = serve(&dir, world.to_str().unwrap(), &[("--slurm".to_string(), format!("edwc-guian={testbed}/beta/slurm.conf"))]);
    let c = Client::new(&url, c.token().map(|t| t.to_string()));
    let jobs = until_all_complete(&c, 60);
    for (i, id) in ids.iter().enumerate() {
        let j = jobs.iter().find(|j| j["id"] == id.as_str()).unwrap();
        assert_eq!(j["attempts"], 1, "{j:#}");
        assert_eq!(sacct(&testbed, id), [("beta".to_string(), "COMPLETED".to_string())], "{id}");
        assert_eq!(progress(&format!("mf{i}")).keys().copied().collect::<Vec<_>>(), [1], "{id}");
    }
}

/// Fault 4: both slurmd of a cluster are killed (kill -9) while two jobs run there. The jobs'
/// programs go on running on the nodes; the controller, once it notices the nodes are silent,
/// records a node failure that no node has confirmed. xisuan fences the jobs until the nodes
/// answer again (and have stopped what they ran), then runs them again from their checkpoints.
/// By the progress lines the nodes wrote, no job ran at two places at the same moment.
#[test]
fn dead_slurmd_fence_their_jobs_until_the_nodes_answer() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, admin) = start(&testbed, "slurmd");
    let mut ids = Vec::new();
    for i in 0..2 {
        let body = runs(
            json!({"id": format!("sd{i}"), "accelerators": ["h800"], "gpus": 4, "hours": 30.0, "data_site": "edwc-guian", "sites": ["edwc-guian", "edwc-yrd"], "deadline_hour": 200, "checkpoint_every_h": 2.0}),
        );
        ids.push(c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string());
    }
    until_running_at(&c, &ids, "edwc-guian", 60);
    std::thread::sleep(Duration::from_secs(5));
    testbed_do(&testbed, "slurmd-kill", "beta");
    until_events(&admin, 90, "edwc-guian down", |ev| ev.iter().any(|e| e["kind"] == "site_down" && e["body"]["site"] == "edwc-guian"));
    std::thread::sleep(Duration::from_secs(5));
    for id in &ids {
        let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
        assert_eq!((j["state"].as_str(), j["attempts"].as_u64()), (Some("pending"), Some(1)), "{j:#}");
    }
    testbed_do(&testbed, "slurmd-up", "beta");
    until_all_complete(&c, 240);
    for (i, id) in ids.iter().enumerate() {
        assert_never_twice_at_once(&format!("sd{i}"));
        let done: Vec<(String, String)> = sacct(&testbed, id).into_iter().filter(|r| r.1 == "COMPLETED").collect();
        assert_eq!(done.len(), 1, "{id}: {:?}", sacct(&testbed, id));
    }
}

/// Fault 6: another user's work holds 6 of a cluster's 8 GPUs. xisuan reads that from the
/// cluster (sinfo's GRES in use, less its own work) and does not hand it a 4-GPU job that
/// cannot start there: the job waits, unplaced, and Slurm never sees it, until the other work
/// ends; then it runs there once.
#[test]
fn capacity_others_hold_is_observed_not_assumed() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let (_server, c, _admin) = start(&testbed, "capacity");
    let conf = format!("{testbed}/alpha/slurm.conf");
    let other = |gpus: u32| {
        let out = Command::new("sbatch")
            .env("SLURM_CONF", &conf)
            .args(["--parsable", "-J", "someone-else", "--output=/dev/null", &format!("--gpus=h800:{gpus}"), "-N1", "--wrap", "sleep 300"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let theirs = [other(3), other(3)];
    // Until both run (Slurm's own view of its GRES in use).
    let t0 = Instant::now();
    loop {
        let out = Command::new("squeue").env("SLURM_CONF", &conf).args(["-h", "-t", "R", "-n", "someone-else", "-o", "%i"]).output().unwrap();
        if String::from_utf8_lossy(&out.stdout).lines().count() == 2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "the other user's jobs did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let body = runs(
        json!({"id": "cap0", "accelerators": ["h800"], "gpus": 4, "hours": 2.0, "data_site": "edwc-yrd", "sites": ["edwc-yrd"], "deadline_hour": 100, "checkpoint_every_h": 1.0}),
    );
    let id = c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string();
    // Three planning hours: it is not handed to the cluster that has no room for it.
    std::thread::sleep(Duration::from_secs_f64(3.0 * HOUR_S));
    let j = c.get(&format!("/v1/jobs/{id}")).unwrap();
    assert_eq!((j["state"].as_str(), j["attempts"].as_u64()), (Some("pending"), Some(0)), "{j:#}");
    assert!(sacct_now(&testbed, &id).is_empty(), "Slurm saw it: {:?}", sacct_now(&testbed, &id));
    let out = Command::new("scancel").env("SLURM_CONF", &conf).args(&theirs).output().unwrap();
    assert!(out.status.success());
    let j = until_completed(&c, &id, 90);
    assert_eq!(j["attempts"], 1, "{j:#}");
    assert_eq!(sacct(&testbed, &id), [("alpha".to_string(), "COMPLETED".to_string())]);
}

/// The soak of issue 23: 200 jobs of 1–8 GPUs over the three clusters for about ten minutes,
/// with a controller killed and restarted, both slurmd of another cluster killed and restarted,
/// the slurmrestd site's token expired and renewed, and `xisuan server` killed -9 and restarted,
/// each at a moment drawn from a seeded generator (`XISUAN_SOAK_SEED`, default 23). Every job
/// must complete exactly once by Slurm's accounting, no two attempts of a job may overlap by the
/// progress lines its attempts wrote on the nodes, and the store must still hold all 200.
/// About 12 minutes, so not in `.ci/run`:
/// `cargo test --release -p xisuan --test slurm -- --ignored soak --nocapture`.
#[test]
#[ignore = "a 12-minute soak on the testbed; run it with --ignored"]
fn soak_200_jobs_through_four_faults() {
    let Some((testbed, _one_at_a_time)) = testbed() else { return };
    let seed: u64 = std::env::var("XISUAN_SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(23);
    let mut rng = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |n: u64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    // A job that waits at a cluster a minute past its start is placed again (a node Slurm
    // drains after a controller crash, say).
    let more = [("--pending-limit".to_string(), "60".to_string())];
    let (server, c, _admin) = start_plus(&testbed, "soak", &more);
    let mut server = Some(server);
    let mut names = Vec::new();
    let mut ids = Vec::new();
    let t0 = Instant::now();
    for i in 0..200 {
        let name = format!("soak{i}");
        let gpus = 1 + next(8);
        let hours = 2.0 + next(9) as f64;
        let site = SITES[next(3) as usize].0;
        let body = runs(
            json!({"id": name, "accelerators": ["h800"], "gpus": gpus, "hours": hours, "data_site": site, "deadline_hour": 1000, "checkpoint_every_h": 1.0}),
        );
        ids.push(c.post("/v1/jobs", &body, None).unwrap().1["id"].as_str().unwrap().to_string());
        names.push(name);
    }
    // Four faults, each at a moment drawn in the first eight minutes, in a drawn order.
    let mut faults: Vec<(u64, &str)> =
        vec![(60 + next(420), "controller"), (60 + next(420), "slurmd"), (60 + next(420), "token"), (60 + next(420), "server")];
    faults.sort();
    eprintln!("soak seed {seed}: faults at {faults:?} s");
    let token = format!("{testbed}/gamma/jwt.token");
    let good_token = std::fs::read_to_string(&token).unwrap();
    let dir = std::env::temp_dir().join(format!("xisuan-slurm-test-soak-{}", std::process::id()));
    let world = std::env::temp_dir().join(format!("xisuan-slurm-world-soak-{}", std::process::id())).join("world.toml");
    let mut url = c.base().to_string();
    for (at, what) in &faults {
        while t0.elapsed() < Duration::from_secs(*at) {
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("soak: {what} fault at {:.0} s", t0.elapsed().as_secs_f64());
        match *what {
            "controller" => {
                testbed_do(&testbed, "ctl-kill", "alpha");
                std::thread::sleep(Duration::from_secs(30));
                testbed_do(&testbed, "ctl-up", "alpha");
            }
            "slurmd" => {
                testbed_do(&testbed, "slurmd-kill", "beta");
                std::thread::sleep(Duration::from_secs(40));
                testbed_do(&testbed, "slurmd-up", "beta");
            }
            "token" => {
                let out = Command::new("scontrol")
                    .env("SLURM_CONF", format!("{testbed}/gamma/slurm.conf"))
                    .args(["token", "username=root", "lifespan=1"])
                    .output()
                    .unwrap();
                std::fs::write(&token, &out.stdout).unwrap();
                std::thread::sleep(Duration::from_secs(30));
                std::fs::write(&token, &good_token).unwrap();
            }
            _ => {
                let mut s = server.take().unwrap();
                s.0.kill().unwrap();
                s.0.wait().unwrap();
                std::thread::sleep(Duration::from_secs(15));
                let flags = [
                    ("--slurm".to_string(), format!("edwc-guian={testbed}/beta/slurm.conf")),
                    ("--slurm-account".to_string(), "slurm=xisuan-team".to_string()),
                    more[0].clone(),
                ];
                let (s, u) = serve(&dir, world.to_str().unwrap(), &flags);
                server = Some(s);
                url = u;
            }
        }
    }
    let c = Client::new(&url, c.token().map(|t| t.to_string()));
    let jobs = until_all_complete(&c, 900);
    eprintln!("soak: all {} complete at {:.0} s", jobs.len(), t0.elapsed().as_secs_f64());
    assert_eq!(jobs.len(), 200, "the store lost jobs");
    let out = Command::new("sacct")
        .env("SLURM_CONF", format!("{testbed}/alpha/slurm.conf"))
        .args(["-X", "-n", "-P", "-D", "-S", "2000-01-01", "-M", "alpha,beta,gamma", "-o", "Cluster,JobName,State"])
        .output()
        .unwrap();
    let records = String::from_utf8_lossy(&out.stdout).to_string();
    let attempts: u64 = jobs.iter().map(|j| j["attempts"].as_u64().unwrap()).sum();
    for (id, name) in ids.iter().zip(&names) {
        let done = records.lines().filter(|l| l.contains(&format!("-{id}-a")) && l.ends_with("|COMPLETED")).count();
        assert_eq!(done, 1, "{name} ({id}): {:?}", records.lines().filter(|l| l.contains(id.as_str())).collect::<Vec<_>>());
        assert_never_twice_at_once(name);
    }
    eprintln!("soak: 200 jobs, {attempts} attempts, each COMPLETED once by sacct, no overlap by the progress lines");
}

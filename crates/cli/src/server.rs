//! `xisuan server` and its clients: `xisuan submit`, `xisuan jobs`, `xisuan cancel`. The server
//! is `xisuan_server::serve`; the clients speak its HTTP API with `XISUAN_URL` and
//! `XISUAN_TOKEN` (or `--url` and `--token`).

use crate::output::{human, Table};
use crate::BadInput;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use xisuan_server::client::Client;
use xisuan_server::store::Db;

#[derive(Args)]
#[command(after_help = "Examples:
  XISUAN_ADMIN_TOKEN=secret xisuan server                      # 127.0.0.1:8080, SQLite xisuan.db
  xisuan server --listen 0.0.0.0:9000 --db postgres://user:pw@db/xisuan
  xisuan server --world my-sites.toml --hour-seconds 5         # a planning hour every 5 s (demos, tests)
The first start reads the admin token from XISUAN_ADMIN_TOKEN (or prints one). Create tenants with
POST /v1/tenants; the API is described at /openapi.json, metrics at /metrics.")]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The event store: sqlite:PATH (embedded) or postgres://... (several replicas).
    #[arg(long, default_value = "sqlite:xisuan.db")]
    db: String,
    /// A scenario file whose sites, series, tariffs, costs and objective make the world (its
    /// jobs and services are ignored). Default: the built-in EDWC example's.
    #[arg(long, value_name = "FILE")]
    world: Option<PathBuf>,
    /// Seconds of wall clock per planning hour (3600 = real time).
    #[arg(long, default_value_t = 3600.0)]
    hour_seconds: f64,
    /// Hours planned ahead in each round.
    #[arg(long, default_value_t = 168)]
    horizon_h: u32,
    /// Seconds the planner may spend on one round (10,000 pending jobs take about this long).
    #[arg(long, default_value_t = 1.5)]
    plan_budget: f64,
    /// USD charged for moving planned work in a new round (keeps plans from flapping).
    #[arg(long, default_value_t = 50.0)]
    churn_usd: f64,
    /// Serve the API only; another replica runs the control loop.
    #[arg(long)]
    no_control_loop: bool,
    /// Write a snapshot of the state every this many events, so a restart replays only the
    /// events after it (0: never; the log alone is enough, only slower to replay).
    #[arg(long, default_value_t = 10_000)]
    snapshot_every: u64,
    /// A site run by a real Slurm cluster: SITE=PATH/TO/slurm.conf, or SITE=PATH:PARTITION to
    /// send its jobs to one partition (repeatable). Its dispatched work is submitted with sbatch
    /// and followed with squeue; other sites use the simulated backend. A cluster that refuses a
    /// job (unknown partition, accelerators it lacks) sends that job elsewhere (job_refused); one
    /// whose controller does not answer or has no node up marks its site down. See
    /// scripts/slurm-testbed.
    #[arg(long, value_name = "SITE=SLURM_CONF[:PARTITION]")]
    slurm: Vec<String>,
    /// A site run by a Slurm cluster through slurmrestd:
    /// SITE=URL,token=PATH[,partition=NAME][,version=v0.0.38] (repeatable). PATH holds the JWT
    /// (`scontrol token` output); it is read on every request, so rotate it in place. An expired
    /// token marks the site down, saying so, until the file holds a valid one.
    #[arg(long, value_name = "SITE=URL,token=PATH")]
    slurmrest: Vec<String>,
    /// The Slurm account a tenant's work is charged to on every Slurm site: TENANT=ACCOUNT
    /// (the tenant's name; repeatable). The account must exist in the clusters' accounting
    /// (`sacctmgr add account`) with the submitting user in it. Without it, Slurm's default
    /// account of the user xisuan submits as.
    #[arg(long, value_name = "TENANT=ACCOUNT")]
    slurm_account: Vec<String>,
    /// A site run by a Kubernetes cluster: SITE=URL[,namespace=NS][,queue=Q][,image=IMG] (the
    /// API server over plain HTTP, e.g. `kubectl proxy`; Jobs go through Kueue's LocalQueue Q,
    /// default `xisuan`, `queue=` for none; `image=` is the image for jobs that name none, without
    /// it a job must give its own `image`). Repeatable; or `dispatch = { kind = "kubernetes", url = ... }` in the
    /// world's catalog file.
    #[arg(long, value_name = "SITE=URL,...")]
    kube: Vec<String>,
    /// The storage of a cluster site whose catalog entry names none (`storage = {...}`):
    /// DIR/SITE, a folder the cluster's nodes must see at the same path (default: slurm-jobs in
    /// the working directory). Jobs' inputs, checkpoints, outputs and logs live there.
    #[arg(long, value_name = "DIR")]
    slurm_workdir: Option<PathBuf>,
    /// What each round sees of carbon and prices after the current hour: profile (default) or
    /// seasonal-naive forecasts issued at the round's hour (see `xisuan forecast`), or perfect
    /// (the series themselves: hindsight, for replaying a known period).
    #[arg(long, default_value = "profile", value_name = "MODEL")]
    forecast: String,
    /// Seconds a job handed to a real cluster may wait there (pending for resources, priority
    /// or nodes) past its planned start before xisuan cancels it there, waits for the cluster to
    /// confirm, and places it again with the capacity the clusters report.
    #[arg(long, default_value_t = 1800.0, value_name = "SECONDS")]
    pending_limit: f64,
}

pub fn serve(a: &ServerArgs) -> anyhow::Result<()> {
    use xisuan_model::limits;
    let db = Db::parse(&a.db).map_err(|m| BadInput(format!("--db: {m}")))?;
    limits::positive(a.hour_seconds, 1e6).map_err(|m| BadInput(format!("--hour-seconds: {m}")))?;
    limits::count(a.horizon_h as u64, 1, limits::MAX_HOURS as u64).map_err(|m| BadInput(format!("--horizon-h: {m}")))?;
    limits::positive(a.plan_budget, 3600.0).map_err(|m| BadInput(format!("--plan-budget: {m}")))?;
    limits::positive(a.pending_limit, 1e9).map_err(|m| BadInput(format!("--pending-limit: {m}")))?;
    limits::in_range(a.churn_usd, 0.0, limits::MAX_USD_RATE).map_err(|m| BadInput(format!("--churn-usd: {m}")))?;
    if let Some(w) = &a.world {
        if !w.exists() {
            return Err(BadInput(format!("--world: {}: no such file", w.display())).into());
        }
    }
    let workdir = match &a.slurm_workdir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?.join("slurm-jobs"),
    };
    let mut slurm = xisuan_server::slurm::Slurm::parse(&a.slurm, &a.slurmrest, workdir).map_err(|m| BadInput(format!("--slurm/--slurmrest: {m}")))?;
    for pair in &a.slurm_account {
        let (tenant, account) = pair
            .split_once('=')
            .filter(|(t, a)| !t.is_empty() && !a.is_empty())
            .ok_or_else(|| BadInput(format!("--slurm-account: `{pair}` is not TENANT=ACCOUNT")))?;
        if slurm.accounts.insert(tenant.to_string(), account.to_string()).is_some() {
            return Err(BadInput(format!("--slurm-account: tenant {tenant} is named twice")).into());
        }
    }
    let kube = xisuan_server::k8s::KubeClusters::parse(&a.kube).map_err(|m| BadInput(format!("--kube: {m}")))?;
    let forecast = match a.forecast.as_str() {
        "perfect" => None,
        name => Some(
            xisuan_model::forecast::Model::parse(name)
                .ok_or_else(|| BadInput(format!("--forecast: unknown `{name}` (known: perfect, seasonal-naive, profile)")))?,
        ),
    };
    let config = xisuan_server::Config {
        listen: a.listen.clone(),
        db,
        world: a.world.clone(),
        hour_seconds: a.hour_seconds,
        horizon_h: a.horizon_h,
        plan_budget_s: a.plan_budget,
        pending_limit_s: a.pending_limit,
        metrics_token_sha256: std::env::var("XISUAN_METRICS_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(|t| xisuan_server::api::sha256_hex(&t)),
        churn_usd: a.churn_usd,
        control_loop: !a.no_control_loop,
        snapshot_every: a.snapshot_every,
        slurm,
        kube,
        stores: Default::default(),
        forecast,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(xisuan_server::serve(config))
}

/// Where the server is and who we are.
#[derive(Args, Clone)]
pub struct Remote {
    /// The server (default $XISUAN_URL, else http://127.0.0.1:8080).
    #[arg(long)]
    url: Option<String>,
    /// The tenant's token (default $XISUAN_TOKEN).
    #[arg(long)]
    token: Option<String>,
}

impl Remote {
    pub fn client(&self) -> Client {
        let url = self.url.clone().or_else(|| std::env::var("XISUAN_URL").ok()).unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let token = self.token.clone().or_else(|| std::env::var("XISUAN_TOKEN").ok());
        Client::new(&url, token)
    }
}

#[derive(Args)]
#[command(after_help = "The file holds [[jobs]] and [[services]] entries as in a scenario file (a scenario
file works: its other tables are ignored); times are hours from now. Example:
  [[jobs]]
  id = \"finetune-7b\"
  accelerators = [\"h800\"]
  gpus = 64
  hours = 12
  data_site = \"edwc-yrd\"
  deadline_hour = 48
  # What it runs (without these it is planning-only; see docs/run.md):
  command = [\"python3\", \"inputs/train.py\"]
  inputs = [\"edwc-yrd:datasets/train.npy\"]   # SITE:PATH on that site's storage
  env = { OMP_NUM_THREADS = \"8\" }

  [[services]]
  id = \"chat-yrd\"
  accelerator = \"h20\"
  gpus_per_replica = 8
  replica_rps = 6.0
  slo_ms = 10
  demand = [{ city = \"Shanghai\", peak_rps = 600 }]")]
pub struct SubmitArgs {
    /// TOML file with [[jobs]] and/or [[services]] entries.
    file: PathBuf,
    #[command(flatten)]
    remote: Remote,
    /// Idempotency key prefix: job N is sent with KEY-job-N (service N with KEY-service-N), so
    /// a retried command adds nothing.
    #[arg(long)]
    key: Option<String>,
    /// Print the server's answers as JSON.
    #[arg(long)]
    json: bool,
}

pub fn submit(a: &SubmitArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.file).map_err(|e| BadInput(format!("{}: cannot read: {e}", a.file.display())))?;
    let doc: toml::Value = toml::from_str(&text).map_err(|e| BadInput(format!("{}: {}", a.file.display(), e.message())))?;
    let entries = |key: &str| doc.get(key).and_then(|j| j.as_array()).cloned().unwrap_or_default();
    let (jobs, services) = (entries("jobs"), entries("services"));
    if jobs.is_empty() && services.is_empty() {
        return Err(BadInput(format!("{}: no [[jobs]] or [[services]] entries", a.file.display())).into());
    }
    let client = a.remote.client();
    let mut out = Vec::new();
    let mut t = Table::new(&["kind", "name", "id", "state"]);
    // Jobs go in bulk requests of up to 10,000, each durable in one transaction.
    for (c, chunk) in jobs.chunks(10_000).enumerate() {
        let body = serde_json::json!({ "jobs": chunk });
        let key = a.key.as_ref().map(|k| format!("{k}-jobs-{c}"));
        let (status, v) = client.post("/v1/jobs/bulk", &body, key.as_deref()).map_err(|e| anyhow::anyhow!("{}: {e:#}", a.file.display()))?;
        for (j, s) in chunk.iter().zip(v["jobs"].as_array().cloned().unwrap_or_default()) {
            let name = j.get("id").and_then(|x| x.as_str()).unwrap_or("-").to_string();
            t.row(vec![
                "job".into(),
                name,
                s["id"].as_str().unwrap_or("").into(),
                format!("{}{}", s["state"].as_str().unwrap_or(""), if status == 200 { " (submitted before)" } else { "" }),
            ]);
            out.push(s);
        }
    }
    for (kind, path, list) in [("service", "/v1/services", &services)] {
        for (i, j) in list.iter().enumerate() {
            let body: Value = serde_json::to_value(j)?;
            let key = a.key.as_ref().map(|k| format!("{k}-{kind}-{i}"));
            let (status, v) = client.post(path, &body, key.as_deref()).map_err(|e| anyhow::anyhow!("{}: {kind}s[{i}]: {e:#}", a.file.display()))?;
            let name = j.get("id").and_then(|x| x.as_str()).unwrap_or("-").to_string();
            t.row(vec![
                kind.into(),
                name,
                v["id"].as_str().unwrap_or("").into(),
                format!("{}{}", v["state"].as_str().unwrap_or(""), if status == 200 { " (submitted before)" } else { "" }),
            ]);
            out.push(v);
        }
    }
    if a.json {
        crate::emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))
    } else {
        crate::emit(&format!("Submitted {} job(s) and {} service(s):\n{}", jobs.len(), services.len(), t.render()))
    }
}

/// Every page of a listing.
fn all_pages(client: &Client, path: &str, key: &str) -> anyhow::Result<Vec<Value>> {
    let mut all: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            None => format!("{path}?limit=1000"),
            Some(x) => format!("{path}?limit=1000&after={x}"),
        };
        let v = client.get(&url)?;
        all.extend(v[key].as_array().cloned().unwrap_or_default());
        match v["next"].as_str() {
            Some(n) => after = Some(n.to_string()),
            None => return Ok(all),
        }
    }
}

#[derive(Args)]
pub struct JobsArgs {
    #[command(flatten)]
    remote: Remote,
    #[arg(long)]
    json: bool,
}

pub fn jobs(a: &JobsArgs) -> anyhow::Result<()> {
    let client = a.remote.client();
    let all = all_pages(&client, "/v1/jobs", "jobs")?;
    let services = all_pages(&client, "/v1/services", "services")?;
    if a.json {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&serde_json::json!({ "jobs": all, "services": services }))?));
    }
    let mut t = Table::new(&["id", "name", "state", "accelerators", "site", "start (UTC)", "done/hours", "why (first reason)"]);
    for j in &all {
        let start = j["start_h"].as_f64().map(|h| xisuan_catalog::series::format_hour(h.floor() as i64)).unwrap_or_else(|| "-".into());
        t.row(vec![
            j["id"].as_str().unwrap_or("").into(),
            j["name"].as_str().unwrap_or("-").into(),
            j["state"].as_str().unwrap_or("").into(),
            format!("{} {}", j["gpus"], j["accelerator"].as_str().unwrap_or("")),
            j["site"].as_str().unwrap_or("-").into(),
            start,
            format!("{}/{} h", human(j["done_hours"].as_f64().unwrap_or(0.0)), human(j["hours"].as_f64().unwrap_or(0.0))),
            j["reasons"].get(0).and_then(|r| r.as_str()).unwrap_or("").chars().take(60).collect(),
        ]);
    }
    let mut text = format!("{} job(s)\n{}", all.len(), t.render());
    if !services.is_empty() {
        let mut t = Table::new(&["id", "name", "state", "replicas now (site: replicas x accelerators)", "unmet (rps*h)", "cost over horizon (USD)"]);
        for v in &services {
            let per = v["gpus_per_replica"].as_u64().unwrap_or(0);
            let acc = v["accelerator"].as_str().unwrap_or("");
            let where_: Vec<String> = v["replicas"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| format!("{}: {} x {per} {acc}", r["site"].as_str().unwrap_or(""), r["replicas"]))
                .collect();
            t.row(vec![
                v["id"].as_str().unwrap_or("").into(),
                v["name"].as_str().unwrap_or("-").into(),
                v["state"].as_str().unwrap_or("").into(),
                if where_.is_empty() { "-".into() } else { where_.join(", ") },
                v["unmet_rps_hours"].as_f64().map(human).unwrap_or_else(|| "-".into()),
                v["cost_usd"].as_f64().map(human).unwrap_or_else(|| "-".into()),
            ]);
        }
        text.push_str(&format!("\n{} service(s)\n{}", services.len(), t.render()));
    }
    crate::emit(&text)
}

#[derive(Args)]
pub struct CancelArgs {
    /// The job's or service's id (as `xisuan jobs` shows it).
    id: String,
    #[command(flatten)]
    remote: Remote,
}

pub fn cancel(a: &CancelArgs) -> anyhow::Result<()> {
    let kind = if a.id.starts_with("svc-") { "services" } else { "jobs" };
    let v = a.remote.client().delete(&format!("/v1/{kind}/{}", a.id))?;
    crate::emit(&format!("{} {}\n", v["id"].as_str().unwrap_or(&a.id), v["state"].as_str().unwrap_or("")))
}

#[derive(Args)]
#[command(after_help = "The log is the attempt's stdout and stderr as Slurm wrote it on the site's storage
(xisuan/jobs/JOB/logs/attempt-N.out under the storage's root). Examples:
  xisuan logs job-1a2b3c4d                # the latest attempt
  xisuan logs job-1a2b3c4d --attempt 1    # the first one, wherever it ran
  xisuan logs job-1a2b3c4d --follow       # keep printing until the job is completed or cancelled")]
pub struct LogsArgs {
    /// The job's id (as `xisuan jobs` shows it).
    id: String,
    /// Which attempt (default: the latest).
    #[arg(long)]
    attempt: Option<u32>,
    /// Keep printing what the attempt writes until the job ends (polls once a second).
    #[arg(long)]
    follow: bool,
    #[command(flatten)]
    remote: Remote,
}

pub fn logs(a: &LogsArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let client = a.remote.client();
    let mut offset = 0u64;
    let mut attempt = a.attempt;
    let mut header = true;
    loop {
        let mut path = format!("/v1/jobs/{}/logs?offset={offset}", a.id);
        if let Some(n) = attempt {
            path.push_str(&format!("&attempt={n}"));
        }
        let v = client.get(&path)?;
        if header {
            eprintln!("== {} attempt {} at {} ({}) ==", a.id, v["attempt"], v["site"].as_str().unwrap_or(""), v["state"].as_str().unwrap_or(""));
            header = false;
        }
        attempt = v["attempt"].as_u64().map(|n| n as u32);
        let text = v["text"].as_str().unwrap_or("");
        let mut out = std::io::stdout();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        offset = v["next_offset"].as_u64().unwrap_or(offset);
        let state = v["state"].as_str().unwrap_or("");
        if !a.follow || state == "completed" || state == "cancelled" {
            return Ok(());
        }
        // A newer attempt (the job was re-placed): follow that one.
        if a.attempt.is_none() {
            let latest = v["attempts"].as_object().and_then(|m| m.keys().filter_map(|k| k.parse::<u32>().ok()).max());
            if latest.is_some() && latest != attempt {
                attempt = latest;
                offset = 0;
                header = true;
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[derive(Args)]
pub struct TransfersArgs {
    #[command(flatten)]
    remote: Remote,
    #[arg(long)]
    json: bool,
}

pub fn transfers(a: &TransfersArgs) -> anyhow::Result<()> {
    let v = a.remote.client().get("/v1/transfers")?;
    if a.json {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
    }
    let list = v["transfers"].as_array().cloned().unwrap_or_default();
    let mut t = Table::new(&["transfer", "kind", "from", "to", "state", "moved", "seconds", "rate", "note"]);
    for x in &list {
        t.row(vec![
            x["id"].as_str().unwrap_or("").into(),
            x["kind"].as_str().unwrap_or("").into(),
            x["from_site"].as_str().unwrap_or("").into(),
            x["to_site"].as_str().unwrap_or("").into(),
            format!("{} (try {})", x["state"].as_str().unwrap_or(""), x["tries"]),
            bytes_text(x["bytes_moved"].as_f64().unwrap_or(0.0)),
            format!("{:.1} s", x["seconds"].as_f64().unwrap_or(0.0)),
            x["mb_per_s"].as_f64().map(|r| format!("{}/s", bytes_text(r * 1e6))).unwrap_or_else(|| "-".into()),
            x["note"].as_str().unwrap_or("").chars().take(70).collect(),
        ]);
    }
    crate::emit(&format!("{} transfer(s)\n{}", list.len(), t.render()))
}

/// Bytes with an SI prefix: 14.2 kB, 200.0 MB.
fn bytes_text(b: f64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    units.iter().find(|(u, _)| b >= *u).map(|(u, name)| format!("{:.1} {name}", b / u)).unwrap_or_else(|| format!("{b:.0} B"))
}

/// `xisuan plan --server URL`: the server's latest round.
pub fn remote_plan_with(client: &Client, json: bool) -> anyhow::Result<()> {
    let v = client.get("/v1/plan")?;
    if json {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
    }
    let mut out = String::new();
    outln!(out, "Totals for: {}", v["scope"].as_str().unwrap_or("?"));
    outln!(out, "Round {} at {} by {}: objective {} (bound {}, gap {}), cost {} USD, {} kgCO2e; run now: {} USD, {} kgCO2e; nearest east: {} USD, {} kgCO2e; {:.2} s", v["round"], v["at_h"].as_f64().map(|h| xisuan_catalog::series::format_hour(h.floor() as i64)).unwrap_or_default(), v["solver"].as_str().unwrap_or(""),
        v["objective"].as_f64().map(human).unwrap_or("- (the admin's)".into()), v["bound"].as_f64().map(human).unwrap_or("-".into()), v["gap"].as_f64().map(|g| format!("{:.2}%", g * 100.0)).unwrap_or("unknown".into()),
        human(v["cost_usd"].as_f64().unwrap_or(0.0)), human(v["carbon_kg"].as_f64().unwrap_or(0.0)), v["run_now_cost_usd"].as_f64().map(human).unwrap_or("-".into()), v["run_now_carbon_kg"].as_f64().map(human).unwrap_or("-".into()), v["nearest_east_cost_usd"].as_f64().map(human).unwrap_or("-".into()), v["nearest_east_carbon_kg"].as_f64().map(human).unwrap_or("-".into()), v["seconds"].as_f64().unwrap_or(0.0));
    let mut t = Table::new(&["job", "site", "accelerator", "start (UTC)", "end (UTC)", "cost USD", "kgCO2e"]);
    for p in v["placements"].as_array().into_iter().flatten() {
        let h = |k: &str| p[k].as_f64().map(|h| xisuan_catalog::series::format_hour(h.floor() as i64)).unwrap_or_default();
        t.row(vec![
            p["job"].as_str().unwrap_or("").into(),
            p["site"].as_str().unwrap_or("").into(),
            p["accelerator"].as_str().unwrap_or("").into(),
            h("start_h"),
            h("end_h"),
            human(p["cost_usd"].as_f64().unwrap_or(0.0)),
            human(p["carbon_kg"].as_f64().unwrap_or(0.0)),
        ]);
    }
    out.push_str(&t.render());
    let services = v["services"].as_array().cloned().unwrap_or_default();
    if !services.is_empty() {
        let mut t = Table::new(&["service", "replicas now (site: replicas)", "unmet (rps*h)", "cost USD", "kgCO2e"]);
        for s in &services {
            let where_: Vec<String> = s["replicas"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|r| format!("{}: {}", r["site"].as_str().unwrap_or(""), r["replicas"]))
                .collect();
            t.row(vec![
                s["service"].as_str().unwrap_or("").into(),
                if where_.is_empty() { "-".into() } else { where_.join(", ") },
                human(s["unmet_rps_hours"].as_f64().unwrap_or(0.0)),
                human(s["cost_usd"].as_f64().unwrap_or(0.0)),
                human(s["carbon_kg"].as_f64().unwrap_or(0.0)),
            ]);
        }
        out.push_str(&t.render());
    }
    for u in v["unplaced"].as_array().into_iter().flatten() {
        outln!(
            out,
            "unplaced {}: {}",
            u["job"].as_str().unwrap_or(""),
            u["reasons"].as_array().map(|r| r.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; ")).unwrap_or_default()
        );
    }
    for n in v["notes"].as_array().into_iter().flatten() {
        outln!(out, "note: {}", n.as_str().unwrap_or(""));
    }
    crate::emit(&out)
}

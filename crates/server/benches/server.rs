//! Control-plane throughput on this machine (not a test): accepted submissions per second with
//! durable writes, on SQLite and (with `XISUAN_BENCH_POSTGRES=postgres://...`) PostgreSQL,
//! from concurrent clients on loopback, and 10,000 jobs in one bulk request; and the wall time of
//! one re-planning round with 10,000 pending jobs over the EDWC world. `cargo bench -p xisuan-server --bench server`.

use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use xisuan_control::{self as control, AccOption, Event, JobSpec, State};
use xisuan_server::client::Client;
use xisuan_server::store::Db;

mod common;

fn submissions(db: Db, label: &str) {
    let (url, admin) = common::start(xisuan_server::Config { db, hour_seconds: 3600.0, ..Default::default() });
    let (_, v) = admin.post("/v1/tenants", &json!({"name": "bench"}), None).unwrap();
    let token = Arc::new(v["token"].as_str().unwrap().to_string());
    let (clients, each) = (32, 250);
    let t = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (url, token) = (url.clone(), token.clone());
            std::thread::spawn(move || {
                let client = Client::new(&url, Some(token.to_string()));
                for i in 0..each {
                    let body = json!({"id": format!("b{c}-{i}"), "accelerators": ["h800"], "gpus": 8, "hours": 4, "data_site": "edwc-yrd", "earliest_hour": 200});
                    client.post("/v1/jobs", &body, Some(&format!("b{c}-{i}"))).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let n = clients * each;
    println!("{label}: {n} submissions from {clients} clients in {secs:.2} s = {:.0} accepted/s (each durable before its 201)", n as f64 / secs);
    // 10,000 jobs in one bulk request (POST /v1/jobs/bulk), durable in one transaction.
    let client = Client::new(&url, Some(token.to_string()));
    for run in 0..3 {
        let jobs: Vec<serde_json::Value> = (0..10_000)
            .map(|i| json!({"id": format!("bulk{run}-{i}"), "accelerators": ["h800"], "gpus": 1 + i % 8, "hours": 4, "data_site": "edwc-yrd", "earliest_hour": 200}))
            .collect();
        let t = Instant::now();
        let (status, v) = client.post("/v1/jobs/bulk", &json!({ "jobs": jobs }), Some(&format!("bulk-{run}"))).unwrap();
        assert_eq!((status, v["jobs"].as_array().map(|j| j.len())), (201, Some(10_000)));
        println!("{label}: 10,000 jobs in one bulk request, durable before its 201: {:.2} s", t.elapsed().as_secs_f64());
    }
}

fn replanning_round() {
    let world_text = include_str!("../../../examples/edwc/scenario.toml");
    struct Files;
    impl xisuan_io::scenario::Files for Files {
        fn read(&self, _: &std::path::Path) -> std::io::Result<String> {
            Ok(include_str!("../../../examples/edwc/sites.toml").to_string())
        }
    }
    let sc = xisuan_io::scenario::from_text_with(world_text, "edwc", std::path::Path::new(""), &Files).unwrap();
    let mut world = sc.problem.clone();
    world.jobs.clear();
    world.services.clear();
    world.regions.clear();
    world.latency_ms.clear();
    world.objective.churn_usd = 50.0;
    let h0 = world.start_hour as f64;
    let mut s = State::default();
    s.apply(&Event::TenantCreated { id: "t".into(), name: "t".into(), token_sha256: "x".into(), quota_gpus: None, admin: false, at_h: h0 });
    // XISUAN_BENCH_ROUND_JOBS changes the queue's length (default 10,000).
    let n: usize = std::env::var("XISUAN_BENCH_ROUND_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let mut r = xisuan_plan::synth::Rng::new(10_000);
    let sites = ["edwc-yrd", "edwc-zhangjiakou", "edwc-shaoguan", "edwc-tianfu"];
    for i in 0..n {
        let hours = r.range(1.0, 12.0);
        let earliest = r.range(0.0, 120.0);
        let spec = JobSpec {
            name: None,
            gpus: [8, 16, 32][r.below(3) as usize],
            hours,
            accelerators: vec![AccOption { accelerator: "h800".into(), speed: 1.0, kw_per_gpu: 0.77 }],
            data_site: sites[r.below(4) as usize].into(),
            data_bytes: r.range(0.0, 2e12),
            earliest_h: h0 + earliest,
            deadline_h: Some(h0 + earliest + hours * r.range(1.5, 4.0) + 2.0),
            pausable: r.f64() < 0.2,
            allowed_sites: None,
            checkpoint_every_h: 1.0,
            run: None,
        };
        let e = control::submit(&s, "t", &format!("job-{i:05}"), spec, h0).unwrap();
        s.apply(&e);
    }
    let budget = xisuan_server::Config::default().plan_budget_s;
    for _ in 0..3 {
        let t = Instant::now();
        let events = control::plan_round(&s, &control::RoundInput { world: &world, now_h: h0, baseline: false }, &mut |p| {
            use xisuan_plan::Solver;
            xisuan_milp::auto::Auto { time_budget_s: budget, ..Default::default() }.solve(p).map_err(|e| e.to_string())
        })
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        if let Event::Planned(round) = &events[0] {
            println!(
                "re-planning round, {n} pending jobs x 8 EDWC sites x 168 h (budget {budget} s): {secs:.2} s, {} placed, {} unplaced, gap {}",
                round.placements.len(),
                round.unplaced.len(),
                round.gap.map(|g| format!("{:.2}%", g * 100.0)).unwrap_or("unknown".into())
            );
        }
    }
}

fn main() {
    replanning_round();
    if std::env::var("XISUAN_BENCH_ROUND_ONLY").is_ok() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("xisuan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    submissions(Db::Sqlite(dir.join("bench.db").display().to_string()), "SQLite (WAL, synchronous=FULL)");
    if let Ok(url) = std::env::var("XISUAN_BENCH_POSTGRES") {
        submissions(Db::Postgres(url), "PostgreSQL (synchronous commit)");
    } else {
        println!("PostgreSQL: set XISUAN_BENCH_POSTGRES=postgres://... to measure");
    }
    std::fs::remove_dir_all(&dir).ok();
}

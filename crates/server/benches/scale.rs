//! The control plane with a large queue, on this machine (not a test): a real `xisuan server`
//! (SQLite store, the EDWC world) given 100,000 pending jobs through the bulk endpoint; then the
//! wall time of its planning rounds, `/healthz` latency sampled every 5 ms while they run, and
//! how much the store grows per round when nothing changed (the rounds of later hours, with no
//! submission between them). `cargo bench -p xisuan-server --bench scale`;
//! `XISUAN_BENCH_JOBS` (default 100000), `XISUAN_BENCH_HOUR_S` (wall seconds per planning hour,
//! default 60) and `XISUAN_BENCH_QUIET_ROUNDS` (default 3) change the run; `XISUAN_BENCH_KEEP`
//! keeps the store's file.

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xisuan_server::client::Client;
use xisuan_server::store::Db;

mod common;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The store's bytes on disk: the database and its write-ahead log.
fn store_bytes(db: &std::path::Path) -> u64 {
    ["", "-wal"].iter().map(|s| std::fs::metadata(format!("{}{s}", db.display())).map(|m| m.len()).unwrap_or(0)).sum()
}

/// The bytes of the events recorded after `seq`, and the newest seq (read from the file, as
/// another reader of the store would).
fn events_after(db: &std::path::Path, seq: i64) -> (u64, i64) {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    c.query_row("SELECT coalesce(sum(length(body)), 0), coalesce(max(seq), 0) FROM events WHERE seq > ?1", [seq], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?))
    })
    .unwrap()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn main() {
    let n: usize = env_or("XISUAN_BENCH_JOBS", 100_000);
    let hour_s: f64 = env_or("XISUAN_BENCH_HOUR_S", 60.0);
    let quiet: u64 = env_or("XISUAN_BENCH_QUIET_ROUNDS", 3);
    let dir = std::env::temp_dir().join(format!("xisuan-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_path = dir.join("scale.db");
    let config = xisuan_server::Config { db: Db::Sqlite(db_path.display().to_string()), hour_seconds: hour_s, ..Default::default() };
    let budget = config.plan_budget_s;
    let (url, admin) = common::start(config);
    let t0 = Instant::now();
    let (_, v) = admin.post("/v1/tenants", &json!({"name": "scale"}), None).unwrap();
    let client = Client::new(&url, Some(v["token"].as_str().unwrap().to_string()));

    // /healthz every 5 ms from now on, each latency with the time it was asked.
    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let poller = {
        let (stop, samples, url) = (stop.clone(), samples.clone(), url.clone());
        std::thread::spawn(move || {
            let c = Client::new(&url, None);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = c.get("/healthz").is_ok();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                samples.lock().unwrap().push((t0.elapsed().as_secs_f64(), if ok { ms } else { f64::INFINITY }));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // The queue: jobs of 8, 16 or 32 H800s for 1-12 h, earliest within the week, deadlines
    // 1.5-4 times their length, data at the four eastern hubs (as the round bench's).
    let mut r = xisuan_plan::synth::Rng::new(100_000);
    let sites = ["edwc-yrd", "edwc-zhangjiakou", "edwc-shaoguan", "edwc-tianfu"];
    let t = Instant::now();
    for chunk in 0..n.div_ceil(10_000) {
        let jobs: Vec<serde_json::Value> = (chunk * 10_000..((chunk + 1) * 10_000).min(n))
            .map(|i| {
                let hours = r.range(1.0, 12.0);
                let earliest = r.range(0.0, 120.0);
                let gpus = [8, 16, 32][r.below(3) as usize];
                json!({"id": format!("job-{i:06}"), "accelerators": ["h800"], "gpus": gpus, "hours": hours,
                       "data_site": sites[r.below(4) as usize], "data_tb": r.range(0.0, 2.0), "earliest_hour": earliest,
                       "deadline_hour": earliest + hours * r.range(1.5, 4.0) + 2.0, "pausable": r.f64() < 0.2})
            })
            .collect();
        let (status, v) = client.post("/v1/jobs/bulk", &json!({ "jobs": jobs }), Some(&format!("chunk-{chunk}"))).unwrap();
        assert_eq!(status, 201, "{v}");
    }
    println!("{n} jobs submitted in {} bulk requests of up to 10,000: {:.2} s", n.div_ceil(10_000), t.elapsed().as_secs_f64());

    // The rounds, read from the store as another reader would (asking the server for a
    // 100,000-placement plan would itself load it): the first plans the whole queue; the later
    // ones come with new hours, nothing submitted or changed between them.
    let c = rusqlite::Connection::open_with_flags(&db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut checked = 0i64;
    // The rounds that follow the last submission (a round may start while they come in).
    let (_, submitted) = events_after(&db_path, 0);
    let mut next_round = || -> (i64, i64, f64, i64, i64) {
        let t = Instant::now();
        loop {
            let mut q = c.prepare("SELECT seq, body LIKE '{\"kind\":\"planned\"%' FROM events WHERE seq > ?1 ORDER BY seq").unwrap();
            let rows: Vec<(i64, bool)> = q.query_map([checked], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect();
            for (seq, planned) in rows {
                checked = seq;
                let seen = || -> i64 {
                    c.query_row("SELECT json_extract(body, '$.seen_events') FROM events WHERE seq = ?1", [seq], |r| r.get::<_, Option<i64>>(0))
                        .unwrap()
                        .unwrap_or(0)
                };
                if planned && seen() >= submitted {
                    return c
                        .query_row(
                            "SELECT seq, json_extract(body, '$.round'), json_extract(body, '$.seconds'), json_array_length(body, '$.placements'), json_array_length(body, '$.unplaced') FROM events WHERE seq = ?1",
                            [seq],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                        )
                        .unwrap();
                }
            }
            assert!(t.elapsed().as_secs_f64() < 10.0 * hour_s + 600.0, "no round");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let mut rounds = Vec::new();
    let (_, round, secs, placed, unplaced) = next_round();
    println!(
        "round {round} (the first to see the whole queue, budget {budget} s): {secs:.2} s wall, {placed} placements, {unplaced} unplaced recorded"
    );
    rounds.push(secs);
    // Let the first round's writes settle (dispatches of work due now), then measure.
    std::thread::sleep(Duration::from_secs(2));
    let (_, mut seq) = events_after(&db_path, 0);
    let mut bytes = store_bytes(&db_path);
    let mut growth = Vec::new();
    for _ in 0..quiet {
        let (_, round, secs, placed, unplaced) = next_round();
        std::thread::sleep(Duration::from_secs(2));
        let (event_bytes, s) = events_after(&db_path, seq);
        let now = store_bytes(&db_path);
        println!(
            "round {round} (nothing changed): {secs:.2} s wall, {placed} placements and {unplaced} unplaced recorded; {} events = {:.3} MB recorded, store on disk {:+.3} MB",
            s - seq,
            event_bytes as f64 / 1e6,
            (now as f64 - bytes as f64) / 1e6
        );
        rounds.push(secs);
        growth.push(event_bytes as f64 / 1e6);
        seq = s;
        bytes = now;
    }
    stop.store(true, Ordering::Relaxed);
    poller.join().unwrap();
    let mut ms: Vec<f64> = samples.lock().unwrap().iter().map(|s| s.1).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "/healthz during the run ({} requests, every 5 ms): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().unwrap()
    );
    println!(
        "rounds: slowest {:.2} s wall; store growth per quiet round: largest {:.3} MB of events",
        rounds.iter().cloned().fold(0.0, f64::max),
        growth.iter().cloned().fold(0.0, f64::max)
    );
    if std::env::var("XISUAN_BENCH_KEEP").is_ok() {
        println!("the store is kept: {}", db_path.display());
    } else {
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! `xisuan plan` end to end on the example scenarios: complete plans with baselines and bounds,
//! infeasible work reported with reasons (and `--strict`), and scenario errors that name the
//! file, the line and the field.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn xisuan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xisuan")).current_dir(root()).args(args).output().expect("run xisuan")
}

fn plan_json(args: &[&str]) -> Value {
    let out = xisuan(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn the_edwc_example_plans_every_job_and_service_against_its_baselines() {
    let v = plan_json(&["plan", "examples/edwc/scenario.toml", "--solver", "heuristic", "--json"]);
    let plan = &v["plan"];
    let jobs = plan["jobs"].as_array().unwrap();
    assert!(jobs.len() >= 200, "{} jobs", jobs.len());
    assert_eq!(plan["unplaced"].as_array().unwrap().len(), 0);
    assert_eq!(plan["services"].as_array().unwrap().len(), 10);
    assert_eq!(plan["totals"]["unmet_rps_hours"].as_f64(), Some(0.0));
    let names: Vec<&str> = plan["baselines"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["nearest-east", "cheapest", "greenest", "run-now"]);
    // Every job explains every other site.
    for j in jobs {
        assert_eq!(j["rejected"].as_array().unwrap().len(), 7, "{}", j["job"]);
    }
    // The objective is above each lower bound, and the LP bound is reported.
    let obj = plan["totals"]["objective"].as_f64().unwrap();
    let bounds = plan["bounds"].as_array().unwrap();
    assert!(bounds.iter().any(|b| b["kind"] == "lp_relaxation"));
    for b in bounds {
        assert!(b["value"].as_f64().unwrap() <= obj);
    }
    assert!(plan["gap"].as_f64().unwrap() < 0.05);
    // Latency-bound services stay near their users: chat-yrd (10 ms) never runs in the west.
    let chat = plan["services"].as_array().unwrap().iter().find(|s| s["service"] == "chat-yrd").unwrap();
    for slot in chat["slots"].as_array().unwrap() {
        let site = slot["site"].as_str().unwrap();
        assert!(["edwc-yrd"].contains(&site), "chat-yrd served from {site}");
    }
}

#[test]
fn an_infeasible_scenario_names_each_job_and_reason_and_strict_exits_3() {
    let out = xisuan(&["plan", "examples/infeasible.toml", "--solver", "heuristic", "--strict"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (job, why) in
        [("too-tight", "deadline"), ("too-big", "capacity 2048 < 8192"), ("wrong-chip", "no b200 here"), ("resident-and-late", "data residency")]
    {
        let at = stdout.find(&format!("  {job}:")).unwrap_or_else(|| panic!("{job} not reported:\n{stdout}"));
        assert!(stdout[at..].contains(why), "{job}: {why}");
    }
    assert!(stdout.contains("latency from Frankfurt"), "{stdout}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Without --strict the same plan exits 0.
    assert_eq!(xisuan(&["plan", "examples/infeasible.toml", "--solver", "heuristic"]).status.code(), Some(0));
}

#[test]
fn scenario_errors_name_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("xisuan-scn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("unknown.toml", "[scenario]\nname = \"x\"\nstart = \"2023-01-01T00:00:00Z\"\nhours = 24\ncolour = 3\n", "unknown.toml:5:", "colour"),
        ("badacc.toml", "[scenario]\nname = \"x\"\nstart = \"2023-01-01T00:00:00Z\"\nhours = 24\n[catalog]\nsites = [\"edwc-yrd\"]\n\n[[jobs]]\nid = \"a\"\naccelerators = [\"x100\"]\ngpus = 8\nhours = 2\ndata_site = \"edwc-yrd\"\n", "badacc.toml:8:", "jobs[0].accelerators"),
        ("badstart.toml", "[scenario]\nname = \"x\"\nstart = \"yesterday\"\nhours = 24\n", "badstart.toml:3:", "scenario.start"),
        ("badtier.toml", "[scenario]\nname = \"x\"\nstart = \"2023-01-01T00:00:00Z\"\nhours = 24\n[catalog]\nsites = [\"edwc-yrd\"]\n\n[market]\nreserved_usd_per_gpu_hour = 1.0\nsource = \"s\"\n[[market.pools]]\nsite = \"edwc-yrd\"\naccelerator = \"h800\"\ntier = \"reserved\"\ncount = 8\nusd_per_gpu_hour = 2.0\n", "badtier.toml:8:", "market.pools[0].tier"),
        ("badspot.toml", "[scenario]\nname = \"x\"\nstart = \"2023-01-01T00:00:00Z\"\nhours = 24\n[catalog]\nsites = [\"edwc-yrd\"]\n\n[market]\nreserved_usd_per_gpu_hour = 1.0\nsource = \"s\"\n[market.spot.h800]\ninterruptions_per_hour = nan\nrestart_h = 0.1\nsource = \"s\"\n", "badspot.toml:8:", "market.spot.h800.interruptions_per_hour"),
        ("badckpt.toml", "[scenario]\nname = \"x\"\nstart = \"2023-01-01T00:00:00Z\"\nhours = 24\n[catalog]\nsites = [\"edwc-yrd\"]\n\n[[jobs]]\nid = \"a\"\naccelerators = [\"h800\"]\ngpus = 8\nhours = 2\ndata_site = \"edwc-yrd\"\ncheckpoint_every_h = -1\n", "badckpt.toml:8:", "jobs[0].checkpoint_every_h"),
    ];
    for (name, text, at, field) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = xisuan(&["plan", path.to_str().unwrap(), "--solver", "heuristic"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(at) && err.contains(field), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_milp_is_within_1_percent_of_its_bound_on_a_small_edwc_scenario() {
    let dir = std::env::temp_dir().join(format!("xisuan-milp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let overlay = root().join("examples/edwc/sites.toml");
    let text = format!(
        "[scenario]\nname = \"small\"\nstart = \"2023-07-03T00:00:00+08:00\"\nhours = 48\n\
         [catalog]\noverlay = \"{}\"\nsites = [\"edwc-yrd\", \"edwc-tianfu\", \"edwc-guian\", \"edwc-zhongwei\"]\n\
         [objective]\ncarbon_usd_per_t = 10.0\n\
         [[job_batches]]\ncount = 30\nseed = 9\nid_prefix = \"j\"\naccelerators = [\"h800\"]\ngpus = [64, 256, 512]\n\
         hours = [2.0, 16.0]\ndata_sites = [\"edwc-yrd\"]\ndata_tb = [0.1, 5.0]\nearliest_hour = [0, 24]\nslack = [1.5, 3.0]\npausable_share = 0.3\n\
         [[services]]\nid = \"chat\"\naccelerator = \"h20\"\ngpus_per_replica = 8\nreplica_rps = 6.0\nslo_ms = 10\ndemand = [{{ city = \"Shanghai\", peak_rps = 100 }}]\n",
        overlay.display()
    );
    let path = dir.join("small.toml");
    std::fs::write(&path, text).unwrap();
    let v = plan_json(&["plan", path.to_str().unwrap(), "--json", "--time-limit", "60"]);
    let gap = v["plan"]["gap"].as_f64().unwrap();
    assert!(gap < 0.01, "gap {gap}: {}", v["plan"]["notes"]);
    let h = plan_json(&["plan", path.to_str().unwrap(), "--json", "--solver", "heuristic"]);
    let (m, hh) = (v["plan"]["totals"]["objective"].as_f64().unwrap(), h["plan"]["totals"]["objective"].as_f64().unwrap());
    assert!(hh <= m * 1.05, "heuristic {hh} vs milp {m}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The compute market example (issue 13, must-show 1): each tier mix planned and replayed
/// against seeded spot interruptions. Mixing in spot capacity costs less than buying every hour
/// on demand, with at most 1% of jobs late; the same seed gives the same replay.
#[test]
fn mixing_tiers_costs_less_than_on_demand_only_with_few_deadline_misses() {
    let args = ["plan", "examples/market/scenario.toml", "--replay-market", "50", "--seed", "3", "--json"];
    let v = plan_json(&args);
    let rows = v["market_replay"].as_array().unwrap();
    let row = |mix: &str| rows.iter().find(|r| r["mix"] == mix).unwrap().clone();
    let total = |mix: &str| row(mix)["total_usd"].as_f64().unwrap();
    let od = total("on-demand only");
    for mix in ["on-demand + spot", "reserved + on-demand + spot"] {
        let r = row(mix);
        assert_eq!(r["placed"], r["jobs"], "{mix}: every job placed");
        assert!(total(mix) < od, "{mix}: {} vs on-demand only {od}", total(mix));
        assert!(r["replay"]["spot_jobs"].as_u64().unwrap() > 0, "{mix}: some work on spot");
        assert!(r["replay"]["deadline_miss_pct"].as_f64().unwrap() <= 1.0, "{mix}: {}", r["replay"]);
    }
    // Without spot, nothing is interrupted and the replay costs what was planned.
    let r = row("reserved + on-demand");
    assert_eq!(r["replay"]["interruptions"], 0.0);
    assert!((r["replay"]["cost_usd"].as_f64().unwrap() - r["planned_usd"].as_f64().unwrap()).abs() < 1e-6);
    // Every job on a bought tier names it; the same seed replays the same.
    assert!(v["plan"]["jobs"].as_array().unwrap().iter().any(|j| j["accelerator"].as_str().unwrap().contains('@')));
    assert_eq!(plan_json(&args)["market_replay"], v["market_replay"]);
    // Asking for a replay of a scenario without a market is an error naming the flag.
    let out = xisuan(&["plan", "examples/edwc/scenario.toml", "--replay-market", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replay-market"));
}

//! Entry points for the fuzzer (`fuzz/`, cargo fuzz) and for the test that replays its corpus
//! (`tests/fuzz_corpus.rs`): one function per parser and loader, taking raw bytes. A function
//! returns normally for any input, accepted or rejected; a panic, an abort or an allocation
//! beyond the fuzzer's limit is a bug. What is accepted is also pushed on to the code that
//! computes with it (the planner on a loaded scenario, the simulator on a trace), so that a
//! value validation let through cannot crash what comes after, and the plan's invariants and
//! finite totals are asserted.

use crate::scenario::Files;
use std::path::Path;
use xisuan_catalog::{Catalog, SeriesKind};
use xisuan_plan::heuristic::Heuristic;
use xisuan_plan::Solver;

/// The names of the targets, in the order of `run`.
pub const TARGETS: &[&str] = &["scenario", "overlay", "series", "trace_gaia", "trace_alibaba", "trace_csv", "trace_azure"];

/// Runs target `name` on `data`; unknown names panic (a bug in the caller).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "scenario" => scenario(data),
        "overlay" => overlay(data),
        "series" => series(data),
        "trace_gaia" => trace(data, crate::trace::TraceFormat::Gaia),
        "trace_alibaba" => trace(data, crate::trace::TraceFormat::AlibabaPod),
        "trace_csv" => trace(data, crate::trace::TraceFormat::Csv),
        "trace_azure" => trace_azure(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// Files a fuzzed scenario may name: the EDWC overlay and two small series, from memory.
struct MemFiles;

const OVERLAY: &str = include_str!("../../../examples/edwc/sites.toml");
const CARBON: &str =
    "timestamp,zone,value\n2023-07-03 00:00:00,US-CAL-CISO,250\n2023-07-03 01:00:00,US-CAL-CISO,240\n2023-07-03 02:00:00,US-CAL-CISO,\n";
const PRICE: &str = "timestamp,zone,value\n2023-07-03 00:00:00,US-CAL-CISO,40\n2023-07-03 01:00:00,US-CAL-CISO,-15\n";

impl Files for MemFiles {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        match name {
            "sites.toml" => Ok(OVERLAY.to_string()),
            "carbon.csv" => Ok(CARBON.to_string()),
            "price.csv" => Ok(PRICE.to_string()),
            _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the fuzzer's files")),
        }
    }
}

fn text(data: &[u8]) -> Option<&str> {
    // Inputs this large only slow the fuzzer down; the readers take any size.
    if data.len() > 64 * 1024 {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// Scenario TOML to a validated `Problem`, then (when small) a plan whose invariants hold and
/// whose totals are finite and non-negative.
pub fn scenario(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let Ok(sc) = crate::scenario::from_text_with(t, "fuzz.toml", Path::new("fuzz"), &MemFiles) else { return };
    let p = &sc.problem;
    p.validate().expect("a loaded scenario is valid");
    let size = p.slots as usize * (p.jobs.len() + p.services.len() * p.regions.len().max(1)) * p.sites.len();
    if size > 200_000 {
        return;
    }
    let plan = Heuristic::default().solve(p).expect("a valid problem solves");
    let violations = xisuan_plan::check::check(p, &plan);
    assert!(violations.is_empty(), "plan breaks its invariants: {violations:?}");
    let t = &plan.totals;
    for (name, v) in
        [("cost", t.cost_usd), ("carbon", t.carbon_kg), ("energy", t.energy_kwh), ("objective", t.objective), ("unmet", t.unmet_rps_hours)]
    {
        assert!(v.is_finite() && v >= -1e-6, "{name} total {v}");
    }
    if let Some(b) = plan.best_bound() {
        assert!(b.value <= t.objective * (1.0 + 1e-9) + 1e-6, "bound {} above objective {}", b.value, t.objective);
    }
}

/// A catalog overlay merged over the built-in catalog.
pub fn overlay(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let mut c = Catalog::builtin();
    let _ = c.merge_toml(t, "fuzz.toml");
}

/// A series file (wide or long, told apart by the header), read as carbon and as prices, then
/// turned into a site's hourly rates.
pub fn series(data: &[u8]) {
    let Some(t) = text(data) else { return };
    for kind in [SeriesKind::Carbon, SeriesKind::Price] {
        let mut c = Catalog::builtin();
        if c.add_series_text(t, "fuzz.csv", kind, Some("US-CAL-CISO")).is_ok() {
            let site = c.site("aws-us-west-1").or_else(|| c.sites.first()).expect("built-in sites").clone();
            let h = xisuan_catalog::hourly::site_hours(&c, &site, 467_000, 48);
            assert!(h.kg_per_kwh.iter().chain(&h.usd_per_kwh).all(|v| v.is_finite()));
        }
    }
}

/// A job trace in one format; when accepted, its first jobs run in a small simulated world.
fn trace(data: &[u8], format: crate::trace::TraceFormat) {
    use xisuan_sim::{build_jobs, Defaults, JobSpec, LinkSpec, PlannerSettings, Rng, RunOptions, SiteSpec, World};
    let Some(t) = text(data) else { return };
    let Ok(tr) = crate::trace::parse_jobs(t, "fuzz.csv", Some(format), crate::trace::TimeUnit::Auto) else { return };
    let hours = 48u32;
    let specs: Vec<JobSpec> = tr
        .jobs
        .iter()
        .filter(|j| j.arrival_h < hours as f64)
        .take(50)
        .map(|j| JobSpec {
            id: j.id.clone(),
            arrival_h: j.arrival_h,
            duration_h: j.duration_h,
            gpus: j.gpus,
            home: None,
            data_bytes: j.data_gb.map(|g| g * 1e9),
            deadline_h: j.deadline_h,
            pausable: j.pausable,
        })
        .collect();
    if specs.is_empty() {
        return;
    }
    let site = |i: usize| SiteSpec {
        id: format!("s{i}"),
        capacity: 8,
        pue: 1.2,
        usd_per_gpu_hour: 0.1,
        kg_per_kwh: (0..hours).map(|h| 0.2 + 0.1 * ((h + i as u32) % 24) as f64 / 24.0).collect(),
        usd_per_kwh: vec![0.08; hours as usize],
        inference_gpus: vec![],
    };
    let link = LinkSpec { gbps: 10.0, efficiency: 0.8, usd_per_gb: 0.02 };
    let world = World {
        sites: vec![site(0), site(1)],
        links: vec![vec![link; 2]; 2],
        kw_per_gpu: 0.7,
        hours,
        start_hour: 0,
        resume_overhead_h: 0.05,
        past: Vec::new(),
    };
    let jobs = build_jobs(&specs, 2, &Defaults::default(), &mut Rng::new(0));
    for name in ["run-now", "planner", "oracle"] {
        let mut p = xisuan_sim::policy_by_name(name, &world, &jobs, PlannerSettings::default()).expect("known policy");
        let r = xisuan_sim::simulate(&world, &jobs, p.as_mut(), RunOptions::default(), &mut |_, _| {}).expect("a valid world runs");
        assert!(r.metrics.carbon_kg.is_finite() && r.metrics.cost_usd.is_finite());
    }
}

/// The Azure LLM inference layout (hourly demand).
pub fn trace_azure(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let _ = crate::trace::parse_azure_llm(t, "fuzz.csv");
}

//! Benchmark: GAIA's pai-100k trace (99,998 jobs over one year, hours) on 16 regions — one
//! per zone of the green-dcc 2023 hourly files — over all 8,760 hours of 2023, under every
//! policy. Prints wall time per policy and in total; the target is at most 10 s for the lot
//! on a 2-core machine. Run with `cargo bench -p xisuan-sim --bench pai100k`.
//!
//! The data is read in place from `shared/data` (never copied). Site parameters are the same
//! for every region so that only the grids differ: 1,024 accelerators (the catalog's
//! illustrative default), PUE 1.2, 0.7 kW per accelerator, links of 10 Gbit/s at 0.8
//! efficiency and 0.02 USD/GB; a zone without a price series pays 0.1 USD/kWh.

use std::time::Instant;
use xisuan_catalog::series::{parse_auto, parse_timestamp};
use xisuan_catalog::SeriesKind;
use xisuan_io::trace::{read_jobs, TimeUnit, TraceFormat};
use xisuan_sim::*;

fn main() {
    let dir = xisuan_io::shared_data_dir().expect("shared/data not found (set XISUAN_DATA_DIR)");
    let t0 = Instant::now();
    let trace = read_jobs(&dir.join("gaia_job_traces/pai-100k.csv"), Some(TraceFormat::Gaia), TimeUnit::Auto).expect("trace");
    let read_trace = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let ci_path = dir.join("green_dcc/wide_2023_hourly_ci_lca_gco2_per_kwh.csv");
    let price_path = dir.join("green_dcc/wide_2023_hourly_price_usd_per_mwh.csv");
    let ci = parse_auto(&std::fs::read_to_string(&ci_path).unwrap(), "ci", SeriesKind::Carbon, None).unwrap();
    let price = parse_auto(&std::fs::read_to_string(&price_path).unwrap(), "price", SeriesKind::Price, None).unwrap();
    let start = parse_timestamp("2023-01-01 00:00:00").unwrap() / 3600;
    let hours = 8760usize;
    let values = |s: &xisuan_catalog::HourlySeries| -> Vec<f64> {
        let mean = s.mean().unwrap_or(0.0);
        (0..hours as i64).map(|i| s.get(start + i).unwrap_or(mean) / 1000.0).collect()
    };
    let sites: Vec<SiteSpec> = ci
        .series
        .iter()
        .map(|c| SiteSpec {
            id: c.zone.clone(),
            capacity: 1024,
            pue: 1.2,
            usd_per_gpu_hour: 0.0,
            kg_per_kwh: values(c),
            usd_per_kwh: price.series.iter().find(|p| p.zone == c.zone).map(values).unwrap_or_else(|| vec![0.1; hours]),
            inference_gpus: vec![],
        })
        .collect();
    let n = sites.len();
    let link = LinkSpec { gbps: 10.0, efficiency: 0.8, usd_per_gb: 0.02 };
    let mut world = World {
        sites,
        links: vec![vec![link; n]; n],
        kw_per_gpu: 0.7,
        hours: hours as u32,
        start_hour: start,
        resume_overhead_h: 0.05,
        past: Vec::new(),
    };
    let specs: Vec<JobSpec> = trace
        .jobs
        .iter()
        .map(|j| JobSpec { id: j.id.clone(), arrival_h: j.arrival_h, duration_h: j.duration_h, gpus: j.gpus, ..Default::default() })
        .collect();
    let jobs = build_jobs(&specs, n, &Defaults::default(), &mut Rng::new(0));
    // Jobs that arrive late in December may run into 2024: read 2023 again from January.
    let reach = jobs.iter().map(|j| j.deadline_h).fold(0.0, f64::max);
    world.extend_to(reach.ceil() as u32 + 1);
    let build_world = t1.elapsed().as_secs_f64();

    println!(
        "pai-100k: {} jobs, {} regions, {} h of 2023 (+{} h read again from January for late jobs)",
        jobs.len(),
        n,
        hours,
        world.hours as usize - hours
    );
    println!("read trace: {read_trace:.3} s; read series and build world: {build_world:.3} s");
    println!("{:<17} {:>10} {:>12} {:>14} {:>16} {:>14}", "policy", "wall (s)", "events", "events/s", "carbon (tCO2e)", "wait mean (h)");
    let mut total = 0.0;
    for name in POLICIES {
        let mut p = policy_by_name(name, &world, &jobs, PlannerSettings::default()).unwrap();
        let t = Instant::now();
        let r = simulate(&world, &jobs, p.as_mut(), RunOptions::default(), &mut |_, _| {}).unwrap();
        let wall = t.elapsed().as_secs_f64();
        total += wall;
        let m = &r.metrics;
        println!(
            "{:<17} {:>10.3} {:>12} {:>14.0} {:>16.2} {:>14.3}",
            name,
            wall,
            m.events,
            m.events as f64 / wall,
            m.carbon_kg / 1000.0,
            m.wait_h.mean
        );
    }
    let all = t0.elapsed().as_secs_f64();
    println!("all {} policies: {total:.3} s simulating; {all:.3} s including reading the trace and series (target: 10 s)", POLICIES.len());
}

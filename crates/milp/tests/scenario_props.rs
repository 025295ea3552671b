//! Property: any scenario file that loads gives a plan whose totals are finite and not
//! negative, whose objective is at least every bound it reports, and whose invariants hold,
//! from the heuristic and from the MILP. Scenarios are drawn as TOML text with every number
//! taken from a pool that includes the values users get wrong (NaN, infinities, negatives,
//! zero, huge), so that most are rejected by validation and the rest are planned.

use proptest::prelude::*;
use std::path::Path;
use xisuan_io::scenario::{from_text_with, Files};
use xisuan_milp::{heuristic_with_lp_bound, Milp};
use xisuan_plan::check::check;
use xisuan_plan::heuristic::Heuristic;
use xisuan_plan::{Plan, Solver};

struct Overlay;
impl Files for Overlay {
    fn read(&self, _: &Path) -> std::io::Result<String> {
        Ok(include_str!("../../../examples/edwc/sites.toml").to_string())
    }
}

/// A float as TOML: mostly in range, sometimes what users get wrong.
fn float(lo: f64, hi: f64) -> impl Strategy<Value = String> {
    prop_oneof![
        40 => (lo..hi).prop_map(|v| format!("{v:?}")),
        1 => prop::sample::select(vec!["nan", "inf", "-inf", "-1.0", "0.0", "1e300", "-0.0", "1e-300"]).prop_map(String::from),
    ]
}

/// An integer as TOML: mostly in range, sometimes zero, negative or past u32.
fn int(lo: i64, hi: i64) -> impl Strategy<Value = String> {
    prop_oneof![
        40 => (lo..hi).prop_map(|v| v.to_string()),
        1 => prop::sample::select(vec!["0", "-1", "4294967296", "4294967295", "1000000000"]).prop_map(String::from),
    ]
}

#[allow(clippy::too_many_arguments)]
fn scenario_text(
    hours: String,
    weights: (String, String, String),
    job: (String, String, String, String, String, bool),
    batch: (String, String, String, String, String),
    service: (String, String, String, String),
) -> String {
    let (cost_w, carbon, delay) = weights;
    let (gpus, jhours, data_tb, earliest, deadline, pausable) = job;
    let (count, bh, slack, btb, bearliest) = batch;
    let (rps, peak, slo, gpr) = service;
    format!(
        r#"[scenario]
name = "prop"
start = "2023-07-03T00:00:00Z"
hours = {hours}
[catalog]
overlay = "sites.toml"
sites = ["edwc-yrd", "edwc-zhongwei", "edwc-guian"]
[objective]
cost_weight = {cost_w}
carbon_usd_per_t = {carbon}
delay_usd_per_hour = {delay}
[[jobs]]
id = "j"
accelerators = ["h800", "h20"]
gpus = {gpus}
hours = {jhours}
data_site = "edwc-yrd"
data_tb = {data_tb}
earliest_hour = {earliest}
deadline_hour = {deadline}
pausable = {pausable}
[[job_batches]]
count = {count}
seed = 7
id_prefix = "b"
accelerators = ["h800"]
gpus = [8, 64, 512]
hours = [1.0, {bh}]
data_sites = ["edwc-yrd", "edwc-guian"]
data_tb = [0.0, {btb}]
earliest_hour = [0, {bearliest}]
slack = [1.0, {slack}]
pausable_share = 0.4
[[services]]
id = "chat"
accelerator = "h20"
gpus_per_replica = {gpr}
replica_rps = {rps}
slo_ms = {slo}
demand = [{{ city = "Shanghai", peak_rps = {peak} }}, {{ city = "Chengdu", peak_rps = 20 }}]
"#
    )
}

fn assert_sound(p: &xisuan_plan::Problem, plan: &Plan) -> Result<(), TestCaseError> {
    let v = check(p, plan);
    prop_assert!(v.is_empty(), "{v:#?}");
    let t = &plan.totals;
    for (name, x) in [
        ("cost", t.cost_usd),
        ("electricity", t.electricity_usd),
        ("carbon", t.carbon_kg),
        ("energy", t.energy_kwh),
        ("objective", t.objective),
        ("unmet", t.unmet_rps_hours),
        ("transfer", t.transfer_usd),
    ] {
        prop_assert!(x.is_finite() && x >= -1e-6, "{name} total {x}");
    }
    for b in &plan.bounds {
        prop_assert!(b.value.is_finite(), "bound {} not finite", b.kind);
        prop_assert!(b.value <= t.objective * (1.0 + 1e-7) + 1e-6, "{} bound {} above objective {}", b.kind, b.value, t.objective);
    }
    if let Some(g) = plan.gap {
        prop_assert!(g.is_finite() && g >= -1e-9, "gap {g}");
    }
    Ok(())
}

/// Scenarios that loaded (the rest were rejected by validation), printed with --nocapture.
static LOADED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MILPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(8), ..ProptestConfig::default() })]

    #[test]
    fn a_scenario_that_loads_plans_to_finite_totals_above_its_bound(
        hours in int(1, 60),
        weights in (float(0.0, 3.0), float(0.0, 500.0), float(0.0, 50.0)),
        job in (int(1, 1200), float(0.1, 40.0), float(0.0, 60.0), int(0, 40), int(1, 80), any::<bool>()),
        batch in (int(0, 12), float(1.0, 30.0), float(1.0, 6.0), float(0.0, 20.0), int(0, 40)),
        service in (float(0.5, 30.0), float(0.0, 600.0), float(1.0, 60.0), int(1, 16)),
    ) {
        let text = scenario_text(hours, weights, job, batch, service);
        let Ok(sc) = from_text_with(&text, "prop.toml", Path::new("."), &Overlay) else { return Ok(()) };
        LOADED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = &sc.problem;
        let h = heuristic_with_lp_bound(p, &Heuristic::default(), &Milp::default(), 50_000).unwrap();
        assert_sound(p, &h)?;
        if p.slots <= 30 && p.jobs.len() <= 14 {
            MILPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let m = Milp { time_limit_s: 5.0, ..Milp::default() }.solve(p).unwrap();
            assert_sound(p, &m)?;
        }
        eprintln!("loaded and planned: {}, also by the MILP: {}", LOADED.load(std::sync::atomic::Ordering::Relaxed), MILPS.load(std::sync::atomic::Ordering::Relaxed));
    }
}

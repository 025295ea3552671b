//! Invariants of the simulator over random worlds and traces (proptest): no site ever runs
//! more accelerators than it has, every job completes or is reported, the oracle emits no
//! more than any policy for every job that policy ran within its window, the planner's jobs
//! never queue, and the same inputs give the same bytes.

use proptest::prelude::*;
use xisuan_sim::Rng as SplitMix;
use xisuan_sim::*;

/// A random world and trace from a seed, drawn with the crate's own SplitMix64.
fn case(seed: u64, n_sites: usize, n_jobs: usize, inference: bool) -> (World, Vec<Job>) {
    let mut r = SplitMix::new(seed);
    let hours = 72u32;
    let sites: Vec<SiteSpec> = (0..n_sites)
        .map(|i| {
            let level = r.range(0.02, 0.9);
            let swing = r.range(0.0, 0.8);
            let phase = r.range(0.0, 24.0);
            SiteSpec {
                id: format!("s{i}"),
                capacity: 1 + r.below(12) as u32,
                pue: r.range(1.05, 1.6),
                usd_per_gpu_hour: r.range(0.0, 0.5),
                kg_per_kwh: (0..hours).map(|t| level * (1.0 + swing * ((t as f64 + phase) / 24.0 * std::f64::consts::TAU).sin())).collect(),
                usd_per_kwh: (0..hours).map(|_| r.range(-0.01, 0.3)).collect(),
                inference_gpus: if inference && i == 0 { (0..24).map(|_| r.below(4) as u32).collect() } else { vec![] },
            }
        })
        .collect();
    let links = (0..n_sites)
        .map(|_| (0..n_sites).map(|_| LinkSpec { gbps: r.range(0.1, 10.0), efficiency: 0.8, usd_per_gb: r.range(0.0, 0.1) }).collect())
        .collect();
    let world = World { sites, links, kw_per_gpu: 0.7, hours, start_hour: 0, resume_overhead_h: r.range(0.0, 0.2), past: Vec::new() };
    let specs: Vec<JobSpec> = (0..n_jobs)
        .map(|i| JobSpec {
            id: format!("j{i}"),
            arrival_h: r.range(0.0, 30.0),
            duration_h: r.range(0.05, 6.0),
            gpus: 1 + r.below(10) as u32,
            home: None,
            data_bytes: Some(if r.f64() < 0.5 { 0.0 } else { r.range(1e9, 5e11) }),
            deadline_h: None,
            pausable: Some(r.f64() < 0.3),
        })
        .collect();
    let jobs = build_jobs(&specs, n_sites, &Defaults::default(), &mut r);
    (world, jobs)
}

fn run(world: &World, jobs: &[Job], name: &str) -> RunResult {
    let mut p = policy_by_name(name, world, jobs, PlannerSettings::default()).unwrap();
    simulate(world, jobs, p.as_mut(), RunOptions { hourly: true, ..Default::default() }, &mut |_, _| {}).unwrap()
}

/// Peak concurrent accelerators at each site, from every run interval.
fn peak_use(world: &World, jobs: &[Job], r: &RunResult) -> Vec<u32> {
    let mut peaks = vec![0u32; world.sites.len()];
    for (s, peak) in peaks.iter_mut().enumerate() {
        let mut ev: Vec<(f64, i64)> = Vec::new();
        for (j, o) in jobs.iter().zip(&r.outcomes) {
            if o.site == Some(s) {
                for &(a, b) in &o.runs {
                    ev.push((a, j.gpus as i64));
                    ev.push((b, -(j.gpus as i64)));
                }
            }
        }
        // Ends before starts at the same instant: a job may start as another ends.
        ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut cur = 0i64;
        for (_, d) in ev {
            cur += d;
            *peak = (*peak).max(cur as u32);
        }
    }
    peaks
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(20261127), ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_every_policy(seed in any::<u64>(), n_sites in 1usize..5, n_jobs in 1usize..40, inference in any::<bool>()) {
        let (world, jobs) = case(seed, n_sites, n_jobs, inference);
        let oracle = run(&world, &jobs, "oracle");
        for name in POLICIES.iter().filter(|p| **p != "oracle") {
            let r = run(&world, &jobs, name);
            let m = &r.metrics;
            // Every job completes or is reported.
            prop_assert_eq!(m.completed + m.unplaceable + m.unfinished, jobs.len());
            if !inference {
                // Without inference reservations nothing can block a FIFO queue for ever.
                prop_assert_eq!(m.unfinished, 0, "{}", name);
            }
            // Capacity is never exceeded.
            for (s, peak) in peak_use(&world, &jobs, &r).into_iter().enumerate() {
                prop_assert!(peak <= world.sites[s].capacity, "{name}: site {s} ran {peak} > {}", world.sites[s].capacity);
            }
            // The oracle is a lower bound on each job run inside its window.
            for (j, (o, b)) in jobs.iter().zip(r.outcomes.iter().zip(&oracle.outcomes)) {
                if o.completed && o.end_h <= j.deadline_h + 1e-9 {
                    prop_assert!(b.kg <= o.kg + 1e-9 * (1.0 + o.kg), "{name}: job {} oracle {} > {}", j.id, b.kg, o.kg);
                }
            }
            if m.deadline_misses == 0 && m.unplaceable == 0 && m.unfinished == 0 {
                prop_assert!(oracle.metrics.carbon_kg <= m.carbon_kg + 1e-9 * (1.0 + m.carbon_kg));
            }
            if *name == "planner" && !inference {
                // The planner starts what it reserved: its jobs never wait in a site queue.
                prop_assert!(m.queue_h.max < 1e-9, "planner queued {} h", m.queue_h.max);
            }
        }
    }

    #[test]
    fn same_inputs_same_bytes(seed in any::<u64>()) {
        let (world, jobs) = case(seed, 3, 25, true);
        for name in POLICIES {
            let a = run(&world, &jobs, name);
            let b = run(&world, &jobs, name);
            let bytes = |r: &RunResult| serde_json::to_string(&(&r.metrics, &r.outcomes, &r.busy_hourly)).unwrap();
            prop_assert_eq!(bytes(&a), bytes(&b));
        }
    }
}

/// A worked example: one site, two 1-accelerator jobs that both want its single accelerator.
#[test]
fn fifo_queue_delays_the_second_job() {
    let world = World {
        sites: vec![SiteSpec {
            id: "a".into(),
            capacity: 1,
            pue: 1.0,
            usd_per_gpu_hour: 0.0,
            kg_per_kwh: vec![0.5; 10],
            usd_per_kwh: vec![0.1; 10],
            inference_gpus: vec![],
        }],
        links: vec![vec![LinkSpec { gbps: 1.0, efficiency: 1.0, usd_per_gb: 0.0 }]],
        kw_per_gpu: 1.0,
        hours: 10,
        start_hour: 0,
        resume_overhead_h: 0.0,
        past: Vec::new(),
    };
    let job = |id: &str, arrival_h: f64| Job {
        id: id.into(),
        arrival_h,
        duration_h: 2.0,
        gpus: 1,
        home: 0,
        data_bytes: 0.0,
        deadline_h: 3.0,
        pausable: false,
    };
    let jobs = vec![job("x", 0.0), job("y", 0.5)];
    let r = run(&world, &jobs, "run-now");
    // y waits from 0.5 h until x ends at 2 h: 1.5 h queued, ends at 4 h, past its 3 h deadline.
    assert_eq!(r.outcomes[1].queue_h, 1.5);
    assert_eq!(r.outcomes[1].end_h, 4.0);
    assert_eq!(r.metrics.deadline_misses, 1);
    // 2 jobs × 2 h × 1 kW × 0.5 kg/kWh = 2 kg; × 0.1 USD/kWh = 0.4 USD.
    assert!((r.metrics.carbon_kg - 2.0).abs() < 1e-12 && (r.metrics.cost_usd - 0.4).abs() < 1e-12);
}

/// A job placed away from its data waits for the transfer: 450 GB over 1 Gbit/s at full
/// efficiency takes 450e9 × 8 / 1e9 / 3600 = 1 h; a second transfer on the link queues.
#[test]
fn transfers_queue_on_their_link() {
    let site = |id: &str, kg: f64| SiteSpec {
        id: id.into(),
        capacity: 8,
        pue: 1.0,
        usd_per_gpu_hour: 0.0,
        kg_per_kwh: vec![kg; 48],
        usd_per_kwh: vec![0.0; 48],
        inference_gpus: vec![],
    };
    let l = LinkSpec { gbps: 1.0, efficiency: 1.0, usd_per_gb: 0.01 };
    let world = World {
        sites: vec![site("dirty", 0.9), site("clean", 0.1)],
        links: vec![vec![l; 2]; 2],
        kw_per_gpu: 1.0,
        hours: 48,
        start_hour: 0,
        resume_overhead_h: 0.0,
        past: Vec::new(),
    };
    let job =
        |id: &str| Job { id: id.into(), arrival_h: 0.0, duration_h: 1.0, gpus: 1, home: 0, data_bytes: 450e9, deadline_h: 10.0, pausable: false };
    let jobs = vec![job("a"), job("b")];
    let r = run(&world, &jobs, "greenest");
    assert!((r.outcomes[0].start_h - 1.0).abs() < 1e-9);
    assert!((r.outcomes[1].start_h - 2.0).abs() < 1e-9);
    assert!((r.metrics.transfer_usd - 9.0).abs() < 1e-9, "2 × 450 GB × 0.01 USD/GB");
    assert_eq!(r.metrics.bytes_moved, 900e9);
}

/// A pausable job under Let's Wait Awhile runs in its two cleanest hours and pays the resume.
#[test]
fn suspend_and_resume_costs_the_overhead() {
    let kg = vec![0.9, 0.1, 0.9, 0.1, 0.9, 0.9];
    let world = World {
        sites: vec![SiteSpec {
            id: "a".into(),
            capacity: 1,
            pue: 1.0,
            usd_per_gpu_hour: 0.0,
            usd_per_kwh: vec![0.0; 6],
            kg_per_kwh: kg,
            inference_gpus: vec![],
        }],
        links: vec![vec![LinkSpec { gbps: 1.0, efficiency: 1.0, usd_per_gb: 0.0 }]],
        kw_per_gpu: 1.0,
        hours: 6,
        start_hour: 0,
        resume_overhead_h: 0.25,
        past: Vec::new(),
    };
    let jobs = vec![Job { id: "p".into(), arrival_h: 0.0, duration_h: 2.0, gpus: 1, home: 0, data_bytes: 0.0, deadline_h: 5.0, pausable: true }];
    let r = run(&world, &jobs, "lets-wait-awhile");
    let o = &r.outcomes[0];
    // Hours 1 and 3 (0.1 each); the resume at 3 runs 1.25 h: 0.1 + 0.25 × 0.1... + 0.25 h into hour 4 at 0.9.
    assert_eq!(o.runs, vec![(1.0, 2.0), (3.0, 4.25)]);
    assert_eq!(o.resumes, 1);
    assert!((o.kg - (0.1 + 0.1 + 0.25 * 0.9)).abs() < 1e-12);
    let b = run(&world, &jobs, "oracle");
    assert!((b.outcomes[0].kg - 0.2).abs() < 1e-12, "the bound pays no resume");
}

/// The planner pauses a pausable job when its cleanest hours are apart and the resume costs
/// less than the dirty hour it skips: 2 h of work over rates 0.9, 0.1, 0.9, 0.1, 0.9 (kg/kWh).
#[test]
fn planner_suspends_when_it_pays() {
    let kg = vec![0.9, 0.1, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9];
    let world = World {
        sites: vec![SiteSpec {
            id: "a".into(),
            capacity: 1,
            pue: 1.0,
            usd_per_gpu_hour: 0.0,
            usd_per_kwh: vec![0.0; 8],
            kg_per_kwh: kg,
            inference_gpus: vec![],
        }],
        links: vec![vec![LinkSpec { gbps: 1.0, efficiency: 1.0, usd_per_gb: 0.0 }]],
        kw_per_gpu: 1.0,
        hours: 8,
        start_hour: 0,
        resume_overhead_h: 0.1,
        past: Vec::new(),
    };
    let job = |pausable| Job { id: "p".into(), arrival_h: 0.0, duration_h: 2.0, gpus: 1, home: 0, data_bytes: 0.0, deadline_h: 5.0, pausable };
    let settings = PlannerSettings { carbon_usd_per_t: 1000.0, delay_usd_per_gpu_hour: 0.0, ticks_per_hour: 12 };
    let run = |pausable| {
        let jobs = vec![job(pausable)];
        let mut p = Planner::new(&world, settings);
        simulate(&world, &jobs, &mut p, RunOptions::default(), &mut |_, _| {}).unwrap()
    };
    // Paused: hours 1 and 3, the resume's 0.1 h spills into hour 4 at 0.9: 0.1 + 0.1 + 0.09.
    let paused = run(true);
    assert_eq!(paused.outcomes[0].runs, vec![(1.0, 2.0), (3.0, 4.1)]);
    assert!((paused.metrics.carbon_kg - 0.29).abs() < 1e-9);
    // In one piece the best is 1 h of 0.1 and 1 h of 0.9 = 1.0 kg.
    let whole = run(false);
    assert!((whole.metrics.carbon_kg - 1.0).abs() < 1e-9);
    assert_eq!(paused.metrics.queue_h.max, 0.0);
}

/// With `RunOptions::forecast`, policies decide from a forecast issued at the arrival's hour:
/// whatever the series hold after the last arrival's hour cannot change a decision (with
/// perfect foresight it does), every run is charged the actual series, and the oracle, a
/// bound, still sees the actual series.
#[test]
fn forecasts_read_nothing_after_their_issue_hour_and_runs_pay_the_actual_series() {
    let (world, jobs) = case(11, 3, 30, false);
    let last_arrival = jobs.iter().map(|j| j.arrival_h).fold(0.0, f64::max).floor() as usize;
    // The same world with every hour after the last arrival's hour changed.
    let mut later = world.clone();
    for s in &mut later.sites {
        for (t, v) in s.kg_per_kwh.iter_mut().enumerate().skip(last_arrival + 1) {
            *v = if t % 2 == 0 { 0.01 } else { 2.0 };
        }
    }
    let go = |w: &World, name: &str, forecast: Option<xisuan_model::forecast::Model>| {
        let mut p = policy_by_name(name, w, &jobs, PlannerSettings::default()).unwrap();
        simulate(w, &jobs, p.as_mut(), RunOptions { forecast, ..Default::default() }, &mut |_, _| {}).unwrap()
    };
    let decisions = |r: &RunResult| r.outcomes.iter().map(|o| (o.site, o.start_h)).collect::<Vec<_>>();
    let mut changed_with_foresight = false;
    for name in ["planner", "lets-wait-awhile", "gaia"] {
        for model in xisuan_model::forecast::Model::ALL {
            let (a, b) = (go(&world, name, Some(model)), go(&later, name, Some(model)));
            assert_eq!(decisions(&a), decisions(&b), "{name} with {model:?} forecasts");
            // Charged the actual series: the same decisions cost the carbon of each world.
            let kg = |w: &World, r: &RunResult| -> f64 {
                r.outcomes
                    .iter()
                    .zip(&jobs)
                    .map(|(o, j)| {
                        o.runs
                            .iter()
                            .map(|&(s, e)| {
                                Curve::new(&w.sites[o.site.unwrap()].kg_per_kwh, w.sites[o.site.unwrap()].pue).integral(s, e)
                                    * j.gpus as f64
                                    * w.kw_per_gpu
                            })
                            .sum::<f64>()
                    })
                    .sum()
            };
            assert!(
                (a.metrics.carbon_kg - kg(&world, &a)).abs() < 1e-6 * a.metrics.carbon_kg.max(1.0),
                "{name}: {} vs {}",
                a.metrics.carbon_kg,
                kg(&world, &a)
            );
        }
        changed_with_foresight |= decisions(&go(&world, name, None)) != decisions(&go(&later, name, None));
    }
    assert!(changed_with_foresight, "the test world must be one where the future matters to some policy");
    // The oracle sees the actual series either way.
    let model = Some(xisuan_model::forecast::Model::Profile);
    assert_eq!(decisions(&go(&world, "oracle", model)), decisions(&go(&world, "oracle", None)));
}

//! Synthetic problems from a seed, for property tests and benchmarks. Sites get diurnal price
//! and carbon curves with different phases and levels (a solar-heavy grid is cleanest at noon,
//! a coal-heavy one flat and dirty), so time shifting and site choice both matter.
//!
//! The generator takes its seed as an argument (SplitMix64); there is no global RNG.

use crate::problem::*;

/// SplitMix64: a small, well-known generator (Steele et al. 2014), enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Sizes of a synthetic problem.
#[derive(Debug, Clone)]
pub struct Shape {
    pub sites: usize,
    pub slots: u32,
    pub jobs: usize,
    pub services: usize,
    pub regions: usize,
    /// Accelerators per site, before scaling by the site's random size.
    pub capacity: u32,
    /// Share of jobs that may pause.
    pub pausable_share: f64,
}

pub fn synthetic(seed: u64, shape: &Shape) -> Problem {
    let mut r = Rng::new(seed);
    let accs = ["h100", "a100-80gb"];
    let slots = shape.slots as usize;
    let mut sites = Vec::new();
    for s in 0..shape.sites {
        let level = r.range(0.05, 0.8);
        let solar = r.range(0.0, 0.6);
        let price = r.range(0.04, 0.2);
        let phase = r.range(0.0, 24.0);
        let usd: Vec<f64> = (0..slots).map(|t| price * (1.0 + 0.3 * ((t as f64 + phase) / 24.0 * std::f64::consts::TAU).sin())).collect();
        let kg: Vec<f64> = (0..slots)
            .map(|t| {
                let hour = (t as f64 + phase) % 24.0;
                let sun = if (7.0..19.0).contains(&hour) { ((hour - 7.0) / 12.0 * std::f64::consts::PI).sin() } else { 0.0 };
                (level * (1.0 - solar * sun)).max(0.01)
            })
            .collect();
        let size = r.range(0.3, 1.5);
        let mut capacity = vec![(accs[0].to_string(), (shape.capacity as f64 * size) as u32)];
        if r.f64() < 0.6 {
            capacity.push((accs[1].to_string(), (shape.capacity as f64 * size * 0.5) as u32));
        }
        sites.push(Site {
            id: format!("site-{s}"),
            name: format!("Site {s}"),
            east: s % 2 == 0,
            capacity,
            usd_per_kwh: usd,
            kg_per_kwh: kg,
            pue: r.range(1.1, 1.5),
            usd_per_gpu_hour: vec![(accs[0].into(), r.range(0.5, 1.5)), (accs[1].into(), r.range(0.3, 1.0))],
            lat: r.range(20.0, 50.0),
            lon: r.range(90.0, 125.0),
        });
    }
    let n = sites.len();
    let links =
        (0..n).map(|_| (0..n).map(|_| Link { gbps: r.range(10.0, 100.0), efficiency: 0.8, usd_per_gb: r.range(0.0, 0.05) }).collect()).collect();
    let regions: Vec<Region> =
        (0..shape.regions).map(|g| Region { name: format!("region-{g}"), lat: r.range(20.0, 50.0), lon: r.range(90.0, 125.0) }).collect();
    let latency_ms = (0..regions.len()).map(|_| (0..n).map(|_| r.range(1.0, 60.0)).collect()).collect();
    let mut jobs = Vec::new();
    for i in 0..shape.jobs {
        let hours = r.range(1.0, (slots as f64 / 4.0).max(2.0));
        let earliest = r.below((slots as f64 * 0.5) as u64) as u32;
        let slack = r.range(1.0, 4.0);
        let deadline = ((earliest as f64 + hours * slack + 2.0).ceil() as u32).min(shape.slots);
        let mut accelerators = vec![AcceleratorOption { accelerator: accs[0].into(), speed: 1.0, kw_per_gpu: 0.77 }];
        if r.f64() < 0.5 {
            accelerators.push(AcceleratorOption { accelerator: accs[1].into(), speed: 0.35, kw_per_gpu: 0.44 });
        }
        jobs.push(Job {
            id: format!("job-{i}"),
            gpus: 8 * (1 + r.below(8) as u32),
            hours,
            accelerators,
            data_site: r.below(n as u64) as usize,
            data_bytes: r.range(0.0, 20e12),
            earliest,
            deadline,
            pausable: r.f64() < shape.pausable_share,
            allowed_sites: if r.f64() < 0.1 { Some(vec![r.below(n as u64) as usize]) } else { None },
            previous: None,
            data_at: Vec::new(),
        });
    }
    let services = (0..shape.services)
        .map(|i| Service {
            id: format!("svc-{i}"),
            accelerator: accs[0].into(),
            gpus_per_replica: 8,
            replica_rps: r.range(2.0, 10.0),
            kw_per_gpu: 0.77,
            slo_ms: r.range(10.0, 50.0),
            demand: (0..regions.len())
                .map(|_| {
                    let base = r.range(0.0, 30.0);
                    (0..slots).map(|t| base * (1.0 + 0.5 * (t as f64 / 24.0 * std::f64::consts::TAU).sin())).collect()
                })
                .collect(),
            allowed_sites: None,
        })
        .collect();
    Problem {
        slots: shape.slots,
        start_hour: 0,
        sites,
        jobs,
        services,
        regions,
        links,
        latency_ms,
        objective: Objective { carbon_usd_per_t: 100.0, delay_usd_per_hour: 1.0, ..Objective::default() },
    }
}

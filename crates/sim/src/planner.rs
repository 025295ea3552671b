//! The `planner` policy: the planner's online mode (`xisuan_plan::online`) inside the
//! simulator. At each arrival it scores every (site, start) within the job's window by the
//! planner's objective — electricity and accelerator-hour cost, egress, carbon priced in USD
//! per tonne, and a delay penalty per accelerator-hour of waiting — and takes the best one
//! whose window is still free in its capacity calendar, then reserves it. Because it reserves
//! what it starts, its jobs never queue at a site.
//!
//! The calendar counts accelerators per site in ticks of `1 / ticks_per_hour` hours, rounding
//! every reservation outwards, so the calendar never promises what the site does not have.
//! Inference reservations come off the calendar first.
//!
//! A pausable job may instead run in its cheapest free one-hour slots at one site, each resume
//! paying the world's overhead, when that scores better than its best single run. A job that
//! fits nowhere before its deadline goes to the (site, start) that finishes first in the
//! calendar, which grows past the end of the series for it (a deadline miss, reported).

use crate::policy::{Decision, Policy, View};
use crate::world::{Job, World};
use xisuan_plan::online::{Choice, Online, Request};
use xisuan_plan::{Link, Objective, Problem, Site};

const ACC: &str = "accelerator";

/// The planner's knobs, all stated in reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannerSettings {
    /// Carbon price, USD per tonne CO2e.
    pub carbon_usd_per_t: f64,
    /// Penalty per accelerator-hour a job starts later than its arrival, USD.
    pub delay_usd_per_gpu_hour: f64,
    /// Resolution of the capacity calendar.
    pub ticks_per_hour: u32,
}

impl Default for PlannerSettings {
    fn default() -> Self {
        PlannerSettings { carbon_usd_per_t: 190.0, delay_usd_per_gpu_hour: 0.1, ticks_per_hour: 12 }
    }
}

/// The online planner as a simulation policy.
pub struct Planner {
    online: Online,
    settings: PlannerSettings,
    /// free[site][tick]: accelerators not yet reserved.
    free: Vec<Vec<u32>>,
    buf: Vec<Choice>,
    link_wait: Vec<f64>,
    /// Capacity and inference reservations per site, to grow the calendar past the series.
    capacity: Vec<u32>,
    inference: Vec<Vec<u32>>,
    /// The forecast issue hour the planner's rates come from (`None`: the actual series).
    issued_h: Option<u32>,
}

impl Planner {
    pub fn new(world: &World, settings: PlannerSettings) -> Planner {
        let t = settings.ticks_per_hour.max(1);
        let ticks = world.hours as usize * t as usize;
        let free = world
            .sites
            .iter()
            .map(|s| {
                (0..ticks)
                    .map(|k| {
                        let h = k / t as usize;
                        let inf = if s.inference_gpus.is_empty() { 0 } else { s.inference_gpus[h % s.inference_gpus.len()] };
                        s.capacity.saturating_sub(inf)
                    })
                    .collect()
            })
            .collect();
        let settings = PlannerSettings { ticks_per_hour: t, ..settings };
        let kg: Vec<Vec<f64>> = world.sites.iter().map(|s| s.kg_per_kwh.clone()).collect();
        let usd: Vec<Vec<f64>> = world.sites.iter().map(|s| s.usd_per_kwh.clone()).collect();
        Planner {
            online: Online::new(problem(world, &settings, &kg, &usd)),
            issued_h: None,
            settings,
            free,
            buf: Vec::new(),
            link_wait: vec![0.0; world.sites.len()],
            capacity: world.sites.iter().map(|s| s.capacity).collect(),
            inference: world.sites.iter().map(|s| s.inference_gpus.clone()).collect(),
        }
    }

    /// Extends a site's calendar to `ticks` (free beyond the series, less inference).
    fn grow(&mut self, site: usize, ticks: usize) {
        let t = self.settings.ticks_per_hour as usize;
        let (cap, inf) = (self.capacity[site], &self.inference[site]);
        let f = &mut self.free[site];
        while f.len() < ticks {
            let h = f.len() / t;
            f.push(cap.saturating_sub(if inf.is_empty() { 0 } else { inf[h % inf.len()] }));
        }
    }

    fn ticks(&self, start: f64, end: f64) -> (usize, usize) {
        let t = self.settings.ticks_per_hour as f64;
        let a = (start * t + 1e-9).floor().max(0.0) as usize;
        let b = ((end * t - 1e-9).ceil() as usize).max(a + 1);
        (a, b)
    }

    fn fits(&self, site: usize, start: f64, end: f64, gpus: u32) -> bool {
        let (a, b) = self.ticks(start, end);
        let f = &self.free[site];
        b <= f.len() && f[a..b].iter().all(|&x| x >= gpus)
    }

    fn take(&mut self, site: usize, start: f64, end: f64, gpus: u32) {
        let (a, b) = self.ticks(start, end);
        self.grow(site, b);
        for x in &mut self.free[site][a..b] {
            *x -= gpus;
        }
    }

    /// The (site, start) that finishes first in the calendar, from when the data can be there.
    /// The calendar grows past the series as needed: after its last reservation only
    /// inference is left, whose pattern repeats, so the search ends.
    fn earliest_finish(&mut self, v: &View, job: &Job) -> Option<(usize, f64)> {
        let t = self.settings.ticks_per_hour as f64;
        let mut best: Option<(f64, usize, f64)> = None;
        for s in 0..v.world.sites.len() {
            let inf = &self.inference[s];
            if self.capacity[s].saturating_sub(inf.iter().copied().min().unwrap_or(0)) < job.gpus {
                continue;
            }
            let mut start = v.transfer_ready(job, s);
            let limit = self.free[s].len() as f64 / t + job.duration_h + inf.len() as f64 + 2.0;
            self.grow(s, ((limit + job.duration_h + 1.0) * t) as usize);
            while start <= limit {
                if self.fits(s, start, start + job.duration_h, job.gpus) {
                    let end = start + job.duration_h;
                    if best.is_none_or(|b| end < b.0 - 1e-9) {
                        best = Some((end, s, start));
                    }
                    break;
                }
                start = ((start * t).floor() + 1.0) / t;
            }
        }
        best.map(|b| (b.1, b.2))
    }
}

impl Planner {
    /// The best suspend-and-resume plan of a pausable job: at each site, the job's hours go
    /// to the free one-hour slots (aligned to when its data is there) with the lowest score
    /// per kW, in time order, the last one partial; each resume adds the world's overhead.
    /// Scored with the same `Objective::score` (cost, carbon, delay to the last end).
    fn best_paused(&self, v: &View, job: &Job) -> Option<(f64, Decision)> {
        let p = self.online.problem();
        let obj = &p.objective;
        let kw = job.gpus as f64 * v.world.kw_per_gpu;
        let over = v.world.resume_overhead_h;
        let need = (job.duration_h - 1e-9).ceil().max(1.0) as usize;
        let mut best: Option<(f64, Decision)> = None;
        for site in 0..p.sites.len() {
            if v.world.sites[site].capacity < job.gpus {
                continue;
            }
            let first = v.transfer_ready(job, site);
            let n_slots = ((job.deadline_h - first).min(p.slots as f64 - first - 1.0 - over) - 1e-9).floor().max(0.0) as usize;
            // Splitting needs two slots or more, and a resume shorter than the gap it fills.
            if n_slots < need || need < 2 || over >= 1.0 {
                continue;
            }
            let mut slots: Vec<(f64, usize)> = (0..n_slots)
                .filter(|&k| {
                    let a = first + k as f64;
                    self.fits(site, a, a + 1.0 + over, job.gpus)
                })
                .map(|k| {
                    let (usd, kg) = self.online.span(site, first + k as f64, 1.0);
                    (obj.score(usd, kg, 0.0), k)
                })
                .collect();
            if slots.len() < need {
                continue;
            }
            slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut chosen: Vec<usize> = slots[..need].iter().map(|s| s.1).collect();
            chosen.sort_unstable();
            let segments = crate::policy::merge_slots(&chosen, first, job.duration_h);
            let (mut usd, mut kg, mut run) = (0.0, 0.0, 0.0);
            let mut end = first;
            for (k, seg) in segments.iter().enumerate() {
                let len = seg.hours + if k > 0 { over } else { 0.0 };
                let (u, c) = self.online.span(site, seg.start_h, len);
                usd += kw * u;
                kg += kw * c;
                run += len;
                end = seg.start_h + len;
            }
            usd += job.gpus as f64 * p.sites[site].gpu_hour_usd(ACC) * run;
            if site != job.home && job.data_bytes > 0.0 {
                usd += p.links[job.home][site].usd(job.data_bytes);
            }
            let delay = (end - v.now - job.duration_h).max(0.0);
            let score = obj.score(usd, kg, delay * job.gpus as f64);
            if best.as_ref().is_none_or(|b| score < b.0 - 1e-9) {
                best = Some((score, Decision { site, segments }));
            }
        }
        best
    }
}

/// The planning problem of the world: its sites, rates, links and the objective.
/// Carbon and prices (before PUE) are those the planner sees, by site.
fn problem(world: &World, st: &PlannerSettings, kg_per_kwh: &[Vec<f64>], usd_per_kwh: &[Vec<f64>]) -> Problem {
    Problem {
        slots: world.hours,
        start_hour: world.start_hour,
        sites: world
            .sites
            .iter()
            .zip(kg_per_kwh.iter().zip(usd_per_kwh))
            .map(|(s, (kg, usd))| Site {
                id: s.id.clone(),
                name: s.id.clone(),
                east: false,
                capacity: vec![(ACC.into(), s.capacity)],
                usd_per_kwh: usd.clone(),
                kg_per_kwh: kg.clone(),
                pue: s.pue,
                usd_per_gpu_hour: vec![(ACC.into(), s.usd_per_gpu_hour)],
                lat: 0.0,
                lon: 0.0,
            })
            .collect(),
        jobs: vec![],
        services: vec![],
        regions: vec![],
        links: world
            .links
            .iter()
            .map(|row| row.iter().map(|l| Link { gbps: l.gbps, efficiency: l.efficiency, usd_per_gb: l.usd_per_gb }).collect())
            .collect(),
        latency_ms: vec![],
        objective: Objective {
            cost_weight: 1.0,
            carbon_usd_per_t: st.carbon_usd_per_t,
            carbon_weight: 1.0,
            delay_usd_per_hour: st.delay_usd_per_gpu_hour,
            carbon_cap_t: None,
            ..Objective::default()
        },
    }
}

impl Policy for Planner {
    fn name(&self) -> &str {
        "planner"
    }
    fn describe(&self) -> String {
        format!(
            "xisuan planner, online: every site and start within the job's deadline, score = cost + {} USD/tCO2e × carbon + {} USD per accelerator-hour of waiting; reserves capacity in {}-minute ticks",
            self.settings.carbon_usd_per_t,
            self.settings.delay_usd_per_gpu_hour,
            60 / self.settings.ticks_per_hour
        )
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        // Planning on forecasts: the rates are those of the latest forecast.
        if v.issued_h != self.issued_h {
            self.online = Online::new(problem(v.world, &self.settings, v.kg_per_kwh, v.usd_per_kwh));
            self.issued_h = v.issued_h;
        }
        for (s, w) in self.link_wait.iter_mut().enumerate() {
            *w = (v.link_free_at[job.home][s] - v.now).max(0.0);
        }
        let req = Request {
            gpus: job.gpus,
            hours: job.duration_h,
            kw_per_gpu: v.world.kw_per_gpu,
            accelerator: ACC,
            data_site: job.home,
            data_bytes: job.data_bytes,
            now: v.now,
            deadline: job.deadline_h,
            allowed: None,
            link_wait: &self.link_wait,
            delay_weight: job.gpus as f64,
        };
        let mut buf = std::mem::take(&mut self.buf);
        let best = self.online.best(&req, &mut buf, |s, a, b| self.fits(s, a, b, job.gpus));
        self.buf = buf;
        // A pausable job may do better in its cheapest free hours, resumes paid.
        if job.pausable {
            let paused = self.best_paused(v, job);
            if let Some((score, d)) = paused {
                if best.is_none_or(|c| score < c.score - 1e-9) {
                    for (k, seg) in d.segments.iter().enumerate() {
                        let extra = if k > 0 { v.world.resume_overhead_h } else { 0.0 };
                        self.take(d.site, seg.start_h, seg.start_h + seg.hours + extra, job.gpus);
                    }
                    return d;
                }
            }
        }
        let found = best.map(|c| (c.site, c.start));
        match found.or_else(|| self.earliest_finish(v, job)) {
            Some((site, start)) => {
                self.take(site, start, start + job.duration_h, job.gpus);
                Decision::at(site, start, job.duration_h)
            }
            // Nothing fits before the calendar ends: queue at home and let the site decide.
            None => Decision::at(job.home, v.now, job.duration_h),
        }
    }
}

//! Policies: at each arrival, where and when a job runs. Each is a small named type behind the
//! `Policy` trait; the engine asks once per job and then carries the decision out (transfer,
//! queue, run, suspend, resume). A policy sees the world, the current time and how long each
//! link is still busy, never the future arrivals.
//!
//! The baselines follow their papers where the papers define them:
//! * `run-now`: the job's home site, at once.
//! * `cheapest` / `greenest`: the site with the lowest mean electricity price / carbon
//!   intensity over the simulated period, at once (whatever the queue there).
//! * `lets-wait-awhile` (Wiesner et al., Middleware 2021; dos-group/lets-wait-awhile,
//!   `strategy.py`, `AdHocStrategy`): at home, start at the step after arrival whose window has
//!   the lowest mean carbon intensity, steps of one hour (the data's resolution), the window
//!   ending by the deadline; an interruptible (pausable) job instead runs in the lowest-carbon
//!   hours of its window. Perfect forecasts, as in the paper's error-free runs.
//! * `gaia` (Hanafy et al., ASPLOS 2024; umassos/GAIA, `carbon_waiting_policy.py`,
//!   `average_carbon_slot_waiting`, i.e. `--carbon-policy cst_average`, "Carbon-Time"): at
//!   home, among starts `i` = 0, 1 h, ... up to the queue's waiting time, the one that
//!   maximises carbon saved per hour of completion time, `(C_0 − C_i) / (i + L)`, where the
//!   carbon `C_i` and the length `L` use the *average* length of the job's queue (GAIA's
//!   `expected_time`: short queue for jobs under 2 h, long queue otherwise, averaged over the
//!   whole trace as GAIA's `load_tasks` does). The waiting time is the job's slack (for traces
//!   without deadlines, GAIA's default `-w 6x24`: 6 h for short jobs, 24 h for long ones).
//! * `oracle`: each job at its minimum-carbon (site, window) within its deadline, capacity
//!   ignored; pausable jobs in their cleanest hours with no resume cost. No policy that runs
//!   a job within its window can emit less for that job.

use crate::world::{Curve, Job, World};

/// A run of a job at its site: planned start and hours of work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start_h: f64,
    pub hours: f64,
}

/// Where a job runs and in which segments (one for a job that does not pause).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub site: usize,
    pub segments: Vec<Segment>,
}

impl Decision {
    /// One contiguous run.
    pub fn at(site: usize, start_h: f64, hours: f64) -> Decision {
        Decision { site, segments: vec![Segment { start_h, hours }] }
    }
}

/// What a policy may look at when a job arrives.
pub struct View<'a> {
    pub world: &'a World,
    /// Carbon per kW drawn, kgCO2e per kW-hour, PUE included, by site.
    pub carbon: &'a [Curve],
    /// Electricity price per kW drawn, USD per kW-hour, PUE included, by site.
    pub price: &'a [Curve],
    /// The same series before PUE, by site: kgCO2e/kWh and USD/kWh.
    pub kg_per_kwh: &'a [Vec<f64>],
    pub usd_per_kwh: &'a [Vec<f64>],
    /// `None`: the series are the actual ones (perfect foresight). `Some(h)`: actual up to
    /// hour `h`, a forecast issued then after it.
    pub issued_h: Option<u32>,
    pub now: f64,
    /// `link_free_at[from][to]`: when the link can start a new transfer (FIFO per link).
    pub link_free_at: &'a [Vec<f64>],
}

impl View<'_> {
    /// Hours to move the job's data to `site`, counting the link's queue, from now.
    pub fn transfer_ready(&self, job: &Job, site: usize) -> f64 {
        if site == job.home || job.data_bytes <= 0.0 {
            return self.now;
        }
        let l = &self.world.links[job.home][site];
        self.link_free_at[job.home][site].max(self.now) + l.hours(job.data_bytes)
    }
}

/// A scheduling policy. `decide` is called once per job, at its arrival, in arrival order.
pub trait Policy {
    /// Short name used on the command line and in reports (`lets-wait-awhile`).
    fn name(&self) -> &str;
    /// One sentence with the policy's parameters.
    fn describe(&self) -> String;
    /// True for bounds: the engine then ignores capacity (never queues their jobs) and
    /// charges no resume overhead.
    fn is_bound(&self) -> bool {
        false
    }
    fn decide(&mut self, view: &View, job: &Job) -> Decision;
}

/// The job's home site, at once.
pub struct RunNow;

impl Policy for RunNow {
    fn name(&self) -> &str {
        "run-now"
    }
    fn describe(&self) -> String {
        "home site, start at arrival".into()
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        Decision::at(job.home, v.now, job.duration_h)
    }
}

/// Index of the site whose curve has the lowest mean (ties: lowest index), among sites that
/// can hold `gpus` at all.
fn lowest_mean(curves: &[Curve], world: &World, gpus: u32) -> Option<usize> {
    (0..curves.len()).filter(|&s| world.sites[s].capacity >= gpus).min_by(|&a, &b| curves[a].mean().total_cmp(&curves[b].mean()).then(a.cmp(&b)))
}

/// The site with the lowest mean electricity price, at once.
pub struct Cheapest;

impl Policy for Cheapest {
    fn name(&self) -> &str {
        "cheapest"
    }
    fn describe(&self) -> String {
        "site with the lowest mean electricity price × PUE over the period, start at arrival".into()
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        let s = lowest_mean(v.price, v.world, job.gpus).unwrap_or(job.home);
        Decision::at(s, v.now, job.duration_h)
    }
}

/// The site with the lowest mean carbon intensity, at once.
pub struct Greenest;

impl Policy for Greenest {
    fn name(&self) -> &str {
        "greenest"
    }
    fn describe(&self) -> String {
        "site with the lowest mean carbon intensity × PUE over the period, start at arrival".into()
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        let s = lowest_mean(v.carbon, v.world, job.gpus).unwrap_or(job.home);
        Decision::at(s, v.now, job.duration_h)
    }
}

/// The `n` lowest-rate hour slots of `[from, to)` on `curve` (slots aligned to `from`, the
/// last one partial), run in time order: the interruptible schedule of Let's Wait Awhile.
fn cleanest_slots(curve: &Curve, from: f64, to: f64, hours: f64) -> Vec<Segment> {
    let n_slots = ((to - from) - 1e-9).floor().max(0.0) as usize;
    let need = (hours - 1e-9).ceil().max(1.0) as usize;
    if n_slots < need {
        return vec![Segment { start_h: from, hours }];
    }
    let mut slots: Vec<(f64, usize)> = (0..n_slots).map(|k| (curve.integral(from + k as f64, from + k as f64 + 1.0), k)).collect();
    slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = slots[..need].iter().map(|s| s.1).collect();
    chosen.sort_unstable();
    merge_slots(&chosen, from, hours)
}

/// Turns chosen slot offsets into segments, merging neighbours; the last one gets the
/// remainder of `hours`.
pub(crate) fn merge_slots(chosen: &[usize], from: f64, hours: f64) -> Vec<Segment> {
    let mut segs: Vec<Segment> = Vec::new();
    let mut left = hours;
    for (i, &k) in chosen.iter().enumerate() {
        let len = if i + 1 == chosen.len() { left } else { 1.0f64.min(left) };
        left -= len;
        let start = from + k as f64;
        match segs.last_mut() {
            Some(last) if (last.start_h + last.hours - start).abs() < 1e-9 => last.hours += len,
            _ => segs.push(Segment { start_h: start, hours: len }),
        }
    }
    segs
}

/// Let's Wait Awhile's ad-hoc strategy at the home site (see the module note).
pub struct LetsWaitAwhile;

impl Policy for LetsWaitAwhile {
    fn name(&self) -> &str {
        "lets-wait-awhile"
    }
    fn describe(&self) -> String {
        "home site; start at the hourly step with the lowest mean carbon over the job's run before its deadline (as forecast: see foresight); pausable jobs run in their lowest-carbon hours".into()
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        let c = &v.carbon[job.home];
        let now = v.now;
        if job.pausable {
            return Decision { site: job.home, segments: cleanest_slots(c, now, job.deadline_h, job.duration_h) };
        }
        let steps = (job.deadline_h - now - job.duration_h + 1e-9).floor().max(0.0) as usize;
        let mut best = (c.integral(now, now + job.duration_h), 0usize);
        for k in 1..=steps {
            let s = now + k as f64;
            let w = c.integral(s, s + job.duration_h);
            // The first minimum wins, as `np.argmin` does; differences within rounding of the
            // prefix sums (a flat series) are ties, so a flat grid never makes a job wait.
            if w < best.0 - 1e-9 * best.0.abs() {
                best = (w, k);
            }
        }
        Decision::at(job.home, now + best.1 as f64, job.duration_h)
    }
}

/// GAIA's Carbon-Time policy (`cst_average`) at the home site (see the module note).
pub struct Gaia {
    /// Jobs shorter than this (hours) are in the short queue (GAIA's `TwoQueues.Short`, 2 h).
    pub short_threshold_h: f64,
    /// Average job length of the short and the long queue, hours (GAIA's `expected_time`).
    pub expected_h: [f64; 2],
}

impl Gaia {
    /// GAIA's two queues, with lengths averaged over `jobs` as GAIA's loader does.
    pub fn from_jobs(jobs: &[Job]) -> Gaia {
        let t = 2.0;
        let mean = |short: bool| {
            let (s, n) = jobs.iter().filter(|j| (j.duration_h < t) == short).fold((0.0, 0usize), |(s, n), j| (s + j.duration_h, n + 1));
            if n == 0 {
                t
            } else {
                s / n as f64
            }
        };
        Gaia { short_threshold_h: t, expected_h: [mean(true), mean(false)] }
    }
}

impl Policy for Gaia {
    fn name(&self) -> &str {
        "gaia"
    }
    fn describe(&self) -> String {
        format!(
            "GAIA Carbon-Time (cst_average): home site; hourly start offsets up to the job's slack; maximise (C_0 - C_i)/(i + L) with L the queue's average length ({:.3} h under {} h, {:.3} h otherwise)",
            self.expected_h[0], self.short_threshold_h, self.expected_h[1]
        )
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        let c = &v.carbon[job.home];
        let now = v.now;
        let l = self.expected_h[usize::from(job.duration_h >= self.short_threshold_h)];
        // GAIA's waiting time is the queue's; here it is the job's slack, which for traces
        // without deadlines is built from the same 6 h / 24 h queues.
        let steps = (job.slack_h() + 1e-9).floor() as usize;
        let c0 = c.integral(now, now + l);
        let mut best = (0.0f64, 0usize);
        for i in 1..=steps {
            let s = now + i as f64;
            let saved = (c0 - c.integral(s, s + l)) / (i as f64 + l);
            // Python's `max` keeps the first of equal maxima.
            // Savings within rounding of the prefix sums are no savings.
            if saved > best.0 + 1e-9 * c0.abs() / l {
                best = (saved, i);
            }
        }
        Decision::at(job.home, now + best.1 as f64, job.duration_h)
    }
}

/// The minimum-carbon start in `[first, last]` for a run of `hours` on `curve`: the integral
/// is piecewise linear in the start, so only the ends, whole hours, and starts that end on a
/// whole hour need checking. Ties go to the earliest start.
pub fn min_window(curve: &Curve, first: f64, last: f64, hours: f64) -> (f64, f64) {
    let mut best = (curve.integral(first, first + hours), first);
    let mut consider = |s: f64| {
        let w = curve.integral(s, s + hours);
        if w < best.0 - 1e-12 {
            best = (w, s);
        }
    };
    let frac = hours - hours.floor();
    let mut k = first.floor() + 1.0;
    // Up to `last + 1`: a start that ends on a whole hour may lie just below `last`.
    while k < last + 1.0 + 1e-9 {
        let aligned = k - frac;
        if frac > 1e-9 && aligned > first && aligned <= last {
            consider(aligned);
        }
        if k <= last {
            consider(k);
        }
        k += 1.0;
    }
    if last > first {
        consider(last);
    }
    best
}

/// The least carbon a divisible job can emit in `[from, to)`: its hours placed in the
/// cleanest (possibly partial) hours of the window.
fn min_divisible(curve: &Curve, from: f64, to: f64, hours: f64) -> (f64, Vec<Segment>) {
    let mut pieces: Vec<(f64, f64, f64)> = Vec::new(); // rate, start, length
    let mut t = from;
    while t < to - 1e-12 {
        let end = (t.floor() + 1.0).min(to);
        pieces.push((curve.at(t), t, end - t));
        t = end;
    }
    pieces.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (mut left, mut kg) = (hours, 0.0);
    let mut segs: Vec<Segment> = Vec::new();
    for &(rate, start, len) in &pieces {
        if left <= 1e-12 {
            break;
        }
        let take = len.min(left);
        kg += rate * take;
        left -= take;
        segs.push(Segment { start_h: start, hours: take });
    }
    segs.sort_by(|a, b| a.start_h.total_cmp(&b.start_h));
    // Neighbouring pieces are one run, not a suspend and a resume.
    let mut merged: Vec<Segment> = Vec::new();
    for s in segs {
        match merged.last_mut() {
            Some(m) if (m.start_h + m.hours - s.start_h).abs() < 1e-9 => m.hours += s.hours,
            _ => merged.push(s),
        }
    }
    (kg, merged)
}

/// The offline carbon bound (see the module note).
pub struct Oracle;

impl Policy for Oracle {
    fn name(&self) -> &str {
        "oracle"
    }
    fn describe(&self) -> String {
        "offline bound: each job at its minimum-carbon (site, window) before its deadline, capacity ignored; pausable jobs in their cleanest hours, no resume cost".into()
    }
    fn is_bound(&self) -> bool {
        true
    }
    fn decide(&mut self, v: &View, job: &Job) -> Decision {
        let mut best: Option<(f64, Decision)> = None;
        for s in 0..v.world.sites.len() {
            if v.world.sites[s].capacity < job.gpus {
                continue;
            }
            let first = v.transfer_ready(job, s);
            let last = job.deadline_h - job.duration_h;
            if first > last + 1e-9 {
                continue;
            }
            let c = &v.carbon[s];
            let (kg, d) = if job.pausable {
                let (kg, segs) = min_divisible(c, first, job.deadline_h, job.duration_h);
                (kg, Decision { site: s, segments: segs })
            } else {
                let (kg, start) = min_window(c, first, last, job.duration_h);
                (kg, Decision::at(s, start, job.duration_h))
            };
            let kg = kg * v.world.kw_per_gpu * job.gpus as f64;
            if best.as_ref().is_none_or(|b| kg < b.0 - 1e-12) {
                best = Some((kg, d));
            }
        }
        // No site can meet the deadline: the earliest finish at home is the least bad.
        best.map(|b| b.1).unwrap_or_else(|| Decision::at(job.home, v.now, job.duration_h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_window_finds_breakpoint_starts() {
        // Rates 5, 1, 5, 5: a 1.5 h run from 0.5 costs 0.5×5 + 1×1 = 3.5; from 1.0 costs
        // 1 + 0.5×5 = 3.5; both minimal, the earliest wins.
        let c = Curve::new(&[5.0, 1.0, 5.0, 5.0], 1.0);
        let (kg, s) = min_window(&c, 0.2, 2.5, 1.5);
        assert!((kg - 3.5).abs() < 1e-12 && (s - 0.5).abs() < 1e-12, "{kg} {s}");
    }

    #[test]
    fn divisible_bound_takes_the_cleanest_pieces() {
        let c = Curve::new(&[3.0, 1.0, 2.0, 9.0], 1.0);
        // 1.5 h in [0.5, 4): hour 1 (rate 1) fully, then half of hour 2 (rate 2) = 2.
        let (kg, segs) = min_divisible(&c, 0.5, 4.0, 1.5);
        assert!((kg - 2.0).abs() < 1e-12);
        assert_eq!(segs, vec![Segment { start_h: 1.0, hours: 1.5 }]);
    }

    #[test]
    fn a_flat_grid_never_makes_temporal_policies_wait() {
        // Rounding in prefix sums of a constant series must not look like a saving.
        let world = World {
            sites: vec![crate::SiteSpec {
                id: "flat".into(),
                capacity: 4,
                pue: 1.13,
                usd_per_gpu_hour: 0.0,
                kg_per_kwh: vec![0.7251; 200],
                usd_per_kwh: vec![0.06; 200],
                inference_gpus: vec![],
            }],
            links: vec![vec![crate::LinkSpec { gbps: 1.0, efficiency: 1.0, usd_per_gb: 0.0 }]],
            kw_per_gpu: 0.7,
            hours: 200,
            start_hour: 0,
            resume_overhead_h: 0.0,
            past: Vec::new(),
        };
        let carbon = vec![Curve::new(&world.sites[0].kg_per_kwh, 1.13)];
        let price = vec![Curve::new(&world.sites[0].usd_per_kwh, 1.13)];
        let links = vec![vec![0.0]];
        for now in [0.0, 17.3, 101.9] {
            let v =
                View { world: &world, carbon: &carbon, price: &price, kg_per_kwh: &[], usd_per_kwh: &[], issued_h: None, now, link_free_at: &links };
            let job =
                Job { id: "j".into(), arrival_h: now, duration_h: 3.7, gpus: 1, home: 0, data_bytes: 0.0, deadline_h: now + 27.7, pausable: false };
            assert_eq!(LetsWaitAwhile.decide(&v, &job).segments[0].start_h, now);
            let mut g = Gaia { short_threshold_h: 2.0, expected_h: [0.6, 7.2] };
            assert_eq!(g.decide(&v, &job).segments[0].start_h, now);
        }
    }

    #[test]
    fn merged_slots_keep_the_total() {
        let segs = merge_slots(&[0, 1, 3], 0.25, 2.5);
        assert_eq!(segs, vec![Segment { start_h: 0.25, hours: 2.0 }, Segment { start_h: 3.25, hours: 0.5 }]);
    }
}

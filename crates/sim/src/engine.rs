//! The domain simulation on top of the kernel: jobs arrive, the policy decides, data moves,
//! jobs queue at their site, run, suspend and resume, and every hour of every run is costed
//! with that hour's price and carbon intensity.
//!
//! Modelling choices (each one a documented simplification):
//! * **Queues.** Each site has one strict FIFO queue: a job starts only when it is at the head
//!   and enough accelerators are free (no backfilling), so a large job at the head holds back
//!   smaller ones behind it, as in a plain FIFO batch scheduler.
//! * **Transfers.** A job placed away from its home site first moves its data over the
//!   directed link home→site. Transfers on one link queue (FIFO) and each gets the full
//!   bandwidth × efficiency in turn; they do not share the link. The job's run cannot start
//!   before its transfer ends. Transfer energy is not counted (it is small next to the
//!   accelerators' and has no agreed per-byte factor); egress is priced per GB.
//! * **Suspend and resume.** A decision with several segments runs them in order at one site;
//!   between segments the job holds no accelerators. Each resume adds
//!   `World::resume_overhead_h` hours of work at full power (restoring the checkpoint).
//! * **Inference.** `SiteSpec::inference_gpus[h]` accelerators are reserved in hour `h`
//!   before any batch job; jobs already running are not pre-empted, so an hour in which
//!   running jobs plus the reservation exceed the site is an SLO violation (counted per site
//!   and hour, with the accelerator-hours short).
//! * **Energy and carbon.** accelerators × kW × hours × PUE; carbon and price are integrated
//!   hour by hour over the exact run interval (location-based).

use crate::kernel::Kernel;
use crate::metrics::{summarize, JobOutcome, RunResult};
use crate::policy::{Decision, Policy, View};
use crate::world::{Curve, Job, World};
use crate::SimError;
use std::collections::VecDeque;
use xisuan_model::forecast::{self, Model};

#[derive(Debug, Clone, Copy)]
enum Ev {
    Arrive(u32),
    Ready(u32),
    End(u32),
    Hour(u32),
}

/// Options of one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Keep accelerators busy per hour and per site (for charts); costs O(hours run).
    pub hourly: bool,
    /// What policies see of carbon and prices ahead: `None`, the actual series (perfect
    /// foresight); a model, its forecast issued at the start of the hour of each arrival
    /// (from the actual hours up to then and the world's `past`). Either way every run is
    /// charged the actual series.
    pub forecast: Option<Model>,
}

/// The series as the policies see them, issued at one hour.
struct Seen {
    issued_h: u32,
    kg_per_kwh: Vec<Vec<f64>>,
    usd_per_kwh: Vec<Vec<f64>>,
    carbon: Vec<Curve>,
    price: Vec<Curve>,
}

impl Seen {
    fn new(world: &World, model: Model, issued_h: u32) -> Seen {
        let none = crate::world::Past::default();
        let (mut kg_per_kwh, mut usd_per_kwh) = (Vec::new(), Vec::new());
        for (i, s) in world.sites.iter().enumerate() {
            let past = world.past.get(i).unwrap_or(&none);
            kg_per_kwh.push(forecast::as_seen(model, &past.kg_per_kwh, &s.kg_per_kwh, issued_h as usize));
            usd_per_kwh.push(forecast::as_seen(model, &past.usd_per_kwh, &s.usd_per_kwh, issued_h as usize));
        }
        let curves = |v: &[Vec<f64>]| v.iter().zip(&world.sites).map(|(v, s)| Curve::new(v, s.pue)).collect();
        Seen { issued_h, carbon: curves(&kg_per_kwh), price: curves(&usd_per_kwh), kg_per_kwh, usd_per_kwh }
    }
}

struct SiteState {
    in_use: u32,
    reserved: u32,
    queue: VecDeque<u32>,
}

struct JobState {
    decision: Option<Decision>,
    seg: usize,
    ready_at: f64,
    out: JobOutcome,
}

struct Engine<'a> {
    world: &'a World,
    jobs: &'a [Job],
    carbon: Vec<Curve>,
    price: Vec<Curve>,
    /// The actual series, for policies that see them (no forecast).
    kg_per_kwh: Vec<Vec<f64>>,
    usd_per_kwh: Vec<Vec<f64>>,
    /// The latest forecast, when policies see forecasts.
    seen: Option<Seen>,
    sites: Vec<SiteState>,
    link_free_at: Vec<Vec<f64>>,
    state: Vec<JobState>,
    bound: bool,
    opts: RunOptions,
    busy_hourly: Vec<Vec<f64>>,
    busy_in_horizon: Vec<f64>,
    slo_site_hours: u64,
    slo_short_gpu_hours: f64,
    error: Option<SimError>,
}

/// Runs `jobs` (sorted by arrival) through `world` under `policy`. `progress(done, total)` is
/// called as arrivals are handled (a pure callback: the caller decides what to draw).
pub fn simulate(
    world: &World,
    jobs: &[Job],
    policy: &mut dyn Policy,
    opts: RunOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RunResult, SimError> {
    world.validate()?;
    world.validate_jobs(jobs)?;
    let n = world.sites.len();
    let hours = world.hours as usize;
    let mut e = Engine {
        world,
        jobs,
        carbon: world.sites.iter().map(|s| Curve::new(&s.kg_per_kwh, s.pue)).collect(),
        price: world.sites.iter().map(|s| Curve::new(&s.usd_per_kwh, s.pue)).collect(),
        kg_per_kwh: world.sites.iter().map(|s| s.kg_per_kwh.clone()).collect(),
        usd_per_kwh: world.sites.iter().map(|s| s.usd_per_kwh.clone()).collect(),
        seen: None,
        sites: (0..n).map(|_| SiteState { in_use: 0, reserved: 0, queue: VecDeque::new() }).collect(),
        link_free_at: vec![vec![0.0; n]; n],
        state: jobs.iter().map(|_| JobState { decision: None, seg: 0, ready_at: 0.0, out: JobOutcome::default() }).collect(),
        bound: policy.is_bound(),
        opts,
        busy_hourly: if opts.hourly { vec![vec![0.0; hours]; n] } else { Vec::new() },
        busy_in_horizon: vec![0.0; n],
        slo_site_hours: 0,
        slo_short_gpu_hours: 0.0,
        error: None,
    };
    let mut k: Kernel<Ev> = Kernel::new();
    // Arrivals are fed one at a time (each schedules the next) to keep the heap small.
    if !jobs.is_empty() {
        k.schedule(jobs[0].arrival_h, Ev::Arrive(0));
    }
    if world.sites.iter().any(|s| !s.inference_gpus.is_empty()) {
        k.schedule(0.0, Ev::Hour(0));
    }
    let total = jobs.len();
    let step = (total / 100).max(1);
    k.step_until(f64::INFINITY, |k, now, ev| {
        if e.error.is_some() {
            return;
        }
        match ev {
            Ev::Arrive(j) => {
                let ju = j as usize;
                if ju + 1 < total {
                    k.schedule(jobs[ju + 1].arrival_h, Ev::Arrive(j + 1));
                }
                e.arrive(k, now, j, policy);
                if (ju + 1).is_multiple_of(step) || ju + 1 == total {
                    progress(ju + 1, total);
                }
            }
            Ev::Ready(j) => e.ready(k, now, j),
            Ev::End(j) => e.end(k, now, j),
            Ev::Hour(h) => e.hour(k, now, h),
        }
    });
    if let Some(err) = e.error {
        return Err(err);
    }
    let outcomes: Vec<JobOutcome> = e.state.into_iter().map(|s| s.out).collect();
    Ok(summarize(world, jobs, policy, outcomes, e.busy_in_horizon, e.busy_hourly, (e.slo_site_hours, e.slo_short_gpu_hours), k.handled()))
}

impl Engine<'_> {
    fn check(&self, job: &Job, d: &Decision, now: f64) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Policy(job.id.clone(), m));
        if d.site >= self.world.sites.len() {
            return bad(format!("site {} out of range", d.site));
        }
        if d.segments.is_empty() {
            return bad("no segment to run".into());
        }
        let total: f64 = d.segments.iter().map(|s| s.hours).sum();
        if (total - job.duration_h).abs() > 1e-6 * job.duration_h.max(1.0) {
            return bad(format!("segments hold {total} h of work, the job needs {} h", job.duration_h));
        }
        let mut t = now - 1e-9;
        for s in &d.segments {
            if !(s.start_h >= t) || !(s.hours > 0.0) {
                return bad("segments must start after arrival, in order, without overlap, each with work".into());
            }
            t = s.start_h + s.hours - 1e-9;
        }
        Ok(())
    }

    fn arrive(&mut self, k: &mut Kernel<Ev>, now: f64, j: u32, policy: &mut dyn Policy) {
        let job = &self.jobs[j as usize];
        // A bound (the oracle) sees the actual series: it bounds what any policy could do.
        if let (Some(model), false) = (self.opts.forecast, self.bound) {
            let issued_h = (now.max(0.0).floor() as u32).min(self.world.hours - 1);
            if self.seen.as_ref().is_none_or(|s| s.issued_h != issued_h) {
                self.seen = Some(Seen::new(self.world, model, issued_h));
            }
        }
        let view = match &self.seen {
            Some(s) => View {
                world: self.world,
                carbon: &s.carbon,
                price: &s.price,
                kg_per_kwh: &s.kg_per_kwh,
                usd_per_kwh: &s.usd_per_kwh,
                issued_h: Some(s.issued_h),
                now,
                link_free_at: &self.link_free_at,
            },
            None => View {
                world: self.world,
                carbon: &self.carbon,
                price: &self.price,
                kg_per_kwh: &self.kg_per_kwh,
                usd_per_kwh: &self.usd_per_kwh,
                issued_h: None,
                now,
                link_free_at: &self.link_free_at,
            },
        };
        let decision = policy.decide(&view, job);
        if let Err(err) = self.check(job, &decision, now) {
            self.error = Some(err);
            return;
        }
        let st = &mut self.state[j as usize];
        st.out.site = Some(decision.site);
        if self.world.sites[decision.site].capacity < job.gpus {
            // It can never start there: report it rather than block the queue forever.
            st.out.unplaceable = true;
            return;
        }
        let mut ready = decision.segments[0].start_h;
        if decision.site != job.home && job.data_bytes > 0.0 {
            let l = &self.world.links[job.home][decision.site];
            let free = &mut self.link_free_at[job.home][decision.site];
            let start = free.max(now);
            let done = start + l.hours(job.data_bytes);
            // A bound's transfers never wait for the link, so no policy can move data sooner.
            if !self.bound {
                *free = done;
            }
            st.out.transfer_usd = l.usd(job.data_bytes);
            st.out.bytes_moved = job.data_bytes;
            ready = ready.max(done);
        }
        st.decision = Some(decision);
        k.schedule(ready, Ev::Ready(j));
    }

    fn ready(&mut self, k: &mut Kernel<Ev>, now: f64, j: u32) {
        let st = &mut self.state[j as usize];
        st.ready_at = now;
        let site = st.decision.as_ref().expect("decided").site;
        self.sites[site].queue.push_back(j);
        self.try_start(k, now, site);
    }

    fn try_start(&mut self, k: &mut Kernel<Ev>, now: f64, site: usize) {
        let cap = self.world.sites[site].capacity;
        while let Some(&j) = self.sites[site].queue.front() {
            let job = &self.jobs[j as usize];
            let s = &self.sites[site];
            if !self.bound && s.in_use + job.gpus + s.reserved > cap {
                break;
            }
            self.sites[site].queue.pop_front();
            self.sites[site].in_use += job.gpus;
            let st = &mut self.state[j as usize];
            let d = st.decision.as_ref().expect("decided");
            let seg = d.segments[st.seg];
            let overhead = if st.seg > 0 && !self.bound { self.world.resume_overhead_h } else { 0.0 };
            let run = seg.hours + overhead;
            st.out.queue_h += now - st.ready_at;
            if st.seg == 0 {
                st.out.start_h = now;
            } else {
                st.out.resumes += 1;
            }
            let end = now + run;
            st.out.runs.push((now, end));
            let kw = job.gpus as f64 * self.world.kw_per_gpu;
            let spec = &self.world.sites[site];
            st.out.kg += kw * self.carbon[site].integral(now, end);
            st.out.electricity_usd += kw * self.price[site].integral(now, end);
            st.out.gpu_hour_usd += job.gpus as f64 * spec.usd_per_gpu_hour * run;
            st.out.kwh += kw * run * spec.pue;
            if end > self.world.hours as f64 {
                st.out.past_series_end = true;
            }
            let h = self.world.hours as f64;
            let inside = (end.min(h) - now.min(h)).max(0.0);
            self.busy_in_horizon[site] += job.gpus as f64 * inside;
            if self.opts.hourly && inside > 0.0 {
                let row = &mut self.busy_hourly[site];
                let mut t = now;
                while t < end.min(h) - 1e-12 {
                    let next = (t.floor() + 1.0).min(end).min(h);
                    row[t.floor() as usize] += job.gpus as f64 * (next - t);
                    t = next;
                }
            }
            k.schedule(end, Ev::End(j));
        }
    }

    fn end(&mut self, k: &mut Kernel<Ev>, now: f64, j: u32) {
        let job = &self.jobs[j as usize];
        let st = &mut self.state[j as usize];
        let d = st.decision.as_ref().expect("decided");
        let site = d.site;
        self.sites[site].in_use -= job.gpus;
        st.seg += 1;
        if st.seg < d.segments.len() {
            let next = d.segments[st.seg].start_h.max(now);
            k.schedule(next, Ev::Ready(j));
        } else {
            st.out.end_h = now;
            st.out.completed = true;
        }
        self.try_start(k, now, site);
    }

    fn hour(&mut self, k: &mut Kernel<Ev>, now: f64, h: u32) {
        for s in 0..self.sites.len() {
            let spec = &self.world.sites[s];
            if spec.inference_gpus.is_empty() {
                continue;
            }
            let want = spec.inference_gpus[h as usize % spec.inference_gpus.len()];
            let st = &mut self.sites[s];
            st.reserved = want;
            let over = (st.in_use + want).saturating_sub(spec.capacity);
            if over > 0 {
                self.slo_site_hours += 1;
                self.slo_short_gpu_hours += over as f64;
            }
            self.try_start(k, now, s);
        }
        if h + 1 < self.world.hours {
            k.schedule(h as f64 + 1.0, Ev::Hour(h + 1));
        }
    }
}

//! The planner's online mode: one job at a time, as it arrives, choose a site and a start
//! time within the job's window by the same score the batch planner uses (cost + carbon price
//! × carbon + delay penalty, `Objective::score`) over every site, with the same prefix sums
//! (`candidates::Rates`). The caller keeps the capacity calendar and says, through a
//! callback, whether a window is free; the planner stays pure and stateless.
//!
//! Unlike the batch planner, time here is continuous: a job arrives at a fractional hour and
//! may start at once. The cost of a window that starts mid-hour is the difference of two
//! cumulative integrals, each one `Rates::span` from slot 0. Candidate starts are the
//! earliest possible start, the latest one, every whole hour between, and every start that
//! makes the job end on a whole hour: the window's cost is piecewise linear in the start with
//! breakpoints exactly there, so the best start over the continuum is among them.

use crate::candidates::{AccTypes, Ctx, Rates};
use crate::problem::{Problem, SiteIx};

/// One arriving job as the online planner sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub gpus: u32,
    /// Hours the job runs (on the accelerator type of the problem's sites).
    pub hours: f64,
    /// Power per accelerator, kW, before PUE.
    pub kw_per_gpu: f64,
    /// Accelerator type the job needs (an id of `Site::capacity`).
    pub accelerator: &'a str,
    /// Where the input data is and how much must move to run elsewhere.
    pub data_site: SiteIx,
    pub data_bytes: f64,
    /// The current time, hours from slot 0 (the job's arrival).
    pub now: f64,
    /// The job must end by this time, hours from slot 0.
    pub deadline: f64,
    /// Sites allowed (data residency); `None` allows all.
    pub allowed: Option<&'a [SiteIx]>,
    /// Hours each link from the data site is busy before a new transfer could start
    /// (`link_wait[site]`); empty means every link is free.
    pub link_wait: &'a [f64],
    /// Multiplies the delay hours passed to `Objective::score`: 1 charges the penalty per
    /// job as the batch planner does; the number of accelerators charges it per accelerator.
    pub delay_weight: f64,
}

/// A scored (site, start) option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub site: SiteIx,
    /// Start of the run, hours from slot 0.
    pub start: f64,
    pub transfer_hours: f64,
    pub usd: f64,
    pub kg: f64,
    pub kwh: f64,
    /// Hours later than starting now (the job's delay, as the score counts it).
    pub delay_h: f64,
    pub score: f64,
}

/// The online planner over one problem's sites, rates and objective. It owns the problem
/// (the rates are computed once, by `Ctx`, and kept) so that a long-lived caller such as the
/// simulator's policy can hold it without a borrow.
pub struct Online {
    p: Problem,
    rates: Vec<Rates>,
    accs: AccTypes,
    /// capacity[site][acc]
    capacity: Vec<Vec<u32>>,
}

impl Online {
    /// Precomputes the rates of the problem's sites; its jobs and services are ignored.
    pub fn new(p: Problem) -> Online {
        let ctx = Ctx::new(&p);
        let (rates, accs, capacity) = (ctx.rates, ctx.accs, ctx.capacity);
        Online { p, rates, accs, capacity }
    }

    pub fn problem(&self) -> &Problem {
        &self.p
    }

    /// The rates (price and carbon per kW drawn, PUE included) of a site.
    pub fn rates(&self, site: SiteIx) -> &Rates {
        &self.rates[site]
    }

    /// USD and kg per kW drawn from `start` for `hours`, both fractional.
    pub fn span(&self, site: SiteIx, start: f64, hours: f64) -> (f64, f64) {
        let r = &self.rates[site];
        let (u1, k1) = r.span(0, start + hours);
        let (u0, k0) = r.span(0, start);
        (u1 - u0, k1 - k0)
    }

    /// Scores running `r` at `site` from `start`, with `transfer_hours` of data movement.
    pub fn eval(&self, r: &Request, site: SiteIx, start: f64) -> Choice {
        let p = &self.p;
        let s = &p.sites[site];
        let (transfer_hours, transfer_usd) = self.transfer(r, site);
        let kw = r.gpus as f64 * r.kw_per_gpu;
        let (usd_kw, kg_kw) = self.span(site, start, r.hours);
        let usd = kw * usd_kw + r.gpus as f64 * s.gpu_hour_usd(r.accelerator) * r.hours + transfer_usd;
        let kg = kw * kg_kw;
        let delay_h = (start - r.now).max(0.0);
        Choice {
            site,
            start,
            transfer_hours,
            usd,
            kg,
            kwh: kw * r.hours * s.pue,
            delay_h,
            score: p.objective.score(usd, kg, delay_h * r.delay_weight),
        }
    }

    fn transfer(&self, r: &Request, site: SiteIx) -> (f64, f64) {
        if site == r.data_site || r.data_bytes <= 0.0 {
            return (0.0, 0.0);
        }
        let l = &self.p.links[r.data_site][site];
        (l.hours(r.data_bytes), l.usd(r.data_bytes))
    }

    /// Every candidate (site, start) of `r` that ends by its deadline and within the
    /// problem's slots, appended to `out` (cleared first).
    pub fn candidates(&self, r: &Request, out: &mut Vec<Choice>) {
        out.clear();
        let p = &self.p;
        let Some(acc) = self.accs.ix(r.accelerator) else { return };
        let end_limit = r.deadline.min(p.slots as f64);
        let frac = r.hours - r.hours.floor();
        for site in 0..p.sites.len() {
            if let Some(a) = r.allowed {
                if !a.contains(&site) {
                    continue;
                }
            }
            if self.capacity[site][acc] < r.gpus {
                continue;
            }
            let (transfer_h, _) = self.transfer(r, site);
            let wait = if transfer_h > 0.0 { r.link_wait.get(site).copied().unwrap_or(0.0) } else { 0.0 };
            let first = r.now + wait + transfer_h;
            let last = end_limit - r.hours;
            if first > last + 1e-9 {
                continue;
            }
            out.push(self.eval(r, site, first));
            let mut k = first.floor() + 1.0;
            // Up to `last + 1`: a start that makes the job end on a whole hour may lie just
            // below `last` even when the whole hour after it does not.
            while k < last + 1.0 - 1e-9 {
                if k <= last - 1e-9 {
                    out.push(self.eval(r, site, k));
                }
                let aligned = k - frac;
                if frac > 1e-9 && aligned > first + 1e-9 && aligned < last - 1e-9 {
                    out.push(self.eval(r, site, aligned));
                }
                k += 1.0;
            }
            if last > first + 1e-9 && (last - last.floor()).abs() > 1e-9 {
                out.push(self.eval(r, site, last));
            }
        }
    }

    /// The best-scoring candidate for which `fits(site, start, end)` holds; ties break on
    /// site index, then start. `buf` is scratch space kept by the caller between calls.
    pub fn best(&self, r: &Request, buf: &mut Vec<Choice>, mut fits: impl FnMut(SiteIx, f64, f64) -> bool) -> Option<Choice> {
        self.candidates(r, buf);
        let cmp = |a: &Choice, b: &Choice| a.score.total_cmp(&b.score).then(a.site.cmp(&b.site)).then(a.start.total_cmp(&b.start));
        // Usually the best candidate fits: one linear scan, and a sort only when it does not.
        let first = buf.iter().min_by(|a, b| cmp(a, b)).copied()?;
        if fits(first.site, first.start, first.start + r.hours) {
            return Some(first);
        }
        buf.sort_by(cmp);
        buf.iter().skip(1).find(|c| fits(c.site, c.start, c.start + r.hours)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::*;

    fn problem(kg: Vec<Vec<f64>>) -> Problem {
        let slots = kg[0].len() as u32;
        let n = kg.len();
        Problem {
            slots,
            start_hour: 0,
            sites: kg
                .into_iter()
                .enumerate()
                .map(|(i, k)| Site {
                    id: format!("s{i}"),
                    name: format!("s{i}"),
                    east: false,
                    capacity: vec![("gpu".into(), 8)],
                    usd_per_kwh: vec![0.0; slots as usize],
                    kg_per_kwh: k,
                    pue: 1.0,
                    usd_per_gpu_hour: vec![],
                    lat: 0.0,
                    lon: 0.0,
                })
                .collect(),
            jobs: vec![],
            services: vec![],
            regions: vec![],
            links: vec![vec![Link { gbps: 10.0, efficiency: 1.0, usd_per_gb: 0.0 }; n]; n],
            latency_ms: vec![],
            objective: Objective { carbon_usd_per_t: 1000.0, ..Objective::default() },
        }
    }

    fn req(now: f64, hours: f64, deadline: f64) -> Request<'static> {
        Request {
            gpus: 1,
            hours,
            kw_per_gpu: 1.0,
            accelerator: "gpu",
            data_site: 0,
            data_bytes: 0.0,
            now,
            deadline,
            allowed: None,
            link_wait: &[],
            delay_weight: 1.0,
        }
    }

    #[test]
    fn fractional_window_cost_is_exact() {
        // 1 kW from 0.5 h for 1 h over rates 1, 3: 0.5 × 1 + 0.5 × 3 = 2 kg.
        let p = problem(vec![vec![1.0, 3.0, 5.0]]);
        let o = Online::new(p);
        let c = o.eval(&req(0.5, 1.0, 3.0), 0, 0.5);
        assert!((c.kg - 2.0).abs() < 1e-12);
    }

    #[test]
    fn picks_the_cleaner_site_and_the_cleaner_hour() {
        let p = problem(vec![vec![5.0, 5.0, 5.0, 5.0], vec![4.0, 4.0, 1.0, 4.0]]);
        let o = Online::new(p);
        let mut buf = Vec::new();
        let c = o.best(&req(0.2, 1.0, 4.0), &mut buf, |_, _, _| true).unwrap();
        assert_eq!((c.site, c.start), (1, 2.0));
        // With site 1 full, site 0 at once (all its hours cost the same; the earliest wins on ties).
        let c = o.best(&req(0.2, 1.0, 4.0), &mut buf, |s, _, _| s == 0).unwrap();
        assert_eq!((c.site, c.start), (0, 0.2));
    }

    #[test]
    fn no_candidate_past_the_deadline() {
        let p = problem(vec![vec![1.0; 4]]);
        let o = Online::new(p);
        let mut buf = Vec::new();
        o.candidates(&req(1.0, 2.5, 3.0), &mut buf);
        assert!(buf.is_empty());
        o.candidates(&req(0.0, 2.5, 4.0), &mut buf);
        assert!(buf.iter().all(|c| c.start >= 0.0 && c.start + 2.5 <= 4.0 + 1e-9));
        assert!(buf.iter().any(|c| (c.start - 1.5).abs() < 1e-9));
    }
}

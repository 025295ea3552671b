//! The world work runs in (sites with hourly prices and carbon, capacity, accelerator-hour
//! prices, and the links between them), built one way for every entry point: scenario files
//! (`xisuan plan`), `xisuan simulate --scenario` and `xisuan simulate` with flags.
//!
//! Hourly carbon and electricity prices follow `xisuan_catalog::hourly` (the one price model);
//! time-of-use tariffs multiply the price by local hour; the cost basis decides what an
//! accelerator-hour costs beyond electricity. The result is the planner's `Site` and `Link`
//! values, which `Problem::validate` checks like any other input.

use std::collections::BTreeMap;
use xisuan_catalog::hourly::site_hours;
use xisuan_catalog::network::DEFAULT_EFFICIENCY;
use xisuan_catalog::Catalog;
use xisuan_estimate::{find_accelerator, Accelerator};
use xisuan_model::Diagnostic;
use xisuan_plan::{Link, Site};

/// How accelerator time is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Basis {
    /// Electricity at the site's price, plus the hardware's purchase price over four years of
    /// hours (the same at every site, so it does not move placement).
    #[default]
    Owned,
    /// The site's on-demand price per accelerator-hour, which includes electricity: electricity
    /// prices are 0 (energy and carbon are still counted).
    Rental,
}

impl Basis {
    pub fn parse(text: &str) -> Result<Basis, String> {
        match text {
            "owned" => Ok(Basis::Owned),
            "rental" => Ok(Basis::Rental),
            other => Err(format!("`{other}` is not owned or rental")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Basis::Owned => "owned",
            Basis::Rental => "rental",
        }
    }
}

/// A time-of-use tariff: the price of some sites multiplied by a factor per local hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Tou {
    /// Catalog site ids.
    pub sites: Vec<String>,
    pub utc_offset_hours: i32,
    /// 24 multipliers, local hours 0..23.
    pub factors: Vec<f64>,
    pub source: String,
}

/// Average power per accelerator with its host share (kW) and the owned non-electricity price
/// per accelerator-hour (USD): the chip's average power plus 10% for the host (Patterson et
/// al. 2021), and its purchase price over four years of hours.
pub fn accelerator_defaults(a: &Accelerator) -> (f64, f64) {
    (a.default_power_w.value * 1.1 / 1000.0, a.default_capex_usd.value / (4.0 * 8760.0))
}

/// Everything needed to build the sites and links of a world for any window.
#[derive(Debug, Clone)]
pub struct WorldSpec {
    pub catalog: Catalog,
    /// Catalog site ids, in the order of the planner's site indices.
    pub site_ids: Vec<String>,
    pub basis: Basis,
    pub tou: Vec<Tou>,
    /// Overrides by accelerator id: kW per accelerator, USD per accelerator-hour (owned basis).
    pub accelerators: BTreeMap<String, (Option<f64>, Option<f64>)>,
}

/// A built site and where its hourly numbers came from.
#[derive(Debug, Clone)]
pub struct BuiltSite {
    pub site: Site,
    pub zone: Option<String>,
    pub carbon_source: String,
    pub price_source: String,
}

impl WorldSpec {
    /// kW per accelerator and owned USD per accelerator-hour of an accelerator id.
    pub fn kw_cost(&self, a: &Accelerator) -> (f64, f64) {
        let (kw, usd) = accelerator_defaults(a);
        let o = self.accelerators.get(a.id).copied().unwrap_or((None, None));
        (o.0.unwrap_or(kw), o.1.unwrap_or(usd))
    }

    /// The sites over `hours` hours from `start` (UTC hour index), with what had to be said.
    pub fn sites(&self, start: i64, hours: u32, diagnostics: &mut Vec<Diagnostic>) -> Vec<BuiltSite> {
        let mut out = Vec::new();
        for id in &self.site_ids {
            let Some(s) = self.catalog.site(id) else { continue };
            let h = site_hours(&self.catalog, s, start, hours as usize);
            diagnostics.extend(h.diagnostics);
            let mut usd = h.usd_per_kwh;
            for t in self.tou.iter().filter(|t| t.sites.iter().any(|x| x == id)) {
                for (k, p) in usd.iter_mut().enumerate() {
                    let local = (start + k as i64 + t.utc_offset_hours as i64).rem_euclid(24) as usize;
                    *p *= t.factors.get(local).copied().unwrap_or(1.0);
                }
                diagnostics.push(Diagnostic::info(id.clone(), format!("time-of-use tariff applied: {}", t.source)));
            }
            if self.basis == Basis::Rental {
                usd = vec![0.0; hours as usize];
            }
            let mut capacity = Vec::new();
            let mut gpu_hour = Vec::new();
            for (acc, c) in &s.capacity {
                let Some(a) = find_accelerator(acc) else {
                    diagnostics.push(Diagnostic::warning(id.clone(), format!("capacity of unknown accelerator `{acc}` ignored")));
                    continue;
                };
                capacity.push((a.id.to_string(), c.value));
                let cost = match self.basis {
                    Basis::Rental => s.gpu_hour_price.get(acc).map(|p| p.value.0).unwrap_or(a.default_usd_per_hour.value),
                    Basis::Owned => self.kw_cost(a).1,
                };
                gpu_hour.push((a.id.to_string(), cost));
            }
            out.push(BuiltSite {
                site: Site {
                    id: id.clone(),
                    name: s.name.clone(),
                    east: matches!(s.role, xisuan_catalog::Role::EastDemandHub),
                    capacity,
                    usd_per_kwh: usd,
                    kg_per_kwh: h.kg_per_kwh,
                    pue: s.pue.value,
                    usd_per_gpu_hour: gpu_hour,
                    lat: s.lat,
                    lon: s.lon,
                },
                zone: s.grid_zone.clone(),
                carbon_source: h.carbon_source,
                price_source: if self.basis == Basis::Rental { "rental: included in the accelerator-hour price".into() } else { h.price_source },
            });
        }
        out
    }

    /// Bandwidth and per-GB price between every pair of sites, from the catalog's network model.
    pub fn links(&self) -> Vec<Vec<Link>> {
        let sites: Vec<_> = self.site_ids.iter().filter_map(|id| self.catalog.site(id)).collect();
        sites
            .iter()
            .map(|a| {
                sites
                    .iter()
                    .map(|b| Link {
                        gbps: self.catalog.network.bandwidth(a, b).value.0,
                        efficiency: DEFAULT_EFFICIENCY,
                        usd_per_gb: self.catalog.network.price_per_gb(a, b).value,
                    })
                    .collect()
            })
            .collect()
    }
}

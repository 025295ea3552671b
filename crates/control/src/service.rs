//! Inference services in the control plane: what a tenant submits (the planner's `Service`
//! with its demand as peaks by user region, so each round builds the demand for its own hours),
//! how the services join a round's problem, and what a round decided for them (replicas by
//! site for the current hour). Services are re-planned every hour: replicas are stateless, so
//! nothing is pinned; the round's first hour is what runs.

use crate::decide::Rejection;
use crate::state::{Event, State, Tenant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xisuan_plan::{diurnal, Problem, Region, Service};

/// Demand from one user region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionDemand {
    /// The region (a city) by name.
    pub region: String,
    pub lat: f64,
    pub lon: f64,
    /// Requests per second at the daily peak (21:00 local).
    pub peak_rps: f64,
    /// Local time offset from UTC, hours, for the daily curve.
    pub utc_offset_h: f64,
    /// Round-trip latency from the region to each site, ms (site id → ms), from the catalog's
    /// network model when the service was submitted.
    pub latency_ms: BTreeMap<String, f64>,
}

/// A service as submitted and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The name the tenant gave it (`id` in a scenario's `[[services]]`), if any.
    pub name: Option<String>,
    pub accelerator: String,
    pub gpus_per_replica: u32,
    /// Requests per second one replica sustains at the latency target.
    pub replica_rps: f64,
    /// Average power per accelerator with its host share, kW.
    pub kw_per_gpu: f64,
    /// Round-trip network latency a user may see at most, ms.
    pub slo_ms: f64,
    pub demand: Vec<RegionDemand>,
    /// Data residency: only these sites (ids).
    pub allowed_sites: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Active,
    Cancelled,
}

impl ServiceStatus {
    pub fn name(self) -> &'static str {
        match self {
            ServiceStatus::Active => "active",
            ServiceStatus::Cancelled => "cancelled",
        }
    }
}

/// What the latest round decided for a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRound {
    pub service: String,
    /// Replicas by site for the round's first hour (what runs now).
    pub replicas: Vec<(String, u32)>,
    /// Over the round's horizon.
    pub cost_usd: f64,
    pub carbon_kg: f64,
    /// Demand not served within the latency objective over the horizon, rps·h.
    pub unmet_rps_hours: f64,
    /// Why not each other site, in words.
    pub reasons: Vec<String>,
}

/// A service and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub id: String,
    pub tenant: String,
    pub spec: ServiceSpec,
    pub status: ServiceStatus,
    pub submitted_h: f64,
    /// The latest round's decision for it, if any round has seen it.
    pub latest: Option<ServiceRound>,
    pub history: Vec<(f64, String)>,
}

/// A new service. `id` is chosen by the edge.
pub fn submit_service(state: &State, tenant: &str, id: &str, spec: ServiceSpec, now_h: f64) -> Result<Event, Rejection> {
    if !state.tenants.contains_key(tenant) {
        return Err(Rejection::Invalid(format!("unknown tenant {tenant}")));
    }
    if state.services.contains_key(id) || state.jobs.contains_key(id) {
        return Err(Rejection::Invalid(format!("id {id} is taken")));
    }
    Ok(Event::ServiceSubmitted { id: id.to_string(), tenant: tenant.to_string(), spec, at_h: now_h, request_sha256: None })
}

/// Stops a service the caller owns (an admin may stop any); another tenant's is not found.
pub fn cancel_service(state: &State, caller: &Tenant, id: &str, now_h: f64) -> Result<Event, Rejection> {
    let v = state.services.get(id).filter(|v| caller.admin || v.tenant == caller.id).ok_or_else(|| Rejection::NotFound(id.to_string()))?;
    if v.status == ServiceStatus::Cancelled {
        return Err(Rejection::Illegal { id: id.into(), status: v.status.name(), what: "it is already stopped".into() });
    }
    Ok(Event::ServiceCancelled { id: id.to_string(), at_h: now_h })
}

/// Adds services to a round's problem: their user regions (shared by name with the world's),
/// the regions' latencies to every site, and demand for the problem's hours from each region's
/// peak and the daily curve in its local time. A site a region has no latency for is out of
/// its reach. Used by every round and by the edge to check a submission the same way.
pub fn add_services<'a>(p: &mut Problem, services: impl IntoIterator<Item = (&'a str, &'a ServiceSpec)>) {
    let unreachable = xisuan_model::limits::MAX_LATENCY_MS;
    for (id, v) in services {
        let mut demand = vec![vec![0.0; p.slots as usize]; p.regions.len()];
        for d in &v.demand {
            let g = match p.regions.iter().position(|r| r.name == d.region) {
                Some(g) => g,
                None => {
                    p.regions.push(Region { name: d.region.clone(), lat: d.lat, lon: d.lon });
                    p.latency_ms.push(p.sites.iter().map(|s| d.latency_ms.get(&s.id).copied().unwrap_or(unreachable)).collect());
                    for other in &mut p.services {
                        other.demand.push(vec![0.0; p.slots as usize]);
                    }
                    demand.push(vec![0.0; p.slots as usize]);
                    p.regions.len() - 1
                }
            };
            for (t, x) in demand[g].iter_mut().enumerate() {
                let local = ((p.start_hour + t as i64) as f64 + d.utc_offset_h).rem_euclid(24.0);
                *x += d.peak_rps * diurnal(local);
            }
        }
        let allowed_sites = v.allowed_sites.as_ref().map(|a| (0..p.sites.len()).filter(|&s| a.contains(&p.sites[s].id)).collect());
        p.services.push(Service {
            id: id.to_string(),
            accelerator: v.accelerator.clone(),
            gpus_per_replica: v.gpus_per_replica,
            replica_rps: v.replica_rps,
            kw_per_gpu: v.kw_per_gpu,
            slo_ms: v.slo_ms,
            demand,
            allowed_sites,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xisuan_plan::synth::{synthetic, Shape};

    fn spec(peak: f64) -> ServiceSpec {
        ServiceSpec {
            name: None,
            accelerator: "h100".into(),
            gpus_per_replica: 8,
            replica_rps: 5.0,
            kw_per_gpu: 0.77,
            slo_ms: 50.0,
            demand: vec![RegionDemand {
                region: "Somewhere".into(),
                lat: 0.0,
                lon: 0.0,
                peak_rps: peak,
                utc_offset_h: 8.0,
                latency_ms: BTreeMap::from([("site-0".into(), 5.0)]),
            }],
            allowed_sites: None,
        }
    }

    #[test]
    fn services_join_the_problem_with_their_regions_and_daily_demand() {
        let mut p = synthetic(1, &Shape { sites: 3, slots: 24, jobs: 0, services: 0, regions: 0, capacity: 64, pausable_share: 0.0 });
        p.start_hour = 0;
        let (a, b) = (spec(100.0), spec(50.0));
        add_services(&mut p, [("a", &a), ("b", &b)]);
        assert_eq!(p.regions.len(), 1, "one region shared by name");
        assert_eq!(p.latency_ms[0][0], 5.0);
        assert_eq!(p.latency_ms[0][1], xisuan_model::limits::MAX_LATENCY_MS, "no latency known: out of reach");
        // Peak at 21:00 local = 13:00 UTC at UTC+8.
        assert!((p.services[0].demand[0][13] - 100.0).abs() < 1e-9);
        assert!((p.services[1].demand[0][13] - 50.0).abs() < 1e-9);
        p.validate().unwrap();
    }
}

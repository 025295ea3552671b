//! The planner's answer as a value: where and when each job runs, what moves over the network,
//! what it costs and emits, why each other site was not chosen, and how far the answer can be
//! from optimal. Nothing here is applied to the world; the edge decides what to do with it.

use serde::Serialize;

/// Why a site was not used for a job or a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The site has none of the accelerator types the job can use.
    AcceleratorType { wanted: Vec<String> },
    /// Data-residency rules exclude the site.
    Residency,
    /// The site has fewer accelerators of the type than the job needs at once.
    TooSmall { capacity: u32, needed: u32 },
    /// Even starting as early as possible (after moving the data), the job ends too late.
    Deadline { earliest_end_slot: f64, deadline_slot: u32, transfer_hours: f64 },
    /// Feasible in principle, but the capacity was taken in every window before the deadline.
    Capacity,
    /// Round-trip latency from a user region exceeds the service's objective.
    Latency { region: String, ms: f64, slo_ms: f64 },
    /// Feasible, but a better site was chosen; `extra` is how much worse its best option scores.
    Costlier { extra_score: f64, extra_usd: f64, extra_kg: f64 },
    /// Room exists, but running the job here scores more than leaving it unplaced (its
    /// penalty, `Objective::unplaced_usd_per_gpu_hour`).
    DearerThanPenalty { score: f64, penalty: f64 },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let human = xisuan_model::units::human;
        match self {
            Reason::AcceleratorType { wanted } => write!(f, "no {} here", wanted.join("/")),
            Reason::Residency => f.write_str("data residency"),
            Reason::TooSmall { capacity, needed } => write!(f, "capacity {capacity} < {needed} accelerators"),
            Reason::Deadline { earliest_end_slot, deadline_slot, transfer_hours } => {
                write!(f, "deadline: earliest end h{earliest_end_slot:.1} > h{deadline_slot} (transfer {transfer_hours:.1} h)")
            }
            Reason::Capacity => f.write_str("capacity taken before the deadline"),
            Reason::Latency { region, ms, slo_ms } => write!(f, "latency from {region} {ms:.1} ms > {slo_ms:.0} ms SLO"),
            // Worse by the objective's score; its dollar part alone may be lower (a site that
            // is cheaper but later or dirtier), so each part carries its own sign.
            Reason::Costlier { extra_usd, extra_kg, .. } => {
                write!(f, "costlier: {}{} USD, {:+.0} kgCO2e", if *extra_usd < 0.0 { "-" } else { "+" }, human(extra_usd.abs()), extra_kg)
            }
            Reason::DearerThanPenalty { score, penalty } => {
                write!(f, "fits, but scores {} against a penalty of {} for leaving it undone", human(*score), human(*penalty))
            }
        }
    }
}

/// Data moved before a job starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferPlan {
    pub from: String,
    pub to: String,
    pub bytes: f64,
    /// Slot the transfer starts in.
    pub start_slot: u32,
    pub hours: f64,
    pub usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteRejection {
    pub site: String,
    #[serde(flatten)]
    pub reason: Reason,
}

/// Where and when one job runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPlacement {
    pub job: String,
    pub site: String,
    pub accelerator: String,
    pub gpus: u32,
    /// Slots the job runs in (contiguous unless it is pausable).
    pub slots: Vec<u32>,
    pub start_slot: u32,
    /// Exclusive end: the slot after the last one it runs in.
    pub end_slot: u32,
    pub transfer: Option<TransferPlan>,
    pub energy_kwh: f64,
    pub cost_usd: f64,
    /// The electricity part of `cost_usd`.
    pub electricity_usd: f64,
    pub carbon_kg: f64,
    /// Hours the job ends after the earliest it could end anywhere (its earliest start plus
    /// its run time on its fastest accelerator, with no data to move): waiting, moving data
    /// and a slower accelerator all count.
    pub delay_hours: f64,
    /// Finished after its deadline (baselines only; the planner never does this).
    pub missed_deadline: bool,
    /// Why not each other site.
    pub rejected: Vec<SiteRejection>,
}

/// A job that could not be placed, and every site's reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unplaced {
    pub job: String,
    pub reasons: Vec<SiteRejection>,
}

/// Replicas of a service at one site in one slot, and the regions they answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSlot {
    pub slot: u32,
    pub site: String,
    pub replicas: u32,
    /// Requests per second served here, by region name.
    pub served: Vec<(String, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlacement {
    pub service: String,
    pub slots: Vec<ServiceSlot>,
    pub energy_kwh: f64,
    pub cost_usd: f64,
    pub carbon_kg: f64,
    /// Requests per second that could not be served within the SLO, summed over slots
    /// (request-seconds per second, i.e. rps·h).
    pub unmet_rps_hours: f64,
    /// Worst round-trip latency any served region sees, ms.
    pub worst_latency_ms: f64,
    /// Sites excluded for some region, with the reason.
    pub rejected: Vec<SiteRejection>,
}

/// Sums over a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub cost_usd: f64,
    /// The electricity part of `cost_usd` (the rest is accelerator-hours and transfers).
    pub electricity_usd: f64,
    pub carbon_kg: f64,
    pub energy_kwh: f64,
    pub transfer_usd: f64,
    pub bytes_moved: f64,
    /// The objective: weighted cost, carbon and delay, plus `penalty_usd`.
    pub objective: f64,
    /// What the work left undone costs in the objective: unplaced jobs and unmet demand at
    /// `Objective::unplaced_usd_per_gpu_hour`.
    pub penalty_usd: f64,
    pub jobs_placed: usize,
    pub jobs_unplaced: usize,
    pub deadline_misses: usize,
    pub unmet_rps_hours: f64,
}

/// A lower bound on the objective (penalties included) and what kind of relaxation produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bound {
    pub value: f64,
    /// `capacity_relaxation` (every job at its own best option or its penalty, capacity
    /// ignored), `lagrangian` (capacity priced by multipliers; replicas whole),
    /// `lp_relaxation` (the MILP with integrality dropped) or `mip_dual` (HiGHS's best bound).
    pub kind: String,
}

/// Where a solve spent its time (measured at the edge, which has the clock).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
}

/// The same problem solved by a simple policy, for comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub name: String,
    pub description: String,
    pub totals: Totals,
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub solver: String,
    pub jobs: Vec<JobPlacement>,
    pub unplaced: Vec<Unplaced>,
    pub services: Vec<ServicePlacement>,
    pub totals: Totals,
    pub bounds: Vec<Bound>,
    /// Relative gap of the objective to the tightest bound, (objective − bound) / objective;
    /// `None` (printed "unknown") when no valid bound is known.
    pub gap: Option<f64>,
    pub baselines: Vec<Baseline>,
    /// Solver status and other notes (time limits hit, carbon cap multiplier, ...).
    pub notes: Vec<String>,
    /// Time per stage, when the caller measured it.
    pub stages: Vec<Stage>,
}

impl Plan {
    /// The tightest (largest) bound, if any.
    pub fn best_bound(&self) -> Option<&Bound> {
        self.bounds.iter().max_by(|a, b| a.value.total_cmp(&b.value))
    }
    /// Recomputes `gap` from the objective and the tightest bound. It is not clamped: a bound
    /// above the objective would be a bug, and shows as a negative gap.
    pub fn set_gap(&mut self) {
        self.gap = self.best_bound().map(|b| {
            let o = self.totals.objective;
            if o.abs() < 1e-9 {
                0.0
            } else {
                let g = (o - b.value) / o.abs();
                // Below 1e-9 the difference is floating-point rounding, not a gap.
                if g.abs() < 1e-9 {
                    0.0
                } else {
                    g
                }
            }
        });
    }
}

#[cfg(test)]
mod reason_tests {
    use super::Reason;

    #[test]
    fn a_costlier_site_shows_each_part_with_its_sign() {
        let r = Reason::Costlier { extra_score: 0.5, extra_usd: -0.079, extra_kg: 3.0 };
        assert_eq!(r.to_string(), "costlier: -0.07900 USD, +3 kgCO2e");
        let r = Reason::Costlier { extra_score: 24.0, extra_usd: 23.58, extra_kg: -44.0 };
        assert_eq!(r.to_string(), "costlier: +23.58 USD, -44 kgCO2e");
    }
}

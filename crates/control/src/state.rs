//! The state, its events, and `State::apply`.

use crate::run::{CheckpointRef, RunSpec, TransferRecord, TransferSpec, TransferStatus};
use crate::service::{ServiceRecord, ServiceRound, ServiceSpec, ServiceStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// An accelerator type a job can use (as in `plan::AcceleratorOption`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccOption {
    pub accelerator: String,
    /// Throughput relative to the job's reference accelerator.
    pub speed: f64,
    /// Average power per accelerator with its host share, kW.
    pub kw_per_gpu: f64,
}

/// A job as submitted and checked: everything the planner needs, with sites by id and times
/// in hours since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The name the tenant gave it (`id` in a scenario's `[[jobs]]`), if any.
    pub name: Option<String>,
    pub gpus: u32,
    /// Hours of work on the reference accelerator (the first option).
    pub hours: f64,
    pub accelerators: Vec<AccOption>,
    pub data_site: String,
    pub data_bytes: f64,
    pub earliest_h: f64,
    pub deadline_h: Option<f64>,
    pub pausable: bool,
    pub allowed_sites: Option<Vec<String>>,
    /// Hours between checkpoints: a failure loses at most this much work.
    pub checkpoint_every_h: f64,
    /// What it runs on a real cluster (`None`: planning-only work, which is never handed to
    /// a real cluster; the simulated backend runs it as arithmetic).
    #[serde(default)]
    pub run: Option<RunSpec>,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Planned,
    Dispatched,
    Running,
    Completed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [Status::Pending, Status::Planned, Status::Dispatched, Status::Running, Status::Completed, Status::Cancelled];
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Planned => "planned",
            Status::Dispatched => "dispatched",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled)
    }
    /// Holding accelerators at a site (dispatched or running).
    pub fn holds_capacity(self) -> bool {
        matches!(self, Status::Dispatched | Status::Running)
    }
}

/// One job's placement in a planning round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub job: String,
    pub site: String,
    pub accelerator: String,
    /// Start, hours since the epoch (the first slot for a pausable job).
    pub start_h: f64,
    pub end_h: f64,
    /// When the job goes to its site, hours since the epoch: the start of its data transfer
    /// when its data moves (the site stages the data, then starts it), else its start.
    #[serde(default)]
    pub dispatch_h: Option<f64>,
    pub cost_usd: f64,
    #[serde(default)]
    pub electricity_usd: f64,
    #[serde(default)]
    pub transfer_usd: f64,
    #[serde(default)]
    pub bytes_moved: f64,
    #[serde(default)]
    pub energy_kwh: f64,
    pub carbon_kg: f64,
    /// Why not each other site, in words.
    pub reasons: Vec<String>,
}

/// A job a round could not place, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unplaced {
    pub job: String,
    pub reasons: Vec<String>,
}

/// A planning round as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub round: u64,
    pub at_h: f64,
    pub solver: String,
    pub objective: f64,
    pub bound: Option<f64>,
    pub gap: Option<f64>,
    pub cost_usd: f64,
    pub carbon_kg: f64,
    /// The same jobs run as soon as capacity allows at the planner's sites (no time shifting).
    pub run_now_cost_usd: Option<f64>,
    pub run_now_carbon_kg: Option<f64>,
    /// Every job at the eastern hub nearest its data, run now (the baseline EDWC moves away from).
    #[serde(default)]
    pub nearest_east_cost_usd: Option<f64>,
    #[serde(default)]
    pub nearest_east_carbon_kg: Option<f64>,
    pub placements: Vec<Placement>,
    pub unplaced: Vec<Unplaced>,
    /// The submitted services, re-planned every round.
    #[serde(default)]
    pub services: Vec<ServiceRound>,
    /// Wall time of the round, filled in by the edge (which has the clock).
    pub seconds: f64,
    /// Events the state it was decided on had folded (what it saw).
    #[serde(default)]
    pub seen_events: Option<u64>,
    /// Recorded as its changes from round `delta_of` (`Round::changes_from`): `placements` and
    /// `unplaced` then hold only the jobs whose entry is new or differs from that round's
    /// (`patched` those that stayed put with new figures), and `dropped` the jobs that round had
    /// and this one has not. `None`: the lists are whole. A state folds a delta into the whole
    /// round (`Round::whole`), so a round that changed nothing records almost nothing, however
    /// long the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_of: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
    /// In a delta: placements that stay where they were (site, accelerator and hours), with
    /// only the figures or reasons that changed (the hour's forecast, or other work's room).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patched: Vec<PlacementPatch>,
}

/// What changed in a placement that stayed where it was (`Round::patched`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlacementPatch {
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electricity_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_moved: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carbon_kg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
}

impl PlacementPatch {
    /// `new` as a patch of `old`, when only figures or reasons differ.
    fn between(old: &Placement, new: &Placement) -> Option<PlacementPatch> {
        let same_place = (&old.site, &old.accelerator, old.start_h.to_bits(), old.end_h.to_bits(), old.dispatch_h.map(f64::to_bits))
            == (&new.site, &new.accelerator, new.start_h.to_bits(), new.end_h.to_bits(), new.dispatch_h.map(f64::to_bits));
        if old.job != new.job || !same_place {
            return None;
        }
        let num = |a: f64, b: f64| (a.to_bits() != b.to_bits()).then_some(b);
        Some(PlacementPatch {
            job: new.job.clone(),
            cost_usd: num(old.cost_usd, new.cost_usd),
            electricity_usd: num(old.electricity_usd, new.electricity_usd),
            transfer_usd: num(old.transfer_usd, new.transfer_usd),
            bytes_moved: num(old.bytes_moved, new.bytes_moved),
            energy_kwh: num(old.energy_kwh, new.energy_kwh),
            carbon_kg: num(old.carbon_kg, new.carbon_kg),
            reasons: (old.reasons != new.reasons).then(|| new.reasons.clone()),
        })
    }

    fn apply(&self, p: &mut Placement) {
        let set = |field: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut p.cost_usd, self.cost_usd);
        set(&mut p.electricity_usd, self.electricity_usd);
        set(&mut p.transfer_usd, self.transfer_usd);
        set(&mut p.bytes_moved, self.bytes_moved);
        set(&mut p.energy_kwh, self.energy_kwh);
        set(&mut p.carbon_kg, self.carbon_kg);
        if let Some(r) = &self.reasons {
            p.reasons = r.clone();
        }
    }
}

impl Round {
    /// This (whole) round as its changes from `base`, the round before it.
    pub fn changes_from(&self, base: &Round) -> Round {
        let placed: HashMap<&str, &Placement> = base.placements.iter().map(|p| (p.job.as_str(), p)).collect();
        let unplaced: HashMap<&str, &Unplaced> = base.unplaced.iter().map(|u| (u.job.as_str(), u)).collect();
        let here: HashSet<&str> = self.placements.iter().map(|p| p.job.as_str()).chain(self.unplaced.iter().map(|u| u.job.as_str())).collect();
        let mut placements = Vec::new();
        let mut patched = Vec::new();
        for p in &self.placements {
            match placed.get(p.job.as_str()) {
                Some(&old) if old == p => {}
                Some(&old) => match PlacementPatch::between(old, p) {
                    Some(patch) => patched.push(patch),
                    None => placements.push(p.clone()),
                },
                None => placements.push(p.clone()),
            }
        }
        Round {
            placements,
            patched,
            unplaced: self.unplaced.iter().filter(|u| unplaced.get(u.job.as_str()) != Some(u)).cloned().collect(),
            dropped: base
                .placements
                .iter()
                .map(|p| p.job.as_str())
                .chain(base.unplaced.iter().map(|u| u.job.as_str()))
                .filter(|j| !here.contains(j))
                .map(str::to_string)
                .collect(),
            delta_of: Some(base.round),
            ..self.clone_header()
        }
    }

    /// The whole round a recorded one stands for: itself when whole; else `base` (the round
    /// its delta is of) with the changes made: each changed entry where the job's entry was,
    /// new ones after, dropped ones gone.
    pub fn whole(&self, base: Option<&Round>) -> Round {
        let Some(base) = base.filter(|b| self.delta_of == Some(b.round)) else {
            return self.clone();
        };
        let placed: HashMap<&str, &Placement> = self.placements.iter().map(|p| (p.job.as_str(), p)).collect();
        let patched: HashMap<&str, &PlacementPatch> = self.patched.iter().map(|p| (p.job.as_str(), p)).collect();
        let unplaced: HashMap<&str, &Unplaced> = self.unplaced.iter().map(|u| (u.job.as_str(), u)).collect();
        let dropped: HashSet<&str> = self.dropped.iter().map(String::as_str).collect();
        let mut kept: HashSet<&str> = HashSet::new();
        let mut placements = Vec::with_capacity(base.placements.len() + self.placements.len());
        for p in &base.placements {
            let j = p.job.as_str();
            if dropped.contains(j) || unplaced.contains_key(j) {
                continue;
            }
            kept.insert(j);
            let mut now = (*placed.get(j).unwrap_or(&p)).clone();
            if let Some(patch) = patched.get(j) {
                patch.apply(&mut now);
            }
            placements.push(now);
        }
        placements.extend(self.placements.iter().filter(|p| !kept.contains(p.job.as_str())).cloned());
        kept.clear();
        let mut still = Vec::with_capacity(base.unplaced.len() + self.unplaced.len());
        for u in &base.unplaced {
            let j = u.job.as_str();
            if dropped.contains(j) || placed.contains_key(j) {
                continue;
            }
            kept.insert(j);
            still.push((*unplaced.get(j).unwrap_or(&u)).clone());
        }
        still.extend(self.unplaced.iter().filter(|u| !kept.contains(u.job.as_str())).cloned());
        Round { placements, unplaced: still, delta_of: None, dropped: Vec::new(), patched: Vec::new(), ..self.clone_header() }
    }

    /// Everything but the lists of jobs.
    fn clone_header(&self) -> Round {
        Round {
            round: self.round,
            at_h: self.at_h,
            solver: self.solver.clone(),
            objective: self.objective,
            bound: self.bound,
            gap: self.gap,
            cost_usd: self.cost_usd,
            carbon_kg: self.carbon_kg,
            run_now_cost_usd: self.run_now_cost_usd,
            run_now_carbon_kg: self.run_now_carbon_kg,
            nearest_east_cost_usd: self.nearest_east_cost_usd,
            nearest_east_carbon_kg: self.nearest_east_carbon_kg,
            placements: Vec::new(),
            unplaced: Vec::new(),
            services: self.services.clone(),
            seconds: self.seconds,
            seen_events: self.seen_events,
            delta_of: self.delta_of,
            dropped: Vec::new(),
            patched: Vec::new(),
        }
    }
}

/// The store's subject of sites going down or up (`Event::subject`).
pub const SITES_SUBJECT: &str = "sites";

/// What happened. The store records these; `State::apply` folds them in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    TenantCreated {
        id: String,
        name: String,
        token_sha256: String,
        quota_gpus: Option<u32>,
        admin: bool,
        at_h: f64,
    },
    /// A tenant's token replaced (rotated: the old one stops working at once), given an expiry,
    /// or revoked (`token_sha256` empty: no token works until a new one is set). Who did it is
    /// recorded.
    TokenSet {
        tenant: String,
        token_sha256: String,
        expires_unix_s: Option<f64>,
        by: String,
        at_h: f64,
    },
    JobSubmitted {
        id: String,
        tenant: String,
        spec: JobSpec,
        at_h: f64,
        /// SHA-256 (hex) of the request as the edge read it: a retry with the same idempotency
        /// key must carry the same request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_sha256: Option<String>,
    },
    JobCancelled {
        id: String,
        at_h: f64,
    },
    Planned(Round),
    JobDispatched {
        id: String,
        site: String,
        accelerator: String,
        start_h: f64,
        attempt: u32,
        at_h: f64,
    },
    JobStarted {
        id: String,
        at_h: f64,
    },
    JobCheckpointed {
        id: String,
        done_h: f64,
        at_h: f64,
        /// Where the job saved it and what its manifest says (a real job); `None` from the
        /// simulated backend.
        #[serde(default)]
        checkpoint: Option<CheckpointRef>,
    },
    JobFinished {
        id: String,
        at_h: f64,
    },
    /// Failed or preempted: back to pending with the work up to the last checkpoint. With
    /// `fence`, the attempt's end is not confirmed (a node that does not answer, a job that left
    /// the queue with no accounting to say how): it is fenced at its site until confirmed.
    JobFailed {
        id: String,
        reason: String,
        at_h: f64,
        #[serde(default)]
        fence: bool,
    },
    /// A site's backend refused the dispatched job (a bad partition, an accelerator type its
    /// cluster lacks, a QOS limit): back to pending, and not planned at that site again until
    /// the site comes back up after being down.
    JobRefused {
        id: String,
        site: String,
        reason: String,
        at_h: f64,
    },
    /// A site goes down: its planned, dispatched and running work goes back to pending. With
    /// `fences` (a real cluster, which may still be running that work), those jobs start
    /// nowhere else until the cluster confirms each attempt ended (`FenceLifted`) or an operator
    /// says so (`FencesReleased`).
    SiteDown {
        site: String,
        reason: String,
        at_h: f64,
        #[serde(default)]
        fences: Vec<Fence>,
        /// Its cluster's own health took it down (not an operator): it comes back up by itself
        /// when the cluster does.
        #[serde(default)]
        by_cluster: bool,
    },
    SiteUp {
        site: String,
        at_h: f64,
    },
    ServiceSubmitted {
        id: String,
        tenant: String,
        spec: ServiceSpec,
        at_h: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_sha256: Option<String>,
    },
    ServiceCancelled {
        id: String,
        at_h: f64,
    },
    /// The edge started a transfer (again, after a failure, with the same id).
    TransferStarted {
        spec: TransferSpec,
        at_h: f64,
    },
    /// A transfer arrived complete and verified (sizes and checksums), or was already there.
    TransferFinished {
        id: String,
        job: String,
        bytes_moved: f64,
        seconds: f64,
        note: String,
        at_h: f64,
    },
    /// A transfer failed, in the engine's words.
    TransferFailed {
        id: String,
        job: String,
        reason: String,
        at_h: f64,
    },
    /// An operator says the work fenced by a silent site is gone (the cluster was lost, its
    /// nodes powered off): it may start elsewhere. Recorded with who and why.
    FencesReleased {
        site: String,
        reason: String,
        by: String,
        at_h: f64,
    },
    /// The cluster confirmed a fenced attempt has ended (in its words): the job may start
    /// elsewhere.
    FenceLifted {
        job: String,
        site: String,
        reason: String,
        at_h: f64,
    },
    /// A fenced attempt is still queued (`running` false) or running at its site, which
    /// answers again: it is followed there again rather than cancelled and run elsewhere.
    AttemptResumed {
        id: String,
        site: String,
        attempt: u32,
        running: bool,
        at_h: f64,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::TenantCreated { .. } => "tenant_created",
            Event::TokenSet { .. } => "token_set",
            Event::JobSubmitted { .. } => "job_submitted",
            Event::JobCancelled { .. } => "job_cancelled",
            Event::Planned(_) => "planned",
            Event::JobDispatched { .. } => "job_dispatched",
            Event::JobStarted { .. } => "job_started",
            Event::JobCheckpointed { .. } => "job_checkpointed",
            Event::JobFinished { .. } => "job_finished",
            Event::JobFailed { .. } => "job_failed",
            Event::JobRefused { .. } => "job_refused",
            Event::SiteDown { .. } => "site_down",
            Event::SiteUp { .. } => "site_up",
            Event::ServiceSubmitted { .. } => "service_submitted",
            Event::ServiceCancelled { .. } => "service_cancelled",
            Event::TransferStarted { .. } => "transfer_started",
            Event::TransferFinished { .. } => "transfer_finished",
            Event::TransferFailed { .. } => "transfer_failed",
            Event::FencesReleased { .. } => "fences_released",
            Event::FenceLifted { .. } => "fence_lifted",
            Event::AttemptResumed { .. } => "attempt_resumed",
        }
    }
    /// The service an event is about, if any.
    pub fn service(&self) -> Option<&str> {
        match self {
            Event::ServiceSubmitted { id, .. } | Event::ServiceCancelled { id, .. } => Some(id),
            _ => None,
        }
    }
    /// What the event is about, as the store keys it for optimistic concurrency: its job or
    /// service id, or `sites` for a site going down or up (which moves every job there).
    pub fn subject(&self) -> Option<String> {
        match self {
            Event::SiteDown { .. } | Event::SiteUp { .. } => Some(SITES_SUBJECT.into()),
            _ => self.job().or(self.service()).map(str::to_string),
        }
    }
    /// What a decision to write this event read besides its subject: a dispatch read that its
    /// site was up; what a site's backend reported about a job read where the job was. So each
    /// conflicts with a site going down or up after it was decided (any site's: such an event
    /// moves every job at its site, and these events do not all name their site).
    pub fn also_read(&self) -> Vec<String> {
        match self {
            Event::JobDispatched { .. }
            | Event::JobStarted { .. }
            | Event::JobCheckpointed { .. }
            | Event::JobFinished { .. }
            | Event::JobFailed { .. }
            | Event::JobRefused { .. }
            | Event::AttemptResumed { .. } => {
                vec![SITES_SUBJECT.into()]
            }
            _ => Vec::new(),
        }
    }
    /// The job an event is about, if any.
    pub fn job(&self) -> Option<&str> {
        match self {
            Event::JobSubmitted { id, .. }
            | Event::JobCancelled { id, .. }
            | Event::JobDispatched { id, .. }
            | Event::JobStarted { id, .. }
            | Event::JobCheckpointed { id, .. }
            | Event::JobFinished { id, .. }
            | Event::JobFailed { id, .. }
            | Event::JobRefused { id, .. }
            | Event::AttemptResumed { id, .. } => Some(id),
            Event::TransferStarted { spec, .. } => Some(&spec.job),
            Event::TransferFinished { job, .. } | Event::TransferFailed { job, .. } | Event::FenceLifted { job, .. } => Some(job),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub token_sha256: String,
    /// Most accelerators the tenant's work may hold at once; more waits, it is not refused.
    pub quota_gpus: Option<u32>,
    pub admin: bool,
    /// When its token stops working, Unix seconds (the edge compares it with its clock);
    /// `None`: until it is replaced or revoked.
    #[serde(default)]
    pub token_expires_unix_s: Option<f64>,
}

/// An attempt of a job that may still be running at a site: the job starts nowhere else until
/// that site's cluster confirms the attempt ended, or an operator says it is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fence {
    pub job: String,
    pub site: String,
    #[serde(default)]
    pub attempt: u32,
    /// Why it is fenced, in words.
    #[serde(default)]
    pub reason: String,
}

/// A job and everything the control plane knows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub tenant: String,
    pub spec: JobSpec,
    pub status: Status,
    pub submitted_h: f64,
    /// Reference hours of work done and saved (up to the last checkpoint).
    pub done_h: f64,
    /// `done_h` when the job last started (its progress since then is on top of it).
    pub saved_at_start_h: f64,
    pub site: Option<String>,
    pub accelerator: Option<String>,
    /// Planned or actual start, hours since the epoch.
    pub start_h: Option<f64>,
    pub end_h: Option<f64>,
    /// When planned work goes to its site (its data transfer's start, else its start).
    #[serde(default)]
    pub dispatch_h: Option<f64>,
    /// Dispatches so far (one per attempt).
    pub attempts: u32,
    /// The latest round's reasons (why not each other site, or why unplaced).
    pub reasons: Vec<String>,
    /// What happened to it, in words, with the hour.
    pub history: Vec<(f64, String)>,
    /// Sites whose backend refused it, with the reason: not planned there again.
    #[serde(default)]
    pub refused: BTreeMap<String, String>,
    /// Set while an attempt may still be running at a site: it is not started elsewhere until
    /// that site's cluster confirms the attempt ended or an operator releases it.
    #[serde(default)]
    pub fence: Option<Fence>,
    /// The newest complete checkpoint seen (a real job's manifest), to resume from.
    #[serde(default)]
    pub checkpoint: Option<CheckpointRef>,
    /// The site of each attempt.
    #[serde(default)]
    pub attempt_sites: BTreeMap<u32, String>,
}

impl JobRecord {
    /// Reference hours still to run.
    pub fn remaining_h(&self) -> f64 {
        (self.spec.hours - self.done_h).max(0.0)
    }
}

/// Everything the control plane knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub tenants: BTreeMap<String, Tenant>,
    pub jobs: BTreeMap<String, JobRecord>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceRecord>,
    /// Every transfer by id (`JOB/aATTEMPT/KIND/INDEX`).
    #[serde(default)]
    pub transfers: BTreeMap<String, TransferRecord>,
    pub sites_down: BTreeSet<String>,
    /// The sites down for their cluster's health (a subset of `sites_down`).
    #[serde(default)]
    pub down_by_cluster: BTreeSet<String>,
    /// The latest planning round.
    pub last_round: Option<Round>,
    pub rounds: u64,
    /// Events applied so far (for metrics and the rebuild check).
    pub events: u64,
    pub submissions: u64,
    /// Set when something happened that the next planning round should see.
    pub dirty: bool,
    /// `events` when `dirty` was last set: a round decided on a state that had folded fewer
    /// events did not see that change, so its `planned` event leaves `dirty` set.
    #[serde(default)]
    pub dirty_at: u64,
    /// Events the fold refused as illegal for the state they arrived in (decided on a state
    /// that changed before they were written: a dispatch after a cancel, a cancel after the
    /// finish, a second dispatch of one attempt). They change nothing.
    #[serde(default)]
    pub refused_events: u64,
}

/// The one statement of which event may follow which: whether `e` is legal for `state` (the
/// job's or service's status, its fence and attempt, the site's state), and why not. The fold
/// (`State::apply`) refuses what this refuses, so a decision taken on an older state can never
/// bring a job back from cancelled or completed, or dispatch one attempt twice.
pub fn legal(state: &State, e: &Event) -> Result<(), String> {
    use Status::*;
    let job = |id: &str| state.jobs.get(id).ok_or_else(|| format!("no job {id}"));
    let is = |id: &str, allowed: &[Status], what: &str| -> Result<(), String> {
        let j = job(id)?;
        if allowed.contains(&j.status) {
            Ok(())
        } else {
            Err(format!("{id} is {}: {what}", j.status.name()))
        }
    };
    match e {
        Event::TenantCreated { id, name, .. } => {
            if state.tenants.contains_key(id) || state.tenants.values().any(|t| &t.name == name) {
                return Err(format!("a tenant {name} ({id}) exists"));
            }
            Ok(())
        }
        Event::TokenSet { tenant, .. } => match state.tenants.contains_key(tenant) {
            true => Ok(()),
            false => Err(format!("no tenant {tenant}")),
        },
        Event::JobSubmitted { id, .. } => match state.jobs.contains_key(id) {
            true => Err(format!("a job {id} exists")),
            false => Ok(()),
        },
        Event::JobCancelled { id, .. } => is(id, &[Pending, Planned, Dispatched, Running], "it cannot be cancelled"),
        Event::Planned(r) if r.round != state.rounds + 1 => Err(format!("round {} is not the next (the log has {} rounds)", r.round, state.rounds)),
        Event::Planned(r) if r.delta_of.is_some() && r.delta_of != state.last_round.as_ref().map(|l| l.round) => {
            Err(format!("round {} is recorded as changes from round {}, which is not the latest the log has", r.round, r.delta_of.unwrap_or(0)))
        }
        Event::Planned(_) => Ok(()),
        Event::JobDispatched { id, site, attempt, .. } => {
            is(id, &[Planned], "only planned work is dispatched")?;
            let j = job(id)?;
            if let Some(f) = &j.fence {
                return Err(format!("{id} may still be running at {} (attempt {})", f.site, f.attempt));
            }
            if *attempt != j.attempts + 1 {
                return Err(format!("{id} has had {} attempts: attempt {attempt} is not the next", j.attempts));
            }
            if state.sites_down.contains(site) {
                return Err(format!("site {site} is down"));
            }
            Ok(())
        }
        Event::JobStarted { id, .. } => is(id, &[Dispatched], "only a dispatched job can start"),
        Event::JobCheckpointed { id, .. } => is(id, &[Pending, Planned, Dispatched, Running], "a finished or cancelled job saves nothing more"),
        Event::JobFinished { id, .. } => {
            let j = job(id)?;
            if j.status.holds_capacity() || (j.status == Pending && j.fence.is_some()) {
                Ok(())
            } else {
                Err(format!("{id} is {}: only dispatched, running or fenced work finishes", j.status.name()))
            }
        }
        Event::JobFailed { id, .. } => is(id, &[Dispatched, Running], "only dispatched or running work can fail"),
        Event::JobRefused { id, .. } => is(id, &[Dispatched], "only dispatched work can be refused"),
        Event::AttemptResumed { id, site, attempt, .. } => {
            is(id, &[Pending], "only fenced pending work is followed again")?;
            match &job(id)?.fence {
                Some(f) if &f.site == site && f.attempt == *attempt => Ok(()),
                _ => Err(format!("{id} is not fenced at {site} for attempt {attempt}")),
            }
        }
        Event::FenceLifted { job: id, site, .. } => match &job(id)?.fence {
            Some(f) if &f.site == site => Ok(()),
            _ => Err(format!("{id} is not fenced at {site}")),
        },
        Event::ServiceSubmitted { id, .. } => match state.services.contains_key(id) {
            true => Err(format!("a service {id} exists")),
            false => Ok(()),
        },
        Event::ServiceCancelled { id, .. } => match state.services.get(id) {
            Some(v) if v.status == ServiceStatus::Active => Ok(()),
            Some(_) => Err(format!("{id} is stopped")),
            None => Err(format!("no service {id}")),
        },
        Event::SiteDown { .. } | Event::SiteUp { .. } | Event::FencesReleased { .. } => Ok(()),
        Event::TransferStarted { .. } | Event::TransferFinished { .. } | Event::TransferFailed { .. } => Ok(()),
    }
}

impl State {
    /// Folds one event into the state. Events are facts already decided, so an event that does
    /// not fit (a job unknown here) changes nothing rather than failing the replay.
    pub fn apply(&mut self, e: &Event) {
        self.events += 1;
        if legal(self, e).is_err() {
            self.refused_events += 1;
            return;
        }
        match e {
            Event::TenantCreated { id, name, token_sha256, quota_gpus, admin, .. } => {
                self.tenants.insert(
                    id.clone(),
                    Tenant {
                        id: id.clone(),
                        name: name.clone(),
                        token_sha256: token_sha256.clone(),
                        quota_gpus: *quota_gpus,
                        admin: *admin,
                        token_expires_unix_s: None,
                    },
                );
            }
            Event::TokenSet { tenant, token_sha256, expires_unix_s, .. } => {
                if let Some(t) = self.tenants.get_mut(tenant) {
                    t.token_sha256 = token_sha256.clone();
                    t.token_expires_unix_s = *expires_unix_s;
                }
            }
            Event::JobSubmitted { id, tenant, spec, at_h, .. } => {
                self.submissions += 1;
                self.mark_dirty();
                self.jobs.insert(
                    id.clone(),
                    JobRecord {
                        id: id.clone(),
                        tenant: tenant.clone(),
                        spec: spec.clone(),
                        status: Status::Pending,
                        submitted_h: *at_h,
                        done_h: 0.0,
                        saved_at_start_h: 0.0,
                        site: None,
                        accelerator: None,
                        start_h: None,
                        end_h: None,
                        dispatch_h: None,
                        attempts: 0,
                        reasons: Vec::new(),
                        history: vec![(*at_h, "submitted".into())],
                        refused: BTreeMap::new(),
                        fence: None,
                        checkpoint: None,
                        attempt_sites: BTreeMap::new(),
                    },
                );
            }
            Event::JobCancelled { id, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    j.status = Status::Cancelled;
                    j.history.push((*at_h, "cancelled".into()));
                    self.mark_dirty();
                }
            }
            Event::Planned(recorded) => {
                let round = recorded.whole(self.last_round.as_ref());
                self.rounds = self.rounds.max(round.round);
                for p in &round.placements {
                    if let Some(j) = self.jobs.get_mut(&p.job) {
                        if matches!(j.status, Status::Pending | Status::Planned) {
                            let moved = j.site.as_deref() != Some(&p.site) || j.start_h != Some(p.start_h);
                            j.status = Status::Planned;
                            j.site = Some(p.site.clone());
                            j.accelerator = Some(p.accelerator.clone());
                            j.start_h = Some(p.start_h);
                            j.end_h = Some(p.end_h);
                            j.dispatch_h = Some(p.dispatch_h.unwrap_or(p.start_h));
                            j.reasons = p.reasons.clone();
                            if moved {
                                j.history.push((round.at_h, format!("planned at {} from hour {:.0} (round {})", p.site, p.start_h, round.round)));
                            }
                        }
                    }
                }
                for u in &round.unplaced {
                    if let Some(j) = self.jobs.get_mut(&u.job) {
                        if matches!(j.status, Status::Pending | Status::Planned) {
                            j.status = Status::Pending;
                            j.site = None;
                            j.start_h = None;
                            j.dispatch_h = None;
                            j.reasons = u.reasons.clone();
                        }
                    }
                }
                for r in &round.services {
                    if let Some(v) = self.services.get_mut(&r.service) {
                        if v.status == ServiceStatus::Active {
                            let before = v.latest.as_ref().map(|l| l.replicas.clone());
                            if before.as_ref() != Some(&r.replicas) {
                                let words: Vec<String> = r.replicas.iter().map(|(s, n)| format!("{n} at {s}")).collect();
                                v.history.push((
                                    round.at_h,
                                    format!("replicas: {} (round {})", if words.is_empty() { "none".into() } else { words.join(", ") }, round.round),
                                ));
                                // A long-running service keeps its latest changes, not all of them.
                                if v.history.len() > 200 {
                                    v.history.drain(1..v.history.len() - 199);
                                }
                            }
                            v.latest = Some(r.clone());
                        }
                    }
                }
                // Only what the round saw is planned: a change folded after it was decided
                // (a job submitted while it ran) still wants a round.
                if round.seen_events.is_none_or(|n| n >= self.dirty_at) {
                    self.dirty = false;
                }
                self.last_round = Some(round);
            }
            Event::JobDispatched { id, site, accelerator, start_h, attempt, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    j.status = Status::Dispatched;
                    j.site = Some(site.clone());
                    j.accelerator = Some(accelerator.clone());
                    j.start_h = Some(*start_h);
                    j.attempts = *attempt;
                    j.attempt_sites.insert(*attempt, site.clone());
                    j.history.push((*at_h, format!("dispatched to {site} (attempt {attempt})")));
                }
            }
            Event::JobStarted { id, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    j.status = Status::Running;
                    j.start_h = Some(*at_h);
                    j.saved_at_start_h = j.done_h;
                    j.history.push((*at_h, "started".into()));
                }
            }
            Event::JobCheckpointed { id, done_h, checkpoint, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    j.done_h = j.done_h.max(*done_h).min(j.spec.hours);
                    if let Some(c) = checkpoint {
                        j.history.push((*at_h, format!("checkpoint {} at {} (step {} of {})", c.path, c.site, c.step, c.total_steps)));
                        j.checkpoint = Some(c.clone());
                    }
                }
            }
            Event::JobFinished { id, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    // Completed (also where it was fenced): nothing of it runs anywhere now.
                    j.fence = None;
                    j.status = Status::Completed;
                    j.done_h = j.spec.hours;
                    j.end_h = Some(*at_h);
                    j.history.push((*at_h, "completed".into()));
                    self.mark_dirty();
                }
            }
            Event::JobFailed { id, reason, at_h, fence } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    if *fence {
                        if let Some(site) = j.site.clone() {
                            j.fence = Some(Fence { job: id.clone(), site: site.clone(), attempt: j.attempts, reason: reason.clone() });
                            j.history.push((
                                *at_h,
                                format!("may still be running at {site}: starts nowhere else until {site} confirms attempt {} ended", j.attempts),
                            ));
                        }
                    }
                    j.status = Status::Pending;
                    j.site = None;
                    j.start_h = None;
                    j.end_h = None;
                    j.history.push((*at_h, format!("back to pending: {reason}; {:.2} h of work kept", j.done_h)));
                    self.mark_dirty();
                }
            }
            Event::JobRefused { id, site, reason, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    j.status = Status::Pending;
                    j.site = None;
                    j.start_h = None;
                    j.end_h = None;
                    j.refused.insert(site.clone(), reason.clone());
                    j.history.push((*at_h, format!("refused by {site} ({reason}); back to pending, not planned there again")));
                    self.mark_dirty();
                }
            }
            Event::SiteDown { site, reason, at_h, fences, by_cluster } => {
                self.sites_down.insert(site.clone());
                if *by_cluster {
                    self.down_by_cluster.insert(site.clone());
                } else {
                    self.down_by_cluster.remove(site);
                }
                for f in fences {
                    if let Some(j) = self.jobs.get_mut(&f.job) {
                        if j.site.as_deref() == Some(site.as_str()) && j.status.holds_capacity() {
                            j.fence = Some(f.clone());
                            j.history.push((
                                *at_h,
                                format!("may still be running at {site}: starts nowhere else until {site} confirms attempt {} ended", f.attempt),
                            ));
                        }
                    }
                }
                for j in self.jobs.values_mut() {
                    if j.site.as_deref() == Some(site.as_str()) && matches!(j.status, Status::Planned | Status::Dispatched | Status::Running) {
                        j.status = Status::Pending;
                        j.site = None;
                        j.start_h = None;
                        j.end_h = None;
                        j.history.push((*at_h, format!("site {site} down ({reason}); back to pending with {:.2} h of work kept", j.done_h)));
                    }
                }
                self.mark_dirty();
            }
            Event::SiteUp { site, .. } => {
                self.sites_down.remove(site);
                self.down_by_cluster.remove(site);
                // A site back from being down (repaired, reconfigured) may take what it refused.
                // Work fenced there stays fenced until its cluster confirms each attempt ended.
                for j in self.jobs.values_mut() {
                    j.refused.remove(site);
                }
                self.mark_dirty();
            }
            Event::ServiceSubmitted { id, tenant, spec, at_h, .. } => {
                self.submissions += 1;
                self.mark_dirty();
                self.services.insert(
                    id.clone(),
                    ServiceRecord {
                        id: id.clone(),
                        tenant: tenant.clone(),
                        spec: spec.clone(),
                        status: ServiceStatus::Active,
                        submitted_h: *at_h,
                        latest: None,
                        history: vec![(*at_h, "submitted".into())],
                    },
                );
            }
            Event::ServiceCancelled { id, at_h } => {
                if let Some(v) = self.services.get_mut(id) {
                    v.status = ServiceStatus::Cancelled;
                    v.latest = None;
                    v.history.push((*at_h, "stopped".into()));
                    self.mark_dirty();
                }
            }
            Event::TransferStarted { spec, at_h } => {
                let tries = self.transfers.get(&spec.id).map(|t| t.tries).unwrap_or(0) + 1;
                if let Some(j) = self.jobs.get_mut(&spec.job) {
                    j.history.push((
                        *at_h,
                        format!("{} transfer {} from {} to {} started (try {tries})", spec.kind.name(), spec.id, spec.from_site, spec.to_site),
                    ));
                }
                self.transfers.insert(
                    spec.id.clone(),
                    TransferRecord {
                        spec: spec.clone(),
                        status: TransferStatus::Running,
                        tries,
                        started_h: *at_h,
                        ended_h: None,
                        bytes_moved: 0.0,
                        seconds: 0.0,
                        note: String::new(),
                    },
                );
            }
            Event::TransferFinished { id, bytes_moved, seconds, note, at_h, .. } => {
                if let Some(t) = self.transfers.get_mut(id) {
                    t.status = TransferStatus::Done;
                    t.ended_h = Some(*at_h);
                    t.bytes_moved = *bytes_moved;
                    t.seconds = *seconds;
                    t.note = note.clone();
                    if let Some(j) = self.jobs.get_mut(&t.spec.job) {
                        j.history.push((
                            *at_h,
                            format!(
                                "{} transfer {id} finished: {bytes_moved:.0} bytes in {seconds:.1} s{}",
                                t.spec.kind.name(),
                                if note.is_empty() { String::new() } else { format!(" ({note})") }
                            ),
                        ));
                    }
                }
            }
            Event::TransferFailed { id, reason, at_h, .. } => {
                if let Some(t) = self.transfers.get_mut(id) {
                    t.status = TransferStatus::Failed;
                    t.ended_h = Some(*at_h);
                    t.note = reason.clone();
                    if let Some(j) = self.jobs.get_mut(&t.spec.job) {
                        j.history.push((*at_h, format!("{} transfer {id} failed: {reason}", t.spec.kind.name())));
                    }
                }
            }
            Event::FenceLifted { job, site, reason, at_h } => {
                if let Some(j) = self.jobs.get_mut(job) {
                    if j.fence.as_ref().is_some_and(|f| &f.site == site) {
                        j.fence = None;
                        j.history.push((*at_h, format!("{site} confirms it is not running there: {reason}")));
                        self.mark_dirty();
                    }
                }
            }
            Event::AttemptResumed { id, site, attempt, running, at_h } => {
                if let Some(j) = self.jobs.get_mut(id) {
                    if j.status == Status::Pending && j.fence.as_ref().is_some_and(|f| &f.site == site && f.attempt == *attempt) {
                        j.fence = None;
                        j.status = if *running { Status::Running } else { Status::Dispatched };
                        j.site = Some(site.clone());
                        j.attempts = *attempt;
                        j.start_h = Some(*at_h);
                        j.saved_at_start_h = j.done_h;
                        j.history.push((
                            *at_h,
                            format!(
                                "attempt {attempt} is still {} at {site}, which answers again: followed there again",
                                if *running { "running" } else { "queued" }
                            ),
                        ));
                        self.mark_dirty();
                    }
                }
            }
            Event::FencesReleased { site, reason, by, at_h } => {
                for j in self.jobs.values_mut() {
                    if j.fence.as_ref().is_some_and(|f| &f.site == site) {
                        j.fence = None;
                        j.history.push((*at_h, format!("released by {by}: not running at {site} ({reason})")));
                    }
                }
                self.mark_dirty();
            }
        }
    }

    /// Something the next planning round should see happened (the event just folded).
    fn mark_dirty(&mut self) {
        self.dirty = true;
        self.dirty_at = self.events;
    }

    /// Jobs in each state.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut out: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for j in self.jobs.values() {
            *out.entry(j.status).or_default() += 1;
        }
        out
    }

    /// Accelerators held now (dispatched or running work, and services' replicas).
    pub fn gpus_busy(&self) -> u64 {
        let jobs: u64 = self.jobs.values().filter(|j| j.status.holds_capacity()).map(|j| j.spec.gpus as u64).sum();
        let services: u64 = self
            .services
            .values()
            .filter_map(|v| v.latest.as_ref().map(|l| l.replicas.iter().map(|r| r.1 as u64).sum::<u64>() * v.spec.gpus_per_replica as u64))
            .sum();
        jobs + services
    }

    /// Active services.
    pub fn active_services(&self) -> impl Iterator<Item = &ServiceRecord> {
        self.services.values().filter(|v| v.status == ServiceStatus::Active)
    }

    /// Whether a planning round is due: work waits (pending or planned jobs, or active
    /// services), and something changed or a new hour began since the last round.
    pub fn wants_round(&self, now_h: f64) -> bool {
        let waiting = self.jobs.values().any(|j| matches!(j.status, Status::Pending | Status::Planned)) || self.active_services().next().is_some();
        let new_hour = self.last_round.as_ref().map(|r| r.at_h.floor()) != Some(now_h.floor());
        waiting && (self.dirty || new_hour)
    }

    /// The tenant holding a token (by its SHA-256, hex).
    pub fn tenant_by_token(&self, token_sha256: &str) -> Option<&Tenant> {
        self.tenants.values().find(|t| !t.token_sha256.is_empty() && t.token_sha256 == token_sha256)
    }
}

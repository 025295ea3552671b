//! Decisions: from the state, the time and a command or observation to the events that follow
//! (or a `Rejection`). A planning round is a rolling horizon: dispatched and running work is
//! pinned where it runs, planned work may move (at a churn charge per move, so plans do not
//! flap), and work whose start has come is dispatched.

use crate::cluster::{meaning, Meaning, Seen};
use crate::run::{CheckpointRef, TransferKind, TransferSpec, TransferStatus};
use crate::state::*;
use std::collections::{BTreeMap, BTreeSet};
use xisuan_plan::{AcceleratorOption, Job, Plan, Problem};

/// Why a command cannot be carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// No such job or service, or not one the caller may see.
    #[error("no job or service {0}")]
    NotFound(String),
    /// The job's state does not allow it.
    #[error("{id} is {status}: {what}")]
    Illegal { id: String, status: &'static str, what: String },
    #[error("{0}")]
    Invalid(String),
}

/// A new job. `id` is chosen by the edge (unique across servers, e.g. from the event log).
pub fn submit(state: &State, tenant: &str, id: &str, spec: JobSpec, now_h: f64) -> Result<Event, Rejection> {
    if !state.tenants.contains_key(tenant) {
        return Err(Rejection::Invalid(format!("unknown tenant {tenant}")));
    }
    if state.jobs.contains_key(id) {
        return Err(Rejection::Invalid(format!("job id {id} is taken")));
    }
    Ok(Event::JobSubmitted { id: id.to_string(), tenant: tenant.to_string(), spec, at_h: now_h, request_sha256: None })
}

/// Cancels a job the caller owns (an admin may cancel any). A job the caller may not see is
/// reported as not found, so tenants learn nothing of each other's work.
pub fn cancel(state: &State, caller: &Tenant, id: &str, now_h: f64) -> Result<Event, Rejection> {
    let j = state.jobs.get(id).filter(|j| caller.admin || j.tenant == caller.id).ok_or_else(|| Rejection::NotFound(id.to_string()))?;
    if j.status.is_final() {
        return Err(Rejection::Illegal { id: id.into(), status: j.status.name(), what: "it cannot be cancelled".into() });
    }
    Ok(Event::JobCancelled { id: id.to_string(), at_h: now_h })
}

fn expect(state: &State, id: &str, allowed: &[Status], what: &str) -> Result<(), Rejection> {
    let j = state.jobs.get(id).ok_or_else(|| Rejection::NotFound(id.to_string()))?;
    if allowed.contains(&j.status) {
        Ok(())
    } else {
        Err(Rejection::Illegal { id: id.into(), status: j.status.name(), what: what.into() })
    }
}

/// A backend reports that a dispatched job started.
pub fn started(state: &State, id: &str, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Dispatched], "only a dispatched job can start")?;
    Ok(Event::JobStarted { id: id.into(), at_h: now_h })
}

/// A backend reports a checkpoint: `done_h` reference hours of work are saved.
pub fn checkpointed(state: &State, id: &str, done_h: f64, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Running], "only a running job checkpoints")?;
    if !(done_h.is_finite() && done_h >= 0.0) {
        return Err(Rejection::Invalid(format!("checkpoint of {done_h} hours")));
    }
    Ok(Event::JobCheckpointed { id: id.into(), done_h, at_h: now_h, checkpoint: None })
}

/// A real job saved a complete checkpoint (its manifest says `step` of `total_steps`): its
/// progress is what it saved, as a share of its hours. An older or equal one changes nothing.
pub fn saved(state: &State, id: &str, c: CheckpointRef, now_h: f64) -> Result<Event, Rejection> {
    let j = state.jobs.get(id).ok_or_else(|| Rejection::NotFound(id.to_string()))?;
    // Work fenced at a site saves there until its attempt is confirmed ended.
    let fenced_there = j.status == Status::Pending && j.fence.as_ref().is_some_and(|f| f.site == c.site);
    if j.status != Status::Running && !fenced_there {
        return Err(Rejection::Illegal {
            id: id.into(),
            status: j.status.name(),
            what: "only a running job (or one fenced where it saved) checkpoints".into(),
        });
    }
    if c.total_steps == 0 || c.step > c.total_steps {
        return Err(Rejection::Invalid(format!("checkpoint manifest of {id} says step {} of {}", c.step, c.total_steps)));
    }
    if j.checkpoint.as_ref().is_some_and(|old| old.step >= c.step && old.site == c.site) {
        return Err(Rejection::Invalid(format!("checkpoint step {} of {id} is not newer", c.step)));
    }
    let done_h = j.spec.hours * c.step as f64 / c.total_steps as f64;
    Ok(Event::JobCheckpointed { id: id.into(), done_h, at_h: now_h, checkpoint: Some(c) })
}

/// What a dispatched real job needs before it is handed to its cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Everything it reads is at its site, complete: submit it.
    Ready,
    /// Start these transfers (new, or again after a failure).
    Start(Vec<TransferSpec>),
    /// Transfers are running.
    Wait,
    /// A transfer failed `TRANSFER_TRIES` times: the attempt is given up, in these words.
    GiveUp(String),
}

/// Where a dispatched job's staging stands at its site: the transfers its attempt needs
/// (`run::staging`) against those recorded.
pub fn stage(state: &State, id: &str) -> Stage {
    let Some(j) = state.jobs.get(id) else { return Stage::Wait };
    let (Some(run), Some(site)) = (&j.spec.run, &j.site) else { return Stage::Ready };
    let mut start = Vec::new();
    let mut waiting = false;
    for t in crate::run::staging(id, run, j.checkpoint.as_ref(), site, j.attempts) {
        match state.transfers.get(&t.id) {
            None => start.push(t),
            Some(r) => match r.status {
                TransferStatus::Done => {}
                TransferStatus::Running => waiting = true,
                TransferStatus::Failed if r.tries >= crate::run::TRANSFER_TRIES => {
                    return Stage::GiveUp(format!("{} transfer from {} failed {} times: {}", t.kind.name(), t.from_site, r.tries, r.note));
                }
                TransferStatus::Failed => start.push(t),
            },
        }
    }
    match (start.is_empty(), waiting) {
        (false, _) => Stage::Start(start),
        (true, true) => Stage::Wait,
        (true, false) => Stage::Ready,
    }
}

/// The edge starts a transfer for a job that still needs it.
pub fn transfer_started(state: &State, spec: TransferSpec, now_h: f64) -> Result<Event, Rejection> {
    let j = state.jobs.get(&spec.job).ok_or_else(|| Rejection::NotFound(spec.job.clone()))?;
    if j.status.is_final() && spec.kind != TransferKind::Output {
        return Err(Rejection::Illegal { id: spec.job.clone(), status: j.status.name(), what: "its inputs are not staged any more".into() });
    }
    if state.transfers.get(&spec.id).is_some_and(|t| t.status != TransferStatus::Failed) {
        return Err(Rejection::Invalid(format!("transfer {} is already running or done", spec.id)));
    }
    Ok(Event::TransferStarted { spec, at_h: now_h })
}

/// A running transfer arrived complete and verified.
pub fn transfer_finished(state: &State, id: &str, bytes_moved: f64, seconds: f64, note: &str, now_h: f64) -> Result<Event, Rejection> {
    let t = state.transfers.get(id).filter(|t| t.status == TransferStatus::Running).ok_or_else(|| Rejection::NotFound(id.into()))?;
    Ok(Event::TransferFinished { id: id.into(), job: t.spec.job.clone(), bytes_moved, seconds, note: note.into(), at_h: now_h })
}

/// A running transfer failed, in the engine's words.
pub fn transfer_failed(state: &State, id: &str, reason: &str, now_h: f64) -> Result<Event, Rejection> {
    let t = state.transfers.get(id).filter(|t| t.status == TransferStatus::Running).ok_or_else(|| Rejection::NotFound(id.into()))?;
    Ok(Event::TransferFailed { id: id.into(), job: t.spec.job.clone(), reason: reason.into(), at_h: now_h })
}

/// The transfer of a completed job's outputs to its data site, once, if it has one due.
pub fn outputs_due(state: &State, id: &str) -> Option<TransferSpec> {
    let j = state.jobs.get(id).filter(|j| j.status == Status::Completed)?;
    let run = j.spec.run.as_ref()?;
    let ran_at = j.attempt_sites.get(&j.attempts)?;
    let t = crate::run::outputs_back(id, run, ran_at, &j.spec.data_site, j.attempts)?;
    match state.transfers.get(&t.id) {
        None => Some(t),
        Some(r) if r.status == TransferStatus::Failed && r.tries < crate::run::TRANSFER_TRIES => Some(t),
        _ => None,
    }
}

/// An operator (an admin, through the API) says the work fenced by a silent site is gone
/// there, so it may start elsewhere; the reason and who said it are recorded.
pub fn release_fences(state: &State, site: &str, reason: &str, by: &str, now_h: f64) -> Result<Event, Rejection> {
    if reason.trim().is_empty() {
        return Err(Rejection::Invalid("give the reason the work there is known to be gone".into()));
    }
    if !state.jobs.values().any(|j| j.fence.as_ref().is_some_and(|f| f.site == site)) {
        return Err(Rejection::Invalid(format!("no work is fenced by site {site}")));
    }
    Ok(Event::FencesReleased { site: site.into(), reason: reason.into(), by: by.into(), at_h: now_h })
}

/// A backend reports that a running job finished.
pub fn finished(state: &State, id: &str, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Running], "only a running job finishes")?;
    Ok(Event::JobFinished { id: id.into(), at_h: now_h })
}

/// A site that did not answer reports, once it answers again, that fenced work finished there
/// meanwhile: it is complete (rather than run again).
pub fn finished_while_silent(state: &State, id: &str, site: &str, now_h: f64) -> Result<Event, Rejection> {
    let j = state.jobs.get(id).ok_or_else(|| Rejection::NotFound(id.to_string()))?;
    if j.status != Status::Pending || j.fence.as_ref().is_none_or(|f| f.site != site) {
        return Err(Rejection::Illegal {
            id: id.into(),
            status: j.status.name(),
            what: format!("only work fenced by {site} can have finished there unseen"),
        });
    }
    Ok(Event::JobFinished { id: id.into(), at_h: now_h })
}

/// A backend reports a failure or preemption of dispatched or running work.
pub fn failed(state: &State, id: &str, reason: &str, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Dispatched, Status::Running], "only dispatched or running work can fail")?;
    Ok(Event::JobFailed { id: id.into(), reason: reason.into(), at_h: now_h, fence: false })
}

/// A dispatched or running attempt that left its cluster's queue with no record of how it
/// ended: back to pending, fenced at its site until an operator releases it.
pub fn lost(state: &State, id: &str, reason: &str, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Dispatched, Status::Running], "only dispatched or running work can be lost")?;
    Ok(Event::JobFailed { id: id.into(), reason: reason.into(), at_h: now_h, fence: true })
}

/// A dispatched attempt still pending at its cluster (for want of resources, priority, nodes;
/// not its own begin time) longer than `limit_h` after its planned start: it goes back to
/// pending, fenced there (its cluster cancels it and confirms before it starts elsewhere), and
/// the next round places it with the capacity the clusters report.
pub fn overdue(state: &State, id: &str, site: &str, kind: &str, a: &crate::cluster::Attempt, limit_h: f64, now_h: f64) -> Option<Event> {
    let j = state.jobs.get(id)?;
    if j.status != Status::Dispatched
        || j.site.as_deref() != Some(site)
        || a.attempt != j.attempts
        || a.state != crate::cluster::JobState::Pending
        || a.reason == "BeginTime"
    {
        return None;
    }
    let waited_h = now_h - j.start_h.unwrap_or(now_h);
    (waited_h > limit_h).then(|| Event::JobFailed {
        id: id.into(),
        reason: format!(
            "{kind}: attempt {} at {site}: still pending ({}) {:.2} h after its planned start (limit {:.2} h): cancelled there, placed again",
            j.attempts, a.reason, waited_h, limit_h
        ),
        at_h: now_h,
        fence: true,
    })
}

/// What a cluster's report of a job's attempt at `site` calls for: the one place where a
/// cluster's word becomes the controller's events (`kind` starts the reasons: "slurm").
/// `silent_nodes` are the cluster's nodes that do not answer. It covers the job's current
/// attempt there (started, finished, failed, or failed and fenced when its end is not
/// confirmed) and an attempt fenced there (credited if it completed, the fence lifted once the
/// cluster confirms it ended; while `site_answers`, one still queued or running there is
/// followed there again rather than cancelled). Submitting is the edge's: a dispatched attempt
/// no record knows calls for nothing here.
// Each argument is one fact of the report; a struct of them would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn observe(
    state: &State,
    id: &str,
    site: &str,
    kind: &str,
    seen: &Seen,
    silent_nodes: &BTreeSet<String>,
    site_answers: bool,
    now_h: f64,
) -> Vec<Event> {
    let Some(j) = state.jobs.get(id) else { return Vec::new() };
    if let Some(f) = j.fence.as_ref().filter(|f| f.site == site) {
        let n = f.attempt;
        let lift = |reason: String| vec![Event::FenceLifted { job: id.into(), site: site.into(), reason, at_h: now_h }];
        return match seen {
            Seen::Reported(a) if a.attempt == n => match meaning(a, silent_nodes) {
                Meaning::Completed if j.status == Status::Pending => vec![Event::JobFinished { id: id.into(), at_h: now_h }],
                Meaning::Completed => lift(format!("attempt {n} completed")),
                Meaning::Ended(why) => lift(format!("attempt {n} ended: {why}")),
                m @ (Meaning::Queued | Meaning::Running) if site_answers && j.status == Status::Pending && j.accelerator.is_some() => {
                    vec![Event::AttemptResumed { id: id.into(), site: site.into(), attempt: n, running: m == Meaning::Running, at_h: now_h }]
                }
                _ => Vec::new(),
            },
            Seen::Nowhere => lift(format!("neither its queue nor its accounting knows attempt {n}: it never reached the cluster")),
            _ => Vec::new(),
        };
    }
    if j.site.as_deref() != Some(site) || !j.status.holds_capacity() {
        return Vec::new();
    }
    let n = j.attempts;
    let fail = |why: String, fence: bool| {
        vec![Event::JobFailed { id: id.into(), reason: format!("{kind}: attempt {n} at {site}: {why}"), at_h: now_h, fence }]
    };
    match (j.status, seen) {
        (status, Seen::Reported(a)) if a.attempt == n => match (status, meaning(a, silent_nodes)) {
            (_, Meaning::Queued) | (Status::Running, Meaning::Running | Meaning::Ending) => Vec::new(),
            (Status::Dispatched, Meaning::Running | Meaning::Ending | Meaning::Completed) => vec![Event::JobStarted { id: id.into(), at_h: now_h }],
            (_, Meaning::Completed) => vec![Event::JobFinished { id: id.into(), at_h: now_h }],
            (_, Meaning::Ended(why)) => fail(why, false),
            (_, Meaning::Unconfirmed(why)) => fail(why, true),
            _ => Vec::new(),
        },
        (Status::Running, Seen::Nowhere) => fail("it left the queue and the cluster's accounting has no record of it".into(), true),
        (Status::Running, Seen::Unknown) => fail(
            "it left the queue and the cluster keeps no accounting to say how it ended: it starts nowhere else until an operator releases it".into(),
            true,
        ),
        _ => Vec::new(),
    }
}

/// A site's backend refused dispatched work: it goes back to pending and avoids that site.
pub fn refused(state: &State, id: &str, site: &str, reason: &str, now_h: f64) -> Result<Event, Rejection> {
    expect(state, id, &[Status::Dispatched], "only dispatched work can be refused")?;
    Ok(Event::JobRefused { id: id.into(), site: site.into(), reason: reason.into(), at_h: now_h })
}

/// A site goes down: its planned, dispatched and running work goes back to pending.
pub fn site_down(state: &State, site: &str, reason: &str, now_h: f64) -> Result<Event, Rejection> {
    if state.sites_down.contains(site) {
        return Err(Rejection::Invalid(format!("site {site} is already down")));
    }
    Ok(Event::SiteDown { site: site.into(), reason: reason.into(), at_h: now_h, fences: Vec::new(), by_cluster: false })
}

/// A site whose real cluster is down or does not answer: down, and every attempt handed to it
/// (dispatched or running there) may still be running, so each is fenced until the cluster
/// confirms it ended (`observe`) or an operator releases it. No time limit lifts a fence: the
/// controller that enforces time limits may be the part that is down.
/// `by_cluster`: the cluster's own health says so (it comes back up with the cluster), rather
/// than an operator.
pub fn cluster_down(state: &State, site: &str, reason: &str, by_cluster: bool, now_h: f64) -> Result<Event, Rejection> {
    if state.sites_down.contains(site) {
        return Err(Rejection::Invalid(format!("site {site} is already down")));
    }
    let fences = state
        .jobs
        .values()
        .filter(|j| j.site.as_deref() == Some(site) && j.status.holds_capacity())
        .map(|j| Fence { job: j.id.clone(), site: site.into(), attempt: j.attempts, reason: reason.into() })
        .collect();
    Ok(Event::SiteDown { site: site.into(), reason: reason.into(), at_h: now_h, fences, by_cluster })
}

pub fn site_up(state: &State, site: &str, now_h: f64) -> Result<Event, Rejection> {
    if !state.sites_down.contains(site) {
        return Err(Rejection::Invalid(format!("site {site} is not down")));
    }
    Ok(Event::SiteUp { site: site.into(), at_h: now_h })
}

/// The churn charge the server and the simulator's controller use by default: USD in the
/// planner's objective for each planned job that moves. A design choice, not a measured value:
/// large enough that ties and rounding do not move work, small against the savings of moving a
/// multi-node job to a cheaper hour or site.
pub const DEFAULT_CHURN_USD: f64 = 50.0;

/// What a planning round needs besides the state.
pub struct RoundInput<'a> {
    /// The world over the horizon: sites (hour 0 = `start_hour`, the current hour), links and
    /// objective, with no jobs or services. The objective's `churn_usd` is the churn charge.
    pub world: &'a Problem,
    pub now_h: f64,
    /// Also run the run-now baseline on the same problem (costs about one more solve).
    pub baseline: bool,
}

/// One planning round: the jobs that can be planned become a `Problem`, `solve` plans it, and
/// the round (with every placement's reasons) is recorded; work whose start is now is
/// dispatched. Returns the events, or why the round could not run.
pub fn plan_round(state: &State, input: &RoundInput, solve: &mut dyn FnMut(&Problem) -> Result<Plan, String>) -> Result<Vec<Event>, String> {
    let w = input.world;
    let now = input.now_h;
    let h0 = w.start_hour as f64;
    let slots = w.slots;
    let ix: BTreeMap<&str, usize> = w.sites.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let up: Vec<usize> = (0..w.sites.len()).filter(|&i| !state.sites_down.contains(&w.sites[i].id)).collect();
    let mut p = w.clone();
    p.jobs.clear();
    let mut pinned: BTreeSet<String> = BTreeSet::new();
    let mut unplaced: Vec<Unplaced> = Vec::new();

    // Work holding capacity stays where it runs, for the hours it has left.
    for j in state.jobs.values().filter(|j| j.status.holds_capacity()) {
        let (Some(site), Some(acc)) = (&j.site, &j.accelerator) else { continue };
        let (Some(&s), Some(opt)) = (ix.get(site.as_str()), j.spec.accelerators.iter().find(|a| &a.accelerator == acc)) else { continue };
        let started = j.start_h.unwrap_or(now).min(now);
        let ran = if j.status == Status::Running { (now - started) * opt.speed } else { 0.0 };
        let left = (j.remaining_h() - ran).max(0.01);
        let wall = left / opt.speed;
        // Dispatched work still staging its data holds its capacity from its start.
        let earliest = match (j.status, j.start_h) {
            (Status::Dispatched, Some(start)) if start > now => ((start - h0).floor().max(0.0) as u32).min(slots - 1),
            _ => 0,
        };
        let deadline = (earliest + (wall - 1e-9).ceil() as u32).clamp(earliest + 1, slots);
        p.jobs.push(Job {
            id: j.id.clone(),
            gpus: j.spec.gpus,
            hours: ((deadline - earliest) as f64 * opt.speed).min(left),
            accelerators: vec![AcceleratorOption { accelerator: opt.accelerator.clone(), speed: opt.speed, kw_per_gpu: opt.kw_per_gpu }],
            data_site: s,
            data_bytes: 0.0,
            earliest,
            deadline,
            pausable: false,
            allowed_sites: Some(vec![s]),
            previous: None,
            data_at: Vec::new(),
        });
        pinned.insert(j.id.clone());
    }

    // Accelerators each tenant already holds, for quotas.
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    for j in state.jobs.values().filter(|j| j.status.holds_capacity()) {
        *held.entry(j.tenant.as_str()).or_default() += j.spec.gpus as u64;
    }
    for j in state.jobs.values().filter(|j| matches!(j.status, Status::Pending | Status::Planned)) {
        if let Some(f) = j.fence.as_ref() {
            unplaced.push(Unplaced {
                job: j.id.clone(),
                reasons: vec![format!(
                    "may still be running at {} (attempt {}: {}): starts nowhere else until {} confirms it ended, or an operator releases it (POST /v1/sites/{}/release)",
                    f.site, f.attempt, f.reason, f.site, f.site
                )],
            });
            continue;
        }
        let quota = state.tenants.get(&j.tenant).and_then(|t| t.quota_gpus);
        let used = held.entry(j.tenant.as_str()).or_default();
        if let Some(q) = quota {
            if *used + j.spec.gpus as u64 > q as u64 {
                unplaced.push(Unplaced {
                    job: j.id.clone(),
                    reasons: vec![format!("tenant quota of {q} accelerators in use; planned when running work completes")],
                });
                continue;
            }
        }
        let earliest = ((j.spec.earliest_h - h0 - 1e-9).ceil().max(0.0)) as u64;
        if earliest >= slots as u64 {
            unplaced.push(Unplaced { job: j.id.clone(), reasons: vec![format!("earliest start after the {slots}-hour planning horizon")] });
            continue;
        }
        let deadline = match j.spec.deadline_h {
            Some(d) => ((d - h0).floor().max(0.0) as u64).min(slots as u64),
            None => slots as u64,
        };
        if deadline <= earliest {
            unplaced.push(Unplaced { job: j.id.clone(), reasons: vec!["its deadline has passed".into()] });
            continue;
        }
        let Some(&data_site) = ix.get(j.spec.data_site.as_str()) else {
            unplaced.push(Unplaced { job: j.id.clone(), reasons: vec![format!("data site {} is not in this world", j.spec.data_site)] });
            continue;
        };
        let allowed: Vec<usize> = up
            .iter()
            .copied()
            .filter(|&s| {
                j.spec.allowed_sites.as_ref().is_none_or(|a| a.iter().any(|x| x == &w.sites[s].id)) && !j.refused.contains_key(&w.sites[s].id)
            })
            .collect();
        let previous = match (j.status, &j.site, j.start_h) {
            (Status::Planned, Some(site), Some(start)) => ix.get(site.as_str()).and_then(|&s| {
                let slot = (start - h0).round();
                (slot >= 0.0 && slot < slots as f64).then_some((s, slot as u32))
            }),
            _ => None,
        };
        *used += j.spec.gpus as u64;
        p.jobs.push(Job {
            id: j.id.clone(),
            gpus: j.spec.gpus,
            hours: j.remaining_h().max(0.01),
            accelerators: j
                .spec
                .accelerators
                .iter()
                .map(|a| AcceleratorOption { accelerator: a.accelerator.clone(), speed: a.speed, kw_per_gpu: a.kw_per_gpu })
                .collect(),
            data_site,
            data_bytes: j.spec.data_bytes,
            earliest: earliest as u32,
            deadline: deadline as u32,
            pausable: j.spec.pausable,
            allowed_sites: (allowed.len() < w.sites.len()).then_some(allowed),
            previous,
            data_at: crate::run::inputs_held(state, j).iter().filter_map(|s| ix.get(s.as_str()).copied()).collect(),
        });
    }
    crate::service::add_services(&mut p, state.active_services().map(|v| (v.id.as_str(), &v.spec)));
    if let Some(down) = (!state.sites_down.is_empty()).then_some(&state.sites_down) {
        // Services stay off sites that are down.
        for v in p.services.iter_mut().filter(|v| state.services.contains_key(&v.id)) {
            let allowed: Vec<usize> = v
                .allowed_sites
                .clone()
                .unwrap_or_else(|| (0..p.sites.len()).collect())
                .into_iter()
                .filter(|&s| !down.contains(&p.sites[s].id))
                .collect();
            v.allowed_sites = Some(allowed);
        }
    }
    p.validate().map_err(|e| format!("planning problem: {e}"))?;
    let plan = solve(&p)?;
    let baselines = if input.baseline { xisuan_plan::baselines::baselines(&p) } else { Vec::new() };
    let baseline =
        |name: &str| baselines.iter().find(|b| b.name == name).map(|b| (Some(b.totals.cost_usd), Some(b.totals.carbon_kg))).unwrap_or((None, None));
    let (run_now_cost, run_now_carbon) = baseline("run-now");
    let (east_cost, east_carbon) = baseline("nearest-east");
    let down = |site: &str| state.sites_down.contains(site);
    let words = |job: Option<&str>, rs: &[xisuan_plan::SiteRejection]| -> Vec<String> {
        let refused = |site: &str| job.and_then(|id| state.jobs.get(id)).and_then(|j| j.refused.get(site));
        rs.iter()
            .map(|r| match refused(&r.site) {
                _ if down(&r.site) => format!("{}: site down", r.site),
                Some(why) => format!("{}: refused it ({why})", r.site),
                None => format!("{}: {}", r.site, r.reason),
            })
            .collect()
    };
    let mut placements = Vec::new();
    let mut events = Vec::new();
    for jp in plan.jobs.iter().filter(|jp| !pinned.contains(&jp.job)) {
        let start_h = if jp.start_slot == 0 { now.max(h0) } else { h0 + jp.start_slot as f64 };
        placements.push(Placement {
            job: jp.job.clone(),
            site: jp.site.clone(),
            accelerator: jp.accelerator.clone(),
            start_h,
            end_h: h0 + jp.end_slot as f64,
            dispatch_h: Some(jp.transfer.as_ref().map(|t| (h0 + t.start_slot as f64).max(now)).unwrap_or(start_h).min(start_h)),
            cost_usd: jp.cost_usd,
            electricity_usd: jp.electricity_usd,
            transfer_usd: jp.transfer.as_ref().map(|t| t.usd).unwrap_or(0.0),
            bytes_moved: jp.transfer.as_ref().map(|t| t.bytes).unwrap_or(0.0),
            energy_kwh: jp.energy_kwh,
            carbon_kg: jp.carbon_kg,
            reasons: words(Some(&jp.job), &jp.rejected),
        });
    }
    for u in plan.unplaced.iter().filter(|u| !pinned.contains(&u.job)) {
        unplaced.push(Unplaced { job: u.job.clone(), reasons: words(Some(&u.job), &u.reasons) });
    }
    let services = plan
        .services
        .iter()
        .filter(|sp| state.services.contains_key(&sp.service))
        .map(|sp| {
            let mut now_replicas: BTreeMap<String, u32> = BTreeMap::new();
            for slot in sp.slots.iter().filter(|x| x.slot == 0 && x.replicas > 0) {
                *now_replicas.entry(slot.site.clone()).or_default() += slot.replicas;
            }
            crate::service::ServiceRound {
                service: sp.service.clone(),
                replicas: now_replicas.into_iter().collect(),
                cost_usd: sp.cost_usd,
                carbon_kg: sp.carbon_kg,
                unmet_rps_hours: sp.unmet_rps_hours,
                reasons: words(None, &sp.rejected),
            }
        })
        .collect();
    let round = Round {
        round: state.rounds + 1,
        at_h: now,
        solver: plan.solver.clone(),
        objective: plan.totals.objective,
        bound: plan.best_bound().map(|b| b.value),
        gap: plan.gap,
        cost_usd: plan.totals.cost_usd,
        carbon_kg: plan.totals.carbon_kg,
        run_now_cost_usd: run_now_cost,
        run_now_carbon_kg: run_now_carbon,
        nearest_east_cost_usd: east_cost,
        nearest_east_carbon_kg: east_carbon,
        placements,
        unplaced,
        services,
        seconds: 0.0,
        seen_events: Some(state.events),
        delta_of: None,
        dropped: Vec::new(),
        patched: Vec::new(),
    };
    // Work whose dispatch has come (its start, or its data transfer's start) is dispatched now.
    for p in round.placements.iter().filter(|p| p.dispatch_h.unwrap_or(p.start_h) <= now + 1e-9) {
        let attempt = state.jobs.get(&p.job).map(|j| j.attempts + 1).unwrap_or(1);
        events.push(Event::JobDispatched {
            id: p.job.clone(),
            site: p.site.clone(),
            accelerator: p.accelerator.clone(),
            start_h: p.start_h.max(now),
            attempt,
            at_h: now,
        });
    }
    events.insert(0, Event::Planned(round));
    Ok(events)
}

/// Planned work whose dispatch has come (its start, or its data transfer's start), dispatched
/// without a new round.
pub fn due(state: &State, now_h: f64) -> Vec<Event> {
    state
        .jobs
        .values()
        .filter(|j| {
            j.status == Status::Planned
                && j.dispatch_h.or(j.start_h).is_some_and(|s| s <= now_h + 1e-9)
                && !j.site.as_ref().is_some_and(|s| state.sites_down.contains(s))
        })
        .map(|j| Event::JobDispatched {
            id: j.id.clone(),
            site: j.site.clone().unwrap_or_default(),
            accelerator: j.accelerator.clone().unwrap_or_default(),
            start_h: j.start_h.unwrap_or(now_h).max(now_h),
            attempt: j.attempts + 1,
            at_h: now_h,
        })
        .collect()
}

/// A simulated backend, as pure arithmetic on the state: dispatched work starts at its start;
/// running work progresses at its accelerator's speed, checkpoints every
/// `checkpoint_every_h` of work, and finishes when its hours are done. The server uses it for
/// sites without a real backend, and `drive` uses it for the simulator, so both run the same
/// code.
pub fn simulated_backend(state: &State, now_h: f64) -> Vec<Event> {
    let mut out = Vec::new();
    for j in state.jobs.values() {
        match j.status {
            Status::Dispatched if j.start_h.is_some_and(|t| t <= now_h + 1e-9) => out.extend(started(state, &j.id, now_h).ok()),
            Status::Running => {
                let speed = j.spec.accelerators.iter().find(|a| Some(&a.accelerator) == j.accelerator.as_ref()).map(|a| a.speed).unwrap_or(1.0);
                let began = j.start_h.unwrap_or(now_h);
                // A pausable job runs in its planned hours, so it is done at its planned end;
                // its progress is spread evenly until then.
                let progress = match (j.spec.pausable, j.end_h) {
                    (true, Some(end)) if end > began => {
                        j.saved_at_start_h + (j.spec.hours - j.saved_at_start_h) * ((now_h - began) / (end - began)).min(1.0)
                    }
                    _ => j.spec.hours.min(j.saved_at_start_h + (now_h - began) * speed),
                };
                if progress >= j.spec.hours - 1e-9 {
                    out.extend(finished(state, &j.id, now_h).ok());
                } else {
                    let every = j.spec.checkpoint_every_h.max(1e-6);
                    let saved = (progress / every).floor() * every;
                    if saved > j.done_h + 1e-9 {
                        out.extend(checkpointed(state, &j.id, saved, now_h).ok());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A job arriving in a simulation.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub id: String,
    pub at_h: f64,
    pub spec: JobSpec,
}

/// What `drive` needs: the world for a horizon starting at a given hour, and the planner.
pub struct Drive<'a> {
    /// The world (sites, links, objective) for rounds starting at an hour (since the epoch).
    pub world_at: &'a mut dyn FnMut(i64) -> Problem,
    pub solve: &'a mut dyn FnMut(&Problem) -> Result<Plan, String>,
}

/// Runs arrivals through the controller in simulated time, hour by hour, from `start_h` until
/// every job is done or cancelled or `until_h` is reached: the same decisions as the server
/// (`plan_round`, `due`, `simulated_backend`), folded the same way. Returns the final state and
/// every event in order.
pub fn drive(arrivals: &[Arrival], start_h: f64, until_h: f64, d: &mut Drive) -> Result<(State, Vec<Event>), String> {
    let mut state = State::default();
    let mut log = Vec::new();
    let push = |state: &mut State, log: &mut Vec<Event>, e: Event| {
        state.apply(&e);
        log.push(e);
    };
    push(
        &mut state,
        &mut log,
        Event::TenantCreated {
            id: "sim".into(),
            name: "simulation".into(),
            token_sha256: String::new(),
            quota_gpus: None,
            admin: false,
            at_h: start_h,
        },
    );
    let mut order: Vec<&Arrival> = arrivals.iter().collect();
    order.sort_by(|a, b| a.at_h.total_cmp(&b.at_h).then(a.id.cmp(&b.id)));
    let mut next = 0;
    let mut t = start_h;
    loop {
        while next < order.len() && order[next].at_h <= t + 1e-9 {
            let a = order[next];
            let e = submit(&state, "sim", &a.id, a.spec.clone(), t).map_err(|e| e.to_string())?;
            push(&mut state, &mut log, e);
            next += 1;
        }
        for e in simulated_backend(&state, t) {
            push(&mut state, &mut log, e);
        }
        if state.wants_round(t) {
            let world = (d.world_at)(t.floor() as i64);
            for e in plan_round(&state, &RoundInput { world: &world, now_h: t, baseline: false }, d.solve)? {
                push(&mut state, &mut log, e);
            }
        }
        for e in due(&state, t) {
            push(&mut state, &mut log, e);
        }
        // Work dispatched for this hour starts in it.
        for e in simulated_backend(&state, t) {
            push(&mut state, &mut log, e);
        }
        let active = state.jobs.values().any(|j| !j.status.is_final());
        if (next >= order.len() && !active) || t >= until_h {
            return Ok((state, log));
        }
        t += 1.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xisuan_plan::heuristic::{solve, Heuristic};
    use xisuan_plan::synth::{synthetic, Shape};

    fn world() -> Problem {
        let mut p = synthetic(5, &Shape { sites: 3, slots: 48, jobs: 0, services: 0, regions: 1, capacity: 64, pausable_share: 0.0 });
        p.start_hour = 1000;
        p.objective.churn_usd = 5.0;
        p
    }

    fn spec(hours: f64, gpus: u32) -> JobSpec {
        JobSpec {
            name: None,
            gpus,
            hours,
            accelerators: vec![AccOption { accelerator: "h100".into(), speed: 1.0, kw_per_gpu: 0.77 }],
            data_site: "site-0".into(),
            data_bytes: 0.0,
            earliest_h: 1000.0,
            deadline_h: Some(1040.0),
            pausable: false,
            allowed_sites: None,
            checkpoint_every_h: 1.0,
            run: None,
        }
    }

    fn state_with_tenant() -> State {
        let mut s = State::default();
        s.apply(&Event::TenantCreated {
            id: "t1".into(),
            name: "one".into(),
            token_sha256: "x".into(),
            quota_gpus: None,
            admin: false,
            at_h: 1000.0,
        });
        s.apply(&Event::TenantCreated {
            id: "t2".into(),
            name: "two".into(),
            token_sha256: "y".into(),
            quota_gpus: Some(8),
            admin: false,
            at_h: 1000.0,
        });
        s
    }

    fn round(s: &mut State, now: f64) -> Vec<Event> {
        let w = world();
        let events = plan_round(s, &RoundInput { world: &w, now_h: now, baseline: false }, &mut |p| Ok(solve(p, &Heuristic::default()))).unwrap();
        for e in &events {
            s.apply(e);
        }
        events
    }

    /// A job of 3 hours on 8 accelerators, submitted at hour 1000, planned and dispatched at
    /// its start; returns the start and the site.
    fn dispatched(s: &mut State, id: &str) -> (f64, String) {
        s.apply(&submit(s, "t1", id, spec(3.0, 8), 1000.0).unwrap());
        round(s, 1000.0);
        let start = s.jobs[id].start_h.unwrap();
        for e in due(s, start) {
            s.apply(&e);
        }
        (start, s.jobs[id].site.clone().unwrap())
    }

    /// A round recorded as its changes from the one before folds into the same state as the
    /// whole round: the same jobs with the same sites, hours and reasons, the same latest round
    /// (as sets of entries). Between the two rounds a job is cancelled (dropped), one is
    /// submitted (new) and one more hour passes (moves); a round that changed nothing records
    /// no placement at all, and a delta of a round the log does not end with is refused.
    #[test]
    fn a_round_recorded_as_changes_folds_into_the_same_state_as_the_whole_round() {
        let mut s = state_with_tenant();
        for i in 0..12 {
            s.apply(&submit(&s, "t1", &format!("j{i}"), spec(2.0 + (i % 5) as f64, [8, 16, 48][i % 3]), 1000.0).unwrap());
        }
        s.apply(&submit(&s, "t1", "huge", spec(200.0, 64), 1000.0).unwrap());
        round(&mut s, 1000.0);
        s.apply(&Event::JobCancelled { id: "j3".into(), at_h: 1000.5 });
        s.apply(&submit(&s, "t1", "late", spec(4.0, 8), 1000.5).unwrap());
        let w = world();
        let events = plan_round(&s, &RoundInput { world: &w, now_h: 1000.5, baseline: false }, &mut |p| Ok(solve(p, &Heuristic::default()))).unwrap();
        let Event::Planned(whole) = &events[0] else { panic!() };
        let delta = whole.changes_from(s.last_round.as_ref().unwrap());
        assert!(delta.placements.len() + delta.unplaced.len() < whole.placements.len() + whole.unplaced.len(), "{delta:?}");
        assert!(delta.dropped.contains(&"j3".to_string()), "{delta:?}");
        assert!(delta.placements.iter().any(|p| p.job == "late") || delta.unplaced.iter().any(|u| u.job == "late"));
        let (mut a, mut b) = (s.clone(), s.clone());
        a.apply(&events[0]);
        b.apply(&Event::Planned(delta.clone()));
        assert_eq!((a.refused_events, b.refused_events), (0, 0));
        assert_eq!(a.jobs, b.jobs);
        let sorted = |r: &Round| {
            let mut r = r.clone();
            r.placements.sort_by(|x, y| x.job.cmp(&y.job));
            r.unplaced.sort_by(|x, y| x.job.cmp(&y.job));
            r
        };
        assert_eq!(sorted(a.last_round.as_ref().unwrap()), sorted(whole));
        assert_eq!(sorted(b.last_round.as_ref().unwrap()), sorted(whole));
        // Through JSON, as the store keeps it.
        let back: Event = serde_json::from_str(&serde_json::to_string(&Event::Planned(delta.clone())).unwrap()).unwrap();
        assert_eq!(back, Event::Planned(delta.clone()));
        // The same plan again: nothing to record.
        let mut same = whole.clone();
        same.round += 1;
        let again = same.changes_from(whole);
        assert!(again.placements.is_empty() && again.unplaced.is_empty() && again.dropped.is_empty(), "{again:?}");
        // The same places with a new forecast: only the figures that changed.
        let mut repriced = same.clone();
        repriced.placements[0].electricity_usd += 1.5;
        repriced.placements[0].reasons.push("a rival moved".into());
        let patch = repriced.changes_from(whole);
        assert!(patch.placements.is_empty() && patch.patched.len() == 1, "{patch:?}");
        let p0 = &patch.patched[0];
        assert!(p0.electricity_usd.is_some() && p0.reasons.is_some() && p0.cost_usd.is_none() && p0.carbon_kg.is_none(), "{p0:?}");
        assert_eq!(sorted(&patch.whole(Some(whole))), sorted(&repriced));
        // A delta of a round the log does not end with.
        let mut c = a.clone();
        let mut stale = delta;
        stale.round = c.rounds + 1;
        c.apply(&Event::Planned(stale));
        assert_eq!(c.refused_events, 1);
    }

    #[test]
    fn a_job_goes_from_pending_to_completed_and_illegal_steps_are_refused() {
        let mut s = state_with_tenant();
        s.apply(&submit(&s, "t1", "j1", spec(3.0, 8), 1000.0).unwrap());
        assert_eq!(s.jobs["j1"].status, Status::Pending);
        assert!(matches!(finished(&s, "j1", 1000.0), Err(Rejection::Illegal { .. })));
        let events = round(&mut s, 1000.0);
        assert!(matches!(events[0], Event::Planned(_)));
        // Planned at hour 1000 or later; dispatched when its start comes.
        let start = s.jobs["j1"].start_h.unwrap();
        for e in due(&s, start) {
            s.apply(&e);
        }
        assert_eq!(s.jobs["j1"].status, Status::Dispatched);
        s.apply(&started(&s, "j1", start).unwrap());
        s.apply(&checkpointed(&s, "j1", 2.0, start + 2.0).unwrap());
        // Its site goes down: back to pending with the 2 checkpointed hours kept.
        let site = s.jobs["j1"].site.clone().unwrap();
        s.apply(&site_down(&s, &site, "nodes lost", start + 2.5).unwrap());
        assert_eq!(s.jobs["j1"].status, Status::Pending);
        assert_eq!(s.jobs["j1"].remaining_h(), 1.0);
        // Re-planned elsewhere, never at the down site.
        round(&mut s, start + 3.0);
        assert_ne!(s.jobs["j1"].site.as_deref(), Some(site.as_str()));
        let caller = s.tenants["t1"].clone();
        s.apply(&cancel(&s, &caller, "j1", start + 3.0).unwrap());
        assert!(matches!(cancel(&s, &caller, "j1", start + 3.0), Err(Rejection::Illegal { .. })));
    }

    /// Issue 24, failure 1, as deterministic interleavings: decisions taken on a state that
    /// changed before they were written. The fold refuses what is no longer legal, so a
    /// cancelled job never comes back and a finished one is never cancelled.
    #[test]
    fn decisions_on_an_older_state_never_bring_a_job_back() {
        let mut s = state_with_tenant();
        let caller = s.tenants["t1"].clone();
        // Cancel between the decision to dispatch and its write.
        s.apply(&submit(&s, "t1", "j1", spec(3.0, 8), 1000.0).unwrap());
        let w = world();
        let decided =
            plan_round(&s, &RoundInput { world: &w, now_h: 1000.0, baseline: false }, &mut |p| Ok(solve(p, &Heuristic::default()))).unwrap();
        assert!(decided.iter().any(|e| matches!(e, Event::JobDispatched { id, .. } if id == "j1")), "{decided:?}");
        let refused_before = s.refused_events;
        s.apply(&cancel(&s, &caller, "j1", 1000.0).unwrap());
        for e in &decided {
            s.apply(e);
        }
        s.apply(&Event::JobStarted { id: "j1".into(), at_h: 1000.0 });
        s.apply(&Event::JobFinished { id: "j1".into(), at_h: 1003.0 });
        assert_eq!(s.jobs["j1"].status, Status::Cancelled, "{:?}", s.jobs["j1"].history);
        assert_eq!(s.jobs["j1"].attempts, 0);
        assert_eq!(s.refused_events, refused_before + 3, "dispatch, start and finish refused");
        // Cancel decided while running, written after the finish: refused.
        let (start, _) = dispatched(&mut s, "j2");
        s.apply(&started(&s, "j2", start).unwrap());
        let late_cancel = cancel(&s, &caller, "j2", start + 2.0).unwrap();
        s.apply(&Event::JobFinished { id: "j2".into(), at_h: start + 3.0 });
        s.apply(&late_cancel);
        assert_eq!(s.jobs["j2"].status, Status::Completed);
        // One attempt dispatched twice (two leaders deciding on one state): the second is refused.
        s.apply(&submit(&s, "t1", "j3", spec(3.0, 8), 1001.0).unwrap());
        let rounds = s.rounds;
        let w = world();
        let decided =
            plan_round(&s, &RoundInput { world: &w, now_h: 1001.0, baseline: false }, &mut |p| Ok(solve(p, &Heuristic::default()))).unwrap();
        for e in decided.iter().chain(decided.iter()) {
            s.apply(e);
        }
        assert_eq!(s.rounds, rounds + 1, "a round written twice counts once");
        let start = s.jobs["j3"].start_h.unwrap();
        let d = due(&s, start);
        for e in d.iter().chain(d.iter()) {
            s.apply(e);
        }
        assert_eq!(s.jobs["j3"].attempts, 1);
        assert_eq!(s.jobs["j3"].history.iter().filter(|h| h.1.starts_with("dispatched")).count(), 1);
        // A dispatch decided before the job was fenced is refused after.
        let mut t = state_with_tenant();
        let (start, site) = dispatched(&mut t, "j4");
        t.apply(&lost(&t, "j4", "no accounting", start + 0.5).unwrap());
        round(&mut t, start + 1.0);
        assert!(t.jobs["j4"].fence.is_some() && t.jobs["j4"].status == Status::Pending, "{:?}", t.jobs["j4"]);
        let stale = Event::JobDispatched { id: "j4".into(), site, accelerator: "h100".into(), start_h: start + 1.0, attempt: 2, at_h: start + 1.0 };
        t.apply(&stale);
        assert_eq!((t.jobs["j4"].status, t.jobs["j4"].attempts), (Status::Pending, 1));
    }

    /// Issue 24, failure 2: work accepted while a round was being decided wants a round of its
    /// own: the round's `planned` event does not clear what it did not see.
    #[test]
    fn work_accepted_during_a_round_is_planned_by_the_next() {
        let mut s = state_with_tenant();
        s.apply(&submit(&s, "t1", "j1", spec(3.0, 8), 1000.0).unwrap());
        let w = world();
        let decided =
            plan_round(&s, &RoundInput { world: &w, now_h: 1000.0, baseline: false }, &mut |p| Ok(solve(p, &Heuristic::default()))).unwrap();
        // Accepted while the round ran, written before it.
        s.apply(&submit(&s, "t1", "j2", spec(3.0, 8), 1000.0).unwrap());
        for e in &decided {
            s.apply(e);
        }
        assert_eq!(s.jobs["j2"].status, Status::Pending);
        assert!(s.wants_round(1000.1), "a job the round never saw waits for the next hour");
        round(&mut s, 1000.1);
        assert!(matches!(s.jobs["j2"].status, Status::Planned | Status::Dispatched), "{:?}", s.jobs["j2"]);
        assert!(!s.wants_round(1000.2));
    }

    /// A site's backend refuses a job: the job waits pending with the site and the reason, is
    /// planned elsewhere, never at that site again, until the site comes back from being down.
    #[test]
    fn a_refused_job_goes_elsewhere_with_the_reason() {
        let mut s = state_with_tenant();
        let (start, site) = dispatched(&mut s, "j1");
        assert!(matches!(refused(&s, "nope", &site, "x", start), Err(Rejection::NotFound(_))));
        let e = refused(&s, "j1", &site, "slurm: Invalid partition name specified", start).unwrap();
        assert_eq!(e.kind(), "job_refused");
        s.apply(&e);
        assert_eq!(s.jobs["j1"].status, Status::Pending);
        assert!(s.jobs["j1"].history.last().unwrap().1.contains("Invalid partition"));
        // Only dispatched work can be refused.
        assert!(matches!(refused(&s, "j1", &site, "again", start), Err(Rejection::Illegal { .. })));
        round(&mut s, start);
        let j = &s.jobs["j1"];
        assert!(j.site.is_some() && j.site.as_deref() != Some(site.as_str()), "{j:?}");
        assert!(j.reasons.iter().any(|r| r.starts_with(&format!("{site}: refused it (slurm: Invalid partition"))), "{:?}", j.reasons);
        // The site goes down and comes back: it may take the job again.
        s.apply(&site_down(&s, &site, "repair", start + 1.0).unwrap());
        s.apply(&site_up(&s, &site, start + 2.0).unwrap());
        assert!(s.jobs["j1"].refused.is_empty());
    }

    /// A site's cluster stops answering while a job runs there: the job may still be running,
    /// so it waits (fenced) rather than start elsewhere, however long, until the cluster confirms
    /// the attempt ended (crediting it if it completed) or an operator releases it.
    #[test]
    fn work_at_a_silent_site_waits_until_the_cluster_confirms_it_ended() {
        use crate::cluster::{Attempt, JobState};
        let report = |state: &str, nodes: &[&str]| {
            Seen::Reported(Attempt {
                cluster_id: "1".into(),
                job: "j1".into(),
                attempt: 1,
                state: JobState::parse(state),
                reason: String::new(),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
            })
        };
        let none = BTreeSet::new();
        let mut s = state_with_tenant();
        let (start, site) = dispatched(&mut s, "j1");
        s.apply(&started(&s, "j1", start).unwrap());
        s.apply(&cluster_down(&s, &site, "slurm: Unable to contact slurm controller", true, start + 1.0).unwrap());
        assert!(s.down_by_cluster.contains(&site), "it comes back up with its cluster, also after a restart");
        assert_eq!(s.jobs["j1"].status, Status::Pending);
        assert_eq!(s.jobs["j1"].fence.as_ref().map(|f| (f.site.as_str(), f.attempt)), Some((site.as_str(), 1)));
        // However long the site is silent, and after it is up again, it is not planned anywhere.
        round(&mut s, start + 500.0);
        assert_eq!(s.jobs["j1"].status, Status::Pending);
        assert!(s.jobs["j1"].reasons[0].contains("may still be running"), "{:?}", s.jobs["j1"].reasons);
        s.apply(&site_up(&s, &site, start + 501.0).unwrap());
        assert!(s.jobs["j1"].fence.is_some(), "a site back up does not lift fences");
        // Still running, or ending: the fence holds (the edge cancels what runs there).
        for state in ["RUNNING", "COMPLETING", "PENDING"] {
            assert!(observe(&s, "j1", &site, "slurm", &report(state, &["n1"]), &none, false, start + 502.0).is_empty(), "{state}");
        }
        // Still running where the site answers again: followed there again, not run elsewhere.
        let e = observe(&s, "j1", &site, "slurm", &report("RUNNING", &["n1"]), &none, true, start + 502.0);
        assert!(matches!(e.as_slice(), [Event::AttemptResumed { attempt: 1, running: true, .. }]), "{e:?}");
        let mut r = s.clone();
        r.apply(&e[0]);
        assert_eq!(
            (r.jobs["j1"].status, r.jobs["j1"].site.as_deref(), r.jobs["j1"].attempts, r.jobs["j1"].fence.is_none()),
            (Status::Running, Some(site.as_str()), 1, true)
        );
        // Cancelled on a node that does not answer: not confirmed.
        let silent: BTreeSet<String> = ["n1".to_string()].into();
        assert!(observe(&s, "j1", &site, "slurm", &report("CANCELLED", &["n1"]), &silent, false, start + 502.0).is_empty());
        assert!(observe(&s, "j1", &site, "slurm", &Seen::Unknown, &none, false, start + 502.0).is_empty(), "no accounting: an operator decides");
        // Confirmed: the fence lifts and the job goes elsewhere.
        let e = observe(&s, "j1", &site, "slurm", &report("CANCELLED", &["n1"]), &none, false, start + 502.0);
        assert!(matches!(e.as_slice(), [Event::FenceLifted { .. }]), "{e:?}");
        let mut t = s.clone();
        t.apply(&e[0]);
        round(&mut t, start + 502.0);
        assert!(matches!(t.jobs["j1"].status, Status::Planned | Status::Dispatched), "{:?}", t.jobs["j1"].status);
        // Completed while silent: credited, never run again.
        let e = observe(&s, "j1", &site, "slurm", &report("COMPLETED", &["n1"]), &silent, false, start + 502.0);
        assert!(matches!(e.as_slice(), [Event::JobFinished { .. }]), "{e:?}");
        s.apply(&e[0]);
        assert_eq!(s.jobs["j1"].status, Status::Completed);
    }

    #[test]
    fn work_pending_at_a_cluster_too_long_is_placed_again() {
        use crate::cluster::{Attempt, JobState};
        let mut s = state_with_tenant();
        let (start, site) = dispatched(&mut s, "j1");
        let pending = |reason: &str| Attempt {
            cluster_id: "1".into(),
            job: "j1".into(),
            attempt: 1,
            state: JobState::Pending,
            reason: reason.into(),
            nodes: Vec::new(),
        };
        assert_eq!(overdue(&s, "j1", &site, "slurm", &pending("Resources"), 0.5, start + 0.4), None);
        assert_eq!(overdue(&s, "j1", &site, "slurm", &pending("BeginTime"), 0.5, start + 3.0), None, "waiting for its own start");
        let e = overdue(&s, "j1", &site, "slurm", &pending("Resources"), 0.5, start + 0.6).unwrap();
        assert!(matches!(&e, Event::JobFailed { fence: true, reason, .. } if reason.contains("still pending (Resources)")), "{e:?}");
        s.apply(&e);
        assert_eq!((s.jobs["j1"].status, s.jobs["j1"].fence.as_ref().map(|f| f.attempt)), (Status::Pending, Some(1)));
    }

    /// A running attempt's report, state by state.
    #[test]
    fn a_running_attempt_s_report_is_read_state_by_state() {
        use crate::cluster::{Attempt, JobState};
        let report = |state: &str, nodes: &[&str]| {
            Seen::Reported(Attempt {
                cluster_id: "1".into(),
                job: "j1".into(),
                attempt: 1,
                state: JobState::parse(state),
                reason: "r".into(),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
            })
        };
        let none = BTreeSet::new();
        let mut s = state_with_tenant();
        let (start, site) = dispatched(&mut s, "j1");
        let e = observe(&s, "j1", &site, "slurm", &report("COMPLETING", &["n1"]), &none, false, start);
        assert!(matches!(e.as_slice(), [Event::JobStarted { .. }]), "{e:?}");
        s.apply(&e[0]);
        assert!(observe(&s, "j1", &site, "slurm", &report("COMPLETING", &["n1"]), &none, false, start).is_empty(), "ending, not yet ended");
        let fenced = observe(&s, "j1", &site, "slurm", &report("NODE_FAIL", &["n1"]), &["n1".to_string()].into(), false, start);
        assert!(matches!(fenced.as_slice(), [Event::JobFailed { fence: true, .. }]), "{fenced:?}");
        let failed = observe(&s, "j1", &site, "slurm", &report("OUT_OF_MEMORY", &["n1"]), &none, false, start);
        assert!(matches!(failed.as_slice(), [Event::JobFailed { fence: false, .. }]), "{failed:?}");
        let lost = observe(&s, "j1", &site, "slurm", &Seen::Unknown, &none, false, start);
        assert!(matches!(lost.as_slice(), [Event::JobFailed { fence: true, .. }]), "{lost:?}");
        let mut t = s.clone();
        t.apply(&lost[0]);
        assert_eq!((t.jobs["j1"].status, t.jobs["j1"].fence.as_ref().map(|f| f.attempt)), (Status::Pending, Some(1)));
        let done = observe(&s, "j1", &site, "slurm", &report("COMPLETED", &[]), &none, false, start);
        assert!(matches!(done.as_slice(), [Event::JobFinished { .. }]), "{done:?}");
    }

    #[test]
    fn tenants_see_only_their_own_work_and_quotas_delay_rather_than_refuse() {
        let mut s = state_with_tenant();
        s.apply(&submit(&s, "t2", "a", spec(2.0, 8), 1000.0).unwrap());
        s.apply(&submit(&s, "t2", "b", spec(2.0, 8), 1000.0).unwrap());
        let other = s.tenants["t1"].clone();
        assert_eq!(cancel(&s, &other, "a", 1000.0), Err(Rejection::NotFound("a".into())));
        round(&mut s, 1000.0);
        // Quota 8: one job is planned, the other waits with the reason, not refused.
        let statuses: Vec<Status> = ["a", "b"].iter().map(|id| s.jobs[*id].status).collect();
        assert!(statuses.contains(&Status::Planned) || statuses.contains(&Status::Dispatched), "{statuses:?}");
        assert!(statuses.contains(&Status::Pending));
        let waiting = s.jobs.values().find(|j| j.status == Status::Pending).unwrap();
        assert!(waiting.reasons[0].contains("quota"), "{:?}", waiting.reasons);
    }

    #[test]
    fn replaying_the_events_rebuilds_the_same_state() {
        let mut s = state_with_tenant();
        let mut log = Vec::new();
        for (i, h) in [2.0, 5.0, 1.0].iter().enumerate() {
            let e = submit(&s, "t1", &format!("j{i}"), spec(*h, 16), 1000.0).unwrap();
            s.apply(&e);
            log.push(e);
        }
        log.extend(round(&mut s, 1000.0));
        let mut again = State::default();
        for e in [
            Event::TenantCreated { id: "t1".into(), name: "one".into(), token_sha256: "x".into(), quota_gpus: None, admin: false, at_h: 1000.0 },
            Event::TenantCreated { id: "t2".into(), name: "two".into(), token_sha256: "y".into(), quota_gpus: Some(8), admin: false, at_h: 1000.0 },
        ]
        .iter()
        .chain(&log)
        {
            again.apply(e);
        }
        assert_eq!(again, s);
    }

    /// A snapshot is a cache of the fold: the state folded up to any event, written as JSON
    /// and read back, then folded with the rest, equals the state folded from the start.
    #[test]
    fn a_snapshot_then_the_rest_of_the_log_equals_the_whole_log() {
        let mut w = world();
        w.slots = 24;
        for s in &mut w.sites {
            s.usd_per_kwh.truncate(24);
            s.kg_per_kwh.truncate(24);
        }
        let arrivals: Vec<Arrival> = (0..12)
            .map(|i| Arrival {
                id: format!("j{i}"),
                at_h: 1000.0 + (i / 3) as f64,
                spec: JobSpec { earliest_h: 1000.0 + (i / 3) as f64, deadline_h: Some(1030.0), ..spec(2.5 + i as f64 % 4.0, 8 * (1 + i % 3)) },
            })
            .collect();
        let mut world_at = |h: i64| {
            let mut p = w.clone();
            p.start_hour = h;
            p
        };
        let mut solve = |p: &Problem| xisuan_plan::Solver::solve(&xisuan_plan::heuristic::Heuristic::default(), p).map_err(|e| e.to_string());
        let (end, log) = drive(&arrivals, 1000.0, 1040.0, &mut Drive { world_at: &mut world_at, solve: &mut solve }).unwrap();
        assert!(end.jobs.values().all(|j| j.status == Status::Completed), "{:?}", end.counts());
        for k in [1, log.len() / 3, log.len() / 2, log.len() - 1] {
            let mut head = State::default();
            log[..k].iter().for_each(|e| head.apply(e));
            let mut restored: State = serde_json::from_str(&serde_json::to_string(&head).unwrap()).unwrap();
            log[k..].iter().for_each(|e| restored.apply(e));
            assert_eq!(restored, end, "snapshot at event {k}");
        }
    }
}

//! Local search beyond single moves: ejection. A job that runs far from its best option
//! (capacity aside) takes that option back by ejecting the jobs in its way, which are then
//! re-placed at their best free options; the change is kept only if the objective falls.
//!
//! Greedy placement fills the cheapest capacity with whatever comes first; single moves
//! (`complete`) cannot undo that, because a move needs free room. An ejection trades places:
//! a large job with few alternatives gets the cheap window, and the small flexible jobs that
//! held it go elsewhere at little cost.
//!
//! Pure; `stop` (asked before each attempt) lets the caller end it on a clock.

use crate::assemble::{Decisions, JobDecision};
use crate::candidates::{Ctx, Free, JobOptions};
use crate::heuristic::{best_placement, placement_order, Timing};

/// The score of a job's decision (or its penalty when unplaced).
fn score_of(ctx: &Ctx, opts: &[JobOptions], ji: usize, jd: Option<&JobDecision>) -> f64 {
    let j = &ctx.p.jobs[ji];
    match jd {
        None => ctx.p.objective.job_penalty(j),
        Some(jd) => {
            let o = &opts[ji].options[jd.option];
            if j.pausable {
                ctx.eval_slots(j, o, &jd.slots).score
            } else {
                ctx.score(j, o, jd.slots[0])
            }
        }
    }
}

/// The best (option, start) of a non-pausable job with capacity aside, and its score.
fn best_anywhere(ctx: &Ctx, jo: &JobOptions, ji: usize) -> Option<(usize, u32, f64)> {
    let j = &ctx.p.jobs[ji];
    let mut best: Option<(usize, u32, f64)> = None;
    for (oi, o) in jo.options.iter().enumerate() {
        for t in o.first_start..=o.last_start {
            let v = ctx.score(j, o, t);
            if best.is_none_or(|b| v < b.2) {
                best = Some((oi, t, v));
            }
        }
    }
    best
}

/// Tries ejections for the jobs furthest from their best option, largest loss first, until
/// `max_attempts` or `stop()`. Returns the number of ejections kept.
pub fn eject(ctx: &Ctx, opts: &[JobOptions], d: &mut Decisions, max_attempts: usize, stop: &mut dyn FnMut() -> bool) -> usize {
    let p = ctx.p;
    if d.late_ok {
        return 0;
    }
    let mut free = Free::after(ctx, opts, d);
    // Jobs placed at each (site, accelerator type).
    let mut at: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); ctx.accs.0.len()]; p.sites.len()];
    for (ji, jd) in d.jobs.iter().enumerate() {
        if let Some(jd) = jd {
            let o = &opts[ji].options[jd.option];
            at[o.site][o.acc].push(ji);
        }
    }
    let flex = placement_order(p, opts);
    let mut rank = vec![0usize; p.jobs.len()];
    for (i, &ji) in flex.iter().enumerate() {
        rank[ji] = i;
    }
    // Candidates: non-pausable jobs whose current score exceeds their best anywhere.
    let mut candidates: Vec<(f64, usize, usize, u32)> = Vec::new();
    for ji in 0..p.jobs.len() {
        if p.jobs[ji].pausable {
            continue;
        }
        let Some((oi, t, best)) = best_anywhere(ctx, &opts[ji], ji) else { continue };
        let now = score_of(ctx, opts, ji, d.jobs[ji].as_ref());
        if now - best > 1e-6 * (1.0 + best.abs()) {
            candidates.push((now - best, ji, oi, t));
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut buf = Vec::new();
    let mut kept = 0;
    for &(_, ji, oi, t) in candidates.iter().take(max_attempts) {
        if stop() {
            break;
        }
        let j = &p.jobs[ji];
        let target = &opts[ji].options[oi];
        let (s, a, k) = (target.site, target.acc, target.slots);
        let window = t..t + k;
        let before_a = d.jobs[ji].clone();
        // Lift the job itself.
        if let Some(jd) = &before_a {
            let o = &opts[ji].options[jd.option];
            free.give(o.site, o.acc, jd.slots.iter().copied(), j.gpus);
        }
        // Eject the most flexible jobs in the way until the window has room.
        let mut blockers: Vec<usize> = at[s][a]
            .iter()
            .copied()
            .filter(|&b| b != ji && d.jobs[b].as_ref().is_some_and(|jd| jd.slots.iter().any(|u| window.contains(u))))
            .collect();
        blockers.sort_by_key(|&b| std::cmp::Reverse(rank[b]));
        let mut ejected: Vec<(usize, JobDecision)> = Vec::new();
        let short = |free: &Free| window.clone().any(|u| free.free[s][a][u as usize] < j.gpus);
        for b in blockers {
            if !short(&free) {
                break;
            }
            let jd = d.jobs[b].take().expect("placed");
            let ob = &opts[b].options[jd.option];
            free.give(ob.site, ob.acc, jd.slots.iter().copied(), p.jobs[b].gpus);
            ejected.push((b, jd));
        }
        let old_score: f64 = score_of(ctx, opts, ji, before_a.as_ref()) + ejected.iter().map(|(b, jd)| score_of(ctx, opts, *b, Some(jd))).sum::<f64>();
        let restore = |d: &mut Decisions, free: &mut Free, placed: &[(usize, JobDecision)]| {
            for (b, jd) in placed {
                let o = &opts[*b].options[jd.option];
                free.give(o.site, o.acc, jd.slots.iter().copied(), p.jobs[*b].gpus);
                d.jobs[*b] = None;
            }
        };
        if short(&free) {
            // Services hold the window: put everything back.
            for (b, jd) in &ejected {
                let o = &opts[*b].options[jd.option];
                free.take(o.site, o.acc, jd.slots.iter().copied(), p.jobs[*b].gpus);
                d.jobs[*b] = Some(jd.clone());
            }
            if let Some(jd) = &before_a {
                let o = &opts[ji].options[jd.option];
                free.take(o.site, o.acc, jd.slots.iter().copied(), j.gpus);
            }
            continue;
        }
        let new_a = JobDecision { option: oi, slots: window.clone().collect() };
        free.take(s, a, window.clone(), j.gpus);
        d.jobs[ji] = Some(new_a.clone());
        let mut placed: Vec<(usize, JobDecision)> = vec![(ji, new_a)];
        let mut order: Vec<usize> = ejected.iter().map(|x| x.0).collect();
        order.sort_by_key(|&b| rank[b]);
        let mut new_score = score_of(ctx, opts, ji, d.jobs[ji].as_ref());
        for b in order {
            let jb = &p.jobs[b];
            match best_placement(ctx, jb, &opts[b], &free, Timing::Shift, &mut buf).filter(|x| x.1 < p.objective.job_penalty(jb)) {
                Some((jd, score)) => {
                    let o = &opts[b].options[jd.option];
                    free.take(o.site, o.acc, jd.slots.iter().copied(), jb.gpus);
                    d.jobs[b] = Some(jd.clone());
                    placed.push((b, jd));
                    new_score += score;
                }
                None => new_score += p.objective.job_penalty(jb),
            }
        }
        if new_score < old_score - 1e-9 * (1.0 + old_score.abs()) {
            kept += 1;
            // Re-index the jobs that moved.
            for list in at.iter_mut().flatten() {
                list.retain(|&x| x != ji && !ejected.iter().any(|e| e.0 == x));
            }
            for (b, jd) in &placed {
                let o = &opts[*b].options[jd.option];
                at[o.site][o.acc].push(*b);
            }
        } else {
            restore(d, &mut free, &placed);
            for (b, jd) in &ejected {
                let o = &opts[*b].options[jd.option];
                free.take(o.site, o.acc, jd.slots.iter().copied(), p.jobs[*b].gpus);
                d.jobs[*b] = Some(jd.clone());
            }
            if let Some(jd) = &before_a {
                let o = &opts[ji].options[jd.option];
                free.take(o.site, o.acc, jd.slots.iter().copied(), j.gpus);
            }
            d.jobs[ji] = before_a;
        }
    }
    kept
}

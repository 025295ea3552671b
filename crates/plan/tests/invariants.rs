//! Property tests: on random problems, the heuristic and every baseline keep the planner's
//! invariants (see `check`), and the plan's objective is never below its own lower bound.

use proptest::prelude::*;
use xisuan_plan::baselines::baselines;
use xisuan_plan::check::check;
use xisuan_plan::heuristic::{solve, Heuristic};
use xisuan_plan::synth::{synthetic, Shape};

fn shape(sites: usize, slots: u32, jobs: usize, services: usize) -> Shape {
    Shape { sites, slots, jobs, services, regions: 3, capacity: 64, pausable_share: 0.3 }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, rng_seed: proptest::test_runner::RngSeed::Fixed(20261127), ..ProptestConfig::default() })]

    #[test]
    fn heuristic_plans_keep_every_invariant(seed in any::<u64>(), sites in 1usize..5, slots in 8u32..48, jobs in 0usize..25, services in 0usize..3) {
        let p = synthetic(seed, &shape(sites, slots, jobs, services));
        p.validate().unwrap();
        let plan = solve(&p, &Heuristic::default());
        let violations = check(&p, &plan);
        prop_assert!(violations.is_empty(), "{:#?}", violations);
        prop_assert_eq!(plan.jobs.len() + plan.unplaced.len(), p.jobs.len());
        for u in &plan.unplaced {
            prop_assert!(!u.reasons.is_empty());
        }
        let bound = plan.best_bound().unwrap().value;
        prop_assert!(plan.totals.objective >= bound - 1e-6 * (1.0 + bound.abs()), "objective {} below bound {}", plan.totals.objective, bound);
    }

    #[test]
    fn baselines_never_overfill_a_site(seed in any::<u64>(), sites in 1usize..5, slots in 8u32..48, jobs in 0usize..20) {
        let p = synthetic(seed, &shape(sites, slots, jobs, 1));
        for b in baselines(&p) {
            prop_assert_eq!(b.totals.jobs_placed + b.totals.jobs_unplaced, p.jobs.len(), "{}", b.name);
        }
    }
}

#[test]
fn the_same_problem_gives_the_same_plan() {
    let p = synthetic(7, &shape(4, 48, 40, 2));
    let a = solve(&p, &Heuristic::default());
    let b = solve(&p, &Heuristic::default());
    assert_eq!(a, b);
}

#[test]
fn an_impossible_deadline_is_reported_with_its_reasons() {
    let mut p = synthetic(3, &shape(3, 24, 1, 0));
    p.jobs[0].hours = 10.0;
    p.jobs[0].earliest = 20;
    p.jobs[0].deadline = 24;
    let plan = solve(&p, &Heuristic::default());
    assert_eq!(plan.unplaced.len(), 1);
    let u = &plan.unplaced[0];
    assert_eq!(u.reasons.len(), 3, "one reason per site: {:?}", u.reasons);
    assert!(
        u.reasons.iter().all(|r| matches!(
            r.reason,
            xisuan_plan::Reason::Deadline { .. } | xisuan_plan::Reason::AcceleratorType { .. } | xisuan_plan::Reason::Residency
        )),
        "{:?}",
        u.reasons
    );
}

/// A site that already holds a job's data (an earlier attempt's verified copy) is priced and
/// timed with nothing to move: no transfer in the plan, no earlier-start constraint, and the
/// plan still passes `check`.
#[test]
fn data_already_at_a_site_is_not_moved_again() {
    let mut p = synthetic(7, &shape(3, 24, 1, 0));
    let j = &mut p.jobs[0];
    j.data_site = 0;
    j.data_bytes = 50e12;
    j.allowed_sites = Some(vec![1]);
    j.earliest = 0;
    j.deadline = 24;
    j.hours = 2.0;
    let moved = solve(&p, &Heuristic::default());
    let t = moved.jobs[0].transfer.as_ref().expect("50 TB moves to site 1");
    assert!(t.bytes == 50e12 && moved.jobs[0].start_slot as f64 >= t.hours, "{t:?}");
    p.jobs[0].data_at = vec![1];
    p.validate().unwrap();
    let held = solve(&p, &Heuristic::default());
    assert!(held.jobs[0].transfer.is_none() && held.totals.bytes_moved == 0.0, "{:?}", held.jobs[0]);
    assert!(held.jobs[0].start_slot < moved.jobs[0].start_slot, "no wait for data that is there");
    assert!(check(&p, &held).is_empty(), "{:#?}", check(&p, &held));
    p.jobs[0].data_at = vec![9];
    assert!(p.validate().is_err());
}

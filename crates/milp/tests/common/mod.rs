//! What the independent checkers of the test suite share: capacity use rebuilt from a plan's
//! placements and the problem alone (no planner code).

use std::collections::HashMap;
use xisuan_plan::{Plan, Problem};

/// Accelerators free per (site, type, slot) after the plan's placements.
pub fn free_after(p: &Problem, plan: &Plan) -> HashMap<(usize, String), Vec<i64>> {
    let site_ix: HashMap<&str, usize> = p.sites.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let mut free: HashMap<(usize, String), Vec<i64>> = HashMap::new();
    for (i, s) in p.sites.iter().enumerate() {
        for (a, c) in &s.capacity {
            free.insert((i, a.clone()), vec![*c as i64; p.slots as usize]);
        }
    }
    for jp in &plan.jobs {
        let s = site_ix[jp.site.as_str()];
        let row = free.get_mut(&(s, jp.accelerator.clone())).expect("placed on a type the site has");
        for &t in &jp.slots {
            row[t as usize] -= jp.gpus as i64;
        }
    }
    for sp in &plan.services {
        let v = p.services.iter().find(|v| v.id == sp.service).unwrap();
        for ss in &sp.slots {
            let s = site_ix[ss.site.as_str()];
            free.get_mut(&(s, v.accelerator.clone())).unwrap()[ss.slot as usize] -= (ss.replicas * v.gpus_per_replica) as i64;
        }
    }
    free
}

//! Verifies a plan against its problem: the invariants every solver must keep. Property tests
//! run it on random problems; the CLI runs it on every plan before printing.
//!
//! - no site's capacity of any accelerator type is exceeded in any slot;
//! - every region a service serves is within the service's latency objective of its site, and
//!   every site a service uses is allowed by its residency rule;
//! - every placed job runs its full duration, after its data arrived, and ends by its deadline;
//! - every job is either placed or reported unplaced with reasons, exactly once.

use crate::plan::Plan;
use crate::problem::Problem;
use std::collections::HashMap;

pub fn check(p: &Problem, plan: &Plan) -> Vec<String> {
    let mut v = Vec::new();
    let site_ix: HashMap<&str, usize> = p.sites.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let region_ix: HashMap<&str, usize> = p.regions.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
    // used[(site, acc)][slot]
    let mut used: HashMap<(usize, String), Vec<u64>> = HashMap::new();
    let mut add = |s: usize, acc: &str, slot: u32, n: u64, v: &mut Vec<String>| {
        if slot >= p.slots {
            v.push(format!("slot {slot} beyond the horizon at {}", p.sites[s].id));
            return;
        }
        used.entry((s, acc.to_string())).or_insert_with(|| vec![0; p.slots as usize])[slot as usize] += n;
    };

    let mut seen: HashMap<&str, usize> = HashMap::new();
    for jp in &plan.jobs {
        *seen.entry(jp.job.as_str()).or_default() += 1;
        let Some(j) = p.jobs.iter().find(|j| j.id == jp.job) else {
            v.push(format!("plan places unknown job {}", jp.job));
            continue;
        };
        let Some(&s) = site_ix.get(jp.site.as_str()) else {
            v.push(format!("job {} at unknown site {}", jp.job, jp.site));
            continue;
        };
        let Some(o) = j.accelerators.iter().find(|o| o.accelerator == jp.accelerator) else {
            v.push(format!("job {} on an accelerator it cannot use ({})", jp.job, jp.accelerator));
            continue;
        };
        let need = ((j.hours / o.speed) - 1e-9).ceil().max(1.0) as usize;
        if jp.slots.len() != need {
            v.push(format!("job {} runs {} slots, needs {need}", jp.job, jp.slots.len()));
        }
        if !j.pausable && jp.slots.windows(2).any(|w| w[1] != w[0] + 1) {
            v.push(format!("job {} is not pausable but runs in separate windows", jp.job));
        }
        if let Some(a) = &j.allowed_sites {
            if !a.contains(&s) {
                v.push(format!("job {} placed at {} against its residency rule", jp.job, jp.site));
            }
        }
        let transfer_h = if j.moves_data_to(s) { p.links[j.data_site][s].hours(j.data_bytes) } else { 0.0 };
        let first = jp.slots.first().copied().unwrap_or(0);
        if (first as f64) < j.earliest as f64 + transfer_h - 1e-6 {
            v.push(format!("job {} starts at slot {first} before its data arrives ({:.2} h after slot {})", jp.job, transfer_h, j.earliest));
        }
        if !jp.missed_deadline && jp.end_slot > j.deadline {
            v.push(format!("job {} ends at slot {} after its deadline {}", jp.job, jp.end_slot, j.deadline));
        }
        for &t in &jp.slots {
            add(s, &jp.accelerator, t, jp.gpus as u64, &mut v);
        }
    }
    for u in &plan.unplaced {
        *seen.entry(u.job.as_str()).or_default() += 1;
        if u.reasons.is_empty() {
            v.push(format!("job {} unplaced without a reason", u.job));
        }
    }
    for j in &p.jobs {
        match seen.get(j.id.as_str()) {
            Some(1) => {}
            Some(n) => v.push(format!("job {} appears {n} times", j.id)),
            None => v.push(format!("job {} was dropped from the plan", j.id)),
        }
    }

    for sp in &plan.services {
        let Some(svc) = p.services.iter().find(|s| s.id == sp.service) else {
            v.push(format!("plan places unknown service {}", sp.service));
            continue;
        };
        let mut served = vec![vec![0.0; p.slots as usize]; p.regions.len()];
        for ss in &sp.slots {
            let Some(&s) = site_ix.get(ss.site.as_str()) else {
                v.push(format!("service {} at unknown site {}", sp.service, ss.site));
                continue;
            };
            if svc.allowed_sites.as_ref().is_some_and(|a| !a.contains(&s)) {
                v.push(format!("service {} served from {} against its residency rule", sp.service, ss.site));
            }
            add(s, &svc.accelerator, ss.slot, (ss.replicas * svc.gpus_per_replica) as u64, &mut v);
            let total: f64 = ss.served.iter().map(|x| x.1).sum();
            if total > ss.replicas as f64 * svc.replica_rps * (1.0 + 1e-9) + 1e-9 {
                v.push(format!("service {} at {} slot {} serves {total:.3} rps with {} replicas", sp.service, ss.site, ss.slot, ss.replicas));
            }
            for (region, x) in &ss.served {
                let g = region_ix[region.as_str()];
                if p.latency_ms[g][s] > svc.slo_ms + 1e-9 {
                    v.push(format!(
                        "service {} serves {region} from {} at {:.1} ms, above its {:.1} ms objective",
                        sp.service, ss.site, p.latency_ms[g][s], svc.slo_ms
                    ));
                }
                served[g][ss.slot as usize] += x;
            }
        }
        let mut unmet = 0.0;
        for (g, (dem, got)) in svc.demand.iter().zip(&served).enumerate() {
            for (t, (&d, &x)) in dem.iter().zip(got).enumerate() {
                if x > d * (1.0 + 1e-9) + 1e-9 {
                    v.push(format!("service {} over-serves {} in slot {t}", sp.service, p.regions[g].name));
                }
                unmet += (d - x).max(0.0);
            }
        }
        if (unmet - sp.unmet_rps_hours).abs() > 1e-6 * (1.0 + unmet) {
            v.push(format!("service {} reports {:.3} unmet rps-h, actually {unmet:.3}", sp.service, sp.unmet_rps_hours));
        }
    }

    for ((s, acc), per) in &used {
        let cap = p.sites[*s].capacity_of(acc) as u64;
        for (t, &u) in per.iter().enumerate() {
            if u > cap {
                v.push(format!("{} over capacity: {u} {acc} in slot {t}, capacity {cap}", p.sites[*s].id));
            }
        }
    }
    v
}

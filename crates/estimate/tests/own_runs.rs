//! The estimator against our own collection of published runs, `docs/evidence/training-runs.csv`
//! (77 runs released 2021-2025 that are not in the validation file, each with its source; issue
//! 14). The rule, stated before looking at errors:
//!
//! * **Used**: runs with published GPU-hours, active parameters, training tokens and an
//!   accelerator in the catalog, whose hours are *reported* or *derived* from published
//!   GPU counts and days. Left out: figures noted as approximate, upper bounds, informal,
//!   repeated from another model, or from distillation or adapters on another model (their
//!   hours do not follow from 6·N·D).
//! * **Split**: sorted by (MoE, year, model), alternately into a fit half (the MoE factor and
//!   the P10-P90 spread in `hardware.rs` were fitted on it) and a test half (never fitted on).
//!
//! Each run is scored as its `config.json` and `--seq-len` would give it: its layers and hidden
//! size (the `layers` and `hidden` columns, each with its source in `shape_source`), and its
//! stated pretraining context.
//!
//! Run with `--nocapture` for each run's error and the summary by half and by dense/MoE.

use std::path::PathBuf;
use xisuan_estimate::hardware::{hopper_class, DEFAULT_CONTEXT};
use xisuan_estimate::{estimate_train, find_accelerator, Architecture, TrainInput, TrainPrecision};

struct Run {
    model: String,
    moe: bool,
    year: String,
    total_b: f64,
    active_b: f64,
    tokens_t: f64,
    accelerator: &'static str,
    gpu_hours: f64,
    fp8: bool,
    /// The pretraining context, where the source states it (as `--seq-len`).
    seq_len: Option<u32>,
    /// Layers and hidden size from the model's config or paper (as `--config` gives them).
    shape: Option<(u32, u32)>,
}

fn accelerator_id(text: &str) -> Option<&'static str> {
    let t = text.to_lowercase().replace([' ', '-'], "");
    [
        ("h800", "h800"),
        ("h100", "h100"),
        ("a800", "a800"),
        ("a10080gb", "a100-80gb"),
        ("a10040gb", "a100-40gb"),
        ("a100", "a100-80gb"),
        ("v100", "v100"),
        ("tpuv4", "tpu-v4"),
        ("tpuv3", "tpu-v3"),
    ]
    .into_iter()
    .find(|(k, _)| t.contains(k))
    .map(|(_, id)| id)
}

/// The runs the rule above admits, in split order.
fn runs() -> Vec<Run> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/evidence/training-runs.csv");
    let mut rd = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = rd.headers().unwrap().clone();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap_or_else(|| panic!("no column {name}"));
    let (cm, cy, ca, ct, cact, ctok, cacc, cgh, cnote) = (
        col("model"),
        col("year"),
        col("arch"),
        col("total_params_b"),
        col("active_params_b"),
        col("tokens_t"),
        col("accelerator"),
        col("gpu_hours"),
        col("gpu_hours_note"),
    );
    const LEFT_OUT: [&str; 8] = ["distill", "pruning", "upper bound", "approximate", "informal", "identical", "repeats", "adapter"];
    let mut out = Vec::new();
    for rec in rd.records() {
        let r = rec.unwrap();
        let num = |i: usize| r[i].trim().parse::<f64>().ok();
        let (Some(gh), Some(total), Some(tokens), Some(acc)) = (num(cgh), num(ct), num(ctok), accelerator_id(&r[cacc])) else { continue };
        let note = format!("{} {}", r[cnote].to_lowercase(), r[ca].to_lowercase());
        if LEFT_OUT.iter().any(|w| note.contains(w)) {
            continue;
        }
        let int = |name: &str| r[col(name)].trim().parse::<u32>().ok();
        let fp8 = r[col("precision")].trim() == "fp8";
        out.push(Run {
            model: r[cm].to_string(),
            moe: r[ca].trim() == "MoE",
            year: r[cy].to_string(),
            total_b: total,
            active_b: num(cact).unwrap_or(total),
            tokens_t: tokens,
            accelerator: acc,
            gpu_hours: gh,
            fp8,
            seq_len: int("seq_len"),
            shape: int("layers").zip(int("hidden")),
        });
    }
    out.sort_by(|a, b| (a.moe, &a.year, &a.model).cmp(&(b.moe, &b.year, &b.model)));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Scored {
    fit: bool,
    moe: bool,
    error: f64,
    inside: bool,
    /// Published over predicted accelerator-hours.
    ratio: f64,
}

/// The p-th percentile by the (n + 1) · p rank, interpolated: how `GPU_HOURS_P10_P90` was taken.
fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() + 1) as f64 * p).clamp(1.0, v.len() as f64);
    let (lo, frac) = (rank.floor() as usize, rank.fract());
    v[lo - 1] + frac * (v[lo.min(v.len() - 1)] - v[lo - 1])
}

fn scored() -> Vec<Scored> {
    let mut out = Vec::new();
    for (k, r) in runs().iter().enumerate() {
        let acc = find_accelerator(r.accelerator).unwrap();
        let mut i = TrainInput::new(r.total_b * 1e9, r.tokens_t * 1e12, acc, 1024);
        i.active_params = r.active_b * 1e9;
        // What a user with the model's config and `--seq-len` gives: the real layers and width.
        // Without a stated context the estimator's own assumption stands (4,096 tokens on
        // Hopper-class chips, none elsewhere), as for a config without one.
        let context = r.seq_len.or(hopper_class(acc).then_some(DEFAULT_CONTEXT.0));
        i.arch = match (r.shape, context) {
            // Only the layers, width and context enter training hours (attention FLOPs and the
            // width curve); heads, vocabulary and FFN size do not.
            (Some((layers, hidden)), Some(seq_len)) => {
                Some(Architecture { layers, hidden, seq_len, derived_from_size: false, ..Architecture::guess(i.active_params, seq_len) })
            }
            (None, Some(s)) if r.seq_len.is_some() => Some(Architecture::guess(i.active_params, s)),
            _ => None,
        };
        if r.fp8 {
            i.precision = TrainPrecision::Fp8;
        }
        let e = estimate_train(&i).unwrap();
        let (lo, hi) = (e.gpu_hours_p10.unwrap().0, e.gpu_hours_p90.unwrap().0);
        let error = e.gpu_hours.0 / r.gpu_hours - 1.0;
        let inside = lo <= r.gpu_hours && r.gpu_hours <= hi;
        let fit = k % 2 == 0;
        println!(
            "{:<4} {:<30} {:<5} {:<10} {:>11.0} GPU-h vs {:>11.0} published ({:+5.0}%), P10-P90 {:.0}-{:.0}{}",
            if fit { "fit" } else { "test" },
            r.model,
            if r.moe { "MoE" } else { "dense" },
            r.accelerator,
            e.gpu_hours.0,
            r.gpu_hours,
            error * 100.0,
            lo,
            hi,
            if inside { "" } else { "  (outside)" }
        );
        out.push(Scored { fit, moe: r.moe, error, inside, ratio: r.gpu_hours / e.gpu_hours.0 });
    }
    out
}

#[test]
fn modern_runs_from_defaults_have_a_small_median_error_and_an_honest_interval() {
    let s = scored();
    assert!(s.len() >= 40, "only {} runs admitted", s.len());
    for (name, half) in [("fit", true), ("test", false)] {
        let part: Vec<&Scored> = s.iter().filter(|x| x.fit == half).collect();
        let med = median(part.iter().map(|x| x.error.abs()).collect());
        let dense = median(part.iter().filter(|x| !x.moe).map(|x| x.error.abs()).collect());
        let moe = median(part.iter().filter(|x| x.moe).map(|x| x.error.abs()).collect());
        let cover = part.iter().filter(|x| x.inside).count() as f64 / part.len() as f64;
        println!(
            "{name}: {} runs, median |error| {:.1}% (dense {:.1}%, MoE {:.1}%), published value inside P10-P90 for {:.0}%",
            part.len(),
            med * 100.0,
            dense * 100.0,
            moe * 100.0,
            cover * 100.0
        );
        // Before the width, goodput and MoE factors the first 41 runs were off by 34% (median);
        // with them, the attention FLOPs and each run's real shape, 14.3% (fit) and 12.1% (test).
        assert!(med <= 0.20, "{name}: median error {:.1}%", med * 100.0);
        assert!(moe <= dense, "{name}: MoE median error {:.1}% above dense {:.1}%", moe * 100.0, dense * 100.0);
        assert!(cover >= 0.8, "{name}: only {:.0}% inside P10-P90", cover * 100.0);
    }
    let fit: Vec<f64> = s.iter().filter(|x| x.fit).map(|x| x.ratio).collect();
    println!(
        "fit half, published / predicted: 10th percentile {:.2}, 90th {:.2} (GPU_HOURS_P10_P90)",
        percentile(fit.clone(), 0.1),
        percentile(fit, 0.9)
    );
    let dense = median(s.iter().filter(|x| !x.moe).map(|x| x.error.abs()).collect());
    let moe = median(s.iter().filter(|x| x.moe).map(|x| x.error.abs()).collect());
    println!("all {} runs: dense {:.1}%, MoE {:.1}%", s.len(), dense * 100.0, moe * 100.0);
    // With each run's real layers and width, dense runs are at 15.8% and the ten MoE runs at
    // 5.4%: one MoE factor fitted on four of them (the expert-width routing model it replaced
    // was at 21%). Issue 14's third must-show: MoE no worse than dense, overall and per half.
    assert!(dense <= 0.18, "dense median error {:.1}%", dense * 100.0);
    assert!(moe <= dense, "MoE median error {:.1}% above dense {:.1}%", moe * 100.0, dense * 100.0);
}

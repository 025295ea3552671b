//! Training and fine-tuning: FLOPs → accelerator-hours → wall time → energy → cost → carbon.
//!
//! The chain is the one published runs use to report themselves (Patterson et al. 2021;
//! Touvron et al. 2023): model FLOPs = 6·N·D (plus attention when the shape is known), divided
//! by peak throughput × MFU gives accelerator-hours; hours × average power × (1 + host
//! overhead) × PUE gives facility energy; energy × grid factor gives location-based emissions.
//! Every input arrives as a `Sourced` value so the result can print where each came from.

use crate::arch::Architecture;
use crate::hardware::Accelerator;
use crate::{Assumption, InputError};
use serde::Serialize;
use xisuan_model::{Flops, GpuHours, Hours, KWh, KgCo2e, KgPerKwh, Sourced, Usd, UsdPerKwh, Watts};

/// How the weights are trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Pre-training or full fine-tuning: every weight gets a gradient (6·N FLOPs per token).
    Full,
    /// Low-rank adapters on frozen BF16 weights: the forward pass and activation gradients
    /// remain, weight gradients of the frozen matrices do not (≈ 4·N FLOPs per token).
    Lora,
    /// LoRA on 4-bit quantised frozen weights (Dettmers et al. 2023): same FLOPs as LoRA,
    /// slower per FLOP because weights are dequantised on the fly.
    Qlora,
}

/// The number format of the matrix multiplies in training. Master weights and optimizer state
/// stay in higher precision either way; MFU is always counted against the BF16 peak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainPrecision {
    #[default]
    Bf16,
    /// FP8 matrix multiplies (Transformer Engine style), on chips with FP8 tensor cores.
    Fp8,
}

impl Method {
    /// Model FLOPs per parameter per token.
    pub fn flops_per_param_token(self) -> f64 {
        match self {
            Method::Full => 6.0,
            Method::Lora | Method::Qlora => 4.0,
        }
    }
    /// Bytes of accelerator memory per parameter for weights, gradients and optimizer state:
    /// mixed-precision Adam keeps 16 bytes per trained weight (ZeRO paper, Rajbhandari et al.
    /// 2020); LoRA keeps BF16 frozen weights (2 bytes); QLoRA 4-bit weights (0.5 bytes).
    pub fn state_bytes_per_param(self) -> f64 {
        match self {
            Method::Full => 16.0,
            Method::Lora => 2.0,
            Method::Qlora => 0.5,
        }
    }
}

/// How compute is paid for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CostModel {
    /// Rented by the accelerator-hour; the electricity is in the price.
    Rent { usd_per_gpu_hour: Sourced<f64> },
    /// Bought: purchase price spread evenly over the accelerator's life, plus electricity.
    Own { capex_usd_per_gpu: Sourced<f64>, lifetime_years: Sourced<f64>, usd_per_kwh: Sourced<f64> },
}

/// Everything a training estimate depends on. Build it with `TrainInput::new` and override
/// fields; every default carries its evidence.
#[derive(Debug, Clone)]
pub struct TrainInput {
    pub params: f64,
    /// Parameters active per token (MoE); equal to `params` for dense models.
    pub active_params: f64,
    pub tokens: f64,
    pub arch: Option<Architecture>,
    pub method: Method,
    pub accelerator: &'static Accelerator,
    pub count: u32,
    pub mfu: Sourced<f64>,
    /// Whether `mfu` is the accelerator's default (set by `new`); only then do the width,
    /// goodput and MoE factors of `hardware` apply. A user's own MFU is taken as it is.
    pub mfu_is_default: bool,
    /// Full activation recomputation: one extra forward pass, counted in hardware FLOPs.
    pub recompute: bool,
    /// BF16 or FP8 matrix multiplies; FP8 speeds up the default MFU (`hardware::FP8_SPEEDUP`).
    pub precision: TrainPrecision,
    /// Model FLOPs given directly (e.g. from a paper), replacing 6·N·D.
    pub flops: Option<Flops>,
    /// Accelerator-hours given directly; energy and emissions follow from them.
    pub gpu_hours: Option<GpuHours>,
    /// Average power per accelerator. When the user gives it, it is all-in (chip plus its
    /// share of the host, as Patterson et al. report it) and `host_overhead` defaults to 0.
    pub power: Sourced<f64>,
    pub host_overhead: Sourced<f64>,
    pub pue: Sourced<f64>,
    pub grid: Sourced<f64>,
    pub cost: CostModel,
}

/// Default PUE: hyperscale data centres (Google fleet trailing-twelve-month PUE 1.10 in 2021,
/// Google environmental report; Meta's LLaMA paper uses 1.1).
pub const DEFAULT_PUE: (f64, &str) = (1.10, "hyperscale data centre: Google fleet PUE 1.10 (2021 environmental report); LLaMA paper uses 1.1");
/// Default grid factor: the US average used by the LLaMA paper (0.385 kgCO2e/kWh); a user
/// placing work should pass the site's own factor.
pub const DEFAULT_GRID: (f64, &str) = (0.385, "US national average used by Touvron et al. 2023 (LLaMA); pass --grid-kg-per-kwh for your site");
/// Default host overhead: Patterson et al. 2021 measured 330 W of system power per V100 (TDP
/// 300 W) for GPT-3, i.e. servers, CPUs and networking add about 10% to the accelerators.
pub const DEFAULT_HOST_OVERHEAD: (f64, &str) = (0.10, "GPT-3's measured 330 W system power per 300 W V100 (Patterson et al. 2021, Table 4)");

impl TrainInput {
    /// A dense full-training input with every other value at its evidence-backed default.
    pub fn new(params: f64, tokens: f64, accelerator: &'static Accelerator, count: u32) -> Self {
        TrainInput {
            params,
            active_params: params,
            tokens,
            arch: None,
            method: Method::Full,
            accelerator,
            count,
            mfu: accelerator.default_mfu.sourced(),
            mfu_is_default: true,
            recompute: false,
            precision: TrainPrecision::Bf16,
            flops: None,
            gpu_hours: None,
            power: accelerator.default_power_w.sourced(),
            host_overhead: Sourced::new(DEFAULT_HOST_OVERHEAD.0, DEFAULT_HOST_OVERHEAD.1, xisuan_model::Confidence::Medium),
            pue: Sourced::new(DEFAULT_PUE.0, DEFAULT_PUE.1, xisuan_model::Confidence::Medium),
            grid: Sourced::new(DEFAULT_GRID.0, DEFAULT_GRID.1, xisuan_model::Confidence::Medium),
            cost: CostModel::Rent { usd_per_gpu_hour: accelerator.default_usd_per_hour.sourced() },
        }
    }

    /// Checks the values a user can get wrong, naming the flag at fault.
    pub fn validate(&self) -> Result<(), InputError> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(InputError::new(field, format!("must be a positive number, got {v}")))
            }
        };
        // Far beyond any model or corpus (10^15 parameters, 10^17 tokens), so that every
        // derived count (layers, width, accelerators for memory) fits its integer type.
        let at_most = |field: &str, v: f64, max: f64| {
            if v <= max {
                Ok(())
            } else {
                Err(InputError::new(field, format!("{v} is beyond what xisuan estimates (at most {max:e})")))
            }
        };
        at_most("params", self.params, 1e15)?;
        at_most("tokens", self.tokens, 1e17)?;
        // The longest context any published model takes is 10M tokens (Llama 4 Scout).
        if let Some(a) = &self.arch {
            if a.seq_len == 0 || a.seq_len > 10_000_000 {
                return Err(InputError::new("seq-len", format!("{} tokens of context: must be 1 to 10,000,000", a.seq_len)));
            }
        }
        if self.count > xisuan_model::limits::MAX_SITE_ACCELERATORS {
            return Err(InputError::new("gpus", format!("{} is more than {} accelerators", self.count, xisuan_model::limits::MAX_SITE_ACCELERATORS)));
        }
        if self.flops.is_none() && self.gpu_hours.is_none() {
            positive("params", self.params)?;
            positive("tokens", self.tokens)?;
        } else if !(self.tokens.is_finite() && self.tokens >= 0.0) {
            return Err(InputError::new("tokens", format!("must not be negative, got {}", self.tokens)));
        }
        positive("active-params", self.active_params)?;
        if self.active_params > self.params * (1.0 + 1e-9) {
            return Err(InputError::new("active-params", format!("{} exceeds the total parameters {}", self.active_params, self.params)));
        }
        if self.count == 0 {
            return Err(InputError::new("gpus", "must be at least 1"));
        }
        if !(self.mfu.value > 0.0 && self.mfu.value <= 1.0) {
            return Err(InputError::new("mfu", format!("must be in (0, 1], got {}", self.mfu.value)));
        }
        positive("power-w", self.power.value)?;
        if !(self.host_overhead.value >= 0.0 && self.host_overhead.value < 5.0) {
            return Err(InputError::new("host-overhead", format!("must be in [0, 5), got {}", self.host_overhead.value)));
        }
        if !(self.pue.value >= 1.0 && self.pue.value <= 3.0) {
            return Err(InputError::new("pue", format!("must be between 1.0 and 3.0, got {}", self.pue.value)));
        }
        if !(self.grid.value >= 0.0 && self.grid.value < 2.0) {
            return Err(InputError::new("grid-kg-per-kwh", format!("must be in [0, 2) kgCO2e/kWh, got {}", self.grid.value)));
        }
        if self.precision == TrainPrecision::Fp8 && !crate::hardware::supports_fp8(self.accelerator) {
            return Err(InputError::new(
                "precision",
                format!("{} has no FP8 tensor cores (FP8 needs Hopper, Ada, Blackwell or MI300)", self.accelerator.name),
            ));
        }
        if let Some(f) = self.flops {
            positive("flops", f.0)?;
        }
        if let Some(h) = self.gpu_hours {
            positive("gpu-hours", h.0)?;
        }
        match &self.cost {
            CostModel::Rent { usd_per_gpu_hour } => {
                if !(usd_per_gpu_hour.value >= 0.0) {
                    return Err(InputError::new("usd-per-gpu-hour", "must not be negative"));
                }
            }
            CostModel::Own { capex_usd_per_gpu, lifetime_years, usd_per_kwh } => {
                if !(capex_usd_per_gpu.value >= 0.0) {
                    return Err(InputError::new("capex-usd-per-gpu", "must not be negative"));
                }
                positive("lifetime-years", lifetime_years.value)?;
                if !(usd_per_kwh.value >= 0.0) {
                    return Err(InputError::new("usd-per-kwh", "must not be negative"));
                }
            }
        }
        Ok(())
    }
}

/// FLOPs by source.
#[derive(Debug, Clone, Serialize)]
pub struct FlopsBreakdown {
    /// 6·N·D (or 4·N·D for adapters), N active parameters.
    pub dense: Flops,
    /// Attention scores, when the shape is known (0 otherwise).
    pub attention: Flops,
    /// What the chips execute, counting recomputed forward passes.
    pub hardware: Flops,
}

/// Cost by component.
#[derive(Debug, Clone, Serialize)]
pub struct CostBreakdown {
    /// Rental, or amortised purchase.
    pub compute: Usd,
    /// Electricity bought separately (owned hardware only; rental prices include it).
    pub electricity: Usd,
    pub total: Usd,
}

/// The answer to "what does this run take?".
#[derive(Debug, Clone, Serialize)]
pub struct TrainEstimate {
    pub flops: Flops,
    pub breakdown: FlopsBreakdown,
    pub pf_days: f64,
    pub gpu_hours: GpuHours,
    pub wall: Hours,
    /// Power per accelerator including host overhead, before PUE.
    pub it_power_per_gpu: Watts,
    pub energy: KWh,
    pub emissions: KgCo2e,
    pub cost: CostBreakdown,
    /// Fewest accelerators whose memory holds weights, gradients and optimizer state.
    pub min_gpus_for_memory: u32,
    /// Hardware FLOPs utilisation implied by the MFU (equal to it without recomputation).
    pub hfu: f64,
    /// The MFU the accelerator-hours were computed with: the default's, times the width,
    /// goodput and MoE factors where they apply (or the user's own).
    pub mfu_effective: f64,
    /// The 10th and 90th percentiles of the accelerator-hours, from the spread of published
    /// runs around this estimator's defaults; `None` when the user fixed the MFU or the hours.
    pub gpu_hours_p10: Option<GpuHours>,
    pub gpu_hours_p90: Option<GpuHours>,
    pub assumptions: Vec<Assumption>,
    pub notes: Vec<String>,
}

/// QLoRA dequantisation slows each step; we take 1.3× LoRA's step time, the middle of the
/// 20-40% slowdowns reported for bitsandbytes 4-bit training (Hugging Face PEFT benchmarks).
pub const QLORA_SLOWDOWN: f64 = 1.3;

pub fn estimate_train(input: &TrainInput) -> Result<TrainEstimate, InputError> {
    input.validate()?;
    let acc = input.accelerator;
    let mut notes = Vec::new();

    let per_token = input.method.flops_per_param_token();
    let dense = Flops(per_token * input.active_params * input.tokens);
    let from_defaults = input.mfu_is_default && input.gpu_hours.is_none();
    // On Hopper-class chips the default MFU and the width curve count (causal) attention FLOPs,
    // so the FLOPs they divide must count them too: with no architecture given, a shape is
    // guessed from the size at the assumed context (`hardware::DEFAULT_CONTEXT`).
    let assumed_arch = match (&input.arch, input.flops) {
        (None, None) if from_defaults && crate::hardware::hopper_class(acc) => {
            Some(Architecture::guess(input.active_params, crate::hardware::DEFAULT_CONTEXT.0))
        }
        _ => None,
    };
    let arch = input.arch.as_ref().or(assumed_arch.as_ref());
    // Attention scores have no weights, so adapters save nothing there: forward and both
    // backward products are computed whatever the method.
    let attention = match arch {
        Some(a) => Flops(a.attention_train_flops_per_token() * input.tokens),
        None => Flops::ZERO,
    };
    let flops = match input.flops {
        Some(f) => {
            notes.push("model FLOPs given directly; 6·N·D not used".into());
            f
        }
        None => dense + attention,
    };
    if arch.is_none() && input.flops.is_none() {
        notes.push("attention FLOPs not counted (no architecture given; use --config or --seq-len)".into());
    }
    // Recomputing activations adds one forward pass (2 of the 6 FLOPs per parameter-token).
    let hardware = if input.recompute { flops * (8.0 / 6.0) } else { flops };
    // Effective MFU: the default is a large dense run at full width; narrower models, the
    // hours that do not train and mixture-of-experts training take it down (hardware.rs).
    let mut factors: Vec<Assumption> = Vec::new();
    let mut mfu = input.mfu.value;
    if from_defaults {
        let hidden = arch.map(|a| a.hidden).unwrap_or_else(|| Architecture::guess(input.active_params, 2048).hidden);
        let tpu = acc.id.starts_with("tpu");
        if crate::hardware::hopper_class(acc) {
            let w = crate::hardware::width_factor(hidden);
            mfu *= w;
            factors.push(Assumption::num(
                "MFU share at this model width",
                w,
                &format!(
                    "of full width (hidden {hidden}{})",
                    if arch.is_some_and(|a| !a.derived_from_size) { "" } else { ", guessed from the size" }
                ),
                "measured on one H200, 2026-11-28: 26% MFU at hidden 1,024 to 52% at 8,192 (../shared/data/measured)",
                xisuan_model::Confidence::Medium,
            ));
            mfu *= crate::hardware::GOODPUT.value;
            factors.push(Assumption::sourced("goodput (share of wall time that trains)", &crate::hardware::GOODPUT.sourced(), ""));
        }
        if input.active_params < input.params * 0.999 && !tpu {
            mfu *= crate::hardware::MOE_FACTOR.value;
            factors.push(Assumption::sourced("mixture-of-experts efficiency", &crate::hardware::MOE_FACTOR.sourced(), "of dense MFU"));
        }
        if input.precision == TrainPrecision::Fp8 {
            mfu *= crate::hardware::FP8_SPEEDUP.value;
            factors.push(Assumption::sourced("FP8 speed-up (MFU stays counted against the BF16 peak)", &crate::hardware::FP8_SPEEDUP.sourced(), "x"));
        }
    } else if input.precision == TrainPrecision::Fp8 {
        notes.push("the precision does not change the hours here: the given MFU or accelerator-hours are taken as measured".into());
    }
    let hfu = mfu * (hardware / flops);

    let slowdown = if input.method == Method::Qlora { QLORA_SLOWDOWN } else { 1.0 };
    let gpu_hours = match input.gpu_hours {
        Some(h) => {
            notes.push("accelerator-hours given directly; FLOPs and MFU not used for time".into());
            h
        }
        None => GpuHours(flops.0 / (acc.peak_bf16.0 * mfu) / 3600.0 * slowdown),
    };
    let (p10, p90, _) = crate::hardware::GPU_HOURS_P10_P90;
    let (gpu_hours_p10, gpu_hours_p90) =
        if from_defaults { (Some(GpuHours(gpu_hours.0 * p10)), Some(GpuHours(gpu_hours.0 * p90))) } else { (None, None) };
    let wall = Hours(gpu_hours.0 / input.count as f64);

    let it_power = Watts(input.power.value * (1.0 + input.host_overhead.value));
    let energy = KWh::from_power(it_power, Hours(gpu_hours.0)) * input.pue.value;
    let emissions = energy.emissions(KgPerKwh(input.grid.value));

    let cost = match &input.cost {
        CostModel::Rent { usd_per_gpu_hour } => {
            let compute = Usd(gpu_hours.0 * usd_per_gpu_hour.value);
            CostBreakdown { compute, electricity: Usd::ZERO, total: compute }
        }
        CostModel::Own { capex_usd_per_gpu, lifetime_years, usd_per_kwh } => {
            let per_hour = capex_usd_per_gpu.value / (lifetime_years.value * 8760.0);
            let compute = Usd(gpu_hours.0 * per_hour);
            let electricity = energy.cost(UsdPerKwh(usd_per_kwh.value));
            CostBreakdown { compute, electricity, total: compute + electricity }
        }
    };

    let state_bytes = input.params * input.method.state_bytes_per_param();
    let min_gpus_for_memory = (state_bytes / (acc.memory_gb * 1e9)).ceil().max(1.0) as u32;
    if min_gpus_for_memory > input.count {
        notes.push(format!(
            "{} accelerators hold only {:.0} GB; weights and optimizer state need {:.0} GB ({} at least)",
            input.count,
            input.count as f64 * acc.memory_gb,
            state_bytes / 1e9,
            min_gpus_for_memory
        ));
    }

    let mut assumptions = vec![
        Assumption::new("accelerator", acc.name, "", acc.spec_source, acc.spec_confidence),
        Assumption::num("peak BF16 throughput", acc.peak_bf16.0 / 1e12, "TFLOP/s per chip", acc.spec_source, acc.spec_confidence),
        Assumption::sourced(if factors.is_empty() { "MFU" } else { "MFU of a large dense run at full width" }, &input.mfu, ""),
    ];
    if !factors.is_empty() {
        assumptions.extend(factors);
        assumptions.push(Assumption::num("effective MFU (the product)", mfu, "", "the lines above", xisuan_model::Confidence::Estimated));
    }
    if let (Some(a), Some(b)) = (gpu_hours_p10, gpu_hours_p90) {
        assumptions.push(Assumption::new(
            "accelerator-hours, P10-P90",
            &format!("{} - {}", xisuan_model::units::human(a.0), xisuan_model::units::human(b.0)),
            "GPU-hours",
            crate::hardware::GPU_HOURS_P10_P90.2,
            xisuan_model::Confidence::Estimated,
        ));
    }
    assumptions.extend([
        Assumption::sourced("average power per accelerator", &input.power, "W"),
        Assumption::sourced("host overhead", &input.host_overhead, "fraction of accelerator power"),
        Assumption::sourced("PUE", &input.pue, ""),
        Assumption::sourced("grid carbon intensity", &input.grid, "kgCO2e/kWh"),
    ]);
    match &input.cost {
        CostModel::Rent { usd_per_gpu_hour } => {
            assumptions.push(Assumption::sourced("rental price", usd_per_gpu_hour, "USD per accelerator-hour"));
        }
        CostModel::Own { capex_usd_per_gpu, lifetime_years, usd_per_kwh } => {
            assumptions.push(Assumption::sourced("purchase price", capex_usd_per_gpu, "USD per accelerator"));
            assumptions.push(Assumption::sourced("lifetime", lifetime_years, "years"));
            assumptions.push(Assumption::sourced("electricity price", usd_per_kwh, "USD/kWh"));
        }
    }
    if input.method != Method::Full {
        assumptions.push(Assumption::num(
            "FLOPs per parameter-token",
            per_token,
            "FLOP",
            "adapters: forward 2N + activation gradients 2N; frozen weights get no gradient",
            xisuan_model::Confidence::Medium,
        ));
    }
    if input.method == Method::Qlora {
        assumptions.push(Assumption::num(
            "QLoRA step-time factor",
            QLORA_SLOWDOWN,
            "x LoRA",
            "4-bit dequantisation overhead, 20-40% reported for bitsandbytes (HF PEFT benchmarks)",
            xisuan_model::Confidence::Low,
        ));
    }
    if let Some(a) = arch {
        let src = if assumed_arch.is_some() {
            format!("guessed from size (GPT-3 aspect ratio); {}", crate::hardware::DEFAULT_CONTEXT.1)
        } else if a.derived_from_size {
            "guessed from size (GPT-3 aspect ratio)".to_string()
        } else {
            "model config".to_string()
        };
        assumptions.push(Assumption::new(
            "architecture",
            &format!("{} layers x {} wide, {} heads, context {}", a.layers, a.hidden, a.heads, a.seq_len),
            "",
            &src,
            if a.derived_from_size { xisuan_model::Confidence::Estimated } else { xisuan_model::Confidence::User },
        ));
    }

    Ok(TrainEstimate {
        flops,
        breakdown: FlopsBreakdown { dense, attention, hardware },
        pf_days: flops.pf_days(),
        gpu_hours,
        wall,
        it_power_per_gpu: it_power,
        energy,
        emissions,
        cost,
        min_gpus_for_memory,
        hfu,
        mfu_effective: mfu,
        gpu_hours_p10,
        gpu_hours_p90,
        assumptions,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::find;

    fn gpt3() -> TrainInput {
        TrainInput::new(175e9, 300e9, find("v100").unwrap(), 10_000)
    }

    #[test]
    fn gpt3_is_3640_pf_days() {
        let e = estimate_train(&gpt3()).unwrap();
        // 6 · 175e9 · 300e9 = 3.15e23 FLOPs; / 8.64e19 = 3,646 PF-days (paper: 3.64e3).
        assert!((e.flops.0 - 3.15e23).abs() < 1e20);
        assert!((e.pf_days - 3645.8).abs() < 1.0, "{}", e.pf_days);
    }

    #[test]
    fn given_gpu_hours_drive_energy_and_emissions() {
        let mut i = gpt3();
        i.gpu_hours = Some(GpuHours(3_552_000.0));
        i.power = Sourced::user(330.0, "--power-w");
        i.host_overhead = Sourced::user(0.0, "included in --power-w");
        i.pue = Sourced::user(1.1, "--pue");
        i.grid = Sourced::user(0.429, "--grid-kg-per-kwh");
        let e = estimate_train(&i).unwrap();
        // 3,552,000 h · 0.330 kW · 1.1 = 1,289,376 kWh; · 0.429 = 553.1 t.
        assert!((e.energy.0 - 1_289_376.0).abs() < 1.0);
        assert!((e.emissions.tonnes() - 553.14).abs() < 0.01);
        assert!((e.wall.days() - 14.8).abs() < 0.01);
    }

    #[test]
    fn lora_costs_two_thirds_of_full_fine_tuning_and_qlora_needs_least_memory() {
        let acc = find("a100-80gb").unwrap();
        let mut full = TrainInput::new(7e9, 1e9, acc, 8);
        let full_e = estimate_train(&full).unwrap();
        full.method = Method::Lora;
        let lora = estimate_train(&full).unwrap();
        full.method = Method::Qlora;
        let qlora = estimate_train(&full).unwrap();
        assert!((lora.flops / full_e.flops - 4.0 / 6.0).abs() < 1e-12);
        assert!(qlora.gpu_hours > lora.gpu_hours);
        // 7e9 · 16 B = 112 GB -> 2 A100-80GB; LoRA 14 GB and QLoRA 3.5 GB -> 1.
        assert_eq!(full_e.min_gpus_for_memory, 2);
        assert_eq!(lora.min_gpus_for_memory, 1);
        assert_eq!(qlora.min_gpus_for_memory, 1);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut i = gpt3();
        i.tokens = -3e9;
        assert_eq!(estimate_train(&i).unwrap_err().field, "tokens");
        let mut i = gpt3();
        i.pue = Sourced::user(0.8, "--pue");
        assert_eq!(estimate_train(&i).unwrap_err().field, "pue");
        let mut i = gpt3();
        i.active_params = 2e12;
        assert_eq!(estimate_train(&i).unwrap_err().field, "active-params");
    }

    #[test]
    fn recomputation_raises_hardware_flops_not_time() {
        let mut i = gpt3();
        let a = estimate_train(&i).unwrap();
        i.recompute = true;
        let b = estimate_train(&i).unwrap();
        assert_eq!(a.gpu_hours, b.gpu_hours);
        assert!((b.breakdown.hardware / a.breakdown.hardware - 4.0 / 3.0).abs() < 1e-12);
        assert!((b.hfu - a.hfu * 4.0 / 3.0).abs() < 1e-12);
    }
}

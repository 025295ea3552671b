//! `xisuan estimate train|serve|choose`: flags in, validated estimator inputs, answer out.
//!
//! Every default the estimator uses is printed in the assumptions block, and every one can be
//! replaced by a flag; a flag's value is labelled `user` in that block.

use crate::output::{assumptions_block, human, notes_block, Table};
use crate::{hf, BadInput};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::PathBuf;
use xisuan_estimate::choose::{choose, find_tier, ChooseInput, TIERS};
use xisuan_estimate::serve::{Demand, Fleet};
use xisuan_estimate::{
    estimate_serve, estimate_train, find_accelerator, hardware, Accelerator, Architecture, CostModel, Method, ServeInput, TrainInput,
};
use xisuan_model::{GpuHours, Sourced};

#[derive(Subcommand)]
pub enum EstimateCmd {
    /// Compute, time, energy, cost and carbon of training or fine-tuning a model.
    #[command(after_help = TRAIN_EXAMPLES)]
    Train(TrainArgs),
    /// Accelerators, servers, capex, power and cost per million tokens of serving a model.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Pay an API, fine-tune an open model, or train your own: monthly cost and break-even.
    #[command(after_help = CHOOSE_EXAMPLES)]
    Choose(ChooseArgs),
    /// List the built-in accelerators with their datasheet numbers and defaults.
    Hardware {
        #[arg(long)]
        json: bool,
    },
}

const TRAIN_EXAMPLES: &str = "Examples:
  GPT-3 175B on 300B tokens on 10,000 V100s (Brown et al. 2020; Patterson et al. 2021):
    xisuan estimate train --params 175e9 --tokens 300e9 --gpu v100 --gpus 10000
  The same run from its published GPU-hours, power, PUE and grid factor:
    xisuan estimate train --params 175e9 --tokens 300e9 --gpu v100 --gpus 10000 \\
      --gpu-hours 3552000 --power-w 330 --pue 1.1 --grid-kg-per-kwh 0.429
  LoRA fine-tuning of a Hugging Face model on 100M tokens:
    xisuan estimate train --config config.json --tokens 100M --gpu a100-80gb --gpus 8 --method lora
Numbers accept suffixes K, M, B (or G) and T: --params 7B --tokens 1.4T.";

const SERVE_EXAMPLES: &str = "Examples:
  Size a fleet for 13M daily users of a 175B model on A100s:
    xisuan estimate serve --params 175e9 --gpu a100-80gb --daily-users 13e6
  Cost the 2023 article's fleet: 4,000 DGX A100 servers at $199K and 6.5 kW, $0.08/kWh:
    xisuan estimate serve --params 175e9 --gpu a100-80gb --daily-users 13e6 --servers 4000 \\
      --gpus-per-server 8 --server-usd 199000 --server-kw 6.5 --usd-per-kwh 0.08 --pue 1.0";

const CHOOSE_EXAMPLES: &str = "Examples:
  A company sending 2 billion tokens a month at GPT-3.5 quality:
    xisuan estimate choose --tokens-per-month 2B --tier medium --gpu h100
Tiers: small (8B-class vs GPT-4o mini), medium (70B-class vs GPT-3.5 Turbo), large (405B-class vs GPT-4o).";

/// A count such as `175e9`, `175B`, `1.4T`, `100M`. Negative numbers are parsed, so that the
/// estimator can reject them with a message naming the flag.
pub fn parse_count(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('b' | 'B' | 'g' | 'G') => (&t[..t.len() - 1], 1e9),
        Some('t' | 'T') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    num.trim().parse::<f64>().map(|v| v * mult).map_err(|_| format!("`{s}` is not a number (examples: 175e9, 7B, 1.4T)"))
}

#[derive(Args)]
pub struct ModelArgs {
    /// Total parameters (dense, or all experts of an MoE model): 175e9, 7B.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    params: Option<f64>,
    /// Parameters active per token, for mixture-of-experts models.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    active_params: Option<f64>,
    /// A Hugging Face config.json: layers, width, heads, vocabulary, context (and size if --params is absent).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Accelerator: v100, a100-40gb, a100-80gb, a800, h100, h100-pcie, h800, h20, h200, b200, l40s, l4, mi300x, ascend-910b, tpu-v3, tpu-v4 (see `xisuan estimate hardware`).
    #[arg(long, value_name = "ID")]
    gpu: String,
}

struct Model {
    params: f64,
    active: f64,
    arch: Option<Architecture>,
    /// The config gave no context field (its `arch.seq_len` is the assumed one).
    context_unstated: bool,
    acc: &'static Accelerator,
}

fn accelerator(id: &str) -> Result<&'static Accelerator, BadInput> {
    find_accelerator(id).ok_or_else(|| BadInput(format!("--gpu: unknown accelerator `{id}`; known: {}", hardware::ids().join(", "))))
}

impl ModelArgs {
    fn resolve(&self) -> Result<Model, BadInput> {
        let acc = accelerator(&self.gpu)?;
        let from_config = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| BadInput(format!("--config: cannot read {}: {e}", p.display())))?;
                Some(hf::parse(&text, &p.display().to_string())?)
            }
            None => None,
        };
        let params = match (self.params, &from_config) {
            (Some(p), _) => p,
            (None, Some(m)) => m.params,
            (None, None) => return Err(BadInput("--params: required (or give --config)".into())),
        };
        let active = self.active_params.or(from_config.as_ref().map(|m| m.active_params.min(params))).unwrap_or(params);
        let context_unstated = from_config.as_ref().is_some_and(|m| !m.context_stated);
        Ok(Model { params, active, arch: from_config.map(|m| m.arch), context_unstated, acc })
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Full,
    Lora,
    Qlora,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum TrainPrecisionArg {
    Bf16,
    Fp8,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum CostArg {
    /// Rent accelerators by the hour (electricity included in the price).
    Rent,
    /// Own them: purchase price amortised over their life, plus electricity.
    Own,
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Training tokens: 300e9, 1.4T.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    tokens: Option<f64>,
    /// Number of accelerators.
    #[arg(long, default_value_t = 8)]
    gpus: u32,
    /// full (pre-training or full fine-tuning), lora or qlora.
    #[arg(long, value_enum, default_value = "full")]
    method: MethodArg,
    /// Model-FLOPs utilisation, 0-1 (default: the accelerator's published evidence).
    #[arg(long, allow_hyphen_values = true)]
    mfu: Option<f64>,
    /// Full activation recomputation (reports hardware FLOPs and HFU beside MFU).
    #[arg(long)]
    recompute: bool,
    /// Matrix-multiply precision: bf16, or fp8 on chips with FP8 tensor cores (1.4x the default
    /// MFU, from published end-to-end speed-ups; MFU stays counted against the BF16 peak).
    #[arg(long, value_enum, default_value = "bf16")]
    precision: TrainPrecisionArg,
    /// Pretraining context in tokens, for the (causal) attention FLOPs. Without it a --config's
    /// maximum context is capped at 4,096 (the median stated by published 2023-2025 runs), or
    /// taken as 4,096 when the config states none; with no --config either, Hopper-class chips
    /// assume 4,096, and elsewhere attention is then not counted.
    #[arg(long, value_name = "TOKENS")]
    seq_len: Option<u32>,
    /// Model FLOPs, replacing 6·N·D (e.g. from a paper).
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    flops: Option<f64>,
    /// Accelerator-hours, used as is; energy and emissions follow from them.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    gpu_hours: Option<f64>,
    /// Average power per accelerator in W, including its share of the host (host overhead then defaults to 0).
    #[arg(long, allow_hyphen_values = true)]
    power_w: Option<f64>,
    /// Host overhead as a fraction of accelerator power (CPUs, memory, network).
    #[arg(long, allow_hyphen_values = true)]
    host_overhead: Option<f64>,
    /// Power usage effectiveness of the facility.
    #[arg(long, allow_hyphen_values = true)]
    pue: Option<f64>,
    /// Grid carbon intensity in kgCO2e/kWh (location-based).
    #[arg(long, allow_hyphen_values = true)]
    grid_kg_per_kwh: Option<f64>,
    /// rent (default) or own.
    #[arg(long, value_enum, default_value = "rent")]
    cost_model: CostArg,
    /// Rental price per accelerator-hour in USD.
    #[arg(long, allow_hyphen_values = true)]
    usd_per_gpu_hour: Option<f64>,
    /// Purchase price per accelerator in USD (with --cost-model own).
    #[arg(long, allow_hyphen_values = true)]
    capex_usd_per_gpu: Option<f64>,
    /// Years over which owned accelerators are amortised.
    #[arg(long, allow_hyphen_values = true)]
    lifetime_years: Option<f64>,
    /// Electricity price in USD/kWh (with --cost-model own).
    #[arg(long, allow_hyphen_values = true)]
    usd_per_kwh: Option<f64>,
    /// Where the run happens: a site id, EDWC cluster name or city (`xisuan sites`). Its grid
    /// factor, PUE and electricity price replace the defaults: an EDWC hub's annual provincial
    /// factor, or a cloud region's hourly series (--carbon-series, --price-series) averaged over
    /// --start and --hours. --grid-kg-per-kwh, --pue and --usd-per-kwh still override them.
    #[arg(long, value_name = "ID")]
    site: Option<String>,
    /// Hourly carbon-intensity series for --site (wide, long or lets-wait-awhile CSV).
    #[arg(long = "carbon-series", value_name = "FILE", requires = "site")]
    carbon_series: Vec<std::path::PathBuf>,
    /// Hourly electricity-price series for --site.
    #[arg(long = "price-series", value_name = "FILE", requires = "site")]
    price_series: Vec<std::path::PathBuf>,
    /// First hour of the window over which --site's hourly series are averaged (UTC date).
    #[arg(long, default_value = "2023-01-01", requires = "site")]
    start: String,
    /// Hours in that window (default: a year).
    #[arg(long, default_value_t = 8760, requires = "site")]
    hours: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Grid factor, PUE and electricity price of a site over a window, each with its source.
fn site_rates(a: &TrainArgs, id: &str) -> anyhow::Result<(Sourced<f64>, Sourced<f64>, Sourced<f64>)> {
    xisuan_model::limits::count(a.hours as u64, 1, xisuan_model::limits::MAX_HOURS as u64).map_err(|m| BadInput(format!("--hours: {m}")))?;
    let start = xisuan_io::simulation::parse_start(&a.start)?;
    let catalog = xisuan_io::load_catalog(None, &a.carbon_series, &a.price_series)?;
    let r = catalog.resolve(id).map_err(|e| BadInput(format!("--site: {e}")))?;
    let site = r.site;
    let h = xisuan_catalog::hourly::site_hours(&catalog, site, start, a.hours as usize);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let window = format!("{} h from {}", a.hours, xisuan_catalog::series::format_hour(start));
    let conf = |hourly: bool| if hourly { xisuan_model::Confidence::Medium } else { site.carbon_annual.confidence };
    let carbon_hourly = h.carbon_source.starts_with("hourly");
    let price_hourly = h.price_source.contains("hourly deviation");
    let grid = Sourced::new(
        mean(&h.kg_per_kwh),
        format!("site {}: {}{}", site.id, h.carbon_source, if carbon_hourly { format!(", mean over {window}") } else { String::new() }),
        conf(carbon_hourly),
    );
    let price = Sourced::new(
        mean(&h.usd_per_kwh),
        format!("site {}: {}{}", site.id, h.price_source, if price_hourly { format!(", mean over {window}") } else { String::new() }),
        site.price_annual.confidence,
    );
    let pue = Sourced::new(site.pue.value, format!("site {}: {}", site.id, site.pue.source), site.pue.confidence);
    Ok((grid, pue, price))
}

/// Replaces each default with the flag's value, labelled as the user's, where a flag was given.
fn override_all<const N: usize>(items: [(&mut Sourced<f64>, Option<f64>, &str); N]) {
    for (slot, v, flag) in items {
        if let Some(v) = v {
            *slot = Sourced::user(v, flag);
        }
    }
}

fn user(v: Option<f64>, flag: &str) -> Option<Sourced<f64>> {
    v.map(|v| Sourced::user(v, flag))
}

fn train(a: &TrainArgs) -> anyhow::Result<()> {
    let m = a.model.resolve()?;
    let tokens = match (a.tokens, a.flops, a.gpu_hours) {
        (Some(t), _, _) => t,
        (None, None, None) => return Err(BadInput("--tokens: required (or give --flops or --gpu-hours)".into()).into()),
        _ => 0.0,
    };
    let mut i = TrainInput::new(m.params, tokens, m.acc, a.gpus);
    i.active_params = m.active;
    i.arch = m.arch.or_else(|| a.seq_len.map(|s| Architecture::guess(m.active, s)));
    // A config's `max_position_embeddings` is the longest context the model takes, not the one
    // it was pretrained at (Llama 3.1: 131,072, pretrained at 8,192); without --seq-len the
    // training context is capped at the assumed one and the output says so.
    let mut capped_context = None;
    if let Some(arch) = i.arch.as_mut() {
        match a.seq_len {
            Some(s) => arch.seq_len = s,
            None if arch.seq_len > xisuan_estimate::hardware::DEFAULT_CONTEXT.0 => {
                capped_context = Some(arch.seq_len);
                arch.seq_len = xisuan_estimate::hardware::DEFAULT_CONTEXT.0;
            }
            None => {}
        }
    }
    i.method = match a.method {
        MethodArg::Full => Method::Full,
        MethodArg::Lora => Method::Lora,
        MethodArg::Qlora => Method::Qlora,
    };
    i.recompute = a.recompute;
    i.precision = match a.precision {
        TrainPrecisionArg::Bf16 => xisuan_estimate::TrainPrecision::Bf16,
        TrainPrecisionArg::Fp8 => xisuan_estimate::TrainPrecision::Fp8,
    };
    i.flops = a.flops.map(xisuan_model::Flops);
    i.gpu_hours = a.gpu_hours.map(GpuHours);
    let site = match &a.site {
        Some(id) => Some(site_rates(a, id)?),
        None => None,
    };
    if let Some((grid, pue, _)) = &site {
        i.grid = grid.clone();
        i.pue = pue.clone();
    }
    if let Some(v) = user(a.mfu, "--mfu") {
        i.mfu = v;
        i.mfu_is_default = false;
    }
    if let Some(v) = user(a.power_w, "--power-w") {
        i.power = v;
        i.host_overhead = Sourced::user(0.0, "included in --power-w");
    }
    if let Some(v) = user(a.host_overhead, "--host-overhead") {
        i.host_overhead = v;
    }
    if let Some(v) = user(a.pue, "--pue") {
        i.pue = v;
    }
    if let Some(v) = user(a.grid_kg_per_kwh, "--grid-kg-per-kwh") {
        i.grid = v;
    }
    i.cost = match a.cost_model {
        CostArg::Rent => CostModel::Rent {
            usd_per_gpu_hour: user(a.usd_per_gpu_hour, "--usd-per-gpu-hour").unwrap_or_else(|| m.acc.default_usd_per_hour.sourced()),
        },
        CostArg::Own => CostModel::Own {
            capex_usd_per_gpu: user(a.capex_usd_per_gpu, "--capex-usd-per-gpu").unwrap_or_else(|| m.acc.default_capex_usd.sourced()),
            lifetime_years: user(a.lifetime_years, "--lifetime-years")
                .unwrap_or_else(|| Sourced::new(4.0, "4-year accelerator depreciation (assumed)", xisuan_model::Confidence::Low)),
            usd_per_kwh: user(a.usd_per_kwh, "--usd-per-kwh")
                .or_else(|| site.as_ref().map(|s| s.2.clone()))
                .unwrap_or_else(|| Sourced::new(0.08, "US industrial average 2023, about 8 US cents/kWh (EIA)", xisuan_model::Confidence::Medium)),
        },
    };
    if a.cost_model == CostArg::Rent && (a.capex_usd_per_gpu.is_some() || a.usd_per_kwh.is_some()) {
        return Err(BadInput("--capex-usd-per-gpu/--usd-per-kwh: only apply with --cost-model own".into()).into());
    }
    let mut e = estimate_train(&i).map_err(|e| BadInput(e.to_string()))?;
    if m.context_unstated && a.seq_len.is_none() && i.flops.is_none() {
        e.notes.push(format!(
            "the config states no context (max_position_embeddings); training context taken as {} tokens (the median pretraining context of the 2023-2025 runs in docs/evidence/training-runs.csv); give --seq-len for the model's own",
            xisuan_estimate::hardware::DEFAULT_CONTEXT.0
        ));
    }
    if let (Some(max), None) = (capped_context, i.flops) {
        e.notes.push(format!(
            "training context taken as {} tokens, not the config's maximum of {max} (the median pretraining context of the 2023-2025 runs in docs/evidence/training-runs.csv); give --seq-len for the model's own",
            xisuan_estimate::hardware::DEFAULT_CONTEXT.0
        ));
    }
    if a.json {
        let v = json!({
            "flops": e.flops.0,
            "flops_breakdown": {"dense": e.breakdown.dense.0, "attention": e.breakdown.attention.0, "hardware": e.breakdown.hardware.0},
            "pf_days": e.pf_days,
            "gpu_hours": e.gpu_hours.0,
            "gpu_hours_p10": e.gpu_hours_p10.map(|h| h.0),
            "gpu_hours_p90": e.gpu_hours_p90.map(|h| h.0),
            "gpus": a.gpus,
            "wall_days": e.wall.days(),
            "mfu": i.mfu.value,
            "mfu_effective": e.mfu_effective,
            "hfu": e.hfu,
            "it_power_w_per_gpu": e.it_power_per_gpu.0,
            "energy_mwh": e.energy.mwh(),
            "emissions_tco2e": e.emissions.tonnes(),
            "cost_usd": e.cost.total.0,
            "cost_breakdown_usd": {"compute": e.cost.compute.0, "electricity": e.cost.electricity.0},
            "min_gpus_for_memory": e.min_gpus_for_memory,
            "method": format!("{:?}", i.method).to_lowercase(),
            "assumptions": e.assumptions,
            "notes": e.notes,
        });
        crate::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
        return Ok(());
    }
    let mut t = Table::new(&["quantity", "value", "unit"]);
    let mut r = |k: &str, v: f64, u: &str| t.row(vec![k.into(), human(v), u.into()]);
    r("model FLOPs", e.flops.0, "FLOP");
    if e.breakdown.attention.0 > 0.0 {
        r("  of which attention", e.breakdown.attention.0, "FLOP");
    }
    if i.recompute {
        r("hardware FLOPs (with recomputation)", e.breakdown.hardware.0, "FLOP");
    }
    r("compute", e.pf_days, "PF-days");
    r("accelerator time", e.gpu_hours.0, "GPU-hours");
    if let (Some(lo), Some(hi)) = (e.gpu_hours_p10, e.gpu_hours_p90) {
        r("  P10 (published runs' spread)", lo.0, "GPU-hours");
        r("  P90 (budget at this)", hi.0, "GPU-hours");
    }
    r("wall time", e.wall.days(), &format!("days on {} x {}", a.gpus, m.acc.id));
    r("power per accelerator (with host)", e.it_power_per_gpu.0, "W");
    r("energy (facility, with PUE)", e.energy.mwh(), "MWh");
    r("emissions (location-based)", e.emissions.tonnes(), "tCO2e");
    if e.cost.electricity.0 > 0.0 {
        r("cost: amortised hardware", e.cost.compute.0, "USD");
        r("cost: electricity", e.cost.electricity.0, "USD");
    }
    r("cost", e.cost.total.0, "USD");
    r("accelerators needed to hold the model state", e.min_gpus_for_memory as f64, "accelerators");
    crate::emit(&format!("{}{}{}", t.render(), assumptions_block(&e.assumptions), notes_block(&e.notes)))?;
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
enum Precision {
    Bf16,
    Fp8,
    Int4,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Daily (unique) users.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    daily_users: Option<f64>,
    /// Requests per user per day (with --daily-users).
    #[arg(long, allow_hyphen_values = true)]
    requests_per_user: Option<f64>,
    /// Mean requests per second over the day (instead of --daily-users).
    #[arg(long, allow_hyphen_values = true)]
    rps: Option<f64>,
    /// Prompt tokens per request.
    #[arg(long, allow_hyphen_values = true)]
    tokens_in: Option<f64>,
    /// Generated tokens per request.
    #[arg(long, allow_hyphen_values = true)]
    tokens_out: Option<f64>,
    /// Peak-hour demand over the daily mean.
    #[arg(long, allow_hyphen_values = true)]
    peak_to_mean: Option<f64>,
    /// Latency target per output token, in ms.
    #[arg(long, allow_hyphen_values = true)]
    tpot_ms: Option<f64>,
    /// Weight precision: bf16 (default), fp8 or int4.
    #[arg(long, value_enum)]
    precision: Option<Precision>,
    /// Share of peak FLOP/s that prefill sustains, 0-1.
    #[arg(long, allow_hyphen_values = true)]
    prefill_mfu: Option<f64>,
    /// Share of memory bandwidth decode sustains, 0-1.
    #[arg(long, allow_hyphen_values = true)]
    bandwidth_efficiency: Option<f64>,
    /// Cost this many servers instead of sizing a fleet.
    #[arg(long)]
    servers: Option<u32>,
    /// Accelerators per server.
    #[arg(long, default_value_t = 8)]
    gpus_per_server: u32,
    /// Price of one server in USD.
    #[arg(long, allow_hyphen_values = true)]
    server_usd: Option<f64>,
    /// Power of one server in kW.
    #[arg(long, allow_hyphen_values = true)]
    server_kw: Option<f64>,
    /// Electricity price in USD/kWh.
    #[arg(long, allow_hyphen_values = true)]
    usd_per_kwh: Option<f64>,
    /// Power usage effectiveness of the facility.
    #[arg(long, allow_hyphen_values = true)]
    pue: Option<f64>,
    /// Average draw as a fraction of rated power.
    #[arg(long, allow_hyphen_values = true)]
    load_factor: Option<f64>,
    /// Years over which servers are depreciated.
    #[arg(long, allow_hyphen_values = true)]
    lifetime_years: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn serve(a: &ServeArgs) -> anyhow::Result<()> {
    let m = a.model.resolve()?;
    let mut i = ServeInput::new(m.params, m.acc);
    i.active_params = m.active;
    i.arch = m.arch;
    i.gpus_per_server = a.gpus_per_server;
    // Server price and power defaults scale with the number of accelerators per server.
    let per_gpu_capex = m.acc.default_capex_usd;
    i.server_usd = Sourced::new(
        per_gpu_capex.value * a.gpus_per_server as f64,
        format!("{} x {} USD per accelerator: {}", a.gpus_per_server, per_gpu_capex.value, per_gpu_capex.source),
        per_gpu_capex.confidence,
    );
    i.server_kw = Sourced::new(
        a.gpus_per_server as f64 * m.acc.tdp.0 * 1.1 / 1000.0,
        format!("{} x TDP {} W x 1.1 host overhead (Patterson et al. 2021)", a.gpus_per_server, m.acc.tdp.0),
        xisuan_model::Confidence::Medium,
    );
    if let Some(p) = a.precision {
        i.bytes_per_param = match p {
            Precision::Bf16 => Sourced::user(2.0, "--precision bf16"),
            Precision::Fp8 => Sourced::user(1.0, "--precision fp8"),
            Precision::Int4 => Sourced::user(0.5, "--precision int4"),
        };
    }
    let rps = match (a.rps, a.daily_users) {
        (Some(_), Some(_)) => return Err(BadInput("--rps and --daily-users: give one, not both".into()).into()),
        (Some(r), None) => Some(Sourced::user(r, "--rps")),
        (None, Some(u)) => {
            let (per_user, src) = match a.requests_per_user {
                Some(r) => (r, "--requests-per-user".to_string()),
                None => (Demand::DEFAULT_REQUESTS_PER_USER.0, Demand::DEFAULT_REQUESTS_PER_USER.1.to_string()),
            };
            if !(u > 0.0) {
                return Err(BadInput(format!("--daily-users: must be a positive number, got {u}")).into());
            }
            Some(Sourced::new(
                u * per_user / 86_400.0,
                format!("{} daily users x {} requests/user/day ({src}) / 86,400 s", human(u), per_user),
                xisuan_model::Confidence::User,
            ))
        }
        (None, None) => None,
    };
    if let Some(rps) = rps {
        let mut d = Demand::from_rps(rps);
        if let Some(v) = user(a.tokens_in, "--tokens-in") {
            d.tokens_in = v;
        }
        if let Some(v) = user(a.tokens_out, "--tokens-out") {
            d.tokens_out = v;
        }
        if let Some(v) = user(a.peak_to_mean, "--peak-to-mean") {
            d.peak_to_mean = v;
        }
        i.demand = Some(d);
    }
    i.fleet = a.servers.map(|servers| Fleet { servers });
    override_all([
        (&mut i.tpot_ms, a.tpot_ms, "--tpot-ms"),
        (&mut i.prefill_mfu, a.prefill_mfu, "--prefill-mfu"),
        (&mut i.bandwidth_efficiency, a.bandwidth_efficiency, "--bandwidth-efficiency"),
        (&mut i.server_usd, a.server_usd, "--server-usd"),
        (&mut i.server_kw, a.server_kw, "--server-kw"),
        (&mut i.usd_per_kwh, a.usd_per_kwh, "--usd-per-kwh"),
        (&mut i.pue, a.pue, "--pue"),
        (&mut i.load_factor, a.load_factor, "--load-factor"),
        (&mut i.lifetime_years, a.lifetime_years, "--lifetime-years"),
    ]);
    let mut e = estimate_serve(&i).map_err(|e| BadInput(e.to_string()))?;
    if m.context_unstated {
        e.notes.push(format!(
            "the config states no context (max_position_embeddings); {} tokens assumed where the request lengths come from it",
            xisuan_estimate::hardware::DEFAULT_CONTEXT.0
        ));
    }
    if a.json {
        let v = json!({
            "gpus": e.gpus,
            "servers": e.servers,
            "replicas": e.replicas,
            "gpus_per_replica": e.replica.gpus,
            "batch_per_replica": e.replica.batch,
            "decode_step_ms": e.replica.step_ms,
            "decode_memory_bound": e.replica.memory_bound,
            "replica_decode_tokens_per_s": e.replica.decode_tokens_per_s,
            "capacity_peak_rps": e.capacity_rps,
            "peak_utilisation": e.peak_utilisation,
            "capex_usd": e.capex_usd,
            "capex_usd_per_day": e.capex_usd_per_day,
            "power_kw": e.power_kw,
            "energy_mwh_per_day": e.energy_mwh_per_day,
            "electricity_usd_per_day": e.electricity_usd_per_day,
            "tokens_per_day": e.tokens_per_day,
            "usd_per_million_tokens": e.usd_per_million_tokens,
            "assumptions": e.assumptions,
            "notes": e.notes,
        });
        crate::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
        return Ok(());
    }
    let mut t = Table::new(&["quantity", "value", "unit"]);
    let mut r = |k: &str, v: f64, u: &str| t.row(vec![k.into(), human(v), u.into()]);
    r("accelerators", e.gpus as f64, m.acc.id);
    r("servers", e.servers as f64, &format!("of {} accelerators", a.gpus_per_server));
    r("replicas", e.replicas as f64, &format!("of {} accelerators, batch {}", e.replica.gpus, e.replica.batch));
    r("decode step", e.replica.step_ms, if e.replica.memory_bound { "ms (memory-bound)" } else { "ms (compute-bound)" });
    r("fleet capacity at peak", e.capacity_rps, "requests/s");
    if let Some(u) = e.peak_utilisation {
        r("peak utilisation", u * 100.0, "%");
    }
    r("capex", e.capex_usd, "USD");
    r("power", e.power_kw, "kW");
    r("energy", e.energy_mwh_per_day, "MWh/day");
    r("electricity", e.electricity_usd_per_day, "USD/day");
    r("capex, depreciated", e.capex_usd_per_day, "USD/day");
    r("tokens served", e.tokens_per_day, "tokens/day");
    r("cost per million tokens", e.usd_per_million_tokens, "USD/Mtoken");
    crate::emit(&format!("{}{}{}", t.render(), assumptions_block(&e.assumptions), notes_block(&e.notes)))?;
    Ok(())
}

#[derive(Args)]
pub struct ChooseArgs {
    /// Tokens (prompt plus completion) per month: 2B, 5e10.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    tokens_per_month: f64,
    /// Quality tier: small, medium or large (US APIs: GPT-4o mini, GPT-3.5 Turbo, GPT-4o), or
    /// small-cn, medium-cn or large-cn (Chinese APIs priced in CNY: qwen-turbo, qwen-plus,
    /// DeepSeek-V3; sources and dates in the assumptions).
    #[arg(long, default_value = "medium")]
    tier: String,
    /// Currency of the table: usd, or cny at 7.08 CNY per USD (JSON stays in USD).
    #[arg(long, default_value = "usd")]
    currency: String,
    /// Accelerator for fine-tuning, training and hosting.
    #[arg(long, default_value = "h100")]
    gpu: String,
    /// Rental price per accelerator-hour in USD.
    #[arg(long, allow_hyphen_values = true)]
    usd_per_gpu_hour: Option<f64>,
    /// API price per million input tokens in USD.
    #[arg(long, allow_hyphen_values = true)]
    api_usd_per_m_in: Option<f64>,
    /// API price per million output tokens in USD.
    #[arg(long, allow_hyphen_values = true)]
    api_usd_per_m_out: Option<f64>,
    /// Months over which one-time training or fine-tuning is spread.
    #[arg(long, allow_hyphen_values = true)]
    horizon_months: Option<f64>,
    /// Tokens of fine-tuning data.
    #[arg(long, value_parser = parse_count, allow_hyphen_values = true)]
    fine_tune_tokens: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn choose_cmd(a: &ChooseArgs) -> anyhow::Result<()> {
    let acc = accelerator(&a.gpu)?;
    let tier = find_tier(&a.tier).ok_or_else(|| {
        BadInput(format!("--tier: unknown tier `{}`; known: {}", a.tier, TIERS.iter().map(|t| t.id).collect::<Vec<_>>().join(", ")))
    })?;
    let mut i = ChooseInput::new(a.tokens_per_month, tier, acc);
    override_all([
        (&mut i.usd_per_gpu_hour, a.usd_per_gpu_hour, "--usd-per-gpu-hour"),
        (&mut i.api_usd_per_m_in, a.api_usd_per_m_in, "--api-usd-per-m-in"),
        (&mut i.api_usd_per_m_out, a.api_usd_per_m_out, "--api-usd-per-m-out"),
        (&mut i.horizon_months, a.horizon_months, "--horizon-months"),
        (&mut i.fine_tune_tokens, a.fine_tune_tokens, "--fine-tune-tokens"),
    ]);
    let c = choose(&i).map_err(|e| BadInput(e.to_string()))?;
    if a.json {
        crate::emit(&format!("{}\n", serde_json::to_string_pretty(&c)?))?;
        return Ok(());
    }
    let (cur, rate) = match a.currency.as_str() {
        "usd" => ("USD", 1.0),
        "cny" => ("CNY", xisuan_model::units::CNY_PER_USD),
        other => return Err(BadInput(format!("--currency: `{other}`: usd or cny")).into()),
    };
    let h = |name: &str| name.replace("USD", cur);
    let mut t =
        Table::new(&[&h("option"), &h("one-time USD"), &h("monthly USD"), &h("effective USD/month"), &h("USD/Mtoken"), "accelerators", "what"]);
    for o in &c.options {
        t.row(vec![
            o.option.into(),
            human(o.one_time_usd * rate),
            human(o.monthly_usd * rate),
            human(o.effective_monthly_usd * rate),
            human(o.usd_per_million_tokens * rate),
            o.accelerators.to_string(),
            o.description.clone(),
        ]);
    }
    let mut out = String::new();
    outln!(
        out,
        "At {} tokens/month ({} tier), one-time costs spread over {} months:",
        human(a.tokens_per_month),
        tier.id,
        human(i.horizon_months.value)
    );
    if rate != 1.0 {
        outln!(out, "(prices in CNY: {})", xisuan_model::units::CNY_PER_USD_SOURCE);
    }
    out.push_str(&t.render());
    outln!(out, "\nCheapest: {}", c.cheapest);
    let be = |v: Option<f64>| v.map(|v| format!("{} tokens/month", human(v))).unwrap_or_else(|| "never (below 1e15 tokens/month)".into());
    outln!(
        out,
        "Break-even with the API: fine-tune and host at {}; train your own at {}",
        be(c.break_even_fine_tune_tokens_per_month),
        be(c.break_even_train_tokens_per_month)
    );
    out.push_str(&assumptions_block(&c.assumptions));
    crate::emit(&out)
}

fn hardware_cmd(json_out: bool) -> anyhow::Result<()> {
    if json_out {
        return crate::emit(&format!("{}\n", serde_json::to_string_pretty(&xisuan_estimate::ACCELERATORS)?));
    }
    let mut t = Table::new(&["id", "name", "BF16 TFLOP/s", "memory GB", "GB/s", "TDP W", "default MFU", "USD/h", "spec confidence", "spec source"]);
    for a in xisuan_estimate::ACCELERATORS {
        t.row(vec![
            a.id.into(),
            a.name.into(),
            human(a.peak_bf16.0 / 1e12),
            human(a.memory_gb),
            human(a.mem_bw_gbps),
            human(a.tdp.0),
            human(a.default_mfu.value),
            human(a.default_usd_per_hour.value),
            a.spec_confidence.to_string(),
            a.spec_source.into(),
        ]);
    }
    crate::emit(&t.render())
}

pub fn run(cmd: &EstimateCmd) -> anyhow::Result<()> {
    match cmd {
        EstimateCmd::Train(a) => train(a),
        EstimateCmd::Serve(a) => serve(a),
        EstimateCmd::Choose(a) => choose_cmd(a),
        EstimateCmd::Hardware { json } => hardware_cmd(*json),
    }
}

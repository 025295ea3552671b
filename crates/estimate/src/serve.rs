//! Serving: from demand to a fleet, and from a fleet to its cost per million tokens.
//!
//! First principles (Pope et al. 2022, "Efficiently Scaling Transformer Inference"; Patel et al.
//! 2024, Splitwise): a replica is the smallest tensor-parallel group whose memory holds the
//! weights plus a KV cache; prefill is compute-bound (2·N FLOPs per prompt token); decode is
//! bound by memory bandwidth (each step reads the weights once for the whole batch plus every
//! sequence's KV cache). The batch grows until a decode step would exceed the per-token latency
//! target or the KV cache would overflow memory. The fleet is sized for the peak hour.

use crate::arch::Architecture;
use crate::hardware::Accelerator;
use crate::train::{DEFAULT_HOST_OVERHEAD, DEFAULT_PUE};
use crate::{Assumption, InputError};
use serde::Serialize;
use xisuan_model::{Confidence, Sourced};

/// How much traffic the service must carry.
#[derive(Debug, Clone)]
pub struct Demand {
    /// Mean requests per second over the day; set directly or from users × requests per user.
    pub mean_rps: Sourced<f64>,
    pub tokens_in: Sourced<f64>,
    pub tokens_out: Sourced<f64>,
    pub peak_to_mean: Sourced<f64>,
}

impl Demand {
    /// Default prompt and completion lengths: the means of Azure's 2023 LLM conversation trace.
    pub fn from_rps(mean_rps: Sourced<f64>) -> Demand {
        Demand {
            mean_rps,
            tokens_in: Sourced::new(
                1155.0,
                "mean prompt of Azure LLM inference trace 2023, conversation service (Patel et al. 2024)",
                Confidence::Medium,
            ),
            tokens_out: Sourced::new(211.0, "mean completion of Azure LLM inference trace 2023, conversation service", Confidence::Medium),
            peak_to_mean: Sourced::new(2.0, "assumed diurnal peak-hour / daily-mean ratio for consumer web traffic", Confidence::Low),
        }
    }
    /// Requests per user per day when the user gives daily users only.
    pub const DEFAULT_REQUESTS_PER_USER: (f64, &'static str) = (10.0, "assumed 10 prompts per daily user (no published figure for ChatGPT)");
    pub fn peak_rps(&self) -> f64 {
        self.mean_rps.value * self.peak_to_mean.value
    }
    pub fn tokens_per_day(&self) -> f64 {
        self.mean_rps.value * 86_400.0 * (self.tokens_in.value + self.tokens_out.value)
    }
}

/// A fleet given by the user, to be costed rather than sized.
#[derive(Debug, Clone, Copy)]
pub struct Fleet {
    pub servers: u32,
}

#[derive(Debug, Clone)]
pub struct ServeInput {
    pub params: f64,
    pub active_params: f64,
    pub arch: Option<Architecture>,
    pub accelerator: &'static Accelerator,
    pub bytes_per_param: Sourced<f64>,
    pub demand: Option<Demand>,
    pub fleet: Option<Fleet>,
    /// Target time per output token (decode step latency), in milliseconds.
    pub tpot_ms: Sourced<f64>,
    pub prefill_mfu: Sourced<f64>,
    pub bandwidth_efficiency: Sourced<f64>,
    pub gpus_per_server: u32,
    pub server_usd: Sourced<f64>,
    /// Power of one server; default: its accelerators' average power plus host overhead.
    pub server_kw: Sourced<f64>,
    pub usd_per_kwh: Sourced<f64>,
    pub pue: Sourced<f64>,
    /// Average draw as a fraction of rated power (1.0: rated power around the clock).
    pub load_factor: Sourced<f64>,
    pub lifetime_years: Sourced<f64>,
}

impl ServeInput {
    pub fn new(params: f64, accelerator: &'static Accelerator) -> ServeInput {
        let gpus_per_server = 8;
        ServeInput {
            params,
            active_params: params,
            arch: None,
            accelerator,
            bytes_per_param: Sourced::new(2.0, "BF16 weights", Confidence::High),
            demand: None,
            fleet: None,
            tpot_ms: Sourced::new(
                50.0,
                "interactive chat: 20 tokens/s per stream (MLPerf Inference 4.1 interactive Llama-2-70B uses 40 ms)",
                Confidence::Medium,
            ),
            prefill_mfu: Sourced::new(
                0.5,
                "prefill is compute-bound; ~50% of peak assumed (Splitwise, Patel et al. 2024, reports prefill near compute saturation)",
                Confidence::Low,
            ),
            bandwidth_efficiency: Sourced::new(
                0.8,
                "achievable share of HBM bandwidth in decode kernels (assumed; 80-90% in memory-bound microbenchmarks)",
                Confidence::Low,
            ),
            gpus_per_server,
            server_usd: Sourced::new(
                accelerator.default_capex_usd.value * gpus_per_server as f64,
                format!("{} x {} per accelerator: {}", gpus_per_server, accelerator.default_capex_usd.value, accelerator.default_capex_usd.source),
                accelerator.default_capex_usd.confidence,
            ),
            server_kw: Sourced::new(
                gpus_per_server as f64 * accelerator.tdp.0 * (1.0 + DEFAULT_HOST_OVERHEAD.0) / 1000.0,
                format!(
                    "{} x TDP {} W x (1 + host overhead {}: {})",
                    gpus_per_server, accelerator.tdp.0, DEFAULT_HOST_OVERHEAD.0, DEFAULT_HOST_OVERHEAD.1
                ),
                Confidence::Medium,
            ),
            usd_per_kwh: Sourced::new(0.08, "US industrial average 2023, about 8 US cents/kWh (EIA Electric Power Monthly)", Confidence::Medium),
            pue: Sourced::new(DEFAULT_PUE.0, DEFAULT_PUE.1, Confidence::Medium),
            load_factor: Sourced::new(1.0, "rated power around the clock (the 2023 industry article's assumption); conservative", Confidence::Low),
            lifetime_years: Sourced::new(
                4.0,
                "4-year accelerator depreciation (common in GPU-cloud TCO analyses; hyperscalers use 5-6 for servers)",
                Confidence::Low,
            ),
        }
    }

    fn validate(&self) -> Result<(), InputError> {
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(InputError::new(field, format!("must be a positive number, got {v}")))
            }
        };
        positive("params", self.params)?;
        positive("active-params", self.active_params)?;
        if self.active_params > self.params * (1.0 + 1e-9) {
            return Err(InputError::new("active-params", "exceeds the total parameters"));
        }
        if self.params > 1e15 {
            return Err(InputError::new("params", format!("{} is beyond what xisuan estimates (at most 1e15)", self.params)));
        }
        if self.gpus_per_server > 1024 {
            return Err(InputError::new("gpus-per-server", format!("{} is more than 1024", self.gpus_per_server)));
        }
        positive("bytes-per-param", self.bytes_per_param.value)?;
        positive("tpot-ms", self.tpot_ms.value)?;
        if !(self.prefill_mfu.value > 0.0 && self.prefill_mfu.value <= 1.0) {
            return Err(InputError::new("prefill-mfu", "must be in (0, 1]"));
        }
        if !(self.bandwidth_efficiency.value > 0.0 && self.bandwidth_efficiency.value <= 1.0) {
            return Err(InputError::new("bandwidth-efficiency", "must be in (0, 1]"));
        }
        if self.gpus_per_server == 0 {
            return Err(InputError::new("gpus-per-server", "must be at least 1"));
        }
        if !(self.server_usd.value >= 0.0) {
            return Err(InputError::new("server-usd", "must not be negative"));
        }
        positive("server-kw", self.server_kw.value)?;
        if !(self.usd_per_kwh.value >= 0.0) {
            return Err(InputError::new("usd-per-kwh", "must not be negative"));
        }
        if !(self.pue.value >= 1.0 && self.pue.value <= 3.0) {
            return Err(InputError::new("pue", format!("must be between 1.0 and 3.0, got {}", self.pue.value)));
        }
        if !(self.load_factor.value > 0.0 && self.load_factor.value <= 1.0) {
            return Err(InputError::new("load-factor", "must be in (0, 1]"));
        }
        positive("lifetime-years", self.lifetime_years.value)?;
        if let Some(d) = &self.demand {
            positive("rps", d.mean_rps.value)?;
            if d.mean_rps.value * d.peak_to_mean.value > xisuan_model::limits::MAX_RPS {
                return Err(InputError::new(
                    "rps",
                    format!(
                        "peak demand {:e} requests/s is beyond what xisuan sizes (at most {:e})",
                        d.mean_rps.value * d.peak_to_mean.value,
                        xisuan_model::limits::MAX_RPS
                    ),
                ));
            }
            positive("tokens-in", d.tokens_in.value)?;
            positive("tokens-out", d.tokens_out.value)?;
            if !(d.peak_to_mean.value >= 1.0) {
                return Err(InputError::new("peak-to-mean", "must be at least 1"));
            }
        }
        if let Some(f) = self.fleet {
            if f.servers == 0 || f.servers > 1_000_000 {
                return Err(InputError::new("servers", format!("must be 1 to 1,000,000, got {}", f.servers)));
            }
        }
        if self.demand.is_none() && self.fleet.is_none() {
            return Err(InputError::new("daily-users", "give demand (--daily-users or --rps) to size a fleet, or --servers to cost one"));
        }
        Ok(())
    }
}

/// How one replica performs at its chosen operating point.
#[derive(Debug, Clone, Serialize)]
pub struct Replica {
    /// Accelerators per replica (tensor-parallel group).
    pub gpus: u32,
    /// Concurrent sequences in a decode step.
    pub batch: u32,
    /// Decode step time in milliseconds (≤ the latency target).
    pub step_ms: f64,
    /// Whether the decode step is limited by memory bandwidth (true) or compute.
    pub memory_bound: bool,
    /// Prefill time per request on this replica, in seconds.
    pub prefill_s: f64,
    /// Replica-seconds one request occupies (prefill plus its share of decode steps).
    pub seconds_per_request: f64,
    /// Output tokens per second the replica sustains.
    pub decode_tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServeEstimate {
    pub replica: Replica,
    pub replicas: u32,
    pub gpus: u32,
    pub servers: u32,
    /// Peak requests per second the fleet can carry.
    pub capacity_rps: f64,
    /// Peak demand / capacity, when demand is known.
    pub peak_utilisation: Option<f64>,
    pub capex_usd: f64,
    pub power_kw: f64,
    pub energy_mwh_per_day: f64,
    pub electricity_usd_per_day: f64,
    pub capex_usd_per_day: f64,
    pub tokens_per_day: f64,
    pub usd_per_million_tokens: f64,
    pub assumptions: Vec<Assumption>,
    pub notes: Vec<String>,
}

fn kv_context(d: Option<&Demand>, arch: &Architecture) -> f64 {
    match d {
        // A sequence holds its prompt plus, on average, half its completion.
        Some(d) => d.tokens_in.value + d.tokens_out.value / 2.0,
        None => arch.seq_len as f64 / 2.0,
    }
}

/// Most sequences a runtime batches at once: vLLM's default `max_num_seqs` (256).
pub const MAX_BATCH: u32 = 256;

/// The best operating point of a replica of `g` accelerators, or None if the weights do not
/// fit or one decode step cannot meet the latency target. Tensor parallelism spans at most one
/// server (its NVLink domain); a larger replica adds pipeline stages, which add memory and
/// throughput (one micro-batch per stage in flight) but not per-token speed.
fn replica_at(input: &ServeInput, arch: &Architecture, g: u32, demand: Option<&Demand>) -> Option<Replica> {
    let acc = input.accelerator;
    let tp = g.min(input.gpus_per_server);
    let pp = (g / tp).max(1);
    let weights = input.params * input.bytes_per_param.value;
    // 90% of memory is usable; runtimes keep the rest for activations and fragmentation.
    let usable = g as f64 * acc.memory_gb * 1e9 * 0.9;
    let kv_per_seq = arch.kv_bytes_per_token(input.bytes_per_param.value.max(1.0)) * kv_context(demand, arch);
    if usable <= weights + pp as f64 * kv_per_seq {
        return None;
    }
    let max_batch_mem = ((usable - weights) / (pp as f64 * kv_per_seq)).floor().min(MAX_BATCH as f64) as u32;
    let bw = tp as f64 * acc.mem_bw_gbps * 1e9 * input.bandwidth_efficiency.value;
    // Decode uses the same sustained compute share as prefill at most.
    let flops = tp as f64 * acc.peak_bf16.0 * input.prefill_mfu.value;
    // Time for one token of a micro-batch of `b` sequences to pass through every stage.
    let step = |b: u32| -> (f64, bool) {
        let mem_s = (weights + b as f64 * kv_per_seq) / bw;
        let cmp_s = 2.0 * input.active_params * b as f64 / flops;
        (mem_s.max(cmp_s), mem_s >= cmp_s)
    };
    let target = input.tpot_ms.value / 1000.0;
    if step(1).0 > target {
        return None;
    }
    // Step time grows with the batch; find the largest batch within target and memory.
    let (mut lo, mut hi) = (1u32, max_batch_mem.max(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if step(mid).0 <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let batch = lo;
    let (step_s, memory_bound) = step(batch);
    let (tin, tout) = match demand {
        Some(d) => (d.tokens_in.value, d.tokens_out.value),
        None => (arch.seq_len as f64 / 2.0, arch.seq_len as f64 / 8.0),
    };
    // Stages work on different requests at once, so a replica's capacity is `pp` times one
    // pipeline pass.
    let prefill_s = 2.0 * input.active_params * tin / flops / pp as f64;
    let decode_s = tout * step_s / (batch * pp) as f64;
    // Runtimes with chunked prefill (Sarathi-Serve, Agrawal et al. 2024) fill the compute that
    // memory-bound decode steps leave idle with prompt chunks, so a request occupies the
    // replica for the larger of its total compute time and its decode time, not their sum.
    let compute_s = 2.0 * input.active_params * (tin + tout) / flops / pp as f64;
    Some(Replica {
        gpus: g,
        batch: batch * pp,
        step_ms: step_s * 1000.0,
        memory_bound,
        prefill_s,
        seconds_per_request: compute_s.max(decode_s),
        decode_tokens_per_s: (batch * pp) as f64 / step_s,
    })
}

pub fn estimate_serve(input: &ServeInput) -> Result<ServeEstimate, InputError> {
    input.validate()?;
    let acc = input.accelerator;
    let demand = input.demand.as_ref();
    let arch = input.arch.clone().unwrap_or_else(|| Architecture::guess(input.params, 2048));
    let mut notes = Vec::new();

    // Try tensor-parallel groups of 1, 2, 4, ... accelerators; keep the one that serves a
    // request with the fewest accelerator-seconds.
    let mut best: Option<Replica> = None;
    let mut g = 1u32;
    while g <= 256 {
        if let Some(r) = replica_at(input, &arch, g, demand) {
            let cost = r.seconds_per_request * r.gpus as f64;
            if best.as_ref().is_none_or(|b| cost < b.seconds_per_request * b.gpus as f64) {
                best = Some(r);
            }
        }
        g *= 2;
    }
    let replica = best.ok_or_else(|| {
        InputError::new("tpot-ms", format!("no replica of up to 256 {} meets {} ms per output token for this model", acc.id, input.tpot_ms.value))
    })?;
    let replica_rps = 1.0 / replica.seconds_per_request;

    let (replicas, gpus, servers) = match input.fleet {
        Some(f) => {
            let gpus = f.servers * input.gpus_per_server;
            (gpus / replica.gpus, gpus, f.servers)
        }
        None => {
            let d = demand.expect("validated: demand or fleet");
            // Demand is bounded by `validate`, but a tiny replica throughput could still ask
            // for more accelerators than a count holds: say so rather than wrap.
            let needed = (d.peak_rps() / replica_rps).ceil().max(1.0);
            if needed * replica.gpus as f64 > xisuan_model::limits::MAX_SITE_ACCELERATORS as f64 {
                return Err(InputError::new(
                    "rps",
                    format!("this demand needs {needed:e} replicas of {} accelerators, more than xisuan sizes", replica.gpus),
                ));
            }
            let replicas = needed as u32;
            let gpus = replicas * replica.gpus;
            (replicas, gpus, gpus.div_ceil(input.gpus_per_server))
        }
    };
    if replicas == 0 {
        notes.push(format!("the fleet has fewer accelerators ({gpus}) than one replica needs ({})", replica.gpus));
    }
    let capacity_rps = replicas as f64 * replica_rps;
    let peak_utilisation = demand.map(|d| d.peak_rps() / capacity_rps);
    if let Some(u) = peak_utilisation {
        if u > 1.0 {
            notes.push(format!("the fleet carries only {:.0}% of peak demand", 100.0 / u));
        }
    }

    let capex_usd = servers as f64 * input.server_usd.value;
    let power_kw = servers as f64 * input.server_kw.value;
    let energy_kwh_per_day = power_kw * 24.0 * input.load_factor.value * input.pue.value;
    let electricity_usd_per_day = energy_kwh_per_day * input.usd_per_kwh.value;
    let capex_usd_per_day = capex_usd / (input.lifetime_years.value * 365.0);
    let tokens_per_day = match demand {
        Some(d) => d.tokens_per_day().min(capacity_rps / d.peak_to_mean.value * 86_400.0 * (d.tokens_in.value + d.tokens_out.value)),
        None => {
            notes.push("no demand given: tokens per day assume the fleet runs at half its peak capacity on average".into());
            capacity_rps / 2.0 * 86_400.0 * (arch.seq_len as f64 * 5.0 / 8.0)
        }
    };
    let usd_per_million_tokens = (capex_usd_per_day + electricity_usd_per_day) / (tokens_per_day / 1e6);

    let mut assumptions = vec![
        Assumption::new("accelerator", acc.name, "", acc.spec_source, acc.spec_confidence),
        Assumption::new(
            "architecture",
            &format!("{} layers x {} wide, {} KV heads", arch.layers, arch.hidden, arch.kv_heads),
            "",
            if arch.derived_from_size { "guessed from size (GPT-3 aspect ratio)" } else { "model config" },
            if arch.derived_from_size { Confidence::Estimated } else { Confidence::User },
        ),
        Assumption::sourced("bytes per parameter", &input.bytes_per_param, "B"),
        Assumption::sourced("latency target per output token", &input.tpot_ms, "ms"),
        Assumption::sourced("prefill MFU", &input.prefill_mfu, ""),
        Assumption::sourced("memory-bandwidth efficiency", &input.bandwidth_efficiency, ""),
    ];
    if let Some(d) = demand {
        assumptions.push(Assumption::sourced("mean demand", &d.mean_rps, "requests/s"));
        assumptions.push(Assumption::sourced("prompt length", &d.tokens_in, "tokens"));
        assumptions.push(Assumption::sourced("completion length", &d.tokens_out, "tokens"));
        assumptions.push(Assumption::sourced("peak-to-mean ratio", &d.peak_to_mean, ""));
    }
    assumptions.push(Assumption::num("accelerators per server", input.gpus_per_server as f64, "", "DGX/HGX 8-GPU servers", Confidence::High));
    assumptions.push(Assumption::sourced("server price", &input.server_usd, "USD"));
    assumptions.push(Assumption::sourced("server power", &input.server_kw, "kW"));
    assumptions.push(Assumption::sourced("load factor", &input.load_factor, "of rated power"));
    assumptions.push(Assumption::sourced("PUE", &input.pue, ""));
    assumptions.push(Assumption::sourced("electricity price", &input.usd_per_kwh, "USD/kWh"));
    assumptions.push(Assumption::sourced("depreciation period", &input.lifetime_years, "years"));

    Ok(ServeEstimate {
        replica,
        replicas,
        gpus,
        servers,
        capacity_rps,
        peak_utilisation,
        capex_usd,
        power_kw,
        energy_mwh_per_day: energy_kwh_per_day / 1000.0,
        electricity_usd_per_day,
        capex_usd_per_day,
        tokens_per_day,
        usd_per_million_tokens,
        assumptions,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::find;

    fn chatgpt_demand() -> Demand {
        // 13M daily users x 10 prompts = 130M requests/day = 1,504.6 requests/s.
        Demand::from_rps(Sourced::user(13e6 * 10.0 / 86_400.0, "test"))
    }

    #[test]
    fn the_article_fleet_costs_796m_and_49_9k_a_day() {
        let mut i = ServeInput::new(175e9, find("a100-80gb").unwrap());
        i.fleet = Some(Fleet { servers: 4000 });
        i.server_usd = Sourced::user(199_000.0, "--server-usd");
        i.server_kw = Sourced::user(6.5, "--server-kw");
        i.usd_per_kwh = Sourced::user(0.08, "--usd-per-kwh");
        i.pue = Sourced::user(1.0, "--pue");
        i.demand = Some(chatgpt_demand());
        let e = estimate_serve(&i).unwrap();
        // 4,000 x 8 = 32,000 GPUs; 4,000 x $199,000 = $796M; 4,000 x 6.5 kW x 24 h x $0.08 = $49,920.
        assert_eq!(e.gpus, 32_000);
        assert_eq!(e.capex_usd, 796e6);
        assert!((e.electricity_usd_per_day - 49_920.0).abs() < 1e-6);
        assert!((e.energy_mwh_per_day - 624.0).abs() < 1e-9);
    }

    #[test]
    fn sizing_from_demand_meets_peak_with_memory_bound_decode() {
        let mut i = ServeInput::new(175e9, find("a100-80gb").unwrap());
        i.demand = Some(chatgpt_demand());
        let e = estimate_serve(&i).unwrap();
        let d = i.demand.as_ref().unwrap();
        assert!(e.capacity_rps >= d.peak_rps());
        assert!(e.peak_utilisation.unwrap() <= 1.0);
        // 350 GB of BF16 weights need at least 5 x 80 GB; groups are powers of two.
        assert!(e.replica.gpus >= 8);
        assert!(e.replica.step_ms <= 50.0 + 1e-9);
        assert!(e.replica.memory_bound);
        assert_eq!(e.gpus, e.replicas * e.replica.gpus);
    }

    #[test]
    fn tighter_latency_needs_more_accelerators() {
        let mut i = ServeInput::new(70e9, find("h100").unwrap());
        i.demand = Some(chatgpt_demand());
        let loose = estimate_serve(&i).unwrap();
        i.tpot_ms = Sourced::user(15.0, "--tpot-ms");
        let tight = estimate_serve(&i).unwrap();
        assert!(tight.gpus > loose.gpus, "{:?} {} vs {:?} {}", tight.replica, tight.gpus, loose.replica, loose.gpus);
    }

    #[test]
    fn an_unreachable_latency_names_the_flag() {
        let mut i = ServeInput::new(175e9, find("l4").unwrap());
        i.demand = Some(chatgpt_demand());
        i.tpot_ms = Sourced::user(0.01, "--tpot-ms");
        assert_eq!(estimate_serve(&i).unwrap_err().field, "tpot-ms");
    }
}

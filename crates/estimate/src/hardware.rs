//! The built-in accelerator catalog: datasheet numbers with their sources, plus the evidence
//! behind each default that the estimator uses (training MFU, average power, rental price).
//!
//! Datasheet figures are typed in from `../shared/data/gpu_specs/gpu_specs_datasheet.csv`
//! (vendor datasheets; that file's confidence column is kept) and, for TPUs, from Google's
//! papers. Defaults are *evidence*: each names the published runs or measurements it comes
//! from. No MFU default cites a run of `../shared/data/validation`, so the accelerator-hour
//! check against it is a real test; the host overhead, PUE, grid factor and TPU power share do
//! come from papers whose runs are in that file (they bear on energy, not hours). `MOE_FACTOR`
//! (used only when the expert shape is unknown) and `GPU_HOURS_P10_P90` are fitted on the fit
//! half of `docs/evidence/training-runs.csv`.

use serde::Serialize;
use xisuan_model::{Confidence, FlopsPerSec, Sourced, Watts};

/// One accelerator type (a GPU, TPU or NPU), per chip.
#[derive(Debug, Clone, Serialize)]
pub struct Accelerator {
    /// Short, lowercase id used on the command line (`h100`, `a100-80gb`, `tpu-v4`).
    pub id: &'static str,
    /// Other names accepted for it (`h100-sxm`, `a100`).
    pub aliases: &'static [&'static str],
    pub name: &'static str,
    pub vendor: &'static str,
    pub memory_gb: f64,
    /// Memory bandwidth in GB/s.
    pub mem_bw_gbps: f64,
    /// Peak dense BF16/FP16 tensor throughput (no sparsity).
    pub peak_bf16: FlopsPerSec,
    pub tdp: Watts,
    /// Where the datasheet numbers above come from, and how far to trust them.
    pub spec_source: &'static str,
    pub spec_confidence: Confidence,
    /// Default model-FLOPs utilisation for large-model training on this chip.
    pub default_mfu: Evidence,
    /// Default average chip power during training, excluding host and facility.
    pub default_power_w: Evidence,
    /// Default on-demand rental price per accelerator-hour.
    pub default_usd_per_hour: Evidence,
    /// Default purchase price per accelerator, installed in a server (for owned hardware).
    pub default_capex_usd: Evidence,
}

/// A default value with the evidence it rests on.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Evidence {
    pub value: f64,
    pub source: &'static str,
    pub confidence: Confidence,
}

impl Evidence {
    pub fn sourced(&self) -> Sourced<f64> {
        Sourced::new(self.value, self.source, self.confidence)
    }
}

const fn ev(value: f64, source: &'static str, confidence: Confidence) -> Evidence {
    Evidence { value, source, confidence }
}

use Confidence::{High, Low, Medium};

// Training MFU evidence shared by chips of one generation. These cite runs that are NOT in
// ../shared/data/validation/published_training_runs.csv, so validating against that file is a
// real test of the defaults.
const MFU_V100: Evidence = ev(0.236, "Megatron-LM (Shoeybi et al. 2019): 15.1 PFLOP/s on 512 V100 = 29.5 TFLOP/s/GPU = 23.6% of 125", Medium);
const MFU_A100: Evidence = ev(
    0.40,
    "middle of published A100 LLM runs: OPT-175B 147 TFLOP/s = 47% (Zhang et al. 2022), Llama 2 70B 43% (1.72M GPU-h for 2T tokens, Touvron et al. 2023b), MT-NLG 30% (Chowdhery et al. 2022, Table 3)",
    Medium,
);
const MFU_HOPPER: Evidence = ev(0.40, "Llama 3.1 405B on 16K H100: 38-43% BF16 MFU (Dubey et al. 2024, Table 4)", Medium);
const MFU_ASSUMED: Evidence =
    ev(0.30, "no published large-scale training run; assumed 30% (low end of the 30-52% range published for large runs)", Low);
/// Training MFU by model width on one H200 (`../shared/data/measured/h200_llama_train_mfu_2026-11-28.csv`:
/// Llama-shaped layers, sequence 2,048, BF16, no recomputation): 26.3% at hidden 1,024, 37.1%
/// at 2,048, 45.7% at 4,096, 51.8% at 8,192. Small matrices run further from peak. Its FLOPs
/// count causal attention (`Architecture::attention_train_flops_per_token`), so the FLOPs these
/// shares divide must count it too.
pub const WIDTH_MFU: [(u32, f64); 4] = [(1024, 0.2626), (2048, 0.3707), (4096, 0.4565), (8192, 0.5183)];

/// The training context assumed on Hopper-class chips when none is given (`--seq-len` or a
/// config): the default MFU and `WIDTH_MFU` count attention FLOPs, so the estimate must count
/// them too, and they grow with the context (at 4,096 tokens, 2% of a 405B model's FLOPs and
/// about 15% of a 1B model's). Hopper-class here means what `hopper_class` says: the chips the
/// width curve and goodput are applied to.
pub const DEFAULT_CONTEXT: (u32, &str) = (
    4096,
    "assumed context 4,096 tokens: the median pretraining context stated by the 37 runs of 2023-2025 in docs/evidence/training-runs.csv (20 at 4,096, 10 at 2,048, 7 at 8,192); give --seq-len or --config",
);

/// The share of a Hopper-class chip's full-width MFU that a model of width `hidden` reaches:
/// `WIDTH_MFU` relative to its widest point, interpolated in log2(hidden), 1 from 8,192 on and
/// held at its narrowest value below 1,024.
pub fn width_factor(hidden: u32) -> f64 {
    let top = WIDTH_MFU[WIDTH_MFU.len() - 1];
    if hidden >= top.0 {
        return 1.0;
    }
    if hidden <= WIDTH_MFU[0].0 {
        return WIDTH_MFU[0].1 / top.1;
    }
    for w in WIDTH_MFU.windows(2) {
        let ((a, ma), (b, mb)) = (w[0], w[1]);
        if hidden >= a && hidden <= b {
            let f = ((hidden as f64).log2() - (a as f64).log2()) / ((b as f64).log2() - (a as f64).log2());
            return (ma + f * (mb - ma)) / top.1;
        }
    }
    1.0
}

/// Whether a chip is Hopper-class or newer (peak BF16 at least 700 TFLOP/s): the width curve
/// was measured on one, and its default MFU is Llama 3.1's MFU *while training*, so the hours
/// that do not train (goodput) come on top.
pub fn hopper_class(a: &Accelerator) -> bool {
    a.peak_bf16.0 >= 700e12
}

/// The share of wall time that trains on a large Hopper cluster.
pub const GOODPUT: Evidence = ev(
    0.90,
    "Llama 3: more than 90% effective training time over 54 days on 16K H100, with 466 interruptions (Dubey et al. 2024, sec. 3.3.4)",
    Medium,
);

/// Mixture-of-experts training on GPUs reaches less of the dense MFU: the median, over the GPU
/// MoE runs in the fit half of `docs/evidence/training-runs.csv`, of the factor that makes
/// each run's prediction exact with its real shape (layers and width from its config, as
/// `--config` gives them) and the dense model's width, attention and goodput applied:
/// DeepSeek-V3 0.74 once its FP8 is counted, Llama 4 Scout 0.73, JetMoE-8B 0.66 and Granite 3.0
/// 1B-A400M 0.65. Google's TPU MoE runs (GShard, Switch) show no such gap in the validation
/// file, so it applies to GPUs.
///
/// The factor does not depend on the expert shape. A routing model from Megatron-Core
/// benchmarks on H100 (`1 / (1 + c / f_eff)`, `f_eff = expert_ffn + shared_ffn / top_k`,
/// c = 1,165 fitted on Mixtral 8x22B 49.3% and Qwen2-57B-A14B 39.0% MFU, Liu et al. 2025,
/// arXiv 2504.14960, and Qwen3-235B-A22B 27.9%, Megatron-MoE-ModelZoo) gives fine-grained
/// experts much less: 0.31 of dense MFU at Granite's 512-wide experts, 0.93 at Scout's 16,384.
/// The published runs do not follow it: the four fit-half runs' factors stay at 0.65-0.74 over
/// effective expert widths of 512 to 16,384 (all nine GPU MoE runs: 0.56-0.74). On the fit half that model's median error over the four GPU MoE
/// runs was 21% (Granite 1B-A400M +113%); this flat factor's, left out one run at a time, 12%.
/// Expert-shape flags were removed with it. The width curve (`WIDTH_MFU`), applied at the
/// model's real hidden size, already takes the small models down.
pub const MOE_FACTOR: Evidence = ev(
    0.69,
    "median of 4 GPU MoE runs with their real shapes (DeepSeek-V3 0.74, Llama 4 Scout 0.73, JetMoE-8B 0.66, Granite 3.0 1B-A400M 0.65; fit half of docs/evidence/training-runs.csv); no dependence on expert width seen over 512-16,384",
    Medium,
);

/// End-to-end training speed-up of FP8 (with BF16 master weights) over BF16 on chips with FP8
/// tensor cores. The arithmetic is 2x; communication, memory-bound layers and the optimizer are
/// not, so published end-to-end gains are 1.35-1.64x.
pub const FP8_SPEEDUP: Evidence = ev(
    1.40,
    "Transformer Engine FP8 on GPT-175B, H100: 1.40x over BF16 Megatron-LM (FP8-LM, Peng et al. 2023: their framework 64% faster than BF16, 17% faster than TE); Megatron-LM 13B on H100: 0.34 to 0.24 s/step = 1.42x (NVIDIA/Megatron-LM issue 396)",
    Medium,
);

/// Chips with FP8 tensor cores (datasheets): NVIDIA Hopper (H100, H800, H20, H200), Ada (L40S,
/// L4, L20), Blackwell (B200), and AMD CDNA 3 (MI300X).
pub fn supports_fp8(a: &Accelerator) -> bool {
    matches!(a.id, "h100" | "h100-pcie" | "h800" | "h20" | "h200" | "b200" | "l40s" | "l4" | "l20" | "mi300x")
}

/// The spread of published over predicted GPU-hours from defaults, over the fit half of
/// `docs/evidence/training-runs.csv` (23 runs): its 10th and 90th percentiles. A budget at P90
/// covers nine in ten such runs.
pub const GPU_HOURS_P10_P90: (f64, f64, &str) =
    (0.91, 1.68, "10th and 90th percentiles of published / predicted GPU-hours over the 23 fit runs of docs/evidence/training-runs.csv");

const POWER_TDP: &str = "chip at its TDP during training, the convention of LLaMA (Touvron et al. 2023) and BLOOM (Luccioni et al. 2022)";

/// The built-in catalog. Ids are lowercase; lookups are case-insensitive.
pub static ACCELERATORS: &[Accelerator] = &[
    Accelerator {
        id: "v100",
        aliases: &["v100-sxm2", "v100-32gb", "v100-sxm2-32gb"],
        name: "NVIDIA V100 SXM2 32GB",
        vendor: "NVIDIA",
        memory_gb: 32.0,
        mem_bw_gbps: 900.0,
        peak_bf16: FlopsPerSec(125e12),
        tdp: Watts(300.0),
        spec_source: "NVIDIA V100 datasheet (FP16 tensor-core mixed precision)",
        spec_confidence: High,
        default_mfu: MFU_V100,
        default_power_w: ev(300.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(0.55, "Lambda on-demand gpu_8x_v100 $4.40/h / 8 (SkyPilot catalog v7)", Medium),
        default_capex_usd: ev(10_000.0, "V100 32GB street price c. 2019-2020, press reports", Low),
    },
    Accelerator {
        id: "a100-40gb",
        aliases: &["a100-sxm4-40gb", "a100"],
        name: "NVIDIA A100 SXM4 40GB",
        vendor: "NVIDIA",
        memory_gb: 40.0,
        mem_bw_gbps: 1555.0,
        peak_bf16: FlopsPerSec(312e12),
        tdp: Watts(400.0),
        spec_source: "NVIDIA A100 datasheet (624 TFLOP/s with sparsity)",
        spec_confidence: High,
        default_mfu: MFU_A100,
        default_power_w: ev(400.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(1.29, "Lambda on-demand gpu_8x_a100 $10.32/h / 8 (SkyPilot catalog v7)", Medium),
        default_capex_usd: ev(15_000.0, "A100 street price c. 2021-2022, press reports", Low),
    },
    Accelerator {
        id: "a100-80gb",
        aliases: &["a100-sxm4-80gb", "a100-80g"],
        name: "NVIDIA A100 SXM4 80GB",
        vendor: "NVIDIA",
        memory_gb: 80.0,
        mem_bw_gbps: 2039.0,
        peak_bf16: FlopsPerSec(312e12),
        tdp: Watts(400.0),
        spec_source: "NVIDIA A100 datasheet",
        spec_confidence: High,
        default_mfu: MFU_A100,
        default_power_w: ev(400.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(
            1.79,
            "Lambda on-demand 8x A100 80GB SXM $14.32/h / 8 (2024 list price, transcribed from memory)",
            Low,
        ),
        default_capex_usd: ev(
            24_875.0,
            "DGX A100 at $199,000 for 8 GPUs (the 2023 industry article's figure)",
            Medium,
        ),
    },
    Accelerator {
        id: "a800",
        aliases: &["a800-sxm4-80gb", "a800-80gb"],
        name: "NVIDIA A800 SXM4 80GB",
        vendor: "NVIDIA",
        memory_gb: 80.0,
        mem_bw_gbps: 2039.0,
        peak_bf16: FlopsPerSec(312e12),
        tdp: Watts(400.0),
        spec_source: "China-market A100 variant, NVLink capped at 400 GB/s (public spec sheets)",
        spec_confidence: Medium,
        default_mfu: MFU_A100,
        default_power_w: ev(400.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(
            0.98,
            "Alibaba Cloud cn-beijing ecs.ebmgn7v.32xlarge (8x A800) $31.39/h / 8, spot-free list (SkyPilot catalog v8)",
            Medium,
        ),
        default_capex_usd: ev(15_000.0, "assumed equal to A100 (press reports, 2023)", Low),
    },
    Accelerator {
        id: "h100",
        aliases: &["h100-sxm", "h100-sxm5", "h100-80gb", "h100-sxm5-80gb"],
        name: "NVIDIA H100 SXM5 80GB",
        vendor: "NVIDIA",
        memory_gb: 80.0,
        mem_bw_gbps: 3350.0,
        peak_bf16: FlopsPerSec(989e12),
        tdp: Watts(700.0),
        spec_source: "NVIDIA H100 datasheet (1979 TFLOP/s with sparsity)",
        spec_confidence: High,
        default_mfu: MFU_HOPPER,
        default_power_w: ev(700.0, "chip at its TDP, the convention of Llama 3 (Dubey et al. 2024)", Medium),
        default_usd_per_hour: ev(2.99, "Lambda on-demand H100 SXM 2024 list price (transcribed from memory)", Low),
        default_capex_usd: ev(30_000.0, "H100 street price 2023-2024, press reports", Low),
    },
    Accelerator {
        id: "h100-pcie",
        aliases: &["h100-pcie-80gb"],
        name: "NVIDIA H100 PCIe 80GB",
        vendor: "NVIDIA",
        memory_gb: 80.0,
        mem_bw_gbps: 2000.0,
        peak_bf16: FlopsPerSec(756e12),
        tdp: Watts(350.0),
        spec_source: "NVIDIA H100 datasheet (1513 TFLOP/s with sparsity)",
        spec_confidence: High,
        default_mfu: ev(
            0.30,
            "PCIe parts lack NVLink's all-to-all bandwidth; no published large run, assumed 30%",
            Low,
        ),
        default_power_w: ev(350.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(2.49, "Lambda on-demand H100 PCIe 2024 list price (transcribed from memory)", Low),
        default_capex_usd: ev(25_000.0, "press reports 2023-2024", Low),
    },
    Accelerator {
        id: "h800",
        aliases: &["h800-sxm5", "h800-sxm5-80gb"],
        name: "NVIDIA H800 SXM5 80GB",
        vendor: "NVIDIA",
        memory_gb: 80.0,
        mem_bw_gbps: 3350.0,
        peak_bf16: FlopsPerSec(989e12),
        tdp: Watts(700.0),
        spec_source: "China-market H100 variant, NVLink capped at 400 GB/s (public spec sheets)",
        spec_confidence: Medium,
        default_mfu: MFU_HOPPER,
        default_power_w: ev(700.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(2.00, "DeepSeek-V3 report assumes $2 per H800 GPU-hour rental (DeepSeek-AI 2024)", Medium),
        default_capex_usd: ev(30_000.0, "assumed equal to H100 (press reports)", Low),
    },
    Accelerator {
        id: "h20",
        aliases: &["h20-96gb"],
        name: "NVIDIA H20 96GB",
        vendor: "NVIDIA",
        memory_gb: 96.0,
        mem_bw_gbps: 4000.0,
        peak_bf16: FlopsPerSec(148e12),
        tdp: Watts(400.0),
        spec_source: "China-market Hopper; public spec sheets",
        spec_confidence: Medium,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(400.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(1.20, "press reports of China rental prices, 2024", Low),
        default_capex_usd: ev(12_000.0, "press reports, 2024", Low),
    },
    Accelerator {
        id: "h200",
        aliases: &["h200-sxm", "h200-141gb", "h200-sxm-141gb"],
        name: "NVIDIA H200 SXM 141GB",
        vendor: "NVIDIA",
        memory_gb: 141.0,
        mem_bw_gbps: 4800.0,
        peak_bf16: FlopsPerSec(989e12),
        tdp: Watts(700.0),
        spec_source: "NVIDIA H200 datasheet",
        spec_confidence: High,
        default_mfu: ev(0.40, "assumed equal to H100 (same compute die; Llama 3.1 405B 38-43%)", Low),
        default_power_w: ev(700.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(3.50, "cloud list prices 2024-2025 (transcribed from memory)", Low),
        default_capex_usd: ev(35_000.0, "press reports 2024", Low),
    },
    Accelerator {
        id: "b200",
        aliases: &["b200-hgx", "b200-180gb"],
        name: "NVIDIA B200 (HGX, per GPU)",
        vendor: "NVIDIA",
        memory_gb: 180.0,
        mem_bw_gbps: 7700.0,
        peak_bf16: FlopsPerSec(2250e12),
        tdp: Watts(1000.0),
        spec_source: "NVIDIA HGX B200 spec (per GPU; sparse values halved)",
        spec_confidence: Medium,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(1000.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(5.00, "cloud list prices 2025 (transcribed from memory)", Low),
        default_capex_usd: ev(45_000.0, "press reports 2025", Low),
    },
    Accelerator {
        id: "l40s",
        aliases: &["l40s-48gb"],
        name: "NVIDIA L40S 48GB",
        vendor: "NVIDIA",
        memory_gb: 48.0,
        mem_bw_gbps: 864.0,
        peak_bf16: FlopsPerSec(362e12),
        tdp: Watts(350.0),
        spec_source: "NVIDIA L40S datasheet (sparsity values halved)",
        spec_confidence: High,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(350.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(1.00, "cloud list prices 2024 (transcribed from memory)", Low),
        default_capex_usd: ev(9_000.0, "press reports 2024", Low),
    },
    Accelerator {
        id: "l4",
        aliases: &["l4-24gb"],
        name: "NVIDIA L4 24GB",
        vendor: "NVIDIA",
        memory_gb: 24.0,
        mem_bw_gbps: 300.0,
        peak_bf16: FlopsPerSec(121e12),
        tdp: Watts(72.0),
        spec_source: "NVIDIA L4 datasheet (sparsity values halved)",
        spec_confidence: High,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(72.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(0.71, "GCP g2-standard-4 (1x L4) on-demand us-central1, 2024 (transcribed from memory)", Low),
        default_capex_usd: ev(2_500.0, "press reports 2024", Low),
    },
    Accelerator {
        id: "mi300x",
        aliases: &["mi300x-192gb"],
        name: "AMD Instinct MI300X 192GB",
        vendor: "AMD",
        memory_gb: 192.0,
        mem_bw_gbps: 5300.0,
        peak_bf16: FlopsPerSec(1307e12),
        tdp: Watts(750.0),
        spec_source: "AMD MI300X datasheet (dense)",
        spec_confidence: High,
        default_mfu: ev(
            0.30,
            "no published large-scale run; independent benchmarks found MI300X training throughput below H100's (SemiAnalysis, Dec 2024); assumed 30%",
            Low,
        ),
        default_power_w: ev(750.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(2.50, "cloud list prices 2024-2025 (transcribed from memory)", Low),
        default_capex_usd: ev(15_000.0, "press reports 2024", Low),
    },
    Accelerator {
        id: "ascend-910b",
        aliases: &["910b", "ascend910b"],
        name: "Huawei Ascend 910B 64GB",
        vendor: "Huawei",
        memory_gb: 64.0,
        mem_bw_gbps: 1600.0,
        peak_bf16: FlopsPerSec(320e12),
        tdp: Watts(400.0),
        spec_source: "press/analyst reports only (no public datasheet)",
        spec_confidence: Low,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(400.0, POWER_TDP, Low),
        default_usd_per_hour: ev(1.00, "press reports of China rental prices, 2024", Low),
        default_capex_usd: ev(16_000.0, "press reports 2024 (about CNY 120,000)", Low),
    },
    Accelerator {
        id: "tpu-v2",
        aliases: &["tpuv2"],
        name: "Google TPU v2 (per chip)",
        vendor: "Google",
        memory_gb: 16.0,
        mem_bw_gbps: 600.0,
        peak_bf16: FlopsPerSec(45e12),
        tdp: Watts(280.0),
        spec_source: "Jouppi et al. 2021, Ten Lessons From Three Generations Shaped Google's TPUv4i, Table 1",
        spec_confidence: Medium,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(
            168.0,
            "assumed 60% of TDP, the middle of TPU runs' measured 54-69% of TDP (Patterson et al. 2021)",
            Low,
        ),
        default_usd_per_hour: ev(1.13, "GCP TPU v2 on-demand $4.50/h per 4-chip board, 2021 (transcribed from memory)", Low),
        default_capex_usd: ev(0.0, "not sold", Low),
    },
    Accelerator {
        id: "tpu-v3",
        aliases: &["tpuv3"],
        name: "Google TPU v3 (per chip)",
        vendor: "Google",
        memory_gb: 32.0,
        mem_bw_gbps: 900.0,
        peak_bf16: FlopsPerSec(123e12),
        tdp: Watts(450.0),
        spec_source: "Jouppi et al. 2021 (Ten Lessons, Table 1) and 2023 (TPU v4, ISCA)",
        spec_confidence: Medium,
        default_mfu: ev(0.325, "Gopher 280B on TPU v3: 32.5% MFU (Chowdhery et al. 2022, PaLM, Table 3)", Medium),
        default_power_w: ev(220.0, "measured mean chip power 220 W (Jouppi et al. 2023, TPU v4 paper)", Medium),
        default_usd_per_hour: ev(2.00, "GCP TPU v3 on-demand $8.00/h per 4-chip board, 2021 (transcribed from memory)", Low),
        default_capex_usd: ev(0.0, "not sold", Low),
    },
    Accelerator {
        id: "tpu-v4",
        aliases: &["tpuv4"],
        name: "Google TPU v4 (per chip)",
        vendor: "Google",
        memory_gb: 32.0,
        mem_bw_gbps: 1200.0,
        peak_bf16: FlopsPerSec(275e12),
        tdp: Watts(192.0),
        spec_source: "Jouppi et al. 2023, TPU v4 (ISCA): 275 TFLOP/s BF16, 32 GiB HBM2, 1.2 TB/s; max measured chip power 192 W",
        spec_confidence: Medium,
        default_mfu: ev(0.462, "PaLM 540B on 6144 TPU v4: 46.2% MFU (Chowdhery et al. 2022)", High),
        default_power_w: ev(170.0, "measured mean chip power 170 W (Jouppi et al. 2023)", Medium),
        default_usd_per_hour: ev(3.22, "GCP TPU v4 on-demand per chip-hour, us-central2, 2023 (transcribed from memory)", Low),
        default_capex_usd: ev(0.0, "not sold", Low),
    },
    Accelerator {
        id: "t4",
        aliases: &["t4-16gb"],
        name: "NVIDIA T4 16GB",
        vendor: "NVIDIA",
        memory_gb: 16.0,
        mem_bw_gbps: 320.0,
        peak_bf16: FlopsPerSec(65e12),
        tdp: Watts(70.0),
        spec_source: "NVIDIA T4 datasheet (FP16 mixed precision)",
        spec_confidence: High,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(70.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(0.35, "GCP T4 on-demand 2024 (transcribed from memory)", Low),
        default_capex_usd: ev(2_000.0, "press reports", Low),
    },
    Accelerator {
        id: "a10",
        aliases: &["a10-24gb"],
        name: "NVIDIA A10 24GB",
        vendor: "NVIDIA",
        memory_gb: 24.0,
        mem_bw_gbps: 600.0,
        peak_bf16: FlopsPerSec(125e12),
        tdp: Watts(150.0),
        spec_source: "NVIDIA A10 datasheet (250 TFLOP/s with sparsity)",
        spec_confidence: High,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(150.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(
            1.33,
            "Alibaba Cloud cn-beijing ecs.gn7i-c8g1.2xlarge (1x A10) $1.327/h (SkyPilot catalog v8)",
            Medium,
        ),
        default_capex_usd: ev(3_500.0, "press reports", Low),
    },
    Accelerator {
        id: "l20",
        aliases: &["l20-48gb"],
        name: "NVIDIA L20 48GB",
        vendor: "NVIDIA",
        memory_gb: 48.0,
        mem_bw_gbps: 864.0,
        peak_bf16: FlopsPerSec(119.5e12),
        tdp: Watts(275.0),
        spec_source: "China-market Ada GPU; public spec sheets",
        spec_confidence: Medium,
        default_mfu: MFU_ASSUMED,
        default_power_w: ev(275.0, POWER_TDP, Medium),
        default_usd_per_hour: ev(
            2.17,
            "Alibaba Cloud cn-beijing ecs.gn8ia.4xlarge (1x L20) $2.170/h (SkyPilot catalog v8)",
            Medium,
        ),
        default_capex_usd: ev(6_000.0, "press reports", Low),
    },
];

/// Finds an accelerator by id or alias, ignoring case and `_`/` ` vs `-`.
pub fn find(name: &str) -> Option<&'static Accelerator> {
    let key: String = name.trim().to_ascii_lowercase().chars().map(|c| if c == '_' || c == ' ' { '-' } else { c }).collect();
    ACCELERATORS.iter().find(|a| a.id == key || a.aliases.contains(&key.as_str()))
}

/// The ids of all accelerators, for error messages and `--help`.
pub fn ids() -> Vec<&'static str> {
    ACCELERATORS.iter().map(|a| a.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_accelerator_is_known_case_insensitively() {
        for id in [
            "V100",
            "a100-40gb",
            "A100-80GB",
            "a800",
            "h100",
            "h100-pcie",
            "H800",
            "h20",
            "h200",
            "b200",
            "l40s",
            "l4",
            "MI300X",
            "ascend-910b",
            "tpu-v3",
            "tpu-v4",
        ] {
            assert!(find(id).is_some(), "{id} missing");
        }
        assert!(find("x100").is_none());
    }

    #[test]
    fn ids_and_aliases_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for a in ACCELERATORS {
            assert!(seen.insert(a.id), "duplicate {}", a.id);
            for al in a.aliases {
                assert!(seen.insert(al), "duplicate alias {al}");
            }
        }
    }

    #[test]
    fn defaults_are_physical() {
        for a in ACCELERATORS {
            assert!(a.default_mfu.value > 0.0 && a.default_mfu.value < 0.7, "{}", a.id);
            assert!(a.default_power_w.value > 0.0 && a.default_power_w.value <= a.tdp.0, "{}", a.id);
            assert!(a.peak_bf16.0 > 1e13 && a.memory_gb > 0.0 && a.mem_bw_gbps > 0.0);
        }
    }
}

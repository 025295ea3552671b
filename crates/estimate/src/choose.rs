//! The choice a small or mid-size AI company faces for a given usage: pay an API per token,
//! fine-tune an open LLaMA-class model and host it, or train its own model and host it.
//!
//! Each option's monthly cost comes from the same estimators as everything else (training and
//! fine-tuning through `estimate_train`, hosting through `estimate_serve` with rented
//! accelerators), so the comparison inherits their printed assumptions. The break-even volume is
//! the smallest monthly token volume at which an option becomes cheaper than the API.

use crate::arch::Architecture;
use crate::hardware::Accelerator;
use crate::serve::{estimate_serve, Demand, ServeInput};
use crate::train::{estimate_train, Method, TrainInput};
use crate::{Assumption, InputError};
use serde::Serialize;
use xisuan_model::units::CNY_PER_USD;
use xisuan_model::{Confidence, Sourced};

/// A quality tier: an open model of a size, and the API that sells comparable quality.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tier {
    pub id: &'static str,
    pub open_model: &'static str,
    pub params: f64,
    pub api_model: &'static str,
    pub api_usd_per_m_in: f64,
    pub api_usd_per_m_out: f64,
    pub api_source: &'static str,
    /// The open model's shape (Dubey et al. 2024, Llama 3 paper, Table 3): layers, width,
    /// attention heads, KV heads (grouped-query attention), FFN size, vocabulary.
    pub shape: (u32, u32, u32, u32, u32, u32),
}

impl Tier {
    pub fn architecture(&self) -> Architecture {
        let (layers, hidden, heads, kv_heads, ffn, vocab) = self.shape;
        Architecture { layers, hidden, heads, kv_heads, seq_len: 8192, vocab, ffn: Some(ffn), experts: None, derived_from_size: false }
    }
}

/// Tiers pair open models with the API of similar benchmark standing at release (Meta's Llama 3
/// and 3.1 model cards compare them with these APIs). Prices are list prices at those dates.
pub static TIERS: &[Tier] = &[
    Tier {
        id: "small",
        open_model: "Llama-3-8B class",
        params: 8e9,
        api_model: "GPT-4o mini",
        api_usd_per_m_in: 0.15,
        api_usd_per_m_out: 0.60,
        api_source: "OpenAI API pricing, July 2024",
        shape: (32, 4096, 32, 8, 14_336, 128_256),
    },
    Tier {
        id: "medium",
        open_model: "Llama-3-70B class",
        params: 70e9,
        api_model: "GPT-3.5 Turbo",
        api_usd_per_m_in: 0.50,
        api_usd_per_m_out: 1.50,
        api_source: "OpenAI API pricing, January 2024",
        shape: (80, 8192, 64, 8, 28_672, 128_256),
    },
    Tier {
        id: "small-cn",
        open_model: "Llama-3-8B class",
        params: 8e9,
        api_model: "qwen-turbo (Alibaba Bailian)",
        api_usd_per_m_in: 0.3 / CNY_PER_USD,
        api_usd_per_m_out: 0.6 / CNY_PER_USD,
        api_source: "0.3 / 0.6 CNY per million tokens, 2025-02-06 to 2025-06-14 (syaoranwe/LLM-Price @a1c9a4a, @ee06bc7; docs/evidence/api-prices-china.md); CNY at 7.08 per USD; paired with the 8B class by price band (assumed)",
        shape: (32, 4096, 32, 8, 14_336, 128_256),
    },
    Tier {
        id: "medium-cn",
        open_model: "Llama-3-70B class",
        params: 70e9,
        api_model: "qwen-plus (Alibaba Bailian)",
        api_usd_per_m_in: 0.8 / CNY_PER_USD,
        api_usd_per_m_out: 2.0 / CNY_PER_USD,
        api_source: "0.8 / 2 CNY per million tokens, Alibaba Cloud Model Studio billing page (undated, consistent with Sep 2024 to Jan 2025) and LLM-Price through 2025-06-14 (docs/evidence/api-prices-china.md); CNY at 7.08 per USD; paired with the 70B class by price band (assumed)",
        shape: (80, 8192, 64, 8, 28_672, 128_256),
    },
    Tier {
        id: "large-cn",
        open_model: "Llama-3.1-405B class",
        params: 405e9,
        api_model: "deepseek-chat (DeepSeek-V3)",
        api_usd_per_m_in: 2.0 / CNY_PER_USD,
        api_usd_per_m_out: 8.0 / CNY_PER_USD,
        api_source: "2 / 8 CNY per million tokens (cache miss) from 2025-02-09 (LLM-Price @a1c9a4a; lobehub deepseek.ts linking api-docs.deepseek.com pricing; docs/evidence/api-prices-china.md); CNY at 7.08 per USD; DeepSeek-V3 reports scores comparable to Llama 3.1 405B",
        shape: (126, 16_384, 128, 8, 53_248, 128_256),
    },
    Tier {
        id: "large",
        open_model: "Llama-3.1-405B class",
        params: 405e9,
        api_model: "GPT-4o",
        api_usd_per_m_in: 5.00,
        api_usd_per_m_out: 15.00,
        api_source: "OpenAI API pricing, May 2024",
        shape: (126, 16_384, 128, 8, 53_248, 128_256),
    },
];

pub fn find_tier(id: &str) -> Option<&'static Tier> {
    TIERS.iter().find(|t| t.id.eq_ignore_ascii_case(id))
}

#[derive(Debug, Clone)]
pub struct ChooseInput {
    pub tokens_per_month: f64,
    pub tier: &'static Tier,
    pub accelerator: &'static Accelerator,
    pub usd_per_gpu_hour: Sourced<f64>,
    /// Share of tokens that are prompt (input) tokens.
    pub input_share: Sourced<f64>,
    pub api_usd_per_m_in: Sourced<f64>,
    pub api_usd_per_m_out: Sourced<f64>,
    /// Months over which one-time training or fine-tuning is spread.
    pub horizon_months: Sourced<f64>,
    pub fine_tune_tokens: Sourced<f64>,
    /// Pre-training tokens per parameter for the train-your-own option.
    pub train_tokens_per_param: Sourced<f64>,
}

impl ChooseInput {
    pub fn new(tokens_per_month: f64, tier: &'static Tier, accelerator: &'static Accelerator) -> Self {
        ChooseInput {
            tokens_per_month,
            tier,
            accelerator,
            usd_per_gpu_hour: accelerator.default_usd_per_hour.sourced(),
            input_share: Sourced::new(
                1155.0 / (1155.0 + 211.0),
                "Azure LLM inference trace 2023, conversation: mean 1,155 prompt and 211 completion tokens",
                Confidence::Medium,
            ),
            api_usd_per_m_in: Sourced::new(tier.api_usd_per_m_in, format!("{} input, {}", tier.api_model, tier.api_source), Confidence::Medium),
            api_usd_per_m_out: Sourced::new(tier.api_usd_per_m_out, format!("{} output, {}", tier.api_model, tier.api_source), Confidence::Medium),
            horizon_months: Sourced::new(12.0, "one-year planning horizon (assumed)", Confidence::Low),
            fine_tune_tokens: Sourced::new(1e8, "100M tokens of task data, e.g. 100k examples of 1k tokens (assumed)", Confidence::Low),
            train_tokens_per_param: Sourced::new(
                20.0,
                "compute-optimal 20 tokens per parameter (Hoffmann et al. 2022, Chinchilla)",
                Confidence::High,
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionCost {
    pub option: &'static str,
    pub description: String,
    pub one_time_usd: f64,
    pub monthly_usd: f64,
    /// One-time cost spread over the horizon, plus the monthly cost.
    pub effective_monthly_usd: f64,
    pub usd_per_million_tokens: f64,
    pub accelerators: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub options: Vec<OptionCost>,
    pub cheapest: &'static str,
    /// Monthly token volume above which fine-tuning and self-hosting beats the API.
    pub break_even_fine_tune_tokens_per_month: Option<f64>,
    /// Monthly token volume above which training your own model beats the API.
    pub break_even_train_tokens_per_month: Option<f64>,
    pub assumptions: Vec<Assumption>,
}

const HOURS_PER_MONTH: f64 = 730.0;
const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

fn api_monthly(i: &ChooseInput, tokens: f64) -> f64 {
    let s = i.input_share.value;
    tokens / 1e6 * (s * i.api_usd_per_m_in.value + (1.0 - s) * i.api_usd_per_m_out.value)
}

/// Rented accelerators to serve `tokens` a month, at least one replica.
fn hosting(i: &ChooseInput, tokens: f64) -> Result<(f64, u32), InputError> {
    let per_request = 1155.0 + 211.0;
    let rps = (tokens / per_request / SECONDS_PER_MONTH).max(1e-9);
    let mut s = ServeInput::new(i.tier.params, i.accelerator);
    s.arch = Some(i.tier.architecture());
    s.demand = Some(Demand::from_rps(Sourced::new(rps, "from --tokens-per-month", Confidence::User)));
    let e = estimate_serve(&s)?;
    let gpus = e.gpus.max(e.replica.gpus);
    Ok((gpus as f64 * i.usd_per_gpu_hour.value * HOURS_PER_MONTH, gpus))
}

fn one_time(i: &ChooseInput, method: Method, tokens: f64) -> Result<f64, InputError> {
    let mut t = TrainInput::new(i.tier.params, tokens, i.accelerator, 1);
    t.method = method;
    t.arch = Some(i.tier.architecture());
    t.cost = crate::train::CostModel::Rent { usd_per_gpu_hour: i.usd_per_gpu_hour.clone() };
    Ok(estimate_train(&t)?.cost.total.0)
}

fn options_at(i: &ChooseInput, tokens: f64, ft_once: f64, train_once: f64) -> Result<Vec<OptionCost>, InputError> {
    let h = i.horizon_months.value;
    let (host, gpus) = hosting(i, tokens)?;
    let api = api_monthly(i, tokens);
    let per_m = |monthly: f64| if tokens > 0.0 { monthly / (tokens / 1e6) } else { f64::INFINITY };
    Ok(vec![
        OptionCost {
            option: "api",
            description: format!("pay {} per token", i.tier.api_model),
            one_time_usd: 0.0,
            monthly_usd: api,
            effective_monthly_usd: api,
            usd_per_million_tokens: per_m(api),
            accelerators: 0,
        },
        OptionCost {
            option: "fine-tune",
            description: format!("LoRA-tune a {} model and host it on rented {}", i.tier.open_model, i.accelerator.id),
            one_time_usd: ft_once,
            monthly_usd: host,
            effective_monthly_usd: ft_once / h + host,
            usd_per_million_tokens: per_m(ft_once / h + host),
            accelerators: gpus,
        },
        OptionCost {
            option: "train",
            description: format!("pre-train your own {} model and host it", i.tier.open_model),
            one_time_usd: train_once,
            monthly_usd: host,
            effective_monthly_usd: train_once / h + host,
            usd_per_million_tokens: per_m(train_once / h + host),
            accelerators: gpus,
        },
    ])
}

/// Smallest volume in [1e3, 1e15] tokens/month where `option` is no dearer than the API.
fn break_even(i: &ChooseInput, option: usize, ft: f64, tr: f64) -> Result<Option<f64>, InputError> {
    let cheaper = |v: f64| -> Result<bool, InputError> {
        let o = options_at(i, v, ft, tr)?;
        Ok(o[option].effective_monthly_usd <= o[0].effective_monthly_usd)
    };
    // Scan decades, then bisect inside the first decade where the option wins.
    let mut prev = 1e3;
    if cheaper(prev)? {
        return Ok(Some(prev));
    }
    let mut v = 1e4;
    while v <= 1e15 {
        if cheaper(v)? {
            let (mut lo, mut hi) = (prev, v);
            for _ in 0..60 {
                let mid = (lo * hi).sqrt();
                if cheaper(mid)? {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return Ok(Some(hi));
        }
        prev = v;
        v *= 10.0;
    }
    Ok(None)
}

pub fn choose(i: &ChooseInput) -> Result<Choice, InputError> {
    if !(i.tokens_per_month.is_finite() && i.tokens_per_month > 0.0) {
        return Err(InputError::new("tokens-per-month", format!("must be a positive number, got {}", i.tokens_per_month)));
    }
    if !(i.input_share.value >= 0.0 && i.input_share.value <= 1.0) {
        return Err(InputError::new("input-share", "must be in [0, 1]"));
    }
    if !(i.horizon_months.value > 0.0) {
        return Err(InputError::new("horizon-months", "must be positive"));
    }
    let ft = one_time(i, Method::Lora, i.fine_tune_tokens.value)?;
    let tr = one_time(i, Method::Full, i.tier.params * i.train_tokens_per_param.value)?;
    let options = options_at(i, i.tokens_per_month, ft, tr)?;
    let cheapest = options.iter().min_by(|a, b| a.effective_monthly_usd.total_cmp(&b.effective_monthly_usd)).map(|o| o.option).unwrap_or("api");
    let assumptions = vec![
        Assumption::new("tier", &format!("{} vs {}", i.tier.open_model, i.tier.api_model), "", "tier table", Confidence::Medium),
        Assumption::sourced("API input price", &i.api_usd_per_m_in, "USD per million tokens"),
        Assumption::sourced("API output price", &i.api_usd_per_m_out, "USD per million tokens"),
        Assumption::sourced("prompt share of tokens", &i.input_share, ""),
        Assumption::sourced("accelerator rental", &i.usd_per_gpu_hour, "USD per accelerator-hour"),
        Assumption::sourced("horizon", &i.horizon_months, "months"),
        Assumption::sourced("fine-tuning data", &i.fine_tune_tokens, "tokens"),
        Assumption::sourced("pre-training tokens per parameter", &i.train_tokens_per_param, ""),
        Assumption::num("hosting hours", HOURS_PER_MONTH, "h/month", "always-on replicas, at least one", Confidence::High),
    ];
    Ok(Choice {
        break_even_fine_tune_tokens_per_month: break_even(i, 1, ft, tr)?,
        break_even_train_tokens_per_month: break_even(i, 2, ft, tr)?,
        options,
        cheapest,
        assumptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::find;

    #[test]
    fn api_wins_small_volumes_and_self_hosting_wins_large_ones() {
        // A 70B model needs ~1.9e14 FLOPs per 1,366-token request; at 50% of an H100's peak that
        // is cheap enough per token to undercut GPT-3.5 Turbo's list price at high volume.
        let acc = find("h100").unwrap();
        let tier = find_tier("medium").unwrap();
        let small = choose(&ChooseInput::new(1e7, tier, acc)).unwrap();
        assert_eq!(small.cheapest, "api");
        let be = small.break_even_fine_tune_tokens_per_month.expect("a break-even exists");
        let big = choose(&ChooseInput::new(be * 10.0, tier, acc)).unwrap();
        assert_eq!(big.cheapest, "fine-tune");
        // Training your own model costs more up front than LoRA-tuning, so it breaks even later.
        let be_train = small.break_even_train_tokens_per_month.unwrap();
        assert!(be_train > be);
    }

    #[test]
    fn api_cost_is_linear_in_tokens() {
        let acc = find("a100-80gb").unwrap();
        let i = ChooseInput::new(1e9, find_tier("small").unwrap(), acc);
        // 1e9 tokens: 0.8455 x 1,000 x $0.15 + 0.1545 x 1,000 x $0.60 = $126.8 + $92.7 = $219.5.
        assert!((api_monthly(&i, 1e9) - 219.55).abs() < 0.1, "{}", api_monthly(&i, 1e9));
    }
}

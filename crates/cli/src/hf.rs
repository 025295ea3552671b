//! Reads a Hugging Face `config.json` into an `Architecture`, naming the file, the position and
//! the field when something is wrong.
//!
//! Config keys differ between model families; each field lists the spellings accepted
//! (LLaMA/Mistral/Qwen `hidden_size`, GPT-2 `n_embd`, T5-style `d_model`, ...).

use crate::BadInput;
use serde_json::Value;
use xisuan_estimate::Architecture;

/// The architecture and the total parameter count implied by a config.
#[derive(Debug)]
pub struct HfModel {
    pub arch: Architecture,
    pub params: f64,
    pub active_params: f64,
    /// Whether the config states a context (`max_position_embeddings` or the like); when it
    /// does not, `arch.seq_len` is `hardware::DEFAULT_CONTEXT` and the caller says so.
    pub context_stated: bool,
}

fn field(obj: &serde_json::Map<String, Value>, origin: &str, names: &[&str], required: bool) -> Result<Option<u32>, BadInput> {
    for name in names {
        if let Some(v) = obj.get(*name) {
            if v.is_null() {
                continue;
            }
            return match v.as_u64() {
                Some(n) if n > 0 && n <= u32::MAX as u64 => Ok(Some(n as u32)),
                _ => Err(BadInput(format!("{origin}: field `{name}`: expected a positive integer, got {v}"))),
            };
        }
    }
    if required {
        let also = if names.len() > 1 { format!(" (also accepted: {})", names[1..].join(", ")) } else { String::new() };
        Err(BadInput(format!("{origin}: field `{}` is missing{also}", names[0])))
    } else {
        Ok(None)
    }
}

pub fn parse(text: &str, origin: &str) -> Result<HfModel, BadInput> {
    let v: Value = serde_json::from_str(text).map_err(|e| BadInput(format!("{origin}:{}:{}: malformed JSON: {e}", e.line(), e.column())))?;
    let obj = v.as_object().ok_or_else(|| BadInput(format!("{origin}: expected a JSON object at the top level")))?;
    let layers = field(obj, origin, &["num_hidden_layers", "n_layer", "num_layers"], true)?.unwrap();
    let hidden = field(obj, origin, &["hidden_size", "n_embd", "d_model"], true)?.unwrap();
    let heads = field(obj, origin, &["num_attention_heads", "n_head", "num_heads"], true)?.unwrap();
    let kv_heads = field(obj, origin, &["num_key_value_heads", "multi_query_group_num"], false)?.unwrap_or(heads);
    let ffn = field(obj, origin, &["intermediate_size", "n_inner", "ffn_dim", "d_ff"], false)?;
    let vocab = field(obj, origin, &["vocab_size"], true)?.unwrap();
    let context = field(obj, origin, &["max_position_embeddings", "n_positions", "seq_length", "n_ctx"], false)?;
    let seq_len = context.unwrap_or(xisuan_estimate::hardware::DEFAULT_CONTEXT.0);
    let experts = field(obj, origin, &["num_local_experts", "n_routed_experts", "num_experts"], false)?;
    let active = field(obj, origin, &["num_experts_per_tok", "moe_top_k"], false)?;
    if kv_heads > heads || heads > hidden {
        return Err(BadInput(format!("{origin}: field `num_key_value_heads`: {kv_heads} KV heads and {heads} heads do not fit a width of {hidden}")));
    }
    let moe_ffn = field(obj, origin, &["moe_intermediate_size"], false)?;
    let arch = Architecture {
        layers,
        hidden,
        heads,
        kv_heads,
        seq_len,
        vocab,
        ffn: moe_ffn.or(ffn),
        experts: experts.map(|e| (e, active.unwrap_or(2))),
        derived_from_size: false,
    };
    // Shared experts, which every token passes through (gated: three matrices per layer).
    // DeepSeek counts them (`n_shared_experts` of `moe_intermediate_size`), Qwen-MoE gives their
    // total size (`shared_expert_intermediate_size`); a dense config's field means nothing.
    let shared_ffn =
        match (field(obj, origin, &["shared_expert_intermediate_size"], false)?, field(obj, origin, &["n_shared_experts"], false)?, moe_ffn) {
            (Some(s), _, _) => s as f64,
            (None, Some(n), Some(f)) => n as f64 * f as f64,
            _ => 0.0,
        };
    let shared = if arch.experts.is_some() { layers as f64 * 3.0 * hidden as f64 * shared_ffn } else { 0.0 };
    // An untied output projection adds another vocab x hidden matrix.
    let tied = obj.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(false);
    let head = if tied { 0.0 } else { vocab as f64 * hidden as f64 };
    Ok(HfModel {
        params: arch.params() + shared + head,
        active_params: arch.active_params() + shared + head,
        arch,
        context_stated: context.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama2_7b_config_gives_6_7b_parameters() {
        let cfg = r#"{"hidden_size": 4096, "intermediate_size": 11008, "num_attention_heads": 32,
            "num_hidden_layers": 32, "num_key_value_heads": 32, "vocab_size": 32000,
            "max_position_embeddings": 4096, "tie_word_embeddings": false}"#;
        let m = parse(cfg, "config.json").unwrap();
        // 6.61e9 (layers + embedding) + 0.13e9 untied head = 6.74e9, Llama 2 7B's size.
        assert!((m.params / 6.74e9 - 1.0).abs() < 0.005, "{}", m.params);
        assert_eq!(m.arch.seq_len, 4096);
    }

    #[test]
    fn moe_configs_count_their_shared_experts() {
        // DeepSeek counts shared experts (`n_shared_experts` of `moe_intermediate_size`), Qwen-MoE
        // gives their total size; every token uses them: 3 gated matrices per layer.
        let deepseek = r#"{"hidden_size": 5120, "num_hidden_layers": 60, "num_attention_heads": 128, "vocab_size": 102400,
            "intermediate_size": 12288, "moe_intermediate_size": 1536, "n_routed_experts": 160, "num_experts_per_tok": 6"#;
        let with = parse(&format!("{deepseek}, \"n_shared_experts\": 2}}"), "config.json").unwrap();
        let without = parse(&format!("{deepseek}}}"), "config.json").unwrap();
        let shared = 60.0 * 3.0 * 5120.0 * 3072.0;
        assert!((with.active_params - without.active_params - shared).abs() < 1.0);
        assert!((with.params - without.params - shared).abs() < 1.0);
        let qwen = r#"{"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "vocab_size": 151936,
            "intermediate_size": 18944, "moe_intermediate_size": 2560, "num_experts": 64, "num_experts_per_tok": 8, "shared_expert_intermediate_size": 20480,
            "num_key_value_heads": 4}"#;
        // Qwen2-57B-A14B: 57.4B total, 14.2B active (its model card).
        let m = parse(qwen, "config.json").unwrap();
        assert!((m.params / 57.4e9 - 1.0).abs() < 0.03 && (m.active_params / 14.2e9 - 1.0).abs() < 0.03, "{} {}", m.params, m.active_params);
        // A dense config's shared-expert field means nothing.
        let dense = r#"{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 32000, "intermediate_size": 11008"#;
        assert_eq!(
            parse(&format!("{dense}, \"shared_expert_intermediate_size\": 5}}"), "c").unwrap().params,
            parse(&format!("{dense}}}"), "c").unwrap().params
        );
    }

    #[test]
    fn errors_name_the_file_position_and_field() {
        let e = parse("{\"hidden_size\": 4096,\n \"oops\" }", "cfg.json").unwrap_err();
        assert!(e.0.starts_with("cfg.json:2:"), "{}", e.0);
        let e = parse(r#"{"hidden_size": "big", "num_hidden_layers": 2}"#, "cfg.json").unwrap_err();
        assert!(e.0.contains("field `hidden_size`"), "{}", e.0);
        let e = parse(r#"{"hidden_size": 64, "num_attention_heads": 2, "vocab_size": 10}"#, "cfg.json").unwrap_err();
        assert!(e.0.contains("`num_hidden_layers` is missing"), "{}", e.0);
    }
}

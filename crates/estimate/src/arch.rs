//! Transformer architecture: what the estimator needs to know beyond the parameter count
//! (attention FLOPs, KV-cache size), and how to guess it when only the size is known.

use serde::Serialize;

/// The shape of a decoder-only transformer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Architecture {
    pub layers: u32,
    pub hidden: u32,
    pub heads: u32,
    /// Key/value heads (fewer than `heads` under grouped-query attention).
    pub kv_heads: u32,
    /// Training or serving context length in tokens.
    pub seq_len: u32,
    pub vocab: u32,
    /// Feed-forward inner size, when known.
    pub ffn: Option<u32>,
    /// Routed experts and experts active per token, for mixture-of-experts models.
    pub experts: Option<(u32, u32)>,
    /// Whether these numbers were read from a config or guessed from the size.
    pub derived_from_size: bool,
}

impl Architecture {
    /// Guesses a shape from the parameter count with the aspect ratio of GPT-3-family models
    /// (hidden / layers = 128, Brown et al. 2020, Table 2.1): N = 12 · L · d² with d = 128 · L.
    /// For 175e9 parameters this gives 96 layers of width 12,288, GPT-3's actual shape.
    pub fn guess(params: f64, seq_len: u32) -> Architecture {
        let layers = (params / (12.0 * 128.0 * 128.0)).cbrt().round().max(1.0);
        let hidden = (params / (12.0 * layers)).sqrt();
        // Round the width to a multiple of 128, as real models do.
        let hidden = ((hidden / 128.0).round() * 128.0).max(128.0) as u32;
        let heads = (hidden / 128).max(1);
        Architecture {
            layers: layers as u32,
            hidden,
            heads,
            kv_heads: heads,
            seq_len,
            vocab: 50_257,
            ffn: Some(4 * hidden),
            experts: None,
            derived_from_size: true,
        }
    }

    pub fn head_dim(&self) -> f64 {
        self.hidden as f64 / self.heads.max(1) as f64
    }

    /// Non-embedding-free parameter count implied by the shape: attention (Q, O full width; K, V
    /// at `kv_heads`), a gated or plain FFN, and the embeddings. Used to check a config against
    /// the stated size, and when the user gives only a config.
    pub fn params(&self) -> f64 {
        let d = self.hidden as f64;
        let kv = self.kv_heads as f64 * self.head_dim();
        let attn = 2.0 * d * d + 2.0 * d * kv;
        let ffn_inner = self.ffn.map(|f| f as f64).unwrap_or(4.0 * d);
        // Gated FFNs (SwiGLU) have three matrices; the classic FFN has two. A config with an
        // inner size below 4·d is almost always gated (LLaMA: 11008 for 4096).
        let mats = if ffn_inner < 3.9 * d { 3.0 } else { 2.0 };
        let experts = self.experts.map(|(e, _)| e as f64).unwrap_or(1.0);
        let ffn = mats * d * ffn_inner * experts;
        self.layers as f64 * (attn + ffn) + self.vocab as f64 * d
    }

    /// Parameters touched per token (for MoE, only the active experts' FFNs).
    pub fn active_params(&self) -> f64 {
        match self.experts {
            Some((e, k)) if e > 0 => {
                let full = self.params();
                let d = self.hidden as f64;
                let ffn_inner = self.ffn.map(|f| f as f64).unwrap_or(4.0 * d);
                let mats = if ffn_inner < 3.9 * d { 3.0 } else { 2.0 };
                let per_expert = self.layers as f64 * mats * d * ffn_inner;
                full - per_expert * (e as f64 - k as f64)
            }
            _ => self.params(),
        }
    }

    /// Attention-score FLOPs per training token (forward and backward) under a causal mask:
    /// 6 · L · H · Q · T with H · Q = hidden, half of PaLM's 12 · L · H · Q · T (Chowdhery et
    /// al. 2022, appendix B), since only half the score matrix is computed. Megatron-LM counts it
    /// this way ("only half of the attention matrix is non-zero"), as does our own H200
    /// measurement behind `hardware::WIDTH_MFU`, so the MFUs the estimator scales are in it.
    pub fn attention_train_flops_per_token(&self) -> f64 {
        6.0 * self.layers as f64 * self.hidden as f64 * self.seq_len as f64
    }

    /// Bytes of KV cache per token of context: K and V, per layer, per KV head.
    pub fn kv_bytes_per_token(&self, bytes_per_value: f64) -> f64 {
        2.0 * self.layers as f64 * self.kv_heads as f64 * self.head_dim() * bytes_per_value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guess_recovers_gpt3_shape() {
        let a = Architecture::guess(175e9, 2048);
        assert_eq!((a.layers, a.hidden, a.heads), (96, 12288, 96));
        // 12 · 96 · 12288² = 173.9e9 plus embeddings 50,257 · 12,288 = 0.6e9.
        assert!((a.params() / 175e9 - 1.0).abs() < 0.01);
    }

    #[test]
    fn llama_7b_shape_gives_its_size() {
        // LLaMA-7B: 32 layers, 4096 wide, 32 heads, SwiGLU 11008, vocab 32000 -> 6.74e9.
        let a = Architecture {
            layers: 32,
            hidden: 4096,
            heads: 32,
            kv_heads: 32,
            seq_len: 2048,
            vocab: 32_000,
            ffn: Some(11_008),
            experts: None,
            derived_from_size: false,
        };
        // Embedding counted once here (tied-like); the untied output adds 0.13e9.
        assert!((a.params() / 6.61e9 - 1.0).abs() < 0.01, "{}", a.params());
        // KV cache: 2 · 32 · 4096 · 2 bytes = 524,288 bytes per token.
        assert_eq!(a.kv_bytes_per_token(2.0), 524_288.0);
    }
}

//! `Qwen3TTSTokenizerV2DecoderConfig` (`configuration_qwen3_tts_tokenizer_v2.py`):
//! the `decoder_config` section of the tokenizer's `config.json`.

use std::path::Path;

use serde::Deserialize;

use crate::models::qwen3_tts::config::{parse_section, read_config};
use crate::Result;

fn default_codebook_size() -> usize {
    2048
}
fn default_hidden_size() -> usize {
    1024
}
fn default_latent_dim() -> usize {
    1024
}
fn default_max_position_embeddings() -> usize {
    8000
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_num_heads() -> usize {
    16
}
fn default_sliding_window() -> usize {
    72
}
fn default_intermediate_size() -> usize {
    3072
}
fn default_hidden_act() -> String {
    "silu".into()
}
fn default_layer_scale() -> f64 {
    0.01
}
fn default_rms_norm_eps() -> f64 {
    1e-5
}
fn default_num_hidden_layers() -> usize {
    8
}
fn default_num_quantizers() -> usize {
    16
}
fn default_upsample_rates() -> Vec<usize> {
    vec![8, 5, 4, 3]
}
fn default_upsampling_ratios() -> Vec<usize> {
    vec![2, 2]
}
fn default_decoder_dim() -> usize {
    1536
}

/// The decoder's configuration, upstream field names and defaults. Fields
/// of `PretrainedConfig` that do not concern the network are ignored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DecoderConfig {
    /// Entries per codebook.
    #[serde(default = "default_codebook_size")]
    pub codebook_size: usize,
    /// Width of the quantizer output; the codebooks hold `codebook_dim / 2`
    /// (no upstream default: the released tokenizer sets it).
    pub codebook_dim: usize,
    /// Width of the pre-transformer.
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Width between the pre-conv, the transformer and the upsampler.
    #[serde(default = "default_latent_dim")]
    pub latent_dim: usize,
    /// Longest sequence the rotary embedding is meant for (informative).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE variant; only absent or `rope_type: default` is supported.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Query heads.
    #[serde(default = "default_num_heads")]
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than queries).
    #[serde(default = "default_num_heads")]
    pub num_key_value_heads: usize,
    /// Width of a head; `hidden_size / num_attention_heads` when absent.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Whether q/k/v/o projections carry biases.
    #[serde(default)]
    pub attention_bias: bool,
    /// Each position attends to itself and the `sliding_window - 1` before.
    #[serde(default = "default_sliding_window")]
    pub sliding_window: usize,
    /// Hidden width of the gated MLP.
    #[serde(default = "default_intermediate_size")]
    pub intermediate_size: usize,
    /// MLP activation; only `silu` is supported.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    /// Initial LayerScale value (the checkpoint holds the trained scales).
    #[serde(default = "default_layer_scale")]
    pub layer_scale_initial_scale: f64,
    /// Epsilon of the RMSNorms.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// Transformer layers.
    #[serde(default = "default_num_hidden_layers")]
    pub num_hidden_layers: usize,
    /// Codes per frame (1 semantic + the rest acoustic).
    #[serde(default = "default_num_quantizers")]
    pub num_quantizers: usize,
    /// Stride of each decoder block (after the upsampler).
    #[serde(default = "default_upsample_rates")]
    pub upsample_rates: Vec<usize>,
    /// Stride of each ConvTranspose + ConvNeXt upsampling stage.
    #[serde(default = "default_upsampling_ratios")]
    pub upsampling_ratios: Vec<usize>,
    /// Width of the first decoder block, halved by each block.
    #[serde(default = "default_decoder_dim")]
    pub decoder_dim: usize,
}

impl DecoderConfig {
    /// Width of an attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Audio samples per code frame (1920 for the released tokenizer).
    pub fn total_upsample(&self) -> usize {
        self.upsample_rates
            .iter()
            .chain(&self.upsampling_ratios)
            .product()
    }

    /// Parses either the decoder config itself or the tokenizer's whole
    /// `config.json` (its `decoder_config` section), and checks that this
    /// port supports it.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let cfg: Self = parse_section(text, "decoder_config")?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads and checks a config file (see [`Self::from_json`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_config(path.as_ref(), Self::from_json)
    }

    /// Rejects what the port does not implement, naming it.
    fn check(&self) -> std::result::Result<(), String> {
        if self.hidden_act != "silu" {
            return Err(format!(
                "hidden_act {:?} is not supported (only \"silu\")",
                self.hidden_act
            ));
        }
        if let Some(rs) = &self.rope_scaling {
            let kind = rs
                .get("rope_type")
                .or_else(|| rs.get("type"))
                .and_then(|v| v.as_str());
            if !rs.is_null() && kind != Some("default") {
                return Err(format!(
                    "rope_scaling {rs} is not supported (only the default rope)"
                ));
            }
        }
        if self.num_attention_heads == 0
            || self.num_key_value_heads == 0
            || !self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
        {
            return Err(format!(
                "num_attention_heads {} must be a positive multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.head_dim() == 0 || !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "head_dim {} must be even and positive",
                self.head_dim()
            ));
        }
        if self.sliding_window == 0 {
            return Err("sliding_window must be positive".into());
        }
        if self.num_quantizers < 2 {
            return Err(format!(
                "num_quantizers {} must be at least 2 (1 semantic + acoustic)",
                self.num_quantizers
            ));
        }
        if self.codebook_dim < 2 || !self.codebook_dim.is_multiple_of(2) {
            return Err(format!("codebook_dim {} must be even", self.codebook_dim));
        }
        let halvings = 1usize
            .checked_shl(self.upsample_rates.len() as u32)
            .unwrap_or(0);
        if halvings == 0
            || !self.decoder_dim.is_multiple_of(halvings)
            || self.decoder_dim < halvings
        {
            return Err(format!(
                "decoder_dim {} must be divisible by 2^{} (one halving per decoder block)",
                self.decoder_dim,
                self.upsample_rates.len()
            ));
        }
        if self.upsample_rates.contains(&0) || self.upsampling_ratios.contains(&0) {
            return Err("upsample_rates and upsampling_ratios must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_defaults_and_nesting() {
        let cfg = DecoderConfig::from_json(r#"{"decoder_config": {"codebook_dim": 512}}"#).unwrap();
        assert_eq!(cfg.total_upsample(), 1920);
        assert_eq!((cfg.head_dim(), cfg.sliding_window), (64, 72));
        assert!(DecoderConfig::from_json("{}")
            .unwrap_err()
            .contains("codebook_dim"));
    }

    #[test]
    fn rejects_what_is_not_implemented() {
        let gelu = r#"{"codebook_dim": 16, "hidden_act": "gelu"}"#;
        assert!(DecoderConfig::from_json(gelu).unwrap_err().contains("gelu"));
        let yarn = r#"{"codebook_dim": 16, "rope_scaling": {"rope_type": "yarn"}}"#;
        assert!(DecoderConfig::from_json(yarn).unwrap_err().contains("rope"));
    }
}

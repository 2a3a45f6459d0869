//! The code predictor (`Qwen3TTSTalkerCodePredictorModelForConditionalGeneration`):
//! a small Qwen3 decoder that predicts codes `1..num_code_groups` of a frame
//! from the talker's last hidden state and the frame's first code. Its
//! per-group embedding tables are talker-width; `small_to_mtp_projection`
//! brings its inputs to its own width.

use candle_core::{Module, Tensor};
use candle_nn::{embedding, linear, linear_no_bias, Embedding, Linear, VarBuilder};

use super::config::Qwen3TalkerConfig;
use super::layers::{DecoderStack, StackCache, StackDims};
use crate::{Error, Result};

/// The code predictor. Its key/value cache ([`Self::new_cache`]) is reset
/// for every frame.
#[derive(Debug, Clone)]
pub struct CodePredictor {
    /// `model.codec_embedding.J`: embeds code `J + 1` (talker width).
    codec_embedding: Vec<Embedding>,
    stack: DecoderStack,
    /// `lm_head.J`: scores code `J + 1`.
    lm_head: Vec<Linear>,
    /// `small_to_mtp_projection` (Linear+bias), `None` when the widths are
    /// equal (upstream's `Identity`).
    small_to_mtp_projection: Option<Linear>,
}

impl CodePredictor {
    /// Loads the predictor under `vb` (the `talker.code_predictor` prefix).
    pub fn new(cfg: &Qwen3TalkerConfig, vb: VarBuilder) -> Result<Self> {
        let cp = &cfg.code_predictor_config;
        let dims = StackDims {
            hidden_size: cp.hidden_size,
            intermediate_size: cp.intermediate_size,
            num_hidden_layers: cp.num_hidden_layers,
            num_attention_heads: cp.num_attention_heads,
            num_key_value_heads: cp.num_key_value_heads,
            head_dim: cp.head_dim,
            rms_norm_eps: cp.rms_norm_eps,
            rope_theta: cp.rope_theta,
        };
        let groups = cp.num_code_groups - 1;
        let model = vb.pp("model");
        let codec_embedding = (0..groups)
            .map(|j| {
                embedding(
                    cp.vocab_size,
                    cfg.hidden_size,
                    model.pp("codec_embedding").pp(j),
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let lm_head = (0..groups)
            .map(|j| linear_no_bias(cp.hidden_size, cp.vocab_size, vb.pp("lm_head").pp(j)))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let small_to_mtp_projection = if cp.hidden_size != cfg.hidden_size {
            Some(linear(
                cfg.hidden_size,
                cp.hidden_size,
                vb.pp("small_to_mtp_projection"),
            )?)
        } else {
            None
        };
        Ok(Self {
            codec_embedding,
            stack: DecoderStack::new(&dims, model)?,
            lm_head,
            small_to_mtp_projection,
        })
    }

    /// Number of codes it predicts per frame (`num_code_groups - 1`).
    pub fn num_groups(&self) -> usize {
        self.lm_head.len()
    }

    fn group(&self, j: usize) -> Result<()> {
        if j >= self.lm_head.len() {
            return Err(Error::InvalidArgument(format!(
                "code predictor group {j} out of range (0..{})",
                self.lm_head.len()
            )));
        }
        Ok(())
    }

    /// `codec_embedding.J`: codes `(B, T)` of group `j + 1` -> talker-width
    /// embeddings `(B, T, talker hidden)`.
    pub fn embed_codes(&self, j: usize, ids: &Tensor) -> Result<Tensor> {
        self.group(j)?;
        Ok(self.codec_embedding[j].forward(ids)?)
    }

    /// `small_to_mtp_projection`: `(B, T, talker hidden)` -> `(B, T, hidden)`.
    pub fn project(&self, embeds: &Tensor) -> Result<Tensor> {
        match &self.small_to_mtp_projection {
            Some(p) => Ok(p.forward(embeds)?),
            None => Ok(embeds.clone()),
        }
    }

    /// An empty key/value cache with room for a whole frame (the prefill of
    /// two positions and one per further code).
    pub fn new_cache(&self) -> StackCache {
        self.stack.new_cache(self.num_groups() + 1)
    }

    /// Projects talker-width input embeddings `(B, T, talker hidden)` and runs
    /// them at the positions after those in `cache`; returns the last hidden
    /// state after the final norm, `(B, T, hidden)`. Per frame upstream
    /// prefills `[talker last hidden, talker codec_embedding(c0)]`, then feeds
    /// `codec_embedding[j - 1](c_j)` one at a time.
    pub fn forward_embeds(&self, embeds: &Tensor, cache: &mut StackCache) -> Result<Tensor> {
        let x = self.project(embeds)?;
        self.stack.forward(&x, cache)
    }

    /// `lm_head.J`: hidden `(B, T, hidden)` -> logits of code `j + 1`,
    /// `(B, T, vocab_size)`.
    pub fn logits(&self, hidden: &Tensor, j: usize) -> Result<Tensor> {
        self.group(j)?;
        Ok(self.lm_head[j].forward(hidden)?)
    }
}

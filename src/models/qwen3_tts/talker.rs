//! The talker (`Qwen3TTSTalkerForConditionalGeneration` without its
//! generation loop): the text projection that brings text embeddings to the
//! talker width, the Qwen3 decoder fed input embeddings, and the codec head
//! that scores the first code of each frame.

use candle_core::{Module, Tensor};
use candle_nn::{embedding, linear, linear_no_bias, Embedding, Linear, VarBuilder};

use super::config::Qwen3TalkerConfig;
use super::layers::{DecoderStack, StackCache, StackDims};
use crate::Result;

/// `talker.model.text_embedding` followed by `talker.text_projection`
/// (`Qwen3TTSTalkerResizeMLP`: Linear+bias, SiLU, Linear+bias), text ids
/// -> `(B, T, hidden_size)`.
#[derive(Debug, Clone)]
pub struct TextProjection {
    text_embedding: Embedding,
    linear_fc1: Linear,
    linear_fc2: Linear,
}

impl TextProjection {
    /// Loads `model.text_embedding` and `text_projection.linear_fc{1,2}`
    /// under `vb` (the `talker` prefix).
    pub fn new(cfg: &Qwen3TalkerConfig, vb: VarBuilder) -> Result<Self> {
        let th = cfg.text_hidden_size;
        Ok(Self {
            text_embedding: embedding(
                cfg.text_vocab_size,
                th,
                vb.pp("model").pp("text_embedding"),
            )?,
            linear_fc1: linear(th, th, vb.pp("text_projection").pp("linear_fc1"))?,
            linear_fc2: linear(
                th,
                cfg.hidden_size,
                vb.pp("text_projection").pp("linear_fc2"),
            )?,
        })
    }

    /// Text ids `(B, T)` -> text embeddings `(B, T, text_hidden_size)`.
    pub fn embed(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(self.text_embedding.forward(ids)?)
    }

    /// The projection MLP alone, `(B, T, text_hidden_size)` -> `(B, T, hidden_size)`.
    pub fn project(&self, embeds: &Tensor) -> Result<Tensor> {
        let h = candle_nn::ops::silu(&self.linear_fc1.forward(embeds)?)?;
        Ok(self.linear_fc2.forward(&h)?)
    }

    /// Text ids `(B, T)` -> talker-width embeddings `(B, T, hidden_size)`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        self.project(&self.embed(ids)?)
    }
}

/// The talker decoder: `talker.model.{codec_embedding, layers, norm}` and
/// `talker.codec_head`. Its key/value cache is a [`StackCache`] per
/// utterance ([`Self::new_cache`]).
#[derive(Debug, Clone)]
pub struct Talker {
    codec_embedding: Embedding,
    stack: DecoderStack,
    codec_head: Linear,
}

impl Talker {
    /// Loads the talker under `vb` (the `talker` prefix).
    pub fn new(cfg: &Qwen3TalkerConfig, vb: VarBuilder) -> Result<Self> {
        let dims = StackDims {
            hidden_size: cfg.hidden_size,
            intermediate_size: cfg.intermediate_size,
            num_hidden_layers: cfg.num_hidden_layers,
            num_attention_heads: cfg.num_attention_heads,
            num_key_value_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim(),
            rms_norm_eps: cfg.rms_norm_eps,
            rope_theta: cfg.rope_theta,
        };
        let model = vb.pp("model");
        Ok(Self {
            codec_embedding: embedding(
                cfg.vocab_size,
                cfg.hidden_size,
                model.pp("codec_embedding"),
            )?,
            stack: DecoderStack::new(&dims, model)?,
            codec_head: linear_no_bias(cfg.hidden_size, cfg.vocab_size, vb.pp("codec_head"))?,
        })
    }

    /// Codec ids `(B, T)` -> embeddings `(B, T, hidden_size)`.
    pub fn embed_codes(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(self.codec_embedding.forward(ids)?)
    }

    /// An empty key/value cache with room for `capacity` positions before
    /// it grows.
    pub fn new_cache(&self, capacity: usize) -> StackCache {
        self.stack.new_cache(capacity)
    }

    /// Runs input embeddings `(B, T, hidden_size)` at the positions after
    /// those in `cache` and returns the last hidden state after the final
    /// norm, `(B, T, hidden_size)`.
    pub fn forward_embeds(&self, embeds: &Tensor, cache: &mut StackCache) -> Result<Tensor> {
        self.stack.forward(embeds, cache)
    }

    /// [`Self::forward_embeds`], also returning each layer's output (before
    /// the final norm).
    pub fn forward_embeds_traced(
        &self,
        embeds: &Tensor,
        cache: &mut StackCache,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        self.stack.forward_traced(embeds, cache, true)
    }

    /// `codec_head`: hidden `(B, T, hidden_size)` -> logits `(B, T, vocab_size)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.codec_head.forward(hidden)?)
    }
}

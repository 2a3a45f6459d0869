//! The pre-transformer (`Qwen3TTSTokenizerV2DecoderTransformerModel`):
//! `input_proj`, Llama-style layers with sliding-window causal attention,
//! RoPE and LayerScale on both residual branches, final RMSNorm,
//! `output_proj`. Activations are `(B, T, C)`.
//!
//! Streaming ([`PreTransformer::step`]) keeps, per layer, the keys and
//! values of the last `sliding_window - 1` positions: all a new position
//! can see. Positions keep counting across chunks for the rope. The
//! whole-clip [`PreTransformer::forward`] runs the same path in blocks of
//! [`ATTENTION_BLOCK`] frames, so a long clip never builds a `T x T` mask
//! or score matrix.

use candle_core::{Device, Module, Tensor};
use candle_nn::{linear, linear_b, Linear, RmsNorm, VarBuilder};

use super::config::DecoderConfig;
use crate::models::qwen3_tts::layers::{grouped_attention, rope_tables, Mlp};
use crate::Result;

/// Frames per block of the whole-clip forward: big enough that the
/// matmuls stay efficient, small enough that the `(T, cached + T)` scores
/// stay small for long clips.
pub const ATTENTION_BLOCK: usize = 256;

/// The additive mask `(t, cached + t)` for `t` new queries after `cached`
/// keys: query `i` (key index `cached + i`) sees keys `j` with
/// `cached + i - window < j <= cached + i` (transformers' sliding-window
/// causal mask).
fn sliding_window_mask(cached: usize, t: usize, window: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (cached..cached + t)
        .flat_map(|i| {
            (0..cached + t).map(move |j| {
                if j <= i && j + window > i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (t, cached + t), device)?)
}

/// One layer's keys and values of the last `sliding_window - 1`
/// positions, after the rope.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// `(B, KV heads, L, head_dim)` each; `None` at the start.
    kv: Option<(Tensor, Tensor)>,
}

impl KvCache {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.kv = None;
    }

    /// The cached keys/values followed by `k`/`v` (the keys the new
    /// queries attend over); keeps the last `keep` of them.
    fn append(&mut self, k: Tensor, v: Tensor, keep: usize) -> Result<(Tensor, Tensor)> {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
            None => (k, v),
        };
        let len = k.dim(2)?;
        let keep = keep.min(len);
        if keep > 0 {
            // Copies, so the cache does not pin the whole chunk.
            let last = |y: &Tensor| y.narrow(2, len - keep, keep)?.contiguous();
            self.kv = Some((last(&k)?, last(&v)?));
        }
        Ok((k, v))
    }
}

/// Multi-head attention with grouped key/value heads, no q/k norm.
#[derive(Debug, Clone)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Loads `self_attn.{q,k,v,o}_proj`.
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let (h, kv, d) = (
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim(),
        );
        let bias = cfg.attention_bias;
        Ok(Self {
            q_proj: linear_b(cfg.hidden_size, h * d, bias, vb.pp("q_proj"))?,
            k_proj: linear_b(cfg.hidden_size, kv * d, bias, vb.pp("k_proj"))?,
            v_proj: linear_b(cfg.hidden_size, kv * d, bias, vb.pp("v_proj"))?,
            o_proj: linear_b(h * d, cfg.hidden_size, bias, vb.pp("o_proj"))?,
            num_heads: h,
            num_kv_heads: kv,
            head_dim: d,
        })
    }

    /// `(B, T, C)` -> `(B, T, C)`; `cos`/`sin` `(T, head_dim / 2)`, `mask`
    /// `(T, T)` additive.
    pub fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (q, k, v) = self.qkv(x, cos, sin)?;
        let y = grouped_attention(&q, &k, &v, Some(mask))?;
        Ok(self.o_proj.forward(&y)?)
    }

    /// Streaming twin of [`Self::forward`]: the `T` new positions attend
    /// over the cached ones and themselves; `cos`/`sin` are those of the
    /// new positions, `mask` `(T, cached + T)` (`None`: all visible), and
    /// `cache` keeps the last `keep` keys/values.
    pub fn step(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
        keep: usize,
    ) -> Result<Tensor> {
        let (q, k, v) = self.qkv(x, cos, sin)?;
        let (k, v) = cache.append(k, v, keep)?;
        let y = grouped_attention(&q, &k, &v, mask)?;
        Ok(self.o_proj.forward(&y)?)
    }

    /// Queries, keys (both roped) and values, `(B, heads, T, head_dim)`.
    fn qkv(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (b, t, _) = x.dims3()?;
        let d = self.head_dim;
        // (B, T, H*D) -> (B, H, T, D)
        let heads = |y: Tensor, n: usize| -> Result<Tensor> {
            Ok(y.reshape((b, t, n, d))?.transpose(1, 2)?.contiguous()?)
        };
        let q = heads(self.q_proj.forward(x)?, self.num_heads)?;
        let k = heads(self.k_proj.forward(x)?, self.num_kv_heads)?;
        let v = heads(self.v_proj.forward(x)?, self.num_kv_heads)?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        Ok((q, k, v))
    }
}

/// One layer: `x + s1 * attn(norm1(x))`, then `x + s2 * mlp(norm2(x))`.
#[derive(Debug, Clone)]
pub struct TransformerLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    /// `self_attn_layer_scale.scale`, `(C,)`.
    attn_scale: Tensor,
    /// `mlp_layer_scale.scale`, `(C,)`.
    mlp_scale: Tensor,
}

impl TransformerLayer {
    /// Loads `layers.N`.
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            self_attn: Attention::new(cfg, vb.pp("self_attn"))?,
            mlp: Mlp::new(cfg.hidden_size, cfg.intermediate_size, vb.pp("mlp"))?,
            input_layernorm: candle_nn::rms_norm(h, cfg.rms_norm_eps, vb.pp("input_layernorm"))?,
            post_attention_layernorm: candle_nn::rms_norm(
                h,
                cfg.rms_norm_eps,
                vb.pp("post_attention_layernorm"),
            )?,
            attn_scale: vb.pp("self_attn_layer_scale").get(h, "scale")?,
            mlp_scale: vb.pp("mlp_layer_scale").get(h, "scale")?,
        })
    }

    /// `(B, T, C)` -> `(B, T, C)`.
    pub fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let a = self
            .self_attn
            .forward(&self.input_layernorm.forward(x)?, cos, sin, mask)?;
        self.finish(x, &a)
    }

    /// Streaming twin of [`Self::forward`] (see [`Attention::step`]).
    pub fn step(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
        keep: usize,
    ) -> Result<Tensor> {
        let a = self.self_attn.step(
            &self.input_layernorm.forward(x)?,
            cos,
            sin,
            mask,
            cache,
            keep,
        )?;
        self.finish(x, &a)
    }

    /// The attention residual `a`, then the MLP branch.
    fn finish(&self, x: &Tensor, a: &Tensor) -> Result<Tensor> {
        let x = (x + a.broadcast_mul(&self.attn_scale)?)?;
        let m = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x)?)?;
        Ok((&x + m.broadcast_mul(&self.mlp_scale)?)?)
    }
}

/// The pre-transformer's streaming state: each layer's window of keys
/// and values, and the position of the next frame (for the rope).
#[derive(Debug, Clone)]
pub struct TransformerState {
    layers: Vec<KvCache>,
    position: usize,
}

impl TransformerState {
    /// Frames seen so far (the position of the next one).
    pub fn position(&self) -> usize {
        self.position
    }

    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.layers.iter_mut().for_each(KvCache::reset);
        self.position = 0;
    }
}

/// The whole pre-transformer, latent width in and out.
#[derive(Debug, Clone)]
pub struct PreTransformer {
    input_proj: Linear,
    layers: Vec<TransformerLayer>,
    norm: RmsNorm,
    output_proj: Linear,
    cfg: DecoderConfig,
}

impl PreTransformer {
    /// Loads `pre_transformer`.
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| TransformerLayer::new(cfg, vb.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            input_proj: linear(cfg.latent_dim, cfg.hidden_size, vb.pp("input_proj"))?,
            layers,
            norm: candle_nn::rms_norm(cfg.hidden_size, cfg.rms_norm_eps, vb.pp("norm"))?,
            output_proj: linear(cfg.hidden_size, cfg.latent_dim, vb.pp("output_proj"))?,
            cfg: cfg.clone(),
        })
    }

    /// `input_proj`: `(B, T, latent)` -> `(B, T, hidden)`.
    pub fn input_proj(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.input_proj.forward(x)?)
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerLayer] {
        &self.layers
    }

    /// The rotary tables and mask for a clip of `t` frames starting at
    /// position 0: what [`TransformerLayer::forward`] takes.
    pub fn position_inputs(&self, t: usize, device: &Device) -> Result<(Tensor, Tensor, Tensor)> {
        let (cos, sin) = rope_tables(self.cfg.head_dim(), self.cfg.rope_theta, 0, t, device)?;
        let mask = sliding_window_mask(0, t, self.cfg.sliding_window, device)?;
        Ok((cos, sin, mask))
    }

    /// Final RMSNorm and `output_proj`: `(B, T, hidden)` -> `(B, T, latent)`.
    pub fn output(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.output_proj.forward(&self.norm.forward(x)?)?)
    }

    /// A state at the start of a stream.
    pub fn new_state(&self) -> TransformerState {
        TransformerState {
            layers: vec![KvCache::default(); self.layers.len()],
            position: 0,
        }
    }

    /// `(B, T, latent)` -> `(B, T, latent)`, in blocks of
    /// [`ATTENTION_BLOCK`] frames (one block for short clips: the plain
    /// masked forward).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, t, _) = x.dims3()?;
        let mut state = self.new_state();
        if t <= ATTENTION_BLOCK {
            return self.step(x, &mut state);
        }
        let blocks = (0..t)
            .step_by(ATTENTION_BLOCK)
            .map(|s| self.step(&x.narrow(1, s, ATTENTION_BLOCK.min(t - s))?, &mut state))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::cat(&blocks, 1)?)
    }

    /// Streaming twin of [`Self::forward`]: the next `T` frames of a
    /// stream, `(B, T, latent)` -> `(B, T, latent)`.
    pub fn step(&self, x: &Tensor, state: &mut TransformerState) -> Result<Tensor> {
        let (_, t, _) = x.dims3()?;
        let (dtype, device) = (x.dtype(), x.device());
        let window = self.cfg.sliding_window;
        let start = state.position;
        let (cos, sin) = rope_tables(self.cfg.head_dim(), self.cfg.rope_theta, start, t, device)?;
        let (cos, sin) = (cos.to_dtype(dtype)?, sin.to_dtype(dtype)?);
        // A single new frame sees all the (at most window - 1) cached ones.
        let cached = start.min(window - 1);
        let mask = if t > 1 {
            Some(sliding_window_mask(cached, t, window, device)?.to_dtype(dtype)?)
        } else {
            None
        };
        let mut h = self.input_proj(x)?;
        for (layer, cache) in self.layers.iter().zip(&mut state.layers) {
            h = layer.step(&h, &cos, &sin, mask.as_ref(), cache, window - 1)?;
        }
        state.position += t;
        self.output(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_is_a_causal_band() {
        let m = sliding_window_mask(0, 5, 2, &Device::Cpu).unwrap();
        let m: Vec<Vec<f32>> = m.to_vec2().unwrap();
        for (i, row) in m.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                assert_eq!(v == 0.0, j <= i && i - j < 2, "({i}, {j})");
            }
        }
    }

    #[test]
    fn mask_after_cached_keys_is_the_band_rows_below() {
        // 3 cached keys, 4 new queries, window 3: the last 4 rows of the
        // (7, 7) band.
        let full: Vec<Vec<f32>> = sliding_window_mask(0, 7, 3, &Device::Cpu)
            .unwrap()
            .to_vec2()
            .unwrap();
        let part: Vec<Vec<f32>> = sliding_window_mask(3, 4, 3, &Device::Cpu)
            .unwrap()
            .to_vec2()
            .unwrap();
        assert_eq!(part, full[3..]);
    }
}

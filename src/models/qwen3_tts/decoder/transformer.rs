//! The pre-transformer (`Qwen3TTSTokenizerV2DecoderTransformerModel`):
//! `input_proj`, Llama-style layers with sliding-window causal attention,
//! RoPE and LayerScale on both residual branches, final RMSNorm,
//! `output_proj`. Activations are `(B, T, C)`.

use candle_core::{Device, Module, Tensor};
use candle_nn::{linear, linear_b, Linear, RmsNorm, VarBuilder};

use super::config::DecoderConfig;
use crate::models::qwen3_tts::layers::{grouped_attention, rope_tables, Mlp};
use crate::Result;

/// The additive mask `(t, t)`: query `i` sees keys `j` with
/// `i - window < j <= i` (transformers' sliding-window causal mask).
fn sliding_window_mask(t: usize, window: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..t).map(move |j| {
                if j <= i && j + window > i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (t, t), device)?)
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
        let y = grouped_attention(&q, &k, &v, Some(mask))?;
        Ok(self.o_proj.forward(&y)?)
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
        let x = (x + a.broadcast_mul(&self.attn_scale)?)?;
        let m = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x)?)?;
        Ok((&x + m.broadcast_mul(&self.mlp_scale)?)?)
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
        let mask = sliding_window_mask(t, self.cfg.sliding_window, device)?;
        Ok((cos, sin, mask))
    }

    /// Final RMSNorm and `output_proj`: `(B, T, hidden)` -> `(B, T, latent)`.
    pub fn output(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.output_proj.forward(&self.norm.forward(x)?)?)
    }

    /// `(B, T, latent)` -> `(B, T, latent)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, t, _) = x.dims3()?;
        let dtype = x.dtype();
        let (cos, sin, mask) = self.position_inputs(t, x.device())?;
        let (cos, sin, mask) = (
            cos.to_dtype(dtype)?,
            sin.to_dtype(dtype)?,
            mask.to_dtype(dtype)?,
        );
        let mut h = self.input_proj(x)?;
        for layer in &self.layers {
            h = layer.forward(&h, &cos, &sin, &mask)?;
        }
        self.output(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_is_a_causal_band() {
        let m = sliding_window_mask(5, 2, &Device::Cpu).unwrap();
        let m: Vec<Vec<f32>> = m.to_vec2().unwrap();
        for (i, row) in m.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                assert_eq!(v == 0.0, j <= i && i - j < 2, "({i}, {j})");
            }
        }
    }
}

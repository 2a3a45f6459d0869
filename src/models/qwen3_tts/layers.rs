//! The Qwen3 decoder stack shared by the talker and the code predictor
//! (`Qwen3TTSTalkerDecoderLayer` / `Qwen3TTSDecoderLayer`): pre-norm layers
//! with per-head q/k RMSNorm, rotary embedding, grouped-query causal
//! attention, a SwiGLU MLP, no biases; then a final RMSNorm. It takes input
//! embeddings, `(B, T, C)`.
//!
//! The key/value cache lives outside the network ([`StackCache`], one per
//! utterance in flight), so one loaded model serves several streams and a
//! cached prompt prefix can be copied into a new utterance.

use candle_core::{Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;
use candle_nn::{linear_no_bias, Linear, RmsNorm, VarBuilder};

use crate::{Error, Result};

/// The dimensions of one stack (talker or code predictor).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StackDims {
    /// Residual width.
    pub hidden_size: usize,
    /// Hidden width of the gated MLP.
    pub intermediate_size: usize,
    /// Layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads.
    pub num_key_value_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Epsilon of all RMSNorms.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
}

/// The rotary table for positions `start..start + t`: `(cos, sin)`, each
/// `(t, head_dim / 2)`.
///
/// Upstream (transformers' default rope init, then the talker's rotary
/// embedding): `inv_freq = 1 / theta^(2i / dim)` and `freqs = pos * inv_freq`,
/// all in f32. The talker's interleaved mrope takes frequency `i` from
/// position row `i % 3` (for `i` below `3 * mrope_section[k]`), but its three
/// rows are equal for speech, so every frequency sees the same position:
/// plain 1-D rope with the usual rotate-half layout.
///
/// Also the tokenizer decoder's pre-transformer table (`start` 0).
pub(crate) fn rope_tables(
    head_dim: usize,
    rope_theta: f64,
    start: usize,
    t: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let dim = head_dim;
    let half = dim / 2;
    // f32 throughout, as upstream (the rounding of large angles is part of
    // the reference)
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / (rope_theta as f32).powf((2 * i) as f32 / dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(t * half);
    let mut sin = Vec::with_capacity(t * half);
    for p in start..start + t {
        for &f in &inv_freq {
            let angle = f64::from(p as f32 * f);
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    Ok((
        Tensor::from_vec(cos, (t, half), device)?,
        Tensor::from_vec(sin, (t, half), device)?,
    ))
}

/// The additive causal mask `(t, start + t)` for `t` new queries after
/// `start` cached positions: query `i` sees keys `j <= start + i`.
fn causal_mask(start: usize, t: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..start + t).map(move |j| {
                if j <= start + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Tensor::from_vec(mask, (t, start + t), device)?)
}

/// Self-attention with q/k RMSNorm per head, rope, grouped key/value heads
/// over the new positions and those in a [`KvCache`].
#[derive(Debug, Clone)]
pub struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Loads `self_attn.{q,k,v,o}_proj` and `self_attn.{q,k}_norm`.
    pub fn new(dims: &StackDims, vb: VarBuilder) -> Result<Self> {
        let (c, h, kv, d) = (
            dims.hidden_size,
            dims.num_attention_heads,
            dims.num_key_value_heads,
            dims.head_dim,
        );
        Ok(Self {
            q_proj: linear_no_bias(c, h * d, vb.pp("q_proj"))?,
            k_proj: linear_no_bias(c, kv * d, vb.pp("k_proj"))?,
            v_proj: linear_no_bias(c, kv * d, vb.pp("v_proj"))?,
            o_proj: linear_no_bias(h * d, c, vb.pp("o_proj"))?,
            q_norm: candle_nn::rms_norm(d, dims.rms_norm_eps, vb.pp("q_norm"))?,
            k_norm: candle_nn::rms_norm(d, dims.rms_norm_eps, vb.pp("k_norm"))?,
            num_heads: h,
            num_kv_heads: kv,
            head_dim: d,
        })
    }

    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3()?;
        let d = self.head_dim;
        // (B, T, N*D) -> (B, T, N, D), norm over D, -> (B, N, T, D)
        let q = self.q_proj.forward(x)?.reshape((b, t, self.num_heads, d))?;
        let k = self
            .k_proj
            .forward(x)?
            .reshape((b, t, self.num_kv_heads, d))?;
        let v = self
            .v_proj
            .forward(x)?
            .reshape((b, t, self.num_kv_heads, d))?;
        let q = self.q_norm.forward(&q)?.transpose(1, 2)?.contiguous()?;
        let k = self.k_norm.forward(&k)?.transpose(1, 2)?.contiguous()?;
        let v = v.transpose(1, 2)?.contiguous()?;
        let q = candle_nn::rotary_emb::rope(&q, cos, sin)?;
        let k = candle_nn::rotary_emb::rope(&k, cos, sin)?;
        // keys and values of all positions so far, `(B, KV, S, D)`
        let (k, v) = cache.append(&k, &v)?;
        let y = grouped_attention(&q, &k, &v, mask)?;
        Ok(self.o_proj.forward(&y)?)
    }
}

/// Scaled dot-product attention with grouped key/value heads: `q` `(B, H,
/// T, D)`, `k`, `v` `(B, KV, S, D)` with `KV` dividing `H` (each key/value
/// head serves `H / KV` consecutive query heads, upstream's `repeat_kv`),
/// `mask` additive and broadcast to `(B, H, T, S)`. Returns `(B, T, H * D)`,
/// the heads merged for the output projection.
pub(crate) fn grouped_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (b, heads, t, d) = q.dims4()?;
    let (_, kv_heads, s, _) = k.dims4()?;
    let rep = heads / kv_heads;
    let expand = |y: &Tensor| -> Result<Tensor> {
        if rep == 1 {
            return Ok(y.clone());
        }
        Ok(y.unsqueeze(2)?
            .expand((b, kv_heads, rep, s, d))?
            .reshape((b, heads, s, d))?)
    };
    let (k, v) = (expand(k)?, expand(v)?);
    let scale = 1.0 / (d as f64).sqrt();
    let mut scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
    if let Some(mask) = mask {
        scores = scores.broadcast_add(mask)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let y = probs.matmul(&v.contiguous()?)?;
    // (B, H, T, D) -> (B, T, H*D)
    Ok(y.transpose(1, 2)?.reshape((b, t, ()))?)
}

/// The gated MLP, `down(silu(gate(x)) * up(x))`, no biases.
#[derive(Debug, Clone)]
pub struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

impl Mlp {
    /// Loads `mlp.{gate,up,down}_proj`: width `h`, hidden width `i`.
    pub fn new(h: usize, i: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gate_proj: linear_no_bias(h, i, vb.pp("gate_proj"))?,
            up_proj: linear_no_bias(h, i, vb.pp("up_proj"))?,
            down_proj: linear_no_bias(i, h, vb.pp("down_proj"))?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate_proj.forward(x)?)?;
        self.down_proj.forward(&(gate * self.up_proj.forward(x)?)?)
    }
}

/// One pre-norm layer: `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    self_attn: Attention,
    mlp: Mlp,
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    /// Loads `layers.N`.
    pub fn new(dims: &StackDims, vb: VarBuilder) -> Result<Self> {
        let (h, eps) = (dims.hidden_size, dims.rms_norm_eps);
        Ok(Self {
            self_attn: Attention::new(dims, vb.pp("self_attn"))?,
            mlp: Mlp::new(dims.hidden_size, dims.intermediate_size, vb.pp("mlp"))?,
            input_layernorm: candle_nn::rms_norm(h, eps, vb.pp("input_layernorm"))?,
            post_attention_layernorm: candle_nn::rms_norm(
                h,
                eps,
                vb.pp("post_attention_layernorm"),
            )?,
        })
    }

    /// `(B, T, C)` -> `(B, T, C)` (see [`Attention::forward`]).
    pub fn forward(
        &self,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let a = self
            .self_attn
            .forward(&self.input_layernorm.forward(x)?, cos, sin, mask, cache)?;
        let x = (x + a)?;
        let m = self
            .mlp
            .forward(&self.post_attention_layernorm.forward(&x)?)?;
        Ok((&x + m)?)
    }
}

/// The key/value cache of one utterance through one [`DecoderStack`]: a
/// preallocated buffer per layer, grown by `capacity` positions when full.
///
/// Not `Clone`: candle's cache writes into its buffer in place, so a shallow
/// copy would share it; [`StackCache::fork`] makes a real copy.
#[derive(Debug)]
pub struct StackCache {
    layers: Vec<KvCache>,
    capacity: usize,
}

impl StackCache {
    fn new(num_layers: usize, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            layers: (0..num_layers).map(|_| KvCache::new(2, capacity)).collect(),
            capacity,
        }
    }

    /// Positions held (the position of the next input).
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |c| c.current_seq_len())
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position (a new utterance); the buffers stay allocated.
    pub fn reset(&mut self) {
        for c in &mut self.layers {
            c.reset();
        }
    }

    /// An independent copy holding the same positions: a cached prompt
    /// prefix continued by each sentence without recomputing it.
    pub fn fork(&self) -> Result<Self> {
        self.fork_with_capacity(self.capacity)
    }

    /// [`Self::fork`] into buffers of `capacity` positions (at least the
    /// positions held), grown by as much when full: a compact prefix
    /// continued by a long utterance.
    pub fn fork_with_capacity(&self, capacity: usize) -> Result<Self> {
        let mut copy = Self::new(self.layers.len(), capacity.max(self.len()));
        for (dst, src) in copy.layers.iter_mut().zip(&self.layers) {
            if let (Some(k), Some(v)) = (src.k()?, src.v()?) {
                dst.append(&k.contiguous()?, &v.contiguous()?)?;
            }
        }
        Ok(copy)
    }
}

/// The layers and the final norm.
#[derive(Debug, Clone)]
pub struct DecoderStack {
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    dims: StackDims,
}

impl DecoderStack {
    /// Loads `layers.N` and `norm` under `vb` (`talker.model` or
    /// `talker.code_predictor.model`).
    pub fn new(dims: &StackDims, vb: VarBuilder) -> Result<Self> {
        let layers = (0..dims.num_hidden_layers)
            .map(|i| DecoderLayer::new(dims, vb.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            norm: candle_nn::rms_norm(dims.hidden_size, dims.rms_norm_eps, vb.pp("norm"))?,
            dims: *dims,
        })
    }

    /// An empty cache for this stack with room for `capacity` positions
    /// before it grows.
    pub fn new_cache(&self, capacity: usize) -> StackCache {
        StackCache::new(self.layers.len(), capacity)
    }

    /// Runs `(B, T, C)` input embeddings at the positions after those in
    /// `cache` (which then holds them too) and returns the last hidden state
    /// after the final norm, plus each layer's output (before the norm) when
    /// `keep_layers`.
    pub fn forward_traced(
        &self,
        embeds: &Tensor,
        cache: &mut StackCache,
        keep_layers: bool,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        if cache.layers.len() != self.layers.len() {
            return Err(Error::InvalidArgument(format!(
                "a cache of {} layers for a stack of {}",
                cache.layers.len(),
                self.layers.len()
            )));
        }
        let (_, t, c) = embeds.dims3()?;
        if c != self.dims.hidden_size {
            return Err(Error::InvalidArgument(format!(
                "input embeddings are {c} wide, the stack {}",
                self.dims.hidden_size
            )));
        }
        let start_pos = cache.len();
        let dtype = embeds.dtype();
        let dev = embeds.device();
        let (cos, sin) = rope_tables(self.dims.head_dim, self.dims.rope_theta, start_pos, t, dev)?;
        let (cos, sin) = (cos.to_dtype(dtype)?, sin.to_dtype(dtype)?);
        let mask = if t > 1 {
            Some(causal_mask(start_pos, t, dev)?.to_dtype(dtype)?)
        } else {
            None
        };
        let mut h = embeds.clone();
        let mut outs = Vec::new();
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            h = layer.forward(&h, &cos, &sin, mask.as_ref(), kv)?;
            if keep_layers {
                outs.push(h.clone());
            }
        }
        Ok((self.norm.forward(&h)?, outs))
    }

    /// [`Self::forward_traced`] without the per-layer outputs.
    pub fn forward(&self, embeds: &Tensor, cache: &mut StackCache) -> Result<Tensor> {
        Ok(self.forward_traced(embeds, cache, false)?.0)
    }
}

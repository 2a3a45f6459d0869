//! One transformer block: `DiTBlock`, `AdaLayerNorm` (adaLN-Zero),
//! `Attention` with `AttnProcessor`, and `FeedForward` of upstream
//! `model/modules.py`; plus the rotary embedding of `x_transformers`.
//!
//! Everything a block derives from the flow time alone (the six modulation
//! vectors of adaLN-Zero) is split off into [`BlockModulation`], so a
//! sampler computes it once per step schedule rather than once per forward.

use std::sync::Arc;

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Linear, RmsNorm, VarBuilder};
use rayon::prelude::*;

use super::config::{DitConfig, QkNorm};
use crate::nn::activation::gelu_tanh;
use crate::nn::attention::{attention_with_lengths, key_bias, row_mask};
use crate::nn::cuda_attention::fused_attention;
use crate::nn::norm::{gated_residual, modulated_layer_norm};

/// Epsilon of every LayerNorm in the blocks (affine-free, as upstream).
pub const LAYER_NORM_EPS: f64 = 1e-6;
/// Base of the rotary frequencies.
const ROPE_THETA: f32 = 10000.0;

/// LayerNorm without learned parameters over the last axis, statistics in
/// f32.
#[derive(Debug, Clone)]
pub struct PlainLayerNorm {
    ones: Tensor,
    zeros: Tensor,
}

impl PlainLayerNorm {
    /// A norm over `dim` channels for tensors of `dtype` on `device`.
    pub fn new(dim: usize, dtype: DType, device: &Device) -> Result<Self> {
        Ok(Self {
            ones: Tensor::ones(dim, dtype, device)?,
            zeros: Tensor::zeros(dim, dtype, device)?,
        })
    }

    /// `norm(x) * scale + shift` with `scale`, `shift` `(B or 1, 1, dim)`:
    /// one fused pass on the CPU.
    pub fn forward_modulated(&self, x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() {
            return modulated_layer_norm(x, scale, shift, LAYER_NORM_EPS as f32);
        }
        self.forward(x)?.broadcast_mul(scale)?.broadcast_add(shift)
    }
}

impl Module for PlainLayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(
            &x.contiguous()?,
            &self.ones,
            &self.zeros,
            LAYER_NORM_EPS as f32,
        )
    }
}

/// The cos and sin tables of the rotary embedding for one sequence length:
/// `(N, dim_head / 2)` in f32, positions `0..N`, frequencies
/// `10000^(-2i / dim_head)` applied to interleaved channel pairs.
#[derive(Debug, Clone)]
pub struct Rotary {
    cos: Tensor,
    sin: Tensor,
    /// The same tables as host vectors, for the CPU path.
    host: Arc<(Vec<f32>, Vec<f32>)>,
}

impl Rotary {
    /// The tables for positions `0..seq_len`.
    pub fn new(dim_head: usize, seq_len: usize, device: &Device) -> Result<Self> {
        let half = dim_head / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / ROPE_THETA.powf((2 * i) as f32 / dim_head as f32))
            .collect();
        let mut cos = Vec::with_capacity(seq_len * half);
        let mut sin = Vec::with_capacity(seq_len * half);
        for p in 0..seq_len {
            for &f in &inv {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok(Self {
            cos: Tensor::from_slice(&cos, (seq_len, half), device)?,
            sin: Tensor::from_slice(&sin, (seq_len, half), device)?,
            host: Arc::new((cos, sin)),
        })
    }

    /// `x` `(B, N, heads * dim_head)` (f32, CPU) with its first `rotated`
    /// heads rotated, everything times `scale`: the heads stay where the
    /// projection wrote them, no transposes.
    fn apply_heads_last(
        &self,
        x: &Tensor,
        heads: usize,
        rotated: usize,
        scale: f32,
    ) -> Result<Tensor> {
        let (_, n, width) = x.dims3()?;
        let (cos, sin) = &*self.host;
        let d = width / heads;
        let half = d / 2;
        if cos.len() < n * half {
            candle_core::bail!(
                "rotary tables for {} positions, not {n}",
                cos.len() / half.max(1)
            );
        }
        let mut data = x.flatten_all()?.to_vec1::<f32>()?;
        data.par_chunks_mut(width).enumerate().for_each(|(r, row)| {
            let pos = r % n;
            let (c, s) = (&cos[pos * half..][..half], &sin[pos * half..][..half]);
            for (hi, head) in row.chunks_exact_mut(d).enumerate() {
                if hi < rotated {
                    for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(c).zip(s) {
                        let (x0, x1) = (pair[0], pair[1]);
                        pair[0] = (x0 * c - x1 * s) * scale;
                        pair[1] = (x0 * s + x1 * c) * scale;
                    }
                } else {
                    head.iter_mut().for_each(|v| *v *= scale);
                }
            }
        });
        Tensor::from_vec(data, x.shape(), x.device())
    }

    /// Rotates `(B, H, N, D)` in f32 (as upstream, whatever `x`'s dtype);
    /// the result stays f32.
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        candle_nn::rotary_emb::rope_i(&x, &self.cos, &self.sin)
    }
}

/// The adaLN-Zero modulation of one block at one flow time: shapes
/// `(1 or B, 1, dim)`, scales stored as `1 + scale`.
#[derive(Debug, Clone)]
pub struct BlockModulation {
    shift_msa: Tensor,
    scale_msa: Tensor,
    gate_msa: Tensor,
    shift_mlp: Tensor,
    scale_mlp: Tensor,
    gate_mlp: Tensor,
}

impl BlockModulation {
    /// The rows of several modulations stacked into one batch, in order.
    pub fn cat(parts: &[&BlockModulation]) -> Result<Self> {
        let c = |f: fn(&BlockModulation) -> &Tensor| {
            Tensor::cat(&parts.iter().map(|m| f(m)).collect::<Vec<_>>(), 0)
        };
        Ok(Self {
            shift_msa: c(|m| &m.shift_msa)?,
            scale_msa: c(|m| &m.scale_msa)?,
            gate_msa: c(|m| &m.gate_msa)?,
            shift_mlp: c(|m| &m.shift_mlp)?,
            scale_mlp: c(|m| &m.scale_mlp)?,
            gate_mlp: c(|m| &m.gate_mlp)?,
        })
    }

    /// Row `i` of a batched modulation (one flow time of a schedule).
    pub fn row(&self, i: usize) -> Result<Self> {
        let r = |t: &Tensor| t.narrow(0, i, 1);
        Ok(Self {
            shift_msa: r(&self.shift_msa)?,
            scale_msa: r(&self.scale_msa)?,
            gate_msa: r(&self.gate_msa)?,
            shift_mlp: r(&self.shift_mlp)?,
            scale_mlp: r(&self.scale_mlp)?,
            gate_mlp: r(&self.gate_mlp)?,
        })
    }
}

/// `attn_norm`: LayerNorm modulated by six vectors from `SiLU(t)`.
#[derive(Debug, Clone)]
pub struct AdaLayerNormZero {
    /// `linear`: `dim -> 6 * dim`.
    linear: Linear,
    norm: PlainLayerNorm,
    dim: usize,
}

impl AdaLayerNormZero {
    /// Loads `linear` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            linear: candle_nn::linear(dim, dim * 6, vb.pp("linear"))?,
            norm: PlainLayerNorm::new(dim, vb.dtype(), vb.device())?,
            dim,
        })
    }

    /// The six modulation vectors for a time embedding `(B, dim)`.
    pub fn modulation(&self, t_emb: &Tensor) -> Result<BlockModulation> {
        let emb = self.linear.forward(&candle_nn::ops::silu(t_emb)?)?; // (B, 6 dim)
        let chunk = |i: usize| emb.narrow(1, i * self.dim, self.dim)?.unsqueeze(1);
        Ok(BlockModulation {
            shift_msa: chunk(0)?,
            scale_msa: (chunk(1)? + 1.0)?,
            gate_msa: chunk(2)?,
            shift_mlp: chunk(3)?,
            scale_mlp: (chunk(4)? + 1.0)?,
            gate_mlp: chunk(5)?,
        })
    }

    /// `norm(x) * (1 + scale) + shift`.
    fn modulate(&self, x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
        self.norm.forward_modulated(x, scale, shift)
    }
}

/// Multi-head self-attention with biases, rotary positions and, for padded
/// batches, a length per item.
#[derive(Debug, Clone)]
pub struct Attention {
    to_q: Linear,
    to_k: Linear,
    to_v: Linear,
    /// `to_out.0` (`to_out.1` is dropout).
    to_out: Linear,
    q_norm: Option<RmsNorm>,
    k_norm: Option<RmsNorm>,
    heads: usize,
    dim_head: usize,
    /// Rotate only the first `n` heads (F5-TTS Base); all when `None`.
    pe_attn_head: Option<usize>,
}

impl Attention {
    /// Loads `to_{q,k,v}`, `to_out.0` (and `{q,k}_norm`) under `vb`.
    pub fn new(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let inner = cfg.inner_dim();
        let qk_norm = |name: &str| -> Result<Option<RmsNorm>> {
            match cfg.qk_norm {
                None => Ok(None),
                Some(QkNorm::RmsNorm) => {
                    let w = vb.pp(name).get(cfg.dim_head, "weight")?;
                    Ok(Some(RmsNorm::new(w, 1e-6)))
                }
            }
        };
        Ok(Self {
            to_q: candle_nn::linear(cfg.dim, inner, vb.pp("to_q"))?,
            to_k: candle_nn::linear(cfg.dim, inner, vb.pp("to_k"))?,
            to_v: candle_nn::linear(cfg.dim, inner, vb.pp("to_v"))?,
            to_out: candle_nn::linear(inner, cfg.dim, vb.pp("to_out").pp("0"))?,
            q_norm: qk_norm("q_norm")?,
            k_norm: qk_norm("k_norm")?,
            heads: cfg.heads,
            dim_head: cfg.dim_head,
            pe_attn_head: cfg.pe_attn_head,
        })
    }

    /// Rotary on all heads, or on the first `pe_attn_head` heads; f32 out.
    fn rotate(&self, x: &Tensor, rope: &Rotary) -> Result<Tensor> {
        match self.pe_attn_head {
            Some(n) if n < self.heads => {
                let rotated = rope.apply(&x.narrow(1, 0, n)?)?;
                let rest = x.narrow(1, n, self.heads - n)?.to_dtype(DType::F32)?;
                Tensor::cat(&[rotated, rest], 1)
            }
            _ => rope.apply(x),
        }
    }

    /// `(B, N, dim) -> (B, N, dim)`; with `lengths`, batch item `i` attends
    /// to its first `lengths[i]` positions only and its rows past them are
    /// zeros (a batch of utterances padded to one length).
    pub fn forward(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[usize]>) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return self.forward_cpu(x, rope, lengths);
        }
        let (b, n, _) = x.dims3()?;
        let dtype = x.dtype();
        // (B, N, H * D) -> (B, H, N, D)
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, n, self.heads, self.dim_head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let mut q = split(self.to_q.forward(x)?)?;
        let mut k = split(self.to_k.forward(x)?)?;
        let v = split(self.to_v.forward(x)?)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = qn.forward(&q)?;
            k = kn.forward(&k)?;
        }
        // rotary and scores in f32: half-precision scores overflow on long
        // sequences, and upstream rotates in f32 too
        let scale = 1.0 / (self.dim_head as f64).sqrt();
        let q = (self.rotate(&q, rope)? * scale)?;
        let k = self.rotate(&k, rope)?;
        if x.device().is_cuda() {
            // scores on chip (the tensor ops below write them to memory)
            if let Some(out) = fused_attention(&q, &k, &v.to_dtype(DType::F32)?, lengths)? {
                let out = out.to_dtype(dtype)?.transpose(1, 2)?.reshape((
                    b,
                    n,
                    self.heads * self.dim_head,
                ))?;
                return self.to_out.forward(&out);
            }
        }
        let mut scores = q.matmul(&k.t()?)?; // (B, H, N, N)
        let lengths = lengths.filter(|l| l.iter().any(|&l| l < n));
        if let Some(lens) = lengths {
            scores = scores.broadcast_add(&key_bias(lens, n, x.device())?)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(dtype)?;
        let mut out = probs
            .matmul(&v)? // (B, H, N, D)
            .transpose(1, 2)?
            .reshape((b, n, self.heads * self.dim_head))?;
        if let Some(lens) = lengths {
            out = out.broadcast_mul(&row_mask(lens, n, x.device())?.to_dtype(dtype)?)?;
        }
        self.to_out.forward(&out)
    }

    /// [`Attention::forward`] on f32 CPU tensors: the heads stay in the
    /// `(B, N, H * D)` layout of the projections throughout (rotary, scale
    /// and the fused attention read it with strides).
    fn forward_cpu(&self, x: &Tensor, rope: &Rotary, lengths: Option<&[usize]>) -> Result<Tensor> {
        let (b, n, _) = x.dims3()?;
        let (h, d) = (self.heads, self.dim_head);
        let mut q = self.to_q.forward(x)?;
        let mut k = self.to_k.forward(x)?;
        let v = self.to_v.forward(x)?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            let per_head = |norm: &RmsNorm, t: &Tensor| -> Result<Tensor> {
                norm.forward(&t.reshape((b, n, h, d))?)?
                    .reshape((b, n, h * d))
            };
            q = per_head(qn, &q)?;
            k = per_head(kn, &k)?;
        }
        let rotated = self.pe_attn_head.map_or(h, |p| p.min(h));
        let scale = (1.0 / (d as f64).sqrt()) as f32; // as the tensor path
        let q = rope.apply_heads_last(&q, h, rotated, scale)?;
        let k = rope.apply_heads_last(&k, h, rotated, 1.0)?;
        let out = attention_with_lengths(&q, &k, &v, h, lengths)?;
        self.to_out.forward(&out)
    }
}

/// `ff`: Linear -> tanh-GELU -> Linear.
#[derive(Debug, Clone)]
pub struct FeedForward {
    /// `ff.0.0`.
    project_in: Linear,
    /// `ff.2` (`ff.1` is dropout).
    project_out: Linear,
}

impl FeedForward {
    /// Loads `ff.0.0` and `ff.2` under `vb`.
    pub fn new(dim: usize, inner: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("ff");
        Ok(Self {
            project_in: candle_nn::linear(dim, inner, vb.pp("0").pp("0"))?,
            project_out: candle_nn::linear(inner, dim, vb.pp("2"))?,
        })
    }
}

impl Module for FeedForward {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // upstream `approximate="tanh"`
        self.project_out
            .forward(&gelu_tanh(&self.project_in.forward(x)?)?)
    }
}

/// `transformer_blocks.{i}`: modulated attention and feed-forward with
/// gated residuals.
#[derive(Debug, Clone)]
pub struct DiTBlock {
    attn_norm: AdaLayerNormZero,
    attn: Attention,
    ff_norm: PlainLayerNorm,
    ff: FeedForward,
}

impl DiTBlock {
    /// Loads `attn_norm`, `attn`, `ff` under `vb`.
    pub fn new(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            attn_norm: AdaLayerNormZero::new(cfg.dim, vb.pp("attn_norm"))?,
            attn: Attention::new(cfg, vb.pp("attn"))?,
            ff_norm: PlainLayerNorm::new(cfg.dim, vb.dtype(), vb.device())?,
            ff: FeedForward::new(cfg.dim, cfg.ff_inner_dim(), vb.pp("ff"))?,
        })
    }

    /// The block's modulation for a time embedding `(B, dim)`.
    pub fn modulation(&self, t_emb: &Tensor) -> Result<BlockModulation> {
        self.attn_norm.modulation(t_emb)
    }

    /// `attn`.
    pub fn attn(&self) -> &Attention {
        &self.attn
    }

    /// `ff`.
    pub fn ff(&self) -> &FeedForward {
        &self.ff
    }

    /// `x` `(B, N, dim)` with a precomputed modulation (batch 1 or B);
    /// `lengths` as in [`Attention::forward`] (the rows past an item's
    /// length are left to whatever the position-wise layers make of them).
    pub fn forward(
        &self,
        x: &Tensor,
        m: &BlockModulation,
        rope: &Rotary,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor> {
        let norm = self.attn_norm.modulate(x, &m.scale_msa, &m.shift_msa)?;
        let attn = self.attn.forward(&norm, rope, lengths)?;
        let x = gated_residual(x, &attn, &m.gate_msa)?;
        let norm = self
            .ff_norm
            .forward_modulated(&x, &m.scale_mlp, &m.shift_mlp)?;
        let ff = self.ff.forward(&norm)?;
        gated_residual(&x, &ff, &m.gate_mlp)
    }

    /// Upstream's `forward(x, t, rope=rope)` with the time embedding `t`
    /// `(B, dim)`.
    pub fn forward_t(&self, x: &Tensor, t_emb: &Tensor, rope: &Rotary) -> Result<Tensor> {
        self.forward(x, &self.modulation(t_emb)?, rope, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_last_rotary_matches_the_tensor_path() {
        // 3 heads of 8 over 5 positions, the first 2 rotated, scaled by 0.5
        let (b, n, h, d) = (2, 5, 3, 8);
        let rope = Rotary::new(d, n, &Device::Cpu).unwrap();
        let x = Tensor::randn(0f32, 1.0, (b, n, h * d), &Device::Cpu).unwrap();
        let got = rope.apply_heads_last(&x, h, 2, 0.5).unwrap();
        let heads_first = x.reshape((b, n, h, d)).unwrap().transpose(1, 2).unwrap();
        let rotated = rope.apply(&heads_first.narrow(1, 0, 2).unwrap()).unwrap();
        let rest = heads_first.narrow(1, 2, 1).unwrap();
        let want = (Tensor::cat(&[rotated, rest], 1).unwrap() * 0.5)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b, n, h * d))
            .unwrap();
        assert!(crate::nn::max_abs_diff(&got, &want) < 1e-6);
    }

    #[test]
    fn rotary_turns_interleaved_pairs() {
        // x = [1, 0, 0, 1] at position 1 with dim_head 4: pair 0 turns by 1 rad,
        // pair 1 by 1/100 rad
        let rope = Rotary::new(4, 2, &Device::Cpu).unwrap();
        let x = Tensor::new(&[[[[1f32, 0., 0., 1.], [1., 0., 0., 1.]]]], &Device::Cpu).unwrap();
        let y = rope
            .apply(&x)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .squeeze(0)
            .unwrap();
        let y = y.to_vec2::<f32>().unwrap();
        assert_eq!(y[0], vec![1., 0., 0., 1.]);
        let (c0, s0, c1, s1) = (1f32.cos(), 1f32.sin(), 0.01f32.cos(), 0.01f32.sin());
        let want = [c0, s0, -s1, c1];
        for (a, b) in y[1].iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{:?} vs {want:?}", y[1]);
        }
    }
}

//! Small layers shared by the VITS components (`modules.py` / `commons.py`
//! in the reference).

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use crate::nn::{Conv1d, Conv1dConfig};

/// Layer norm over the channel axis of a `(B, C, T)` tensor, with the
/// reference's `gamma`/`beta` parameter names.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    gamma: Tensor,
    beta: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Loads `gamma` and `beta` of width `channels`.
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gamma: vb.get(channels, "gamma")?,
            beta: vb.get(channels, "beta")?,
            eps: 1e-5,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // (B, C, T) -> (B, T, C), normalize C, back
        let xt = x.transpose(1, 2)?.contiguous()?;
        let y = candle_nn::ops::layer_norm(&xt, &self.gamma, &self.beta, self.eps as f32)?;
        y.transpose(1, 2)
    }
}

/// A `(B, 1, T_max)` float mask, 1 inside each sequence's length.
pub fn sequence_mask(
    lengths: &[usize],
    max_len: usize,
    device: &candle_core::Device,
) -> Result<Tensor> {
    let mut data = vec![0f32; lengths.len() * max_len];
    for (b, &len) in lengths.iter().enumerate() {
        for v in &mut data[b * max_len..b * max_len + len.min(max_len)] {
            *v = 1.0;
        }
    }
    Tensor::from_vec(data, (lengths.len(), 1, max_len), device)
}

/// Loads a conv whose kernel is read from the checkpoint, with "same"
/// padding for `dilation` (`get_padding` in the reference).
pub fn conv_same(
    vb: VarBuilder,
    kernel: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
) -> Result<Conv1d> {
    let cfg = Conv1dConfig {
        padding: (kernel * dilation - dilation) / 2,
        stride: 1,
        dilation,
        groups,
        cudnn_fwd_algo: None,
    };
    Conv1d::load(vb, bias, cfg)
}

/// A 1x1 conv (a per-frame linear map) with bias.
pub fn conv1x1(vb: VarBuilder) -> Result<Conv1d> {
    Conv1d::load(vb, true, Conv1dConfig::default())
}

/// `tanh(a[:n]) * sigmoid(a[n:])` over channels (`fused_add_tanh_sigmoid_multiply`).
pub fn gated_tanh_sigmoid(x: &Tensor, n_channels: usize) -> Result<Tensor> {
    let t = x.narrow(1, 0, n_channels)?.tanh()?;
    let s = candle_nn::ops::sigmoid(&x.narrow(1, n_channels, n_channels)?)?;
    t * s
}

/// Reverses the channel axis (`Flip` in the reference).
pub fn flip_channels(x: &Tensor) -> Result<Tensor> {
    let c = x.dim(1)?;
    let idx: Vec<u32> = (0..c as u32).rev().collect();
    let idx = Tensor::from_vec(idx, c, x.device())?;
    x.index_select(&idx, 1)
}

/// Exact GELU (erf form), as `F.gelu` computes it.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.gelu_erf()
}

/// Softplus `log(1 + exp(x))`, stable for large `x` (torch uses threshold 20).
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    let big = x.ge(20f64)?;
    let sp = (x.exp()? + 1.0)?.log()?;
    big.where_cond(x, &sp)
}

/// Sum over the last axis keeping nothing else special; used for tests.
#[allow(dead_code)]
pub(crate) fn sum_all_f64(x: &Tensor) -> Result<f64> {
    x.to_dtype(DType::F64)?
        .flatten_all()?
        .sum(D::Minus1)?
        .to_scalar::<f64>()
}

//! The ConvNeXt backbone (`vocos/models.py::VocosBackbone`,
//! `vocos/modules.py::ConvNeXtBlock`).
//!
//! Upstream keeps activations as `(B, C, T)` around the depthwise
//! convolution and transposes to `(B, T, C)` for the rest of each block.
//! Here everything after the input convolution stays `(B, T, C)`: the
//! depthwise convolution is written as seven shifted multiply-adds along
//! `T`, which avoids two transposes per block and candle's grouped
//! convolution (one kernel launch per channel).
//!
//! On the CPU the depthwise convolution runs as a fused custom op (the
//! tensor formulation makes 14 passes over the activations) and the GELU
//! as the vectorized kernel of [`crate::nn::activation::gelu_erf`] (candle's
//! evaluates `erf` in f64 one element at a time): together they were half
//! the backbone's time.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Shape, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear, VarBuilder};
use rayon::prelude::*;

use super::config::BackboneArgs;
use crate::nn::activation::gelu_erf;
use crate::Result;

/// Kernel size of the input and depthwise convolutions.
const KERNEL: usize = 7;
/// Epsilon of every LayerNorm in the backbone.
const LN_EPS: f64 = 1e-6;

/// A depthwise `Conv1d(dim, dim, 7, padding=3, groups=dim)` applied to
/// `(B, T, C)` input.
#[derive(Debug, Clone)]
pub struct DepthwiseConv1d {
    /// `taps[k]` is `weight[:, 0, k]`, shape `(C,)`.
    taps: Vec<Tensor>,
    bias: Tensor,
    /// The same weights on the host for the CPU kernel.
    cpu: DepthwiseCpu,
}

/// The depthwise convolution as one CPU pass over `(B, T, C)` f32.
#[derive(Debug, Clone)]
struct DepthwiseCpu {
    /// `(K, C)` row-major.
    taps: Vec<f32>,
    bias: Vec<f32>,
}

impl CustomOp1 for DepthwiseCpu {
    fn name(&self) -> &'static str {
        "vocos-depthwise-conv1d"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, t_len, c) = layout.shape().dims3()?;
        let x = match layout.contiguous_offsets() {
            Some((start, end)) => &storage.as_slice::<f32>()?[start..end],
            None => candle_core::bail!("vocos-depthwise-conv1d: input must be contiguous"),
        };
        if c != self.bias.len() {
            candle_core::bail!(
                "vocos-depthwise-conv1d: {c} channels, weights for {}",
                self.bias.len()
            );
        }
        let pad = KERNEL / 2;
        let mut out = vec![0.0f32; x.len()];
        out.par_chunks_mut(c)
            .with_min_len(16)
            .enumerate()
            .for_each(|(row, o)| {
                let (b, t) = (row / t_len, row % t_len);
                o.copy_from_slice(&self.bias);
                // out[t] = bias + sum_k w[k] * x[t + k - pad], zero outside.
                let k_lo = pad.saturating_sub(t);
                let k_hi = KERNEL.min(t_len + pad - t);
                for k in k_lo..k_hi {
                    let src = (b * t_len + t + k - pad) * c;
                    let xs = &x[src..src + c];
                    let ws = &self.taps[k * c..(k + 1) * c];
                    for ((o, &xv), &wv) in o.iter_mut().zip(xs).zip(ws) {
                        *o += wv * xv;
                    }
                }
            });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

impl DepthwiseConv1d {
    /// Loads `weight` `(dim, 1, 7)` and `bias` `(dim,)`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((dim, 1, KERNEL), "weight")?;
        let bias = vb.get(dim, "bias")?;
        // (C, 1, K) -> (K, C): one row per tap.
        let weight = weight.reshape((dim, KERNEL))?.t()?.contiguous()?;
        let taps = (0..KERNEL)
            .map(|k| weight.get(k))
            .collect::<candle_core::Result<_>>()?;
        let cpu = DepthwiseCpu {
            taps: weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
            bias: bias.to_dtype(DType::F32)?.to_vec1()?,
        };
        Ok(Self { taps, bias, cpu })
    }
}

impl Module for DepthwiseConv1d {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return x.contiguous()?.apply_op1_no_bwd(&self.cpu);
        }
        // (B, T, C) -> (B, T + 6, C), zero padding like `padding=3`.
        let t = x.dim(1)?;
        let pad = KERNEL / 2;
        let xp = x.pad_with_zeros(1, pad, pad)?;
        // Cross-correlation: out[t] = bias + sum_k w[k] * x[t + k - 3].
        let mut y = xp.narrow(1, 0, t)?.broadcast_mul(&self.taps[0])?;
        for (k, tap) in self.taps.iter().enumerate().skip(1) {
            y = (y + xp.narrow(1, k, t)?.broadcast_mul(tap)?)?;
        }
        y.broadcast_add(&self.bias)
    }
}

/// One ConvNeXt block: depthwise conv → LayerNorm → Linear → GELU (exact)
/// → Linear → layer scale, plus the residual. Input and output `(B, T, C)`.
#[derive(Debug, Clone)]
pub struct ConvNeXtBlock {
    dwconv: DepthwiseConv1d,
    norm: LayerNorm,
    pwconv1: Linear,
    pwconv2: Linear,
    gamma: Option<Tensor>,
}

impl ConvNeXtBlock {
    /// Loads `dwconv`, `norm`, `pwconv1`, `pwconv2` and `gamma` (when the
    /// config has layer scale).
    pub fn new(cfg: &BackboneArgs, vb: VarBuilder) -> Result<Self> {
        let (dim, hidden) = (cfg.dim, cfg.intermediate_dim);
        Ok(Self {
            dwconv: DepthwiseConv1d::new(dim, vb.pp("dwconv"))?,
            norm: candle_nn::layer_norm(dim, LN_EPS, vb.pp("norm"))?,
            pwconv1: candle_nn::linear(dim, hidden, vb.pp("pwconv1"))?,
            pwconv2: candle_nn::linear(hidden, dim, vb.pp("pwconv2"))?,
            gamma: if cfg.has_layer_scale() {
                Some(vb.get(dim, "gamma")?)
            } else {
                None
            },
        })
    }
}

impl Module for ConvNeXtBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.dwconv.forward(x)?;
        let h = self.norm.forward(&h)?;
        // (B, T, C) -> (B, T, 3C) -> (B, T, C)
        let h = gelu_erf(&self.pwconv1.forward(&h)?)?;
        let h = self.pwconv2.forward(&h)?;
        let h = match &self.gamma {
            Some(gamma) => h.broadcast_mul(gamma)?,
            None => h,
        };
        x + h
    }
}

/// The backbone: `(B, input_channels, T)` mels to `(B, T, dim)` features.
#[derive(Debug, Clone)]
pub struct VocosBackbone {
    embed: Conv1d,
    norm: LayerNorm,
    convnext: Vec<ConvNeXtBlock>,
    final_layer_norm: LayerNorm,
    input_channels: usize,
}

impl VocosBackbone {
    /// Loads `embed`, `norm`, `convnext.{i}` and `final_layer_norm`.
    pub fn new(cfg: &BackboneArgs, vb: VarBuilder) -> Result<Self> {
        let conv_cfg = Conv1dConfig {
            padding: KERNEL / 2,
            ..Default::default()
        };
        let embed = candle_nn::conv1d(
            cfg.input_channels,
            cfg.dim,
            KERNEL,
            conv_cfg,
            vb.pp("embed"),
        )?;
        let convnext = (0..cfg.num_layers)
            .map(|i| ConvNeXtBlock::new(cfg, vb.pp("convnext").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            embed,
            norm: candle_nn::layer_norm(cfg.dim, LN_EPS, vb.pp("norm"))?,
            convnext,
            final_layer_norm: candle_nn::layer_norm(cfg.dim, LN_EPS, vb.pp("final_layer_norm"))?,
            input_channels: cfg.input_channels,
        })
    }

    /// The input convolution (`embed`), `(B, n_mels, T)` to `(B, dim, T)`.
    pub fn embed(&self) -> &Conv1d {
        &self.embed
    }

    /// Expected input channels (mel bands).
    pub fn input_channels(&self) -> usize {
        self.input_channels
    }
}

impl Module for VocosBackbone {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // (B, n_mels, T) -> (B, dim, T) -> (B, T, dim)
        let x = self.embed.forward(x)?.transpose(1, 2)?.contiguous()?;
        let mut x = self.norm.forward(&x)?;
        for block in &self.convnext {
            x = block.forward(&x)?;
        }
        self.final_layer_norm.forward(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use std::collections::HashMap;

    /// `max |a - b|`, in f64.
    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        let d = (a.to_dtype(DType::F64).unwrap() - b.to_dtype(DType::F64).unwrap()).unwrap();
        d.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    /// The depthwise conv equals candle's grouped conv1d on `(B, C, T)`.
    #[test]
    fn depthwise_matches_grouped_conv() {
        let dev = Device::Cpu;
        let (c, t) = (5, 11);
        let w = Tensor::randn(0f32, 1.0, (c, 1, KERNEL), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, c, t), &dev).unwrap();
        let reference = x
            .conv1d(&w, 3, 1, 1, c)
            .unwrap()
            .broadcast_add(&b.reshape((1, c, 1)).unwrap())
            .unwrap();
        let vb = VarBuilder::from_tensors(
            HashMap::from([("weight".to_string(), w), ("bias".to_string(), b)]),
            DType::F32,
            &dev,
        );
        let dw = DepthwiseConv1d::new(c, vb).unwrap();
        let ours = dw
            .forward(&x.transpose(1, 2).unwrap().contiguous().unwrap())
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        let diff = max_abs_diff(&ours, &reference);
        assert!(diff < 1e-5, "{diff}");
    }

    /// The CPU kernel equals the tensor formulation (used off the CPU).
    #[test]
    fn depthwise_cpu_kernel_matches_tensor_path() {
        let dev = Device::Cpu;
        let (c, t) = (6, 9);
        let vb = VarBuilder::from_tensors(
            HashMap::from([
                (
                    "weight".to_string(),
                    Tensor::randn(0f32, 1.0, (c, 1, KERNEL), &dev).unwrap(),
                ),
                (
                    "bias".to_string(),
                    Tensor::randn(0f32, 1.0, c, &dev).unwrap(),
                ),
            ]),
            DType::F32,
            &dev,
        );
        let dw = DepthwiseConv1d::new(c, vb).unwrap();
        for t in [1, 2, 3, t] {
            let x = Tensor::randn(0f32, 1.0, (2, t, c), &dev).unwrap();
            let fast = dw.forward(&x).unwrap();
            // Force the generic path by going through f64.
            let dw64 = DepthwiseConv1d {
                taps: dw
                    .taps
                    .iter()
                    .map(|w| w.to_dtype(DType::F64).unwrap())
                    .collect(),
                bias: dw.bias.to_dtype(DType::F64).unwrap(),
                cpu: dw.cpu.clone(),
            };
            let slow = dw64.forward(&x.to_dtype(DType::F64).unwrap()).unwrap();
            let diff = max_abs_diff(&fast, &slow);
            assert!(diff < 1e-5, "T={t}: {diff}");
        }
    }

    #[test]
    fn missing_tensor_is_named() {
        let cfg = super::super::config::VocosConfig::mel_24khz()
            .backbone
            .init_args;
        let vb = VarBuilder::from_tensors(HashMap::new(), DType::F32, &Device::Cpu);
        let err = VocosBackbone::new(&cfg, vb.pp("backbone"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("backbone.embed.weight"), "{err}");
    }
}

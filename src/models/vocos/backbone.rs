//! The ConvNeXt backbone (`vocos/models.py::VocosBackbone`,
//! `vocos/modules.py::ConvNeXtBlock`).
//!
//! Upstream keeps activations as `(B, C, T)` around the depthwise
//! convolution and transposes to `(B, T, C)` for the rest of each block.
//! Here everything after the input convolution stays `(B, T, C)`: the
//! depthwise convolution is written as seven shifted multiply-adds along
//! `T`, which avoids two transposes per block and candle's grouped
//! convolution (one kernel launch per channel).

use candle_core::{Module, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, LayerNorm, Linear, VarBuilder};

use super::config::BackboneArgs;
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
        Ok(Self { taps, bias })
    }
}

impl Module for DepthwiseConv1d {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
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
        let h = self.pwconv1.forward(&h)?.gelu_erf()?;
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
        let diff = (ours - reference)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "{diff}");
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

//! HiFi-GAN decoder (`models.Generator`): latent frames to waveform.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::modules::{conv1x1, conv_same};
use crate::nn::{Conv1d, ConvTranspose1d, ConvTranspose1dConfig};

const LRELU_SLOPE: f64 = 0.1;

/// Residual block: `ResBlock1` (two convs per dilation, high quality) or
/// `ResBlock2` (one conv per dilation, medium/low quality).
#[derive(Debug, Clone)]
pub enum ResBlock {
    /// `(convs1[i], convs2[i])` pairs.
    One(Vec<(Conv1d, Conv1d)>),
    /// `convs[i]`.
    Two(Vec<Conv1d>),
}

impl ResBlock {
    /// Loads one residual block with kernel `k` and `dilations`.
    pub fn new(kind: &str, k: usize, dilations: &[usize], vb: VarBuilder) -> Result<Self> {
        if kind == "1" {
            let pairs = dilations
                .iter()
                .enumerate()
                .map(|(i, &d)| {
                    Ok((
                        conv_same(vb.pp("convs1").pp(i), k, d, 1, true)?,
                        conv_same(vb.pp("convs2").pp(i), k, 1, 1, true)?,
                    ))
                })
                .collect::<Result<_>>()?;
            Ok(Self::One(pairs))
        } else {
            let convs = dilations
                .iter()
                .enumerate()
                .map(|(i, &d)| conv_same(vb.pp("convs").pp(i), k, d, 1, true))
                .collect::<Result<_>>()?;
            Ok(Self::Two(convs))
        }
    }
}

impl Module for ResBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        match self {
            Self::One(pairs) => {
                for (c1, c2) in pairs {
                    let xt = c1.forward_fused(&x, Some(LRELU_SLOPE), None)?;
                    x = c2.forward_fused(&xt, Some(LRELU_SLOPE), Some(&x))?;
                }
            }
            Self::Two(convs) => {
                for c in convs {
                    // x + conv(leaky_relu(x)), fused
                    x = c.forward_fused(&x, Some(LRELU_SLOPE), Some(&x))?;
                }
            }
        }
        Ok(x)
    }
}

/// Element-wise mean of equally shaped tensors: one pass on the CPU
/// (these are the decoder's largest activations), candle ops elsewhere.
/// Summation order matches the reference's `((a + b) + c) / n`.
fn mean(xs: &[Tensor]) -> Result<Tensor> {
    if let Some(m) = crate::nn::cpu_mean(xs)? {
        return Ok(m);
    }
    let mut sum = xs[0].clone();
    for x in &xs[1..] {
        sum = (sum + x)?;
    }
    sum / xs.len() as f64
}

/// `dec`: conv_pre, upsampling stages each followed by the mean of its
/// residual blocks, conv_post, tanh.
#[derive(Debug, Clone)]
pub struct Generator {
    conv_pre: Conv1d,
    cond: Option<Conv1d>,
    ups: Vec<ConvTranspose1d>,
    /// `resblocks[stage][kernel]`
    resblocks: Vec<Vec<ResBlock>>,
    conv_post: Conv1d,
}

impl Generator {
    /// Loads `dec`.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let conv_pre = conv_same(vb.pp("conv_pre"), 7, 1, 1, true)?;
        let cond = if cfg.gin_channels > 0 {
            Some(conv1x1(vb.pp("cond"))?)
        } else {
            None
        };
        let n_kernels = cfg.resblock_kernel_sizes.len();
        let mut ups = Vec::new();
        let mut resblocks = Vec::new();
        for (i, (&u, &k)) in cfg
            .upsample_rates
            .iter()
            .zip(&cfg.upsample_kernel_sizes)
            .enumerate()
        {
            let up_cfg = ConvTranspose1dConfig {
                padding: (k - u) / 2,
                output_padding: 0,
                stride: u,
                dilation: 1,
                groups: 1,
            };
            ups.push(ConvTranspose1d::load(vb.pp("ups").pp(i), true, up_cfg)?);
            let stage = (0..n_kernels)
                .map(|j| {
                    ResBlock::new(
                        &cfg.resblock,
                        cfg.resblock_kernel_sizes[j],
                        &cfg.resblock_dilation_sizes[j],
                        vb.pp("resblocks").pp(i * n_kernels + j),
                    )
                })
                .collect::<Result<_>>()?;
            resblocks.push(stage);
        }
        let conv_post = {
            let cfg = crate::nn::Conv1dConfig {
                padding: 3,
                ..Default::default()
            };
            Conv1d::load(vb.pp("conv_post"), false, cfg)?
        };
        Ok(Self {
            conv_pre,
            cond,
            ups,
            resblocks,
            conv_post,
        })
    }

    /// `z`: `(B, inter, T')` -> audio `(B, 1, T' * hop)`.
    pub fn forward(&self, z: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
        let mut x = self.conv_pre.forward(z)?;
        if let (Some(cond), Some(g)) = (&self.cond, g) {
            x = x.broadcast_add(&cond.forward(g)?)?;
        }
        for (up, stage) in self.ups.iter().zip(&self.resblocks) {
            x = up.forward_fused(&x, Some(LRELU_SLOPE))?;
            let outs = stage
                .iter()
                .map(|rb| rb.forward(&x))
                .collect::<Result<Vec<_>>>()?;
            x = mean(&outs)?;
        }
        // the final activation uses torch's default slope
        let x = self.conv_post.forward_fused(&x, Some(0.01), None)?;
        x.tanh()
    }
}

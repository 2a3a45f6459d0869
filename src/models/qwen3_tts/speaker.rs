//! The Qwen3-TTS speaker encoder (Base checkpoints): ECAPA-TDNN without
//! batch norm, log-mel `(B, T, mel_dim)` -> x-vector `(B, enc_dim)`.
//!
//! Upstream: `core/models/modeling_qwen3_tts.py::Qwen3TTSSpeakerEncoder`
//! and its blocks (`TimeDelayNetBlock`, `Res2NetBlock`,
//! `SqueezeExcitationBlock`, `SqueezeExcitationRes2NetBlock`,
//! `AttentiveStatisticsPooling`). Every convolution is `padding="same"` with
//! `padding_mode="reflect"`. Tensor names follow the checkpoint
//! (`speaker_encoder.{blocks.I,mfa,asp,fc}`).

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::config::SpeakerEncoderConfig;
use crate::nn::conv::{Conv1d, Conv1dConfig};

/// Floor of the variance in the pooling statistics (`eps`).
const STATS_EPS: f64 = 1e-12;

/// Reflect padding along time (`F.pad(x, (left, right), mode="reflect")`)
/// of a `(B, C, T)` tensor; needs `left, right < T`.
fn reflect_pad_time(x: &Tensor, left: usize, right: usize) -> Result<Tensor> {
    if left == 0 && right == 0 {
        return Ok(x.clone());
    }
    let t = x.dim(D::Minus1)?;
    if left >= t || right >= t {
        candle_core::bail!("reflect padding ({left}, {right}) needs more than {t} frames");
    }
    let idx: Vec<u32> = (0..t + left + right)
        .map(|i| {
            let j = i as i64 - left as i64;
            let j = if j < 0 {
                -j
            } else if j >= t as i64 {
                2 * (t as i64 - 1) - j
            } else {
                j
            };
            j as u32
        })
        .collect();
    let idx = Tensor::from_vec(idx, t + left + right, x.device())?;
    x.index_select(&idx, 2)
}

/// A `padding="same"`, reflect-padded 1-D convolution with bias.
#[derive(Debug, Clone)]
struct SameConv {
    conv: Conv1d,
    left: usize,
    right: usize,
}

impl SameConv {
    fn new(kernel_size: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv1dConfig {
            padding: 0,
            stride: 1,
            dilation,
            groups: 1,
            ..Default::default()
        };
        let conv = Conv1d::load(vb, true, cfg)?;
        let k = conv.weight().dim(2)?;
        if k != kernel_size {
            candle_core::bail!("conv kernel size {k}, config says {kernel_size}");
        }
        // torch "same": total dilation * (k - 1), the extra sample on the right.
        let total = dilation * (kernel_size - 1);
        Ok(Self {
            conv,
            left: total / 2,
            right: total - total / 2,
        })
    }
}

impl Module for SameConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv
            .forward(&reflect_pad_time(x, self.left, self.right)?)
    }
}

/// `TimeDelayNetBlock`: same-padded conv then ReLU.
#[derive(Debug, Clone)]
struct Tdnn {
    conv: SameConv,
}

impl Tdnn {
    fn new(kernel_size: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: SameConv::new(kernel_size, dilation, vb.pp("conv"))?,
        })
    }
}

impl Module for Tdnn {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(x)?.relu()
    }
}

/// `Res2NetBlock`: `scale` channel groups; group 0 passes through, group i
/// goes through TDNN i-1 after adding the previous group's output (i ≥ 2).
#[derive(Debug, Clone)]
struct Res2Net {
    blocks: Vec<Tdnn>,
    scale: usize,
}

impl Res2Net {
    fn new(scale: usize, kernel_size: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("blocks");
        let blocks = (0..scale - 1)
            .map(|i| Tdnn::new(kernel_size, dilation, vb.pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self { blocks, scale })
    }
}

impl Module for Res2Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // (B, C, T) -> scale x (B, C / scale, T)
        let parts = x.chunk(self.scale, 1)?;
        let mut outputs: Vec<Tensor> = Vec::with_capacity(self.scale);
        for (i, part) in parts.iter().enumerate() {
            let out = match i {
                0 => part.clone(),
                1 => self.blocks[0].forward(part)?,
                _ => self.blocks[i - 1].forward(&(part + &outputs[i - 1])?)?,
            };
            outputs.push(out);
        }
        Tensor::cat(&outputs, 1)
    }
}

/// `SqueezeExcitationBlock`: channel gates from the time mean.
#[derive(Debug, Clone)]
struct SqueezeExcitation {
    conv1: SameConv,
    conv2: SameConv,
}

impl SqueezeExcitation {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv1: SameConv::new(1, 1, vb.pp("conv1"))?,
            conv2: SameConv::new(1, 1, vb.pp("conv2"))?,
        })
    }
}

impl Module for SqueezeExcitation {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // (B, C, T) -> (B, C, 1)
        let s = x.mean_keepdim(2)?;
        let s = self.conv1.forward(&s)?.relu()?;
        let s = candle_nn::ops::sigmoid(&self.conv2.forward(&s)?)?;
        x.broadcast_mul(&s)
    }
}

/// `SqueezeExcitationRes2NetBlock`: TDNN k1, Res2Net, TDNN k1, SE, plus
/// the input.
#[derive(Debug, Clone)]
struct SeRes2NetBlock {
    tdnn1: Tdnn,
    res2net_block: Res2Net,
    tdnn2: Tdnn,
    se_block: SqueezeExcitation,
}

impl SeRes2NetBlock {
    fn new(scale: usize, kernel_size: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            tdnn1: Tdnn::new(1, 1, vb.pp("tdnn1"))?,
            res2net_block: Res2Net::new(scale, kernel_size, dilation, vb.pp("res2net_block"))?,
            tdnn2: Tdnn::new(1, 1, vb.pp("tdnn2"))?,
            se_block: SqueezeExcitation::new(vb.pp("se_block"))?,
        })
    }
}

impl Module for SeRes2NetBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.tdnn1.forward(x)?;
        let h = self.res2net_block.forward(&h)?;
        let h = self.tdnn2.forward(&h)?;
        self.se_block.forward(&h)? + x
    }
}

/// Weighted mean and standard deviation over time of `x` `(B, C, T)` with
/// weights `w` (broadcastable, summing to 1 over time): `(B, C)` each.
fn weighted_stats(x: &Tensor, w: &Tensor) -> Result<(Tensor, Tensor)> {
    let mean = x.broadcast_mul(w)?.sum(2)?;
    let centred = x.broadcast_sub(&mean.unsqueeze(2)?)?;
    let var = centred.sqr()?.broadcast_mul(w)?.sum(2)?;
    let std = var.clamp(STATS_EPS, f64::INFINITY)?.sqrt()?;
    Ok((mean, std))
}

/// `AttentiveStatisticsPooling` (all frames valid): `(B, C, T) -> (B, 2C, 1)`.
#[derive(Debug, Clone)]
struct AttentiveStatsPool {
    tdnn: Tdnn,
    conv: SameConv,
}

impl AttentiveStatsPool {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            tdnn: Tdnn::new(1, 1, vb.pp("tdnn"))?,
            conv: SameConv::new(1, 1, vb.pp("conv"))?,
        })
    }
}

impl Module for AttentiveStatsPool {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, t) = x.dims3()?;
        // Global context: the uniform mask / total = 1 / T.
        let uniform = Tensor::full(1.0 / t as f32, (1, 1, t), x.device())?.to_dtype(x.dtype())?;
        let (mean, std) = weighted_stats(x, &uniform)?;
        let mean = mean.unsqueeze(2)?.broadcast_as((b, c, t))?;
        let std = std.unsqueeze(2)?.broadcast_as((b, c, t))?;
        // (B, 3C, T) -> (B, C, T) attention logits
        let attn = Tensor::cat(&[x, &mean, &std], 1)?;
        let attn = self.conv.forward(&self.tdnn.forward(&attn)?.tanh()?)?;
        let attn = candle_nn::ops::softmax(&attn, 2)?;
        let (mean, std) = weighted_stats(x, &attn)?;
        Tensor::cat(&[mean, std], 1)?.unsqueeze(2)
    }
}

/// Intermediate outputs of [`SpeakerEncoder::forward_traced`].
#[derive(Debug, Clone)]
pub struct SpeakerEncoderTrace {
    /// Output of the initial TDNN and of each SE-Res2Net block, `(B, C, T)`.
    pub blocks: Vec<Tensor>,
    /// Multi-layer feature aggregation, `(B, enc_channels[-1], T)`.
    pub mfa: Tensor,
    /// Attentive statistics pooling (mean ‖ std), `(B, 2 enc_channels[-1], 1)`.
    pub asp: Tensor,
}

/// The ECAPA-TDNN speaker encoder (`Qwen3TTSSpeakerEncoder`).
#[derive(Debug, Clone)]
pub struct SpeakerEncoder {
    first: Tdnn,
    blocks: Vec<SeRes2NetBlock>,
    mfa: Tdnn,
    asp: AttentiveStatsPool,
    fc: SameConv,
    enc_dim: usize,
}

impl SpeakerEncoder {
    /// Builds from `vb` rooted at `speaker_encoder`.
    pub fn new(cfg: &SpeakerEncoderConfig, vb: VarBuilder) -> Result<Self> {
        let n = cfg.enc_channels.len();
        if n < 3 || cfg.enc_kernel_sizes.len() != n || cfg.enc_dilations.len() != n {
            candle_core::bail!("speaker encoder: inconsistent enc_* lists");
        }
        let vb_blocks = vb.pp("blocks");
        let first = Tdnn::new(
            cfg.enc_kernel_sizes[0],
            cfg.enc_dilations[0],
            vb_blocks.pp(0),
        )?;
        let blocks = (1..n - 1)
            .map(|i| {
                SeRes2NetBlock::new(
                    cfg.enc_res2net_scale,
                    cfg.enc_kernel_sizes[i],
                    cfg.enc_dilations[i],
                    vb_blocks.pp(i),
                )
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            first,
            blocks,
            mfa: Tdnn::new(
                cfg.enc_kernel_sizes[n - 1],
                cfg.enc_dilations[n - 1],
                vb.pp("mfa"),
            )?,
            asp: AttentiveStatsPool::new(vb.pp("asp"))?,
            fc: SameConv::new(1, 1, vb.pp("fc"))?,
            enc_dim: cfg.enc_dim,
        })
    }

    /// Width of the speaker embedding.
    pub fn enc_dim(&self) -> usize {
        self.enc_dim
    }

    /// Runs the network on a log-mel `(B, T, mel_dim)` (as
    /// [`super::mel::MelSpectrogram::forward`] makes it) and returns the
    /// embedding `(B, enc_dim)` with the intermediates.
    pub fn forward_traced(&self, mel: &Tensor) -> Result<(Tensor, SpeakerEncoderTrace)> {
        // (B, T, M) -> (B, M, T)
        let x = mel.transpose(1, 2)?.contiguous()?;
        let mut outs = Vec::with_capacity(self.blocks.len() + 1);
        outs.push(self.first.forward(&x)?);
        for block in &self.blocks {
            let h = block.forward(&outs[outs.len() - 1])?;
            outs.push(h);
        }
        // Concat of the SE-Res2Net outputs (not the first TDNN).
        let mfa = self.mfa.forward(&Tensor::cat(&outs[1..], 1)?)?;
        let asp = self.asp.forward(&mfa)?;
        // (B, 2C, 1) -> (B, enc_dim)
        let out = self.fc.forward(&asp)?.squeeze(2)?;
        Ok((
            out,
            SpeakerEncoderTrace {
                blocks: outs,
                mfa,
                asp,
            },
        ))
    }
}

impl Module for SpeakerEncoder {
    /// Log-mel `(B, T, mel_dim)` -> speaker embedding `(B, enc_dim)`.
    fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        Ok(self.forward_traced(mel)?.0)
    }
}

//! The convolutional parts of the decoder: causal (transposed) convs, the
//! ConvNeXt block of the upsampler, SnakeBeta, and the residual units and
//! blocks of the waveform decoder. Activations are `(B, C, T)`.
//!
//! Every stateful block has twins: `forward` for a whole clip and `step`
//! for the next chunk of a stream, with what the chunk needs from the past
//! in a `…State` the caller owns (moshi style). Concatenated `step` outputs
//! equal the `forward` output: all convolutions are causal, so nothing is
//! held back.

use candle_core::{Module, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};

use crate::nn::activation::gelu_erf;
use crate::nn::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};
use crate::{Error, Result};

/// What a [`CausalConv1d`] carries between chunks: its last
/// `(kernel - 1) * dilation` inputs, the left context of the next chunk.
/// Empty before the first chunk, which is padded with zeros instead, as a
/// whole clip is.
#[derive(Debug, Clone, Default)]
pub struct ConvState {
    /// `(B, C_in, (kernel - 1) * dilation)`; `None` at the start.
    prev: Option<Tensor>,
}

impl ConvState {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.prev = None;
    }
}

/// What a [`CausalConvTranspose1d`] carries between chunks: the
/// `kernel - stride` output samples past the end of the last chunk, which
/// its last frames start and the next chunk's first frames complete (the
/// samples a whole-clip decode trims at the end). Held without the bias,
/// which the next chunk's output already has.
#[derive(Debug, Clone, Default)]
pub struct ConvTransposeState {
    /// `(B, C_out, kernel - stride)`; `None` at the start.
    tail: Option<Tensor>,
}

impl ConvTransposeState {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.tail = None;
    }
}

/// `Qwen3TTSTokenizerV2CausalConvNet`: a conv padded on the left by
/// `effective_kernel - stride` (and on the right only as needed to
/// complete the last stride), so output frame `t` sees input up to `t`.
#[derive(Debug, Clone)]
pub struct CausalConv1d {
    conv: Conv1d,
    /// `(kernel - 1) * dilation + 1`.
    kernel: usize,
    stride: usize,
}

impl CausalConv1d {
    /// Loads `conv.{weight,bias}` (`vb` is the wrapper's path).
    pub fn new(vb: VarBuilder, dilation: usize, stride: usize, groups: usize) -> Result<Self> {
        let cfg = Conv1dConfig {
            padding: 0,
            stride,
            dilation,
            groups,
            ..Default::default()
        };
        let conv = Conv1d::load(vb.pp("conv"), true, cfg)?;
        let k = conv.weight().dim(2)?;
        Ok(Self {
            conv,
            kernel: (k - 1) * dilation + 1,
            stride,
        })
    }

    /// Left padding (upstream `padding`).
    fn left_pad(&self) -> usize {
        self.kernel - self.stride
    }

    /// Upstream `_get_extra_padding_for_conv1d`: zeros on the right so the
    /// last window is complete.
    fn extra_pad(&self, len: usize) -> usize {
        let pad = self.left_pad();
        // n_frames = ceil((len - kernel + pad) / stride + 1), all integers
        // here since kernel - pad = stride.
        let span = (len + pad).saturating_sub(self.kernel);
        let n_frames = span.div_ceil(self.stride) + 1;
        let ideal = (n_frames - 1) * self.stride + (self.kernel - pad);
        ideal.saturating_sub(len)
    }

    /// `(B, C_in, T)` -> `(B, C_out, ceil(T / stride))`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.pad_with_zeros(2, self.left_pad(), self.extra_pad(x.dim(2)?))?;
        Ok(self.conv.forward(&x)?)
    }

    /// The convolution plus `residual` (output-shaped), fused on the CPU.
    pub fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let x = x.pad_with_zeros(2, self.left_pad(), self.extra_pad(x.dim(2)?))?;
        Ok(self.conv.forward_fused(&x, None, Some(residual))?)
    }

    /// Streaming twin of [`Self::forward`]: `(B, C_in, T)` ->
    /// `(B, C_out, T)`, the next `T` outputs of the stream.
    pub fn step(&self, x: &Tensor, state: &mut ConvState) -> Result<Tensor> {
        let x = self.with_context(x, state)?;
        Ok(self.conv.forward(&x)?)
    }

    /// Streaming twin of [`Self::forward_add`].
    pub fn step_add(&self, x: &Tensor, residual: &Tensor, state: &mut ConvState) -> Result<Tensor> {
        let x = self.with_context(x, state)?;
        Ok(self.conv.forward_fused(&x, None, Some(residual))?)
    }

    /// `x` behind its left context (the carried inputs, or the whole-clip
    /// zero padding at the start); keeps the new context in `state`. Every
    /// decoder conv has stride 1, so there is no right padding to undo.
    fn with_context(&self, x: &Tensor, state: &mut ConvState) -> Result<Tensor> {
        if self.stride != 1 {
            return Err(Error::Unsupported(format!(
                "streaming a causal conv of stride {}",
                self.stride
            )));
        }
        let ctx = self.left_pad();
        let x = match state.prev.take() {
            Some(prev) => Tensor::cat(&[&prev, x], 2)?,
            None => x.pad_with_zeros(2, ctx, 0)?,
        };
        if ctx > 0 {
            // A copy, so the state does not pin the whole chunk.
            let len = x.dim(2)?;
            state.prev = Some(x.narrow(2, len - ctx, ctx)?.contiguous()?);
        }
        Ok(x)
    }
}

/// `Qwen3TTSTokenizerV2CausalTransConvNet`: a transposed conv whose last
/// `kernel - stride` samples are cut, so `T` frames give `T * stride`.
#[derive(Debug, Clone)]
pub struct CausalConvTranspose1d {
    conv: ConvTranspose1d,
    right_pad: usize,
}

impl CausalConvTranspose1d {
    /// Loads `conv.{weight,bias}` (`vb` is the wrapper's path).
    pub fn new(vb: VarBuilder, stride: usize) -> Result<Self> {
        let cfg = ConvTranspose1dConfig {
            padding: 0,
            output_padding: 0,
            stride,
            dilation: 1,
            groups: 1,
        };
        let conv = ConvTranspose1d::load(vb.pp("conv"), true, cfg)?;
        let k = conv.weight().dim(2)?;
        Ok(Self {
            conv,
            right_pad: k.saturating_sub(stride),
        })
    }

    /// `(B, C_in, T)` -> `(B, C_out, T * stride)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv.forward(&x.contiguous()?)?;
        let len = y.dim(2)?;
        Ok(y.narrow(2, 0, len - self.right_pad)?)
    }

    /// Streaming twin of [`Self::forward`]: `(B, C_in, T)` ->
    /// `(B, C_out, T * stride)`, the next `T * stride` samples of the
    /// stream, all final. Output sample `n` only depends on frames
    /// `t <= n / stride`, so the overlap of the last frames with the next
    /// chunk's samples is carried as a partial sum and completed then
    /// (moshi's `StreamableConvTranspose1d`), with no delay and no input
    /// recomputed.
    pub fn step(&self, x: &Tensor, state: &mut ConvTransposeState) -> Result<Tensor> {
        // (B, C_in, T) -> (B, C_out, (T - 1) * stride + kernel)
        let y = self.conv.forward(&x.contiguous()?)?;
        let len = y.dim(2)?;
        let y = match state.tail.take() {
            Some(tail) => {
                let n = tail.dim(2)?;
                let head = (y.narrow(2, 0, n)? + tail)?;
                Tensor::cat(&[&head, &y.narrow(2, n, len - n)?], 2)?
            }
            None => y,
        };
        let done = len - self.right_pad;
        if self.right_pad > 0 {
            let mut tail = y.narrow(2, done, self.right_pad)?;
            if let Some(bias) = self.conv.bias() {
                tail = tail.broadcast_sub(&bias.reshape((1, (), 1))?)?;
            }
            state.tail = Some(tail.contiguous()?);
        }
        Ok(y.narrow(2, 0, done)?)
    }
}

/// `Qwen3TTSTokenizerV2ConvNeXtBlock`: causal depthwise conv k7,
/// LayerNorm, Linear 4x, GELU (erf), Linear, `gamma`, residual.
#[derive(Debug, Clone)]
pub struct ConvNeXtBlock {
    dwconv: CausalConv1d,
    norm: LayerNorm,
    pwconv1: Linear,
    pwconv2: Linear,
    gamma: Tensor,
}

/// Epsilon of the ConvNeXt LayerNorm.
const CONVNEXT_LN_EPS: f64 = 1e-6;

impl ConvNeXtBlock {
    /// Loads a block of width `dim`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            dwconv: CausalConv1d::new(vb.pp("dwconv"), 1, 1, dim)?,
            norm: candle_nn::layer_norm(dim, CONVNEXT_LN_EPS, vb.pp("norm"))?,
            pwconv1: candle_nn::linear(dim, 4 * dim, vb.pp("pwconv1"))?,
            pwconv2: candle_nn::linear(4 * dim, dim, vb.pp("pwconv2"))?,
            gamma: vb.get(dim, "gamma")?,
        })
    }

    /// `(B, C, T)` -> `(B, C, T)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.pointwise(x, &self.dwconv.forward(x)?)
    }

    /// Streaming twin of [`Self::forward`] (the depthwise conv's context
    /// is the only state).
    pub fn step(&self, x: &Tensor, state: &mut ConvState) -> Result<Tensor> {
        self.pointwise(x, &self.dwconv.step(x, state)?)
    }

    /// Everything after the depthwise conv `h`, per time step.
    fn pointwise(&self, x: &Tensor, h: &Tensor) -> Result<Tensor> {
        // (B, C, T) -> (B, T, C) for the norm and the pointwise layers.
        let h = h.transpose(1, 2)?.contiguous()?;
        let h = self.pwconv1.forward(&self.norm.forward(&h)?)?;
        let h = self.pwconv2.forward(&gelu_erf(&h)?)?;
        let h = h.broadcast_mul(&self.gamma)?.transpose(1, 2)?;
        Ok((x + h)?)
    }
}

/// SnakeBeta, `x + 1 / (exp(beta) + 1e-9) * sin(exp(alpha) * x)^2` per
/// channel; the checkpoint stores `alpha` and `beta` as logs.
#[derive(Debug, Clone)]
pub struct SnakeBeta {
    /// `exp(alpha)`, `(1, C, 1)`.
    alpha: Tensor,
    /// `1 / (exp(beta) + 1e-9)`, `(1, C, 1)`.
    inv_beta: Tensor,
}

/// Upstream `no_div_by_zero`.
const SNAKE_EPS: f64 = 1e-9;

impl SnakeBeta {
    /// Loads `alpha` and `beta` of width `dim`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let alpha = vb.get(dim, "alpha")?.exp()?.reshape((1, dim, 1))?;
        let inv_beta = (vb.get(dim, "beta")?.exp()? + SNAKE_EPS)?
            .recip()?
            .reshape((1, dim, 1))?;
        Ok(Self { alpha, inv_beta })
    }

    /// `(B, C, T)` -> `(B, C, T)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.broadcast_mul(&self.alpha)?.sin()?.sqr()?;
        Ok((x + s.broadcast_mul(&self.inv_beta)?)?)
    }
}

/// The streaming state of a [`ResidualUnit`]: its two convs' contexts.
#[derive(Debug, Clone, Default)]
pub struct ResidualUnitState {
    conv1: ConvState,
    conv2: ConvState,
}

impl ResidualUnitState {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.conv1.reset();
        self.conv2.reset();
    }
}

/// `…DecoderResidualUnit`: SnakeBeta, causal conv k7 (dilated), SnakeBeta,
/// causal conv k1, residual.
#[derive(Debug, Clone)]
pub struct ResidualUnit {
    act1: SnakeBeta,
    conv1: CausalConv1d,
    act2: SnakeBeta,
    conv2: CausalConv1d,
}

impl ResidualUnit {
    /// Loads a unit of width `dim`.
    pub fn new(dim: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            act1: SnakeBeta::new(dim, vb.pp("act1"))?,
            conv1: CausalConv1d::new(vb.pp("conv1"), dilation, 1, 1)?,
            act2: SnakeBeta::new(dim, vb.pp("act2"))?,
            conv2: CausalConv1d::new(vb.pp("conv2"), 1, 1, 1)?,
        })
    }

    /// `(B, C, T)` -> `(B, C, T)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.act1.forward(x)?)?;
        self.conv2
            .forward_add(&self.act2.forward(&h)?, &x.contiguous()?)
    }

    /// Streaming twin of [`Self::forward`].
    pub fn step(&self, x: &Tensor, state: &mut ResidualUnitState) -> Result<Tensor> {
        let h = self.conv1.step(&self.act1.forward(x)?, &mut state.conv1)?;
        self.conv2
            .step_add(&self.act2.forward(&h)?, &x.contiguous()?, &mut state.conv2)
    }
}

/// Dilations of the residual units of each decoder block.
const DILATIONS: [usize; 3] = [1, 3, 9];

/// The streaming state of a [`DecoderBlock`]: the transposed conv's
/// overlap and the residual units' contexts.
#[derive(Debug, Clone, Default)]
pub struct DecoderBlockState {
    upsample: ConvTransposeState,
    units: [ResidualUnitState; DILATIONS.len()],
}

impl DecoderBlockState {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.upsample.reset();
        self.units.iter_mut().for_each(ResidualUnitState::reset);
    }
}

/// `…DecoderDecoderBlock` (`decoder.N.block`): SnakeBeta, causal transposed
/// conv (kernel `2 * rate`, stride `rate`, width halved), three residual
/// units.
#[derive(Debug, Clone)]
pub struct DecoderBlock {
    snake: SnakeBeta,
    upsample: CausalConvTranspose1d,
    units: Vec<ResidualUnit>,
}

impl DecoderBlock {
    /// Loads a block from `in_dim` to `in_dim / 2` channels.
    pub fn new(in_dim: usize, rate: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("block");
        let out_dim = in_dim / 2;
        let units = DILATIONS
            .iter()
            .enumerate()
            .map(|(i, &d)| ResidualUnit::new(out_dim, d, vb.pp(i + 2)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            snake: SnakeBeta::new(in_dim, vb.pp(0))?,
            upsample: CausalConvTranspose1d::new(vb.pp(1), rate)?,
            units,
        })
    }

    /// `(B, C, T)` -> `(B, C / 2, T * rate)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.upsample.forward(&self.snake.forward(x)?)?;
        for unit in &self.units {
            h = unit.forward(&h)?;
        }
        Ok(h)
    }

    /// Streaming twin of [`Self::forward`].
    pub fn step(&self, x: &Tensor, state: &mut DecoderBlockState) -> Result<Tensor> {
        let mut h = self
            .upsample
            .step(&self.snake.forward(x)?, &mut state.upsample)?;
        for (unit, unit_state) in self.units.iter().zip(&mut state.units) {
            h = unit.step(&h, unit_state)?;
        }
        Ok(h)
    }
}

//! Mixing of noisy mel, reference mel and text: `InputEmbedding` of upstream
//! `model/backbones/dit.py`, with `ConvPositionEmbedding` of
//! `model/modules.py`.
//!
//! `proj` is linear in the concatenation `[x, cond, text]`, so it splits into
//! a part that changes at every flow step (`x`) and a part that is fixed for
//! the utterance (`cond`, `text`, the bias): the sampler computes the second
//! once ([`InputEmbedding::context`]) and adds it at every step.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Conv1dConfig, Linear, VarBuilder};

use super::config::DitConfig;
use crate::nn::activation::mish;
use crate::nn::Conv1d;

/// Kernel of the position convolutions.
const CONV_POS_KERNEL: usize = 31;
/// Groups of the position convolutions.
const CONV_POS_GROUPS: usize = 16;

/// Two grouped convolutions (k31, 16 groups), each followed by Mish.
#[derive(Debug, Clone)]
pub struct ConvPositionEmbedding {
    /// `conv1d.0`.
    conv_1: Conv1d,
    /// `conv1d.2`.
    conv_2: Conv1d,
}

impl ConvPositionEmbedding {
    /// Loads `conv1d.{0,2}` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv1dConfig {
            padding: CONV_POS_KERNEL / 2,
            groups: CONV_POS_GROUPS,
            ..Default::default()
        };
        let conv = |name: &str| -> Result<Conv1d> {
            let vb = vb.pp("conv1d").pp(name);
            let w = vb.get((dim, dim / CONV_POS_GROUPS, CONV_POS_KERNEL), "weight")?;
            Ok(Conv1d::from_tensors(w, Some(vb.get(dim, "bias")?), cfg))
        };
        Ok(Self {
            conv_1: conv("0")?,
            conv_2: conv("2")?,
        })
    }
}

impl ConvPositionEmbedding {
    /// [`Module::forward`] over a padded batch: `mask` `(B, N, 1)` (1 within
    /// each item's length, 0 past it) zeroes the padding before each conv,
    /// so that every item sees the zeros it would see alone at its end.
    /// (Upstream masks before the first conv only; alone, an item has no
    /// padding to mask.)
    pub fn forward_masked(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        // (B, N, D) -> (B, D, N) for the convs, and back
        let mask = mask
            .map(|m| m.to_dtype(x.dtype())?.transpose(1, 2))
            .transpose()?;
        let masked = |h: Tensor| match &mask {
            Some(m) => h.broadcast_mul(m),
            None => Ok(h),
        };
        let h = masked(x.transpose(1, 2)?.contiguous()?)?;
        let h = masked(mish(&self.conv_1.forward(&h)?)?)?;
        let h = mish(&self.conv_2.forward(&h)?)?;
        h.transpose(1, 2)
    }
}

impl Module for ConvPositionEmbedding {
    /// `(B, N, D) -> (B, N, D)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_masked(x, None)
    }
}

/// `input_embed`: `proj([x, cond, text]) + conv_pos_embed(...)`.
#[derive(Debug, Clone)]
pub struct InputEmbedding {
    /// `proj`, `(dim, 2 * mel_dim + text_dim)`, kept whole for
    /// [`InputEmbedding::forward`].
    proj: Linear,
    /// The columns of `proj` that read `x`, no bias.
    proj_x: Linear,
    /// The columns that read `[cond, text]`, with the bias.
    proj_context: Linear,
    conv_pos_embed: ConvPositionEmbedding,
}

impl InputEmbedding {
    /// Loads `proj` and `conv_pos_embed` under `vb`
    /// (`transformer.input_embed`).
    pub fn new(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let proj = candle_nn::linear(cfg.mel_dim * 2 + cfg.text_dim, cfg.dim, vb.pp("proj"))?;
        let w = proj.weight();
        let proj_x = Linear::new(w.narrow(1, 0, cfg.mel_dim)?.contiguous()?, None);
        let proj_context = Linear::new(
            w.narrow(1, cfg.mel_dim, cfg.mel_dim + cfg.text_dim)?
                .contiguous()?,
            proj.bias().cloned(),
        );
        Ok(Self {
            proj,
            proj_x,
            proj_context,
            conv_pos_embed: ConvPositionEmbedding::new(cfg.dim, vb.pp("conv_pos_embed"))?,
        })
    }

    /// Upstream's forward: `x`, `cond` `(B, N, mel_dim)`, `text_embed`
    /// `(B, N, text_dim)` -> `(B, N, dim)`; `drop_audio_cond` zeroes `cond`.
    pub fn forward(
        &self,
        x: &Tensor,
        cond: &Tensor,
        text_embed: &Tensor,
        drop_audio_cond: bool,
    ) -> Result<Tensor> {
        let cond = if drop_audio_cond {
            cond.zeros_like()?
        } else {
            cond.clone()
        };
        let h = self
            .proj
            .forward(&Tensor::cat(&[x, &cond, text_embed], D::Minus1)?)?;
        self.conv_pos_embed.forward(&h)? + h
    }

    /// The step-independent part of `proj`: `cond` and `text_embed` `(B, N,
    /// ·)` -> `(B, N, dim)`, bias included (pass zeros as `cond` for a
    /// dropped reference).
    pub fn context(&self, cond: &Tensor, text_embed: &Tensor) -> Result<Tensor> {
        self.proj_context
            .forward(&Tensor::cat(&[cond, text_embed], D::Minus1)?)
    }

    /// [`InputEmbedding::forward`] from a precomputed [`InputEmbedding::context`]:
    /// `x` `(1 or B, N, mel_dim)` is broadcast over the context's batch (the
    /// guidance branches share the noisy mel).
    pub fn forward_with_context(&self, x: &Tensor, context: &Tensor) -> Result<Tensor> {
        self.forward_with_context_masked(x, context, None)
    }

    /// [`InputEmbedding::forward_with_context`] over a padded batch, `mask`
    /// as in [`ConvPositionEmbedding::forward_masked`].
    pub fn forward_with_context_masked(
        &self,
        x: &Tensor,
        context: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let h = self.proj_x.forward(x)?.broadcast_add(context)?;
        self.conv_pos_embed.forward_masked(&h, mask)? + h
    }
}

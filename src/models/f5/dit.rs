//! The diffusion transformer: `DiT` of upstream
//! `model/backbones/dit.py`, predicting the flow from noise to mel.
//!
//! Two ways to run it:
//! - [`DiT::forward`] is upstream's forward (no caches), for tests and
//!   one-off calls;
//! - the sampler's path splits the work by what it depends on: the text
//!   embedding and the reference/text half of the input projection depend on
//!   the utterance only ([`DiT::conditioning`], once per utterance, both
//!   guidance branches stacked in one batch); the time embedding and every
//!   block's modulation depend on the flow time only ([`DiT::precompute`],
//!   once per step schedule); [`DiT::forward_with`] does the rest.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use super::config::DitConfig;
use super::dit_block::{BlockModulation, DiTBlock, PlainLayerNorm, Rotary};
use super::input_embed::InputEmbedding;
use super::text_embed::TextEmbedding;
use super::time_embed::TimestepEmbedding;
use crate::nn::attention::row_mask;

/// `norm_out`: the final LayerNorm modulated by `(scale, shift)` from
/// `SiLU(t)` (in that order).
#[derive(Debug, Clone)]
pub struct AdaLayerNormFinal {
    /// `linear`: `dim -> 2 * dim`.
    linear: Linear,
    norm: PlainLayerNorm,
    dim: usize,
}

impl AdaLayerNormFinal {
    /// Loads `linear` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            linear: candle_nn::linear(dim, dim * 2, vb.pp("linear"))?,
            norm: PlainLayerNorm::new(dim, vb.dtype(), vb.device())?,
            dim,
        })
    }

    /// `(1 + scale, shift)`, each `(B, 1, dim)`, for a time embedding
    /// `(B, dim)`.
    fn modulation(&self, t_emb: &Tensor) -> Result<(Tensor, Tensor)> {
        let emb = self.linear.forward(&candle_nn::ops::silu(t_emb)?)?;
        let scale = (emb.narrow(1, 0, self.dim)?.unsqueeze(1)? + 1.0)?;
        let shift = emb.narrow(1, self.dim, self.dim)?.unsqueeze(1)?;
        Ok((scale, shift))
    }

    fn forward(&self, x: &Tensor, scale: &Tensor, shift: &Tensor) -> Result<Tensor> {
        self.norm.forward_modulated(x, scale, shift)
    }
}

/// Everything the network derives from one flow time: the modulation of
/// every block and of the output norm. Batch 1 (shared by the guidance
/// branches) or B.
#[derive(Debug, Clone)]
pub struct StepConditioning {
    blocks: Vec<BlockModulation>,
    final_scale: Tensor,
    final_shift: Tensor,
}

impl StepConditioning {
    /// The modulation of block `i`.
    pub fn block(&self, i: usize) -> Option<&BlockModulation> {
        self.blocks.get(i)
    }

    /// The rows of several conditionings stacked into one batch, in order
    /// (a batch of utterances each at its own flow time).
    pub fn cat(parts: &[&StepConditioning]) -> Result<Self> {
        let depth = parts.first().map_or(0, |p| p.blocks.len());
        let blocks = (0..depth)
            .map(|i| BlockModulation::cat(&parts.iter().map(|p| &p.blocks[i]).collect::<Vec<_>>()))
            .collect::<Result<Vec<_>>>()?;
        let c = |f: fn(&StepConditioning) -> &Tensor| {
            Tensor::cat(&parts.iter().map(|p| f(p)).collect::<Vec<_>>(), 0)
        };
        Ok(Self {
            blocks,
            final_scale: c(|p| &p.final_scale)?,
            final_shift: c(|p| &p.final_shift)?,
        })
    }
}

/// Everything the network derives from one utterance: the reference/text
/// part of the input projection for each batch row (conditional, then
/// unconditional when guided) and the rotary tables.
#[derive(Debug, Clone)]
pub struct UtteranceConditioning {
    /// `(B, N, dim)`.
    context: Tensor,
    rope: Rotary,
    seq_len: usize,
}

impl UtteranceConditioning {
    /// Rows of the batch (2 with classifier-free guidance).
    pub fn batch(&self) -> Result<usize> {
        self.context.dim(0)
    }

    /// Frames of the utterance.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The reference/text part of the input projection, `(B, N, dim)`.
    pub fn context(&self) -> &Tensor {
        &self.context
    }

    /// The rotary tables for the utterance's frames.
    pub fn rope(&self) -> &Rotary {
        &self.rope
    }
}

/// The F5-TTS diffusion transformer (`transformer.*` in the checkpoint).
#[derive(Debug, Clone)]
pub struct DiT {
    time_embed: TimestepEmbedding,
    text_embed: TextEmbedding,
    input_embed: InputEmbedding,
    transformer_blocks: Vec<DiTBlock>,
    long_skip_connection: Option<Linear>,
    norm_out: AdaLayerNormFinal,
    proj_out: Linear,
    cfg: DitConfig,
    dtype: DType,
    device: Device,
}

impl DiT {
    /// Builds the network from `vb` rooted at `transformer`, in `vb`'s dtype.
    pub fn new(cfg: &DitConfig, vb: VarBuilder) -> crate::Result<Self> {
        cfg.validate()?;
        let vb_blocks = vb.pp("transformer_blocks");
        let transformer_blocks = (0..cfg.depth)
            .map(|i| DiTBlock::new(cfg, vb_blocks.pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let long_skip_connection = if cfg.long_skip_connection {
            let w = vb
                .pp("long_skip_connection")
                .get((cfg.dim, cfg.dim * 2), "weight")?;
            Some(Linear::new(w, None))
        } else {
            None
        };
        Ok(Self {
            time_embed: TimestepEmbedding::new(cfg.dim, vb.pp("time_embed"))?,
            text_embed: TextEmbedding::new(cfg, vb.pp("text_embed"))?,
            input_embed: InputEmbedding::new(cfg, vb.pp("input_embed"))?,
            transformer_blocks,
            long_skip_connection,
            norm_out: AdaLayerNormFinal::new(cfg.dim, vb.pp("norm_out"))?,
            proj_out: candle_nn::linear(cfg.dim, cfg.mel_dim, vb.pp("proj_out"))?,
            cfg: cfg.clone(),
            dtype: vb.dtype(),
            device: vb.device().clone(),
        })
    }

    /// The network's shape.
    pub fn config(&self) -> &DitConfig {
        &self.cfg
    }

    /// The dtype of the weights and activations.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `time_embed`.
    pub fn time_embed(&self) -> &TimestepEmbedding {
        &self.time_embed
    }

    /// `text_embed`.
    pub fn text_embed(&self) -> &TextEmbedding {
        &self.text_embed
    }

    /// `input_embed`.
    pub fn input_embed(&self) -> &InputEmbedding {
        &self.input_embed
    }

    /// `transformer_blocks`.
    pub fn blocks(&self) -> &[DiTBlock] {
        &self.transformer_blocks
    }

    /// The rotary tables for `seq_len` frames.
    pub fn rotary(&self, seq_len: usize) -> Result<Rotary> {
        Rotary::new(self.cfg.dim_head, seq_len, &self.device)
    }

    /// The conditioning of flow times `t` `(B,)`: batch B.
    pub fn step_conditioning(&self, t: &Tensor) -> Result<StepConditioning> {
        let t_emb = self.time_embed.forward(t)?;
        self.conditioning_from_embedding(&t_emb)
    }

    fn conditioning_from_embedding(&self, t_emb: &Tensor) -> Result<StepConditioning> {
        let blocks = self
            .transformer_blocks
            .iter()
            .map(|b| b.modulation(t_emb))
            .collect::<Result<Vec<_>>>()?;
        let (final_scale, final_shift) = self.norm_out.modulation(t_emb)?;
        Ok(StepConditioning {
            blocks,
            final_scale,
            final_shift,
        })
    }

    /// The conditioning of every flow time of a schedule, each batch 1: one
    /// batched pass through the time MLP and each modulation layer.
    pub fn precompute(&self, t_values: &[f32]) -> Result<Vec<StepConditioning>> {
        if t_values.is_empty() {
            return Ok(Vec::new());
        }
        let all =
            self.step_conditioning(&Tensor::from_slice(t_values, t_values.len(), &self.device)?)?;
        let row = |t: &Tensor, i: usize| t.narrow(0, i, 1);
        (0..t_values.len())
            .map(|i| {
                let blocks = all
                    .blocks
                    .iter()
                    .map(|m| m.row(i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(StepConditioning {
                    blocks,
                    final_scale: row(&all.final_scale, i)?,
                    final_shift: row(&all.final_shift, i)?,
                })
            })
            .collect()
    }

    /// Text embedding of token ids `(B, nt)` (i64 vocabulary indices, `-1`
    /// padding) over `seq_len` frames.
    pub fn embed_text(&self, ids: &Tensor, seq_len: usize, drop_text: bool) -> Result<Tensor> {
        self.text_embed.forward(ids, seq_len, drop_text)
    }

    /// The per-utterance conditioning for reference mel `cond` `(1, N,
    /// mel_dim)` (zero past the reference) and token ids `(1, nt)`; with
    /// `guided`, a batch of two: conditional, then unconditional (reference
    /// and text dropped).
    pub fn conditioning(
        &self,
        cond: &Tensor,
        ids: &Tensor,
        guided: bool,
    ) -> Result<UtteranceConditioning> {
        let (_, seq_len, _) = cond.dims3()?;
        let cond = cond.to_dtype(self.dtype)?;
        let (cond, text) = if guided {
            let ids = Tensor::cat(&[ids, ids], 0)?;
            let text = self
                .text_embed
                .forward_rows(&ids, seq_len, &[false, true])?;
            (Tensor::cat(&[&cond, &cond.zeros_like()?], 0)?, text)
        } else {
            let text = self.text_embed.forward(ids, seq_len, false)?;
            (cond, text)
        };
        Ok(UtteranceConditioning {
            context: self.input_embed.context(&cond, &text)?,
            rope: self.rotary(seq_len)?,
            seq_len,
        })
    }

    /// The flow for noisy mel `x` `(1 or B, N, mel_dim)` (shared by the batch
    /// rows of `utt` when 1) -> `(B, N, mel_dim)` in the model's dtype.
    pub fn forward_with(
        &self,
        x: &Tensor,
        utt: &UtteranceConditioning,
        step: &StepConditioning,
    ) -> Result<Tensor> {
        let x = x.to_dtype(self.dtype)?;
        let h = self.input_embed.forward_with_context(&x, &utt.context)?;
        self.backbone(h, step, &utt.rope, None)
    }

    /// The flow for a batch of utterances padded to one length: noisy mels
    /// `x` and contexts (rows of [`UtteranceConditioning::context`]) `(R, N,
    /// ·)`, zero past each row's length; `step` with R rows (each row at its
    /// own flow time, see [`StepConditioning::cat`]); `rope` for the N
    /// frames; `lengths` the R rows' frames. Row `r`'s first `lengths[r]`
    /// frames are what [`DiT::forward_with`] gives for that utterance alone
    /// (up to rounding); the frames past them are not meaningful.
    pub fn forward_batch(
        &self,
        x: &Tensor,
        context: &Tensor,
        step: &StepConditioning,
        rope: &Rotary,
        lengths: &[usize],
    ) -> Result<Tensor> {
        let (rows, n, _) = x.dims3()?;
        if lengths.len() != rows || lengths.iter().any(|&l| l == 0 || l > n) {
            candle_core::bail!(
                "forward_batch: lengths {lengths:?} do not fit {rows} rows of {n} frames"
            );
        }
        let x = x.to_dtype(self.dtype)?;
        let padded = lengths.iter().any(|&l| l < n);
        let mask = if padded {
            Some(row_mask(lengths, n, &self.device)?)
        } else {
            None
        };
        let h = self
            .input_embed
            .forward_with_context_masked(&x, context, mask.as_ref())?;
        self.backbone(h, step, rope, padded.then_some(lengths))
    }

    /// Blocks, optional long skip, output norm and projection.
    fn backbone(
        &self,
        h: Tensor,
        step: &StepConditioning,
        rope: &Rotary,
        lengths: Option<&[usize]>,
    ) -> Result<Tensor> {
        let residual = h.clone();
        let mut h = h;
        for (block, m) in self.transformer_blocks.iter().zip(&step.blocks) {
            h = block.forward(&h, m, rope, lengths)?;
        }
        if let Some(skip) = &self.long_skip_connection {
            h = skip.forward(&Tensor::cat(&[&h, &residual], D::Minus1)?)?;
        }
        let h = self
            .norm_out
            .forward(&h, &step.final_scale, &step.final_shift)?;
        self.proj_out.forward(&h)
    }

    /// Upstream's forward without caches: `x`, `cond` `(B, N, mel_dim)`,
    /// token ids `(B, nt)`, flow times `t` `(B,)` or `(1,)`.
    pub fn forward(
        &self,
        x: &Tensor,
        cond: &Tensor,
        ids: &Tensor,
        t: &Tensor,
        drop_audio_cond: bool,
        drop_text: bool,
    ) -> Result<Tensor> {
        let (_, seq_len, _) = x.dims3()?;
        let x = x.to_dtype(self.dtype)?;
        let cond = cond.to_dtype(self.dtype)?;
        let step = self.step_conditioning(t)?;
        let text = self.text_embed.forward(ids, seq_len, drop_text)?;
        let h = self
            .input_embed
            .forward(&x, &cond, &text, drop_audio_cond)?;
        self.backbone(h, &step, &self.rotary(seq_len)?, None)
    }
}

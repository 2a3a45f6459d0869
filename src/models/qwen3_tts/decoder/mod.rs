//! The 12 Hz speech tokenizer's decoder (`Qwen3TTSTokenizerV2Decoder`):
//! `(B, 16, T)` codes -> `(B, 1, T * 1920)` audio at 24 kHz.
//!
//! Pipeline (upstream attribute names, which are also the tensor paths):
//! `quantizer` (split RVQ lookup, 1 + 15 codebooks) -> `pre_conv` (causal
//! conv k3) -> `pre_transformer` (sliding-window attention) -> `upsample.I`
//! (causal ConvTranspose + ConvNeXt, x2 each) -> `decoder.0` (causal conv k7)
//! -> `decoder.1..=4` (SnakeBeta, ConvTranspose, residual units; x8, x5, x4,
//! x3) -> SnakeBeta -> causal conv k7 to one channel -> clamp to +-1.
//!
//! Two ways to run it, tested equal: [`Decoder::forward`] for a whole clip,
//! and [`Decoder::decode_chunk`] for a stream whose codes arrive a few
//! frames at a time, with the past in a [`DecoderState`] (see [`stream`]).
//!
//! - [`config`]: the configuration, [`DecoderConfig`];
//! - [`quantizer`]: the codebook lookups;
//! - [`transformer`]: the pre-transformer;
//! - [`blocks`]: the convolutional components;
//! - [`stream`]: the incremental decode.

pub mod blocks;
pub mod config;
pub mod quantizer;
pub mod stream;
pub mod transformer;

use candle_core::Tensor;
use candle_nn::VarBuilder;

pub use blocks::{
    CausalConv1d, CausalConvTranspose1d, ConvNeXtBlock, ConvState, ConvTransposeState,
    DecoderBlock, DecoderBlockState, ResidualUnit, ResidualUnitState, SnakeBeta,
};
pub use config::DecoderConfig;
pub use quantizer::SplitResidualVectorQuantizer;
pub use stream::DecoderState;
pub use transformer::{KvCache, PreTransformer, TransformerState};

use crate::Result;

/// One upsampling stage (`upsample.I`): causal ConvTranspose (kernel =
/// stride = ratio), then a ConvNeXt block.
#[derive(Debug, Clone)]
pub struct UpsampleStage {
    conv: CausalConvTranspose1d,
    convnext: ConvNeXtBlock,
}

impl UpsampleStage {
    /// Loads `upsample.I.{0,1}`.
    pub fn new(cfg: &DecoderConfig, ratio: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            conv: CausalConvTranspose1d::new(vb.pp(0), ratio)?,
            convnext: ConvNeXtBlock::new(cfg.latent_dim, vb.pp(1))?,
        })
    }

    /// The transposed conv (`upsample.I.0`).
    pub fn conv(&self) -> &CausalConvTranspose1d {
        &self.conv
    }

    /// The ConvNeXt block (`upsample.I.1`).
    pub fn convnext(&self) -> &ConvNeXtBlock {
        &self.convnext
    }

    /// `(B, latent, T)` -> `(B, latent, T * ratio)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.convnext.forward(&self.conv.forward(x)?)
    }

    /// Streaming twin of [`Self::forward`].
    pub fn step(&self, x: &Tensor, state: &mut UpsampleStageState) -> Result<Tensor> {
        let h = self.conv.step(x, &mut state.conv)?;
        self.convnext.step(&h, &mut state.convnext)
    }
}

/// The streaming state of an [`UpsampleStage`]. Its transposed conv has
/// kernel = stride, so it carries nothing in practice, but it keeps the
/// general overlap state in case a checkpoint differs.
#[derive(Debug, Clone, Default)]
pub struct UpsampleStageState {
    conv: ConvTransposeState,
    convnext: ConvState,
}

impl UpsampleStageState {
    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        self.conv.reset();
        self.convnext.reset();
    }
}

/// The final SnakeBeta and conv to one channel (`decoder.{n+1}`,
/// `decoder.{n+2}` for n decoder blocks).
#[derive(Debug, Clone)]
pub struct OutputHead {
    snake: SnakeBeta,
    conv: CausalConv1d,
}

impl OutputHead {
    /// `(B, C, T)` -> `(B, 1, T)`, clamped to `[-1, 1]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv.forward(&self.snake.forward(x)?)?;
        Ok(y.clamp(-1f32, 1f32)?)
    }

    /// Streaming twin of [`Self::forward`].
    pub fn step(&self, x: &Tensor, state: &mut ConvState) -> Result<Tensor> {
        let y = self.conv.step(&self.snake.forward(x)?, state)?;
        Ok(y.clamp(-1f32, 1f32)?)
    }
}

/// The whole decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    cfg: DecoderConfig,
    quantizer: SplitResidualVectorQuantizer,
    pre_conv: CausalConv1d,
    pre_transformer: PreTransformer,
    upsample: Vec<UpsampleStage>,
    /// `decoder.0`: latent -> `decoder_dim`.
    input_conv: CausalConv1d,
    /// `decoder.1..=n`.
    blocks: Vec<DecoderBlock>,
    head: OutputHead,
}

impl Decoder {
    /// Builds the decoder from weights named as upstream's `decoder.*`
    /// (pass `vb.pp("decoder")` for a whole tokenizer checkpoint).
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        let upsample = cfg
            .upsampling_ratios
            .iter()
            .enumerate()
            .map(|(i, &r)| UpsampleStage::new(cfg, r, vb.pp("upsample").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let dec = vb.pp("decoder");
        let blocks = cfg
            .upsample_rates
            .iter()
            .enumerate()
            .map(|(i, &rate)| DecoderBlock::new(cfg.decoder_dim >> i, rate, dec.pp(i + 1)))
            .collect::<Result<Vec<_>>>()?;
        let n = blocks.len();
        let out_dim = cfg.decoder_dim >> n;
        Ok(Self {
            cfg: cfg.clone(),
            quantizer: SplitResidualVectorQuantizer::new(cfg, vb.pp("quantizer"))?,
            pre_conv: CausalConv1d::new(vb.pp("pre_conv"), 1, 1, 1)?,
            pre_transformer: PreTransformer::new(cfg, vb.pp("pre_transformer"))?,
            upsample,
            input_conv: CausalConv1d::new(dec.pp(0), 1, 1, 1)?,
            blocks,
            head: OutputHead {
                snake: SnakeBeta::new(out_dim, dec.pp(n + 1))?,
                conv: CausalConv1d::new(dec.pp(n + 2), 1, 1, 1)?,
            },
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.cfg
    }

    /// Audio samples per code frame.
    pub fn total_upsample(&self) -> usize {
        self.cfg.total_upsample()
    }

    /// `quantizer`.
    pub fn quantizer(&self) -> &SplitResidualVectorQuantizer {
        &self.quantizer
    }

    /// `pre_conv`.
    pub fn pre_conv(&self) -> &CausalConv1d {
        &self.pre_conv
    }

    /// `pre_transformer`.
    pub fn pre_transformer(&self) -> &PreTransformer {
        &self.pre_transformer
    }

    /// `upsample.I`.
    pub fn upsample(&self) -> &[UpsampleStage] {
        &self.upsample
    }

    /// `decoder.0`, the conv from the latent width to `decoder_dim`.
    pub fn input_conv(&self) -> &CausalConv1d {
        &self.input_conv
    }

    /// `decoder.1..=n`.
    pub fn blocks(&self) -> &[DecoderBlock] {
        &self.blocks
    }

    /// The last SnakeBeta, conv and clamp.
    pub fn head(&self) -> &OutputHead {
        &self.head
    }

    /// Codes -> the latent sequence before upsampling: quantizer, pre-conv
    /// and pre-transformer, `(B, Q, T)` -> `(B, latent, T)`.
    pub fn latents(&self, codes: &Tensor) -> Result<Tensor> {
        quantizer::check_codes(codes, self.cfg.num_quantizers, self.cfg.codebook_size)?;
        let h = self.quantizer.decode(codes)?;
        // (B, latent, T) -> (B, T, latent) for the transformer, and back.
        let h = self.pre_conv.forward(&h)?.transpose(1, 2)?.contiguous()?;
        let h = self.pre_transformer.forward(&h)?;
        Ok(h.transpose(1, 2)?.contiguous()?)
    }

    /// Latents -> audio: upsampler, waveform decoder, clamp;
    /// `(B, latent, T)` -> `(B, 1, T * total_upsample)`.
    pub fn synthesize(&self, latents: &Tensor) -> Result<Tensor> {
        let mut h = latents.clone();
        for stage in &self.upsample {
            h = stage.forward(&h)?;
        }
        h = self.input_conv.forward(&h)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        self.head.forward(&h)
    }

    /// `(B, num_quantizers, T)` codes (u32 or i64, in `[0, codebook_size)`)
    /// -> `(B, 1, T * total_upsample)` audio in `[-1, 1]`.
    pub fn forward(&self, codes: &Tensor) -> Result<Tensor> {
        self.synthesize(&self.latents(codes)?)
    }
}

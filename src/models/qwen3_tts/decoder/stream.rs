//! Incremental decoding: the codes of a stream arrive a few frames at a
//! time (as the talker generates them) and each chunk is turned into its
//! audio at once, with what it needs from the past in a [`DecoderState`]
//! that lives outside the network (moshi style: the model is shared and
//! immutable, each stream owns a state).
//!
//! The decode is exact and has no lag: every part of the decoder is causal
//! (output frame `t` only sees input up to `t`), so a chunk of `T` frames
//! gives exactly its `T * total_upsample` samples, final, and the outputs
//! of any chunking concatenate to the whole-clip [`Decoder::forward`]
//! (up to float rounding). What is carried:
//! - every causal conv: its last `(kernel - 1) * dilation` inputs, at that
//!   layer's rate ([`ConvState`]);
//! - every causal transposed conv with `kernel > stride` (the decoder
//!   blocks' `2r`/`r` ones): the partial sums of the `kernel - stride`
//!   samples after the chunk, which a whole decode trims at the end of the
//!   clip and which the next chunk's first frame completes
//!   ([`ConvTransposeState`](super::ConvTransposeState));
//! - the pre-transformer: each layer's keys/values of the last
//!   `sliding_window - 1` frames and the frame position for the rope
//!   ([`TransformerState`]).
//!
//! Nothing needs flushing at the end of a stream: the samples a transposed
//! conv still holds belong after the last frame, where the whole-clip
//! decode drops them too.

use candle_core::Tensor;

use super::blocks::{ConvState, DecoderBlockState};
use super::transformer::TransformerState;
use super::{quantizer, Decoder, UpsampleStageState};
use crate::{Error, Result};

/// Everything one stream's next chunk needs from its past, for
/// [`Decoder::decode_chunk`]. Made by [`Decoder::new_state`], one per
/// stream (a state with batch `B` decodes `B` streams in step); reusable
/// for a new stream after [`Self::reset`].
#[derive(Debug, Clone)]
pub struct DecoderState {
    pre_conv: ConvState,
    pre_transformer: TransformerState,
    upsample: Vec<UpsampleStageState>,
    input_conv: ConvState,
    blocks: Vec<DecoderBlockState>,
    head: ConvState,
    /// The batch size, fixed by the first chunk.
    batch: Option<usize>,
}

impl DecoderState {
    /// Frames decoded so far.
    pub fn frames(&self) -> usize {
        self.pre_transformer.position()
    }

    /// Back to the start of a stream (no past, any batch size), keeping
    /// the allocation of the per-layer lists.
    pub fn reset(&mut self) {
        self.pre_conv.reset();
        self.pre_transformer.reset();
        self.upsample.iter_mut().for_each(UpsampleStageState::reset);
        self.input_conv.reset();
        self.blocks.iter_mut().for_each(DecoderBlockState::reset);
        self.head.reset();
        self.batch = None;
    }
}

impl Decoder {
    /// A state at the start of a stream, shaped for this decoder.
    pub fn new_state(&self) -> DecoderState {
        DecoderState {
            pre_conv: ConvState::default(),
            pre_transformer: self.pre_transformer().new_state(),
            upsample: vec![UpsampleStageState::default(); self.upsample().len()],
            input_conv: ConvState::default(),
            blocks: vec![DecoderBlockState::default(); self.blocks().len()],
            head: ConvState::default(),
            batch: None,
        }
    }

    /// The next `T` frames of a stream: `(B, num_quantizers, T)` codes (u32
    /// or i64, in `[0, codebook_size)`) -> `(B, 1, T * total_upsample)`
    /// audio in `[-1, 1]`, final (see the [module docs](self)). `T` may be
    /// 0 (no audio, the state untouched); `B` must stay the same for the
    /// whole stream.
    pub fn decode_chunk(&self, codes: &Tensor, state: &mut DecoderState) -> Result<Tensor> {
        let cfg = self.config();
        quantizer::check_codes(codes, cfg.num_quantizers, cfg.codebook_size)?;
        let (b, _, t) = codes.dims3()?;
        if let Some(batch) = state.batch {
            if batch != b {
                return Err(Error::InvalidArgument(format!(
                    "a chunk of {b} streams for a decoder state of {batch}"
                )));
            }
        }
        if t == 0 {
            return Ok(Tensor::zeros(
                (b, 1, 0),
                self.quantizer().dtype(),
                codes.device(),
            )?);
        }
        state.batch = Some(b);

        // As [`Decoder::latents`]: (B, codebook_dim, T) -> (B, latent, T),
        // (B, T, latent) inside the transformer.
        let h = self.quantizer().decode(codes)?;
        let h = self.pre_conv().step(&h, &mut state.pre_conv)?;
        let h = h.transpose(1, 2)?.contiguous()?;
        let h = self
            .pre_transformer()
            .step(&h, &mut state.pre_transformer)?;
        let mut h = h.transpose(1, 2)?.contiguous()?;

        // As [`Decoder::synthesize`]: (B, latent, T) -> (B, 1, T * up).
        for (stage, s) in self.upsample().iter().zip(&mut state.upsample) {
            h = stage.step(&h, s)?;
        }
        h = self.input_conv().step(&h, &mut state.input_conv)?;
        for (block, s) in self.blocks().iter().zip(&mut state.blocks) {
            h = block.step(&h, s)?;
        }
        self.head().step(&h, &mut state.head)
    }
}

//! A sentence spoken as it is generated: frames from a [`Generation`] go
//! through the incremental decoder a few at a time, so the first audio
//! comes after [`ChunkPlan::first_frames`] frames instead of after the
//! whole sentence. The decoder is exact (see
//! [`super::decoder::stream`]): the chunks concatenate to the decode of all
//! the sentence's codes at once.

use candle_core::{DType, Tensor};

use super::decoder::{Decoder, DecoderState};
use super::generate::{Generation, StopReason};
use super::model::Qwen3TtsModel;
use crate::{Error, Result};

/// How a sentence's frames are grouped into audio chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Frames in the first chunk: the time to first audio is this many
    /// talker frames (4 frames: 320 ms of audio).
    pub first_frames: usize,
    /// Frames in each later chunk (fewer decoder calls per second of
    /// audio, still far ahead of playback).
    pub frames: usize,
}

impl Default for ChunkPlan {
    fn default() -> Self {
        Self {
            first_frames: 4,
            frames: 8,
        }
    }
}

impl ChunkPlan {
    /// Refuses a plan with an empty chunk.
    pub fn check(&self) -> Result<()> {
        if self.first_frames == 0 || self.frames == 0 {
            return Err(Error::InvalidArgument(format!(
                "chunks must hold at least one frame (first {}, then {})",
                self.first_frames, self.frames
            )));
        }
        Ok(())
    }
}

/// One sentence in progress: its generation and its decoder state.
///
/// Pull whole chunks with [`Self::next_chunk`], or drive it a frame at a
/// time ([`Self::advance`], then [`Self::take_chunk`] when
/// [`Self::chunk_ready`]), as the engine does to cancel and batch between
/// frames. Both give the same chunks.
#[derive(Debug)]
pub struct SentenceSpeech {
    generation: Generation,
    state: DecoderState,
    plan: ChunkPlan,
    chunks: usize,
    codes: Vec<Vec<u32>>,
    /// Frames generated and not yet decoded.
    pending: Vec<Vec<u32>>,
    ended: bool,
}

impl SentenceSpeech {
    /// Wraps a started generation (its prompt already prefilled).
    pub fn new(generation: Generation, decoder: &Decoder, plan: ChunkPlan) -> Result<Self> {
        plan.check()?;
        Ok(Self {
            generation,
            state: decoder.new_state(),
            plan,
            chunks: 0,
            codes: Vec::new(),
            pending: Vec::new(),
            ended: false,
        })
    }

    /// Generates the next frame; `false` once the sentence has ended (end
    /// of speech, or the budget spent: see [`Self::stop_reason`]).
    pub fn advance(&mut self, model: &Qwen3TtsModel) -> Result<bool> {
        if self.ended {
            return Ok(false);
        }
        match self.generation.next_frame(model)? {
            Some(frame) => {
                self.pending.push(frame.codes);
                Ok(true)
            }
            None => {
                self.ended = true;
                Ok(false)
            }
        }
    }

    /// Whether the generated frames make a chunk: as many as the plan's
    /// next chunk holds, or the rest once the sentence has ended.
    pub fn chunk_ready(&self) -> bool {
        let want = if self.chunks == 0 {
            self.plan.first_frames
        } else {
            self.plan.frames
        };
        self.pending.len() >= want || (self.ended && !self.pending.is_empty())
    }

    /// Whether the sentence has ended (no frame will follow).
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Frames generated so far.
    pub fn frames(&self) -> usize {
        self.codes.len() + self.pending.len()
    }

    /// Decodes the frames generated since the last chunk (whether or not
    /// the plan's count is reached); `None` when there are none.
    pub fn take_chunk(
        &mut self,
        model: &Qwen3TtsModel,
        decoder: &Decoder,
    ) -> Result<Option<Vec<f32>>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let frames = std::mem::take(&mut self.pending);
        self.chunks += 1;
        let audio = decode(decoder, &frames, &mut self.state, model)?;
        self.codes.extend(frames);
        Ok(Some(audio))
    }

    /// The next chunk of audio (24 kHz mono), `None` once the sentence has
    /// ended; the last chunk may be shorter than planned.
    pub fn next_chunk(
        &mut self,
        model: &Qwen3TtsModel,
        decoder: &Decoder,
    ) -> Result<Option<Vec<f32>>> {
        while !self.chunk_ready() && self.advance(model)? {}
        self.take_chunk(model, decoder)
    }

    /// Why the generation ended (`None` while it runs).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.generation.stop_reason()
    }

    /// The codes decoded so far, frame by frame.
    pub fn codes(&self) -> &[Vec<u32>] {
        &self.codes
    }
}

/// Decodes `frames` (each `num_quantizers` codes) as the next chunk.
fn decode(
    decoder: &Decoder,
    frames: &[Vec<u32>],
    state: &mut DecoderState,
    model: &Qwen3TtsModel,
) -> Result<Vec<f32>> {
    let q = frames[0].len();
    let t = frames.len();
    // (T, Q) frame-major -> (1, Q, T)
    let flat: Vec<u32> = frames.iter().flatten().copied().collect();
    let codes = Tensor::from_vec(flat, (t, q), model.device())?
        .t()?
        .contiguous()?
        .unsqueeze(0)?;
    let audio = decoder.decode_chunk(&codes, state)?;
    Ok(audio.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
}

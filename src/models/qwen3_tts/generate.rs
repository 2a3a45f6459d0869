//! One utterance's generation, frame by frame (upstream
//! `Qwen3TTSTalkerForConditionalGeneration` under transformers' `generate`).
//!
//! Each [`Generation::next_frame`]:
//! 1. picks the frame's first code from the talker's last logits
//!    (repetition penalty over the first codes so far, end-of-speech masked
//!    for the first `min_new_frames` frames, the control band suppressed);
//!    end of speech ends the utterance;
//! 2. runs the code predictor afresh: prefill `[talker hidden, embedding of
//!    code 0]`, then one position per code, 15 codes;
//! 3. feeds the talker the sum of the frame's 16 code embeddings plus the
//!    next trailing text embedding (or `tts_pad`), which gives the logits
//!    and hidden state of the next frame.
//!
//! All state lives here (the key/value caches, the random generator), so one
//! [`Qwen3TtsModel`] serves any number of utterances; the caller decides
//! when to take the next frame (the engine streams, and cancels between
//! frames).

use candle_core::{DType, IndexOp, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::layers::StackCache;
use super::model::Qwen3TtsModel;
use super::prompt::Prompt;
use super::sampling::{apply_repetition_penalty, sample, SamplingParams};
use crate::{Error, Result};

/// Generation settings; [`Default`] is upstream's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerationParams {
    /// How the talker picks each frame's first code.
    pub talker: SamplingParams,
    /// How the code predictor picks the other codes.
    pub predictor: SamplingParams,
    /// Penalty on first codes already generated (1.0: none). Upstream
    /// applies it in greedy mode too.
    pub repetition_penalty: f32,
    /// End of speech is impossible before this many frames (upstream
    /// `min_new_tokens` 2).
    pub min_new_frames: usize,
    /// Most frames generated; reaching it ends the utterance
    /// ([`StopReason::Budget`]).
    pub max_frames: usize,
    /// Seed of the random draws: the same seed, prompt and settings give the
    /// same codes.
    pub seed: u64,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            talker: SamplingParams::UPSTREAM,
            predictor: SamplingParams::UPSTREAM,
            repetition_penalty: 1.05,
            min_new_frames: 2,
            // upstream's inference default (`max_new_tokens` 2048, about 164 s)
            max_frames: 2048,
            seed: 0,
        }
    }
}

impl GenerationParams {
    /// Refuses settings generation cannot run with, naming them.
    pub fn check(&self) -> Result<()> {
        self.talker
            .check("talker")
            .and_then(|_| self.predictor.check("code predictor"))
            .map_err(Error::InvalidArgument)?;
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "repetition_penalty must be a positive number, got {}",
                self.repetition_penalty
            )));
        }
        if self.max_frames == 0 {
            return Err(Error::InvalidArgument(
                "a budget of 0 frames cannot produce speech".into(),
            ));
        }
        Ok(())
    }
}

/// Why an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The talker chose end of speech.
    EndOfSpeech,
    /// The frame budget ran out first (the sentence may be cut).
    Budget,
}

/// One generated frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its codes, one per codebook (the first from the talker).
    pub codes: Vec<u32>,
    /// The talker's last hidden state it was predicted from, `(1, 1, hidden)`.
    pub talker_hidden: Tensor,
}

/// An utterance in progress.
#[derive(Debug)]
pub struct Generation {
    params: GenerationParams,
    talker_cache: StackCache,
    predictor_cache: StackCache,
    trailing: Tensor,
    tts_pad: Tensor,
    /// The talker's last hidden state, `(1, 1, hidden)`.
    hidden: Tensor,
    /// The talker's logits for the next first code.
    logits: Vec<f32>,
    /// First codes so far.
    history: Vec<u32>,
    frames: usize,
    stop: Option<StopReason>,
    rng: StdRng,
}

impl Generation {
    /// Prefills the talker with `prompt` (its first frame's logits).
    pub fn new(model: &Qwen3TtsModel, prompt: &Prompt, params: GenerationParams) -> Result<Self> {
        let cache = model.talker.new_cache(prompt.prefill.dim(1)? + 256);
        Self::with_cache(model, prompt, params, cache)
    }

    /// [`Self::new`] continuing `talker_cache`, which holds the first
    /// `talker_cache.len()` positions of `prompt.prefill` already (a cached
    /// prefix, see [`StackCache::fork`]); only the rest is computed.
    pub fn with_cache(
        model: &Qwen3TtsModel,
        prompt: &Prompt,
        params: GenerationParams,
        mut talker_cache: StackCache,
    ) -> Result<Self> {
        params.check()?;
        let len = prompt.prefill.dim(1)?;
        let done = talker_cache.len();
        if done >= len {
            return Err(Error::InvalidArgument(format!(
                "the cached prefix ({done} positions) leaves nothing of the {len}-position prompt"
            )));
        }
        let hidden = model
            .talker
            .forward_embeds(&prompt.prefill.i((.., done..))?, &mut talker_cache)?;
        let hidden = hidden.i((.., hidden.dim(1)? - 1..))?;
        let logits = first_code_logits(model, &hidden)?;
        Ok(Self {
            params,
            talker_cache,
            predictor_cache: model.predictor.new_cache(),
            trailing: prompt.trailing.clone(),
            tts_pad: prompt.tts_pad.clone(),
            hidden,
            logits,
            history: Vec::new(),
            frames: 0,
            stop: None,
            rng: StdRng::seed_from_u64(params.seed),
        })
    }

    /// Frames produced so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Why it ended; `None` while frames may follow.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
    }

    /// The next frame, or `None` once the utterance has ended (see
    /// [`Self::stop_reason`]).
    pub fn next_frame(&mut self, model: &Qwen3TtsModel) -> Result<Option<Frame>> {
        if self.stop.is_some() {
            return Ok(None);
        }
        if self.frames >= self.params.max_frames {
            self.stop = Some(StopReason::Budget);
            return Ok(None);
        }
        let tc = &model.config().talker_config;
        let eos = tc.codec_eos_token_id;
        let mut logits = std::mem::take(&mut self.logits);
        apply_repetition_penalty(&mut logits, &self.history, self.params.repetition_penalty);
        if self.history.len() < self.params.min_new_frames {
            if let Some(l) = logits.get_mut(eos as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        // the control band (all but end of speech) never starts a frame
        let band = tc.vocab_size.saturating_sub(1024);
        for (i, l) in logits.iter_mut().enumerate().skip(band) {
            if i != eos as usize {
                *l = f32::NEG_INFINITY;
            }
        }
        let c0 = sample(&logits, &self.params.talker, &mut self.rng);
        self.history.push(c0);
        if c0 == eos {
            self.stop = Some(StopReason::EndOfSpeech);
            return Ok(None);
        }

        let codes = self.predict_rest(model, c0)?;
        let frame = Frame {
            codes,
            talker_hidden: self.hidden.clone(),
        };
        self.frames += 1;

        // the talker's next input: the frame's codes plus the next text
        if self.frames < self.params.max_frames {
            let mut input = model.frame_embeds(std::slice::from_ref(&frame.codes))?;
            let step = self.frames - 1;
            input = if step < self.trailing.dim(1)? {
                (input + self.trailing.i((.., step..step + 1))?)?
            } else {
                (input + &self.tts_pad)?
            };
            self.hidden = model
                .talker
                .forward_embeds(&input, &mut self.talker_cache)?;
            self.logits = first_code_logits(model, &self.hidden)?;
        }
        Ok(Some(frame))
    }

    /// Codes 1..16 of a frame whose first code is `c0`.
    fn predict_rest(&mut self, model: &Qwen3TtsModel, c0: u32) -> Result<Vec<u32>> {
        let cp = &model.predictor;
        let cache = &mut self.predictor_cache;
        cache.reset();
        let mut codes = Vec::with_capacity(cp.num_groups() + 1);
        codes.push(c0);
        let mut input = Tensor::cat(&[&self.hidden, &model.codec_embeds(&[c0])?], 1)?;
        for j in 0..cp.num_groups() {
            let h = cp.forward_embeds(&input, cache)?;
            let h = h.i((.., h.dim(1)? - 1..))?;
            let logits = logits_vec(&cp.logits(&h, j)?)?;
            let code = sample(&logits, &self.params.predictor, &mut self.rng);
            codes.push(code);
            if j + 1 < cp.num_groups() {
                let ids = Tensor::from_slice(&[code], (1, 1), model.device())?;
                input = cp.embed_codes(j, &ids)?;
            }
        }
        Ok(codes)
    }
}

fn first_code_logits(model: &Qwen3TtsModel, hidden: &Tensor) -> Result<Vec<f32>> {
    logits_vec(&model.talker.logits(hidden)?)
}

/// `(1, 1, V)` logits as f32 on the host.
fn logits_vec(logits: &Tensor) -> Result<Vec<f32>> {
    Ok(logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
}

//! The contract between the engine and a model: the model trait, what a
//! model is handed for a sentence, and the per-request settings it reads.
//! Models (`models/`) implement it and the engine (`engine/`) drives it;
//! neither reaches into the other.
//!
//! A [`ModelLoader`] describes a model without loading it (cheap, checked
//! when a voice is registered); the engine's worker calls
//! [`ModelLoader::load`] on first use and owns the resulting [`Backend`]
//! until it is unloaded. The worker hands the backend one sentence at a time
//! ([`SentenceJob`]); a backend with inner steps (flow-matching steps,
//! autoregressive frames) checks [`SentenceJob::cancelled`] between them.
//!
//! Piper voices implement this in `models::piper::backend`; cloning models
//! (reference audio + transcript) turn a [`Reference`] into a
//! [`VoicePrompt`] once, which the engine caches by content hash.
//!
//! A model with inner steps can also be driven step by step
//! ([`Backend::begin`], [`Backend::step`], [`Backend::finish`]): the worker
//! then advances the current sentences of several streams together, one
//! batched model call per step, each sentence at its own step.
//!
//! A model whose sentences come out in pieces ([`Backend::streams_pieces`]:
//! Qwen3-TTS decodes its audio a few frames at a time) is always driven
//! step by step; after each step the worker takes the audio made so far
//! ([`Backend::take_audio`]) and delivers it as a chunk, so the first audio
//! of a sentence does not wait for its end.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use candle_core::Device;
use rand::rngs::StdRng;

use crate::text::language::Language;
use crate::timing::{SentenceTiming, TimingRequest};
use crate::Result;

mod cancel;
mod options;

pub use cancel::CancelHandle;
pub use options::{check_count, check_number, SynthesisOptions};

/// The precision models keep their weights in on `device`: f32 on the CPU
/// (the parity precision), bf16 on GPUs (f32's range at half the memory;
/// softmax and rotary angles stay f32 inside the models).
pub fn weights_dtype(device: &Device) -> candle_core::DType {
    if device.is_cpu() {
        candle_core::DType::F32
    } else {
        candle_core::DType::BF16
    }
}

/// A model's processed form of a reference voice (resampled and normalized
/// audio features, transcript tokens, …), opaque to the engine.
pub type VoicePrompt = Arc<dyn Any + Send + Sync>;

/// Reference recording and transcript of a voice to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Reference {
    /// The encoded audio file's bytes (WAV, MP3, FLAC, OGG); hashed to key
    /// the prompt cache.
    pub audio: Arc<[u8]>,
    /// What is said in the recording.
    pub text: String,
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("audio_bytes", &self.audio.len())
            .field("text", &self.text)
            .finish()
    }
}

/// Describes a model and loads it. Cheap to hold; implementations read
/// only small config files when created.
pub trait ModelLoader: Send + Sync + fmt::Debug {
    /// Identity of the model: voices whose loaders return the same key share
    /// one loaded model. Fixed when the loader is made (the engine reads it
    /// once, when a voice is registered).
    fn key(&self) -> String;

    /// Language of the text the model reads (picks the normalization).
    fn language(&self) -> Language;

    /// Output sample rate, when known before loading (used only for
    /// display; the loaded backend's rate is authoritative).
    fn sample_rate(&self) -> Option<u32> {
        None
    }

    /// Number of built-in speakers (1 for single-speaker and cloning models).
    fn num_speakers(&self) -> usize {
        1
    }

    /// Whether voices of this model are cloned from a [`Reference`].
    fn clones_voices(&self) -> bool {
        false
    }

    /// Whether a [`Reference`] needs its transcript (default: yes; a model
    /// that clones from the recording's speaker vector alone does not).
    fn needs_transcript(&self) -> bool {
        true
    }

    /// Validates request options against what the model accepts, before
    /// the request is queued.
    fn check_options(&self, options: &SynthesisOptions) -> Result<()>;

    /// Loads the weights onto `device`.
    fn load(&self, device: &Device) -> Result<Box<dyn Backend>>;
}

/// A loaded model, owned by the engine's worker thread.
pub trait Backend: Send {
    /// Sample rate of the audio [`Backend::synthesize`] returns.
    fn sample_rate(&self) -> u32;

    /// Processes a reference voice into the model's prompt. Models that do
    /// not clone keep the default, which refuses.
    fn prepare_voice(&mut self, reference: &Reference) -> Result<VoicePrompt> {
        let _ = reference;
        Err(crate::Error::Unsupported(
            "this model does not clone voices from reference audio".into(),
        ))
    }

    /// Speaks one (normalized) sentence: mono f32 samples at
    /// [`Backend::sample_rate`]. Returns `Err(Error::Cancelled)` when
    /// [`SentenceJob::cancelled`] turns true between inner steps.
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>>;

    /// Whether [`Backend::begin`], [`Backend::step`] and
    /// [`Backend::finish`] are implemented (the default: not).
    fn steps_in_batches(&self) -> bool {
        false
    }

    /// Starts a sentence for [`Backend::step`]: everything done once per
    /// sentence (text, conditioning, random draws from `job.rng`, in the
    /// order [`Backend::synthesize`] makes them, so the audio is the same).
    fn begin(&mut self, job: &mut SentenceJob<'_>) -> Result<SentenceInProgress> {
        let _ = job;
        Err(crate::Error::Unsupported(
            "this model is not run step by step".into(),
        ))
    }

    /// Advances each sentence of `batch` (none finished) by one step, as one
    /// model call. `Err`: the call failed as a whole and no sentence moved
    /// (the worker retries with fewer); `Ok` holds each sentence's own
    /// outcome (an `Err` there ends that sentence alone). Each sentence's
    /// audio is the same as alone, up to rounding.
    fn step(&mut self, batch: &mut [&mut SentenceInProgress]) -> Result<Vec<Result<()>>> {
        let _ = batch;
        Err(crate::Error::Unsupported(
            "this model is not run step by step".into(),
        ))
    }

    /// Whether a sentence's audio comes out in pieces as it is stepped
    /// ([`Backend::take_audio`]); the worker then steps the model even
    /// with batching off (default: not; requires
    /// [`Backend::steps_in_batches`]).
    fn streams_pieces(&self) -> bool {
        false
    }

    /// The audio of `sentence` made since the last call (after a step);
    /// empty when there is nothing new. [`Backend::finish`] then returns
    /// only the rest.
    fn take_audio(&mut self, sentence: &mut SentenceInProgress) -> Result<Vec<f32>> {
        let _ = sentence;
        Ok(Vec::new())
    }

    /// The audio of a sentence whose steps are all taken (what
    /// [`Backend::take_audio`] has not yet returned).
    fn finish(&mut self, sentence: SentenceInProgress) -> Result<Vec<f32>> {
        let _ = sentence;
        Err(crate::Error::Unsupported(
            "this model is not run step by step".into(),
        ))
    }
}

/// A sentence a backend is part-way through ([`Backend::begin`]): the
/// backend's own state and how many steps are left.
pub struct SentenceInProgress {
    state: Box<dyn Any + Send>,
    steps_left: usize,
    /// What the backend tells the engine about the sentence.
    pub report: SentenceReport,
}

/// What a backend tells the engine about a sentence it spoke, for the
/// metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentenceReport {
    /// The sentence was ended by the model's length budget (an
    /// autoregressive model that did not stop by itself), not by its own
    /// end of speech.
    pub hit_budget: bool,
}

impl SentenceInProgress {
    /// Wraps a backend's state with its step count.
    pub fn new(state: impl Any + Send, steps_left: usize) -> Self {
        Self {
            state: Box::new(state),
            steps_left,
            report: SentenceReport::default(),
        }
    }

    /// Model steps left before [`Backend::finish`].
    pub fn steps_left(&self) -> usize {
        self.steps_left
    }

    /// Whether every step is taken.
    pub fn is_done(&self) -> bool {
        self.steps_left == 0
    }

    /// Sets the steps left (the backend, after a step).
    pub fn set_steps_left(&mut self, n: usize) {
        self.steps_left = n;
    }

    /// The backend's state, if it is a `T`.
    pub fn state_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.state.downcast_mut()
    }

    /// The backend's state, taken out, if it is a `T`.
    pub fn into_state<T: Any>(self) -> Option<T> {
        self.state.downcast().ok().map(|b| *b)
    }
}

impl fmt::Debug for SentenceInProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentenceInProgress")
            .field("steps_left", &self.steps_left)
            .finish_non_exhaustive()
    }
}

/// One sentence of one request, as the worker hands it to a backend.
pub struct SentenceJob<'a> {
    /// The sentence, normalized, control characters removed.
    pub text: &'a str,
    /// The request's synthesis options (validated by
    /// [`ModelLoader::check_options`]).
    pub options: &'a SynthesisOptions,
    /// Speaker: the request's, else the voice's default.
    pub speaker: Option<i64>,
    /// The voice's prompt, for cloning models.
    pub prompt: Option<&'a VoicePrompt>,
    /// The request's random source: seeded per request, so a seeded request
    /// sounds the same however it interleaves with others.
    pub rng: &'a mut StdRng,
    /// The request's cancel flag.
    pub cancel: &'a CancelHandle,
    /// Filled in by the backend for the metrics.
    pub report: SentenceReport,
    /// Which timings the request wants.
    pub timing_request: TimingRequest,
    /// Filled in by a backend that measures them: the words (and, when
    /// asked, phonemes) of the sentence it spoke, in its own samples. The
    /// engine estimates words for a backend that leaves it `None`.
    pub timing: Option<SentenceTiming>,
}

impl SentenceJob<'_> {
    /// Whether the request was cancelled (check between model steps).
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

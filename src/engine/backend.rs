//! The contract between the engine and a model.
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

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use candle_core::Device;
use rand::rngs::StdRng;

use super::request::{CancelHandle, SynthesisOptions};
use crate::text::language::Language;
use crate::Result;

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
    /// one loaded model.
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
}

impl SentenceJob<'_> {
    /// Whether the request was cancelled (check between model steps).
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

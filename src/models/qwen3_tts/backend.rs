//! Qwen3-TTS as an engine backend, streaming within sentences.
//!
//! A voice is a checkpoint plus who speaks: a built-in speaker of a
//! CustomVoice checkpoint (the voice's speaker index into
//! [`Qwen3Loader::speaker_names`]), a reference clip cloned by its x-vector
//! on a Base checkpoint, or an instruction on a VoiceDesign one; with a
//! language and an optional style instruction (the voice's
//! [`SynthesisOptions`], which a request may override).
//!
//! Each engine step is one talker frame (so a cancel takes effect between
//! frames); after the first [`ChunkPlan::first_frames`] frames and then
//! every [`ChunkPlan::frames`] the frames are decoded incrementally and
//! handed to the engine ([`Backend::take_audio`]), which delivers them as a
//! chunk at once: the first audio of a sentence comes after 4 frames, not
//! after the sentence. A sentence's length is bounded by the
//! [`FrameBudget`] of its text; one that reaches it ends there and is
//! counted (`sentences_at_budget`).
//!
//! Caches: the x-vector of a cloned voice is the voice's prompt, which the
//! engine keeps by the clip's content hash; the talker's key/value cache
//! of a voice's fixed prompt prefix (instruction, role, codec tags,
//! speaker) is computed once per voice and continued by each sentence
//! ([`VoicePrefix`]), held here for the last [`PREFIX_CACHE_ENTRIES`]
//! voices.
//!
//! Several streams in one engine step advance one after the other (the
//! talker is not yet batched across streams).

use std::num::NonZeroUsize;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use lru::LruCache;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::budget::FrameBudget;
use super::checkpoint::CheckpointFiles;
use super::config::Qwen3TtsConfig;
use super::generate::{GenerationParams, StopReason};
use super::sampling::SamplingParams;
use super::speech::{ChunkPlan, SentenceSpeech};
use super::synthesizer::{reference_wav, Qwen3Synthesizer, Qwen3Voice, VoicePrefix};
use super::SAMPLE_RATE;
use crate::backend::{check_count, check_number, weights_dtype, SynthesisOptions};
use crate::backend::{
    Backend, ModelLoader, Reference, SentenceInProgress, SentenceJob, VoicePrompt,
};
use crate::text::language::Language;
use crate::{Error, Result};

/// Voices whose prompt prefix the backend keeps.
pub const PREFIX_CACHE_ENTRIES: usize = 16;
/// Longest instruction, in bytes.
pub const MAX_INSTRUCT_BYTES: usize = 1000;

/// Describes a Qwen3-TTS checkpoint; loads it on demand.
#[derive(Debug, Clone)]
pub struct Qwen3Loader {
    files: CheckpointFiles,
    config: Arc<Qwen3TtsConfig>,
    text_language: Language,
    plan: ChunkPlan,
}

impl Qwen3Loader {
    /// A checkpoint folder in the upstream layout, or a repository id in the
    /// Hugging Face cache (no network). Reads `config.json` now, so a
    /// missing or broken checkpoint fails here; the weights load on first
    /// use.
    pub fn new(dir_or_repo: &str) -> Result<Self> {
        Self::from_files(CheckpointFiles::locate(dir_or_repo)?)
    }

    /// [`Self::new`] from resolved files.
    pub fn from_files(files: CheckpointFiles) -> Result<Self> {
        let config = Qwen3TtsConfig::from_file(&files.config)?;
        Ok(Self {
            files,
            config: Arc::new(config),
            text_language: Language::Other,
            plan: ChunkPlan::default(),
        })
    }

    /// The checkpoint's files.
    pub fn files(&self) -> &CheckpointFiles {
        &self.files
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Qwen3TtsConfig {
        &self.config
    }

    /// Sets how the engine normalizes text before the model reads it
    /// (default [`Language::Other`]: split into sentences, not rewritten;
    /// the model reads numbers and symbols itself).
    pub fn with_text_language(mut self, language: Language) -> Self {
        self.text_language = language;
        self
    }

    /// Sets how frames are grouped into chunks (default 4, then 8).
    pub fn with_chunk_plan(mut self, plan: ChunkPlan) -> Result<Self> {
        plan.check()?;
        self.plan = plan;
        Ok(self)
    }

    /// The built-in speakers' names, sorted: a voice's speaker index
    /// points into this list. Empty for Base and VoiceDesign checkpoints.
    pub fn speaker_names(&self) -> Vec<&str> {
        self.config.talker_config.speaker_names()
    }

    /// The index of built-in speaker `name` (case-insensitive); an unknown
    /// one is an error listing the checkpoint's.
    pub fn speaker_index(&self, name: &str) -> Result<i64> {
        self.config.speaker_id(name)?;
        let want = name.trim().to_lowercase();
        let index = self.speaker_names().iter().position(|n| *n == want);
        index
            .map(|i| i as i64)
            .ok_or_else(|| Error::Internal(format!("speaker {want:?} has an id but no name")))
    }

    /// The languages a request may name (`auto` first).
    pub fn language_names(&self) -> Vec<&str> {
        let mut names = vec!["auto"];
        names.extend(self.config.talker_config.language_names());
        names
    }

    /// The engine's normalization language for a Qwen3 language name.
    pub fn text_language_of(name: &str) -> Language {
        match name.trim().to_lowercase().as_str() {
            "english" => Language::English,
            "chinese" => Language::Chinese,
            _ => Language::Other,
        }
    }
}

impl ModelLoader for Qwen3Loader {
    fn key(&self) -> String {
        format!(
            "qwen3:{}:{}",
            self.files.weights.display(),
            self.files.speech_weights.display()
        )
    }

    fn language(&self) -> Language {
        self.text_language
    }

    fn sample_rate(&self) -> Option<u32> {
        Some(SAMPLE_RATE)
    }

    fn num_speakers(&self) -> usize {
        self.speaker_names().len().max(1)
    }

    fn clones_voices(&self) -> bool {
        self.config.is_base()
    }

    fn needs_transcript(&self) -> bool {
        // cloned from the x-vector alone (upstream x_vector_only_mode)
        false
    }

    fn check_options(&self, o: &SynthesisOptions) -> Result<()> {
        if let Some(name) = &o.language {
            let want = name.trim().to_lowercase();
            let names = self.language_names();
            if !names.contains(&want.as_str()) {
                return Err(Error::InvalidParameter {
                    name: "language",
                    value: name.clone(),
                    reason: "not a language of this checkpoint (see `ishowtts info --qwen3`)",
                });
            }
        }
        if let Some(i) = &o.instruct {
            if i.len() > MAX_INSTRUCT_BYTES || i.chars().any(|c| c.is_control() && c != '\n') {
                return Err(Error::InvalidParameter {
                    name: "instruct",
                    value: format!("{} bytes", i.len()),
                    reason: "must be at most 1000 bytes of text without control characters",
                });
            }
        }
        use std::ops::Bound::{Excluded, Included};
        check_number(
            "temperature",
            o.temperature,
            (Excluded(0.0), Included(10.0)),
            "must be a finite number in (0, 10]",
        )?;
        check_number(
            "top_p",
            o.top_p,
            (Excluded(0.0), Included(1.0)),
            "must be a finite number in (0, 1]",
        )?;
        check_number(
            "repetition_penalty",
            o.repetition_penalty,
            1.0..=10.0,
            "must be a finite number in [1, 10]",
        )?;
        check_count("top_k", o.top_k, 1..=100_000, "must be in [1, 100000]")
    }

    fn load(&self, device: &Device) -> Result<Box<dyn Backend>> {
        let dtype = weights_dtype(device);
        let synth = Qwen3Synthesizer::load(&self.files, device, dtype)?;
        let speakers = self
            .speaker_names()
            .iter()
            .map(|n| synth.speaker_id(n))
            .collect::<Result<Vec<u32>>>()?;
        Ok(Box::new(Qwen3Backend {
            synth,
            speakers,
            prefixes: LruCache::new(NonZeroUsize::new(PREFIX_CACHE_ENTRIES).expect("non-zero")),
            plan: self.plan,
            budget: FrameBudget::default(),
        }))
    }
}

/// Who speaks in a Qwen3-TTS voice, and how; what the checkpoint's type
/// needs is checked by [`resolve_voice`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Qwen3VoiceConfig {
    /// A built-in speaker's name (CustomVoice checkpoints; required there).
    pub speaker: Option<String>,
    /// A recording to clone (Base checkpoints; required there). Its
    /// transcript is not needed: the voice is its x-vector.
    pub reference: Option<Reference>,
    /// The language of the text (`english`, `chinese`, …, or `auto`, the
    /// default: the model picks). Also picks the engine's text
    /// normalization ([`Qwen3Loader::text_language_of`]).
    pub language: Option<String>,
    /// A style instruction; on a VoiceDesign checkpoint, the description
    /// of the voice (required there).
    pub instruct: Option<String>,
}

/// A Qwen3-TTS voice, checked and resolved: what an engine voice of it
/// holds.
pub struct ResolvedVoice {
    /// The model's loader (weights load on first use).
    pub loader: Qwen3Loader,
    /// The voice's default settings (language, instruction).
    pub options: SynthesisOptions,
    /// The built-in speaker's index (CustomVoice checkpoints).
    pub speaker: Option<i64>,
    /// The recording to clone (Base checkpoints).
    pub reference: Option<Reference>,
}

/// Checks and resolves the voice of `checkpoint` (a folder, or a
/// repository id in the Hugging Face cache) described by `voice`; the
/// engine turns it into a voice (`VoiceSpec::qwen3`).
pub fn resolve_voice(checkpoint: &str, voice: Qwen3VoiceConfig) -> Result<ResolvedVoice> {
    let loader = Qwen3Loader::new(checkpoint)?;
    let language = voice.language.as_deref().unwrap_or("auto");
    let loader = loader.with_text_language(Qwen3Loader::text_language_of(language));
    let cfg = loader.config();
    let options = SynthesisOptions {
        language: voice.language.clone(),
        instruct: voice.instruct.clone(),
        ..SynthesisOptions::default()
    };
    loader.check_options(&options)?;
    let mut speaker = None;
    if cfg.is_base() {
        if voice.speaker.is_some() {
            return Err(Error::InvalidArgument(
                "a Base checkpoint has no built-in speakers: it clones the reference audio".into(),
            ));
        }
        let reference = voice.reference.as_ref().ok_or_else(missing_reference)?;
        reference_wav(&reference.audio)?;
    } else {
        if voice.reference.is_some() {
            return Err(Error::Unsupported(
                "only Base checkpoints clone reference audio; this one has built-in speakers \
                 or designs voices from an instruction"
                    .into(),
            ));
        }
        if loader.speaker_names().is_empty() {
            if !has_instruction(voice.instruct.as_deref()) {
                return Err(missing_instruction());
            }
        } else {
            let name = voice
                .speaker
                .as_deref()
                .ok_or_else(|| missing_speaker(&loader.speaker_names()))?;
            speaker = Some(loader.speaker_index(name)?);
        }
    }
    Ok(ResolvedVoice {
        loader,
        options,
        speaker,
        reference: voice.reference,
    })
}

/// A Base checkpoint's voice without a recording to clone.
fn missing_reference() -> Error {
    Error::ReferenceAudio(
        "a Base checkpoint clones a voice: give reference audio (--ref-audio)".into(),
    )
}

/// A CustomVoice checkpoint's voice without a speaker (one of `names`).
fn missing_speaker(names: &[&str]) -> Error {
    Error::InvalidArgument(format!(
        "this checkpoint speaks with a built-in speaker: name one of {}",
        names.join(", ")
    ))
}

/// A VoiceDesign checkpoint's voice without its description.
fn missing_instruction() -> Error {
    Error::InvalidArgument(
        "a VoiceDesign checkpoint needs an instruction describing the voice".into(),
    )
}

/// Whether an instruction says something.
fn has_instruction(instruct: Option<&str>) -> bool {
    instruct.is_some_and(|i| !i.trim().is_empty())
}

/// A cloned voice as the model uses it: the clip's x-vector.
#[derive(Debug)]
pub struct Qwen3Prompt {
    /// `(hidden,)` on the model's device.
    pub xvector: Tensor,
    /// Hash of the x-vector's values (keys the voice prefix cache).
    digest: [u8; 32],
}

/// What a voice prefix depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PrefixKey {
    speaker: SpeakerKey,
    language: Option<u32>,
    instruct: Option<Vec<u32>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SpeakerKey {
    Named(u32),
    Cloned([u8; 32]),
    Designed,
}

/// A loaded checkpoint with its voice prefixes.
pub struct Qwen3Backend {
    synth: Qwen3Synthesizer,
    /// Codec ids of the built-in speakers, by speaker index.
    speakers: Vec<u32>,
    prefixes: LruCache<PrefixKey, VoicePrefix>,
    plan: ChunkPlan,
    budget: FrameBudget,
}

/// A sentence in progress.
struct Qwen3Sentence {
    speech: SentenceSpeech,
    budget: usize,
}

impl Qwen3Sentence {
    fn steps_left(&self) -> usize {
        if self.speech.is_ended() {
            0
        } else {
            // one more step past the budget tells the generation it is spent
            (self.budget + 1).saturating_sub(self.speech.frames())
        }
    }

    fn hit_budget(&self) -> bool {
        self.speech.stop_reason() == Some(StopReason::Budget)
    }
}

impl Qwen3Backend {
    /// The voice a job speaks in, and its prefix key.
    fn voice(&self, job: &SentenceJob<'_>) -> Result<(Qwen3Voice, PrefixKey)> {
        let o = job.options;
        let cfg = self.synth.config();
        let (mut voice, speaker) = if cfg.is_base() {
            let prompt = job
                .prompt
                .and_then(|p| p.downcast_ref::<Qwen3Prompt>())
                .ok_or_else(missing_reference)?;
            (
                Qwen3Voice::cloned(prompt.xvector.clone()),
                SpeakerKey::Cloned(prompt.digest),
            )
        } else if !self.speakers.is_empty() {
            let index = job
                .speaker
                .ok_or_else(|| missing_speaker(&cfg.talker_config.speaker_names()))?;
            let id = usize::try_from(index)
                .ok()
                .and_then(|i| self.speakers.get(i).copied())
                .ok_or(Error::SpeakerOutOfRange {
                    id: index,
                    num_speakers: self.speakers.len(),
                })?;
            (Qwen3Voice::named(id), SpeakerKey::Named(id))
        } else {
            if !has_instruction(o.instruct.as_deref()) {
                return Err(missing_instruction());
            }
            (Qwen3Voice::designed(Vec::new()), SpeakerKey::Designed)
        };
        voice.language = match &o.language {
            Some(name) => self.synth.language_id(name)?,
            None => None,
        };
        voice.instruct_ids = match o.instruct.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => Some(self.synth.instruct_ids(i)?),
            _ => None,
        };
        let key = PrefixKey {
            speaker,
            language: voice.language,
            instruct: voice.instruct_ids.clone(),
        };
        Ok((voice, key))
    }

    fn params(&self, job: &mut SentenceJob<'_>) -> GenerationParams {
        let o = job.options;
        let up = GenerationParams::default();
        GenerationParams {
            talker: SamplingParams {
                temperature: o.temperature.unwrap_or(up.talker.temperature),
                top_k: o.top_k.map_or(up.talker.top_k, |k| k as usize),
                top_p: o.top_p.unwrap_or(up.talker.top_p),
                ..up.talker
            },
            repetition_penalty: o.repetition_penalty.unwrap_or(up.repetition_penalty),
            max_frames: self.budget.frames(job.text),
            seed: job.rng.random(),
            ..up
        }
    }
}

impl Backend for Qwen3Backend {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn prepare_voice(&mut self, reference: &Reference) -> Result<VoicePrompt> {
        let xvector = self.synth.speaker_embedding(&reference.audio)?;
        let values: Vec<f32> = xvector.to_dtype(DType::F32)?.to_vec1()?;
        let mut h = Sha256::new();
        for v in &values {
            h.update(v.to_le_bytes());
        }
        Ok(Arc::new(Qwen3Prompt {
            xvector,
            digest: h.finalize().into(),
        }))
    }

    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let mut sentence = self.begin(job)?;
        while !sentence.is_done() {
            if job.cancelled() {
                return Err(Error::Cancelled);
            }
            if let Some(Err(e)) = self.step(&mut [&mut sentence])?.pop() {
                return Err(e);
            }
        }
        job.report = sentence.report;
        let mut audio = self.take_audio(&mut sentence)?;
        audio.extend(self.finish(sentence)?);
        Ok(audio)
    }

    fn steps_in_batches(&self) -> bool {
        true
    }

    fn streams_pieces(&self) -> bool {
        true
    }

    fn begin(&mut self, job: &mut SentenceJob<'_>) -> Result<SentenceInProgress> {
        let (voice, key) = self.voice(job)?;
        let params = self.params(job);
        if !self.prefixes.contains(&key) {
            let prefix = self.synth.voice_prefix(&voice)?;
            self.prefixes.put(key.clone(), prefix);
        }
        let prefix = self.prefixes.get(&key);
        let speech = self
            .synth
            .start_sentence_with(job.text, &voice, prefix, params, self.plan)?;
        let sentence = Qwen3Sentence {
            speech,
            budget: params.max_frames,
        };
        let steps = sentence.steps_left();
        Ok(SentenceInProgress::new(sentence, steps))
    }

    fn step(&mut self, batch: &mut [&mut SentenceInProgress]) -> Result<Vec<Result<()>>> {
        let model = &self.synth.model;
        Ok(batch
            .iter_mut()
            .map(|s| {
                let q = s
                    .state_mut::<Qwen3Sentence>()
                    .ok_or_else(|| Error::Internal("not a Qwen3 sentence".into()))?;
                q.speech.advance(model)?;
                let (left, hit) = (q.steps_left(), q.hit_budget());
                s.set_steps_left(left);
                s.report.hit_budget |= hit;
                Ok(())
            })
            .collect())
    }

    fn take_audio(&mut self, sentence: &mut SentenceInProgress) -> Result<Vec<f32>> {
        let q = sentence
            .state_mut::<Qwen3Sentence>()
            .ok_or_else(|| Error::Internal("not a Qwen3 sentence".into()))?;
        if !q.speech.chunk_ready() {
            return Ok(Vec::new());
        }
        Ok(q.speech
            .take_chunk(&self.synth.model, &self.synth.decoder)?
            .unwrap_or_default())
    }

    fn finish(&mut self, sentence: SentenceInProgress) -> Result<Vec<f32>> {
        let mut q = sentence
            .into_state::<Qwen3Sentence>()
            .ok_or_else(|| Error::Internal("not a Qwen3 sentence".into()))?;
        Ok(q.speech
            .take_chunk(&self.synth.model, &self.synth.decoder)?
            .unwrap_or_default())
    }
}

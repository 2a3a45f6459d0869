//! Voices: what a name stands for (a model, a speaker, a reference to
//! clone) and the registry that versions them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::backend::{ModelLoader, Reference};
use super::request::SynthesisOptions;
use crate::text::language::Language;
use crate::{Error, Result};

/// What a voice is made of. Build one with [`VoiceSpec::piper`] (or the
/// constructor of another model) and register it with
/// [`Engine::add_voice`](super::Engine::add_voice).
#[derive(Clone, Debug)]
pub struct VoiceSpec {
    /// The model that speaks it (loaded lazily, shared between voices).
    pub loader: Arc<dyn ModelLoader>,
    /// Reference recording and transcript, for cloning models.
    pub reference: Option<Reference>,
    /// Default speaker of a multi-speaker model.
    pub speaker: Option<i64>,
    /// The voice's own settings (a language, an instruction, a speed…),
    /// used where a request sets none.
    pub options: SynthesisOptions,
}

impl VoiceSpec {
    /// A voice of `loader`'s model with no reference and no speaker.
    pub fn new(loader: Arc<dyn ModelLoader>) -> Self {
        Self {
            loader,
            reference: None,
            speaker: None,
            options: SynthesisOptions::default(),
        }
    }

    /// A Piper voice from its `.onnx` file (config beside it as
    /// `.onnx.json`). Reads only the config now; the weights load on first
    /// use.
    #[cfg(feature = "espeak")]
    pub fn piper(model: impl AsRef<Path>) -> Result<Self> {
        let loader = crate::models::piper::backend::PiperLoader::new(model.as_ref())?;
        Ok(Self::new(Arc::new(loader)))
    }

    /// An F5-TTS voice cloned from `reference` (a recording and what it
    /// says). Resolves the model's files now (a missing checkpoint or
    /// vocoder is an error here); the weights load on first use, and the
    /// recording is processed once, when the voice is first spoken.
    /// Voices of the same files share one loaded model.
    pub fn f5(paths: crate::models::f5::backend::F5Paths, reference: Reference) -> Result<Self> {
        // Bad references fail here, with their specific errors, rather
        // than on the first request.
        crate::models::f5::tokenizer::prepare_ref_text(&reference.text)?;
        crate::models::f5::reference::ReferenceAudio::from_bytes(&reference.audio)?;
        let language = if reference.text.chars().any(crate::text::split::is_cjk) {
            Language::Chinese
        } else {
            Language::English
        };
        let loader = crate::models::f5::backend::F5Loader::new(paths, language)?;
        Ok(Self::new(Arc::new(loader)).with_reference(reference))
    }

    /// A Qwen3-TTS voice of `checkpoint` (a folder in the upstream layout,
    /// or a repository id in the Hugging Face cache, no network): a
    /// built-in speaker (CustomVoice checkpoints), a cloned recording (Base)
    /// or an instruction (VoiceDesign), with a language and a style
    /// instruction that requests may override. Reads the checkpoint's config
    /// and checks the voice against it now; the weights load on first use,
    /// and voices of one checkpoint share them. Audio streams a few frames
    /// at a time within each sentence (see [`crate::engine::Chunk`]).
    pub fn qwen3(
        checkpoint: &str,
        voice: crate::models::qwen3_tts::Qwen3VoiceConfig,
    ) -> Result<Self> {
        let v = crate::models::qwen3_tts::backend::resolve_voice(checkpoint, voice)?;
        let mut spec = Self::new(Arc::new(v.loader)).with_options(v.options);
        spec.speaker = v.speaker;
        spec.reference = v.reference;
        Ok(spec)
    }

    /// The default Piper voice (see [`crate::paths::default_voice`]).
    #[cfg(feature = "espeak")]
    pub fn piper_default() -> Result<Self> {
        Self::piper(crate::paths::default_voice()?)
    }

    /// Sets the default speaker.
    pub fn with_speaker(mut self, speaker: i64) -> Self {
        self.speaker = Some(speaker);
        self
    }

    /// Sets the reference to clone, reading the audio file now.
    pub fn with_reference_file(self, audio: impl AsRef<Path>, text: &str) -> Result<Self> {
        let path = audio.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(self.with_reference(Reference {
            audio: bytes.into(),
            text: text.to_owned(),
        }))
    }

    /// Sets the reference to clone.
    pub fn with_reference(mut self, reference: Reference) -> Self {
        self.reference = Some(reference);
        self
    }

    /// Sets the voice's own settings (checked against the model when the
    /// voice is registered; a request's settings take precedence).
    pub fn with_options(mut self, options: SynthesisOptions) -> Self {
        self.options = options;
        self
    }

    fn validate(&self) -> Result<()> {
        let n = self.loader.num_speakers();
        if let Some(id) = self.speaker {
            check_speaker(id, n)?;
        }
        self.loader.check_options(&self.options)?;
        if self.options.speaker.is_some() {
            return Err(Error::InvalidArgument(
                "a voice's speaker is VoiceSpec::speaker, not one of its options".into(),
            ));
        }
        match (&self.reference, self.loader.clones_voices()) {
            (Some(_), false) => Err(Error::Unsupported(format!(
                "model {} does not clone voices; register it without reference audio",
                self.loader.key()
            ))),
            (None, true) => Err(Error::ReferenceAudio(format!(
                "model {} clones voices: give reference audio and its transcript",
                self.loader.key()
            ))),
            (Some(r), true) if r.audio.is_empty() => {
                Err(Error::ReferenceAudio("the reference audio is empty".into()))
            }
            (Some(r), true) if r.text.trim().is_empty() && self.loader.needs_transcript() => Err(
                Error::ReferenceAudio("the reference transcript is empty".into()),
            ),
            _ => Ok(()),
        }
    }
}

pub(crate) fn check_speaker(id: i64, num_speakers: usize) -> Result<()> {
    if id < 0 || id as usize >= num_speakers {
        return Err(Error::SpeakerOutOfRange { id, num_speakers });
    }
    Ok(())
}

/// A registered voice, as listed by [`Engine::voices`](super::Engine::voices).
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceInfo {
    /// Registered name.
    pub name: String,
    /// Bumped each time the name is registered again.
    pub version: u64,
    /// The model's key.
    pub model: String,
    /// Language of the model's text.
    pub language: Language,
    /// Output rate, when known before loading.
    pub sample_rate: Option<u32>,
    /// Speakers of the model.
    pub num_speakers: usize,
    /// Default speaker.
    pub speaker: Option<i64>,
    /// Whether it is a cloned voice.
    pub cloned: bool,
    /// Whether requests without a voice use it.
    pub is_default: bool,
}

/// One registration of a voice name.
#[derive(Debug)]
pub(crate) struct VoiceEntry {
    pub name: String,
    pub version: u64,
    pub spec: VoiceSpec,
    /// Content hash of (model, reference audio, transcript): the prompt
    /// cache key.
    pub prompt_key: Option<[u8; 32]>,
    /// The loader's key, taken once at registration: the worker looks its
    /// model up by it many times a sentence, and it must not change under a
    /// request (a file moved away must not make a loaded model unknown).
    model_key: String,
}

impl VoiceEntry {
    pub fn model_key(&self) -> String {
        self.model_key.clone()
    }
}

/// Names to voices; versions survive removal so a re-added name never
/// reuses an old version (and never hits stale cached audio).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    voices: HashMap<String, Arc<VoiceEntry>>,
    versions: HashMap<String, u64>,
    default: Option<String>,
}

impl Registry {
    /// Adds or replaces `name`; returns the new version.
    pub fn add(&mut self, name: &str, spec: VoiceSpec) -> Result<u64> {
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(Error::InvalidParameter {
                name: "voice name",
                value: format!("{name:?}"),
                reason: "must be non-empty and free of control characters",
            });
        }
        spec.validate()?;
        let version = {
            let v = self.versions.entry(name.to_owned()).or_insert(0);
            *v += 1;
            *v
        };
        let model_key = spec.loader.key();
        let prompt_key = spec.reference.as_ref().map(|r| {
            let mut h = Sha256::new();
            h.update(model_key.as_bytes());
            h.update([0]);
            h.update(&r.audio[..]);
            h.update([0]);
            h.update(r.text.as_bytes());
            h.finalize().into()
        });
        let entry = VoiceEntry {
            name: name.to_owned(),
            version,
            spec,
            prompt_key,
            model_key,
        };
        self.voices.insert(name.to_owned(), Arc::new(entry));
        if self.default.is_none() {
            self.default = Some(name.to_owned());
        }
        Ok(version)
    }

    /// Removes `name`; returns the removed entry.
    pub fn remove(&mut self, name: &str) -> Result<Arc<VoiceEntry>> {
        let entry = self
            .voices
            .remove(name)
            .ok_or_else(|| self.not_found(Some(name)))?;
        if self.default.as_deref() == Some(name) {
            self.default = None;
        }
        Ok(entry)
    }

    /// Makes `name` the default voice.
    pub fn set_default(&mut self, name: &str) -> Result<()> {
        if !self.voices.contains_key(name) {
            return Err(self.not_found(Some(name)));
        }
        self.default = Some(name.to_owned());
        Ok(())
    }

    /// The voice a request names, or the default.
    pub fn resolve(&self, name: Option<&str>) -> Result<Arc<VoiceEntry>> {
        let name = name.or(self.default.as_deref());
        name.and_then(|n| self.voices.get(n))
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Whether any voice still uses the model `key`.
    pub fn uses_model(&self, key: &str) -> bool {
        self.voices.values().any(|v| v.model_key() == key)
    }

    /// All voices, sorted by name.
    pub fn list(&self) -> Vec<VoiceInfo> {
        let mut out: Vec<VoiceInfo> = self
            .voices
            .values()
            .map(|v| VoiceInfo {
                name: v.name.clone(),
                version: v.version,
                model: v.model_key(),
                language: v.spec.loader.language(),
                sample_rate: v.spec.loader.sample_rate(),
                num_speakers: v.spec.loader.num_speakers(),
                speaker: v.spec.speaker,
                cloned: v.spec.reference.is_some(),
                is_default: self.default.as_deref() == Some(v.name.as_str()),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn not_found(&self, name: Option<&str>) -> Error {
        let mut known: Vec<&str> = self.voices.keys().map(String::as_str).collect();
        known.sort_unstable();
        let known = if known.is_empty() {
            "none registered".to_owned()
        } else {
            format!("registered: {}", known.join(", "))
        };
        match name {
            Some(n) => Error::VoiceNotFound(format!("unknown voice {n:?} ({known})")),
            None => Error::VoiceNotFound(format!("no default voice ({known})")),
        }
    }
}

//! Piper voices as an engine backend: each `.onnx` voice is one model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;

use super::config::VoiceConfig;
use super::voice::{config_path_for, PiperVoice, SynthesisParams};
use crate::engine::backend::{Backend, ModelLoader, SentenceJob};
use crate::engine::request::SynthesisOptions;
use crate::text::language::Language;
use crate::{Error, Result};

/// Describes a Piper voice from its config; loads the weights on demand.
#[derive(Debug, Clone)]
pub struct PiperLoader {
    model: PathBuf,
    config_path: PathBuf,
    config: Arc<VoiceConfig>,
}

impl PiperLoader {
    /// `model` is the `.onnx` file; its config is `<model>.json`.
    pub fn new(model: &Path) -> Result<Self> {
        Self::with_config(model, &config_path_for(model))
    }

    /// Explicit model and config paths. Checks that both exist and that
    /// the config parses; the weights are read by [`ModelLoader::load`].
    pub fn with_config(model: &Path, config: &Path) -> Result<Self> {
        if !model.is_file() {
            return Err(Error::VoiceNotFound(format!(
                "model file {} does not exist",
                model.display()
            )));
        }
        let parsed = VoiceConfig::load(config)?;
        Ok(Self {
            model: model.to_owned(),
            config_path: config.to_owned(),
            config: Arc::new(parsed),
        })
    }

    /// Piper parameters for a request: `speed` divides the voice's
    /// `length_scale`.
    fn params(&self, o: &SynthesisOptions, speaker: Option<i64>) -> Result<SynthesisParams> {
        let length_scale = match o.speed {
            None => None,
            Some(s) if s.is_finite() && (0.1..=10.0).contains(&s) => {
                Some(self.config.inference.length_scale / s)
            }
            Some(s) => {
                return Err(Error::InvalidParameter {
                    name: "speed",
                    value: s.to_string(),
                    reason: "must be a finite number in [0.1, 10]",
                })
            }
        };
        let params = SynthesisParams {
            speaker_id: speaker,
            noise_scale: o.noise_scale,
            length_scale,
            noise_w: o.noise_w,
            seed: o.seed,
        };
        params.scales(&self.config.inference)?;
        Ok(params)
    }
}

impl ModelLoader for PiperLoader {
    fn key(&self) -> String {
        let path = self
            .model
            .canonicalize()
            .unwrap_or_else(|_| self.model.clone());
        format!("piper:{}", path.display())
    }

    fn language(&self) -> Language {
        let code = self
            .config
            .espeak
            .as_ref()
            .map(|e| e.voice.as_str())
            .unwrap_or("en-us");
        Language::from_code(code)
    }

    fn sample_rate(&self) -> Option<u32> {
        Some(self.config.audio.sample_rate)
    }

    fn num_speakers(&self) -> usize {
        self.config.num_speakers.max(1)
    }

    fn check_options(&self, options: &SynthesisOptions) -> Result<()> {
        self.params(options, None).map(|_| ())
    }

    fn load(&self, device: &Device) -> Result<Box<dyn Backend>> {
        let voice = PiperVoice::load_with(&self.model, &self.config_path, device)?;
        Ok(Box::new(PiperBackend {
            voice,
            loader: self.clone(),
        }))
    }
}

/// A loaded Piper voice serving the engine's worker.
struct PiperBackend {
    voice: PiperVoice,
    loader: PiperLoader,
}

impl Backend for PiperBackend {
    fn sample_rate(&self) -> u32 {
        self.voice.sample_rate()
    }

    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let params = self.loader.params(job.options, job.speaker)?;
        let scales = params.scales(&self.voice.config().inference)?;
        let speaker = self.voice.speaker(&params)?;
        let mut out = Vec::new();
        // espeak-ng may hear several sentences (or long clauses cut at
        // MAX_SENTENCE_PHONEMES) in one of ours: speak them in order,
        // checking for cancel between them.
        for phonemes in self.voice.phonemize(job.text)? {
            if job.cancelled() {
                return Err(Error::Cancelled);
            }
            let ids = self.voice.phonemes_to_ids(&phonemes);
            if ids.len() <= 3 {
                continue; // nothing the voice can say (all symbols unknown)
            }
            let mut audio = self
                .voice
                .synthesizer()
                .infer(&[&ids], &[speaker], scales, job.rng)?;
            out.extend(audio.pop().unwrap_or_default());
        }
        Ok(out)
    }
}

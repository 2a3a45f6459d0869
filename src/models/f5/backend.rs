//! F5-TTS as an engine backend: a voice is a reference recording and its
//! transcript; every sentence is spoken in that voice.
//!
//! The reference is processed once per voice ([`Backend::prepare_voice`]:
//! decode, 24 kHz mono, loudness, trim, log-mel), and the engine caches the
//! result by the recording's content hash. Each sentence is then chunked as
//! upstream does (the model speaks at most ~22 s including the reference),
//! sampled by flow matching (the cancel flag is polled between flow
//! steps), vocoded by Vocos and cross-faded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use rand::Rng;

use super::cfm::{F5Model, SamplerOptions};
use super::checkpoint::Checkpoint;
use super::chunking::{self, CrossFader};
use super::config::{F5Config, Variant};
use super::mel::MelSpectrogram;
use super::reference::ReferenceAudio;
use super::tokenizer::{self, Tokenizer};
use crate::engine::backend::{Backend, ModelLoader, Reference, SentenceJob, VoicePrompt};
use crate::engine::request::SynthesisOptions;
use crate::models::vocos::model::CONFIG_FILE as VOCOS_CONFIG;
use crate::models::vocos::Vocos;
use crate::text::language::Language;
use crate::{Error, Result};

/// Hugging Face repository of the Vocos vocoder F5-TTS was trained with.
pub const VOCOS_HF_REPO: &str = "charactr/vocos-mel-24khz";

/// Output sample rate (the mel's and the vocoder's).
pub const SAMPLE_RATE: u32 = 24_000;

/// Where an F5-TTS model and its vocoder come from.
#[derive(Debug, Clone, PartialEq)]
pub struct F5Paths {
    /// A checkpoint folder (`model_<step>.safetensors` + `vocab.txt`) or
    /// file; `None` is the released `variant` in the Hugging Face cache
    /// (`$HF_HOME/hub`, no network).
    pub checkpoint: Option<PathBuf>,
    /// The released model the checkpoint is (network shape).
    pub variant: Variant,
    /// A config file (upstream YAML or the fixtures' JSON) for a network
    /// of another shape than `variant`'s.
    pub config: Option<PathBuf>,
    /// The Vocos folder (`config.yaml` + `pytorch_model.bin` or
    /// `model.safetensors`); `None` is [`VOCOS_HF_REPO`] in the Hugging Face
    /// cache.
    pub vocoder: Option<PathBuf>,
}

impl Default for F5Paths {
    fn default() -> Self {
        Self {
            checkpoint: None,
            variant: Variant::V1Base,
            config: None,
            vocoder: None,
        }
    }
}

/// Describes an F5-TTS model; loads it on demand.
#[derive(Debug, Clone)]
pub struct F5Loader {
    paths: F5Paths,
    checkpoint: Arc<Checkpoint>,
    vocoder_dir: PathBuf,
    language: Language,
}

impl F5Loader {
    /// Resolves the files (checkpoint, vocabulary, vocoder) now, so that a
    /// missing file is reported when the voice is registered; the weights
    /// load on first use. `language` picks the engine's text normalization
    /// (F5-TTS reads Chinese and English).
    pub fn new(paths: F5Paths, language: Language) -> Result<Self> {
        let checkpoint = match &paths.checkpoint {
            Some(p) if !p.exists() => {
                return Err(Error::VoiceNotFound(format!(
                    "F5-TTS checkpoint {} does not exist",
                    p.display()
                )))
            }
            Some(p) => Checkpoint::open(p)?,
            None => Checkpoint::from_default_hf_cache(paths.variant)?,
        };
        let vocoder_dir = match &paths.vocoder {
            Some(dir) => dir.clone(),
            None => vocos_from_hf_cache(&hf_hub::Cache::from_env())?,
        };
        if !vocoder_dir.join(VOCOS_CONFIG).is_file() {
            return Err(Error::VoiceNotFound(format!(
                "no Vocos vocoder in {} (config.yaml missing)",
                vocoder_dir.display()
            )));
        }
        if let Some(config) = &paths.config {
            // Parsed now for early errors; again at load (cheap).
            F5Config::from_file(config, checkpoint.text_num_embeds())?;
        }
        Ok(Self {
            paths,
            checkpoint: Arc::new(checkpoint),
            vocoder_dir,
            language,
        })
    }

    /// The files this loader reads.
    pub fn paths(&self) -> &F5Paths {
        &self.paths
    }
}

/// The Vocos snapshot folder in a Hugging Face cache.
pub fn vocos_from_hf_cache(cache: &hf_hub::Cache) -> Result<PathBuf> {
    let repo = cache.model(VOCOS_HF_REPO.to_string());
    let config = repo.get(VOCOS_CONFIG).ok_or_else(|| {
        Error::VoiceNotFound(format!(
            "the Vocos vocoder {VOCOS_HF_REPO} is not in the Hugging Face cache at {} \
                 (fetch it with `huggingface-cli download {VOCOS_HF_REPO}`), or give its folder",
            cache.path().display()
        ))
    })?;
    Ok(config.parent().unwrap_or(Path::new(".")).to_path_buf())
}

/// A weight file that does not hold what the network needs: the message
/// names the file and the tensor.
fn weights_error(path: &Path, e: Error) -> Error {
    match e {
        Error::Model(m) => Error::ModelFile {
            path: path.to_path_buf(),
            reason: m.to_string(),
        },
        e => e,
    }
}

fn check_range(name: &'static str, v: Option<f32>, lo: f32, hi: f32) -> Result<()> {
    match v {
        Some(x) if !(x.is_finite() && (lo..=hi).contains(&x)) => Err(Error::InvalidParameter {
            name,
            value: x.to_string(),
            reason: match name {
                "speed" => "must be a finite number in [0.1, 10]",
                "cfg_strength" => "must be a finite number in [0, 10]",
                _ => "must be a finite number in [-1, 1]",
            },
        }),
        _ => Ok(()),
    }
}

impl ModelLoader for F5Loader {
    fn key(&self) -> String {
        format!(
            "f5:{}:{:?}:{:?}:{}",
            self.checkpoint.weights_path().display(),
            self.paths.variant,
            self.paths.config,
            self.vocoder_dir.display()
        )
    }

    fn language(&self) -> Language {
        self.language
    }

    fn sample_rate(&self) -> Option<u32> {
        Some(SAMPLE_RATE)
    }

    fn clones_voices(&self) -> bool {
        true
    }

    fn check_options(&self, o: &SynthesisOptions) -> Result<()> {
        check_range("speed", o.speed, 0.1, 10.0)?;
        check_range("cfg_strength", o.cfg_strength, 0.0, 10.0)?;
        check_range("sway_sampling_coef", o.sway_sampling_coef, -1.0, 1.0)?;
        if let Some(d) = o.fix_duration {
            if !(d.is_finite() && d > 0.0 && d <= 60.0) {
                return Err(Error::InvalidParameter {
                    name: "fix_duration",
                    value: d.to_string(),
                    reason: "must be a finite number of seconds in (0, 60]",
                });
            }
        }
        if let Some(n) = o.nfe_step {
            if !(1..=128).contains(&n) {
                return Err(Error::InvalidParameter {
                    name: "nfe_step",
                    value: n.to_string(),
                    reason: "must be in [1, 128]",
                });
            }
        }
        Ok(())
    }

    fn load(&self, device: &Device) -> Result<Box<dyn Backend>> {
        // Half precision on GPUs (bf16 keeps f32's range; attention
        // softmax and rotary angles stay f32 inside the model).
        let dtype = if device.is_cpu() {
            DType::F32
        } else {
            DType::BF16
        };
        let ckpt = &self.checkpoint;
        let config = match &self.paths.config {
            Some(path) => F5Config::from_file(path, ckpt.text_num_embeds())?,
            None => F5Config::preset(self.paths.variant, ckpt.text_num_embeds()),
        };
        let mel_cfg = config.mel.clone();
        let model = F5Model::load_with_config(ckpt, config, device, dtype)
            .map_err(|e| weights_error(ckpt.weights_path(), e))?;
        let vocos = Vocos::load(&self.vocoder_dir, device)
            .map_err(|e| weights_error(&self.vocoder_dir, e))?;
        if mel_cfg.target_sample_rate != SAMPLE_RATE || vocos.sample_rate() != SAMPLE_RATE {
            return Err(Error::Unsupported(format!(
                "F5-TTS at {} Hz with a {} Hz vocoder: only 24 kHz models are supported",
                mel_cfg.target_sample_rate,
                vocos.sample_rate()
            )));
        }
        let mel = MelSpectrogram::new(
            mel_cfg.target_sample_rate,
            mel_cfg.n_fft,
            mel_cfg.hop_length,
            mel_cfg.win_length,
            mel_cfg.n_mel_channels,
        )?;
        let tokenizer = Tokenizer::from_vocab(ckpt.vocab())?;
        Ok(Box::new(F5Backend {
            model,
            vocos,
            mel,
            tokenizer,
            hop: mel_cfg.hop_length,
            device: device.clone(),
        }))
    }
}

/// A reference voice as the model uses it.
#[derive(Debug)]
pub struct F5Prompt {
    /// Log-mel of the reference, `(1, frames, n_mels)` on the model's device.
    pub cond_mel: Tensor,
    /// Length of the prepared reference at 24 kHz.
    pub samples: usize,
    /// The transcript, prepared as upstream does.
    pub text: String,
    /// Gain that brings generated audio back to the reference's loudness.
    pub output_gain: f32,
}

/// A loaded F5-TTS model with its vocoder.
pub struct F5Backend {
    model: F5Model,
    vocos: Vocos,
    mel: MelSpectrogram,
    tokenizer: Tokenizer,
    hop: usize,
    device: Device,
}

impl F5Backend {
    /// Speaks one chunk: returns its audio at 24 kHz, reference removed.
    fn speak_chunk(
        &self,
        prompt: &F5Prompt,
        plan: &chunking::ChunkPlan,
        frames: usize,
        opts: &SamplerOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Vec<f32>> {
        let ids: Vec<u32> = self
            .tokenizer
            .encode(&plan.full_text)
            .into_iter()
            .map(|id| id as u32)
            .collect();
        let mel = self
            .model
            .sample(&prompt.cond_mel, &ids, frames, opts, cancel)?;
        // Upstream slices at samples // hop (not the mel's frame count), so
        // the first vocoded frame is the reference's last.
        let start = prompt.samples / self.hop;
        let total = mel.dim(1)?;
        if start >= total {
            return Ok(Vec::new());
        }
        let generated = mel
            .narrow(1, start, total - start)?
            .transpose(1, 2)?
            .contiguous()?;
        let mut audio = self.vocos.decode(&generated)?;
        if prompt.output_gain != 1.0 {
            audio.iter_mut().for_each(|s| *s *= prompt.output_gain);
        }
        Ok(audio)
    }
}

impl Backend for F5Backend {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn prepare_voice(&mut self, reference: &Reference) -> Result<VoicePrompt> {
        let text = tokenizer::prepare_ref_text(&reference.text)?;
        let audio = ReferenceAudio::from_bytes(&reference.audio)?;
        let mel = self.mel.forward(&audio.samples, &self.device)?; // (1, n_mels, frames)
        let cond_mel = mel.transpose(1, 2)?.contiguous()?;
        Ok(Arc::new(F5Prompt {
            cond_mel,
            samples: audio.samples.len(),
            text,
            output_gain: audio.output_gain,
        }))
    }

    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let prompt = job
            .prompt
            .and_then(|p| p.downcast_ref::<F5Prompt>())
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "an F5-TTS voice needs a reference recording and its transcript".into(),
                )
            })?;
        tokenizer::check_gen_text(job.text)?;
        let o = job.options;
        let speed = f64::from(o.speed.unwrap_or(1.0));
        let plans = chunking::plan_chunks(&prompt.text, prompt.samples, job.text, speed);
        let fade = chunking::cross_fade_samples(chunking::CROSS_FADE_SECONDS);
        let mut fader = CrossFader::new(fade);
        let mut out = Vec::new();
        for plan in &plans {
            let frames = match o.fix_duration {
                // Upstream: the whole (reference + new) length in frames.
                Some(seconds) => {
                    (f64::from(seconds) * f64::from(SAMPLE_RATE) / self.hop as f64) as usize
                }
                None => plan.frames,
            };
            let opts = SamplerOptions {
                nfe_step: o.nfe_step.map_or(32, |n| n as usize),
                cfg_strength: o.cfg_strength.map_or(2.0, f64::from),
                sway_sampling_coef: o.sway_sampling_coef.map_or(-1.0, f64::from),
                // From the request's seeded generator: a seeded request
                // sounds the same however it interleaves with others.
                seed: Some(job.rng.random()),
                ..SamplerOptions::default()
            };
            let cancel = job.cancel;
            let audio = self.speak_chunk(prompt, plan, frames, &opts, &|| cancel.is_cancelled())?;
            out.extend(fader.push(&audio));
        }
        out.extend(fader.finish());
        Ok(out)
    }
}

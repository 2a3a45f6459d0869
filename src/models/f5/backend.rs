//! F5-TTS as an engine backend: a voice is a reference recording and its
//! transcript; every sentence is spoken in that voice.
//!
//! The reference is processed once per voice ([`Backend::prepare_voice`]:
//! decode, 24 kHz mono, loudness, trim, log-mel), and the engine caches the
//! result by the recording's content hash. Each sentence is then chunked as
//! upstream does (the model speaks at most ~22 s including the reference),
//! sampled by flow matching (the cancel flag is polled between flow
//! steps), vocoded by Vocos and cross-faded. The backend runs step by step
//! ([`Backend::begin`] / [`Backend::step`] / [`Backend::finish`], one flow
//! step a call), so the engine can advance several streams' sentences in
//! one batched network call; [`Backend::synthesize`] is the same steps
//! alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::Rng;

use super::cfm::{F5Model, FlowState, SamplerOptions};
use super::checkpoint::Checkpoint;
use super::chunking::{self, CrossFader};
use super::config::{F5Config, Variant};
use super::mel::MelSpectrogram;
use super::reference::ReferenceAudio;
use super::tokenizer::{self, Tokenizer};
use crate::backend::{check_count, check_number, weights_dtype, SynthesisOptions};
use crate::backend::{
    Backend, ModelLoader, Reference, SentenceInProgress, SentenceJob, VoicePrompt,
};
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
        use std::ops::Bound::{Excluded, Included};
        check_number(
            "speed",
            o.speed,
            0.1..=10.0,
            "must be a finite number in [0.1, 10]",
        )?;
        check_number(
            "cfg_strength",
            o.cfg_strength,
            0.0..=10.0,
            "must be a finite number in [0, 10]",
        )?;
        check_number(
            "sway_sampling_coef",
            o.sway_sampling_coef,
            -1.0..=1.0,
            "must be a finite number in [-1, 1]",
        )?;
        check_number(
            "fix_duration",
            o.fix_duration,
            (Excluded(0.0), Included(60.0)),
            "must be a finite number of seconds in (0, 60]",
        )?;
        check_count("nfe_step", o.nfe_step, 1..=128, "must be in [1, 128]")
    }

    fn load(&self, device: &Device) -> Result<Box<dyn Backend>> {
        let dtype = weights_dtype(device);
        let ckpt = &self.checkpoint;
        let config = match &self.paths.config {
            Some(path) => F5Config::from_file(path, ckpt.text_num_embeds())?,
            None => F5Config::preset(self.paths.variant, ckpt.text_num_embeds()),
        };
        let mel_cfg = config.mel.clone();
        let model = F5Model::load_with_config(ckpt, config, device, dtype)
            .map_err(|e| e.in_weights(ckpt.weights_path()))?;
        let vocos =
            Vocos::load(&self.vocoder_dir, device).map_err(|e| e.in_weights(&self.vocoder_dir))?;
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

/// A sentence part-way through: its chunks (each one flow), the seed of
/// each drawn up front, the current flow and the audio so far.
struct F5Sentence {
    prompt: VoicePrompt,
    /// Token ids, frames and sampler settings of each chunk.
    chunks: Vec<(Tensor, usize, SamplerOptions)>,
    /// The next chunk to start.
    next_chunk: usize,
    flow: Option<FlowState>,
    fader: CrossFader,
    out: Vec<f32>,
}

impl F5Sentence {
    fn prompt(&self) -> &F5Prompt {
        self.prompt
            .downcast_ref::<F5Prompt>()
            .expect("checked in begin")
    }

    /// Flow steps of the current and the later chunks.
    fn steps_left(&self) -> usize {
        self.flow.as_ref().map_or(0, FlowState::steps_left)
            + self.chunks[self.next_chunk..]
                .iter()
                .map(|(_, _, o)| o.nfe_step)
                .sum::<usize>()
    }
}

impl F5Backend {
    /// Starts the flow of the sentence's next chunk.
    fn start_chunk(&self, s: &mut F5Sentence) -> Result<()> {
        let (ids, frames, opts) = &s.chunks[s.next_chunk];
        s.flow = Some(self.model.start(&s.prompt().cond_mel, ids, *frames, opts)?);
        s.next_chunk += 1;
        Ok(())
    }

    /// After a step: a finished flow is vocoded into the sentence's audio
    /// and the next chunk started.
    fn after_step(&self, s: &mut F5Sentence) -> Result<()> {
        if !s.flow.as_ref().is_some_and(FlowState::is_done) {
            return Ok(());
        }
        let mel = s.flow.take().expect("checked").finish()?;
        let audio = self.vocode(s.prompt(), &mel)?;
        let joined = s.fader.push(&audio);
        s.out.extend(joined);
        if s.next_chunk < s.chunks.len() {
            self.start_chunk(s)?;
        }
        Ok(())
    }

    /// A chunk's audio at 24 kHz from its mel, reference removed.
    fn vocode(&self, prompt: &F5Prompt, mel: &Tensor) -> Result<Vec<f32>> {
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
        let mut sentence = self.begin(job)?;
        while !sentence.is_done() {
            if job.cancelled() {
                return Err(Error::Cancelled);
            }
            if let Some(e) = self.step(&mut [&mut sentence])?.pop().and_then(|r| r.err()) {
                return Err(e);
            }
        }
        self.finish(sentence)
    }

    fn steps_in_batches(&self) -> bool {
        true
    }

    fn begin(&mut self, job: &mut SentenceJob<'_>) -> Result<SentenceInProgress> {
        let prompt = job
            .prompt
            .filter(|p| p.downcast_ref::<F5Prompt>().is_some())
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "an F5-TTS voice needs a reference recording and its transcript".into(),
                )
            })?
            .clone();
        let p = prompt.downcast_ref::<F5Prompt>().expect("checked");
        tokenizer::check_gen_text(job.text)?;
        let o = job.options;
        let speed = f64::from(o.speed.unwrap_or(1.0));
        let plans = chunking::plan_chunks(&p.text, p.samples, job.text, speed);
        let chunks = plans
            .iter()
            .map(|plan| {
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
                    // From the request's seeded generator, one per chunk in
                    // order: a seeded request sounds the same however it
                    // interleaves or batches with others.
                    seed: Some(job.rng.random()),
                    ..SamplerOptions::default()
                };
                let ids: Vec<i64> = self.tokenizer.encode(&plan.full_text);
                let n_vocab = self.model.config().dit.text_num_embeds;
                if let Some(bad) = ids.iter().find(|&&id| id as usize >= n_vocab) {
                    return Err(Error::InvalidArgument(format!(
                        "token id {bad} is outside the vocabulary of {n_vocab} tokens"
                    )));
                }
                let n = ids.len();
                Ok((Tensor::from_vec(ids, (1, n), &self.device)?, frames, opts))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut sentence = F5Sentence {
            prompt,
            chunks,
            next_chunk: 0,
            flow: None,
            fader: CrossFader::new(chunking::cross_fade_samples(chunking::CROSS_FADE_SECONDS)),
            out: Vec::new(),
        };
        if !sentence.chunks.is_empty() {
            self.start_chunk(&mut sentence)?;
        }
        let steps = sentence.steps_left();
        Ok(SentenceInProgress::new(sentence, steps))
    }

    fn step(&mut self, batch: &mut [&mut SentenceInProgress]) -> Result<Vec<Result<()>>> {
        let mut sentences = batch
            .iter_mut()
            .map(|s| {
                s.state_mut::<F5Sentence>()
                    .ok_or_else(|| Error::Internal("F5 step on another model's sentence".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut flows = sentences
            .iter_mut()
            .map(|s| {
                s.flow
                    .as_mut()
                    .ok_or_else(|| Error::Internal("F5 step on a finished sentence".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        self.model.step(&mut flows)?;
        let results = sentences.into_iter().map(|s| self.after_step(s)).collect();
        for s in batch.iter_mut() {
            let left = s.state_mut::<F5Sentence>().map_or(0, |s| s.steps_left());
            s.set_steps_left(left);
        }
        Ok(results)
    }

    fn finish(&mut self, sentence: SentenceInProgress) -> Result<Vec<f32>> {
        if !sentence.is_done() {
            return Err(Error::Internal(format!(
                "F5 sentence finished with {} steps left",
                sentence.steps_left()
            )));
        }
        let mut s = sentence
            .into_state::<F5Sentence>()
            .ok_or_else(|| Error::Internal("F5 finish on another model's sentence".into()))?;
        let tail = s.fader.finish();
        s.out.extend(tail);
        Ok(s.out)
    }
}

//! A Piper voice ready to speak: the generator, its config, and the
//! phonemizer, with per-request parameters and sentence-by-sentence output.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use rand::SeedableRng;

use super::config::{ModelConfig, VoiceConfig};
use super::onnx::PiperWeights;
use super::synthesizer::{Scales, Synthesizer};
use crate::phonemize::{phonemes_to_ids, EspeakPhonemizer, PhonemeWord, PhonemizedSentence};
use crate::text::blocks::TextBlocks;
use crate::{Error, Result};

/// Sentences longer than this many phonemes are cut at a clause or word
/// boundary: a run-on "sentence" of megabytes must not become one giant
/// tensor (memory grows with the square of the length in attention).
pub const MAX_SENTENCE_PHONEMES: usize = 400;

/// Per-request synthesis settings; `None` takes the voice's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthesisParams {
    /// Speaker of a multi-speaker voice (default: the voice's default speaker).
    pub speaker_id: Option<i64>,
    /// Noise on the prior, `[0, 10]` (voice default, usually 0.667).
    pub noise_scale: Option<f32>,
    /// Duration multiplier, `(0, 20]`; >1 speaks slower (usually 1.0).
    pub length_scale: Option<f32>,
    /// Noise on the durations, `[0, 10]` (usually 0.8).
    pub noise_w: Option<f32>,
    /// Seed of the noise; `None` draws a fresh one per request.
    pub seed: Option<u64>,
}

impl SynthesisParams {
    /// The effective scales for `voice`, validated.
    pub fn scales(&self, defaults: &super::config::InferenceConfig) -> Result<Scales> {
        let check = |name: &'static str, v: f32, reason: &'static str, ok: bool| {
            if v.is_finite() && ok {
                Ok(v)
            } else {
                Err(Error::InvalidParameter {
                    name,
                    value: v.to_string(),
                    reason,
                })
            }
        };
        let ns = self.noise_scale.unwrap_or(defaults.noise_scale);
        let ls = self.length_scale.unwrap_or(defaults.length_scale);
        let nw = self.noise_w.unwrap_or(defaults.noise_w);
        Ok(Scales {
            noise_scale: check(
                "noise_scale",
                ns,
                "must be a finite number in [0, 10]",
                (0.0..=10.0).contains(&ns),
            )?,
            length_scale: check(
                "length_scale",
                ls,
                "must be a finite number in (0, 20]",
                ls > 0.0 && ls <= 20.0,
            )?,
            noise_w: check(
                "noise_w",
                nw,
                "must be a finite number in [0, 10]",
                (0.0..=10.0).contains(&nw),
            )?,
        })
    }
}

/// Audio of one sentence.
#[derive(Debug, Clone)]
pub struct SentenceAudio {
    /// 0-based index of the sentence in the request.
    pub index: usize,
    /// The phonemes spoken (IPA), for display and debugging.
    pub phonemes: String,
    /// Model input ids.
    pub phoneme_ids: Vec<i64>,
    /// Mono f32 samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate of `samples`.
    pub sample_rate: u32,
    /// Wall time spent in the model for this sentence.
    pub synthesis_time: Duration,
}

impl SentenceAudio {
    /// Audio duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / self.sample_rate as f64)
    }
}

/// A loaded Piper voice.
pub struct PiperVoice {
    config: VoiceConfig,
    model: Synthesizer,
    phonemizer: EspeakPhonemizer,
    model_path: PathBuf,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice")
            .field("model_path", &self.model_path)
            .field("sample_rate", &self.config.audio.sample_rate)
            .field("model", self.model.config())
            .finish()
    }
}

impl PiperVoice {
    /// Loads `<name>.onnx` with its config `<name>.onnx.json` on the CPU.
    pub fn load(model: impl AsRef<Path>) -> Result<Self> {
        let model = model.as_ref();
        let config = config_path_for(model);
        Self::load_with(model, &config, &Device::Cpu)
    }

    /// Loads the default voice (see [`crate::paths::default_voice`]).
    pub fn load_default() -> Result<Self> {
        Self::load(crate::paths::default_voice()?)
    }

    /// Loads a voice from explicit model and config paths onto `device`.
    pub fn load_with(model: &Path, config: &Path, device: &Device) -> Result<Self> {
        let _span = tracing::info_span!("load_voice", path = %model.display()).entered();
        if !model.exists() {
            return Err(Error::VoiceNotFound(format!(
                "model file {} does not exist",
                model.display()
            )));
        }
        let config = VoiceConfig::load(config)?;
        if config.phoneme_type != "espeak" {
            return Err(Error::VoiceConfig {
                path: config_path_for(model),
                reason: format!(
                    "phoneme_type {:?} is not supported (only espeak)",
                    config.phoneme_type
                ),
            });
        }
        let weights = PiperWeights::load(model, device)?;
        let model_cfg =
            ModelConfig::from_weights(&weights).map_err(|reason| Error::NotPiperVoice {
                path: model.to_owned(),
                reason,
            })?;
        let max_id = config
            .phoneme_id_map
            .values()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0);
        if max_id as usize >= model_cfg.n_vocab {
            return Err(Error::VoiceConfig {
                path: config_path_for(model),
                reason: format!(
                    "phoneme id {max_id} is outside the model's vocabulary of {}",
                    model_cfg.n_vocab
                ),
            });
        }
        let vb = VarBuilder::from_tensors(weights.tensors, DType::F32, device);
        let model_net = Synthesizer::new(&model_cfg, vb).map_err(|e| Error::NotPiperVoice {
            path: model.to_owned(),
            reason: e.to_string(),
        })?;
        let phonemizer = EspeakPhonemizer::new(None)?;
        Ok(Self {
            config,
            model: model_net,
            phonemizer,
            model_path: model.to_owned(),
        })
    }

    /// The voice config (`.onnx.json`).
    pub fn config(&self) -> &VoiceConfig {
        &self.config
    }

    /// The network's hyper-parameters.
    pub fn model_config(&self) -> &ModelConfig {
        self.model.config()
    }

    /// The generator.
    pub fn synthesizer(&self) -> &Synthesizer {
        &self.model
    }

    /// Output sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    /// Number of speakers.
    pub fn num_speakers(&self) -> usize {
        self.model.config().n_speakers.max(self.config.num_speakers)
    }

    /// The speaker a request speaks with, checked against the model.
    pub fn speaker(&self, params: &SynthesisParams) -> Result<i64> {
        let n = self.model.config().n_speakers;
        let id = params.speaker_id.unwrap_or(if n > 1 {
            self.config.default_speaker_id
        } else {
            0
        });
        if id < 0 || id as usize >= n {
            return Err(Error::SpeakerOutOfRange {
                id,
                num_speakers: n,
            });
        }
        Ok(id)
    }

    /// Text to phonemes, one list per sentence, long sentences cut.
    pub fn phonemize(&self, text: &str) -> Result<Vec<Vec<String>>> {
        Ok(self
            .phonemize_words(text)?
            .into_iter()
            .map(|s| s.phonemes)
            .collect())
    }

    /// [`Self::phonemize`] with the words of each part: which phonemes,
    /// which bytes of `text`.
    pub fn phonemize_words(&self, text: &str) -> Result<Vec<PhonemizedSentence>> {
        let voice = self
            .config
            .espeak
            .as_ref()
            .map(|e| e.voice.as_str())
            .unwrap_or("en-us");
        let sentences =
            self.phonemizer
                .phonemize_words(voice, text, &self.config.vowel_clusters)?;
        Ok(sentences
            .into_iter()
            .filter(|s| s.phonemes.iter().any(|p| !p.trim().is_empty()))
            .flat_map(|s| split_long_sentence(s, MAX_SENTENCE_PHONEMES))
            .collect())
    }

    /// Phonemes to model ids; symbols missing from the voice's map are
    /// skipped with a warning, as piper does.
    pub fn phonemes_to_ids(&self, phonemes: &[String]) -> Vec<i64> {
        let (ids, missing) = phonemes_to_ids(phonemes, &self.config.phoneme_id_map);
        if !missing.is_empty() {
            tracing::warn!(
                ?missing,
                "phonemes missing from the voice's phoneme map were skipped"
            );
        }
        ids
    }

    /// Synthesizes one id sequence.
    pub fn synthesize_ids(&self, ids: &[i64], params: &SynthesisParams) -> Result<Vec<f32>> {
        let scales = params.scales(&self.config.inference)?;
        let speaker = self.speaker(params)?;
        let mut rng = rng_for(params);
        let mut out = self.model.infer(&[ids], &[speaker], scales, &mut rng)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Speaks `text`, one sentence at a time. Parameters and text are
    /// checked before anything runs; each item of the iterator is then
    /// produced on demand, so the first sentence is ready long before a
    /// long text is done and memory stays bounded.
    pub fn synthesize<'a>(
        &'a self,
        text: &'a str,
        params: &SynthesisParams,
    ) -> Result<SentenceStream<'a>> {
        if text.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        let scales = params.scales(&self.config.inference)?;
        let speaker = self.speaker(params)?;
        Ok(SentenceStream {
            voice: self,
            blocks: TextBlocks::new(text),
            pending: std::collections::VecDeque::new(),
            scales,
            speaker,
            rng: rng_for(params),
            index: 0,
            failed: false,
        })
    }
}

fn rng_for(params: &SynthesisParams) -> rand::rngs::StdRng {
    match params.seed {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
        None => rand::rngs::StdRng::from_os_rng(),
    }
}

/// `<model>.json` (Piper's naming: `voice.onnx` + `voice.onnx.json`).
pub fn config_path_for(model: &Path) -> PathBuf {
    let mut s = model.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// Cuts a phoneme list longer than `max` at the last clause mark (`, : ;`)
/// or, failing that, the last word break before the limit.
#[cfg(test)]
fn split_long(phonemes: Vec<String>, max: usize) -> Vec<Vec<String>> {
    long_cuts(&phonemes, max)
        .into_iter()
        .map(|r| phonemes[r].to_vec())
        .collect()
}

/// The parts [`split_long`] cuts a phoneme list into, as ranges of it (the
/// spaces after a cut belong to no part).
fn long_cuts(phonemes: &[String], max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while phonemes.len() - start > max {
        let window = &phonemes[start..start + max];
        let cut = window
            .iter()
            .rposition(|p| matches!(p.as_str(), "," | ":" | ";"))
            .map(|i| i + 1)
            .filter(|&i| i > max / 4)
            .or_else(|| {
                window
                    .iter()
                    .rposition(|p| p == " ")
                    .filter(|&i| i > max / 4)
            })
            .unwrap_or(max);
        out.push(start..start + cut);
        start += cut;
        while start < phonemes.len() && phonemes[start] == " " {
            start += 1;
        }
    }
    if start < phonemes.len() {
        out.push(start..phonemes.len());
    }
    out
}

/// A phonemized sentence cut as [`long_cuts`] says, each word going with
/// the part its first phoneme is in (cut short at the part's end).
fn split_long_sentence(s: PhonemizedSentence, max: usize) -> Vec<PhonemizedSentence> {
    if s.phonemes.len() <= max {
        return vec![s];
    }
    long_cuts(&s.phonemes, max)
        .into_iter()
        .map(|r| PhonemizedSentence {
            phonemes: s.phonemes[r.clone()].to_vec(),
            words: s
                .words
                .iter()
                .filter(|w| r.contains(&w.phonemes.start))
                .map(|w| PhonemeWord {
                    phonemes: w.phonemes.start - r.start..w.phonemes.end.min(r.end) - r.start,
                    text: w.text.clone(),
                })
                .collect(),
        })
        .collect()
}

/// Iterator over the sentences of a request (see [`PiperVoice::synthesize`]).
pub struct SentenceStream<'a> {
    voice: &'a PiperVoice,
    blocks: TextBlocks<'a>,
    pending: std::collections::VecDeque<Vec<String>>,
    scales: Scales,
    speaker: i64,
    rng: rand::rngs::StdRng,
    index: usize,
    failed: bool,
}

impl Iterator for SentenceStream<'_> {
    type Item = Result<SentenceAudio>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            while self.pending.is_empty() {
                let block = self.blocks.next()?;
                match self.voice.phonemize(block) {
                    Ok(s) => self.pending.extend(s),
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let phonemes = self.pending.pop_front()?;
            let ids = self.voice.phonemes_to_ids(&phonemes);
            if ids.len() <= 3 {
                continue; // nothing the voice can say (all symbols unknown)
            }
            let _span =
                tracing::debug_span!("sentence", index = self.index, ids = ids.len()).entered();
            let start = Instant::now();
            let result =
                self.voice
                    .model
                    .infer(&[&ids], &[self.speaker], self.scales, &mut self.rng);
            let samples = match result {
                Ok(mut w) => w.pop().unwrap_or_default(),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into()));
                }
            };
            let item = SentenceAudio {
                index: self.index,
                phonemes: phonemes.concat(),
                phoneme_ids: ids,
                samples,
                sample_rate: self.voice.sample_rate(),
                synthesis_time: start.elapsed(),
            };
            self.index += 1;
            return Some(Ok(item));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ph(s: &str) -> Vec<String> {
        s.chars().map(|c| c.to_string()).collect()
    }

    #[test]
    fn long_sentences_are_cut_at_clauses_then_words() {
        let s = ph(&"abc, ".repeat(100));
        let parts = split_long(s.clone(), 40);
        assert!(parts.iter().all(|p| p.len() <= 40));
        assert!(parts[0].last().map(String::as_str) == Some(","));
        let total: usize = parts.iter().map(Vec::len).sum();
        assert!(total <= s.len() && total >= s.len() - parts.len());

        let words = ph(&"abcdefg ".repeat(50));
        let parts = split_long(words, 30);
        assert!(parts.iter().all(|p| p.len() <= 30 && p[0] != " "));

        let nobreak = ph(&"x".repeat(95));
        let parts = split_long(nobreak, 40);
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![40, 40, 15]
        );
    }

    #[test]
    fn scales_are_validated() {
        let d = super::super::config::InferenceConfig::default();
        let ok = SynthesisParams::default().scales(&d).unwrap();
        assert_eq!(ok.length_scale, 1.0);
        for bad in [
            SynthesisParams {
                length_scale: Some(f32::NAN),
                ..Default::default()
            },
            SynthesisParams {
                length_scale: Some(0.0),
                ..Default::default()
            },
            SynthesisParams {
                noise_scale: Some(-0.1),
                ..Default::default()
            },
            SynthesisParams {
                noise_w: Some(f32::INFINITY),
                ..Default::default()
            },
        ] {
            assert!(
                matches!(bad.scales(&d), Err(Error::InvalidParameter { .. })),
                "{bad:?}"
            );
        }
    }
}

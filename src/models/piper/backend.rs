//! Piper voices as an engine backend: each `.onnx` voice is one model.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;

use super::config::VoiceConfig;
use super::voice::{config_path_for, PiperVoice, SynthesisParams};
use crate::backend::SynthesisOptions;
use crate::backend::{Backend, ModelLoader, SentenceJob};
use crate::phonemize::phoneme_id_spans;
use crate::text::language::Language;
use crate::timing::visemes::{is_leading_mark, is_mark};
use crate::timing::{SentenceTiming, TimedSpan};
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
        // The absolute path, resolved now: the key must not change if the
        // file is later moved or the working directory changes.
        let model = model
            .canonicalize()
            .map_err(|e| Error::VoiceNotFound(format!("model file {}: {e}", model.display())))?;
        Ok(Self {
            model,
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
        format!("piper:{}", self.model.display())
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
        let want = job.timing_request;
        let mut timing = SentenceTiming::default();
        let mut out = Vec::new();
        // espeak-ng may hear several sentences (or long clauses cut at
        // MAX_SENTENCE_PHONEMES) in one of ours: speak them in order,
        // checking for cancel between them.
        for part in self.voice.phonemize_words(job.text)? {
            if job.cancelled() {
                return Err(Error::Cancelled);
            }
            let ids = self.voice.phonemes_to_ids(&part.phonemes);
            if ids.len() <= 3 {
                continue; // nothing the voice can say (all symbols unknown)
            }
            let (mut audio, trace) =
                self.voice
                    .synthesizer()
                    .infer_traced(&[&ids], &[speaker], scales, job.rng)?;
            if want.words || want.phonemes {
                let spans = phoneme_id_spans(&part.phonemes, &self.voice.config().phoneme_id_map);
                let frames = trace.durations.first().map_or(&[][..], Vec::as_slice);
                let timed =
                    PartTiming::new(frames, self.voice.model_config().hop_length(), out.len());
                if want.words {
                    timing.words.extend(part.words.iter().filter_map(|w| {
                        // a clause's terminator is a pause after its word
                        let spoken = part.phonemes[w.phonemes.clone()]
                            .iter()
                            .rposition(|p| p.chars().any(|c| c.is_alphabetic() || is_mark(c)))?;
                        // The " " between two words is voiced, heard as
                        // the next word's onset (a forced alignment puts it
                        // there); after punctuation it is part of a pause.
                        let i = w.phonemes.start;
                        let joined = i >= 2
                            && part.phonemes[i - 1] == " "
                            && part.phonemes[i - 2]
                                .chars()
                                .any(|c| c.is_alphabetic() || is_mark(c));
                        let first = spans.get(if joined { i - 1 } else { i })?;
                        let last = spans.get(i + spoken)?;
                        Some(TimedSpan {
                            text: job.text.get(w.text.clone())?.to_owned(),
                            samples: timed.samples(first.start..last.end),
                        })
                    }));
                }
                if want.phonemes {
                    timing
                        .phonemes
                        .extend(phoneme_groups(&part.phonemes, &spans).into_iter().map(
                            |(text, ids)| TimedSpan {
                                text,
                                samples: timed.samples(ids),
                            },
                        ));
                }
            }
            out.extend(audio.pop().unwrap_or_default());
        }
        job.timing = Some(timing);
        Ok(out)
    }
}

/// Sample places of one phonemized part's ids: id `i` lasts `frames[i]`
/// frames of `hop` samples, and the part starts at sample `offset` of the
/// sentence's audio.
struct PartTiming {
    /// Sample where each id starts, plus the end.
    starts: Vec<usize>,
}

impl PartTiming {
    fn new(frames: &[u32], hop: usize, offset: usize) -> Self {
        let mut starts = Vec::with_capacity(frames.len() + 1);
        let mut at = offset;
        starts.push(at);
        for &f in frames {
            at += f as usize * hop;
            starts.push(at);
        }
        Self { starts }
    }

    /// The samples of ids `ids`.
    fn samples(&self, ids: Range<usize>) -> Range<usize> {
        let end = *self.starts.last().expect("never empty");
        let at = |i: usize| self.starts.get(i).copied().unwrap_or(end);
        at(ids.start)..at(ids.end.max(ids.start))
    }
}

/// The phonemes of a part as heard, each with its ids: stress marks go
/// with the phoneme after them, length marks and diacritics with the one
/// before; phonemes the voice lacks (no ids) are left out.
fn phoneme_groups(phonemes: &[String], spans: &[Range<usize>]) -> Vec<(String, Range<usize>)> {
    let mut out: Vec<(String, Range<usize>)> = Vec::new();
    let mut lead: Option<(String, usize)> = None; // stress marks waiting
    for (p, span) in phonemes.iter().zip(spans) {
        if span.is_empty() {
            continue;
        }
        let mut chars = p.chars();
        let first = chars.next().unwrap_or(' ');
        let single = chars.next().is_none();
        if single && is_leading_mark(first) {
            let l = lead.get_or_insert((String::new(), span.start));
            l.0.push(first);
            continue;
        }
        if single && is_mark(first) && lead.is_none() {
            if let Some(last) = out.last_mut() {
                last.0.push(first);
                last.1.end = span.end;
                continue;
            }
        }
        let (mut text, start) = lead.take().unwrap_or((String::new(), span.start));
        text.push_str(p);
        out.push((text, start..span.end));
    }
    if let Some((text, start)) = lead {
        let end = spans.iter().map(|s| s.end).max().unwrap_or(start);
        out.push((text, start..end));
    }
    out
}

//! A loaded Qwen3-TTS checkpoint: the talker side, the 12 Hz decoder and
//! the text tokenizer, with what a voice needs resolved by name (speakers,
//! languages) and the x-vector of a reference clip.

use candle_core::{DType, Device, Module, Tensor};

use super::checkpoint::CheckpointFiles;
use super::config::Qwen3TtsConfig;
use super::decoder::{Decoder, DecoderConfig};
use super::generate::{Generation, GenerationParams};
use super::layers::StackCache;
use super::mel::MelSpectrogram;
use super::model::Qwen3TtsModel;
use super::prompt::{build_prompt, PromptRequest, SpeakerPrompt};
use super::speech::{ChunkPlan, SentenceSpeech};
use super::tokenizer::{assistant_prompt, instruct_prompt, TextTokenizer};
use crate::models::f5::reference::{decode, downmix, resample_to_24k};
use crate::{Error, Result};

/// Longest reference clip the speaker encoder is given, in seconds.
pub const MAX_REFERENCE_SECONDS: f64 = 30.0;
/// Shortest, in seconds (the x-vector of a blip is meaningless).
pub const MIN_REFERENCE_SECONDS: f64 = 0.5;

/// Who speaks, resolved against a checkpoint.
#[derive(Debug, Clone)]
pub enum Qwen3Speaker {
    /// A built-in speaker (CustomVoice checkpoints): its codec id.
    Named(u32),
    /// A cloned voice (Base checkpoints): the x-vector, `(hidden,)`.
    Embedding(Tensor),
    /// No speaker slot: the voice comes from the instruction.
    Designed,
}

/// A voice of a checkpoint, ready to speak.
#[derive(Debug, Clone)]
pub struct Qwen3Voice {
    /// Who speaks.
    pub speaker: Qwen3Speaker,
    /// Codec id of the language; `None`: the model picks.
    pub language: Option<u32>,
    /// Token ids of an instruction (style, or the voice description).
    pub instruct_ids: Option<Vec<u32>>,
    /// The whole sentence in the prompt rather than one text token per
    /// frame (upstream `non_streaming_mode`: on for built-in speakers and
    /// designed voices, off for cloned ones). Either way audio streams
    /// frame by frame.
    pub non_streaming: bool,
}

impl Qwen3Voice {
    /// A built-in speaker (codec id), upstream's settings for it.
    pub fn named(id: u32) -> Self {
        Self::with_speaker(Qwen3Speaker::Named(id), true)
    }

    /// A cloned voice (x-vector), upstream's settings for it.
    pub fn cloned(xvector: Tensor) -> Self {
        Self::with_speaker(Qwen3Speaker::Embedding(xvector), false)
    }

    /// A voice described by an instruction (VoiceDesign checkpoints).
    pub fn designed(instruct_ids: Vec<u32>) -> Self {
        Self {
            instruct_ids: Some(instruct_ids),
            ..Self::with_speaker(Qwen3Speaker::Designed, true)
        }
    }

    fn with_speaker(speaker: Qwen3Speaker, non_streaming: bool) -> Self {
        Self {
            speaker,
            language: None,
            instruct_ids: None,
            non_streaming,
        }
    }
}

/// Talker side, decoder and tokenizer of one checkpoint.
#[derive(Debug)]
pub struct Qwen3Synthesizer {
    /// Talker, text projection, code predictor, speaker encoder.
    pub model: Qwen3TtsModel,
    /// Codes -> 24 kHz audio.
    pub decoder: Decoder,
    /// Text -> ids.
    pub tokenizer: TextTokenizer,
}

impl Qwen3Synthesizer {
    /// Loads every part of a checkpoint onto `device` in `dtype`.
    pub fn load(files: &CheckpointFiles, device: &Device, dtype: DType) -> Result<Self> {
        let cfg = Qwen3TtsConfig::from_file(&files.config)?;
        let model = Qwen3TtsModel::new(&cfg, files.model_var_builder(dtype, device)?)
            .map_err(|e| e.in_weights(&files.weights))?;
        let dcfg = DecoderConfig::from_file(&files.speech_config)?;
        check_codebooks(&cfg, &dcfg)?;
        let decoder = Decoder::new(&dcfg, files.decoder_var_builder(dtype, device)?)
            .map_err(|e| e.in_weights(&files.speech_weights))?;
        let tokenizer = TextTokenizer::from_dir(files.tokenizer_dir())?;
        if tokenizer.vocab_size() > cfg.talker_config.text_vocab_size {
            return Err(Error::ModelFile {
                path: files.vocab.clone(),
                reason: format!(
                    "the tokenizer has {} ids, the model's text embedding {}",
                    tokenizer.vocab_size(),
                    cfg.talker_config.text_vocab_size
                ),
            });
        }
        Ok(Self {
            model,
            decoder,
            tokenizer,
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Qwen3TtsConfig {
        self.model.config()
    }

    /// The codec id of language `name` (`auto`: `None`); an unknown one is
    /// an error listing those the checkpoint has.
    pub fn language_id(&self, name: &str) -> Result<Option<u32>> {
        let name = name.trim().to_lowercase();
        if name.is_empty() || name == "auto" {
            return Ok(None);
        }
        let tc = &self.config().talker_config;
        tc.codec_language_id
            .get(&name)
            .map(|&id| Some(id))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "language {name:?} is not supported by this checkpoint (it has: auto, {})",
                    tc.language_names().join(", ")
                ))
            })
    }

    /// The codec id of built-in speaker `name`; an unknown one is an error
    /// listing those the checkpoint has.
    pub fn speaker_id(&self, name: &str) -> Result<u32> {
        self.config().speaker_id(name)
    }

    /// The x-vector of a reference recording (WAV, MP3, FLAC, Ogg; any rate
    /// and channel count), as upstream's `extract_speaker_embedding`
    /// computes it: 24 kHz mono, 128-bin log-mel, the speaker encoder.
    pub fn speaker_embedding(&self, audio: &[u8]) -> Result<Tensor> {
        let encoder = self.model.speaker_encoder.as_ref().ok_or_else(|| {
            Error::Unsupported(
                "this checkpoint has no speaker encoder: only Base checkpoints clone a voice"
                    .into(),
            )
        })?;
        let wav = reference_wav(audio)?;
        let mel = MelSpectrogram::speaker_encoder()?
            .forward(&wav, self.model.device())?
            .to_dtype(self.model.dtype())?;
        Ok(encoder.forward(&mel)?.squeeze(0)?)
    }

    /// Token ids of an instruction, as upstream frames it.
    pub fn instruct_ids(&self, instruct: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(&instruct_prompt(instruct))
    }

    fn prompt(&self, text: &str, voice: &Qwen3Voice) -> Result<super::prompt::Prompt> {
        if text.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        let ids = self.tokenizer.encode(&assistant_prompt(text))?;
        let speaker = match &voice.speaker {
            Qwen3Speaker::Named(id) => SpeakerPrompt::Named(*id),
            Qwen3Speaker::Embedding(x) => SpeakerPrompt::Embedding(x),
            Qwen3Speaker::Designed => SpeakerPrompt::None,
        };
        let req = PromptRequest {
            language: voice.language,
            instruct_ids: voice.instruct_ids.as_deref(),
            non_streaming: voice.non_streaming,
            ..PromptRequest::new(&ids, speaker)
        };
        build_prompt(&self.model, &req)
    }

    /// The talker's key/value cache of `voice`'s fixed prompt prefix
    /// (instruction, role, codec tags, speaker), computed once: each
    /// sentence then starts from a copy and computes only its own
    /// positions ([`Self::start_sentence_with`]).
    pub fn voice_prefix(&self, voice: &Qwen3Voice) -> Result<VoicePrefix> {
        let prompt = self.prompt(".", voice)?;
        let prefill = prompt.prefill.narrow(1, 0, prompt.voice_len)?;
        // held as long as the voice is: no room beyond the prefix
        let mut cache = self.model.talker.new_cache(prompt.voice_len);
        self.model.talker.forward_embeds(&prefill, &mut cache)?;
        Ok(VoicePrefix { cache, prefill })
    }

    /// Starts speaking `text` in `voice`: builds the prompt, prefills the
    /// talker, and returns the sentence to pull audio chunks from.
    pub fn start_sentence(
        &self,
        text: &str,
        voice: &Qwen3Voice,
        params: GenerationParams,
        plan: ChunkPlan,
    ) -> Result<SentenceSpeech> {
        self.start_sentence_with(text, voice, None, params, plan)
    }

    /// [`Self::start_sentence`] continuing `prefix` (from
    /// [`Self::voice_prefix`] of the same voice; a prefix that does not
    /// match the prompt is refused). The audio is the same as without it,
    /// up to rounding.
    pub fn start_sentence_with(
        &self,
        text: &str,
        voice: &Qwen3Voice,
        prefix: Option<&VoicePrefix>,
        params: GenerationParams,
        plan: ChunkPlan,
    ) -> Result<SentenceSpeech> {
        let prompt = self.prompt(text, voice)?;
        let generation = match prefix {
            None => Generation::new(&self.model, &prompt, params)?,
            Some(p) => {
                let n = p.prefill.dim(1)?;
                let same = n == prompt.voice_len
                    && prompt
                        .prefill
                        .narrow(1, 0, n)?
                        .sub(&p.prefill)?
                        .abs()?
                        .flatten_all()?
                        .max(0)?
                        .to_dtype(DType::F32)?
                        .to_scalar::<f32>()?
                        == 0.0;
                if !same {
                    return Err(Error::InvalidArgument(
                        "the voice prefix was computed for another voice".into(),
                    ));
                }
                let capacity = prompt.prefill.dim(1)? + 256;
                let cache = p.cache.fork_with_capacity(capacity)?;
                Generation::with_cache(&self.model, &prompt, params, cache)?
            }
        };
        SentenceSpeech::new(generation, &self.decoder, plan)
    }
}

/// The talker's cache of a voice's fixed prompt prefix
/// ([`Qwen3Synthesizer::voice_prefix`]).
#[derive(Debug)]
pub struct VoicePrefix {
    cache: StackCache,
    /// The prefix's input embeddings, to check it belongs to the prompt.
    prefill: Tensor,
}

impl VoicePrefix {
    /// Positions it holds.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

/// A reference recording as the speaker encoder takes it: decoded, mono,
/// 24 kHz; refused when empty, silent, under
/// [`MIN_REFERENCE_SECONDS`] or over [`MAX_REFERENCE_SECONDS`].
pub fn reference_wav(audio: &[u8]) -> Result<Vec<f32>> {
    let decoded = decode(audio)?;
    let seconds = decoded.seconds();
    if seconds > MAX_REFERENCE_SECONDS {
        return Err(Error::ReferenceAudio(format!(
            "reference audio is {seconds:.1} s, over the {MAX_REFERENCE_SECONDS} s limit: use a clip of 3 to 15 s"
        )));
    }
    if seconds < MIN_REFERENCE_SECONDS {
        return Err(Error::ReferenceAudio(format!(
            "reference audio is {seconds:.2} s, under {MIN_REFERENCE_SECONDS} s: use a clip of 3 to 15 s"
        )));
    }
    let mono = downmix(&decoded.samples, decoded.channels.max(1));
    let wav = resample_to_24k(&mono, decoded.sample_rate)?;
    let peak = wav.iter().fold(0f32, |m, &x| m.max(x.abs()));
    if peak < 1e-3 {
        return Err(Error::ReferenceAudio(
            "reference audio is silent (peak under -60 dBFS)".into(),
        ));
    }
    Ok(wav)
}

/// The talker's codebooks must be the decoder's.
fn check_codebooks(cfg: &Qwen3TtsConfig, dcfg: &DecoderConfig) -> Result<()> {
    let tc = &cfg.talker_config;
    let cp = &tc.code_predictor_config;
    if tc.num_code_groups != dcfg.num_quantizers || cp.vocab_size != dcfg.codebook_size {
        return Err(Error::InvalidArgument(format!(
            "the talker makes {} codes of {} per frame, the speech tokenizer decodes {} of {}",
            tc.num_code_groups, cp.vocab_size, dcfg.num_quantizers, dcfg.codebook_size
        )));
    }
    Ok(())
}

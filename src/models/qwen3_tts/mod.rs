//! Qwen3-TTS (Alibaba Qwen, `Qwen/Qwen3-TTS-12Hz-*`): a text-to-speech
//! language model that speaks through a 12.5 Hz speech tokenizer. A talker
//! (Qwen3 decoder) predicts the first of 16 codes per frame, a small code
//! predictor the other 15, and the tokenizer's decoder turns the codes into
//! 24 kHz audio. Reference: the `qwen-tts` package (0.1.1), whose
//! `core/tokenizer_12hz/modeling_qwen3_tts_tokenizer_v2.py` this port follows.
//!
//! Ported so far: [`decoder`], the tokenizer-12Hz decoder (codes -> audio),
//! whole clips or incrementally, chunk by chunk; the [`talker`] with its text
//! projection and the [`code_predictor`] (assembled in [`model`]), the
//! talker's [`prompt`] and the frame-by-frame [`generate`] loop with
//! upstream's [`sampling`] and a text-scaled frame [`budget`], spoken
//! chunk by chunk as frames arrive ([`speech`]); the text [`tokenizer`]; a
//! whole checkpoint ([`checkpoint`] files, [`synthesizer`]); the Base
//! checkpoints' [`speaker`] encoder (ECAPA-TDNN x-vector) with its
//! log-[`mel`] front end; the engine [`backend`], which streams each
//! sentence a few frames at a time.

pub mod backend;
pub mod budget;
pub mod checkpoint;
pub mod code_predictor;
pub mod config;
pub mod decoder;
pub mod generate;
pub mod layers;
pub mod mel;
pub mod model;
pub mod prompt;
pub mod sampling;
pub mod speaker;
pub mod speech;
pub mod synthesizer;
pub mod talker;
pub mod tiny;
pub mod tokenizer;

pub use backend::{Qwen3Loader, Qwen3VoiceConfig};
pub use budget::FrameBudget;
pub use checkpoint::CheckpointFiles;
pub use code_predictor::CodePredictor;
pub use config::{
    Qwen3CodePredictorConfig, Qwen3TalkerConfig, Qwen3TtsConfig, SpeakerEncoderConfig,
};
pub use decoder::{Decoder, DecoderConfig};
pub use generate::{Frame, Generation, GenerationParams, StopReason};
pub use model::Qwen3TtsModel;
pub use prompt::{build_prompt, Prompt, PromptRequest, ReferencePrompt, SpeakerPrompt};
pub use sampling::SamplingParams;
pub use speaker::{SpeakerEncoder, SpeakerEncoderTrace};
pub use speech::{ChunkPlan, SentenceSpeech};
pub use synthesizer::{Qwen3Speaker, Qwen3Synthesizer, Qwen3Voice, VoicePrefix};
pub use talker::{Talker, TextProjection};
pub use tokenizer::{SplitRegex, TextTokenizer};

/// Sample rate of the decoded audio, Hz.
pub const SAMPLE_RATE: u32 = 24_000;
/// Code frames per second of the 12 Hz tokenizer (one frame is
/// [`SAMPLES_PER_FRAME`] samples).
pub const FRAME_RATE: f64 = 12.5;
/// Samples per code frame of the released tokenizer (`decode_upsample_rate`).
pub const SAMPLES_PER_FRAME: usize = 1920;

//! Piper voices: VITS generators exported to ONNX by
//! [piper](https://github.com/OHF-Voice/piper1-gpl), loaded natively (the
//! weights are read from the `.onnx` file) and run with candle.
//!
//! Reference code: piper's `piper/train/vits/{models,modules,attentions,
//! transforms}.py`. Each component lives in its own file, with the
//! upstream module names as weight paths:
//! - `enc_p`: [`text_encoder`] and [`attention`]
//! - `dp`: [`duration`] and [`spline`]
//! - `flow`: [`flow`](mod@flow)
//! - `dec`: [`decoder`]
//! - the inference pass tying them together: [`synthesizer`]
//! - reading the export: [`onnx`]; the `.onnx.json` and the
//!   hyper-parameters: [`config`]; phonemizer and request API: `voice`.

pub mod attention;
#[cfg(feature = "espeak")]
pub mod backend;
pub mod config;
pub mod decoder;
pub mod duration;
pub mod flow;
pub mod modules;
pub mod onnx;
pub mod spline;
pub mod synthesizer;
pub mod text_encoder;
#[cfg(feature = "espeak")]
pub mod voice;

pub use config::{ModelConfig, VoiceConfig};
pub use synthesizer::{Scales, Synthesizer};
#[cfg(feature = "espeak")]
pub use voice::{PiperVoice, SentenceAudio, SentenceStream, SynthesisParams};

/// Name of the voice the engine speaks with when none is given.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

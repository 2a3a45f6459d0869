//! ishowtts: an embeddable neural text-to-speech engine.
//!
//! Text goes in; audio comes out one sentence at a time. The first backend is
//! native Piper (VITS) voices: the weights are read straight from a Piper
//! `.onnx` file and run with [candle](https://github.com/huggingface/candle),
//! with no onnxruntime or Python at run time.
//!
//! ```no_run
//! use ishowtts::{PiperVoice, SynthesisParams};
//! let voice = PiperVoice::load_default()?;
//! let mut audio = Vec::new();
//! for sentence in voice.synthesize("Hello there. How are you?", &SynthesisParams::default())? {
//!     audio.extend(sentence?.samples);
//! }
//! ishowtts::audio::write_wav("hello.wav".as_ref(), &audio, voice.sample_rate())?;
//! # Ok::<(), ishowtts::Error>(())
//! ```

pub mod audio;
pub mod backend;
pub mod engine;
pub mod error;
pub mod models;
pub mod nn;
pub mod paths;
#[cfg(feature = "espeak")]
pub mod phonemize;
pub mod text;
pub mod timing;

pub use candle_core as candle;
pub use engine::{Engine, EngineConfig, RequestOptions, VoiceSpec};
pub use error::{Error, ErrorCode, Result};
#[cfg(feature = "espeak")]
pub use models::piper::{PiperVoice, SentenceAudio, SynthesisParams};

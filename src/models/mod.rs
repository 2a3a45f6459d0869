//! Model backends. Each model lives in its own folder, one file per
//! component.
//!
//! - [`piper`]: Piper (VITS) voices, read from their ONNX files;
//! - [`f5`]: F5-TTS (flow-matching DiT) zero-shot voice cloning;
//! - [`vocos`]: the Vocos vocoder F5-TTS speaks through;
//! - [`qwen3_tts`]: Qwen3-TTS 12 Hz, streaming within sentences;
//! - [`synthetic`]: deterministic stand-in weights of a real architecture,
//!   for parity tests and benchmarks where real checkpoints are not at hand;
//! - [`file_weights`]: safetensors read tensor by tensor (load peak = the
//!   model).

pub mod f5;
pub mod file_weights;
pub mod piper;
pub mod qwen3_tts;
pub mod synthetic;
pub mod vocos;

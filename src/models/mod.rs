//! Model backends. Each model lives in its own folder, one file per
//! component.
//!
//! - [`piper`]: Piper (VITS) voices, read from their ONNX files;
//! - [`f5`]: F5-TTS (flow-matching DiT) zero-shot voice cloning;
//! - [`vocos`]: the Vocos vocoder F5-TTS speaks through;
//! - [`qwen3_tts`]: Qwen3-TTS 12 Hz, in progress (the speech tokenizer's
//!   decoder so far);
//! - [`synthetic`]: deterministic stand-in weights of a real architecture,
//!   for parity tests and benchmarks where real checkpoints are not at hand.

pub mod f5;
pub mod piper;
pub mod qwen3_tts;
pub mod synthetic;
pub mod vocos;

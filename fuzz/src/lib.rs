//! Fuzz harnesses of ishowtts, one function per `cargo fuzz` target (see
//! `docs/fuzzing.md`). They are plain functions over bytes so that the
//! project's test suite runs the same code on the committed seeds and on
//! every input a fuzzer ever crashed (`tests/fuzz_regressions.rs`,
//! `capi/tests/fuzz_regressions.rs`).

pub mod audio;
pub mod capi;
pub mod input;
pub mod models;
pub mod regressions;
pub mod text;

pub use audio::reference_audio;
pub use capi::capi_params;
pub use models::{checkpoints, configs, piper_voice};
pub use text::{normalize_text as normalize, phoneme_ids, split, split_stream};

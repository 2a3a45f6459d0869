//! Qwen3-TTS against the `qwen-tts` 0.1.1 reference, on tiny random-weight
//! instances of the real architecture: the talker and its prompt, the code
//! predictor and generation (greedy codes identical, sampled codes for
//! given seeds), the speaker encoder, the 12 Hz decoder and the text
//! tokenizer.
//!
//! Reads the committed `tests/fixtures/qwen3/`, or the set named by
//! `ISHOWTTS_QWEN3_FIXTURES`, so that any regenerated set goes through the
//! same checks:
//!
//! ```text
//! bash scripts/qwen3_fixtures.sh --seed 7 --out /tmp/qwen3-seed7
//! ISHOWTTS_QWEN3_FIXTURES=/tmp/qwen3-seed7 cargo test --release --test qwen3_parity
//! ```

mod common;

#[path = "qwen3_parity/decoder.rs"]
mod decoder;
#[path = "qwen3_parity/generate.rs"]
mod generate;
#[path = "qwen3_parity/speaker.rs"]
mod speaker;
#[path = "qwen3_parity/talker.rs"]
mod talker;
#[path = "qwen3_parity/tokenizer.rs"]
mod tokenizer;

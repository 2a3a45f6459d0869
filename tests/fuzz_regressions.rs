//! The fuzz harnesses (`fuzz/src/`) on every committed seed and on every
//! input that once made a fuzzer fail (`tests/fixtures/fuzz/<target>/`,
//! minimized), so a fixed finding stays fixed without a fuzzer. The C ABI
//! target has its own test in `capi/tests/fuzz_regressions.rs`.

#[allow(dead_code)]
#[path = "../fuzz/src/input.rs"]
mod input;

#[path = "../fuzz/src/audio.rs"]
mod audio;
#[path = "../fuzz/src/models.rs"]
mod models;
#[path = "../fuzz/src/text.rs"]
mod text;

#[path = "../fuzz/src/regressions.rs"]
mod regressions;

use regressions::run_inputs;

#[test]
fn split() {
    run_inputs("split", text::split);
}

#[test]
fn split_stream() {
    run_inputs("split_stream", text::split_stream);
}

#[test]
fn normalize() {
    run_inputs("normalize", text::normalize_text);
}

#[test]
fn phoneme_ids() {
    run_inputs("phoneme_ids", text::phoneme_ids);
}

#[test]
fn reference_audio() {
    run_inputs("reference_audio", audio::reference_audio);
}

#[test]
fn piper_voice() {
    run_inputs("piper_voice", models::piper_voice);
}

#[test]
fn checkpoints() {
    run_inputs("checkpoints", models::checkpoints);
}

#[test]
fn configs() {
    run_inputs("configs", models::configs);
}

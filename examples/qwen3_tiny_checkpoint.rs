//! Writes the tiny Qwen3-TTS checkpoint (upstream layout, random weights,
//! from the committed fixtures) that the C, Python and CLI tests load:
//!
//! ```text
//! cargo run --example qwen3_tiny_checkpoint -- OUT_DIR
//! ```
//!
//! See `ishowtts::models::qwen3_tts::tiny`.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: qwen3_tiny_checkpoint OUT_DIR"))?;
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qwen3");
    ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint(&fixtures, &out)?;
    println!("{}", out.display());
    Ok(())
}

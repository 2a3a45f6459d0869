//! A tiny Qwen3-TTS checkpoint in the upstream repository layout, put
//! together from the committed parity fixtures (`tests/fixtures/qwen3/`):
//! the tiny talker and speaker encoder, the tiny 12 Hz decoder and the small
//! byte-level BPE. Real checkpoints cannot be downloaded on our machines;
//! this one goes through the same loading, tokenization, generation and
//! streaming as a real one, so the engine, the C ABI, the Python module and
//! the CLI are tested end to end on it. It speaks noise: the weights are
//! random.
//!
//! Only the text embedding is new: the fixture talker has 64 made-up text
//! ids, the tokenizer thousands, so `talker.model.text_embedding` is
//! redrawn at the tokenizer's size (with [`crate::models::synthetic::values`])
//! and the text ids of the config point at the tokenizer's special tokens.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::Value;

use super::checkpoint::CHECKPOINT_FILES;
use crate::{Error, Result};

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn load(path: &Path) -> Result<HashMap<String, Tensor>> {
    Ok(candle_core::safetensors::load(path, &Device::Cpu)?)
}

/// The id of added token `content` in a `tokenizer_config.json`.
fn added_token(cfg: &Value, content: &str) -> Result<u64> {
    cfg["added_tokens_decoder"]
        .as_object()
        .and_then(|m| {
            m.iter()
                .find(|(_, t)| t["content"] == content)
                .and_then(|(id, _)| id.parse().ok())
        })
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "tokenizer_config.json has no added token {content}"
            ))
        })
}

/// Writes the tiny checkpoint into `out` (created) from the fixture folder
/// `fixtures` (`tests/fixtures/qwen3`, holding `talker/`, `decoder/` and
/// `tokenizer/`).
pub fn write_tiny_checkpoint(fixtures: &Path, out: &Path) -> Result<()> {
    let tok = fixtures.join("tokenizer");
    let tok_cfg = read_json(&tok.join("tokenizer_config.json"))?;
    let vocab = read_json(&tok.join("vocab.json"))?;
    let base = vocab.as_object().map_or(0, |m| m.len()) as u64;
    let added_max = tok_cfg["added_tokens_decoder"]
        .as_object()
        .map(|m| m.keys().filter_map(|k| k.parse::<u64>().ok()).max())
        .unwrap_or_default()
        .unwrap_or(0);
    let text_vocab = base.max(added_max + 1);

    let mut cfg = read_json(&fixtures.join("talker/config.json"))?;
    cfg["talker_config"]["text_vocab_size"] = text_vocab.into();
    for (key, token) in [
        ("im_start_token_id", "<|im_start|>"),
        ("im_end_token_id", "<|im_end|>"),
        ("tts_pad_token_id", "<tts_pad>"),
        ("tts_bos_token_id", "<tts_text_bos>"),
        ("tts_eos_token_id", "<tts_text_eod>"),
    ] {
        cfg[key] = added_token(&tok_cfg, token)?.into();
    }
    let text_hidden = cfg["talker_config"]["text_hidden_size"]
        .as_u64()
        .unwrap_or(0) as usize;

    let mut weights = load(&fixtures.join("talker/model.safetensors"))?;
    let n = text_vocab as usize;
    let table = crate::models::synthetic::values(
        41,
        "talker.model.text_embedding.weight",
        n * text_hidden,
        1.0,
        0.0,
    );
    weights.insert(
        "talker.model.text_embedding.weight".into(),
        Tensor::from_vec(table, (n, text_hidden), &Device::Cpu)?,
    );
    std::fs::create_dir_all(out.join("speech_tokenizer")).map_err(|e| Error::io(out, e))?;
    candle_core::safetensors::save(&weights, out.join("model.safetensors"))?;
    write(
        &out.join("config.json"),
        serde_json::to_string_pretty(&cfg)
            .unwrap_or_default()
            .as_bytes(),
    )?;

    let decoder: HashMap<String, Tensor> = load(&fixtures.join("decoder/model.safetensors"))?
        .into_iter()
        .map(|(k, v)| (format!("decoder.{k}"), v))
        .collect();
    candle_core::safetensors::save(&decoder, out.join("speech_tokenizer/model.safetensors"))?;
    let speech_cfg = serde_json::json!({
        "model_type": "qwen3_tts_tokenizer_12hz",
        "output_sample_rate": 24000,
        "decoder_config": read_json(&fixtures.join("decoder/config.json"))?,
    });
    write(
        &out.join("speech_tokenizer/config.json"),
        serde_json::to_string_pretty(&speech_cfg)
            .unwrap_or_default()
            .as_bytes(),
    )?;

    for f in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
        std::fs::copy(tok.join(f), out.join(f)).map_err(|e| Error::io(tok.join(f), e))?;
    }
    debug_assert!(CHECKPOINT_FILES.iter().all(|f| out.join(f).is_file()));
    Ok(())
}

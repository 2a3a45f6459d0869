//! Qwen3-TTS talker-side benchmark (ishowtts side): time per frame (one
//! talker step + 15 code-predictor steps) and the prompt prefill, at the
//! released 0.6B shape with made-up weights (`HintedWeights`; real
//! checkpoints cannot be downloaded here), on the CPU or a GPU.
//!
//! ```text
//! cargo run --release --example bench_qwen3 -- --frames 40 --runs 3
//! ```
//!
//! The PyTorch side is `scripts/bench_qwen3_reference.py` (same shape, same
//! prompt length, same frame count); `scripts/bench_qwen3.sh talker` runs both and
//! prints the ratios. End of speech is masked for the whole run
//! (`min_new_frames` = `max_frames`) so every run makes the same number of
//! frames. Prints one line per figure, then a JSON summary (also written to
//! `--json-out`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use ishowtts::models::qwen3_tts::{
    build_prompt, Generation, GenerationParams, PromptRequest, Qwen3TtsConfig, Qwen3TtsModel,
    SpeakerPrompt,
};
use ishowtts::models::synthetic::HintedWeights;
use serde_json::json;

mod common;
use common::{median, peak_rss_mib};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The released `Qwen3-TTS-12Hz-0.6B-Base` shape (`config.json`), as far as
/// the talker side goes.
pub const RELEASED_0_6B: &str = r#"{
  "tts_model_type": "custom_voice",
  "im_start_token_id": 151644, "im_end_token_id": 151645,
  "tts_pad_token_id": 151671, "tts_bos_token_id": 151672, "tts_eos_token_id": 151673,
  "talker_config": {
    "vocab_size": 3072, "hidden_size": 1024, "intermediate_size": 3072,
    "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
    "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000,
    "rope_scaling": {"rope_type": "default", "mrope_section": [24, 20, 20], "interleaved": true},
    "num_code_groups": 16, "text_vocab_size": 151936, "text_hidden_size": 2048,
    "codec_eos_token_id": 2150, "codec_think_id": 2154, "codec_nothink_id": 2155,
    "codec_think_bos_id": 2156, "codec_think_eos_id": 2157,
    "codec_pad_id": 2148, "codec_bos_id": 2149,
    "codec_language_id": {"english": 2050, "chinese": 2055},
    "spk_id": {"bench_speaker": 3000}, "spk_is_dialect": {"bench_speaker": false},
    "code_predictor_config": {
      "vocab_size": 2048, "hidden_size": 1024, "intermediate_size": 3072,
      "num_hidden_layers": 5, "num_attention_heads": 16, "num_key_value_heads": 8,
      "head_dim": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000, "num_code_groups": 16
    }
  },
  "speaker_encoder_config": {"enc_dim": 1024}
}"#;

#[derive(Parser, Debug)]
#[command(about = "Qwen3-TTS talker-side benchmark (ishowtts side)")]
struct Args {
    /// Frames per run (12.5 a second of audio).
    #[arg(long, default_value_t = 40)]
    frames: usize,
    /// Text tokens of the sentence.
    #[arg(long, default_value_t = 24)]
    text_tokens: usize,
    /// Timed runs (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `cpu` or `cuda`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// `f32`, `bf16` or `f16`.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Where to write the JSON summary.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = common::device(&args.device)?;
    let dtype = common::dtype(&args.dtype)?;
    let cfg = Qwen3TtsConfig::from_json(RELEASED_0_6B).map_err(anyhow::Error::msg)?;
    let t0 = Instant::now();
    let model = Qwen3TtsModel::new(&cfg, HintedWeights::var_builder(1, dtype, &device))?;
    println!(
        "built the 0.6B talker side in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // `<|im_start|> assistant \n` + text + `<|im_end|> \n <|im_start|> assistant \n`
    let (assistant, newline) = (77_091, 198);
    let mut ids = vec![cfg.im_start_token_id, assistant, newline];
    ids.extend((0..args.text_tokens as u32).map(|i| 1_000 + 37 * i));
    ids.extend([
        cfg.im_end_token_id,
        newline,
        cfg.im_start_token_id,
        assistant,
        newline,
    ]);
    let xvector = candle_core::Tensor::ones(1024, dtype, &device)?;
    let req = PromptRequest {
        language: cfg.talker_config.codec_language_id.get("english").copied(),
        ..PromptRequest::new(&ids, SpeakerPrompt::Embedding(&xvector))
    };
    let params = GenerationParams {
        max_frames: args.frames,
        min_new_frames: args.frames,
        seed: 1,
        ..GenerationParams::default()
    };

    let (mut prefills, mut per_frame) = (Vec::new(), Vec::new());
    for run in 0..=args.runs {
        let t = Instant::now();
        let prompt = build_prompt(&model, &req)?;
        let mut generation = Generation::new(&model, &prompt, params)?;
        device.synchronize()?;
        let prefill = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut n = 0;
        while generation.next_frame(&model)?.is_some() {
            n += 1;
        }
        device.synchronize()?;
        let frame = t.elapsed().as_secs_f64() / n as f64;
        anyhow::ensure!(n == args.frames, "{n} frames instead of {}", args.frames);
        if run > 0 {
            prefills.push(prefill);
            per_frame.push(frame);
        }
    }
    let (prefill, frame) = (median(&prefills), median(&per_frame));
    let rtf = frame * 12.5;
    println!("prompt prefill: {:.1} ms", prefill * 1e3);
    println!(
        "per frame (talker + 15 predictor steps): {:.1} ms, talker-side RTF {rtf:.3}",
        frame * 1e3
    );
    let summary = json!({
        "impl": "ishowtts",
        "device": args.device,
        "dtype": args.dtype,
        "threads": rayon::current_num_threads(),
        "frames": args.frames,
        "text_tokens": args.text_tokens,
        "runs": args.runs,
        "prefill_s": prefill,
        "frame_s": frame,
        "talker_rtf": rtf,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{summary}");
    if let Some(path) = args.json_out {
        std::fs::write(&path, summary.to_string())?;
    }
    Ok(())
}

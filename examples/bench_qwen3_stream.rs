//! Qwen3-TTS whole-pipeline benchmark (ishowtts side): a 3-sentence
//! paragraph spoken as the engine speaks it, frames streamed through the
//! incremental 12 Hz decoder, on a full-size checkpoint directory.
//!
//! ```text
//! .venv-qwenref/bin/python scripts/bench_qwen3_stream_reference.py --checkpoint /tmp/qwen3-bench
//! cargo run --release --example bench_qwen3_stream -- /tmp/qwen3-bench --frames 25 --runs 2
//! ```
//!
//! The reference script writes the checkpoint (released 0.6B shape, random
//! weights, upstream layout) and times `qwen-tts` on the same weights and
//! sentences. Here each sentence starts from the voice's cached prompt
//! prefix (as the engine does; computed once, before the timed runs) and
//! makes exactly `--frames` frames (end of speech masked), decoded 4 then 8
//! at a time (the engine's default plan). Time to first audio: from the
//! start of the paragraph to its first decoded chunk. RTF: all of it over
//! the audio's duration. Medians of `--runs` after a warm-up.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use candle_core::Tensor;
use clap::Parser;
use ishowtts::models::qwen3_tts::synthesizer::{Qwen3Synthesizer, Qwen3Voice};
use ishowtts::models::qwen3_tts::{CheckpointFiles, ChunkPlan, GenerationParams, SAMPLE_RATE};
use serde_json::json;

mod common;
use common::{median, peak_rss_mib};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The reference script's sentences.
const SENTENCES: [&str; 3] = [
    "The weather today is bright and warm across the whole valley.",
    "Farmers are out early to bring the harvest in before the rain.",
    "By evening the streets fill with music and the smell of bread.",
];

#[derive(Parser, Debug)]
#[command(about = "Qwen3-TTS whole-pipeline benchmark (ishowtts side)")]
struct Args {
    /// Checkpoint directory (from scripts/bench_qwen3_stream_reference.py).
    checkpoint: PathBuf,
    /// Frames per sentence.
    #[arg(long, default_value_t = 25)]
    frames: usize,
    /// Timed runs (after one warm-up run).
    #[arg(long, default_value_t = 2)]
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
    let t0 = Instant::now();
    let files = CheckpointFiles::in_dir(&args.checkpoint)?;
    let synth = Qwen3Synthesizer::load(&files, &device, dtype)?;
    println!(
        "loaded {} in {:.1} s",
        args.checkpoint.display(),
        t0.elapsed().as_secs_f64()
    );

    // the reference's voice: an x-vector of ones, English
    let hidden = synth.config().talker_config.hidden_size;
    let voice = Qwen3Voice {
        language: synth.language_id("english")?,
        ..Qwen3Voice::cloned(Tensor::ones(hidden, dtype, &device)?)
    };
    let prefix = synth.voice_prefix(&voice)?;
    let params = GenerationParams {
        max_frames: args.frames,
        min_new_frames: args.frames,
        ..GenerationParams::default()
    };

    let (mut ttfas, mut rtfs) = (Vec::new(), Vec::new());
    for run in 0..=args.runs {
        let t = Instant::now();
        let (mut first, mut samples) = (None, 0usize);
        for (i, text) in SENTENCES.iter().enumerate() {
            let params = GenerationParams {
                seed: (run * 10 + i) as u64,
                ..params
            };
            let mut speech = synth.start_sentence_with(
                text,
                &voice,
                Some(&prefix),
                params,
                ChunkPlan::default(),
            )?;
            while let Some(chunk) = speech.next_chunk(&synth.model, &synth.decoder)? {
                first.get_or_insert_with(|| t.elapsed().as_secs_f64());
                samples += chunk.len();
            }
        }
        device.synchronize()?;
        let total = t.elapsed().as_secs_f64();
        let audio = samples as f64 / f64::from(SAMPLE_RATE);
        let first = first.unwrap_or(total);
        println!(
            "run {run}: first audio {first:.2} s, {audio:.2} s of audio in {total:.2} s (RTF {:.2}){}",
            total / audio,
            if run == 0 { " (warm-up)" } else { "" }
        );
        anyhow::ensure!(
            samples == SENTENCES.len() * args.frames * 1920,
            "{samples} samples instead of {} frames' worth",
            SENTENCES.len() * args.frames
        );
        if run > 0 {
            ttfas.push(first);
            rtfs.push(total / audio);
        }
    }
    let summary = json!({
        "impl": "ishowtts",
        "device": args.device,
        "dtype": args.dtype,
        "threads": rayon::current_num_threads(),
        "sentences": SENTENCES.len(),
        "frames": SENTENCES.len() * args.frames,
        "runs": args.runs,
        "first_audio_s": median(&ttfas),
        "rtf": median(&rtfs),
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{summary}");
    if let Some(path) = args.json_out {
        std::fs::write(&path, summary.to_string())?;
    }
    Ok(())
}

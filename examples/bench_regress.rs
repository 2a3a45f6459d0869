//! One model's figures for the regression record (`bench/run.sh`): a fixed
//! paragraph spoken through the engine `--runs` times after a warm-up, each
//! run's real-time factor (wall time and CPU time of the process over the
//! audio's length) and time to first audio, and the process's peak RSS.
//! Prints one JSON object.
//!
//! ```text
//! cargo run --release --example bench_regress -- --model piper --runs 7
//! cargo run --release --example bench_regress -- --model f5 --runs 7
//! cargo run --release --example bench_regress -- --model qwen3 --runs 7
//! ```
//!
//! Models: `piper` (the installed default voice), `f5` (the tiny synthetic
//! checkpoint written from the parity fixtures, a synthetic reference,
//! 16 flow steps) and `qwen3` (the tiny Qwen3-TTS checkpoint of the
//! fixtures, a built-in speaker). The synthetic ones do not speak words,
//! but every stage runs at its real cost for that shape, so a slower
//! kernel, scheduler or front end shows. Seeded and uncached: each run
//! does the same work.
//!
//! `--inject-slowdown F` makes the model slower by the fraction `F`: it is
//! wrapped so that every call into it (a sentence, a step) is followed by
//! `F` times its own time of busy work, on the engine's worker thread as a
//! slower kernel would be. It exists to prove that `bench/run.sh` notices a
//! regression of that size.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use ishowtts::backend::{
    Backend, ModelLoader, SentenceInProgress, SentenceJob, SynthesisOptions, VoicePrompt,
};
use ishowtts::candle::Device;
use ishowtts::engine::{Engine, EngineConfig, Reference, RequestOptions, VoiceSpec};
use ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint;
use ishowtts::models::qwen3_tts::Qwen3VoiceConfig;
use ishowtts::text::language::Language;
use serde_json::json;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The paragraph every run speaks: three sentences of everyday English.
const PARAGRAPH: &str = "The weather was calm when the ship left the harbor this morning. \
    Passengers gathered on the deck to watch the coastline slowly disappear. \
    By noon the sea had turned a deeper shade of blue.";

#[derive(Parser, Debug)]
#[command(about = "One model's figures for bench/run.sh")]
struct Args {
    /// piper, f5 or qwen3.
    #[arg(long)]
    model: String,
    /// Timed runs (after one warm-up).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Make each run slower by this fraction (see the module docs).
    #[arg(long, default_value_t = 0.0)]
    inject_slowdown: f64,
    /// The repository's test fixtures (F5 and Qwen3 synthetic weights).
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// Where the synthetic checkpoints are written (reused when present).
    #[arg(long, default_value = "target/bench_regress")]
    scratch: PathBuf,
}

/// Runs `f`, then spins (not sleeps: the injected cost is CPU work, as a
/// real regression's would be) for `fraction` of the time it took.
fn slowed<T>(fraction: f64, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let extra = t.elapsed().mul_f64(fraction);
    let t = Instant::now();
    while t.elapsed() < extra {
        std::hint::spin_loop();
    }
    out
}

/// A model made slower by a fraction (`--inject-slowdown`); otherwise the
/// model itself, every trait method passed through.
#[derive(Debug)]
struct SlowedLoader {
    inner: Arc<dyn ModelLoader>,
    fraction: f64,
}

impl ModelLoader for SlowedLoader {
    fn key(&self) -> String {
        self.inner.key()
    }
    fn language(&self) -> Language {
        self.inner.language()
    }
    fn sample_rate(&self) -> Option<u32> {
        self.inner.sample_rate()
    }
    fn num_speakers(&self) -> usize {
        self.inner.num_speakers()
    }
    fn clones_voices(&self) -> bool {
        self.inner.clones_voices()
    }
    fn needs_transcript(&self) -> bool {
        self.inner.needs_transcript()
    }
    fn check_options(&self, options: &SynthesisOptions) -> ishowtts::Result<()> {
        self.inner.check_options(options)
    }
    fn load(&self, device: &Device) -> ishowtts::Result<Box<dyn Backend>> {
        Ok(Box::new(SlowedBackend {
            inner: self.inner.load(device)?,
            fraction: self.fraction,
        }))
    }
}

struct SlowedBackend {
    inner: Box<dyn Backend>,
    fraction: f64,
}

impl Backend for SlowedBackend {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }
    fn prepare_voice(&mut self, reference: &Reference) -> ishowtts::Result<VoicePrompt> {
        self.inner.prepare_voice(reference)
    }
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> ishowtts::Result<Vec<f32>> {
        slowed(self.fraction, || self.inner.synthesize(job))
    }
    fn steps_in_batches(&self) -> bool {
        self.inner.steps_in_batches()
    }
    fn begin(&mut self, job: &mut SentenceJob<'_>) -> ishowtts::Result<SentenceInProgress> {
        slowed(self.fraction, || self.inner.begin(job))
    }
    fn step(
        &mut self,
        batch: &mut [&mut SentenceInProgress],
    ) -> ishowtts::Result<Vec<ishowtts::Result<()>>> {
        slowed(self.fraction, || self.inner.step(batch))
    }
    fn streams_pieces(&self) -> bool {
        self.inner.streams_pieces()
    }
    fn take_audio(&mut self, sentence: &mut SentenceInProgress) -> ishowtts::Result<Vec<f32>> {
        slowed(self.fraction, || self.inner.take_audio(sentence))
    }
    fn finish(&mut self, sentence: SentenceInProgress) -> ishowtts::Result<Vec<f32>> {
        slowed(self.fraction, || self.inner.finish(sentence))
    }
}

fn voice(args: &Args, options: &mut RequestOptions) -> Result<VoiceSpec> {
    Ok(match args.model.as_str() {
        "piper" => VoiceSpec::piper_default()?,
        "f5" => {
            let paths = common::f5_paths("tiny", &args.fixtures.join("f5"), &args.scratch)?;
            options.synthesis.nfe_step = Some(16);
            let reference = Reference {
                audio: common::reference_wav(3.0).into(),
                text: "Some call me nature, others call me mother nature.".into(),
            };
            VoiceSpec::f5(paths, reference)?
        }
        "qwen3" => {
            let dir = args.scratch.join("qwen3_tiny");
            if !dir.join("config.json").is_file() {
                write_tiny_checkpoint(&args.fixtures.join("qwen3"), &dir)
                    .context("writing the tiny Qwen3-TTS checkpoint")?;
            }
            // the tiny checkpoint is a Base one: it clones a recording
            let voice = Qwen3VoiceConfig {
                reference: Some(Reference {
                    audio: common::reference_wav(3.0).into(),
                    text: String::new(),
                }),
                language: Some("English".into()),
                ..Default::default()
            };
            VoiceSpec::qwen3(dir.to_str().context("scratch path is not UTF-8")?, voice)?
        }
        m => bail!("--model piper, f5 or qwen3, not {m}"),
    })
}

/// One run: (seconds to the first chunk, seconds in all, CPU seconds of
/// the process, seconds of audio).
fn run(engine: &Engine, options: &RequestOptions) -> Result<(f64, f64, f64, f64)> {
    let cpu0 = common::cpu_seconds().unwrap_or(f64::NAN);
    let start = Instant::now();
    let (mut first, mut samples, mut rate) = (None, 0usize, 1u32);
    for chunk in engine.stream(PARAGRAPH, options)? {
        let chunk = chunk?;
        first.get_or_insert_with(|| start.elapsed().as_secs_f64());
        samples += chunk.samples.len();
        rate = chunk.sample_rate;
    }
    let total = start.elapsed().as_secs_f64();
    let cpu = common::cpu_seconds().unwrap_or(f64::NAN) - cpu0;
    let first = first.context("no audio")?;
    Ok((first, total, cpu, samples as f64 / f64::from(rate)))
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !(0.0..=10.0).contains(&args.inject_slowdown) {
        bail!("--inject-slowdown must be in [0, 10]");
    }
    let engine = Engine::new(EngineConfig::default())?;
    let mut options = RequestOptions::default().use_cache(false).seed(7);
    let mut spec = voice(&args, &mut options)?;
    if args.inject_slowdown > 0.0 {
        spec.loader = Arc::new(SlowedLoader {
            inner: spec.loader,
            fraction: args.inject_slowdown,
        });
    }
    engine.add_voice("bench", spec)?;
    let t = Instant::now();
    run(&engine, &options).context("warm-up run")?;
    let load_and_first_s = t.elapsed().as_secs_f64();
    let (mut rtf, mut cpu_rtf, mut ttfa) = (Vec::new(), Vec::new(), Vec::new());
    let mut audio_s = 0.0;
    for _ in 0..args.runs.max(1) {
        let (first, total, cpu, audio) = run(&engine, &options)?;
        rtf.push(total / audio);
        cpu_rtf.push(cpu / audio);
        ttfa.push(first);
        audio_s = audio;
    }
    let report = json!({
        "model": args.model,
        "runs": rtf.len(),
        "audio_s": audio_s,
        "inject_slowdown": args.inject_slowdown,
        "warmup_s": load_and_first_s,
        "figures": {
            "rtf": rtf,
            "cpu_rtf": cpu_rtf,
            "ttfa_s": ttfa,
            "peak_rss_mib": [common::peak_rss_mib().unwrap_or(f64::NAN)],
        },
    });
    println!("{report}");
    Ok(())
}

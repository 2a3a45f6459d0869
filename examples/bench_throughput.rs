//! Throughput benchmark: the largest number of concurrent streams that each
//! stay real-time, and the time to first audio at that load.
//!
//! A stream is real-time when every chunk arrives before the audio before
//! it has finished playing: with playback starting as the first chunk
//! arrives (at `a0`), chunk `k` must arrive by `a0 + d0 + … + d(k-1)`, the
//! `d` being the chunks' durations. A trial starts `n` streams at once (each
//! its own text of `--sentences` sentences, output cache off) and passes
//! when all of them are real-time; a trial is ended (its streams cancelled)
//! at the first late chunk or after `--trial-seconds`. The search doubles
//! `n` from 1 until a trial fails, then bisects between the last pass and
//! the first failure; `--streams` runs given counts instead.
//!
//! ```text
//! cargo run --release --example bench_throughput -- --model piper
//! cargo run --release --features cuda --example bench_throughput -- --model f5 --device cuda --nfe 16
//! ```
//!
//! Piper uses the default voice (`scripts/setup.sh`). F5-TTS runs the real
//! v1 Base shape (or `--f5-shape tiny`) with the synthetic weights of the
//! parity fixtures (`tests/fixtures/f5`), written once as an upstream-layout
//! checkpoint into `--scratch`; the voice is cloned from a synthetic
//! 3-second reference, so the audio is not speech but every stage of the
//! pipeline runs at its real cost. Prints one line per trial and a JSON
//! summary last.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use ishowtts::engine::{
    CancelHandle, DeviceSpec, Engine, EngineConfig, Reference, RequestOptions, VoiceSpec,
};
use serde_json::json;

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Most concurrent real-time streams, and TTFA at that load")]
struct Args {
    /// piper or f5.
    #[arg(long, default_value = "piper")]
    model: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Sentences per stream.
    #[arg(long, default_value_t = 3)]
    sentences: usize,
    /// Run these stream counts (comma-separated) instead of searching.
    #[arg(long)]
    streams: Option<String>,
    /// Largest stream count the search tries.
    #[arg(long, default_value_t = 256)]
    max_streams: usize,
    /// A trial running longer than this fails.
    #[arg(long, default_value_t = 60.0)]
    trial_seconds: f64,
    /// The search stops starting trials after this long (the best count
    /// so far is reported).
    #[arg(long, default_value_t = 300.0)]
    search_seconds: f64,
    /// F5-TTS flow steps.
    #[arg(long, default_value_t = 16)]
    nfe: u32,
    /// F5-TTS network shape: full (v1 Base) or tiny.
    #[arg(long, default_value = "full")]
    f5_shape: String,
    /// The F5 parity fixtures (synthetic weights, vocabulary).
    #[arg(long, default_value = "tests/fixtures/f5")]
    fixtures: PathBuf,
    /// Where the synthetic F5 checkpoint is written (reused when present).
    #[arg(long, default_value = "target/bench_throughput")]
    scratch: PathBuf,
    /// Most streams per batched model step (1: batching off).
    #[arg(long, default_value_t = EngineConfig::default().max_batch)]
    max_batch: usize,
    /// How long a new batch may wait to fill, in milliseconds.
    #[arg(long, default_value_t = 0)]
    batch_window_ms: u64,
    /// Write the JSON summary here too.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

/// Words the stream texts are made of: plain English, so Piper's phonemizer
/// and F5's tokenizer see ordinary sentences.
const WORDS: &[&str] = &[
    "the",
    "stream",
    "tonight",
    "is",
    "moving",
    "fast",
    "and",
    "everyone",
    "seems",
    "happy",
    "with",
    "new",
    "round",
    "thanks",
    "for",
    "following",
    "along",
    "we",
    "will",
    "take",
    "short",
    "break",
    "soon",
    "remember",
    "to",
    "drink",
    "some",
    "water",
    "next",
    "match",
    "starts",
    "in",
    "two",
    "minutes",
    "that",
    "was",
    "an",
    "amazing",
    "play",
    "let",
    "us",
    "try",
    "again",
    "chat",
    "asked",
    "about",
    "settings",
    "I",
    "post",
    "them",
    "later",
];

/// Stream `i`'s text: `n` sentences of 9 to 14 words, different per stream.
fn stream_text(i: usize, n: usize) -> String {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = String::new();
    for _ in 0..n {
        let len = 9 + (next() % 6) as usize;
        let words: Vec<&str> = (0..len)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect();
        let mut s = words.join(" ");
        s[..1].make_ascii_uppercase();
        text.push_str(&s);
        text.push_str(". ");
    }
    text.trim_end().to_owned()
}

/// One stream's record: chunk arrival times (from the trial start) and
/// durations.
#[derive(Debug, Default, Clone)]
struct StreamRecord {
    arrivals: Vec<f64>,
    durations: Vec<f64>,
    late: bool,
    error: Option<String>,
}

impl StreamRecord {
    fn first(&self) -> Option<f64> {
        self.arrivals.first().copied()
    }
}

/// The outcome of one trial.
struct Trial {
    streams: usize,
    passed: bool,
    records: Vec<StreamRecord>,
    wall: f64,
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn run_trial(engine: &Arc<Engine>, args: &Args, options: &RequestOptions, n: usize) -> Trial {
    let failed = Arc::new(AtomicBool::new(false));
    let cancels: Arc<Mutex<Vec<CancelHandle>>> = Arc::default();
    let barrier = Arc::new(Barrier::new(n + 1));
    let deadline = Duration::from_secs_f64(args.trial_seconds);
    let start = Arc::new(Mutex::new(Instant::now()));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (engine, options, failed, cancels, barrier, start) = (
                engine.clone(),
                options.clone(),
                failed.clone(),
                cancels.clone(),
                barrier.clone(),
                start.clone(),
            );
            let text = stream_text(i, args.sentences);
            std::thread::spawn(move || {
                let mut rec = StreamRecord::default();
                barrier.wait();
                let t0 = *start.lock().unwrap();
                let mut stream = match engine.stream(&text, &options) {
                    Ok(s) => s,
                    Err(e) => {
                        rec.error = Some(e.to_string());
                        failed.store(true, Ordering::SeqCst);
                        return rec;
                    }
                };
                cancels.lock().unwrap().push(stream.cancel_handle());
                let mut due = f64::INFINITY; // when the audio heard so far runs out
                for chunk in &mut stream {
                    let now = t0.elapsed().as_secs_f64();
                    match chunk {
                        Ok(c) => {
                            if now > due {
                                rec.late = true;
                            }
                            if rec.arrivals.is_empty() {
                                due = now;
                            }
                            let d = c.duration().as_secs_f64();
                            due += d;
                            rec.arrivals.push(now);
                            rec.durations.push(d);
                        }
                        Err(e) => {
                            if !failed.load(Ordering::SeqCst) {
                                rec.error = Some(e.to_string());
                            }
                            break;
                        }
                    }
                    if rec.late || now > deadline.as_secs_f64() {
                        rec.late = true;
                        failed.store(true, Ordering::SeqCst);
                        for c in cancels.lock().unwrap().iter() {
                            c.cancel();
                        }
                        break;
                    }
                }
                rec
            })
        })
        .collect();
    *start.lock().unwrap() = Instant::now();
    barrier.wait();
    let t0 = Instant::now();
    let records: Vec<StreamRecord> = handles
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| StreamRecord {
                error: Some("stream thread panicked".into()),
                ..Default::default()
            })
        })
        .collect();
    let wall = t0.elapsed().as_secs_f64();
    let passed = !failed.load(Ordering::SeqCst)
        && records
            .iter()
            .all(|r| !r.late && r.error.is_none() && !r.arrivals.is_empty());
    Trial {
        streams: n,
        passed,
        records,
        wall,
    }
}

fn summarize(t: &Trial) -> serde_json::Value {
    let firsts: Vec<f64> = t.records.iter().filter_map(StreamRecord::first).collect();
    let audio: f64 = t.records.iter().flat_map(|r| r.durations.iter()).sum();
    let errors: Vec<&str> = t
        .records
        .iter()
        .filter_map(|r| r.error.as_deref())
        .collect();
    json!({
        "streams": t.streams,
        "real_time": t.passed,
        "late_streams": t.records.iter().filter(|r| r.late).count(),
        "ttfa_p50_s": percentile(firsts.clone(), 0.5),
        "ttfa_max_s": percentile(firsts, 1.0),
        "audio_s": audio,
        "wall_s": t.wall,
        "errors": errors.first().copied(),
    })
}

fn print_trial(t: &Trial) {
    let s = summarize(t);
    println!(
        "{:>4} streams: {:<9} late {:>3}  TTFA p50 {:>7.1} ms max {:>7.1} ms  audio {:>7.1} s in {:>6.1} s{}",
        t.streams,
        if t.passed { "real-time" } else { "FAILED" },
        s["late_streams"],
        s["ttfa_p50_s"].as_f64().unwrap_or(f64::NAN) * 1e3,
        s["ttfa_max_s"].as_f64().unwrap_or(f64::NAN) * 1e3,
        s["audio_s"].as_f64().unwrap_or(0.0),
        t.wall,
        s["errors"].as_str().map(|e| format!("  error: {e}")).unwrap_or_default()
    );
}

fn device_spec(s: &str) -> Result<DeviceSpec> {
    Ok(match s {
        "cpu" => DeviceSpec::Cpu,
        "cuda" => DeviceSpec::Cuda(0),
        s if s.starts_with("cuda:") => DeviceSpec::Cuda(s[5..].parse()?),
        s => bail!("unknown device {s} (cpu, cuda or cuda:N)"),
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = EngineConfig {
        device: device_spec(&args.device)?,
        queue_limit: args.max_streams.max(1) * 2,
        max_batch: args.max_batch,
        batch_window: Duration::from_millis(args.batch_window_ms),
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::new(config)?);
    let mut options = RequestOptions::default().use_cache(false).voice("bench");
    match args.model.as_str() {
        "piper" => {
            engine.add_voice("bench", VoiceSpec::piper_default()?)?;
        }
        "f5" => {
            let reference = Reference {
                audio: common::reference_wav(3.0).into(),
                text: "Some call me nature, others call me mother nature.".into(),
            };
            let paths = common::f5_paths(&args.f5_shape, &args.fixtures, &args.scratch)?;
            engine.add_voice("bench", VoiceSpec::f5(paths, reference)?)?;
            options.synthesis.nfe_step = Some(args.nfe);
        }
        m => bail!("--model piper or f5, not {m}"),
    }
    options.synthesis.seed = Some(0);
    // load the model, warm the allocator and the device
    let t = Instant::now();
    engine
        .synthesize(&stream_text(usize::MAX, 1), &options)
        .context("warm-up request")?;
    eprintln!(
        "warm-up (load + one sentence): {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut trials = Vec::new();
    if let Some(list) = &args.streams {
        for n in list.split(',') {
            let t = run_trial(&engine, &args, &options, n.trim().parse()?);
            print_trial(&t);
            trials.push(t);
        }
    } else {
        // doubling, then bisection between the last pass and the first fail
        let search = Instant::now();
        let in_time = || search.elapsed().as_secs_f64() < args.search_seconds;
        let (mut pass, mut fail) = (0usize, None::<usize>);
        let mut n = 1;
        while n <= args.max_streams && in_time() {
            let t = run_trial(&engine, &args, &options, n);
            print_trial(&t);
            let ok = t.passed;
            trials.push(t);
            if ok {
                pass = n;
                n *= 2;
            } else {
                fail = Some(n);
                break;
            }
        }
        if let Some(mut hi) = fail {
            let mut lo = pass;
            while hi - lo > 1 && lo * 20 < hi * 19 && in_time() {
                let mid = (lo + hi) / 2;
                let t = run_trial(&engine, &args, &options, mid);
                print_trial(&t);
                if t.passed {
                    lo = mid;
                } else {
                    hi = mid;
                }
                trials.push(t);
            }
        }
    }
    let best = trials.iter().filter(|t| t.passed).max_by_key(|t| t.streams);
    let m = engine.metrics();
    let summary = json!({
        "model": args.model,
        "device": args.device,
        "nfe": (args.model == "f5").then_some(args.nfe),
        "f5_shape": (args.model == "f5").then_some(&args.f5_shape),
        "sentences_per_stream": args.sentences,
        "max_batch": args.max_batch,
        "batch_window_ms": args.batch_window_ms,
        "batch_size_p50": m.batch_size.p50,
        "batch_size_max": m.batch_size.max,
        "max_real_time_streams": best.map_or(0, |t| t.streams),
        "at_max": best.map(summarize),
        "trials": trials.iter().map(summarize).collect::<Vec<_>>(),
        "engine_rtf": m.real_time_factor,
    });
    println!(
        "max real-time streams: {} ({} {}, {} sentences each, max_batch {})",
        summary["max_real_time_streams"], args.model, args.device, args.sentences, args.max_batch
    );
    println!("{summary}");
    if let Some(path) = &args.json_out {
        write_json(path, &summary)?;
    }
    Ok(())
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(v)?)?;
    Ok(())
}

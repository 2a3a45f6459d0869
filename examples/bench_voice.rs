//! Benchmark worker for `bench/piper_bench.py`: loads a voice once, speaks
//! each text several times and prints JSON with median timings and the
//! process's peak RSS.
//!
//! Usage: bench_voice VOICE.onnx TEXTS.json RUNS

use std::time::Instant;

use ishowtts::{PiperVoice, SynthesisParams};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// mimalloc keeps freed pages for reuse: the decoder's multi-MB activations
// would otherwise be fresh, page-faulting allocations on every sentence.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 4,
        "usage: bench_voice VOICE.onnx TEXTS.json RUNS"
    );
    let texts: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&args[2])?)?;
    let runs: usize = args[3].parse()?;

    let t = Instant::now();
    let voice = PiperVoice::load(&args[1])?;
    let load_s = t.elapsed().as_secs_f64();
    let params = SynthesisParams::default();
    // warm-up: first-call allocations, espeak initialization
    for s in voice.synthesize("Warm up.", &params)? {
        s?;
    }

    let mut results = Vec::new();
    for text in &texts {
        let (mut totals, mut firsts, mut audio) = (Vec::new(), Vec::new(), 0.0);
        for _ in 0..runs {
            let start = Instant::now();
            let mut first = None;
            let mut samples = 0usize;
            for s in voice.synthesize(text, &params)? {
                let s = s?;
                first.get_or_insert_with(|| start.elapsed().as_secs_f64());
                samples += s.samples.len();
            }
            totals.push(start.elapsed().as_secs_f64());
            firsts.push(first.unwrap_or(0.0));
            audio = samples as f64 / voice.sample_rate() as f64;
        }
        results.push(serde_json::json!({
            "text": text,
            "audio_s": audio,
            "total_s": median(totals),
            "first_audio_s": median(firsts),
        }));
    }
    let out = serde_json::json!({
        "engine": "ishowtts",
        "load_s": load_s,
        "results": results,
        "peak_rss_kib": peak_rss_kib(),
    });
    println!("{out}");
    Ok(())
}

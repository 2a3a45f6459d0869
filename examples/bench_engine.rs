//! Engine benchmark on the default voice: time to first audio against
//! total time for a paragraph, cache-hit latency, and 8 concurrent streams
//! against the same 8 requests served one after another.
//!
//! ```text
//! cargo run --release --example bench_engine -- --runs 5
//! ```
//! Prints one human-readable line per figure and a JSON summary last.

use std::sync::Arc;
use std::time::Instant;

use ishowtts::engine::{Engine, EngineConfig, RequestOptions, VoiceSpec};

mod common;
use common::median;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARAGRAPH: &str = "The weather today is bright and clear across the valley. \
Farmers expect the harvest to begin early next week. \
Visitors are welcome to join the festival on Saturday afternoon.";

const STREAM_TEXTS: [&str; 8] = [
    "Welcome to the stream, everyone. Thanks for the follow!",
    "That was an amazing play. Let us try that again.",
    "Remember to stay hydrated. We will take a short break soon.",
    "Chat is moving fast tonight. I can barely keep up.",
    "The next round starts in two minutes. Get ready.",
    "Someone asked about the settings. I will post them later.",
    "Thank you for the kind words. It means a lot.",
    "We are almost at the goal. Just a little more to go.",
];

fn main() -> ishowtts::Result<()> {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let engine = Arc::new(Engine::new(EngineConfig::default())?);
    engine.add_voice("default", VoiceSpec::piper_default()?)?;
    let fresh = RequestOptions::default().use_cache(false);
    // Load the model and warm the allocator.
    engine.synthesize("Warming up the engine.", &fresh)?;

    // 1. TTFA / total for a 3-sentence paragraph.
    let (mut ttfa, mut total, mut audio) = (Vec::new(), Vec::new(), 0.0);
    for _ in 0..runs {
        let t = Instant::now();
        let mut first = None;
        let mut secs = 0.0;
        for chunk in engine.stream(PARAGRAPH, &fresh)? {
            let chunk = chunk?;
            first.get_or_insert(t.elapsed().as_secs_f64());
            secs += chunk.duration().as_secs_f64();
        }
        total.push(t.elapsed().as_secs_f64());
        ttfa.push(first.unwrap_or(f64::NAN));
        audio = secs;
    }
    let (ttfa_m, total_m) = (median(&ttfa), median(&total));
    println!(
        "paragraph (3 sentences, {audio:.2} s audio): TTFA {:.1} ms, total {:.1} ms, \
         TTFA/total {:.3}, RTF {:.3}",
        ttfa_m * 1e3,
        total_m * 1e3,
        ttfa_m / total_m,
        total_m / audio
    );

    // 2. Cache hit: the same phrase again, whole request until the last
    //    chunk is in hand.
    let cached = RequestOptions::default();
    engine.synthesize("Thanks for the follow!", &cached)?;
    let mut hits = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let a = engine.synthesize("Thanks for the follow!", &cached)?;
        hits.push(t.elapsed().as_secs_f64());
        assert!(a.from_cache);
    }
    let hit_m = median(&hits);
    println!("cache hit (whole request): {:.1} us median", hit_m * 1e6);

    // 3. Eight streams at once against the same eight one after another.
    let t = Instant::now();
    let mut serial_first = Vec::new();
    for text in STREAM_TEXTS {
        // Measured from the start of the batch: in a serial queue request
        // i hears nothing until the requests before it are done.
        let mut first = None;
        for chunk in engine.stream(text, &fresh)? {
            chunk?;
            first.get_or_insert(t.elapsed().as_secs_f64());
        }
        serial_first.push(first.unwrap_or(f64::NAN));
    }
    let serial_total = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let handles: Vec<_> = STREAM_TEXTS
        .iter()
        .map(|text| {
            let engine = engine.clone();
            let fresh = fresh.clone();
            std::thread::spawn(move || -> ishowtts::Result<(f64, f64)> {
                let s = Instant::now();
                let mut first = None;
                let mut audio = 0.0;
                for chunk in engine.stream(text, &fresh)? {
                    let chunk = chunk?;
                    first.get_or_insert(s.elapsed().as_secs_f64());
                    audio += chunk.duration().as_secs_f64();
                }
                Ok((first.unwrap_or(f64::NAN), audio))
            })
        })
        .collect();
    let mut conc_first = Vec::new();
    let mut conc_audio = 0.0;
    for h in handles {
        let (f, a) = h.join().expect("stream thread")?;
        conc_first.push(f);
        conc_audio += a;
    }
    let conc_total = t.elapsed().as_secs_f64();
    let max_first = conc_first.iter().copied().fold(0.0, f64::max);
    println!(
        "8 concurrent streams: first chunk per stream median {:.0} ms, max {:.0} ms \
         (served one after another: median {:.0} ms, max {:.0} ms); total {:.2} s vs \
         serial {:.2} s (throughput ratio {:.2}), {:.1} s of audio",
        median(&conc_first) * 1e3,
        max_first * 1e3,
        median(&serial_first) * 1e3,
        serial_first.iter().copied().fold(0.0, f64::max) * 1e3,
        conc_total,
        serial_total,
        serial_total / conc_total,
        conc_audio
    );
    let m = engine.metrics();
    println!(
        "metrics: TTFA p50 {:.0} ms p90 {:.0} ms, sentence p50 {:.0} ms, RTF {:.3}, \
         cache hits {} misses {}",
        m.time_to_first_audio.p50 * 1e3,
        m.time_to_first_audio.p90 * 1e3,
        m.sentence_synthesis.p50 * 1e3,
        m.real_time_factor,
        m.output_cache.hits,
        m.output_cache.misses
    );
    println!(
        "{{\"paragraph_ttfa_s\": {ttfa_m:.4}, \"paragraph_total_s\": {total_m:.4}, \
         \"ttfa_over_total\": {:.4}, \"cache_hit_s\": {hit_m:.7}, \
         \"concurrent_first_chunk_median_s\": {:.4}, \"concurrent_first_chunk_max_s\": {max_first:.4}, \
         \"serial_first_chunk_median_s\": {:.4}, \"concurrent_total_s\": {conc_total:.3}, \
         \"serial_total_s\": {serial_total:.3}}}",
        ttfa_m / total_m,
        median(&conc_first),
        median(&serial_first),
    );
    Ok(())
}

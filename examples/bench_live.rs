//! Live-text benchmark on the default voice (CPU): first audio with and
//! without the clause cut, text pushed at an LLM's pace, and what word and
//! phoneme timings cost.
//!
//! ```text
//! cargo run --release --example bench_live
//! cargo run --release --example bench_live -- --parts c --runs 15
//! ```
//!
//! (a) A paragraph whose first sentence has 40 words (with commas) through
//! `Engine::stream`, `first_chunk_max_chars` 60 against none: request to
//! first chunk, the model's share of it, and espeak-ng's share of that
//! (timed alone on a second copy of the voice).
//!
//! (b) A 10-sentence paragraph pushed token by token (a word and the space
//! or punctuation after it) by a thread keeping a fixed schedule, while the
//! main thread reads the audio. Per sentence: from the push of its last
//! character to its first chunk. The same pushes are replayed through an
//! `IncrementalSplitter` (deterministic) to tell when the engine could
//! first have the sentence, which splits that figure into the splitter's
//! hold and the engine's part (waiting behind earlier sentences + model).
//!
//! (c) A 5-sentence text with word timings off, on, and words + phonemes:
//! wall time, and the process's CPU time (steadier beside other work).
//!
//! Output cache off, fixed seed, the engine warm; medians, ratios, and a
//! JSON summary last.

use std::ops::Range;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use ishowtts::engine::{Chunk, Engine, EngineConfig, RequestOptions, VoiceSpec};
use ishowtts::text::{split_sentences, IncrementalSplitter, SplitOptions};
use ishowtts::PiperVoice;
use serde_json::json;

mod common;
use common::{cpu_seconds, median, peak_rss_mib, percentile};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "First audio, LLM-paced input and the cost of timings")]
struct Args {
    /// Runs per setting of (a) and (c).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Repeats per setting of the LLM-paced paragraph (b).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Pace of (b), tokens per second.
    #[arg(long, default_value_t = 20.0)]
    tokens_per_second: f64,
    /// `first_chunk_max_chars` of the "cut" settings.
    #[arg(long, default_value_t = 60)]
    cut: usize,
    /// Parts to run, any of a, b, c.
    #[arg(long, default_value = "abc")]
    parts: String,
    /// Seed of every request.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// (a): a 40-word first sentence, then two short ones.
const LONG_FIRST: &str = "When the storm passed over the hills on Sunday evening, \
the villagers came out of their homes, gathered in the square beside the old stone \
fountain, and began, slowly and carefully, to clear all the fallen branches from the \
road. The road was open again by noon. Nobody was hurt.";

/// (b): an assistant's answer, sentences of 3 to 26 words; the first is
/// long enough for the clause cut.
const LLM_ANSWER: &str = "Sure, here is an overview of how the water cycle works, \
from the oceans to the clouds and back down to the ground. Water evaporates from \
oceans, lakes and rivers when the sun heats it. The vapor rises. As it climbs higher \
into the cooler air, it condenses into tiny droplets that gather together and form \
the clouds we see drifting across the sky. When the droplets grow heavy enough, they \
fall as rain, snow or hail. Some of that water soaks into the ground. The rest runs \
off into streams and rivers, which carry it back to the sea. Plants also return \
water to the air through their leaves. It is a loop with no real beginning or end. \
Let me know if you would like more detail on any step!";

/// (c): five sentences of everyday prose.
const TIMED_TEXT: &str = "The library opens at nine in the morning and closes at \
six. Visitors can borrow up to ten books at a time. The reading room on the second \
floor is quiet and bright. Children's stories are read aloud every Saturday. Please \
return your books before the end of the month.";

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.runs > 0 && args.repeats > 0,
        "--runs and --repeats: at least 1"
    );
    ensure!(args.tokens_per_second > 0.0, "--tokens-per-second: above 0");
    let words = LONG_FIRST
        .split('.')
        .next()
        .unwrap_or("")
        .split_whitespace();
    ensure!(
        words.count() == 40,
        "the first sentence of (a) must have 40 words"
    );

    let started = Instant::now();
    let engine = Engine::new(EngineConfig::default())?;
    engine.add_voice("default", VoiceSpec::piper_default()?)?;
    let base = RequestOptions::default().use_cache(false).seed(args.seed);
    // Load the model, warm the allocator and the live path.
    engine.synthesize("Warming up the engine, once.", &base)?;
    let mut warm = engine.open_stream(&base)?;
    warm.push_text("Warming up the live path. Once more. ")?;
    warm.finish()?;
    for c in warm {
        c?;
    }
    let cut = base.clone().first_chunk_max_chars(args.cut);
    let mut summary = serde_json::Map::new();
    println!(
        "default Piper voice, CPU, {} threads available; seed {}",
        thread::available_parallelism().map_or(0, |n| n.get()),
        args.seed
    );

    if args.parts.contains('a') {
        summary.insert("first_audio".into(), part_a(&engine, &args, &base, &cut)?);
    }
    if args.parts.contains('b') {
        summary.insert("llm_paced".into(), part_b(&engine, &args, &base, &cut)?);
    }
    if args.parts.contains('c') {
        summary.insert("timings_cost".into(), part_c(&engine, &args, &base)?);
    }
    summary.insert("peak_rss_mib".into(), json!(peak_rss_mib()));
    summary.insert("wall_s".into(), json!(started.elapsed().as_secs_f64()));
    println!("\n{}", serde_json::Value::Object(summary));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One request of (a): request to first chunk and where it went.
struct FirstAudio {
    first_ms: f64,
    model_ms: f64,
    queue_ms: f64,
    total_ms: f64,
    first_text: String,
    first_audio_s: f64,
}

fn first_audio(engine: &Engine, opts: &RequestOptions) -> Result<FirstAudio> {
    let t = Instant::now();
    let mut first = None;
    // Read to the end so that the next request finds the worker idle.
    for chunk in engine.stream(LONG_FIRST, opts)? {
        let c = chunk?;
        if first.is_none() {
            first = Some(FirstAudio {
                first_ms: ms(t.elapsed()),
                model_ms: ms(c.timings.synthesis),
                queue_ms: ms(c.timings.queue_wait),
                total_ms: 0.0,
                first_text: LONG_FIRST[c.text_span.clone()].to_owned(),
                first_audio_s: c.duration().as_secs_f64(),
            });
        }
    }
    let mut f = first.context("no audio")?;
    f.total_ms = ms(t.elapsed());
    Ok(f)
}

fn part_a(
    engine: &Engine,
    args: &Args,
    base: &RequestOptions,
    cut: &RequestOptions,
) -> Result<serde_json::Value> {
    println!(
        "\n(a) first audio, a paragraph whose first sentence has 40 words; \
         medians of {} runs",
        args.runs
    );
    let settings = [("no cut", base), ("cut", cut)];
    let mut runs: [Vec<FirstAudio>; 2] = [Vec::new(), Vec::new()];
    for r in 0..args.runs {
        // alternate the order so that drift falls on both alike
        for k in [r % 2, 1 - r % 2] {
            runs[k].push(first_audio(engine, settings[k].1)?);
        }
    }
    // The model's time includes espeak-ng: timed alone on a second copy of
    // the voice, to tell it from the network's.
    let voice = PiperVoice::load_default()?;
    let phonemize_ms = |text: &str| -> Result<f64> {
        let mut t = Vec::new();
        for _ in 0..20 {
            let s = Instant::now();
            voice.phonemize_words(text)?;
            t.push(ms(s.elapsed()));
        }
        Ok(median(&t))
    };
    println!(
        "| setting | first chunk | its audio (s) | request → first chunk (ms) | \
         model (ms) | of which espeak-ng (ms) | model RTF | queue + rest (ms) | whole paragraph (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut out = Vec::new();
    for (k, (name, _)) in settings.iter().enumerate() {
        let v = &runs[k];
        let m = |f: fn(&FirstAudio) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
        let (first, model, queue, total) = (
            m(|f| f.first_ms),
            m(|f| f.model_ms),
            m(|f| f.queue_ms),
            m(|f| f.total_ms),
        );
        let label = if k == 0 {
            "None".to_owned()
        } else {
            format!("Some({})", args.cut)
        };
        let espeak = phonemize_ms(&v[0].first_text)?;
        println!(
            "| {name} ({label}) | {} chars | {:.2} | {first:.1} | {model:.1} | {espeak:.1} | {:.3} | {:.1} | {total:.0} |",
            v[0].first_text.chars().count(),
            v[0].first_audio_s,
            model / 1e3 / v[0].first_audio_s,
            first - model,
        );
        out.push(json!({
            "setting": name, "first_chunk": v[0].first_text,
            "first_chunk_audio_s": v[0].first_audio_s, "first_ms": first,
            "model_ms": model, "espeak_ms": espeak, "queue_ms": queue, "total_ms": total,
        }));
    }
    let ratio = median(&runs[1].iter().map(|f| f.first_ms).collect::<Vec<_>>())
        / median(&runs[0].iter().map(|f| f.first_ms).collect::<Vec<_>>());
    println!("first chunk (cut): {:?}", runs[1][0].first_text);
    println!("ratio request → first chunk, cut / no cut: {ratio:.3}");
    Ok(json!({ "settings": out, "ratio_cut_over_none": ratio }))
}

/// The text as an LLM streams it: each token a word with the spaces after
/// it (punctuation is part of the word).
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            in_space = true;
        } else if in_space {
            out.push(&text[start..i]);
            start = i;
            in_space = false;
        }
    }
    out.push(&text[start..]);
    out
}

/// The index of the token holding byte `byte` of the text.
fn token_at(toks: &[&str], byte: usize) -> usize {
    let mut end = 0;
    toks.iter()
        .position(|t| {
            end += t.len();
            end > byte
        })
        .unwrap_or(toks.len())
}

/// The engine's split settings for `opts` (as `Engine::open_stream` makes
/// them), for the replay of (b).
fn split_options(engine: &Engine, opts: &RequestOptions) -> SplitOptions {
    let mut split = engine.config().split.clone();
    split.short_first |= opts.short_first_chunk;
    if let Some(n) = opts.first_chunk_max_chars {
        split.short_first = true;
        split.first_max_chars = n;
    }
    split
}

/// For each sentence, the push after which the splitter gives out its
/// first piece (`tokens.len()`: only at `finish`).
fn settle_points(toks: &[&str], sentences: &[Range<usize>], split: SplitOptions) -> Vec<usize> {
    let mut at = vec![usize::MAX; sentences.len()];
    let mut splitter = IncrementalSplitter::new(split);
    let mut mark = |pieces: Vec<ishowtts::text::StreamSentence>, i: usize| {
        for p in pieces {
            for (s, a) in sentences.iter().zip(at.iter_mut()) {
                if *a == usize::MAX && p.span.start < s.end && s.start < p.span.end {
                    *a = i;
                }
            }
        }
    };
    for (i, t) in toks.iter().enumerate() {
        mark(splitter.push(t).expect("text"), i);
    }
    mark(splitter.finish().expect("text"), toks.len());
    at
}

/// One sentence of one run of (b), in ms.
#[derive(Clone, Copy)]
struct SentenceLatency {
    /// Last character pushed → first chunk.
    total: f64,
    /// Last character pushed → the push (or finish) that settles it.
    hold: f64,
    /// Settled → first chunk.
    engine: f64,
    /// Model time of that chunk.
    model: f64,
}

/// One run of (b).
struct LiveRun {
    sentences: Vec<SentenceLatency>,
    first_token_to_audio: f64,
    stalls_ms: f64,
    late_push_ms: f64,
    first_text: String,
}

fn live_run(
    engine: &Engine,
    opts: &RequestOptions,
    toks: &[&str],
    sentences: &[Range<usize>],
    settle: &[usize],
    tps: f64,
) -> Result<LiveRun> {
    let (mut input, audio) = engine.open_stream(opts)?.split();
    let owned: Vec<String> = toks.iter().map(|t| (*t).to_owned()).collect();
    let start = Instant::now() + Duration::from_millis(10);
    let pusher = thread::spawn(move || -> ishowtts::Result<(Vec<Instant>, Instant, f64)> {
        let mut pushed = Vec::with_capacity(owned.len());
        let mut late = 0.0f64;
        for (i, t) in owned.iter().enumerate() {
            // deadlines from one start: sleeps do not add up into drift
            let due = start + Duration::from_secs_f64(i as f64 / tps);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let now = Instant::now();
            late = late.max(ms(now.saturating_duration_since(due)));
            pushed.push(now);
            input.push_text(t)?;
        }
        let finished = Instant::now();
        input.finish()?;
        Ok((pushed, finished, late))
    });
    let mut chunks: Vec<(Instant, Chunk)> = Vec::new();
    for c in audio {
        chunks.push((Instant::now(), c?));
    }
    let (pushed, finished, late_push_ms) = pusher.join().expect("pusher thread")?;
    let at_push = |i: usize| {
        if i < pushed.len() {
            pushed[i]
        } else {
            finished
        }
    };
    let mut out = Vec::new();
    for (s, &settled) in sentences.iter().zip(settle) {
        let last = at_push(token_at(toks, s.end - 1));
        let (arrived, chunk) = chunks
            .iter()
            .find(|(_, c)| c.text_span.start < s.end && s.start < c.text_span.end)
            .context("a sentence without audio")?;
        let settled = at_push(settled);
        out.push(SentenceLatency {
            total: ms(arrived.saturating_duration_since(last)),
            hold: ms(settled.saturating_duration_since(last)),
            engine: ms(arrived.saturating_duration_since(settled)),
            model: ms(chunk.timings.synthesis),
        });
    }
    // A listener who starts playing at the first chunk: silence while a
    // chunk is late.
    let mut stalls = Duration::ZERO;
    let mut play_end = chunks.first().map(|c| c.0).context("no audio")?;
    for (arrived, c) in &chunks {
        let begin = play_end.max(*arrived);
        stalls += begin - play_end;
        play_end = begin + c.duration();
    }
    let first = &chunks[0].1;
    Ok(LiveRun {
        sentences: out,
        first_token_to_audio: ms(chunks[0].0 - pushed[0]),
        stalls_ms: ms(stalls),
        late_push_ms,
        first_text: LLM_ANSWER[first.text_span.clone()].to_owned(),
    })
}

fn part_b(
    engine: &Engine,
    args: &Args,
    base: &RequestOptions,
    cut: &RequestOptions,
) -> Result<serde_json::Value> {
    let toks = tokens(LLM_ANSWER);
    ensure!(toks.concat() == LLM_ANSWER, "tokens must rebuild the text");
    let sentences = split_sentences(LLM_ANSWER, &split_options(engine, base));
    println!(
        "\n(b) {} tokens ({} sentences) pushed at {} tokens/s ({:.1} s of text); \
         {} repeats per setting",
        toks.len(),
        sentences.len(),
        args.tokens_per_second,
        toks.len() as f64 / args.tokens_per_second,
        args.repeats
    );
    let settings = [("no cut", base), ("cut", cut)];
    let mut runs: [Vec<LiveRun>; 2] = [Vec::new(), Vec::new()];
    let mut settles = Vec::new();
    for (_, opts) in &settings {
        settles.push(settle_points(
            &toks,
            &sentences,
            split_options(engine, opts),
        ));
    }
    for r in 0..args.repeats {
        for k in [r % 2, 1 - r % 2] {
            runs[k].push(live_run(
                engine,
                settings[k].1,
                &toks,
                &sentences,
                &settles[k],
                args.tokens_per_second,
            )?);
        }
    }
    println!("per sentence, no cut (medians over repeats, ms):");
    println!(
        "| # | words | settled at | last char → first chunk | splitter hold | \
         engine: behind earlier sentences + model | model |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (j, s) in sentences.iter().enumerate() {
        let col = |f: fn(&SentenceLatency) -> f64| {
            median(
                &runs[0]
                    .iter()
                    .map(|r| f(&r.sentences[j]))
                    .collect::<Vec<_>>(),
            )
        };
        let by = settles[0][j];
        let by = if by == toks.len() {
            "finish".to_owned()
        } else {
            format!("token +{}", by - token_at(&toks, s.end - 1))
        };
        println!(
            "| {} | {} | {by} | {:.0} | {:.0} | {:.0} | {:.0} |",
            j + 1,
            LLM_ANSWER[s.clone()].split_whitespace().count(),
            col(|l| l.total),
            col(|l| l.hold),
            col(|l| l.engine),
            col(|l| l.model),
        );
    }
    println!(
        "\n| setting | last char → first chunk, median / p95 (ms) | splitter hold, median / p95 | \
         engine, median / p95 | first sentence | first token → first audio (ms) | stalls (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut out = Vec::new();
    let mut medians = Vec::new();
    for (k, (name, _)) in settings.iter().enumerate() {
        let all: Vec<SentenceLatency> = runs[k]
            .iter()
            .flat_map(|r| r.sentences.iter().copied())
            .collect();
        let col = |f: fn(&SentenceLatency) -> f64| all.iter().map(f).collect::<Vec<_>>();
        let (total, hold, eng) = (col(|l| l.total), col(|l| l.hold), col(|l| l.engine));
        let first_sentence = median(
            &runs[k]
                .iter()
                .map(|r| r.sentences[0].total)
                .collect::<Vec<_>>(),
        );
        let first_audio = median(
            &runs[k]
                .iter()
                .map(|r| r.first_token_to_audio)
                .collect::<Vec<_>>(),
        );
        let stalls = median(&runs[k].iter().map(|r| r.stalls_ms).collect::<Vec<_>>());
        let late = runs[k].iter().map(|r| r.late_push_ms).fold(0.0, f64::max);
        println!(
            "| {name} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {first_sentence:.0} | {first_audio:.0} | {stalls:.0} |",
            median(&total),
            percentile(&total, 95.0),
            median(&hold),
            percentile(&hold, 95.0),
            median(&eng),
            percentile(&eng, 95.0),
        );
        medians.push((median(&total), first_sentence, first_audio));
        out.push(json!({
            "setting": name, "median_ms": median(&total), "p95_ms": percentile(&total, 95.0),
            "hold_median_ms": median(&hold), "hold_p95_ms": percentile(&hold, 95.0),
            "engine_median_ms": median(&eng), "engine_p95_ms": percentile(&eng, 95.0),
            "first_sentence_ms": first_sentence, "first_token_to_audio_ms": first_audio,
            "stalls_ms": stalls, "latest_push_ms": late, "first_chunk": runs[k][0].first_text,
        }));
        println!(
            "  {name}: first chunk {:?}; latest push {late:.1} ms behind schedule",
            runs[k][0].first_text
        );
    }
    println!(
        "ratios cut / no cut: median {:.3}, first sentence {:.3}, first token → first audio {:.3}",
        medians[1].0 / medians[0].0,
        medians[1].1 / medians[0].1,
        medians[1].2 / medians[0].2
    );
    Ok(json!({ "settings": out, "tokens": toks.len(), "sentences": sentences.len() }))
}

fn part_c(engine: &Engine, args: &Args, base: &RequestOptions) -> Result<serde_json::Value> {
    println!(
        "\n(c) timings' cost: {} sentences through Engine::stream; medians of {} runs",
        split_sentences(TIMED_TEXT, &engine.config().split).len(),
        args.runs
    );
    let settings = [
        ("off", base.clone().word_timings(false)),
        ("words", base.clone().word_timings(true)),
        (
            "words + phonemes",
            base.clone().word_timings(true).phoneme_timings(true),
        ),
    ];
    let mut times = vec![Vec::new(); settings.len()];
    let mut cpu = vec![Vec::new(); settings.len()];
    let mut counts = vec![(0, 0); settings.len()];
    let mut audio = 0.0;
    for r in 0..args.runs {
        // rotate the order so that drift falls on all alike
        for i in 0..settings.len() {
            let k = (i + r) % settings.len();
            let t = Instant::now();
            let c0 = cpu_seconds().context("no /proc/self/stat")?;
            let (mut secs, mut words, mut phonemes) = (0.0, 0, 0);
            for chunk in engine.stream(TIMED_TEXT, &settings[k].1)? {
                let c = chunk?;
                secs += c.duration().as_secs_f64();
                words += c.words.len();
                phonemes += c.phonemes.len();
            }
            times[k].push(t.elapsed().as_secs_f64());
            cpu[k].push(cpu_seconds().context("no /proc/self/stat")? - c0);
            counts[k] = (words, phonemes);
            audio = secs;
        }
    }
    ensure!(
        counts[0] == (0, 0) && counts[1].0 > 0 && counts[2].1 > 0,
        "timings not as asked: {counts:?}"
    );
    println!(
        "| timings | words / phonemes delivered | wall, median (ms) | best (ms) | RTF | \
         ratio to off: paired median | ratio of bests | CPU, median (ms) | CPU ratio to off |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let mut out = Vec::new();
    for (k, (name, _)) in settings.iter().enumerate() {
        let total = median(&times[k]);
        // each run's ratio against the same run's "off": drift cancels
        let paired: Vec<f64> = times[k].iter().zip(&times[0]).map(|(a, b)| a / b).collect();
        let cpu_paired: Vec<f64> = cpu[k].iter().zip(&cpu[0]).map(|(a, b)| a / b).collect();
        println!(
            "| {name} | {} / {} | {:.1} | {:.1} | {:.4} | {:.3} | {:.3} | {:.0} | {:.3} |",
            counts[k].0,
            counts[k].1,
            total * 1e3,
            best(&times[k]) * 1e3,
            total / audio,
            median(&paired),
            best(&times[k]) / best(&times[0]),
            median(&cpu[k]) * 1e3,
            median(&cpu_paired),
        );
        out.push(json!({
            "timings": name, "total_ms": total * 1e3, "best_ms": best(&times[k]) * 1e3,
            "rtf": total / audio, "ratio_to_off": median(&paired),
            "ratio_of_bests": best(&times[k]) / best(&times[0]),
            "cpu_ms": median(&cpu[k]) * 1e3, "cpu_ratio_to_off": median(&cpu_paired),
            "words": counts[k].0, "phonemes": counts[k].1,
        }));
    }
    println!("({audio:.2} s of audio)");
    Ok(json!({ "settings": out, "audio_s": audio }))
}

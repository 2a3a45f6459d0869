//! Soak and fault run (a benchmark, bounded): many concurrent streams for
//! minutes against the default Piper voice, with faults mixed in, checking
//! that the engine neither deadlocks nor loses, repeats or reorders audio,
//! fails only where a failure is expected, and holds its memory and file
//! descriptors flat.
//!
//! ```text
//! cargo run --release --example soak -- --streams 64 --seconds 300
//! ```
//!
//! Each of `--streams` threads loops until the time is up, picking at
//! random: a request read as a stream (most), a live stream fed in random
//! pieces, a request whose callback panics part-way (it must fail with
//! `CallbackFailed`, alone), or a bad request (unknown voice, bad rate,
//! bad speed, text over the limit: each must fail at once with its code).
//! One voice in five requests is a copy of the default voice in a scratch
//! folder. Beside them:
//! - a canceller thread cancels random running requests from outside;
//! - a fault thread, every few seconds, removes that copy's model file,
//!   tries to add a voice from the missing file (must fail), re-registers
//!   the copy's voice (requests already running keep theirs), and restores
//!   the file;
//! - every `--quiet-every` seconds the load pauses until the engine is idle
//!   for longer than its `idle_unload`, so the models unload and then
//!   reload under the returning load (the copy's model may then meet its
//!   file missing: a `ModelLoad` failure, expected for that voice only);
//! - a watchdog fails the run when a thread makes no progress for
//!   `--stall-seconds` (a deadlock), and samples RSS every 5 s.
//!
//! Checked for every request that was not cancelled: its chunks come in
//! order (sentence indexes from 0 up, sample offsets contiguous, text spans
//! in order) and it ends with its last chunk; a cancelled one may stop
//! early but what it delivered obeys the same rules. Prints a JSON summary;
//! exits 1 on any violation, 2 on a stall.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use ishowtts::engine::{
    CancelHandle, Chunk, Engine, EngineConfig, Flow, RequestOptions, StreamStatus, VoiceSpec,
};
use ishowtts::{Error, ErrorCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(about = "Soak and fault run of the engine")]
struct Args {
    /// Concurrent client threads.
    #[arg(long, default_value_t = 64)]
    streams: usize,
    /// How long the load runs.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// A pause in the load (for idle unload) this often, in seconds.
    #[arg(long, default_value_t = 45)]
    quiet_every: u64,
    /// A thread without progress this long is a stall (deadlock).
    #[arg(long, default_value_t = 180)]
    stall_seconds: u64,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scratch folder (the copy of the voice).
    #[arg(long, default_value = "target/soak")]
    scratch: PathBuf,
}

/// Largest text the engine takes in this run (longer is a bad request).
const MAX_TEXT_BYTES: usize = 4096;
const IDLE_UNLOAD: Duration = Duration::from_millis(800);

const WORDS: &[&str] = &[
    "the", "stream", "tonight", "is", "moving", "fast", "and", "everyone", "seems", "happy",
    "with", "new", "round", "thanks", "for", "the", "follow", "welcome", "back", "friends", "that",
    "play", "was", "great", "music", "sounds", "good", "today", "see", "you",
];

fn sentence(rng: &mut StdRng) -> String {
    let n = rng.random_range(3..12);
    let words: Vec<&str> = (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect();
    let mut s = words.join(" ");
    s[..1].make_ascii_uppercase();
    s.push_str([".", "!", "?"][rng.random_range(0..3)]);
    s
}

fn text(rng: &mut StdRng) -> String {
    let n = rng.random_range(1..=4);
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

/// What the run counts.
#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    live: AtomicU64,
    callback_panics: AtomicU64,
    bad_requests: AtomicU64,
    expected_failures: AtomicU64,
    chunks: AtomicU64,
    voice_faults: AtomicU64,
    quiet_pauses: AtomicU64,
}

struct Shared {
    engine: Engine,
    counts: Counts,
    violations: Mutex<Vec<String>>,
    running: Mutex<HashMap<u64, CancelHandle>>,
    next_slot: AtomicU64,
    /// Set while the load pauses.
    quiet: AtomicBool,
    /// Requests in flight (the quiet pause waits for 0).
    in_flight: AtomicUsize,
    /// Per thread: milliseconds since start at its last progress.
    progress: Vec<AtomicU64>,
    start: Instant,
    /// The copy of the voice may be missing now (its failures expected).
    copy_path: PathBuf,
}

impl Shared {
    fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.violations.lock().unwrap().push(what);
    }
    fn tick(&self, thread: usize) {
        self.progress[thread].store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Checks one request's chunks: in order and, unless cancelled, complete.
fn check_chunks(text: &str, chunks: &[Chunk], cancelled: bool) -> Result<(), String> {
    let mut offset = 0u64;
    let mut span_end = 0usize;
    for (i, c) in chunks.iter().enumerate() {
        if c.sentence_index != i {
            return Err(format!("chunk {i} has sentence index {}", c.sentence_index));
        }
        if c.sample_offset != offset {
            return Err(format!(
                "chunk {i} starts at sample {} after {offset}",
                c.sample_offset
            ));
        }
        if c.text_span.start < span_end || c.text_span.end > text.len() {
            return Err(format!("chunk {i} span {:?} out of order", c.text_span));
        }
        if c.is_last && i + 1 != chunks.len() {
            return Err(format!("chunk {i} is last but more followed"));
        }
        offset += c.samples.len() as u64;
        span_end = c.text_span.end;
    }
    if !cancelled && !chunks.last().is_some_and(|c| c.is_last) {
        return Err(format!("{} chunks and no last one", chunks.len()));
    }
    Ok(())
}

/// Whether a failure of a request on `voice` is one the faults explain.
fn expected_failure(e: &Error, voice: &str) -> bool {
    voice == "copy"
        && (matches!(e, Error::ModelLoad { .. }) || e.code() == ErrorCode::VoiceNotFound)
}

fn client(shared: Arc<Shared>, thread: usize, seed: u64, until: Instant) {
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < until {
        if shared.quiet.load(Ordering::SeqCst) {
            shared.tick(thread);
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let roll = rng.random_range(0..100);
        let voice = if rng.random_range(0..5) == 0 {
            "copy"
        } else {
            "main"
        };
        let opts = RequestOptions::default()
            .voice(voice)
            .use_cache(rng.random_range(0..4) == 0)
            .seed(rng.random());
        let t = text(&mut rng);
        match roll {
            0..=69 => stream_request(&shared, thread, &t, &opts, voice),
            70..=79 => live_request(&shared, thread, &t, &opts, voice, &mut rng),
            80..=89 => panicking_callback(&shared, &t, &opts, voice, rng.random_range(0..3)),
            _ => bad_request(&shared, &mut rng),
        }
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        shared.tick(thread);
    }
}

fn stream_request(shared: &Shared, thread: usize, text: &str, opts: &RequestOptions, voice: &str) {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let mut stream = match shared.engine.stream(text, opts) {
        Ok(s) => s,
        Err(e) if expected_failure(&e, voice) || e.code() == ErrorCode::Busy => {
            shared
                .counts
                .expected_failures
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(e) => return shared.violation(format!("stream refused: {e}")),
    };
    let slot = shared.next_slot.fetch_add(1, Ordering::Relaxed);
    shared
        .running
        .lock()
        .unwrap()
        .insert(slot, stream.cancel_handle());
    let mut chunks = Vec::new();
    let mut failed = None;
    for c in stream.by_ref() {
        match c {
            Ok(c) => {
                shared.counts.chunks.fetch_add(1, Ordering::Relaxed);
                shared.tick(thread);
                chunks.push(c);
            }
            Err(e) => failed = Some(e),
        }
    }
    shared.running.lock().unwrap().remove(&slot);
    let cancelled = stream.status() == StreamStatus::Cancelled;
    match failed {
        Some(e) if expected_failure(&e, voice) => {
            shared
                .counts
                .expected_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        Some(e) => shared.violation(format!("stream failed: {e}")),
        None => {
            if let Err(v) = check_chunks(text, &chunks, cancelled) {
                shared.violation(format!("stream of {text:?}: {v}"));
            }
            if cancelled {
                shared.counts.cancelled.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.counts.completed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn live_request(
    shared: &Shared,
    thread: usize,
    text: &str,
    opts: &RequestOptions,
    voice: &str,
    rng: &mut StdRng,
) {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    shared.counts.live.fetch_add(1, Ordering::Relaxed);
    let live = match shared.engine.open_stream(opts) {
        Ok(l) => l,
        Err(e) if expected_failure(&e, voice) || e.code() == ErrorCode::Busy => {
            shared
                .counts
                .expected_failures
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(e) => return shared.violation(format!("live stream refused: {e}")),
    };
    let (mut input, audio) = live.split();
    // The text in random pieces, cut anywhere (inside a character too).
    let bytes = text.as_bytes().to_vec();
    let pieces: Vec<Vec<u8>> = {
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let n = rng.random_range(1..=8).min(bytes.len() - i);
            out.push(bytes[i..i + n].to_vec());
            i += n;
        }
        out
    };
    let pusher = std::thread::spawn(move || -> ishowtts::Result<()> {
        for p in pieces {
            input.push_bytes(&p)?;
        }
        input.finish()
    });
    let mut chunks = Vec::new();
    let mut failed = None;
    for c in audio {
        match c {
            Ok(c) => {
                shared.counts.chunks.fetch_add(1, Ordering::Relaxed);
                shared.tick(thread);
                chunks.push(c);
            }
            Err(e) => failed = Some(e),
        }
    }
    if let Err(e) = pusher.join().expect("pusher thread") {
        if failed.is_none() {
            shared.violation(format!("live push failed: {e}"));
        }
    }
    match failed {
        Some(e) if expected_failure(&e, voice) => {
            shared
                .counts
                .expected_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        Some(e) => shared.violation(format!("live stream failed: {e}")),
        None => {
            if let Err(v) = check_chunks(text, &chunks, false) {
                shared.violation(format!("live stream of {text:?}: {v}"));
            }
            shared.counts.completed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn panicking_callback(shared: &Shared, text: &str, opts: &RequestOptions, voice: &str, at: usize) {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let mut seen = 0;
    let r = shared.engine.synthesize_with(text, opts, |_| {
        if seen == at {
            std::panic::panic_any(CALLBACK_PANIC);
        }
        seen += 1;
        Flow::Continue
    });
    match r {
        Err(e) if e.code() == ErrorCode::CallbackFailed => {
            shared
                .counts
                .callback_panics
                .fetch_add(1, Ordering::Relaxed);
        }
        // fewer chunks than `at`: the callback never panicked
        Ok(s) if s.chunks <= at => {
            shared.counts.completed.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if expected_failure(&e, voice) || e.code() == ErrorCode::Busy => {
            shared
                .counts
                .expected_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => shared.violation(format!("panicking callback: {e}")),
        Ok(s) => shared.violation(format!("panicking callback: went on ({} chunks)", s.chunks)),
    }
}

fn bad_request(shared: &Shared, rng: &mut StdRng) {
    shared.counts.bad_requests.fetch_add(1, Ordering::Relaxed);
    let base = RequestOptions::default().voice("main");
    let (opts, text, code) = match rng.random_range(0..4) {
        0 => (
            RequestOptions::default().voice("nobody"),
            "Hi.".to_owned(),
            ErrorCode::VoiceNotFound,
        ),
        1 => (
            base.sample_rate(12_345),
            "Hi.".to_owned(),
            ErrorCode::InvalidParameter,
        ),
        2 => (
            base.speed(-1.0),
            "Hi.".to_owned(),
            ErrorCode::InvalidParameter,
        ),
        _ => (base, "word ".repeat(MAX_TEXT_BYTES), ErrorCode::TextTooLong),
    };
    match shared.engine.stream(&text, &opts) {
        Err(e) if e.code() == code => {}
        Err(e) => shared.violation(format!("bad request: {e} (wanted {code:?})")),
        Ok(_) => shared.violation(format!("bad request accepted (wanted {code:?})")),
    }
}

fn canceller(shared: Arc<Shared>, seed: u64, until: Instant) {
    let mut rng = StdRng::seed_from_u64(seed);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(rng.random_range(200..1500)));
        let running = shared.running.lock().unwrap();
        if running.is_empty() {
            continue;
        }
        let k = rng.random_range(0..running.len());
        if let Some(h) = running.values().nth(k) {
            h.cancel();
        }
    }
}

fn faults(shared: Arc<Shared>, until: Instant) {
    let path = shared.copy_path.clone();
    let away = path.with_extension("onnx.away");
    while Instant::now() + Duration::from_secs(8) < until {
        std::thread::sleep(Duration::from_secs(5));
        shared.counts.voice_faults.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = std::fs::rename(&path, &away) {
            shared.violation(format!("fault: cannot move the copy away: {e}"));
            continue;
        }
        match VoiceSpec::piper(&path) {
            Err(e) if matches!(e.code(), ErrorCode::VoiceNotFound | ErrorCode::Io) => {}
            Err(e) => shared.violation(format!("missing voice file: {e}")),
            Ok(_) => shared.violation("a missing voice file was accepted".into()),
        }
        std::thread::sleep(Duration::from_secs(2));
        std::fs::rename(&away, &path).expect("restore the copy");
        // re-register while requests on the old registration run
        match VoiceSpec::piper(&path).and_then(|s| shared.engine.add_voice("copy", s)) {
            Ok(_) => {}
            Err(e) => shared.violation(format!("re-adding the copy: {e}")),
        }
    }
}

fn quiet_pauses(shared: Arc<Shared>, every: Duration, until: Instant) {
    while Instant::now() + every < until {
        std::thread::sleep(every);
        shared.quiet.store(true, Ordering::SeqCst);
        let t = Instant::now();
        while shared.in_flight.load(Ordering::SeqCst) > 0 && t.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(IDLE_UNLOAD * 3);
        shared.counts.quiet_pauses.fetch_add(1, Ordering::Relaxed);
        shared.quiet.store(false, Ordering::SeqCst);
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn copy_voice(scratch: &Path) -> Result<PathBuf> {
    let src = ishowtts::paths::default_voice()?;
    std::fs::create_dir_all(scratch)?;
    let dst = scratch.join("copy.onnx");
    std::fs::copy(&src, &dst).context("copying the default voice")?;
    let mut json = src.clone().into_os_string();
    json.push(".json");
    std::fs::copy(&json, scratch.join("copy.onnx.json"))?;
    Ok(dst)
}

/// The message of the callbacks that panic on purpose.
const CALLBACK_PANIC: &str = "soak: a host callback panics";

fn main() -> Result<()> {
    let args = Args::parse();
    // The panics the run makes on purpose are counted, not printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&CALLBACK_PANIC) {
            default_hook(info);
        }
    }));
    let copy_path = copy_voice(&args.scratch)?;
    let engine = Engine::new(EngineConfig {
        idle_unload: Some(IDLE_UNLOAD),
        queue_limit: args.streams * 2 + 8,
        max_text_bytes: MAX_TEXT_BYTES,
        ..EngineConfig::default()
    })?;
    engine.add_voice("main", VoiceSpec::piper_default()?)?;
    engine.add_voice("copy", VoiceSpec::piper(&copy_path)?)?;
    // warm-up: both models loaded once, allocator warm
    for v in ["main", "copy"] {
        engine.synthesize("Warm up.", &RequestOptions::default().voice(v))?;
    }
    let (fds_start, rss_start) = (open_fds(), rss_mib());
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let shared = Arc::new(Shared {
        engine,
        counts: Counts::default(),
        violations: Mutex::new(Vec::new()),
        running: Mutex::new(HashMap::new()),
        next_slot: AtomicU64::new(0),
        quiet: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        progress: (0..args.streams).map(|_| AtomicU64::new(0)).collect(),
        start,
        copy_path,
    });
    let mut threads = Vec::new();
    for i in 0..args.streams {
        let s = shared.clone();
        let seed = args.seed.wrapping_mul(1000).wrapping_add(i as u64);
        threads.push(std::thread::spawn(move || client(s, i, seed, until)));
    }
    let side = [
        {
            let s = shared.clone();
            let seed = args.seed ^ 0xca11;
            std::thread::spawn(move || canceller(s, seed, until))
        },
        {
            let s = shared.clone();
            std::thread::spawn(move || faults(s, until))
        },
        {
            let s = shared.clone();
            let every = Duration::from_secs(args.quiet_every);
            std::thread::spawn(move || quiet_pauses(s, every, until))
        },
    ];
    // watchdog and RSS samples while the load runs
    let mut rss = vec![(0.0, rss_start)];
    let stall = Duration::from_secs(args.stall_seconds);
    while threads.iter().any(|t| !t.is_finished()) {
        std::thread::sleep(Duration::from_secs(5));
        let now_ms = start.elapsed().as_millis() as u64;
        rss.push((start.elapsed().as_secs_f64(), rss_mib()));
        for (i, p) in shared.progress.iter().enumerate() {
            let last = p.load(Ordering::Relaxed);
            if now_ms.saturating_sub(last) > stall.as_millis() as u64 {
                let m = shared.engine.metrics();
                eprintln!(
                    "STALL: thread {i} made no progress for {} s (queue depth {}, in flight {})",
                    (now_ms - last) / 1000,
                    m.queue_depth,
                    shared.in_flight.load(Ordering::SeqCst)
                );
                std::process::exit(2);
            }
        }
    }
    for t in threads.into_iter().chain(side) {
        t.join().expect("no thread panics");
    }
    let elapsed = start.elapsed().as_secs_f64();
    // RSS: the mean of the first and the last minute of samples
    let window = |from: f64, to: f64| {
        let v: Vec<f64> = rss
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, r)| *r)
            .collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let rss_first = window(0.0, 60.0);
    let rss_last = window(elapsed - 60.0, elapsed + 10.0);
    let fds_end = open_fds();
    let m = shared.engine.metrics();
    let c = &shared.counts;
    let violations = shared.violations.lock().unwrap().clone();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let summary = json!({
        "streams": args.streams,
        "seconds": elapsed,
        "requests": load(&c.requests),
        "completed": load(&c.completed),
        "cancelled": load(&c.cancelled),
        "live": load(&c.live),
        "callback_panics": load(&c.callback_panics),
        "bad_requests": load(&c.bad_requests),
        "expected_failures": load(&c.expected_failures),
        "chunks": load(&c.chunks),
        "voice_faults": load(&c.voice_faults),
        "quiet_pauses": load(&c.quiet_pauses),
        "model_loads": m.model_loads,
        "model_unloads": m.model_unloads,
        "model_load_failures": m.model_load_failures,
        "queue_depth_at_end": m.queue_depth,
        "rss_mib": {"start": rss_start, "first_minute": rss_first, "last_minute": rss_last,
                    "growth": rss_last - rss_first,
                    "max": rss.iter().map(|(_, r)| *r).fold(0.0, f64::max),
                    // every 30 s: flat, or still growing?
                    "every_30s": rss.iter().step_by(6).map(|(_, r)| r.round()).collect::<Vec<_>>()},
        "fds": {"start": fds_start, "end": fds_end},
        "violations": violations,
    });
    println!("{summary:#}");
    if !violations.is_empty() || fds_end > fds_start || m.queue_depth != 0 {
        std::process::exit(1);
    }
    Ok(())
}

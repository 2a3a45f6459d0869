//! The engine's scheduling, lifecycle, caches and streams, driven by a test
//! double of a model (so timing and failures are under the test's control;
//! the real Piper backend is covered by `engine_piper.rs`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ishowtts::audio::format::{SampleFormat, Samples};
use ishowtts::audio::join::SentenceGap;
use ishowtts::candle::Device;
use ishowtts::engine::{
    Backend, CacheLimits, Engine, EngineConfig, Flow, ModelLoader, Polled, Reference,
    RequestOptions, SentenceJob, StreamStatus, SynthesisOptions, VoicePrompt, VoiceSpec,
};
use ishowtts::text::language::Language;
use ishowtts::{Error, ErrorCode, Result};

use common::collect;

/// What the test double does and records.
#[derive(Default)]
struct Script {
    /// Sentence synthesis time, spread over `steps` inner steps.
    sentence_time: Duration,
    steps: usize,
    load_time: Duration,
    /// Loads that fail before one succeeds.
    failing_loads: AtomicUsize,
    loads: AtomicUsize,
    prepares: AtomicUsize,
    /// Panic when a sentence contains this word.
    panic_word: Option<&'static str>,
    /// (request tag, sentence text) in the order the model served them.
    served: Mutex<Vec<String>>,
    /// Set while a sentence is inside the model.
    in_model: AtomicBool,
    /// Sentences inside a model now (any worker's copy), and the most seen.
    inside: AtomicUsize,
    most_inside: AtomicUsize,
}

/// A test double of a model: speaks a tone whose length follows the text,
/// in `steps` steps, at 16 kHz.
#[derive(Clone)]
struct TestDoubleLoader {
    key: &'static str,
    clones: bool,
    script: Arc<Script>,
}

impl std::fmt::Debug for TestDoubleLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestDoubleLoader({})", self.key)
    }
}

impl ModelLoader for TestDoubleLoader {
    fn key(&self) -> String {
        self.key.to_owned()
    }
    fn language(&self) -> Language {
        Language::English
    }
    fn num_speakers(&self) -> usize {
        2
    }
    fn clones_voices(&self) -> bool {
        self.clones
    }
    fn check_options(&self, o: &SynthesisOptions) -> Result<()> {
        match o.speed {
            Some(s) if !(s.is_finite() && s > 0.0) => Err(Error::InvalidParameter {
                name: "speed",
                value: s.to_string(),
                reason: "must be positive",
            }),
            _ => Ok(()),
        }
    }
    fn load(&self, _device: &Device) -> Result<Box<dyn Backend>> {
        thread::sleep(self.script.load_time);
        let failing = &self.script.failing_loads;
        if failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::VoiceNotFound("test double: load failure".into()));
        }
        self.script.loads.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(TestDoubleModel {
            script: self.script.clone(),
        }))
    }
}

struct TestDoubleModel {
    script: Arc<Script>,
}

impl Backend for TestDoubleModel {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn prepare_voice(&mut self, reference: &Reference) -> Result<VoicePrompt> {
        self.script.prepares.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(reference.text.len()))
    }
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let s = &self.script;
        if let Some(w) = s.panic_word {
            if job.text.contains(w) {
                panic!("test double asked to panic");
            }
        }
        s.served.lock().unwrap().push(job.text.to_owned());
        s.in_model.store(true, Ordering::SeqCst);
        let now = s.inside.fetch_add(1, Ordering::SeqCst) + 1;
        s.most_inside.fetch_max(now, Ordering::SeqCst);
        let _leave = LeaveModel(&s.inside);
        let steps = s.steps.max(1);
        for _ in 0..steps {
            if job.cancelled() {
                s.in_model.store(false, Ordering::SeqCst);
                return Err(Error::Cancelled);
            }
            thread::sleep(s.sentence_time / steps as u32);
        }
        s.in_model.store(false, Ordering::SeqCst);
        let n = 160 * job.text.len();
        let f = 200.0 + 100.0 * job.options.speed.unwrap_or(1.0);
        let phase = job.prompt.and_then(|p| p.downcast_ref::<usize>()).copied();
        Ok((0..n)
            .map(|i| {
                0.5 * (2.0 * std::f32::consts::PI * f * i as f32 / 16_000.0
                    + phase.unwrap_or(0) as f32)
                    .sin()
            })
            .collect())
    }
}

/// Counts a sentence out of the model however `synthesize` returns.
struct LeaveModel<'a>(&'a AtomicUsize);

impl Drop for LeaveModel<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn script(sentence_ms: u64) -> Arc<Script> {
    Arc::new(Script {
        sentence_time: Duration::from_millis(sentence_ms),
        steps: 4,
        ..Default::default()
    })
}

fn engine_with(config: EngineConfig, script: &Arc<Script>) -> Engine {
    let engine = Engine::new(config).unwrap();
    let loader = TestDoubleLoader {
        key: "double",
        clones: false,
        script: script.clone(),
    };
    engine
        .add_voice("double", VoiceSpec::new(Arc::new(loader)))
        .unwrap();
    engine
}

fn no_cache() -> EngineConfig {
    EngineConfig {
        output_cache: CacheLimits::DISABLED,
        ..Default::default()
    }
}

const WORDS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// `n` sentences, tagged so the served log tells requests apart (words,
/// not digits, so normalization leaves them as they are).
fn text(tag: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("Request {tag} says sentence {}.", WORDS[i]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// (tag, sentence index) of a served sentence made by [`text`].
fn parse_served(t: &str) -> Option<(String, usize)> {
    let rest = t.strip_prefix("Request ")?;
    let (tag, rest) = rest.split_once(' ')?;
    let word = rest.strip_prefix("says sentence ")?.trim_end_matches('.');
    Some((tag.to_owned(), WORDS.iter().position(|w| *w == word)?))
}

#[test]
fn chunks_are_ordered_contiguous_and_spanned() {
    let s = script(1);
    let engine = engine_with(no_cache(), &s);
    let t = text("A", 5);
    let chunks = collect(&engine, &t, &RequestOptions::default());
    assert_eq!(chunks.len(), 5);
    let mut offset = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.sentence_index, i);
        assert_eq!(c.sample_offset, offset);
        assert_eq!(c.sample_rate, 16_000);
        assert_eq!(c.is_last, i == 4);
        assert_eq!(
            &t[c.text_span.clone()],
            format!("Request A says sentence {}.", WORDS[i])
        );
        assert_eq!(c.request_id, chunks[0].request_id);
        assert!(!c.timings.from_cache);
        offset += c.samples.len() as u64;
    }
}

#[test]
fn four_streams_are_served_round_robin() {
    let s = script(15);
    let engine = Arc::new(engine_with(no_cache(), &s));
    // Hold the worker on a first request so all four are queued together.
    let opener = engine
        .stream("Warm up.", &RequestOptions::default())
        .unwrap();
    let streams: Vec<_> = ["A", "B", "C", "D"]
        .iter()
        .map(|tag| {
            engine
                .stream(&text(tag, 4), &RequestOptions::default())
                .unwrap()
        })
        .collect();
    // Read every stream on its own thread, recording arrival order.
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let readers: Vec<_> = streams
        .into_iter()
        .zip(["A", "B", "C", "D"])
        .map(|(stream, tag)| {
            let arrivals = arrivals.clone();
            thread::spawn(move || {
                for chunk in stream {
                    let chunk = chunk.unwrap();
                    arrivals.lock().unwrap().push((tag, chunk.sentence_index));
                }
            })
        })
        .collect();
    drop(opener);
    for r in readers {
        r.join().unwrap();
    }
    let served = s.served.lock().unwrap().clone();
    let order: Vec<(String, usize)> = served.iter().filter_map(|t| parse_served(t)).collect();
    // Every stream's first sentence before any stream's third.
    let first_of_each = ["A", "B", "C", "D"]
        .map(|tag| order.iter().position(|(t, i)| t == tag && *i == 0).unwrap());
    let first_third = order.iter().position(|&(_, i)| i == 2).unwrap();
    assert!(
        first_of_each.iter().all(|&p| p < first_third),
        "served order {order:?}"
    );
    let arrivals = arrivals.lock().unwrap().clone();
    let first_chunks: Vec<usize> = ["A", "B", "C", "D"]
        .iter()
        .map(|tag| {
            arrivals
                .iter()
                .position(|&(t, i)| t == *tag && i == 0)
                .unwrap()
        })
        .collect();
    let third = arrivals.iter().position(|&(_, i)| i == 2).unwrap();
    assert!(first_chunks.iter().all(|&p| p < third), "{arrivals:?}");
}

#[test]
fn the_running_request_counts_against_the_limit() {
    let s = script(50);
    let engine = engine_with(
        EngineConfig {
            queue_limit: 1,
            ..no_cache()
        },
        &s,
    );
    let mut a = engine
        .stream(&text("A", 3), &RequestOptions::default())
        .unwrap();
    // Wait until the worker holds `a` (out of the queue, inside the model).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !s.in_model.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(s.in_model.load(Ordering::SeqCst));
    let err = engine.stream("B.", &RequestOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Busy {
                pending: 1,
                limit: 1
            }
        ),
        "{err}"
    );
    // Once `a` is read to its end, its slot is free again.
    assert_eq!(a.by_ref().count(), 3);
    let b = engine.stream("B.", &RequestOptions::default()).unwrap();
    assert_eq!(b.count(), 1);
}

#[test]
fn a_full_queue_fails_fast_with_busy() {
    let s = script(50);
    let engine = engine_with(
        EngineConfig {
            queue_limit: 2,
            ..no_cache()
        },
        &s,
    );
    let a = engine
        .stream(&text("A", 3), &RequestOptions::default())
        .unwrap();
    let b = engine
        .stream(&text("B", 3), &RequestOptions::default())
        .unwrap();
    let t = Instant::now();
    let err = engine
        .stream(&text("C", 3), &RequestOptions::default())
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(40), "must not wait");
    assert!(matches!(err, Error::Busy { limit: 2, .. }), "{err}");
    assert_eq!(err.code(), ErrorCode::Busy);
    assert_eq!(engine.metrics().rejected_busy, 1);
    drop((a, b));
    // Once the queue drains, requests are accepted again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match engine.stream("Again.", &RequestOptions::default()) {
            Ok(s) => {
                assert_eq!(s.count(), 1);
                break;
            }
            Err(Error::Busy { .. }) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn concurrent_first_requests_load_the_model_once() {
    let s = Arc::new(Script {
        load_time: Duration::from_millis(100),
        ..Default::default()
    });
    let engine = Arc::new(engine_with(no_cache(), &s));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            thread::spawn(move || {
                collect(&engine, &text(&i.to_string(), 1), &Default::default()).len()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 1);
    }
    assert_eq!(s.loads.load(Ordering::SeqCst), 1);
    let m = engine.metrics();
    assert_eq!((m.model_loads, m.models_loaded), (1, 1));
}

#[test]
fn several_workers_serve_streams_at_once_each_in_order() {
    let s = script(30);
    let engine = Arc::new(engine_with(
        EngineConfig {
            workers: 2,
            ..no_cache()
        },
        &s,
    ));
    let threads: Vec<_> = ["A", "B", "C", "D"]
        .into_iter()
        .map(|tag| {
            let engine = engine.clone();
            thread::spawn(move || {
                let t = text(tag, 4);
                let chunks = collect(&engine, &t, &Default::default());
                (t, chunks)
            })
        })
        .collect();
    for t in threads {
        let (t, chunks) = t.join().unwrap();
        assert_eq!(chunks.len(), 4);
        let mut offset = 0;
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!((c.sentence_index, c.sample_offset), (i, offset));
            assert_eq!(
                &t[c.text_span.clone()],
                format!("Request {} says sentence {}.", &t[8..9], WORDS[i])
            );
            offset += c.samples.len() as u64;
        }
        assert!(chunks[3].is_last);
    }
    // two copies of the model, both working at once
    assert_eq!(s.loads.load(Ordering::SeqCst), 2);
    assert_eq!(s.most_inside.load(Ordering::SeqCst), 2);
    let m = engine.metrics();
    assert_eq!((m.model_loads, m.models_loaded, m.completed), (2, 2, 4));
    // a removed voice's model leaves both workers
    engine.remove_voice("double").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.metrics().models_loaded > 0 {
        assert!(Instant::now() < deadline, "a worker kept the model");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(engine.metrics().model_unloads, 2);
}

#[test]
fn worker_counts_out_of_range_are_refused() {
    for workers in [0, ishowtts::engine::MAX_WORKERS + 1] {
        let Err(err) = Engine::new(EngineConfig {
            workers,
            ..Default::default()
        }) else {
            panic!("{workers} workers accepted");
        };
        assert_eq!(err.code(), ErrorCode::InvalidParameter, "{workers}: {err}");
        assert!(err.to_string().contains("workers"), "{err}");
    }
}

#[test]
fn a_failed_load_fails_its_waiters_and_the_next_request_retries() {
    let s = Arc::new(Script {
        load_time: Duration::from_millis(50),
        failing_loads: AtomicUsize::new(1),
        ..Default::default()
    });
    let engine = engine_with(no_cache(), &s);
    let streams: Vec<_> = (0..3)
        .map(|i| {
            engine
                .stream(&text(&i.to_string(), 2), &Default::default())
                .unwrap()
        })
        .collect();
    for mut stream in streams {
        let err = stream.next().unwrap().unwrap_err();
        assert!(matches!(err, Error::ModelLoad { .. }), "{err}");
        assert!(
            err.to_string().contains("test double: load failure"),
            "{err}"
        );
        assert_eq!(err.code(), ErrorCode::VoiceNotFound, "the cause's code");
        assert!(stream.next().is_none());
        assert_eq!(stream.status(), StreamStatus::Failed);
    }
    assert_eq!(
        collect(&engine, "Retry works.", &Default::default()).len(),
        1
    );
    let m = engine.metrics();
    assert_eq!((m.model_load_failures, m.model_loads), (1, 1));
    assert_eq!(m.failed, 3);
}

#[test]
fn idle_models_unload_but_never_mid_stream() {
    let s = script(20);
    let engine = engine_with(
        EngineConfig {
            idle_unload: Some(Duration::from_millis(60)),
            ..no_cache()
        },
        &s,
    );
    // A slow reader: the worker waits on it for longer than the idle
    // timeout between chunks, yet the model must stay loaded.
    // The worker runs at most a few chunks ahead of the reader, so until
    // the last few the request is still in the scheduler.
    let mut n = 0;
    for chunk in engine
        .stream(&text("slow", 12), &Default::default())
        .unwrap()
    {
        chunk.unwrap();
        n += 1;
        if n + 6 <= 12 {
            assert_eq!(
                engine.metrics().model_unloads,
                0,
                "unloaded mid-stream at {n}"
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(n, 12);
    assert_eq!(s.loads.load(Ordering::SeqCst), 1);
    // Idle now: it unloads, and the next request loads it again.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.metrics().model_unloads == 0 {
        assert!(Instant::now() < deadline, "model never unloaded");
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(engine.metrics().models_loaded, 0);
    assert_eq!(
        collect(&engine, "Back again.", &Default::default()).len(),
        1
    );
    assert_eq!(s.loads.load(Ordering::SeqCst), 2);
}

#[test]
fn cancel_from_another_thread_stops_inside_a_sentence() {
    let s = Arc::new(Script {
        sentence_time: Duration::from_millis(400),
        steps: 40,
        ..Default::default()
    });
    let engine = engine_with(no_cache(), &s);
    let mut stream = engine.stream(&text("X", 3), &Default::default()).unwrap();
    let handle = stream.cancel_handle();
    let started = Instant::now();
    let canceller = thread::spawn({
        let s = s.clone();
        move || {
            while !s.in_model.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
            thread::sleep(Duration::from_millis(30));
            handle.cancel();
        }
    });
    assert!(stream.next().is_none(), "no chunk: cancelled in sentence 0");
    canceller.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "stopped between steps, not after the sentence"
    );
    assert_eq!(stream.status(), StreamStatus::Cancelled);
    assert_eq!(engine.metrics().cancelled, 1);
    assert_eq!(
        collect(&engine, "Still works.", &Default::default()).len(),
        1
    );
}

#[test]
fn stopping_from_the_callback_keeps_what_was_delivered() {
    let s = script(5);
    let engine = engine_with(no_cache(), &s);
    let mut seen = Vec::new();
    let summary = engine
        .synthesize_with(&text("S", 6), &Default::default(), |c| {
            seen.push(c.sentence_index);
            if c.sentence_index == 1 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
    assert_eq!(seen, vec![0, 1]);
    assert!(summary.cancelled);
    assert_eq!(summary.chunks, 2);
    // The worker stops within a sentence or two, not after all six.
    thread::sleep(Duration::from_millis(60));
    assert!(s.served.lock().unwrap().len() <= 4);
}

#[test]
fn a_panicking_callback_is_an_error_and_the_engine_goes_on() {
    let s = script(1);
    let engine = engine_with(no_cache(), &s);
    let err = engine
        .synthesize_with(&text("P", 3), &Default::default(), |_| panic!("host bug"))
        .unwrap_err();
    assert!(
        matches!(err, Error::CallbackFailed(ref m) if m.contains("host bug")),
        "{err}"
    );
    assert_eq!(collect(&engine, "Fine.", &Default::default()).len(), 1);
}

#[test]
fn a_panicking_model_fails_only_its_request() {
    let s = Arc::new(Script {
        panic_word: Some("explode"),
        ..Default::default()
    });
    let engine = engine_with(no_cache(), &s);
    let mut stream = engine
        .stream(
            "Fine first. Now explode here. Never said.",
            &Default::default(),
        )
        .unwrap();
    assert!(stream.next().unwrap().is_ok());
    let err = stream.next().unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal, "{err}");
    assert!(stream.next().is_none());
    assert_eq!(
        collect(&engine, "Recovered fine.", &Default::default()).len(),
        1
    );
    assert_eq!(
        s.loads.load(Ordering::SeqCst),
        2,
        "reloaded after the panic"
    );
}

#[test]
fn wav_files_fail_fast_and_leave_nothing_when_nothing_was_spoken() {
    // an unwritable path fails when the file is created, not after the
    // first sentence (3 s each here)
    let s = script(3000);
    let engine = engine_with(no_cache(), &s);
    let start = std::time::Instant::now();
    let bad = std::path::Path::new("/nonexistent-dir/ishowtts/out.wav");
    let err = engine
        .synthesize_to_wav("One sentence. Two sentences.", &Default::default(), bad)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert!(
        err.to_string()
            .contains("/nonexistent-dir/ishowtts/out.wav"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );

    // a request that fails before its first chunk removes the file
    let s = Arc::new(Script {
        panic_word: Some("explode"),
        ..Default::default()
    });
    let engine = engine_with(no_cache(), &s);
    let path = std::env::temp_dir().join(format!("ishowtts-wav-{}.wav", std::process::id()));
    let err = engine
        .synthesize_to_wav("Now explode.", &Default::default(), &path)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Internal, "{err}");
    assert!(!path.exists());
    // and the next one writes it
    let summary = engine
        .synthesize_to_wav("Fine again.", &Default::default(), &path)
        .unwrap();
    assert_eq!(summary.chunks, 1);
    assert!(std::fs::metadata(&path).unwrap().len() > 44);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_stalled_reader_does_not_block_others() {
    let s = script(2);
    let engine = engine_with(no_cache(), &s);
    let stalled = engine.stream(&text("Z", 20), &Default::default()).unwrap();
    thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    assert_eq!(
        collect(&engine, &text("Y", 3), &Default::default()).len(),
        3
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // The stalled one was parked after a few chunks, not synthesized ahead.
    let served_z = s
        .served
        .lock()
        .unwrap()
        .iter()
        .filter(|t| t.contains(" Z "))
        .count();
    assert!(
        served_z <= 6,
        "{served_z} sentences synthesized for a reader that reads none"
    );
    drop(stalled);
}

#[test]
fn cache_hits_replay_the_same_chunks() {
    let s = script(5);
    let engine = engine_with(EngineConfig::default(), &s);
    let t = text("C", 3);
    let opts = RequestOptions::default().seed(7);
    let first = collect(&engine, &t, &opts);
    let served = s.served.lock().unwrap().len();
    let second = collect(&engine, &t, &opts);
    assert_eq!(s.served.lock().unwrap().len(), served, "no model call");
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert!(b.timings.from_cache);
        assert_ne!(a.request_id, b.request_id);
        assert_eq!(
            (
                a.sentence_index,
                &a.text_span,
                a.sample_offset,
                a.is_last,
                &a.samples
            ),
            (
                b.sentence_index,
                &b.text_span,
                b.sample_offset,
                b.is_last,
                &b.samples
            )
        );
    }
    // Different whitespace, same words: same entry, spans of the new text.
    let spaced = t.replace(". ", ".   ");
    let third = collect(&engine, &spaced, &opts);
    assert!(third[0].timings.from_cache);
    assert_eq!(
        &spaced[third[2].text_span.clone()],
        "Request C says sentence two."
    );
    let m = engine.metrics();
    assert_eq!((m.output_cache.hits, m.output_cache.misses), (2, 1));
    assert_eq!(m.output_cache.entries, 1);
    // Any parameter change misses; so does a new version of the voice.
    collect(&engine, &t, &opts.clone().speed(1.5));
    collect(&engine, &t, &opts.clone().format(SampleFormat::I16));
    collect(&engine, &t, &opts.clone().use_cache(false));
    assert_eq!(engine.metrics().output_cache.misses, 3);
    let loader = TestDoubleLoader {
        key: "double",
        clones: false,
        script: s.clone(),
    };
    assert_eq!(
        engine
            .add_voice("double", VoiceSpec::new(Arc::new(loader)))
            .unwrap(),
        2
    );
    assert!(!collect(&engine, &t, &opts)[0].timings.from_cache);
}

#[test]
fn cloned_voices_share_prepared_prompts_by_content() {
    let s = script(1);
    let engine = Engine::new(no_cache()).unwrap();
    let loader = Arc::new(TestDoubleLoader {
        key: "cloner",
        clones: true,
        script: s.clone(),
    });
    let reference = Reference {
        audio: vec![1u8, 2, 3, 4].into(),
        text: "reference words".into(),
    };
    let spec = VoiceSpec::new(loader.clone()).with_reference(reference.clone());
    engine.add_voice("a", spec.clone()).unwrap();
    engine.add_voice("b", spec).unwrap();
    collect(&engine, "One.", &RequestOptions::default().voice("a"));
    collect(&engine, "Two.", &RequestOptions::default().voice("b"));
    assert_eq!(s.prepares.load(Ordering::SeqCst), 1);
    let m = engine.metrics();
    assert_eq!((m.prompt_cache.hits, m.prompt_cache.misses), (1, 1));
    // A new recording is a new prompt.
    let other = Reference {
        audio: vec![9u8; 8].into(),
        ..reference
    };
    engine
        .add_voice("a", VoiceSpec::new(loader.clone()).with_reference(other))
        .unwrap();
    collect(&engine, "Three.", &RequestOptions::default().voice("a"));
    assert_eq!(s.prepares.load(Ordering::SeqCst), 2);
    // Cloning models need a reference; others refuse one.
    let err = engine.add_voice("c", VoiceSpec::new(loader)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReferenceAudio);
}

#[test]
fn bad_requests_get_specific_errors_and_the_engine_goes_on() {
    let s = script(1);
    let engine = engine_with(
        EngineConfig {
            max_text_bytes: 1000,
            ..no_cache()
        },
        &s,
    );
    let cases: Vec<(&str, RequestOptions, ErrorCode)> = vec![
        ("", RequestOptions::default(), ErrorCode::EmptyText),
        (" \n\t ", RequestOptions::default(), ErrorCode::EmptyText),
        (
            "\u{7}\u{0}\u{1b}",
            RequestOptions::default(),
            ErrorCode::EmptyText,
        ),
        (
            "😀🎉 !!! ...",
            RequestOptions::default(),
            ErrorCode::NothingToSpeak,
        ),
        (
            "Hi.",
            RequestOptions::default().voice("nobody"),
            ErrorCode::VoiceNotFound,
        ),
        (
            "Hi.",
            RequestOptions::default().speed(f32::NAN),
            ErrorCode::InvalidParameter,
        ),
        (
            "Hi.",
            RequestOptions::default().speed(-1.0),
            ErrorCode::InvalidParameter,
        ),
        (
            "Hi.",
            RequestOptions::default().speaker(2),
            ErrorCode::SpeakerOutOfRange,
        ),
        (
            "Hi.",
            RequestOptions::default().speaker(-1),
            ErrorCode::SpeakerOutOfRange,
        ),
        (
            "Hi.",
            RequestOptions::default().sample_rate(11025),
            ErrorCode::InvalidParameter,
        ),
        (
            "Hi.",
            RequestOptions::default().gap(SentenceGap::Crossfade(Duration::from_secs(5))),
            ErrorCode::InvalidParameter,
        ),
    ];
    for (text, opts, code) in cases {
        let err = engine.stream(text, &opts).unwrap_err();
        assert_eq!(err.code(), code, "{text:?} {opts:?}: {err}");
        assert!(!err.to_string().is_empty());
        assert_eq!(
            collect(&engine, "Still fine.", &Default::default()).len(),
            1
        );
    }
    let long = "word ".repeat(300);
    assert_eq!(
        engine
            .stream(&long, &Default::default())
            .unwrap_err()
            .code(),
        ErrorCode::TextTooLong
    );
    // Control characters and emoji inside real text are dropped, not errors.
    let chunks = collect(&engine, "Hello\u{7} there 😀 friend.", &Default::default());
    assert_eq!(chunks.len(), 1);
    assert!(!s.served.lock().unwrap().last().unwrap().contains('\u{7}'));
}

#[test]
fn output_format_and_rate_follow_the_request() {
    let s = script(1);
    let engine = engine_with(no_cache(), &s);
    let t = text("F", 3);
    let base = collect(&engine, &t, &RequestOptions::default());
    let n16: usize = base.iter().map(|c| c.samples.len()).sum();
    let opts = RequestOptions::default()
        .sample_rate(48_000)
        .format(SampleFormat::I16);
    let up = collect(&engine, &t, &opts);
    let n48: usize = up.iter().map(|c| c.samples.len()).sum();
    assert!(
        (n48 as i64 - 3 * n16 as i64).abs() <= 2,
        "{n48} vs 3 x {n16}"
    );
    assert!(up
        .iter()
        .all(|c| matches!(c.samples, Samples::I16(_)) && c.sample_rate == 48_000));
    let mut offset = 0;
    for c in &up {
        assert_eq!(c.sample_offset, offset);
        offset += c.samples.len() as u64;
    }
    let gap = RequestOptions::default().gap(SentenceGap::Silence(Duration::from_millis(100)));
    let spaced: usize = collect(&engine, &t, &gap)
        .iter()
        .map(|c| c.samples.len())
        .sum();
    assert_eq!(spaced, n16 + 2 * 1600);
    let audio = engine.synthesize(&t, &RequestOptions::default()).unwrap();
    assert_eq!(
        (audio.samples.len(), audio.chunks, audio.sample_rate),
        (n16, 3, 16_000)
    );
}

#[test]
fn voices_can_be_listed_replaced_and_removed() {
    let s = script(1);
    let engine = engine_with(no_cache(), &s);
    let v = engine.voices();
    assert_eq!(v.len(), 1);
    assert!(v[0].is_default && v[0].version == 1 && v[0].model == "double");
    engine.remove_voice("double").unwrap();
    assert_eq!(
        engine.remove_voice("double").unwrap_err().code(),
        ErrorCode::VoiceNotFound
    );
    let err = engine.stream("Hi.", &Default::default()).unwrap_err();
    assert!(err.to_string().contains("no default voice"), "{err}");
    let loader = TestDoubleLoader {
        key: "double",
        clones: false,
        script: s.clone(),
    };
    // Versions keep counting after removal.
    assert_eq!(
        engine
            .add_voice("double", VoiceSpec::new(Arc::new(loader)))
            .unwrap(),
        2
    );
    assert_eq!(
        engine
            .add_voice(
                "",
                VoiceSpec::new(Arc::new(TestDoubleLoader {
                    key: "x",
                    clones: false,
                    script: s.clone(),
                }))
            )
            .unwrap_err()
            .code(),
        ErrorCode::InvalidParameter
    );
}

#[test]
fn dropping_the_engine_ends_open_streams() {
    let s = script(30);
    let engine = engine_with(no_cache(), &s);
    let mut stream = engine.stream(&text("E", 10), &Default::default()).unwrap();
    assert!(matches!(stream.poll_chunk(None), Ok(Polled::Chunk(_))));
    drop(engine);
    let rest: Vec<_> = stream.by_ref().collect();
    assert!(rest.len() <= 5);
    assert!(
        matches!(rest.last(), Some(Err(Error::EngineClosed))) || rest.iter().all(|r| r.is_ok())
    );
    assert_ne!(stream.status(), StreamStatus::Running);
}

#[test]
fn poll_with_timeout_reports_pending() {
    let s = script(200);
    let engine = engine_with(no_cache(), &s);
    let mut stream = engine.stream("Slow one.", &Default::default()).unwrap();
    assert!(matches!(
        stream.poll_chunk(Some(Duration::from_millis(10))),
        Ok(Polled::Pending)
    ));
    assert!(matches!(stream.poll_chunk(None), Ok(Polled::Chunk(c)) if c.is_last));
    assert!(matches!(stream.poll_chunk(None), Ok(Polled::Done)));
    assert_eq!(stream.status(), StreamStatus::Finished);
}

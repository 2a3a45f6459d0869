//! Cross-stream batching in the scheduler: the current sentences of several
//! streams advance together, one model call per step, and each stream hears
//! what it would hear alone.
//!
//! A stepped test double (deterministic audio, failures and timing under
//! the test's control) covers the scheduling: equality with batching off,
//! retries after a failed batch, a failure or a cancel that ends one
//! stream only, a stalled reader, the batching window, the settings. The
//! real F5-TTS backend (the tiny random-weight model of the parity
//! fixtures) covers the numerics: batched audio equals unbatched within
//! 1e-5 relative with each stream at its own step count and guidance.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ishowtts::candle::Device;
use ishowtts::engine::{
    Backend, Engine, EngineConfig, ModelLoader, Reference, RequestOptions, SentenceInProgress,
    SentenceJob, SynthesisOptions, VoiceSpec,
};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use ishowtts::text::language::Language;
use ishowtts::{Error, ErrorCode, Result};
use rand::Rng;

/// What the stepped test double does and records.
#[derive(Default)]
struct Script {
    /// Sleep per step (the whole batch's).
    step_time: Duration,
    /// A step of more sentences than this fails as a whole (like running
    /// out of device memory).
    fails_above: Option<usize>,
    /// A sentence containing this word fails at its second step, alone.
    poison: Option<&'static str>,
    /// Sizes of the steps that ran.
    batch_sizes: Mutex<Vec<usize>>,
    failed_steps: AtomicUsize,
}

#[derive(Clone)]
struct SteppedDoubleLoader(Arc<Script>);

impl std::fmt::Debug for SteppedDoubleLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SteppedDoubleLoader")
    }
}

impl ModelLoader for SteppedDoubleLoader {
    fn key(&self) -> String {
        "stepped-double".into()
    }
    fn language(&self) -> Language {
        Language::English
    }
    fn check_options(&self, _: &SynthesisOptions) -> Result<()> {
        Ok(())
    }
    fn load(&self, _: &Device) -> Result<Box<dyn Backend>> {
        Ok(Box::new(SteppedDouble(self.0.clone())))
    }
}

/// A test double of a stepped model: a sentence takes `3 + len % 4` steps,
/// each adding 100 samples that depend on the text, the step and a draw
/// from the request's generator, so any mix-up between streams shows.
struct SteppedDouble(Arc<Script>);

struct DoubleSentence {
    text: String,
    seed: u32,
    steps: usize,
    done: usize,
    audio: Vec<f32>,
}

impl Backend for SteppedDouble {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let mut s = self.begin(job)?;
        while !s.is_done() {
            if let Some(Err(e)) = self.step(&mut [&mut s])?.pop() {
                return Err(e);
            }
        }
        self.finish(s)
    }
    fn steps_in_batches(&self) -> bool {
        true
    }
    fn begin(&mut self, job: &mut SentenceJob<'_>) -> Result<SentenceInProgress> {
        let steps = 3 + job.text.len() % 4;
        let s = DoubleSentence {
            text: job.text.to_owned(),
            seed: job.rng.random(),
            steps,
            done: 0,
            audio: Vec::new(),
        };
        Ok(SentenceInProgress::new(s, steps))
    }
    fn step(&mut self, batch: &mut [&mut SentenceInProgress]) -> Result<Vec<Result<()>>> {
        let script = &self.0;
        thread::sleep(script.step_time);
        if script.fails_above.is_some_and(|n| batch.len() > n) {
            script.failed_steps.fetch_add(1, Ordering::SeqCst);
            return Err(Error::Internal("test double: out of device memory".into()));
        }
        script.batch_sizes.lock().unwrap().push(batch.len());
        Ok(batch
            .iter_mut()
            .map(|s| {
                let d = s.state_mut::<DoubleSentence>().expect("a double sentence");
                if d.done == 1 && script.poison.is_some_and(|w| d.text.contains(w)) {
                    return Err(Error::InvalidArgument("test double: poisoned".into()));
                }
                let base = d.text.bytes().map(u32::from).sum::<u32>() ^ d.seed;
                let step = d.done as f32;
                d.audio.extend(
                    (0..100).map(|i| ((base % 997) as f32 + step * 0.37 + i as f32 * 0.01).sin()),
                );
                d.done += 1;
                let left = d.steps - d.done;
                s.set_steps_left(left);
                Ok(())
            })
            .collect())
    }
    fn finish(&mut self, s: SentenceInProgress) -> Result<Vec<f32>> {
        Ok(s.into_state::<DoubleSentence>()
            .expect("a double sentence")
            .audio)
    }
}

fn double_engine(max_batch: usize, window: Duration, script: &Arc<Script>) -> Engine {
    let engine = Engine::new(EngineConfig {
        max_batch,
        batch_window: window,
        ..EngineConfig::default()
    })
    .unwrap();
    engine
        .add_voice(
            "double",
            VoiceSpec::new(Arc::new(SteppedDoubleLoader(script.clone()))),
        )
        .unwrap();
    engine
}

fn seeded(seed: u64) -> RequestOptions {
    RequestOptions::default().use_cache(false).seed(seed)
}

const TEXTS: [&str; 6] = [
    "One. Two words. Three words here.",
    "A longer first sentence for this stream. Short.",
    "Hello there. General greeting. Bye.",
    "Single sentence only.",
    "Ab. Cd. Ef. Gh.",
    "The last stream speaks twice. Then it stops.",
];

/// Runs every text as its own stream at once; returns each stream's chunk
/// samples, in order.
fn run_streams(engine: &Arc<Engine>, texts: &[&str]) -> Vec<Result<Vec<Vec<f32>>>> {
    let handles: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let (engine, text) = (engine.clone(), text.to_string());
            thread::spawn(move || -> Result<Vec<Vec<f32>>> {
                engine
                    .stream(&text, &seeded(100 + i as u64))?
                    .map(|c| c.map(|c| c.samples.to_f32()))
                    .collect()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn unbatched_reference(texts: &[&str]) -> Vec<Vec<Vec<f32>>> {
    let engine = Arc::new(double_engine(1, Duration::ZERO, &Arc::default()));
    run_streams(&engine, texts)
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn batched_streams_hear_what_they_would_alone() {
    let want = unbatched_reference(&TEXTS);
    let script = Arc::new(Script {
        step_time: Duration::from_millis(2),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(4, Duration::ZERO, &script));
    let got = run_streams(&engine, &TEXTS);
    let mut chunks = 0;
    for (i, (g, w)) in got.into_iter().zip(&want).enumerate() {
        let g = g.unwrap();
        chunks += g.len();
        assert_eq!(&g, w, "stream {i}");
    }
    let sizes = script.batch_sizes.lock().unwrap().clone();
    assert!(sizes.iter().all(|&n| (1..=4).contains(&n)), "{sizes:?}");
    assert!(
        sizes.iter().any(|&n| n > 1),
        "no step was batched: {sizes:?}"
    );
    let m = engine.metrics();
    assert_eq!(m.batch_steps, sizes.len() as u64);
    assert!(m.batch_size.max > 1.0 && m.batch_size.max <= 4.0);
    // every sentence joined a batch once
    assert_eq!(m.batch_wait.count, chunks as u64);
    assert_eq!(m.completed, TEXTS.len() as u64);
}

#[test]
fn a_failed_batch_is_retried_smaller() {
    let want = unbatched_reference(&TEXTS);
    let script = Arc::new(Script {
        step_time: Duration::from_millis(1),
        fails_above: Some(2),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(8, Duration::from_millis(50), &script));
    let got = run_streams(&engine, &TEXTS);
    for (i, (g, w)) in got.into_iter().zip(&want).enumerate() {
        assert_eq!(&g.unwrap(), w, "stream {i}");
    }
    assert!(script.failed_steps.load(Ordering::SeqCst) > 0);
    assert!(script.batch_sizes.lock().unwrap().iter().all(|&n| n <= 2));
    assert!(engine.metrics().batch_retries > 0);
}

#[test]
fn a_failure_at_batch_one_ends_only_that_stream() {
    // every step fails: the error reaches each stream, the engine goes on
    let script = Arc::new(Script {
        fails_above: Some(0),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(4, Duration::ZERO, &script));
    for r in run_streams(&engine, &TEXTS[..3]) {
        assert_eq!(r.unwrap_err().code(), ErrorCode::Internal);
    }

    // one poisoned sentence: its stream fails, the others are intact
    let texts = [
        "Fine one. Fine two.",
        "This is poison here.",
        "Also fine. Really.",
    ];
    let want = unbatched_reference(&texts);
    let script = Arc::new(Script {
        step_time: Duration::from_millis(2),
        poison: Some("poison"),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(4, Duration::from_millis(20), &script));
    let got = run_streams(&engine, &texts);
    assert_eq!(got[0].as_ref().unwrap(), &want[0]);
    assert_eq!(
        got[1].as_ref().unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(got[2].as_ref().unwrap(), &want[2]);
    // and the engine still serves
    assert!(engine.synthesize("Still here.", &seeded(1)).is_ok());
}

#[test]
fn a_cancelled_stream_leaves_the_batch_and_the_others_go_on() {
    let texts = [
        "Keep going one. And two. And three.",
        "Cancel me soon. Never heard. Nope.",
        "Keep going too. Yes. Done.",
    ];
    let want = unbatched_reference(&texts);
    let script = Arc::new(Script {
        step_time: Duration::from_millis(20),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(4, Duration::from_millis(20), &script));
    let mut victim = engine.stream(texts[1], &seeded(101)).unwrap();
    let others: Vec<_> = [0usize, 2]
        .into_iter()
        .map(|i| {
            let (engine, text) = (engine.clone(), texts[i]);
            thread::spawn(move || -> Vec<Vec<f32>> {
                engine
                    .stream(text, &seeded(100 + i as u64))
                    .unwrap()
                    .map(|c| c.unwrap().samples.to_f32())
                    .collect()
            })
        })
        .collect();
    let first = victim.next().unwrap().unwrap();
    assert_eq!(first.samples.to_f32(), want[1][0]);
    victim.cancel();
    for r in victim.by_ref() {
        assert!(matches!(r, Err(Error::Cancelled)) || r.is_ok());
    }
    let got: Vec<_> = others.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got[0], want[0]);
    assert_eq!(got[1], want[2]);
    let m = engine.metrics();
    assert_eq!((m.completed, m.cancelled), (2, 1));
}

#[test]
fn a_stalled_reader_does_not_hold_up_the_batch() {
    let stalled_text: String = (1..=10)
        .map(|i| format!("This is sentence number {i} of the stalled stream. "))
        .collect();
    let script = Arc::new(Script {
        step_time: Duration::from_millis(1),
        ..Default::default()
    });
    let engine = Arc::new(double_engine(4, Duration::ZERO, &script));
    // opened and never read until the others are done
    let stalled = engine.stream(&stalled_text, &seeded(7)).unwrap();
    let t = Instant::now();
    let got = run_streams(&engine, &TEXTS[..3]);
    assert!(got.iter().all(|r| r.is_ok()));
    assert!(t.elapsed() < Duration::from_secs(20));
    // nothing it had was lost: all ten chunks, in order
    let chunks: Vec<_> = stalled.map(|c| c.unwrap()).collect();
    assert_eq!(chunks.len(), 10);
    assert!(chunks
        .iter()
        .enumerate()
        .all(|(i, c)| c.sentence_index == i));
    assert!(chunks[9].is_last);
}

#[test]
fn dropping_the_engine_ends_a_running_batch() {
    let script = Arc::new(Script {
        step_time: Duration::from_millis(30),
        ..Default::default()
    });
    let engine = double_engine(4, Duration::ZERO, &script);
    let long: String = (0..20).map(|i| format!("Sentence {i} goes on. ")).collect();
    let mut streams: Vec<_> = (0..3)
        .map(|i| engine.stream(&long, &seeded(i)).unwrap())
        .collect();
    // the batch is running: each stream has its first chunk
    for s in &mut streams {
        s.next().unwrap().unwrap();
    }
    let t = Instant::now();
    drop(engine);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "close waited {:?}",
        t.elapsed()
    );
    for s in streams {
        let rest: Vec<_> = s.collect();
        assert!(rest.len() < 19, "the streams went on after the close");
        assert!(
            matches!(rest.last(), Some(Err(Error::EngineClosed))),
            "{:?}",
            rest.last().map(|r| r.as_ref().err())
        );
    }
}

#[test]
fn a_batch_waits_up_to_the_window_to_fill() {
    let script = Arc::new(Script::default());
    let engine = Arc::new(double_engine(3, Duration::from_millis(400), &script));
    let first = {
        let engine = engine.clone();
        thread::spawn(move || engine.synthesize("Alpha beta.", &seeded(1)).unwrap())
    };
    thread::sleep(Duration::from_millis(50));
    let late: Vec<_> = ["Gamma delta.", "Epsilon zeta."]
        .into_iter()
        .map(|t| {
            let engine = engine.clone();
            thread::spawn(move || engine.synthesize(t, &seeded(2)).unwrap())
        })
        .collect();
    first.join().unwrap();
    late.into_iter().for_each(|h| {
        h.join().unwrap();
    });
    let sizes = script.batch_sizes.lock().unwrap().clone();
    assert_eq!(
        sizes[0], 3,
        "the first step waited for the other two: {sizes:?}"
    );
    // the first request waited for the others (about 50 ms)
    assert!(engine.metrics().batch_wait.max >= 0.03);
}

#[test]
fn batch_settings_are_checked() {
    for (max_batch, window) in [
        (0, Duration::ZERO),
        (257, Duration::ZERO),
        (usize::MAX, Duration::ZERO),
        (4, Duration::from_secs(11)),
    ] {
        let Err(err) = Engine::new(EngineConfig {
            max_batch,
            batch_window: window,
            ..EngineConfig::default()
        }) else {
            panic!("max_batch {max_batch}, window {window:?} accepted");
        };
        assert_eq!(err.code(), ErrorCode::InvalidParameter, "{err}");
    }
    assert!(Engine::new(EngineConfig {
        max_batch: 256,
        ..EngineConfig::default()
    })
    .is_ok());
}

// --- the real F5-TTS backend ------------------------------------------------

fn f5_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/f5")
}

fn f5_engine(max_batch: usize) -> Engine {
    let f = f5_fixtures();
    let paths = F5Paths {
        checkpoint: Some(f.join("tiny_v1/F5TTS_tiny")),
        variant: Variant::V1Base,
        config: Some(f.join("tiny_v1/config.json")),
        vocoder: Some(f.join("vocos_tiny")),
    };
    let reference = Reference {
        audio: common::tone_wav(2.0, 24_000).into(),
        text: "This is how my voice sounds.".into(),
    };
    let engine = Engine::new(EngineConfig {
        max_batch,
        batch_window: Duration::from_millis(100),
        ..EngineConfig::default()
    })
    .unwrap();
    engine
        .add_voice("clone", VoiceSpec::f5(paths, reference).unwrap())
        .unwrap();
    engine
}

mod common;

/// Each stream its own text length, step count and guidance.
fn f5_requests() -> Vec<(&'static str, RequestOptions)> {
    let opts = |seed: u64, nfe: u32, cfg: f32| RequestOptions {
        voice: Some("clone".into()),
        synthesis: SynthesisOptions {
            seed: Some(seed),
            nfe_step: Some(nfe),
            cfg_strength: Some(cfg),
            ..Default::default()
        },
        use_cache: false,
        ..Default::default()
    };
    vec![
        (
            "A short one. Then a second sentence follows it.",
            opts(1, 4, 2.0),
        ),
        (
            "This stream has a rather longer sentence to say first.",
            opts(2, 6, 0.0),
        ),
        ("Hi. 你好，今天天气很好。", opts(3, 5, 1.5)),
    ]
}

fn f5_run(engine: &Arc<Engine>) -> Vec<Vec<Vec<f32>>> {
    let handles: Vec<_> = f5_requests()
        .into_iter()
        .map(|(text, o)| {
            let engine = engine.clone();
            thread::spawn(move || -> Vec<Vec<f32>> {
                engine
                    .stream(text, &o)
                    .unwrap()
                    .map(|c| c.unwrap().samples.to_f32())
                    .collect()
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn f5_batched_equals_unbatched() {
    let alone = f5_run(&Arc::new(f5_engine(1)));
    let engine = Arc::new(f5_engine(4));
    let batched = f5_run(&engine);
    for (i, (b, a)) in batched.iter().zip(&alone).enumerate() {
        assert_eq!(b.len(), a.len(), "stream {i}: chunk count");
        for (j, (x, y)) in b.iter().zip(a).enumerate() {
            assert_eq!(x.len(), y.len(), "stream {i} chunk {j}: length");
            let scale = y.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            let rel = common::max_abs_diff(x, y) / scale;
            assert!(rel <= 1e-5, "stream {i} chunk {j}: relative error {rel:e}");
        }
    }
    let m = engine.metrics();
    assert!(
        m.batch_size.max >= 2.0,
        "no F5 step was batched: {:?}",
        m.batch_size
    );
    assert_eq!(m.batch_retries, 0);
}

//! Models that stream within a sentence: the scheduler delivers each
//! step's new audio as a chunk (several chunks per sentence), and the
//! pieces join, resample and cache exactly as the whole sentence would.
//!
//! A test double of such a model (deterministic audio per step, a gate
//! that holds it at a chosen step, a length budget it reports) covers the
//! scheduling; `tests/qwen3_engine.rs` runs the real Qwen3-TTS backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use ishowtts::audio::join::SentenceGap;
use ishowtts::candle::Device;
use ishowtts::engine::{
    Backend, Chunk, Engine, EngineConfig, ModelLoader, RequestOptions, SentenceInProgress,
    SentenceJob, StreamStatus, SynthesisOptions, VoiceSpec,
};
use ishowtts::text::language::Language;
use ishowtts::{Error, Result};
use rand::Rng;

mod common;

use common::{check_chunk_metadata, collect};

/// What the test double does and records.
#[derive(Default)]
struct Script {
    /// Sleep per step.
    step_time: Duration,
    /// The model waits at this (global) step count until `release`.
    gate_at: Option<usize>,
    released: Mutex<bool>,
    opened: Condvar,
    /// Steps taken, all sentences together.
    steps: AtomicUsize,
}

impl Script {
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

#[derive(Clone)]
struct PiecesDoubleLoader {
    script: Arc<Script>,
    /// Deliver pieces (else whole sentences, for reference).
    pieces: bool,
}

impl std::fmt::Debug for PiecesDoubleLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiecesDoubleLoader")
    }
}

impl ModelLoader for PiecesDoubleLoader {
    fn key(&self) -> String {
        format!("pieces-double-{}", self.pieces)
    }
    fn language(&self) -> Language {
        Language::English
    }
    fn check_options(&self, _: &SynthesisOptions) -> Result<()> {
        Ok(())
    }
    fn load(&self, _: &Device) -> Result<Box<dyn Backend>> {
        Ok(Box::new(PiecesDouble(self.clone())))
    }
}

/// A test double of a model that streams within sentences: a sentence
/// takes `4 + len % 5` steps (a sentence with "forever" in it runs into
/// its budget of 12), each adding 240 samples that depend on the text, the
/// step and a draw from the request's generator.
struct PiecesDouble(PiecesDoubleLoader);

struct DoubleSentence {
    text: String,
    seed: u32,
    steps: usize,
    done: usize,
    audio: Vec<f32>,
    taken: usize,
}

const BUDGET: usize = 12;
const STEP_SAMPLES: usize = 240;

fn steps_of(text: &str) -> usize {
    if text.contains("forever") {
        BUDGET
    } else {
        4 + text.len() % 5
    }
}

impl Backend for PiecesDouble {
    fn sample_rate(&self) -> u32 {
        24_000
    }
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let mut s = self.begin(job)?;
        while !s.is_done() {
            if job.cancelled() {
                return Err(Error::Cancelled);
            }
            if let Some(Err(e)) = self.step(&mut [&mut s])?.pop() {
                return Err(e);
            }
        }
        job.report = s.report;
        let d = s.into_state::<DoubleSentence>().expect("a double sentence");
        Ok(d.audio)
    }
    fn steps_in_batches(&self) -> bool {
        true
    }
    fn streams_pieces(&self) -> bool {
        self.0.pieces
    }
    fn begin(&mut self, job: &mut SentenceJob<'_>) -> Result<SentenceInProgress> {
        let steps = steps_of(job.text);
        let s = DoubleSentence {
            text: job.text.to_owned(),
            seed: job.rng.random(),
            steps,
            done: 0,
            audio: Vec::new(),
            taken: 0,
        };
        Ok(SentenceInProgress::new(s, steps))
    }
    fn step(&mut self, batch: &mut [&mut SentenceInProgress]) -> Result<Vec<Result<()>>> {
        let script = &self.0.script;
        let n = script.steps.fetch_add(1, Ordering::SeqCst) + 1;
        if script.gate_at == Some(n) {
            let mut open = script.released.lock().unwrap();
            while !*open {
                open = script.opened.wait(open).unwrap();
            }
        }
        thread::sleep(script.step_time);
        Ok(batch
            .iter_mut()
            .map(|s| {
                let d = s.state_mut::<DoubleSentence>().expect("a double sentence");
                let base = d.text.bytes().map(u32::from).sum::<u32>() ^ d.seed;
                let step = d.done as f32;
                d.audio
                    .extend((0..STEP_SAMPLES).map(|i| {
                        0.5 * ((base % 997) as f32 + step * 0.37 + i as f32 * 0.01).sin()
                    }));
                d.done += 1;
                let left = d.steps - d.done;
                let hit = d.steps == BUDGET && left == 0;
                s.set_steps_left(left);
                s.report.hit_budget |= hit;
                Ok(())
            })
            .collect())
    }
    fn take_audio(&mut self, s: &mut SentenceInProgress) -> Result<Vec<f32>> {
        let d = s.state_mut::<DoubleSentence>().expect("a double sentence");
        let new = d.audio[d.taken..].to_vec();
        d.taken = d.audio.len();
        Ok(new)
    }
    fn finish(&mut self, s: SentenceInProgress) -> Result<Vec<f32>> {
        let d = s.into_state::<DoubleSentence>().expect("a double sentence");
        Ok(d.audio[d.taken..].to_vec())
    }
}

fn engine(max_batch: usize, script: &Arc<Script>, pieces: bool) -> Arc<Engine> {
    let engine = Engine::new(EngineConfig {
        max_batch,
        ..EngineConfig::default()
    })
    .unwrap();
    let loader = PiecesDoubleLoader {
        script: script.clone(),
        pieces,
    };
    engine
        .add_voice("double", VoiceSpec::new(Arc::new(loader)))
        .unwrap();
    Arc::new(engine)
}

fn seeded(seed: u64) -> RequestOptions {
    RequestOptions::default().use_cache(false).seed(seed)
}

fn audio(chunks: &[Chunk]) -> Vec<f32> {
    chunks.iter().flat_map(|c| c.samples.to_f32()).collect()
}

const TEXT: &str =
    "The first sentence is here. A second one. And the third, the longest of them all.";

#[test]
fn pieces_join_resample_and_fade_as_whole_sentences() {
    let script = Arc::new(Script::default());
    let streaming = engine(1, &script, true);
    let whole = engine(1, &script, false);
    for opts in [
        seeded(7),
        seeded(7).gap(SentenceGap::Silence(Duration::from_millis(30))),
        seeded(7).gap(SentenceGap::Crossfade(Duration::from_millis(20))),
        seeded(7).sample_rate(16_000),
        seeded(7)
            .sample_rate(44_100)
            .gap(SentenceGap::Crossfade(Duration::from_millis(50))),
    ] {
        let pieces = collect(&streaming, TEXT, &opts);
        let reference = collect(&whole, TEXT, &opts);
        check_chunk_metadata(TEXT, &pieces);
        check_chunk_metadata(TEXT, &reference);
        assert_eq!(reference.len(), 3, "one chunk per sentence without pieces");
        for (s, r) in reference.iter().enumerate() {
            let of_sentence: Vec<&Chunk> =
                pieces.iter().filter(|c| c.sentence_index == s).collect();
            assert_eq!(of_sentence[0].text_span, r.text_span);
            // (a cross-fade holds back up to its length, so a short
            // sentence may come out whole)
            if opts.gap == SentenceGap::None {
                assert!(of_sentence.len() >= 4, "sentence {s} in one piece");
            }
        }
        assert_eq!(audio(&pieces), audio(&reference), "{opts:?}");
    }
}

#[test]
fn the_first_piece_arrives_while_the_sentence_is_still_running() {
    // The model is held at its 3rd step until the test has the first chunk.
    let script = Arc::new(Script {
        gate_at: Some(3),
        ..Default::default()
    });
    // Opens the gate however the test ends, so the engine can stop.
    struct Release(Arc<Script>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.release();
        }
    }
    let engine = engine(1, &script, true);
    // (after the engine: dropped before it)
    let release = Release(script.clone());
    let mut stream = engine
        .stream("One long sentence to speak.", &seeded(1))
        .unwrap();
    let first = stream.next().unwrap().unwrap();
    assert!(
        script.steps.load(Ordering::SeqCst) <= 3,
        "the sentence is not done"
    );
    assert_eq!(first.sentence_index, 0);
    assert!(!first.ends_sentence && !first.is_last);
    assert_eq!(first.samples.len(), STEP_SAMPLES);
    drop(release);
    let rest: Vec<Chunk> = stream.map(|c| c.unwrap()).collect();
    assert!(rest.last().unwrap().is_last);
    let m = engine.metrics();
    assert_eq!(m.time_to_first_audio.count, 1);
    assert_eq!(
        m.sentence_synthesis.count, 1,
        "one sentence, however many pieces"
    );
    let steps = steps_of("One long sentence to speak.");
    assert!((m.audio_seconds - (steps * STEP_SAMPLES) as f64 / 24_000.0).abs() < 1e-9);
}

#[test]
fn cancel_takes_effect_between_steps() {
    let script = Arc::new(Script {
        step_time: Duration::from_millis(5),
        ..Default::default()
    });
    let engine = engine(1, &script, true);
    let text = "This sentence runs forever. It never gets here.";
    let mut stream = engine.stream(text, &seeded(2)).unwrap();
    let first = stream.next().unwrap().unwrap();
    stream.cancel();
    let after: Vec<Chunk> = stream.by_ref().map(|c| c.unwrap()).collect();
    assert_eq!(stream.status(), StreamStatus::Cancelled);
    assert!(after.iter().all(|c| c.sentence_index == 0 && !c.is_last));
    // far fewer steps than the two sentences would take
    let taken = script.steps.load(Ordering::SeqCst);
    assert!(taken < BUDGET, "{taken} steps after the cancel");
    assert_eq!(first.sample_offset, 0);
    // the engine goes on
    let chunks = collect(&engine, "Fine again.", &seeded(3));
    check_chunk_metadata("Fine again.", &chunks);
    assert_eq!(engine.metrics().cancelled, 1);
}

#[test]
fn a_stalled_reader_is_set_aside_and_resumes_where_it_stopped() {
    let script = Arc::new(Script::default());
    let whole = engine(1, &script, false);
    let long = "This sentence runs forever and a day. Then a short one.";
    let want = audio(&collect(&whole, long, &seeded(4)));

    let script = Arc::new(Script {
        step_time: Duration::from_millis(1),
        ..Default::default()
    });
    let engine = engine(1, &script, true);
    // A stalls after its first chunk, in the middle of a 12-step sentence.
    let mut a = engine.stream(long, &seeded(4)).unwrap();
    let mut got = vec![a.next().unwrap().unwrap()];
    // B is served to its end meanwhile, though batching is off.
    let b = collect(&engine, "Another stream speaks.", &seeded(5));
    check_chunk_metadata("Another stream speaks.", &b);
    got.extend(a.map(|c| c.unwrap()));
    check_chunk_metadata(long, &got);
    assert_eq!(audio(&got), want, "A's sentence went on where it stopped");
}

#[test]
fn batched_pieces_equal_unbatched_and_budget_hits_are_counted() {
    let texts = [
        "One. Two words. Three words here.",
        "A longer first sentence for this stream. Short.",
        "This goes on forever. Then it stops.",
        "Single sentence only.",
    ];
    let run = |engine: &Arc<Engine>| -> Vec<Vec<Chunk>> {
        let handles: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (engine, t) = (engine.clone(), t.to_string());
                thread::spawn(move || collect(&engine, &t, &seeded(10 + i as u64)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    let alone = run(&engine(1, &Arc::default(), false));
    let script = Arc::new(Script {
        step_time: Duration::from_millis(2),
        ..Default::default()
    });
    let batched = engine(4, &script, true);
    let got = run(&batched);
    for (i, (g, w)) in got.iter().zip(&alone).enumerate() {
        check_chunk_metadata(texts[i], g);
        assert_eq!(audio(g), audio(w), "stream {i}");
    }
    let m = batched.metrics();
    assert!(m.batch_size.max >= 2.0, "{:?}", m.batch_size);
    assert_eq!(m.sentences_at_budget, 1);
    assert_eq!(m.completed, 4);
}

#[test]
fn cached_requests_replay_the_same_pieces() {
    let engine = engine(1, &Arc::default(), true);
    let opts = RequestOptions::default().seed(9);
    let first = collect(&engine, TEXT, &opts);
    let again = collect(&engine, TEXT, &opts);
    assert!(again.iter().all(|c| c.timings.from_cache));
    assert_eq!(first.len(), again.len());
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(
            (
                a.sentence_index,
                &a.text_span,
                a.sample_offset,
                a.ends_sentence,
                a.is_last
            ),
            (
                b.sentence_index,
                &b.text_span,
                b.sample_offset,
                b.ends_sentence,
                b.is_last
            )
        );
        assert_eq!(a.samples, b.samples);
    }
}

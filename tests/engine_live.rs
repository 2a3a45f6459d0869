//! Live requests (`Engine::open_stream`): text pushed in pieces, however it
//! is cut, gives the audio and the sentences of a one-shot request of the
//! whole text; pushing and reading on different threads; bad pushes get
//! their errors and the stream goes on.
//!
//! A test double of a model (audio that depends only on the sentence's
//! text) keeps the comparison exact and fast.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ishowtts::audio::join::SentenceGap;
use ishowtts::candle::Device;
use ishowtts::engine::{
    Backend, Chunk, Engine, EngineConfig, ModelLoader, RequestOptions, SentenceJob, StreamStatus,
    SynthesisOptions, VoiceSpec,
};
use ishowtts::text::language::Language;
use ishowtts::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug)]
struct TextDoubleLoader;

impl ModelLoader for TextDoubleLoader {
    fn key(&self) -> String {
        "text-double".into()
    }
    fn language(&self) -> Language {
        Language::English
    }
    fn check_options(&self, _: &SynthesisOptions) -> Result<()> {
        Ok(())
    }
    fn load(&self, _: &Device) -> Result<Box<dyn Backend>> {
        Ok(Box::new(TextDouble))
    }
}

/// A test double: `40 * chars` samples of a tone whose pitch comes from the
/// sentence's text.
struct TextDouble;

impl Backend for TextDouble {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn synthesize(&mut self, job: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        let h = job
            .text
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31) ^ u32::from(b));
        let f = 0.01 + (h % 100) as f32 * 0.001;
        Ok((0..40 * job.text.chars().count())
            .map(|i| 0.5 * (i as f32 * f).sin())
            .collect())
    }
}

fn engine() -> Arc<Engine> {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    engine
        .add_voice("double", VoiceSpec::new(Arc::new(TextDoubleLoader)))
        .unwrap();
    Arc::new(engine)
}

const WORDS: &[&str] = &[
    "Hello",
    "there.",
    "How",
    "are",
    "you",
    "today?",
    "Dr.",
    "Smith",
    "arrived",
    "at",
    "3.30",
    "p.m.",
    "sharp!",
    "It",
    "was",
    "late",
    "etc.",
    "Then",
    "we",
    "left.",
    "你好。",
    "再见！",
    "Wait...",
    "what?",
    "\"Yes,\"",
    "she",
    "said.",
    "OK.",
    "Plan",
    "B.",
    "well",
    "\n",
];

fn random_text(rng: &mut StdRng) -> String {
    let n = rng.random_range(1..50);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        s.push(' ');
    }
    s
}

fn audio(chunks: &[Chunk]) -> Vec<f32> {
    chunks.iter().flat_map(|c| c.samples.to_f32()).collect()
}

/// The sentences' (index, span) of the chunks that end one, without a
/// live stream's empty closing chunk.
fn sentences(chunks: &[Chunk]) -> Vec<(usize, std::ops::Range<usize>)> {
    chunks
        .iter()
        .filter(|c| c.ends_sentence && !(c.is_last && c.text_span.is_empty()))
        .map(|c| (c.sentence_index, c.text_span.clone()))
        .collect()
}

/// Chunks in order, offsets contiguous, exactly one `is_last`, at the end.
fn check_order(chunks: &[Chunk]) {
    let mut offset = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.sample_offset, offset, "chunk {i}");
        offset += c.samples.len() as u64;
        assert_eq!(c.is_last, i + 1 == chunks.len(), "chunk {i}");
    }
}

#[test]
fn any_push_pattern_gives_the_one_shot_audio() {
    let engine = engine();
    let mut rng = StdRng::seed_from_u64(3);
    let gaps = [
        SentenceGap::None,
        SentenceGap::Crossfade(Duration::from_millis(5)),
        SentenceGap::Silence(Duration::from_millis(20)),
    ];
    for case in 0..60 {
        let text = random_text(&mut rng);
        if !text.chars().any(char::is_alphanumeric) {
            continue;
        }
        let mut opts = RequestOptions::default()
            .use_cache(false)
            .gap(gaps[case % gaps.len()]);
        if case % 4 == 1 {
            opts = opts.sample_rate(22_050);
        }
        let want: Vec<Chunk> = engine
            .stream(&text, &opts)
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let mut live = engine.open_stream(&opts).unwrap();
        let mut got = Vec::new();
        let mut at = 0;
        let bytes = case % 2 == 0;
        while at < text.len() {
            let mut end = (at + rng.random_range(1..9)).min(text.len());
            if bytes {
                live.push_bytes(&text.as_bytes()[at..end]).unwrap();
            } else {
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                live.push_text(&text[at..end]).unwrap();
            }
            at = end;
            // sometimes read what is ready while pushing
            if rng.random_range(0..4) == 0 {
                while let Ok(ishowtts::engine::Polled::Chunk(c)) =
                    live.audio().poll_chunk(Some(Duration::from_millis(1)))
                {
                    got.push(c);
                }
            }
        }
        live.finish().unwrap();
        got.extend(live.by_ref().map(|c| c.unwrap()));
        check_order(&got);
        assert_eq!(sentences(&got), sentences(&want), "case {case}: {text:?}");
        assert_eq!(audio(&got), audio(&want), "case {case}: {text:?}");
    }
}

#[test]
fn push_on_one_thread_read_on_another() {
    let engine = engine();
    let (mut input, audio) = engine
        .open_stream(&RequestOptions::default())
        .unwrap()
        .split();
    let text = "First sentence here. Second one follows now. A third to end with.";
    let reader = thread::spawn(move || audio.map(|c| c.unwrap()).collect::<Vec<_>>());
    for word in text.split_inclusive(' ') {
        input.push_text(word).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    drop(input); // finishes the text
    let chunks = reader.join().unwrap();
    check_order(&chunks);
    assert_eq!(sentences(&chunks).len(), 3);
    assert_eq!(&text[chunks[0].text_span.clone()], "First sentence here.");
    assert_eq!(engine.metrics().completed, 1);
}

#[test]
fn bad_pushes_get_errors_and_the_stream_goes_on() {
    let engine = engine();
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    live.flush().unwrap(); // nothing held: a no-op
    live.push_text("Good so far. ").unwrap();
    live.push_bytes(b"caf\xc3").unwrap(); // a cut character
    assert!(matches!(live.push_text("x"), Err(Error::InvalidText(_))));
    assert!(matches!(
        live.push_bytes(b"\xff"),
        Err(Error::InvalidText(_))
    ));
    live.push_bytes(b"\xa9 is open. ").unwrap(); // completed
    live.flush().unwrap();
    live.push_text("And more.").unwrap();
    live.finish().unwrap();
    assert!(matches!(
        live.push_text("late"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(live.finish(), Err(Error::InvalidArgument(_))));
    let chunks: Vec<Chunk> = live.map(|c| c.unwrap()).collect();
    check_order(&chunks);
    let spoken: Vec<(usize, std::ops::Range<usize>)> = sentences(&chunks);
    assert_eq!(spoken.len(), 3, "{spoken:?}");

    // too much text: refused, and the stream is still usable
    let engine2 = Engine::new(EngineConfig {
        max_text_bytes: 1000,
        ..EngineConfig::default()
    })
    .unwrap();
    engine2
        .add_voice("double", VoiceSpec::new(Arc::new(TextDoubleLoader)))
        .unwrap();
    let mut live = engine2.open_stream(&RequestOptions::default()).unwrap();
    live.push_text(&"word ".repeat(150)).unwrap();
    assert!(matches!(
        live.push_text(&"word ".repeat(100)),
        Err(Error::TextTooLong { .. })
    ));
    live.push_text("end.").unwrap();
    live.finish().unwrap();
    assert!(live.by_ref().all(|c| c.is_ok()));

    // cancel: pushes refused, the stream ends cancelled
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    live.push_text("One sentence. Two sentences. Three")
        .unwrap();
    live.cancel();
    assert!(matches!(live.push_text("more"), Err(Error::Cancelled)));
    let _ = live.by_ref().count();
    assert_eq!(live.audio().status(), StreamStatus::Cancelled);

    // a huge push settles at once; an unknown voice fails at open
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    live.push_text(&"Many short sentences here. ".repeat(20_000))
        .unwrap();
    live.finish().unwrap();
    assert_eq!(
        sentences(&live.by_ref().map(|c| c.unwrap()).collect::<Vec<_>>()).len(),
        20_000
    );
    assert!(matches!(
        engine.open_stream(&RequestOptions::default().voice("nobody")),
        Err(Error::VoiceNotFound(_))
    ));
    // a stream opened and finished without text ends with one empty chunk
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    live.finish().unwrap();
    let chunks: Vec<Chunk> = live.map(|c| c.unwrap()).collect();
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].is_last && chunks[0].samples.is_empty());
    // and the engine goes on
    let audio = engine
        .synthesize("Still fine.", &RequestOptions::default())
        .unwrap();
    assert!(!audio.samples.is_empty());
}

fn engine_with(config: EngineConfig) -> Engine {
    let engine = Engine::new(config).unwrap();
    engine
        .add_voice("double", VoiceSpec::new(Arc::new(TextDoubleLoader)))
        .unwrap();
    engine
}

/// Every way a host can misuse a live stream gets its error (or is a
/// documented no-op), the stream still ends cleanly, and the engine goes on.
#[test]
fn misuse_of_a_live_stream() {
    let engine = engine();
    let opts = RequestOptions::default().use_cache(false);

    // after finish: every text call refused; the audio still ends
    let mut live = engine.open_stream(&opts).unwrap();
    live.push_text("Done here.").unwrap();
    live.finish().unwrap();
    assert!(matches!(
        live.push_bytes(b"late"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(live.flush(), Err(Error::InvalidArgument(_))));
    let chunks: Vec<Chunk> = live.by_ref().map(|c| c.unwrap()).collect();
    check_order(&chunks);
    assert_eq!(live.audio().status(), StreamStatus::Finished);

    // after cancel: push, push_bytes, flush and finish all say Cancelled
    let mut live = engine.open_stream(&opts).unwrap();
    live.push_text("Cancelled soon. It never ends").unwrap();
    live.cancel();
    live.cancel(); // again: nothing
    assert!(matches!(live.push_text("more"), Err(Error::Cancelled)));
    assert!(matches!(live.push_bytes(b"more"), Err(Error::Cancelled)));
    assert!(matches!(live.flush(), Err(Error::Cancelled)));
    assert!(matches!(live.finish(), Err(Error::Cancelled)));
    assert!(live.by_ref().all(|c| c.is_ok()));
    assert_eq!(live.audio().status(), StreamStatus::Cancelled);

    // a character cut and never completed: finish says InvalidText, the
    // text before it is spoken as the one-shot request of it, and the
    // stream ends normally
    let mut live = engine.open_stream(&opts).unwrap();
    live.push_bytes(b"Good words here. Then caf").unwrap();
    live.push_bytes(b"\xc3").unwrap();
    // a byte that does not continue it: refused, the cut character waits
    assert!(matches!(live.push_bytes(b"e"), Err(Error::InvalidText(_))));
    assert!(matches!(live.push_text("e"), Err(Error::InvalidText(_))));
    assert!(matches!(live.finish(), Err(Error::InvalidText(_))));
    assert!(matches!(live.finish(), Err(Error::InvalidArgument(_))));
    let got: Vec<Chunk> = live.by_ref().map(|c| c.unwrap()).collect();
    check_order(&got);
    assert_eq!(live.audio().status(), StreamStatus::Finished);
    let want: Vec<Chunk> = engine
        .stream("Good words here. Then caf", &opts)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    assert_eq!(sentences(&got), sentences(&want));
    assert_eq!(audio(&got), audio(&want));
    // only a lead byte: no sentence, one empty closing chunk
    let mut live = engine.open_stream(&opts).unwrap();
    live.push_bytes(b"\xe4").unwrap();
    assert!(matches!(live.finish(), Err(Error::InvalidText(_))));
    let chunks: Vec<Chunk> = live.map(|c| c.unwrap()).collect();
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].is_last && chunks[0].samples.is_empty());

    // flush on an empty stream, twice, and after a flush: no-ops; the
    // stream still ends with one empty chunk
    let mut live = engine.open_stream(&opts).unwrap();
    live.flush().unwrap();
    live.flush().unwrap();
    live.push_bytes(b"").unwrap();
    live.flush().unwrap();
    live.finish().unwrap();
    let chunks: Vec<Chunk> = live.map(|c| c.unwrap()).collect();
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].is_last && chunks[0].samples.is_empty());

    // dropped without finish, with sentences on their way and a chunk
    // unread: the request ends (cancelled) and gives its slot back
    let before = engine.metrics();
    let mut live = engine.open_stream(&opts).unwrap();
    live.push_text(&"A sentence to drop. ".repeat(50)).unwrap();
    let first = live.audio().poll_chunk(None).unwrap();
    assert!(matches!(first, ishowtts::engine::Polled::Chunk(_)));
    drop(live);
    // either half dropped alone
    let (input, audio) = engine.open_stream(&opts).unwrap().split();
    drop(audio);
    let mut input = input;
    assert!(matches!(
        input.push_text("Nobody reads."),
        Err(Error::Cancelled)
    ));
    drop(input);
    let (mut input, audio) = engine.open_stream(&opts).unwrap().split();
    input
        .push_text("Spoken though dropped. The second one is here too.")
        .unwrap();
    drop(input); // finishes the text
    let chunks: Vec<Chunk> = audio.map(|c| c.unwrap()).collect();
    check_order(&chunks);
    assert_eq!(sentences(&chunks).len(), 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = engine.metrics();
        if m.queue_depth == 0 && m.cancelled >= before.cancelled + 2 {
            assert_eq!(m.completed, before.completed + 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{m:?}");
        thread::sleep(Duration::from_millis(5));
    }
    let audio = engine.synthesize("Still fine.", &opts).unwrap();
    assert!(!audio.samples.is_empty());
}

/// Ten megabytes pushed at once are taken in bounded time, a cancel then
/// ends the stream at once, and over the engine's text limit a push is
/// refused whole. Short fragments that merge ("Hi. Go.") once made a push
/// quadratic in its sentences (about 13 minutes for 10 MB of them).
#[test]
fn ten_megabytes_at_once() {
    let engine = engine();
    let mut big = String::new();
    for unit in ["Hi. Go. ", "Dr. Smith paid 3.5 dollars at the caf\u{e9}. "] {
        big = unit.repeat((10 << 20) / unit.len());
        let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
        let t = std::time::Instant::now();
        live.push_text(&big).unwrap();
        let pushed = t.elapsed();
        live.cancel();
        let t = std::time::Instant::now();
        let mut read = 0;
        for c in live.by_ref() {
            c.unwrap();
            read += 1;
        }
        assert_eq!(live.audio().status(), StreamStatus::Cancelled);
        let ended = t.elapsed();
        eprintln!(
            "10 MB of {unit:?}: pushed in {pushed:?}, ended after {read} chunks in {ended:?}"
        );
        assert!(pushed < Duration::from_secs(30), "{pushed:?}");
        assert!(ended < Duration::from_secs(5), "{ended:?}");
    }

    // the same in bytes, cut inside a character at the end
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    let bytes = big.as_bytes();
    let cut = bytes.len() - 3; // inside the "é" of the last "café"
    assert!(!big.is_char_boundary(cut));
    live.push_bytes(&bytes[..cut]).unwrap();
    live.push_bytes(&bytes[cut..]).unwrap();
    live.cancel();
    assert!(live.by_ref().all(|c| c.is_ok()));

    // over the limit: refused whole (nothing taken), the stream goes on
    let engine = engine_with(EngineConfig {
        max_text_bytes: 1 << 20,
        ..EngineConfig::default()
    });
    let mut live = engine.open_stream(&RequestOptions::default()).unwrap();
    assert!(matches!(
        live.push_bytes(&bytes[..2 << 20]),
        Err(Error::TextTooLong { .. })
    ));
    live.push_text("Small after big.").unwrap();
    live.finish().unwrap();
    let chunks: Vec<Chunk> = live.map(|c| c.unwrap()).collect();
    check_order(&chunks);
    assert_eq!(sentences(&chunks), vec![(0, 0..16)]);
}

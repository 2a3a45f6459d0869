//! Word and phoneme timings through the engine with the real default Piper
//! voice: where each word lands in the output (any rate, any gap), what
//! the options turn on and off, estimated words for a model without
//! durations, and the short first chunk.

mod common;

use common::{collect, piper_engine as engine};

use std::time::Duration;

use ishowtts::audio::join::SentenceGap;
use ishowtts::backend::{Backend, ModelLoader, SentenceJob};
use ishowtts::engine::{Chunk, Engine, EngineConfig, RequestOptions, SynthesisOptions, VoiceSpec};
use ishowtts::text::Language;
use ishowtts::timing::{Viseme, WordTiming};
use ishowtts::{ErrorCode, Result};

use ishowtts::candle::Device;
use std::sync::Arc;

const TEXT: &str = "Hello, world! The quick brown fox jumps over the lazy dog. It's done.";

fn words(chunks: &[Chunk]) -> Vec<WordTiming> {
    chunks.iter().flat_map(|c| c.words.clone()).collect()
}

fn total(chunks: &[Chunk]) -> u64 {
    chunks.iter().map(|c| c.samples.len() as u64).sum()
}

fn opts() -> RequestOptions {
    RequestOptions::default()
        .voice("joe")
        .seed(3)
        .use_cache(false)
}

#[test]
fn piper_words_are_the_texts_in_order_within_the_audio() {
    let engine = engine();
    let chunks = collect(&engine, TEXT, &opts());
    let w = words(&chunks);
    let names: Vec<&str> = w.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(
        names,
        [
            "Hello", "world", "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy",
            "dog", "It's", "done"
        ]
    );
    let end = total(&chunks);
    for pair in w.windows(2) {
        assert!(pair[0].end <= pair[1].start, "{pair:?}");
    }
    for x in &w {
        assert!(
            !x.estimated && x.start < x.end && x.end <= end,
            "{x:?} of {end}"
        );
        // a word lasts between 40 ms and 1.5 s at 22.05 kHz
        let len = x.end - x.start;
        assert!((880..33_000).contains(&len), "{x:?}");
    }
    // words come with the chunk that ends their sentence, inside its span
    for c in &chunks {
        if !c.ends_sentence {
            assert!(c.words.is_empty());
        }
        let sentence = &TEXT[c.text_span.clone()];
        for x in &c.words {
            assert!(sentence.contains(&x.word), "{} in {sentence}", x.word);
        }
    }
}

#[test]
fn word_times_follow_the_output_rate_and_the_gaps() {
    let engine = engine();
    let native = words(&collect(&engine, TEXT, &opts()));
    // resampled: the same places, scaled (rounding only)
    let at48 = words(&collect(&engine, TEXT, &opts().sample_rate(48_000)));
    assert_eq!(native.len(), at48.len());
    for (a, b) in native.iter().zip(&at48) {
        let scaled = a.start as f64 * 48_000.0 / 22_050.0;
        assert!((b.start as f64 - scaled).abs() <= 1.0, "{a:?} {b:?}");
    }
    // 100 ms of silence between sentences: each later sentence's words
    // move by 2205 samples per gap before it
    let silence = collect(
        &engine,
        TEXT,
        &opts().gap(SentenceGap::Silence(Duration::from_millis(100))),
    );
    let sentence_of = |w: &WordTiming, chunks: &[Chunk]| {
        chunks
            .iter()
            .find(|c| c.words.contains(w))
            .map(|c| c.sentence_index)
            .unwrap()
    };
    let native_chunks = collect(&engine, TEXT, &opts());
    let gapped = words(&silence);
    for (a, b) in native.iter().zip(&gapped) {
        let s = sentence_of(a, &native_chunks) as u64;
        assert_eq!(b.start, a.start + 2205 * s, "{a:?} {b:?}");
    }
    // a 50 ms cross-fade overlaps the sentences: earlier by 1103 each
    let faded = words(&collect(
        &engine,
        TEXT,
        &opts().gap(SentenceGap::Crossfade(Duration::from_millis(50))),
    ));
    for (a, b) in native.iter().zip(&faded) {
        let s = sentence_of(a, &native_chunks) as u64;
        assert_eq!(b.start + 1103 * s, a.start, "{a:?} {b:?}");
    }
}

#[test]
fn timings_are_switched_by_the_options() {
    let engine = engine();
    let off = collect(&engine, TEXT, &opts().word_timings(false));
    assert!(off
        .iter()
        .all(|c| c.words.is_empty() && c.phonemes.is_empty()));
    let on = collect(&engine, TEXT, &opts().phoneme_timings(true));
    let phonemes: Vec<_> = on.iter().flat_map(|c| c.phonemes.clone()).collect();
    assert!(phonemes.len() > 40);
    for pair in phonemes.windows(2) {
        assert!(pair[0].end <= pair[1].start && pair[0].start < pair[0].end);
    }
    // stress marks are part of a phoneme, never one of their own
    assert!(phonemes
        .iter()
        .all(|p| p.phoneme != "ˈ" && p.phoneme != "ˌ"));
    assert!(phonemes.iter().any(|p| p.viseme == Viseme::PP)); // "brown"
    assert!(phonemes.iter().any(|p| p.viseme == Viseme::Sil)); // ","
                                                               // each word's time is covered by its phonemes
    for w in words(&on) {
        assert!(phonemes.iter().any(|p| p.start == w.start), "{w:?}");
    }
    // the audio does not depend on the timings asked for
    let a: Vec<f32> = off.iter().flat_map(|c| c.samples.to_f32()).collect();
    let b: Vec<f32> = on.iter().flat_map(|c| c.samples.to_f32()).collect();
    assert_eq!(a, b);
}

#[test]
fn a_long_first_sentence_is_cut_at_a_clause() {
    let engine = engine();
    let text = "When the first sentence runs on for a long while, its first \
                clause is spoken on its own, so that the listener hears something \
                soon. The second sentence is whole, even if it has commas, like \
                this one.";
    let chunks = collect(&engine, text, &opts().first_chunk_max_chars(60));
    let spans: Vec<&str> = chunks.iter().map(|c| &text[c.text_span.clone()]).collect();
    assert_eq!(
        spans[0],
        "When the first sentence runs on for a long while,"
    );
    assert_eq!(spans.len(), 3, "{spans:?}");
    let whole = collect(&engine, text, &opts());
    assert_eq!(whole.len(), 2);
    let err = engine
        .stream(text, &opts().first_chunk_max_chars(0))
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::InvalidParameter);
}

/// A test double: a model that reports no timings (as flow-matching and
/// autoregressive models do), one second of audio per sentence.
#[derive(Debug)]
struct NoDurationsLoader;

impl ModelLoader for NoDurationsLoader {
    fn key(&self) -> String {
        "test-double:no-durations".into()
    }
    fn language(&self) -> Language {
        Language::English
    }
    fn check_options(&self, _: &SynthesisOptions) -> Result<()> {
        Ok(())
    }
    fn load(&self, _: &Device) -> Result<Box<dyn Backend>> {
        Ok(Box::new(NoDurations))
    }
}

struct NoDurations;

impl Backend for NoDurations {
    fn sample_rate(&self) -> u32 {
        16_000
    }
    fn synthesize(&mut self, _: &mut SentenceJob<'_>) -> Result<Vec<f32>> {
        Ok(vec![0.1; 16_000])
    }
}

#[test]
fn models_without_durations_get_estimated_words() {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    engine
        .add_voice("double", VoiceSpec::new(Arc::new(NoDurationsLoader)))
        .unwrap();
    let chunks = collect(
        &engine,
        "One two three. Four, five.",
        &RequestOptions::default().voice("double"),
    );
    let w = words(&chunks);
    let names: Vec<&str> = w.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(names, ["One", "two", "three", "Four", "five"]);
    assert!(w.iter().all(|w| w.estimated));
    // spread over each sentence's second of audio
    assert_eq!(w[0].start, 0);
    assert!(w[2].end <= 16_000 && w[3].start >= 16_000 && w[4].end <= 32_000);
}

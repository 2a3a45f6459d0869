//! When each word (and, for lip-sync, each phoneme) is heard.
//!
//! A model reports a sentence's timings relative to its own audio
//! ([`SentenceTiming`], model samples): Piper exactly, from its duration
//! predictor; models without per-word durations get an estimate from the
//! text ([`estimate_words`]). The engine places them in the request's
//! output ([`WordTiming`], [`PhonemeTiming`]: output samples from the
//! stream's start) and hands them out with the chunk that ends the
//! sentence. [`subtitles`] writes them as WebVTT, SRT or JSON.

pub mod estimate;
pub mod subtitles;
pub mod visemes;

pub use estimate::estimate_words;
pub use visemes::Viseme;

use std::ops::Range;

/// A word as the engine delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordTiming {
    /// The word as spoken (the sentence's text after normalization:
    /// "$5" is heard and written as "five dollars").
    pub word: String,
    /// First sample where it is heard, in the request's output (same
    /// count as [`Chunk::sample_offset`](crate::engine::Chunk::sample_offset)).
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
    /// Estimated from the text rather than measured from the model.
    pub estimated: bool,
}

/// A phoneme as the engine delivers it (Piper voices, on request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeTiming {
    /// The phoneme in IPA, with its stress and length marks.
    pub phoneme: String,
    /// First sample, in the request's output.
    pub start: u64,
    /// One past its last sample.
    pub end: u64,
    /// The mouth shape to show while it is heard.
    pub viseme: Viseme,
}

/// A span of a sentence's audio, as a model reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedSpan {
    /// The word or phoneme.
    pub text: String,
    /// Its model samples, from the sentence's first.
    pub samples: Range<usize>,
}

/// What a model measured of a sentence it spoke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentenceTiming {
    /// Its words, in order.
    pub words: Vec<TimedSpan>,
    /// Its phonemes, in order (only when asked for).
    pub phonemes: Vec<TimedSpan>,
}

/// Which timings a request wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimingRequest {
    /// Word timings.
    pub words: bool,
    /// Phoneme timings with visemes (models that have phonemes).
    pub phonemes: bool,
}

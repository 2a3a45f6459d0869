//! What a caller asks for and what comes back: options, chunks, the pull
//! stream and the cancel handle.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

pub use crate::backend::{CancelHandle, SynthesisOptions};

use crate::audio::format::{SampleFormat, Samples};
use crate::audio::join::SentenceGap;
use crate::timing::{PhonemeTiming, WordTiming};
use crate::{Error, Result};

/// Everything a request can set. `RequestOptions::default()` speaks with
/// the default voice, f32 at the model's rate, cache on.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOptions {
    /// Registered voice name; `None` is the engine's default voice.
    pub voice: Option<String>,
    /// Model settings.
    pub synthesis: SynthesisOptions,
    /// Output rate (8000, 16000, 22050, 24000, 44100 or 48000); `None` is
    /// the model's own rate.
    pub sample_rate: Option<u32>,
    /// Output sample format.
    pub format: SampleFormat,
    /// What goes between sentences.
    pub gap: SentenceGap,
    /// Cut the first sentence short (at a clause) to hear audio sooner.
    pub short_first_chunk: bool,
    /// Length in chars past which the first sentence is cut at a clause
    /// (`, ; : —`, CJK commas; else a space), at least 1. `Some` turns the
    /// cut on; `None` takes the engine's
    /// ([`SplitOptions::first_max_chars`](crate::text::SplitOptions::first_max_chars),
    /// 60) when [`Self::short_first_chunk`] is on.
    pub first_chunk_max_chars: Option<usize>,
    /// Word timings on each chunk that ends a sentence
    /// ([`Chunk::words`]); on by default.
    pub word_timings: bool,
    /// Phoneme timings with visemes, for lip-sync ([`Chunk::phonemes`];
    /// Piper voices); off by default.
    pub phoneme_timings: bool,
    /// Read from and store into the output cache.
    pub use_cache: bool,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            voice: None,
            synthesis: SynthesisOptions::default(),
            sample_rate: None,
            format: SampleFormat::F32,
            gap: SentenceGap::None,
            short_first_chunk: false,
            first_chunk_max_chars: None,
            word_timings: true,
            phoneme_timings: false,
            use_cache: true,
        }
    }
}

impl RequestOptions {
    /// Speak with the registered voice `name`.
    pub fn voice(mut self, name: impl Into<String>) -> Self {
        self.voice = Some(name.into());
        self
    }
    /// Deliver audio at `rate` Hz.
    pub fn sample_rate(mut self, rate: u32) -> Self {
        self.sample_rate = Some(rate);
        self
    }
    /// Deliver `format` samples.
    pub fn format(mut self, format: SampleFormat) -> Self {
        self.format = format;
        self
    }
    /// Speaking rate (see [`SynthesisOptions::speed`]).
    pub fn speed(mut self, speed: f32) -> Self {
        self.synthesis.speed = Some(speed);
        self
    }
    /// Fixed seed (see [`SynthesisOptions::seed`]).
    pub fn seed(mut self, seed: u64) -> Self {
        self.synthesis.seed = Some(seed);
        self
    }
    /// Speaker id (see [`SynthesisOptions::speaker`]).
    pub fn speaker(mut self, speaker: i64) -> Self {
        self.synthesis.speaker = Some(speaker);
        self
    }
    /// Language of the text (see [`SynthesisOptions::language`]).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.synthesis.language = Some(language.into());
        self
    }
    /// Style instruction (see [`SynthesisOptions::instruct`]).
    pub fn instruct(mut self, instruct: impl Into<String>) -> Self {
        self.synthesis.instruct = Some(instruct.into());
        self
    }
    /// Silence or cross-fade between sentences.
    pub fn gap(mut self, gap: SentenceGap) -> Self {
        self.gap = gap;
        self
    }
    /// Short first chunk (see [`RequestOptions::short_first_chunk`]).
    pub fn short_first_chunk(mut self, on: bool) -> Self {
        self.short_first_chunk = on;
        self
    }
    /// Cut a first sentence longer than `chars` at a clause (see
    /// [`RequestOptions::first_chunk_max_chars`]).
    pub fn first_chunk_max_chars(mut self, chars: usize) -> Self {
        self.first_chunk_max_chars = Some(chars);
        self
    }
    /// Word timings on or off (see [`RequestOptions::word_timings`]).
    pub fn word_timings(mut self, on: bool) -> Self {
        self.word_timings = on;
        self
    }
    /// Phoneme timings and visemes on or off (see
    /// [`RequestOptions::phoneme_timings`]).
    pub fn phoneme_timings(mut self, on: bool) -> Self {
        self.phoneme_timings = on;
        self
    }
    /// The timings asked for.
    pub fn timing_request(&self) -> crate::timing::TimingRequest {
        crate::timing::TimingRequest {
            words: self.word_timings,
            phonemes: self.phoneme_timings,
        }
    }
    /// Use the output cache or not.
    pub fn use_cache(mut self, on: bool) -> Self {
        self.use_cache = on;
        self
    }
}

/// Where the time of a chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChunkTimings {
    /// Waiting for the worker before this sentence started (behind other
    /// requests' sentences, or a model load).
    pub queue_wait: Duration,
    /// Model time for this chunk: its sentence, or for a piece of one (a
    /// model that streams within sentences) the steps since the previous
    /// piece.
    pub synthesis: Duration,
    /// From the request's submission to this chunk's delivery.
    pub since_request: Duration,
    /// Replayed from the output cache.
    pub from_cache: bool,
}

/// Audio of one sentence, or of a piece of one, as delivered.
///
/// Most models deliver a sentence as one chunk. A model that streams
/// within a sentence (Qwen3-TTS, a few frames at a time) delivers it as
/// several consecutive chunks with the same `sentence_index` and
/// `text_span`; the last of them has `ends_sentence` set. Either way the
/// chunks of a request are contiguous: each one's `sample_offset` is the
/// previous one's plus its length.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Id of the request (unique per engine).
    pub request_id: u64,
    /// 0-based sentence index within the request.
    pub sentence_index: usize,
    /// Byte span of the sentence in the request's text (the whole
    /// sentence, for each of its pieces).
    pub text_span: Range<usize>,
    /// Index of this chunk's first sample in the request's output.
    pub sample_offset: u64,
    /// Rate of `samples`.
    pub sample_rate: u32,
    /// The request's final chunk (it may be empty when the last sentence
    /// had nothing to say but a resampler tail to flush).
    pub is_last: bool,
    /// The last chunk of its sentence (always set for models that deliver
    /// whole sentences, and on the `is_last` chunk).
    pub ends_sentence: bool,
    /// The audio.
    pub samples: Samples,
    /// Timings.
    pub timings: ChunkTimings,
    /// The words of the sentence this chunk ends, with where each is heard
    /// in the request's output (empty on other chunks, and when
    /// [`RequestOptions::word_timings`] is off). They may reach past this
    /// chunk's audio: a cross-fade or the resampler holds a few ms back,
    /// and a model that streams a sentence in pieces gives its words with
    /// the last piece.
    pub words: Vec<WordTiming>,
    /// The sentence's phonemes with visemes, likewise (with
    /// [`RequestOptions::phoneme_timings`], for models with phonemes).
    pub phonemes: Vec<PhonemeTiming>,
}

impl Chunk {
    /// Duration of the chunk's audio.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / self.sample_rate as f64)
    }
}

/// What a chunk callback tells the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Cancel the request.
    Stop,
}

/// How a request ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Chunks are still coming.
    Running,
    /// Every chunk was delivered.
    Finished,
    /// Cancelled; chunks delivered before stay valid.
    Cancelled,
    /// Failed; the error was the stream's last item.
    Failed,
}

/// What [`Stream::poll_chunk`] found.
#[derive(Debug)]
pub enum Polled {
    /// The next chunk.
    Chunk(Chunk),
    /// Nothing yet within the timeout.
    Pending,
    /// The stream has ended (see [`Stream::status`]).
    Done,
}

pub(crate) enum Event {
    Chunk(Chunk),
    Failed(Error),
    Cancelled,
}

/// Undelivered chunks a request may have before the worker serves other
/// requests first (keeps a slow reader from piling up audio).
pub(crate) const MAX_UNREAD_CHUNKS: usize = 4;

/// Pull side of a request: an iterator of chunks, in order. Dropping it
/// cancels the request.
pub struct Stream {
    request_id: u64,
    rx: Receiver<Event>,
    cancel: CancelHandle,
    unread: Arc<AtomicUsize>,
    status: StreamStatus,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("request_id", &self.request_id)
            .field("status", &self.status)
            .finish()
    }
}

impl Stream {
    pub(crate) fn new(
        request_id: u64,
        rx: Receiver<Event>,
        cancel: CancelHandle,
        unread: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            request_id,
            rx,
            cancel,
            unread,
            status: StreamStatus::Running,
        }
    }

    /// The request's id (as in its chunks).
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    /// A handle that cancels this request from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Cancels the request.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// How the request stands.
    pub fn status(&self) -> StreamStatus {
        self.status
    }

    /// Waits up to `timeout` (forever with `None`) for the next chunk.
    /// A failure is returned once, then the stream is done.
    pub fn poll_chunk(&mut self, timeout: Option<Duration>) -> Result<Polled> {
        if self.status != StreamStatus::Running {
            return Ok(Polled::Done);
        }
        let event = match timeout {
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => self.rx.recv_timeout(t),
        };
        match event {
            Ok(Event::Chunk(chunk)) => {
                if self.unread.fetch_sub(1, Ordering::SeqCst) == MAX_UNREAD_CHUNKS {
                    // The worker may have set this request aside as full.
                    self.cancel.wake();
                }
                if chunk.is_last {
                    self.status = StreamStatus::Finished;
                }
                Ok(Polled::Chunk(chunk))
            }
            Ok(Event::Failed(e)) => {
                self.status = StreamStatus::Failed;
                Err(e)
            }
            Ok(Event::Cancelled) => {
                self.status = StreamStatus::Cancelled;
                Ok(Polled::Done)
            }
            Err(RecvTimeoutError::Timeout) => Ok(Polled::Pending),
            Err(RecvTimeoutError::Disconnected) => {
                self.status = StreamStatus::Failed;
                Err(Error::EngineClosed)
            }
        }
    }
}

impl Iterator for Stream {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Result<Chunk>> {
        match self.poll_chunk(None) {
            Ok(Polled::Chunk(c)) => Some(Ok(c)),
            Ok(Polled::Done) | Ok(Polled::Pending) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.status == StreamStatus::Running {
            self.cancel.cancel();
        }
    }
}

/// A whole request's audio (see [`Engine::synthesize`](super::Engine::synthesize)).
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// The request's id.
    pub request_id: u64,
    /// All samples, in order.
    pub samples: Samples,
    /// Their rate.
    pub sample_rate: u32,
    /// Number of chunks (sentences) joined.
    pub chunks: usize,
    /// Whether it was replayed from the output cache.
    pub from_cache: bool,
}

impl Audio {
    /// Duration of the audio.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / self.sample_rate as f64)
    }
}

/// How a callback-driven request went.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    /// The request's id.
    pub request_id: u64,
    /// Chunks handed to the callback.
    pub chunks: usize,
    /// Samples handed to the callback.
    pub samples: u64,
    /// Rate of those samples (0 when no chunk came).
    pub sample_rate: u32,
    /// Whether the request was cancelled (by the callback or a handle).
    pub cancelled: bool,
    /// Submission to first chunk.
    pub time_to_first_audio: Option<Duration>,
    /// Submission to the end.
    pub total_time: Duration,
}

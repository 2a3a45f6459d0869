//! Requests whose text arrives while they speak
//! ([`Engine::open_stream`](super::Engine::open_stream)): an LLM's tokens, a
//! chat's messages, a game's lines.
//!
//! The text goes through an [`IncrementalSplitter`]; each settled sentence
//! is normalized on the pushing thread and handed to the worker, which
//! speaks it as it would a sentence of a whole request. Pushing never waits
//! for synthesis.

use std::sync::Arc;

use super::request::{CancelHandle, Chunk, Stream};
use super::scheduler::{LiveText, PlannedSentence};
use crate::text::incremental::{IncrementalSplitter, StreamSentence};
use crate::text::language::Language;
use crate::text::split::SplitOptions;
use crate::{Error, Result};

/// The text side of a live request: push text, flush, finish, cancel.
/// `Send`: push from one thread while another reads the audio. Dropping
/// it finishes the text (what was pushed is still spoken); cancel to stop.
pub struct TextInput {
    live: Arc<LiveText>,
    splitter: IncrementalSplitter,
    language: Language,
    normalize_text: bool,
    max_bytes: usize,
    cancel: CancelHandle,
    finished: bool,
}

impl std::fmt::Debug for TextInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextInput")
            .field("pushed_bytes", &self.splitter.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl TextInput {
    pub(crate) fn new(
        live: Arc<LiveText>,
        split: SplitOptions,
        language: Language,
        normalize_text: bool,
        max_bytes: usize,
        cancel: CancelHandle,
    ) -> Self {
        Self {
            live,
            splitter: IncrementalSplitter::new(split),
            language,
            normalize_text,
            max_bytes,
            cancel,
            finished: false,
        }
    }

    /// Adds text. The sentences it settles start speaking at once.
    pub fn push_text(&mut self, text: &str) -> Result<()> {
        self.check_push(text.len())?;
        let settled = self.splitter.push(text)?;
        self.send(settled, false);
        Ok(())
    }

    /// Adds UTF-8 bytes that may start or end inside a character (a host
    /// cutting its buffer anywhere); the rest of a cut character comes with
    /// the next push. Bytes that are not UTF-8 are [`Error::InvalidText`]
    /// and nothing of that push is taken.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_push(bytes.len())?;
        let settled = self.splitter.push_bytes(bytes)?;
        self.send(settled, false);
        Ok(())
    }

    /// Speaks what is held back now, as if the text ended here; the text
    /// pushed after it starts a new sentence. Nothing held: a no-op.
    pub fn flush(&mut self) -> Result<()> {
        self.check_open()?;
        let held = self.splitter.flush();
        self.send(held, false);
        Ok(())
    }

    /// Ends the text: what is held back is spoken, and the audio stream
    /// ends after it. Further pushes are refused.
    pub fn finish(&mut self) -> Result<()> {
        self.check_open()?;
        self.finished = true;
        let result = self.splitter.finish();
        // the text ends either way: a character left cut is an error, the
        // sentences before it are still spoken
        let last = match &result {
            Ok(s) => s.clone(),
            Err(_) => self.splitter.flush(),
        };
        self.send(last, true);
        result.map(|_| ())
    }

    /// Stops the request: no further sentence starts, and the audio stream
    /// ends (as [`Stream::cancel`]).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Bytes of text pushed so far.
    pub fn pushed_bytes(&self) -> usize {
        self.splitter.len()
    }

    fn check_open(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if self.finished {
            return Err(Error::InvalidArgument(
                "the text was finished: no more can be pushed".into(),
            ));
        }
        Ok(())
    }

    fn check_push(&self, n: usize) -> Result<()> {
        self.check_open()?;
        let len = self.splitter.len() + n;
        if len > self.max_bytes {
            return Err(Error::TextTooLong {
                len,
                max: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Hands settled sentences (and with `finish`, the end) to the worker.
    fn send(&self, settled: Vec<StreamSentence>, finish: bool) {
        if settled.is_empty() && !finish {
            return;
        }
        let planned = settled
            .into_iter()
            .map(|s| PlannedSentence {
                text: super::spoken_text(&s.text, self.language, self.normalize_text),
                span: s.span,
            })
            .collect();
        self.live.append(planned, finish);
        self.cancel.wake();
    }
}

impl Drop for TextInput {
    fn drop(&mut self) {
        if !self.finished && !self.cancel.is_cancelled() {
            let _ = self.finish();
        }
    }
}

/// A live request: its text input and its audio, together. Push text with
/// [`TextStream::push_text`] and read chunks by iterating it; or
/// [`TextStream::split`] it to push from one thread and read on another.
/// Chunks have the same metadata as a [`Stream`]'s: the spans are byte
/// ranges of all the text pushed. When the text is finished after its last
/// sentence went out, the stream ends with an empty-spanned chunk one past
/// that sentence, holding what the output stage still held (a cross-fade
/// tail, the resampler's delay).
///
/// Dropping it cancels the request (as a [`Stream`]).
pub struct TextStream {
    input: TextInput,
    audio: Stream,
}

impl std::fmt::Debug for TextStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextStream")
            .field("input", &self.input)
            .field("audio", &self.audio)
            .finish()
    }
}

impl TextStream {
    pub(crate) fn new(input: TextInput, audio: Stream) -> Self {
        Self { input, audio }
    }

    /// See [`TextInput::push_text`].
    pub fn push_text(&mut self, text: &str) -> Result<()> {
        self.input.push_text(text)
    }

    /// See [`TextInput::push_bytes`].
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.input.push_bytes(bytes)
    }

    /// See [`TextInput::flush`].
    pub fn flush(&mut self) -> Result<()> {
        self.input.flush()
    }

    /// See [`TextInput::finish`].
    pub fn finish(&mut self) -> Result<()> {
        self.input.finish()
    }

    /// Cancels the request.
    pub fn cancel(&self) {
        self.input.cancel();
    }

    /// The audio side.
    pub fn audio(&mut self) -> &mut Stream {
        &mut self.audio
    }

    /// The text input and the audio stream, to use from two threads.
    pub fn split(self) -> (TextInput, Stream) {
        (self.input, self.audio)
    }
}

impl Iterator for TextStream {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.audio.next()
    }
}

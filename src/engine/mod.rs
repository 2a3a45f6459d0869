//! The engine: one object that owns the models, their worker and the
//! caches, and turns text into a stream of per-sentence audio chunks.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ishowtts::engine::{Engine, EngineConfig, Flow, RequestOptions, VoiceSpec};
//!
//! let engine = Arc::new(Engine::new(EngineConfig::default())?);
//! engine.add_voice("joe", VoiceSpec::piper_default()?)?;
//! // Push: a callback per sentence, on this thread.
//! engine.synthesize_with("Hello there. How are you?", &RequestOptions::default(), |chunk| {
//!     println!("sentence {} ({} samples)", chunk.sentence_index, chunk.samples.len());
//!     Flow::Continue
//! })?;
//! // Pull: an iterator (cancel from any thread with `stream.cancel_handle()`).
//! for chunk in engine.stream("Second request.", &RequestOptions::default().sample_rate(16000))? {
//!     let chunk = chunk?;
//! }
//! # Ok::<(), ishowtts::Error>(())
//! ```
//!
//! Pieces: [`config`] (how an engine is built), [`voice`] (voice specs and
//! the registry), [`backend`] (the model trait, a module of its own that
//! the models use too), [`request`] (options, chunks, streams), `scheduler`
//! (the workers), [`cache`] (output cache), [`metrics`].

/// The model trait, at its own place (`crate::backend`), under its old name.
pub use crate::backend;
pub mod cache;
pub mod config;
pub mod live;
pub mod metrics;
pub mod request;
mod scheduler;
pub mod voice;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use rand::SeedableRng;

pub use backend::{Backend, ModelLoader, Reference, SentenceInProgress, SentenceJob, VoicePrompt};
pub use cache::CacheStats;
pub use config::{CacheLimits, DeviceSpec, EngineConfig, MAX_BATCH, MAX_WORKERS};
pub use live::{TextInput, TextStream};
pub use metrics::{MetricsSnapshot, Percentiles};
pub use request::{
    Audio, CancelHandle, Chunk, ChunkTimings, Flow, Polled, RequestOptions, RequestSummary, Stream,
    StreamStatus, SynthesisOptions,
};
pub use voice::{VoiceInfo, VoiceSpec};

use crate::audio::format::Samples;
use crate::audio::join::SentenceJoiner;
use crate::audio::resample::SUPPORTED_RATES;
use crate::audio::wav::WavFileWriter;
use crate::text::normalize::normalize;
use crate::text::split::split_sentences;
use crate::{Error, Result};
use cache::{output_key, OutputCache};
use metrics::Metrics;
use request::Event;
use scheduler::{InFlightSlot, Job, LiveText, PlannedSentence, Queue, Shared};
use voice::Registry;

/// The text-to-speech engine. `Send + Sync`: share it by `Arc` and call it
/// from any thread. Dropping it stops the workers; requests still running
/// end with [`Error::EngineClosed`].
pub struct Engine {
    shared: Arc<Shared>,
    registry: RwLock<Registry>,
    config: EngineConfig,
    next_id: AtomicU64,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("voices", &self.voices())
            .finish()
    }
}

/// A request that passed [`Engine::check_request`].
struct CheckedRequest {
    submitted: Instant,
    voice: Arc<voice::VoiceEntry>,
    sentences: Vec<PlannedSentence>,
    /// The request's options with the voice's own settings under them.
    options: RequestOptions,
}

impl Engine {
    /// Starts an engine with no voices (add them with
    /// [`Engine::add_voice`]). Nothing is loaded until the first request.
    pub fn new(config: EngineConfig) -> Result<Self> {
        config.validate()?;
        let device = config.device.device()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            in_flight: Default::default(),
            wake: Condvar::new(),
            metrics: Metrics::default(),
            output_cache: Mutex::new(OutputCache::new(config.output_cache)),
            idle_unload: config.idle_unload,
            prompt_cache_entries: config.prompt_cache_entries,
            max_batch: config.max_batch,
            batch_window: config.batch_window,
            device,
            workers: config.workers,
        });
        let engine = Self {
            shared: shared.clone(),
            registry: RwLock::new(Registry::default()),
            config,
            next_id: AtomicU64::new(1),
            workers: Mutex::new(Vec::new()),
        };
        for index in 0..engine.config.workers {
            let worker_shared = shared.clone();
            let worker = std::thread::Builder::new()
                .name(format!("ishowtts-worker-{index}"))
                .spawn(move || scheduler::run(worker_shared, index))
                .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))?;
            // on an error here, dropping the engine stops the ones started
            engine.lock_workers().push(worker);
        }
        Ok(engine)
    }

    /// An engine whose default voice is the installed default Piper voice,
    /// registered as `"default"`.
    #[cfg(feature = "espeak")]
    pub fn with_default_voice(config: EngineConfig) -> Result<Self> {
        let engine = Self::new(config)?;
        engine.add_voice("default", VoiceSpec::piper_default()?)?;
        Ok(engine)
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    fn registry_read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn registry_write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `name` (replacing a voice of that name); returns its new
    /// version. The first voice added becomes the default. Requests already
    /// running keep the voice they started with.
    pub fn add_voice(&self, name: &str, spec: VoiceSpec) -> Result<u64> {
        let mut reg = self.registry_write();
        let old = reg.resolve(Some(name)).ok();
        let version = reg.add(name, spec)?;
        if let Some(old) = old {
            self.retire_if_unused(&reg, &old.model_key());
        }
        Ok(version)
    }

    /// Removes `name`. Its model is unloaded once no voice uses it and no
    /// request needs it.
    pub fn remove_voice(&self, name: &str) -> Result<()> {
        let mut reg = self.registry_write();
        let old = reg.remove(name)?;
        self.retire_if_unused(&reg, &old.model_key());
        Ok(())
    }

    fn retire_if_unused(&self, reg: &Registry, model: &str) {
        if !reg.uses_model(model) {
            let mut q = self.shared.lock_queue();
            q.retire(model, self.shared.workers);
            self.shared.wake.notify_all();
        }
    }

    /// Makes `name` the voice of requests that name none.
    pub fn set_default_voice(&self, name: &str) -> Result<()> {
        self.registry_write().set_default(name)
    }

    /// The registered voices.
    pub fn voices(&self) -> Vec<VoiceInfo> {
        self.registry_read().list()
    }

    /// Starts a request and returns its pull stream. Text and options are
    /// checked here, so a bad request fails at once with its specific
    /// error; a cache hit is answered without the worker.
    pub fn stream(&self, text: &str, options: &RequestOptions) -> Result<Stream> {
        let checked = self.check_request(text, options)?;
        self.start(checked, None)
    }

    /// Everything [`Engine::stream`] checks before a request starts: the
    /// voice, text and options; the text split into sentences.
    fn check_request(&self, text: &str, options: &RequestOptions) -> Result<CheckedRequest> {
        let submitted = Instant::now();
        let voice = self.registry_read().resolve(options.voice.as_deref())?;
        self.check_text(text)?;
        let options = RequestOptions {
            synthesis: options.synthesis.or(&voice.spec.options),
            ..options.clone()
        };
        voice.spec.loader.check_options(&options.synthesis)?;
        if let Some(id) = options.synthesis.speaker {
            voice::check_speaker(id, voice.spec.loader.num_speakers())?;
        }
        check_output(&options)?;
        let sentences = self.plan(text, voice.spec.loader.language(), &options);
        if !sentences
            .iter()
            .any(|s| s.text.chars().any(char::is_alphanumeric))
        {
            return Err(Error::NothingToSpeak);
        }
        Ok(CheckedRequest {
            submitted,
            voice,
            sentences,
            options,
        })
    }

    /// Starts a checked request: replayed from the cache, or queued for the
    /// worker. A `live` request's sentences arrive later (never cached).
    fn start(&self, checked: CheckedRequest, live: Option<Arc<LiveText>>) -> Result<Stream> {
        let CheckedRequest {
            submitted,
            voice,
            sentences,
            options,
        } = checked;
        let options = &options;
        let _span = tracing::info_span!("request", voice = %voice.name).entered();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Weak: a handle kept after the engine is gone must not keep it alive.
        let shared = Arc::downgrade(&self.shared);
        let cancel = CancelHandle::new(Arc::new(move || {
            if let Some(s) = shared.upgrade() {
                s.notify();
            }
        }));
        let (tx, rx) = mpsc::channel();
        let unread = Arc::new(AtomicUsize::new(0));

        let texts: Vec<String> = sentences.iter().map(|s| s.text.clone()).collect();
        let use_cache = live.is_none() && options.use_cache && self.shared.lock_cache().enabled();
        let cache_key = use_cache.then(|| output_key(&texts, &voice, options));
        if let Some(key) = &cache_key {
            let hit = self.shared.lock_cache().get(key);
            if let Some(hit) = hit {
                self.shared.metrics.request_accepted();
                for cached in hit.chunks.iter() {
                    let mut chunk = cached.clone();
                    chunk.request_id = id;
                    // the key holds the sentences' texts, not their places
                    if let Some(planned) = sentences.get(chunk.sentence_index) {
                        chunk.text_span = planned.span.clone();
                    }
                    chunk.timings = ChunkTimings {
                        since_request: submitted.elapsed(),
                        from_cache: true,
                        ..Default::default()
                    };
                    // The receiver is in hand: sending cannot fail.
                    let _ = tx.send(Event::Chunk(chunk));
                }
                self.shared.metrics.first_audio(submitted.elapsed());
                self.shared
                    .metrics
                    .request_ended(metrics::Outcome::Completed);
                // Replayed chunks are not counted against the reader's
                // backlog: the worker never sees this request.
                return Ok(Stream::new(id, rx, cancel, Arc::new(AtomicUsize::new(0))));
            }
        }

        let slot = match InFlightSlot::take(&self.shared.in_flight, self.config.queue_limit) {
            Ok(slot) => slot,
            Err(pending) => {
                self.shared.metrics.request_busy();
                return Err(Error::Busy {
                    pending,
                    limit: self.config.queue_limit,
                });
            }
        };
        let seed = options.synthesis.seed;
        let job = Job {
            id,
            voice,
            sentences,
            options: options.clone(),
            rng: match seed {
                Some(s) => rand::rngs::StdRng::seed_from_u64(s),
                None => rand::rngs::StdRng::from_os_rng(),
            },
            tx,
            cancel: cancel.clone(),
            unread: unread.clone(),
            submitted,
            cache_key,
            next: 0,
            ready_since: submitted,
            output: None,
            recorded: cache_key.map(|_| Vec::new()),
            recorded_bytes: 0,
            pieces: 0,
            chunks_sent: 0,
            sentence_samples: 0,
            sentence_model_time: Default::default(),
            parked: None,
            live,
            slot: Some(slot),
        };
        {
            let mut q = self.shared.lock_queue();
            if q.closed {
                return Err(Error::EngineClosed);
            }
            q.jobs.push_back(job);
            self.shared.metrics.request_accepted();
            self.shared.wake.notify_all();
        }
        Ok(Stream::new(id, rx, cancel, unread))
    }

    /// Speaks `text`, calling `on_chunk` on this thread for each sentence as
    /// soon as it is ready. Returning [`Flow::Stop`] cancels the rest. A
    /// panicking callback cancels the request and returns
    /// [`Error::CallbackFailed`]; the engine stays usable.
    pub fn synthesize_with(
        &self,
        text: &str,
        options: &RequestOptions,
        mut on_chunk: impl FnMut(&Chunk) -> Flow,
    ) -> Result<RequestSummary> {
        let start = Instant::now();
        let stream = self.stream(text, options)?;
        Self::deliver(stream, start, |chunk| {
            catch_unwind(AssertUnwindSafe(|| on_chunk(chunk))).map_err(|panic| {
                Error::CallbackFailed(format!(
                    "the callback panicked: {}",
                    scheduler::panic_message(&*panic)
                ))
            })
        })
    }

    /// Reads `stream` to its end, handing each chunk to `on_chunk` and
    /// counting what it was given: [`Flow::Stop`] or an error cancels the
    /// rest (the error is returned).
    fn deliver(
        mut stream: Stream,
        start: Instant,
        mut on_chunk: impl FnMut(&Chunk) -> Result<Flow>,
    ) -> Result<RequestSummary> {
        let mut summary = RequestSummary {
            request_id: stream.request_id(),
            chunks: 0,
            samples: 0,
            sample_rate: 0,
            cancelled: false,
            time_to_first_audio: None,
            total_time: Default::default(),
        };
        for chunk in stream.by_ref() {
            let chunk = chunk?;
            summary.time_to_first_audio.get_or_insert(start.elapsed());
            summary.chunks += 1;
            summary.samples += chunk.samples.len() as u64;
            summary.sample_rate = chunk.sample_rate;
            match on_chunk(&chunk) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => {
                    stream.cancel();
                    summary.cancelled = true;
                    break;
                }
                Err(e) => {
                    stream.cancel();
                    return Err(e);
                }
            }
        }
        summary.cancelled |= stream.status() == StreamStatus::Cancelled;
        summary.total_time = start.elapsed();
        Ok(summary)
    }

    /// Speaks `text` and returns all of its audio.
    pub fn synthesize(&self, text: &str, options: &RequestOptions) -> Result<Audio> {
        let mut stream = self.stream(text, options)?;
        let mut audio = Audio {
            request_id: stream.request_id(),
            samples: Samples::from_f32(Vec::new(), options.format),
            sample_rate: 0,
            chunks: 0,
            from_cache: false,
        };
        for chunk in stream.by_ref() {
            let chunk = chunk?;
            audio.samples.append(&chunk.samples);
            audio.sample_rate = chunk.sample_rate;
            audio.chunks += 1;
            audio.from_cache = chunk.timings.from_cache;
        }
        if stream.status() == StreamStatus::Cancelled {
            return Err(Error::Cancelled);
        }
        Ok(audio)
    }

    /// Speaks `text` into a WAV file (16-bit for `SampleFormat::I16`,
    /// 32-bit float for `F32`), writing each sentence as it is produced.
    ///
    /// The text and options are checked first, then the file is created
    /// (an unwritable path fails before the request starts); a request that
    /// ends before its first chunk (busy, an error, a cancel) removes it.
    pub fn synthesize_to_wav(
        &self,
        text: &str,
        options: &RequestOptions,
        path: &Path,
    ) -> Result<RequestSummary> {
        let checked = self.check_request(text, options)?;
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut file = Some(file);
        let result = self
            .start(checked, None)
            .and_then(|stream| Self::write_wav(stream, options, path, &mut file));
        if file.is_some() {
            // nothing was written: no empty file left behind
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// The body of [`Engine::synthesize_to_wav`]: takes `file` at the first
    /// chunk.
    fn write_wav(
        stream: Stream,
        options: &RequestOptions,
        path: &Path,
        file: &mut Option<std::fs::File>,
    ) -> Result<RequestSummary> {
        let start = Instant::now();
        let mut writer: Option<WavFileWriter> = None;
        let summary = Self::deliver(stream, start, |chunk| {
            if let Some(f) = file.take() {
                writer = Some(WavFileWriter::from_file(
                    f,
                    path,
                    chunk.sample_rate,
                    options.format,
                )?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(&chunk.samples)?;
            }
            Ok(Flow::Continue)
        })?;
        if let Some(w) = writer {
            w.finish()?;
        }
        Ok(summary)
    }

    /// A snapshot of the engine's counters and latencies.
    pub fn metrics(&self) -> MetricsSnapshot {
        let (depth, pending) = {
            let q = self.shared.lock_queue();
            let pending = q
                .jobs
                .iter()
                .map(|j| j.sentences.len() - j.next)
                .sum::<usize>();
            (q.jobs.len(), pending)
        };
        let cache = self.shared.lock_cache().stats();
        self.shared.metrics.snapshot(depth, pending, cache)
    }

    fn check_text(&self, text: &str) -> Result<()> {
        if text.len() > self.config.max_text_bytes {
            return Err(Error::TextTooLong {
                len: text.len(),
                max: self.config.max_text_bytes,
            });
        }
        if text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::EmptyText);
        }
        Ok(())
    }

    /// Splits `text` into sentences and prepares what each one speaks.
    fn plan(
        &self,
        text: &str,
        language: crate::text::language::Language,
        options: &RequestOptions,
    ) -> Vec<PlannedSentence> {
        split_sentences(text, &self.split_options(options))
            .into_iter()
            .map(|span| {
                let spoken = spoken_text(&text[span.clone()], language, self.config.normalize_text);
                PlannedSentence { span, text: spoken }
            })
            .collect()
    }

    /// The engine's splitting settings with the request's.
    fn split_options(&self, options: &RequestOptions) -> crate::text::split::SplitOptions {
        let mut split = self.config.split.clone();
        split.short_first |= options.short_first_chunk;
        if let Some(n) = options.first_chunk_max_chars {
            split.short_first = true;
            split.first_max_chars = n;
        }
        split
    }

    /// Starts a request whose text arrives in pieces: push it to the
    /// returned [`TextStream`] (or its [`TextInput`], from another thread)
    /// and read the audio from it as from a [`Stream`]. Each sentence is
    /// spoken as soon as it is settled (see
    /// [`IncrementalSplitter`](crate::text::IncrementalSplitter)): the
    /// chunks are those of a one-shot request of the whole text, whatever
    /// the pushes. The voice and options are checked here; the request
    /// holds a place under the queue limit until it ends. Live requests are
    /// not cached.
    pub fn open_stream(&self, options: &RequestOptions) -> Result<TextStream> {
        let submitted = Instant::now();
        let voice = self.registry_read().resolve(options.voice.as_deref())?;
        let options = RequestOptions {
            synthesis: options.synthesis.or(&voice.spec.options),
            use_cache: false,
            ..options.clone()
        };
        voice.spec.loader.check_options(&options.synthesis)?;
        if let Some(id) = options.synthesis.speaker {
            voice::check_speaker(id, voice.spec.loader.num_speakers())?;
        }
        check_output(&options)?;
        let language = voice.spec.loader.language();
        let split = self.split_options(&options);
        let live = Arc::new(LiveText::default());
        let checked = CheckedRequest {
            submitted,
            voice,
            sentences: Vec::new(),
            options,
        };
        let audio = self.start(checked, Some(live.clone()))?;
        let input = TextInput::new(
            live,
            split,
            language,
            self.config.normalize_text,
            self.config.max_text_bytes,
            audio.cancel_handle(),
        );
        Ok(TextStream::new(input, audio))
    }
}

/// What a sentence of the text speaks: control characters (NUL, escapes,
/// …) say nothing and confuse phonemizers, so they become spaces (the byte
/// span is kept); then the language's normalization, when on.
pub(crate) fn spoken_text(
    sentence: &str,
    language: crate::text::language::Language,
    normalize_text: bool,
) -> String {
    let clean: String = sentence
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if normalize_text {
        normalize(&clean, language)
    } else {
        clean
    }
}

/// Output settings the worker would otherwise reject mid-request.
fn check_output(options: &RequestOptions) -> Result<()> {
    if let Some(rate) = options.sample_rate {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(Error::InvalidParameter {
                name: "sample_rate",
                value: rate.to_string(),
                reason: "must be one of 8000, 16000, 22050, 24000, 44100, 48000",
            });
        }
    }
    if options.first_chunk_max_chars == Some(0) {
        return Err(Error::InvalidParameter {
            name: "first_chunk_max_chars",
            value: "0".into(),
            reason: "must be at least 1",
        });
    }
    SentenceJoiner::new(options.gap, 48_000)?;
    Ok(())
}

impl Drop for Engine {
    fn drop(&mut self) {
        {
            let mut q = self.shared.lock_queue();
            q.closed = true;
            self.shared.wake.notify_all();
        }
        for w in std::mem::take(&mut *self.lock_workers()) {
            let _ = w.join();
        }
    }
}

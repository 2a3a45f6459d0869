//! The worker: one thread per device that owns the loaded models and
//! serves the queued requests one sentence at a time, round-robin.
//!
//! Callers only ever lock the queue for a push; all model work happens on
//! the worker. After each sentence the request goes to the back of the
//! queue, so with several streams every one gets its next chunk in turn. A
//! request whose reader is [`MAX_UNREAD_CHUNKS`] behind is skipped until it
//! reads, so a stalled reader neither piles up audio nor blocks the others.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use candle_core::Device;
use lru::LruCache;
use rand::rngs::StdRng;

use super::backend::{Backend, SentenceJob, VoicePrompt};
use super::cache::{CacheKey, CachedAudio, OutputCache};
use super::metrics::{Metrics, Outcome};
use super::request::{CancelHandle, Chunk, ChunkTimings, Event, RequestOptions, MAX_UNREAD_CHUNKS};
use super::voice::VoiceEntry;
use crate::audio::output::OutputStage;
use crate::{Error, Result};

/// A sentence of a request: where it is in the text, and what is spoken.
#[derive(Debug, Clone)]
pub(crate) struct PlannedSentence {
    pub span: Range<usize>,
    pub text: String,
}

/// A request inside the scheduler.
pub(crate) struct Job {
    pub id: u64,
    pub voice: Arc<VoiceEntry>,
    pub sentences: Vec<PlannedSentence>,
    pub options: RequestOptions,
    pub rng: StdRng,
    pub tx: Sender<Event>,
    pub cancel: CancelHandle,
    pub unread: Arc<AtomicUsize>,
    pub submitted: Instant,
    pub cache_key: Option<CacheKey>,
    // Progress, owned by the worker.
    pub next: usize,
    pub ready_since: Instant,
    pub output: Option<OutputStage>,
    pub recorded: Option<Vec<Chunk>>,
    pub recorded_bytes: usize,
    /// Counts this request against the queue limit until it is dropped,
    /// whichever way it ends (finished, failed, unwound by a panic). Let go
    /// of before the reader hears of the end, so a request made right after
    /// is accepted.
    pub slot: Option<InFlightSlot>,
}

/// One accepted request's place under `queue_limit`. The worker takes a
/// job out of the queue while it runs a sentence, so the queue length alone
/// would let a request in while the only allowed one is running.
pub(crate) struct InFlightSlot(Arc<AtomicUsize>);

impl InFlightSlot {
    /// Takes a slot if fewer than `limit` are held; else the number held.
    pub fn take(counter: &Arc<AtomicUsize>, limit: usize) -> std::result::Result<Self, usize> {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(|_| Self(counter.clone()))
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The queue the callers push to and the worker pops from.
#[derive(Default)]
pub(crate) struct Queue {
    pub jobs: VecDeque<Job>,
    /// Models no voice refers to any more: drop when idle.
    pub retired_models: Vec<String>,
    pub closed: bool,
}

/// State shared by the engine handle, its streams and the worker.
pub(crate) struct Shared {
    pub queue: Mutex<Queue>,
    /// Requests accepted and not yet ended (see [`InFlightSlot`]).
    pub in_flight: Arc<AtomicUsize>,
    pub wake: Condvar,
    pub metrics: Metrics,
    pub output_cache: Mutex<OutputCache>,
    pub idle_unload: Option<Duration>,
    pub prompt_cache_entries: usize,
    pub device: Device,
}

impl Shared {
    pub fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock cannot leave the queue half
        // updated (every update is a single push/remove), so poisoning is
        // ignored rather than turned into a crash of every later call.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn lock_cache(&self) -> MutexGuard<'_, OutputCache> {
        self.output_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the worker (taking the lock so the wake-up cannot slip in
    /// between its check and its wait).
    pub fn notify(&self) {
        let _q = self.lock_queue();
        self.wake.notify_all();
    }
}

/// What the worker owns: the loaded models and the prompt cache.
struct Worker {
    shared: Arc<Shared>,
    models: HashMap<String, Box<dyn Backend>>,
    prompts: Option<LruCache<[u8; 32], VoicePrompt>>,
    prompt_stats: super::cache::CacheStats,
    last_activity: Instant,
}

/// Runs the worker until the engine closes.
pub(crate) fn run(shared: Arc<Shared>) {
    let prompts = NonZeroUsize::new(shared.prompt_cache_entries).map(LruCache::new);
    let mut worker = Worker {
        shared,
        models: HashMap::new(),
        prompts,
        prompt_stats: Default::default(),
        last_activity: Instant::now(),
    };
    while let Some(job) = worker.next_job() {
        let model = job.voice.model_key();
        let job = match catch_unwind(AssertUnwindSafe(|| worker.serve(job))) {
            Ok(job) => job,
            Err(panic) => {
                // The model may be in a broken state: drop it, fail only
                // the request (its sender went with the unwound job, so its
                // stream sees the engine side gone).
                tracing::error!(model, "worker panicked: {}", panic_message(&*panic));
                worker.unload(|k| k == model);
                None
            }
        };
        worker.last_activity = Instant::now();
        if let Some(job) = job {
            worker.shared.lock_queue().jobs.push_back(job);
        }
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Worker {
    /// Waits for a request that can make progress; `None` when closed.
    fn next_job(&mut self) -> Option<Job> {
        let shared = self.shared.clone();
        let mut q = shared.lock_queue();
        loop {
            if q.closed {
                for job in q.jobs.drain(..) {
                    let _ = job.tx.send(Event::Failed(Error::EngineClosed));
                    shared.metrics.request_ended(Outcome::Failed);
                }
                return None;
            }
            let runnable = q.jobs.iter().position(|j| {
                j.cancel.is_cancelled() || j.unread.load(Ordering::SeqCst) < MAX_UNREAD_CHUNKS
            });
            if let Some(i) = runnable {
                return q.jobs.remove(i);
            }
            if q.jobs.is_empty() && !q.retired_models.is_empty() {
                let retired = std::mem::take(&mut q.retired_models);
                self.unload(|k| retired.iter().any(|r| r == k));
            }
            match self.shared.idle_unload {
                Some(idle) if q.jobs.is_empty() && !self.models.is_empty() => {
                    let deadline = self.last_activity + idle;
                    let now = Instant::now();
                    if now >= deadline {
                        tracing::info!("idle for {idle:?}: unloading models");
                        self.unload(|_| true);
                    } else {
                        q = shared
                            .wake
                            .wait_timeout(q, deadline - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                }
                _ => q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    fn unload(&mut self, which: impl Fn(&str) -> bool) {
        let before = self.models.len();
        self.models.retain(|k, _| !which(k));
        let n = before - self.models.len();
        if n > 0 {
            self.shared.metrics.models_unloaded(n, self.models.len());
        }
    }

    /// Serves one sentence of `job`; returns the job if it has more.
    fn serve(&mut self, mut job: Job) -> Option<Job> {
        if job.cancel.is_cancelled() {
            self.finish(job, Error::Cancelled);
            return None;
        }
        let span = tracing::info_span!("sentence", request = job.id, index = job.next);
        let _enter = span.enter();
        let started = Instant::now();
        let model = job.voice.model_key();
        if let Err(e) = self.ensure_loaded(&model, &job.voice) {
            self.fail_model_waiters(&model, &e);
            self.finish(job, e);
            return None;
        }
        let prompt = match self.prompt_for(&job.voice) {
            Ok(p) => p,
            Err(e) => {
                self.finish(job, e);
                return None;
            }
        };
        let backend = self.models.get_mut(&model).expect("loaded above");
        if job.output.is_none() {
            let stage = OutputStage::new(
                backend.sample_rate(),
                job.options.sample_rate,
                job.options.format,
                job.options.gap,
            );
            match stage {
                Ok(s) => job.output = Some(s),
                Err(e) => {
                    self.finish(job, e);
                    return None;
                }
            }
        }
        let queue_wait = started.saturating_duration_since(job.ready_since);
        let index = job.next;
        let t0 = Instant::now();
        let result = {
            let _model_span = tracing::debug_span!("model", model = %model).entered();
            let mut sj = SentenceJob {
                text: &job.sentences[index].text,
                options: &job.options.synthesis,
                speaker: job.options.synthesis.speaker.or(job.voice.spec.speaker),
                prompt: prompt.as_ref(),
                rng: &mut job.rng,
                cancel: &job.cancel,
            };
            catch_unwind(AssertUnwindSafe(|| backend.synthesize(&mut sj))).unwrap_or_else(|p| {
                Err(Error::Internal(format!(
                    "model {model} panicked: {}",
                    panic_message(&*p)
                )))
            })
        };
        let synthesis = t0.elapsed();
        let raw = match result {
            Ok(s) => s,
            Err(e) => {
                if matches!(e, Error::Internal(_)) {
                    // A panicking model may hold broken state: reload it.
                    self.unload(|k| k == model);
                }
                self.finish(job, e);
                return None;
            }
        };
        let model_rate = backend.sample_rate();
        self.shared
            .metrics
            .sentence(queue_wait, synthesis, raw.len() as f64 / model_rate as f64);
        let is_last = index + 1 == job.sentences.len();
        let output = job.output.as_mut().expect("set above");
        let samples = output.push(&raw, is_last);
        let sample_offset = output.samples_out() - samples.len() as u64;
        let since_request = job.submitted.elapsed();
        if index == 0 {
            self.shared.metrics.first_audio(since_request);
        }
        let chunk = Chunk {
            request_id: job.id,
            sentence_index: index,
            text_span: job.sentences[index].span.clone(),
            sample_offset,
            sample_rate: output.sample_rate(),
            is_last,
            samples,
            timings: ChunkTimings {
                queue_wait,
                synthesis,
                since_request,
                from_cache: false,
            },
        };
        if let Some(rec) = job.recorded.as_mut() {
            job.recorded_bytes += chunk.samples.byte_len();
            if job.recorded_bytes > self.shared.lock_cache().max_bytes() {
                job.recorded = None; // too big to cache: stop copying
            } else {
                rec.push(chunk.clone());
            }
        }
        if is_last {
            // Book-keeping before the reader sees the end, so a request
            // made right after finds the cache entry and the counters.
            if let (Some(key), Some(chunks)) = (job.cache_key, job.recorded.take()) {
                let bytes = job.recorded_bytes;
                self.shared
                    .lock_cache()
                    .insert(key, CachedAudio { chunks, bytes });
            }
            self.shared.metrics.request_ended(Outcome::Completed);
            job.slot = None;
        }
        job.unread.fetch_add(1, Ordering::SeqCst);
        if job.tx.send(Event::Chunk(chunk)).is_err() {
            // The reader is gone without cancelling (it cannot: dropping a
            // stream cancels). Treat as cancelled.
            job.cancel.cancel();
        }
        if is_last {
            return None;
        }
        job.next += 1;
        job.ready_since = Instant::now();
        Some(job)
    }

    fn ensure_loaded(&mut self, model: &str, voice: &VoiceEntry) -> Result<()> {
        if self.models.contains_key(model) {
            return Ok(());
        }
        let _span = tracing::info_span!("load_model", model).entered();
        let t = Instant::now();
        let loaded = voice.spec.loader.load(&self.shared.device);
        match loaded {
            Ok(backend) => {
                self.models.insert(model.to_owned(), backend);
                self.shared.metrics.model_loaded(true, self.models.len());
                tracing::info!(model, elapsed = ?t.elapsed(), "model loaded");
                Ok(())
            }
            Err(e) => {
                self.shared.metrics.model_loaded(false, self.models.len());
                tracing::warn!(model, "model load failed: {e}");
                Err(Error::ModelLoad {
                    model: model.to_owned(),
                    source: Arc::new(e),
                })
            }
        }
    }

    /// Fails every queued request waiting for `model` with its load error;
    /// the next request to arrive tries again.
    fn fail_model_waiters(&mut self, model: &str, err: &Error) {
        let Error::ModelLoad { source, .. } = err else {
            return;
        };
        let waiting: Vec<Job> = {
            let mut q = self.shared.lock_queue();
            let (wait, keep): (Vec<Job>, Vec<Job>) =
                q.jobs.drain(..).partition(|j| j.voice.model_key() == model);
            q.jobs = keep.into();
            wait
        };
        for job in waiting {
            let e = Error::ModelLoad {
                model: model.to_owned(),
                source: source.clone(),
            };
            self.finish(job, e);
        }
    }

    fn prompt_for(&mut self, voice: &VoiceEntry) -> Result<Option<VoicePrompt>> {
        let (Some(key), Some(reference)) = (voice.prompt_key, voice.spec.reference.as_ref()) else {
            return Ok(None);
        };
        if let Some(p) = self.prompts.as_mut().and_then(|c| c.get(&key)) {
            self.prompt_stats.hits += 1;
            let p = p.clone();
            self.shared.metrics.prompt_cache(self.prompt_stats);
            return Ok(Some(p));
        }
        self.prompt_stats.misses += 1;
        let backend = self
            .models
            .get_mut(&voice.model_key())
            .expect("model loaded before its prompt");
        let _span = tracing::info_span!("prepare_voice", voice = %voice.name).entered();
        let prompt = backend.prepare_voice(reference)?;
        if let Some(cache) = self.prompts.as_mut() {
            if cache
                .push(key, prompt.clone())
                .is_some_and(|(k, _)| k != key)
            {
                self.prompt_stats.evictions += 1;
            }
            self.prompt_stats.entries = cache.len();
        }
        self.shared.metrics.prompt_cache(self.prompt_stats);
        Ok(Some(prompt))
    }

    /// Ends a request early: tells its reader why, counts it.
    fn finish(&mut self, mut job: Job, error: Error) {
        job.slot = None;
        // Counted before the reader hears, so its next look at the metrics
        // includes this request.
        let event = match error {
            Error::Cancelled => {
                self.shared.metrics.request_ended(Outcome::Cancelled);
                Event::Cancelled
            }
            e => {
                tracing::debug!(request = job.id, "request failed: {e}");
                self.shared.metrics.request_ended(Outcome::Failed);
                Event::Failed(e)
            }
        };
        let _ = job.tx.send(event);
    }
}

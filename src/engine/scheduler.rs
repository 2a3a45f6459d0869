//! The workers: threads that own the loaded models and serve the queued
//! requests one sentence at a time, round-robin. One by default; with
//! `workers` above one each loads its own copy of the models it serves and
//! they take sentences from the one queue, so more cores work at once on
//! models whose calls leave some idle (Piper on a CPU). A request is held
//! by one worker at a time, so its chunks still come in order.
//!
//! Callers only ever lock the queue for a push; all model work happens on
//! the worker. After each sentence the request goes to the back of the
//! queue, so with several streams every one gets its next chunk in turn. A
//! request whose reader is [`MAX_UNREAD_CHUNKS`] behind is skipped until it
//! reads, so a stalled reader neither piles up audio nor blocks the others.
//!
//! Models run step by step ([`Backend::steps_in_batches`]: F5-TTS's flow
//! steps) are served in batches: the current sentences of up to
//! `max_batch` requests advance together, one model call per step, each at
//! its own step. A request joins the batch at the next step when it comes
//! up in the queue (so the queue order still decides who is served) and
//! leaves it when its sentence is done (back to the end of the queue),
//! cancelled or failed; the others go on undisturbed. Requests for other
//! models are served between steps, a sentence at a time. A step that fails
//! as a whole is retried in halves, down to single sentences, before an
//! error reaches a request.
//!
//! Models that stream within a sentence ([`Backend::streams_pieces`]) are
//! always stepped, batching on or off, and each step's new audio goes out
//! as a chunk at once. A member whose reader falls behind leaves the batch
//! with its sentence part-way ([`Parked`]) and waits in the queue like any
//! other request; it rejoins where it stopped when its reader catches up.
//! While the batch holds another model, a request of such a model is
//! served a whole sentence at a time (its audio then comes in one chunk).

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

use super::backend::{Backend, SentenceInProgress, SentenceJob, SentenceReport, VoicePrompt};
use super::cache::{CacheKey, CachedAudio, OutputCache};
use super::metrics::{Metrics, Outcome};
use super::request::{CancelHandle, Chunk, ChunkTimings, Event, RequestOptions, MAX_UNREAD_CHUNKS};
use super::voice::VoiceEntry;
use crate::audio::join::Piece;
use crate::audio::output::OutputStage;
use crate::timing::{
    estimate_words, PhonemeTiming, SentenceTiming, TimingRequest, Viseme, WordTiming,
};
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
    /// Pieces of the current sentence pushed to the output so far.
    pub pieces: usize,
    /// Chunks sent to the reader.
    pub chunks_sent: usize,
    /// Model samples and model time of the current sentence so far.
    pub sentence_samples: usize,
    pub sentence_model_time: Duration,
    /// The current sentence part-way, while the request is out of the
    /// batch (its reader fell behind).
    pub parked: Option<Parked>,
    /// Text still arriving ([`Engine::open_stream`](super::Engine::open_stream)):
    /// its sentences are taken into `sentences` as they come.
    pub live: Option<Arc<LiveText>>,
    /// Counts this request against the queue limit until it is dropped,
    /// whichever way it ends (finished, failed, unwound by a panic). Let go
    /// of before the reader hears of the end, so a request made right after
    /// is accepted.
    pub slot: Option<InFlightSlot>,
}

/// The sentences of a request whose text is still arriving, handed from
/// the pushing thread to the worker.
#[derive(Default)]
pub(crate) struct LiveText {
    state: Mutex<LiveState>,
}

#[derive(Default)]
struct LiveState {
    /// Sentences pushed and not yet taken by the worker.
    sentences: Vec<PlannedSentence>,
    /// No more text will come.
    finished: bool,
}

impl LiveText {
    fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds settled sentences, and with `finish` ends the text (in one
    /// step, so the worker never sees the end before the last sentences).
    pub fn append(&self, sentences: Vec<PlannedSentence>, finish: bool) {
        let mut s = self.lock();
        s.sentences.extend(sentences);
        s.finished |= finish;
    }
}

impl Job {
    /// Takes the sentences pushed since the last look; whether the text is
    /// complete (always, for a request given whole).
    fn sync_live(&mut self) -> bool {
        let Some(live) = &self.live else {
            return true;
        };
        let mut s = live.lock();
        self.sentences.append(&mut s.sentences);
        s.finished
    }

    /// Whether the worker has something to do for it: a sentence to speak,
    /// or the end of a finished live text to deliver.
    fn has_work(&self) -> bool {
        self.next < self.sentences.len()
            || self.live.as_ref().is_some_and(|l| {
                let s = l.lock();
                !s.sentences.is_empty() || s.finished
            })
    }
}

/// A sentence part-way through, set aside with its request.
pub(crate) struct Parked {
    sentence: SentenceInProgress,
    queue_wait: Duration,
    /// The load of the model it belongs to (a reloaded model does not
    /// continue another load's sentence).
    load: u64,
    /// The worker whose model holds the sentence: only it takes the job.
    worker: usize,
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
    /// Models no voice refers to any more: each worker drops its copy
    /// when idle.
    pub retired_models: Vec<Retired>,
    /// Models retired so far (numbers the entries of `retired_models`).
    pub retirements: u64,
    pub closed: bool,
}

/// A model to unload, until every worker has.
pub(crate) struct Retired {
    pub model: String,
    /// Its number in [`Queue::retirements`].
    pub number: u64,
    /// Workers that have not yet dropped it.
    pub pending: usize,
}

impl Queue {
    /// Asks every worker to drop `model` when idle.
    pub fn retire(&mut self, model: &str, workers: usize) {
        self.retirements += 1;
        self.retired_models.push(Retired {
            model: model.to_owned(),
            number: self.retirements,
            pending: workers,
        });
    }
}

/// State shared by the engine handle, its streams and the workers.
pub(crate) struct Shared {
    pub queue: Mutex<Queue>,
    /// Requests accepted and not yet ended (see [`InFlightSlot`]).
    pub in_flight: Arc<AtomicUsize>,
    pub wake: Condvar,
    pub metrics: Metrics,
    pub output_cache: Mutex<OutputCache>,
    pub idle_unload: Option<Duration>,
    pub prompt_cache_entries: usize,
    pub max_batch: usize,
    pub batch_window: Duration,
    pub device: Device,
    /// Worker threads serving the queue.
    pub workers: usize,
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

/// What the worker owns: the loaded models, the prompt cache and the
/// batch in progress.
struct Worker {
    shared: Arc<Shared>,
    /// Which of the workers (0-based).
    index: usize,
    /// The last retirement this worker has acted on.
    retirements_seen: u64,
    models: HashMap<String, Box<dyn Backend>>,
    prompts: Option<LruCache<[u8; 32], VoicePrompt>>,
    prompt_stats: super::cache::CacheStats,
    last_activity: Instant,
    /// Counts model loads, to tell a parked sentence's model apart from a
    /// later load of the same one.
    loads: u64,
    load_of: HashMap<String, u64>,
    /// The sentences being stepped together, all of one model.
    batch: Vec<Member>,
}

/// A request in the batch, with its current sentence part-way through.
struct Member {
    job: Job,
    sentence: SentenceInProgress,
    /// Waited in the queue before this sentence began.
    queue_wait: Duration,
    /// When it joined the batch.
    joined: Instant,
    /// Whether it has taken a step in the batch.
    stepped: bool,
    /// Its share of the model time since its last chunk (each step's
    /// time divided among the batch).
    model_time: Duration,
}

/// Runs worker `index` until the engine closes.
pub(crate) fn run(shared: Arc<Shared>, index: usize) {
    let prompts = NonZeroUsize::new(shared.prompt_cache_entries).map(super::cache::lru_with_cap);
    let mut worker = Worker {
        shared,
        index,
        retirements_seen: 0,
        models: HashMap::new(),
        prompts,
        prompt_stats: Default::default(),
        last_activity: Instant::now(),
        loads: 0,
        load_of: HashMap::new(),
        batch: Vec::new(),
    };
    loop {
        let job = if worker.batch.is_empty() {
            match worker.next_job() {
                Some(job) => Some(job),
                None => break,
            }
        } else {
            // between steps: the first runnable request of another model
            worker.take_job(|j, batch_model| j.voice.model_key() != batch_model)
        };
        if let Some(job) = job {
            worker.guarded(&job.voice.model_key(), |w| w.dispatch(job));
        }
        if !worker.batch.is_empty() {
            let model = worker.batch[0].job.voice.model_key();
            worker.guarded(&model, |w| w.step_batch());
        }
        worker.last_activity = Instant::now();
    }
    for m in std::mem::take(&mut worker.batch) {
        worker.finish(m.job, Error::EngineClosed);
    }
}

impl Worker {
    /// Runs `f`, catching a panic: the model may then be in a broken state,
    /// so it is dropped, and the requests in flight with it fail (the
    /// unwound job's sender is gone, so its stream sees the engine side
    /// gone; batch members are told).
    fn guarded(&mut self, model: &str, f: impl FnOnce(&mut Self)) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(self))) {
            let msg = panic_message(&*panic);
            tracing::error!(model, "worker panicked: {msg}");
            self.unload(|k| k == model);
            for m in std::mem::take(&mut self.batch) {
                let e = Error::Internal(format!("model {model} panicked: {msg}"));
                self.finish(m.job, e);
            }
        }
    }

    /// Serves `job`'s next sentence: joins the batch when its model runs
    /// step by step and batches are on, else the whole sentence now.
    fn dispatch(&mut self, job: Job) {
        let Some((job, prompt)) = self.prepare(job) else {
            return;
        };
        let model = job.voice.model_key();
        // one model per batch: another stepped model waits its turn whole
        let batch_free = self
            .batch
            .first()
            .is_none_or(|m| m.job.voice.model_key() == model);
        if job.parked.is_some() && !batch_free {
            // part-way through a sentence: only the batch can go on with it
            self.shared.lock_queue().jobs.push_back(job);
            return;
        }
        let batched = batch_free
            && self.models.get(&model).is_some_and(|b| {
                b.steps_in_batches() && (self.shared.max_batch > 1 || b.streams_pieces())
            });
        let next = if batched {
            self.join_batch(job, prompt);
            None
        } else {
            self.serve(job, prompt)
        };
        if let Some(job) = next {
            self.shared.lock_queue().jobs.push_back(job);
        }
    }
}

/// What a backend sees of `job`'s current sentence.
fn sentence_job<'a>(job: &'a mut Job, prompt: Option<&'a VoicePrompt>) -> SentenceJob<'a> {
    SentenceJob {
        text: &job.sentences[job.next].text,
        options: &job.options.synthesis,
        speaker: job.options.synthesis.speaker.or(job.voice.spec.speaker),
        prompt,
        rng: &mut job.rng,
        cancel: &job.cancel,
        report: SentenceReport::default(),
        timing_request: job.options.timing_request(),
        timing: None,
    }
}

/// Whether worker `worker` can make progress with a queued request now:
/// cancelled (to be ended) or its reader keeping up, and no sentence of it
/// part-way in another worker's model.
fn runnable(j: &Job, worker: usize) -> bool {
    let mine = j.parked.as_ref().is_none_or(|p| p.worker == worker);
    mine && (j.cancel.is_cancelled()
        || (j.unread.load(Ordering::SeqCst) < MAX_UNREAD_CHUNKS && j.has_work()))
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Worker {
    /// The first runnable queued request that `pick(job, batch model)`
    /// accepts, without waiting.
    fn take_job(&mut self, pick: impl Fn(&Job, &str) -> bool) -> Option<Job> {
        let batch_model = self
            .batch
            .first()
            .map(|m| m.job.voice.model_key())
            .unwrap_or_default();
        let mut q = self.shared.lock_queue();
        if q.closed {
            return None; // next_job ends what is queued
        }
        let i = q
            .jobs
            .iter()
            .position(|j| runnable(j, self.index) && pick(j, &batch_model))?;
        q.jobs.remove(i)
    }

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
            if let Some(i) = q.jobs.iter().position(|j| runnable(j, self.index)) {
                return q.jobs.remove(i);
            }
            if q.jobs.is_empty() && q.retirements > self.retirements_seen {
                let seen = self.retirements_seen;
                let mut retired = Vec::new();
                for r in q.retired_models.iter_mut().filter(|r| r.number > seen) {
                    retired.push(r.model.clone());
                    r.pending -= 1;
                }
                q.retired_models.retain(|r| r.pending > 0);
                self.retirements_seen = q.retirements;
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
            self.shared.metrics.models_unloaded(n);
        }
    }

    /// Everything before a sentence is synthesized: the model loaded, the
    /// voice's prompt, the output stage. `None` when the request ended
    /// (cancelled, or failed and told).
    fn prepare(&mut self, mut job: Job) -> Option<(Job, Option<VoicePrompt>)> {
        if job.cancel.is_cancelled() {
            self.finish(job, Error::Cancelled);
            return None;
        }
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
        let complete = job.sync_live();
        if job.output.is_none() {
            let backend = self.models.get(&model).expect("loaded above");
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
        if job.next >= job.sentences.len() {
            // a live text with nothing new: its end, or back to wait
            if complete {
                end_live(&self.shared, &mut job);
            } else {
                self.shared.lock_queue().jobs.push_back(job);
            }
            return None;
        }
        Some((job, prompt))
    }

    /// Serves one whole sentence of `job`; returns the job if it has more.
    fn serve(&mut self, mut job: Job, prompt: Option<VoicePrompt>) -> Option<Job> {
        let span = tracing::info_span!("sentence", request = job.id, index = job.next);
        let _enter = span.enter();
        let queue_wait = job.ready_since.elapsed();
        let model = job.voice.model_key();
        let backend = self.models.get_mut(&model).expect("loaded in prepare");
        let t0 = Instant::now();
        let (result, report, timing) = {
            let _model_span = tracing::debug_span!("model", model = %model).entered();
            let mut sj = sentence_job(&mut job, prompt.as_ref());
            let result = catch_unwind(AssertUnwindSafe(|| backend.synthesize(&mut sj)))
                .unwrap_or_else(|p| {
                    Err(Error::Internal(format!(
                        "model {model} panicked: {}",
                        panic_message(&*p)
                    )))
                });
            (result, sj.report, sj.timing.take())
        };
        let synthesis = t0.elapsed();
        match result {
            Ok(raw) => {
                self.count_report(report);
                self.deliver(job, raw, timing, queue_wait, synthesis)
            }
            Err(e) => {
                if matches!(e, Error::Internal(_)) {
                    // A panicking model may hold broken state: reload it.
                    self.unload(|k| k == model);
                }
                self.finish(job, e);
                None
            }
        }
    }

    /// Starts `job`'s next sentence in the batch, or goes on with its
    /// parked one (or ends the request if it cannot).
    fn join_batch(&mut self, mut job: Job, prompt: Option<VoicePrompt>) {
        let model = job.voice.model_key();
        if let Some(parked) = job.parked.take() {
            if self.load_of.get(&model) != Some(&parked.load) {
                let e = Error::Internal(format!(
                    "model {model} was reloaded while sentence {} was part-way",
                    job.next
                ));
                self.finish(job, e);
                return;
            }
            self.batch.push(Member {
                job,
                sentence: parked.sentence,
                queue_wait: parked.queue_wait,
                joined: Instant::now(),
                stepped: true,
                model_time: Duration::ZERO,
            });
            return;
        }
        let queue_wait = job.ready_since.elapsed();
        let backend = self.models.get_mut(&model).expect("loaded in prepare");
        let t0 = Instant::now();
        let begun = {
            let mut sj = sentence_job(&mut job, prompt.as_ref());
            backend.begin(&mut sj)
        };
        match begun {
            Ok(sentence) => self.batch.push(Member {
                job,
                sentence,
                queue_wait,
                joined: Instant::now(),
                stepped: false,
                model_time: t0.elapsed(),
            }),
            Err(e) => self.finish(job, e),
        }
    }

    /// One step of the batch: fills it from the queue, drops the cancelled,
    /// steps the rest as one call (retried smaller on a failure), delivers
    /// the finished sentences.
    fn step_batch(&mut self) {
        if self.shared.lock_queue().closed {
            for m in std::mem::take(&mut self.batch) {
                self.finish(m.job, Error::EngineClosed);
            }
            return;
        }
        let model = self.batch[0].job.voice.model_key();
        self.fill_batch(&model);
        // A batch that has not started waits up to the window to fill.
        let window = self.shared.batch_window;
        while !window.is_zero()
            && self.batch.len() < self.shared.max_batch
            && self.batch.iter().all(|m| !m.stepped)
        {
            let deadline = self.batch[0].joined + window;
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            {
                let q = self.shared.lock_queue();
                if !q.closed
                    && !q
                        .jobs
                        .iter()
                        .any(|j| runnable(j, self.index) && j.voice.model_key() == model)
                {
                    let _ = self.shared.wake.wait_timeout(q, deadline - now);
                }
            }
            if !self.fill_batch(&model) && Instant::now() >= deadline {
                break;
            }
        }
        // the cancelled leave before the step, and sentences with no steps
        // at all are done
        let mut i = 0;
        while i < self.batch.len() {
            if self.batch[i].job.cancel.is_cancelled() {
                let m = self.batch.swap_remove(i);
                self.finish(m.job, Error::Cancelled);
            } else if self.batch[i].sentence.is_done() {
                let m = self.batch.swap_remove(i);
                self.complete(m);
            } else {
                i += 1;
            }
        }
        if self.batch.is_empty() {
            return;
        }
        let streams = self.models.get(&model).is_some_and(|b| b.streams_pieces());
        if streams {
            self.park_behind_readers(&model);
            if self.batch.is_empty() {
                return;
            }
        }
        for m in self.batch.iter_mut().filter(|m| !m.stepped) {
            m.stepped = true;
            self.shared.metrics.batch_joined(m.joined.elapsed());
        }
        let all: Vec<usize> = (0..self.batch.len()).collect();
        let mut outcomes = self.run_step(&model, &all);
        if streams {
            self.deliver_pieces(&model, &mut outcomes);
        }
        // finished, failed and done sentences leave; the highest index first
        let mut leaving: Vec<(usize, Option<Error>)> = outcomes
            .into_iter()
            .filter_map(|(i, r)| match r {
                Err(e) => Some((i, Some(e))),
                Ok(()) if self.batch[i].sentence.is_done() => Some((i, None)),
                Ok(()) => None,
            })
            .collect();
        leaving.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        for (i, err) in leaving {
            let m = self.batch.remove(i);
            match err {
                Some(e) => {
                    if matches!(e, Error::Internal(_)) {
                        tracing::warn!(model, "batched sentence failed: {e}");
                    }
                    self.finish(m.job, e);
                }
                None => self.complete(m),
            }
        }
    }

    /// Members whose reader is [`MAX_UNREAD_CHUNKS`] behind leave the batch
    /// with their sentence part-way, to the back of the queue (where they
    /// wait until read, like any request), so they hold no batch place
    /// another stream could use.
    fn park_behind_readers(&mut self, model: &str) {
        let load = self.load_of.get(model).copied().unwrap_or_default();
        let mut i = 0;
        while i < self.batch.len() {
            if self.batch[i].job.unread.load(Ordering::SeqCst) < MAX_UNREAD_CHUNKS {
                i += 1;
                continue;
            }
            let Member {
                mut job,
                sentence,
                queue_wait,
                model_time,
                ..
            } = self.batch.remove(i);
            job.sentence_model_time += model_time;
            job.parked = Some(Parked {
                sentence,
                queue_wait,
                load,
                worker: self.index,
            });
            self.shared.lock_queue().jobs.push_back(job);
        }
    }

    /// After a step of a model that streams within sentences: the new
    /// audio of each member that stepped and is not done goes out as a
    /// chunk. A failure to take it becomes that member's outcome.
    fn deliver_pieces(&mut self, model: &str, outcomes: &mut [(usize, Result<()>)]) {
        for (i, outcome) in outcomes.iter_mut() {
            if outcome.is_err() || self.batch[*i].sentence.is_done() {
                continue;
            }
            let backend = self.models.get_mut(model).expect("batch model loaded");
            let rate = backend.sample_rate();
            let m = &mut self.batch[*i];
            let t0 = Instant::now();
            let taken = backend.take_audio(&mut m.sentence);
            m.model_time += t0.elapsed();
            match taken {
                Ok(raw) if raw.is_empty() => {}
                Ok(raw) => {
                    let synthesis = std::mem::take(&mut m.model_time);
                    send_audio(
                        &self.shared,
                        rate,
                        &mut m.job,
                        raw,
                        None,
                        m.queue_wait,
                        synthesis,
                    );
                }
                Err(e) => *outcome = Err(e),
            }
        }
    }

    /// Moves runnable queued requests of `model` into the batch while it has
    /// room; whether any joined.
    fn fill_batch(&mut self, model: &str) -> bool {
        let mut joined = false;
        while self.batch.len() < self.shared.max_batch {
            let Some(job) = self.take_job(|j, _| j.voice.model_key() == model) else {
                break;
            };
            // prepare may end the request (cancelled, bad voice prompt)
            if let Some((job, prompt)) = self.prepare(job) {
                self.join_batch(job, prompt);
                joined = true;
            }
        }
        joined
    }

    /// Steps the members at `idx` as one model call; on a failure of the
    /// whole call, each half again, down to single members. Returns each
    /// member's outcome.
    fn run_step(&mut self, model: &str, idx: &[usize]) -> Vec<(usize, Result<()>)> {
        let backend = self.models.get_mut(model).expect("batch model loaded");
        let t0 = Instant::now();
        let result = {
            let mut refs: Vec<&mut SentenceInProgress> = self
                .batch
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| idx.contains(i))
                .map(|(_, m)| &mut m.sentence)
                .collect();
            backend.step(&mut refs)
        };
        let share = t0.elapsed() / idx.len() as u32;
        match result {
            Ok(results) if results.len() == idx.len() => {
                self.shared.metrics.batch_step(idx.len());
                for &i in idx {
                    self.batch[i].model_time += share;
                }
                idx.iter().copied().zip(results).collect()
            }
            Ok(results) => idx
                .iter()
                .map(|&i| {
                    let msg = format!(
                        "model {model} returned {} step results for {} sentences",
                        results.len(),
                        idx.len()
                    );
                    (i, Err(Error::Internal(msg)))
                })
                .collect(),
            Err(e) if idx.len() > 1 => {
                tracing::warn!(
                    model,
                    size = idx.len(),
                    "batched step failed, retrying smaller: {e}"
                );
                self.shared.metrics.batch_retried();
                let (a, b) = idx.split_at(idx.len() / 2);
                let mut out = self.run_step(model, a);
                out.extend(self.run_step(model, b));
                out
            }
            Err(e) => vec![(idx[0], Err(e))],
        }
    }

    /// A member whose sentence is done: its audio to the reader.
    fn complete(&mut self, m: Member) {
        let Member {
            job,
            sentence,
            queue_wait,
            model_time,
            ..
        } = m;
        let model = job.voice.model_key();
        let backend = self.models.get_mut(&model).expect("batch model loaded");
        let report = sentence.report;
        let t0 = Instant::now();
        let raw = backend.finish(sentence);
        let synthesis = model_time + t0.elapsed();
        let next = match raw {
            Ok(raw) => {
                self.count_report(report);
                self.deliver(job, raw, None, queue_wait, synthesis)
            }
            Err(e) => {
                self.finish(job, e);
                None
            }
        };
        if let Some(job) = next {
            self.shared.lock_queue().jobs.push_back(job);
        }
    }

    /// Sends the (rest of the) audio of `job`'s current sentence to the
    /// reader, ending the sentence; returns the job if it has more.
    fn deliver(
        &mut self,
        mut job: Job,
        raw: Vec<f32>,
        timing: Option<SentenceTiming>,
        queue_wait: Duration,
        synthesis: Duration,
    ) -> Option<Job> {
        let model_rate = self
            .models
            .get(&job.voice.model_key())
            .expect("the model that made the audio is loaded")
            .sample_rate();
        let ended = send_audio(
            &self.shared,
            model_rate,
            &mut job,
            raw,
            Some(timing),
            queue_wait,
            synthesis,
        );
        if ended {
            return None;
        }
        job.next += 1;
        job.ready_since = Instant::now();
        Some(job)
    }

    fn count_report(&self, report: SentenceReport) {
        if report.hit_budget {
            self.shared.metrics.sentence_at_budget();
        }
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
                self.loads += 1;
                self.load_of.insert(model.to_owned(), self.loads);
                self.shared.metrics.model_loaded(true);
                tracing::info!(model, elapsed = ?t.elapsed(), "model loaded");
                Ok(())
            }
            Err(e) => {
                self.shared.metrics.model_loaded(false);
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
            let (wait, keep): (Vec<Job>, Vec<Job>) = q.jobs.drain(..).partition(|j| {
                // (a sentence part-way in another worker's copy goes on)
                j.voice.model_key() == model
                    && j.parked.as_ref().is_none_or(|p| p.worker == self.index)
            });
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

/// Sends audio of `job`'s current sentence (all of it, a piece, or the
/// rest after its pieces) to the reader as a chunk, with the metrics
/// and the output cache. A piece that leaves the output stage empty
/// (held for a cross-fade) sends nothing; a sentence's end always
/// sends a chunk. `end` is `Some` for the audio that ends the sentence,
/// with the timings the model measured (`None` inside: estimated).
#[allow(clippy::too_many_arguments)]
fn send_audio(
    shared: &Shared,
    model_rate: u32,
    job: &mut Job,
    raw: Vec<f32>,
    end: Option<Option<SentenceTiming>>,
    queue_wait: Duration,
    synthesis: Duration,
) -> bool {
    let ends_sentence = end.is_some();
    let index = job.next;
    // the sentences pushed so far, and whether the text is complete
    let complete = job.sync_live();
    job.sentence_samples += raw.len();
    job.sentence_model_time += synthesis;
    let mut sentence_samples = 0;
    if ends_sentence {
        sentence_samples = std::mem::take(&mut job.sentence_samples);
        shared.metrics.sentence(
            queue_wait,
            std::mem::take(&mut job.sentence_model_time),
            sentence_samples as f64 / model_rate as f64,
        );
    }
    let is_last = ends_sentence && complete && index + 1 == job.sentences.len();
    let piece = Piece {
        starts_sentence: job.pieces == 0,
        ends_sentence,
        is_last,
    };
    let output = job.output.as_mut().expect("set in prepare");
    let samples = output.push_piece(&raw, piece);
    job.pieces = if ends_sentence { 0 } else { job.pieces + 1 };
    if samples.is_empty() && !ends_sentence {
        return false;
    }
    let sample_offset = output.samples_out() - samples.len() as u64;
    let since_request = job.submitted.elapsed();
    let (words, phonemes) = match end {
        Some(measured) => placed_timings(
            output,
            job.options.timing_request(),
            measured,
            &job.sentences[index].text,
            sentence_samples,
        ),
        None => Default::default(),
    };
    let chunk = Chunk {
        request_id: job.id,
        sentence_index: index,
        text_span: job.sentences[index].span.clone(),
        sample_offset,
        sample_rate: output.sample_rate(),
        is_last,
        ends_sentence,
        samples,
        timings: ChunkTimings {
            queue_wait,
            synthesis,
            since_request,
            from_cache: false,
        },
        words,
        phonemes,
    };
    if let Some(rec) = job.recorded.as_mut() {
        job.recorded_bytes += chunk.samples.byte_len();
        if job.recorded_bytes > shared.lock_cache().max_bytes() {
            job.recorded = None; // too big to cache: stop copying
        } else {
            rec.push(chunk.clone());
        }
    }
    if is_last {
        completed(shared, job);
    }
    deliver_chunk(shared, job, chunk);
    is_last
}

/// Book-keeping of a request whose last chunk is about to go out, done
/// before the reader sees the end, so a request made right after finds the
/// cache entry and the counters.
fn completed(shared: &Shared, job: &mut Job) {
    if let (Some(key), Some(chunks)) = (job.cache_key, job.recorded.take()) {
        let bytes = job.recorded_bytes;
        shared
            .lock_cache()
            .insert(key, CachedAudio { chunks, bytes });
    }
    shared.metrics.request_ended(Outcome::Completed);
    job.slot = None;
}

/// Hands `chunk` to the reader, counted as unread (the request's first
/// chunk also as its time to first audio).
fn deliver_chunk(shared: &Shared, job: &mut Job, chunk: Chunk) {
    if job.chunks_sent == 0 {
        shared.metrics.first_audio(chunk.timings.since_request);
    }
    job.chunks_sent += 1;
    job.unread.fetch_add(1, Ordering::SeqCst);
    if job.tx.send(Event::Chunk(chunk)).is_err() {
        // The reader is gone without cancelling (it cannot: dropping a
        // stream cancels). Treat as cancelled.
        job.cancel.cancel();
    }
}

/// The end of a live text whose last sentence went out before the text
/// was finished: what the output stage still holds (a cross-fade tail, the
/// resampler's delay), as a final chunk one past the last sentence, with an
/// empty span at the end of the text.
fn end_live(shared: &Shared, job: &mut Job) {
    let output = job.output.as_mut().expect("set in prepare");
    let piece = Piece {
        starts_sentence: true,
        ends_sentence: true,
        is_last: true,
    };
    let samples = output.push_piece(&[], piece);
    let end = job.sentences.last().map_or(0, |s| s.span.end);
    let chunk = Chunk {
        request_id: job.id,
        sentence_index: job.sentences.len(),
        text_span: end..end,
        sample_offset: output.samples_out() - samples.len() as u64,
        sample_rate: output.sample_rate(),
        is_last: true,
        ends_sentence: true,
        samples,
        timings: ChunkTimings {
            since_request: job.submitted.elapsed(),
            ..Default::default()
        },
        words: Vec::new(),
        phonemes: Vec::new(),
    };
    completed(shared, job);
    deliver_chunk(shared, job, chunk);
}

/// A sentence's timings placed in the request's output: the model's own
/// (`measured`), else words estimated from its `text` over its
/// `samples`; only what `want` asks for.
fn placed_timings(
    output: &OutputStage,
    want: TimingRequest,
    measured: Option<SentenceTiming>,
    text: &str,
    samples: usize,
) -> (Vec<WordTiming>, Vec<PhonemeTiming>) {
    if !want.words && !want.phonemes {
        return Default::default();
    }
    let at = |model_sample: usize| output.sentence_position(model_sample as u64);
    let (words, phonemes, estimated) = match measured {
        Some(t) => (t.words, t.phonemes, false),
        None => (estimate_words(text, samples), Vec::new(), true),
    };
    let words = if want.words {
        words
            .into_iter()
            .map(|w| WordTiming {
                word: w.text,
                start: at(w.samples.start),
                end: at(w.samples.end),
                estimated,
            })
            .collect()
    } else {
        Vec::new()
    };
    let phonemes = if want.phonemes {
        phonemes
            .into_iter()
            .map(|p| PhonemeTiming {
                viseme: Viseme::of_phoneme(&p.text),
                phoneme: p.text,
                start: at(p.samples.start),
                end: at(p.samples.end),
            })
            .collect()
    } else {
        Vec::new()
    };
    (words, phonemes)
}

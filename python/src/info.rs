//! Read-only records the engine hands back: voices, request summaries and
//! metrics.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use ishowtts::engine::{CacheStats as CoreCacheStats, MetricsSnapshot, Percentiles as CorePct};
use ishowtts::engine::{RequestSummary as CoreSummary, VoiceInfo as CoreVoiceInfo};
use ishowtts::text::Language;

/// A registered voice.
#[pyclass(module = "ishowtts._ishowtts", frozen, get_all)]
pub struct VoiceInfo {
    /// Registered name.
    name: String,
    /// Bumped each time the name is registered again.
    version: u64,
    /// The model's key (its file, for a Piper voice).
    model: String,
    /// `"english"`, `"chinese"` or `"other"`: which text rules apply.
    language: &'static str,
    /// Output rate in Hz, when known before the model loads.
    sample_rate: Option<u32>,
    /// Speakers of the model.
    num_speakers: usize,
    /// Default speaker of the voice.
    speaker: Option<i64>,
    /// Whether it is a cloned voice.
    cloned: bool,
    /// Whether requests naming no voice use it.
    is_default: bool,
}

impl From<CoreVoiceInfo> for VoiceInfo {
    fn from(v: CoreVoiceInfo) -> Self {
        Self {
            name: v.name,
            version: v.version,
            model: v.model,
            language: match v.language {
                Language::English => "english",
                Language::Chinese => "chinese",
                Language::Other => "other",
            },
            sample_rate: v.sample_rate,
            num_speakers: v.num_speakers,
            speaker: v.speaker,
            cloned: v.cloned,
            is_default: v.is_default,
        }
    }
}

#[pymethods]
impl VoiceInfo {
    fn __repr__(&self) -> String {
        format!(
            "VoiceInfo(name={:?}, version={}, model={:?}, language={:?}, sample_rate={}, \
             num_speakers={}, is_default={})",
            self.name,
            self.version,
            self.model,
            self.language,
            self.sample_rate
                .map_or_else(|| "None".to_owned(), |r| r.to_string()),
            self.num_speakers,
            if self.is_default { "True" } else { "False" }
        )
    }
}

/// How a request read through a callback or into a file went.
#[pyclass(module = "ishowtts._ishowtts", frozen, get_all)]
pub struct RequestSummary {
    /// The request's id.
    request_id: u64,
    /// Chunks delivered.
    chunks: usize,
    /// Samples delivered.
    samples: u64,
    /// Their rate in Hz (0 when no chunk came).
    sample_rate: u32,
    /// Whether the request was stopped before its end (the callback
    /// returned `False`).
    cancelled: bool,
    /// Seconds from the call to the first chunk (`None` when none came).
    time_to_first_audio: Option<f64>,
    /// Seconds from the call to the end.
    total_time: f64,
}

impl From<CoreSummary> for RequestSummary {
    fn from(s: CoreSummary) -> Self {
        Self {
            request_id: s.request_id,
            chunks: s.chunks,
            samples: s.samples,
            sample_rate: s.sample_rate,
            cancelled: s.cancelled,
            time_to_first_audio: s.time_to_first_audio.map(|d| d.as_secs_f64()),
            total_time: s.total_time.as_secs_f64(),
        }
    }
}

#[pymethods]
impl RequestSummary {
    /// Seconds of audio delivered.
    #[getter]
    fn duration(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.samples as f64 / f64::from(self.sample_rate)
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "RequestSummary(request_id={}, chunks={}, samples={}, sample_rate={}, cancelled={})",
            self.request_id,
            self.chunks,
            self.samples,
            self.sample_rate,
            if self.cancelled { "True" } else { "False" }
        )
    }
}

/// Percentiles of a latency window, in seconds.
#[pyclass(module = "ishowtts._ishowtts", frozen, get_all)]
#[derive(Clone)]
pub struct Percentiles {
    /// Samples ever recorded.
    count: u64,
    /// Median of the window.
    p50: f64,
    /// 90th percentile of the window.
    p90: f64,
    /// 99th percentile of the window.
    p99: f64,
    /// Largest in the window.
    max: f64,
}

impl From<CorePct> for Percentiles {
    fn from(p: CorePct) -> Self {
        Self {
            count: p.count,
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
            max: p.max,
        }
    }
}

#[pymethods]
impl Percentiles {
    /// The fields as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("count", self.count)?;
        d.set_item("p50", self.p50)?;
        d.set_item("p90", self.p90)?;
        d.set_item("p99", self.p99)?;
        d.set_item("max", self.max)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Percentiles(count={}, p50={:.6}, p90={:.6}, p99={:.6}, max={:.6})",
            self.count, self.p50, self.p90, self.p99, self.max
        )
    }
}

/// Counters of a cache.
#[pyclass(module = "ishowtts._ishowtts", frozen, get_all)]
#[derive(Clone)]
pub struct CacheStats {
    /// Lookups answered.
    hits: u64,
    /// Lookups not answered.
    misses: u64,
    /// Entries dropped to stay within the bounds.
    evictions: u64,
    /// Entries held now.
    entries: usize,
    /// Bytes held now.
    bytes: usize,
}

impl From<CoreCacheStats> for CacheStats {
    fn from(c: CoreCacheStats) -> Self {
        Self {
            hits: c.hits,
            misses: c.misses,
            evictions: c.evictions,
            entries: c.entries,
            bytes: c.bytes,
        }
    }
}

#[pymethods]
impl CacheStats {
    /// The fields as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("hits", self.hits)?;
        d.set_item("misses", self.misses)?;
        d.set_item("evictions", self.evictions)?;
        d.set_item("entries", self.entries)?;
        d.set_item("bytes", self.bytes)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "CacheStats(hits={}, misses={}, evictions={}, entries={}, bytes={})",
            self.hits, self.misses, self.evictions, self.entries, self.bytes
        )
    }
}

/// A point-in-time view of the engine's counters and latencies (seconds).
#[pyclass(module = "ishowtts._ishowtts", frozen)]
pub struct Metrics {
    /// Requests queued or running.
    #[pyo3(get)]
    queue_depth: usize,
    /// Sentences waiting in those requests.
    #[pyo3(get)]
    pending_sentences: usize,
    /// Requests accepted (cache hits included).
    #[pyo3(get)]
    requests: u64,
    /// Requests that delivered every chunk.
    #[pyo3(get)]
    completed: u64,
    /// Requests that failed.
    #[pyo3(get)]
    failed: u64,
    /// Requests cancelled.
    #[pyo3(get)]
    cancelled: u64,
    /// Requests refused with `BusyError`.
    #[pyo3(get)]
    rejected_busy: u64,
    /// Submission to first chunk, per request.
    #[pyo3(get)]
    time_to_first_audio: Percentiles,
    /// Model time per sentence.
    #[pyo3(get)]
    sentence_synthesis: Percentiles,
    /// Wait for the model per sentence.
    #[pyo3(get)]
    queue_wait: Percentiles,
    /// Seconds of audio the model made (cache hits excluded).
    #[pyo3(get)]
    audio_seconds: f64,
    /// Seconds spent in the model.
    #[pyo3(get)]
    synthesis_seconds: f64,
    /// `synthesis_seconds / audio_seconds` (0 before any audio).
    #[pyo3(get)]
    real_time_factor: f64,
    /// Output cache counters.
    #[pyo3(get)]
    output_cache: CacheStats,
    /// Voice prompt cache counters.
    #[pyo3(get)]
    prompt_cache: CacheStats,
    /// Model loads that succeeded.
    #[pyo3(get)]
    model_loads: u64,
    /// Model loads that failed.
    #[pyo3(get)]
    model_load_failures: u64,
    /// Models unloaded (idle timeout or voice removal).
    #[pyo3(get)]
    model_unloads: u64,
    /// Models loaded now.
    #[pyo3(get)]
    models_loaded: usize,
    /// Batched model steps taken (models run step by step).
    #[pyo3(get)]
    batch_steps: u64,
    /// Streams served per batched step (counts, not seconds).
    #[pyo3(get)]
    batch_size: Percentiles,
    /// Wait of a sentence from joining a batch to its first step.
    #[pyo3(get)]
    batch_wait: Percentiles,
    /// Batched steps that failed as a whole and were retried smaller.
    #[pyo3(get)]
    batch_retries: u64,
    /// Sentences ended by the model's length budget rather than by its own
    /// end of speech (autoregressive models).
    #[pyo3(get)]
    sentences_at_budget: u64,
    snapshot: MetricsSnapshot,
}

impl From<MetricsSnapshot> for Metrics {
    fn from(m: MetricsSnapshot) -> Self {
        Self {
            snapshot: m.clone(),
            queue_depth: m.queue_depth,
            pending_sentences: m.pending_sentences,
            requests: m.requests,
            completed: m.completed,
            failed: m.failed,
            cancelled: m.cancelled,
            rejected_busy: m.rejected_busy,
            time_to_first_audio: m.time_to_first_audio.into(),
            sentence_synthesis: m.sentence_synthesis.into(),
            queue_wait: m.queue_wait.into(),
            audio_seconds: m.audio_seconds,
            synthesis_seconds: m.synthesis_seconds,
            real_time_factor: m.real_time_factor,
            output_cache: m.output_cache.into(),
            prompt_cache: m.prompt_cache.into(),
            model_loads: m.model_loads,
            model_load_failures: m.model_load_failures,
            model_unloads: m.model_unloads,
            models_loaded: m.models_loaded,
            batch_steps: m.batch_steps,
            batch_size: m.batch_size.into(),
            batch_wait: m.batch_wait.into(),
            batch_retries: m.batch_retries,
            sentences_at_budget: m.sentences_at_budget,
        }
    }
}

#[pymethods]
impl Metrics {
    /// Every field as a dict (percentiles and cache counters as nested
    /// dicts), e.g. for JSON.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("queue_depth", self.queue_depth)?;
        d.set_item("pending_sentences", self.pending_sentences)?;
        d.set_item("requests", self.requests)?;
        d.set_item("completed", self.completed)?;
        d.set_item("failed", self.failed)?;
        d.set_item("cancelled", self.cancelled)?;
        d.set_item("rejected_busy", self.rejected_busy)?;
        d.set_item("time_to_first_audio", self.time_to_first_audio.to_dict(py)?)?;
        d.set_item("sentence_synthesis", self.sentence_synthesis.to_dict(py)?)?;
        d.set_item("queue_wait", self.queue_wait.to_dict(py)?)?;
        d.set_item("audio_seconds", self.audio_seconds)?;
        d.set_item("synthesis_seconds", self.synthesis_seconds)?;
        d.set_item("real_time_factor", self.real_time_factor)?;
        d.set_item("output_cache", self.output_cache.to_dict(py)?)?;
        d.set_item("prompt_cache", self.prompt_cache.to_dict(py)?)?;
        d.set_item("model_loads", self.model_loads)?;
        d.set_item("model_load_failures", self.model_load_failures)?;
        d.set_item("model_unloads", self.model_unloads)?;
        d.set_item("models_loaded", self.models_loaded)?;
        d.set_item("batch_steps", self.batch_steps)?;
        d.set_item("batch_size", self.batch_size.to_dict(py)?)?;
        d.set_item("batch_wait", self.batch_wait.to_dict(py)?)?;
        d.set_item("batch_retries", self.batch_retries)?;
        d.set_item("sentences_at_budget", self.sentences_at_budget)?;
        Ok(d)
    }

    /// The snapshot in Prometheus text exposition format.
    fn to_prometheus(&self) -> String {
        self.snapshot.to_prometheus()
    }

    fn __repr__(&self) -> String {
        format!(
            "Metrics(requests={}, completed={}, failed={}, cancelled={}, queue_depth={}, \
             real_time_factor={:.4})",
            self.requests,
            self.completed,
            self.failed,
            self.cancelled,
            self.queue_depth,
            self.real_time_factor
        )
    }
}

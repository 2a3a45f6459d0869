//! Engine metrics: counters and latency windows, read as a snapshot.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use super::cache::CacheStats;

/// Latency samples kept per window (older ones fall off).
const WINDOW: usize = 2048;

/// Percentiles of a latency window, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Percentiles {
    /// Samples ever recorded.
    pub count: u64,
    /// Median of the window.
    pub p50: f64,
    /// 90th percentile of the window.
    pub p90: f64,
    /// 99th percentile of the window.
    pub p99: f64,
    /// Largest in the window.
    pub max: f64,
}

/// A point-in-time view of the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Requests queued or running.
    pub queue_depth: usize,
    /// Sentences waiting in those requests.
    pub pending_sentences: usize,
    /// Requests accepted (including cache hits).
    pub requests: u64,
    /// Requests that delivered every chunk.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests cancelled.
    pub cancelled: u64,
    /// Requests refused with `Busy`.
    pub rejected_busy: u64,
    /// Submission to first chunk, per request.
    pub time_to_first_audio: Percentiles,
    /// Model time per sentence.
    pub sentence_synthesis: Percentiles,
    /// Wait for the worker per sentence.
    pub queue_wait: Percentiles,
    /// Seconds of audio synthesized by the model (cache hits excluded).
    pub audio_seconds: f64,
    /// Seconds spent in the model.
    pub synthesis_seconds: f64,
    /// `synthesis_seconds / audio_seconds` (0 before any audio).
    pub real_time_factor: f64,
    /// Output cache counters.
    pub output_cache: CacheStats,
    /// Voice prompt cache counters.
    pub prompt_cache: CacheStats,
    /// Model loads that succeeded.
    pub model_loads: u64,
    /// Model loads that failed.
    pub model_load_failures: u64,
    /// Models unloaded (idle timeout or voice removal).
    pub model_unloads: u64,
    /// Models loaded now (with several workers, each worker's copy counts).
    pub models_loaded: usize,
    /// Batched model steps taken (models run step by step).
    pub batch_steps: u64,
    /// Streams served per batched step (a count, not seconds).
    pub batch_size: Percentiles,
    /// Wait of a sentence from joining a batch to its first step.
    pub batch_wait: Percentiles,
    /// Batched steps that failed as a whole and were retried smaller.
    pub batch_retries: u64,
    /// Sentences ended by their model's length budget rather than by the
    /// model's own end of speech (autoregressive models).
    pub sentences_at_budget: u64,
}

impl MetricsSnapshot {
    /// The snapshot in Prometheus text exposition format.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        const COUNTER: &str = "counter";
        const GAUGE: &str = "gauge";
        // name, type, value, help
        #[rustfmt::skip]
        let scalars: [(&str, &str, f64, &str); 22] = [
            ("queue_depth", GAUGE, self.queue_depth as f64, "Requests queued or running."),
            ("pending_sentences", GAUGE, self.pending_sentences as f64, "Sentences waiting."),
            ("requests_total", COUNTER, self.requests as f64, "Requests accepted."),
            ("requests_completed_total", COUNTER, self.completed as f64, "Requests completed."),
            ("requests_failed_total", COUNTER, self.failed as f64, "Requests failed."),
            ("requests_cancelled_total", COUNTER, self.cancelled as f64, "Requests cancelled."),
            ("requests_busy_total", COUNTER, self.rejected_busy as f64, "Requests refused as busy."),
            ("audio_seconds_total", COUNTER, self.audio_seconds, "Audio synthesized."),
            ("synthesis_seconds_total", COUNTER, self.synthesis_seconds, "Model time."),
            ("real_time_factor", GAUGE, self.real_time_factor, "Model time over audio time."),
            ("output_cache_hits_total", COUNTER, self.output_cache.hits as f64, "Output cache hits."),
            ("output_cache_misses_total", COUNTER, self.output_cache.misses as f64, "Output cache misses."),
            ("output_cache_evictions_total", COUNTER, self.output_cache.evictions as f64, "Output cache evictions."),
            ("output_cache_bytes", GAUGE, self.output_cache.bytes as f64, "Output cache size."),
            ("prompt_cache_hits_total", COUNTER, self.prompt_cache.hits as f64, "Voice prompt cache hits."),
            ("prompt_cache_misses_total", COUNTER, self.prompt_cache.misses as f64, "Voice prompt cache misses."),
            ("model_loads_total", COUNTER, self.model_loads as f64, "Model loads."),
            ("model_unloads_total", COUNTER, self.model_unloads as f64, "Model unloads."),
            ("models_loaded", GAUGE, self.models_loaded as f64, "Models loaded now."),
            ("batch_steps_total", COUNTER, self.batch_steps as f64, "Batched model steps."),
            ("batch_retries_total", COUNTER, self.batch_retries as f64, "Batched steps retried smaller after an error."),
            ("sentences_at_budget_total", COUNTER, self.sentences_at_budget as f64, "Sentences ended by the model's length budget, not its own end of speech."),
        ];
        for (name, kind, v, help) in scalars {
            let _ = writeln!(out, "# HELP ishowtts_{name} {help}");
            let _ = writeln!(out, "# TYPE ishowtts_{name} {kind}");
            let _ = writeln!(out, "ishowtts_{name} {v}");
        }
        for (name, p) in [
            ("time_to_first_audio_seconds", &self.time_to_first_audio),
            ("sentence_synthesis_seconds", &self.sentence_synthesis),
            ("queue_wait_seconds", &self.queue_wait),
            ("batch_size", &self.batch_size),
            ("batch_wait_seconds", &self.batch_wait),
        ] {
            let _ = writeln!(out, "# TYPE ishowtts_{name} summary");
            for (q, v) in [("0.5", p.p50), ("0.9", p.p90), ("0.99", p.p99)] {
                let _ = writeln!(out, "ishowtts_{name}{{quantile=\"{q}\"}} {v}");
            }
            let _ = writeln!(out, "ishowtts_{name}_count {}", p.count);
        }
        out
    }
}

#[derive(Default)]
struct Window {
    samples: VecDeque<f64>,
    count: u64,
}

impl Window {
    fn record(&mut self, d: Duration) {
        self.record_value(d.as_secs_f64());
    }

    fn record_value(&mut self, v: f64) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(v);
        self.count += 1;
    }

    fn percentiles(&self) -> Percentiles {
        let mut v: Vec<f64> = self.samples.iter().copied().collect();
        if v.is_empty() {
            return Percentiles::default();
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            count: self.count,
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Counters shared by the engine's threads.
#[derive(Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    rejected_busy: u64,
    ttfa: Window,
    sentence: Window,
    queue_wait: Window,
    audio_seconds: f64,
    synthesis_seconds: f64,
    prompt_cache: CacheStats,
    model_loads: u64,
    model_load_failures: u64,
    model_unloads: u64,
    models_loaded: usize,
    batch_size: Window,
    batch_wait: Window,
    batch_retries: u64,
    sentences_at_budget: u64,
}

/// How a request ended, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Failed,
    Cancelled,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn request_accepted(&self) {
        self.with(|m| m.requests += 1);
    }
    pub fn request_busy(&self) {
        self.with(|m| m.rejected_busy += 1);
    }
    pub fn request_ended(&self, outcome: Outcome) {
        self.with(|m| match outcome {
            Outcome::Completed => m.completed += 1,
            Outcome::Failed => m.failed += 1,
            Outcome::Cancelled => m.cancelled += 1,
        });
    }
    pub fn first_audio(&self, ttfa: Duration) {
        self.with(|m| m.ttfa.record(ttfa));
    }
    pub fn sentence(&self, queue_wait: Duration, synthesis: Duration, audio_seconds: f64) {
        self.with(|m| {
            m.queue_wait.record(queue_wait);
            m.sentence.record(synthesis);
            m.synthesis_seconds += synthesis.as_secs_f64();
            m.audio_seconds += audio_seconds;
        });
    }
    /// A worker loaded a model (or failed to). Each worker's copy counts.
    pub fn model_loaded(&self, ok: bool) {
        self.with(|m| {
            if ok {
                m.model_loads += 1;
                m.models_loaded += 1;
            } else {
                m.model_load_failures += 1;
            }
        });
    }
    /// A worker dropped `n` of its models.
    pub fn models_unloaded(&self, n: usize) {
        self.with(|m| {
            m.model_unloads += n as u64;
            m.models_loaded = m.models_loaded.saturating_sub(n);
        });
    }
    pub fn batch_step(&self, size: usize) {
        self.with(|m| m.batch_size.record_value(size as f64));
    }
    pub fn batch_joined(&self, wait: Duration) {
        self.with(|m| m.batch_wait.record(wait));
    }
    pub fn batch_retried(&self) {
        self.with(|m| m.batch_retries += 1);
    }
    pub fn sentence_at_budget(&self) {
        self.with(|m| m.sentences_at_budget += 1);
    }
    pub fn prompt_cache(&self, stats: CacheStats) {
        self.with(|m| m.prompt_cache = stats);
    }

    pub fn snapshot(
        &self,
        queue_depth: usize,
        pending_sentences: usize,
        output_cache: CacheStats,
    ) -> MetricsSnapshot {
        self.with(|m| MetricsSnapshot {
            queue_depth,
            pending_sentences,
            requests: m.requests,
            completed: m.completed,
            failed: m.failed,
            cancelled: m.cancelled,
            rejected_busy: m.rejected_busy,
            time_to_first_audio: m.ttfa.percentiles(),
            sentence_synthesis: m.sentence.percentiles(),
            queue_wait: m.queue_wait.percentiles(),
            audio_seconds: m.audio_seconds,
            synthesis_seconds: m.synthesis_seconds,
            real_time_factor: if m.audio_seconds > 0.0 {
                m.synthesis_seconds / m.audio_seconds
            } else {
                0.0
            },
            output_cache,
            prompt_cache: m.prompt_cache,
            model_loads: m.model_loads,
            model_load_failures: m.model_load_failures,
            model_unloads: m.model_unloads,
            models_loaded: m.models_loaded,
            batch_steps: m.batch_size.count,
            batch_size: m.batch_size.percentiles(),
            batch_wait: m.batch_wait.percentiles(),
            batch_retries: m.batch_retries,
            sentences_at_budget: m.sentences_at_budget,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_window() {
        let mut w = Window::default();
        for i in 1..=100 {
            w.record(Duration::from_millis(i));
        }
        let p = w.percentiles();
        assert_eq!(p.count, 100);
        assert!((p.p50 - 0.050).abs() < 0.0015, "{p:?}");
        assert!((p.p90 - 0.090).abs() < 0.0015, "{p:?}");
        assert!((p.max - 0.100).abs() < 1e-9);
        assert_eq!(Window::default().percentiles(), Percentiles::default());
    }

    #[test]
    fn prometheus_text_has_every_family() {
        let s = MetricsSnapshot {
            queue_depth: 3,
            ..Default::default()
        };
        let text = s.to_prometheus();
        assert!(text.contains("ishowtts_queue_depth 3\n"));
        assert!(text.contains("ishowtts_time_to_first_audio_seconds{quantile=\"0.99\"}"));
    }
}

//! How an [`Engine`](super::Engine) is built: device, caches, queue,
//! model lifecycle and text defaults.

use std::time::Duration;

use crate::text::split::SplitOptions;
use crate::{Error, Result};

/// Where the models run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// The CPU (all cores through candle's thread pool).
    #[default]
    Cpu,
    /// An NVIDIA GPU by ordinal (needs the `cuda` feature).
    Cuda(usize),
}

impl DeviceSpec {
    /// The candle device; `Unsupported` when CUDA is asked of a build
    /// without it, or of a machine where the device cannot be opened.
    pub fn device(&self) -> Result<candle_core::Device> {
        match *self {
            DeviceSpec::Cpu => Ok(candle_core::Device::Cpu),
            #[cfg(feature = "cuda")]
            DeviceSpec::Cuda(i) => candle_core::Device::new_cuda(i).map_err(|e| {
                // candle's error alone names only the driver call
                Error::Unsupported(format!(
                    "CUDA device {i} cannot be opened (it needs an NVIDIA GPU, its driver \
                     and the CUDA libraries the build links): {e}"
                ))
            }),
            #[cfg(not(feature = "cuda"))]
            DeviceSpec::Cuda(_) => Err(Error::Unsupported(
                "CUDA device requested but this build has no `cuda` feature".into(),
            )),
        }
    }
}

/// Bounds of an LRU cache; a `0` in either field disables the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most entries kept.
    pub max_entries: usize,
    /// Most bytes of audio kept.
    pub max_bytes: usize,
}

impl CacheLimits {
    /// A disabled cache.
    pub const DISABLED: CacheLimits = CacheLimits {
        max_entries: 0,
        max_bytes: 0,
    };

    /// Whether anything can be stored.
    pub fn enabled(&self) -> bool {
        self.max_entries > 0 && self.max_bytes > 0
    }
}

/// Engine settings. `EngineConfig::default()` is a CPU engine with a 64 MiB
/// output cache, no idle unload, a queue of 64 requests, no batching
/// across streams and one worker thread.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Device the worker runs the models on.
    pub device: DeviceSpec,
    /// Output cache: whole requests' audio by content hash.
    pub output_cache: CacheLimits,
    /// Processed reference voices (cloning models) kept, by content hash.
    pub prompt_cache_entries: usize,
    /// Unload models after this long without work (`None`: never).
    pub idle_unload: Option<Duration>,
    /// Most requests queued or running at once; more fail with `Busy`.
    pub queue_limit: usize,
    /// Longest text accepted, in bytes (longer fails with `TextTooLong`).
    pub max_text_bytes: usize,
    /// Sentence splitting defaults (a request may ask for a short first
    /// chunk on top).
    pub split: SplitOptions,
    /// Rewrite numbers, dates, currency… into words before synthesis.
    pub normalize_text: bool,
    /// Most streams whose current sentences one model call serves
    /// (`1..=`[`MAX_BATCH`]). Models run step by step (F5-TTS) gather the
    /// next step of up to this many streams into one batched call; 1 serves
    /// one sentence at a time, as models without steps always are. Off (1)
    /// by default: batches pay only where a step's cost does not grow with
    /// its rows (docs/benchmarks.md, "Throughput").
    pub max_batch: usize,
    /// How long the worker may wait for more streams before the first step
    /// of a new batch that is not full (zero: start at once). Streams that
    /// arrive later join a running batch at its next step either way.
    pub batch_window: Duration,
    /// Worker threads (`1..=`[`MAX_WORKERS`]), each serving one sentence
    /// at a time from the shared queue with its own copy of the models it
    /// serves. 1 by default. More pay where one model call leaves cores
    /// idle: Piper on a CPU (its text encoder and flow run on one core)
    /// under several concurrent streams; the memory of the models grows
    /// with the count. On a GPU keep 1 and batch instead.
    pub workers: usize,
}

/// The largest `max_batch` accepted.
pub const MAX_BATCH: usize = 256;
/// The most worker threads accepted.
pub const MAX_WORKERS: usize = 64;

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            device: DeviceSpec::Cpu,
            output_cache: CacheLimits {
                max_entries: 1024,
                max_bytes: 64 << 20,
            },
            prompt_cache_entries: 16,
            idle_unload: None,
            queue_limit: 64,
            max_text_bytes: 16 << 20,
            split: SplitOptions::default(),
            normalize_text: true,
            max_batch: 1,
            batch_window: Duration::ZERO,
            workers: 1,
        }
    }
}

impl EngineConfig {
    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        if self.queue_limit == 0 {
            return Err(Error::InvalidParameter {
                name: "queue_limit",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if self.max_text_bytes == 0 {
            return Err(Error::InvalidParameter {
                name: "max_text_bytes",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if !(1..=MAX_BATCH).contains(&self.max_batch) {
            return Err(Error::InvalidParameter {
                name: "max_batch",
                value: self.max_batch.to_string(),
                reason: "must be between 1 and 256",
            });
        }
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(Error::InvalidParameter {
                name: "workers",
                value: self.workers.to_string(),
                reason: "must be between 1 and 64",
            });
        }
        if self.batch_window > Duration::from_secs(10) {
            return Err(Error::InvalidParameter {
                name: "batch_window",
                value: format!("{:?}", self.batch_window),
                reason: "must be at most 10 s",
            });
        }
        if self.idle_unload == Some(Duration::ZERO) {
            return Err(Error::InvalidParameter {
                name: "idle_unload",
                value: "0".into(),
                reason: "must be positive (use None to never unload)",
            });
        }
        Ok(())
    }
}

//! The engine handle: creation from `tts_engine_params`, voices, metrics.

use std::ffi::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ishowtts::engine::{CacheLimits, DeviceSpec, Engine, EngineConfig, Reference, VoiceSpec};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use ishowtts::models::qwen3_tts::Qwen3VoiceConfig;
use ishowtts::Error;

use crate::error::{guard, guard_value, invalid, opt_str_arg, read_sized, str_arg, write_sized};
use crate::error::{released_sizes, TTS_OK};

/// Run on the CPU.
pub const TTS_DEVICE_CPU: i32 = 0;
/// Run on the CUDA device `cuda_device` (needs a build with CUDA).
pub const TTS_DEVICE_CUDA: i32 = 1;

/// `speaker` of `tts_engine_add_piper_voice`: the voice's own default.
/// (Defined by hand in the header, as `(-1)`: cbindgen drops the
/// parentheses a negative macro needs.)
pub(crate) const TTS_SPEAKER_DEFAULT: i64 = -1;

/// An engine: the models, their worker thread and the caches. Any number
/// of threads may use one engine at once.
pub struct TtsEngine {
    pub(crate) engine: Engine,
}

/// Engine settings. Start from `tts_engine_default_params()` (which sets
/// `struct_size`) and change what you need.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtsEngineParams {
    /// `sizeof(tts_engine_params)` as the caller was compiled with.
    pub struct_size: usize,
    /// Piper voice model (`.onnx`, its `.onnx.json` beside it), registered
    /// as "default". NULL: the installed default voice (`$ISHOWTTS_VOICE`,
    /// else `en_US-joe-medium.onnx` in the models directory). Read during
    /// `tts_engine_new` only.
    pub voice_path: *const c_char,
    /// `TTS_DEVICE_CPU` or `TTS_DEVICE_CUDA`.
    pub device: i32,
    /// CUDA ordinal when `device` is `TTS_DEVICE_CUDA`.
    pub cuda_device: i32,
    /// Output cache: most entries kept (0 disables the cache).
    pub cache_max_entries: u64,
    /// Output cache: most bytes of audio kept (0 disables the cache).
    pub cache_max_bytes: u64,
    /// Unload models after this many milliseconds without work; 0: never.
    pub idle_unload_ms: u64,
    /// Most requests queued or running at once (at least 1); more fail with
    /// `TTS_ERR_BUSY`.
    pub queue_limit: u32,
    /// Nonzero: rewrite numbers, dates, currency… into words.
    pub normalize_text: i32,
    /// Longest text accepted, in bytes (at least 1); longer fails with
    /// `TTS_ERR_TEXT_TOO_LONG`.
    pub max_text_bytes: u64,
    /// Most streams one batched model step serves (1 to 256; 1: batching
    /// off). Models run step by step (F5-TTS) advance the current sentences
    /// of up to this many streams together.
    pub max_batch: u32,
    /// How long a new batch that is not full may wait for more streams
    /// before its first step, in milliseconds (0: start at once).
    pub batch_window_ms: u32,
    /// Worker threads (1 to 64), each serving one sentence at a time with
    /// its own copy of the models it serves: 2 raise Piper's throughput on
    /// a CPU under concurrent streams; keep 1 on a GPU.
    pub workers: u32,
}

/// `struct_size` of every released `tts_engine_params` layout: up to
/// `max_text_bytes`, then `max_batch` and `batch_window_ms`, `workers`.
const ENGINE_PARAMS_SIZES: &[usize] = released_sizes!(TtsEngineParams: max_batch, workers);

/// A snapshot of an engine's counters. Set `struct_size` to
/// `sizeof(tts_metrics)` before calling `tts_engine_metrics`. Times are in
/// seconds; percentiles cover a recent window.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtsMetrics {
    /// `sizeof(tts_metrics)` as the caller was compiled with.
    pub struct_size: usize,
    /// Requests queued or running.
    pub queue_depth: u64,
    /// Sentences waiting for the model.
    pub pending_sentences: u64,
    /// Requests accepted.
    pub requests: u64,
    /// Requests that delivered all their audio.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests cancelled.
    pub cancelled: u64,
    /// Requests refused with `TTS_ERR_BUSY`.
    pub rejected_busy: u64,
    /// Time to first audio: median.
    pub ttfa_p50: f64,
    /// Time to first audio: 90th percentile.
    pub ttfa_p90: f64,
    /// Time to first audio: 99th percentile.
    pub ttfa_p99: f64,
    /// Model time per sentence: median.
    pub sentence_p50: f64,
    /// Model time per sentence: 90th percentile.
    pub sentence_p90: f64,
    /// Model time per sentence: 99th percentile.
    pub sentence_p99: f64,
    /// Queue wait per sentence: median.
    pub queue_wait_p50: f64,
    /// Model time over audio time, all sentences so far.
    pub real_time_factor: f64,
    /// Seconds of audio synthesized.
    pub audio_seconds: f64,
    /// Output cache hits.
    pub cache_hits: u64,
    /// Output cache misses.
    pub cache_misses: u64,
    /// Output cache evictions.
    pub cache_evictions: u64,
    /// Output cache entries held.
    pub cache_entries: u64,
    /// Output cache bytes held.
    pub cache_bytes: u64,
    /// Model loads that succeeded.
    pub model_loads: u64,
    /// Model loads that failed.
    pub model_load_failures: u64,
    /// Model unloads (idle or voice removed).
    pub model_unloads: u64,
    /// Models loaded now.
    pub models_loaded: u64,
    /// Batched model steps taken.
    pub batch_steps: u64,
    /// Streams per batched step: median.
    pub batch_size_p50: f64,
    /// Streams per batched step: largest in the window.
    pub batch_size_max: f64,
    /// Wait from joining a batch to the first step: median.
    pub batch_wait_p50: f64,
    /// Batched steps that failed as a whole and were retried smaller.
    pub batch_retries: u64,
    /// Sentences ended by the model's length budget, not by its own end
    /// of speech (autoregressive models such as Qwen3-TTS).
    pub sentences_at_budget: u64,
}

/// `struct_size` of every released `tts_metrics` layout: up to
/// `models_loaded`, then the batch figures, `sentences_at_budget`.
const METRICS_SIZES: &[usize] = released_sizes!(TtsMetrics: batch_steps, sentences_at_budget);

/// # Safety
/// `p` is NULL or a pointer from `tts_engine_new` not yet freed.
pub(crate) unsafe fn engine_ref<'a>(p: *const TtsEngine) -> Result<&'a Engine, Error> {
    // SAFETY: by this function's contract.
    unsafe { p.as_ref() }
        .map(|e| &e.engine)
        .ok_or_else(|| invalid("engine is NULL"))
}

fn defaults() -> TtsEngineParams {
    let d = EngineConfig::default();
    TtsEngineParams {
        struct_size: std::mem::size_of::<TtsEngineParams>(),
        voice_path: std::ptr::null(),
        device: TTS_DEVICE_CPU,
        cuda_device: 0,
        cache_max_entries: d.output_cache.max_entries as u64,
        cache_max_bytes: d.output_cache.max_bytes as u64,
        idle_unload_ms: d.idle_unload.map_or(0, |t| t.as_millis() as u64),
        queue_limit: d.queue_limit as u32,
        normalize_text: d.normalize_text as i32,
        max_text_bytes: d.max_text_bytes as u64,
        max_batch: d.max_batch as u32,
        batch_window_ms: d.batch_window.as_millis() as u32,
        workers: d.workers as u32,
    }
}

/// Default engine settings: the installed default voice, CPU, a 64 MiB
/// output cache, no idle unload, a queue of 64 requests, no batching across
/// streams (`max_batch` 1), one worker.
#[no_mangle]
pub extern "C" fn tts_engine_default_params() -> TtsEngineParams {
    guard_value(refused(), defaults)
}

/// What `tts_engine_default_params` returns should it ever fail: a struct
/// every function refuses (`struct_size` 0).
fn refused() -> TtsEngineParams {
    TtsEngineParams {
        struct_size: 0,
        voice_path: std::ptr::null(),
        device: TTS_DEVICE_CPU,
        cuda_device: 0,
        cache_max_entries: 0,
        cache_max_bytes: 0,
        idle_unload_ms: 0,
        queue_limit: 0,
        normalize_text: 0,
        max_text_bytes: 0,
        max_batch: 0,
        batch_window_ms: 0,
        workers: 0,
    }
}

fn to_usize(v: u64, name: &'static str) -> Result<usize, Error> {
    usize::try_from(v).map_err(|_| Error::InvalidParameter {
        name,
        value: v.to_string(),
        reason: "does not fit this platform's size_t",
    })
}

fn config(p: &TtsEngineParams) -> Result<EngineConfig, Error> {
    let device = match p.device {
        TTS_DEVICE_CPU => DeviceSpec::Cpu,
        TTS_DEVICE_CUDA => DeviceSpec::Cuda(usize::try_from(p.cuda_device).map_err(|_| {
            Error::InvalidParameter {
                name: "cuda_device",
                value: p.cuda_device.to_string(),
                reason: "must be a device ordinal (0 or more)",
            }
        })?),
        d => {
            return Err(invalid(format!(
                "device is {d}: use TTS_DEVICE_CPU or TTS_DEVICE_CUDA"
            )))
        }
    };
    Ok(EngineConfig {
        device,
        output_cache: CacheLimits {
            max_entries: to_usize(p.cache_max_entries, "cache_max_entries")?,
            max_bytes: to_usize(p.cache_max_bytes, "cache_max_bytes")?,
        },
        idle_unload: (p.idle_unload_ms > 0).then(|| Duration::from_millis(p.idle_unload_ms)),
        queue_limit: p.queue_limit as usize,
        max_text_bytes: to_usize(p.max_text_bytes, "max_text_bytes")?,
        normalize_text: p.normalize_text != 0,
        max_batch: p.max_batch as usize,
        batch_window: Duration::from_millis(p.batch_window_ms.into()),
        workers: p.workers as usize,
        ..EngineConfig::default()
    })
}

/// Creates an engine and registers its first voice as "default" (only the
/// voice's config is read now; the weights load on the first request). On
/// success writes the handle to `*out`; free it with `tts_engine_free`.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_new(
    params: *const TtsEngineParams,
    out: *mut *mut TtsEngine,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: params is NULL or the caller's struct (tts.h).
        let p = unsafe { read_sized(params, defaults(), ENGINE_PARAMS_SIZES, "params") }?;
        let config = config(&p)?;
        // SAFETY: voice_path is NULL or a C string (tts.h).
        let spec = match unsafe { opt_str_arg(p.voice_path, "voice_path") }? {
            Some(path) => VoiceSpec::piper(path)?,
            None => VoiceSpec::piper_default()?,
        };
        let engine = Engine::new(config)?;
        engine.add_voice("default", spec)?;
        let handle = Box::into_raw(Box::new(TtsEngine { engine }));
        // SAFETY: out is non-NULL (checked above) and writable (tts.h).
        unsafe { out.write(handle) };
        Ok(TTS_OK)
    })
}

/// Frees an engine; NULL is ignored. No call on the engine may be running
/// (in any thread) and none may follow. Streams still open end with
/// `TTS_ERR_ENGINE_CLOSED`; free them too.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_free(engine: *mut TtsEngine) {
    guard(|| {
        if !engine.is_null() {
            // SAFETY: the pointer came from tts_engine_new and is freed once.
            drop(unsafe { Box::from_raw(engine) });
        }
        Ok(TTS_OK)
    });
}

/// Registers the Piper voice `name` from `model_path` (its `.onnx.json`
/// beside it), replacing a voice of that name; requests already running
/// keep the voice they started with. `speaker`: the default speaker of a
/// multi-speaker voice, or `TTS_SPEAKER_DEFAULT`.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_add_piper_voice(
    engine: *const TtsEngine,
    name: *const c_char,
    model_path: *const c_char,
    speaker: i64,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let path = unsafe { str_arg(model_path, "model_path") }?;
        let mut spec = VoiceSpec::piper(Path::new(path))?;
        if speaker != TTS_SPEAKER_DEFAULT {
            spec = spec.with_speaker(speaker);
        }
        e.add_voice(name, spec)?;
        Ok(TTS_OK)
    })
}

/// `variant` of `tts_f5_voice_params`: F5TTS_v1_Base (the current release).
pub const TTS_F5_V1_BASE: i32 = 0;
/// `variant` of `tts_f5_voice_params`: F5TTS_Base (the first release).
pub const TTS_F5_BASE: i32 = 1;

/// An F5-TTS voice: the model's files and the recording to clone. Start
/// from `tts_f5_voice_default_params()` (which sets `struct_size`). The
/// strings are read during `tts_engine_add_f5_voice` only.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtsF5VoiceParams {
    /// `sizeof(tts_f5_voice_params)` as the caller was compiled with.
    pub struct_size: usize,
    /// Reference recording to clone (WAV, MP3, FLAC or OGG; up to 30 s).
    pub ref_audio_path: *const c_char,
    /// What is said in the recording (UTF-8).
    pub ref_text: *const c_char,
    /// Checkpoint folder (`model_<step>.safetensors` + `vocab.txt`) or
    /// file; NULL: the released `variant` in the Hugging Face cache
    /// (`$HF_HOME/hub`; no download).
    pub checkpoint: *const c_char,
    /// `TTS_F5_V1_BASE` or `TTS_F5_BASE`: the network shape.
    pub variant: i32,
    /// Network config (upstream YAML or JSON) for another shape; NULL: the
    /// variant's.
    pub config: *const c_char,
    /// Vocos folder (`config.yaml` + weights); NULL:
    /// `charactr/vocos-mel-24khz` in the Hugging Face cache.
    pub vocoder: *const c_char,
}

/// `struct_size` of every released `tts_f5_voice_params` layout.
const F5_VOICE_PARAMS_SIZES: &[usize] = &[std::mem::size_of::<TtsF5VoiceParams>()];

fn f5_defaults() -> TtsF5VoiceParams {
    TtsF5VoiceParams {
        struct_size: std::mem::size_of::<TtsF5VoiceParams>(),
        ref_audio_path: std::ptr::null(),
        ref_text: std::ptr::null(),
        checkpoint: std::ptr::null(),
        variant: TTS_F5_V1_BASE,
        config: std::ptr::null(),
        vocoder: std::ptr::null(),
    }
}

/// Default F5-TTS voice settings: F5TTS_v1_Base and Vocos from the Hugging
/// Face cache; the reference recording and its text must be set.
#[no_mangle]
pub extern "C" fn tts_f5_voice_default_params() -> TtsF5VoiceParams {
    let refused = TtsF5VoiceParams {
        struct_size: 0,
        ..f5_defaults()
    };
    guard_value(refused, f5_defaults)
}

/// Registers the F5-TTS voice `name`, cloned from `params`' reference
/// recording, replacing a voice of that name. The files are checked and
/// the recording decoded now (a bad recording fails here with
/// `TTS_ERR_REFERENCE_AUDIO`, an empty transcript with
/// `TTS_ERR_INVALID_TEXT`, a missing model with `TTS_ERR_VOICE_NOT_FOUND`);
/// the weights load on the voice's first request.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_add_f5_voice(
    engine: *const TtsEngine,
    name: *const c_char,
    params: *const TtsF5VoiceParams,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let p = unsafe { read_sized(params, f5_defaults(), F5_VOICE_PARAMS_SIZES, "params") }?;
        // SAFETY: the strings are NULL or C strings (tts.h).
        let audio_path = unsafe { str_arg(p.ref_audio_path, "params.ref_audio_path") }?;
        // SAFETY: as above.
        let text = unsafe { str_arg(p.ref_text, "params.ref_text") }?;
        // SAFETY: as above.
        let path = |s, what| unsafe { opt_str_arg(s, what) }.map(|o| o.map(PathBuf::from));
        let variant = match p.variant {
            TTS_F5_V1_BASE => Variant::V1Base,
            TTS_F5_BASE => Variant::Base,
            v => {
                return Err(invalid(format!(
                    "params.variant is {v}: use TTS_F5_V1_BASE or TTS_F5_BASE"
                )))
            }
        };
        let paths = F5Paths {
            checkpoint: path(p.checkpoint, "params.checkpoint")?,
            variant,
            config: path(p.config, "params.config")?,
            vocoder: path(p.vocoder, "params.vocoder")?,
        };
        let audio = std::fs::read(audio_path).map_err(|e| Error::io(audio_path, e))?;
        let reference = Reference {
            audio: audio.into(),
            text: text.to_owned(),
        };
        e.add_voice(name, VoiceSpec::f5(paths, reference)?)?;
        Ok(TTS_OK)
    })
}

/// A Qwen3-TTS voice: the checkpoint and who speaks. Start from
/// `tts_qwen3_voice_default_params()` (which sets `struct_size`). The
/// strings are read during `tts_engine_add_qwen3_voice` only.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TtsQwen3VoiceParams {
    /// `sizeof(tts_qwen3_voice_params)` as the caller was compiled with.
    pub struct_size: usize,
    /// Checkpoint folder in the upstream layout, or a repository id in the
    /// Hugging Face cache (`Qwen/Qwen3-TTS-12Hz-0.6B-Base`; no download).
    pub checkpoint: *const c_char,
    /// A built-in speaker's name (CustomVoice checkpoints; required there).
    pub speaker: *const c_char,
    /// A recording to clone (Base checkpoints; required there): WAV, MP3,
    /// FLAC or OGG, 0.5 to 30 s. No transcript is needed.
    pub ref_audio_path: *const c_char,
    /// Language of the text ("english", "chinese", …); NULL: "auto".
    pub language: *const c_char,
    /// Style instruction; the voice's description on a VoiceDesign
    /// checkpoint (required there). NULL: none.
    pub instruct: *const c_char,
}

/// `struct_size` of every released `tts_qwen3_voice_params` layout.
const QWEN3_VOICE_PARAMS_SIZES: &[usize] = &[std::mem::size_of::<TtsQwen3VoiceParams>()];

fn qwen3_defaults() -> TtsQwen3VoiceParams {
    TtsQwen3VoiceParams {
        struct_size: std::mem::size_of::<TtsQwen3VoiceParams>(),
        checkpoint: std::ptr::null(),
        speaker: std::ptr::null(),
        ref_audio_path: std::ptr::null(),
        language: std::ptr::null(),
        instruct: std::ptr::null(),
    }
}

/// Default Qwen3-TTS voice settings: everything NULL; the checkpoint and
/// the speaker, recording or instruction its type needs must be set.
#[no_mangle]
pub extern "C" fn tts_qwen3_voice_default_params() -> TtsQwen3VoiceParams {
    let refused = TtsQwen3VoiceParams {
        struct_size: 0,
        ..qwen3_defaults()
    };
    guard_value(refused, qwen3_defaults)
}

/// Registers the Qwen3-TTS voice `name`, replacing a voice of that name.
/// The checkpoint's config is read and the voice checked against it now
/// (an unknown speaker or language fails here with
/// `TTS_ERR_INVALID_ARGUMENT` or `TTS_ERR_INVALID_PARAMETER`, a bad
/// recording with `TTS_ERR_REFERENCE_AUDIO`, a missing checkpoint with
/// `TTS_ERR_VOICE_NOT_FOUND`); the weights load on the voice's first
/// request. Its audio streams within sentences: several chunks per
/// sentence, the last with `ends_sentence` set.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_add_qwen3_voice(
    engine: *const TtsEngine,
    name: *const c_char,
    params: *const TtsQwen3VoiceParams,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let name = unsafe { str_arg(name, "name") }?;
        // SAFETY: as above.
        let p =
            unsafe { read_sized(params, qwen3_defaults(), QWEN3_VOICE_PARAMS_SIZES, "params") }?;
        // SAFETY: the strings are NULL or C strings (tts.h).
        let checkpoint = unsafe { str_arg(p.checkpoint, "params.checkpoint") }?;
        // SAFETY: as above.
        let text = |s, what| unsafe { opt_str_arg(s, what) }.map(|o| o.map(str::to_owned));
        let reference = match text(p.ref_audio_path, "params.ref_audio_path")? {
            Some(path) => Some(Reference {
                audio: std::fs::read(&path)
                    .map_err(|e| Error::io(Path::new(&path), e))?
                    .into(),
                text: String::new(),
            }),
            None => None,
        };
        let voice = Qwen3VoiceConfig {
            speaker: text(p.speaker, "params.speaker")?,
            reference,
            language: text(p.language, "params.language")?,
            instruct: text(p.instruct, "params.instruct")?,
        };
        e.add_voice(name, VoiceSpec::qwen3(checkpoint, voice)?)?;
        Ok(TTS_OK)
    })
}

/// `f` on the engine and the voice name, as a status.
///
/// # Safety
/// `engine` and `name` as tts.h states for the voice functions.
unsafe fn on_voice(
    engine: *const TtsEngine,
    name: *const c_char,
    f: impl FnOnce(&Engine, &str) -> ishowtts::Result<()>,
) -> c_int {
    guard(|| {
        // SAFETY: by this function's contract.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let name = unsafe { str_arg(name, "name") }?;
        f(e, name)?;
        Ok(TTS_OK)
    })
}

/// Removes the voice `name`; its model is unloaded once unused.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_remove_voice(
    engine: *const TtsEngine,
    name: *const c_char,
) -> c_int {
    // SAFETY: arguments as tts.h states.
    unsafe { on_voice(engine, name, Engine::remove_voice) }
}

/// Makes `name` the voice of requests that name none.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_set_default_voice(
    engine: *const TtsEngine,
    name: *const c_char,
) -> c_int {
    // SAFETY: arguments as tts.h states.
    unsafe { on_voice(engine, name, Engine::set_default_voice) }
}

/// Fills `*out` with a snapshot of the engine's counters; the caller sets
/// `out->struct_size` first. Cheap, and callable from a chunk callback.
#[no_mangle]
pub unsafe extern "C" fn tts_engine_metrics(
    engine: *const TtsEngine,
    out: *mut TtsMetrics,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        let m = e.metrics();
        let c = TtsMetrics {
            struct_size: std::mem::size_of::<TtsMetrics>(),
            queue_depth: m.queue_depth as u64,
            pending_sentences: m.pending_sentences as u64,
            requests: m.requests,
            completed: m.completed,
            failed: m.failed,
            cancelled: m.cancelled,
            rejected_busy: m.rejected_busy,
            ttfa_p50: m.time_to_first_audio.p50,
            ttfa_p90: m.time_to_first_audio.p90,
            ttfa_p99: m.time_to_first_audio.p99,
            sentence_p50: m.sentence_synthesis.p50,
            sentence_p90: m.sentence_synthesis.p90,
            sentence_p99: m.sentence_synthesis.p99,
            queue_wait_p50: m.queue_wait.p50,
            real_time_factor: m.real_time_factor,
            audio_seconds: m.audio_seconds,
            cache_hits: m.output_cache.hits,
            cache_misses: m.output_cache.misses,
            cache_evictions: m.output_cache.evictions,
            cache_entries: m.output_cache.entries as u64,
            cache_bytes: m.output_cache.bytes as u64,
            model_loads: m.model_loads,
            model_load_failures: m.model_load_failures,
            model_unloads: m.model_unloads,
            models_loaded: m.models_loaded as u64,
            batch_steps: m.batch_steps,
            batch_size_p50: m.batch_size.p50,
            batch_size_max: m.batch_size.max,
            batch_wait_p50: m.batch_wait.p50,
            batch_retries: m.batch_retries,
            sentences_at_budget: m.sentences_at_budget,
        };
        // SAFETY: out is NULL or the caller's struct (tts.h).
        unsafe { write_sized(out, &c, METRICS_SIZES, "out") }?;
        Ok(TTS_OK)
    })
}

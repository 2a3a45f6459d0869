//! The `Engine` class.
//!
//! Every method converts its arguments, runs the engine with the GIL
//! released and builds the Python result after. Requests are read through
//! the engine's stream in short waits (see [`wait`]), so Ctrl-C stops any
//! call within a few tens of milliseconds and cancels its request.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyString};

use ishowtts::audio::format::Samples;
use ishowtts::audio::wav::WavFileWriter;
use ishowtts::engine::{
    CacheLimits, Engine as CoreEngine, EngineConfig, Reference, RequestSummary as CoreSummary,
    StreamStatus, VoiceSpec,
};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use ishowtts::models::qwen3_tts::Qwen3VoiceConfig;
use ishowtts::Error;

use crate::errors::{callback_failed, invalid_parameter, to_py, IntoPyResult};
use crate::info::{Metrics, RequestSummary, VoiceInfo};
use crate::options::{self, RequestArgs};
use crate::stream::{samples_to_numpy, wait, Chunk, Next, Reader, Stream};

/// The text-to-speech engine: models, their worker thread and caches.
/// Share one engine between threads: its methods release the GIL while
/// the engine works, so several threads synthesize at once.
#[pyclass(module = "ishowtts._ishowtts", frozen)]
pub struct Engine {
    /// `None` once closed.
    inner: RwLock<Option<Arc<CoreEngine>>>,
}

impl Engine {
    fn engine(&self) -> PyResult<Arc<CoreEngine>> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| to_py(Error::EngineClosed))
    }

    /// Starts a request and reads it to its end, handing each chunk to
    /// `on_chunk` (with the GIL held); `on_chunk` returning `false` cancels
    /// the rest.
    fn run(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        args: RequestArgs,
        keep_text: bool,
        mut on_chunk: impl FnMut(Python<'_>, Box<crate::stream::Ready>) -> PyResult<bool>,
    ) -> PyResult<(Reader, CoreSummary)> {
        let (mut reader, start) = self.start(py, text, args, keep_text)?;
        let mut summary = CoreSummary {
            request_id: reader.request_id(),
            chunks: 0,
            samples: 0,
            sample_rate: 0,
            cancelled: false,
            time_to_first_audio: None,
            total_time: Default::default(),
        };
        while let Some(Next::Chunk(ready)) = wait(py, None, |slice| reader.poll(slice))? {
            summary.time_to_first_audio.get_or_insert(start.elapsed());
            summary.chunks += 1;
            summary.samples += ready.samples().len() as u64;
            summary.sample_rate = ready.sample_rate();
            if !on_chunk(py, ready)? {
                reader.cancel_handle().cancel();
                summary.cancelled = true;
                break;
            }
        }
        summary.cancelled |= reader.status() == StreamStatus::Cancelled;
        summary.total_time = start.elapsed();
        Ok((reader, summary))
    }

    /// Checks and submits a request.
    fn start(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        args: RequestArgs,
        keep_text: bool,
    ) -> PyResult<(Reader, Instant)> {
        let start = Instant::now();
        let engine = self.engine()?;
        let text = text_arg(text)?;
        let options = args.into_options()?;
        let stream = py.detach(|| engine.stream(&text, &options)).py()?;
        // Without the text, chunks carry no sentence (spans still come).
        let text = if keep_text { text } else { String::new() };
        Ok((Reader::new(stream, text), start))
    }
}

/// The text as UTF-8: a string with lone surrogates cannot be, and is an
/// `InvalidTextError` like invalid UTF-8 from C.
fn text_arg(text: &Bound<'_, PyString>) -> PyResult<String> {
    match text.to_cow() {
        Ok(s) => Ok(s.into_owned()),
        Err(e) => Err(to_py(Error::InvalidText(format!(
            "the string cannot be encoded as UTF-8 (a lone surrogate?): {}",
            e.value(text.py())
        )))),
    }
}

/// A reference recording as given: the encoded file's bytes, or its path.
enum RefAudio {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

fn ref_audio_arg(obj: &Bound<'_, PyAny>) -> PyResult<RefAudio> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(RefAudio::Bytes(bytes.as_bytes().to_vec()));
    }
    obj.extract::<PathBuf>().map(RefAudio::Path).map_err(|_| {
        let kind = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".to_owned());
        pyo3::exceptions::PyTypeError::new_err(format!(
            "ref_audio must be a path (str or os.PathLike) or the file's bytes, not {kind}"
        ))
    })
}

/// `"v1_base"` (F5TTS_v1_Base) or `"base"` (F5TTS_Base).
fn f5_variant(name: &str) -> PyResult<Variant> {
    match name {
        "v1_base" => Ok(Variant::V1Base),
        "base" => Ok(Variant::Base),
        other => Err(invalid_parameter(
            "variant",
            format!("{other:?}"),
            "must be \"v1_base\" or \"base\"",
        )),
    }
}

static PACKAGED_VOICE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The voice of an engine made without one: the engine's default voice
/// when installed (`ISHOWTTS_VOICE`, a models directory), else the voice
/// package's file when that Python package is installed.
fn default_voice(py: Python<'_>) -> PyResult<VoiceSpec> {
    let path = match ishowtts::paths::default_voice() {
        Ok(path) => path,
        Err(not_found) => {
            let packaged = PACKAGED_VOICE
                .import(py, "ishowtts._paths", "packaged_voice")?
                .call0()?;
            match packaged.extract::<Option<PathBuf>>()? {
                Some(path) => path,
                None => return Err(to_py(not_found)),
            }
        }
    };
    py.detach(|| VoiceSpec::piper(path)).py()
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (
        voice=None, *, device="cpu", cache_entries=1024, cache_bytes=67108864,
        prompt_cache_entries=16, idle_unload=None, queue_limit=64, max_text_bytes=16777216,
        normalize_text=true, max_batch=1, batch_window=0.0, workers=1
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        voice: Option<PathBuf>,
        device: &str,
        cache_entries: i128,
        cache_bytes: i128,
        prompt_cache_entries: i128,
        idle_unload: Option<f64>,
        queue_limit: i128,
        max_text_bytes: i128,
        normalize_text: bool,
        max_batch: i128,
        batch_window: f64,
        workers: i128,
    ) -> PyResult<Self> {
        let config = EngineConfig {
            device: options::device(device)?,
            output_cache: CacheLimits {
                max_entries: options::size("cache_entries", cache_entries)?,
                max_bytes: options::size("cache_bytes", cache_bytes)?,
            },
            prompt_cache_entries: options::size("prompt_cache_entries", prompt_cache_entries)?,
            idle_unload: options::seconds("idle_unload", idle_unload)?,
            queue_limit: options::size("queue_limit", queue_limit)?,
            max_text_bytes: options::size("max_text_bytes", max_text_bytes)?,
            normalize_text,
            max_batch: options::size("max_batch", max_batch)?,
            batch_window: options::non_negative_seconds("batch_window", batch_window)?,
            workers: options::size("workers", workers)?,
            ..EngineConfig::default()
        };
        let spec = match voice {
            Some(path) => py.detach(|| VoiceSpec::piper(path)).py()?,
            None => default_voice(py)?,
        };
        let engine = py
            .detach(|| {
                let engine = CoreEngine::new(config)?;
                engine.add_voice("default", spec)?;
                Ok::<_, Error>(engine)
            })
            .py()?;
        Ok(Self {
            inner: RwLock::new(Some(Arc::new(engine))),
        })
    }

    /// Registers a Piper voice (`path` is its `.onnx` file, the config
    /// beside it as `.onnx.json`) under `name`, replacing a voice of that
    /// name; returns the new version. The weights load on first use.
    #[pyo3(signature = (name, path, *, speaker=None))]
    fn add_voice(
        &self,
        py: Python<'_>,
        name: &str,
        path: PathBuf,
        speaker: Option<i64>,
    ) -> PyResult<u64> {
        let engine = self.engine()?;
        py.detach(|| {
            let mut spec = VoiceSpec::piper(path)?;
            if let Some(s) = speaker {
                spec = spec.with_speaker(s);
            }
            engine.add_voice(name, spec)
        })
        .py()
    }

    /// Registers a voice cloned with F5-TTS under `name`, replacing a voice
    /// of that name; returns the new version. `ref_audio` is the reference
    /// recording, a path or the encoded file's bytes (WAV, MP3, FLAC, OGG),
    /// and `ref_text` what it says. `checkpoint` (a folder with
    /// `model_*.safetensors` and `vocab.txt`, or the weights file) and
    /// `vocoder` (a Vocos folder) default to the released `variant` and
    /// Vocos in the Hugging Face cache (never downloaded); `config` is for a
    /// network of another shape than `variant`'s. Files and the reference
    /// are checked now; the weights load on first use.
    #[pyo3(signature = (
        name, ref_audio, ref_text, *, checkpoint=None, config=None, vocoder=None,
        variant="v1_base"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn add_f5_voice(
        &self,
        py: Python<'_>,
        name: &str,
        ref_audio: &Bound<'_, PyAny>,
        ref_text: &str,
        checkpoint: Option<PathBuf>,
        config: Option<PathBuf>,
        vocoder: Option<PathBuf>,
        variant: &str,
    ) -> PyResult<u64> {
        let engine = self.engine()?;
        let paths = F5Paths {
            checkpoint,
            variant: f5_variant(variant)?,
            config,
            vocoder,
        };
        let audio = ref_audio_arg(ref_audio)?;
        py.detach(|| {
            let audio: Arc<[u8]> = match audio {
                RefAudio::Bytes(bytes) => bytes.into(),
                RefAudio::Path(path) => {
                    std::fs::read(&path).map_err(|e| Error::io(path, e))?.into()
                }
            };
            let reference = Reference {
                audio,
                text: ref_text.to_owned(),
            };
            engine.add_voice(name, VoiceSpec::f5(paths, reference)?)
        })
        .py()
    }

    /// Registers a Qwen3-TTS voice under `name`, replacing a voice of that
    /// name; returns the new version. `checkpoint` is a folder in the
    /// upstream layout or a repository id in the Hugging Face cache (never
    /// downloaded). Who speaks depends on the checkpoint: a built-in
    /// `speaker` name (CustomVoice), a `ref_audio` recording to clone
    /// (Base: a path or the encoded file's bytes; no transcript needed), or
    /// an `instruct` describing the voice (VoiceDesign). `language`
    /// ("english", "chinese", …; default "auto") and `instruct` are the
    /// voice's own, which a request's keywords override. Checked against
    /// the checkpoint's config now; the weights load on first use. Its
    /// audio streams within sentences: several chunks per sentence, the
    /// last with `ends_sentence`.
    #[pyo3(signature = (
        name, checkpoint, *, speaker=None, ref_audio=None, language=None, instruct=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn add_qwen3_voice(
        &self,
        py: Python<'_>,
        name: &str,
        checkpoint: PathBuf,
        speaker: Option<String>,
        ref_audio: Option<&Bound<'_, PyAny>>,
        language: Option<String>,
        instruct: Option<String>,
    ) -> PyResult<u64> {
        let engine = self.engine()?;
        let audio = ref_audio.map(ref_audio_arg).transpose()?;
        let checkpoint = checkpoint.to_string_lossy().into_owned();
        py.detach(|| {
            let reference = match audio {
                None => None,
                Some(audio) => Some(Reference {
                    audio: match audio {
                        RefAudio::Bytes(bytes) => bytes.into(),
                        RefAudio::Path(path) => {
                            std::fs::read(&path).map_err(|e| Error::io(path, e))?.into()
                        }
                    },
                    text: String::new(),
                }),
            };
            let voice = Qwen3VoiceConfig {
                speaker,
                reference,
                language,
                instruct,
            };
            engine.add_voice(name, VoiceSpec::qwen3(&checkpoint, voice)?)
        })
        .py()
    }

    /// Removes the voice `name` (its model unloads once no request needs it).
    fn remove_voice(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let engine = self.engine()?;
        py.detach(|| engine.remove_voice(name)).py()
    }

    /// Makes `name` the voice of requests that name none.
    fn set_default_voice(&self, name: &str) -> PyResult<()> {
        self.engine()?.set_default_voice(name).py()
    }

    /// The registered voices, by name.
    fn voices(&self) -> PyResult<Vec<VoiceInfo>> {
        Ok(self
            .engine()?
            .voices()
            .into_iter()
            .map(VoiceInfo::from)
            .collect())
    }

    /// Speaks `text`; returns all its audio as one 1-D numpy array
    /// (float32, or int16 with `format="i16"`) at `sample_rate` (the
    /// voice's own rate when `None`).
    #[pyo3(signature = (text, **options))]
    fn synthesize(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let args = RequestArgs::from_kwargs("synthesize", "f32", options)?;
        let mut samples: Option<Samples> = None;
        let (reader, _) = self.run(py, text, args, false, |_, ready| {
            let chunk = ready.into_samples();
            match samples.as_mut() {
                Some(all) => all.append(&chunk),
                None => samples = Some(chunk),
            }
            Ok(true)
        })?;
        if reader.status() == StreamStatus::Cancelled {
            return Err(to_py(Error::Cancelled));
        }
        let samples = samples.unwrap_or_else(|| Samples::empty(Default::default()));
        Ok(samples_to_numpy(py, samples))
    }

    /// Speaks `text` into the WAV file `path`, one sentence at a time as it
    /// is made: 16-bit PCM (`format="i16"`, the default here) or 32-bit
    /// float (`format="f32"`).
    #[pyo3(signature = (text, path, **options))]
    fn synthesize_to_wav(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        path: PathBuf,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<RequestSummary> {
        let args = RequestArgs::from_kwargs("synthesize_to_wav", "i16", options)?;
        let mut writer: Option<WavFileWriter> = None;
        let (_, summary) = self.run(py, text, args, false, |py, ready| {
            let rate = ready.sample_rate();
            let samples = ready.into_samples();
            py.detach(|| {
                if writer.is_none() {
                    writer = Some(WavFileWriter::create(&path, rate, samples.format())?);
                }
                match writer.as_mut() {
                    Some(w) => w.write(&samples),
                    None => Ok(()),
                }
            })
            .py()?;
            Ok(true)
        })?;
        if let Some(w) = writer {
            py.detach(|| w.finish()).py()?;
        }
        Ok(summary.into())
    }

    /// Speaks `text`, calling `callback(chunk)` for each sentence as soon
    /// as it is ready, on this thread. A callback returning `False` stops
    /// the request (the summary says `cancelled`); any other return value
    /// goes on. A callback that raises cancels the request, and the call
    /// raises `CallbackError` from that exception (`KeyboardInterrupt` and
    /// other non-`Exception`s pass through as they are).
    #[pyo3(signature = (text, callback, **options))]
    fn synthesize_with(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        callback: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<RequestSummary> {
        if !callback.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "callback must be callable, not {}",
                callback.get_type().name()?
            )));
        }
        let args = RequestArgs::from_kwargs("synthesize_with", "f32", options)?;
        let (_, summary) = self.run(py, text, args, true, |py, ready| {
            let chunk = Py::new(py, Chunk::new(py, *ready)?)?;
            match callback.call1((chunk,)) {
                Ok(flow) => Ok(!matches!(flow.cast::<PyBool>(), Ok(b) if !b.is_true())),
                Err(raised) => Err(callback_failed(py, raised)),
            }
        })?;
        Ok(summary.into())
    }

    /// Starts a live request: its text comes in pieces with `push` (an
    /// LLM's tokens, chat messages), `flush` speaks what is held, `finish`
    /// ends it; iterate the stream (`for` or `async for`, on any thread)
    /// for the audio. Each sentence is spoken once settled, and the chunks
    /// are those of a one-shot request of the whole text. Leaving a `with`
    /// block on it cancels what is left; not cached.
    #[pyo3(signature = (**options))]
    fn open_stream(&self, py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Stream> {
        let args = RequestArgs::from_kwargs("open_stream", "f32", options)?;
        let engine = self.engine()?;
        let options = args.into_options()?;
        let live = py.detach(|| engine.open_stream(&options)).py()?;
        let (input, audio) = live.split();
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        Ok(Stream::live(Reader::live(audio, text.clone()), input, text))
    }

    /// Starts a request and returns its stream: iterate it (`for` or
    /// `async for`) for the chunks in order; leaving a `with` block on it,
    /// or dropping it, cancels what is left.
    #[pyo3(signature = (text, **options))]
    fn stream(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Stream> {
        let args = RequestArgs::from_kwargs("stream", "f32", options)?;
        let (reader, _) = self.start(py, text, args, true)?;
        Ok(Stream::new(reader))
    }

    /// A snapshot of the engine's counters and latencies.
    fn metrics(&self) -> PyResult<Metrics> {
        Ok(self.engine()?.metrics().into())
    }

    /// Shuts the engine down: its worker stops once requests running on
    /// other threads end, and later calls raise `EngineClosedError`.
    /// Closing twice is harmless.
    fn close(&self, py: Python<'_>) {
        let engine = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
        // The last reference joins the worker thread: without the GIL.
        py.detach(move || drop(engine));
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Closes the engine.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        self.close(py);
    }

    fn __repr__(&self) -> String {
        match self.engine() {
            Ok(engine) => {
                let names: Vec<String> = engine.voices().into_iter().map(|v| v.name).collect();
                format!("Engine(voices={names:?})")
            }
            Err(_) => "Engine(closed)".to_owned(),
        }
    }
}

/// The engine's settings when none are given, for the test that the
/// keyword defaults of `Engine()` follow the engine's.
#[pyfunction]
pub fn _config_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let c = EngineConfig::default();
    let d = PyDict::new(py);
    d.set_item("cache_entries", c.output_cache.max_entries)?;
    d.set_item("cache_bytes", c.output_cache.max_bytes)?;
    d.set_item("prompt_cache_entries", c.prompt_cache_entries)?;
    d.set_item("idle_unload", c.idle_unload.map(|d| d.as_secs_f64()))?;
    d.set_item("queue_limit", c.queue_limit)?;
    d.set_item("max_text_bytes", c.max_text_bytes)?;
    d.set_item("normalize_text", c.normalize_text)?;
    d.set_item("max_batch", c.max_batch)?;
    d.set_item("batch_window", c.batch_window.as_secs_f64())?;
    d.set_item("workers", c.workers)?;
    Ok(d)
}

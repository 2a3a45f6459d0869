//! Reading a request's chunks from Python: the waiting loop shared by every
//! method, the `Chunk` and `ChunkTimings` classes and the `Stream` class
//! (which also takes the text of a live request, `Engine.open_stream`).

use std::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use numpy::IntoPyArray;
use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use ishowtts::audio::format::Samples;
use ishowtts::engine::{
    CancelHandle, Chunk as CoreChunk, Polled, Stream as CoreStream, StreamStatus, TextInput,
};

use crate::errors::IntoPyResult;

/// Longest wait with the GIL released before pending signals are handled:
/// Ctrl-C stops a wait within this long.
const SLICE: Duration = Duration::from_millis(50);

/// A core stream with the request's text, to give chunks their sentence and
/// its offsets in characters (Python's string indices).
pub struct Reader {
    stream: CoreStream,
    text: String,
    /// A byte offset already converted and its character offset: spans
    /// come in order, so each is counted from the previous one.
    cursor: (usize, usize),
    /// A live request's text as pushed so far (copied into `text` as it
    /// grows).
    live_text: Option<Arc<Mutex<String>>>,
}

/// A chunk as read, before it becomes a Python object.
pub struct Ready {
    chunk: CoreChunk,
    sentence: String,
    char_span: (usize, usize),
}

impl Ready {
    pub fn samples(&self) -> &Samples {
        &self.chunk.samples
    }

    pub fn sample_rate(&self) -> u32 {
        self.chunk.sample_rate
    }

    pub fn into_samples(self) -> Samples {
        self.chunk.samples
    }
}

/// What one wait found.
pub enum Next {
    Chunk(Box<Ready>),
    Done,
}

impl Reader {
    pub fn new(stream: CoreStream, text: String) -> Self {
        Self {
            stream,
            text,
            cursor: (0, 0),
            live_text: None,
        }
    }

    /// A reader of a live request, whose text grows in `live_text`.
    pub fn live(stream: CoreStream, live_text: Arc<Mutex<String>>) -> Self {
        Self {
            live_text: Some(live_text),
            ..Self::new(stream, String::new())
        }
    }

    pub fn request_id(&self) -> u64 {
        self.stream.request_id()
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.stream.cancel_handle()
    }

    pub fn status(&self) -> StreamStatus {
        self.stream.status()
    }

    /// One wait of at most `slice`; `None` when nothing came.
    pub fn poll(&mut self, slice: Duration) -> ishowtts::Result<Option<Next>> {
        Ok(match self.stream.poll_chunk(Some(slice))? {
            Polled::Chunk(chunk) => {
                if let Some(live) = &self.live_text {
                    let t = live.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(new) = t.get(self.text.len()..) {
                        self.text.push_str(new);
                    }
                }
                let span = chunk.text_span.clone();
                let sentence = self.text.get(span.clone()).unwrap_or_default().to_owned();
                let char_span = self.char_span(span);
                Some(Next::Chunk(Box::new(Ready {
                    chunk,
                    sentence,
                    char_span,
                })))
            }
            Polled::Done => Some(Next::Done),
            Polled::Pending => None,
        })
    }

    fn char_span(&mut self, span: Range<usize>) -> (usize, usize) {
        let start = self.char_offset(span.start);
        (start, self.char_offset(span.end))
    }

    fn char_offset(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        let (from_byte, from_char) = if byte >= self.cursor.0 {
            self.cursor
        } else {
            (0, 0)
        };
        let chars = from_char
            + self
                .text
                .get(from_byte..byte)
                .map_or(0, |s| s.chars().count());
        self.cursor = (byte, chars);
        chars
    }
}

/// Waits for the next chunk or the end with the GIL released, in slices
/// after each of which pending signals are handled (Ctrl-C raises
/// `KeyboardInterrupt` here, dropping a chunk that had just come: the
/// caller is abandoning the request). `Ok(None)` when `timeout` passed
/// first.
pub fn wait<F>(py: Python<'_>, timeout: Option<Duration>, mut poll: F) -> PyResult<Option<Next>>
where
    F: FnMut(Duration) -> ishowtts::Result<Option<Next>> + Send,
{
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let slice = deadline.map_or(SLICE, |d| {
            d.saturating_duration_since(Instant::now()).min(SLICE)
        });
        let next = py.detach(|| poll(slice)).py()?;
        // After every slice, chunk or not: when the model runs ahead of the
        // reader, chunks are always ready and Ctrl-C must still get in.
        py.check_signals()?;
        if let Some(next) = next {
            return Ok(Some(next));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}

/// Samples as a 1-D numpy array (float32 or int16), without a copy.
pub fn samples_to_numpy(py: Python<'_>, samples: Samples) -> Py<PyAny> {
    match samples {
        Samples::F32(v) => v.into_pyarray(py).into_any().unbind(),
        Samples::I16(v) => v.into_pyarray(py).into_any().unbind(),
    }
}

/// Where the time of a chunk went, in seconds.
#[pyclass(module = "ishowtts._ishowtts", frozen, get_all)]
pub struct ChunkTimings {
    /// Seconds the sentence waited for the model (behind other requests'
    /// sentences, or a model load).
    queue_wait: f64,
    /// Seconds of model time for the chunk (its sentence, or the steps
    /// since the sentence's previous piece).
    synthesis: f64,
    /// Seconds from the request's start to this chunk's delivery.
    since_request: f64,
    /// Whether the chunk was replayed from the output cache.
    from_cache: bool,
}

#[pymethods]
impl ChunkTimings {
    fn __repr__(&self) -> String {
        format!(
            "ChunkTimings(queue_wait={:.6}, synthesis={:.6}, since_request={:.6}, from_cache={})",
            self.queue_wait,
            self.synthesis,
            self.since_request,
            py_bool(self.from_cache)
        )
    }
}

/// Audio of one sentence (or of a piece of one) and where it belongs.
#[pyclass(module = "ishowtts._ishowtts", frozen)]
pub struct Chunk {
    /// The samples: a 1-D numpy array, float32 or int16.
    #[pyo3(get)]
    samples: Py<PyAny>,
    /// Rate of `samples` in Hz.
    #[pyo3(get)]
    sample_rate: u32,
    /// Id of the request (unique per engine).
    #[pyo3(get)]
    request_id: u64,
    /// 0-based sentence index within the request.
    #[pyo3(get)]
    sentence_index: usize,
    /// The sentence: `text[char_span[0]:char_span[1]]` of the request.
    #[pyo3(get)]
    text: String,
    /// The sentence's span in the UTF-8 bytes of the request's text.
    #[pyo3(get)]
    text_span: (usize, usize),
    /// The sentence's span in the characters of the request's text (the
    /// indices of the Python string).
    #[pyo3(get)]
    char_span: (usize, usize),
    /// Index of the chunk's first sample in the request's whole output.
    #[pyo3(get)]
    sample_offset: u64,
    /// Whether this is the request's last chunk (it may be empty).
    #[pyo3(get)]
    is_last: bool,
    /// The words of the sentence this chunk ends, as `(word, start_s,
    /// end_s)`: seconds from the request's start (empty on other chunks,
    /// and with `word_timings=False`).
    #[pyo3(get)]
    words: Vec<(String, f64, f64)>,
    /// Whether `words` are estimated from the text (models without
    /// durations) rather than measured.
    #[pyo3(get)]
    words_estimated: bool,
    /// With `phoneme_timings=True` (Piper voices): the sentence's phonemes
    /// as `(ipa, start_s, end_s, viseme)`, the viseme an id 0-14 of the
    /// Oculus set (`VISEMES` names them).
    #[pyo3(get)]
    phonemes: Vec<(String, f64, f64, u8)>,
    /// Whether this is the last chunk of its sentence (always, for models
    /// that deliver whole sentences; a model that streams within
    /// sentences, such as Qwen3-TTS, sends several chunks per sentence
    /// with the same `sentence_index` and only the last has it).
    #[pyo3(get)]
    ends_sentence: bool,
    /// Where the time went.
    #[pyo3(get)]
    timings: Py<ChunkTimings>,
    len: usize,
}

impl Chunk {
    pub fn new(py: Python<'_>, ready: Ready) -> PyResult<Self> {
        let Ready {
            chunk,
            sentence,
            char_span,
        } = ready;
        let t = chunk.timings;
        let secs = |s: u64| s as f64 / f64::from(chunk.sample_rate.max(1));
        let words_estimated = chunk.words.iter().any(|w| w.estimated);
        let words = chunk
            .words
            .into_iter()
            .map(|w| (w.word, secs(w.start), secs(w.end)))
            .collect();
        let phonemes = chunk
            .phonemes
            .into_iter()
            .map(|p| (p.phoneme, secs(p.start), secs(p.end), p.viseme.id()))
            .collect();
        Ok(Self {
            words,
            words_estimated,
            phonemes,
            len: chunk.samples.len(),
            samples: samples_to_numpy(py, chunk.samples),
            sample_rate: chunk.sample_rate,
            request_id: chunk.request_id,
            sentence_index: chunk.sentence_index,
            text: sentence,
            text_span: (chunk.text_span.start, chunk.text_span.end),
            char_span,
            sample_offset: chunk.sample_offset,
            is_last: chunk.is_last,
            ends_sentence: chunk.ends_sentence,
            timings: Py::new(
                py,
                ChunkTimings {
                    queue_wait: t.queue_wait.as_secs_f64(),
                    synthesis: t.synthesis.as_secs_f64(),
                    since_request: t.since_request.as_secs_f64(),
                    from_cache: t.from_cache,
                },
            )?,
        })
    }
}

#[pymethods]
impl Chunk {
    /// Seconds of audio in the chunk.
    #[getter]
    fn duration(&self) -> f64 {
        if self.sample_rate == 0 {
            0.0
        } else {
            self.len as f64 / f64::from(self.sample_rate)
        }
    }

    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self) -> String {
        format!(
            "Chunk(request_id={}, sentence_index={}, text={:?}, samples={}, sample_rate={}, \
             is_last={})",
            self.request_id,
            self.sentence_index,
            self.text,
            self.len,
            self.sample_rate,
            py_bool(self.is_last)
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const CANCELLED: u8 = 2;
const FAILED: u8 = 3;

fn status_code(s: StreamStatus) -> u8 {
    match s {
        StreamStatus::Running => RUNNING,
        StreamStatus::Finished => FINISHED,
        StreamStatus::Cancelled => CANCELLED,
        StreamStatus::Failed => FAILED,
    }
}

/// A running request: iterate it (`for` or `async for`) for its chunks in
/// order. A live one (`Engine.open_stream`) also takes its text: `push`,
/// `flush`, `finish`.
#[pyclass(module = "ishowtts._ishowtts", frozen)]
pub struct Stream {
    request_id: u64,
    cancel: CancelHandle,
    reader: Mutex<Reader>,
    /// A live request's text input and the text pushed so far.
    input: Option<(Mutex<TextInput>, Arc<Mutex<String>>)>,
    /// The reader's status as of its last read, so that asking for it never
    /// waits for a read in progress on another thread.
    status: AtomicU8,
}

impl Stream {
    pub fn new(reader: Reader) -> Self {
        Self {
            request_id: reader.request_id(),
            cancel: reader.cancel_handle(),
            status: AtomicU8::new(status_code(reader.status())),
            reader: Mutex::new(reader),
            input: None,
        }
    }

    /// A live request's stream: `input` takes the text, `text` is shared
    /// with the reader.
    pub fn live(reader: Reader, input: TextInput, text: Arc<Mutex<String>>) -> Self {
        Self {
            input: Some((Mutex::new(input), text)),
            ..Self::new(reader)
        }
    }

    /// Runs `f` on the text input (with the GIL released: pushing never
    /// waits for synthesis, but may wait for another pusher).
    fn with_input(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut TextInput, &Mutex<String>) -> ishowtts::Result<()> + Send,
    ) -> PyResult<()> {
        let Some((input, text)) = &self.input else {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "not a live stream: open one with Engine.open_stream",
            ));
        };
        py.detach(|| {
            let mut input = input.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut input, text)
        })
        .py()
    }

    fn lock(&self) -> MutexGuard<'_, Reader> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Option<Next>> {
        // The lock is taken per slice, with the GIL released, so readers on
        // several threads take turns and never hold the lock while waiting
        // for the GIL.
        wait(py, timeout, |slice| {
            let mut reader = self.lock();
            let next = reader.poll(slice);
            self.status
                .store(status_code(reader.status()), Ordering::SeqCst);
            next
        })
    }

    fn is_running(&self) -> bool {
        self.status.load(Ordering::SeqCst) == RUNNING
    }
}

static ASYNC_NEXT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ASYNC_ENTER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ASYNC_EXIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

#[pymethods]
impl Stream {
    /// Id of the request (as in its chunks).
    #[getter]
    fn request_id(&self) -> u64 {
        self.request_id
    }

    /// `"running"`, `"finished"`, `"cancelled"` or `"failed"`, as of the
    /// last chunk read.
    #[getter]
    fn status(&self) -> &'static str {
        match self.status.load(Ordering::SeqCst) {
            RUNNING => "running",
            FINISHED => "finished",
            CANCELLED => "cancelled",
            _ => "failed",
        }
    }

    /// Cancels the request, from any thread: no further sentence starts and
    /// the stream ends (chunks already read stay valid).
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Live streams: adds text (any piece: a token, a message). The
    /// sentences it settles start speaking at once; never waits for
    /// synthesis. After `finish` or a cancel it raises.
    fn push(&self, py: Python<'_>, text: &str) -> PyResult<()> {
        self.with_input(py, |input, all| {
            input.push_text(text)?;
            all.lock().unwrap_or_else(|p| p.into_inner()).push_str(text);
            Ok(())
        })
    }

    /// Live streams: speaks what is held back now, as if the text ended
    /// here (the text pushed after it starts a new sentence).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with_input(py, |input, _| input.flush())
    }

    /// Live streams: ends the text; the stream ends after its last chunk.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        self.with_input(py, |input, _| input.finish())
    }

    /// The next chunk, or `None` once the stream has ended. Waits at most
    /// `timeout` seconds (`None`: as long as it takes), then raises
    /// `TimeoutError`.
    #[pyo3(signature = (timeout=None))]
    fn next_chunk(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Chunk>> {
        let timeout = crate::options::timeout(timeout)?;
        match self.read(py, timeout)? {
            Some(Next::Chunk(ready)) => Ok(Some(Chunk::new(py, *ready)?)),
            Some(Next::Done) => Ok(None),
            None => Err(PyTimeoutError::new_err(format!(
                "no chunk within {:.3} s",
                timeout.unwrap_or_default().as_secs_f64()
            ))),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Chunk>> {
        match self.read(py, None)? {
            Some(Next::Chunk(ready)) => Ok(Some(Chunk::new(py, *ready)?)),
            _ => Ok(None),
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// An awaitable of the next chunk: the wait runs in the event loop's
    /// default executor (see `ishowtts._aio`).
    fn __anext__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        ASYNC_NEXT
            .import(slf.py(), "ishowtts._aio", "next_chunk")?
            .call1((slf,))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Cancels the request unless it has ended.
    fn __exit__(
        &self,
        exc_type: &Bound<'_, PyAny>,
        exc_value: &Bound<'_, PyAny>,
        traceback: &Bound<'_, PyAny>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        if self.is_running() {
            self.cancel.cancel();
        }
    }

    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        ASYNC_ENTER
            .import(slf.py(), "ishowtts._aio", "aenter")?
            .call1((slf,))
    }

    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        exc_type: &Bound<'py, PyAny>,
        exc_value: &Bound<'py, PyAny>,
        traceback: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (exc_type, exc_value, traceback);
        ASYNC_EXIT
            .import(slf.py(), "ishowtts._aio", "aexit")?
            .call1((slf,))
    }

    fn __repr__(&self) -> String {
        format!(
            "Stream(request_id={}, status={:?})",
            self.request_id,
            self.status()
        )
    }
}

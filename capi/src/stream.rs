//! Pull streams: start a request, read its chunks one call at a time,
//! cancel it from any thread. A live stream (`tts_stream_open`) takes its
//! text in pieces while it speaks.

use std::ffi::{c_char, c_int};
use std::sync::Mutex;
use std::time::Duration;

use ishowtts::engine::{CancelHandle, Chunk, Polled, Stream, StreamStatus, TextInput};
use ishowtts::Error;

use crate::engine::{engine_ref, TtsEngine};
use crate::error::{c_text_arg, guard, invalid, text_arg};
use crate::error::{TTS_DONE, TTS_OK, TTS_STOPPED, TTS_TIMEOUT};
use crate::request::{c_chunk, request_options, ChunkView, TtsChunk, TtsRequestParams};

/// A running request whose chunks are read with `tts_stream_next`. Read it
/// from one thread at a time; `tts_stream_cancel` may come from any.
pub struct TtsStream {
    /// Outside the lock: cancel never waits for a reader blocked in next.
    cancel: CancelHandle,
    inner: Mutex<Reader>,
    /// The text side of a live stream (pushed under its own lock, so one
    /// thread pushes while another reads).
    input: Option<Mutex<TextInput>>,
}

struct Reader {
    stream: Stream,
    /// The chunk last handed out and its C view (which points into it):
    /// both live until the next `tts_stream_next` or the free.
    current: Option<(Chunk, ChunkView)>,
}

/// # Safety
/// `p` is NULL or a pointer from `tts_stream_start` not yet freed.
unsafe fn stream_ref<'a>(p: *const TtsStream) -> Result<&'a TtsStream, Error> {
    // SAFETY: by this function's contract.
    unsafe { p.as_ref() }.ok_or_else(|| invalid("stream is NULL"))
}

/// Starts speaking `text` (NUL-terminated UTF-8) and writes the stream to
/// `*out`; read it with `tts_stream_next`, free it with `tts_stream_free`.
/// Text and parameters are checked here: a bad request fails at once.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_start(
    engine: *const TtsEngine,
    text: *const c_char,
    params: *const TtsRequestParams,
    out: *mut *mut TtsStream,
) -> c_int {
    guard(|| {
        // SAFETY: text is NULL or a C string (tts.h).
        let text = unsafe { c_text_arg(text) }?;
        // SAFETY: arguments as tts.h states.
        unsafe { start(engine, text, params, out) }
    })
}

/// `tts_stream_start` with the text as `len` bytes, not NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_start_n(
    engine: *const TtsEngine,
    text: *const c_char,
    len: usize,
    params: *const TtsRequestParams,
    out: *mut *mut TtsStream,
) -> c_int {
    guard(|| {
        // SAFETY: text is NULL or `len` readable bytes (tts.h).
        let text = unsafe { text_arg(text, len) }?;
        // SAFETY: arguments as tts.h states.
        unsafe { start(engine, text, params, out) }
    })
}

/// # Safety
/// Arguments as `tts_stream_start` states.
unsafe fn start(
    engine: *const TtsEngine,
    text: &str,
    params: *const TtsRequestParams,
    out: *mut *mut TtsStream,
) -> Result<c_int, Error> {
    if out.is_null() {
        return Err(invalid("out is NULL"));
    }
    // SAFETY: by this function's contract.
    let e = unsafe { engine_ref(engine) }?;
    // SAFETY: as above.
    let options = unsafe { request_options(params) }?;
    let stream = e.stream(text, &options)?;
    let handle = Box::into_raw(Box::new(TtsStream {
        cancel: stream.cancel_handle(),
        inner: Mutex::new(Reader {
            stream,
            current: None,
        }),
        input: None,
    }));
    // SAFETY: out is non-NULL (checked above) and writable (tts.h).
    unsafe { out.write(handle) };
    Ok(TTS_OK)
}

/// Opens a live stream: a request whose text is pushed in pieces
/// (`tts_stream_push_text`) while its audio is read (`tts_stream_next`, as
/// for any stream). Each sentence is spoken as soon as it is settled, and
/// the chunks are those of a one-shot request of the whole text. End the
/// text with `tts_stream_finish` (the audio then ends); freeing the stream
/// cancels it. The voice and parameters are checked here.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_open(
    engine: *const TtsEngine,
    params: *const TtsRequestParams,
    out: *mut *mut TtsStream,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        // SAFETY: arguments as tts.h states.
        let e = unsafe { engine_ref(engine) }?;
        // SAFETY: as above.
        let options = unsafe { request_options(params) }?;
        let (input, stream) = e.open_stream(&options)?.split();
        let handle = Box::into_raw(Box::new(TtsStream {
            cancel: stream.cancel_handle(),
            inner: Mutex::new(Reader {
                stream,
                current: None,
            }),
            input: Some(Mutex::new(input)),
        }));
        // SAFETY: out is non-NULL (checked above) and writable (tts.h).
        unsafe { out.write(handle) };
        Ok(TTS_OK)
    })
}

/// Runs `f` on a live stream's text input.
///
/// # Safety
/// `stream` as `tts_stream_next` states.
unsafe fn with_input(
    stream: *const TtsStream,
    f: impl FnOnce(&mut TextInput) -> ishowtts::Result<()>,
) -> Result<c_int, Error> {
    // SAFETY: by this function's contract.
    let s = unsafe { stream_ref(stream) }?;
    let input = s
        .input
        .as_ref()
        .ok_or_else(|| invalid("not a live stream (open it with tts_stream_open)"))?;
    let mut input = input.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut input)?;
    Ok(TTS_OK)
}

/// Adds `len` bytes of UTF-8 text to a live stream. A piece may end, or
/// start, inside a character (the rest comes with the next push); bytes
/// that are not UTF-8 are `TTS_ERR_INVALID_TEXT` and nothing of that push
/// is taken. Never waits for synthesis. Thread-safe against a reader in
/// `tts_stream_next` on another thread. After `tts_stream_finish`:
/// `TTS_ERR_INVALID_ARGUMENT`; after a cancel: `TTS_ERR_CANCELLED`; past
/// the engine's text limit: `TTS_ERR_TEXT_TOO_LONG`.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_push_text(
    stream: *const TtsStream,
    text: *const c_char,
    len: usize,
) -> c_int {
    guard(|| {
        if text.is_null() && len > 0 {
            return Err(invalid("text is NULL"));
        }
        let bytes = if len == 0 {
            &[][..]
        } else {
            // SAFETY: text points at `len` readable bytes (tts.h).
            unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) }
        };
        // SAFETY: arguments as tts.h states.
        unsafe { with_input(stream, |i| i.push_bytes(bytes)) }
    })
}

/// Speaks what a live stream holds back now, as if its text ended here;
/// the text pushed after it starts a new sentence. Nothing held: a no-op.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_flush(stream: *const TtsStream) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        unsafe { with_input(stream, TextInput::flush) }
    })
}

/// Ends a live stream's text: what it holds back is spoken and the audio
/// ends after it (`TTS_DONE` once read). A character left cut by the last
/// push is `TTS_ERR_INVALID_TEXT` (the text still ends).
#[no_mangle]
pub unsafe extern "C" fn tts_stream_finish(stream: *const TtsStream) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        unsafe { with_input(stream, TextInput::finish) }
    })
}

/// Waits up to `timeout_ms` milliseconds (0: just look; negative: as long
/// as it takes) for the next chunk. Returns
/// - `TTS_OK`: `*out` points at the chunk, valid (with its samples) until
///   the next call on this stream or its free;
/// - `TTS_DONE`: every chunk was delivered (the one before had `is_last`);
/// - `TTS_STOPPED`: the request was cancelled;
/// - `TTS_TIMEOUT`: nothing yet; call again;
/// - an error code: the request failed (then `TTS_DONE` on later calls).
///
/// `*out` is written only with `TTS_OK`. Any call frees the previous chunk.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_next(
    stream: *mut TtsStream,
    timeout_ms: i32,
    out: *mut *const TtsChunk,
) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let s = unsafe { stream_ref(stream) }?;
        if out.is_null() {
            return Err(invalid("out is NULL"));
        }
        let mut reader = s.inner.lock().unwrap_or_else(|p| p.into_inner());
        reader.current = None;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match reader.stream.poll_chunk(timeout)? {
            Polled::Chunk(chunk) => {
                let view = c_chunk(&chunk);
                // Moving the chunk keeps its sample buffer where it is.
                let (_, view) = reader.current.insert((chunk, view));
                // SAFETY: out is non-NULL (checked above) and writable
                // (tts.h); the view lives in the stream until the next
                // call or the free.
                unsafe { out.write(&view.chunk as *const TtsChunk) };
                Ok(TTS_OK)
            }
            Polled::Pending => Ok(TTS_TIMEOUT),
            Polled::Done => Ok(match reader.stream.status() {
                StreamStatus::Cancelled => TTS_STOPPED,
                _ => TTS_DONE,
            }),
        }
    })
}

/// Cancels the request: no new sentence starts and the reader gets
/// `TTS_STOPPED` (after chunks already delivered). Callable from any
/// thread, also while another thread waits in `tts_stream_next` on this
/// stream; not concurrently with `tts_stream_free`. Cancelling a finished
/// stream does nothing.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_cancel(stream: *const TtsStream) -> c_int {
    guard(|| {
        // SAFETY: arguments as tts.h states.
        let s = unsafe { stream_ref(stream) }?;
        s.cancel.cancel();
        Ok(TTS_OK)
    })
}

/// Frees a stream and its last chunk, cancelling the request if it is
/// still running; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn tts_stream_free(stream: *mut TtsStream) {
    guard(|| {
        if !stream.is_null() {
            // SAFETY: the pointer came from tts_stream_start and is freed
            // once, with no other call on it running (tts.h).
            drop(unsafe { Box::from_raw(stream) });
        }
        Ok(TTS_OK)
    });
}

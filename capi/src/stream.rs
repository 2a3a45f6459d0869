//! Pull streams: start a request, read its chunks one call at a time,
//! cancel it from any thread.

use std::ffi::{c_char, c_int};
use std::sync::Mutex;
use std::time::Duration;

use ishowtts::engine::{CancelHandle, Chunk, Polled, Stream, StreamStatus};
use ishowtts::Error;

use crate::engine::{engine_ref, TtsEngine};
use crate::error::{c_text_arg, guard, invalid, text_arg};
use crate::error::{TTS_DONE, TTS_OK, TTS_STOPPED, TTS_TIMEOUT};
use crate::request::{c_chunk, request_options, TtsChunk, TtsRequestParams};

/// A running request whose chunks are read with `tts_stream_next`. Read it
/// from one thread at a time; `tts_stream_cancel` may come from any.
pub struct TtsStream {
    /// Outside the lock: cancel never waits for a reader blocked in next.
    cancel: CancelHandle,
    inner: Mutex<Reader>,
}

struct Reader {
    stream: Stream,
    /// The chunk last handed out and its C view (which points into it):
    /// both live until the next `tts_stream_next` or the free.
    current: Option<(Chunk, TtsChunk)>,
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
    }));
    // SAFETY: out is non-NULL (checked above) and writable (tts.h).
    unsafe { out.write(handle) };
    Ok(TTS_OK)
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
                unsafe { out.write(view as *const TtsChunk) };
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

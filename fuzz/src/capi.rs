//! Harness of the C ABI's parameter structs: `tts_engine_params` and
//! `tts_request_params` filled with any bytes (sizes of old and unknown
//! layouts, NaN and infinite floats, out-of-range enums and counts, any
//! strings), passed to engine creation, one-shot synthesis and live
//! streams. Every call must return a status code; `TTS_ERR_INTERNAL` (a
//! panic caught at the boundary) is a finding, as is a crash or a hang.
//!
//! The engine's voice is a Piper voice whose config is real and whose
//! model file is not, so a request that passes every check fails when the
//! model loads: fast, and through the same error path a broken voice file
//! takes in a host.

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;
use std::sync::OnceLock;

use tts::*;

use crate::input::Input;

/// A real voice config beside a model file that is not ONNX.
fn fake_voice() -> &'static CString {
    static VOICE: OnceLock<CString> = OnceLock::new();
    VOICE.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("ishowtts-fuzz-capi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        let model = dir.join("voice.onnx");
        std::fs::write(&model, b"not an onnx file").expect("temporary file");
        std::fs::write(
            dir.join("voice.onnx.json"),
            include_str!("../../tests/fixtures/piper/en_US-joe-medium.onnx.json"),
        )
        .expect("temporary file");
        CString::new(model.to_str().expect("UTF-8 temp path")).unwrap()
    })
}

/// The engine requests go to, made once per process (as a host does).
fn engine() -> *const TtsEngine {
    struct Handle(*mut TtsEngine);
    // SAFETY: the engine is thread-safe (tts.h) and never freed.
    unsafe impl Send for Handle {}
    unsafe impl Sync for Handle {}
    static ENGINE: OnceLock<Handle> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut p = tts_engine_default_params();
            p.voice_path = fake_voice().as_ptr();
            let mut e = std::ptr::null_mut();
            // SAFETY: valid params and out pointer.
            let rc = unsafe { tts_engine_new(&p, &mut e) };
            assert_eq!(rc, TTS_OK, "engine: {}", last_error());
            Handle(e)
        })
        .0
}

fn last_error() -> String {
    // SAFETY: tts_last_error returns a valid C string.
    unsafe { std::ffi::CStr::from_ptr(tts_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Fails the run when a call's status is a caught panic or no status at all.
fn check(what: &str, rc: c_int) {
    assert_ne!(rc, TTS_ERR_INTERNAL, "{what} panicked: {}", last_error());
    let name = tts_error_code_name(rc);
    assert!(!name.is_null(), "{what} returned {rc}, not a status code");
}

/// `base` with some of its bytes replaced by the input's: an offset, a
/// count, then that many bytes (every field is an integer, a float or a
/// raw pointer, for which any bits are a value; the pointers are set again
/// before use).
fn overwrite<T: Copy>(base: T, inp: &mut Input) -> T {
    let size = std::mem::size_of::<T>();
    let at = usize::from(inp.byte()) % size;
    let n = usize::from(inp.byte());
    let bytes = inp.bytes(n.min(size - at));
    let mut v = base;
    // SAFETY: `at + bytes.len()` is within v, and the source does not
    // overlap it.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            (&mut v as *mut T).cast::<u8>().add(at),
            bytes.len(),
        )
    };
    v
}

/// A `struct_size`: one of the released layouts (as `capi/src` lists
/// them: each older layout's size padded to 8 bytes, then today's), or any
/// value.
fn struct_size(choice: u8, released: &[usize], any: u16) -> usize {
    match usize::from(choice) % (released.len() + 1) {
        i if i < released.len() => released[i],
        _ => usize::from(any),
    }
}

/// An optional C string: NULL or the given text (a NUL inside ends it).
fn c_string(present: bool, text: String) -> Option<CString> {
    present.then(|| CString::new(text.replace('\0', "")).unwrap())
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

unsafe extern "C" fn on_chunk(chunk: *const TtsChunk, user_data: *mut c_void) -> c_int {
    // SAFETY: the engine passes a valid chunk; user_data is our counter.
    let (chunk, seen) = unsafe { (&*chunk, &mut *user_data.cast::<usize>()) };
    assert!(chunk.sample_count == 0 || !chunk.samples.is_null());
    *seen += 1;
    0
}

/// One call with parameter structs made of the input.
pub fn capi_params(data: &[u8]) {
    let mut inp = Input::new(data);
    let mode = inp.byte();
    let size_choice = inp.byte();
    let any_size = inp.u16();
    let flags = inp.byte();
    let s1 = inp.str_until_nul();
    let s2 = inp.str_until_nul();
    let s3 = inp.str_until_nul();
    match mode % 3 {
        0 => {
            let mut p = overwrite(tts_engine_default_params(), &mut inp);
            p.struct_size = struct_size(
                size_choice,
                &[
                    std::mem::offset_of!(TtsEngineParams, max_batch),
                    std::mem::offset_of!(TtsEngineParams, workers),
                    std::mem::size_of::<TtsEngineParams>(),
                ],
                any_size,
            );
            // Always a voice of ours (or a path that is not one): the
            // installed default voice may be missing where this runs.
            let path = match flags & 1 {
                0 => Some(fake_voice().clone()),
                _ => c_string(true, s1),
            };
            p.voice_path = ptr(&path);
            let mut e = std::ptr::null_mut();
            // SAFETY: p's pointers are NULL or live C strings.
            let rc = unsafe { tts_engine_new(&p, &mut e) };
            check("tts_engine_new", rc);
            if rc == TTS_OK {
                // SAFETY: a handle tts_engine_new just made.
                unsafe { tts_engine_free(e) };
            }
        }
        op => {
            let mut p = overwrite(tts_request_default_params(), &mut inp);
            p.struct_size = struct_size(
                size_choice,
                &[
                    std::mem::offset_of!(TtsRequestParams, nfe_step).next_multiple_of(8),
                    std::mem::offset_of!(TtsRequestParams, language),
                    std::mem::offset_of!(TtsRequestParams, first_chunk_max_chars)
                        .next_multiple_of(8),
                    std::mem::size_of::<TtsRequestParams>(),
                ],
                any_size,
            );
            let voice = c_string(flags & 1 != 0, s1);
            let language = c_string(flags & 2 != 0, s2);
            let instruct = c_string(flags & 4 != 0, s3);
            p.voice = ptr(&voice);
            p.language = ptr(&language);
            p.instruct = ptr(&instruct);
            let params: *const TtsRequestParams =
                if flags & 8 != 0 { std::ptr::null() } else { &p };
            let text = inp.rest();
            let engine = engine();
            if op == 1 {
                let mut seen = 0usize;
                // SAFETY: live engine, text of `len` bytes, params as set.
                let rc = unsafe {
                    tts_synthesize_n(
                        engine,
                        text.as_ptr().cast(),
                        text.len(),
                        params,
                        Some(on_chunk),
                        (&mut seen as *mut usize).cast(),
                    )
                };
                check("tts_synthesize_n", rc);
            } else {
                let mut s = std::ptr::null_mut();
                // SAFETY: as above.
                let rc = unsafe { tts_stream_open(engine, params, &mut s) };
                check("tts_stream_open", rc);
                if rc != TTS_OK {
                    return;
                }
                // Text in two pieces (a cut may fall inside a character).
                let cut = usize::from(flags >> 4).min(text.len());
                for piece in [&text[..cut], &text[cut..]] {
                    // SAFETY: a live stream and `len` readable bytes.
                    check("tts_stream_push_text", unsafe {
                        tts_stream_push_text(s, piece.as_ptr().cast(), piece.len())
                    });
                }
                // SAFETY: a live stream.
                check("tts_stream_finish", unsafe { tts_stream_finish(s) });
                loop {
                    let mut chunk = std::ptr::null();
                    // SAFETY: a live stream and an out pointer.
                    let rc = unsafe { tts_stream_next(s, 10_000, &mut chunk) };
                    check("tts_stream_next", rc);
                    assert_ne!(rc, TTS_TIMEOUT, "a stream with no voice to load stalled");
                    if rc != TTS_OK {
                        break;
                    }
                }
                // SAFETY: a stream tts_stream_open made, freed once.
                unsafe { tts_stream_free(s) };
            }
        }
    }
}

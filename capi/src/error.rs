//! Status codes, the thread-local last error, the panic boundary and the
//! checks every argument from C goes through.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use ishowtts::{Error, ErrorCode};

/// The `struct_size` of every released layout of the versioned struct
/// `$t`, oldest first: each older layout's size (the offset of the first
/// field it lacks, rounded up to the struct's alignment), then today's.
/// When appending fields, add the first new one to the list; never remove
/// one.
macro_rules! released_sizes {
    ($t:ty: $($first_new:ident),* $(,)?) => {
        &[
            $(std::mem::offset_of!($t, $first_new).next_multiple_of(std::mem::align_of::<$t>()),)*
            std::mem::size_of::<$t>(),
        ]
    };
}
pub(crate) use released_sizes;

/// Success.
pub const TTS_OK: c_int = 0;
/// A NULL pointer, a wrong `struct_size` or an unknown enum value.
pub const TTS_ERR_INVALID_ARGUMENT: c_int = 1;
/// Text is not UTF-8 or has a NUL byte.
pub const TTS_ERR_INVALID_TEXT: c_int = 2;
/// Text is empty, whitespace or control characters only.
pub const TTS_ERR_EMPTY_TEXT: c_int = 3;
/// Text has only punctuation, symbols or emoji.
pub const TTS_ERR_NOTHING_TO_SPEAK: c_int = 4;
/// Text is longer than the engine's `max_text_bytes`.
pub const TTS_ERR_TEXT_TOO_LONG: c_int = 5;
/// A parameter is NaN or out of range.
pub const TTS_ERR_INVALID_PARAMETER: c_int = 6;
/// Unknown voice name, or a voice's model file is missing.
pub const TTS_ERR_VOICE_NOT_FOUND: c_int = 7;
/// Speaker id out of range for the voice.
pub const TTS_ERR_SPEAKER_OUT_OF_RANGE: c_int = 8;
/// A file could not be read or written.
pub const TTS_ERR_IO: c_int = 9;
/// A model or voice file is corrupt or of the wrong kind.
pub const TTS_ERR_MODEL_FORMAT: c_int = 10;
/// The phonemizer failed.
pub const TTS_ERR_PHONEMIZER: c_int = 11;
/// Inference failed.
pub const TTS_ERR_MODEL: c_int = 12;
/// The request queue is full: retry later or raise `queue_limit`.
pub const TTS_ERR_BUSY: c_int = 13;
/// The request was cancelled.
pub const TTS_ERR_CANCELLED: c_int = 14;
/// A chunk callback failed.
pub const TTS_ERR_CALLBACK_FAILED: c_int = 15;
/// The engine was freed while the request ran.
pub const TTS_ERR_ENGINE_CLOSED: c_int = 16;
/// Not supported by this build or model (e.g. CUDA without a CUDA build).
pub const TTS_ERR_UNSUPPORTED: c_int = 17;
/// Unusable reference audio.
pub const TTS_ERR_REFERENCE_AUDIO: c_int = 18;
/// A bug: a caught panic or a broken invariant.
pub const TTS_ERR_INTERNAL: c_int = 99;
/// Status, not an error: the stream has delivered its last chunk.
pub const TTS_DONE: c_int = 100;
/// Status, not an error: no chunk came within the timeout.
pub const TTS_TIMEOUT: c_int = 101;
/// Status, not an error: the request was cancelled (the callback returned
/// nonzero, or `tts_stream_cancel`); chunks delivered before stay valid.
pub const TTS_STOPPED: c_int = 102;

/// Every code with its name, for `tts_error_code_name` (and the test that
/// the numbers are the core's).
const NAMES: &[(c_int, &str)] = &[
    (TTS_OK, "TTS_OK\0"),
    (TTS_ERR_INVALID_ARGUMENT, "TTS_ERR_INVALID_ARGUMENT\0"),
    (TTS_ERR_INVALID_TEXT, "TTS_ERR_INVALID_TEXT\0"),
    (TTS_ERR_EMPTY_TEXT, "TTS_ERR_EMPTY_TEXT\0"),
    (TTS_ERR_NOTHING_TO_SPEAK, "TTS_ERR_NOTHING_TO_SPEAK\0"),
    (TTS_ERR_TEXT_TOO_LONG, "TTS_ERR_TEXT_TOO_LONG\0"),
    (TTS_ERR_INVALID_PARAMETER, "TTS_ERR_INVALID_PARAMETER\0"),
    (TTS_ERR_VOICE_NOT_FOUND, "TTS_ERR_VOICE_NOT_FOUND\0"),
    (
        TTS_ERR_SPEAKER_OUT_OF_RANGE,
        "TTS_ERR_SPEAKER_OUT_OF_RANGE\0",
    ),
    (TTS_ERR_IO, "TTS_ERR_IO\0"),
    (TTS_ERR_MODEL_FORMAT, "TTS_ERR_MODEL_FORMAT\0"),
    (TTS_ERR_PHONEMIZER, "TTS_ERR_PHONEMIZER\0"),
    (TTS_ERR_MODEL, "TTS_ERR_MODEL\0"),
    (TTS_ERR_BUSY, "TTS_ERR_BUSY\0"),
    (TTS_ERR_CANCELLED, "TTS_ERR_CANCELLED\0"),
    (TTS_ERR_CALLBACK_FAILED, "TTS_ERR_CALLBACK_FAILED\0"),
    (TTS_ERR_ENGINE_CLOSED, "TTS_ERR_ENGINE_CLOSED\0"),
    (TTS_ERR_UNSUPPORTED, "TTS_ERR_UNSUPPORTED\0"),
    (TTS_ERR_REFERENCE_AUDIO, "TTS_ERR_REFERENCE_AUDIO\0"),
    (TTS_ERR_INTERNAL, "TTS_ERR_INTERNAL\0"),
    (TTS_DONE, "TTS_DONE\0"),
    (TTS_TIMEOUT, "TTS_TIMEOUT\0"),
    (TTS_STOPPED, "TTS_STOPPED\0"),
];

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    // A message never holds a NUL (it would cut the C string short).
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// `Error::InvalidArgument` with `msg`.
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// The body of every exported function that returns a status: an error
/// becomes its stable code (its message kept for `tts_last_error`), a
/// panic becomes `TTS_ERR_INTERNAL`, and success clears the message. No
/// unwind ever crosses into C.
pub(crate) fn guard(f: impl FnOnce() -> Result<c_int, Error>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(code)) => {
            set_last_error("");
            code
        }
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            e.code() as c_int
        }
        Err(panic) => {
            set_last_error(&format!(
                "internal error (panic): {}",
                panic_message(&*panic)
            ));
            ErrorCode::Internal as c_int
        }
    }
}

/// The body of an exported function that returns a value rather than a
/// status: `fallback` when it panics.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        set_last_error(&format!(
            "internal error (panic): {}",
            panic_message(&*panic)
        ));
        fallback
    })
}

/// Message of the last failed call on this thread ("" when the last call
/// succeeded). The string is owned by the library and valid until the next
/// `tts_*` call on this thread.
#[no_mangle]
pub extern "C" fn tts_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), || LAST_ERROR.with(|e| e.borrow().as_ptr()))
}

/// Name of a status or error code ("TTS_ERR_BUSY", …), or
/// "TTS_UNKNOWN_CODE". A static string.
#[no_mangle]
pub extern "C" fn tts_error_code_name(code: c_int) -> *const c_char {
    guard_value(c"TTS_UNKNOWN_CODE".as_ptr(), || {
        NAMES
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(c"TTS_UNKNOWN_CODE".as_ptr(), |(_, name)| {
                name.as_ptr().cast()
            })
    })
}

/// A required C string argument, as UTF-8.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        Error::InvalidText(format!(
            "{what} is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// An optional C string argument (NULL: `None`).
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { str_arg(p, what) }.map(Some)
}

/// Text given as a pointer and a byte length: UTF-8 without NUL bytes.
///
/// # Safety
/// `p` is NULL or points at `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn text_arg<'a>(p: *const c_char, len: usize) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid("text is NULL"));
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!("text length {len} is not a valid size")));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, and
    // `len` fits a slice (checked above).
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    if let Some(i) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::InvalidText(format!(
            "text has a NUL byte at offset {i}"
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Error::InvalidText(format!(
            "text is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A NUL-terminated text argument (see [`text_arg`]).
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn c_text_arg<'a>(p: *const c_char) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(invalid("text is NULL"));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let len = unsafe { CStr::from_ptr(p) }.to_bytes().len();
    // SAFETY: the `len` bytes before the terminator are readable.
    unsafe { text_arg(p, len) }
}

/// Reads a caller's parameter struct whose first field is `size_t
/// struct_size`. `sizes` lists the size of every released layout, oldest
/// first, the current one last: a caller built against an older header
/// passes a smaller known size, and the fields it does not have keep
/// `defaults`. Any other size is refused (garbage, or a newer header than
/// this library).
///
/// # Safety
/// `p` is NULL or points at a readable struct whose first field is a
/// `size_t` holding its size in bytes.
pub(crate) unsafe fn read_sized<T: Copy>(
    p: *const T,
    defaults: T,
    sizes: &[usize],
    what: &str,
) -> Result<T, Error> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and every versioned struct starts with a size_t.
    let size = unsafe { p.cast::<usize>().read_unaligned() };
    check_size(size, sizes, what)?;
    let mut out = defaults;
    // SAFETY: the caller's struct has `size` readable bytes, `size` is at
    // most size_of::<T>() (a known layout), and the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut out as *mut T).cast::<u8>(), size)
    };
    // Back to the layout this library speaks.
    // SAFETY: `out` is a T whose first field is a size_t.
    unsafe {
        (&mut out as *mut T)
            .cast::<usize>()
            .write(std::mem::size_of::<T>())
    };
    Ok(out)
}

/// Writes `value` into a caller's struct of `sizes`-known size (as
/// [`read_sized`]: an older caller gets the prefix it knows, its own
/// `struct_size` left as it was).
///
/// # Safety
/// `p` is NULL or points at a writable struct whose first field is a
/// `size_t` holding its size in bytes.
pub(crate) unsafe fn write_sized<T>(
    p: *mut T,
    value: &T,
    sizes: &[usize],
    what: &str,
) -> Result<(), Error> {
    if p.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, and every versioned struct starts with a size_t.
    let size = unsafe { p.cast::<usize>().read_unaligned() };
    check_size(size, sizes, what)?;
    let head = std::mem::size_of::<usize>();
    // SAFETY: the caller's struct has `size` writable bytes; we write
    // bytes head..size of it from `value`, which has at least `size`
    // bytes (a known layout) and does not overlap it.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (value as *const T).cast::<u8>().add(head),
            p.cast::<u8>().add(head),
            size - head,
        )
    };
    Ok(())
}

fn check_size(size: usize, sizes: &[usize], what: &str) -> Result<(), Error> {
    if sizes.contains(&size) {
        return Ok(());
    }
    let current = sizes.last().copied().unwrap_or_default();
    let hint = if size > current {
        "built against a newer tts.h than this library"
    } else {
        "not a size of any released layout; start from the struct's default"
    };
    Err(invalid(format!(
        "{what}.struct_size is {size}, this library knows {sizes:?} ({hint})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_core_codes_and_all_have_names() {
        let core = [
            (TTS_ERR_INVALID_ARGUMENT, ErrorCode::InvalidArgument),
            (TTS_ERR_INVALID_TEXT, ErrorCode::InvalidText),
            (TTS_ERR_EMPTY_TEXT, ErrorCode::EmptyText),
            (TTS_ERR_NOTHING_TO_SPEAK, ErrorCode::NothingToSpeak),
            (TTS_ERR_TEXT_TOO_LONG, ErrorCode::TextTooLong),
            (TTS_ERR_INVALID_PARAMETER, ErrorCode::InvalidParameter),
            (TTS_ERR_VOICE_NOT_FOUND, ErrorCode::VoiceNotFound),
            (TTS_ERR_SPEAKER_OUT_OF_RANGE, ErrorCode::SpeakerOutOfRange),
            (TTS_ERR_IO, ErrorCode::Io),
            (TTS_ERR_MODEL_FORMAT, ErrorCode::ModelFormat),
            (TTS_ERR_PHONEMIZER, ErrorCode::Phonemizer),
            (TTS_ERR_MODEL, ErrorCode::Model),
            (TTS_ERR_BUSY, ErrorCode::Busy),
            (TTS_ERR_CANCELLED, ErrorCode::Cancelled),
            (TTS_ERR_CALLBACK_FAILED, ErrorCode::CallbackFailed),
            (TTS_ERR_ENGINE_CLOSED, ErrorCode::EngineClosed),
            (TTS_ERR_UNSUPPORTED, ErrorCode::Unsupported),
            (TTS_ERR_REFERENCE_AUDIO, ErrorCode::ReferenceAudio),
            (TTS_ERR_INTERNAL, ErrorCode::Internal),
        ];
        for (c, code) in core {
            assert_eq!(c, code as c_int);
            // SAFETY: a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(tts_error_code_name(c)) };
            assert!(name.to_str().unwrap().starts_with("TTS_ERR_"), "{c}");
        }
        // Errors stay below the statuses.
        assert!(NAMES.iter().all(|(c, _)| *c < TTS_DONE || *c >= 100));
        assert!(NAMES.iter().all(|(_, n)| n.ends_with('\0')));
    }

    #[test]
    fn a_panic_becomes_internal_with_a_message() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, TTS_ERR_INTERNAL);
        // SAFETY: the thread's last-error string.
        let msg = unsafe { CStr::from_ptr(tts_last_error()) };
        assert!(msg.to_str().unwrap().contains("boom"));
        assert_eq!(guard(|| Ok(TTS_OK)), TTS_OK);
        // SAFETY: as above.
        assert!(unsafe { CStr::from_ptr(tts_last_error()) }.is_empty());
    }

    #[test]
    fn text_checks() {
        let ok = b"hello";
        // SAFETY: pointers to live byte arrays of the given lengths.
        unsafe {
            assert_eq!(text_arg(ok.as_ptr().cast(), 5).unwrap(), "hello");
            assert!(matches!(
                text_arg(b"a\0b".as_ptr().cast(), 3),
                Err(Error::InvalidText(_))
            ));
            assert!(matches!(
                text_arg(b"\xff".as_ptr().cast(), 1),
                Err(Error::InvalidText(_))
            ));
            assert!(matches!(
                text_arg(std::ptr::null(), 0),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    struct V2 {
        struct_size: usize,
        a: u32,
        b: u32,
    }

    #[test]
    fn sized_structs_accept_older_layouts_only() {
        let v1 = std::mem::offset_of!(V2, b);
        let sizes = [v1, std::mem::size_of::<V2>()];
        let defaults = V2 {
            struct_size: 16,
            a: 1,
            b: 2,
        };
        let old = V2 {
            struct_size: v1,
            a: 7,
            b: 99, // not part of the old layout
        };
        // SAFETY: pointers to live structs.
        unsafe {
            let got = read_sized(&old, defaults, &sizes, "v").unwrap();
            assert_eq!((got.struct_size, got.a, got.b), (16, 7, 2));
            let bad = V2 {
                struct_size: 3,
                ..old
            };
            assert!(read_sized(&bad, defaults, &sizes, "v").is_err());
            let newer = V2 {
                struct_size: 64,
                ..old
            };
            assert!(read_sized(&newer, defaults, &sizes, "v").is_err());

            let mut out = V2 {
                struct_size: v1,
                a: 0,
                b: 0,
            };
            write_sized(&mut out, &defaults, &sizes, "v").unwrap();
            assert_eq!((out.struct_size, out.a, out.b), (v1, 1, 0));
        }
    }
}

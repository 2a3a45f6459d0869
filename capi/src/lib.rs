//! The C ABI of ishowtts: `libtts.so` / `libtts.a` and `include/tts.h`.
//!
//! A thin layer over [`ishowtts::engine`]: opaque handles (`tts_engine`,
//! `tts_stream`), parameter structs that carry their own `struct_size`,
//! integer status codes equal to the core's [`ishowtts::ErrorCode`] with a
//! thread-local message, and a panic boundary around every exported
//! function so no unwind ever reaches C. The header is generated from this
//! crate by cbindgen (`scripts/build_capi.sh`); all behaviour lives in the
//! core crate.
//!
//! Pieces: [`error`] (codes, last error, argument checks), [`engine`]
//! (engine handle, voices, metrics), [`request`] (request parameters,
//! chunks, callback synthesis, WAV), [`stream`] (pull streams and cancel),
//! [`log`] (the log callback).

#![deny(unsafe_op_in_unsafe_fn)]
// The safety contract of every function is stated once, in tts.h.
#![allow(clippy::missing_safety_doc)]

pub mod engine;
pub mod error;
pub mod log;
pub mod request;
pub mod stream;

use std::ffi::c_char;

pub use engine::*;
pub use error::*;
pub use log::*;
pub use request::*;
pub use stream::*;

/// Version of this ABI, as compiled into the header: a program can compare
/// it with `tts_abi_version()`. Bumped when a function or a struct changes
/// incompatibly (appending struct fields is compatible).
pub const TTS_ABI_VERSION: i32 = 1;

/// The library's version ("0.1.0"), a static string.
#[no_mangle]
pub extern "C" fn tts_version() -> *const c_char {
    guard_value(c"".as_ptr(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The ABI version the library was built with (`TTS_ABI_VERSION` of its
/// header).
#[no_mangle]
pub extern "C" fn tts_abi_version() -> i32 {
    guard_value(0, || TTS_ABI_VERSION)
}

//! The log callback: the library's `tracing` events, forwarded to C by a
//! small subscriber layer installed on first use.

use std::ffi::{c_char, c_int, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Once, RwLock};

use ishowtts::Error;
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::error::{guard, TTS_OK};

/// Log level: errors only.
pub const TTS_LOG_ERROR: c_int = 1;
/// Log level: warnings and up.
pub const TTS_LOG_WARN: c_int = 2;
/// Log level: informational messages and up (model loads, unloads).
pub const TTS_LOG_INFO: c_int = 3;
/// Log level: debugging detail and up.
pub const TTS_LOG_DEBUG: c_int = 4;
/// Log level: everything.
pub const TTS_LOG_TRACE: c_int = 5;

/// Receives one log line: `level` is a `TTS_LOG_*` value, `message` a
/// NUL-terminated UTF-8 string valid during the call. Called from any
/// thread (the engine's worker among them); it must not block for long.
pub type TtsLogCallback =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user_data: *mut c_void)>;

#[derive(Clone, Copy)]
struct Sink {
    callback: unsafe extern "C" fn(c_int, *const c_char, *mut c_void),
    /// The caller's pointer, kept as an integer so the sink is `Send`.
    user_data: usize,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Most verbose level forwarded; 0 while no callback is set, so events
/// cost nothing then.
static MAX_LEVEL: AtomicI32 = AtomicI32::new(0);
/// Whether our layer became the process's subscriber.
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn level_number(level: &Level) -> c_int {
    match *level {
        Level::ERROR => TTS_LOG_ERROR,
        Level::WARN => TTS_LOG_WARN,
        Level::INFO => TTS_LOG_INFO,
        Level::DEBUG => TTS_LOG_DEBUG,
        Level::TRACE => TTS_LOG_TRACE,
    }
}

fn wanted(metadata: &Metadata<'_>) -> bool {
    level_number(metadata.level()) <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Forwards events at or above the chosen level to the C callback.
struct CallbackLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CallbackLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Re-asked after every level change (rebuild_interest_cache).
        if wanted(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        wanted(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX_LEVEL.load(Ordering::Relaxed) {
            TTS_LOG_ERROR => LevelFilter::ERROR,
            TTS_LOG_WARN => LevelFilter::WARN,
            TTS_LOG_INFO => LevelFilter::INFO,
            TTS_LOG_DEBUG => LevelFilter::DEBUG,
            TTS_LOG_TRACE => LevelFilter::TRACE,
            _ => LevelFilter::OFF,
        })
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if !wanted(event.metadata()) {
            return;
        }
        // Copied out: the callback may itself set a new callback.
        let Some(sink) = *SINK.read().unwrap_or_else(|p| p.into_inner()) else {
            return;
        };
        let mut line = format!("{}: ", event.metadata().target());
        event.record(&mut MessageVisitor(&mut line));
        let line = CString::new(line.replace('\0', "\\0")).unwrap_or_default();
        let level = level_number(event.metadata().level());
        // Whatever the callback does, no unwind may leave this function.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller's callback and user data; the line lives
            // until the call returns.
            unsafe { (sink.callback)(level, line.as_ptr(), sink.user_data as *mut c_void) }
        }));
    }
}

/// Writes an event's message, then its other fields as `name=value`.
struct MessageVisitor<'a>(&'a mut String);

impl tracing::field::Visit for MessageVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        use std::fmt::Write;
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// Sends the library's log messages at `max_level` (`TTS_LOG_*`) and more
/// severe to `callback`, with `user_data`; a NULL callback turns logging
/// off. May be called any number of times, from any thread. Fails with
/// `TTS_ERR_UNSUPPORTED` when the process already has another `tracing`
/// subscriber (a Rust host's own), which then receives the messages.
#[no_mangle]
pub unsafe extern "C" fn tts_set_log_callback(
    callback: TtsLogCallback,
    user_data: *mut c_void,
    max_level: c_int,
) -> c_int {
    guard(|| {
        if callback.is_some() && !(TTS_LOG_ERROR..=TTS_LOG_TRACE).contains(&max_level) {
            return Err(Error::InvalidParameter {
                name: "max_level",
                value: max_level.to_string(),
                reason: "must be TTS_LOG_ERROR (1) to TTS_LOG_TRACE (5)",
            });
        }
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(CallbackLayer);
            let ok = tracing::subscriber::set_global_default(subscriber).is_ok();
            INSTALLED.store(ok, Ordering::SeqCst);
        });
        if !INSTALLED.load(Ordering::SeqCst) {
            return Err(Error::Unsupported(
                "another tracing subscriber is installed in this process; it receives the \
                 library's log messages"
                    .into(),
            ));
        }
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = callback.map(|callback| Sink {
            callback,
            user_data: user_data as usize,
        });
        let level = if callback.is_some() { max_level } else { 0 };
        MAX_LEVEL.store(level, Ordering::Relaxed);
        // Callsites cached their interest under the old level.
        tracing::callsite::rebuild_interest_cache();
        Ok(TTS_OK)
    })
}

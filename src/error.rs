//! The one error type of the crate.
//!
//! Every variant names what went wrong precisely enough for a user to act on
//! it; the C ABI and the Python module map these to stable codes/exceptions.

use std::path::PathBuf;
use std::sync::Arc;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ishowtts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// A voice config (`.onnx.json`) is missing fields or is not valid JSON.
    #[error("voice config {path}: {reason}")]
    VoiceConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The model file is not a readable ONNX protobuf (corrupt or truncated).
    #[error("model file {path} is not a valid ONNX file: {reason}")]
    OnnxFormat {
        /// The model file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The ONNX file parsed but is not a Piper VITS export.
    #[error("model file {path} is not a Piper VITS voice: {reason}")]
    NotPiperVoice {
        /// The model file.
        path: PathBuf,
        /// What is missing or unexpected.
        reason: String,
    },
    /// No voice was given and the default voice is not installed.
    /// A weight file that does not hold what the network needs (missing or
    /// mis-shaped tensor: the reason names it).
    #[error("model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },

    #[error("no voice found: {0}")]
    VoiceNotFound(String),
    /// The text to speak is empty or whitespace only.
    #[error("text is empty: nothing to synthesize")]
    EmptyText,
    /// A synthesis parameter is NaN, infinite or out of range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as the user spelled it (`length_scale`, …).
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The accepted range.
        reason: &'static str,
    },
    /// The speaker id is not one the voice has.
    #[error("speaker id {id} is out of range: the voice has {num_speakers} speaker(s)")]
    SpeakerOutOfRange {
        /// The requested id.
        id: i64,
        /// Number of speakers in the voice.
        num_speakers: usize,
    },
    /// The phonemizer failed (espeak-ng missing data, unknown language, …).
    #[error("phonemizer: {0}")]
    Phonemizer(String),
    /// A tensor operation failed inside the model.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
    /// Writing a WAV file failed.
    #[error("wav: {0}")]
    Wav(#[from] hound::Error),
    /// The text has nothing a voice can say (only punctuation, symbols,
    /// emoji or control characters).
    #[error("text has nothing to speak: only punctuation, symbols, emoji or control characters")]
    NothingToSpeak,
    /// The text is longer than the engine's `max_text_bytes`.
    #[error("text is {len} bytes, over the limit of {max} bytes")]
    TextTooLong {
        /// Length of the rejected text in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// Text handed over from C or Python is not valid UTF-8 or contains
    /// an interior NUL.
    #[error("invalid text: {0}")]
    InvalidText(String),
    /// A pointer or argument from C is NULL or otherwise unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The request queue is full: retry later or raise `queue_limit`.
    #[error("engine busy: {pending} requests already queued (queue_limit = {limit})")]
    Busy {
        /// Requests queued or running when this one arrived.
        pending: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The request was cancelled before it finished.
    #[error("request cancelled")]
    Cancelled,
    /// Loading a model failed; every request waiting for it gets this
    /// error and the next request tries to load again.
    #[error("loading model {model}: {source}")]
    ModelLoad {
        /// The model that failed to load.
        model: String,
        /// Why (shared by all the requests it failed).
        #[source]
        source: Arc<Error>,
    },
    /// A chunk callback panicked (Rust) or raised (Python); the request was
    /// cancelled.
    #[error("chunk callback failed: {0}")]
    CallbackFailed(String),
    /// The engine was shut down while the request was in flight.
    #[error("engine is shut down")]
    EngineClosed,
    /// The request asks for something this build or model cannot do
    /// (a CUDA device without the `cuda` feature, voice cloning on a Piper
    /// voice, …).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A reference recording for voice cloning is unusable.
    #[error("reference audio: {0}")]
    ReferenceAudio(String),
    /// A bug: an invariant broke or a panic was caught at an API boundary.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Stable integer codes for [`Error`], shared by the C ABI (`TTS_ERR_*`)
/// and the Python exception hierarchy. Numbers never change meaning; new
/// codes are appended.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success.
    Ok = 0,
    /// NULL pointer or unusable argument.
    InvalidArgument = 1,
    /// Invalid UTF-8 or interior NUL in text.
    InvalidText = 2,
    /// Empty or whitespace-only text.
    EmptyText = 3,
    /// Nothing speakable in the text.
    NothingToSpeak = 4,
    /// Text over `max_text_bytes`.
    TextTooLong = 5,
    /// A parameter is NaN or out of range.
    InvalidParameter = 6,
    /// Unknown voice name, or no voice installed.
    VoiceNotFound = 7,
    /// Speaker id out of range.
    SpeakerOutOfRange = 8,
    /// A file could not be read or written.
    Io = 9,
    /// A model or voice file is corrupt or of the wrong kind.
    ModelFormat = 10,
    /// The phonemizer failed.
    Phonemizer = 11,
    /// Inference failed.
    Model = 12,
    /// Queue full.
    Busy = 13,
    /// Request cancelled.
    Cancelled = 14,
    /// A chunk callback panicked or raised.
    CallbackFailed = 15,
    /// Engine shut down.
    EngineClosed = 16,
    /// Not supported by this build or model.
    Unsupported = 17,
    /// Unusable reference audio.
    ReferenceAudio = 18,
    /// A bug (caught panic, broken invariant).
    Internal = 99,
}

impl ErrorCode {
    /// The code's stable snake_case name (`"voice_not_found"`), as services
    /// put it in their JSON errors.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::InvalidText => "invalid_text",
            ErrorCode::EmptyText => "empty_text",
            ErrorCode::NothingToSpeak => "nothing_to_speak",
            ErrorCode::TextTooLong => "text_too_long",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::VoiceNotFound => "voice_not_found",
            ErrorCode::SpeakerOutOfRange => "speaker_out_of_range",
            ErrorCode::Io => "io",
            ErrorCode::ModelFormat => "model_format",
            ErrorCode::Phonemizer => "phonemizer",
            ErrorCode::Model => "model",
            ErrorCode::Busy => "busy",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::CallbackFailed => "callback_failed",
            ErrorCode::EngineClosed => "engine_closed",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::ReferenceAudio => "reference_audio",
            ErrorCode::Internal => "internal",
        }
    }
}

impl Error {
    /// The stable code of this error (a failed model load reports the
    /// code of its cause).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Io { .. } | Error::Wav(_) => ErrorCode::Io,
            Error::VoiceConfig { .. }
            | Error::OnnxFormat { .. }
            | Error::NotPiperVoice { .. }
            | Error::ModelFile { .. } => ErrorCode::ModelFormat,
            Error::VoiceNotFound(_) => ErrorCode::VoiceNotFound,
            Error::EmptyText => ErrorCode::EmptyText,
            Error::InvalidParameter { .. } => ErrorCode::InvalidParameter,
            Error::SpeakerOutOfRange { .. } => ErrorCode::SpeakerOutOfRange,
            Error::Phonemizer(_) => ErrorCode::Phonemizer,
            Error::Model(_) => ErrorCode::Model,
            Error::NothingToSpeak => ErrorCode::NothingToSpeak,
            Error::TextTooLong { .. } => ErrorCode::TextTooLong,
            Error::InvalidText(_) => ErrorCode::InvalidText,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::Busy { .. } => ErrorCode::Busy,
            Error::Cancelled => ErrorCode::Cancelled,
            Error::ModelLoad { source, .. } => source.code(),
            Error::CallbackFailed(_) => ErrorCode::CallbackFailed,
            Error::EngineClosed => ErrorCode::EngineClosed,
            Error::Unsupported(_) => ErrorCode::Unsupported,
            Error::ReferenceAudio(_) => ErrorCode::ReferenceAudio,
            Error::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A network that could not be built from weight file `path` (a
    /// missing or mis-shaped tensor, named in the reason) becomes
    /// [`Error::ModelFile`] naming the file too; other errors pass through.
    pub(crate) fn in_weights(self, path: &std::path::Path) -> Self {
        match self {
            Error::Model(m) => Error::ModelFile {
                path: path.to_path_buf(),
                reason: m.to_string(),
            },
            e => e,
        }
    }
}

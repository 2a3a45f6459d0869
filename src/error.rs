//! The one error type of the crate.
//!
//! Every variant names what went wrong precisely enough for a user to act on
//! it; the C ABI and the Python module map these to stable codes/exceptions.

use std::path::PathBuf;

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
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

//! Where the engine finds its files: the models directory and the default
//! voice installed there by the set-up script.

use std::path::{Path, PathBuf};

use crate::models::piper::DEFAULT_VOICE;
use crate::{Error, Result};

/// Env var naming a voice model file (`.onnx`) to use by default.
pub const VOICE_ENV: &str = "ISHOWTTS_VOICE";
/// Env var naming the models directory.
pub const MODELS_DIR_ENV: &str = "ISHOWTTS_MODELS_DIR";

/// Candidate models directories, most specific first: `$ISHOWTTS_MODELS_DIR`,
/// `./models`, a `models/` beside the executable or any of its ancestors
/// (a checkout's `target/release/ishowtts` finds the checkout's
/// `models/`), and `$XDG_DATA_HOME/ishowtts/models`
/// (`~/.local/share/ishowtts/models`).
pub fn models_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os(MODELS_DIR_ENV) {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe() {
        for anc in exe.ancestors().skip(1) {
            dirs.push(anc.join("models"));
        }
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")));
    if let Some(d) = data_home {
        dirs.push(d.join("ishowtts/models"));
    }
    dirs
}

/// The default voice model: `$ISHOWTTS_VOICE`, else
/// `en_US-joe-medium.onnx` in the first models directory that has it.
pub fn default_voice() -> Result<PathBuf> {
    if let Some(v) = std::env::var_os(VOICE_ENV) {
        return Ok(PathBuf::from(v));
    }
    let file = format!("{DEFAULT_VOICE}.onnx");
    let dirs = models_dirs();
    dirs.iter()
        .map(|d| d.join(&file))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            Error::VoiceNotFound(format!(
                "the default voice {file} is not installed (searched: {}); run scripts/setup.sh, \
                 set {VOICE_ENV} to a Piper .onnx file, or pass --voice",
                searched.join(", ")
            ))
        })
}

//! The files of a Qwen3-TTS checkpoint, laid out as the upstream
//! repositories (`Qwen/Qwen3-TTS-12Hz-0.6B-Base`, `…-CustomVoice`, …):
//!
//! ```text
//! config.json                   Qwen3TTSConfig (talker, speaker encoder, text ids)
//! model.safetensors             talker.*, speaker_encoder.*
//! vocab.json, merges.txt        the Qwen2 byte-level BPE
//! tokenizer_config.json         its added tokens (<|im_start|>, <tts_pad>, …)
//! speech_tokenizer/config.json  the 12 Hz tokenizer (decoder_config)
//! speech_tokenizer/model.safetensors   encoder.*, decoder.*
//! ```
//!
//! from a local folder or from an existing Hugging Face cache, offline.

use std::path::{Path, PathBuf};

use crate::models::file_weights::FileWeights;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use crate::{Error, Result};

/// The files a checkpoint must have, relative to its folder.
pub const CHECKPOINT_FILES: [&str; 7] = [
    "config.json",
    "model.safetensors",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "speech_tokenizer/config.json",
    "speech_tokenizer/model.safetensors",
];

/// Where each file of a checkpoint is (all checked to exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFiles {
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
    /// `vocab.json`.
    pub vocab: PathBuf,
    /// `merges.txt`.
    pub merges: PathBuf,
    /// `tokenizer_config.json`.
    pub tokenizer_config: PathBuf,
    /// `speech_tokenizer/config.json`.
    pub speech_config: PathBuf,
    /// `speech_tokenizer/model.safetensors`.
    pub speech_weights: PathBuf,
}

impl CheckpointFiles {
    fn from_paths(paths: Vec<PathBuf>) -> Self {
        let mut it = paths.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Self {
            config: next(),
            weights: next(),
            vocab: next(),
            merges: next(),
            tokenizer_config: next(),
            speech_config: next(),
            speech_weights: next(),
        }
    }

    /// The checkpoint in folder `dir`; the error names every missing file.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::VoiceNotFound(format!(
                "{}: not a folder (a Qwen3-TTS checkpoint is a folder holding {})",
                dir.display(),
                CHECKPOINT_FILES.join(", ")
            )));
        }
        let paths: Vec<PathBuf> = CHECKPOINT_FILES.iter().map(|f| dir.join(f)).collect();
        let missing: Vec<&str> = CHECKPOINT_FILES
            .iter()
            .zip(&paths)
            .filter(|(_, p)| !p.is_file())
            .map(|(f, _)| *f)
            .collect();
        if !missing.is_empty() {
            return Err(Error::VoiceNotFound(format!(
                "{}: not a complete Qwen3-TTS checkpoint, missing {}",
                dir.display(),
                missing.join(", ")
            )));
        }
        Ok(Self::from_paths(paths))
    }

    /// Repository `repo` (`Qwen/Qwen3-TTS-12Hz-0.6B-Base`, say) from the
    /// Hugging Face cache `cache`, without touching the network.
    pub fn from_hf_cache(cache: &hf_hub::Cache, repo: &str) -> Result<Self> {
        let r = cache.model(repo.to_string());
        let mut paths = Vec::new();
        let mut missing = Vec::new();
        for file in CHECKPOINT_FILES {
            match r.get(file) {
                Some(p) => paths.push(p),
                None => missing.push(file),
            }
        }
        if !missing.is_empty() {
            return Err(Error::VoiceNotFound(format!(
                "{repo} is not (wholly) in the Hugging Face cache at {}: missing {} \
                 (fetch it with `huggingface-cli download {repo}`)",
                cache.path().display(),
                missing.join(", ")
            )));
        }
        Ok(Self::from_paths(paths))
    }

    /// A folder path, else a repository id in the default Hugging Face cache
    /// (`$HF_HOME/hub`, else `~/.cache/huggingface/hub`).
    pub fn locate(dir_or_repo: &str) -> Result<Self> {
        let path = Path::new(dir_or_repo);
        if path.exists() || !dir_or_repo.contains('/') || dir_or_repo.matches('/').count() > 1 {
            return Self::in_dir(path);
        }
        Self::from_hf_cache(&hf_hub::Cache::from_env(), dir_or_repo)
    }

    /// The folder of the tokenizer files (`vocab.json` and its siblings).
    pub fn tokenizer_dir(&self) -> &Path {
        self.vocab.parent().unwrap_or(Path::new("."))
    }

    /// A `VarBuilder` over `model.safetensors` (talker, speaker encoder).
    pub fn model_var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        var_builder(&self.weights, dtype, device)
    }

    /// A `VarBuilder` over the speech tokenizer's weights, at its `decoder`
    /// prefix.
    pub fn decoder_var_builder(
        &self,
        dtype: DType,
        device: &Device,
    ) -> Result<VarBuilder<'static>> {
        Ok(var_builder(&self.speech_weights, dtype, device)?.pp("decoder"))
    }
}

/// A missing or mis-shaped tensor fails when the network asks for it, with
/// an error naming it. Read tensor by tensor (no mapping held), so loading
/// peaks at the model's own size.
fn var_builder(path: &Path, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
    Ok(FileWeights::open(path)?.into_var_builder(dtype, device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named() {
        let dir = std::env::temp_dir().join(format!("qwen3-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("speech_tokenizer")).unwrap();
        for f in ["config.json", "vocab.json", "speech_tokenizer/config.json"] {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
        let e = CheckpointFiles::in_dir(&dir).unwrap_err().to_string();
        for f in [
            "model.safetensors",
            "merges.txt",
            "tokenizer_config.json",
            "speech_tokenizer/model.safetensors",
        ] {
            assert!(e.contains(f), "{e}");
        }
        assert!(!e.contains("vocab.json"), "{e}");
        let e = CheckpointFiles::in_dir(&dir.join("nope")).unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();

        let cache = hf_hub::Cache::new(std::env::temp_dir().join("no-such-hf-cache"));
        let e = CheckpointFiles::from_hf_cache(&cache, "Qwen/Qwen3-TTS-12Hz-0.6B-Base")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing config.json"), "{e}");
    }
}

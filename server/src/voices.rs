//! Voices and models: what the service speaks with. `GET /v1/models`,
//! `GET /v1/voices`, `POST /v1/voices` (clone a voice from an uploaded
//! recording; kept in the voices directory so a restart keeps it) and
//! `DELETE /v1/voices/{id}`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Multipart, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::Json;
use ishowtts::engine::{Engine, Reference, VoiceInfo, VoiceSpec};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::{CloneSection, ServeConfig, VoiceConfig};
use crate::error::ApiError;
use crate::AppState;

/// Model names OpenAI clients send: any of them means "the voice decides".
const OPENAI_MODELS: [&str; 4] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "ishowtts"];
/// OpenAI's voice names: the default voice answers to them.
const OPENAI_VOICES: [&str; 11] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

/// What an uploaded voice keeps on disk beside its recording.
#[derive(Debug, Serialize, Deserialize)]
struct StoredVoice {
    name: String,
    model: String,
    ref_text: String,
    audio_file: String,
    language: Option<String>,
}

/// The voices the service knows beyond the engine's list: which came from
/// the config (fixed) and which were uploaded (removable, on disk).
pub struct Catalog {
    engine: Arc<Engine>,
    dir: PathBuf,
    clone: CloneSection,
    uploaded: Mutex<BTreeSet<String>>,
}

/// The model family of a voice (`piper`, `f5`, `qwen3`), from its key.
pub fn family(info: &VoiceInfo) -> &str {
    info.model.split(':').next().unwrap_or("")
}

impl Catalog {
    /// Registers the config's voices and the uploaded ones found in the
    /// voices directory (one that no longer loads is skipped with a
    /// warning, not fatal: the service still starts).
    pub fn new(engine: Arc<Engine>, config: &ServeConfig) -> Result<Self, String> {
        let catalog = Self {
            engine,
            dir: config.voices_dir.clone(),
            clone: config.clone.clone(),
            uploaded: Mutex::new(BTreeSet::new()),
        };
        for v in &config.voices {
            let spec = catalog
                .config_voice(v)
                .map_err(|e| format!("voice {:?}: {e}", v.name))?;
            catalog
                .engine
                .add_voice(&v.name, spec)
                .map_err(|e| format!("voice {:?}: {e}", v.name))?;
        }
        catalog.load_stored();
        Ok(catalog)
    }

    fn config_voice(&self, v: &VoiceConfig) -> ishowtts::Result<VoiceSpec> {
        let reference = match &v.ref_audio {
            Some(path) => Some(Reference {
                audio: std::fs::read(path)
                    .map_err(|e| ishowtts::Error::io(path, e))?
                    .into(),
                text: v.ref_text.clone().unwrap_or_default(),
            }),
            None => None,
        };
        match v.model.as_str() {
            "piper" => {
                let path = match &v.path {
                    Some(p) => PathBuf::from(p),
                    None => ishowtts::paths::default_voice()?,
                };
                let mut spec = VoiceSpec::piper(path)?;
                if let Some(s) = &v.speaker {
                    spec = spec.with_speaker(s.parse().map_err(|_| {
                        ishowtts::Error::InvalidArgument(format!(
                            "a Piper speaker is a number, not {s:?}"
                        ))
                    })?);
                }
                Ok(spec)
            }
            "f5" => {
                let reference = reference.ok_or_else(|| {
                    ishowtts::Error::InvalidArgument("an f5 voice needs ref_audio".into())
                })?;
                VoiceSpec::f5(self.f5_paths(), reference)
            }
            "qwen3" => {
                let dir = v.path.as_deref().ok_or_else(|| {
                    ishowtts::Error::InvalidArgument("a qwen3 voice needs path".into())
                })?;
                VoiceSpec::qwen3(
                    dir,
                    ishowtts::models::qwen3_tts::Qwen3VoiceConfig {
                        speaker: v.speaker.clone(),
                        reference,
                        language: v.language.clone(),
                        instruct: v.instruct.clone(),
                    },
                )
            }
            m => Err(ishowtts::Error::InvalidArgument(format!(
                "model {m:?}: use piper, f5 or qwen3"
            ))),
        }
    }

    fn f5_paths(&self) -> F5Paths {
        F5Paths {
            checkpoint: self.clone.f5_checkpoint.clone(),
            variant: Variant::V1Base,
            config: self.clone.f5_config.clone(),
            vocoder: self.clone.vocoder.clone(),
        }
    }

    fn uploaded_spec(
        &self,
        model: &str,
        reference: Reference,
        language: Option<String>,
    ) -> ishowtts::Result<VoiceSpec> {
        match model {
            "f5" => VoiceSpec::f5(self.f5_paths(), reference),
            "qwen3" => {
                let dir = self.clone.qwen3_checkpoint.as_deref().ok_or_else(|| {
                    ishowtts::Error::Unsupported(
                        "no Qwen3-TTS Base checkpoint configured ([clone] qwen3_checkpoint)".into(),
                    )
                })?;
                VoiceSpec::qwen3(
                    dir,
                    ishowtts::models::qwen3_tts::Qwen3VoiceConfig {
                        speaker: None,
                        reference: Some(reference),
                        language,
                        instruct: None,
                    },
                )
            }
            m => Err(ishowtts::Error::InvalidArgument(format!(
                "model {m:?} does not clone voices: use f5 or qwen3"
            ))),
        }
    }

    /// Registers the voices stored by earlier uploads.
    fn load_stored(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let meta = dir.join("voice.json");
            let Ok(text) = std::fs::read_to_string(&meta) else {
                continue;
            };
            let loaded = serde_json::from_str::<StoredVoice>(&text)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    let audio =
                        std::fs::read(dir.join(&v.audio_file)).map_err(|e| e.to_string())?;
                    let reference = Reference {
                        audio: audio.into(),
                        text: v.ref_text.clone(),
                    };
                    let spec = self
                        .uploaded_spec(&v.model, reference, v.language.clone())
                        .map_err(|e| e.to_string())?;
                    self.engine
                        .add_voice(&v.name, spec)
                        .map_err(|e| e.to_string())?;
                    Ok(v.name)
                });
            match loaded {
                Ok(name) => {
                    self.uploaded
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name);
                }
                Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "stored voice skipped"),
            }
        }
    }

    /// The voice a request speaks with: `voice` (OpenAI's names mean the
    /// default), checked against `model` when that names a family.
    pub fn resolve(&self, model: Option<&str>, voice: Option<&str>) -> Result<String, ApiError> {
        let voices = self.engine.voices();
        let default = voices.iter().find(|v| v.is_default);
        let chosen = match voice {
            None | Some("") | Some("default") => default,
            Some(name) => voices
                .iter()
                .find(|v| v.name == name)
                .or_else(|| OPENAI_VOICES.contains(&name).then_some(default).flatten()),
        };
        let Some(chosen) = chosen else {
            let names: Vec<&str> = voices.iter().map(|v| v.name.as_str()).collect();
            return Err(ApiError::not_found(
                "voice_not_found",
                "voice",
                format!(
                    "no voice {:?}; known voices: {}",
                    voice.unwrap_or("default"),
                    names.join(", ")
                ),
            ));
        };
        match model {
            None | Some("") => {}
            Some(m) if OPENAI_MODELS.contains(&m) => {}
            Some(m) if self.families().contains(m) => {
                if family(chosen) != m {
                    return Err(ApiError::field(
                        "model_voice_mismatch",
                        "model",
                        format!(
                            "voice {:?} is a {} voice, not {m}",
                            chosen.name,
                            family(chosen)
                        ),
                    ));
                }
            }
            Some(m) => {
                return Err(ApiError::not_found(
                    "model_not_found",
                    "model",
                    format!(
                        "no model {m:?}; known models: {}",
                        self.model_ids().join(", ")
                    ),
                ))
            }
        }
        Ok(chosen.name.clone())
    }

    fn families(&self) -> BTreeSet<String> {
        self.engine
            .voices()
            .iter()
            .map(|v| family(v).to_owned())
            .collect()
    }

    /// Every model id requests may name.
    pub fn model_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = OPENAI_MODELS.iter().map(|s| s.to_string()).collect();
        ids.extend(self.families());
        ids
    }

    fn is_uploaded(&self, name: &str) -> bool {
        self.uploaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }
}

fn voice_json(v: &VoiceInfo, uploaded: bool) -> Value {
    json!({
        "id": v.name,
        "name": v.name,
        "object": "voice",
        "model": family(v),
        "language": format!("{:?}", v.language).to_lowercase(),
        "sample_rate": v.sample_rate,
        "speakers": v.num_speakers,
        "cloned": v.cloned,
        "default": v.is_default,
        "removable": uploaded,
    })
}

/// `GET /v1/models`: OpenAI's list shape.
pub async fn list_models(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state
        .catalog
        .model_ids()
        .into_iter()
        .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "ishowtts"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `GET /v1/voices`.
pub async fn list_voices(State(state): State<AppState>) -> Json<Value> {
    let voices: Vec<Value> = state
        .engine
        .voices()
        .iter()
        .map(|v| voice_json(v, state.catalog.is_uploaded(&v.name)))
        .collect();
    Json(json!({"object": "list", "voices": voices}))
}

/// A voice name that is also a safe folder name.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "invalid_field",
            "name",
            "name: 1 to 64 characters of A-Z a-z 0-9 - _ . (not starting with a dot)",
        ))
    }
}

/// `POST /v1/voices` (multipart): `name`, `audio` (a WAV, MP3, FLAC or
/// OGG recording, up to 30 s), `text` (what it says; F5-TTS needs it),
/// optional `model` (`f5`, the default, or `qwen3`) and `language`.
pub async fn create_voice(
    State(state): State<AppState>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (mut name, mut audio, mut text, mut model, mut language) = (None, None, None, None, None);
    let mut audio_ext = String::from("bin");
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::new(
                    e.status(),
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        "upload_too_large"
                    } else {
                        "invalid_multipart"
                    },
                    e.body_text(),
                ))
            }
        };
        let key = field.name().unwrap_or("").to_owned();
        if key == "audio" || key == "file" {
            if let Some(ext) = field
                .file_name()
                .and_then(|f| Path::new(f).extension())
                .and_then(|e| e.to_str())
            {
                audio_ext = ext.to_ascii_lowercase();
            }
        }
        let bytes = field.bytes().await.map_err(|e| {
            ApiError::new(
                e.status(),
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    "upload_too_large"
                } else {
                    "invalid_multipart"
                },
                e.body_text(),
            )
        })?;
        let as_text = || String::from_utf8(bytes.to_vec()).ok();
        match key.as_str() {
            "name" | "id" => name = as_text(),
            "audio" | "file" => audio = Some(bytes),
            "text" | "transcript" | "ref_text" => text = as_text(),
            "model" => model = as_text(),
            "language" => language = as_text(),
            _ => {} // unknown parts are ignored, as unknown JSON fields are
        }
    }
    let name = name.ok_or_else(|| ApiError::field("invalid_field", "name", "name is required"))?;
    check_name(&name)?;
    let audio = audio.ok_or_else(|| {
        ApiError::field("invalid_field", "audio", "audio (a recording) is required")
    })?;
    if !["wav", "mp3", "flac", "ogg", "bin"].contains(&audio_ext.as_str()) {
        audio_ext = "bin".into();
    }
    let model = model.unwrap_or_else(|| "f5".into());
    if state.engine.voices().iter().any(|v| v.name == name) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "voice_exists",
            format!("a voice {name:?} exists; DELETE it first or pick another name"),
        ));
    }
    let reference = Reference {
        audio: audio.to_vec().into(),
        text: text.clone().unwrap_or_default(),
    };
    let catalog = state.catalog.clone();
    let spec = catalog.uploaded_spec(&model, reference, language.clone())?;
    state.engine.add_voice(&name, spec)?;
    // On disk after the engine took it: a recording that is not audio
    // never reaches the voices directory.
    let stored = StoredVoice {
        name: name.clone(),
        model,
        ref_text: text.unwrap_or_default(),
        audio_file: format!("reference.{audio_ext}"),
        language,
    };
    let dir = catalog.dir.join(&name);
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join(&stored.audio_file), &audio))
        .and_then(|_| {
            std::fs::write(
                dir.join("voice.json"),
                serde_json::to_vec_pretty(&stored).expect("plain struct"),
            )
        });
    if let Err(e) = saved {
        let _ = state.engine.remove_voice(&name);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "io",
            format!("cannot store the voice in {}: {e}", dir.display()),
        ));
    }
    catalog
        .uploaded
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.clone());
    let info = state
        .engine
        .voices()
        .into_iter()
        .find(|v| v.name == name)
        .expect("just added");
    Ok((StatusCode::CREATED, Json(voice_json(&info, true))))
}

/// `DELETE /v1/voices/{id}`: an uploaded voice, from the engine and disk.
pub async fn delete_voice(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.engine.voices().iter().any(|v| v.name == name) {
        return Err(state
            .catalog
            .resolve(None, Some(&name))
            .err()
            .unwrap_or_else(|| {
                ApiError::not_found("voice_not_found", "voice", format!("no voice {name:?}"))
            }));
    }
    if !state.catalog.is_uploaded(&name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "voice_not_removable",
            format!("voice {name:?} comes from the server's config; only uploaded voices can be deleted"),
        ));
    }
    state.engine.remove_voice(&name)?;
    state
        .catalog
        .uploaded
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&name);
    let dir = state.catalog.dir.join(&name);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "voice folder not removed");
    }
    Ok(Json(
        json!({"id": name, "object": "voice", "deleted": true}),
    ))
}

//! The service's settings: a TOML file (`--config serve.toml`) with flags
//! on top. Every field has a default, so an empty file (or none) serves the
//! default Piper voice on 127.0.0.1:8080.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ishowtts::engine::{CacheLimits, DeviceSpec, EngineConfig};
use serde::Deserialize;

/// Everything `ishowtts serve` reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on (loopback by default: expose it on purpose).
    pub host: String,
    /// HTTP port; 0 picks a free one (printed at start).
    pub port: u16,
    /// When set, `/v1/*` needs `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Where cloned voices uploaded through `POST /v1/voices` are kept (one
    /// folder each), so a restart keeps them.
    pub voices_dir: PathBuf,
    /// Wyoming protocol listener, `tcp://HOST:PORT` (off when absent).
    pub wyoming: Option<String>,
    /// The engine behind the service.
    pub engine: EngineSection,
    /// Request size and time limits.
    pub limits: Limits,
    /// The live chat reader (`/v1/live`).
    pub live: LiveSection,
    /// The model that clones uploaded voices.
    pub clone: CloneSection,
    /// Voices registered at start, besides the default Piper voice.
    #[serde(rename = "voice")]
    pub voices: Vec<VoiceConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            api_key: None,
            voices_dir: PathBuf::from("voices"),
            wyoming: None,
            engine: EngineSection::default(),
            limits: Limits::default(),
            live: LiveSection::default(),
            clone: CloneSection::default(),
            voices: Vec::new(),
        }
    }
}

/// `[engine]`: the engine's own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    /// `cpu` or `cuda:N` (a CUDA build).
    pub device: String,
    /// The default Piper voice (`.onnx`); absent: the installed one.
    pub default_voice: Option<PathBuf>,
    /// Unload models after this many seconds without work (0: never).
    pub idle_unload_secs: u64,
    /// Output cache size in MiB (0: off).
    pub output_cache_mb: u64,
    /// Output cache entries.
    pub output_cache_entries: usize,
    /// Requests queued or running at once; more get 429.
    pub queue_limit: usize,
    /// Streams one batched model step serves (step-wise models).
    pub max_batch: usize,
    /// Worker threads, each with its own copy of the models it serves
    /// (2 suits Piper on a CPU under concurrent load).
    pub workers: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        let d = EngineConfig::default();
        Self {
            device: "cpu".into(),
            default_voice: None,
            idle_unload_secs: 0,
            output_cache_mb: d.output_cache.max_bytes as u64 >> 20,
            output_cache_entries: d.output_cache.max_entries,
            queue_limit: d.queue_limit,
            max_batch: d.max_batch,
            workers: d.workers,
        }
    }
}

/// `[limits]`: what one request may ask.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest `input` in characters (OpenAI's limit: 4096).
    pub max_input_chars: usize,
    /// Largest JSON body in bytes.
    pub max_body_bytes: usize,
    /// Largest voice upload (multipart body) in bytes.
    pub max_upload_bytes: usize,
    /// Seconds a client has to send its request (headers and body) before
    /// it gets 408: slow clients do not hold a connection forever.
    pub request_read_secs: u64,
    /// Seconds a non-streaming request may take in all.
    pub request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish at shutdown before they
    /// are cancelled.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_chars: 4096,
            max_body_bytes: 2 << 20,
            max_upload_bytes: 32 << 20,
            request_read_secs: 10,
            request_timeout_secs: 300,
            shutdown_grace_secs: 10,
        }
    }
}

/// `[live]`: the WebSocket chat reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSection {
    /// Chat messages waiting to be spoken per connection; when full, the
    /// oldest waiting message is dropped (and counted).
    pub max_pending_messages: usize,
    /// Longest chat message in characters (longer: refused).
    pub max_message_chars: usize,
    /// Seconds a client may leave audio unread before it is disconnected.
    pub send_timeout_secs: u64,
}

impl Default for LiveSection {
    fn default() -> Self {
        Self {
            max_pending_messages: 16,
            max_message_chars: 2000,
            send_timeout_secs: 10,
        }
    }
}

/// `[clone]`: the model behind `POST /v1/voices`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CloneSection {
    /// F5-TTS checkpoint folder; absent: F5TTS_v1_Base in the Hugging Face
    /// cache.
    pub f5_checkpoint: Option<PathBuf>,
    /// F5-TTS network shape (YAML/JSON) for a checkpoint that is not v1.
    pub f5_config: Option<PathBuf>,
    /// Vocos folder; absent: charactr/vocos-mel-24khz in the cache.
    pub vocoder: Option<PathBuf>,
    /// Qwen3-TTS Base checkpoint (folder or cached repo id) for uploads
    /// that ask `model=qwen3`.
    pub qwen3_checkpoint: Option<String>,
}

/// `[[voice]]`: a voice registered at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// The name requests use.
    pub name: String,
    /// `piper`, `f5` or `qwen3`.
    pub model: String,
    /// Piper: the `.onnx`; Qwen3: the checkpoint folder or repo id.
    pub path: Option<String>,
    /// Reference recording (F5, Qwen3 Base).
    pub ref_audio: Option<PathBuf>,
    /// Its transcript (F5).
    pub ref_text: Option<String>,
    /// Piper: the speaker id; Qwen3 CustomVoice: the speaker name.
    pub speaker: Option<String>,
    /// Qwen3: the language.
    pub language: Option<String>,
    /// Qwen3: style instruction or voice description.
    pub instruct: Option<String>,
}

impl ServeConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The engine settings this config asks for.
    pub fn engine_config(&self) -> Result<EngineConfig, String> {
        let device = match self.engine.device.as_str() {
            "cpu" => DeviceSpec::Cpu,
            d => match d.strip_prefix("cuda") {
                Some("") => DeviceSpec::Cuda(0),
                Some(n) => DeviceSpec::Cuda(
                    n.trim_start_matches(':')
                        .parse()
                        .map_err(|_| format!("engine.device: bad device {d:?}"))?,
                ),
                None => return Err(format!("engine.device: {d:?} is not cpu or cuda:N")),
            },
        };
        Ok(EngineConfig {
            device,
            output_cache: CacheLimits {
                max_entries: self.engine.output_cache_entries,
                max_bytes: (self.engine.output_cache_mb as usize) << 20,
            },
            idle_unload: (self.engine.idle_unload_secs > 0)
                .then(|| Duration::from_secs(self.engine.idle_unload_secs)),
            queue_limit: self.engine.queue_limit,
            max_batch: self.engine.max_batch,
            workers: self.engine.workers,
            ..EngineConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let c = ServeConfig::from_toml("").unwrap();
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 8080);
        assert_eq!(c.limits.max_input_chars, 4096);
        let e = c.engine_config().unwrap();
        assert_eq!(e.queue_limit, EngineConfig::default().queue_limit);
    }

    #[test]
    fn sections_and_voices_parse_and_typos_are_refused() {
        let c = ServeConfig::from_toml(
            "port = 9000\n[engine]\nidle_unload_secs = 60\nqueue_limit = 8\ndevice = \"cuda:1\"\n\
             [[voice]]\nname = \"me\"\nmodel = \"f5\"\nref_audio = \"me.wav\"\nref_text = \"Hi.\"\n",
        )
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.voices[0].name, "me");
        let e = c.engine_config().unwrap();
        assert_eq!(e.idle_unload, Some(Duration::from_secs(60)));
        assert_eq!(e.device, DeviceSpec::Cuda(1));
        let err = ServeConfig::from_toml("[engine]\nqueue_limt = 3\n").unwrap_err();
        assert!(err.contains("queue_limt"), "{err}");
        let err = ServeConfig::from_toml("[engine]\ndevice = \"tpu\"\n")
            .unwrap()
            .engine_config()
            .unwrap_err();
        assert!(err.contains("tpu"), "{err}");
    }
}

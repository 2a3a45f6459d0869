//! `Qwen3TTSTalkerConfig` and `Qwen3TTSTalkerCodePredictorConfig`
//! (`core/models/configuration_qwen3_tts.py`): the `talker_config` section of
//! the model's `config.json`, upstream field names and defaults. Fields of
//! `PretrainedConfig` that do not concern the network are ignored.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::{Error, Result};

fn default_silu() -> String {
    "silu".into()
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_max_position_embeddings() -> usize {
    32_768
}
fn default_num_code_groups() -> usize {
    32
}

/// The code predictor's configuration (`code_predictor_config`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Qwen3CodePredictorConfig {
    /// Codes per codebook (2048 in the release).
    #[serde(default = "cp_vocab")]
    pub vocab_size: usize,
    /// Width of the predictor's layers.
    #[serde(default = "cp_hidden")]
    pub hidden_size: usize,
    /// Hidden width of the gated MLP.
    #[serde(default = "cp_intermediate")]
    pub intermediate_size: usize,
    /// Decoder layers.
    #[serde(default = "cp_layers")]
    pub num_hidden_layers: usize,
    /// Query heads.
    #[serde(default = "cp_heads")]
    pub num_attention_heads: usize,
    /// Key/value heads.
    #[serde(default = "cp_kv_heads")]
    pub num_key_value_heads: usize,
    /// Width of a head.
    #[serde(default = "cp_head_dim")]
    pub head_dim: usize,
    /// MLP activation; only `silu` is supported.
    #[serde(default = "default_silu")]
    pub hidden_act: String,
    /// Epsilon of all RMSNorms.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE variant; only absent or `rope_type: default` is supported.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Whether q/k/v/o carry biases; only `false` is supported.
    #[serde(default)]
    pub attention_bias: bool,
    /// Sliding-window attention; only `false` is supported.
    #[serde(default)]
    pub use_sliding_window: bool,
    /// Longest sequence the rotary embedding is meant for (informative).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Codes per frame; the predictor predicts codes `1..num_code_groups`.
    #[serde(default = "default_num_code_groups")]
    pub num_code_groups: usize,
}

fn cp_vocab() -> usize {
    2048
}
fn cp_hidden() -> usize {
    1024
}
fn cp_intermediate() -> usize {
    3072
}
fn cp_layers() -> usize {
    5
}
fn cp_heads() -> usize {
    16
}
fn cp_kv_heads() -> usize {
    8
}
fn cp_head_dim() -> usize {
    128
}

fn t_vocab() -> usize {
    3072
}
fn t_hidden() -> usize {
    1024
}
fn t_intermediate() -> usize {
    2048
}
fn t_layers() -> usize {
    20
}
fn t_heads() -> usize {
    16
}
fn t_kv_heads() -> usize {
    2
}
fn t_text_vocab() -> usize {
    151_936
}
fn t_text_hidden() -> usize {
    2048
}

/// The talker's configuration (`talker_config`), with the code predictor's.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Qwen3TalkerConfig {
    /// Codec vocabulary: codebook codes plus the 1024-id control band.
    #[serde(default = "t_vocab")]
    pub vocab_size: usize,
    /// Width of the talker's layers.
    #[serde(default = "t_hidden")]
    pub hidden_size: usize,
    /// Hidden width of the gated MLP.
    #[serde(default = "t_intermediate")]
    pub intermediate_size: usize,
    /// Decoder layers.
    #[serde(default = "t_layers")]
    pub num_hidden_layers: usize,
    /// Query heads.
    #[serde(default = "t_heads")]
    pub num_attention_heads: usize,
    /// Key/value heads.
    #[serde(default = "t_kv_heads")]
    pub num_key_value_heads: usize,
    /// Width of a head; `hidden_size / num_attention_heads` when absent.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// MLP (and text projection) activation; only `silu` is supported.
    #[serde(default = "default_silu")]
    pub hidden_act: String,
    /// Epsilon of all RMSNorms.
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// RoPE variant: `default`, possibly with an (interleaved)
    /// `mrope_section`, which reduces to plain rope since the talker's three
    /// position rows are always equal.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Whether q/k/v/o carry biases; only `false` is supported.
    #[serde(default)]
    pub attention_bias: bool,
    /// Sliding-window attention; only `false` is supported.
    #[serde(default)]
    pub use_sliding_window: bool,
    /// Longest sequence the rotary embedding is meant for (informative).
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    /// Codes per frame.
    #[serde(default = "default_num_code_groups")]
    pub num_code_groups: usize,
    /// Text vocabulary (`text_embedding` rows).
    #[serde(default = "t_text_vocab")]
    pub text_vocab_size: usize,
    /// Width of `text_embedding` (input of `text_projection`).
    #[serde(default = "t_text_hidden")]
    pub text_hidden_size: usize,
    /// Codec id: end of speech.
    pub codec_eos_token_id: u32,
    /// Codec id: "think" (language given).
    pub codec_think_id: u32,
    /// Codec id: "no think" (language auto).
    pub codec_nothink_id: u32,
    /// Codec id: start of the think span.
    pub codec_think_bos_id: u32,
    /// Codec id: end of the think span.
    pub codec_think_eos_id: u32,
    /// Codec id: padding.
    pub codec_pad_id: u32,
    /// Codec id: start of speech.
    pub codec_bos_id: u32,
    /// Codec ids of the languages.
    #[serde(default)]
    pub codec_language_id: HashMap<String, u32>,
    /// Codec ids of the built-in speakers.
    #[serde(default)]
    pub spk_id: HashMap<String, u32>,
    /// Per built-in speaker: `false` or the dialect it speaks.
    #[serde(default)]
    pub spk_is_dialect: HashMap<String, serde_json::Value>,
    /// The code predictor.
    pub code_predictor_config: Qwen3CodePredictorConfig,
}

/// Parses a config that is either the section `key` of a whole
/// `config.json` or the section alone (the three Qwen3-TTS configs ship
/// both ways). Errors inside the section are prefixed with its key.
pub(crate) fn parse_section<T: DeserializeOwned>(
    text: &str,
    key: &str,
) -> std::result::Result<T, String> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match value.get_mut(key) {
        Some(section) => serde_json::from_value(section.take()).map_err(|e| format!("{key}: {e}")),
        None => serde_json::from_value(value).map_err(|e| e.to_string()),
    }
}

/// Reads a config file with `parse`, its error reported with the path.
pub(crate) fn read_config<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> std::result::Result<T, String>,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|reason| Error::VoiceConfig {
        path: path.to_path_buf(),
        reason,
    })
}

fn check_common(
    what: &str,
    hidden_act: &str,
    attention_bias: bool,
    use_sliding_window: bool,
    heads: usize,
    kv_heads: usize,
) -> std::result::Result<(), String> {
    if hidden_act != "silu" {
        return Err(format!(
            "{what}: hidden_act {hidden_act:?} is not supported (only \"silu\")"
        ));
    }
    if attention_bias {
        return Err(format!("{what}: attention_bias is not supported"));
    }
    if use_sliding_window {
        return Err(format!("{what}: sliding-window attention is not supported"));
    }
    if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
        return Err(format!(
            "{what}: {heads} attention heads are not a multiple of {kv_heads} key/value heads"
        ));
    }
    Ok(())
}

fn check_rope(what: &str, rs: &Option<serde_json::Value>) -> std::result::Result<(), String> {
    if let Some(rs) = rs {
        let kind = rs
            .get("rope_type")
            .or_else(|| rs.get("type"))
            .and_then(|v| v.as_str());
        if !rs.is_null() && kind != Some("default") {
            return Err(format!(
                "{what}: rope_scaling {rs} is not supported (only the default rope)"
            ));
        }
    }
    Ok(())
}

/// The keys of a name -> id table, sorted (for messages and listings).
fn sorted_names(table: &HashMap<String, u32>) -> Vec<&str> {
    let mut names: Vec<&str> = table.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

impl Qwen3TalkerConfig {
    /// The built-in speakers' names, sorted.
    pub fn speaker_names(&self) -> Vec<&str> {
        sorted_names(&self.spk_id)
    }

    /// The languages' names (without `auto`), sorted.
    pub fn language_names(&self) -> Vec<&str> {
        sorted_names(&self.codec_language_id)
    }

    /// Width of a talker attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Parses either the talker config itself or the model's whole
    /// `config.json` (its `talker_config` section), and checks that this port
    /// supports it.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let cfg: Self = parse_section(text, "talker_config")?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads and checks a config file (see [`Self::from_json`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_config(path.as_ref(), Self::from_json)
    }

    /// Rejects what the port does not implement, naming it.
    fn check(&self) -> std::result::Result<(), String> {
        check_common(
            "talker",
            &self.hidden_act,
            self.attention_bias,
            self.use_sliding_window,
            self.num_attention_heads,
            self.num_key_value_heads,
        )?;
        check_rope("talker", &self.rope_scaling)?;
        if let Some(section) = self
            .rope_scaling
            .as_ref()
            .and_then(|rs| rs.get("mrope_section"))
        {
            // Each position row owns `mrope_section[i]` frequencies; with all
            // rows equal the split is irrelevant, but it must cover them all.
            let total: u64 = section
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_u64()).sum())
                .unwrap_or(0);
            if total as usize != self.head_dim() / 2 {
                return Err(format!(
                    "talker: mrope_section {section} does not sum to head_dim / 2 = {}",
                    self.head_dim() / 2
                ));
            }
        }
        let cp = &self.code_predictor_config;
        check_common(
            "code predictor",
            &cp.hidden_act,
            cp.attention_bias,
            cp.use_sliding_window,
            cp.num_attention_heads,
            cp.num_key_value_heads,
        )?;
        check_rope("code predictor", &cp.rope_scaling)?;
        if cp.num_code_groups != self.num_code_groups || cp.num_code_groups < 2 {
            return Err(format!(
                "code predictor num_code_groups {} must equal the talker's {} (and be >= 2)",
                cp.num_code_groups, self.num_code_groups
            ));
        }
        Ok(())
    }
}

fn se_mel_dim() -> usize {
    128
}
fn se_enc_dim() -> usize {
    1024
}
fn se_channels() -> Vec<usize> {
    vec![512, 512, 512, 512, 1536]
}
fn se_kernel_sizes() -> Vec<usize> {
    vec![5, 3, 3, 3, 1]
}
fn se_dilations() -> Vec<usize> {
    vec![1, 2, 3, 4, 1]
}
fn se_128() -> usize {
    128
}
fn se_res2net_scale() -> usize {
    8
}
fn se_sample_rate() -> u32 {
    24_000
}

/// The speaker encoder's configuration (`Qwen3TTSSpeakerEncoderConfig`, the
/// `speaker_encoder_config` section of a Base checkpoint's `config.json`),
/// upstream names and defaults.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SpeakerEncoderConfig {
    /// Mel bands of the input (`mel_dim`).
    #[serde(default = "se_mel_dim")]
    pub mel_dim: usize,
    /// Width of the speaker embedding (`enc_dim`, the talker's hidden size).
    #[serde(default = "se_enc_dim")]
    pub enc_dim: usize,
    /// Output channels of the initial TDNN, each SE-Res2Net block and the
    /// feature aggregation (last).
    #[serde(default = "se_channels")]
    pub enc_channels: Vec<usize>,
    /// Kernel sizes, one per entry of `enc_channels`.
    #[serde(default = "se_kernel_sizes")]
    pub enc_kernel_sizes: Vec<usize>,
    /// Dilations, one per entry of `enc_channels`.
    #[serde(default = "se_dilations")]
    pub enc_dilations: Vec<usize>,
    /// Hidden channels of the attentive statistics pooling.
    #[serde(default = "se_128")]
    pub enc_attention_channels: usize,
    /// Res2Net scale (channel groups) of each SE-Res2Net block.
    #[serde(default = "se_res2net_scale")]
    pub enc_res2net_scale: usize,
    /// Squeeze width of the squeeze-excitation blocks.
    #[serde(default = "se_128")]
    pub enc_se_channels: usize,
    /// Sample rate of the audio the mel is computed from, Hz.
    #[serde(default = "se_sample_rate")]
    pub sample_rate: u32,
}

/// The parts of the model's `config.json` the speaker encoder reads.
impl SpeakerEncoderConfig {
    /// Parses either a whole model `config.json` (taking its
    /// `speaker_encoder_config`) or the section alone, and checks it.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let cfg: Self = parse_section(text, "speaker_encoder_config")?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads and checks a config file (see [`Self::from_json`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_config(path.as_ref(), Self::from_json)
    }

    /// Rejects shapes the network cannot be built with, naming them.
    fn check(&self) -> std::result::Result<(), String> {
        let n = self.enc_channels.len();
        if n < 3 || self.enc_kernel_sizes.len() != n || self.enc_dilations.len() != n {
            return Err(format!(
                "speaker encoder: enc_channels ({n}), enc_kernel_sizes ({}) and \
                 enc_dilations ({}) must have the same length, at least 3",
                self.enc_kernel_sizes.len(),
                self.enc_dilations.len()
            ));
        }
        let scale = self.enc_res2net_scale;
        if scale < 2 || self.enc_channels[..n - 1].iter().any(|c| c % scale != 0) {
            return Err(format!(
                "speaker encoder: enc_res2net_scale {scale} must be >= 2 and divide \
                 enc_channels {:?}",
                &self.enc_channels[..n - 1]
            ));
        }
        let mfa_in: usize = self.enc_channels[1..n - 1].iter().sum();
        if mfa_in != self.enc_channels[n - 1] {
            return Err(format!(
                "speaker encoder: the last enc_channels entry {} must equal the sum of \
                 the SE-Res2Net widths {mfa_in}",
                self.enc_channels[n - 1]
            ));
        }
        if self.enc_kernel_sizes.contains(&0) || self.enc_dilations.contains(&0) {
            return Err("speaker encoder: kernel sizes and dilations must be positive".into());
        }
        Ok(())
    }
}

fn tts_im_start() -> u32 {
    151_644
}
fn tts_im_end() -> u32 {
    151_645
}
fn tts_pad() -> u32 {
    151_671
}
fn tts_bos() -> u32 {
    151_672
}
fn tts_eos() -> u32 {
    151_673
}

/// The model's whole `config.json` (`Qwen3TTSConfig`): the talker (with its
/// code predictor), the speaker encoder of Base checkpoints, and the text
/// ids that frame the prompt.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Qwen3TtsConfig {
    /// The talker and its code predictor.
    pub talker_config: Qwen3TalkerConfig,
    /// The speaker encoder (used by `base` checkpoints, which clone voices).
    #[serde(default)]
    pub speaker_encoder_config: Option<SpeakerEncoderConfig>,
    /// `base` (clones a voice from a reference clip), `custom_voice` (named
    /// speakers) or `voice_design` (a voice described by an instruction).
    #[serde(default)]
    pub tts_model_type: Option<String>,
    /// Text id of `<|im_start|>`.
    #[serde(default = "tts_im_start")]
    pub im_start_token_id: u32,
    /// Text id of `<|im_end|>`.
    #[serde(default = "tts_im_end")]
    pub im_end_token_id: u32,
    /// Text id laid under codec positions that carry no text.
    #[serde(default = "tts_pad")]
    pub tts_pad_token_id: u32,
    /// Text id that opens the text track.
    #[serde(default = "tts_bos")]
    pub tts_bos_token_id: u32,
    /// Text id that ends the text track.
    #[serde(default = "tts_eos")]
    pub tts_eos_token_id: u32,
}

impl Qwen3TtsConfig {
    /// Parses and checks a whole model `config.json`.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let cfg: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        cfg.talker_config
            .check()
            .map_err(|e| format!("talker_config: {e}"))?;
        if let Some(se) = &cfg.speaker_encoder_config {
            se.check()
                .map_err(|e| format!("speaker_encoder_config: {e}"))?;
        }
        let text_vocab = cfg.talker_config.text_vocab_size;
        for (name, id) in [
            ("im_start_token_id", cfg.im_start_token_id),
            ("im_end_token_id", cfg.im_end_token_id),
            ("tts_pad_token_id", cfg.tts_pad_token_id),
            ("tts_bos_token_id", cfg.tts_bos_token_id),
            ("tts_eos_token_id", cfg.tts_eos_token_id),
        ] {
            if id as usize >= text_vocab {
                return Err(format!(
                    "{name} {id} is outside the text vocabulary of {text_vocab}"
                ));
            }
        }
        Ok(cfg)
    }

    /// Reads and checks a model `config.json` (see [`Self::from_json`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        read_config(path.as_ref(), Self::from_json)
    }

    /// Whether the checkpoint clones voices from a reference clip (it has a
    /// speaker encoder).
    pub fn is_base(&self) -> bool {
        self.tts_model_type.as_deref() == Some("base")
    }

    /// The codec id of built-in speaker `name` (case-insensitive); an
    /// unknown one is an error listing the checkpoint's speakers.
    pub fn speaker_id(&self, name: &str) -> Result<u32> {
        let tc = &self.talker_config;
        tc.spk_id
            .get(&name.trim().to_lowercase())
            .copied()
            .ok_or_else(|| {
                let known = tc.speaker_names();
                Error::InvalidArgument(if known.is_empty() {
                    let kind = if self.is_base() {
                        "a Base checkpoint clones a reference clip"
                    } else {
                        "a VoiceDesign checkpoint speaks as its instruction describes"
                    };
                    format!("speaker {name:?}: this checkpoint has no built-in speakers ({kind})")
                } else {
                    format!(
                        "speaker {name:?} is not in this checkpoint (it has: {})",
                        known.join(", ")
                    )
                })
            })
    }
}

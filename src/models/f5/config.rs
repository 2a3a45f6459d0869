//! The model's shape: the `model.arch` and `model.mel_spec` sections of the
//! upstream training YAML (`src/f5_tts/configs/F5TTS_v1_Base.yaml`), the
//! presets of the released checkpoints, and validation.
//!
//! Upstream builds `DiT(**model.arch, text_num_embeds=len(vocab),
//! mel_dim=n_mel_channels)`: the vocabulary size is not in the YAML, the
//! loader supplies it from `vocab.txt`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Per-head normalization of queries and keys (`qk_norm` upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkNorm {
    /// RMSNorm over the head dimension, eps 1e-6, with a learned weight.
    RmsNorm,
}

/// The diffusion transformer's hyper-parameters: upstream `DiT.__init__`'s
/// keyword arguments. Training-only options (`dropout`, `attn_backend`,
/// `checkpoint_activations`, …) are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDitConfig")]
pub struct DitConfig {
    /// Width of the transformer (1024 for the Base models).
    pub dim: usize,
    /// Number of DiT blocks (22).
    pub depth: usize,
    /// Attention heads (16).
    pub heads: usize,
    /// Width of one head (64); `heads * dim_head` need not equal `dim`.
    pub dim_head: usize,
    /// Feed-forward expansion: the hidden width is `int(dim * ff_mult)`.
    pub ff_mult: f64,
    /// Mel channels in and out (100).
    pub mel_dim: usize,
    /// Vocabulary size (`len(vocab.txt)`); the embedding table has one more
    /// row, index 0 being the filler token.
    pub text_num_embeds: usize,
    /// Width of the text embedding (512; upstream defaults it to `mel_dim`).
    pub text_dim: usize,
    /// Zero the filler positions around each ConvNeXt block (v1: true, Base:
    /// false).
    pub text_mask_padding: bool,
    /// Query/key normalization (none in the released models).
    pub qk_norm: Option<QkNorm>,
    /// ConvNeXt-V2 blocks refining the text embedding (4).
    pub conv_layers: usize,
    /// Rotary embedding on the first `n` heads only (Base: 1); `None` for all
    /// heads (v1).
    pub pe_attn_head: Option<usize>,
    /// A `Linear(2 * dim, dim)` joining the blocks' output with their input
    /// (off in the released models).
    pub long_skip_connection: bool,
}

/// What serde reads, before defaults that depend on other fields.
#[derive(Deserialize)]
struct RawDitConfig {
    dim: usize,
    #[serde(default = "default_depth")]
    depth: usize,
    #[serde(default = "default_heads")]
    heads: usize,
    #[serde(default = "default_dim_head")]
    dim_head: usize,
    #[serde(default = "default_ff_mult")]
    ff_mult: f64,
    #[serde(default = "default_mel_dim")]
    mel_dim: usize,
    /// Upstream's default (256); the loaders overwrite it with the vocab size.
    #[serde(default = "default_text_num_embeds")]
    text_num_embeds: usize,
    #[serde(default)]
    text_dim: Option<usize>,
    #[serde(default = "default_true")]
    text_mask_padding: bool,
    #[serde(default)]
    text_embedding_average_upsampling: bool,
    #[serde(default)]
    qk_norm: Option<QkNorm>,
    #[serde(default)]
    conv_layers: usize,
    #[serde(default)]
    pe_attn_head: Option<usize>,
    #[serde(default)]
    long_skip_connection: bool,
}

fn default_depth() -> usize {
    8
}
fn default_heads() -> usize {
    8
}
fn default_dim_head() -> usize {
    64
}
fn default_ff_mult() -> f64 {
    4.0
}
fn default_mel_dim() -> usize {
    100
}
fn default_text_num_embeds() -> usize {
    256
}
fn default_true() -> bool {
    true
}

impl TryFrom<RawDitConfig> for DitConfig {
    type Error = String;

    fn try_from(r: RawDitConfig) -> std::result::Result<Self, String> {
        if r.text_embedding_average_upsampling {
            // zipvoice-style upsampling is not used by any released F5 model
            return Err("text_embedding_average_upsampling is not supported".into());
        }
        Ok(Self {
            dim: r.dim,
            depth: r.depth,
            heads: r.heads,
            dim_head: r.dim_head,
            ff_mult: r.ff_mult,
            mel_dim: r.mel_dim,
            text_num_embeds: r.text_num_embeds,
            text_dim: r.text_dim.unwrap_or(r.mel_dim),
            text_mask_padding: r.text_mask_padding,
            qk_norm: r.qk_norm,
            conv_layers: r.conv_layers,
            pe_attn_head: r.pe_attn_head,
            long_skip_connection: r.long_skip_connection,
        })
    }
}

fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value: value.to_string(),
        reason,
    }
}

impl DitConfig {
    /// F5-TTS v1 Base (`F5TTS_v1_Base.yaml`): 22 blocks of width 1024,
    /// masked text padding, rotary on every head.
    pub fn v1_base(text_num_embeds: usize) -> Self {
        Self {
            dim: 1024,
            depth: 22,
            heads: 16,
            dim_head: 64,
            ff_mult: 2.0,
            mel_dim: 100,
            text_num_embeds,
            text_dim: 512,
            text_mask_padding: true,
            qk_norm: None,
            conv_layers: 4,
            pe_attn_head: None,
            long_skip_connection: false,
        }
    }

    /// The original F5-TTS Base (`F5TTS_Base.yaml`): as v1 but without text
    /// padding masks and with rotary on the first head only.
    pub fn base(text_num_embeds: usize) -> Self {
        Self {
            text_mask_padding: false,
            pe_attn_head: Some(1),
            ..Self::v1_base(text_num_embeds)
        }
    }

    /// Width of the attention projections (`heads * dim_head`).
    pub fn inner_dim(&self) -> usize {
        self.heads * self.dim_head
    }

    /// Hidden width of the feed-forward (`int(dim * ff_mult)` upstream).
    pub fn ff_inner_dim(&self) -> usize {
        (self.dim as f64 * self.ff_mult) as usize
    }

    /// Checks the shape is one the network can be built with.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("dim", self.dim),
            ("depth", self.depth),
            ("heads", self.heads),
            ("dim_head", self.dim_head),
            ("mel_dim", self.mel_dim),
            ("text_num_embeds", self.text_num_embeds),
            ("text_dim", self.text_dim),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(invalid(name, v, "must be at least 1"));
            }
        }
        if !self.dim.is_multiple_of(16) {
            // the convolutional position embedding has 16 groups
            return Err(invalid("dim", self.dim, "must be a multiple of 16"));
        }
        if !self.dim_head.is_multiple_of(2) {
            // rotary embeddings turn pairs of channels
            return Err(invalid("dim_head", self.dim_head, "must be even"));
        }
        if self.conv_layers > 0 && !self.text_dim.is_multiple_of(2) {
            // the text positions are a cos half and a sin half
            return Err(invalid("text_dim", self.text_dim, "must be even"));
        }
        if !self.ff_mult.is_finite() || self.ff_mult <= 0.0 || self.ff_inner_dim() == 0 {
            return Err(invalid(
                "ff_mult",
                self.ff_mult,
                "must be finite and positive, with int(dim * ff_mult) >= 1",
            ));
        }
        if let Some(p) = self.pe_attn_head {
            if p == 0 || p > self.heads {
                return Err(invalid("pe_attn_head", p, "must be between 1 and heads"));
            }
        }
        Ok(())
    }
}

/// Which mel front end (and vocoder) the model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelSpecType {
    /// torchaudio-style mel for the Vocos vocoder (all released models).
    Vocos,
    /// BigVGAN's mel.
    Bigvgan,
}

/// The `model.mel_spec` section: the mel spectrogram the model reads and
/// writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    /// Sample rate of the audio (24000).
    #[serde(default = "default_sample_rate")]
    pub target_sample_rate: u32,
    /// Mel channels (100).
    #[serde(default = "default_mel_dim")]
    pub n_mel_channels: usize,
    /// Hop between frames in samples (256).
    #[serde(default = "default_hop")]
    pub hop_length: usize,
    /// Analysis window in samples (1024).
    #[serde(default = "default_win")]
    pub win_length: usize,
    /// FFT size (1024).
    #[serde(default = "default_win")]
    pub n_fft: usize,
    /// Mel flavour (`vocos`).
    #[serde(default = "default_mel_spec_type")]
    pub mel_spec_type: MelSpecType,
}

fn default_sample_rate() -> u32 {
    24_000
}
fn default_hop() -> usize {
    256
}
fn default_win() -> usize {
    1024
}
fn default_mel_spec_type() -> MelSpecType {
    MelSpecType::Vocos
}

impl Default for MelConfig {
    /// The settings of every released F5-TTS model.
    fn default() -> Self {
        Self {
            target_sample_rate: default_sample_rate(),
            n_mel_channels: default_mel_dim(),
            hop_length: default_hop(),
            win_length: default_win(),
            n_fft: default_win(),
            mel_spec_type: default_mel_spec_type(),
        }
    }
}

impl MelConfig {
    /// Checks the settings are usable.
    pub fn validate(&self) -> Result<()> {
        if self.target_sample_rate == 0 {
            return Err(invalid("target_sample_rate", 0, "must be positive"));
        }
        for (name, v) in [
            ("n_mel_channels", self.n_mel_channels),
            ("hop_length", self.hop_length),
            ("win_length", self.win_length),
            ("n_fft", self.n_fft),
        ] {
            if v == 0 {
                return Err(invalid(name, v, "must be at least 1"));
            }
        }
        if self.win_length > self.n_fft {
            return Err(invalid(
                "win_length",
                self.win_length,
                "must not exceed n_fft",
            ));
        }
        Ok(())
    }
}

/// A released F5-TTS model: picks the network preset and the files in the
/// `SWivid/F5-TTS` Hugging Face repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `F5TTS_v1_Base` (the current default).
    V1Base,
    /// `F5TTS_Base` (the first release).
    Base,
}

impl Variant {
    /// The network preset for a vocabulary of `text_num_embeds` tokens.
    pub fn dit_config(self, text_num_embeds: usize) -> DitConfig {
        match self {
            Variant::V1Base => DitConfig::v1_base(text_num_embeds),
            Variant::Base => DitConfig::base(text_num_embeds),
        }
    }

    /// Upstream's model name, also its folder in the Hugging Face repository.
    pub fn name(self) -> &'static str {
        match self {
            Variant::V1Base => "F5TTS_v1_Base",
            Variant::Base => "F5TTS_Base",
        }
    }

    /// File name of the released EMA checkpoint.
    pub fn checkpoint_file(self) -> &'static str {
        match self {
            Variant::V1Base => "model_1250000.safetensors",
            Variant::Base => "model_1200000.safetensors",
        }
    }
}

/// The whole model's shape: network and mel settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct F5Config {
    /// The diffusion transformer.
    pub dit: DitConfig,
    /// The mel spectrogram.
    pub mel: MelConfig,
}

/// The parts of an upstream YAML this crate reads.
#[derive(Deserialize)]
struct YamlFile {
    model: YamlModel,
}

#[derive(Deserialize)]
struct YamlModel {
    #[serde(default)]
    backbone: Option<String>,
    arch: DitConfig,
    #[serde(default)]
    mel_spec: MelConfig,
}

impl F5Config {
    /// The preset of a released model with the default mel settings.
    pub fn preset(variant: Variant, text_num_embeds: usize) -> Self {
        Self {
            dit: variant.dit_config(text_num_embeds),
            mel: MelConfig::default(),
        }
    }

    /// Reads an upstream training YAML (`model.arch`, `model.mel_spec`);
    /// `text_num_embeds` is the vocabulary size, which the YAML does not hold.
    pub fn from_yaml(text: &str, text_num_embeds: usize) -> Result<Self> {
        let file: YamlFile = serde_yaml::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("F5-TTS YAML config: {e}")))?;
        if let Some(b) = file.model.backbone.as_deref() {
            if b != "DiT" {
                return Err(Error::Unsupported(format!(
                    "F5-TTS backbone {b:?}: only DiT is implemented"
                )));
            }
        }
        let mut cfg = Self {
            dit: file.model.arch,
            mel: file.model.mel_spec,
        };
        cfg.dit.text_num_embeds = text_num_embeds;
        cfg.dit.mel_dim = cfg.mel.n_mel_channels;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads `{"dit": {DiT keyword arguments}, "mel": {mel_spec}}` (the
    /// parity fixtures' `config.json`; other keys are ignored). Here the
    /// DiT arguments carry `text_num_embeds` and `mel_dim` themselves.
    pub fn from_json(text: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("F5-TTS JSON config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`F5Config::from_yaml`] or [`F5Config::from_json`] on a file, by its
    /// extension (`.yaml`/`.yml` or anything else as JSON).
    pub fn from_file(path: &Path, text_num_embeds: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        let parsed = if is_yaml {
            Self::from_yaml(&text, text_num_embeds)
        } else {
            Self::from_json(&text)
        };
        parsed.map_err(|e| match e {
            Error::InvalidArgument(reason) => Error::VoiceConfig {
                path: path.to_path_buf(),
                reason,
            },
            e => e,
        })
    }

    /// Checks both parts and that they agree.
    pub fn validate(&self) -> Result<()> {
        self.dit.validate()?;
        self.mel.validate()?;
        if self.dit.mel_dim != self.mel.n_mel_channels {
            return Err(invalid(
                "mel_dim",
                self.dit.mel_dim,
                "must equal mel_spec.n_mel_channels",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_YAML: &str = "
model:
  name: F5TTS_v1_Base
  tokenizer: pinyin
  backbone: DiT
  arch:
    dim: 1024
    depth: 22
    heads: 16
    ff_mult: 2
    text_dim: 512
    text_mask_padding: True
    qk_norm: null  # null | rms_norm
    conv_layers: 4
    pe_attn_head: null
    attn_backend: torch
    attn_mask_enabled: False
    checkpoint_activations: False
  mel_spec:
    target_sample_rate: 24000
    n_mel_channels: 100
    hop_length: 256
    win_length: 1024
    n_fft: 1024
    mel_spec_type: vocos
";

    #[test]
    fn upstream_yaml_matches_presets() {
        let cfg = F5Config::from_yaml(V1_YAML, 2545).unwrap();
        assert_eq!(cfg, F5Config::preset(Variant::V1Base, 2545));
        let base = V1_YAML
            .replace("text_mask_padding: True", "text_mask_padding: False")
            .replace("pe_attn_head: null", "pe_attn_head: 1");
        let cfg = F5Config::from_yaml(&base, 2545).unwrap();
        assert_eq!(cfg, F5Config::preset(Variant::Base, 2545));
        assert_eq!(cfg.dit.inner_dim(), 1024);
        assert_eq!(cfg.dit.ff_inner_dim(), 2048);
    }

    #[test]
    fn fixture_json_with_python_defaults() {
        let cfg = F5Config::from_json(
            r#"{"dit": {"dim": 64, "depth": 2, "heads": 2, "ff_mult": 2, "text_dim": 32,
                "conv_layers": 1, "text_num_embeds": 40, "mel_dim": 100,
                "text_mask_padding": true, "dropout": 0.1},
               "mel": {"n_fft": 1024, "hop_length": 256, "win_length": 1024,
                "n_mel_channels": 100, "target_sample_rate": 24000, "mel_spec_type": "vocos"},
               "seed": 0}"#,
        )
        .unwrap();
        assert_eq!(cfg.dit.dim_head, 64);
        assert_eq!(cfg.dit.inner_dim(), 128);
        assert_eq!(cfg.dit.pe_attn_head, None);
        assert_eq!(cfg.dit.qk_norm, None);
        assert_eq!(cfg.mel, MelConfig::default());
        // text_dim defaults to mel_dim, as upstream
        let cfg = F5Config::from_json(r#"{"dit": {"dim": 32}, "mel": {}}"#).unwrap();
        assert_eq!(cfg.dit.text_dim, 100);
    }

    #[test]
    fn nonsense_is_rejected() {
        let bad = |f: fn(&mut DitConfig)| {
            let mut c = DitConfig::v1_base(10);
            f(&mut c);
            c.validate().unwrap_err()
        };
        let name = |e: Error| match e {
            Error::InvalidParameter { name, .. } => name,
            e => panic!("unexpected error {e}"),
        };
        assert_eq!(name(bad(|c| c.dim = 1000)), "dim");
        assert_eq!(name(bad(|c| c.heads = 0)), "heads");
        assert_eq!(name(bad(|c| c.dim_head = 63)), "dim_head");
        assert_eq!(name(bad(|c| c.text_num_embeds = 0)), "text_num_embeds");
        assert_eq!(name(bad(|c| c.ff_mult = f64::NAN)), "ff_mult");
        assert_eq!(name(bad(|c| c.pe_attn_head = Some(17))), "pe_attn_head");
        assert_eq!(name(bad(|c| c.text_dim = 511)), "text_dim");
        let mut cfg = F5Config::preset(Variant::V1Base, 10);
        cfg.mel.n_mel_channels = 80;
        assert_eq!(name(cfg.validate().unwrap_err()), "mel_dim");
        assert!(
            F5Config::from_json(r#"{"dit": {"dim": 64, "qk_norm": "layer_norm"}, "mel": {}}"#)
                .is_err()
        );
        assert!(F5Config::from_json(
            r#"{"dit": {"dim": 64, "text_embedding_average_upsampling": true}, "mel": {}}"#
        )
        .is_err());
        assert!(F5Config::from_yaml(&V1_YAML.replace("DiT", "MMDiT"), 10).is_err());
    }
}

//! The upstream `config.yaml` (`Vocos.from_hparams`): three components, each
//! a `class_path` and the `init_args` its constructor takes.
//!
//! ```yaml
//! feature_extractor:
//!   class_path: vocos.feature_extractors.MelSpectrogramFeatures
//!   init_args: {sample_rate: 24000, n_fft: 1024, hop_length: 256, n_mels: 100, padding: center}
//! backbone:
//!   class_path: vocos.models.VocosBackbone
//!   init_args: {input_channels: 100, dim: 512, intermediate_dim: 1536, num_layers: 8}
//! head:
//!   class_path: vocos.heads.ISTFTHead
//!   init_args: {dim: 512, n_fft: 1024, hop_length: 256, padding: center}
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::audio::stft::IstftPadding;
use crate::{Error, Result};

/// The only backbone supported: ConvNeXt blocks (`vocos/models.py`).
pub const VOCOS_BACKBONE: &str = "vocos.models.VocosBackbone";
/// The only head supported: magnitude and phase through an inverse STFT
/// (`vocos/heads.py`).
pub const ISTFT_HEAD: &str = "vocos.heads.ISTFTHead";
/// The mel feature extractor (`vocos/feature_extractors.py`).
pub const MEL_FEATURES: &str = "vocos.feature_extractors.MelSpectrogramFeatures";

/// One component: the Python class and its constructor arguments.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Component<A> {
    /// Fully qualified Python class, e.g. `vocos.models.VocosBackbone`.
    pub class_path: String,
    /// Keyword arguments of its constructor.
    pub init_args: A,
}

/// `padding` of the feature extractor and the head.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Frames centred on multiples of the hop (`torch.stft/istft(center=True)`).
    Center,
    /// Convolution-like "same" padding.
    Same,
}

impl From<Padding> for IstftPadding {
    fn from(p: Padding) -> Self {
        match p {
            Padding::Center => IstftPadding::Center,
            Padding::Same => IstftPadding::Same,
        }
    }
}

fn default_sample_rate() -> u32 {
    24_000
}
fn default_n_fft() -> usize {
    1024
}
fn default_hop_length() -> usize {
    256
}
fn default_n_mels() -> usize {
    100
}
fn default_center() -> Padding {
    Padding::Center
}
fn default_same() -> Padding {
    Padding::Same
}

/// `MelSpectrogramFeatures` arguments (informative: decoding takes mels
/// computed elsewhere, e.g. by [`crate::models::f5::mel::MelSpectrogram`]).
/// Every field has its upstream default, and other extractors' arguments
/// are ignored, so any feature extractor section parses.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FeatureExtractorArgs {
    /// Sample rate of the audio, Hz.
    #[serde(default = "default_sample_rate")]
    pub sample_rate: u32,
    /// FFT size.
    #[serde(default = "default_n_fft")]
    pub n_fft: usize,
    /// Samples between frames.
    #[serde(default = "default_hop_length")]
    pub hop_length: usize,
    /// Mel bands.
    #[serde(default = "default_n_mels")]
    pub n_mels: usize,
    /// Padding of the STFT.
    #[serde(default = "default_center")]
    pub padding: Padding,
}

/// `VocosBackbone` arguments.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BackboneArgs {
    /// Input feature channels (mel bands).
    pub input_channels: usize,
    /// Model width.
    pub dim: usize,
    /// Hidden width of each ConvNeXt block's MLP.
    pub intermediate_dim: usize,
    /// Number of ConvNeXt blocks.
    pub num_layers: usize,
    /// Initial layer-scale value; only its sign matters here (upstream
    /// creates `gamma` when the effective value is positive, and `None`
    /// or 0 mean `1 / num_layers`).
    #[serde(default)]
    pub layer_scale_init_value: Option<f64>,
    /// AdaLayerNorm conditioning (the EnCodec variant); unsupported.
    #[serde(default)]
    pub adanorm_num_embeddings: Option<usize>,
}

impl BackboneArgs {
    /// Whether the ConvNeXt blocks carry a layer-scale `gamma`.
    pub fn has_layer_scale(&self) -> bool {
        // `layer_scale_init_value or 1 / num_layers` in Python.
        match self.layer_scale_init_value {
            Some(v) if v != 0.0 => v > 0.0,
            _ => true,
        }
    }
}

/// `ISTFTHead` arguments.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct HeadArgs {
    /// Input width (the backbone's `dim`).
    pub dim: usize,
    /// FFT size (also the window length).
    pub n_fft: usize,
    /// Samples between frames.
    pub hop_length: usize,
    /// Padding of the inverse STFT (upstream default `same`; the 24 kHz mel
    /// model uses `center`).
    #[serde(default = "default_same")]
    pub padding: Padding,
}

/// The whole `config.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct VocosConfig {
    /// How features are computed from audio (not used to decode).
    #[serde(default)]
    pub feature_extractor: Option<Component<FeatureExtractorArgs>>,
    /// The ConvNeXt backbone.
    pub backbone: Component<BackboneArgs>,
    /// The inverse-STFT head.
    pub head: Component<HeadArgs>,
}

impl VocosConfig {
    /// The configuration of `charactr/vocos-mel-24khz`.
    pub fn mel_24khz() -> Self {
        Self {
            feature_extractor: Some(Component {
                class_path: MEL_FEATURES.into(),
                init_args: FeatureExtractorArgs {
                    sample_rate: 24_000,
                    n_fft: 1024,
                    hop_length: 256,
                    n_mels: 100,
                    padding: Padding::Center,
                },
            }),
            backbone: Component {
                class_path: VOCOS_BACKBONE.into(),
                init_args: BackboneArgs {
                    input_channels: 100,
                    dim: 512,
                    intermediate_dim: 1536,
                    num_layers: 8,
                    layer_scale_init_value: None,
                    adanorm_num_embeddings: None,
                },
            },
            head: Component {
                class_path: ISTFT_HEAD.into(),
                init_args: HeadArgs {
                    dim: 512,
                    n_fft: 1024,
                    hop_length: 256,
                    padding: Padding::Center,
                },
            },
        }
    }

    /// Parses YAML text and checks that this port supports it.
    pub fn from_yaml(text: &str) -> std::result::Result<Self, String> {
        let cfg: Self = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Reads and checks `config.yaml`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml(&text).map_err(|reason| Error::VoiceConfig {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The feature extractor's arguments, when it is the mel extractor.
    pub fn mel_features(&self) -> Option<&FeatureExtractorArgs> {
        let fe = self.feature_extractor.as_ref()?;
        (fe.class_path == MEL_FEATURES).then_some(&fe.init_args)
    }

    /// Rejects what the port does not implement, naming it.
    fn check(&self) -> std::result::Result<(), String> {
        if self.backbone.class_path != VOCOS_BACKBONE {
            return Err(format!(
                "backbone {} is not supported (only {VOCOS_BACKBONE})",
                self.backbone.class_path
            ));
        }
        if self.head.class_path != ISTFT_HEAD {
            return Err(format!(
                "head {} is not supported (only {ISTFT_HEAD})",
                self.head.class_path
            ));
        }
        let b = &self.backbone.init_args;
        if b.adanorm_num_embeddings.is_some() {
            return Err(
                "backbone.init_args.adanorm_num_embeddings (EnCodec-conditioned Vocos) \
                        is not supported"
                    .into(),
            );
        }
        if b.input_channels == 0 || b.dim == 0 || b.intermediate_dim == 0 {
            return Err(
                "backbone.init_args: input_channels, dim and intermediate_dim must be \
                        positive"
                    .into(),
            );
        }
        let h = &self.head.init_args;
        if h.dim != b.dim {
            return Err(format!(
                "head.init_args.dim {} differs from backbone.init_args.dim {}",
                h.dim, b.dim
            ));
        }
        if h.n_fft < 2 || h.hop_length == 0 || h.hop_length > h.n_fft {
            return Err(format!(
                "head.init_args: n_fft {} / hop_length {} (need n_fft >= 2, 1 <= hop <= n_fft)",
                h.n_fft, h.hop_length
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEL_24KHZ: &str = "\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center

backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8

head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: center
";

    #[test]
    fn parses_the_published_config() {
        let cfg = VocosConfig::from_yaml(MEL_24KHZ).unwrap();
        assert_eq!(cfg, VocosConfig::mel_24khz());
        assert!(cfg.backbone.init_args.has_layer_scale());
        let fe = cfg.mel_features().unwrap();
        assert_eq!((fe.sample_rate, fe.n_mels), (24_000, 100));
    }

    #[test]
    fn rejects_what_is_not_implemented() {
        let encodec = MEL_24KHZ.replace(
            "num_layers: 8",
            "num_layers: 8\n    adanorm_num_embeddings: 4",
        );
        assert!(VocosConfig::from_yaml(&encodec)
            .unwrap_err()
            .contains("adanorm"));
        let imdct = MEL_24KHZ.replace("vocos.heads.ISTFTHead", "vocos.heads.IMDCTCosHead");
        assert!(VocosConfig::from_yaml(&imdct)
            .unwrap_err()
            .contains("IMDCTCosHead"));
        assert!(VocosConfig::from_yaml("backbone: 3").is_err());
    }

    #[test]
    fn layer_scale_follows_python_truthiness() {
        let mut b = VocosConfig::mel_24khz().backbone.init_args;
        for (v, has) in [
            (None, true),
            (Some(0.0), true),
            (Some(0.1), true),
            (Some(-1.0), false),
        ] {
            b.layer_scale_init_value = v;
            assert_eq!(b.has_layer_scale(), has, "{v:?}");
        }
    }
}

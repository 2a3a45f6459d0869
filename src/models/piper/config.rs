//! The two configs of a Piper voice: the `.onnx.json` file shipped beside the
//! model (audio, phonemizer, inference defaults) and the network
//! hyper-parameters, which Piper does not write down and are read from the
//! weights' shapes and the graph's convolution attributes.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::onnx::{ConvAttrs, PiperWeights};
use crate::{Error, Result};

/// `audio` block of the voice config.
#[derive(Debug, Clone, Deserialize)]
pub struct AudioConfig {
    /// Output sample rate in Hz (22050 for medium/high, 16000 for low/x_low).
    pub sample_rate: u32,
    /// `x_low`, `low`, `medium` or `high` (informational).
    #[serde(default)]
    pub quality: Option<String>,
}

/// `espeak` block of the voice config.
#[derive(Debug, Clone, Deserialize)]
pub struct EspeakConfig {
    /// espeak-ng voice name, e.g. `en-us`.
    pub voice: String,
}

/// `inference` block: the voice's default scales.
#[derive(Debug, Clone, Deserialize)]
pub struct InferenceConfig {
    /// Noise on the prior (`z_p`); 0.667 by default.
    #[serde(default = "default_noise_scale")]
    pub noise_scale: f32,
    /// Speaking-rate factor (>1 is slower); 1.0 by default.
    #[serde(default = "default_length_scale")]
    pub length_scale: f32,
    /// Noise on the durations; 0.8 by default.
    #[serde(default = "default_noise_w")]
    pub noise_w: f32,
}

fn default_noise_scale() -> f32 {
    0.667
}
fn default_length_scale() -> f32 {
    1.0
}
fn default_noise_w() -> f32 {
    0.8
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            noise_scale: default_noise_scale(),
            length_scale: default_length_scale(),
            noise_w: default_noise_w(),
        }
    }
}

/// A Piper voice config (`<voice>.onnx.json`), mirroring piper's `PiperConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceConfig {
    /// Audio settings.
    pub audio: AudioConfig,
    /// Phonemizer settings (espeak voices).
    #[serde(default)]
    pub espeak: Option<EspeakConfig>,
    /// Default scales.
    #[serde(default)]
    pub inference: InferenceConfig,
    /// `espeak` (the only kind supported natively) or `text`, `pinyin`, …
    #[serde(default = "default_phoneme_type")]
    pub phoneme_type: String,
    /// Phoneme (one code point, or a merged cluster) to model ids.
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
    /// Phoneme replacements applied before id mapping.
    #[serde(default)]
    pub phoneme_map: HashMap<String, Vec<String>>,
    /// Vowel clusters merged into one phoneme (e.g. `["a", "ɪ"]`).
    #[serde(default)]
    pub vowel_clusters: Vec<Vec<String>>,
    /// Embedding table size.
    #[serde(default)]
    pub num_symbols: Option<usize>,
    /// Number of speakers (1 for single-speaker voices).
    #[serde(default = "one")]
    pub num_speakers: usize,
    /// Speaker names to ids.
    #[serde(default)]
    pub speaker_id_map: HashMap<String, i64>,
    /// Speaker used when a multi-speaker voice is given none.
    #[serde(default)]
    pub default_speaker_id: i64,
}

fn default_phoneme_type() -> String {
    "espeak".into()
}
fn one() -> usize {
    1
}

impl VoiceConfig {
    /// Reads and validates a `.onnx.json` file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|reason| Error::VoiceConfig {
            path: path.to_owned(),
            reason,
        })
    }

    /// Parses and validates config JSON.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let cfg: VoiceConfig = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for required in ["_", "^", "$"] {
            if !cfg.phoneme_id_map.contains_key(required) {
                return Err(format!(
                    "phoneme_id_map lacks the {required:?} symbol (pad `_`, BOS `^` and EOS `$` are required)"
                ));
            }
        }
        if cfg.audio.sample_rate == 0 {
            return Err("audio.sample_rate is 0".into());
        }
        if cfg.num_speakers == 0 {
            return Err("num_speakers is 0".into());
        }
        if cfg.phoneme_type == "espeak" && cfg.espeak.is_none() {
            return Err("phoneme_type is espeak but the espeak.voice setting is missing".into());
        }
        Ok(cfg)
    }
}

/// Network hyper-parameters of a VITS generator (`SynthesizerTrn`), read
/// from a loaded export.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Embedding table size.
    pub n_vocab: usize,
    /// Text-encoder width (192).
    pub hidden_channels: usize,
    /// Text-encoder FFN width (768).
    pub filter_channels: usize,
    /// Latent width (192).
    pub inter_channels: usize,
    /// Attention heads (2).
    pub n_heads: usize,
    /// Text-encoder layers (6).
    pub n_layers: usize,
    /// Text-encoder FFN kernel (3).
    pub kernel_size: usize,
    /// Relative attention window (4).
    pub window_size: usize,
    /// Stochastic (true) or deterministic duration predictor.
    pub use_sdp: bool,
    /// Residual coupling layers in the flow (4).
    pub n_flows: usize,
    /// WaveNet layers per coupling layer (4).
    pub flow_wn_layers: usize,
    /// WaveNet kernel (5).
    pub flow_kernel_size: usize,
    /// WaveNet dilation rate (1).
    pub flow_dilation_rate: usize,
    /// `"1"` (high quality) or `"2"` (medium, low).
    pub resblock: String,
    /// ResBlock kernels ((3, 5, 7)).
    pub resblock_kernel_sizes: Vec<usize>,
    /// ResBlock dilations (((1, 2), (2, 6), (3, 12))).
    pub resblock_dilation_sizes: Vec<Vec<usize>>,
    /// Upsampling factors ((8, 8, 4)).
    pub upsample_rates: Vec<usize>,
    /// Upsampling kernels ((16, 16, 8)).
    pub upsample_kernel_sizes: Vec<usize>,
    /// Channels after conv_pre (256).
    pub upsample_initial_channel: usize,
    /// Speakers in the embedding table (1 = single speaker).
    pub n_speakers: usize,
    /// Speaker-embedding width (0 = single speaker).
    pub gin_channels: usize,
}

impl ModelConfig {
    /// Samples per latent frame (product of the upsampling rates).
    pub fn hop_length(&self) -> usize {
        self.upsample_rates.iter().product()
    }

    /// Derives the hyper-parameters from the weights of an export.
    pub fn from_weights(w: &PiperWeights) -> std::result::Result<Self, String> {
        let shape = |name: &str| -> std::result::Result<Vec<usize>, String> {
            w.tensors
                .get(name)
                .map(|t| t.dims().to_vec())
                .ok_or_else(|| format!("missing parameter `{name}`"))
        };
        let has = |name: &str| w.tensors.contains_key(name);
        let count = |fmt: &dyn Fn(usize) -> String| (0..).take_while(|&i| has(&fmt(i))).count();

        let emb = shape("enc_p.emb.weight")?;
        let (n_vocab, hidden_channels) = (emb[0], emb[1]);
        let n_layers = count(&|i| format!("enc_p.encoder.attn_layers.{i}.conv_q.weight"));
        if n_layers == 0 {
            return Err("missing parameter `enc_p.encoder.attn_layers.0.conv_q.weight`".into());
        }
        let rel = shape("enc_p.encoder.attn_layers.0.emb_rel_k")?;
        let (window_size, k_channels) = ((rel[1] - 1) / 2, rel[2]);
        if k_channels == 0 || hidden_channels % k_channels != 0 {
            return Err(format!(
                "emb_rel_k width {k_channels} does not divide hidden width {hidden_channels}"
            ));
        }
        let ffn = shape("enc_p.encoder.ffn_layers.0.conv_1.weight")?;
        let inter_channels = shape("enc_p.proj.weight")?[0] / 2;

        let use_sdp = has("dp.flows.3.pre.weight") || has("dp.flows.0.m");
        if !use_sdp && !has("dp.conv_1.weight") {
            return Err(
                "missing duration predictor parameters (`dp.flows.*` or `dp.conv_1.weight`)".into(),
            );
        }

        let n_flows = count(&|i| format!("flow.flows.{}.pre.weight", 2 * i));
        if n_flows == 0 {
            return Err("missing parameter `flow.flows.0.pre.weight`".into());
        }
        let flow_wn_layers = count(&|i| format!("flow.flows.0.enc.in_layers.{i}.weight"));
        let flow_kernel_size = *shape("flow.flows.0.enc.in_layers.0.weight")?
            .last()
            .unwrap_or(&5);
        let flow_dilation_rate = if flow_wn_layers > 1 {
            attr(w, "flow.flows.0.enc.in_layers.1")
                .dilation
                .unwrap_or(1)
        } else {
            1
        };

        let upsample_initial_channel = shape("dec.conv_pre.weight")?[0];
        let n_ups = count(&|i| format!("dec.ups.{i}.weight"));
        if n_ups == 0 {
            return Err("missing parameter `dec.ups.0.weight`".into());
        }
        let mut upsample_rates = Vec::new();
        let mut upsample_kernel_sizes = Vec::new();
        for i in 0..n_ups {
            let k = *shape(&format!("dec.ups.{i}.weight"))?.last().unwrap_or(&0);
            let stride = attr(w, &format!("dec.ups.{i}")).stride.unwrap_or(k / 2);
            upsample_kernel_sizes.push(k);
            upsample_rates.push(stride);
        }
        let resblock = if has("dec.resblocks.0.convs1.0.weight") {
            "1"
        } else {
            "2"
        };
        let n_kernels = (0..)
            .take_while(|&j| {
                has(&format!("dec.resblocks.{j}.convs.0.weight"))
                    || has(&format!("dec.resblocks.{j}.convs1.0.weight"))
            })
            .count()
            / n_ups;
        if n_kernels == 0 {
            return Err("missing parameter `dec.resblocks.0.convs.0.weight`".into());
        }
        let (conv_list, n_convs) = if resblock == "1" {
            (
                "convs1",
                count(&|i| format!("dec.resblocks.0.convs1.{i}.weight")),
            )
        } else {
            (
                "convs",
                count(&|i| format!("dec.resblocks.0.convs.{i}.weight")),
            )
        };
        let mut resblock_kernel_sizes = Vec::new();
        let mut resblock_dilation_sizes = Vec::new();
        for j in 0..n_kernels {
            let k = *shape(&format!("dec.resblocks.{j}.{conv_list}.0.weight"))?
                .last()
                .unwrap_or(&3);
            resblock_kernel_sizes.push(k);
            let dilations = (0..n_convs)
                .map(|i| {
                    attr(w, &format!("dec.resblocks.{j}.{conv_list}.{i}"))
                        .dilation
                        .unwrap_or(1)
                })
                .collect();
            resblock_dilation_sizes.push(dilations);
        }

        let (n_speakers, gin_channels) = match w.tensors.get("emb_g.weight") {
            Some(t) => (t.dims()[0], t.dims()[1]),
            None => (1, 0),
        };
        Ok(Self {
            n_vocab,
            hidden_channels,
            filter_channels: ffn[0],
            inter_channels,
            n_heads: hidden_channels / k_channels,
            n_layers,
            kernel_size: ffn[2],
            window_size,
            use_sdp,
            n_flows,
            flow_wn_layers,
            flow_kernel_size,
            flow_dilation_rate,
            resblock: resblock.into(),
            resblock_kernel_sizes,
            resblock_dilation_sizes,
            upsample_rates,
            upsample_kernel_sizes,
            upsample_initial_channel,
            n_speakers,
            gin_channels,
        })
    }
}

fn attr(w: &PiperWeights, path: &str) -> ConvAttrs {
    w.conv_attrs.get(path).cloned().unwrap_or_default()
}

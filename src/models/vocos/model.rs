//! The whole vocoder (`vocos/pretrained.py::Vocos.decode`): backbone, then
//! head.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

use super::backbone::VocosBackbone;
use super::config::VocosConfig;
use super::istft_head::IstftHead;
use crate::{Error, Result};

/// Config file name in a Vocos model directory.
pub const CONFIG_FILE: &str = "config.yaml";
/// Weights as published (`torch.save` of the state dict).
pub const PTH_FILE: &str = "pytorch_model.bin";
/// Weights converted to safetensors (preferred when present).
pub const SAFETENSORS_FILE: &str = "model.safetensors";

/// Vocos: `(B, n_mels, T)` log-mels to waveforms. Immutable and
/// `Send + Sync`: share one behind an `Arc`. Runs in f32 like upstream.
#[derive(Debug, Clone)]
pub struct Vocos {
    config: VocosConfig,
    backbone: VocosBackbone,
    head: IstftHead,
    device: Device,
}

impl Vocos {
    /// Builds the model from a config and weights named like the upstream
    /// state dict (`backbone.embed.weight`, `head.out.weight`, …). The
    /// weights are read as f32 whatever `vb`'s dtype.
    pub fn new(config: &VocosConfig, vb: VarBuilder) -> Result<Self> {
        let vb = vb.set_dtype(DType::F32);
        let backbone = VocosBackbone::new(&config.backbone.init_args, vb.pp("backbone"))?;
        let head = IstftHead::new(&config.head.init_args, vb.pp("head"))?;
        Ok(Self {
            config: config.clone(),
            backbone,
            head,
            device: vb.device().clone(),
        })
    }

    /// Loads `config.yaml` and `model.safetensors` (or, failing that,
    /// `pytorch_model.bin`) from `dir`, e.g. a snapshot of
    /// `charactr/vocos-mel-24khz`.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let config = VocosConfig::from_file(dir.join(CONFIG_FILE))?;
        let safetensors = dir.join(SAFETENSORS_FILE);
        let pth = dir.join(PTH_FILE);
        let tensors: HashMap<String, Tensor> = if safetensors.is_file() {
            candle_core::safetensors::load(&safetensors, &Device::Cpu)
                .map_err(|e| e.with_path(&safetensors))?
        } else if pth.is_file() {
            candle_core::pickle::read_all(&pth)
                .map_err(|e| e.with_path(&pth))?
                .into_iter()
                .collect()
        } else {
            return Err(Error::io(
                pth,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("no {SAFETENSORS_FILE} or {PTH_FILE} in {}", dir.display()),
                ),
            ));
        };
        Self::new(
            &config,
            VarBuilder::from_tensors(tensors, DType::F32, device),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &VocosConfig {
        &self.config
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Mel bands expected.
    pub fn n_mels(&self) -> usize {
        self.backbone.input_channels()
    }

    /// Samples per frame.
    pub fn hop_length(&self) -> usize {
        self.config.head.init_args.hop_length
    }

    /// Output sample rate, Hz (from the feature extractor; 24 kHz when the
    /// config does not say).
    pub fn sample_rate(&self) -> u32 {
        self.config
            .mel_features()
            .map_or(24_000, |fe| fe.sample_rate)
    }

    /// Samples out for `n_frames` mel frames (`hop * (n_frames - 1)` with
    /// centre padding).
    pub fn output_len(&self, n_frames: usize) -> usize {
        self.head.output_len(n_frames)
    }

    /// The backbone.
    pub fn backbone(&self) -> &VocosBackbone {
        &self.backbone
    }

    /// The head.
    pub fn head(&self) -> &IstftHead {
        &self.head
    }

    /// Checks `mel` is `(B, n_mels, T)` with `T ≥ 1` and moves it to the
    /// model's device in f32.
    fn prepare(&self, mel: &Tensor) -> Result<Tensor> {
        let dims = mel.dims();
        if dims.len() != 3 || dims[1] != self.n_mels() || dims[0] == 0 || dims[2] == 0 {
            return Err(Error::InvalidArgument(format!(
                "Vocos takes a mel spectrogram of shape (batch, {}, frames) with at least one \
                 frame, got {dims:?}",
                self.n_mels()
            )));
        }
        Ok(mel.to_device(&self.device)?.to_dtype(DType::F32)?)
    }

    /// The backbone's output `(B, T, dim)` for `mel` `(B, n_mels, T)`.
    pub fn backbone_forward(&self, mel: &Tensor) -> Result<Tensor> {
        let mel = self.prepare(mel)?;
        Ok(self.backbone.forward(&mel)?)
    }

    /// One waveform per batch item of `mel` `(B, n_mels, T)`.
    pub fn decode_batch(&self, mel: &Tensor) -> Result<Vec<Vec<f32>>> {
        let features = self.backbone_forward(mel)?;
        self.head.forward_samples(&features)
    }

    /// The waveform of `mel` `(1, n_mels, T)`: `output_len(T)` samples at
    /// [`Self::sample_rate`].
    pub fn decode(&self, mel: &Tensor) -> Result<Vec<f32>> {
        if mel.dims().first() != Some(&1) {
            return Err(Error::InvalidArgument(format!(
                "Vocos::decode takes one mel spectrogram (1, {}, frames), got {:?}; use \
                 decode_batch for several",
                self.n_mels(),
                mel.dims()
            )));
        }
        Ok(self.decode_batch(mel)?.pop().unwrap_or_default())
    }
}

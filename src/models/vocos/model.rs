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

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> VocosConfig {
        let mut cfg = VocosConfig::mel_24khz();
        cfg.backbone.init_args.dim = 8;
        cfg.backbone.init_args.intermediate_dim = 16;
        cfg.backbone.init_args.num_layers = 1;
        cfg.head.init_args.dim = 8;
        cfg
    }

    /// Every tensor the model reads, with its shape, filled with `value`.
    fn weights(cfg: &VocosConfig, value: f32) -> HashMap<String, Tensor> {
        let b = &cfg.backbone.init_args;
        let (d, h) = (b.dim, b.intermediate_dim);
        let mut shapes: Vec<(String, Vec<usize>)> = vec![
            ("backbone.embed.weight".into(), vec![d, b.input_channels, 7]),
            ("backbone.embed.bias".into(), vec![d]),
            ("backbone.norm.weight".into(), vec![d]),
            ("backbone.norm.bias".into(), vec![d]),
            ("backbone.final_layer_norm.weight".into(), vec![d]),
            ("backbone.final_layer_norm.bias".into(), vec![d]),
            (
                "head.out.weight".into(),
                vec![cfg.head.init_args.n_fft + 2, d],
            ),
            ("head.out.bias".into(), vec![cfg.head.init_args.n_fft + 2]),
        ];
        for i in 0..b.num_layers {
            let p = format!("backbone.convnext.{i}");
            shapes.extend([
                (format!("{p}.dwconv.weight"), vec![d, 1, 7]),
                (format!("{p}.dwconv.bias"), vec![d]),
                (format!("{p}.norm.weight"), vec![d]),
                (format!("{p}.norm.bias"), vec![d]),
                (format!("{p}.pwconv1.weight"), vec![h, d]),
                (format!("{p}.pwconv1.bias"), vec![h]),
                (format!("{p}.pwconv2.weight"), vec![d, h]),
                (format!("{p}.pwconv2.bias"), vec![d]),
                (format!("{p}.gamma"), vec![d]),
            ]);
        }
        shapes
            .into_iter()
            .map(|(n, s)| {
                let t = Tensor::full(value, s, &Device::Cpu).unwrap();
                (n, t)
            })
            .collect()
    }

    #[test]
    fn decodes_with_the_expected_length() {
        let cfg = tiny_config();
        let vb = VarBuilder::from_tensors(weights(&cfg, 0.01), DType::F32, &Device::Cpu);
        let vocos = Vocos::new(&cfg, vb).unwrap();
        let mel = Tensor::zeros((1, 100, 5), DType::F32, &Device::Cpu).unwrap();
        let audio = vocos.decode(&mel).unwrap();
        assert_eq!(audio.len(), 4 * 256);
        assert_eq!(vocos.output_len(5), 4 * 256);
        assert!(audio.iter().all(|x| x.is_finite()));
        let two = Tensor::cat(&[&mel, &mel], 0).unwrap();
        let batch = vocos.decode_batch(&two).unwrap();
        assert_eq!(batch, vec![audio.clone(), audio]);
        assert_eq!((vocos.sample_rate(), vocos.hop_length()), (24_000, 256));
    }

    #[test]
    fn bad_weights_name_the_tensor() {
        let cfg = tiny_config();
        let mut w = weights(&cfg, 0.01);
        w.remove("backbone.convnext.0.pwconv2.weight");
        let vb = VarBuilder::from_tensors(w, DType::F32, &Device::Cpu);
        let err = Vocos::new(&cfg, vb).unwrap_err().to_string();
        assert!(err.contains("backbone.convnext.0.pwconv2.weight"), "{err}");

        let mut w = weights(&cfg, 0.01);
        w.insert(
            "head.out.weight".into(),
            Tensor::zeros((3, 8), DType::F32, &Device::Cpu).unwrap(),
        );
        let vb = VarBuilder::from_tensors(w, DType::F32, &Device::Cpu);
        let err = Vocos::new(&cfg, vb).unwrap_err().to_string();
        assert!(err.contains("head.out.weight"), "{err}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let cfg = tiny_config();
        let vb = VarBuilder::from_tensors(weights(&cfg, 0.01), DType::F32, &Device::Cpu);
        let vocos = Vocos::new(&cfg, vb).unwrap();
        for shape in [
            vec![1, 80, 5],
            vec![1, 100, 0],
            vec![100, 5],
            vec![2, 100, 5],
        ] {
            let mel = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu).unwrap();
            assert!(
                matches!(vocos.decode(&mel), Err(Error::InvalidArgument(_))),
                "{shape:?}"
            );
        }
    }

    #[test]
    fn missing_files_are_io_errors() {
        let dir = std::env::temp_dir().join(format!("ishowtts-vocos-{}", std::process::id()));
        assert!(matches!(
            Vocos::load(&dir, &Device::Cpu),
            Err(Error::Io { .. })
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(CONFIG_FILE), "backbone: [").unwrap();
        assert!(matches!(
            Vocos::load(&dir, &Device::Cpu),
            Err(Error::VoiceConfig { .. })
        ));
        let yaml = "backbone:\n  class_path: vocos.models.VocosBackbone\n  init_args: \
                    {input_channels: 100, dim: 8, intermediate_dim: 16, num_layers: 1}\n\
                    head:\n  class_path: vocos.heads.ISTFTHead\n  init_args: \
                    {dim: 8, n_fft: 1024, hop_length: 256, padding: center}\n";
        std::fs::write(dir.join(CONFIG_FILE), yaml).unwrap();
        let err = Vocos::load(&dir, &Device::Cpu).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        std::fs::write(dir.join(PTH_FILE), b"not a pickle").unwrap();
        let err = Vocos::load(&dir, &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains(PTH_FILE), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

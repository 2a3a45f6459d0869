//! The ISTFT head (`vocos/heads.py::ISTFTHead`): a Linear layer predicts,
//! per frame, `n_fft / 2 + 1` log-magnitudes and as many phases; the
//! complex spectrum `min(exp(m), 100) · (cos p + i sin p)` goes through the
//! inverse STFT.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::config::HeadArgs;
use crate::audio::stft::{Complex, Istft};
use crate::{Error, Result};

/// Upper clip of the magnitude (`torch.clip(mag, max=1e2)` upstream: a
/// safeguard against exploding magnitudes).
const MAX_MAGNITUDE: f32 = 1e2;

/// The head: `(B, T, dim)` features to `B` waveforms.
#[derive(Debug, Clone)]
pub struct IstftHead {
    out: Linear,
    istft: Istft,
}

impl IstftHead {
    /// Loads `out` (`Linear(dim, n_fft + 2)`); the window is recomputed,
    /// not read (`head.istft.window` is a buffer of the checkpoint).
    pub fn new(cfg: &HeadArgs, vb: VarBuilder) -> Result<Self> {
        let out = candle_nn::linear(cfg.dim, cfg.n_fft + 2, vb.pp("out"))?;
        // Upstream: ISTFT(n_fft, hop_length, win_length=n_fft, padding).
        let istft = Istft::new(cfg.n_fft, cfg.hop_length, cfg.n_fft, cfg.padding.into())?;
        Ok(Self { out, istft })
    }

    /// The inverse STFT.
    pub fn istft(&self) -> &Istft {
        &self.istft
    }

    /// Samples out for `n_frames` frames.
    pub fn output_len(&self, n_frames: usize) -> usize {
        self.istft.output_len(n_frames)
    }

    /// The Linear layer's output `(B, T, n_fft + 2)`: log-magnitudes then
    /// phases, per frame.
    pub fn spectrum_params(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.out.forward(x)?)
    }

    /// One waveform per batch item, on the CPU.
    pub fn forward_samples(&self, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        self.params_to_samples(&self.spectrum_params(x)?)
    }

    /// The second half of the head: `(B, T, n_fft + 2)` log-magnitudes and
    /// phases (the output of [`Self::spectrum_params`]) to one waveform per
    /// batch item, on the CPU.
    pub fn params_to_samples(&self, params: &Tensor) -> Result<Vec<Vec<f32>>> {
        let (batch, n_frames, width) = params.dims3()?;
        let n_bins = self.istft.n_bins();
        if width != 2 * n_bins {
            return Err(Error::InvalidArgument(format!(
                "ISTFT head: {width} values per frame, expected {} (n_fft + 2)",
                2 * n_bins
            )));
        }
        let params = params
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        (0..batch)
            .map(|b| {
                let item = &params[b * n_frames * width..(b + 1) * n_frames * width];
                self.istft.inverse_with(n_frames, |t, spectrum| {
                    let row = &item[t * width..(t + 1) * width];
                    let (log_mag, phase) = row.split_at(n_bins);
                    for ((s, &m), &p) in spectrum.iter_mut().zip(log_mag).zip(phase) {
                        // NaN stays NaN like torch.clip (f32::min would hide it).
                        let mag = m.exp();
                        let mag = if mag > MAX_MAGNITUDE {
                            MAX_MAGNITUDE
                        } else {
                            mag
                        };
                        let (sin, cos) = p.sin_cos();
                        *s = Complex::new(mag * cos, mag * sin);
                    }
                })
            })
            .collect()
    }

    /// Waveforms `(B, L)` on `device`.
    pub fn forward(&self, x: &Tensor, device: &Device) -> Result<Tensor> {
        let audio = self.forward_samples(x)?;
        let (batch, len) = (audio.len(), audio.first().map_or(0, Vec::len));
        Ok(Tensor::from_vec(audio.concat(), (batch, len), device)?)
    }
}

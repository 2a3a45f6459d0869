//! The log-mel spectrogram F5-TTS is trained on (`mel_spec_type: vocos`).
//!
//! Upstream: `f5_tts/model/modules.py::get_vocos_mel_spectrogram`, i.e.
//! `torchaudio.transforms.MelSpectrogram(sample_rate, n_fft, win_length,
//! hop_length, n_mels, power=1, center=True, normalized=False, norm=None)`
//! followed by `log(clamp(x, 1e-5))`. That is: reflect-padded STFT with a
//! periodic Hann window, magnitude, HTK-scale triangular filters from 0 Hz to
//! `sample_rate / 2` without area normalization, natural log. It is also the
//! feature extractor of `charactr/vocos-mel-24khz`, so the same transform
//! feeds Vocos in copy-synthesis.

use candle_core::{Device, Tensor};

use crate::audio::stft::Stft;
use crate::{Error, Result};

/// Floor applied before the log by F5-TTS (`mel.clamp(min=1e-5).log()`).
pub const LOG_FLOOR: f32 = 1e-5;
/// Floor of Vocos' own feature extractor (`safe_log`, `clip_val=1e-7`).
pub const VOCOS_LOG_FLOOR: f32 = 1e-7;

/// Parameters of [`MelSpectrogram`]; [`Default`] is F5-TTS / Vocos 24 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct MelSpectrogramConfig {
    /// Sample rate of the audio, Hz.
    pub sample_rate: u32,
    /// FFT size.
    pub n_fft: usize,
    /// Samples between frames.
    pub hop_length: usize,
    /// Hann window length (≤ `n_fft`).
    pub win_length: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest filter edge, Hz.
    pub f_min: f64,
    /// Highest filter edge, Hz; `None` is `sample_rate / 2` (torchaudio's
    /// default, integer division).
    pub f_max: Option<f64>,
    /// Magnitudes are clamped to at least this before the natural log:
    /// [`LOG_FLOOR`] for F5-TTS, [`VOCOS_LOG_FLOOR`] for Vocos' extractor.
    pub log_floor: f32,
}

impl Default for MelSpectrogramConfig {
    fn default() -> Self {
        Self {
            sample_rate: 24_000,
            n_fft: 1024,
            hop_length: 256,
            win_length: 1024,
            n_mels: 100,
            f_min: 0.0,
            f_max: None,
            log_floor: LOG_FLOOR,
        }
    }
}

/// One triangular filter, stored over the bins where it may be non-zero.
#[derive(Debug, Clone)]
struct MelFilter {
    first_bin: usize,
    weights: Vec<f32>,
}

/// The log-mel spectrogram transform; immutable, `Send + Sync`, cheap to
/// run (one FFT per frame, a sparse filter bank).
#[derive(Debug, Clone)]
pub struct MelSpectrogram {
    config: MelSpectrogramConfig,
    stft: Stft,
    filters: Vec<MelFilter>,
}

fn hz_to_mel_htk(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz_htk(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// `torch.linspace(start, end, steps)`: the first half counts up from
/// `start`, the second half down from `end`, so both ends are exact.
fn linspace(start: f64, end: f64, steps: usize) -> Vec<f64> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f64;
    (0..steps)
        .map(|i| {
            if i < steps / 2 {
                start + step * i as f64
            } else {
                end - step * (steps - 1 - i) as f64
            }
        })
        .collect()
}

/// `torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
/// sample_rate, norm=None, mel_scale="htk")` as `n_mels` sparse rows.
fn mel_filters(
    n_freqs: usize,
    f_min: f64,
    f_max: f64,
    n_mels: usize,
    sample_rate: u32,
) -> Vec<MelFilter> {
    // The bin frequencies use sample_rate // 2 like torchaudio, whatever f_max is.
    let all_freqs = linspace(0.0, (sample_rate / 2) as f64, n_freqs);
    let m_pts = linspace(hz_to_mel_htk(f_min), hz_to_mel_htk(f_max), n_mels + 2);
    let f_pts: Vec<f64> = m_pts.into_iter().map(mel_to_hz_htk).collect();
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
            let dense: Vec<f32> = all_freqs
                .iter()
                .map(|&f| {
                    let down = (f - lo) / (mid - lo);
                    let up = (hi - f) / (hi - mid);
                    down.min(up).max(0.0) as f32
                })
                .collect();
            let first_bin = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let end = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(first_bin, |i| i + 1);
            MelFilter {
                first_bin,
                weights: dense[first_bin..end].to_vec(),
            }
        })
        .collect()
}

impl MelSpectrogram {
    /// A transform with HTK filters from 0 Hz to `sample_rate / 2`.
    pub fn new(
        sample_rate: u32,
        n_fft: usize,
        hop_length: usize,
        win_length: usize,
        n_mels: usize,
    ) -> Result<Self> {
        Self::from_config(&MelSpectrogramConfig {
            sample_rate,
            n_fft,
            hop_length,
            win_length,
            n_mels,
            ..MelSpectrogramConfig::default()
        })
    }

    /// A transform from a full configuration.
    pub fn from_config(config: &MelSpectrogramConfig) -> Result<Self> {
        if config.sample_rate == 0 {
            return Err(Error::InvalidParameter {
                name: "sample_rate",
                value: "0".into(),
                reason: "must be positive",
            });
        }
        if config.n_mels == 0 {
            return Err(Error::InvalidParameter {
                name: "n_mels",
                value: "0".into(),
                reason: "must be positive",
            });
        }
        let f_max = config.f_max.unwrap_or((config.sample_rate / 2) as f64);
        if !(config.f_min.is_finite() && f_max.is_finite() && 0.0 <= config.f_min)
            || config.f_min >= f_max
        {
            return Err(Error::InvalidParameter {
                name: "f_min",
                value: format!("{} (f_max {f_max})", config.f_min),
                reason: "need 0 <= f_min < f_max, both finite",
            });
        }
        if !(config.log_floor.is_finite() && config.log_floor > 0.0) {
            return Err(Error::InvalidParameter {
                name: "log_floor",
                value: config.log_floor.to_string(),
                reason: "must be positive and finite",
            });
        }
        let stft = Stft::new(config.n_fft, config.hop_length, config.win_length)?;
        let filters = mel_filters(
            stft.n_bins(),
            config.f_min,
            f_max,
            config.n_mels,
            config.sample_rate,
        );
        Ok(Self {
            config: config.clone(),
            stft,
            filters,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MelSpectrogramConfig {
        &self.config
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.config.n_mels
    }

    /// Frames for `num_samples` samples: `1 + num_samples / hop_length`.
    pub fn num_frames(&self, num_samples: usize) -> usize {
        self.stft.num_frames(num_samples)
    }

    /// The filter bank as torchaudio stores it: `n_freqs` rows of `n_mels`
    /// (row-major), for inspection and tests.
    pub fn filter_bank(&self) -> Vec<f32> {
        let n_mels = self.config.n_mels;
        let mut fb = vec![0.0; self.stft.n_bins() * n_mels];
        for (m, filter) in self.filters.iter().enumerate() {
            for (i, &w) in filter.weights.iter().enumerate() {
                fb[(filter.first_bin + i) * n_mels + m] = w;
            }
        }
        fb
    }

    /// The log-mel spectrogram of mono `audio`, mel-major: `n_mels` rows of
    /// `num_frames(audio.len())` values.
    ///
    /// Needs more than `n_fft / 2` samples (reflect padding); shorter audio
    /// is an [`Error::InvalidArgument`].
    pub fn compute(&self, audio: &[f32]) -> Result<Vec<f32>> {
        let n_frames = self.num_frames(audio.len());
        let mut out = vec![0.0f32; self.config.n_mels * n_frames];
        let mut magnitude = vec![0.0f32; self.stft.n_bins()];
        let floor = self.config.log_floor;
        self.stft.for_each_frame(audio, |t, spectrum| {
            for (m, c) in magnitude.iter_mut().zip(spectrum) {
                *m = c.norm();
            }
            for (mel, filter) in self.filters.iter().enumerate() {
                let bins = &magnitude[filter.first_bin..filter.first_bin + filter.weights.len()];
                let energy: f32 = bins.iter().zip(&filter.weights).map(|(a, w)| a * w).sum();
                out[mel * n_frames + t] = energy.max(floor).ln();
            }
        })?;
        Ok(out)
    }

    /// The log-mel spectrogram as a `[1, n_mels, frames]` tensor on
    /// `device`, like upstream `MelSpec(wav[None])`.
    pub fn forward(&self, audio: &[f32], device: &Device) -> Result<Tensor> {
        let n_frames = self.num_frames(audio.len());
        let mel = self.compute(audio)?;
        Ok(Tensor::from_vec(
            mel,
            (1, self.config.n_mels, n_frames),
            device,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htk_scale_round_trips() {
        for hz in [0.0, 100.0, 1000.0, 12_000.0] {
            assert!((mel_to_hz_htk(hz_to_mel_htk(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel_htk(700.0) - 2595.0 * 2f64.log10()).abs() < 1e-9);
    }

    #[test]
    fn linspace_ends_are_exact() {
        let v = linspace(0.0, 12_000.0, 513);
        assert_eq!(v[0], 0.0);
        assert_eq!(v[512], 12_000.0);
        assert!((v[1] - 23.4375).abs() < 1e-9);
    }

    #[test]
    fn filters_are_triangles_over_the_band() {
        let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
        let fb = mel.filter_bank();
        assert_eq!(fb.len(), 513 * 100);
        // HTK without normalization: every filter peaks at most at 1, and
        // the first filter's lower edge is 0 Hz so bin 0 is 0.
        for m in 0..100 {
            let col: Vec<f32> = (0..513).map(|k| fb[k * 100 + m]).collect();
            let peak = col.iter().copied().fold(0.0, f32::max);
            assert!(peak > 0.0 && peak <= 1.0, "filter {m} peak {peak}");
        }
        assert_eq!(fb[0], 0.0);
        // The top filter ends at 12 kHz: the last bin is its upper edge
        // (zero up to the rounding of the mel round trip).
        assert!(fb[512 * 100 + 99].abs() < 1e-6);
    }

    #[test]
    fn shapes_and_floor() {
        let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
        let silence = vec![0.0f32; 24_000];
        let t = mel.forward(&silence, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 100, 1 + 24_000 / 256]);
        let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|&x| (x - LOG_FLOOR.ln()).abs() < 1e-6));
    }

    #[test]
    fn a_tone_lands_in_its_band() {
        let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
        let tone: Vec<f32> = (0..24_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 24_000.0).sin())
            .collect();
        let out = mel.compute(&tone).unwrap();
        let frames = mel.num_frames(tone.len());
        let t = frames / 2;
        let loudest = (0..100)
            .max_by(|&a, &b| out[a * frames + t].total_cmp(&out[b * frames + t]))
            .unwrap();
        // The filter whose centre is nearest 1 kHz.
        let centres = linspace(0.0, hz_to_mel_htk(12_000.0), 102);
        let target = hz_to_mel_htk(1000.0);
        let nearest = (1..=100)
            .min_by(|&a, &b| {
                (centres[a] - target)
                    .abs()
                    .total_cmp(&(centres[b] - target).abs())
            })
            .unwrap()
            - 1;
        assert_eq!(loudest, nearest);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(MelSpectrogram::new(0, 1024, 256, 1024, 100).is_err());
        assert!(MelSpectrogram::new(24_000, 1024, 256, 1024, 0).is_err());
        assert!(MelSpectrogram::new(24_000, 1024, 0, 1024, 100).is_err());
        let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
        assert!(mel.compute(&[0.0; 100]).is_err());
    }
}

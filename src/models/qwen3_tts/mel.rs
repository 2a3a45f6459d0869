//! The log-mel front end of the Qwen3-TTS speaker encoder.
//!
//! Upstream: `core/models/modeling_qwen3_tts.py::mel_spectrogram` as called
//! by `extract_speaker_embedding` (24 kHz, n_fft = win = 1024, hop 256, 128
//! mels, 0..12 kHz). The audio is reflect-padded by `(n_fft - hop) / 2`
//! samples per side, framed without centring (`center=False`), windowed by a
//! periodic Hann window, and the magnitude `sqrt(re² + im² + 1e-9)` goes
//! through librosa's Slaney-scale, Slaney-normalized filters, then
//! `ln(clamp(x, 1e-5))`. This differs from F5's [`crate::models::f5::mel`]
//! (HTK filters without normalization, `center=True`), hence its own module.

use candle_core::{Device, Tensor};

use crate::audio::stft::Stft;
use crate::{Error, Result};

/// Floor applied before the log (`dynamic_range_compression_torch`).
pub const LOG_FLOOR: f32 = 1e-5;
/// Added to the squared magnitude before the square root.
const MAGNITUDE_EPS: f32 = 1e-9;

/// The log-mel transform of `extract_speaker_embedding`; immutable,
/// `Send + Sync`.
#[derive(Clone)]
pub struct MelSpectrogram {
    /// Periodic Hann window of `n_fft`, reflect padding `(n_fft - hop) / 2`.
    stft: Stft,
    n_mels: usize,
    /// `n_mels` rows of `n_fft / 2 + 1` weights.
    filters: Vec<f32>,
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram")
            .field("stft", &self.stft)
            .field("n_mels", &self.n_mels)
            .finish()
    }
}

/// librosa's Slaney mel scale (`htk=False`): linear below 1 kHz, log above.
fn hz_to_mel_slaney(hz: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz_slaney(mel: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// `numpy.linspace(start, end, steps)` (endpoint included).
fn linspace(start: f64, end: f64, steps: usize) -> Vec<f64> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f64;
    let mut v: Vec<f64> = (0..steps).map(|i| start + step * i as f64).collect();
    v[steps - 1] = end;
    v
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` (Slaney scale and
/// norm), computed in f64 and rounded to f32 like librosa's default dtype;
/// row-major `(n_mels, n_fft / 2 + 1)`.
fn slaney_filters(
    sample_rate: u32,
    n_fft: usize,
    n_mels: usize,
    f_min: f64,
    f_max: f64,
) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    // numpy.fft.rfftfreq(n_fft, 1 / sr)
    let bin_hz = 1.0 / (n_fft as f64 * (1.0 / sample_rate as f64));
    let fft_freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();
    let mel_f: Vec<f64> = linspace(hz_to_mel_slaney(f_min), hz_to_mel_slaney(f_max), n_mels + 2)
        .into_iter()
        .map(mel_to_hz_slaney)
        .collect();
    let mut out = Vec::with_capacity(n_mels * n_bins);
    for m in 0..n_mels {
        let (lo, mid, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for &f in &fft_freqs {
            let lower = (f - lo) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            out.push((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    out
}

impl MelSpectrogram {
    /// The transform `extract_speaker_embedding` uses: 24 kHz, n_fft = win
    /// = 1024, hop 256, 128 mels from 0 to 12 kHz.
    pub fn speaker_encoder() -> Result<Self> {
        Self::new(24_000, 1024, 256, 128, 0.0, 12_000.0)
    }

    /// A transform with `n_fft`-sample frames (window length `n_fft`) every
    /// `hop_length` samples and `n_mels` Slaney filters over `f_min..f_max`.
    pub fn new(
        sample_rate: u32,
        n_fft: usize,
        hop_length: usize,
        n_mels: usize,
        f_min: f64,
        f_max: f64,
    ) -> Result<Self> {
        if n_fft < 2 || hop_length == 0 || hop_length > n_fft || n_mels == 0 {
            return Err(Error::InvalidArgument(format!(
                "mel: need n_fft >= 2, 0 < hop_length <= n_fft, n_mels > 0 (got {n_fft}, \
                 {hop_length}, {n_mels})"
            )));
        }
        if !(0.0 <= f_min && f_min < f_max && f_max <= sample_rate as f64 / 2.0) {
            return Err(Error::InvalidArgument(format!(
                "mel: need 0 <= f_min < f_max <= sample_rate / 2 (got {f_min}, {f_max})"
            )));
        }
        Ok(Self {
            stft: Stft::with_padding(n_fft, hop_length, n_fft, (n_fft - hop_length) / 2)?,
            n_mels,
            filters: slaney_filters(sample_rate, n_fft, n_mels, f_min, f_max),
        })
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Frames for `len` samples.
    pub fn num_frames(&self, len: usize) -> usize {
        self.stft.num_frames(len)
    }

    /// The log-mel of `audio`, frame-major: `num_frames` rows of `n_mels`.
    /// Audio of at most `(n_fft - hop_length) / 2` samples (too short to
    /// reflect-pad) is an [`Error::InvalidArgument`].
    pub fn compute(&self, audio: &[f32]) -> Result<Vec<f32>> {
        let n_bins = self.stft.n_bins();
        let mut magnitude = vec![0.0f32; n_bins];
        let mut out = Vec::with_capacity(self.num_frames(audio.len()) * self.n_mels);
        self.stft.for_each_frame(audio, |_, spectrum| {
            for (m, c) in magnitude.iter_mut().zip(spectrum) {
                *m = (c.re * c.re + c.im * c.im + MAGNITUDE_EPS).sqrt();
            }
            for row in self.filters.chunks_exact(n_bins) {
                let v: f32 = row.iter().zip(&magnitude).map(|(w, m)| w * m).sum();
                out.push(v.max(LOG_FLOOR).ln());
            }
        })?;
        Ok(out)
    }

    /// The log-mel as a `(1, frames, n_mels)` tensor, the speaker encoder's
    /// input layout.
    pub fn forward(&self, audio: &[f32], device: &Device) -> Result<Tensor> {
        let data = self.compute(audio)?;
        let frames = data.len() / self.n_mels;
        Ok(Tensor::from_vec(data, (1, frames, self.n_mels), device)?)
    }
}

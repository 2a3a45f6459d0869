//! Short-time Fourier transform and its inverse, with PyTorch semantics.
//!
//! [`Stft`] is `torch.stft(x, n_fft, hop, win, hann_window(win), center=True,
//! pad_mode="reflect", onesided=True)`; [`Istft`] is `torch.istft(...,
//! center=True)` (and Vocos' `"same"` padding variant of it,
//! `vocos/spectral_ops.py::ISTFT`). Both use a periodic Hann window of
//! `win_length` samples, zero-padded on both sides to `n_fft` like torch does.
//!
//! The FFT plans are made once per transform and shared (`Send + Sync`); a
//! call allocates its frame and scratch buffers once, never per frame.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::{Error, Result};

pub use realfft::num_complex::Complex;

/// `torch.istft` refuses a window whose overlap-added square falls under
/// this anywhere in the kept output (the NOLA condition).
const NOLA_EPS: f32 = 1e-11;

/// Frames per parallel task of the inverse STFT: enough work (~50 µs) to
/// pay for the task and its buffers.
const FRAMES_PER_TASK: usize = 16;

/// A periodic Hann window of `win_length` samples centred in `n_fft`
/// (`torch.hann_window(win_length)` padded the way `torch.stft` pads it).
pub fn hann_window(n_fft: usize, win_length: usize) -> Vec<f32> {
    let mut window = vec![0.0f32; n_fft];
    let left = (n_fft - win_length) / 2;
    // Computed in f64 and rounded once: within one ulp of torch's f32.
    let step = 2.0 * std::f64::consts::PI / win_length as f64;
    for (i, w) in window[left..left + win_length].iter_mut().enumerate() {
        *w = (0.5 - 0.5 * (step * i as f64).cos()) as f32;
    }
    window
}

fn check_sizes(n_fft: usize, hop_length: usize, win_length: usize) -> Result<()> {
    if n_fft < 2 {
        return Err(Error::InvalidParameter {
            name: "n_fft",
            value: n_fft.to_string(),
            reason: "must be at least 2",
        });
    }
    if hop_length == 0 {
        return Err(Error::InvalidParameter {
            name: "hop_length",
            value: hop_length.to_string(),
            reason: "must be at least 1",
        });
    }
    if win_length == 0 || win_length > n_fft {
        return Err(Error::InvalidParameter {
            name: "win_length",
            value: win_length.to_string(),
            reason: "must be between 1 and n_fft",
        });
    }
    Ok(())
}

/// The real STFT (`torch.stft` with `center=True`, reflect padding, a
/// periodic Hann window, one-sided, unnormalized).
#[derive(Clone)]
pub struct Stft {
    n_fft: usize,
    hop_length: usize,
    win_length: usize,
    /// Reflect padding per side: `n_fft / 2` (centred frames) unless made
    /// with [`Stft::with_padding`].
    pad: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.n_fft)
            .field("hop_length", &self.hop_length)
            .field("win_length", &self.win_length)
            .field("pad", &self.pad)
            .finish()
    }
}

impl Stft {
    /// A transform of `n_fft` points every `hop_length` samples with a Hann
    /// window of `win_length` (≤ `n_fft`) samples.
    pub fn new(n_fft: usize, hop_length: usize, win_length: usize) -> Result<Self> {
        Self::with_padding(n_fft, hop_length, win_length, n_fft / 2)
    }

    /// The same transform on the signal reflect-padded by `pad` samples per
    /// side instead of `n_fft / 2`, frames not centred (`torch.stft(
    /// F.pad(x, (pad, pad), "reflect"), center=False)`). `pad` is below
    /// `n_fft`.
    pub fn with_padding(
        n_fft: usize,
        hop_length: usize,
        win_length: usize,
        pad: usize,
    ) -> Result<Self> {
        check_sizes(n_fft, hop_length, win_length)?;
        if pad >= n_fft {
            return Err(Error::InvalidParameter {
                name: "pad",
                value: pad.to_string(),
                reason: "must be below n_fft",
            });
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        Ok(Self {
            n_fft,
            hop_length,
            win_length,
            pad,
            window: hann_window(n_fft, win_length),
            fft,
        })
    }

    /// FFT size.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Samples between frames.
    pub fn hop_length(&self) -> usize {
        self.hop_length
    }

    /// Window length.
    pub fn win_length(&self) -> usize {
        self.win_length
    }

    /// Frequency bins per frame: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames for `len` samples: `1 + len / hop_length` with the default
    /// padding of `n_fft / 2` on each side.
    pub fn num_frames(&self, len: usize) -> usize {
        match (len + 2 * self.pad).checked_sub(self.n_fft) {
            Some(n) => 1 + n / self.hop_length,
            None => 0,
        }
    }

    /// Runs the transform and hands each frame's `n_bins` coefficients to
    /// `f(frame_index, spectrum)`, in order; returns the number of frames.
    ///
    /// Reflect padding needs more samples than it pads (torch refuses
    /// shorter input too): shorter audio is an [`Error::InvalidArgument`].
    pub fn for_each_frame(
        &self,
        audio: &[f32],
        mut f: impl FnMut(usize, &[Complex<f32>]),
    ) -> Result<usize> {
        let pad = self.pad;
        if audio.len() <= pad {
            return Err(Error::InvalidArgument(format!(
                "STFT of {} samples: reflect padding needs more than {pad} samples",
                audio.len()
            )));
        }
        let padded = reflect_pad(audio, pad);
        let n_frames = self.num_frames(audio.len());
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        for t in 0..n_frames {
            let start = t * self.hop_length;
            let chunk = &padded[start..start + self.n_fft];
            for ((x, &s), &w) in frame.iter_mut().zip(chunk).zip(&self.window) {
                *x = s * w;
            }
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| Error::Internal(format!("STFT: {e}")))?;
            f(t, &spectrum);
        }
        Ok(n_frames)
    }

    /// The complex spectrogram, frame-major: `n_frames` rows of `n_bins`.
    pub fn forward(&self, audio: &[f32]) -> Result<Spectrogram> {
        let n_bins = self.n_bins();
        let mut data = Vec::with_capacity(self.num_frames(audio.len()) * n_bins);
        let n_frames = self.for_each_frame(audio, |_, s| data.extend_from_slice(s))?;
        Ok(Spectrogram {
            n_frames,
            n_bins,
            data,
        })
    }
}

/// A complex spectrogram, frame-major (`data[t * n_bins + k]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    /// Number of frames.
    pub n_frames: usize,
    /// Bins per frame.
    pub n_bins: usize,
    /// `n_frames * n_bins` coefficients.
    pub data: Vec<Complex<f32>>,
}

impl Spectrogram {
    /// The coefficients of frame `t`.
    pub fn frame(&self, t: usize) -> &[Complex<f32>] {
        &self.data[t * self.n_bins..(t + 1) * self.n_bins]
    }
}

/// `torch.nn.functional.pad(x, (pad, pad), mode="reflect")` (the edge
/// sample is not repeated). Requires `pad < x.len()`.
fn reflect_pad(x: &[f32], pad: usize) -> Vec<f32> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    out.extend((1..=pad).rev().map(|i| x[i]));
    out.extend_from_slice(x);
    out.extend((1..=pad).map(|i| x[n - 1 - i]));
    out
}

/// How [`Istft`] trims the overlap-added signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IstftPadding {
    /// `torch.istft(center=True)`: drop `n_fft / 2` samples at each end;
    /// `hop * (frames - 1)` samples out.
    Center,
    /// Vocos' `"same"`: drop `(win_length - hop) / 2` at each end;
    /// `hop * frames` samples out (for even `win_length - hop`).
    Same,
}

/// The inverse STFT: inverse FFT of each frame, window, overlap-add,
/// divide by the overlap-added squared window, trim.
#[derive(Clone)]
pub struct Istft {
    n_fft: usize,
    hop_length: usize,
    win_length: usize,
    padding: IstftPadding,
    window: Vec<f32>,
    ifft: Arc<dyn ComplexToReal<f32>>,
}

impl std::fmt::Debug for Istft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Istft")
            .field("n_fft", &self.n_fft)
            .field("hop_length", &self.hop_length)
            .field("win_length", &self.win_length)
            .field("padding", &self.padding)
            .finish()
    }
}

impl Istft {
    /// An inverse transform of `n_fft` points every `hop_length` samples
    /// with a Hann window of `win_length` samples.
    pub fn new(
        n_fft: usize,
        hop_length: usize,
        win_length: usize,
        padding: IstftPadding,
    ) -> Result<Self> {
        check_sizes(n_fft, hop_length, win_length)?;
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(n_fft);
        Ok(Self {
            n_fft,
            hop_length,
            win_length,
            padding,
            window: hann_window(n_fft, win_length),
            ifft,
        })
    }

    /// FFT size.
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Samples between frames.
    pub fn hop_length(&self) -> usize {
        self.hop_length
    }

    /// Frequency bins per frame: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Samples trimmed at each end of the overlap-added signal.
    fn trim(&self) -> usize {
        match self.padding {
            IstftPadding::Center => self.n_fft / 2,
            IstftPadding::Same => (self.win_length - self.hop_length.min(self.win_length)) / 2,
        }
    }

    /// Samples out for `n_frames` frames.
    pub fn output_len(&self, n_frames: usize) -> usize {
        if n_frames == 0 {
            return 0;
        }
        let full = match self.padding {
            IstftPadding::Center => self.n_fft + self.hop_length * (n_frames - 1),
            // Vocos folds win_length-long frames (its window is n_fft long).
            IstftPadding::Same => self.win_length + self.hop_length * (n_frames - 1),
        };
        full.saturating_sub(2 * self.trim())
    }

    /// Inverts `n_frames` frames, asking `fill(t, spectrum)` for frame `t`'s
    /// `n_bins` coefficients (the buffer is reused: write every bin). Frames
    /// are requested in parallel, in no particular order.
    ///
    /// Like `torch.fft.irfft`, the imaginary parts of the DC and Nyquist
    /// bins are ignored. Fails when the window does not overlap enough for
    /// the division (NOLA), as torch does.
    pub fn inverse_with(
        &self,
        n_frames: usize,
        fill: impl Fn(usize, &mut [Complex<f32>]) + Sync,
    ) -> Result<Vec<f32>> {
        let out_len = self.output_len(n_frames);
        if n_frames == 0 {
            return Ok(Vec::new());
        }
        let n = self.n_fft;
        let hop = self.hop_length;
        let trim = self.trim();
        // Vocos' "same" path folds only `win_length` samples per frame;
        // torch folds all n_fft (the window is zero outside win anyway).
        let (fold_start, fold_len) = match self.padding {
            IstftPadding::Center => (0, n),
            IstftPadding::Same => ((n - self.win_length) / 2, self.win_length),
        };
        let full_len = fold_len + hop * (n_frames - 1);
        let window = &self.window[fold_start..fold_start + fold_len];
        // irfft's "backward" normalization divides by n.
        let scale = 1.0 / n as f32;
        // The frames are independent: transform them in parallel (each
        // worker owns its buffers), then overlap-add in order.
        let mut frames = vec![0.0f32; n_frames * fold_len];
        frames
            .par_chunks_mut(fold_len)
            .with_min_len(FRAMES_PER_TASK)
            .enumerate()
            .try_for_each_init(
                || {
                    let ifft = &self.ifft;
                    (
                        ifft.make_input_vec(),
                        ifft.make_output_vec(),
                        ifft.make_scratch_vec(),
                    )
                },
                |(spectrum, frame, scratch), (t, dst)| {
                    fill(t, spectrum);
                    let last = spectrum.len() - 1;
                    spectrum[0].im = 0.0;
                    if n.is_multiple_of(2) {
                        spectrum[last].im = 0.0;
                    }
                    self.ifft
                        .process_with_scratch(spectrum, frame, scratch)
                        .map_err(|e| Error::Internal(format!("inverse STFT: {e}")))?;
                    let samples = &frame[fold_start..fold_start + fold_len];
                    for ((d, &s), &w) in dst.iter_mut().zip(samples).zip(window) {
                        *d = s * scale * w;
                    }
                    Ok::<(), Error>(())
                },
            )?;
        let mut signal = vec![0.0f32; full_len];
        for (t, frame) in frames.chunks_exact(fold_len).enumerate() {
            for (o, &s) in signal[t * hop..t * hop + fold_len].iter_mut().zip(frame) {
                *o += s;
            }
        }
        // The overlap-added squared window over the kept range.
        let mut envelope = vec![0.0f32; full_len];
        for t in 0..n_frames {
            for (e, &w) in envelope[t * hop..t * hop + fold_len].iter_mut().zip(window) {
                *e += w * w;
            }
        }
        let kept = trim..trim + out_len;
        if let Some(min) = envelope[kept.clone()]
            .iter()
            .copied()
            .reduce(f32::min)
            .filter(|&m| m.abs() < NOLA_EPS)
        {
            return Err(Error::InvalidArgument(format!(
                "inverse STFT: window overlap-add falls to {min:e} (n_fft {n}, hop {hop}, \
                 win {}): the window does not satisfy NOLA",
                self.win_length
            )));
        }
        signal.truncate(trim + out_len);
        signal.drain(..trim);
        for (s, e) in signal.iter_mut().zip(&envelope[kept]) {
            *s /= e;
        }
        Ok(signal)
    }

    /// Inverts a frame-major spectrogram (`n_frames` rows of `n_bins`).
    pub fn inverse(&self, spec: &Spectrogram) -> Result<Vec<f32>> {
        if spec.n_bins != self.n_bins() || spec.data.len() != spec.n_frames * spec.n_bins {
            return Err(Error::InvalidArgument(format!(
                "inverse STFT: spectrogram of {} frames x {} bins ({} values), expected {} bins",
                spec.n_frames,
                spec.n_bins,
                spec.data.len(),
                self.n_bins()
            )));
        }
        self.inverse_with(spec.n_frames, |t, s| s.copy_from_slice(spec.frame(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_signal(len: usize) -> Vec<f32> {
        // Two tones and a deterministic pseudo-noise.
        let mut state = 0x1234_5678u32;
        (0..len)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let t = i as f32 / 24_000.0;
                0.5 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                    + 0.2 * (2.0 * std::f32::consts::PI * 3_000.0 * t).sin()
                    + 0.05 * noise
            })
            .collect()
    }

    /// Direct O(n²) DFT of one frame, in f64.
    fn dft(frame: &[f64]) -> Vec<(f64, f64)> {
        let n = frame.len();
        (0..=n / 2)
            .map(|k| {
                frame
                    .iter()
                    .enumerate()
                    .fold((0.0, 0.0), |(re, im), (j, &x)| {
                        let a = -2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
                        (re + x * a.cos(), im + x * a.sin())
                    })
            })
            .collect()
    }

    #[test]
    fn hann_is_periodic_and_centred() {
        let w = hann_window(8, 8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7);
        let w = hann_window(8, 4);
        assert_eq!(&w[..2], &[0.0, 0.0]);
        assert_eq!(&w[6..], &[0.0, 0.0]);
        assert!((w[4] - 1.0).abs() < 1e-7);
    }

    #[test]
    fn reflect_pad_matches_torch() {
        // torch.nn.functional.pad([1,2,3,4,5], (3,3), mode="reflect")
        let p = reflect_pad(&[1.0, 2.0, 3.0, 4.0, 5.0], 3);
        assert_eq!(
            p,
            vec![4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0]
        );
    }

    #[test]
    fn stft_matches_direct_dft() {
        let (n_fft, hop, win) = (64, 16, 48);
        let x = test_signal(300);
        let stft = Stft::new(n_fft, hop, win).unwrap();
        let spec = stft.forward(&x).unwrap();
        assert_eq!(spec.n_frames, 1 + 300 / 16);
        assert_eq!(spec.n_bins, 33);
        let padded: Vec<f64> = reflect_pad(&x, n_fft / 2)
            .iter()
            .map(|&v| v as f64)
            .collect();
        let window = hann_window(n_fft, win);
        for t in [0, 1, 7, spec.n_frames - 1] {
            let frame: Vec<f64> = (0..n_fft)
                .map(|j| padded[t * hop + j] * window[j] as f64)
                .collect();
            for (k, (re, im)) in dft(&frame).into_iter().enumerate() {
                let c = spec.frame(t)[k];
                assert!((c.re as f64 - re).abs() < 1e-4, "frame {t} bin {k}");
                assert!((c.im as f64 - im).abs() < 1e-4, "frame {t} bin {k}");
            }
        }
    }

    #[test]
    fn stft_istft_round_trip() {
        for (n_fft, hop, win, len) in [
            (1024, 256, 1024, 24_000),
            (64, 16, 48, 999),
            (65, 13, 65, 500),
        ] {
            let x = test_signal(len);
            let spec = Stft::new(n_fft, hop, win).unwrap().forward(&x).unwrap();
            let istft = Istft::new(n_fft, hop, win, IstftPadding::Center).unwrap();
            let y = istft.inverse(&spec).unwrap();
            assert_eq!(y.len(), istft.output_len(spec.n_frames));
            // center=True gives back the first hop * (frames - 1) samples
            // (one more for an odd n_fft), never more than went in.
            assert_eq!(y.len(), hop * (spec.n_frames - 1) + n_fft % 2);
            assert!(y.len() <= x.len());
            let err = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-5, "n_fft {n_fft}: max error {err}");
        }
    }

    #[test]
    fn istft_same_padding_length() {
        let istft = Istft::new(1024, 256, 1024, IstftPadding::Same).unwrap();
        assert_eq!(istft.output_len(10), 2560);
        let y = istft
            .inverse_with(10, |_, s| s.fill(Complex::new(1.0, 0.0)))
            .unwrap();
        assert_eq!(y.len(), 2560);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Stft::new(0, 1, 1).is_err());
        assert!(Stft::new(16, 0, 16).is_err());
        assert!(Stft::new(16, 4, 17).is_err());
        let stft = Stft::new(16, 4, 16).unwrap();
        assert!(stft.forward(&[0.0; 8]).is_err());
        assert!(stft.forward(&[]).is_err());
        assert!(stft.forward(&[0.0; 9]).is_ok());
        // No overlap: the Hann window's zero makes the division impossible.
        let istft = Istft::new(16, 16, 16, IstftPadding::Center).unwrap();
        assert!(istft
            .inverse_with(4, |_, s| s.fill(Complex::new(1.0, 0.0)))
            .is_err());
        assert_eq!(istft.inverse_with(0, |_, _| {}).unwrap(), Vec::<f32>::new());
    }
}

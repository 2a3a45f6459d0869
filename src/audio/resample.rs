//! Sample-rate conversion for delivered audio, streaming: state carries
//! across sentences, so joined chunks are exactly what resampling the whole
//! request at once would give (no clicks at the joins).
//!
//! The ratio between a model's rate and an output rate is fixed, so this
//! uses rubato's synchronous FFT resampler: band-limited like a long sinc
//! filter, at a fraction of its cost, which matters when every chunk of
//! every stream passes through here.

use audioadapter_buffers::owned::InterleavedOwned;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::{Error, Result};

/// Output rates the engine delivers.
pub const SUPPORTED_RATES: [u32; 6] = [8000, 16000, 22050, 24000, 44100, 48000];

/// Input frames per FFT block: short enough that a sentence's tail is not
/// held long, long enough for a sharp anti-aliasing filter.
const CHUNK: usize = 1024;

/// A streaming mono resampler with its delay removed: output sample `k`
/// lines up with input time `k / to`, to within one input sample (the FFT
/// method leaves a sub-sample offset, at most 45 us at 22.05 kHz).
pub struct StreamResampler {
    inner: Fft<f32>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    /// Leading output samples still to drop (the filter's delay).
    skip: usize,
    consumed: u64,
    produced: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

impl StreamResampler {
    /// From a model rate (8 kHz to 96 kHz) to one of [`SUPPORTED_RATES`].
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if !SUPPORTED_RATES.contains(&to) {
            return Err(Error::InvalidParameter {
                name: "sample_rate",
                value: to.to_string(),
                reason: "must be one of 8000, 16000, 22050, 24000, 44100, 48000",
            });
        }
        if !(8000..=96_000).contains(&from) {
            return Err(Error::InvalidParameter {
                name: "model sample rate",
                value: from.to_string(),
                reason: "must be within 8000..=96000",
            });
        }
        let inner = Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
            .map_err(|e| Error::Internal(format!("resampler {from} -> {to}: {e}")))?;
        let skip = inner.output_delay();
        Ok(Self {
            inner,
            from,
            to,
            pending: Vec::new(),
            skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// Output rate.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Feeds samples; returns the output that is ready.
    pub fn process(&mut self, input: &[f32]) -> Vec<f32> {
        self.pending.extend_from_slice(input);
        self.consumed += input.len() as u64;
        let mut out = Vec::new();
        let mut start = 0;
        while self.pending.len() - start >= self.inner.input_frames_next() {
            let n = self.inner.input_frames_next();
            let block = self.pending[start..start + n].to_vec();
            self.run(&block, None, &mut out);
            start += n;
        }
        self.pending.drain(..start);
        self.produced += out.len() as u64;
        out
    }

    /// Flushes the rest: after this, the total output is
    /// `round(total_input * to / from)` samples.
    pub fn finish(&mut self) -> Vec<f32> {
        let want = (self.consumed as f64 * self.to as f64 / self.from as f64).round() as u64;
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        let partial = Indexing::new().partial_len(rest.len());
        let n = self.inner.input_frames_next();
        let mut block = rest;
        block.resize(n, 0.0);
        self.run(&block, Some(&partial), &mut out);
        // Push zeros through until the delayed tail has come out.
        while self.produced + (out.len() as u64) < want {
            self.run(&vec![0.0; n], None, &mut out);
        }
        let keep = want.saturating_sub(self.produced) as usize;
        out.truncate(keep.min(out.len()));
        self.produced += out.len() as u64;
        out
    }

    fn run(&mut self, block: &[f32], indexing: Option<&Indexing>, out: &mut Vec<f32>) {
        let n = block.len();
        let input = InterleavedOwned::new_from(block.to_vec(), 1, n)
            .expect("a mono buffer of n frames holds n samples");
        // Sizes come from the resampler itself, so processing cannot fail.
        let res = self
            .inner
            .process(&input, indexing)
            .expect("resampler given its own block size");
        let mut data = res.take_data();
        let drop = self.skip.min(data.len());
        self.skip -= drop;
        data.drain(..drop);
        out.extend(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin() as f32 * 0.5
            })
            .collect()
    }

    fn resample_all(from: u32, to: u32, x: &[f32], chunks: &[usize]) -> Vec<f32> {
        let mut r = StreamResampler::new(from, to).unwrap();
        let mut out = Vec::new();
        let mut i = 0;
        let mut k = 0;
        while i < x.len() {
            let n = chunks[k % chunks.len()].min(x.len() - i);
            out.extend(r.process(&x[i..i + n]));
            i += n;
            k += 1;
        }
        out.extend(r.finish());
        out
    }

    #[test]
    fn length_frequency_and_alignment() {
        let x = sine(22050, 22050);
        for to in [8000, 16000, 24000, 44100, 48000, 22050] {
            let y = resample_all(22050, to, &x, &[x.len()]);
            let want = (22050.0 * to as f64 / 22050.0).round() as usize;
            assert!(
                (y.len() as i64 - want as i64).abs() <= 1,
                "{to}: {}",
                y.len()
            );
            // Compare with the ideal sine at the new rate, away from the
            // edges: amplitude and frequency kept, delay removed to within
            // one input sample (the FFT method leaves a sub-sample offset).
            let (a, b) = (y.len() / 10, y.len() * 9 / 10);
            let err_at = |shift_in: f64| {
                (a..b)
                    .map(|i| {
                        let t = i as f64 / to as f64 + shift_in / 22050.0;
                        let ideal = (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32 * 0.5;
                        (y[i] - ideal).abs()
                    })
                    .fold(0.0, f32::max)
            };
            let err = (-20..=20)
                .map(|k| err_at(k as f64 / 20.0))
                .fold(f32::INFINITY, f32::min);
            assert!(err < 0.01, "{to}: max error {err}");
        }
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let x = sine(22050, 10_000);
        for to in [16000, 48000, 8000] {
            let whole = resample_all(22050, to, &x, &[x.len()]);
            let pieces = resample_all(22050, to, &x, &[1, 0, 777, 3, 2048, 5000]);
            assert_eq!(whole.len(), pieces.len());
            let diff = whole
                .iter()
                .zip(&pieces)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-6, "{to}: {diff}");
            // No click at any join: steps stay those of a 440 Hz sine.
            let max_step = 2.0 * std::f32::consts::PI * 440.0 / to as f32 * 0.5 * 1.05;
            let (a, b) = (200, pieces.len() - 200);
            for w in pieces[a..b].windows(2) {
                assert!(
                    (w[1] - w[0]).abs() <= max_step,
                    "{to}: step {}",
                    w[1] - w[0]
                );
            }
        }
    }

    #[test]
    fn rejects_unsupported_rates() {
        assert!(matches!(
            StreamResampler::new(22050, 11025),
            Err(Error::InvalidParameter {
                name: "sample_rate",
                ..
            })
        ));
        assert!(StreamResampler::new(1000, 16000).is_err());
        let mut r = StreamResampler::new(22050, 16000).unwrap();
        assert!(r.process(&[]).is_empty());
        assert!(r.finish().is_empty());
    }
}

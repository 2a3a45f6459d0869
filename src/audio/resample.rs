//! Sample-rate conversion for delivered audio, streaming: state carries
//! across sentences, so the chunks of a request join up into exactly what
//! resampling the whole request at once would give (no clicks at joins).
//!
//! # Why rubato's synchronous FFT resampler
//!
//! The ratio between a model's rate and an output rate is fixed for the
//! whole request, so nothing needs the asynchronous (variable-ratio) sinc
//! interpolators. The FFT resampler filters and changes the rate in the
//! frequency domain, one block at a time with overlap-add: the result is a
//! windowed-sinc low-pass as long as a block (hundreds of taps, cut-off
//! close to the lower Nyquist frequency, far below anything a voice has
//! near it) for a few small FFTs per block. That is both better and
//! cheaper than a sinc interpolator of useful length, and every chunk of
//! every stream passes through here.
//!
//! # Exact delay compensation
//!
//! rubato's filter is centred on input sample `block_in / 2` of each block,
//! so its delay is `block_in / 2` input samples. When the block is an even
//! number of the smallest whole-ratio units, that is exactly
//! `block_out / 2` output samples (what `output_delay` reports), and
//! dropping that many leading output samples leaves no fractional offset:
//! input sample `n` lands on output time `n * to / from`. With an odd
//! block the delay would be half an input sample off, so the block size is
//! chosen even (see `block_units`).

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::{Error, Result};

/// Largest sample magnitude fed to the resampler: far beyond audio's
/// [-1, 1], far below where a block's spectrum overflows f32.
const MAX_MAGNITUDE: f32 = 1e6;

/// Output rates the engine delivers.
pub const SUPPORTED_RATES: [u32; 6] = [8000, 16000, 22050, 24000, 44100, 48000];

/// Model rates the resampler accepts as input.
pub const MODEL_RATES: std::ops::RangeInclusive<u32> = 8000..=96_000;

/// Smallest FFT block, in input samples. It is also the filter length: 256
/// taps put the cut-off within a few percent of Nyquist, while a block
/// stays a few milliseconds of audio (the longest a sentence's last
/// samples wait before [`StreamResampler::finish`]).
const MIN_BLOCK_IN: usize = 256;

/// A streaming mono resampler with its filter delay removed.
///
/// Output sample `k` is the signal at time `k / to`, the same instant as
/// input sample `k * from / to`: a click at input sample `n` appears at
/// output sample `n * to / from`.
pub struct StreamResampler {
    inner: Fft<f32>,
    from: u32,
    to: u32,
    /// Input samples per FFT block (the resampler is fed whole blocks).
    block_in: usize,
    /// Output samples per FFT block.
    block_out: usize,
    /// Input not yet making up a whole block.
    pending: Vec<f32>,
    /// Leading output samples still to drop (what is left of the delay).
    skip: usize,
    /// Input samples taken since the start (or the last `finish`).
    consumed: u64,
    /// Output samples returned since the start (or the last `finish`).
    produced: u64,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("block_in", &self.block_in)
            .field("block_out", &self.block_out)
            .finish()
    }
}

/// Number of whole-ratio units (`unit_in` input and `unit_out` output
/// samples each, the rates divided by their gcd) in a block.
///
/// Even, so that half a block is a whole number of both input and output
/// samples (exact delay); at least [`MIN_BLOCK_IN`] input samples; and,
/// where one of the next few even counts allows it, with both block sizes
/// made of the factors 2, 3, 5 and 7 only, which the FFTs handle fastest
/// (24000 -> 16000 at 86 units would need FFTs with a factor of 43 and
/// cost twice as much as at 90). A model rate sharing few factors with the
/// output rate (say 22051 Hz) has a large unit and so a long block (2 s):
/// still exact, but more audio waits for `finish`.
fn block_units(unit_in: usize, unit_out: usize) -> usize {
    let least = MIN_BLOCK_IN.div_ceil(unit_in).max(2);
    let least = least + least % 2;
    (least..=2 * least)
        .step_by(2)
        .find(|k| is_7_smooth(k * unit_in) && is_7_smooth(k * unit_out))
        .unwrap_or(least)
}

/// Whether `n` has no prime factor above 7.
fn is_7_smooth(mut n: usize) -> bool {
    for p in [2, 3, 5, 7] {
        while n > 0 && n.is_multiple_of(p) {
            n /= p;
        }
    }
    n == 1
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn check_rates(from: u32, to: u32) -> Result<()> {
    if !SUPPORTED_RATES.contains(&to) {
        return Err(Error::InvalidParameter {
            name: "sample_rate",
            value: to.to_string(),
            reason: "must be one of 8000, 16000, 22050, 24000, 44100, 48000",
        });
    }
    if !MODEL_RATES.contains(&from) {
        return Err(Error::InvalidParameter {
            name: "model_sample_rate",
            value: from.to_string(),
            reason: "must be within 8000..=96000",
        });
    }
    Ok(())
}

impl StreamResampler {
    /// From a model rate (8 kHz to 96 kHz) to one of [`SUPPORTED_RATES`].
    ///
    /// Errors with [`Error::InvalidParameter`] (`sample_rate`) for any
    /// other output rate, or (`model_sample_rate`) for an input rate out
    /// of range.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        check_rates(from, to)?;
        let g = gcd(from, to);
        let (unit_in, unit_out) = ((from / g) as usize, (to / g) as usize);
        let units = block_units(unit_in, unit_out);
        let (block_in, block_out) = (units * unit_in, units * unit_out);
        // `FixedSync::Both` with a chunk of exactly one block: every call
        // transforms one block, nothing is buffered inside rubato, and the
        // block boundaries fall on the same instants in input and output.
        let inner = Fft::<f32>::new_custom(
            from as usize,
            to as usize,
            block_in,
            1,
            1,
            WindowFunction::BlackmanHarris2,
            FixedSync::Both,
        )
        .map_err(|e| Error::Internal(format!("resampler {from} -> {to}: {e}")))?;
        debug_assert_eq!(
            (inner.fft_size_in(), inner.fft_size_out()),
            (block_in, block_out)
        );
        let skip = inner.output_delay();
        Ok(Self {
            inner,
            from,
            to,
            block_in,
            block_out,
            pending: Vec::with_capacity(block_in),
            skip,
            consumed: 0,
            produced: 0,
        })
    }

    /// Input rate.
    pub fn input_rate(&self) -> u32 {
        self.from
    }

    /// Output rate.
    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Feeds any number of samples (none is fine); returns the output that
    /// is ready. Input is converted a whole block at a time, so up to one
    /// block (a few ms) plus the filter delay is held until later calls or
    /// [`finish`](Self::finish).
    pub fn process(&mut self, input: &[f32]) -> Vec<f32> {
        self.consumed += input.len() as u64;
        let blocks_ready = (self.pending.len() + input.len()) / self.block_in;
        let mut out = Vec::with_capacity(blocks_ready * self.block_out);
        let mut rest = input;
        if !self.pending.is_empty() {
            let take = (self.block_in - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() < self.block_in {
                return out;
            }
            let block = std::mem::take(&mut self.pending);
            self.run_block(&block, &mut out);
            self.pending = block;
            self.pending.clear();
        }
        // Whole blocks straight from the caller's slice, no copy.
        let mut blocks = rest.chunks_exact(self.block_in);
        for block in &mut blocks {
            self.run_block(block, &mut out);
        }
        self.pending.extend_from_slice(blocks.remainder());
        self.produced += out.len() as u64;
        out
    }

    /// Flushes the rest, padding the input with silence. After this the
    /// total output is `round(total_input * to / from)` samples. The
    /// resampler is then back to its initial state, ready for a new stream.
    pub fn finish(&mut self) -> Vec<f32> {
        let want = expected_len(self.consumed, self.from, self.to);
        let mut out = Vec::new();
        let mut tail = std::mem::take(&mut self.pending);
        // Zero-padded blocks until the delayed end has come out.
        while self.produced + (out.len() as u64) < want {
            tail.resize(self.block_in, 0.0);
            self.run_block(&tail, &mut out);
            tail.clear();
        }
        out.truncate(want.saturating_sub(self.produced) as usize);
        self.pending = tail; // keeps its allocation for the next stream
        self.reset();
        out
    }

    /// Drops all state: the next sample fed starts a new stream.
    pub fn reset(&mut self) {
        self.inner.reset();
        self.pending.clear();
        self.skip = self.inner.output_delay();
        self.consumed = 0;
        self.produced = 0;
    }

    /// Converts one whole block, appending its output minus any delay
    /// still to drop.
    fn run_block(&mut self, block: &[f32], out: &mut Vec<f32>) {
        // NaN or magnitudes that overflow the FFT make rubato panic (found
        // by fuzzing reference clips): such samples are not audio, and
        // are fed as silence or clamped.
        let cleaned: Vec<f32>;
        let block = if block.iter().all(|x| x.abs() <= MAX_MAGNITUDE) {
            block
        } else {
            cleaned = block
                .iter()
                .map(|&x| {
                    if x.is_nan() {
                        0.0
                    } else {
                        x.clamp(-MAX_MAGNITUDE, MAX_MAGNITUDE)
                    }
                })
                .collect();
            &cleaned
        };
        let start = out.len();
        out.resize(start + self.block_out, 0.0);
        // Sizes come from the resampler's own block sizes, so neither the
        // adapters nor processing can fail.
        let input = InterleavedSlice::new(block, 1, self.block_in).expect("one block of input");
        let mut output =
            InterleavedSlice::new_mut(&mut out[start..], 1, self.block_out).expect("one block");
        self.inner
            .process_into_buffer(&input, &mut output, None::<&Indexing>)
            .expect("resampler fed its own block size");
        let drop = self.skip.min(self.block_out);
        if drop > 0 {
            out.drain(start..start + drop);
            self.skip -= drop;
        }
    }
}

/// `round(n * to / from)`, halves rounded up, without floating point.
fn expected_len(n: u64, from: u32, to: u32) -> u64 {
    let (n, from, to) = (n as u128, from as u128, to as u128);
    ((2 * n * to + from) / (2 * from)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    const F: f64 = 440.0;
    const AMP: f64 = 0.5;
    /// Keeps zero crossings off sample instants, where the sign of the
    /// ideal sine itself would be down to rounding.
    const PHASE: f64 = 0.3;

    fn sine_at(rate: u32, i: usize) -> f32 {
        ((2.0 * PI * F * i as f64 / rate as f64 + PHASE).sin() * AMP) as f32
    }

    fn sine(rate: u32, n: usize) -> Vec<f32> {
        (0..n).map(|i| sine_at(rate, i)).collect()
    }

    /// Feeds `x` in pieces of the given sizes (cycled); returns the output
    /// and where each join between pieces falls in the output.
    fn resample_in(from: u32, to: u32, x: &[f32], sizes: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let mut r = StreamResampler::new(from, to).unwrap();
        let (mut out, mut joins) = (Vec::new(), Vec::new());
        let (mut i, mut k) = (0, 0);
        while i < x.len() {
            let n = sizes[k % sizes.len()].min(x.len() - i);
            out.extend(r.process(&x[i..i + n]));
            i += n;
            k += 1;
            joins.push((i as f64 * to as f64 / from as f64) as usize);
        }
        out.extend(r.finish());
        (out, joins)
    }

    fn resample(from: u32, to: u32, x: &[f32]) -> Vec<f32> {
        resample_in(from, to, x, &[x.len().max(1)]).0
    }

    const RATES: [(u32, u32); 9] = [
        (22050, 48000),
        (22050, 16000),
        (22050, 8000),
        (22050, 44100),
        (22050, 24000),
        (22050, 22050),
        (24000, 16000),
        (24000, 22050),
        (16000, 48000),
    ];

    /// NaN and magnitudes past f32's FFT range come out finite instead of
    /// panicking inside the resampler (found by fuzzing reference clips).
    #[test]
    fn samples_that_are_not_audio_do_not_panic() {
        let mut r = StreamResampler::new(22050, 24000).unwrap();
        let mut x = vec![0.1f32; 5000];
        x[100] = f32::NAN;
        x[2000] = 3e38;
        x[3000] = -f32::MAX;
        let mut out = r.process(&x);
        out.extend(r.finish());
        assert!(out.iter().all(|v| v.is_finite()));
        assert_eq!(out.len(), 5442);
    }

    #[test]
    fn output_length_is_the_rounded_ratio() {
        for (from, to) in RATES {
            for n in [0, 1, 2, 299, 1000, 22050, 22051] {
                let y = resample(from, to, &vec![0.1; n]);
                assert_eq!(
                    y.len() as u64,
                    expected_len(n as u64, from, to),
                    "{from} -> {to}, {n} in"
                );
            }
        }
        assert_eq!(expected_len(22050, 22050, 16000), 16000);
        assert_eq!(expected_len(1, 22050, 16000), 1); // 0.73 rounds up
        assert_eq!(expected_len(3, 22050, 8000), 1); // 1.09 rounds down
    }

    #[test]
    fn sine_keeps_frequency_amplitude_and_timing() {
        for (from, to) in RATES {
            let x = sine(from, from as usize);
            let y = resample(from, to, &x);
            // Against the ideal sine sampled at the new rate, with no
            // shift allowed: any delay left over would show up as error
            // (0.1 input sample at 440 Hz is ~1e-2 here).
            let (a, b) = (y.len() / 20, y.len() * 19 / 20);
            let err = (a..b)
                .map(|i| (y[i] - sine_at(to, i)).abs())
                .fold(0.0, f32::max);
            assert!(err < 2e-3, "{from} -> {to}: max error {err}");
            // Same frequency: as many zero crossings as the ideal sine
            // (~800 of them over this span).
            let ideal: Vec<f32> = (a..b).map(|i| sine_at(to, i)).collect();
            let crossings = |v: &[f32]| {
                v.windows(2)
                    .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                    .count()
            };
            assert_eq!(crossings(&y[a..b]), crossings(&ideal), "{from} -> {to}");
        }
    }

    #[test]
    fn a_click_lands_at_the_scaled_position() {
        for (from, to) in RATES {
            let g = gcd(from, to) as usize;
            // An input position that maps to a whole output sample.
            let n = 7 * from as usize / g;
            let m = 7 * to as usize / g;
            let mut x = vec![0.0; n * 2 + 1000];
            x[n] = 1.0;
            let y = resample(from, to, &x);
            let peak = (0..y.len())
                .max_by(|&i, &j| y[i].abs().total_cmp(&y[j].abs()))
                .unwrap();
            assert_eq!(peak, m, "{from} -> {to}");
            // Centred on the sample, not between two: symmetric neighbours.
            assert!(
                (y[m - 1] - y[m + 1]).abs() < 1e-4,
                "{from} -> {to}: {} vs {}",
                y[m - 1],
                y[m + 1]
            );
        }
    }

    #[test]
    fn chunking_does_not_change_the_output() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut sizes: Vec<usize> = vec![0, 1, 0, 1, 2, 3];
        for _ in 0..200 {
            // xorshift: reproducible random sizes, 0..=1500.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            sizes.push((rng % 1501) as usize);
        }
        for (from, to) in RATES {
            let x = sine(from, 30_000);
            let whole = resample(from, to, &x);
            let (pieces, joins) = resample_in(from, to, &x, &sizes);
            assert_eq!(whole.len(), pieces.len(), "{from} -> {to}");
            let diff = whole
                .iter()
                .zip(&pieces)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(diff <= 1e-6, "{from} -> {to}: {diff}");
            // No click near any join: steps stay those of the sine.
            let max_step = (2.0 * PI * F / to as f64 * AMP) as f32 + 1e-3;
            for &j in joins.iter().filter(|&&j| j > 300 && j + 300 < pieces.len()) {
                for w in pieces[j - 3..j + 3].windows(2) {
                    let step = (w[1] - w[0]).abs();
                    assert!(step <= max_step, "{from} -> {to} at {j}: step {step}");
                }
            }
        }
    }

    #[test]
    fn finish_starts_a_new_stream() {
        let x = sine(22050, 5000);
        let mut r = StreamResampler::new(22050, 16000).unwrap();
        let mut first = r.process(&x);
        first.extend(r.finish());
        let mut second = r.process(&x);
        second.extend(r.finish());
        assert_eq!(first, second);
        assert!(r.process(&[]).is_empty());
        assert!(r.finish().is_empty());
    }

    #[test]
    fn rejects_unsupported_rates() {
        for (from, to, name) in [
            (22050, 11025, "sample_rate"),
            (22050, 0, "sample_rate"),
            (22050, 96000, "sample_rate"),
            (1000, 16000, "model_sample_rate"),
            (192_000, 16000, "model_sample_rate"),
        ] {
            match StreamResampler::new(from, to) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{from} -> {to}: {other:?}"),
            }
        }
        for to in SUPPORTED_RATES {
            assert!(StreamResampler::new(22050, to).is_ok());
        }
    }

    #[test]
    fn blocks_are_even_multiples_of_the_ratio_unit() {
        // 22050 -> 16000, 48000, 44100; 24000 -> 16000, 44100.
        assert_eq!(block_units(441, 320), 2);
        assert_eq!(block_units(147, 320), 2);
        assert_eq!(block_units(1, 2), 256);
        assert_eq!(block_units(3, 2), 90);
        assert_eq!(block_units(80, 147), 4);
        // No smooth size in reach: the least even count.
        assert_eq!(block_units(22051, 16000), 2);
        assert!(is_7_smooth(882) && is_7_smooth(640) && !is_7_smooth(258));
        let r = StreamResampler::new(22050, 16000).unwrap();
        assert_eq!((r.block_in, r.block_out), (882, 640));
    }

    #[test]
    fn is_send() {
        fn send<T: Send>() {}
        send::<StreamResampler>();
    }

    /// Cost of resampling, release builds only:
    /// `cargo test --release --lib audio::resample -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost_per_second_of_audio() {
        let x = sine(22050, 22050 * 60);
        for to in [16000, 48000, 8000, 44100, 24000] {
            let mut r = StreamResampler::new(22050, to).unwrap();
            let t = std::time::Instant::now();
            let mut n = 0;
            // Sentence-sized pieces, as the engine feeds them.
            for piece in x.chunks(22050 * 3 / 2) {
                n += r.process(piece).len();
            }
            n += r.finish().len();
            let per_second = t.elapsed().as_secs_f64() / 60.0;
            println!(
                "22050 -> {to}: {:.1} us per second of audio ({n} out)",
                per_second * 1e6
            );
        }
    }
}

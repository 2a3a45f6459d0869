//! The per-request output pipeline: sentences joined at the model's rate,
//! resampled to the requested rate, converted to the requested format.
//!
//! Joining comes first so that gap lengths are exact in model samples and
//! the resampler sees one continuous signal: a cross-fade or a silence is
//! resampled like any other audio, with no join inside the resampler.

use super::format::{SampleFormat, Samples};
use super::join::{Piece, SentenceGap, SentenceJoiner};
use super::resample::{StreamResampler, MODEL_RATES};
use crate::{Error, Result};

/// Turns a request's sentences (model rate, f32) into delivered audio.
#[derive(Debug)]
pub struct OutputStage {
    joiner: SentenceJoiner,
    /// `None` when the output rate is the model's.
    resampler: Option<StreamResampler>,
    format: SampleFormat,
    rate: u32,
    model_rate: u32,
    samples_out: u64,
}

impl OutputStage {
    /// A pipeline from `model_rate` (8 kHz to 96 kHz) to `out_rate`:
    /// `None` or `Some(model_rate)` keeps the model's rate (no
    /// resampling), anything else must be one of
    /// [`SUPPORTED_RATES`](super::resample::SUPPORTED_RATES).
    ///
    /// Errors with [`Error::InvalidParameter`] for an unsupported rate or
    /// a gap over its limits.
    pub fn new(
        model_rate: u32,
        out_rate: Option<u32>,
        format: SampleFormat,
        gap: SentenceGap,
    ) -> Result<Self> {
        if !MODEL_RATES.contains(&model_rate) {
            return Err(Error::InvalidParameter {
                name: "model_sample_rate",
                value: model_rate.to_string(),
                reason: "must be within 8000..=96000",
            });
        }
        let rate = out_rate.unwrap_or(model_rate);
        let resampler = if rate == model_rate {
            None
        } else {
            Some(StreamResampler::new(model_rate, rate)?)
        };
        Ok(Self {
            joiner: SentenceJoiner::new(gap, model_rate)?,
            resampler,
            format,
            rate,
            model_rate,
            samples_out: 0,
        })
    }

    /// Output rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Output format.
    pub fn format(&self) -> SampleFormat {
        self.format
    }

    /// Takes the next sentence; returns what is ready for it (possibly
    /// nothing: a cross-fade tail or a partial resampler block waits for
    /// the next sentence). On `is_last` every held-back sample comes out;
    /// joiner and resampler are then back at their start, so a further
    /// sentence would begin a new stream (without a gap before it).
    pub fn push(&mut self, sentence: &[f32], is_last: bool) -> Samples {
        self.push_piece(sentence, Piece::whole(is_last))
    }

    /// Takes the next piece of a sentence (a model that streams within a
    /// sentence); the same output as its sentence pushed whole, cut where
    /// the pieces were.
    pub fn push_piece(&mut self, samples: &[f32], piece: Piece) -> Samples {
        let joined = self.joiner.push_piece(samples, piece);
        let audio = match self.resampler.as_mut() {
            None => joined,
            Some(r) => {
                let mut out = r.process(&joined);
                if piece.is_last {
                    out.extend(r.finish());
                }
                out
            }
        };
        self.samples_out += audio.len() as u64;
        Samples::from_f32(audio, self.format)
    }

    /// Where sample `model_sample` (model rate) of the sentence being
    /// pushed lands in the output, as an output sample index from the
    /// stream's start: after its gap or within its cross-fade (see
    /// [`SentenceJoiner::sentence_origin`]), at the output rate (the
    /// resampler keeps the stream's timing: its delay is removed).
    pub fn sentence_position(&self, model_sample: u64) -> u64 {
        self.to_output(self.joiner.sentence_origin() + model_sample)
    }

    fn to_output(&self, model_sample: u64) -> u64 {
        match &self.resampler {
            None => model_sample,
            Some(_) => {
                let (rate, model) = (self.rate as u128, self.model_rate as u128);
                ((model_sample as u128 * rate + model / 2) / model) as u64
            }
        }
    }

    /// Output samples delivered so far (including the chunk just
    /// returned): the offset of the next chunk, and after the last
    /// sentence the request's total length.
    pub fn samples_out(&self) -> u64 {
        self.samples_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sine(rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    /// Pushes `sentences`; checks that `samples_out` is the running offset
    /// and returns the output as floats.
    fn run(stage: &mut OutputStage, sentences: &[Vec<f32>]) -> Vec<f32> {
        let mut out = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            let chunk = stage.push(s, i + 1 == sentences.len());
            assert_eq!(chunk.format(), stage.format());
            out.extend(chunk.to_f32());
            assert_eq!(stage.samples_out(), out.len() as u64);
        }
        out
    }

    #[test]
    fn resampled_i16_output_and_offsets() {
        let mut s =
            OutputStage::new(22050, Some(16000), SampleFormat::I16, SentenceGap::None).unwrap();
        assert_eq!(s.sample_rate(), 16000);
        let a = s.push(&sine(22050, 22050), false);
        assert!(matches!(a, Samples::I16(_)));
        // Most of the first sentence is out already; the rest waits for
        // the resampler's delay and block.
        assert!(a.len() > 15_000 && a.len() < 16_000, "{}", a.len());
        let b = s.push(&sine(22050, 22050), true);
        assert_eq!(a.len() + b.len(), 32000);
        assert_eq!(s.samples_out(), 32000);
    }

    #[test]
    fn same_rate_is_passed_through() {
        for out_rate in [None, Some(22050)] {
            let mut s =
                OutputStage::new(22050, out_rate, SampleFormat::F32, SentenceGap::None).unwrap();
            assert_eq!(s.sample_rate(), 22050);
            let x = sine(22050, 1000);
            assert_eq!(s.push(&x, true), Samples::F32(x));
        }
        // A model rate outside the delivered set is fine when kept.
        let s = OutputStage::new(11025, None, SampleFormat::I16, SentenceGap::None).unwrap();
        assert_eq!(s.sample_rate(), 11025);
    }

    #[test]
    fn i16_is_the_converted_f32() {
        let x = [sine(22050, 3000), sine(22050, 2000)];
        let gap = SentenceGap::Crossfade(Duration::from_millis(20));
        let mut f = OutputStage::new(22050, Some(48000), SampleFormat::F32, gap).unwrap();
        let mut i = OutputStage::new(22050, Some(48000), SampleFormat::I16, gap).unwrap();
        let (mut fs, mut is) = (
            Samples::empty(SampleFormat::F32),
            Samples::empty(SampleFormat::I16),
        );
        for (k, s) in x.iter().enumerate() {
            fs.append(&f.push(s, k == 1));
            is.append(&i.push(s, k == 1));
        }
        assert_eq!(Samples::from_f32(fs.to_f32(), SampleFormat::I16), is);
        // 5000 - 441 faded samples at 22050 Hz, times 48000 / 22050.
        assert_eq!(fs.len(), 9924);
    }

    #[test]
    fn gaps_are_added_before_resampling() {
        let gap = SentenceGap::Silence(Duration::from_millis(100));
        let mut s = OutputStage::new(22050, None, SampleFormat::F32, gap).unwrap();
        let out = run(&mut s, &[vec![0.5; 100], vec![0.5; 100]]);
        assert_eq!(out.len(), 100 + 2205 + 100);
        let mut s = OutputStage::new(22050, Some(44100), SampleFormat::F32, gap).unwrap();
        let out = run(&mut s, &[vec![0.5; 100], vec![0.5; 100], vec![]]);
        assert_eq!(out.len(), 2 * (100 + 2205 + 100));
        // The middle of the silence is silent.
        assert!(out[1000..4000].iter().all(|x| x.abs() < 1e-3));
    }

    #[test]
    fn output_is_continuous_across_sentences() {
        // One sine cut into sentences comes out as that sine resampled.
        let x = sine(22050, 22050);
        let parts: Vec<Vec<f32>> = x.chunks(5000).map(<[f32]>::to_vec).collect();
        let mut s =
            OutputStage::new(22050, Some(24000), SampleFormat::F32, SentenceGap::None).unwrap();
        let out = run(&mut s, &parts);
        assert_eq!(out.len(), 24000);
        let ideal = sine(24000, 24000);
        let err = (500..23500)
            .map(|i| (out[i] - ideal[i]).abs())
            .fold(0.0, f32::max);
        assert!(err < 2e-3, "{err}");
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = [
            (22050, Some(12345), SentenceGap::None, "sample_rate"),
            (22050, Some(0), SentenceGap::None, "sample_rate"),
            (0, None, SentenceGap::None, "model_sample_rate"),
            (
                22050,
                None,
                SentenceGap::Silence(Duration::from_secs(3)),
                "silence",
            ),
            (
                22050,
                Some(16000),
                SentenceGap::Crossfade(Duration::from_millis(150)),
                "crossfade",
            ),
        ];
        for (model, out, gap, name) in bad {
            match OutputStage::new(model, out, SampleFormat::F32, gap) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{model} {out:?} {gap:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn is_send() {
        fn send<T: Send>() {}
        send::<OutputStage>();
    }
}

//! The per-request output pipeline: sentences joined at the model's rate,
//! resampled to the requested rate, converted to the requested format.

use super::format::{SampleFormat, Samples};
use super::join::{SentenceGap, SentenceJoiner};
use super::resample::StreamResampler;
use crate::Result;

/// Turns a request's sentences (model rate, f32) into delivered audio.
#[derive(Debug)]
pub struct OutputStage {
    joiner: SentenceJoiner,
    resampler: Option<StreamResampler>,
    format: SampleFormat,
    rate: u32,
    samples_out: u64,
}

impl OutputStage {
    /// `out_rate`: `None` (or the model's rate) keeps the model's rate.
    pub fn new(
        model_rate: u32,
        out_rate: Option<u32>,
        format: SampleFormat,
        gap: SentenceGap,
    ) -> Result<Self> {
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
            samples_out: 0,
        })
    }

    /// Output rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Takes the next sentence; returns what is ready for it. On `is_last`
    /// every held-back sample (cross-fade tail, resampler delay) comes out.
    pub fn push(&mut self, sentence: &[f32], is_last: bool) -> Samples {
        let joined = self.joiner.push(sentence, is_last);
        let audio = match self.resampler.as_mut() {
            None => joined,
            Some(r) => {
                let mut out = r.process(&joined);
                if is_last {
                    out.extend(r.finish());
                }
                out
            }
        };
        self.samples_out += audio.len() as u64;
        Samples::from_f32(audio, self.format)
    }

    /// Samples delivered so far.
    pub fn samples_out(&self) -> u64 {
        self.samples_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_rates_and_offsets() {
        let mut s =
            OutputStage::new(22050, Some(16000), SampleFormat::I16, SentenceGap::None).unwrap();
        assert_eq!(s.sample_rate(), 16000);
        let a = s.push(&vec![0.1; 22050], false);
        let b = s.push(&vec![0.1; 22050], true);
        assert!(matches!(a, Samples::I16(_)));
        assert_eq!(a.len() + b.len(), 32000);
        assert_eq!(s.samples_out(), 32000);
        let mut same = OutputStage::new(
            22050,
            Some(22050),
            SampleFormat::F32,
            SentenceGap::Silence(Duration::from_millis(100)),
        )
        .unwrap();
        same.push(&[0.5; 100], false);
        assert_eq!(same.push(&[0.5; 100], true).len(), 100 + 2205);
        assert!(
            OutputStage::new(22050, Some(12345), SampleFormat::F32, SentenceGap::None).is_err()
        );
    }
}

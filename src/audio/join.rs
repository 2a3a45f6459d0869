//! What goes between sentences: nothing, silence, or a short cross-fade.

use std::time::Duration;

use crate::{Error, Result};

/// Longest silence between sentences.
pub const MAX_SILENCE: Duration = Duration::from_secs(2);
/// Longest cross-fade between sentences.
pub const MAX_CROSSFADE: Duration = Duration::from_millis(100);

/// How consecutive sentences are joined.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SentenceGap {
    /// Back to back (the model's own pauses only).
    #[default]
    None,
    /// This much silence between sentences (at most 2 s).
    Silence(Duration),
    /// Overlap this much of the end of one sentence with the start of the
    /// next, fading one out and the other in (at most 100 ms).
    Crossfade(Duration),
}

/// Joins a request's sentences as they arrive. With a cross-fade, the tail
/// of each sentence is held back until the next one comes (or the request
/// ends), so the output is delayed by at most the fade length.
#[derive(Debug, Clone)]
pub struct SentenceJoiner {
    gap: SentenceGap,
    gap_samples: usize,
    started: bool,
    /// Cross-fade: the held-back tail of the previous sentence.
    tail: Vec<f32>,
}

impl SentenceJoiner {
    /// A joiner for audio at `sample_rate`; rejects gaps over the limits.
    pub fn new(gap: SentenceGap, sample_rate: u32) -> Result<Self> {
        let (d, max, name) = match gap {
            SentenceGap::None => (Duration::ZERO, Duration::ZERO, "gap"),
            SentenceGap::Silence(d) => (d, MAX_SILENCE, "silence"),
            SentenceGap::Crossfade(d) => (d, MAX_CROSSFADE, "crossfade"),
        };
        if d > max {
            return Err(Error::InvalidParameter {
                name,
                value: format!("{d:?}"),
                reason: "silence must be at most 2 s and a cross-fade at most 100 ms",
            });
        }
        let gap_samples = (d.as_secs_f64() * sample_rate as f64).round() as usize;
        Ok(Self {
            gap,
            gap_samples,
            started: false,
            tail: Vec::new(),
        })
    }

    /// Takes the next sentence; returns the audio ready to deliver. On
    /// `is_last` everything held back is included.
    pub fn push(&mut self, samples: &[f32], is_last: bool) -> Vec<f32> {
        let first = !self.started;
        self.started = true;
        match self.gap {
            SentenceGap::None => samples.to_vec(),
            SentenceGap::Silence(_) => {
                let pad = if first { 0 } else { self.gap_samples };
                let mut out = vec![0.0; pad + samples.len()];
                out[pad..].copy_from_slice(samples);
                out
            }
            SentenceGap::Crossfade(_) => self.crossfade(samples, is_last),
        }
    }

    fn crossfade(&mut self, samples: &[f32], is_last: bool) -> Vec<f32> {
        // The overlap is limited by what both sides have.
        let n = self.tail.len().min(samples.len());
        let mut out = Vec::with_capacity(self.tail.len() + samples.len());
        let held = self.tail.len() - n;
        out.extend_from_slice(&self.tail[..held]);
        for (i, (&old, &new)) in self.tail[held..].iter().zip(&samples[..n]).enumerate() {
            // Equal-power fade: sentences are uncorrelated, so the sum of
            // squares of the gains stays 1 and loudness does not dip.
            let t = (i as f32 + 0.5) / n as f32;
            let (fade_in, fade_out) = (t * std::f32::consts::FRAC_PI_2).sin_cos();
            out.push(old * fade_out + new * fade_in);
        }
        let rest = &samples[n..];
        if is_last {
            out.extend_from_slice(rest);
            self.tail.clear();
        } else {
            let keep = self.gap_samples.min(rest.len());
            out.extend_from_slice(&rest[..rest.len() - keep]);
            self.tail = rest[rest.len() - keep..].to_vec();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS10: Duration = Duration::from_millis(10);

    #[test]
    fn silence_goes_between_sentences_only() {
        let mut j = SentenceJoiner::new(SentenceGap::Silence(MS10), 1000).unwrap();
        assert_eq!(j.push(&[1.0; 5], false), vec![1.0; 5]);
        let second = j.push(&[2.0; 5], true);
        assert_eq!(second.len(), 15);
        assert!(second[..10].iter().all(|&x| x == 0.0) && second[10..] == [2.0; 5]);
    }

    #[test]
    fn crossfade_overlaps_and_keeps_total_length() {
        let rate = 1000;
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), rate).unwrap();
        let a = vec![1.0f32; 50];
        let b = vec![-1.0f32; 40];
        let c = vec![0.5f32; 30];
        let mut out = j.push(&a, false);
        assert_eq!(out.len(), 40, "the last 10 are held back");
        out.extend(j.push(&b, false));
        out.extend(j.push(&c, true));
        assert_eq!(out.len(), 50 + 40 + 30 - 2 * 10);
        // Continuity: no jump larger than the fade's step at the joins.
        for w in out.windows(2) {
            assert!((w[1] - w[0]).abs() < 0.35, "{w:?}");
        }
        // Equal power: the midpoint of a fade mixes both at ~0.707.
        assert!((out[45] - (0.707 * 1.0 - 0.707 * 1.0)).abs() < 0.2);
    }

    #[test]
    fn crossfade_handles_short_and_empty_sentences() {
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        let mut total = j.push(&[1.0; 4], false).len();
        total += j.push(&[], false).len();
        total += j.push(&[2.0; 3], false).len();
        total += j.push(&[3.0; 20], true).len();
        // 4 held, nothing to overlap with the empty one, 3 overlap with
        // the held 4, then the last overlaps what is still held.
        assert!((27 - 10..=27).contains(&total), "{total}");
        let mut single = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        assert_eq!(single.push(&[1.0; 30], true).len(), 30);
    }

    #[test]
    fn limits_are_enforced() {
        for gap in [
            SentenceGap::Silence(Duration::from_secs(3)),
            SentenceGap::Crossfade(Duration::from_millis(101)),
        ] {
            let e = SentenceJoiner::new(gap, 22050).unwrap_err();
            assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
        }
        assert!(SentenceJoiner::new(SentenceGap::None, 8000).is_ok());
    }
}

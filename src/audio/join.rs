//! What goes between sentences: nothing, silence, or a short cross-fade.
//!
//! The joiner works at the model's rate, before resampling, so gap lengths
//! are exact in model samples and the resampler sees one continuous signal.

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
    /// This much silence between sentences (at most [`MAX_SILENCE`]).
    Silence(Duration),
    /// Overlap this much of the end of one sentence with the start of the
    /// next, fading one out and the other in (at most [`MAX_CROSSFADE`]).
    Crossfade(Duration),
}

impl SentenceGap {
    /// Checks the limits: [`Error::InvalidParameter`] (`silence` or
    /// `crossfade`) when the duration is over them.
    pub fn validate(&self) -> Result<()> {
        match *self {
            SentenceGap::None => Ok(()),
            SentenceGap::Silence(d) if d > MAX_SILENCE => Err(Error::InvalidParameter {
                name: "silence",
                value: format!("{d:?}"),
                reason: "silence between sentences must be at most 2 s",
            }),
            SentenceGap::Crossfade(d) if d > MAX_CROSSFADE => Err(Error::InvalidParameter {
                name: "crossfade",
                value: format!("{d:?}"),
                reason: "a cross-fade between sentences must be at most 100 ms",
            }),
            SentenceGap::Silence(_) | SentenceGap::Crossfade(_) => Ok(()),
        }
    }

    /// The gap's length in samples at `sample_rate` (rounded).
    pub fn samples(&self, sample_rate: u32) -> usize {
        match *self {
            SentenceGap::None => 0,
            SentenceGap::Silence(d) | SentenceGap::Crossfade(d) => {
                (d.as_secs_f64() * sample_rate as f64).round() as usize
            }
        }
    }
}

/// Joins a request's sentences as they arrive.
///
/// - `None`: sentences pass through unchanged.
/// - `Silence(d)`: `d` of zeros goes between sentences that have audio:
///   before each but the first. Empty sentences add nothing, not even a
///   gap, so a sentence the model had nothing for does not double a pause.
/// - `Crossfade(d)` of `N` samples: the last `N` samples of the audio so
///   far are held back and mixed with the start of the next sentence
///   (equal-power sine/cosine fade: sentences are uncorrelated, so the
///   summed power stays constant and the join has no loudness dip). Each
///   join overlaps `min(held, next sentence length)` samples and then
///   the last `min(N, what is not yet delivered)` are held again, so when
///   every sentence has at least `N` samples the total length is
///   `sum - N * (sentences - 1)`. A sentence shorter than `N` is mixed
///   entirely into the end of the held tail, and the held audio (up to
///   `N` samples, partly the earlier sentence) fades into the next one;
///   in a sentence shorter than `2N` the fade-out starts before the
///   fade-in has ended. Either way every join fades and none cuts.
///   Empty sentences are skipped. Output is at most `N` samples behind
///   the input until `is_last` flushes it.
///
/// A model that streams a sentence in pieces pushes each with
/// [`SentenceJoiner::push_piece`]: the gap goes only between sentences,
/// never between pieces, and the output is the same as for the sentence
/// pushed whole (a cross-fade waits until the new sentence has as many
/// samples as are held, then fades as the whole push would).
///
/// After the `is_last` sentence the joiner is back to its initial state.
#[derive(Debug, Clone)]
pub struct SentenceJoiner {
    gap: SentenceGap,
    /// Gap or fade length in samples.
    gap_samples: usize,
    /// Whether a sentence with audio has been seen (silence mode).
    started: bool,
    /// Whether the current sentence has had audio (silence mode).
    sentence_has_audio: bool,
    /// Cross-fade: the held-back end of the audio so far (at most
    /// `gap_samples`).
    held: Vec<f32>,
    /// Cross-fade: the start of the current sentence, gathered until it
    /// covers the held tail (`None` once faded in).
    opening: Option<Vec<f32>>,
    /// Length of the joined stream so far (delivered and held).
    stream_len: u64,
    /// Where the current sentence's first sample is in the joined stream.
    origin: u64,
}

/// Where a piece of audio sits in its sentence and request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// The first piece of a sentence.
    pub starts_sentence: bool,
    /// The last piece of a sentence.
    pub ends_sentence: bool,
    /// The last piece of the request (ends its sentence too).
    pub is_last: bool,
}

impl Piece {
    /// A whole sentence in one piece.
    pub fn whole(is_last: bool) -> Self {
        Self {
            starts_sentence: true,
            ends_sentence: true,
            is_last,
        }
    }
}

impl SentenceJoiner {
    /// A joiner for audio at `sample_rate`; rejects gaps over the limits
    /// with [`Error::InvalidParameter`].
    pub fn new(gap: SentenceGap, sample_rate: u32) -> Result<Self> {
        gap.validate()?;
        let gap_samples = gap.samples(sample_rate);
        Ok(Self {
            gap,
            gap_samples,
            started: false,
            sentence_has_audio: false,
            held: Vec::with_capacity(gap_samples),
            opening: None,
            stream_len: 0,
            origin: 0,
        })
    }

    /// Where the first sample of the sentence being pushed is in the
    /// joined output, counted from the stream's start (after its gap, or
    /// where its cross-fade begins). Final once the sentence's first audio
    /// has been joined, at the latest after its last piece.
    pub fn sentence_origin(&self) -> u64 {
        self.origin
    }

    /// Takes the next sentence (in order); returns the audio ready to
    /// deliver. On `is_last` everything held back is included.
    pub fn push(&mut self, samples: &[f32], is_last: bool) -> Vec<f32> {
        self.push_piece(samples, Piece::whole(is_last))
    }

    /// Takes the next piece of a sentence (in order); returns the audio
    /// ready to deliver. On `piece.is_last` everything held back is
    /// included.
    pub fn push_piece(&mut self, samples: &[f32], piece: Piece) -> Vec<f32> {
        let ends = piece.ends_sentence || piece.is_last;
        let out = match self.gap {
            SentenceGap::None => {
                if piece.starts_sentence {
                    self.origin = self.stream_len;
                }
                self.stream_len += samples.len() as u64;
                samples.to_vec()
            }
            SentenceGap::Silence(_) => self.silence(samples, piece.starts_sentence),
            SentenceGap::Crossfade(_) => {
                self.crossfade_piece(samples, piece.starts_sentence, ends, piece.is_last)
            }
        };
        if piece.is_last {
            self.started = false;
            self.sentence_has_audio = false;
            self.held.clear();
            self.opening = None;
            self.stream_len = 0;
        }
        out
    }

    fn silence(&mut self, samples: &[f32], starts_sentence: bool) -> Vec<f32> {
        if starts_sentence {
            self.sentence_has_audio = false;
            self.origin = self.stream_len;
        }
        if samples.is_empty() {
            return Vec::new();
        }
        let pad = if self.started && !self.sentence_has_audio {
            self.gap_samples
        } else {
            0
        };
        if !self.sentence_has_audio {
            self.origin = self.stream_len + pad as u64;
        }
        self.stream_len += (pad + samples.len()) as u64;
        self.started = true;
        self.sentence_has_audio = true;
        let mut out = vec![0.0; pad + samples.len()];
        out[pad..].copy_from_slice(samples);
        out
    }

    fn crossfade_piece(
        &mut self,
        samples: &[f32],
        starts_sentence: bool,
        ends_sentence: bool,
        is_last: bool,
    ) -> Vec<f32> {
        if starts_sentence {
            self.opening = Some(Vec::new());
        }
        let Some(opening) = self.opening.as_mut() else {
            // past the fade: the audio passes, the last N held back
            self.stream_len += samples.len() as u64;
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(samples);
            if !is_last {
                let keep = self.gap_samples.min(joined.len());
                self.held = joined.split_off(joined.len() - keep);
            }
            return joined;
        };
        opening.extend_from_slice(samples);
        // The fade covers min(held, sentence): wait until that is known.
        if opening.len() < self.held.len() && !ends_sentence {
            return Vec::new();
        }
        let opening = self.opening.take().unwrap_or_default();
        self.crossfade(&opening, is_last)
    }

    fn crossfade(&mut self, samples: &[f32], is_last: bool) -> Vec<f32> {
        // The joined audio not yet delivered: the held tail with the start
        // of this sentence mixed into its end, then the rest of it.
        let mut joined = std::mem::take(&mut self.held);
        let n = joined.len().min(samples.len());
        let start = joined.len() - n;
        self.origin = self.stream_len - n as u64;
        self.stream_len += (samples.len() - n) as u64;
        mix_fade(&mut joined[start..], &samples[..n]);
        joined.extend_from_slice(&samples[n..]);
        if !is_last {
            let keep = self.gap_samples.min(joined.len());
            self.held = joined.split_off(joined.len() - keep);
        }
        joined
    }
}

/// Fades `old` out and `new` in over their (equal) length, in place in
/// `old`. Gains are taken at the middle of each sample's step, so neither
/// end is a full 0 or 1 and a fade of one sample is an even mix.
fn mix_fade(old: &mut [f32], new: &[f32]) {
    let n = old.len() as f32;
    for (i, (o, &x)) in old.iter_mut().zip(new).enumerate() {
        let t = (i as f32 + 0.5) / n;
        let (fade_in, fade_out) = (t * std::f32::consts::FRAC_PI_2).sin_cos();
        *o = *o * fade_out + x * fade_in;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS10: Duration = Duration::from_millis(10);

    #[test]
    fn sentence_origins_follow_gaps_and_fades() {
        let cases = [
            (SentenceGap::None, [0, 100, 200]),
            (SentenceGap::Silence(MS10), [0, 110, 220]),
            (SentenceGap::Crossfade(MS10), [0, 90, 180]),
        ];
        for (gap, want) in cases {
            // whole sentences, and the same in pieces of 30
            for pieces in [false, true] {
                let mut j = SentenceJoiner::new(gap, 1000).unwrap();
                let mut origins = Vec::new();
                let mut out = 0;
                for k in 0..3 {
                    let s = vec![0.5; 100];
                    let parts: Vec<&[f32]> = if pieces {
                        s.chunks(30).collect()
                    } else {
                        vec![&s[..]]
                    };
                    for (i, p) in parts.iter().enumerate() {
                        let piece = Piece {
                            starts_sentence: i == 0,
                            ends_sentence: i + 1 == parts.len(),
                            is_last: k == 2 && i + 1 == parts.len(),
                        };
                        out += j.push_piece(p, piece).len();
                    }
                    origins.push(j.sentence_origin());
                }
                assert_eq!(origins, want, "{gap:?} pieces {pieces}");
                assert_eq!(out as u64, want[2] + 100);
            }
        }
    }

    fn push_all(j: &mut SentenceJoiner, sentences: &[Vec<f32>]) -> Vec<f32> {
        let mut out = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            out.extend(j.push(s, i + 1 == sentences.len()));
        }
        out
    }

    /// A slow ramp from `a` to `b`: smooth on its own, so any jump in the
    /// joined output comes from the join.
    fn ramp(a: f32, b: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| a + (b - a) * i as f32 / (n.max(2) - 1) as f32)
            .collect()
    }

    fn max_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn no_gap_passes_through() {
        let mut j = SentenceJoiner::new(SentenceGap::None, 22050).unwrap();
        let s = vec![vec![1.0, 2.0], vec![], vec![3.0]];
        assert_eq!(push_all(&mut j, &s), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn silence_goes_between_sentences_only() {
        let mut j = SentenceJoiner::new(SentenceGap::Silence(MS10), 1000).unwrap();
        assert_eq!(j.push(&[1.0; 5], false), vec![1.0; 5]);
        let second = j.push(&[2.0; 5], false);
        assert_eq!(second.len(), 15);
        assert!(second[..10].iter().all(|&x| x == 0.0) && second[10..] == [2.0; 5]);
        // An empty sentence adds no gap of its own.
        assert!(j.push(&[], false).is_empty());
        assert_eq!(j.push(&[3.0; 2], true).len(), 12);
        // After the last sentence, a new request starts without a gap.
        assert_eq!(j.push(&[4.0; 3], true), vec![4.0; 3]);
    }

    #[test]
    fn silence_length_is_exact_at_model_rates() {
        // 100 ms at 22050 Hz is 2205 samples; 1.5 s at 24000 is 36000.
        for (d, rate, n) in [
            (Duration::from_millis(100), 22050, 2205),
            (Duration::from_millis(1500), 24000, 36000),
            (MAX_SILENCE, 16000, 32000),
            (Duration::ZERO, 22050, 0),
        ] {
            let mut j = SentenceJoiner::new(SentenceGap::Silence(d), rate).unwrap();
            let s = vec![vec![0.5; 7], vec![0.5; 11], vec![0.5; 13]];
            assert_eq!(push_all(&mut j, &s).len(), 31 + 2 * n, "{d:?} at {rate}");
        }
    }

    #[test]
    fn silence_with_empty_first_sentence() {
        let mut j = SentenceJoiner::new(SentenceGap::Silence(MS10), 1000).unwrap();
        let s = vec![vec![], vec![1.0; 3], vec![], vec![2.0; 3]];
        let out = push_all(&mut j, &s);
        assert_eq!(out.len(), 3 + 10 + 3);
        assert_eq!(out[0], 1.0);
    }

    #[test]
    fn crossfade_length_and_continuity() {
        let rate = 1000; // 10 ms = 10 samples
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), rate).unwrap();
        let s = [ramp(0.0, 1.0, 50), ramp(-1.0, 0.0, 40), ramp(0.5, 0.2, 30)];
        let first = j.push(&s[0], false);
        assert_eq!(first, s[0][..40], "the last 10 are held back unchanged");
        let mut out = first;
        out.extend(j.push(&s[1], false));
        assert_eq!(out.len(), 50 + 40 - 20, "the second's last 10 are held");
        out.extend(j.push(&s[2], true));
        assert_eq!(out.len(), 50 + 40 + 30 - 2 * 10);
        // Without the fade the first join would jump by ~2; with it, a
        // step is at most ~1.9 * sqrt(2) * (pi / 2) / 10.
        assert!(max_step(&out) < 0.25, "{}", max_step(&out));
        // Equal power: the fifth of ten faded samples has gains
        // cos/sin(0.45 * pi / 2) (a linear fade would give 0.55/0.45).
        let (fade_in, fade_out) = (0.45 * std::f32::consts::FRAC_PI_2).sin_cos();
        let want = s[0][44] * fade_out + s[1][4] * fade_in;
        assert!((out[44] - want).abs() < 1e-6, "{} vs {want}", out[44]);
        // Ends are the sentences' own samples.
        assert_eq!(out[..40], s[0][..40]);
        assert_eq!(out[out.len() - 20..], s[2][10..]);
    }

    #[test]
    fn crossfade_total_is_sum_minus_overlaps() {
        let rate = 22050;
        let d = Duration::from_millis(50);
        let n = SentenceGap::Crossfade(d).samples(rate);
        assert_eq!(n, 1103); // 1102.5 rounds up
        let lens = [5000, 2300, 4000, 9000];
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(d), rate).unwrap();
        let s: Vec<Vec<f32>> = lens.iter().map(|&l| vec![0.3; l]).collect();
        let out = push_all(&mut j, &s);
        assert_eq!(out.len(), lens.iter().sum::<usize>() - n * (lens.len() - 1));
    }

    #[test]
    fn crossfade_single_sentence_is_unchanged() {
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        let s = ramp(0.0, 1.0, 30);
        assert_eq!(j.push(&s, true), s);
        // Shorter than the fade, too.
        assert_eq!(j.push(&[0.5; 3], true), vec![0.5; 3]);
    }

    #[test]
    fn crossfade_skips_empty_sentences() {
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        let mut out = j.push(&ramp(0.0, 1.0, 30), false);
        assert!(j.push(&[], false).is_empty(), "the tail stays held");
        out.extend(j.push(&ramp(-1.0, 0.0, 30), false));
        out.extend(j.push(&[], true));
        assert_eq!(out.len(), 30 + 30 - 10, "one fade, tail flushed");
        assert!(max_step(&out) < 0.25, "{}", max_step(&out));
        // Only an empty last sentence: nothing at all.
        assert!(j.push(&[], true).is_empty());
    }

    #[test]
    fn crossfade_short_sentences_fade_at_every_join() {
        // N = 10: the second sentence (4 samples) fits inside the fade
        // from the first; the 10 held then fade into the third, whose
        // last 10 (8 of them still fading in) fade into the fourth.
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        let s = vec![vec![1.0; 30], vec![-1.0; 4], vec![1.0; 12], vec![0.0; 20]];
        let out = push_all(&mut j, &s);
        // Overlaps: min(10, 4) = 4, then min(10, 12) = 10, then 10.
        assert_eq!(out.len(), 30 + 4 + 12 + 20 - 4 - 10 - 10);
        // No hard cut from -1 to 1 or 1 to 0 anywhere.
        assert!(max_step(&out) < 1.0, "{}", max_step(&out));
        // Short first sentence: all of it is held, none lost.
        let mut j = SentenceJoiner::new(SentenceGap::Crossfade(MS10), 1000).unwrap();
        let out = push_all(&mut j, &[vec![1.0; 3], vec![2.0; 3], vec![3.0; 40]]);
        assert_eq!(out.len(), 3 + 3 + 40 - 3 - 3);
        assert_eq!(out[out.len() - 30..], [3.0; 30]);
    }

    /// Pushes each sentence cut into pieces of the given lengths (cycled).
    fn push_in_pieces(j: &mut SentenceJoiner, sentences: &[Vec<f32>], cuts: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        let mut c = 0;
        for (i, s) in sentences.iter().enumerate() {
            let last = i + 1 == sentences.len();
            let mut at = 0;
            loop {
                let n = cuts[c % cuts.len()].min(s.len() - at);
                c += 1;
                let end = at + n == s.len();
                let piece = Piece {
                    starts_sentence: at == 0,
                    ends_sentence: end,
                    is_last: last && end,
                };
                out.extend(j.push_piece(&s[at..at + n], piece));
                at += n;
                if end {
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn pieces_join_as_their_whole_sentences() {
        let sentences = vec![
            ramp(0.0, 1.0, 50),
            ramp(-1.0, 0.0, 4),
            vec![],
            ramp(0.5, 0.2, 37),
            ramp(0.1, 0.9, 12),
        ];
        for gap in [
            SentenceGap::None,
            SentenceGap::Silence(MS10),
            SentenceGap::Crossfade(MS10),
            SentenceGap::Crossfade(Duration::from_millis(3)),
        ] {
            let whole = push_all(&mut SentenceJoiner::new(gap, 1000).unwrap(), &sentences);
            for cuts in [&[1][..], &[3, 0, 7], &[9, 2], &[100], &[0, 4, 11, 5]] {
                let mut j = SentenceJoiner::new(gap, 1000).unwrap();
                let pieces = push_in_pieces(&mut j, &sentences, cuts);
                assert_eq!(pieces, whole, "{gap:?} cut {cuts:?}");
                // back to the start: a second request joins the same way
                assert_eq!(push_in_pieces(&mut j, &sentences, cuts), whole);
            }
        }
    }

    #[test]
    fn fade_of_one_sample_is_an_even_mix() {
        let mut old = [1.0];
        mix_fade(&mut old, &[0.0]);
        assert!((old[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn limits_are_enforced() {
        for (gap, name) in [
            (SentenceGap::Silence(Duration::from_millis(2001)), "silence"),
            (
                SentenceGap::Crossfade(Duration::from_millis(101)),
                "crossfade",
            ),
            (SentenceGap::Crossfade(Duration::from_secs(5)), "crossfade"),
        ] {
            match SentenceJoiner::new(gap, 22050) {
                Err(Error::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{gap:?}: {other:?}"),
            }
        }
        for gap in [
            SentenceGap::None,
            SentenceGap::Silence(MAX_SILENCE),
            SentenceGap::Crossfade(MAX_CROSSFADE),
            SentenceGap::Crossfade(Duration::ZERO),
        ] {
            assert!(SentenceJoiner::new(gap, 8000).is_ok(), "{gap:?}");
        }
    }
}

//! Word timings estimated from the text, for models that do not report
//! their own (flow matching and autoregressive models place words freely
//! in the sentence's audio).
//!
//! The sentence's audio is shared among its words in proportion to their
//! length: letters and digits count 1, a CJK character 3 (a syllable is
//! three or four Latin letters' worth of speech), and punctuation after a
//! word adds a pause (2 for a comma-like mark, 4 for a sentence end). A
//! CJK character is a word of its own. The estimate is good to a word or
//! so: enough for subtitles, not for lip-sync.

use std::ops::Range;

use super::TimedSpan;
use crate::text::split::is_cjk;

/// Words of `text` spread over `samples` samples of its audio.
pub fn estimate_words(text: &str, samples: usize) -> Vec<TimedSpan> {
    let words = words_of(text);
    let total: usize = words.iter().map(|w| w.1 + w.2).sum();
    if total == 0 || samples == 0 {
        return Vec::new();
    }
    let at = |units: usize| (units as u128 * samples as u128 / total as u128) as usize;
    let mut out = Vec::with_capacity(words.len());
    let mut units = 0;
    for (span, speech, pause) in words {
        let start = at(units);
        units += speech;
        let end = at(units).max(start + 1).min(samples);
        units += pause;
        out.push(TimedSpan {
            text: text[span].to_owned(),
            samples: start..end,
        });
    }
    out
}

/// `(span, speech weight, pause weight after)` of each word.
fn words_of(text: &str) -> Vec<(Range<usize>, usize, usize)> {
    let mut out: Vec<(Range<usize>, usize, usize)> = Vec::new();
    let mut word: Option<(usize, usize)> = None; // start byte, weight
    let close = |out: &mut Vec<_>, word: &mut Option<(usize, usize)>, end: usize| {
        if let Some((start, w)) = word.take() {
            out.push((start..end, w, 0));
        }
    };
    for (i, c) in text.char_indices() {
        if is_cjk(c) {
            close(&mut out, &mut word, i);
            out.push((i..i + c.len_utf8(), 3, 0));
        } else if c.is_alphanumeric() {
            let w = word.get_or_insert((i, 0));
            w.1 += 1;
        } else if c.is_whitespace() {
            close(&mut out, &mut word, i);
        } else {
            // punctuation: inside a word ("don't", "3.5") it is part of
            // it; after one it is a pause
            let pause = match c {
                '.' | '!' | '?' | '。' | '！' | '？' | '…' => 4,
                ',' | ';' | ':' | '，' | '；' | '：' | '、' | '—' | '–' => 2,
                _ => 0,
            };
            let inside = word.is_some()
                && text[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            if inside {
                continue;
            }
            close(&mut out, &mut word, i);
            if let Some(last) = out.last_mut() {
                last.2 += pause;
            }
        }
    }
    close(&mut out, &mut word, text.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_share_the_audio_by_length() {
        let w = estimate_words("Hi there, friend.", 1000);
        let words: Vec<&str> = w.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(words, ["Hi", "there", "friend"]);
        // 2 + 5 (+2 pause) + 6 (+4 pause) = 19 units
        assert_eq!(w[0].samples, 0..105);
        assert_eq!(w[1].samples, 105..368);
        assert_eq!(w[2].samples, 473..789);
        assert!(w.windows(2).all(|p| p[0].samples.end <= p[1].samples.start));
    }

    #[test]
    fn inner_punctuation_stays_cjk_splits() {
        let w = estimate_words("Don't pay 3.5 dollars.", 100);
        let words: Vec<&str> = w.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(words, ["Don't", "pay", "3.5", "dollars"]);
        let w = estimate_words("你好，世界。", 100);
        let words: Vec<&str> = w.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(words, ["你", "好", "世", "界"]);
    }

    #[test]
    fn nothing_to_say_gives_no_words() {
        assert!(estimate_words("...", 100).is_empty());
        assert!(estimate_words("word", 0).is_empty());
        assert!(estimate_words("", 10).is_empty());
    }
}

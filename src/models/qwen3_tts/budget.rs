//! How many frames a sentence may take.
//!
//! Upstream lets every utterance run to 2048 frames (164 s): on short inputs
//! a model that misses its end-of-speech code talks on for minutes. The
//! budget here scales with what the text says, at about twice a normal
//! speaking pace, so a sentence is never cut but runaway generation ends
//! within seconds:
//!
//! ```text
//! frames = clamp(10 · words + 6 · cjk_chars + 4 · digits, 25, 2048)
//! ```
//!
//! - a word (a run of letters outside CJK scripts) takes ~0.4 s at 150 words
//!   a minute, 5 frames; 10 frames (0.8 s) leaves room for slow voices;
//! - a CJK character (Han, kana, Hangul syllable) is ~0.22 s at 4.5 a
//!   second, ~3 frames; budget 6;
//! - a digit is read as a word or more ("1999": four words), 4 frames each;
//! - the floor (25 frames, 2 s) covers interjections and one-word
//!   sentences; the cap is upstream's limit.
//!
//! A sentence that hits its budget ends there (`StopReason::Budget`), which
//! the engine counts.

use crate::text::split::is_cjk;

/// Frames per word, CJK character and digit, with a floor and a cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameBudget {
    /// Frames per word of a space-separated script.
    pub per_word: usize,
    /// Frames per CJK character.
    pub per_cjk_char: usize,
    /// Frames per digit.
    pub per_digit: usize,
    /// Fewest frames any sentence gets.
    pub floor: usize,
    /// Most frames any sentence gets.
    pub cap: usize,
}

impl Default for FrameBudget {
    fn default() -> Self {
        Self {
            per_word: 10,
            per_cjk_char: 6,
            per_digit: 4,
            floor: 25,
            cap: 2048,
        }
    }
}

impl FrameBudget {
    /// The budget of `text`.
    pub fn frames(&self, text: &str) -> usize {
        let (mut words, mut cjk, mut digits) = (0usize, 0usize, 0usize);
        let mut in_word = false;
        for c in text.chars() {
            if is_cjk(c) {
                cjk += 1;
                in_word = false;
            } else if c.is_ascii_digit() || c.is_numeric() {
                digits += 1;
                in_word = false;
            } else if c.is_alphabetic() {
                if !in_word {
                    words += 1;
                }
                in_word = true;
            } else if c != '\'' && c != '’' && c != '-' {
                // an apostrophe or hyphen keeps "don't" and "well-known" one word
                in_word = false;
            }
        }
        let frames = self.per_word * words + self.per_cjk_char * cjk + self.per_digit * digits;
        frames.clamp(self.floor, self.cap.max(self.floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_with_the_text() {
        let b = FrameBudget::default();
        assert_eq!(b.frames("Hi."), 25);
        assert_eq!(b.frames(""), 25);
        assert_eq!(b.frames("😀😀"), 25);
        // 13 words
        let s = "The quick brown fox jumps over the lazy dog and runs far away.";
        assert_eq!(b.frames(s), 130);
        assert_eq!(b.frames("don't well-known stuff x"), 40);
        // 8 Han characters
        assert_eq!(b.frames("今天天气很好，我们"), 48);
        // 2 words + 4 digits
        assert_eq!(b.frames("In 1999 we"), 36);
        // mixed
        assert_eq!(b.frames("我爱 New York 城市"), 6 * 4 + 10 * 2);
        let long = "word ".repeat(1000);
        assert_eq!(b.frames(&long), 2048);
    }
}

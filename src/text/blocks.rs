//! Cutting long input into blocks the phonemizer takes one at a time, so a
//! megabyte of text streams with bounded memory.
//!
//! Sentence detection itself is the phonemizer's (espeak-ng knows "Dr." and
//! "3 p.m."), so blocks are cut only where no sentence can continue across:
//! paragraph breaks first, then line breaks, then after a terminator
//! followed by whitespace, and only for a run-on with none of those, at a
//! space. Inputs shorter than [`MAX_BLOCK_BYTES`] are one block, which keeps
//! them phonemized exactly as piper does.

/// Largest block handed to the phonemizer at once.
pub const MAX_BLOCK_BYTES: usize = 4096;

/// Iterator over the blocks of a text (see the module docs).
#[derive(Debug, Clone)]
pub struct TextBlocks<'a> {
    rest: &'a str,
    max: usize,
}

impl<'a> TextBlocks<'a> {
    /// Blocks of at most [`MAX_BLOCK_BYTES`].
    pub fn new(text: &'a str) -> Self {
        Self::with_max(text, MAX_BLOCK_BYTES)
    }

    /// Blocks of at most `max` bytes (at least 16).
    pub fn with_max(text: &'a str, max: usize) -> Self {
        Self {
            rest: text,
            max: max.max(16),
        }
    }
}

impl<'a> Iterator for TextBlocks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let cut = if self.rest.len() <= self.max {
                self.rest.len()
            } else {
                cut_point(self.rest, self.max)
            };
            let (block, rest) = self.rest.split_at(cut);
            self.rest = rest;
            if !block.trim().is_empty() {
                return Some(block);
            }
        }
    }
}

/// Byte index (a char boundary in `1..=max`) where to end the next block.
fn cut_point(text: &str, max: usize) -> usize {
    let mut limit = max;
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let window = &text[..limit];
    if let Some(i) = window.rfind("\n\n") {
        if i > 0 {
            return i + 2;
        }
    }
    if let Some(i) = window.rfind('\n') {
        if i > 0 {
            return i + 1;
        }
    }
    let bytes = window.as_bytes();
    for i in (1..bytes.len()).rev() {
        if bytes[i].is_ascii_whitespace() && matches!(bytes[i - 1], b'.' | b'!' | b'?') {
            return i + 1;
        }
    }
    if let Some(i) = window.rfind(char::is_whitespace) {
        if i > 0 {
            return i + 1;
        }
    }
    limit.max(text.chars().next().map_or(1, char::len_utf8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_block() {
        let t = "Dr. Smith arrived at 3 p.m. He left.";
        assert_eq!(TextBlocks::new(t).collect::<Vec<_>>(), vec![t]);
    }

    #[test]
    fn blocks_cover_the_text_and_respect_the_limit() {
        let para = "One sentence here. Another one follows! And a third? ";
        let text = format!(
            "{}\n\n{}\n{}",
            para.repeat(20),
            para.repeat(3),
            "word ".repeat(400)
        );
        let blocks: Vec<&str> = TextBlocks::with_max(&text, 300).collect();
        assert!(blocks.iter().all(|b| b.len() <= 300));
        assert_eq!(blocks.concat().len(), text.len());
        // cut after a terminator, never inside a sentence, when one exists
        assert!(blocks[0].trim_end().ends_with(['.', '!', '?']));
    }

    #[test]
    fn multibyte_text_and_no_spaces() {
        let text = "天气很好".repeat(500) + "é";
        let blocks: Vec<&str> = TextBlocks::with_max(&text, 100).collect();
        assert_eq!(blocks.concat(), text);
        assert!(blocks.iter().all(|b| b.len() <= 100));
    }

    #[test]
    fn whitespace_only_blocks_are_skipped() {
        let text = format!("Hello.{}", " ".repeat(1000));
        let blocks: Vec<&str> = TextBlocks::with_max(&text, 100).collect();
        assert_eq!(blocks.len(), 1);
    }
}

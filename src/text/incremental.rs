//! Sentences of text that arrives in pieces (an LLM's tokens, chat
//! messages, bytes from a host): each sentence comes out as soon as its end
//! is certain, and they are exactly the sentences [`split_sentences`] makes
//! of the whole text, however the text was cut into pushes.
//!
//! A sentence's end can depend on what follows it: the word after a period
//! ("etc. Then" ends, "etc. and" does not), and a short fragment is merged
//! with its neighbour ("Hi." joins the next sentence, or the previous one
//! at the end of the text, or when the next is too long to join). So the
//! splitter holds back the last two sentences of what it has, and any
//! short fragment before them with the sentence it could still join;
//! everything before is settled (a
//! property test below checks this against the one-shot split for random
//! texts and push patterns). [`IncrementalSplitter::flush`] speaks what is
//! held now (the text after it then starts a new sentence);
//! [`IncrementalSplitter::finish`] ends the text.

use std::ops::Range;

use super::split::{cut_first, is_cjk, sentence_spans, split_sentences, weight, SplitOptions};
use crate::{Error, Result};

/// Sentences held back until more text shows where they end.
const HELD: usize = 2;
/// A sentence with no end in sight is re-split from its start only up to
/// this many times `max_chars` bytes (keeps pushes linear).
const LONG_SENTENCE: usize = 8;

/// A settled sentence of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSentence {
    /// Byte range in the whole text pushed so far.
    pub span: Range<usize>,
    /// The sentence's text.
    pub text: String,
}

/// Splits text pushed in pieces into sentences (see the module docs).
#[derive(Debug, Clone)]
pub struct IncrementalSplitter {
    opts: SplitOptions,
    /// Text not yet given out as sentences.
    pending: String,
    /// Offset of `pending` in the whole text.
    base: usize,
    /// The start of a UTF-8 character cut by [`Self::push_bytes`].
    partial: Vec<u8>,
    /// Bytes of `pending` already given out (pieces of a long sentence
    /// whose rest is held).
    emitted: usize,
    /// Whether a sentence has been given out (a short first chunk is cut
    /// from the first only).
    started: bool,
    finished: bool,
}

impl IncrementalSplitter {
    /// A splitter with `opts` (a short first chunk, when asked for, is cut
    /// from the stream's first sentence).
    pub fn new(opts: SplitOptions) -> Self {
        Self {
            opts,
            pending: String::new(),
            base: 0,
            partial: Vec::new(),
            emitted: 0,
            started: false,
            finished: false,
        }
    }

    /// Adds `text`; returns the sentences now settled.
    pub fn push(&mut self, text: &str) -> Result<Vec<StreamSentence>> {
        self.check_open()?;
        if !self.partial.is_empty() {
            return Err(Error::InvalidText(format!(
                "a UTF-8 character cut at byte {} was not completed before more text",
                self.base + self.pending.len()
            )));
        }
        self.pending.push_str(text);
        Ok(self.settle(HELD))
    }

    /// Adds UTF-8 bytes that may end, or start, inside a character (the
    /// rest comes with the next push); returns the sentences now settled.
    /// Bytes that are not UTF-8 are an error naming their offset, and
    /// nothing of the push is taken.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<Vec<StreamSentence>> {
        self.check_open()?;
        let at = self.base + self.pending.len();
        let mut joined = std::mem::take(&mut self.partial);
        joined.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&joined) {
            Ok(s) => s.len(),
            // an incomplete character at the end waits for the next push
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                let bad = at + e.valid_up_to();
                let keep = joined.len() - bytes.len();
                self.partial = joined[..keep].to_vec();
                return Err(Error::InvalidText(format!(
                    "the text is not UTF-8 at byte {bad}"
                )));
            }
        };
        let text = std::str::from_utf8(&joined[..valid]).expect("checked above");
        self.pending.push_str(text);
        self.partial = joined[valid..].to_vec();
        Ok(self.settle(HELD))
    }

    /// Gives out everything held (as if the text ended here); the text
    /// pushed after it starts a new sentence. Nothing held: nothing.
    pub fn flush(&mut self) -> Vec<StreamSentence> {
        self.settle(0)
    }

    /// Ends the text: everything held comes out, and further pushes are
    /// refused. A character left incomplete by [`Self::push_bytes`] is an
    /// error (the sentences before it are still given out by a flush).
    pub fn finish(&mut self) -> Result<Vec<StreamSentence>> {
        self.check_open()?;
        self.finished = true;
        if !self.partial.is_empty() {
            return Err(Error::InvalidText(format!(
                "the text ends inside a UTF-8 character (byte {})",
                self.base + self.pending.len()
            )));
        }
        Ok(self.settle(0))
    }

    /// Text pushed and not yet given out.
    pub fn pending(&self) -> &str {
        &self.pending[self.emitted..]
    }

    /// Bytes of text pushed so far (the end of the last sentence's span
    /// and beyond).
    pub fn len(&self) -> usize {
        self.base + self.pending.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.partial.is_empty()
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidArgument(
                "the text was finished: no more can be pushed".into(),
            ));
        }
        Ok(())
    }

    /// Gives out all but the last `held` sentences of the pending text.
    ///
    /// The pending text always starts where the scanner starts a sentence
    /// (not at a cut inside a long one: a cut can fall inside a word or a
    /// run of periods, where a fresh scan would judge differently), so
    /// pieces of the sentence already given out may stay in it, skipped
    /// by `emitted`.
    fn settle(&mut self, held: usize) -> Vec<StreamSentence> {
        let opts = SplitOptions {
            short_first: false,
            ..self.opts.clone()
        };
        // A boundary is judged on the word after it ("Plan B. we" ends,
        // "Plan B. well" does not): leave out a word still being typed.
        let end = if held == 0 {
            self.pending.len()
        } else {
            self.pending
                .char_indices()
                .rev()
                .find(|&(_, c)| !c.is_alphanumeric() || is_cjk(c))
                .map_or(0, |(i, c)| i + c.len_utf8())
        };
        let text = &self.pending[..end];
        let spans = split_sentences(text, &opts);
        let mut settled = spans.len().saturating_sub(held);
        // A short fragment that cannot join what follows it joins the
        // sentence before (split's merge rule), however it was merged so
        // far: a settled sentence must be followed by a piece heavy enough
        // never to.
        let min = opts.min_chars;
        if min > 0 && settled > 0 {
            let pieces = split_sentences(
                text,
                &SplitOptions {
                    min_chars: 0,
                    ..opts.clone()
                },
            );
            while settled > 0 && settled < spans.len() {
                let at = spans[settled].start;
                let light = pieces
                    .binary_search_by_key(&at, |p| p.start)
                    .map_or(true, |i| weight(&text[pieces[i].clone()], min) < min);
                if !light {
                    break;
                }
                settled -= 1;
            }
        }
        let mut out = Vec::new();
        for span in spans[..settled].iter().filter(|s| s.end > self.emitted) {
            debug_assert!(span.start >= self.emitted, "a settled span changed");
            let pieces = if !self.started && self.opts.short_first {
                cut_first(&self.pending, span.clone(), &self.opts)
            } else {
                vec![span.clone()]
            };
            self.started = true;
            out.extend(pieces.into_iter().map(|s| StreamSentence {
                text: self.pending[s.clone()].to_owned(),
                span: self.base + s.start..self.base + s.end,
            }));
        }
        if let Some(last) = spans[..settled].last() {
            self.emitted = self.emitted.max(last.end);
        }
        let Some(first_held) = spans.get(settled).map(|s| s.start) else {
            if held == 0 {
                // flushed: all of it is out
                self.drop_pending(self.pending.len());
                self.emitted = 0;
            }
            return out;
        };
        // the latest sentence start at or before the first held span that
        // is also a span's start (no span reaches across it); spans are in
        // order, so a binary search keeps a push of n sentences O(n log n)
        let mut restart = sentence_spans(text)
            .iter()
            .map(|s| s.start)
            .filter(|&b| b <= first_held && spans.binary_search_by_key(&b, |s| s.start).is_ok())
            .max()
            .unwrap_or(0);
        if first_held - restart > LONG_SENTENCE * opts.max_chars.max(1) {
            // a giant sentence with no end: go on from its held piece (its
            // later cuts may then differ from a one-shot split)
            restart = first_held;
        }
        self.drop_pending(restart);
        self.emitted = self.emitted.saturating_sub(restart);
        out
    }

    fn drop_pending(&mut self, n: usize) {
        self.pending.drain(..n);
        self.base += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Words and marks that exercise the splitter's rules.
    const TOKENS: &[&str] = &[
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        "Then",
        "However",
        "and",
        "it",
        "was",
        "Dr.",
        "Mr.",
        "etc.",
        "e.g.",
        "U.S.",
        "3.14",
        "p.m.",
        "No.",
        "5",
        "B.",
        "Plan",
        "Hi.",
        "Ok!",
        "Yes?",
        "well...",
        "…",
        "\"Quoted.\"",
        "(aside)",
        ",",
        ";",
        ":",
        "—",
        ".",
        "!",
        "?",
        "?!",
        "\n",
        "你好",
        "。",
        "今天天气很好",
        "，",
        "！",
        "Really?",
        "Go.",
        "x",
        "https://a.b/c.d",
        "1,000.5",
        "Sept.",
        "St.",
        "A.",
        "I",
        "done.",
        "“Yes,” she said.",
    ];

    fn random_text(rng: &mut StdRng) -> String {
        let n = rng.random_range(0..60);
        let mut s = String::new();
        for _ in 0..n {
            let t = TOKENS[rng.random_range(0..TOKENS.len())];
            s.push_str(t);
            match rng.random_range(0..10) {
                0 => {}
                1 => s.push_str("  "),
                _ => s.push(' '),
            }
        }
        s
    }

    /// Pushes `text` cut at random char boundaries (or bytes); returns the
    /// sentences given out, finished.
    fn stream(
        text: &str,
        opts: &SplitOptions,
        rng: &mut StdRng,
        bytes: bool,
    ) -> Vec<StreamSentence> {
        let mut sp = IncrementalSplitter::new(opts.clone());
        let mut out = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + rng.random_range(1..12)).min(text.len());
            if bytes {
                out.extend(sp.push_bytes(&text.as_bytes()[at..end]).unwrap());
            } else {
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                out.extend(sp.push(&text[at..end]).unwrap());
            }
            at = end;
        }
        out.extend(sp.finish().unwrap());
        out
    }

    #[test]
    fn pushes_give_the_one_shot_sentences() {
        let seed = std::env::var("ISHOWTTS_SPLIT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7);
        let mut rng = StdRng::seed_from_u64(seed);
        let options = [
            SplitOptions::default(),
            SplitOptions {
                max_chars: 40,
                min_chars: 12,
                ..Default::default()
            },
            SplitOptions {
                short_first: true,
                first_max_chars: 30,
                ..Default::default()
            },
            SplitOptions {
                min_chars: 0,
                max_chars: 25,
                ..Default::default()
            },
        ];
        for case in 0..3000 {
            let text = random_text(&mut rng);
            let opts = &options[case % options.len()];
            let want = split_sentences(&text, opts);
            for bytes in [false, true] {
                let got = stream(&text, opts, &mut rng, bytes);
                let spans: Vec<Range<usize>> = got.iter().map(|s| s.span.clone()).collect();
                assert_eq!(spans, want, "case {case} {opts:?}\n{text:?}");
                for s in &got {
                    assert_eq!(s.text, text[s.span.clone()]);
                }
            }
        }
    }

    #[test]
    fn a_sentence_comes_out_once_the_next_two_have_begun() {
        let mut sp = IncrementalSplitter::new(SplitOptions::default());
        assert!(sp.push("The first sentence is here. ").unwrap().is_empty());
        assert!(sp.push("The second one follows. ").unwrap().is_empty());
        // a short last fragment may still join the sentence before it
        assert!(sp.push("And a").unwrap().is_empty());
        let out = sp.push(" third one").unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].text, "The first sentence is here.");
        assert_eq!(out[0].span, 0..27);
        // flush speaks what is held; what follows is a new sentence
        let held: Vec<String> = sp.flush().into_iter().map(|s| s.text).collect();
        assert_eq!(held, ["The second one follows.", "And a third one"]);
        assert!(sp.flush().is_empty(), "nothing held: nothing");
        let out = sp.push(" word. Then more.").unwrap();
        assert!(out.is_empty());
        let end = sp.finish().unwrap();
        assert_eq!(end.len(), 1, "{end:?}");
        assert_eq!(end[0].text, "word. Then more.");
        assert!(matches!(sp.push("x"), Err(Error::InvalidArgument(_))));
        assert!(matches!(sp.finish(), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn utf8_cut_between_pushes_and_bad_bytes() {
        let text = "你好。今天天气很好！我们走吧。再见。";
        let mut sp = IncrementalSplitter::new(SplitOptions {
            min_chars: 0,
            ..Default::default()
        });
        let mut out = Vec::new();
        for b in text.as_bytes() {
            out.extend(sp.push_bytes(std::slice::from_ref(b)).unwrap());
        }
        out.extend(sp.finish().unwrap());
        let texts: Vec<&str> = out.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["你好。", "今天天气很好！", "我们走吧。", "再见。"]);

        let mut sp = IncrementalSplitter::new(SplitOptions::default());
        sp.push_bytes(b"ok \xe4\xbd").unwrap();
        // a str push while a character is cut is refused
        assert!(matches!(sp.push("x"), Err(Error::InvalidText(_))));
        let err = sp.push_bytes(b"\xff").unwrap_err();
        assert!(err.to_string().contains("byte 3"), "{err}");
        // the cut character can still be completed
        sp.push_bytes(b"\xa0").unwrap();
        assert_eq!(sp.pending(), "ok 你");
        let mut sp = IncrementalSplitter::new(SplitOptions::default());
        sp.push_bytes(b"end \xe4").unwrap();
        assert!(matches!(sp.finish(), Err(Error::InvalidText(_))));
    }

    #[test]
    fn a_huge_push_is_split_at_once() {
        let text = "This is one sentence of many. ".repeat(20_000);
        let mut sp = IncrementalSplitter::new(SplitOptions::default());
        let out = sp.push(&text).unwrap();
        assert_eq!(out.len(), 20_000 - HELD);
        assert_eq!(sp.finish().unwrap().len(), HELD);
    }
}

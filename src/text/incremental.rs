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
//!
//! With [`SplitOptions::short_first`], the stream's first piece does not
//! wait for its sentence to settle: once the first span, as the text so far
//! splits, is longer than `first_max_chars` and its cut lies in the part of
//! it no later text can change, that piece comes out at once (the rest of
//! the sentence follows when it settles), so the first audio waits for
//! about `first_max_chars` of text, not for the whole sentence and two
//! more. Later text can end the first sentence only at the end of what has
//! arrived; it can grow the sentence past `max_chars`, and the cut there
//! (at its last clause mark) may leave a first span too short to cut; and
//! whether a short opening ("Hi.") merges with the sentence after it
//! depends on that sentence's final length. The piece waits until none of
//! these can move it (`split::certain_first_piece`): after a short opening
//! that means until the next sentence settles.

use std::ops::Range;

use super::split::{
    certain_first_piece, cut_first, is_cjk, sentence_spans, split_sentences, weight, SplitOptions,
};
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
    /// Bytes of `pending` already given out: pieces of a long sentence
    /// whose rest is held, or the short first piece given out before the
    /// rest of the first sentence (then `started` is still false).
    emitted: usize,
    /// Whether the first sentence has been given out in full (a short
    /// first chunk is cut from the first only).
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
            let pieces = if !self.started && self.opts.short_first {
                cut_first(&self.pending, span.clone(), &self.opts)
            } else {
                vec![span.clone()]
            };
            self.started = true;
            // a short first piece given out early is skipped here
            for piece in pieces.into_iter().filter(|p| p.end > self.emitted) {
                debug_assert!(piece.start >= self.emitted, "a settled span changed");
                out.push(self.sentence(piece));
            }
        }
        if settled == 0 && held > 0 && !self.started && self.emitted == 0 {
            // The first sentence is still arriving: its short first piece
            // goes out as soon as no more text can move the cut.
            if let Some(piece) = certain_first_piece(text, &self.opts) {
                self.emitted = piece.end;
                out.push(self.sentence(piece));
            }
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

    /// The sentence at `span` of `pending`.
    fn sentence(&self, span: Range<usize>) -> StreamSentence {
        StreamSentence {
            text: self.pending[span.clone()].to_owned(),
            span: self.base + span.start..self.base + span.end,
        }
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

    /// Words and clause marks of a long first sentence: a few periods that
    /// do not end it (or, before a capital, may), clause marks ASCII and
    /// CJK, the full-width `；` and an ellipsis that may end it, numbers
    /// with commas, CJK runs that have no spaces to cut at, combining marks
    /// and a joiner that a hard cut must not split off.
    const CLAUSE_TOKENS: &[&str] = &[
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "long",
        "mat",
        "and",
        "it",
        "was",
        "very",
        "x",
        ",",
        ",",
        ";",
        ":",
        "—",
        "–",
        "，",
        "、",
        "；",
        "…",
        "1,000",
        "3.14",
        "10:30",
        "e.g.",
        "Dr.",
        "etc.",
        "p.m.",
        "U.S.",
        "well...",
        "(aside)",
        "你好",
        "今天天气很好",
        "我们走吧",
        "Then",
        "\u{301}\u{302}",
        "a\u{200D}b",
        "e\u{301}",
    ];

    /// A text whose first sentence is long (40 to 90 tokens), sometimes
    /// after a short opening that may merge with it, followed by a random
    /// text.
    fn long_first_text(rng: &mut StdRng) -> String {
        let mut s = String::new();
        if rng.random_range(0..5) == 0 {
            s.push_str(
                ["Hi. ", "Ok! ", "Yes?  ", "你好。", "\"Quoted.\" "][rng.random_range(0..5)],
            );
        }
        for _ in 0..rng.random_range(40..90) {
            s.push_str(CLAUSE_TOKENS[rng.random_range(0..CLAUSE_TOKENS.len())]);
            match rng.random_range(0..10) {
                0 => {}
                1 => s.push_str("  "),
                _ => s.push(' '),
            }
        }
        s.push_str([". ", "! ", "。", "\n", ""][rng.random_range(0..5)]);
        s + &random_text(rng)
    }

    /// Pushes `text` cut at random char boundaries (or bytes); returns the
    /// sentences given out, finished, and how many bytes had been pushed
    /// when the first came out.
    fn stream(
        text: &str,
        opts: &SplitOptions,
        rng: &mut StdRng,
        bytes: bool,
    ) -> (Vec<StreamSentence>, usize) {
        let mut sp = IncrementalSplitter::new(opts.clone());
        let mut out = Vec::new();
        let mut first_at = None;
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
            if !out.is_empty() {
                first_at.get_or_insert(at);
            }
        }
        out.extend(sp.finish().unwrap());
        (out, first_at.unwrap_or(text.len()))
    }

    /// Streams `text` both ways and checks the sentences against the
    /// one-shot split; returns whether the first came out before the end
    /// of the second span had been pushed (a short first piece given out
    /// early), each way.
    fn check(text: &str, opts: &SplitOptions, rng: &mut StdRng, case: usize) -> [bool; 2] {
        let want = split_sentences(text, opts);
        [false, true].map(|bytes| {
            let (got, first_at) = stream(text, opts, rng, bytes);
            let spans: Vec<Range<usize>> = got.iter().map(|s| s.span.clone()).collect();
            assert_eq!(spans, want, "case {case} bytes {bytes} {opts:?}\n{text:?}");
            for s in &got {
                assert_eq!(s.text, text[s.span.clone()]);
            }
            want.get(1).is_some_and(|second| first_at < second.end)
        })
    }

    fn seed() -> u64 {
        std::env::var("ISHOWTTS_SPLIT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7)
    }

    /// Option sets with a short first chunk: its target shorter and longer
    /// than `max_chars / 4` (below which a long sentence is never cut), and
    /// close to `max_chars` (a cut at `max_chars` may leave a first span
    /// too short to cut again).
    fn short_first_options() -> Vec<SplitOptions> {
        let opts = |first_max_chars, max_chars, min_chars| SplitOptions {
            max_chars,
            min_chars,
            short_first: true,
            first_max_chars,
        };
        vec![
            opts(20, 300, 8),
            opts(60, 300, 8),
            opts(120, 300, 8),
            opts(60, 80, 12),
            opts(120, 150, 8),
            opts(60, 100, 0),
            opts(20, 40, 20),
            opts(120, 100, 8),
            opts(60, 70, 30),
            opts(1, 300, 8),
        ]
    }

    #[test]
    fn long_first_sentences_give_the_one_shot_sentences() {
        let mut rng = StdRng::seed_from_u64(seed());
        let options = short_first_options();
        let (mut cut, mut early) = (0, 0);
        for case in 0..3000 {
            let text = long_first_text(&mut rng);
            let opts = &options[case % options.len()];
            let whole = SplitOptions {
                short_first: false,
                ..opts.clone()
            };
            let was_cut =
                split_sentences(&text, opts).first() != split_sentences(&text, &whole).first();
            let came_early = check(&text, opts, &mut rng, case);
            if was_cut {
                cut += 2;
                early += came_early.iter().filter(|&&e| e).count();
            }
        }
        // Many first pieces come out before the rest of their span. The
        // others cannot: a short opening may or may not merge with what
        // follows until that settles, a cut at `max_chars` may yet move,
        // or the span ends within a push of where its cut became certain.
        assert!(3 * early > cut, "{early} of {cut} cut first spans early");
    }

    #[test]
    fn pushes_give_the_one_shot_sentences() {
        let mut rng = StdRng::seed_from_u64(seed());
        let mut options = vec![
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
        options.extend(short_first_options());
        for case in 0..3000 {
            let text = random_text(&mut rng);
            check(&text, &options[case % options.len()], &mut rng, case);
        }
    }

    #[test]
    fn a_long_first_sentence_gives_its_short_piece_early() {
        let sentence = "When the first sentence of a long answer runs on, the splitter cuts \
            it at a clause once it passes the limit, so the first audio starts soon; the rest \
            of the sentence follows when its end is finally known.";
        let text = format!("{sentence} The next one is short. So is this.");
        let opts = SplitOptions {
            short_first: true,
            first_max_chars: 60,
            ..Default::default()
        };
        // pushed as a model gives it out: each word with the space before it
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(sentence.split(' ').count(), 40);
        let mut sp = IncrementalSplitter::new(opts.clone());
        let mut out = Vec::new();
        let mut first = None;
        let mut pushed = 0;
        for (i, word) in words.iter().enumerate() {
            let token = if i == 0 {
                word.to_string()
            } else {
                format!(" {word}")
            };
            pushed += token.len();
            out.extend(sp.push(&token).unwrap());
            if !out.is_empty() && first.is_none() {
                first = Some((i, pushed));
            }
        }
        out.extend(sp.finish().unwrap());
        let (push, at) = first.expect("a sentence came out");
        assert_eq!(
            out[0].text,
            "When the first sentence of a long answer runs on,"
        );
        // "... the splitter" passes 60 chars; it is certain once the next
        // word has begun (the word being typed is not looked at)
        assert_eq!(
            &text[..at],
            "When the first sentence of a long answer runs on, the splitter cuts"
        );
        assert_eq!(push, 12);
        assert!(at < sentence.len());
        let want = split_sentences(&text, &opts);
        let spans: Vec<Range<usize>> = out.iter().map(|s| s.span.clone()).collect();
        assert_eq!(spans, want);
        assert_eq!(out[1].text, &sentence[out[0].text.len() + 1..]);
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

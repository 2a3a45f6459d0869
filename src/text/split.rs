//! Sentence splitting: where one chunk of audio ends and the next begins.
//!
//! Three passes, each linear in the length of the text:
//!
//! 1. **Sentence ends.** `! ?` (and runs like `?!`, `!!!`), a period that
//!    is not part of an abbreviation, initial, decimal, URL or `p.m.`, an
//!    ellipsis followed by a new sentence, the full-width `。！？；` (no
//!    space needed after them), and every line break. Closing quotes and
//!    brackets after a terminator stay with its sentence.
//! 2. **Long sentences** (over [`SplitOptions::max_chars`]) are cut at
//!    clause punctuation, else at a space, else anywhere (a run of CJK
//!    characters has no spaces) but never inside a character or before a
//!    combining mark.
//! 3. **Short fragments** (under [`SplitOptions::min_chars`]) are merged
//!    with a neighbour, and the first sentence is optionally cut short so
//!    its audio starts sooner ([`SplitOptions::short_first`]).
//!
//! Spans are byte ranges into the original text, trimmed of whitespace;
//! together they cover every non-whitespace character exactly once.
//!
//! Known limits (each costs one chunk boundary, never text): an
//! abbreviation that really ends a sentence before a capitalised word
//! ("the U.S. Army", "Baker St. Then") is read as one side or the other by
//! the lists below; a sentence ending in a single capital letter ("Plan
//! B.") ends only when a common sentence-opening word follows.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::char::is_combining_mark;

/// How text is cut into sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOptions {
    /// Sentences longer than this many chars are cut at clause punctuation
    /// (`, ; : ， ； ： 、 — …`), failing that at a space, failing that
    /// hard at the limit (never inside a UTF-8 char). At least 1.
    pub max_chars: usize,
    /// Fragments lighter than this are merged with a neighbour (the next
    /// sentence; the last one with the previous) as long as the merge stays
    /// within `max_chars`. Weight counts non-whitespace chars, a CJK
    /// character counting two (it is a syllable, three or four Latin
    /// letters' worth of speech). 0 disables merging.
    pub min_chars: usize,
    /// Cut the first sentence short (at the first clause punctuation past a
    /// third of `first_max_chars`, else at a space) to cut the time to the
    /// first audio. Only a first span longer than `first_max_chars` is cut,
    /// and only where the piece after the cut weighs at least `min_chars`.
    /// Text split as it arrives gives this piece out as soon as it is
    /// certain, before the rest of the sentence has arrived
    /// ([`super::incremental`]).
    pub short_first: bool,
    /// Target length of the short first chunk, in chars. At least 1.
    pub first_max_chars: usize,
}

impl Default for SplitOptions {
    /// 300 chars at most, fragments under 8 merged, no short first chunk
    /// (60 chars when asked for).
    fn default() -> Self {
        Self {
            max_chars: 300,
            min_chars: 8,
            short_first: false,
            first_max_chars: 60,
        }
    }
}

/// Splits `text` into sentence spans (see the module docs): byte ranges in
/// order, non-overlapping, trimmed, never empty, covering every
/// non-whitespace char exactly once.
pub fn split_sentences(text: &str, opts: &SplitOptions) -> Vec<Range<usize>> {
    let max = opts.max_chars.max(1);
    let mut spans = Vec::new();
    for sentence in Scanner::new(text).sentences() {
        cut_long(text, sentence, max, &mut spans);
    }
    if opts.min_chars > 0 {
        spans = merge_short(text, spans, opts.min_chars, max);
    }
    if opts.short_first && !spans.is_empty() {
        let pieces = cut_first(text, spans[0].clone(), opts);
        spans.splice(0..1, pieces);
    }
    spans
}

/// The sentences' spans before long ones are cut and short ones merged:
/// where [`split_sentences`] may start again from scratch and split the
/// rest as it would have (see [`super::incremental`]).
pub(crate) fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    Scanner::new(text).sentences()
}

// The word lists are sorted: they are searched by binary search (a unit
// test checks the order).

/// Titles: they come before a name, so they never end a sentence.
const TITLES: &[&str] = &[
    "adm", "capt", "cmdr", "col", "dr", "fr", "gen", "gov", "hon", "lt", "maj", "messrs", "mlle",
    "mme", "mr", "mrs", "ms", "mt", "pres", "prof", "rep", "rev", "sen", "sgt", "st", "supt",
];

/// Abbreviations that end a sentence only when a capitalised word follows
/// ("etc. are" goes on, "etc. Then" ends; "Fig. 3" and "no. 5" go on).
const ABBREVIATIONS: &[&str] = &[
    "al", "approx", "apr", "aug", "ave", "blvd", "ca", "ch", "chap", "cm", "co", "corp", "dec",
    "dept", "ed", "eds", "esp", "est", "etc", "feb", "fig", "figs", "fri", "ft", "govt", "hr",
    "hrs", "inc", "intl", "jan", "jr", "jul", "jun", "kg", "km", "lb", "lbs", "ltd", "mar", "max",
    "min", "mins", "mm", "mon", "no", "nos", "nov", "oct", "op", "oz", "pp", "pt", "rd", "sat",
    "sec", "sep", "sept", "sr", "sun", "thu", "thur", "thurs", "tue", "tues", "vol", "wed",
];

/// Abbreviations after which even a capitalised word does not start a
/// sentence ("e.g. Paris").
const NEVER_END: &[&str] = &["a.k.a", "cf", "e.g", "eg", "i.e", "ie", "viz", "vs"];

/// Words that usually open a sentence: after a lone capital and a period
/// ("made in C. Then …") they show the capital was not an initial.
const SENTENCE_OPENERS: &[&str] = &[
    "a", "after", "also", "an", "and", "as", "at", "before", "but", "for", "he", "her", "here",
    "his", "how", "however", "i", "if", "in", "it", "its", "my", "no", "now", "on", "our", "she",
    "so", "that", "the", "their", "then", "there", "these", "they", "this", "those", "to", "we",
    "what", "when", "where", "which", "while", "who", "why", "with", "yes", "you", "your",
];

/// Whether `word`, lowercased, is in the sorted `list`.
fn in_list(list: &[&str], word: &str) -> bool {
    let mut buf = [0u8; 8];
    let Some(lower) = buf.get_mut(..word.len()) else {
        return false; // longer than any entry
    };
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).is_ok_and(|w| list.binary_search(&w).is_ok())
}

/// How far back a period looks for the word it ends: longer tokens are not
/// abbreviations, and the bound keeps the scan linear.
const WORD_LOOKBACK: usize = 40;

/// Line breaks, each of which ends a sentence.
const LINE_BREAKS: &str = "\n\r\u{0B}\u{0C}\u{85}\u{2028}\u{2029}";

fn is_line_break(c: char) -> bool {
    LINE_BREAKS.contains(c)
}

/// A line break, or a run of sentence-final punctuation: the only places
/// a sentence may end. The regex finds them fast (it is compiled
/// optimized even in debug builds); the rules below judge each one.
static BOUNDARY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[\n\r\x0B\x0C\x{85}\x{2028}\x{2029}]|[.!?…‼⁇⁈⁉。！？｡；]+")
        .expect("the boundary pattern is valid")
});

/// Full-width terminators: they end a sentence with no space after them.
fn is_cjk_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡' | '；')
}

fn is_exclamation(c: char) -> bool {
    matches!(c, '!' | '?' | '‼' | '⁇' | '⁈' | '⁉')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '}'
            | '”'
            | '’'
            | '»'
            | '›'
            | '」'
            | '』'
            | '）'
            | '》'
            | '〉'
            | '】'
            | '〕'
            | '］'
            | '｝'
    )
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '(' | '[' | '{' | '“' | '‘' | '«' | '‹' | '「' | '『' | '（' | '《' | '【'
    )
}

/// Chinese, Japanese and Korean letters (not their punctuation).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF
        | 0xAC00..=0xD7AF | 0x20000..=0x2FA1F)
}

/// What may begin a sentence after an ellipsis.
fn starts_sentence(c: char) -> bool {
    c.is_uppercase() || c.is_numeric() || is_opener(c) || is_cjk(c)
}

/// The first pass: finds sentence ends. Positions are byte offsets into
/// the text, always on char boundaries.
struct Scanner<'a> {
    text: &'a str,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self { text }
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.text[pos..].chars().next()
    }

    fn char_before(&self, pos: usize) -> Option<char> {
        self.text[..pos].chars().next_back()
    }

    /// First position at or after `pos` that is not whitespace.
    fn skip_space(&self, pos: usize) -> usize {
        let rest = &self.text[pos..];
        pos + rest.len() - rest.trim_start().len()
    }

    /// Position past the closing quotes and brackets starting at `pos`.
    fn closers_end(&self, mut pos: usize) -> usize {
        while let Some(c) = self.char_at(pos).filter(|&c| is_closer(c)) {
            pos += c.len_utf8();
        }
        pos
    }

    /// Trimmed sentence spans. Each candidate run is judged once, with a
    /// bounded look around it (past whitespace forward, at most
    /// [`WORD_LOOKBACK`] chars back), so the pass is linear.
    fn sentences(&self) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        for m in BOUNDARY.find_iter(self.text) {
            let end = if m.as_str().starts_with(is_line_break) {
                Some(m.end())
            } else {
                let after = self.closers_end(m.end());
                self.run_ends_sentence(start, m.start(), m.end(), after)
                    .then_some(after)
            };
            if let Some(end) = end {
                push_trimmed(self.text, start..end, &mut out);
                start = end;
            }
        }
        push_trimmed(self.text, start..self.text.len(), &mut out);
        out
    }

    /// Whether the terminator run `start..run_end` (closers up to `after`)
    /// ends the sentence that began at `floor`. Nothing before `floor` is
    /// looked at: a sentence is judged the same whatever came before it,
    /// so text split as it arrives gives the sentences of the whole
    /// ([`super::incremental`]).
    fn run_ends_sentence(&self, floor: usize, start: usize, run_end: usize, after: usize) -> bool {
        let run = &self.text[start..run_end];
        // The common runs first, without walking the run.
        match run {
            "." => return self.period_ends(floor, start, after),
            "!" | "?" => return self.exclamation_ends(after, after > run_end),
            _ => {}
        }
        if run.contains(is_cjk_terminator) {
            return true;
        }
        if run.contains(is_exclamation) {
            return self.exclamation_ends(after, after > run_end);
        }
        if run.len() > 1 {
            // "...", "…", "…." (a lone "." is one byte).
            return self.ellipsis_ends(floor, start, after);
        }
        self.period_ends(floor, start, after)
    }

    /// `!` and `?` end a sentence before whitespace, CJK or the end of the
    /// text, except that a quoted exclamation or question followed by a
    /// lowercase word goes on (`"Is it true?" she asked.`). Glued to a
    /// word ("Yahoo!Mail", "?q=1") they do not.
    fn exclamation_ends(&self, after: usize, quoted: bool) -> bool {
        match self.char_at(after) {
            None => true,
            Some(c) if is_cjk(c) => true,
            Some(c) if c.is_whitespace() => {
                let next = self.char_at(self.skip_space(after));
                !(quoted && next.is_some_and(char::is_lowercase))
            }
            _ => false,
        }
    }

    /// An ellipsis is a pause: it ends a sentence at the end of the text,
    /// between CJK characters ("嗯……我想想", where no space is written), or
    /// before whitespace and something that starts a sentence ("Wait...
    /// What?" ends, "Well... maybe" goes on).
    fn ellipsis_ends(&self, floor: usize, start: usize, after: usize) -> bool {
        let next_i = self.skip_space(after);
        let Some(next) = self.char_at(next_i) else {
            return true;
        };
        if start > floor && self.char_before(start).is_some_and(is_cjk) && is_cjk(next) {
            return true;
        }
        next_i > after && starts_sentence(next)
    }

    /// Whether a single `.` at `dot` ends the sentence begun at `floor`.
    fn period_ends(&self, floor: usize, dot: usize, after: usize) -> bool {
        // Decimals, versions, URLs, "U.S.A", "e.g": no space after the dot.
        if self
            .char_at(dot + 1)
            .is_some_and(|n| !n.is_whitespace() && !is_closer(n) && !is_cjk(n))
        {
            return false;
        }
        let following_i = self.skip_space(after);
        let following = self.char_at(following_i);
        if following.is_some_and(is_cjk) {
            return true;
        }
        // `"I know." she said` goes on, as a quoted question does.
        if after > dot + 1 && following.is_some_and(char::is_lowercase) {
            return false;
        }
        let word_start = self.word_start(floor, dot);
        let word = &self.text[word_start..dot];
        if in_list(TITLES, word) || in_list(NEVER_END, word) {
            return false;
        }
        if is_initial(word) {
            return self.opens_sentence(following_i);
        }
        if self.is_list_marker(floor, word, word_start) {
            return false;
        }
        if word.contains('.') || in_list(ABBREVIATIONS, word) {
            // "U.S.A.", "p.m.", "etc.": only a capitalised word (or a
            // quote, or the end) after them starts a new sentence.
            return following.is_none_or(|c| c.is_uppercase() || is_opener(c));
        }
        true
    }

    /// Start of the word that ends at `dot`: back to whitespace, an
    /// opening quote/bracket or the sentence's start `floor`, at most
    /// [`WORD_LOOKBACK`] chars.
    fn word_start(&self, floor: usize, dot: usize) -> usize {
        let mut start = dot;
        for (pos, c) in self.text[floor..dot]
            .char_indices()
            .rev()
            .take(WORD_LOOKBACK)
        {
            let pos = floor + pos;
            if c.is_whitespace() || is_opener(c) {
                return pos + c.len_utf8();
            }
            start = pos;
        }
        start
    }

    /// "1." or "12." first in its sentence (on its line, or after the
    /// previous sentence): a list item's number, not a sentence.
    fn is_list_marker(&self, floor: usize, word: &str, word_start: usize) -> bool {
        if word.is_empty() || word.len() > 3 || !word.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let before = self.text[floor..word_start]
            .chars()
            .rev()
            .find(|&c| !matches!(c, ' ' | '\t'));
        before.is_none_or(is_line_break)
    }

    /// After an initial: a common sentence opener ("C. Then") or the end of
    /// the text means the sentence ended; a name ("J. Smith", "R. R.
    /// Tolkien") means it goes on.
    fn opens_sentence(&self, pos: usize) -> bool {
        let rest = &self.text[pos..];
        let mut end = rest.len();
        for (n, (i, c)) in rest.char_indices().enumerate() {
            if !c.is_alphabetic() {
                end = i;
                break;
            }
            if n >= 8 {
                return false; // longer than any opener
            }
        }
        // An empty word is the end of the text (or a digit, a quote…).
        rest.is_empty() || end > 0 && in_list(SENTENCE_OPENERS, &rest[..end])
    }
}

/// A single capital letter: "J" of "J. Smith".
fn is_initial(word: &str) -> bool {
    let mut chars = word.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if c.is_uppercase())
}

/// Trims whitespace off `r`; `None` when nothing is left.
fn trimmed(text: &str, r: Range<usize>) -> Option<Range<usize>> {
    let s = &text[r.clone()];
    let start = r.start + (s.len() - s.trim_start().len());
    let end = r.end - (s.len() - s.trim_end().len());
    (start < end).then_some(start..end)
}

fn push_trimmed(text: &str, r: Range<usize>, out: &mut Vec<Range<usize>>) {
    if let Some(r) = trimmed(text, r) {
        out.push(r);
    }
}

/// Clause punctuation a long sentence may be cut after. ASCII marks count
/// only before whitespace, so "1,234" and "10:30" stay whole.
fn is_clause_mark(c: char, next: Option<char>) -> bool {
    match c {
        ',' | ';' | ':' => next.is_none_or(char::is_whitespace),
        '，' | '；' | '：' | '、' | '—' | '–' | '…' | '―' => true,
        _ => false,
    }
}

/// Chars that belong to the char before them: a cut never goes there.
fn joins_previous(c: char) -> bool {
    is_combining_mark(c) || c == '\u{200D}' || ('\u{FE00}'..='\u{FE0F}').contains(&c)
}

/// Where to cut `s` if it has more than `max` chars: after the last clause
/// mark (or, with `first_clause`, the first one) that leaves at least `min`
/// chars before the cut, else at the last whitespace past `min` chars, else
/// hard at `max` chars. Scans at most `max + 1` chars.
fn cut_point(s: &str, max: usize, min: usize, first_clause: bool) -> Option<usize> {
    let mut clause = None;
    let mut space = None;
    let mut iter = s.char_indices().enumerate().peekable();
    while let Some((n, (pos, c))) = iter.next() {
        if n == max {
            // A space right at the limit still leaves `max` chars before.
            let space = if c.is_whitespace() { Some(pos) } else { space };
            return Some(clause.or(space).unwrap_or_else(|| hard_cut(s, pos)));
        }
        let next = iter.peek().map(|&(_, (_, c))| c);
        if n + 1 >= min.max(1) && is_clause_mark(c, next) {
            if first_clause && clause.is_none() {
                return Some(pos + c.len_utf8()).filter(|_| has_more_than(s, max));
            }
            clause = Some(pos + c.len_utf8());
        } else if n >= min.max(1) && c.is_whitespace() {
            space = Some(pos);
        }
    }
    None
}

/// Whether `s` has more than `max` chars (counting at most `max + 1`).
fn has_more_than(s: &str, max: usize) -> bool {
    s.chars().nth(max).is_some()
}

/// A hard cut at byte `pos`, moved back off combining marks and joiners.
fn hard_cut(s: &str, pos: usize) -> usize {
    let mut cut = pos;
    while cut > 0 {
        let here = s[cut..].chars().next();
        let before = s[..cut].chars().next_back();
        if here.is_some_and(joins_previous) || before == Some('\u{200D}') {
            cut -= before.map_or(1, char::len_utf8);
        } else {
            return cut;
        }
    }
    pos // one base char with a long tail of marks: cut anyway
}

/// Cuts a span longer than `max` chars into pieces (see [`cut_point`]).
fn cut_long(text: &str, span: Range<usize>, max: usize, out: &mut Vec<Range<usize>>) {
    if span.len() <= max {
        out.push(span); // no more chars than bytes: nothing to cut
        return;
    }
    let mut rest = span;
    while let Some(cut) = cut_point(&text[rest.clone()], max, max / 4, false) {
        let cut = rest.start + cut;
        push_trimmed(text, rest.start..cut, out);
        match trimmed(text, cut..rest.end) {
            Some(r) => rest = r,
            None => return,
        }
    }
    out.push(rest);
}

/// How much there is to say in `s`: non-whitespace chars, CJK counting
/// two (see [`SplitOptions::min_chars`]), counted up to `cap` at most
/// (enough to compare with the minimum, and it keeps merging linear).
pub(crate) fn weight(s: &str, cap: usize) -> usize {
    let mut w = 0;
    for c in s.chars() {
        if w >= cap {
            break;
        }
        if !c.is_whitespace() {
            w += if is_cjk(c) { 2 } else { 1 };
        }
    }
    w.min(cap)
}

/// A span with its weight (capped at the minimum) and length in chars.
#[derive(Clone)]
struct Measured {
    span: Range<usize>,
    weight: usize,
    chars: usize,
}

impl Measured {
    fn new(text: &str, span: Range<usize>, min: usize) -> Self {
        let s = &text[span.clone()];
        Self {
            weight: weight(s, min),
            chars: s.chars().count(),
            span,
        }
    }

    /// `self` and the later `next` as one span, if it stays within `max`
    /// chars.
    fn join(&self, next: &Measured, text: &str, max: usize) -> Option<Measured> {
        let gap = text[self.span.end..next.span.start].chars().count();
        let chars = self.chars + gap + next.chars;
        (chars <= max).then(|| Measured {
            span: self.span.start..next.span.end,
            weight: self.weight + next.weight,
            chars,
        })
    }
}

/// Merges fragments lighter than `min` into the next span, else into the
/// previous one, as long as the result has at most `max` chars.
fn merge_short(text: &str, spans: Vec<Range<usize>>, min: usize, max: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Measured> = Vec::with_capacity(spans.len());
    let mut pending: Option<Measured> = None;
    for span in spans {
        let mut cur = Measured::new(text, span, min);
        if let Some(p) = pending.take() {
            match p.join(&cur, text, max) {
                Some(joined) => cur = joined,
                None => push_or_join_previous(text, &mut out, p, max),
            }
        }
        if cur.weight < min {
            pending = Some(cur);
        } else {
            out.push(cur);
        }
    }
    if let Some(p) = pending {
        push_or_join_previous(text, &mut out, p, max);
    }
    out.into_iter().map(|m| m.span).collect()
}

/// Appends the short fragment `m` to the last span if that fits, else
/// keeps it on its own.
fn push_or_join_previous(text: &str, out: &mut Vec<Measured>, m: Measured, max: usize) {
    if let Some(joined) = out.last().and_then(|last| last.join(&m, text, max)) {
        *out.last_mut().expect("joined with the last span") = joined;
    } else {
        out.push(m);
    }
}

/// The short first piece [`split_sentences`] cuts (with
/// [`SplitOptions::short_first`]) from every text that begins with `text`,
/// once `text` makes it certain: a stream's first piece can then come out
/// before the rest of its first sentence has arrived
/// ([`super::incremental`]).
///
/// `text` must end where no word is cut (after a char that is not
/// alphanumeric, or a CJK one), since a sentence end is judged on the word
/// after it. Then every sentence end in `text` stands, and only the last
/// sentence may go on, so [`first_span_floor`] is known to lie in the
/// first span; the cut is certain when [`cut_first`] makes it within that
/// part (it looks at most `first_max_chars + 1` chars in, and the rest of
/// the span only adds weight to the piece after the cut).
pub(crate) fn certain_first_piece(text: &str, opts: &SplitOptions) -> Option<Range<usize>> {
    if !opts.short_first {
        return None;
    }
    let floor = first_span_floor(text, opts)?;
    match cut_first(text, floor, opts).as_slice() {
        [first, _] => Some(first.clone()),
        _ => None,
    }
}

/// The start of the first span [`split_sentences`] makes of any text that
/// begins with `text` (ending as [`certain_first_piece`] asks): a part of
/// it that no text after can take away.
///
/// The pieces [`cut_long`] makes are settled but the last, which may grow
/// or be cut (see [`open_cut_floor`]). Merging only ever adds to the first
/// span, so it holds the first piece, and the settled pieces a short one
/// certainly joins; a short piece followed by the open one may join it or
/// stay alone (the open piece may reach `max_chars`), so it ends there.
fn first_span_floor(text: &str, opts: &SplitOptions) -> Option<Range<usize>> {
    let max = opts.max_chars.max(1);
    let mut pieces = Vec::new();
    for sentence in Scanner::new(text).sentences() {
        cut_long(text, sentence, max, &mut pieces);
    }
    let open = pieces.pop()?;
    let Some(first) = pieces.first() else {
        let end = open.start + open_cut_floor(&text[open.start..], max, max / 4);
        return trimmed(text, open.start..end.min(open.end));
    };
    let min = opts.min_chars;
    let mut span = Measured::new(text, first.clone(), min);
    for next in &pieces[1..] {
        if min == 0 || span.weight >= min {
            break;
        }
        match span.join(&Measured::new(text, next.clone(), min), text, max) {
            Some(joined) => span = joined,
            None => break,
        }
    }
    Some(span.span)
}

/// For the last piece of a sentence that may go on, `s` being the text from
/// the piece's start to the end of what has arrived: a byte offset in `s`
/// before which every char stays in the piece however the text goes on,
/// when [`cut_point`] (`max`, `min`, last clause) may cut it later.
///
/// With more than `max` chars the cut is already decided. Otherwise a cut
/// falls after the last clause mark if there is one (so after the last
/// one seen, an ASCII mark at the very end counting only once the next char
/// shows it is one), else at the last space past `min` chars (so at the
/// last one seen, or later), else hard at `max` chars, moved back over
/// combining marks, possibly into `s` (to its last place a hard cut may
/// stop at).
fn open_cut_floor(s: &str, max: usize, min: usize) -> usize {
    if has_more_than(s, max) {
        return cut_point(s, max, min, false).expect("more than max chars");
    }
    let min = min.max(1);
    let mut clause = None;
    let mut space = None;
    let mut hard = None;
    let mut before = None;
    let mut iter = s.char_indices().enumerate().peekable();
    while let Some((n, (pos, c))) = iter.next() {
        let next = iter.peek().map(|&(_, (_, c))| c);
        if n + 1 >= min && is_clause_mark(c, next) && (next.is_some() || !c.is_ascii()) {
            clause = Some(pos + c.len_utf8());
        } else if n >= min && c.is_whitespace() {
            space = Some(pos);
        }
        if n > 0 && !joins_previous(c) && before != Some('\u{200D}') {
            hard = Some(pos);
        }
        before = Some(c);
    }
    clause.or(space).or(hard).unwrap_or(s.len())
}

/// Cuts the first sentence at its first clause past a third of
/// `first_max_chars` (else at a space) so its audio comes sooner. A cut
/// that would leave a fragment under `min_chars` is not made.
pub(crate) fn cut_first(text: &str, span: Range<usize>, opts: &SplitOptions) -> Vec<Range<usize>> {
    let target = opts.first_max_chars.max(1);
    let Some(cut) = cut_point(&text[span.clone()], target, target / 3, true) else {
        return vec![span];
    };
    let cut = span.start + cut;
    match (trimmed(text, span.start..cut), trimmed(text, cut..span.end)) {
        (Some(a), Some(b)) if weight(&text[b.clone()], opts.min_chars) >= opts.min_chars => {
            vec![a, b]
        }
        _ => vec![span],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: &str) -> Vec<&str> {
        let opts = SplitOptions {
            min_chars: 0,
            ..Default::default()
        };
        split_sentences(t, &opts)
            .into_iter()
            .map(|r| &t[r])
            .collect()
    }

    #[test]
    fn basics() {
        assert_eq!(
            split("Hello there. How are you?"),
            ["Hello there.", "How are you?"]
        );
        assert_eq!(
            split("Dr. Smith called at 3 p.m. today."),
            ["Dr. Smith called at 3 p.m. today."]
        );
        assert_eq!(split("你好。今天天气很好！"), ["你好。", "今天天气很好！"]);
        assert!(split("   ").is_empty());
        assert!(split("").is_empty());
    }

    #[test]
    fn cut_points() {
        // Last clause mark within the limit, not the first.
        assert_eq!(cut_point("aa, bb, cc dd ee", 10, 2, false), Some(7));
        // The first one when asked for.
        assert_eq!(cut_point("aa, bb, cc dd ee", 10, 2, true), Some(3));
        // No clause mark: the last space.
        assert_eq!(cut_point("aaa bbb ccc ddd", 10, 2, false), Some(7));
        // Short enough: no cut.
        assert_eq!(cut_point("aaa", 10, 2, false), None);
        assert_eq!(cut_point("aa, b", 10, 2, true), None);
        // "1,234" is not a clause.
        assert_eq!(cut_point("1,234,567,890", 5, 1, false), Some(5));
    }

    #[test]
    fn hard_cuts_keep_marks_with_their_letter() {
        let s = "e\u{301}e\u{301}e\u{301}";
        // Byte 3 is between "e" + U+0301 and the next "e": fine.
        assert_eq!(hard_cut(s, 3), 3);
        // Byte 1 is before the combining accent: moved back to 0, then the
        // fallback cuts at the requested place.
        assert_eq!(hard_cut(s, 1), 1);
        // Never right after a zero-width joiner nor right before one.
        let family = "ab\u{200D}c";
        assert_eq!(hard_cut(family, 5), 1);
    }

    /// Text that ends where [`certain_first_piece`] may look at it: after a
    /// char that is not alphanumeric, or a CJK one.
    fn ends_after_a_word(s: &str) -> bool {
        s.chars()
            .next_back()
            .is_some_and(|c| !c.is_alphanumeric() || is_cjk(c))
    }

    #[test]
    fn a_certain_first_piece_stays_whatever_follows() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};

        // A hard cut at `max_chars` moves back over combining marks that
        // have not arrived yet: the first piece may end before the "e",
        // too short to be cut again.
        let opts = SplitOptions {
            max_chars: 20,
            min_chars: 0,
            short_first: true,
            first_max_chars: 10,
        };
        let seen = "abc，今天天气e\u{301}\u{301}\u{301}\u{301}";
        assert_eq!(certain_first_piece(seen, &opts), None);
        let text = format!("{seen}{}。", "\u{301}".repeat(10));
        assert_eq!(split_sentences(&text, &opts)[0], 0.."abc，今天天气".len());

        // Random texts cut after a word, each with many continuations:
        // where a first piece is certain, every one of them gives it.
        const TOKENS: &[&str] = &[
            "the",
            "cat",
            "sat",
            "on",
            "a",
            "long",
            "mat",
            "x",
            "Then",
            "Hi.",
            "etc.",
            "Dr.",
            "U.S.",
            "3.14",
            "1,000",
            "10:30",
            "e.g.",
            "well...",
            "…",
            ",",
            ",",
            ";",
            ":",
            "—",
            "，",
            "、",
            ".",
            "!",
            "?",
            "\n",
            "你好",
            "今天天气很好",
            "。",
            "\u{301}",
            "a\u{200D}",
            "\"",
            "(aside)",
        ];
        let seed = std::env::var("ISHOWTTS_SPLIT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7);
        let mut rng = StdRng::seed_from_u64(seed);
        let words = |rng: &mut StdRng, n: usize| {
            let mut s = String::new();
            for _ in 0..n {
                s.push_str(TOKENS[rng.random_range(0..TOKENS.len())]);
                if rng.random_range(0..4) > 0 {
                    s.push(' ');
                }
            }
            s
        };
        let options = [
            (20, 300, 8),
            (60, 300, 8),
            (10, 20, 0),
            (20, 40, 12),
            (60, 70, 30),
        ];
        let mut certain = 0;
        for case in 0..2000 {
            let (first_max_chars, max_chars, min_chars) = options[case % options.len()];
            let opts = SplitOptions {
                max_chars,
                min_chars,
                short_first: true,
                first_max_chars,
            };
            let n = rng.random_range(1..40);
            let mut seen = words(&mut rng, n);
            while !ends_after_a_word(&seen) && !seen.is_empty() {
                seen.pop();
            }
            let Some(piece) = certain_first_piece(&seen, &opts) else {
                continue;
            };
            certain += 1;
            for _ in 0..40 {
                let more = match rng.random_range(0..6) {
                    0 => String::new(),
                    1 => "\u{301}".repeat(rng.random_range(1..400)),
                    2 => "x".repeat(rng.random_range(1..400)),
                    3 => ", a".repeat(rng.random_range(1..200)),
                    n => {
                        let n = rng.random_range(1..20 * n);
                        words(&mut rng, n)
                    }
                };
                let text = format!("{seen}{more}");
                let first = split_sentences(&text, &opts).first().cloned();
                assert_eq!(first, Some(piece.clone()), "case {case} {opts:?}\n{text:?}");
            }
        }
        assert!(certain > 100, "{certain} certain");
    }

    #[test]
    fn weights() {
        assert_eq!(weight("a b", 10), 2);
        assert_eq!(weight("你好。", 10), 5);
        assert_eq!(weight("abcdef", 3), 3);
    }

    #[test]
    fn word_lists_are_sorted_lowercase_and_short() {
        for list in [TITLES, ABBREVIATIONS, NEVER_END, SENTENCE_OPENERS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
            for w in list {
                assert!(w.len() <= 8 && *w == w.to_ascii_lowercase(), "{w}");
                assert!(in_list(list, w) && in_list(list, &w.to_ascii_uppercase()));
            }
        }
        assert!(!in_list(TITLES, "doctor") && !in_list(TITLES, "") && !in_list(TITLES, "Dré"));
    }
}

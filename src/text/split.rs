//! Sentence splitting: where one chunk of audio ends and the next begins.
//!
//! One pass over the text finds sentence ends: `! ?` and their full-width
//! forms, `。`, a period that is not part of an abbreviation, initial,
//! decimal, URL or `p.m.`, an ellipsis followed by a new sentence, and line
//! breaks. Closing quotes and brackets after a terminator stay with its
//! sentence. Then sentences longer than [`SplitOptions::max_chars`] are cut
//! at clause punctuation, fragments shorter than
//! [`SplitOptions::min_chars`] are merged with a neighbour, and the first
//! sentence is optionally cut short to start audio sooner.
//!
//! Spans are byte ranges into the original text, trimmed of whitespace;
//! together they cover every non-whitespace character exactly once.

use std::ops::Range;

/// How text is cut into sentences.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOptions {
    /// Longer sentences (in chars) are cut at clause punctuation, else at a
    /// space, else anywhere (a run of CJK characters has no spaces).
    pub max_chars: usize,
    /// Fragments with fewer non-whitespace chars than this are merged with
    /// the next sentence (the last one with the previous); 0 disables.
    pub min_chars: usize,
    /// Cut the first sentence at a clause near `first_max_chars`.
    pub short_first: bool,
    /// Target length of the short first chunk, in chars.
    pub first_max_chars: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            max_chars: 300,
            min_chars: 4,
            short_first: false,
            first_max_chars: 60,
        }
    }
}

/// Words ending in `.` that never end a sentence (titles come before a
/// name).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "mt", "rev", "gen", "col", "capt", "lt",
    "sgt", "hon", "gov", "sen", "rep", "pres", "messrs", "mme", "mlle",
];

/// Abbreviations that end a sentence only when a capitalised word follows.
const ABBREVIATIONS: &[&str] = &[
    "etc", "vs", "inc", "ltd", "co", "corp", "no", "fig", "vol", "approx", "dept", "est", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue",
    "wed", "thu", "fri", "sat", "sun", "ave", "blvd", "rd", "ft", "pp", "cf", "al", "ca",
];

/// Abbreviations after which even a capital letter does not start a
/// sentence ("e.g. Paris").
const NEVER_END: &[&str] = &["e.g", "i.e", "cf", "vs", "viz", "a.k.a"];

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '»' | '」' | '』' | '）' | '》' | '】' | '〕'
    )
}

fn is_cjk_terminator(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '｡' | '．')
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF)
}

fn is_clause_mark(c: char) -> bool {
    matches!(
        c,
        ',' | ';' | ':' | '，' | '；' | '：' | '、' | '—' | '–' | '…'
    )
}

/// Splits `text` into sentence spans (see the module docs).
pub fn split_sentences(text: &str, opts: &SplitOptions) -> Vec<Range<usize>> {
    let mut spans = raw_sentences(text);
    let max = opts.max_chars.max(8);
    spans = spans
        .into_iter()
        .flat_map(|s| cut_long(text, s, max))
        .collect();
    if opts.min_chars > 0 {
        spans = merge_short(text, spans, opts.min_chars);
    }
    if opts.short_first {
        if let Some(first) = spans.first().cloned() {
            let pieces = cut_first(text, first, opts.first_max_chars.max(8));
            spans.splice(0..1, pieces);
        }
    }
    spans
}

/// Trims whitespace off `r`; `None` when nothing is left.
fn trimmed(text: &str, r: Range<usize>) -> Option<Range<usize>> {
    let s = &text[r.clone()];
    let start = r.start + (s.len() - s.trim_start().len());
    let end = r.end - (s.len() - s.trim_end().len());
    (start < end).then_some(start..end)
}

/// The first pass: sentence ends by punctuation and line breaks.
fn raw_sentences(text: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |start: usize, end: usize, out: &mut Vec<Range<usize>>| {
        if let Some(r) = trimmed(text, start..end) {
            out.push(r);
        }
    };
    while i < chars.len() {
        let (pos, c) = chars[i];
        let end_at = match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(i + 1),
            '!' | '?' | '！' | '？' | '。' | '｡' => terminator_end(&chars, i),
            '.' => period_end(text, &chars, i),
            '…' => ellipsis_end(&chars, i, i + 1),
            _ => None,
        };
        match end_at {
            Some(j) => {
                let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
                push(start, end, &mut out);
                start = end;
                i = j.max(i + 1);
            }
            None => {
                let _ = pos;
                i += 1;
            }
        }
    }
    push(start, text.len(), &mut out);
    out
}

/// Index just past the terminator run at `i` and any closing quotes or
/// brackets, if what follows starts a new sentence.
fn terminator_end(chars: &[(usize, char)], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < chars.len() && matches!(chars[j].1, '!' | '?' | '！' | '？' | '。' | '.' | '…') {
        j += 1;
    }
    while j < chars.len() && is_closer(chars[j].1) {
        j += 1;
    }
    let cjk = is_cjk_terminator(chars[i].1) || chars[j - 1].1 == '。';
    match chars.get(j) {
        None => Some(j),
        Some(&(_, next)) if cjk || is_cjk(next) => Some(j),
        Some(&(_, next)) if next.is_whitespace() => {
            // `"Is it true?" she asked.`: a lowercase word after a quoted
            // question or exclamation continues the sentence.
            let after = chars[j..].iter().find(|&&(_, c)| !c.is_whitespace());
            match after {
                Some(&(_, c)) if c.is_lowercase() && is_closer(chars[j - 1].1) => None,
                _ => Some(j),
            }
        }
        _ => None,
    }
}

/// `...` (or `…`) ends a sentence only when a capitalised word (or CJK)
/// follows after whitespace, or at the end of the text.
fn ellipsis_end(chars: &[(usize, char)], _i: usize, after: usize) -> Option<usize> {
    let mut j = after;
    while j < chars.len() && matches!(chars[j].1, '.' | '…' | '!' | '?') {
        j += 1;
    }
    while j < chars.len() && is_closer(chars[j].1) {
        j += 1;
    }
    let mut k = j;
    while k < chars.len() && chars[k].1.is_whitespace() {
        k += 1;
    }
    match chars.get(k) {
        None => Some(j),
        // An ellipsis inside Chinese text ("嗯……我想想") is a pause, not an
        // end: only whitespace and a new sentence after it end one.
        Some(&(_, next)) if k > j && starts_sentence(next) => Some(j),
        _ => None,
    }
}

fn starts_sentence(c: char) -> bool {
    c.is_uppercase()
        || c.is_numeric()
        || matches!(c, '"' | '“' | '‘' | '\'' | '(' | '「' | '『')
        || is_cjk(c)
}

/// Whether the `.` at `i` ends a sentence; returns the end index if so.
fn period_end(text: &str, chars: &[(usize, char)], i: usize) -> Option<usize> {
    if chars.get(i + 1).is_some_and(|&(_, c)| c == '.') {
        // "..": an ellipsis starting here.
        return ellipsis_end(chars, i, i + 1);
    }
    let prev = i.checked_sub(1).map(|k| chars[k].1);
    let next = chars.get(i + 1).map(|&(_, c)| c);
    // Decimals, versions, URLs, "U.S.A", "e.g": no space after the dot.
    if let Some(n) = next {
        if !n.is_whitespace() && !is_closer(n) && !is_cjk(n) {
            return None;
        }
    }
    let _ = prev;
    // The word before the dot, without leading quotes/brackets.
    let word_start = chars[..i]
        .iter()
        .rposition(|&(_, c)| c.is_whitespace() || matches!(c, '(' | '"' | '“' | '\'' | '['))
        .map_or(0, |k| chars[k].0 + chars[k].1.len_utf8());
    let word = &text[word_start..chars[i].0];
    let lower = word.to_lowercase();
    let mut j = i + 1;
    while j < chars.len() && is_closer(chars[j].1) {
        j += 1;
    }
    let mut k = j;
    while k < chars.len() && chars[k].1.is_whitespace() {
        k += 1;
    }
    let following = chars.get(k).map(|&(_, c)| c);
    // After an abbreviation only a capitalised word (or a quote) starts a
    // new sentence: "Fig. 3", "no. 5" and "p.m. today" continue.
    let capital_follows =
        following.is_none_or(|c| c.is_uppercase() || matches!(c, '"' | '“') || is_cjk(c));
    if TITLES.contains(&lower.as_str()) {
        return None;
    }
    if NEVER_END.contains(&lower.as_str()) {
        return None;
    }
    // An initial ("J. R. R. Tolkien", "John F. Kennedy"): a single capital
    // first in the text, or after a capitalised word or another initial.
    // After a lowercase word ("made in C. Then…") it ends the sentence.
    let mut wc = word.chars();
    if let (Some(first), None) = (wc.next(), wc.next()) {
        let before = text[..word_start].trim_end();
        let prev_word = before.rsplit(char::is_whitespace).next().unwrap_or("");
        let name_like =
            prev_word.is_empty() || prev_word.chars().next().is_some_and(char::is_uppercase);
        if first.is_uppercase() && name_like {
            return None;
        }
    }
    let dotted = word.contains('.'); // "U.S.A", "p.m", "a.m"
    if dotted || ABBREVIATIONS.contains(&lower.as_str()) {
        return capital_follows.then_some(j);
    }
    Some(j)
}

/// Cuts a span longer than `max` chars into pieces at clause marks, else
/// at whitespace, else at a char boundary.
fn cut_long(text: &str, span: Range<usize>, max: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut rest = span;
    loop {
        let s = &text[rest.clone()];
        let n_chars = s.chars().count();
        if n_chars <= max {
            out.push(rest);
            return out;
        }
        let cut = cut_point(s, max, max / 4);
        let (a, b) = (rest.start..rest.start + cut, rest.start + cut..rest.end);
        if let Some(a) = trimmed(text, a) {
            out.push(a);
        }
        match trimmed(text, b) {
            Some(b) => rest = b,
            None => return out,
        }
    }
}

/// Byte offset to cut `s` (longer than `max` chars) at: after the last
/// clause mark within the first `max` chars (but past `min` chars), else at
/// the last whitespace there, else after `max` chars.
fn cut_point(s: &str, max: usize, min: usize) -> usize {
    let mut clause = None;
    let mut space = None;
    let mut hard = s.len();
    for (n, (pos, c)) in s.char_indices().enumerate() {
        if n >= max {
            hard = pos;
            break;
        }
        let after = pos + c.len_utf8();
        if n >= min {
            if is_clause_mark(c) {
                clause = Some(after);
            } else if c.is_whitespace() {
                space = Some(pos);
            }
        }
    }
    clause.or(space).unwrap_or(hard)
}

/// How much there is to say: non-whitespace chars, CJK counting double
/// (one CJK character is a syllable or more).
fn weight(text: &str, r: &Range<usize>) -> usize {
    text[r.clone()]
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if is_cjk(c) { 2 } else { 1 })
        .sum()
}

/// Merges fragments lighter than `min` into the next span (the last into
/// the previous one).
fn merge_short(text: &str, spans: Vec<Range<usize>>, min: usize) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    let mut carry: Option<Range<usize>> = None;
    for s in spans {
        let s = match carry.take() {
            Some(c) => c.start..s.end,
            None => s,
        };
        if weight(text, &s) < min {
            carry = Some(s);
        } else {
            out.push(s);
        }
    }
    if let Some(c) = carry {
        match out.last_mut() {
            Some(last) => last.end = c.end,
            None => out.push(c),
        }
    }
    out
}

/// Cuts the first sentence near `target` chars so its audio comes sooner.
fn cut_first(text: &str, span: Range<usize>, target: usize) -> Vec<Range<usize>> {
    let s = &text[span.clone()];
    if s.chars().count() <= target {
        return vec![span];
    }
    let cut = cut_point(s, target, target / 3);
    let a = trimmed(text, span.start..span.start + cut);
    let b = trimmed(text, span.start + cut..span.end);
    a.into_iter().chain(b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(t: &str) -> Vec<&str> {
        split_sentences(t, &SplitOptions::default())
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
    }
}

//! Text normalization: digits and symbols into words, per language, before
//! the model reads the text ([`en`] for English, [`zh`] for Chinese).
//!
//! Every rule rewrites only what it matches: text with no digits and none
//! of a language's symbols comes back byte for byte, and no input makes a
//! rule panic (numbers too long for a machine integer are read digit by
//! digit).

pub mod en;
pub mod zh;

pub use en::normalize_en;
pub use zh::normalize_zh;

use std::borrow::Cow;

use regex::{Captures, Regex};

use super::language::Language;

/// Rewrites numbers and symbols of `text` as words for `lang`; text of
/// other languages is returned unchanged.
pub fn normalize(text: &str, lang: Language) -> String {
    match lang {
        Language::English => normalize_en(text),
        Language::Chinese => normalize_zh(text),
        Language::Other => text.to_owned(),
    }
}

/// Compiles one of the rules' patterns (all are literals, tested).
///
/// `<int>` stands for an integer, with or without thousands separators
/// ("1,234,567" but not the comma in "999, or"). `\d` is narrowed to
/// ASCII digits: the regex crate's `\d` also matches other scripts' digits
/// (`٣`, `३`), which the number readers do not know and would otherwise
/// drop from the text.
fn re(pattern: &str) -> Regex {
    let ascii = pattern
        .replace("<int>", r"(?:\d{1,3}(?:,\d{3})+|\d+)")
        .replace(r"\d", "[0-9]")
        .replace(r"\D", "[^0-9]");
    Regex::new(&ascii).expect("normalization patterns are valid")
}

/// Like `Regex::replace_all`, but the closure also sees the chars just
/// before and after the match (the regex crate has no look-around) and may
/// keep the match as it is by returning `None`.
fn replace(
    re: &Regex,
    text: &str,
    mut f: impl FnMut(&Captures, Option<char>, Option<char>) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for c in re.captures_iter(text) {
        let m = c.get(0).expect("group 0 always matches");
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if let Some(words) = f(&c, before, after) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&words);
            last = m.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Text of an optional group ("" when it did not take part).
fn group<'t>(c: &Captures<'t>, i: usize) -> &'t str {
    c.get(i).map_or("", |m| m.as_str())
}

/// Full-width digits `０`–`９`.
fn is_wide_digit(c: char) -> bool {
    ('０'..='９').contains(&c)
}

/// Full-width digits as ASCII, and the full-width `％`, and `：` `．`
/// between digits, so the rules see one kind.
fn to_ascii_digits(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_wide_digit(c) || c == '％') {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let digit_at = |i: usize| {
        chars
            .get(i)
            .is_some_and(|&c| c.is_ascii_digit() || is_wide_digit(c))
    };
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let between = i > 0 && digit_at(i - 1) && digit_at(i + 1);
        out.push(match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '％' => '%',
            '：' if between => ':',
            '．' if between => '.',
            _ => c,
        });
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits() {
        assert_eq!(to_ascii_digits("１２：３０，好"), "12:30，好");
        assert_eq!(to_ascii_digits("时间：下午"), "时间：下午");
        assert_eq!(to_ascii_digits("３．５％"), "3.5%");
    }
}

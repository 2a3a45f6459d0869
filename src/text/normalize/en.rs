//! English normalization: numbers, money, percentages, times, dates and a
//! few symbols become the words a reader would say, as plain text that
//! espeak-ng (or a character-level model) reads without guessing.
//!
//! Rules run in order, most specific first (a date before the numbers in
//! it), and each turns the digits it matches into words, so a later rule
//! never re-reads an earlier one's output. Only matched text changes: the
//! rest of the input, spacing included, is copied through as it is.
//!
//! Readings, and their limits:
//! - integers by value in US style, no "and" ("one hundred one"); with
//!   thousands separators up to the quadrillions; without separators,
//!   9 digits or more and zero-led ones ("007") are read digit by digit, as
//!   are phone numbers ("555-1234", "(555) 123-4567", "+1 555 123 4567");
//! - a four-digit number is read as a year ("nineteen ninety-nine") after
//!   a word that introduces one ("in", "since", "by", a month, …), in a
//!   decade ("1990s"), a date, a year range ("1990-1995") or before "AD"/
//!   "BC"; elsewhere by value ("1999 cars" → "one thousand nine hundred
//!   ninety-nine cars");
//! - ranges "10-20" read "ten to twenty"; a hyphen between spaces is left
//!   alone (it may be a minus or a dash);
//! - `a.m.`/`p.m.` are kept as written after the hour words, since both
//!   espeak-ng and readers say them letter by letter.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{group, re, replace};

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [&str; 6] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn below_hundred(n: u64) -> String {
    if n < 20 {
        ONES[n as usize].to_owned()
    } else if n.is_multiple_of(10) {
        TENS[(n / 10) as usize].to_owned()
    } else {
        format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
    }
}

fn below_thousand(n: u64) -> String {
    match (n / 100, n % 100) {
        (0, r) => below_hundred(r),
        (h, 0) => format!("{} hundred", ONES[h as usize]),
        (h, r) => format!("{} hundred {}", ONES[h as usize], below_hundred(r)),
    }
}

/// Cardinal words: 1234 → "one thousand two hundred thirty-four".
/// Numbers past the quadrillions are read digit by digit.
pub fn cardinal(n: u64) -> String {
    if n == 0 {
        return "zero".into();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    if groups.len() > SCALES.len() {
        return digits(&n.to_string());
    }
    let mut words = Vec::new();
    for (i, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            continue;
        }
        words.push(below_thousand(g));
        if !SCALES[i].is_empty() {
            words.push(SCALES[i].to_owned());
        }
    }
    words.join(" ")
}

/// Ordinal words: 23 → "twenty-third", 101 → "one hundred first".
pub fn ordinal(n: u64) -> String {
    let c = cardinal(n);
    let (head, last) = match c.rfind([' ', '-']) {
        Some(i) => c.split_at(i + 1),
        None => ("", c.as_str()),
    };
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w => match w.strip_suffix('y') {
            Some(stem) => format!("{stem}ieth"),
            None => format!("{w}th"),
        },
    };
    format!("{head}{last}")
}

/// A year as it is said: 1999 → "nineteen ninety-nine", 2005 → "two
/// thousand five", 2024 → "twenty twenty-four", 1900 → "nineteen hundred",
/// 1905 → "nineteen oh five", 2000 → "two thousand".
pub fn year(n: u64) -> String {
    match (n / 100, n % 100) {
        _ if !(1000..10000).contains(&n) => cardinal(n),
        (20, r) if r < 10 => cardinal(n),
        (h, 0) if h % 10 == 0 => cardinal(n),
        (h, 0) => format!("{} hundred", below_hundred(h)),
        (h, r) if r < 10 => format!("{} oh {}", below_hundred(h), ONES[r as usize]),
        (h, r) => format!("{} {}", below_hundred(h), below_hundred(r)),
    }
}

/// Digit by digit: "007" → "zero zero seven".
pub fn digits(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// "1,234" or "1234" as a number; `None` when too long for u64.
fn parse_int(s: &str) -> Option<u64> {
    s.replace(',', "").parse().ok()
}

/// A number as read: integers by value (zero-led ones, and 9 digits or
/// more written without separators, digit by digit), decimals with
/// "point" and their digits one by one.
pub fn number(s: &str) -> String {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let grouped = int.contains(',');
    let plain = int.replace(',', "");
    let by_digit =
        plain.len() > 1 && plain.starts_with('0') && frac.is_none() || !grouped && plain.len() >= 9;
    let int_words = if by_digit {
        digits(&plain)
    } else {
        parse_int(&plain).map_or_else(|| digits(&plain), cardinal)
    };
    match frac {
        Some(f) if !f.is_empty() => format!("{int_words} point {}", digits(f)),
        _ => int_words,
    }
}

/// `words` with a space added on a side where a letter or digit touches
/// it, so "mp3" becomes "mp three" and not "mpthree".
fn padded(words: String, before: Option<char>, after: Option<char>) -> String {
    let touches = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    match (touches(before), touches(after)) {
        (false, false) => words,
        (true, false) => format!(" {words}"),
        (false, true) => format!("{words} "),
        (true, true) => format!(" {words} "),
    }
}

fn int_group(c: &Captures, i: usize) -> Option<u64> {
    c.get(i).and_then(|m| parse_int(m.as_str()))
}

static INTL_PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\+(\d{1,3})[ .-]?(\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4})\b"));
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:\b1[-. ])?(?:\(\d{3}\) ?|\b\d{3}[-.])\d{3}[-.]\d{4}\b|\b\d{3}-\d{4}\b")
});
static SIGN: LazyLock<Regex> = LazyLock::new(|| re(r"(^|[\s(\[{/~])([-−+])([$£€¥]?\d)"));
static TRAILING_CURRENCY: LazyLock<Regex> = LazyLock::new(|| re(r"\b(<int>(?:\.\d+)?)\s?([$£€¥])"));
static BETWEEN_MINUS: LazyLock<Regex> = LazyLock::new(|| re(r"(\d) ?− ?(\d)"));
static CURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"([$£€¥])\s?(<int>)(?:\.(\d+)|,(\d{2})\b)?(?:\s?(?i:(hundred|thousand|million|billion|trillion))\b|([kKmMbB]|bn|BN)\b)?",
    )
});
static CENTS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d+)\s?¢"));
static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{4})([-/])(\d{1,2})([-/])(\d{1,2})\b"));
static SLASH_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,2})([/.])(\d{1,2})[/.](\d{4})\b"));
const MONTH_NAMES: &str = r"(January|February|March|April|May|June|July|August|September|October|November|December|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?)";
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b{MONTH_NAMES}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:(,?\s+)(\d{{4}})\b)?"
    ))
});
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:(?i:(the))\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH_NAMES}(?:(,?\s+)(\d{{4}})\b)?"
    ))
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([aApP])\.?\s?[mM]\b\.?)?"));
static RATIO: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d+):(\d+)\b"));
static HOUR_AMPM: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,2})\s?([aApP])\.?[mM]\b\.?"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(<int>(?:\.\d+)?)\s?%"));
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b(<int>)(?:st|nd|rd|th)\b"));
static DECADE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(1[1-9]|20)(\d)0'?s\b"));
static SHORT_DECADE: LazyLock<Regex> = LazyLock::new(|| re(r"['’]([2-9])0s\b"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?i:(in|since|from|by|until|till|of|year|before|after|during|around|circa|between|to|and|early|late|mid|spring|summer|autumn|fall|winter|January|February|March|April|May|June|July|August|September|October|November|December))(,?\s+|-)(1[1-9]\d\d|20\d\d)\b",
    )
});
static YEAR_ERA: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,4})\s?((?:BCE|BC|AD|CE)\b|A\.D\.|B\.C\.)"));
static FRACTION: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,3})/(\d{1,3})\b(/\d)?"));
static VULGAR: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)?\s?([½⅓⅔¼¾⅛])"));
static VERSION: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d+(?:\.\d+){2,}\b"));
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(<int>(?:\.\d+)?)(?:-|–|—| [–—] )(<int>(?:\.\d+)?)\b"));
static ARITHMETIC: LazyLock<Regex> = LazyLock::new(|| re(r"(\s?)([+×÷=*])(\s?)"));
static NUMBER_SIGN: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:No|no|Nos|nos)\.\s?(\d)"));
static HASH_NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"#(\d)"));
static DEGREES: LazyLock<Regex> = LazyLock::new(|| re(r"°\s?([CF])\b|℃|℉"));
static APPROX: LazyLock<Regex> = LazyLock::new(|| re(r"(^|\s)~\s?(\d)"));
static LEADING_POINT: LazyLock<Regex> = LazyLock::new(|| re(r"(^|[\s(])\.(\d+)"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"));

/// Phone numbers digit by digit, their groups set off by commas.
fn phone(c: &Captures) -> String {
    c[0].split(|ch: char| !ch.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(digits)
        .collect::<Vec<_>>()
        .join(", ")
}

/// "+1 555 123 4567" → "plus one, five five five, one two three, …".
fn intl_phone(c: &Captures) -> String {
    let rest: Vec<String> = c[2]
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .map(digits)
        .collect();
    format!("plus {}, {}", digits(&c[1]), rest.join(", "))
}

/// "555-1234" is a phone number, "100-1000" (both round) a range.
fn phone_or_range(c: &Captures) -> Option<String> {
    let parts: Vec<&str> = c[0].split('-').collect();
    let round = parts.len() == 2 && parts.iter().all(|p| p.ends_with('0'));
    (!round).then(|| phone(c))
}

/// Names of a currency: (one, many, one hundredth, many hundredths).
fn currency_names(symbol: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    match symbol {
        "$" => ("dollar", "dollars", "cent", "cents"),
        "£" => ("pound", "pounds", "penny", "pence"),
        "€" => ("euro", "euros", "cent", "cents"),
        _ => ("yen", "yen", "sen", "sen"),
    }
}

fn scale_word(c: &Captures) -> Option<&'static str> {
    if let Some(word) = c.get(5) {
        let w = word.as_str().to_ascii_lowercase();
        return ["hundred", "thousand", "million", "billion", "trillion"]
            .into_iter()
            .find(|s| *s == w);
    }
    c.get(6).map(|s| match s.as_str() {
        "k" | "K" => "thousand",
        "m" | "M" => "million",
        _ => "billion",
    })
}

/// "$3.50" → "three dollars and fifty cents", "$1.2 million" → "one point
/// two million dollars", "$0.99" → "ninety-nine cents", "€3,50" → "three
/// euros and fifty cents".
fn currency(c: &Captures) -> String {
    let (one, many, sub_one, sub_many) = currency_names(&c[1]);
    // "€3,50" is written with a decimal comma.
    let frac = c.get(3).or(c.get(4)).map(|m| m.as_str());
    if let Some(scale) = scale_word(c) {
        let n = match frac {
            Some(f) => format!("{}.{f}", &c[2]),
            None => c[2].to_owned(),
        };
        return format!("{} {scale} {many}", number(&n));
    }
    let Some(whole) = int_group(c, 2) else {
        return format!("{} {many}", number(&c[2]));
    };
    let whole_words = format!(
        "{} {}",
        cardinal(whole),
        if whole == 1 { one } else { many }
    );
    match frac {
        None => whole_words,
        Some(f) if f.len() == 2 => {
            let cents: u64 = f.parse().unwrap_or(0);
            let cent_words = format!(
                "{} {}",
                cardinal(cents),
                if cents == 1 { sub_one } else { sub_many }
            );
            match (whole, cents) {
                (_, 0) => whole_words,
                (0, _) => cent_words,
                _ => format!("{whole_words} and {cent_words}"),
            }
        }
        Some(f) => format!("{} {many}", number(&format!("{}.{f}", &c[2]))),
    }
}

/// "January fifteenth, twenty twenty-four"; `None` for an impossible date.
fn date(month: u64, day: u64, y: Option<u64>) -> Option<String> {
    let m = MONTHS.get((month as usize).checked_sub(1)?)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(match y {
        Some(y) => format!("{m} {}, {}", ordinal(day), year(y)),
        None => format!("{m} {}", ordinal(day)),
    })
}

/// Index (1-based) of a month name or its abbreviation.
fn month_index(name: &str) -> Option<u64> {
    let key = name.get(..3)?;
    MONTHS
        .iter()
        .position(|m| m.starts_with(key))
        .map(|i| i as u64 + 1)
}

fn am_pm(c: &Captures, i: usize) -> Option<&'static str> {
    c.get(i).map(|x| {
        if x.as_str().eq_ignore_ascii_case("a") {
            "a.m."
        } else {
            "p.m."
        }
    })
}

/// "3:30" → "three thirty", "10:05 a.m." → "ten oh five a.m.", "14:00" →
/// "fourteen hundred", "9:00" → "nine o'clock"; `None` when not a time.
fn time(c: &Captures) -> Option<String> {
    let h: u64 = c[1].parse().ok()?;
    let m: u64 = c[2].parse().ok()?;
    let s = int_group(c, 3);
    if h > 24 || m > 59 || s.is_some_and(|s| s > 59) {
        return None;
    }
    let ampm = am_pm(c, 4);
    let minutes = match (m, ampm) {
        (0, Some(_)) => String::new(),
        (0, None) if h == 0 || h > 12 => " hundred".to_owned(),
        (0, None) => " o'clock".to_owned(),
        (m, _) if m < 10 => format!(" oh {}", ONES[m as usize]),
        (m, _) => format!(" {}", below_hundred(m)),
    };
    let seconds = match s {
        Some(0) | None => String::new(),
        Some(1) => " and one second".to_owned(),
        Some(s) => format!(" and {} seconds", cardinal(s)),
    };
    let ampm = ampm.map_or(String::new(), |a| format!(" {a}"));
    Some(format!("{}{minutes}{seconds}{ampm}", cardinal(h)))
}

/// "10-20" → "ten to twenty"; years stay years ("1990-95").
fn range(c: &Captures) -> String {
    let (a, b) = (&c[1], &c[2]);
    let is_year = |s: &str| s.len() == 4 && (1100..2100).contains(&parse_int(s).unwrap_or(0));
    if is_year(a) && (is_year(b) || b.len() == 2) {
        let first = year(parse_int(a).unwrap_or(0));
        let second = parse_int(b).unwrap_or(0);
        let second = if b.len() == 4 {
            year(second)
        } else if second < 10 {
            format!("oh {}", ONES[second as usize])
        } else {
            below_hundred(second)
        };
        return format!("{first} to {second}");
    }
    format!("{} to {}", number(a), number(b))
}

/// "3/4" → "three quarters", "1/2" → "one half", "2/3" → "two thirds";
/// other pairs ("24/7", "9/11") number by number.
fn fraction(c: &Captures) -> Option<String> {
    if c.get(3).is_some() {
        return None; // "1/2/3": not a fraction
    }
    let n = int_group(c, 1)?;
    let d = int_group(c, 2)?;
    let proper = n > 0 && (n < d && ((2..=10).contains(&d) || d == 100) || d == 2 || d == 4);
    if !proper {
        // "24/7", "9/11", "50/50": names, said number by number.
        return Some(format!("{} {}", cardinal(n), cardinal(d)));
    }
    let unit = match d {
        2 => "half".to_owned(),
        4 => "quarter".to_owned(),
        d => ordinal(d),
    };
    let unit = match (n, unit.as_str()) {
        (1, _) => unit,
        (_, "half") => "halves".to_owned(),
        _ => format!("{unit}s"),
    };
    Some(format!("{} {unit}", cardinal(n)))
}

fn vulgar(c: &Captures) -> String {
    let part = match &c[2] {
        "½" => "a half",
        "⅓" => "a third",
        "⅔" => "two thirds",
        "¼" => "a quarter",
        "¾" => "three quarters",
        _ => "an eighth",
    };
    match c.get(1).and_then(|m| parse_int(m.as_str())) {
        Some(n) => format!("{} and {part}", cardinal(n)),
        None => part.replacen("a ", "one ", 1).replacen("an ", "one ", 1),
    }
}

/// Applies the English rules to `text`; text with no digits and none of
/// the symbols below comes back unchanged.
pub fn normalize_en(text: &str) -> String {
    let handled = |c: char| {
        c.is_ascii_digit()
            || matches!(
                c,
                '&' | '@'
                    | '#'
                    | '%'
                    | '$'
                    | '£'
                    | '€'
                    | '¥'
                    | '¢'
                    | '°'
                    | '℃'
                    | '℉'
                    | '+'
                    | '='
                    | '×'
                    | '÷'
                    | '½'
                    | '⅓'
                    | '⅔'
                    | '¼'
                    | '¾'
                    | '⅛'
            )
    };
    if !text.chars().any(|c| handled(c) || super::is_wide_digit(c)) {
        return text.to_owned();
    }
    let text = super::to_ascii_digits(text);
    symbols_en(&numbers_en(&text))
}

/// The number rules, in order.
fn numbers_en(text: &str) -> String {
    let t = replace(&INTL_PHONE, text, |c, _, _| Some(intl_phone(c)));
    let t = replace(&PHONE, &t, |c, _, _| phone_or_range(c));
    let t = ISO_DATE.replace_all(&t, |c: &Captures| {
        let n = |i| int_group(c, i).unwrap_or(0);
        match date(n(3), n(5), Some(n(1))) {
            Some(d) if c[2] == c[4] => d,
            // Not a date: the numbers one by one, not a range.
            _ => [1, 3, 5].map(|i| number(&c[i])).join(&c[2]),
        }
    });
    let t = replace(&SLASH_DATE, &t, |c, _, _| {
        let (a, b, y) = (int_group(c, 1)?, int_group(c, 3)?, int_group(c, 4)?);
        // Month first with slashes (US) unless the first number cannot be
        // a month; day first with dots ("15.01.2024").
        let day_first = a > 12 || &c[2] == ".";
        let (month, day) = if day_first { (b, a) } else { (a, b) };
        date(month, day, Some(y))
    });
    let t = replace(&MONTH_DAY, &t, |c, _, _| {
        let day = int_group(c, 2)?;
        let d = date(month_index(&c[1])?, day, None)?;
        Some(match c.get(4) {
            Some(y) => format!("{d}, {}", year(parse_int(y.as_str())?)),
            None => d,
        })
    });
    let t = replace(&DAY_MONTH, &t, |c, _, after| {
        let the = c.get(1).map_or("the", |m| m.as_str());
        let day = int_group(c, 2)?;
        let month = MONTHS[month_index(&c[3])? as usize - 1];
        if !(1..=31).contains(&day) {
            return None;
        }
        let y = match c.get(5) {
            Some(y) => format!(", {}", year(parse_int(y.as_str())?)),
            // "on 25 Dec." at the very end: the dot also ended the text.
            None if after.is_none() && c[3].ends_with('.') => ".".to_owned(),
            None => String::new(),
        };
        Some(format!("{the} {} of {month}{y}", ordinal(day)))
    });
    let t = SIGN.replace_all(&t, |c: &Captures| {
        let word = if &c[2] == "+" { "plus" } else { "minus" };
        format!("{}{word} {}", &c[1], &c[3])
    });
    let t = BETWEEN_MINUS.replace_all(&t, "$1 minus $2");
    // "5€" and "5 $" are read as "€5" and "$5".
    let t = replace(&TRAILING_CURRENCY, &t, |c, _, after| {
        (!after.is_some_and(|a| a.is_ascii_digit())).then(|| format!("{}{}", &c[2], &c[1]))
    });
    let t = CURRENCY.replace_all(&t, currency);
    let t = CENTS.replace_all(&t, |c: &Captures| {
        let n = int_group(c, 1).unwrap_or(0);
        format!("{} {}", cardinal(n), if n == 1 { "cent" } else { "cents" })
    });
    let t = replace(&TIME, &t, |c, b, a| {
        // "12:345" is no time; "9:30am" is.
        (!a.is_some_and(|a| a.is_ascii_digit())).then(|| time(c).map(|w| padded(w, b, a)))?
    });
    let t = RATIO.replace_all(&t, |c: &Captures| {
        format!("{} to {}", number(&c[1]), number(&c[2]))
    });
    let t = replace(&HOUR_AMPM, &t, |c, _, _| {
        let h = int_group(c, 1).filter(|h| (1..=12).contains(h))?;
        Some(format!("{} {}", cardinal(h), am_pm(c, 2)?))
    });
    let t = PERCENT.replace_all(&t, |c: &Captures| format!("{} percent", number(&c[1])));
    let t = replace(&ORDINAL, &t, |c, _, _| int_group(c, 1).map(ordinal));
    let t = DECADE.replace_all(&t, |c: &Captures| {
        plural_decade(&year(format!("{}{}0", &c[1], &c[2]).parse().unwrap_or(0)))
    });
    let t = SHORT_DECADE.replace_all(&t, |c: &Captures| {
        plural_decade(TENS[c[1].parse::<usize>().unwrap_or(2)])
    });
    // Ranges before years, so "from 1990-1995" reads both as years.
    let t = replace(&RANGE, &t, |c, b, a| Some(padded(range(c), b, a)));
    let t = YEAR.replace_all(&t, |c: &Captures| {
        let sep = if &c[2] == "-" { " " } else { &c[2] };
        format!("{}{sep}{}", &c[1], year(c[3].parse().unwrap_or(0)))
    });
    let t = replace(&YEAR_ERA, &t, |c, _, _| {
        Some(format!("{} {}", year(int_group(c, 1)?), &c[2]))
    });
    let t = replace(&VERSION, &t, |c, b, a| {
        let parts: Vec<&str> = c[0].split('.').collect();
        // Four numbers up to 255: an IP address, read with "dot".
        let ip = parts.len() == 4
            && parts
                .iter()
                .all(|p| p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255));
        let words: Vec<String> = parts.into_iter().map(number).collect();
        Some(padded(
            words.join(if ip { " dot " } else { " point " }),
            b,
            a,
        ))
    });
    let t = replace(&FRACTION, &t, |c, _, _| fraction(c));
    let t = VULGAR.replace_all(&t, vulgar);
    let t = NUMBER_SIGN.replace_all(&t, "number $1");
    let t = HASH_NUMBER.replace_all(&t, "number $1");
    let t = APPROX.replace_all(&t, "${1}about $2");
    let t = LEADING_POINT.replace_all(&t, |c: &Captures| {
        format!("{}point {}", &c[1], digits(&c[2]))
    });
    let t = replace(&ARITHMETIC, &t, arithmetic);
    replace(&NUMBER, &t, |c, b, a| Some(padded(number(&c[0]), b, a)))
}

/// `+ × ÷ =` between numbers (or set off by spaces) as words.
fn arithmetic(c: &Captures, before: Option<char>, after: Option<char>) -> Option<String> {
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    let left = digit(before) || before.is_some() && !c[1].is_empty();
    let right = digit(after) || after == Some('-') || !c[3].is_empty();
    let word = match &c[2] {
        "+" => "plus",
        "×" => "times",
        // `*` is also markdown and footnotes: only between digits.
        "*" if digit(before) && digit(after) => "times",
        "*" => return None,
        "÷" => "divided by",
        _ => "equals",
    };
    (left && right).then(|| format!(" {word} "))
}

/// "nineteen ninety" → "nineteen nineties", "twenty" → "twenties".
fn plural_decade(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{words}s"),
    }
}

/// The symbol rules: words for `°`, `&`, `@`.
fn symbols_en(text: &str) -> String {
    let mut t = replace(&DEGREES, text, |c, b, a| {
        let scale = match (group(c, 1), &c[0]) {
            ("C", _) | (_, "℃") => "Celsius",
            _ => "Fahrenheit",
        };
        Some(padded(format!("degrees {scale}"), b, a))
    });
    for (symbol, word) in [('&', "and"), ('@', "at"), ('°', "degrees")] {
        if t.contains(symbol) {
            t = spell_symbol(&t, symbol, word);
        }
    }
    t
}

/// Replaces each `symbol` by `word`, with a space on each side where a
/// letter or digit touches it ("R&D" → "R and D").
fn spell_symbol(text: &str, symbol: char, word: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == symbol {
            if prev.is_some_and(char::is_alphanumeric) {
                out.push(' ');
            }
            out.push_str(word);
            if chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(1234), "one thousand two hundred thirty-four");
        assert_eq!(cardinal(1_000_001), "one million one");
        assert_eq!(cardinal(u64::MAX).split(' ').count(), 20);
        assert_eq!(ordinal(23), "twenty-third");
        assert_eq!(ordinal(101), "one hundred first");
        assert_eq!(ordinal(40), "fortieth");
        assert_eq!(ordinal(12), "twelfth");
        assert_eq!(year(1999), "nineteen ninety-nine");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(2024), "twenty twenty-four");
        assert_eq!(year(1905), "nineteen oh five");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(number("007"), "zero zero seven");
        assert_eq!(number("0.5"), "zero point five");
        assert_eq!(
            number("123456789"),
            "one two three four five six seven eight nine"
        );
        assert_eq!(
            number("123,456,789"),
            "one hundred twenty-three million four hundred fifty-six thousand seven hundred eighty-nine"
        );
    }

    #[test]
    fn symbols_get_spaces_only_where_needed() {
        assert_eq!(spell_symbol("R&D", '&', "and"), "R and D");
        assert_eq!(spell_symbol("salt & pepper", '&', "and"), "salt and pepper");
        assert_eq!(spell_symbol("A&, B", '&', "and"), "A and, B");
    }
}

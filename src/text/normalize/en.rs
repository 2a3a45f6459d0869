//! English normalization: numbers, money, percentages, times, dates and a
//! few symbols become the words a reader would say.
//!
//! Rules run in order, most specific first, and each turns digits into
//! words, so a later rule never re-reads an earlier one's output.

use std::sync::LazyLock;

use regex::{Captures, Regex};

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

/// Ordinal words: 23 → "twenty-third".
pub fn ordinal(n: u64) -> String {
    let c = cardinal(n);
    let (head, last) = match c.rfind([' ', '-']) {
        Some(i) => (&c[..=i], &c[i + 1..]),
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
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// A year as it is said: 1999 → "nineteen ninety-nine", 2005 → "two
/// thousand five", 2024 → "twenty twenty-four", 1900 → "nineteen hundred".
pub fn year(n: u64) -> String {
    match (n / 100, n % 100) {
        (_, _) if !(1000..10000).contains(&n) => cardinal(n),
        (20, r) if r < 10 => cardinal(n),
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

/// A number as read: integers by value (long or zero-led ones digit by
/// digit), decimals with "point".
pub fn number(s: &str) -> String {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let plain = int.replace(',', "");
    let int_words = if plain.len() > 1 && plain.starts_with('0') || plain.len() > 15 {
        digits(&plain)
    } else {
        parse_int(&plain).map_or_else(|| digits(&plain), cardinal)
    };
    match frac {
        Some(f) if !f.is_empty() => format!("{int_words} point {}", digits(f)),
        _ => int_words,
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("normalization patterns are valid")
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:\(\d{3}\)\s?|\d{3}-)?\d{3}-\d{4}\b"));
static CURRENCY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"([$£€¥])\s?(\d[\d,]*)(?:\.(\d+))?(?:\s?(thousand|million|billion|trillion)\b)?")
});
static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{4})-(\d{2})-(\d{2})\b"));
static US_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"));
static TIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(\d{1,2}):(\d{2})(?::\d{2})?(?:\s?([aApP])\.?\s?[mM]\b\.?)?"));
static HOUR_AMPM: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,2})\s?([aApP])\.?[mM]\b\.?"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d[\d,]*(?:\.\d+)?)\s?%"));
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d+)(?:st|nd|rd|th)\b"));
static DECADE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(1[1-9]|20)(\d)0'?s\b"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(in|since|from|by|until|till|of|year|before|after|during|around|circa|January|February|March|April|May|June|July|August|September|October|November|December)(,?\s+)(1[1-9]\d\d|20\d\d)\b",
    )
});
static YEAR_ERA: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{3,4})\s?(AD|BC|BCE|CE)\b"));
static RANGE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(\d{1,4})\s?[-–]\s?(\d{1,4})\b"));
static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| re(r"(^|[\s(])[-−](\d)"));
static HASH_NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"#(\d)"));
static DEGREES: LazyLock<Regex> = LazyLock::new(|| re(r"(\d)\s?°\s?([CF])\b"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"));

fn currency(c: &Captures) -> String {
    let (unit, units, sub, subs) = match &c[1] {
        "$" => ("dollar", "dollars", "cent", "cents"),
        "£" => ("pound", "pounds", "penny", "pence"),
        "€" => ("euro", "euros", "cent", "cents"),
        _ => ("yen", "yen", "sen", "sen"),
    };
    let whole = parse_int(&c[2]);
    if let Some(scale) = c.get(4) {
        // "$1.2 million" → "one point two million dollars"
        let n = match c.get(3) {
            Some(f) => format!("{}.{}", &c[2], f.as_str()),
            None => c[2].to_owned(),
        };
        return format!("{} {} {units}", number(&n), scale.as_str());
    }
    let Some(whole) = whole else {
        return format!("{} {units}", number(&c[2]));
    };
    let mut out = format!(
        "{} {}",
        cardinal(whole),
        if whole == 1 { unit } else { units }
    );
    if let Some(f) = c.get(3) {
        let f = f.as_str();
        if f.len() == 2 {
            let cents: u64 = f.parse().unwrap_or(0);
            if cents > 0 {
                let name = if cents == 1 { sub } else { subs };
                out = format!("{out} and {} {name}", cardinal(cents));
            }
        } else {
            out = format!("{} {units}", number(&format!("{}.{f}", &c[2])));
        }
    }
    out
}

fn date(month: u64, day: u64, y: u64) -> Option<String> {
    let m = MONTHS.get((month as usize).checked_sub(1)?)?;
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(format!("{m} {}, {}", ordinal(day), year(y)))
}

fn time(c: &Captures) -> String {
    let h: u64 = c[1].parse().unwrap_or(0);
    let m: u64 = c[2].parse().unwrap_or(0);
    if h > 24 || m > 59 {
        return c[0].to_owned();
    }
    let ampm = c.get(3).map(|x| {
        if x.as_str().eq_ignore_ascii_case("a") {
            " a.m."
        } else {
            " p.m."
        }
    });
    let hour = cardinal(h);
    let minutes = match (m, ampm) {
        (0, Some(_)) => String::new(),
        (0, None) if h > 12 => " hundred".to_owned(),
        (0, None) => " o'clock".to_owned(),
        (m, _) if m < 10 => format!(" oh {}", ONES[m as usize]),
        (m, _) => format!(" {}", below_hundred(m)),
    };
    format!("{hour}{minutes}{}", ampm.unwrap_or(""))
}

/// Applies the English rules to `text`.
pub fn normalize_en(text: &str) -> String {
    if !text
        .bytes()
        .any(|b| b.is_ascii_digit() || b"&+=#@%$".contains(&b))
        && !text.contains(['£', '€', '¥', '°'])
    {
        return text.to_owned();
    }
    let t = PHONE.replace_all(text, |c: &Captures| {
        let groups: Vec<String> = c[0]
            .split(|ch: char| !ch.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(digits)
            .collect();
        groups.join(", ")
    });
    let t = CURRENCY.replace_all(&t, currency);
    let t = ISO_DATE.replace_all(&t, |c: &Captures| {
        let n = |i: usize| c[i].parse::<u64>().unwrap_or(0);
        date(n(2), n(3), n(1)).unwrap_or_else(|| c[0].to_owned())
    });
    let t = US_DATE.replace_all(&t, |c: &Captures| {
        let n = |i: usize| c[i].parse::<u64>().unwrap_or(0);
        date(n(1), n(2), n(3)).unwrap_or_else(|| c[0].to_owned())
    });
    let t = TIME.replace_all(&t, time);
    let t = HOUR_AMPM.replace_all(&t, |c: &Captures| {
        let h: u64 = c[1].parse().unwrap_or(0);
        let ampm = if c[2].eq_ignore_ascii_case("a") {
            "a.m."
        } else {
            "p.m."
        };
        format!("{} {ampm}", cardinal(h))
    });
    let t = PERCENT.replace_all(&t, |c: &Captures| format!("{} percent", number(&c[1])));
    let t = ORDINAL.replace_all(&t, |c: &Captures| {
        parse_int(&c[1]).map_or_else(|| c[0].to_owned(), ordinal)
    });
    let t = DECADE.replace_all(&t, |c: &Captures| {
        let y: u64 = format!("{}{}0", &c[1], &c[2]).parse().unwrap_or(0);
        let words = year(y);
        match words.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{words}s"),
        }
    });
    let t = YEAR.replace_all(&t, |c: &Captures| {
        format!("{}{}{}", &c[1], &c[2], year(c[3].parse().unwrap_or(0)))
    });
    let t = YEAR_ERA.replace_all(&t, |c: &Captures| {
        format!("{} {}", year(c[1].parse().unwrap_or(0)), &c[2])
    });
    let t = RANGE.replace_all(&t, |c: &Captures| {
        format!("{} to {}", number(&c[1]), number(&c[2]))
    });
    let t = NEGATIVE.replace_all(&t, "${1}minus ${2}");
    let t = HASH_NUMBER.replace_all(&t, "number ${1}");
    let t = DEGREES.replace_all(&t, |c: &Captures| {
        let scale = if &c[2] == "C" {
            "Celsius"
        } else {
            "Fahrenheit"
        };
        format!("{} degrees {scale}", &c[1])
    });
    let t = NUMBER.replace_all(&t, |c: &Captures| number(&c[0]));
    let t = t
        .replace('&', " and ")
        .replace(" + ", " plus ")
        .replace(" = ", " equals ")
        .replace('°', " degrees")
        .replace('@', " at ");
    collapse_spaces(&t)
}

/// Squeezes the doubled spaces symbol replacement leaves.
fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(1234), "one thousand two hundred thirty-four");
        assert_eq!(cardinal(1_000_001), "one million one");
        assert_eq!(ordinal(23), "twenty-third");
        assert_eq!(ordinal(101), "one hundred first");
        assert_eq!(ordinal(40), "fortieth");
        assert_eq!(year(1999), "nineteen ninety-nine");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(2024), "twenty twenty-four");
        assert_eq!(year(1905), "nineteen oh five");
    }
}

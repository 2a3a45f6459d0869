//! Chinese normalization: Arabic numerals become Chinese numerals read the
//! way they are said: values by place (1234 → 一千二百三十四), years and
//! long codes digit by digit (2024年 → 二零二四年), decimals with 点,
//! percentages as 百分之…, times as …点…分, dates as …年…月…日.
//!
//! A leading 2 before a place is written 二 (二千, 二万), as in formal
//! reading; TTS models say it naturally either way.

use std::sync::LazyLock;

use regex::{Captures, Regex};

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// Digit by digit: "2024" → "二零二四".
pub fn digits_zh(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| DIGITS[d as usize])
        .collect()
}

/// 0..=9999 with 千百十, zeros collapsed ("1005" → "一千零五").
fn below_10k(n: u64, out: &mut String, leading: bool) {
    let places = [(1000, '千'), (100, '百'), (10, '十'), (1, ' ')];
    let mut zero_pending = false;
    let mut started = false;
    for (value, name) in places {
        let d = (n / value) % 10;
        if d == 0 {
            if started {
                zero_pending = true;
            }
            continue;
        }
        if zero_pending {
            out.push('零');
            zero_pending = false;
        }
        // "十五", not "一十五", at the very start of a number.
        let skip_one = d == 1 && value == 10 && !started && leading;
        if !skip_one {
            out.push(DIGITS[d as usize]);
        }
        if name != ' ' {
            out.push(name);
        }
        started = true;
    }
}

/// Value reading: 1234 → 一千二百三十四, 100000 → 十万, 10010 → 一万零一十.
pub fn cardinal_zh(n: u64) -> String {
    if n == 0 {
        return "零".into();
    }
    if n >= 10u64.pow(16) {
        return digits_zh(&n.to_string());
    }
    let groups = [
        (n / 1_0000_0000_0000, '兆'),
        ((n / 1_0000_0000) % 1_0000, '亿'),
        ((n / 1_0000) % 1_0000, '万'),
        (n % 1_0000, ' '),
    ];
    let mut out = String::new();
    let mut need_zero = false;
    for (g, name) in groups {
        if g == 0 {
            if !out.is_empty() {
                need_zero = true;
            }
            continue;
        }
        if !out.is_empty() && (need_zero || g < 1000) {
            out.push('零');
        }
        need_zero = false;
        let leading = out.is_empty();
        below_10k(g, &mut out, leading);
        if name != ' ' {
            out.push(name);
        }
    }
    out
}

/// A number as read: integers by value (long or zero-led ones digit by
/// digit), decimals with 点.
pub fn number_zh(s: &str) -> String {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let plain = int.replace(',', "");
    let int_words = if plain.len() > 1 && plain.starts_with('0') || plain.len() > 12 {
        digits_zh(&plain)
    } else {
        plain
            .parse()
            .map_or_else(|_| digits_zh(&plain), cardinal_zh)
    };
    match frac {
        Some(f) if !f.is_empty() => format!("{int_words}点{}", digits_zh(f)),
        _ => int_words,
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("normalization patterns are valid")
}

static ISO_DATE: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{2,4})年"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| re(r"(^|\D)(\d{1,2})(月|日|号)"));
static TIME: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{1,2}):(\d{2})"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+(?:\.\d+)?)\s?[%％]"));
static CURRENCY: LazyLock<Regex> = LazyLock::new(|| re(r"[¥￥](\d[\d,]*(?:\.\d+)?)"));
static NEGATIVE: LazyLock<Regex> = LazyLock::new(|| re(r"(^|[^0-9A-Za-z])[-−](\d)"));
static LONG_DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"\d{7,}"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"));

/// Applies the Chinese rules to `text`.
pub fn normalize_zh(text: &str) -> String {
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return text.to_owned();
    }
    let t = ISO_DATE.replace_all(text, |c: &Captures| {
        let m: u64 = c[2].parse().unwrap_or(0);
        let d: u64 = c[3].parse().unwrap_or(0);
        if (1..=12).contains(&m) && (1..=31).contains(&d) {
            format!(
                "{}年{}月{}日",
                digits_zh(&c[1]),
                cardinal_zh(m),
                cardinal_zh(d)
            )
        } else {
            c[0].to_owned()
        }
    });
    let t = YEAR.replace_all(&t, |c: &Captures| format!("{}年", digits_zh(&c[1])));
    let t = MONTH_DAY.replace_all(&t, |c: &Captures| {
        format!(
            "{}{}{}",
            &c[1],
            cardinal_zh(c[2].parse().unwrap_or(0)),
            &c[3]
        )
    });
    let t = TIME.replace_all(&t, |c: &Captures| {
        let h: u64 = c[1].parse().unwrap_or(0);
        let m: u64 = c[2].parse().unwrap_or(0);
        if h > 24 || m > 59 {
            return c[0].to_owned();
        }
        match m {
            0 => format!("{}点", cardinal_zh(h)),
            m if m < 10 => format!("{}点零{}分", cardinal_zh(h), cardinal_zh(m)),
            m => format!("{}点{}分", cardinal_zh(h), cardinal_zh(m)),
        }
    });
    let t = PERCENT.replace_all(&t, |c: &Captures| format!("百分之{}", number_zh(&c[1])));
    let t = CURRENCY.replace_all(&t, |c: &Captures| format!("{}元", number_zh(&c[1])));
    let t = NEGATIVE.replace_all(&t, "${1}负${2}");
    let t = LONG_DIGITS.replace_all(&t, |c: &Captures| digits_zh(&c[0]));
    let t = NUMBER.replace_all(&t, |c: &Captures| number_zh(&c[0]));
    t.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals() {
        assert_eq!(cardinal_zh(1234), "一千二百三十四");
        assert_eq!(cardinal_zh(10), "十");
        assert_eq!(cardinal_zh(15), "十五");
        assert_eq!(cardinal_zh(110), "一百一十");
        assert_eq!(cardinal_zh(1005), "一千零五");
        assert_eq!(cardinal_zh(100000), "十万");
        assert_eq!(cardinal_zh(10010), "一万零一十");
        assert_eq!(cardinal_zh(20000), "二万");
        assert_eq!(cardinal_zh(100_000_000), "一亿");
        assert_eq!(cardinal_zh(1_0001_0000), "一亿零一万");
    }
}

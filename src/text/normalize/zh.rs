//! Chinese normalization: Arabic numerals become Chinese numerals read the
//! way they are said.
//!
//! - values by place: 1234 → 一千二百三十四, 10 → 十, 100000 → 十万,
//!   10010 → 一万零一十;
//! - a 2 in the thousands place or alone before 万/亿 is said 两, as in
//!   speech: 2000 → 两千, 20000 → 两万, 12000 → 一万两千; elsewhere 二
//!   (二百, 二十); a lone 2 before a measure word too (2个 → 两个, 2点 →
//!   两点), but not an ordinal (第2个 → 第二个) nor a grade (2年级);
//! - years digit by digit: 2024年 → 二零二四年 (two- and three-digit
//!   counts before 年 are durations: 10年 → 十年), and generations:
//!   90后 → 九零后;
//! - dates: 2024年1月15日, 2024-01-15 and 2024/1/15 → 二零二四年一月十五日;
//! - times: 10:30 → 十点三十分, 8:05 → 八点零五分, 12:00 → 十二点; other
//!   pairs with a colon are scores (3:2 → 三比二);
//! - decimals with 点 (3.14 → 三点一四), percentages (50% → 百分之五十),
//!   fractions (3/4 → 四分之三), ranges (3-5 → 三到五), negatives (负),
//!   temperatures (-5°C → 零下五摄氏度), money (¥100 → 一百元, $5 → 五美元);
//! - phone numbers, IDs and other long codes digit by digit: mobile
//!   numbers, zero-led numbers, runs of 11 digits or more, and 7 to 10
//!   digits unless round (ending in 000) or followed by a unit.
//!
//! Full-width digits (１２３) are read like ASCII ones.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{group, is_wide_digit, re, replace, to_ascii_digits};

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// Digit by digit: "2024" → "二零二四".
pub fn digits_zh(s: &str) -> String {
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| DIGITS[d as usize])
        .collect()
}

/// 1..=9999 by place, zeros inside collapsed ("1005" → "一千零五");
/// `leading` drops the 一 of a leading 十 ("十五", not "一十五").
fn below_10k(n: u64, out: &mut String, leading: bool) {
    let places = [
        (1000, Some('千')),
        (100, Some('百')),
        (10, Some('十')),
        (1, None),
    ];
    let mut zero_pending = false;
    let mut started = false;
    for (value, name) in places {
        let d = (n / value) % 10;
        if d == 0 {
            zero_pending |= started;
            continue;
        }
        if zero_pending {
            out.push('零');
            zero_pending = false;
        }
        let skip_one = d == 1 && value == 10 && !started && leading;
        if d == 2 && value == 1000 {
            out.push('两');
        } else if !skip_one {
            out.push(DIGITS[d as usize]);
        }
        out.extend(name);
        started = true;
    }
}

/// Value reading: 1234 → 一千二百三十四, 100000 → 十万, 20000 → 两万,
/// 10010 → 一万零一十. From 10^16 on, digit by digit.
pub fn cardinal_zh(n: u64) -> String {
    if n == 0 {
        return "零".into();
    }
    if n >= 10u64.pow(16) {
        return digits_zh(&n.to_string());
    }
    let groups = [
        (n / 1_0000_0000_0000, Some('兆')),
        ((n / 1_0000_0000) % 1_0000, Some('亿')),
        ((n / 1_0000) % 1_0000, Some('万')),
        (n % 1_0000, None),
    ];
    let mut out = String::new();
    let mut need_zero = false;
    for (g, name) in groups {
        if g == 0 {
            need_zero |= !out.is_empty();
            continue;
        }
        if !out.is_empty() && (need_zero || g < 1000) {
            out.push('零');
        }
        need_zero = false;
        if g == 2 && name.is_some() {
            out.push('两');
        } else {
            let leading = out.is_empty();
            below_10k(g, &mut out, leading);
        }
        out.extend(name);
    }
    out
}

/// A number as read: the integer part by value (zero-led, digit by
/// digit), then each further dot-separated part digit by digit after 点
/// ("3.14" → 三点一四, "1.2.3" → 一点二点三).
pub fn number_zh(s: &str) -> String {
    let mut parts = s.split('.');
    let int = parts.next().unwrap_or("").replace(',', "");
    let int_words = if int.len() > 1 && int.starts_with('0') {
        digits_zh(&int)
    } else {
        int.parse().map_or_else(|_| digits_zh(&int), cardinal_zh)
    };
    parts
        .filter(|p| !p.is_empty())
        .fold(int_words, |acc, p| format!("{acc}点{}", digits_zh(p)))
}

/// An amount of money: trailing zeros of the decimals are not said
/// ("3.50" → 三点五, "3.00" → 三).
fn amount_zh(s: &str) -> String {
    match s.split_once('.') {
        Some((int, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                number_zh(int)
            } else {
                number_zh(&format!("{int}.{frac}"))
            }
        }
        None => number_zh(s),
    }
}

/// Measure words (and 千/万/亿) before which a lone 2 is said 两.
const MEASURES: &[&str] = &[
    "个", "位", "只", "本", "次", "件", "条", "张", "把", "台", "辆", "种", "天", "岁", "名", "份",
    "双", "对", "杯", "瓶", "碗", "块", "斤", "公斤", "千克", "米", "公里", "小时", "分钟", "秒",
    "周", "星期", "层", "间", "家", "场", "段", "句", "首", "部", "颗", "头", "匹", "架", "艘",
    "棵", "朵", "篇", "页", "年", "点", "元", "倍", "遍", "支", "盒", "箱", "片", "套", "口", "门",
    "项", "所", "座", "千", "万", "亿", "百万", "千万",
];

/// Units after which a 7-to-10-digit number is a quantity, not a code.
const UNITS: &[char] = &[
    '元', '块', '万', '亿', '人', '个', '次', '米', '吨', '辆', '件', '台', '户', '名', '份', '美',
    '欧', '英', '字', '股', '张', '条', '位', '平', '公', '千', '克', '斤',
];

static INTL_PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\+(\d{1,3})[ -]?(\d{2,4}(?:[ -]?\d{3,4}){1,3})"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}|0\d{2,3}-\d{7,8}|400-?\d{3}-?\d{4}"));
static DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d{4})\s*([-/.年])\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*(日|号))?"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{4})\s*年"));
static YEAR_RANGE: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{4})\s?[-~～—–到至]\s?(\d{4})\s*年"));
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{1,2})(月|日|号)"));
static TIME: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{1,2}):(\d{2})(?::(\d{2}))?"));
static TIME_RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d{1,2}:\d{2})\s?[-~～—–至]\s?(\d{1,2}:\d{2})"));
static GENERATION: LazyLock<Regex> = LazyLock::new(|| re(r"(\d{2})后"));
static SCORE: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)\s?:\s?(\d+)"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re(r"([-−]?)(\d+(?:\.\d+)?)\s?([%‰])"));
static TEMPERATURE: LazyLock<Regex> =
    LazyLock::new(|| re(r"([-−]?)(\d+(?:\.\d+)?)\s?(°C|℃|°F|℉|°|度)"));
static CURRENCY: LazyLock<Regex> =
    LazyLock::new(|| re(r"([-−]?)([¥￥$€£])\s?(<int>(?:\.\d+)?)(?:\s?(万|亿))?"));
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(\d+(?:\.\d+)?)\s?[-~～—–]\s?(\d+(?:\.\d+)?)"));
static FRACTION: LazyLock<Regex> = LazyLock::new(|| re(r"(\d+)/(\d+)"));
static SIGN: LazyLock<Regex> = LazyLock::new(|| re(r"[-−](\d)"));
static ARITHMETIC: LazyLock<Regex> = LazyLock::new(|| re(r"\s?([+×÷=])\s?"));
static LONE_TWO: LazyLock<Regex> = LazyLock::new(|| re(r"2(\D{1,2})"));
static LONG_DIGITS: LazyLock<Regex> = LazyLock::new(|| re(r"\d{7,}"));
static NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)*"));

fn is_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_digit())
}

/// Applies the Chinese rules to `text`; text without digits comes back
/// unchanged.
pub fn normalize_zh(text: &str) -> String {
    if !text.chars().any(|c| c.is_ascii_digit() || is_wide_digit(c)) {
        return text.to_owned();
    }
    let text = to_ascii_digits(text);
    let t = replace(&INTL_PHONE, &text, |c, b, a| {
        (!is_digit(b) && !is_digit(a)).then(|| {
            let rest: Vec<String> = c[2].split([' ', '-']).map(digits_zh).collect();
            format!("加{} {}", digits_zh(&c[1]), rest.join(" "))
        })
    });
    let t = replace(&PHONE, &t, |c, b, a| {
        let groups: Vec<String> = c[0].split([' ', '-']).map(digits_zh).collect();
        (!is_digit(b) && !is_digit(a)).then(|| groups.join(" "))
    });
    let t = replace(&DATE, &t, date);
    let t = replace(&YEAR_RANGE, &t, |c, b, _| {
        (!is_digit(b)).then(|| format!("{}到{}年", digits_zh(&c[1]), digits_zh(&c[2])))
    });
    let t = replace(&YEAR, &t, |c, b, _| {
        (!is_digit(b)).then(|| format!("{}年", digits_zh(&c[1])))
    });
    // "90后", "00后": people born in the nineties, the noughties.
    let t = replace(&GENERATION, &t, |c, b, _| {
        (!is_digit(b)).then(|| format!("{}后", digits_zh(&c[1])))
    });
    let t = replace(&MONTH_DAY, &t, |c, b, _| {
        let n: u64 = c[1].parse().ok()?;
        (!is_digit(b) && b != Some('.')).then(|| format!("{}{}", cardinal_zh(n), &c[2]))
    });
    let t = TIME_RANGE.replace_all(&t, "${1}到${2}");
    let t = replace(&TIME, &t, time);
    let t = replace(&SCORE, &t, |c, _, _| {
        Some(format!("{}比{}", number_zh(&c[1]), number_zh(&c[2])))
    });
    let t = replace(&PERCENT, &t, |c, _, _| {
        let head = if &c[3] == "%" {
            "百分之"
        } else {
            "千分之"
        };
        let sign = if c[1].is_empty() { "" } else { "负" };
        Some(format!("{head}{sign}{}", number_zh(&c[2])))
    });
    let t = replace(&TEMPERATURE, &t, temperature);
    let t = replace(&CURRENCY, &t, |c, _, _| Some(currency(c)));
    let t = replace(&RANGE, &t, |c, b, _| {
        (!b.is_some_and(|b| b.is_ascii_alphanumeric()))
            .then(|| format!("{}到{}", number_zh(&c[1]), number_zh(&c[2])))
    });
    let t = replace(&FRACTION, &t, |c, b, a| {
        (!is_digit(b) && a != Some('/'))
            .then(|| format!("{}分之{}", number_zh(&c[2]), number_zh(&c[1])))
    });
    let t = replace(&SIGN, &t, |c, b, _| {
        (!b.is_some_and(|b| b.is_ascii_alphanumeric())).then(|| format!("负{}", &c[1]))
    });
    let t = replace(&ARITHMETIC, &t, |c, b, a| {
        let word = match &c[1] {
            "+" => "加",
            "×" => "乘",
            "÷" => "除以",
            _ => "等于",
        };
        (is_digit(b) && (is_digit(a) || a == Some('负'))).then(|| word.to_owned())
    });
    let t = replace(&LONE_TWO, &t, lone_two);
    let t = replace(&LONG_DIGITS, &t, long_digits);
    replace(&NUMBER, &t, |c, _, _| Some(number_zh(&c[0])))
}

/// 2024-01-15 → 二零二四年一月十五日; `None` for an impossible date.
fn date(c: &Captures, before: Option<char>, after: Option<char>) -> Option<String> {
    if is_digit(before) || is_digit(after) {
        return None;
    }
    let m: u64 = c[3].parse().ok()?;
    let d: u64 = c[4].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day_word = match group(c, 5) {
        "" => "日",
        w => w,
    };
    Some(format!(
        "{}年{}月{}{day_word}",
        digits_zh(&c[1]),
        cardinal_zh(m),
        cardinal_zh(d)
    ))
}

/// 10:30 → 十点三十分, 8:05 → 八点零五分, 12:00 → 十二点, 2:00 → 两点.
fn time(c: &Captures, before: Option<char>, after: Option<char>) -> Option<String> {
    if is_digit(before) || is_digit(after) {
        return None;
    }
    let h: u64 = c[1].parse().ok()?;
    let m: u64 = c[2].parse().ok()?;
    let s: Option<u64> = c.get(3).and_then(|s| s.as_str().parse().ok());
    if h > 24 || m > 59 || s.is_some_and(|s| s > 59) {
        return None;
    }
    let hour = if h == 2 {
        "两".to_owned()
    } else {
        cardinal_zh(h)
    };
    let minutes = match m {
        0 if s.is_none_or(|s| s == 0) => String::new(),
        m if m < 10 => format!("零{}分", cardinal_zh(m)),
        m => format!("{}分", cardinal_zh(m)),
    };
    let seconds = match s {
        Some(s) if s > 0 => format!("{}秒", cardinal_zh(s)),
        _ => String::new(),
    };
    Some(format!("{hour}点{minutes}{seconds}"))
}

/// -5°C → 零下五摄氏度, 98.6°F → 华氏九十八点六度, 30° → 三十度.
fn temperature(c: &Captures, _: Option<char>, _: Option<char>) -> Option<String> {
    let below = if c[1].is_empty() { "" } else { "零下" };
    let n = number_zh(&c[2]);
    Some(match &c[3] {
        "°C" | "℃" => format!("{below}{n}摄氏度"),
        "°F" | "℉" => format!("华氏{below}{n}度"),
        _ => format!("{below}{n}度"),
    })
}

/// ¥100 → 一百元, $5 → 五美元, ¥3.50 → 三点五元, ¥5万 → 五万元, ¥2 → 两元.
fn currency(c: &Captures) -> String {
    let unit = match &c[2] {
        "$" => "美元",
        "€" => "欧元",
        "£" => "英镑",
        _ => "元",
    };
    let sign = if c[1].is_empty() { "" } else { "负" };
    let amount = match amount_zh(&c[3]) {
        two if two == "二" => "两".to_owned(), // 两元, as said
        a => a,
    };
    format!("{sign}{amount}{}{unit}", group(c, 4))
}

/// A lone 2 before a measure word is said 两 (2个 → 两个), unless it is an
/// ordinal (第2个) or part of a larger number or decimal.
fn lone_two(c: &Captures, before: Option<char>, _: Option<char>) -> Option<String> {
    if is_digit(before) || matches!(before, Some('.' | '第' | ',')) {
        return None;
    }
    let rest = &c[1];
    if rest.starts_with(|ch: char| ch.is_ascii_digit() || ch == '.') || rest.starts_with("年级") {
        return None;
    }
    MEASURES
        .iter()
        .any(|m| rest.starts_with(m))
        .then(|| format!("两{rest}"))
}

/// Runs of 7 or more digits: codes (phone numbers, IDs, accounts) digit by
/// digit, unless round or followed by a unit (an amount, read by value).
fn long_digits(c: &Captures, before: Option<char>, after: Option<char>) -> Option<String> {
    let s = &c[0];
    if matches!(before, Some('.' | ',')) || matches!(after, Some('.' | ',')) {
        return None; // part of a decimal or a grouped number
    }
    let quantity = s.len() <= 10
        && !s.starts_with('0')
        && (s.ends_with("000") || after.is_some_and(|a| UNITS.contains(&a)));
    (!quantity).then(|| digits_zh(s))
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
        assert_eq!(cardinal_zh(20000), "两万");
        assert_eq!(cardinal_zh(2000), "两千");
        assert_eq!(cardinal_zh(12000), "一万两千");
        assert_eq!(cardinal_zh(220), "二百二十");
        assert_eq!(cardinal_zh(100_000_000), "一亿");
        assert_eq!(cardinal_zh(1_0001_0000), "一亿零一万");
        assert_eq!(cardinal_zh(2_0000_0000), "两亿");
        assert_eq!(cardinal_zh(u64::MAX), digits_zh(&u64::MAX.to_string()));
    }

    #[test]
    fn numbers_and_amounts() {
        assert_eq!(number_zh("3.14"), "三点一四");
        assert_eq!(number_zh("007"), "零零七");
        assert_eq!(number_zh("1,234"), "一千二百三十四");
        assert_eq!(number_zh("1.2.3"), "一点二点三");
        assert_eq!(amount_zh("3.50"), "三点五");
        assert_eq!(amount_zh("3.00"), "三");
    }
}

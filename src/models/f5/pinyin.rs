//! Chinese text to tone-numbered pinyin, as F5-TTS's front end does it.
//!
//! Upstream (`f5_tts.model.utils.convert_char_to_pinyin`) cuts the text with
//! rjieba (a binding of `jieba-rs`, the segmenter used here, HMM on) and turns
//! each Chinese word into pinyin with
//! `pypinyin.lazy_pinyin(word, style=Style.TONE3, tone_sandhi=True)`. This
//! module reproduces that call:
//!
//! 1. the word is split into runs of characters that have pinyin (pypinyin's
//!    `RE_HANS`) and runs that do not; a run without pinyin comes back whole,
//!    as one item;
//! 2. a run with pinyin is cut again by forward maximum matching over a
//!    phrase dictionary (pypinyin's `mmseg`, strict mode: only real phrases
//!    are taken, anything else goes one character at a time);
//! 3. a phrase gets its dictionary reading, any other character its first
//!    reading (the `pinyin` crate carries the same per-character data as
//!    pypinyin, `pinyin-data` 0.15);
//! 4. tone sandhi is applied inside each piece (third tone, 不, 一); for a
//!    single character it leaves the first reading as it is;
//! 5. TONE3 style: tone digit 1 to 4 at the end, no digit for the neutral
//!    tone, `ü` written `v`.
//!
//! # The phrase table
//!
//! pypinyin's phrase dictionary (47,111 phrases) is not carried whole.
//! [`PHRASE_TABLE`] (`pinyin_phrases.txt`, written by
//! `scripts/gen_pinyin_phrases.py`) holds every phrase whose pinyin after
//! sandhi differs from reading its characters one by one (银行 yin2 hang2,
//! 你好 ni2 hao3, 东西 dong1 xi), rare ones included since jieba still cuts
//! them whole (弹钢琴, or 系好 joined by its HMM), plus the phrases the
//! matcher must know so that it cuts as pypinyin does: pieces whose shorter
//! table phrase inside must not match (所有权 keeps suo3 you3, not the
//! sandhi of 所有), and phrases that a rest of a word only starts, which
//! pypinyin then reads character by character (天有不测, start of
//! 天有不测风云). Its entries are final: sandhi is already applied. The
//! generator checks that every word of jieba's dictionary and every pypinyin
//! phrase comes out as pypinyin reads it.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jieba_rs::Jieba;
use pinyin::ToPinyin;

/// The phrase table: one phrase a line, then its TONE3 syllables (final,
/// after sandhi); `#` starts a comment line.
pub const PHRASE_TABLE: &str = include_str!("pinyin_phrases.txt");

/// jieba with its default dictionary; loading it takes a moment, so it is
/// built once, on first use.
static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

static PHRASES: LazyLock<Phrases> = LazyLock::new(|| Phrases::parse(PHRASE_TABLE));

/// The phrase table, indexed for maximum matching.
struct Phrases {
    /// Phrase -> its syllables (one per character).
    readings: HashMap<&'static str, Box<[&'static str]>>,
    /// Every prefix of every phrase (the phrases included), so matching can
    /// stop as soon as no longer phrase can start with what it has.
    prefixes: HashSet<&'static str>,
}

impl Phrases {
    fn parse(table: &'static str) -> Self {
        let mut readings = HashMap::new();
        let mut prefixes = HashSet::new();
        for line in table.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut fields = line.split(' ');
            let Some(phrase) = fields.next() else {
                continue;
            };
            let syllables: Box<[&str]> = fields.collect();
            // A malformed line would misalign the pinyin with the
            // characters; the table is generated, so this is a bug caught
            // by the unit tests rather than a runtime condition.
            debug_assert_eq!(syllables.len(), phrase.chars().count(), "{line}");
            if syllables.len() != phrase.chars().count() {
                continue;
            }
            for (end, c) in phrase.char_indices() {
                prefixes.insert(&phrase[..end + c.len_utf8()]);
            }
            readings.insert(phrase, syllables);
        }
        Self { readings, prefixes }
    }
}

/// Loads the segmenter's dictionary and the phrase table now (about 0.2 s)
/// rather than on the first text; [`super::tokenizer::Tokenizer`]'s
/// constructors call it, so loading a model pays for it.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
    LazyLock::force(&PHRASES);
}

/// Cuts `text` into words the way upstream's `rjieba.cut(text)` does (jieba
/// with its HMM for unknown words). Every character of `text` is in exactly
/// one word, in order.
pub fn segment(text: &str) -> Vec<&str> {
    JIEBA.cut(text, true).into_iter().map(|t| t.word).collect()
}

/// Whether pypinyin treats `c` as a Chinese character (its `RE_HANS`): only
/// runs of these are looked up, everything else passes through unchanged.
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3007}'
        | '\u{E815}'..='\u{E864}'
        | '\u{FA18}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A703}'..='\u{2B73F}'
        | '\u{2B740}'..='\u{2B81D}'
        | '\u{2B825}'..='\u{2BF6E}'
        | '\u{2C029}'..='\u{2CE93}'
        | '\u{2D016}'
        | '\u{2D11B}'..='\u{2EBD9}'
        | '\u{2F80A}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{32389}'
    )
}

/// The first (most common) reading of `c` in TONE3 style (`zhong1`, `de`
/// for the neutral tone, `lv4` for 绿), or `None` when `c` has no pinyin.
pub fn char_pinyin(c: char) -> Option<String> {
    let reading = c.to_pinyin()?.with_tone_num_end();
    // pypinyin's TONE3 writes ü as v unless asked otherwise (upstream does
    // not ask), and the vocabulary follows it (`lv4`, `nv3`).
    Some(reading.replace('ü', "v"))
}

/// What `pypinyin.lazy_pinyin(word, style=Style.TONE3, tone_sandhi=True)`
/// returns: one item per Chinese character, and one per run of other
/// characters (the run itself, unchanged).
pub fn word_pinyin(word: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(word.len() / 3 + 1);
    for (run, han) in han_runs(word) {
        if han {
            han_run_pinyin(run, &mut out);
        } else {
            out.push(run.to_string());
        }
    }
    out
}

/// Splits `text` into maximal runs of Chinese / other characters
/// (pypinyin's `simple_seg`), each with whether it is Chinese.
fn han_runs(text: &str) -> Vec<(&str, bool)> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut current = None;
    for (i, c) in text.char_indices() {
        let han = is_han(c);
        if current.is_some_and(|h| h != han) {
            runs.push((&text[start..i], !han));
            start = i;
        }
        current = Some(han);
    }
    if let Some(han) = current {
        runs.push((&text[start..], han));
    }
    runs
}

/// Pinyin of a run of Chinese characters: pypinyin's strict forward maximum
/// matching over the phrase table, phrases read whole, other characters one
/// by one.
fn han_run_pinyin(run: &str, out: &mut Vec<String>) {
    let phrases = &*PHRASES;
    let mut rest = run;
    while !rest.is_empty() {
        // Longest prefix of `rest` that is a phrase, looking no further than
        // the point where no phrase can start with what is there.
        let mut longest = None;
        let mut whole_rest_is_prefix = true;
        for (i, c) in rest.char_indices() {
            let candidate = &rest[..i + c.len_utf8()];
            if !phrases.prefixes.contains(candidate) {
                whole_rest_is_prefix = false;
                break;
            }
            if let Some(syllables) = phrases.readings.get(candidate) {
                longest = Some((candidate.len(), syllables));
            }
        }
        match longest {
            Some((len, syllables)) => {
                out.extend(syllables.iter().map(|s| s.to_string()));
                rest = &rest[len..];
            }
            // pypinyin quirk kept on purpose: when everything left is the
            // start of some phrase but holds none, it is all read character
            // by character, without looking for phrases further in.
            None if whole_rest_is_prefix => {
                out.extend(rest.chars().map(single_pinyin));
                rest = "";
            }
            None => {
                let c = rest.chars().next().expect("rest is not empty");
                out.push(single_pinyin(c));
                rest = &rest[c.len_utf8()..];
            }
        }
    }
}

/// One character read on its own. Sandhi on a lone character changes
/// nothing: 一 stays yi1 and 不 stays bu4, their first readings.
fn single_pinyin(c: char) -> String {
    // A character in a Chinese range but without data comes back as itself
    // (pypinyin's `errors='default'`).
    char_pinyin(c).unwrap_or_else(|| c.to_string())
}

/// Applies pypinyin's tone sandhi (`ToneSandhiMixin`) to the TONE3 syllables
/// of one word: third tone, then 不, then 一.
///
/// The phrase table already holds final pinyin, so the converter does not
/// need this; it documents the rules the table was made with and lets the
/// tests check a few entries against them.
pub fn tone_sandhi(word: &str, syllables: &mut [String]) {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() != syllables.len() {
        return;
    }
    third_tone(syllables);
    for (i, &c) in chars.iter().enumerate() {
        if c != '不' && c != '一' {
            continue;
        }
        let next_is_fourth = syllables.get(i + 1).map(|s| s.contains('4'));
        syllables[i] = match next_is_fourth {
            // Before a fourth tone: 不 and 一 take the second tone.
            Some(true) => syllables[i].replace('4', "2"),
            // Before any other syllable: fourth tone.
            Some(false) => set_tone(&syllables[i], '4'),
            // Last in the word: 不 bu4, 一 yi1.
            None if c == '不' => set_tone(&syllables[i], '4'),
            None => set_tone(&syllables[i], '1'),
        };
    }
}

/// pypinyin's third-tone rule, quirks included: it counts the third tones
/// at the *end* of the word; two there turn the word's first third tone into
/// a second tone, more than two turn all but the last one of the word's
/// third tones into second tones.
fn third_tone(syllables: &mut [String]) {
    let trailing = syllables
        .iter()
        .rev()
        .take_while(|s| s.contains('3'))
        .count();
    let mut to_change = match trailing {
        0 | 1 => return,
        2 => 1,
        n => n - 1,
    };
    for s in syllables.iter_mut() {
        if to_change == 0 {
            break;
        }
        if s.contains('3') {
            *s = s.replace('3', "2");
            to_change -= 1;
        }
    }
}

/// Replaces a syllable's tone digit (pypinyin substitutes digits only, so a
/// neutral-tone syllable stays toneless).
fn set_tone(syllable: &str, tone: char) -> String {
    syllable
        .chars()
        .map(|c| if c.is_ascii_digit() { tone } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(word: &str) -> Vec<String> {
        word_pinyin(word)
    }

    #[test]
    fn phrase_table_is_well_formed() {
        let phrases = &*PHRASES;
        let lines = PHRASE_TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        assert_eq!(
            phrases.readings.len(),
            lines,
            "duplicate or malformed lines"
        );
        for (phrase, syllables) in &phrases.readings {
            assert_eq!(syllables.len(), phrase.chars().count(), "{phrase}");
            for s in syllables.iter() {
                assert!(
                    s.chars()
                        .all(|c| c.is_ascii_lowercase() || ('1'..='4').contains(&c) || c == 'ê'),
                    "{phrase}: {s}"
                );
            }
        }
    }

    #[test]
    fn single_characters_take_their_first_reading() {
        assert_eq!(char_pinyin('中').as_deref(), Some("zhong1"));
        assert_eq!(char_pinyin('的').as_deref(), Some("de"));
        assert_eq!(char_pinyin('绿').as_deref(), Some("lv4"));
        assert_eq!(char_pinyin('女').as_deref(), Some("nv3"));
        assert_eq!(char_pinyin('略').as_deref(), Some("lve4"));
        assert_eq!(char_pinyin('a'), None);
        assert_eq!(py("一"), ["yi1"]);
        assert_eq!(py("不"), ["bu4"]);
    }

    #[test]
    fn phrases_resolve_polyphones_and_sandhi() {
        assert_eq!(py("你好"), ["ni2", "hao3"]);
        assert_eq!(py("银行"), ["yin2", "hang2"]);
        assert_eq!(py("一定"), ["yi2", "ding4"]);
        assert_eq!(py("不是"), ["bu2", "shi4"]);
        assert_eq!(py("觉得"), ["jue2", "de"]);
        // Not phrases: no sandhi across characters read one by one.
        assert_eq!(py("很好"), ["hen3", "hao3"]);
        // Maximum matching inside a longer jieba word.
        assert_eq!(py("重新考虑"), ["chong2", "xin1", "kao3", "lv4"]);
        // A blocker: the whole phrase matches, not the sandhi of 所有.
        assert_eq!(py("所有"), ["suo2", "you3"]);
        assert_eq!(py("所有权"), ["suo3", "you3", "quan2"]);
        // Rare phrases jieba still cuts whole, and an HMM word.
        assert_eq!(py("弹钢琴"), ["tan2", "gang1", "qin2"]);
        assert_eq!(py("好好学习"), ["hao3", "hao3", "xue2", "xi2"]);
        assert_eq!(py("系好"), ["ji4", "hao3"]);
        // A rest that only starts a phrase is read character by character,
        // without the sandhi of 不测.
        assert_eq!(py("天有不测"), ["tian1", "you3", "bu4", "ce4"]);
    }

    #[test]
    fn non_chinese_runs_come_back_whole() {
        assert_eq!(py("，"), ["，"]);
        assert_eq!(py("ㄅㄆ"), ["ㄅㄆ"]);
        assert_eq!(py("中ㄅㄆ文"), ["zhong1", "ㄅㄆ", "wen2"]);
        assert!(py("").is_empty());
    }

    #[test]
    fn sandhi_rules_match_pypinyin() {
        let run = |word: &str, s: &[&str]| {
            let mut v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            tone_sandhi(word, &mut v);
            v
        };
        assert_eq!(run("你好", &["ni3", "hao3"]), ["ni2", "hao3"]);
        // Before a fourth tone only a fourth-tone 一 changes (pypinyin
        // replaces the digit 4): phrases already read it yi2.
        assert_eq!(run("一定", &["yi1", "ding4"]), ["yi1", "ding4"]);
        assert_eq!(run("一个", &["yi4", "ge4"]), ["yi2", "ge4"]);
        assert_eq!(run("一天", &["yi1", "tian1"]), ["yi4", "tian1"]);
        assert_eq!(run("不对", &["bu4", "dui4"]), ["bu2", "dui4"]);
        assert_eq!(run("不好", &["bu4", "hao3"]), ["bu4", "hao3"]);
        assert_eq!(run("统一", &["tong3", "yi1"]), ["tong3", "yi1"]);
        // Three trailing third tones: all but the last change.
        assert_eq!(
            run("展览馆", &["zhan3", "lan3", "guan3"]),
            ["zhan2", "lan2", "guan3"]
        );
        // The quirk: only the trailing run is counted, the first third
        // tone of the word changes.
        assert_eq!(
            run("xxxx", &["wo3", "ai4", "ni3", "hao3"]),
            ["wo2", "ai4", "ni3", "hao3"]
        );
    }

    #[test]
    fn table_entries_agree_with_the_sandhi_rules() {
        // Entries whose dictionary reading is the per-character one differ
        // only by sandhi, which the rules must reproduce (polyphone and
        // neutral-tone entries are not, by design; tests/f5_frontend.rs
        // checks them against upstream).
        for word in ["你好", "不是", "可以", "一起"] {
            let mut s: Vec<String> = word.chars().map(single_pinyin).collect();
            tone_sandhi(word, &mut s);
            assert_eq!(s, py(word), "{word}");
        }
    }

    #[test]
    fn segmentation_is_jieba() {
        assert_eq!(segment("我们一起去银行"), ["我们", "一起", "去", "银行"]);
        assert_eq!(
            segment("Hello world, 你好"),
            ["Hello", " ", "world", ",", " ", "你好"]
        );
        assert!(segment("").is_empty());
    }
}

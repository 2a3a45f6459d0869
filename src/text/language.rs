//! Which language a voice reads, as far as text handling cares.

/// Language of a voice's text: picks the normalization rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// English rules.
    #[default]
    English,
    /// Mandarin/Cantonese rules (Chinese numerals).
    Chinese,
    /// Anything else: sentences are split, text is not rewritten.
    Other,
}

impl Language {
    /// From a voice's language code: `en`, `en_US`, `en-us`, `en-gb-x-rp`
    /// are English; `zh`, `zh_CN`, `cmn`, `yue`, `zh-yue` are Chinese.
    pub fn from_code(code: &str) -> Language {
        let lower = code.trim().to_ascii_lowercase();
        let primary = lower.split(['-', '_']).next().unwrap_or("");
        match primary {
            "en" | "eng" => Language::English,
            "zh" | "cmn" | "yue" | "zho" | "chi" => Language::Chinese,
            _ => Language::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        for c in ["en", "en_US", "en-us", "en-gb-x-rp", "EN"] {
            assert_eq!(Language::from_code(c), Language::English, "{c}");
        }
        for c in ["zh", "zh_CN", "cmn", "yue", "zh-yue", "cmn-latn-pinyin"] {
            assert_eq!(Language::from_code(c), Language::Chinese, "{c}");
        }
        for c in ["de", "fr_FR", "", "english"] {
            assert_eq!(Language::from_code(c), Language::Other, "{c}");
        }
    }
}

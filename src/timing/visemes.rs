//! Phonemes to visemes (mouth shapes) for lip-sync.
//!
//! The set is the 15 visemes of the Oculus/Meta lip-sync SDK, which game
//! engines (Unity, Unreal) and avatar tools drive faces with: `sil PP FF
//! TH DD kk CH SS nn RR aa E ih oh ou`, numbered 0 to 14 in that order.
//! Each IPA phoneme maps by its base letter; marks (stress, length,
//! diacritics) do not change the shape. Pauses, punctuation and anything
//! unknown are `sil`.

/// One of the 15 Oculus visemes; the discriminant is its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Viseme {
    /// Silence, mouth at rest.
    Sil = 0,
    /// p, b, m: lips closed.
    PP = 1,
    /// f, v: lower lip to the teeth.
    FF = 2,
    /// θ, ð: tongue between the teeth.
    TH = 3,
    /// t, d: tongue behind the teeth.
    DD = 4,
    /// k, g, ŋ, h: back of the tongue.
    KK = 5,
    /// tʃ, dʒ, ʃ, ʒ: lips rounded forward.
    CH = 6,
    /// s, z.
    SS = 7,
    /// n, l.
    NN = 8,
    /// r sounds.
    RR = 9,
    /// Open vowels (a, ɑ, æ, ʌ).
    AA = 10,
    /// Mid front vowels (e, ɛ, ə).
    E = 11,
    /// Close front vowels (i, ɪ), and j.
    IH = 12,
    /// Rounded mid vowels (o, ɔ).
    OH = 13,
    /// Rounded close vowels (u, ʊ), and w.
    OU = 14,
}

impl Viseme {
    /// All visemes, by index.
    pub const ALL: [Viseme; 15] = [
        Viseme::Sil,
        Viseme::PP,
        Viseme::FF,
        Viseme::TH,
        Viseme::DD,
        Viseme::KK,
        Viseme::CH,
        Viseme::SS,
        Viseme::NN,
        Viseme::RR,
        Viseme::AA,
        Viseme::E,
        Viseme::IH,
        Viseme::OH,
        Viseme::OU,
    ];

    /// Its index, 0 to 14.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Its name in the Oculus SDK (`sil`, `PP`, …, `ou`).
    pub fn name(self) -> &'static str {
        [
            "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh",
            "ou",
        ][self as usize]
    }

    /// The viseme of an IPA phoneme (one symbol, possibly with marks, or
    /// a merged cluster such as `aɪ`, which takes its first letter's).
    pub fn of_phoneme(phoneme: &str) -> Viseme {
        let chars: Vec<char> = phoneme.chars().filter(|&c| !is_mark(c)).collect();
        match chars.as_slice() {
            ['t', 'ʃ', ..] | ['d', 'ʒ', ..] => Viseme::CH,
            [c, ..] => Self::of_letter(*c),
            [] => Viseme::Sil,
        }
    }

    fn of_letter(c: char) -> Viseme {
        match c {
            'p' | 'b' | 'm' | 'ɱ' => Viseme::PP,
            'f' | 'v' | 'ɸ' | 'β' => Viseme::FF,
            'θ' | 'ð' => Viseme::TH,
            't' | 'd' | 'ɾ' | 'ʈ' | 'ɖ' | 'c' | 'ɟ' => Viseme::DD,
            'k' | 'g' | 'ɡ' | 'ŋ' | 'x' | 'ɣ' | 'q' | 'ɢ' | 'h' | 'ɦ' | 'χ' | 'ç' | 'ʁ' => {
                Viseme::KK
            }
            'ʃ' | 'ʒ' | 'ɕ' | 'ʑ' | 'ʂ' | 'ʐ' => Viseme::CH,
            's' | 'z' => Viseme::SS,
            'n' | 'l' | 'ɲ' | 'ɳ' | 'ɫ' | 'ʎ' | 'ɭ' => Viseme::NN,
            'r' | 'ɹ' | 'ɻ' | 'ʀ' | 'ɚ' | 'ɝ' => Viseme::RR,
            'a' | 'ɑ' | 'æ' | 'ʌ' | 'ɐ' | 'ɒ' | 'ä' => Viseme::AA,
            'e' | 'ɛ' | 'ə' | 'ɜ' | 'œ' | 'ø' | 'ɘ' | 'ɵ' => Viseme::E,
            'i' | 'ɪ' | 'ɨ' | 'ᵻ' | 'j' | 'y' | 'ʏ' | 'ɯ' => Viseme::IH,
            'o' | 'ɔ' | 'ɤ' => Viseme::OH,
            'u' | 'ʊ' | 'w' | 'ʉ' | 'ɥ' => Viseme::OU,
            _ => Viseme::Sil,
        }
    }
}

/// Stress and length marks, modifier letters and combining diacritics:
/// parts of a phoneme, not phonemes of their own.
pub fn is_mark(c: char) -> bool {
    matches!(c, 'ˈ' | 'ˌ' | 'ː' | 'ˑ' | 'ʲ' | 'ʰ' | 'ʷ' | 'ˠ' | 'ˤ' | '̃')
        || ('\u{300}'..='\u{36f}').contains(&c)
}

/// Whether a mark belongs to the phoneme after it (stress), not before.
pub fn is_leading_mark(c: char) -> bool {
    matches!(c, 'ˈ' | 'ˌ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phonemes_map_by_their_letter() {
        let cases = [
            ("p", Viseme::PP),
            ("ˈɑː", Viseme::AA),
            ("aɪ", Viseme::AA),
            ("oʊ", Viseme::OH),
            ("tʃ", Viseme::CH),
            ("θ", Viseme::TH),
            ("ɹ", Viseme::RR),
            ("ɚ", Viseme::RR),
            ("ŋ", Viseme::KK),
            ("ɔ̃", Viseme::OH),
            (",", Viseme::Sil),
            (" ", Viseme::Sil),
            ("", Viseme::Sil),
        ];
        for (p, v) in cases {
            assert_eq!(Viseme::of_phoneme(p), v, "{p}");
        }
        for (i, v) in Viseme::ALL.iter().enumerate() {
            assert_eq!(v.id() as usize, i);
        }
        assert_eq!(Viseme::KK.name(), "kk");
    }
}

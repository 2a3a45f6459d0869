//! Text normalization: digits and symbols into words, per language, before
//! the model reads the text ([`en`] for English, [`zh`] for Chinese).

pub mod en;
pub mod zh;

pub use en::normalize_en;
pub use zh::normalize_zh;

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

//! Text to phoneme ids the way piper-tts does it: espeak-ng in IPA mode,
//! clause by clause with each clause's terminator kept, NFD-decomposed into
//! one code point per phoneme, then mapped through the voice's
//! `phoneme_id_map` with the `^ _ … $` layout.

pub mod data_dir;
pub mod espeak;
pub mod ids;

pub use data_dir::find_espeak_data;
pub use espeak::EspeakPhonemizer;
pub use ids::{phonemes_to_ids, PhonemeIdMap};

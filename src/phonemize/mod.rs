//! Text to phoneme ids the way piper-tts does it: espeak-ng in IPA mode,
//! clause by clause with each clause's terminator kept, NFD-decomposed into
//! one code point per phoneme (optionally merging the voice's vowel
//! clusters), then mapped through the voice's `phoneme_id_map` with the
//! `^ _ … $` layout.
//!
//! ```no_run
//! use ishowtts::phonemize::{phonemes_to_ids, EspeakPhonemizer, PhonemeIdMap};
//! let map: PhonemeIdMap = [("^", 1), ("_", 0), ("$", 2)]
//!     .into_iter()
//!     .map(|(k, v)| (k.to_string(), vec![v]))
//!     .collect();
//! let phonemizer = EspeakPhonemizer::new(None)?;
//! for sentence in phonemizer.phonemize("en-us", "Hello there. How are you?")? {
//!     let (ids, missing) = phonemes_to_ids(&sentence, &map);
//!     println!("{ids:?} (skipped {missing:?})");
//! }
//! # Ok::<(), ishowtts::Error>(())
//! ```

pub mod data_dir;
pub mod espeak;
pub mod ids;

pub use data_dir::find_espeak_data;
pub use espeak::{merge_vowel_clusters, EspeakPhonemizer, PhonemeWord, PhonemizedSentence};
pub use ids::{phoneme_id_spans, phonemes_to_ids, PhonemeIdMap};

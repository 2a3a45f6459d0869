//! Text handling ahead of the model: sentence splitting ([`split`]),
//! normalization of numbers and symbols ([`normalize`](mod@normalize)), the language that
//! picks the rules ([`language`]), and cutting long input for the
//! phonemizer ([`blocks`]).

pub mod blocks;
pub mod incremental;
pub mod language;
pub mod normalize;
pub mod split;

pub use incremental::{IncrementalSplitter, StreamSentence};
pub use language::Language;
pub use normalize::normalize;
pub use split::{split_sentences, SplitOptions};

//! Text handling ahead of the phonemizer.

pub mod blocks;

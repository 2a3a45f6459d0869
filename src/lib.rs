//! ishowtts: an embeddable neural text-to-speech engine.

pub mod error;
pub mod nn;
#[cfg(feature = "espeak")]
pub mod phonemize;

pub use candle_core as candle;
pub use error::{Error, Result};

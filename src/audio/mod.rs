//! Audio output: sample conversion and WAV files.

pub mod wav;

pub use wav::{f32_to_i16, write_wav, WavStreamWriter};

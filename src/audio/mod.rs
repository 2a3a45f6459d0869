//! Audio output: sample formats, joining sentences, resampling, WAV.
//!
//! - [`format`](mod@format): f32 / i16 samples;
//! - [`join`]: silence or cross-fade between sentences;
//! - [`resample`]: streaming rate conversion;
//! - [`stft`]: short-time Fourier transform and its inverse;
//! - [`output`]: the per-request pipeline of the three;
//! - [`wav`]: WAV files and the streaming header for pipes.

pub mod format;
pub mod join;
pub mod output;
pub mod resample;
pub mod stft;
pub mod wav;

pub use format::{SampleFormat, Samples};
pub use wav::{f32_to_i16, write_wav, WavStreamWriter};

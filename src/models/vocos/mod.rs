//! Vocos: a vocoder that predicts STFT magnitude and phase from a mel
//! spectrogram and inverts them (`charactr/vocos-mel-24khz`).
//!
//! - [`config`]: the upstream `config.yaml`;
//! - [`backbone`]: ConvNeXt backbone;
//! - [`istft_head`]: the head and the inverse STFT;
//! - [`model`]: [`Vocos`], the whole vocoder (load, decode).

pub mod backbone;
pub mod config;
pub mod istft_head;
pub mod model;

pub use config::VocosConfig;
pub use model::Vocos;

//! F5-TTS (v1 Base and Base): zero-shot voice cloning by flow matching.
//!
//! A diffusion transformer ([`dit`]) predicts the flow from noise to a mel
//! spectrogram, conditioned on the reference voice's mel and on the text of
//! reference + new speech; the CFM sampler ([`cfm`]) integrates it in a few
//! Euler steps, and Vocos ([`crate::models::vocos`]) turns the mel into
//! audio.
//!
//! - [`config`]: the model's shape (upstream YAML), presets;
//! - [`checkpoint`]: upstream checkpoint layout, local or Hugging Face cache;
//! - [`text_embed`], [`input_embed`], [`time_embed`], [`dit_block`], [`dit`]:
//!   the network, one component per file;
//! - [`cfm`]: the sampler (time grid, sway, classifier-free guidance);
//! - [`mel`]: the mel spectrogram the model is trained on;
//! - [`tokenizer`], [`pinyin`]: text to tokens (characters, Chinese as
//!   tone-numbered pinyin);
//! - [`reference`](mod@reference): reference audio to the model's input;
//! - [`chunking`]: duration estimate and long-text chunking;
//! - [`backend`]: the engine backend.

pub mod backend;
pub mod cfm;
pub mod checkpoint;
pub mod chunking;
pub mod config;
pub mod dit;
pub mod dit_block;
pub mod input_embed;
pub mod mel;
pub mod pinyin;
pub mod reference;
pub mod text_embed;
pub mod time_embed;
pub mod tokenizer;

pub use cfm::{F5Model, FlowState, SamplerOptions};
pub use checkpoint::{Checkpoint, Vocab};
pub use config::{DitConfig, F5Config, MelConfig, Variant};

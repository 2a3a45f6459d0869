//! Neural-network building blocks shared by the models.
//!
//! candle's own CPU convolutions materialize a full im2col matrix and are
//! 3-5x slower than onnxruntime on the long, narrow signals of a vocoder;
//! [`conv`] dispatches to faster kernels where they apply and to candle
//! everywhere else (CUDA, other dtypes).

pub mod conv;

pub use conv::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};

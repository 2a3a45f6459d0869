//! Neural-network building blocks shared by the models.
//!
//! candle's own CPU convolutions materialize a full im2col matrix and are
//! 3-5x slower than onnxruntime on the long, narrow signals of a vocoder;
//! the layers in [`conv`] run the kernels of [`cpu_conv`] on the CPU and
//! candle's ops everywhere else (CUDA, other dtypes).

pub mod conv;
pub mod cpu_conv;
pub mod simd_conv;

pub use conv::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};

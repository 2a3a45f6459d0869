//! Flow-time conditioning: `TimestepEmbedding` and `SinusPositionEmbedding`
//! of upstream `model/modules.py`.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// Width of the sinusoidal features fed to the MLP (`freq_embed_dim`).
pub const FREQ_EMBED_DIM: usize = 256;

/// Upstream multiplies the flow time (in [0, 1]) by this before the sinusoids.
pub const TIME_SCALE: f64 = 1000.0;

/// Sinusoidal features of `scale * t`: sin half first, then cos, with
/// frequencies `exp(-ln(10000) * i / (half - 1))`.
///
/// `t` is `(B,)`; the result is `(B, dim)` in f32.
pub fn sinus_position_embedding(t: &Tensor, dim: usize, scale: f64) -> Result<Tensor> {
    let half = dim / 2;
    // upstream divides by (half - 1); a one-wide half would divide by zero
    let step = ((10000f64).ln() / (half.max(2) - 1) as f64) as f32;
    // in f32 and in upstream's order: the arguments reach 1000 radians, so a
    // one-ulp change of a frequency moves a phase by ~1e-4
    let freqs: Vec<f32> = (0..half).map(|i| (i as f32 * -step).exp()).collect();
    let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
    let t = t.to_dtype(DType::F32)?.reshape(((), 1))?;
    // (B, 1) * (1, half) -> (B, half), as (scale * t) * freqs
    let args = (t * scale)?.broadcast_mul(&freqs)?;
    Tensor::cat(&[args.sin()?, args.cos()?], 1)
}

/// `time_embed`: sinusoids of `1000 t` -> Linear -> SiLU -> Linear.
#[derive(Debug, Clone)]
pub struct TimestepEmbedding {
    /// `time_mlp.0`: `FREQ_EMBED_DIM -> dim`.
    linear_1: Linear,
    /// `time_mlp.2`: `dim -> dim`.
    linear_2: Linear,
}

impl TimestepEmbedding {
    /// Loads `time_mlp.{0,2}` under `vb` (`transformer.time_embed`).
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("time_mlp");
        Ok(Self {
            linear_1: candle_nn::linear(FREQ_EMBED_DIM, dim, vb.pp("0"))?,
            linear_2: candle_nn::linear(dim, dim, vb.pp("2"))?,
        })
    }

    /// `(B,)` flow times (any float dtype) -> `(B, dim)` in the weights'
    /// dtype.
    pub fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let dtype = self.linear_1.weight().dtype();
        let h = sinus_position_embedding(t, FREQ_EMBED_DIM, TIME_SCALE)?.to_dtype(dtype)?;
        let h = candle_nn::ops::silu(&self.linear_1.forward(&h)?)?;
        self.linear_2.forward(&h)
    }

    /// [`TimestepEmbedding::forward`] of plain numbers, `(len, dim)`.
    pub fn forward_values(&self, t: &[f32], device: &Device) -> Result<Tensor> {
        self.forward(&Tensor::from_slice(t, t.len(), device)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoids_sin_half_first() {
        let t = Tensor::new(&[0.0f32, 0.5], &Device::Cpu).unwrap();
        let e = sinus_position_embedding(&t, 8, 1000.0).unwrap();
        let e = e.to_vec2::<f32>().unwrap();
        assert_eq!(&e[0], &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
        // first frequency is 1: sin(500), cos(500)
        assert!((e[1][0] - 500f32.sin()).abs() < 1e-4);
        assert!((e[1][4] - 500f32.cos()).abs() < 1e-4);
        // last frequency is 1/10000
        assert!((e[1][3] - 0.05f32.sin()).abs() < 1e-6);
    }
}

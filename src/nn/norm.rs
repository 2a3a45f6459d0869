//! The adaLN pieces of diffusion transformers, fused on the CPU: a LayerNorm
//! without parameters followed by a per-batch scale and shift, and a gated
//! residual add.
//!
//! As tensor ops each is two or three passes over `(B, N, D)` activations,
//! each with a fresh allocation; fused they are one pass per row.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::f32_slice;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 64;

/// `layer_norm(x) * scale + shift` over the last axis of `x` `(B, N, D)`,
/// with `scale` and `shift` `(B or 1, 1, D)`; statistics in f32 (two
/// passes: mean, then variance about it). The norm has no parameters; `eps`
/// is added to the variance.
pub fn modulated_layer_norm(
    x: &Tensor,
    scale: &Tensor,
    shift: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    if fusable(&[x, scale, shift]) {
        let op = ModulatedLayerNorm { eps };
        return x
            .contiguous()?
            .apply_op3_no_bwd(&scale.contiguous()?, &shift.contiguous()?, &op);
    }
    let d = x.dim(candle_core::D::Minus1)?;
    let ones = Tensor::ones(d, x.dtype(), x.device())?;
    let zeros = Tensor::zeros(d, x.dtype(), x.device())?;
    candle_nn::ops::layer_norm(&x.contiguous()?, &ones, &zeros, eps)?
        .broadcast_mul(scale)?
        .broadcast_add(shift)
}

/// `x + y * gate` for `x`, `y` `(B, N, D)` and `gate` `(B or 1, 1, D)`.
pub fn gated_residual(x: &Tensor, y: &Tensor, gate: &Tensor) -> Result<Tensor> {
    if fusable(&[x, y, gate]) && x.dims() == y.dims() {
        return x.contiguous()?.apply_op3_no_bwd(
            &y.contiguous()?,
            &gate.contiguous()?,
            &GatedResidual,
        );
    }
    x + y.broadcast_mul(gate)?
}

fn fusable(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32 && t.rank() == 3)
}

/// Checks that `v` `(B or 1, 1, D)` fits `x` `(B, N, D)`; returns whether
/// it has one row per batch item.
fn per_batch(op: &str, x: &Layout, v: &Layout) -> Result<bool> {
    let (b, _, d) = x.shape().dims3()?;
    match v.shape().dims3()? {
        (vb, 1, vd) if vd == d && (vb == b || vb == 1) => Ok(vb == b && b > 1),
        _ => candle_core::bail!(
            "{op}: modulation {:?} does not fit input {:?}",
            v.shape(),
            x.shape()
        ),
    }
}

/// Runs `row(r, x_row, out_row)` over the rows `r` of `(B, N, D)` data in
/// parallel.
fn for_rows(x: &[f32], d: usize, row: impl Fn(usize, &[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    if d == 0 {
        return out;
    }
    out.par_chunks_mut(ROWS_PER_TASK * d)
        .zip(x.par_chunks(ROWS_PER_TASK * d))
        .enumerate()
        .for_each(|(task, (out, x))| {
            for (j, (o, xr)) in out.chunks_exact_mut(d).zip(x.chunks_exact(d)).enumerate() {
                row(task * ROWS_PER_TASK + j, xr, o);
            }
        });
    out
}

struct ModulatedLayerNorm {
    eps: f32,
}

impl CustomOp3 for ModulatedLayerNorm {
    fn name(&self) -> &'static str {
        "modulated-layer-norm-f32"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ss: &CpuStorage,
        sl: &Layout,
        hs: &CpuStorage,
        hl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, n, d) = xl.shape().dims3()?;
        let (scale_rows, shift_rows) = (
            per_batch(self.name(), xl, sl)?,
            per_batch(self.name(), xl, hl)?,
        );
        let (x, scale, shift) = (f32_slice(xs, xl)?, f32_slice(ss, sl)?, f32_slice(hs, hl)?);
        let out = for_rows(x, d, |r, xr, o| {
            let bi = r / n;
            let sc = &scale[if scale_rows { bi * d } else { 0 }..][..d];
            let sh = &shift[if shift_rows { bi * d } else { 0 }..][..d];
            let mean = xr.iter().sum::<f32>() / d as f32;
            let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for (((o, &v), &s), &h) in o.iter_mut().zip(xr).zip(sc).zip(sh) {
                *o = (v - mean) * inv * s + h;
            }
        });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

struct GatedResidual;

impl CustomOp3 for GatedResidual {
    fn name(&self) -> &'static str {
        "gated-residual-f32"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (_, n, d) = xl.shape().dims3()?;
        let gate_rows = per_batch(self.name(), xl, gl)?;
        let (x, y, gate) = (f32_slice(xs, xl)?, f32_slice(ys, yl)?, f32_slice(gs, gl)?);
        let out = for_rows(x, d, |r, xr, o| {
            let yr = &y[r * d..][..d];
            let g = &gate[if gate_rows { r / n * d } else { 0 }..][..d];
            for (((o, &a), &b), &g) in o.iter_mut().zip(xr).zip(yr).zip(g) {
                *o = a + b * g;
            }
        });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::max_abs_diff as max_diff;
    use candle_core::Device;

    #[test]
    fn fused_ops_match_the_tensor_ops() {
        let dev = Device::Cpu;
        // 150 rows: several tasks and a partial last one; modulation per
        // batch item and shared
        let x = (Tensor::randn(0f32, 3.0, (2, 75, 48), &dev).unwrap() + 1.5).unwrap();
        let y = Tensor::randn(0f32, 1.0, (2, 75, 48), &dev).unwrap();
        for mb in [2usize, 1] {
            let scale = Tensor::randn(1f32, 0.2, (mb, 1, 48), &dev).unwrap();
            let shift = Tensor::randn(0f32, 0.2, (mb, 1, 48), &dev).unwrap();
            let ones = Tensor::ones(48, DType::F32, &dev).unwrap();
            let zeros = Tensor::zeros(48, DType::F32, &dev).unwrap();
            let want = candle_nn::ops::layer_norm(&x, &ones, &zeros, 1e-6)
                .unwrap()
                .broadcast_mul(&scale)
                .unwrap()
                .broadcast_add(&shift)
                .unwrap();
            let got = modulated_layer_norm(&x, &scale, &shift, 1e-6).unwrap();
            assert!(max_diff(&got, &want) < 1e-5, "norm, batch {mb}");

            let want = (&x + y.broadcast_mul(&scale).unwrap()).unwrap();
            let got = gated_residual(&x, &y, &scale).unwrap();
            assert!(max_diff(&got, &want) < 1e-6, "residual, batch {mb}");
        }
    }

    #[test]
    fn mismatched_modulation_is_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 3, 8), DType::F32, &dev).unwrap();
        let bad = Tensor::zeros((3, 1, 8), DType::F32, &dev).unwrap();
        let ok = Tensor::zeros((1, 1, 8), DType::F32, &dev).unwrap();
        assert!(modulated_layer_norm(&x, &bad, &ok, 1e-6).is_err());
        assert!(gated_residual(&x, &x, &bad).is_err());
    }
}

//! Neural-network building blocks shared by the models.
//!
//! candle's own CPU convolutions materialize a full im2col matrix and are
//! 3-5x slower than onnxruntime on the long, narrow signals of a vocoder;
//! the layers in [`conv`] run the kernels of [`cpu_conv`] on the CPU and
//! candle's ops everywhere else (CUDA, other dtypes). Likewise for the
//! transformer models: [`activation`] (vectorized exp, softmax, GELU) and
//! [`attention`] (fused scaled dot-product attention), [`norm`] (adaLN
//! modulation and gated residuals).

pub mod activation;
pub mod attention;
pub mod conv;
pub mod cpu_conv;
pub mod cuda_attention;
pub mod norm;
pub mod simd_conv;

pub use conv::{Conv1d, Conv1dConfig, ConvTranspose1d, ConvTranspose1dConfig};

use candle_core::{CpuStorage, DType, Device, Layout, Result, Storage, Tensor};

/// The f32 slice a custom op's operand covers (the callers make operands
/// contiguous first).
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let Some((start, end)) = l.contiguous_offsets() else {
        candle_core::bail!("custom op: operand is not contiguous")
    };
    Ok(&s.as_slice::<f32>()?[start..end])
}

/// Element-wise mean of equally shaped contiguous f32 CPU tensors in one
/// pass, summing in order; `None` when the tensors are not all like that.
pub fn cpu_mean(xs: &[Tensor]) -> Result<Option<Tensor>> {
    let Some(first) = xs.first() else {
        return Ok(None);
    };
    let eligible = xs.iter().all(|x| {
        matches!(x.device(), Device::Cpu) && x.dtype() == DType::F32 && x.dims() == first.dims()
    });
    if !eligible {
        return Ok(None);
    }
    let xs: Vec<Tensor> = xs.iter().map(|x| x.contiguous()).collect::<Result<_>>()?;
    let guards: Vec<_> = xs.iter().map(|x| x.storage_and_layout()).collect();
    let mut slices = Vec::with_capacity(xs.len());
    for (storage, layout) in &guards {
        let (Storage::Cpu(cpu), Some((start, end))) = (&**storage, layout.contiguous_offsets())
        else {
            return Ok(None);
        };
        slices.push(&cpu.as_slice::<f32>()?[start..end]);
    }
    let n = xs.len() as f32;
    let mut acc = slices[0].to_vec();
    for s in &slices[1..] {
        acc.iter_mut().zip(s.iter()).for_each(|(a, &b)| *a += b);
    }
    acc.iter_mut().for_each(|a| *a /= n);
    Ok(Some(Tensor::from_vec(acc, first.shape(), &Device::Cpu)?))
}

/// `max |a - b|` of two f32 tensors (for tests).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    max_abs(&(a - b).expect("same shapes"))
}

/// `max |t|` of an f32 tensor (for tests).
#[cfg(test)]
pub(crate) fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .and_then(|a| a.max_all()?.to_scalar::<f32>())
        .expect("an f32 tensor")
}

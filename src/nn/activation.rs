//! Vectorized f32 kernels of the transformer layers on the CPU: softmax
//! numerators of a row (for the fused attention), GELU (exact and
//! tanh-approximated) and Mish, all on one vectorized `exp`.
//!
//! candle's CPU ops call libm's scalar `expf`/`tanhf` per element; in the
//! F5-TTS DiT they took a quarter of every flow step (the attention softmax
//! alone is `B * H * N^2` exponentials per block). Here the same formulas
//! run on whole vectors: the loops below are plain Rust over lanes that
//! LLVM vectorizes, compiled once per instruction set and picked at run time.
//! Accuracy: `exp` is within 2 ulp of libm's; softmax, GELU and Mish agree
//! with the f64 formulas to ~1e-6 relative.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::f32_slice;
use super::simd_conv::Isa;

/// Lanes of the reductions (one AVX-512 vector, two AVX2 ones).
const LANES: usize = 16;
/// Elements per parallel task of the element-wise ops.
const PAR_CHUNK: usize = 1 << 14;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two so that `x - n ln 2` stays exact (Cody-Waite).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Below this `exp` returns `exp(-87.3)` ~ 1e-38 (the smallest normal
/// float): the callers add it to 1 or to a row sum, where it vanishes.
const EXP_MIN: f32 = -87.336_55;
/// Above this `exp` saturates at `e^88` (keeps `2^n` a finite float).
const EXP_MAX: f32 = 88.0;
/// Above this `mish(x) = x` in f32.
const MISH_LINEAR: f32 = 20.0;
/// 1.5 * 2^23, see `exp_lane`.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// `sqrt(2 / pi)` of the GELU tanh approximation.
const GELU_SCALE: f32 = 0.797_884_6;
const GELU_CUBIC: f32 = 0.044_715;

/// `e^x` for one lane: `2^n * e^r` with `r = x - n ln 2`, `|r| <= ln 2 / 2`,
/// and a degree-7 Taylor-like polynomial (Cephes `expf` coefficients).
#[inline(always)]
fn exp_lane(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * (r * r) + r + 1.0;
    // n is an integer in [-126, 127] after the clamp, so 2^n is a normal
    // float. Adding 1.5 * 2^23 puts n in the low mantissa bits: integer
    // ops only, which vectorize (an `as i32` cast saturates lane by lane).
    let n_bits = (n + ROUND_MAGIC)
        .to_bits()
        .wrapping_sub(ROUND_MAGIC.to_bits());
    y * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

/// `0.5 x (1 + tanh(u))` with `u = sqrt(2/pi) (x + 0.044715 x^3)`, written
/// as `x / (1 + e^(-2u))` (the same function, without the cancellation of
/// `1 + tanh` for negative `x`).
#[inline(always)]
fn gelu_lane(x: f32) -> f32 {
    let u = GELU_SCALE * (x + GELU_CUBIC * x * x * x);
    x / (1.0 + exp_lane(-2.0 * u))
}

/// Exact (erf) GELU, `0.5 x (1 + erf(x / sqrt 2))`, with erf by Abramowitz
/// & Stegun 7.1.26 (absolute error below 1.5e-7): over [-6, 6] within 5e-7
/// of the f64 GELU, closer than PyTorch's own f32 CPU kernel (1.2e-6).
#[inline(always)]
fn gelu_erf_lane(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let erf = (1.0 - poly * exp_lane(-a * a)).copysign(z);
    0.5 * x * (1.0 + erf)
}

/// `x tanh(softplus(x))`, with `tanh(ln(1 + e^x)) = (e^2x + 2e^x) /
/// (e^2x + 2e^x + 2)`: one exponential, no cancellation for negative `x`;
/// above 20 the factor is 1 in f32 (PyTorch's softplus threshold).
#[inline(always)]
fn mish_lane(x: f32) -> f32 {
    let e = exp_lane(x.min(MISH_LINEAR));
    let num = e * (e + 2.0);
    let y = x * num / (num + 2.0);
    if x > MISH_LINEAR {
        x
    } else {
        y
    }
}

/// The softmax numerators `e^(x - max)` of one row in place; returns their
/// sum (NaN for an empty row or one of only -inf, as candle's softmax).
#[inline(always)]
fn softmax_numerators_body(row: &mut [f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let mut max = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for m in lanes {
        max = if m > max { m } else { max };
    }
    if max == f32::NEG_INFINITY {
        // all -inf (or empty): as candle, exp(-inf - -inf) = NaN
        row.iter_mut().for_each(|v| *v = f32::NAN);
        return f32::NAN;
    }
    let mut sums = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (s, v) in sums.iter_mut().zip(c.iter_mut()) {
            *v = exp_lane(*v - max);
            *s += *v;
        }
    }
    let mut sum = 0f32;
    for v in chunks.into_remainder() {
        *v = exp_lane(*v - max);
        sum += *v;
    }
    sum + sums.iter().sum::<f32>()
}

#[cfg(test)]
#[inline(always)]
fn exp_body(xs: &mut [f32]) {
    xs.iter_mut().for_each(|v| *v = exp_lane(*v));
}

#[inline(always)]
fn gelu_body(xs: &mut [f32]) {
    xs.iter_mut().for_each(|v| *v = gelu_lane(*v));
}

#[inline(always)]
fn gelu_erf_body(xs: &mut [f32]) {
    xs.iter_mut().for_each(|v| *v = gelu_erf_lane(*v));
}

#[inline(always)]
fn mish_body(xs: &mut [f32]) {
    xs.iter_mut().for_each(|v| *v = mish_lane(*v));
}

/// Defines `$name(xs)`, running `$body` compiled for the best instruction
/// set of the running CPU.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident, $body:ident $(-> $ret:ty)?) => {
        $(#[$doc])*
        pub fn $name(xs: &mut [f32]) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512(xs: &mut [f32]) $(-> $ret)? {
                    $body(xs)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(xs: &mut [f32]) $(-> $ret)? {
                    $body(xs)
                }
                match detected() {
                    // SAFETY: the instruction set was detected on this CPU.
                    Some(Isa::Avx512) => return unsafe { avx512(xs) },
                    Some(Isa::Avx2) => return unsafe { avx2(xs) },
                    None => {}
                }
            }
            $body(xs)
        }
    };
}

/// The instruction set, detected once.
fn detected() -> Option<Isa> {
    static ISA: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
    *ISA.get_or_init(Isa::detect)
}

dispatch!(
    /// The softmax numerators `e^(x - max)` of one row in place; returns
    /// their sum, the denominator (NaN for an empty row or one of only -inf).
    softmax_numerators,
    softmax_numerators_body -> f32
);
// the accuracy tests' way into `exp_lane`, compiled as the kernels use it
#[cfg(test)]
dispatch!(
    /// `e^x` in place.
    exp_in_place,
    exp_body
);
dispatch!(
    /// The tanh-approximated GELU in place.
    gelu_tanh_in_place,
    gelu_body
);

dispatch!(
    /// The exact (erf) GELU in place.
    gelu_erf_in_place,
    gelu_erf_body
);
dispatch!(
    /// Mish in place.
    mish_in_place,
    mish_body
);

/// Runs `f` over a copy of `x` on f32 CPU tensors, `fallback` elsewhere.
fn element_wise(
    x: &Tensor,
    name: &'static str,
    f: fn(&mut [f32]),
    fallback: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.contiguous()?.apply_op1_no_bwd(&ElementWise { name, f })
    } else {
        fallback(x)
    }
}

/// Mish, `x * tanh(softplus(x))` (PyTorch's `nn.Mish`): vectorized on f32
/// CPU tensors, tensor ops elsewhere.
pub fn mish(x: &Tensor) -> Result<Tensor> {
    element_wise(x, "mish-f32", mish_in_place, |x| {
        // softplus(x) = max(x, 0) + log(1 + exp(-|x|)): no overflow for
        // large x (candle's `mish` takes log(1 + exp(x)))
        let softplus = (x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
        x * softplus.tanh()?
    })
}

/// The tanh-approximated GELU (PyTorch's `gelu(approximate="tanh")`):
/// vectorized on f32 CPU tensors, candle's `gelu` elsewhere.
pub fn gelu_tanh(x: &Tensor) -> Result<Tensor> {
    element_wise(x, "gelu-tanh-f32", gelu_tanh_in_place, Tensor::gelu)
}

/// The exact GELU (PyTorch's `gelu`, erf form): vectorized on f32 CPU
/// tensors (candle's evaluates `erf` in f64 one element at a time), candle's
/// `gelu_erf` elsewhere.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    element_wise(x, "gelu-erf-f32", gelu_erf_in_place, Tensor::gelu_erf)
}

/// An element-wise kernel as a custom op.
struct ElementWise {
    name: &'static str,
    f: fn(&mut [f32]),
}

impl CustomOp1 for ElementWise {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut y = f32_slice(s, l)?.to_vec();
        y.par_chunks_mut(PAR_CHUNK).for_each(self.f);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Relative error of `got` against f64 `want`.
    fn rel(got: f32, want: f64) -> f64 {
        ((got as f64 - want) / want.abs().max(f64::MIN_POSITIVE)).abs()
    }

    #[test]
    fn exp_is_within_a_few_ulp_over_the_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let mut v = [x];
            exp_in_place(&mut v);
            worst = worst.max(rel(v[0], (x as f64).exp()));
            x += 0.0137;
        }
        assert!(worst < 3.0 * f32::EPSILON as f64, "worst {worst:e}");
    }

    #[test]
    fn exp_saturates_and_keeps_nan() {
        let mut v = [-1000.0, 1000.0, f32::NAN, f32::NEG_INFINITY, 0.0];
        exp_in_place(&mut v);
        assert!(v[0] >= 0.0 && v[0] < 1.2e-38);
        assert!(v[1].is_finite() && v[1] > 1e38);
        assert!(v[2].is_nan());
        assert!(v[3] < 1.2e-38);
        assert_eq!(v[4], 1.0);
    }

    #[test]
    fn softmax_matches_candle_on_odd_lengths() {
        for n in [1usize, 7, 16, 17, 751] {
            let data: Vec<f32> = (0..3 * n)
                .map(|i| ((i * 7919 % 1000) as f32 / 37.0) - 13.0)
                .collect();
            let x = Tensor::from_slice(&data, (3, n), &Device::Cpu).unwrap();
            let mut ours = data.clone();
            for row in ours.chunks_exact_mut(n) {
                let inv = 1.0 / softmax_numerators(row);
                row.iter_mut().for_each(|v| *v *= inv);
            }
            let theirs = candle_nn::ops::softmax_last_dim(&x)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1e-6),
                    "n {n}: {a} vs {b}"
                );
            }
            for row in ours.chunks_exact(n) {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "row sum {s}");
            }
        }
    }

    #[test]
    fn softmax_numerators_of_nothing_are_nan() {
        // as candle: exp(-inf - -inf)
        let mut row = [f32::NEG_INFINITY; 3];
        assert!(softmax_numerators(&mut row).is_nan());
        assert!(row.iter().all(|v| v.is_nan()));
        assert!(softmax_numerators(&mut []).is_nan());
    }

    #[test]
    fn gelu_erf_matches_the_f64_formula() {
        let xs: Vec<f32> = (-1200..=1200).map(|i| i as f32 / 100.0).collect();
        let x = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let ours = gelu_erf(&x).unwrap().to_vec1::<f32>().unwrap();
        let exact: Vec<f64> = x
            .to_dtype(DType::F64)
            .unwrap()
            .gelu_erf()
            .unwrap()
            .to_vec1()
            .unwrap();
        for ((&v, a), b) in xs.iter().zip(ours).zip(exact) {
            let err = (a as f64 - b).abs();
            assert!(err < 1e-6 * (1.0 + v.abs() as f64), "x {v}: {a} vs {b}");
        }
    }

    #[test]
    fn mish_matches_the_formula() {
        let xs: Vec<f32> = (-3000..3000).map(|i| i as f32 / 100.0).collect();
        let x = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let ours = mish(&x).unwrap().to_vec1::<f32>().unwrap();
        for (&x, got) in xs.iter().zip(ours) {
            let x = x as f64;
            let want = x * x.exp().ln_1p().tanh();
            let err = (got as f64 - want).abs();
            assert!(err <= 1e-6 * want.abs().max(1e-3), "x {x}: {got} vs {want}");
        }
    }

    #[test]
    fn gelu_matches_the_tanh_formula() {
        let xs: Vec<f32> = (-2000..2000).map(|i| i as f32 / 150.0).collect();
        let x = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
        let ours = gelu_tanh(&x).unwrap().to_vec1::<f32>().unwrap();
        for (&x, got) in xs.iter().zip(ours) {
            let x = x as f64;
            let want = 0.5 * x * (1.0 + (0.7978845608028654 * (x + 0.044715 * x * x * x)).tanh());
            // for x < 0 the f32 rounding of u is amplified by |2u| in
            // e^(-2u): ~1e-6 relative is what f32 allows there
            let err = (got as f64 - want).abs();
            assert!(err <= 2e-6 * want.abs().max(1e-3), "x {x}: {got} vs {want}");
        }
    }
}

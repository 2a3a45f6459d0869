//! 1-D convolution layers holding their weights, with upstream tensor names.
//!
//! On the CPU with f32 tensors the layers run the kernels of
//! [`super::cpu_conv`] (as candle custom ops, on the tensors' own storage);
//! everywhere else (CUDA, other dtypes, transposed convs with groups or
//! dilation) they run candle's own ops, which the CPU kernels are tested
//! against.

use std::mem::MaybeUninit;
use std::sync::{Arc, OnceLock};

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;

pub use candle_nn::{Conv1dConfig, ConvTranspose1dConfig};

use super::cpu_conv::{Backend, Conv1dKernel, ConvGeom, ConvTranspose1dKernel, ConvTransposeGeom};
use super::f32_slice;

/// The contiguous f32 data of a CPU tensor, copied; `None` elsewhere.
fn cpu_f32_vec(t: &Tensor) -> Option<Vec<f32>> {
    if !t.device().is_cpu() || t.dtype() != DType::F32 {
        return None;
    }
    t.flatten_all().ok()?.to_vec1::<f32>().ok()
}

/// A vector of `n` values that `write` fills: the kernels write every
/// element of their output, so it is not zeroed first.
fn write_all(n: usize, write: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut y = Vec::with_capacity(n);
    if n > 0 {
        write(&mut y.spare_capacity_mut()[..n]);
    }
    // SAFETY: `write` initialized all n elements (the kernels' contract,
    // checked by `kernels_write_every_output` below).
    unsafe { y.set_len(n) };
    y
}

/// The weight and bias as f32 vectors for a CPU kernel; `None` when they
/// are not f32 on the CPU.
fn cpu_weights(weight: &Tensor, bias: Option<&Tensor>) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
    let w = cpu_f32_vec(weight)?;
    let bias = match bias {
        Some(b) => Some(cpu_f32_vec(b)?),
        None => None,
    };
    Some((w, bias))
}

/// `y + bias` over the channel axis of `(B, C, T)`.
fn add_bias(y: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
        None => Ok(y),
    }
}

/// True for an input the CPU kernels take: `(B, C, T)` f32 on the CPU.
fn cpu_f32_batch(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32 && x.rank() == 3
}

/// The output `(batch, c_out, t_out)` of running `one` on each batch item
/// of `x` (`n_in` values each), written straight into the result.
fn per_item(
    x: &[f32],
    (batch, c_out, t_out): (usize, usize, usize),
    n_in: usize,
    one: impl Fn(usize, &[f32], &mut [MaybeUninit<f32>]),
) -> (CpuStorage, Shape) {
    let n_out = c_out * t_out;
    let y = write_all(batch * n_out, |y| {
        for (i, yb) in y.chunks_exact_mut(n_out).enumerate() {
            one(i, &x[i * n_in..(i + 1) * n_in], yb);
        }
    });
    (CpuStorage::F32(y), Shape::from((batch, c_out, t_out)))
}

fn leaky_relu(x: &Tensor, slope: Option<f64>) -> Result<Tensor> {
    match slope {
        Some(s) => candle_nn::ops::leaky_relu(x, s),
        None => Ok(x.clone()),
    }
}

/// The CPU kernel of a layer, prepared on first use and shared by clones.
type Prepared<K> = Arc<OnceLock<Option<K>>>;

/// A 1-D convolution `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: Conv1dConfig,
    cpu: Prepared<Conv1dKernel>,
}

impl Conv1d {
    /// Builds from explicit tensors: `weight` is `(C_out, C_in / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: Conv1dConfig) -> Self {
        Self {
            weight,
            bias,
            cfg,
            cpu: Prepared::default(),
        }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`, reading the
    /// kernel shape from the checkpoint.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: Conv1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?.contiguous()?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(0)?, "bias")?.contiguous()?)
        } else {
            None
        };
        Ok(Self::from_tensors(weight, bias, cfg))
    }

    /// The weight, `(C_out, C_in / groups, K)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(C_out,)`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The convolution settings.
    pub fn config(&self) -> &Conv1dConfig {
        &self.cfg
    }

    /// `conv(leaky_relu(x, slope)) + residual`, fused on the CPU path (the
    /// HiFi-GAN residual blocks' pattern); `residual` has the output's shape.
    pub fn forward_fused(
        &self,
        x: &Tensor,
        pre_leaky_relu: Option<f64>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        if let Some(y) = self.forward_cpu(x, pre_leaky_relu, residual)? {
            return Ok(y);
        }
        let y = self.forward_candle(&leaky_relu(x, pre_leaky_relu)?)?;
        match residual {
            Some(r) => y + r,
            None => Ok(y),
        }
    }

    /// candle's op (the reference for the CPU kernels).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv1d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
        add_bias(y, self.bias.as_ref())
    }

    /// The prepared CPU kernel, `None` when the weights are not f32 on the
    /// CPU or no kernel covers the configuration.
    fn cpu_kernel(&self) -> Option<&Conv1dKernel> {
        self.cpu
            .get_or_init(|| self.prepare(Backend::current()))
            .as_ref()
    }

    fn prepare(&self, backend: Backend) -> Option<Conv1dKernel> {
        let (c_out, c_per_group, k) = self.weight.dims3().ok()?;
        let (w, bias) = cpu_weights(&self.weight, self.bias.as_ref())?;
        Conv1dKernel::new(
            backend,
            &w,
            bias.as_deref(),
            c_out,
            c_per_group * self.cfg.groups,
            k,
            self.cfg.groups,
            self.cfg.stride,
        )
    }

    /// The CPU kernel's result, `None` where candle's op must run.
    fn forward_cpu(
        &self,
        x: &Tensor,
        slope: Option<f64>,
        residual: Option<&Tensor>,
    ) -> Result<Option<Tensor>> {
        if !cpu_f32_batch(x) {
            return Ok(None);
        }
        let Some(kernel) = self.cpu_kernel() else {
            return Ok(None);
        };
        let (b, c_in, t_in) = x.dims3()?;
        let (c_out, c_per_group, k) = self.weight.dims3()?;
        if c_in != c_per_group * self.cfg.groups {
            return Ok(None); // candle reports the mismatch
        }
        let g = ConvGeom {
            c_in,
            c_out,
            k,
            t_in,
            padding: self.cfg.padding,
            stride: self.cfg.stride,
            dilation: self.cfg.dilation,
        };
        let op = Conv1dOp {
            kernel,
            g,
            batch: b,
            slope: slope.map(|s| s as f32),
        };
        let x = x.contiguous()?;
        match residual {
            None => Ok(Some(x.apply_op1_no_bwd(&op)?)),
            Some(r)
                if r.dims() == [b, c_out, g.t_out()]
                    && r.device().is_cpu()
                    && r.dtype() == DType::F32 =>
            {
                Ok(Some(x.apply_op2_no_bwd(&r.contiguous()?, &op)?))
            }
            Some(_) => Ok(None),
        }
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_fused(x, None, None)
    }
}

/// The custom op running a [`Conv1dKernel`] over a batch: operand 1 the
/// input `(B, C_in, T)`, operand 2 (optional) the residual.
struct Conv1dOp<'a> {
    kernel: &'a Conv1dKernel,
    g: ConvGeom,
    batch: usize,
    slope: Option<f32>,
}

impl Conv1dOp<'_> {
    fn run(&self, x: &[f32], residual: Option<&[f32]>) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let n_out = g.c_out * g.t_out();
        let shape = (self.batch, g.c_out, g.t_out());
        Ok(per_item(x, shape, g.c_in * g.t_in, |i, xb, yb| {
            let r = residual.map(|r| &r[i * n_out..(i + 1) * n_out]);
            self.kernel.forward(xb, r, g, self.slope, yb);
        }))
    }
}

impl CustomOp1 for Conv1dOp<'_> {
    fn name(&self) -> &'static str {
        "ishowtts-conv1d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.run(f32_slice(s, l)?, None)
    }
}

impl CustomOp2 for Conv1dOp<'_> {
    fn name(&self) -> &'static str {
        "ishowtts-conv1d-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.run(f32_slice(s1, l1)?, Some(f32_slice(s2, l2)?))
    }
}

/// A transposed 1-D convolution (upsampling) `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct ConvTranspose1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: ConvTranspose1dConfig,
    cpu: Prepared<ConvTranspose1dKernel>,
}

impl ConvTranspose1d {
    /// Builds from explicit tensors: `weight` is `(C_in, C_out / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: ConvTranspose1dConfig) -> Self {
        Self {
            weight,
            bias,
            cfg,
            cpu: Prepared::default(),
        }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: ConvTranspose1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?.contiguous()?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(1)? * cfg.groups, "bias")?.contiguous()?)
        } else {
            None
        };
        Ok(Self::from_tensors(weight, bias, cfg))
    }

    /// The weight, `(C_in, C_out / groups, K)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(C_out,)`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The convolution settings.
    pub fn config(&self) -> &ConvTranspose1dConfig {
        &self.cfg
    }

    /// `conv_transpose(leaky_relu(x, slope))`, fused on the CPU path.
    pub fn forward_fused(&self, x: &Tensor, pre_leaky_relu: Option<f64>) -> Result<Tensor> {
        if let Some(y) = self.forward_cpu(x, pre_leaky_relu)? {
            return Ok(y);
        }
        self.forward_candle(&leaky_relu(x, pre_leaky_relu)?)
    }

    /// candle's op (the reference for the CPU kernel).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv_transpose1d(
            &self.weight,
            c.padding,
            c.output_padding,
            c.stride,
            c.dilation,
            c.groups,
        )?;
        add_bias(y, self.bias.as_ref())
    }

    /// The prepared CPU kernel, `None` when the weights are not f32 on the
    /// CPU or no kernel covers the configuration.
    fn cpu_kernel(&self) -> Option<&ConvTranspose1dKernel> {
        self.cpu
            .get_or_init(|| self.prepare(Backend::current()))
            .as_ref()
    }

    fn prepare(&self, backend: Backend) -> Option<ConvTranspose1dKernel> {
        let c = &self.cfg;
        if c.groups != 1 || c.dilation != 1 {
            return None;
        }
        let (c_in, c_out, k) = self.weight.dims3().ok()?;
        let (w, bias) = cpu_weights(&self.weight, self.bias.as_ref())?;
        ConvTranspose1dKernel::new(backend, &w, bias.as_deref(), c_in, c_out, k, c.stride)
    }

    /// The CPU kernel's result, `None` where candle's op must run.
    fn forward_cpu(&self, x: &Tensor, slope: Option<f64>) -> Result<Option<Tensor>> {
        if !cpu_f32_batch(x) {
            return Ok(None);
        }
        let Some(kernel) = self.cpu_kernel() else {
            return Ok(None);
        };
        let (b, c_in, t_in) = x.dims3()?;
        let (w_in, c_out, k) = self.weight.dims3()?;
        if w_in != c_in || t_in == 0 {
            return Ok(None); // candle reports the mismatch / empty input
        }
        let c = &self.cfg;
        let op = ConvTranspose1dOp {
            kernel,
            g: ConvTransposeGeom {
                c_in,
                c_out,
                k,
                t_in,
                padding: c.padding,
                output_padding: c.output_padding,
                stride: c.stride,
            },
            batch: b,
            slope: slope.map(|s| s as f32),
        };
        Ok(Some(x.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

impl Module for ConvTranspose1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_fused(x, None)
    }
}

/// The custom op running a [`ConvTranspose1dKernel`] over a batch.
struct ConvTranspose1dOp<'a> {
    kernel: &'a ConvTranspose1dKernel,
    g: ConvTransposeGeom,
    batch: usize,
    slope: Option<f32>,
}

impl CustomOp1 for ConvTranspose1dOp<'_> {
    fn name(&self) -> &'static str {
        "ishowtts-conv-transpose1d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.g;
        let shape = (self.batch, g.c_out, g.t_out());
        Ok(per_item(
            f32_slice(s, l)?,
            shape,
            g.c_in * g.t_in,
            |_, xb, yb| self.kernel.forward(xb, g, self.slope, yb),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::simd_conv::Isa;
    use candle_core::Device;

    /// Deterministic pseudo-random values in [-1, 1).
    fn rand(shape: &[usize], seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// `max |got - want|` relative to the output's scale (`max |want|`, at
    /// least 1).
    fn rel_diff(got: &Tensor, want: &Tensor) -> f32 {
        assert_eq!(got.dims(), want.dims());
        let max = |t: Tensor| t.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        let diff = max((got - want).unwrap()).to_scalar::<f32>().unwrap();
        let scale = max(want.clone()).to_scalar::<f32>().unwrap().max(1.0);
        diff / scale
    }

    const TOL: f32 = 1e-4;

    /// Every CPU backend this machine runs (candle's own op excluded).
    fn backends() -> Vec<Backend> {
        let mut v = vec![Backend::Portable];
        v.extend(
            [Isa::Avx2, Isa::Avx512]
                .into_iter()
                .filter(|i| i.available())
                .map(Backend::Simd),
        );
        v
    }

    impl Conv1d {
        /// A copy whose CPU path runs `backend`.
        fn with_backend(&self, backend: Backend) -> Self {
            let c = Self::from_tensors(self.weight.clone(), self.bias.clone(), self.cfg);
            c.cpu.set(self.prepare(backend)).unwrap();
            c
        }
    }

    impl ConvTranspose1d {
        fn with_backend(&self, backend: Backend) -> Self {
            let c = Self::from_tensors(self.weight.clone(), self.bias.clone(), self.cfg);
            c.cpu.set(self.prepare(backend)).unwrap();
            c
        }
    }

    /// `(batch, c_in, c_out, k, t, padding, stride, dilation, groups, bias)`
    type ConvCase = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        bool,
    );

    const CONV_CASES: &[ConvCase] = &[
        // decoder: conv_pre, ResBlock2 (k, dilation) pairs at each stage's
        // channel count, conv_post (no bias); T long enough for several
        // time chunks and a partial last tile
        (1, 192, 256, 7, 157, 3, 1, 1, 1, true),
        (1, 128, 128, 3, 301, 1, 1, 1, 1, true),
        (1, 128, 128, 3, 301, 2, 1, 2, 1, true),
        (1, 64, 64, 5, 333, 4, 1, 2, 1, true),
        (1, 64, 64, 5, 333, 12, 1, 6, 1, true),
        (1, 32, 32, 7, 2500, 9, 1, 3, 1, true),
        (1, 32, 32, 7, 1001, 36, 1, 12, 1, true),
        (1, 32, 1, 7, 1300, 3, 1, 1, 1, false),
        // flow WaveNet, 1x1 convs, text encoder FFN
        (1, 192, 384, 5, 61, 2, 1, 1, 1, true),
        (1, 192, 384, 1, 61, 0, 1, 1, 1, true),
        (1, 192, 768, 3, 33, 1, 1, 1, 1, true),
        (1, 768, 192, 3, 33, 1, 1, 1, 1, true),
        // duration predictor's depthwise convs
        (1, 192, 192, 3, 60, 1, 1, 1, 192, true),
        (1, 192, 192, 3, 60, 3, 1, 3, 192, true),
        (1, 192, 192, 3, 60, 9, 1, 9, 192, true),
        // edges: batch 2 with odd lengths, T shorter than the kernel,
        // T = 1, no padding, over-padding, stride > 1 (with dilation),
        // channel counts off the register blocks
        (2, 32, 32, 7, 97, 9, 1, 3, 1, true),
        (2, 16, 16, 3, 1, 1, 1, 1, 1, true),
        (1, 8, 4, 3, 2, 1, 1, 1, 1, true),
        (1, 8, 16, 7, 3, 3, 1, 1, 1, true),
        (1, 16, 16, 5, 50, 0, 1, 1, 1, true),
        (1, 8, 8, 3, 10, 5, 1, 1, 1, false),
        (2, 16, 24, 4, 101, 0, 2, 1, 1, true),
        (1, 12, 6, 3, 257, 4, 3, 2, 1, true),
        (1, 20, 13, 3, 77, 1, 1, 1, 1, true),
        (1, 5, 3, 2, 31, 1, 1, 1, 1, true),
        (1, 3, 2, 1, 50, 0, 1, 1, 1, false),
        (2, 24, 24, 3, 17, 0, 2, 1, 24, true),
        (1, 8, 8, 5, 4, 1, 1, 1, 8, false),
        // grouped: F5-TTS's position convs (k31, 16 groups), with and
        // without bias, and groups with unequal in/out widths and stride
        (2, 64, 64, 31, 151, 15, 1, 1, 16, true),
        (1, 32, 32, 31, 40, 15, 1, 1, 16, false),
        (1, 12, 8, 3, 57, 1, 2, 2, 4, true),
    ];

    fn conv_case(i: usize, &(_, ci, co, k, _, p, s, d, g, bias): &ConvCase) -> Conv1d {
        let seed = 100 * i as u64;
        Conv1d::from_tensors(
            rand(&[co, ci / g, k], seed + 1),
            bias.then(|| rand(&[co], seed + 2)),
            Conv1dConfig {
                padding: p,
                stride: s,
                dilation: d,
                groups: g,
                cudnn_fwd_algo: None,
            },
        )
    }

    #[test]
    fn conv1d_matches_candle() {
        for (i, case) in CONV_CASES.iter().enumerate() {
            let &(b, ci, _, _, t, _, _, _, _, _) = case;
            let conv = conv_case(i, case);
            let x = rand(&[b, ci, t], 100 * i as u64);
            let want = conv.forward_candle(&x).unwrap();
            let res = rand(want.dims(), 100 * i as u64 + 3);
            let lrelu = candle_nn::ops::leaky_relu(&x, 0.1).unwrap();
            let want_fused = (conv.forward_candle(&lrelu).unwrap() + &res).unwrap();
            for backend in backends() {
                let fast = conv.with_backend(backend);
                assert!(fast.cpu_kernel().is_some(), "case {i}: no CPU kernel");
                let got = fast.forward(&x).unwrap();
                let e = rel_diff(&got, &want);
                assert!(e <= TOL, "case {i} {backend:?}: {e}");
                let got = fast.forward_fused(&x, Some(0.1), Some(&res)).unwrap();
                let e = rel_diff(&got, &want_fused);
                assert!(e <= TOL, "fused case {i} {backend:?}: {e}");
            }
        }
    }

    #[test]
    fn conv1d_kernel_too_long_for_input() {
        // No output sample (candle's own op underflows on this in debug
        // builds, so only the shape is checked).
        let conv = Conv1d::from_tensors(rand(&[4, 8, 5], 1), None, Conv1dConfig::default());
        let depthwise = Conv1d::from_tensors(
            rand(&[8, 1, 5], 1),
            None,
            Conv1dConfig {
                groups: 8,
                ..Default::default()
            },
        );
        for backend in backends() {
            let y = conv.with_backend(backend).forward(&rand(&[2, 8, 3], 2));
            assert_eq!(y.unwrap().dims(), [2, 4, 0], "{backend:?}");
            let y = depthwise
                .with_backend(backend)
                .forward(&rand(&[1, 8, 3], 2));
            assert_eq!(y.unwrap().dims(), [1, 8, 0], "{backend:?}");
        }
    }

    #[test]
    fn conv1d_takes_non_contiguous_input() {
        let conv = Conv1d::from_tensors(
            rand(&[24, 16, 3], 2),
            Some(rand(&[24], 3)),
            Conv1dConfig {
                padding: 2,
                dilation: 2,
                ..Default::default()
            },
        );
        let transposed = rand(&[2, 130, 16], 1).transpose(1, 2).unwrap(); // (2, 16, 130)
        let narrowed = rand(&[1, 16, 200], 4).narrow(2, 7, 150).unwrap();
        let strided = rand(&[1, 32, 90], 5)
            .reshape((1, 16, 2, 90))
            .unwrap()
            .narrow(2, 1, 1)
            .unwrap()
            .squeeze(2)
            .unwrap(); // every other channel
        for x in [transposed, narrowed, strided] {
            assert!(!x.is_contiguous());
            let want = conv.forward_candle(&x).unwrap();
            let res = rand(want.dims(), 6).transpose(0, 1).unwrap();
            let res = res.contiguous().unwrap().transpose(0, 1).unwrap(); // batch-strided
            let want_fused = (conv.forward_candle(&x).unwrap() + &res).unwrap();
            for backend in backends() {
                let fast = conv.with_backend(backend);
                assert!(rel_diff(&fast.forward(&x).unwrap(), &want) <= TOL);
                let got = fast.forward_fused(&x, None, Some(&res)).unwrap();
                assert!(rel_diff(&got, &want_fused) <= TOL, "{backend:?}");
            }
        }
    }

    /// `(batch, c_in, c_out, k, t, stride, padding, output_padding)`
    type TransposeCase = (usize, usize, usize, usize, usize, usize, usize, usize);

    const TRANSPOSE_CASES: &[TransposeCase] = &[
        // decoder: ups.0, ups.1, ups.2
        (1, 256, 128, 16, 30, 8, 4, 0),
        (1, 128, 64, 16, 70, 8, 4, 0),
        (1, 64, 32, 8, 301, 4, 2, 0),
        // edges: batch 2, odd stride, output padding, T = 1, k = stride,
        // k < stride, stride 1, stride above the register block, padding
        // past a whole frame, channel counts off the register blocks
        (2, 16, 8, 4, 33, 2, 1, 0),
        (1, 8, 4, 5, 17, 3, 0, 1),
        (1, 6, 3, 7, 50, 3, 3, 2),
        (1, 8, 4, 3, 1, 2, 0, 0),
        (1, 8, 8, 2, 20, 2, 0, 0),
        (1, 8, 8, 3, 20, 4, 0, 0),
        (1, 8, 8, 3, 20, 1, 1, 0),
        (1, 8, 4, 32, 10, 16, 8, 0),
        (1, 16, 24, 16, 20, 8, 12, 3),
        (1, 8, 5, 8, 40, 4, 2, 0),
        (2, 12, 3, 6, 25, 2, 2, 1),
    ];

    fn transpose_case(i: usize, &(_, ci, co, k, _, s, p, op): &TransposeCase) -> ConvTranspose1d {
        let seed = 100 * i as u64;
        ConvTranspose1d::from_tensors(
            rand(&[ci, co, k], seed + 1),
            (i % 4 != 3).then(|| rand(&[co], seed + 2)),
            ConvTranspose1dConfig {
                padding: p,
                output_padding: op,
                stride: s,
                dilation: 1,
                groups: 1,
            },
        )
    }

    #[test]
    fn conv_transpose1d_matches_candle() {
        for (i, case) in TRANSPOSE_CASES.iter().enumerate() {
            let &(b, ci, _, _, t, _, _, _) = case;
            let seed = 100 * i as u64;
            let conv = transpose_case(i, case);
            // every other case reads a non-contiguous input
            let x = if i % 2 == 0 {
                rand(&[b, ci, t], seed)
            } else {
                rand(&[b, t, ci], seed).transpose(1, 2).unwrap()
            };
            let want = conv.forward_candle(&x).unwrap();
            let lrelu = candle_nn::ops::leaky_relu(&x, 0.1).unwrap();
            let want_fused = conv.forward_candle(&lrelu).unwrap();
            for backend in backends() {
                let fast = conv.with_backend(backend);
                assert!(fast.cpu_kernel().is_some(), "case {i}: no CPU kernel");
                let got = fast.forward(&x).unwrap();
                let e = rel_diff(&got, &want);
                assert!(e <= TOL, "case {i} {backend:?}: {e}");
                let got = fast.forward_fused(&x, Some(0.1)).unwrap();
                let e = rel_diff(&got, &want_fused);
                assert!(e <= TOL, "fused case {i} {backend:?}: {e}");
            }
        }
    }

    #[test]
    fn kernels_write_every_output() {
        // The ops hand the kernels uninitialized outputs: poison them with
        // NaN and check that every element gets written.
        let poisoned = |n| vec![MaybeUninit::new(f32::NAN); n];
        // SAFETY: the buffers were initialized (with NaN) when made.
        let all_finite =
            |y: &[MaybeUninit<f32>]| y.iter().all(|v| unsafe { v.assume_init() }.is_finite());
        for backend in backends() {
            for (i, case) in CONV_CASES.iter().enumerate() {
                let &(_, c_in, c_out, k, t_in, padding, stride, dilation, _, _) = case;
                let kernel = conv_case(i, case).prepare(backend).unwrap();
                let g = ConvGeom {
                    c_in,
                    c_out,
                    k,
                    t_in,
                    padding,
                    stride,
                    dilation,
                };
                let mut y = poisoned(c_out * g.t_out());
                kernel.forward(&vec![0.5; c_in * t_in], None, g, None, &mut y);
                assert!(all_finite(&y), "case {i} {backend:?}");
            }
            for (i, case) in TRANSPOSE_CASES.iter().enumerate() {
                let &(_, c_in, c_out, k, t_in, stride, padding, output_padding) = case;
                let kernel = transpose_case(i, case).prepare(backend).unwrap();
                let g = ConvTransposeGeom {
                    c_in,
                    c_out,
                    k,
                    t_in,
                    padding,
                    output_padding,
                    stride,
                };
                let mut y = poisoned(c_out * g.t_out());
                kernel.forward(&vec![0.5; c_in * t_in], g, Some(0.1), &mut y);
                assert!(all_finite(&y), "transposed case {i} {backend:?}");
            }
        }
    }

    #[test]
    fn unsupported_configs_fall_back_to_candle() {
        // f64 input
        let conv = Conv1d::from_tensors(
            rand(&[4, 8, 3], 1).to_dtype(DType::F64).unwrap(),
            None,
            Conv1dConfig::default(),
        );
        let x = rand(&[1, 8, 20], 2).to_dtype(DType::F64).unwrap();
        assert_eq!(conv.forward(&x).unwrap().dtype(), DType::F64);
    }

    #[test]
    fn layers_use_a_cpu_kernel_by_default() {
        if Backend::current() == Backend::Candle {
            return; // ISHOWTTS_CPU_CONV=candle
        }
        let conv = Conv1d::from_tensors(rand(&[4, 8, 3], 1), None, Conv1dConfig::default());
        assert!(conv.cpu_kernel().is_some());
        let up = ConvTranspose1d::from_tensors(
            rand(&[8, 4, 4], 1),
            None,
            ConvTranspose1dConfig {
                stride: 2,
                padding: 1,
                ..Default::default()
            },
        );
        assert!(up.cpu_kernel().is_some());
    }
}

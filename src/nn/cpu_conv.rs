//! f32 CPU kernels for 1-D convolutions, on plain slices.
//!
//! candle 0.11's CPU conv1d builds one im2col matrix for the whole signal
//! (tens of MB for a vocoder's 32 x 66 560 activations) and reaches about
//! 12 GFLOP/s. [`Conv1dKernel`] and [`ConvTranspose1dKernel`] hold a
//! layer's weights prepared once for the best kernel of the running CPU:
//!
//! - [`super::simd_conv`]: a register-blocked direct convolution, with
//!   AVX-512F or AVX2+FMA (stride-1 convs and transposed convs);
//! - elsewhere, the portable kernels of this module: the time axis cut into
//!   tiles whose im2col block (`C_in * K` rows x tile columns) stays in
//!   cache, one `gemm` call per tile, tiles in parallel with rayon; a
//!   transposed convolution in polyphase form (the `stride` output phases
//!   are ordinary convolutions with `ceil(K / stride)` taps, stacked into
//!   one matrix product, so every output sample is written once);
//! - depthwise convs (`groups == C_in == C_out`, the duration predictor's
//!   dilated k3 convs over ~100 frames) as a plain loop.
//!
//! Every kernel can apply a leaky ReLU to its input as it reads it and add
//! a residual to its output: the HiFi-GAN residual block is `x +
//! conv(leaky_relu(x))`.
//!
//! `ISHOWTTS_CPU_CONV` overrides the choice for the whole process:
//! `candle` (candle's own ops), `portable`, `avx2` or `avx512` (when the
//! CPU has it).

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use gemm::Parallelism;
use rayon::prelude::*;

use super::simd_conv::{self, Isa, PackedConv};

/// Which implementation the CPU path of the layers uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// candle's own ops.
    Candle,
    /// The portable kernels of this module.
    Portable,
    /// [`super::simd_conv`] with this instruction set (portable kernels for
    /// what it does not cover).
    Simd(Isa),
}

impl Backend {
    /// The best backend of the running CPU, unless `ISHOWTTS_CPU_CONV`
    /// says otherwise (read once).
    pub fn current() -> Self {
        static BACKEND: OnceLock<Backend> = OnceLock::new();
        *BACKEND.get_or_init(|| {
            let best = Isa::detect().map_or(Self::Portable, Self::Simd);
            match std::env::var("ISHOWTTS_CPU_CONV").as_deref() {
                Ok("candle") => Self::Candle,
                Ok("portable") => Self::Portable,
                Ok("avx2") if Isa::Avx2.available() => Self::Simd(Isa::Avx2),
                Ok("avx512") if Isa::Avx512.available() => Self::Simd(Isa::Avx512),
                _ => best,
            }
        })
    }

    fn isa(self) -> Option<Isa> {
        match self {
            Self::Simd(isa) => Some(isa),
            _ => None,
        }
    }
}

/// Geometry of a 1-D convolution of one batch item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel taps.
    pub k: usize,
    /// Input length.
    pub t_in: usize,
    /// Zero padding on each side.
    pub padding: usize,
    /// Stride.
    pub stride: usize,
    /// Dilation.
    pub dilation: usize,
}

impl ConvGeom {
    /// Asserts that the slices of one batch item have this geometry's
    /// lengths (`w_per_out` weights per output channel); returns `t_out`.
    fn check_shapes(
        &self,
        x: &[f32],
        w: &[f32],
        w_per_out: usize,
        residual: Option<&[f32]>,
        y: &[f32],
    ) -> usize {
        let t_out = self.t_out();
        assert_eq!(x.len(), self.c_in * self.t_in, "input shape");
        assert_eq!(w.len(), self.c_out * w_per_out, "weight shape");
        assert_eq!(y.len(), self.c_out * t_out, "output shape");
        if let Some(r) = residual {
            assert_eq!(r.len(), y.len(), "residual shape");
        }
        t_out
    }

    /// Output length (0 when the kernel does not fit).
    pub fn t_out(&self) -> usize {
        let span = self.dilation * (self.k - 1) + 1;
        let padded = self.t_in + 2 * self.padding;
        if padded < span {
            0
        } else {
            (padded - span) / self.stride + 1
        }
    }
}

/// Geometry of a transposed 1-D convolution (dilation 1) of one batch item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTransposeGeom {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel taps.
    pub k: usize,
    /// Input length (at least 1).
    pub t_in: usize,
    /// Padding removed from each side of the full output.
    pub padding: usize,
    /// Extra samples at the end.
    pub output_padding: usize,
    /// Stride (upsampling factor).
    pub stride: usize,
}

impl ConvTransposeGeom {
    /// Output length.
    pub fn t_out(&self) -> usize {
        ((self.t_in.saturating_sub(1)) * self.stride + self.k + self.output_padding)
            .saturating_sub(2 * self.padding)
    }
}

/// A conv1d layer's weights prepared for one CPU kernel.
#[derive(Debug, Clone)]
pub enum Conv1dKernel {
    /// [`simd_conv::conv1d`] (stride 1, groups 1).
    Simd(PackedConv),
    /// [`conv1d`] (groups 1): weights `(c_out, c_in, k)`.
    Gemm {
        /// Weights `(c_out, c_in, k)`.
        w: Vec<f32>,
        /// Bias `(c_out)`.
        bias: Option<Vec<f32>>,
    },
    /// Grouped: one dense kernel per group of `c_in / groups` input and
    /// `c_out / groups` output channels (their rows of `x` and `y` are
    /// contiguous, so each group is a plain convolution on sub-slices).
    Grouped(Vec<Conv1dKernel>),
    /// [`depthwise_conv1d`]: weights `(c, 1, k)`.
    Depthwise {
        /// Weights `(c, 1, k)`.
        w: Vec<f32>,
        /// Bias `(c)`.
        bias: Option<Vec<f32>>,
    },
}

impl Conv1dKernel {
    /// Prepares weights `(c_out, c_in / groups, k)` for `backend`; `None`
    /// for what no CPU kernel covers (groups that do not divide the
    /// channels, [`Backend::Candle`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backend: Backend,
        w: &[f32],
        bias: Option<&[f32]>,
        c_out: usize,
        c_in: usize,
        k: usize,
        groups: usize,
        stride: usize,
    ) -> Option<Self> {
        if backend == Backend::Candle || k == 0 || stride == 0 || c_in == 0 || c_out == 0 {
            return None;
        }
        let owned = || (w.to_vec(), bias.map(<[f32]>::to_vec));
        if groups == c_in && c_out == c_in && w.len() == c_out * k {
            let (w, bias) = owned();
            return Some(Self::Depthwise { w, bias });
        }
        if groups > 1 {
            if !c_in.is_multiple_of(groups)
                || !c_out.is_multiple_of(groups)
                || w.len() != c_out * (c_in / groups) * k
            {
                return None;
            }
            let (ci, co) = (c_in / groups, c_out / groups);
            let kernels = (0..groups)
                .map(|g| {
                    let w = &w[g * co * ci * k..(g + 1) * co * ci * k];
                    let bias = bias.map(|b| &b[g * co..(g + 1) * co]);
                    Self::new(backend, w, bias, co, ci, k, 1, stride)
                })
                .collect::<Option<Vec<_>>>()?;
            return Some(Self::Grouped(kernels));
        }
        if w.len() != c_out * c_in * k {
            return None;
        }
        if stride == 1 {
            if let Some(p) = backend
                .isa()
                .and_then(|isa| PackedConv::conv1d(isa, w, bias, c_out, c_in, k))
            {
                return Some(Self::Simd(p));
            }
        }
        let (w, bias) = owned();
        Some(Self::Gemm { w, bias })
    }

    /// `y = conv1d(act(x)) + bias (+ residual)` for one batch item, `act`
    /// the leaky ReLU of `slope` when given. `g` must match the prepared
    /// weights; `x`: `(c_in, t_in)`, `residual` and `y`: `(c_out, t_out)`.
    /// Every element of `y` is written.
    pub fn forward(
        &self,
        x: &[f32],
        residual: Option<&[f32]>,
        g: ConvGeom,
        slope: Option<f32>,
        y: &mut [MaybeUninit<f32>],
    ) {
        match self {
            Self::Simd(p) => {
                assert_eq!(g.stride, 1);
                simd_conv::conv1d(p, x, residual, g.t_in, g.padding, g.dilation, slope, y)
            }
            Self::Gemm { w, bias } => conv1d(x, w, bias.as_deref(), residual, g, slope, zeroed(y)),
            Self::Depthwise { w, bias } => {
                depthwise_conv1d(x, w, bias.as_deref(), residual, g, slope, zeroed(y))
            }
            Self::Grouped(kernels) => {
                let groups = kernels.len();
                let sub = ConvGeom {
                    c_in: g.c_in / groups,
                    c_out: g.c_out / groups,
                    ..g
                };
                let (x_len, y_len) = (sub.c_in * g.t_in, sub.c_out * g.t_out());
                for (i, kernel) in kernels.iter().enumerate() {
                    kernel.forward(
                        &x[i * x_len..(i + 1) * x_len],
                        residual.map(|r| &r[i * y_len..(i + 1) * y_len]),
                        sub,
                        slope,
                        &mut y[i * y_len..(i + 1) * y_len],
                    );
                }
            }
        }
    }
}

/// A conv_transpose1d layer's weights prepared for one CPU kernel.
#[derive(Debug, Clone)]
pub enum ConvTranspose1dKernel {
    /// [`simd_conv::conv_transpose1d`].
    Simd(PackedConv),
    /// [`conv_transpose1d`]: weights in polyphase form (see there).
    Gemm {
        /// Polyphase weights `(stride * c_out, c_in * ceil(k / stride))`.
        w: Vec<f32>,
        /// Bias `(c_out)`.
        bias: Option<Vec<f32>>,
    },
}

impl ConvTranspose1dKernel {
    /// Prepares weights `(c_in, c_out, k)` (PyTorch layout, groups 1,
    /// dilation 1) for `backend`; `None` for [`Backend::Candle`].
    pub fn new(
        backend: Backend,
        w: &[f32],
        bias: Option<&[f32]>,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
    ) -> Option<Self> {
        if backend == Backend::Candle || k == 0 || stride == 0 || c_in == 0 || c_out == 0 {
            return None;
        }
        if w.len() != c_in * c_out * k {
            return None;
        }
        if let Some(p) = backend
            .isa()
            .and_then(|isa| PackedConv::conv_transpose1d(isa, w, bias, c_in, c_out, k, stride))
        {
            return Some(Self::Simd(p));
        }
        Some(Self::Gemm {
            w: polyphase_weights(w, c_in, c_out, k, stride),
            bias: bias.map(<[f32]>::to_vec),
        })
    }

    /// `y = conv_transpose1d(act(x)) + bias` for one batch item; `g` must
    /// match the prepared weights, `x`: `(c_in, t_in)`, `y`: `(c_out,
    /// t_out)`, every element written.
    pub fn forward(
        &self,
        x: &[f32],
        g: ConvTransposeGeom,
        slope: Option<f32>,
        y: &mut [MaybeUninit<f32>],
    ) {
        match self {
            Self::Simd(p) => simd_conv::conv_transpose1d(p, x, g.t_in, g.padding, slope, y),
            Self::Gemm { w, bias } => conv_transpose1d(x, w, bias.as_deref(), g, slope, zeroed(y)),
        }
    }
}

/// Zeroes `y` and views it as initialized, for the kernels that accumulate
/// into their output.
fn zeroed(y: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    y.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just initialized, and MaybeUninit<f32> has
    // the layout of f32.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Target size of one tile's im2col block, in f32 values (~256 KiB): fits
/// a core's L2 together with the weights.
const TILE_VALUES: usize = 64 * 1024;

fn leaky(v: f32, slope: Option<f32>) -> f32 {
    match slope {
        Some(s) if v < 0.0 => v * s,
        _ => v,
    }
}

/// Portable `y = conv1d(act(x)) + bias (+ residual)` for one batch item
/// (groups 1): im2col tiles and `gemm`.
///
/// `x`: `(c_in, t_in)` row-major; `w`: `(c_out, c_in, k)`; `bias`:
/// `(c_out)`; `residual` and `y`: `(c_out, t_out)`.
pub fn conv1d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    g: ConvGeom,
    slope: Option<f32>,
    y: &mut [f32],
) {
    let rows = g.c_in * g.k; // im2col rows
    let t_out = g.check_shapes(x, w, rows, residual, y);
    if t_out == 0 {
        return;
    }
    if g.c_out <= 2 && g.stride == 1 {
        direct_conv1d(x, w, bias, residual, g, slope, y);
        return;
    }
    let tile = (TILE_VALUES / rows).clamp(32, 4096);
    // Few tiles: one tile, and let gemm split the work across threads.
    let (tile, inner_par) = if t_out.div_ceil(tile) < 2 * rayon::current_num_threads() {
        (t_out, Parallelism::Rayon(0))
    } else {
        (tile, Parallelism::None)
    };

    let fill_tile = |t0: usize, len: usize, cols: &mut Vec<f32>| {
        cols.clear();
        cols.resize(rows * len, 0.0);
        for ci in 0..g.c_in {
            let xrow = &x[ci * g.t_in..(ci + 1) * g.t_in];
            for kk in 0..g.k {
                let dst = &mut cols[(ci * g.k + kk) * len..(ci * g.k + kk + 1) * len];
                let off = (kk * g.dilation) as isize - g.padding as isize;
                gather_row(dst, xrow, t0, g.stride, off, slope);
            }
        }
    };

    // Output tiles are column blocks of y; they interleave in memory
    // (row-major (c_out, t_out)), so the tasks share y by pointer.
    let y_ptr = SharedOut(y.as_mut_ptr());
    let run_tile = |t0: usize, cols: &mut Vec<f32>| {
        let len = tile.min(t_out - t0);
        fill_tile(t0, len, cols);
        let y_ptr = &y_ptr;
        // SAFETY: tiles cover disjoint column ranges [t0, t0 + len) of y,
        // which outlives this call; strides describe y's row-major layout,
        // w's (c_out, rows) and cols' (rows, len).
        unsafe {
            let dst = y_ptr.0.add(t0);
            init_output(dst, t_out, len, g.c_out, bias, residual.map(|r| &r[t0..]));
            gemm::gemm(
                g.c_out,
                len,
                rows,
                dst,
                1,
                t_out as isize,
                true,
                w.as_ptr(),
                1,
                rows as isize,
                cols.as_ptr(),
                1,
                len as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                inner_par,
            );
        }
    };
    if tile >= t_out {
        run_tile(0, &mut Vec::new());
    } else {
        (0..t_out)
            .step_by(tile)
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each_init(Vec::new, |cols, t0| run_tile(t0, cols));
    }
}

/// `dst[j] = act(x[(t0 + j) * stride + off])`, zero outside `x`. The
/// in-range span is computed once so the copy vectorizes.
fn gather_row(
    dst: &mut [f32],
    x: &[f32],
    t0: usize,
    stride: usize,
    off: isize,
    slope: Option<f32>,
) {
    let len = dst.len();
    // first j with (t0 + j) * stride + off >= 0
    let base = (t0 * stride) as isize + off;
    let lo = if base >= 0 {
        0
    } else {
        ((-base) as usize).div_ceil(stride)
    }
    .min(len);
    // first j with (t0 + j) * stride + off >= x.len()
    let hi = if (x.len() as isize) <= base {
        0
    } else {
        ((x.len() as isize - base) as usize).div_ceil(stride)
    }
    .min(len)
    .max(lo);
    dst[..lo].fill(0.0);
    dst[hi..].fill(0.0);
    if hi > lo {
        let start = (base + (lo * stride) as isize) as usize;
        let d = &mut dst[lo..hi];
        if stride == 1 {
            let src = &x[start..start + (hi - lo)];
            match slope {
                Some(s) => d
                    .iter_mut()
                    .zip(src)
                    .for_each(|(o, &v)| *o = if v < 0.0 { v * s } else { v }),
                None => d.copy_from_slice(src),
            }
        } else {
            for (j, o) in d.iter_mut().enumerate() {
                *o = leaky(x[start + j * stride], slope);
            }
        }
    }
}

/// Convolution as shifted multiply-adds, for very few output channels
/// (HiFi-GAN's `conv_post` has one): a matrix product would be a
/// matrix-vector product dominated by building its columns.
fn direct_conv1d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    g: ConvGeom,
    slope: Option<f32>,
    y: &mut [f32],
) {
    let t_out = g.t_out();
    const CHUNK: usize = 4096;
    // chunks of each output row, in parallel
    let per_row = t_out.div_ceil(CHUNK);
    let y_ptr = SharedOut(y.as_mut_ptr());
    (0..g.c_out * per_row).into_par_iter().for_each_init(
        || vec![0f32; CHUNK],
        |buf, task| {
            let (co, t0) = (task / per_row, task % per_row * CHUNK);
            let len = CHUNK.min(t_out - t0);
            let y_ptr = &y_ptr;
            // SAFETY: task (co, t0) is the only writer of y[co][t0..t0+len].
            let o = unsafe { std::slice::from_raw_parts_mut(y_ptr.0.add(co * t_out + t0), len) };
            let b = bias.map_or(0.0, |b| b[co]);
            match residual {
                Some(r) => o
                    .iter_mut()
                    .zip(&r[co * t_out + t0..])
                    .for_each(|(o, &r)| *o = r + b),
                None => o.fill(b),
            }
            for ci in 0..g.c_in {
                let xrow = &x[ci * g.t_in..(ci + 1) * g.t_in];
                for kk in 0..g.k {
                    let wv = w[(co * g.c_in + ci) * g.k + kk];
                    let off = (kk * g.dilation) as isize - g.padding as isize;
                    let src = &mut buf[..len];
                    gather_row(src, xrow, t0, 1, off, slope);
                    o.iter_mut()
                        .zip(src.iter())
                        .for_each(|(o, &v)| *o += wv * v);
                }
            }
        },
    );
}

/// Writes `bias[co] (+ residual[co][t])` into a `(c_out, len)` block of a
/// row-major matrix with row stride `stride`.
///
/// # Safety
/// `dst` must be valid for the block and written by nobody else meanwhile;
/// `residual` (row stride `stride`) must hold `c_out` rows of at least
/// `len` values.
unsafe fn init_output(
    dst: *mut f32,
    stride: usize,
    len: usize,
    c_out: usize,
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
) {
    for co in 0..c_out {
        let row = std::slice::from_raw_parts_mut(dst.add(co * stride), len);
        let b = bias.map_or(0.0, |b| b[co]);
        match residual {
            Some(r) => {
                let r = &r[co * stride..co * stride + len];
                for (o, &v) in row.iter_mut().zip(r) {
                    *o = v + b;
                }
            }
            None => row.fill(b),
        }
    }
}

/// Rearranges transposed-conv weights `(c_in, c_out, k)` for
/// [`conv_transpose1d`]: row `(r, co)` (phase-major), column `(ci, j)`
/// holds `w[ci, co, r + j * stride]` (zero past the kernel).
pub fn polyphase_weights(
    w: &[f32],
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
) -> Vec<f32> {
    let taps = k.div_ceil(stride);
    let rows = c_in * taps;
    let mut wc = vec![0f32; stride * c_out * rows];
    for r in 0..stride {
        for co in 0..c_out {
            for ci in 0..c_in {
                for j in 0..taps {
                    let kk = r + j * stride;
                    if kk < k {
                        wc[(r * c_out + co) * rows + ci * taps + j] = w[(ci * c_out + co) * k + kk];
                    }
                }
            }
        }
    }
    wc
}

/// Portable `y = conv_transpose1d(act(x)) + bias` for one batch item, with
/// weights from [`polyphase_weights`]; `x`: `(c_in, t_in)`, `y`: `(c_out,
/// t_out)`.
pub fn conv_transpose1d(
    x: &[f32],
    wc: &[f32],
    bias: Option<&[f32]>,
    g: ConvTransposeGeom,
    slope: Option<f32>,
    y: &mut [f32],
) {
    let (s, c_in, c_out) = (g.stride, g.c_in, g.c_out);
    let t_out = g.t_out();
    assert_eq!(x.len(), c_in * g.t_in, "input shape");
    assert_eq!(y.len(), c_out * t_out, "output shape");
    if t_out == 0 {
        return;
    }
    // Output sample o gets w[ci, co, kk] * x[ci, q] for o + padding = q*s + kk.
    // With kk = r + j*s (r the phase, j < taps): o + padding = (q + j)*s + r,
    // so for p = (o + padding) / s, y[co, o] = sum_{ci,j} w[ci,co,r+j*s] x[ci, p-j].
    let taps = g.k.div_ceil(s);
    let rows = c_in * taps;
    assert_eq!(wc.len(), s * c_out * rows, "weight shape");
    // Frames p cover o in [0, t_out): p from padding / s to (t_out - 1 + padding) / s.
    let p0 = g.padding / s;
    let n_p = (t_out - 1 + g.padding) / s + 1 - p0;
    let tile = (TILE_VALUES / rows).clamp(16, 2048);
    let (tile, inner_par) = if n_p.div_ceil(tile) < 2 * rayon::current_num_threads() {
        (n_p, Parallelism::Rayon(0))
    } else {
        (tile, Parallelism::None)
    };
    let y_ptr = SharedOut(y.as_mut_ptr());
    let run_tile = |i0: usize, bufs: &mut (Vec<f32>, Vec<f32>)| {
        let len = tile.min(n_p - i0);
        let (cols, z) = bufs;
        cols.clear();
        cols.resize(rows * len, 0.0);
        for ci in 0..c_in {
            let xrow = &x[ci * g.t_in..(ci + 1) * g.t_in];
            for j in 0..taps {
                let dst = &mut cols[(ci * taps + j) * len..(ci * taps + j + 1) * len];
                for (i, d) in dst.iter_mut().enumerate() {
                    let src = (p0 + i0 + i) as isize - j as isize;
                    if src >= 0 && (src as usize) < g.t_in {
                        *d = leaky(xrow[src as usize], slope);
                    }
                }
            }
        }
        z.clear();
        z.resize(s * c_out * len, 0.0);
        // SAFETY: all three matrices are dense row-major buffers of the
        // stated sizes.
        unsafe {
            gemm::gemm(
                s * c_out,
                len,
                rows,
                z.as_mut_ptr(),
                1,
                len as isize,
                false,
                wc.as_ptr(),
                1,
                rows as isize,
                cols.as_ptr(),
                1,
                len as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                inner_par,
            );
        }
        // interleave the phases into y: o = p*s + r - padding
        let y_ptr = &y_ptr;
        for r in 0..s {
            for co in 0..c_out {
                let b = bias.map_or(0.0, |b| b[co]);
                let zrow = &z[(r * c_out + co) * len..(r * c_out + co + 1) * len];
                for (i, &v) in zrow.iter().enumerate() {
                    let o = ((p0 + i0 + i) * s + r) as isize - g.padding as isize;
                    if o >= 0 && (o as usize) < t_out {
                        // SAFETY: in bounds; each (co, o) belongs to exactly
                        // one frame p and phase r, so tiles never write the
                        // same sample.
                        unsafe { *y_ptr.0.add(co * t_out + o as usize) = v + b };
                    }
                }
            }
        }
    };
    if tile >= n_p {
        run_tile(0, &mut (Vec::new(), Vec::new()));
    } else {
        (0..n_p)
            .step_by(tile)
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each_init(|| (Vec::new(), Vec::new()), |bufs, i0| run_tile(i0, bufs));
    }
}

/// Depthwise `y = conv1d(act(x)) + bias (+ residual)` (`groups == c_in ==
/// c_out`, one input channel per group): `x` `(c, t_in)`, `w` `(c, 1, k)`,
/// `residual` and `y` `(c, t_out)`.
///
/// Each row accumulates its taps as whole shifted rows, `y[lo..hi] += w_k *
/// x[lo + off_k..]`, which vectorizes. The duration predictor's convs are
/// small (192 x ~100), so rows are batched into tasks of ~16k
/// multiply-adds.
pub fn depthwise_conv1d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    g: ConvGeom,
    slope: Option<f32>,
    y: &mut [f32],
) {
    let t_out = g.check_shapes(x, w, g.k, residual, y);
    if t_out == 0 {
        return;
    }
    let rows_per_task = (16384 / (t_out * g.k)).max(1);
    y.par_chunks_mut(t_out)
        .enumerate()
        .with_min_len(rows_per_task)
        .for_each_init(Vec::new, |act, (c, row)| {
            let xrow = &x[c * g.t_in..(c + 1) * g.t_in];
            let xrow = match slope {
                Some(_) => {
                    act.clear();
                    act.extend(xrow.iter().map(|&v| leaky(v, slope)));
                    &act[..]
                }
                None => xrow,
            };
            let b = bias.map_or(0.0, |b| b[c]);
            match residual {
                Some(r) => row
                    .iter_mut()
                    .zip(&r[c * t_out..(c + 1) * t_out])
                    .for_each(|(o, &r)| *o = b + r),
                None => row.fill(b),
            }
            for (kk, &wv) in w[c * g.k..(c + 1) * g.k].iter().enumerate() {
                let off = (kk * g.dilation) as isize - g.padding as isize;
                if g.stride == 1 {
                    // outputs t with 0 <= t + off < t_in
                    let lo = (-off).clamp(0, t_out as isize) as usize;
                    let hi = (g.t_in as isize - off).clamp(lo as isize, t_out as isize) as usize;
                    if hi > lo {
                        let src = &xrow[(lo as isize + off) as usize..];
                        for (o, &v) in row[lo..hi].iter_mut().zip(src) {
                            *o += wv * v;
                        }
                    }
                } else {
                    for (t, o) in row.iter_mut().enumerate() {
                        let src = (t * g.stride) as isize + off;
                        if src >= 0 && (src as usize) < g.t_in {
                            *o += wv * xrow[src as usize];
                        }
                    }
                }
            }
        });
}

/// An output pointer shared by parallel tasks that write disjoint parts.
struct SharedOut(*mut f32);
// SAFETY: only used for writes to disjoint regions (see each use).
unsafe impl Sync for SharedOut {}
unsafe impl Send for SharedOut {}

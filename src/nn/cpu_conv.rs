//! Fast f32 CPU kernels for 1-D convolutions.
//!
//! candle 0.11's CPU conv1d builds one im2col matrix for the whole signal
//! (tens of MB for a vocoder's 32 x 66 560 activations) and reaches about
//! 12 GFLOP/s. Here the time axis is cut into tiles whose im2col block
//! (`C_in * K` rows x tile columns) stays in cache, each tile is one `gemm`
//! call, and tiles run in parallel with rayon. A transposed convolution is
//! computed in polyphase form: the `stride` output phases are ordinary
//! convolutions over the input with `ceil(K / stride)` taps each, stacked
//! into one matrix product, so every output sample is written exactly once
//! (no overlap-add).
//!
//! Optional fusions used by the HiFi-GAN decoder: a leaky ReLU applied to
//! the input while it is gathered, and a residual added to the output.

use gemm::Parallelism;
use rayon::prelude::*;

/// Geometry of a 1-D convolution (groups = 1).
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

/// Target size of one tile's im2col block, in f32 values (~256 KiB): fits
/// a core's L2 together with the weights.
const TILE_VALUES: usize = 64 * 1024;

fn leaky(v: f32, slope: Option<f32>) -> f32 {
    match slope {
        Some(s) if v < 0.0 => v * s,
        _ => v,
    }
}

/// `y = conv1d(act(x)) + bias (+ residual)` for one batch item.
///
/// `x`: `(c_in, t_in)` row-major; `w`: `(c_out, c_in, k)`; `bias`:
/// `(c_out)`; `residual`: `(c_out, t_out)`; returns `(c_out, t_out)`.
pub fn conv1d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    g: ConvGeom,
    pre_leaky_relu: Option<f32>,
) -> Vec<f32> {
    let t_out = g.t_out();
    let rows = g.c_in * g.k; // im2col rows
    let mut y = vec![0f32; g.c_out * t_out];
    if t_out == 0 {
        return y;
    }
    if g.c_out <= 2 && g.stride == 1 {
        direct_conv1d(x, w, bias, residual, g, pre_leaky_relu, &mut y);
        return y;
    }
    let tile = (TILE_VALUES / rows.max(1)).clamp(32, 4096);
    let n_tiles = t_out.div_ceil(tile);
    // Few tiles: one tile, and let gemm split the work across threads.
    let (tile, inner_par) = if n_tiles < 2 * rayon::current_num_threads() {
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
                gather_row(dst, xrow, t0, g.stride, off, pre_leaky_relu);
            }
        }
    };

    // Output tiles are column blocks of y; split y by raw pointer since
    // they interleave in memory (row-major (c_out, t_out)).
    let y_ptr = SendPtr(y.as_mut_ptr());
    let run_tile = |t0: usize, cols: &mut Vec<f32>| {
        let len = tile.min(t_out - t0);
        fill_tile(t0, len, cols);
        let y_ptr = &y_ptr;
        // SAFETY: tiles cover disjoint column ranges [t0, t0 + len) of y,
        // which outlives this call; strides describe y's row-major layout.
        unsafe {
            let dst = y_ptr.get().add(t0);
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
    y
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
    let chunk = 4096;
    y.par_chunks_mut(chunk)
        .enumerate()
        .for_each(|(ci_chunk, out)| {
            // chunks never straddle rows when t_out is a multiple of chunk; handle
            // the general case by mapping each element to (co, t)
            let start = ci_chunk * chunk;
            let mut buf = vec![0f32; out.len()];
            let mut pos = 0;
            while pos < out.len() {
                let flat = start + pos;
                let (co, t0) = (flat / t_out, flat % t_out);
                let len = (t_out - t0).min(out.len() - pos);
                let o = &mut out[pos..pos + len];
                let b = bias.map_or(0.0, |b| b[co]);
                match residual {
                    Some(r) => o
                        .iter_mut()
                        .zip(&r[flat..flat + len])
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
                pos += len;
            }
        });
}

/// Writes `bias[co] (+ residual[co][t])` into a `(c_out, len)` block of a
/// row-major matrix with row stride `stride`.
///
/// # Safety
/// `dst` must be valid for the block; `residual` (row stride `stride`)
/// must hold `c_out` rows of at least `len` values.
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

/// Geometry of a transposed 1-D convolution (groups = 1, dilation = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTransposeGeom {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Kernel taps.
    pub k: usize,
    /// Input length.
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

/// `y = conv_transpose1d(act(x)) + bias` for one batch item.
///
/// `x`: `(c_in, t_in)`; `w`: `(c_in, c_out, k)` (PyTorch layout); returns
/// `(c_out, t_out)`.
pub fn conv_transpose1d(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    g: ConvTransposeGeom,
    pre_leaky_relu: Option<f32>,
) -> Vec<f32> {
    let (s, k, c_in, c_out) = (g.stride, g.k, g.c_in, g.c_out);
    let t_out = g.t_out();
    let mut y = vec![0f32; c_out * t_out];
    if t_out == 0 {
        return y;
    }
    // Output sample o gets w[ci, co, kk] * x[ci, q] for o + padding = q*s + kk.
    // With kk = r + j*s (r the phase, j < taps): o + padding = (q + j)*s + r,
    // so for p = (o + padding) / s, y[co, o] = sum_{ci,j} w[ci,co,r+j*s] x[ci, p-j].
    let taps = k.div_ceil(s);
    let rows = c_in * taps;
    // Combined weights: row (r, co), column (ci, j).
    let mut wc = vec![0f32; s * c_out * rows];
    for r in 0..s {
        for co in 0..c_out {
            for ci in 0..c_in {
                for j in 0..taps {
                    let kk = r + j * s;
                    if kk < k {
                        wc[(r * c_out + co) * rows + ci * taps + j] = w[(ci * c_out + co) * k + kk];
                    }
                }
            }
        }
    }
    // Frames p cover o in [0, t_out): p from padding / s to (t_out - 1 + padding) / s.
    let p0 = g.padding / s;
    let p_end = (t_out - 1 + g.padding) / s + 1;
    let n_p = p_end - p0;
    let tile = (TILE_VALUES / rows.max(1)).clamp(16, 2048);
    let n_tiles = n_p.div_ceil(tile);
    let (tile, inner_par) = if n_tiles < 2 * rayon::current_num_threads() {
        (n_p, Parallelism::Rayon(0))
    } else {
        (tile, Parallelism::None)
    };
    let y_ptr = SendPtr(y.as_mut_ptr());
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
                        *d = leaky(xrow[src as usize], pre_leaky_relu);
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
                        // SAFETY: each (co, o) belongs to exactly one frame p
                        // and phase r, so tiles never write the same sample.
                        unsafe { *y_ptr.get().add(co * t_out + o as usize) = v + b };
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
    y
}

/// Depthwise conv1d (`groups == c_in == c_out`): `x` `(c, t_in)`, `w`
/// `(c, 1, k)`; returns `(c, t_out)`.
pub fn depthwise_conv1d(x: &[f32], w: &[f32], bias: Option<&[f32]>, g: ConvGeom) -> Vec<f32> {
    let t_out = g.t_out();
    let mut y = vec![0f32; g.c_out * t_out];
    y.par_chunks_mut(t_out.max(1))
        .enumerate()
        .for_each(|(c, row)| {
            let xrow = &x[c * g.t_in..(c + 1) * g.t_in];
            let wrow = &w[c * g.k..(c + 1) * g.k];
            let b = bias.map_or(0.0, |b| b[c]);
            for (t, out) in row.iter_mut().enumerate() {
                let mut acc = 0f32;
                for (kk, &wv) in wrow.iter().enumerate() {
                    let src = (t * g.stride + kk * g.dilation) as isize - g.padding as isize;
                    if src >= 0 && (src as usize) < g.t_in {
                        acc += wv * xrow[src as usize];
                    }
                }
                *out = acc + b;
            }
        });
    y
}

/// A raw pointer that may cross threads; users guarantee disjoint writes.
struct SendPtr(*mut f32);
// SAFETY: only used for writes to disjoint regions (see each use).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// The pointer; a method so closures capture the whole `Sync` wrapper.
    fn get(&self) -> *mut f32 {
        self.0
    }
}

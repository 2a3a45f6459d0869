//! AVX-512 direct convolution: a register-blocked micro-kernel that keeps an
//! 8-channel x 48-sample output block in `zmm` registers and
//! streams the input once per tap, with no im2col buffer and no packing
//! copy. On the long 32/64-channel signals of a HiFi-GAN decoder this runs
//! 3-4x faster than im2col + gemm.
//!
//! A transposed convolution with stride `s` runs through the same kernel in
//! polyphase form (`s * C_out` output channels over the input frames, then
//! interleaved), see [`conv_transpose1d`].
//!
//! Used only when the CPU has AVX-512F ([`available`]); the callers fall
//! back to [`super::cpu_conv`] otherwise.

use rayon::prelude::*;

/// Output channels per micro-tile.
const CO: usize = 8;
/// 16-lane vectors per micro-tile along time.
const NV: usize = 3;
/// Output samples per micro-tile. CO * NV accumulators plus NV inputs and
/// one broadcast weight must fit the 32 zmm registers.
const TW: usize = 16 * NV;
/// Micro-tiles per parallel task along time.
const TILES_PER_TASK: usize = 16;

/// True when the running CPU supports the kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Input rows copied with `left` zeros in front and zeros after, with the
/// optional leaky ReLU applied (so padding stays zero, as lrelu(0) = 0).
fn padded_rows(
    x: &[f32],
    c_in: usize,
    t_in: usize,
    left: usize,
    row_len: usize,
    slope: Option<f32>,
) -> Vec<f32> {
    let mut xp = vec![0f32; c_in * row_len];
    for ci in 0..c_in {
        let src = &x[ci * t_in..(ci + 1) * t_in];
        let n = t_in.min(row_len.saturating_sub(left));
        let dst = &mut xp[ci * row_len + left..ci * row_len + left + n];
        match slope {
            Some(s) => dst
                .iter_mut()
                .zip(src)
                .for_each(|(o, &v)| *o = if v < 0.0 { v * s } else { v }),
            None => dst.copy_from_slice(&src[..n]),
        }
    }
    xp
}

/// One direct convolution problem over padded rows: output channel `c` at
/// position `q` is `sum_{ci,kk} w[c][ci][kk] * xp[ci][q + kk * dilation]`.
struct Problem<'a> {
    xp: &'a [f32],
    row_len: usize,
    c_in: usize,
    k: usize,
    dilation: usize,
    /// Weights packed as `[c / CO][ci][kk][c % CO]`, zero-padded.
    wp: &'a [f32],
    c_out: usize,
    n_out: usize,
}

impl Problem<'_> {
    /// Computes every micro-tile in parallel and hands each to
    /// `emit(channel_block, q0, block)` with `block[j * TW + i]` the value of
    /// channel `16 * channel_block + j` at `q0 + i`.
    fn run(&self, emit: &(dyn Fn(usize, usize, &[f32; CO * TW]) + Sync)) {
        let n_cb = self.c_out.div_ceil(CO);
        let n_tiles = self.n_out.div_ceil(TW);
        let n_tasks_t = n_tiles.div_ceil(TILES_PER_TASK);
        (0..n_cb * n_tasks_t).into_par_iter().for_each(|task| {
            let (cb, tt) = (task / n_tasks_t, task % n_tasks_t);
            let wp = &self.wp[cb * self.c_in * self.k * CO..(cb + 1) * self.c_in * self.k * CO];
            let mut block = [0f32; CO * TW];
            for tile in tt * TILES_PER_TASK..((tt + 1) * TILES_PER_TASK).min(n_tiles) {
                let q0 = tile * TW;
                // SAFETY: AVX-512F is present (checked by the caller via
                // `available`); the rows are long enough for q0 + 31 +
                // (k - 1) * dilation (see the callers' row_len).
                unsafe {
                    kernel(
                        self.xp.as_ptr().add(q0),
                        self.row_len,
                        self.c_in,
                        self.k,
                        self.dilation,
                        wp.as_ptr(),
                        &mut block,
                    )
                };
                emit(cb, q0, &block);
            }
        });
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel(
    xp: *const f32,
    row_len: usize,
    c_in: usize,
    k: usize,
    dilation: usize,
    wp: *const f32,
    out: &mut [f32; CO * TW],
) {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_ps(); NV * CO];
    for ci in 0..c_in {
        let row = xp.add(ci * row_len);
        let w_ci = wp.add(ci * k * CO);
        for kk in 0..k {
            let base = row.add(kk * dilation);
            let mut xv = [_mm512_setzero_ps(); NV];
            for (v, x) in xv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(base.add(16 * v));
            }
            let w = w_ci.add(kk * CO);
            for j in 0..CO {
                let wv = _mm512_set1_ps(*w.add(j));
                for v in 0..NV {
                    acc[NV * j + v] = _mm512_fmadd_ps(wv, xv[v], acc[NV * j + v]);
                }
            }
        }
    }
    for j in 0..CO {
        for v in 0..NV {
            _mm512_storeu_ps(out.as_mut_ptr().add(j * TW + 16 * v), acc[NV * j + v]);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel(
    _: *const f32,
    _: usize,
    _: usize,
    _: usize,
    _: usize,
    _: *const f32,
    _: &mut [f32; CO * TW],
) {
    unreachable!("simd_conv is only used when `available()`")
}

/// A raw pointer that may cross threads; users guarantee disjoint writes.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: only used for writes to disjoint regions (see each use).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

impl SendPtr {
    /// The pointer; a method (not a field access) so closures capture the
    /// whole `Sync` wrapper rather than the raw pointer field.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Packs conv weights `(c_out, c_in, k)` as the kernel reads them:
/// `[c_out / CO][c_in][k][c_out % CO]`, zero-padded to whole blocks.
pub fn pack_conv1d_weights(w: &[f32], c_out: usize, c_in: usize, k: usize) -> Vec<f32> {
    let mut wp = vec![0f32; c_out.div_ceil(CO) * c_in * k * CO];
    for co in 0..c_out {
        for ci in 0..c_in {
            for kk in 0..k {
                wp[((co / CO * c_in + ci) * k + kk) * CO + co % CO] = w[(co * c_in + ci) * k + kk];
            }
        }
    }
    wp
}

/// Packs transposed-conv weights `(c_in, c_out, k)` with stride `s` into
/// the polyphase form [`conv_transpose1d`] reads: `s * c_out` channels
/// (phase-major) of `ceil(k / s)` taps.
pub fn pack_conv_transpose1d_weights(
    w: &[f32],
    c_in: usize,
    c_out: usize,
    k: usize,
    s: usize,
) -> Vec<f32> {
    let taps = k.div_ceil(s);
    let ch = s * c_out;
    let mut wp = vec![0f32; ch.div_ceil(CO) * c_in * taps * CO];
    for r in 0..s {
        for co in 0..c_out {
            let c = r * c_out + co;
            for ci in 0..c_in {
                for kk in 0..taps {
                    let tap = r + (taps - 1 - kk) * s;
                    if tap < k {
                        wp[((c / CO * c_in + ci) * taps + kk) * CO + c % CO] =
                            w[(ci * c_out + co) * k + tap];
                    }
                }
            }
        }
    }
    wp
}

/// Stride-1 conv1d for one batch item, like [`super::cpu_conv::conv1d`]
/// (`x` `(c_in, t_in)`, residual `(c_out, t_out)`), with weights from
/// [`pack_conv1d_weights`]. Requires [`available`].
#[allow(clippy::too_many_arguments)]
pub fn conv1d(
    x: &[f32],
    wp: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    c_in: usize,
    c_out: usize,
    k: usize,
    t_in: usize,
    padding: usize,
    dilation: usize,
    slope: Option<f32>,
) -> Vec<f32> {
    assert!(available());
    let span = dilation * (k - 1);
    let t_out = (t_in + 2 * padding).saturating_sub(span);
    let mut y = vec![0f32; c_out * t_out];
    if t_out == 0 {
        return y;
    }
    let row_len = t_out.div_ceil(TW) * TW + span + 1;
    let xp = padded_rows(x, c_in, t_in, padding, row_len.max(padding + t_in), slope);
    let row_len = row_len.max(padding + t_in);
    assert_eq!(
        wp.len(),
        c_out.div_ceil(CO) * c_in * k * CO,
        "weights not packed for this shape"
    );
    let p = Problem {
        xp: &xp,
        row_len,
        c_in,
        k,
        dilation,
        wp,
        c_out,
        n_out: t_out,
    };
    let yp = SendPtr(y.as_mut_ptr());
    p.run(&|cb, q0, block| {
        let n = TW.min(t_out - q0);
        for j in 0..CO.min(c_out - cb * CO) {
            let co = cb * CO + j;
            let b = bias.map_or(0.0, |b| b[co]);
            // SAFETY: (co, q0..q0 + n) is written by this micro-tile only.
            let dst = unsafe { std::slice::from_raw_parts_mut(yp.get().add(co * t_out + q0), n) };
            let src = &block[j * TW..j * TW + n];
            match residual {
                Some(r) => {
                    let r = &r[co * t_out + q0..co * t_out + q0 + n];
                    for ((d, &s), &r) in dst.iter_mut().zip(src).zip(r) {
                        *d = s + b + r;
                    }
                }
                None => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s + b),
            }
        }
    });
    y
}

/// Transposed conv1d (dilation 1) for one batch item, like
/// [`super::cpu_conv::conv_transpose1d`], with weights from
/// [`pack_conv_transpose1d_weights`]. Requires [`available`].
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose1d(
    x: &[f32],
    wp: &[f32],
    bias: Option<&[f32]>,
    c_in: usize,
    c_out: usize,
    k: usize,
    t_in: usize,
    stride: usize,
    padding: usize,
    t_out: usize,
    slope: Option<f32>,
) -> Vec<f32> {
    assert!(available());
    let s = stride;
    let mut y = vec![0f32; c_out * t_out];
    if t_out == 0 {
        return y;
    }
    // y[co, p*s + r - padding] = sum_{ci, j} w[ci, co, r + j*s] * x[ci, p - j]
    // As a conv over x with taps kk = taps-1-j: x[ci, p - (taps-1) + kk], so
    // with rows left-padded by taps-1 and shifted by p0, q = p - p0 reads
    // xp[ci][q + kk].
    let taps = k.div_ceil(s);
    let p0 = padding / s;
    let n_p = (t_out - 1 + padding) / s + 1 - p0;
    let left = taps - 1;
    let row_len = (p0 + n_p.div_ceil(TW) * TW + taps).max(left + t_in);
    let xp_full = padded_rows(x, c_in, t_in, left, row_len, slope);
    let ch = s * c_out;
    assert_eq!(
        wp.len(),
        ch.div_ceil(CO) * c_in * taps * CO,
        "weights not packed for this shape"
    );
    // shift the rows by p0 with a per-row offset: simplest is a view that
    // starts p0 later, with rows still row_len apart
    let p = Problem {
        xp: &xp_full[p0..],
        row_len,
        c_in,
        k: taps,
        dilation: 1,
        wp,
        c_out: ch,
        n_out: n_p,
    };
    let yp = SendPtr(y.as_mut_ptr());
    p.run(&|cb, q0, block| {
        let n = TW.min(n_p - q0) as isize;
        for j in 0..CO.min(ch - cb * CO) {
            let c = cb * CO + j;
            let (r, co) = (c / c_out, c % c_out);
            let b = bias.map_or(0.0, |b| b[co]);
            // o = base + i * s for i in the block; keep 0 <= o < t_out
            let base = ((p0 + q0) * s + r) as isize - padding as isize;
            let (si, to) = (s as isize, t_out as isize);
            let lo = if base >= 0 { 0 } else { (-base + si - 1) / si };
            let hi = if base >= to {
                0
            } else {
                ((to - base + si - 1) / si).min(n)
            };
            let src = &block[j * TW..j * TW + TW];
            for i in lo..hi.max(lo) {
                // SAFETY: 0 <= o < t_out by the bounds above, and each
                // output sample has exactly one (frame, phase), so tiles
                // never write the same sample.
                unsafe {
                    *yp.get().add(co * t_out + (base + i * si) as usize) = src[i as usize] + b
                };
            }
        }
    });
    y
}

//! Register-blocked direct 1-D convolution for x86-64 (AVX-512F, or AVX2
//! with FMA).
//!
//! A micro-kernel keeps a block of `CO` output channels x `TW` samples in
//! vector registers (8 x 48 with AVX-512: 24 of the 32 `zmm`) and, for
//! every input channel and tap, loads `TW` input samples once and
//! broadcasts `CO` weights: 24 FMAs per 11 loads, so it runs near the FMA
//! ports' peak when its inputs are in L1. There is no im2col matrix: the
//! taps are shifted loads of the input rows.
//!
//! The time axis is cut into chunks whose input rows (`C_in` x chunk, about
//! 128 KiB) stay in L2; each parallel task copies its chunk once (applying
//! the optional leaky ReLU and the zero padding as it copies) and runs all
//! of its channel blocks over it, so the input is read from memory once per
//! call. Ordering the work channel-block-major instead, as a first version
//! did, streamed a 64 x 16 640 input 8 times from L3 and ran 2-3x slower.
//!
//! A transposed convolution with stride `s` runs through the same kernel in
//! polyphase form: output sample `p * s + r` (phase `r`) of channel `co` is
//! an ordinary convolution of the input frames with `ceil(K / s)` taps, so
//! the kernel computes `s * C_out` channels ordered `co * s + r` over the
//! input frames, and the epilogue interleaves the phases in registers
//! (`log2 s` zip rounds) into contiguous output samples (scattering them
//! one by one made HiFi-GAN's upsampling layers 1.8x slower).
//!
//! Measured on 2 Sapphire Rapids cores (see `examples/bench_conv.rs`):
//! 130-200 GFLOP/s on the HiFi-GAN shapes against candle's ~12.

// Off x86-64 no instruction set is available and the kernels are unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use std::cell::RefCell;
use std::mem::MaybeUninit;

use rayon::prelude::*;

/// Approximate size of one task's input chunk: fits L2 (2 MiB on the
/// target) beside the output rows being written.
const CHUNK_BYTES: usize = 128 * 1024;
/// Parallel tasks wanted per call; short signals (260 frames) are split
/// across channel blocks too so both cores get work.
const MIN_TASKS: usize = 8;

/// The vector instruction set a [`PackedConv`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F: 16 lanes, 32 registers.
    Avx512,
    /// AVX2 with FMA: 8 lanes, 16 registers.
    Avx2,
}

impl Isa {
    /// The best instruction set of the running CPU, `None` when it has
    /// neither (or is not x86-64).
    pub fn detect() -> Option<Self> {
        [Self::Avx512, Self::Avx2]
            .into_iter()
            .find(|isa| isa.available())
    }

    /// True when the running CPU supports this instruction set.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Self::Avx512 => std::is_x86_feature_detected!("avx512f"),
                Self::Avx2 => {
                    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    fn lanes(self) -> usize {
        match self {
            Self::Avx512 => 16,
            Self::Avx2 => 8,
        }
    }

    /// `(CO, NV)`: output channels and vectors of samples per micro-tile.
    /// `CO * NV` accumulators + `NV` inputs + 1 weight must fit the
    /// register file: 24 + 3 + 1 of 32 `zmm`; with AVX2, 8 + 2 + 1 of 16
    /// `ymm` (4 x 3 spilled an accumulator and ran ~20 % slower). A single
    /// output channel (HiFi-GAN's `conv_post`) gets 8 vectors so that 8
    /// independent FMA chains hide the FMA latency.
    fn blocking(self, channels: usize) -> (usize, usize) {
        match (self, channels) {
            (_, 0..=3) => (1, 8),
            (Self::Avx512, _) => (8, 3),
            (Self::Avx2, _) => (4, 2),
        }
    }
}

/// Convolution weights and bias rearranged for the micro-kernel, built once
/// per layer. Holding one proves that its [`Isa`] is available.
#[derive(Debug, Clone)]
pub struct PackedConv {
    isa: Isa,
    /// Output channels per micro-tile.
    co: usize,
    /// Samples per micro-tile.
    tw: usize,
    c_in: usize,
    /// Channels the kernel computes: `c_out`, or `stride * c_out` phases.
    ch: usize,
    /// Taps the kernel applies (`ceil(K / stride)` when transposed).
    taps: usize,
    /// 1 for a convolution, the upsampling factor when transposed.
    stride: usize,
    /// `[ch / co][c_in][taps][ch % co]`, zero-padded to whole blocks.
    w: Vec<f32>,
    /// Bias of each kernel channel, zero-padded to whole blocks.
    bias: Vec<f32>,
}

impl PackedConv {
    /// Packs conv1d weights `(c_out, c_in, k)`; `None` when `isa` is not
    /// available here.
    pub fn conv1d(
        isa: Isa,
        w: &[f32],
        bias: Option<&[f32]>,
        c_out: usize,
        c_in: usize,
        k: usize,
    ) -> Option<Self> {
        assert_eq!(w.len(), c_out * c_in * k, "conv1d weight shape");
        Self::pack(
            isa,
            c_out,
            c_in,
            k,
            1,
            |c, ci, kk| w[(c * c_in + ci) * k + kk],
            |c| bias.map_or(0.0, |b| b[c]),
        )
    }

    /// Packs conv_transpose1d weights `(c_in, c_out, k)` (PyTorch layout)
    /// for `stride`; `None` when `isa` is not available here.
    ///
    /// Kernel channel `c = co * stride + r` computes output phase `r` of
    /// channel `co`: `y[co][p * s + r] = sum_{ci, j} w[ci][co][r + j * s] *
    /// x[ci][p - j]`, which reads the input at `p - (taps - 1) + kk` for
    /// kernel tap `kk = taps - 1 - j`.
    pub fn conv_transpose1d(
        isa: Isa,
        w: &[f32],
        bias: Option<&[f32]>,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
    ) -> Option<Self> {
        assert_eq!(w.len(), c_in * c_out * k, "conv_transpose1d weight shape");
        assert!(stride > 0, "stride 0");
        let taps = k.div_ceil(stride);
        Self::pack(
            isa,
            c_out * stride,
            c_in,
            taps,
            stride,
            |c, ci, kk| {
                let (co, r) = (c / stride, c % stride);
                let tap = r + (taps - 1 - kk) * stride;
                if tap < k {
                    w[(ci * c_out + co) * k + tap]
                } else {
                    0.0
                }
            },
            |c| bias.map_or(0.0, |b| b[c / stride]),
        )
    }

    fn pack(
        isa: Isa,
        ch: usize,
        c_in: usize,
        taps: usize,
        stride: usize,
        w: impl Fn(usize, usize, usize) -> f32,
        bias: impl Fn(usize) -> f32,
    ) -> Option<Self> {
        if !isa.available() {
            return None;
        }
        let (co, nv) = isa.blocking(ch);
        let padded = ch.div_ceil(co) * co;
        let mut wp = vec![0f32; padded * c_in * taps];
        for c in 0..ch {
            for ci in 0..c_in {
                for kk in 0..taps {
                    wp[((c / co * c_in + ci) * taps + kk) * co + c % co] = w(c, ci, kk);
                }
            }
        }
        let mut bp = vec![0f32; padded];
        for (c, b) in bp.iter_mut().enumerate().take(ch) {
            *b = bias(c);
        }
        Some(Self {
            isa,
            co,
            tw: isa.lanes() * nv,
            c_in,
            ch,
            taps,
            stride,
            w: wp,
            bias: bp,
        })
    }

    /// Input channels.
    pub fn c_in(&self) -> usize {
        self.c_in
    }

    /// Output channels of the layer.
    pub fn c_out(&self) -> usize {
        self.ch / self.stride
    }

    /// Runs one micro-tile of channel block `cb` on input rows `xp`.
    ///
    /// # Safety
    /// `xp` must point at `c_in` rows `row_len` apart, each readable for
    /// `tw + (taps - 1) * dil` values; `out` must satisfy [`Out`]'s
    /// contract.
    unsafe fn tile(&self, xp: *const f32, row_len: usize, dil: usize, cb: usize, out: Out) {
        let w = self.w.as_ptr().add(cb * self.c_in * self.taps * self.co);
        let (c_in, taps) = (self.c_in, self.taps);
        #[cfg(target_arch = "x86_64")]
        match (self.isa, self.co) {
            (Isa::Avx512, 8) => tile_for::avx512::<8, 3>(xp, row_len, c_in, taps, dil, w, out),
            (Isa::Avx512, 1) => tile_for::avx512::<1, 8>(xp, row_len, c_in, taps, dil, w, out),
            (Isa::Avx2, 4) => tile_for::avx2::<4, 2>(xp, row_len, c_in, taps, dil, w, out),
            (Isa::Avx2, 1) => tile_for::avx2::<1, 8>(xp, row_len, c_in, taps, dil, w, out),
            _ => unreachable!("blocking() only returns the sizes above"),
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (xp, row_len, dil, w, out, c_in, taps);
            unreachable!("no Isa is available off x86-64")
        }
    }
}

/// Where a micro-tile's `CO x TW` accumulators go.
///
/// With `y` null they are stored to `block` (`CO` rows of `TW`). Otherwise
/// rows `j < rows` of the tile, plus `bias[j]`, go to the output: with
/// `phases == 0` to `y + j * stride` (plus the residual at `res + j *
/// stride` when `res` is not null); with `phases == s`, sample `i` of
/// channel `j = co * s + r` goes to `y + co * stride + i * s + r`
/// (interleaved). Every pointed-to range must be valid for the whole tile.
#[derive(Clone, Copy)]
struct Out {
    y: *mut f32,
    res: *const f32,
    stride: usize,
    rows: usize,
    bias: *const f32,
    phases: usize,
    block: *mut f32,
}

/// The few vector operations the micro-kernel needs, over one ISA.
trait Simd {
    type V: Copy;
    const LANES: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn splat(p: *const f32) -> Self::V;
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Interleaves lanes: `(a0 b0 a1 b1 ..., second half of the same)`.
    unsafe fn zip(a: Self::V, b: Self::V) -> (Self::V, Self::V);
}

/// The micro-kernel, generic over the ISA; inlined into the
/// `#[target_feature]` entry points of [`x86`] so the intrinsics inline.
///
/// # Safety
/// As [`PackedConv::tile`], with `w` the tile's packed weights, and `S`'s
/// instructions available.
#[inline(always)]
unsafe fn tile<S: Simd, const CO: usize, const NV: usize>(
    xp: *const f32,
    row_len: usize,
    c_in: usize,
    taps: usize,
    dil: usize,
    w: *const f32,
    out: Out,
) {
    let mut acc = [[S::zero(); NV]; CO];
    for ci in 0..c_in {
        let row = xp.add(ci * row_len);
        let w_ci = w.add(ci * taps * CO);
        for kk in 0..taps {
            let base = row.add(kk * dil);
            let mut xv = [S::zero(); NV];
            for (v, x) in xv.iter_mut().enumerate() {
                *x = S::load(base.add(v * S::LANES));
            }
            let w_k = w_ci.add(kk * CO);
            for (j, acc) in acc.iter_mut().enumerate() {
                let wv = S::splat(w_k.add(j));
                for (a, &x) in acc.iter_mut().zip(&xv) {
                    *a = S::fmadd(wv, x, *a);
                }
            }
        }
    }
    if out.y.is_null() {
        for (j, acc) in acc.iter().enumerate() {
            for (v, &a) in acc.iter().enumerate() {
                S::store(out.block.add((j * NV + v) * S::LANES), a);
            }
        }
    } else if out.phases == 0 {
        for (j, acc) in acc.iter().enumerate().take(out.rows) {
            let b = S::splat(out.bias.add(j));
            let y = out.y.add(j * out.stride);
            for (v, &a) in acc.iter().enumerate() {
                let mut r = S::add(a, b);
                if !out.res.is_null() {
                    r = S::add(r, S::load(out.res.add(j * out.stride + v * S::LANES)));
                }
                S::store(y.add(v * S::LANES), r);
            }
        }
    } else {
        // `s` phase rows of one output channel become `s` vectors of
        // interleaved samples after log2(s) rounds of pairwise zips.
        let s = out.phases;
        let mut z = [S::zero(); CO];
        for co in 0..out.rows / s {
            let y = out.y.add(co * out.stride);
            #[allow(clippy::needless_range_loop)] // acc is [channel][v]
            for v in 0..NV {
                for (r, z) in z.iter_mut().enumerate().take(s) {
                    let j = co * s + r;
                    *z = S::add(acc[j][v], S::splat(out.bias.add(j)));
                }
                let mut round = 1;
                while round < s {
                    let mut next = [S::zero(); CO];
                    for j in 0..s / 2 {
                        (next[2 * j], next[2 * j + 1]) = S::zip(z[j], z[j + s / 2]);
                    }
                    z = next;
                    round *= 2;
                }
                for (m, &zv) in z.iter().enumerate().take(s) {
                    S::store(y.add((v * s + m) * S::LANES), zv);
                }
            }
        }
    }
}

/// Implements [`Simd`] for one instruction set from its intrinsics.
macro_rules! simd_ops {
    (
        $(#[$m:meta])* $isa:ident: $v:ty, lanes $lanes:literal,
        zero $zero:ident, load $load:ident, store $store:ident, fmadd $fmadd:ident,
        add $add:ident, splat |$p:ident| $splat:expr, zip |$a:ident, $b:ident| $zip:block
    ) => {
        $(#[$m])*
        pub struct $isa;

        impl Simd for $isa {
            type V = $v;
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn zero() -> $v {
                $zero()
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> $v {
                $load(p)
            }
            #[inline(always)]
            unsafe fn store(p: *mut f32, v: $v) {
                $store(p, v)
            }
            #[inline(always)]
            unsafe fn splat($p: *const f32) -> $v {
                $splat
            }
            #[inline(always)]
            unsafe fn fmadd(a: $v, b: $v, c: $v) -> $v {
                $fmadd(a, b, c)
            }
            #[inline(always)]
            unsafe fn add(a: $v, b: $v) -> $v {
                $add(a, b)
            }
            #[inline(always)]
            unsafe fn zip($a: $v, $b: $v) -> ($v, $v) $zip
        }
    };
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    simd_ops! {
        /// AVX-512F.
        Avx512: __m512, lanes 16,
        zero _mm512_setzero_ps, load _mm512_loadu_ps, store _mm512_storeu_ps,
        fmadd _mm512_fmadd_ps, add _mm512_add_ps,
        splat |p| _mm512_set1_ps(*p),
        zip |a, b| {
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            (
                _mm512_permutex2var_ps(a, lo, b),
                _mm512_permutex2var_ps(a, hi, b),
            )
        }
    }

    simd_ops! {
        /// AVX2 with FMA.
        Avx2: __m256, lanes 8,
        zero _mm256_setzero_ps, load _mm256_loadu_ps, store _mm256_storeu_ps,
        fmadd _mm256_fmadd_ps, add _mm256_add_ps,
        splat |p| _mm256_broadcast_ss(&*p),
        zip |a, b| {
            // unpack interleaves within 128-bit halves; the permutes put
            // the halves back in order
            let (l, h) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
            (
                _mm256_permute2f128_ps(l, h, 0x20),
                _mm256_permute2f128_ps(l, h, 0x31),
            )
        }
    }
}

/// Compiles one body for each instruction set: a module `$name` with
/// `avx512` and `avx2` functions, `#[target_feature]` entry points in which
/// `S` names the set's [`Simd`] type and the `#[inline(always)]` code the
/// body calls is compiled with the set's instructions.
macro_rules! per_isa {
    (
        $(#[$m:meta])*
        fn $name:ident $(<$(const $c:ident: usize),*>)? ($($arg:ident: $t:ty),* $(,)?) $body:block
    ) => {
        $(#[$m])*
        #[cfg(target_arch = "x86_64")]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            per_isa!(@entry "avx512f", "AVX-512F", avx512, x86::Avx512;
                $(<$(const $c: usize),*>)? ($($arg: $t),*) $body);
            per_isa!(@entry "avx2,fma", "AVX2 and FMA", avx2, x86::Avx2;
                $(<$(const $c: usize),*>)? ($($arg: $t),*) $body);
        }
    };
    (
        @entry $feature:literal, $needs:literal, $fn:ident, $simd:ty;
        $(<$(const $c:ident: usize),*>)? ($($arg:ident: $t:ty),*) $body:block
    ) => {
        #[doc = concat!("# Safety\n", $needs, " must be available, and the body's own contract hold.")]
        #[target_feature(enable = $feature)]
        pub unsafe fn $fn $(<$(const $c: usize),*>)? ($($arg: $t),*) {
            #[allow(dead_code)]
            type S = $simd;
            $body
        }
    };
}

per_isa! {
    /// The micro-kernel's entry points (see [`PackedConv::tile`]).
    fn tile_for<const CO: usize, const NV: usize>(
        xp: *const f32,
        row_len: usize,
        c_in: usize,
        taps: usize,
        dil: usize,
        w: *const f32,
        out: Out,
    ) {
        tile::<S, CO, NV>(xp, row_len, c_in, taps, dil, w, out)
    }
}

/// An output pointer shared by the parallel tasks, which write disjoint
/// parts of it.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: every use writes a (channel, time) range no other task touches.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// The pointer (a method, so that closures capture the `Sync` wrapper
    /// rather than its raw-pointer field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `buf[ci][i] = act(x[ci][start + i])` for `i < row_len`, zero where
/// `start + i` falls outside `x`'s rows of `t_in`.
#[inline(always)]
fn fill_rows_body(
    buf: &mut Vec<f32>,
    x: &[f32],
    c_in: usize,
    t_in: usize,
    start: isize,
    row_len: usize,
    slope: Option<f32>,
) {
    // only the padding is zeroed: the rest is overwritten below
    buf.resize(c_in * row_len, 0.0);
    let lo = (-start).clamp(0, row_len as isize) as usize;
    let hi = (t_in as isize - start).clamp(lo as isize, row_len as isize) as usize;
    let src0 = (start + lo as isize).max(0) as usize;
    for (ci, dst) in buf.chunks_exact_mut(row_len).enumerate() {
        dst[..lo].fill(0.0);
        dst[hi..].fill(0.0);
        if hi == lo {
            continue; // all padding (always so when t_in == 0)
        }
        let src = &x[ci * t_in + src0..ci * t_in + src0 + hi - lo];
        let dst = &mut dst[lo..hi];
        match slope {
            Some(s) => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &v)| *d = if v < 0.0 { v * s } else { v }),
            None => dst.copy_from_slice(src),
        }
    }
}

per_isa! {
    /// [`fill_rows_body`] compiled for each instruction set, so that the
    /// copy and the leaky ReLU run on its full vector width (the crate's
    /// baseline target is SSE2).
    fn fill_rows_for(
        buf: &mut Vec<f32>,
        x: &[f32],
        c_in: usize,
        t_in: usize,
        start: isize,
        row_len: usize,
        slope: Option<f32>,
    ) {
        fill_rows_body(buf, x, c_in, t_in, start, row_len, slope)
    }
}

/// [`fill_rows_body`] on `isa`'s vector width.
#[allow(clippy::too_many_arguments)]
fn fill_rows(
    isa: Isa,
    buf: &mut Vec<f32>,
    x: &[f32],
    c_in: usize,
    t_in: usize,
    start: isize,
    row_len: usize,
    slope: Option<f32>,
) {
    // SAFETY: a PackedConv of `isa` exists only where `isa` is available.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        match isa {
            Isa::Avx512 => fill_rows_for::avx512(buf, x, c_in, t_in, start, row_len, slope),
            Isa::Avx2 => fill_rows_for::avx2(buf, x, c_in, t_in, start, row_len, slope),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = isa;
        fill_rows_body(buf, x, c_in, t_in, start, row_len, slope)
    }
}

/// Runs `f` on this thread's scratch buffers (an input chunk and an output
/// block), kept between calls: per-task buffers were allocated and zeroed
/// anew for every task.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<f32>, &mut Vec<f32>) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            let (buf, block) = &mut *s;
            f(buf, block)
        }
        // not reached (tasks do not nest), but stay correct if they do
        Err(_) => f(&mut Vec::new(), &mut Vec::new()),
    })
}

/// Runs every micro-tile of `p` over kernel positions `q < n_q`, where tap
/// `kk` of position `q` reads input sample `q + x_off + kk * dil`.
/// `direct(cb, q0, rows)` says where a tile's result goes when it can be
/// written straight from registers; otherwise the tile is stored to a block
/// handed to `emit(cb, q0, block)`.
#[allow(clippy::too_many_arguments)]
fn run(
    p: &PackedConv,
    x: &[f32],
    t_in: usize,
    x_off: isize,
    dil: usize,
    n_q: usize,
    slope: Option<f32>,
    direct: &(dyn Fn(usize, usize, usize) -> Option<Out> + Sync),
    emit: &(dyn Fn(usize, usize, &[f32]) + Sync),
) {
    let tw = p.tw;
    let span = dil * (p.taps - 1);
    let n_tiles = n_q.div_ceil(tw);
    let mut n_chunks = n_tiles.div_ceil((CHUNK_BYTES / (p.c_in * 4 * tw)).max(1));
    let n_cb = p.ch.div_ceil(p.co);
    let cb_per_group = n_cb.div_ceil(MIN_TASKS.div_ceil(n_chunks).clamp(1, n_cb));
    let groups = n_cb.div_ceil(cb_per_group);
    if groups == 1 && n_chunks < 4 * rayon::current_num_threads() {
        // few equal tasks: make them a multiple of the thread count (9
        // chunks on 2 threads leave one thread idle for a ninth of the time)
        n_chunks = n_chunks
            .next_multiple_of(rayon::current_num_threads())
            .min(n_tiles);
    }
    (0..n_chunks * groups).into_par_iter().for_each(|task| {
        with_scratch(|buf, block| {
            block.resize(p.co * tw, 0.0);
            let (chunk, group) = (task / groups, task % groups);
            // chunk sizes differ by at most one tile
            let t0 = chunk * n_tiles / n_chunks;
            let t1 = (chunk + 1) * n_tiles / n_chunks;
            let q_start = t0 * tw;
            // every tile of the chunk reads up to tw - 1 + span past its start
            let row_len = (t1 - t0) * tw + span;
            fill_rows(
                p.isa,
                buf,
                x,
                p.c_in,
                t_in,
                q_start as isize + x_off,
                row_len,
                slope,
            );
            for cb in group * cb_per_group..((group + 1) * cb_per_group).min(n_cb) {
                let rows = p.co.min(p.ch - cb * p.co);
                for q0 in (t0..t1).map(|t| t * tw) {
                    let out = direct(cb, q0, rows).unwrap_or(Out {
                        y: std::ptr::null_mut(),
                        res: std::ptr::null(),
                        stride: 0,
                        rows,
                        bias: std::ptr::null(),
                        phases: 0,
                        block: block.as_mut_ptr(),
                    });
                    // SAFETY: `buf` holds c_in rows of row_len, and the tile
                    // at q0 - q_start reads below q0 - q_start + tw + span
                    // <= row_len; `block` holds co * tw values; `direct`
                    // only returns tiles inside the output (see callers).
                    unsafe {
                        p.tile(buf.as_ptr().add(q0 - q_start), row_len, dil, cb, out);
                    }
                    if out.y.is_null() {
                        emit(cb, q0, block);
                    }
                }
            }
        })
    });
}

/// Stride-1 conv1d of one batch item with weights from
/// [`PackedConv::conv1d`]: `y = conv(act(x)) + bias (+ residual)`, with
/// `act` the leaky ReLU of `slope` when given.
///
/// `x`: `(c_in, t_in)`; `residual` and `y`: `(c_out, t_out)` with `t_out =
/// t_in + 2 * padding - dilation * (k - 1)`. Every element of `y` is
/// written (it need not be initialized: zeroing a 8.5 MB output cost 5 %
/// of a synthesis).
#[allow(clippy::too_many_arguments)]
pub fn conv1d(
    p: &PackedConv,
    x: &[f32],
    residual: Option<&[f32]>,
    t_in: usize,
    padding: usize,
    dilation: usize,
    slope: Option<f32>,
    y: &mut [MaybeUninit<f32>],
) {
    assert_eq!(p.stride, 1, "weights packed for a transposed convolution");
    assert_eq!(x.len(), p.c_in * t_in, "input shape");
    let c_out = p.ch;
    let t_out = y.len() / c_out;
    assert_eq!(
        t_out,
        (t_in + 2 * padding).saturating_sub(dilation * (p.taps - 1)),
        "output length"
    );
    assert_eq!(y.len(), c_out * t_out, "output shape");
    if let Some(r) = residual {
        assert_eq!(r.len(), y.len(), "residual shape");
    }
    if t_out == 0 {
        return;
    }
    let (tw, co) = (p.tw, p.co);
    let yp = SharedOut(y.as_mut_ptr().cast::<f32>());
    run(
        p,
        x,
        t_in,
        -(padding as isize),
        dilation,
        t_out,
        slope,
        &|cb, q0, rows| {
            let off = cb * co * t_out + q0;
            // SAFETY (of the pointers): rows cb*co..cb*co+rows and samples
            // q0..q0+tw are inside y and residual, as q0 + tw <= t_out.
            (q0 + tw <= t_out).then(|| Out {
                y: unsafe { yp.get().add(off) },
                res: residual.map_or(std::ptr::null(), |r| r[off..].as_ptr()),
                stride: t_out,
                rows,
                bias: unsafe { p.bias.as_ptr().add(cb * co) },
                phases: 0,
                block: std::ptr::null_mut(),
            })
        },
        &|cb, q0, block| {
            let n = tw.min(t_out - q0);
            for j in 0..co.min(c_out - cb * co) {
                let c = cb * co + j;
                let b = p.bias[c];
                let r = residual.map(|r| &r[c * t_out + q0..c * t_out + q0 + n]);
                for (i, &v) in block[j * tw..j * tw + n].iter().enumerate() {
                    let v = v + b + r.map_or(0.0, |r| r[i]);
                    // SAFETY: in bounds; this tile is the only writer of
                    // (c, q0..q0 + n).
                    unsafe { yp.get().add(c * t_out + q0 + i).write(v) };
                }
            }
        },
    );
}

/// Transposed conv1d (dilation 1) of one batch item with weights from
/// [`PackedConv::conv_transpose1d`]: `y = conv_transpose(act(x)) + bias`.
///
/// `x`: `(c_in, t_in)`; `y`: `(c_out, t_out)` with `t_out = (t_in - 1) *
/// stride + k + output_padding - 2 * padding`, every element written.
pub fn conv_transpose1d(
    p: &PackedConv,
    x: &[f32],
    t_in: usize,
    padding: usize,
    slope: Option<f32>,
    y: &mut [MaybeUninit<f32>],
) {
    assert_eq!(x.len(), p.c_in * t_in, "input shape");
    let (s, c_out) = (p.stride, p.c_out());
    let t_out = y.len() / c_out;
    assert_eq!(y.len(), c_out * t_out, "output shape");
    if t_out == 0 {
        return;
    }
    // Output sample o is phase r = (o + padding) % s of frame p = (o +
    // padding) / s; the frames that reach [0, t_out) are p0..p0 + n_p.
    let p0 = padding / s;
    let n_p = (t_out - 1 + padding) / s + 1 - p0;
    let (tw, co) = (p.tw, p.co);
    let yp = SharedOut(y.as_mut_ptr().cast::<f32>());
    // the register interleave needs whole output channels per block
    let interleave = s > 1 && s.is_power_of_two() && co % s == 0;
    run(
        p,
        x,
        t_in,
        p0 as isize - (p.taps as isize - 1),
        1,
        n_p,
        slope,
        &|cb, q0, rows| {
            let o0 = ((p0 + q0) * s) as isize - padding as isize;
            // SAFETY (of the pointer): channels cb*co/s.. of the block and
            // samples o0..o0 + tw*s are inside y.
            (interleave && o0 >= 0 && o0 as usize + tw * s <= t_out).then(|| Out {
                y: unsafe { yp.get().add(cb * co / s * t_out + o0 as usize) },
                res: std::ptr::null(),
                stride: t_out,
                rows,
                bias: unsafe { p.bias.as_ptr().add(cb * co) },
                phases: s,
                block: std::ptr::null_mut(),
            })
        },
        &|cb, q0, block| {
            let n = tw.min(n_p - q0);
            for j in 0..co.min(p.ch - cb * co) {
                let c = cb * co + j;
                let (o_c, r) = (c / s, c % s);
                let b = p.bias[c];
                // sample i goes to o = base + i * s; the bounds on i keep
                // 0 <= o < t_out, so the loop has no branch (the layout
                // of all tiles where s does not divide the channel block,
                // e.g. stride 8 with AVX2)
                let base = ((p0 + q0) * s + r) as isize - padding as isize;
                let lo = ((-base).max(0) as usize).div_ceil(s);
                let hi = ((t_out as isize - base).max(0) as usize).div_ceil(s);
                let row = o_c * t_out;
                for i in lo.min(n)..hi.min(n) {
                    let o = (base + (i * s) as isize) as usize;
                    // SAFETY: o < t_out by the bounds above; each output
                    // sample has exactly one (frame, phase), computed by
                    // this tile only.
                    unsafe { yp.get().add(row + o).write(block[j * tw + i] + b) };
                }
            }
        },
    );
}

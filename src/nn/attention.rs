//! Scaled dot-product attention, fused on the CPU, with an optional length
//! per batch item (a batch of sequences padded to one length).
//!
//! Done with tensor ops, attention materializes the `(B, H, N, N)` scores,
//! a copy of them for the softmax and the transposed output: tens of MB per
//! block that the allocator must fault in and zero at every flow step. Here
//! each task takes a block of query rows of one head, computes its scores
//! into a small buffer that stays in cache (`gemm`), turns them into softmax
//! numerators in place ([`super::activation::softmax_numerators`]) and
//! multiplies by `V`, then divides each row by its softmax sum. The heads
//! are read and written in the `(B, N, H * D)` layout of the projections
//! (with strides), so nothing is transposed. The same arithmetic as the
//! unfused ops up to rounding, in f32.
//!
//! With lengths, item `i` attends to its first `len[i]` keys only, and its
//! query rows past `len[i]` come out as zeros: each item computes exactly
//! what it would alone, unpadded (the fused kernel then runs the same
//! products over the same keys).

use candle_core::{DType, Device, Result, Storage, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use super::activation::softmax_numerators;

/// Target size of one task's score block, in f32 values (512 KiB): it
/// stays in L2 while it is normalized and multiplied by `V`.
const SCORE_BLOCK_VALUES: usize = 128 * 1024;

/// Query rows per task for sequences of `n` positions: as many as fit the
/// score block, at most 128 (more rows share the packing of `K` and `V`),
/// at least 16.
fn block_rows(n: usize) -> usize {
    (SCORE_BLOCK_VALUES / n.max(1)).clamp(16, 128)
}

/// `softmax(q k^T) v` per head for `q`, `k`, `v` `(B, N, H * D)` as the
/// projections write them (the scale already applied to `q`), returned in
/// the same layout: the heads concatenated per position. Fused on the CPU
/// for f32 (no transposes), tensor ops elsewhere.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, heads: usize) -> Result<Tensor> {
    attention_with_lengths(q, k, v, heads, None)
}

/// [`attention`] over a padded batch: item `i` attends to its first
/// `lengths[i]` positions (`1..=N`), and its rows past them are zeros.
/// `None` is every item whole.
pub fn attention_with_lengths(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    lengths: Option<&[usize]>,
) -> Result<Tensor> {
    let (b, n, hd) = q.dims3()?;
    if k.dims() != q.dims() || v.dims() != q.dims() || heads == 0 || hd % heads != 0 {
        candle_core::bail!(
            "attention: q {:?}, k {:?} and v {:?} differ or do not split into {heads} heads",
            q.dims(),
            k.dims(),
            v.dims()
        );
    }
    if let Some(lens) = lengths {
        if lens.len() != b || lens.iter().any(|&l| l == 0 || l > n) {
            candle_core::bail!("attention: lengths {lens:?} do not fit a batch of {b} x {n}");
        }
    }
    // all items whole: no mask
    let lengths = lengths.filter(|l| l.iter().any(|&l| l < n));
    let d = hd / heads;
    let fusable = [q, k, v]
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    if !fusable {
        // (B, N, H * D) -> (B, H, N, D) and back
        let split = |t: &Tensor| t.reshape((b, n, heads, d))?.transpose(1, 2)?.contiguous();
        let mut scores = split(q)?.matmul(&split(k)?.t()?)?;
        if let Some(lens) = lengths {
            let bias = key_bias(lens, n, q.device())?.to_dtype(scores.dtype())?;
            scores = scores.broadcast_add(&bias)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs
            .matmul(&split(v)?)?
            .transpose(1, 2)?
            .reshape((b, n, hd))?;
        return match lengths {
            Some(lens) => out.broadcast_mul(&row_mask(lens, n, q.device())?.to_dtype(out.dtype())?),
            None => Ok(out),
        };
    }
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let (qs, ql) = q.storage_and_layout();
    let (ks, kl) = k.storage_and_layout();
    let (vs, vl) = v.storage_and_layout();
    let (Storage::Cpu(qs), Storage::Cpu(ks), Storage::Cpu(vs)) = (&*qs, &*ks, &*vs) else {
        candle_core::bail!("attention: expected CPU storage")
    };
    // the guards above keep the storages alive (and unmoved) until we return
    let part = |s: &candle_core::CpuStorage, l: &candle_core::Layout| -> Result<Shared> {
        let (start, _) = l
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("attention: operand not contiguous".into()))?;
        Ok(Shared(s.as_slice::<f32>()?[start..].as_ptr() as *mut f32))
    };
    let out = fused_cpu(
        part(qs, ql)?,
        part(ks, kl)?,
        part(vs, vl)?,
        (b, heads, n, d),
        lengths,
    );
    Tensor::from_vec(out, (b, n, hd), &Device::Cpu)
}

/// `(B, 1, 1, N)` f32: 0 on the keys within each item's length, -inf past
/// it (added to `(B, H, N, N)` scores before the softmax).
pub fn key_bias(lengths: &[usize], n: usize, device: &Device) -> Result<Tensor> {
    let bias: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..n).map(move |j| if j < l { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Tensor::from_vec(bias, (lengths.len(), 1, 1, n), device)
}

/// `(B, N, 1)` f32: 1 at the positions within each item's length, 0 past it.
pub fn row_mask(lengths: &[usize], n: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..n).map(move |j| if j < l { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (lengths.len(), n, 1), device)
}

/// A pointer handed to the parallel tasks, which touch disjoint parts of
/// the output and only read the inputs.
#[derive(Clone, Copy)]
struct Shared(*mut f32);

impl Shared {
    /// The pointer (a method, so closures capture the `Send` wrapper and not
    /// the raw field).
    fn at(self, offset: usize) -> *mut f32 {
        // SAFETY (of the callers): offsets stay within the buffer
        self.0.wrapping_add(offset)
    }
}
// SAFETY: see the tasks in `fused_cpu`: reads of immutable inputs, writes to
// disjoint output regions, all within the caller's lifetime.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// The fused kernel on contiguous `(B, N, H * D)` data, `dims` = `(B, H,
/// N, D)`: row `r` of head `hi` of batch item `bi` starts at
/// `(bi * N + r) * H * D + hi * D`, so a head's rows are `H * D` apart.
/// Item `bi` uses its first `lengths[bi]` rows and keys (all `N` without
/// lengths), in blocks sized for that length as it would be alone.
fn fused_cpu(
    q: Shared,
    k: Shared,
    v: Shared,
    (b, h, n, d): (usize, usize, usize, usize),
    lengths: Option<&[usize]>,
) -> Vec<f32> {
    let stride = h * d;
    let mut out = vec![0f32; b * n * h * d];
    if n == 0 || d == 0 {
        return out;
    }
    let o = Shared(out.as_mut_ptr());
    let padded = n;
    let len = |bi: usize| lengths.map_or(n, |l| l[bi]);
    // the tasks of the longest item; shorter items leave the extra ones idle
    let blocks = (0..b)
        .map(|bi| len(bi).div_ceil(block_rows(len(bi))))
        .max()
        .unwrap_or(0);
    (0..b * h * blocks).into_par_iter().for_each_init(
        Buffers::default,
        |Buffers { scores, sums }, task| {
            let (bh, blk) = (task / blocks, task % blocks);
            let (bi, hi) = (bh / h, bh % h);
            let n = len(bi); // this item's rows and keys
            let block = block_rows(n);
            let r0 = blk * block;
            if r0 >= n {
                return;
            }
            let rows = block.min(n - r0);
            scores.resize(rows * n, 0.0);
            let head = bi * padded * stride + hi * d;
            // SAFETY: q, k, v hold b * h * n * d contiguous elements in the
            // layout above and outlive the call; this task reads rows
            // r0..r0 + rows of q's head and all of k's and v's, and writes
            // rows r0..r0 + rows of head hi in out, which no other task
            // writes (nor reads).
            unsafe {
                // scores = q[r0..] k^T: (rows, d) x (d, n), k read transposed
                matmul(
                    (rows, n, d),
                    (scores.as_mut_ptr(), n),
                    (q.at(head + r0 * stride), stride),
                    (k.at(head), 1, stride),
                );
                // numerators only: the rows of the product are divided by
                // the sums instead (d values per row rather than n)
                sums.clear();
                sums.extend(scores.chunks_exact_mut(n).map(softmax_numerators));
                // out[bi, r0.., hi, :] = scores v / sums: (rows, n) x (n, d)
                matmul(
                    (rows, d, n),
                    (o.at(head + r0 * stride), stride),
                    (scores.as_ptr(), n),
                    (v.at(head), stride, 1),
                );
                for (r, &sum) in sums.iter().enumerate() {
                    let row = o.at(head + (r0 + r) * stride);
                    let inv = 1.0 / sum;
                    std::slice::from_raw_parts_mut(row, d)
                        .iter_mut()
                        .for_each(|v| *v *= inv);
                }
            }
        },
    );
    out
}

/// `dst = lhs rhs` for `(m, n, k)`, single-threaded: `dst` `(m, n)` and
/// `lhs` `(m, k)` row-major with the given row strides, `rhs` `(k, n)` with
/// the given `(row, column)` strides.
///
/// # Safety
/// The pointers must cover the elements the shapes and strides address;
/// `dst` must not overlap the operands.
unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (*mut f32, usize),
    (lhs, lhs_rs): (*const f32, usize),
    (rhs, rhs_rs, rhs_cs): (*const f32, usize, usize),
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        false,
        lhs,
        1,
        lhs_rs as isize,
        rhs,
        rhs_cs as isize,
        rhs_rs as isize,
        0.0,
        1.0,
        false,
        false,
        false,
        Parallelism::None,
    );
}

/// A task's scratch space, reused across the tasks of a thread.
#[derive(Default)]
struct Buffers {
    /// Scores, then softmax numerators, of a block of query rows.
    scores: Vec<f32>,
    /// The softmax denominators of those rows.
    sums: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::max_abs_diff as max_diff;

    /// The tensor-op formulation, heads split off and merged back.
    fn unfused(q: &Tensor, k: &Tensor, v: &Tensor, h: usize) -> Tensor {
        let (b, n, hd) = q.dims3().unwrap();
        let split = |t: &Tensor| {
            t.reshape((b, n, h, hd / h))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let scores = split(q).matmul(&split(k).t().unwrap()).unwrap();
        let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        probs
            .matmul(&split(v))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b, n, hd))
            .unwrap()
    }

    #[test]
    fn fused_matches_the_tensor_ops() {
        // one block, several with a partial last one (128 rows per block at
        // 150 and 300, 119 at 1100), a head dim not a multiple of 16
        for (b, h, n, d) in [
            (2, 3, 1, 8),
            (2, 4, 33, 64),
            (2, 3, 150, 16),
            (1, 2, 300, 64),
            (1, 1, 1100, 24),
        ] {
            let dev = Device::Cpu;
            let t = || Tensor::randn(0f32, 1.0, (b, n, h * d), &dev).unwrap();
            let (q, k, v) = (t(), t(), t());
            let ours = attention(&q, &k, &v, h).unwrap();
            let want = unfused(&q, &k, &v, h);
            assert_eq!(ours.dims(), [b, n, h * d]);
            let diff = max_diff(&ours, &want);
            assert!(diff < 1e-5, "{b}x{h}x{n}x{d}: max diff {diff}");
        }
    }

    #[test]
    fn strided_inputs_are_read_in_logical_order() {
        let dev = Device::Cpu;
        // (B, H * D, N) transposed to (B, N, H * D): not contiguous
        let strided = || {
            Tensor::randn(0f32, 1.0, (1, 16, 5), &dev)
                .unwrap()
                .transpose(1, 2)
                .unwrap()
        };
        let (q, k, v) = (strided(), strided(), strided());
        let ours = attention(&q, &k, &v, 2).unwrap();
        let want = unfused(
            &q.contiguous().unwrap(),
            &k.contiguous().unwrap(),
            &v.contiguous().unwrap(),
            2,
        );
        let diff = max_diff(&ours, &want);
        assert!(diff < 1e-5, "max diff {diff}");
    }

    /// A padded batch with lengths equals each item alone, unpadded, on the
    /// fused kernel and on the tensor path (f64 takes the latter), and its
    /// rows past the lengths are zeros.
    #[test]
    fn lengths_give_each_item_its_unpadded_attention() {
        let dev = Device::Cpu;
        let (h, d, n) = (3, 16, 300);
        let lens = [300, 7, 129, 256];
        let b = lens.len();
        for dtype in [DType::F32, DType::F64] {
            let t = || {
                Tensor::randn(0f32, 1.0, (b, n, h * d), &dev)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap()
            };
            let (q, k, v) = (t(), t(), t());
            let ours = attention_with_lengths(&q, &k, &v, h, Some(&lens)).unwrap();
            for (i, &l) in lens.iter().enumerate() {
                let item = |t: &Tensor| t.narrow(0, i, 1).unwrap().narrow(1, 0, l).unwrap();
                let alone = attention(&item(&q), &item(&k), &item(&v), h).unwrap();
                let diff = max_diff(
                    &item(&ours).to_dtype(DType::F32).unwrap(),
                    &alone.to_dtype(DType::F32).unwrap(),
                );
                assert!(
                    diff < 1e-6,
                    "{dtype:?} item {i} (length {l}): max diff {diff}"
                );
                if l < n {
                    let rest = ours.narrow(0, i, 1).unwrap().narrow(1, l, n - l).unwrap();
                    let rest = rest.abs().unwrap().to_dtype(DType::F32).unwrap();
                    assert_eq!(rest.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
                }
            }
        }
        let q = Tensor::zeros((2, 4, 8), DType::F32, &dev).unwrap();
        for bad in [&[4usize][..], &[4, 0], &[4, 5]] {
            assert!(attention_with_lengths(&q, &q, &q, 2, Some(bad)).is_err());
        }
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let dev = Device::Cpu;
        let q = Tensor::zeros((1, 4, 16), DType::F32, &dev).unwrap();
        let k = Tensor::zeros((1, 5, 16), DType::F32, &dev).unwrap();
        assert!(attention(&q, &k, &q, 2).is_err());
        // 16 channels do not split into 5 heads
        assert!(attention(&q, &q, &q, 5).is_err());
    }
}

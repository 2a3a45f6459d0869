//! Fused attention on CUDA (`src/nn/cuda/attention.cu`): the scores stay on
//! chip instead of going through memory as `(B, H, N, N)` tensors, which is
//! most of an F5 flow step on a GPU with the tensor ops. f32 in and out,
//! head width 64, a length per batch item as [`super::attention`] takes.
//!
//! On by default on CUDA since it passed the parity check on an H200 (f32
//! and bf16 within the tensor path's tolerances, attention 3.3 times faster;
//! `docs/benchmarks.md`). `ISHOWTTS_CUDA_ATTENTION=tensor` turns it off (the
//! tensor ops instead), for comparison or should a GPU misbehave;
//! `scripts/gpu_check.sh` checks parity both ways.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

/// Whether the kernel is in use: unless `ISHOWTTS_CUDA_ATTENTION=tensor`
/// (read once).
pub fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("ISHOWTTS_CUDA_ATTENTION").as_deref() != Ok("tensor"))
}

/// `softmax(q k^T) v` for `q` (scaled), `k`, `v` `(B, H, N, 64)` f32 on a
/// CUDA device, item `i` over its first `lengths[i]` positions (rows past
/// them zeros); `None` where the kernel does not apply (another device,
/// dtype or head width, a build without `cuda`, or not [`enabled`]), for
/// the caller's tensor path.
pub fn fused_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    lengths: Option<&[usize]>,
) -> Result<Option<Tensor>> {
    let applies = cfg!(feature = "cuda")
        && q.device().is_cuda()
        && [q, k, v]
            .iter()
            .all(|t| t.dtype() == candle_core::DType::F32 && t.rank() == 4)
        && q.dims() == k.dims()
        && q.dims() == v.dims()
        && q.dim(3)? == 64
        && enabled();
    if !applies {
        return Ok(None);
    }
    let (b, _, n, _) = q.dims4()?;
    let lengths = match lengths {
        Some(l) if l.len() != b || l.iter().any(|&l| l == 0 || l > n) => {
            candle_core::bail!("fused attention: lengths {l:?} do not fit {b} x {n}")
        }
        Some(l) => l.iter().map(|&l| l as u32).collect(),
        None => vec![n as u32; b],
    };
    let op = FusedAttention { lengths };
    Ok(Some(q.contiguous()?.apply_op3_no_bwd(
        &k.contiguous()?,
        &v.contiguous()?,
        &op,
    )?))
}

struct FusedAttention {
    /// Read by the CUDA kernel only.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    lengths: Vec<u32>,
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "fused-attention-f32"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("fused-attention-f32 runs on CUDA only (the CPU has its own kernel)")
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        qs: &candle_core::CudaStorage,
        ql: &Layout,
        ks: &candle_core::CudaStorage,
        kl: &Layout,
        vs: &candle_core::CudaStorage,
        vl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
        use candle_core::cuda_backend::WrapErr;

        const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/attention.ptx"));
        let dev = qs.device();
        let (b, h, n, d) = ql.shape().dims4()?;
        fn view<'a>(
            s: &'a candle_core::CudaStorage,
            l: &Layout,
        ) -> Result<candle_core::cuda_backend::cudarc::driver::CudaView<'a, f32>> {
            let (start, _) = l
                .contiguous_offsets()
                .ok_or_else(|| candle_core::Error::Msg("fused attention: not contiguous".into()))?;
            Ok(s.as_cuda_slice::<f32>()?.slice(start..))
        }
        let (q, k, v) = (view(qs, ql)?, view(ks, kl)?, view(vs, vl)?);
        // SAFETY: every element is written by the kernel.
        let out = unsafe { dev.alloc::<f32>(b * h * n * d) }?;
        // SAFETY: written by the copy below before any read.
        let mut lengths = unsafe { dev.alloc::<u32>(b) }?;
        dev.memcpy_htod(self.lengths.as_slice(), &mut lengths)?;
        let func =
            dev.get_or_load_custom_func("ishowtts_attention_f32_d64", "ishowtts_attention", PTX)?;
        let cfg = LaunchConfig {
            grid_dim: (n.div_ceil(64) as u32, (b * h) as u32, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        let (heads, n_i32) = (h as i32, n as i32);
        let mut launch = func.builder();
        launch.arg(&q);
        launch.arg(&k);
        launch.arg(&v);
        launch.arg(&out);
        launch.arg(&lengths);
        launch.arg(&heads);
        launch.arg(&n_i32);
        // SAFETY: the arguments match the kernel's signature; q, k, v and out
        // hold B * H * N * 64 f32 each, lengths B values in 1..=N.
        unsafe { launch.launch(cfg) }.w()?;
        Ok((
            candle_core::CudaStorage::wrap_cuda_slice(out, dev.clone()),
            Shape::from((b, h, n, d)),
        ))
    }
}

//! Helpers shared by the benchmark examples.
#![allow(dead_code)]

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};

/// The median of `v` (the upper one of an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// The `p`-th percentile of `v` by nearest rank (`p` in `(0, 100]`): the
/// smallest value with at least `p` % of the values at or below it.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// CPU time of this process (all its threads, user + system), seconds;
/// steadier than wall time on a machine with other work. Read from
/// `/proc/self/stat` in clock ticks (100 a second on Linux).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name, which may hold spaces: state is the
    // 3rd field, utime the 14th, stime the 15th
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: f64 = rest.next()?.parse().ok()?;
    let stime: f64 = rest.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// `VmHWM` of this process, MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `--device cpu` or `cuda` (GPU 0).
pub fn device(name: &str) -> Result<Device> {
    Ok(match name {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0).context(if cfg!(feature = "cuda") {
            "--device cuda: no usable CUDA device (driver, GPU and the CUDA 13 \
             libraries must be found at run time; see docs/benchmarks.md)"
        } else {
            "--device cuda: build the example with `--features cuda`"
        })?,
        d => bail!("--device {d}: use cpu or cuda"),
    })
}

/// `--dtype f32`, `bf16` or `f16`.
pub fn dtype(name: &str) -> Result<DType> {
    Ok(match name {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        "f16" => DType::F16,
        d => bail!("--dtype {d}: use f32, bf16 or f16"),
    })
}

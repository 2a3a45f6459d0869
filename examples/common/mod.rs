//! Helpers shared by the benchmark examples.
#![allow(dead_code)]

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use ishowtts::models::synthetic::Manifest;

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

/// A 16-bit mono WAV of `seconds` of a voiced-like tone at 24 kHz.
pub fn reference_wav(seconds: f32) -> Vec<u8> {
    let rate = 24_000;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).expect("in-memory WAV");
    for i in 0..(seconds * rate as f32) as usize {
        let t = i as f32 / rate as f32;
        let env = (std::f32::consts::PI * 4.0 * t).sin().abs();
        let v: f32 = (1..6)
            .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
            .sum();
        w.write_sample((0.2 * env * v * i16::MAX as f32) as i16)
            .expect("in-memory WAV");
    }
    w.finalize().expect("in-memory WAV");
    cursor.into_inner()
}

/// Writes the synthetic F5 checkpoint and vocoder (upstream layouts) of
/// `shape` (`tiny` or `full`, from the parity `fixtures`) into `scratch`
/// unless already there; returns the paths.
pub fn f5_paths(shape: &str, fixtures: &Path, scratch: &Path) -> Result<F5Paths> {
    let (shape_dir, vocos_dir) = match shape {
        "full" => ("full_v1", "vocos_full"),
        "tiny" => ("tiny_v1", "vocos_tiny"),
        s => bail!("--f5-shape full or tiny, not {s}"),
    };
    let fx = fixtures;
    let dir = scratch.join(format!("f5_{shape}"));
    let ckpt = dir.join("checkpoint");
    let vocoder = dir.join("vocos");
    let weights = ckpt.join("model_0.safetensors");
    let vocab = fx.join("tiny_v1/F5TTS_tiny/vocab.txt");
    if !weights.exists() {
        std::fs::create_dir_all(&ckpt)?;
        std::fs::create_dir_all(&vocoder)?;
        let t = Instant::now();
        if shape == "tiny" {
            std::fs::copy(
                fx.join("tiny_v1/F5TTS_tiny/model_1250000.safetensors"),
                ckpt.join("model_0.safetensors.part"),
            )?;
        } else {
            let m = Manifest::from_file(fx.join(shape_dir).join("manifest.json"))?;
            candle_core::safetensors::save(
                &m.tensors(&candle_core::Device::Cpu)?,
                ckpt.join("model_0.safetensors.part"),
            )?;
        }
        let m = Manifest::from_file(fx.join(vocos_dir).join("manifest.json"))?;
        candle_core::safetensors::save(
            &m.tensors(&candle_core::Device::Cpu)?,
            vocoder.join("model.safetensors"),
        )?;
        std::fs::copy(
            fx.join(vocos_dir).join("config.yaml"),
            vocoder.join("config.yaml"),
        )?;
        std::fs::copy(&vocab, ckpt.join("vocab.txt"))?;
        // last, so an interrupted write is redone
        std::fs::rename(ckpt.join("model_0.safetensors.part"), &weights)?;
        eprintln!(
            "wrote the synthetic checkpoint to {} in {:.1} s",
            dir.display(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(F5Paths {
        checkpoint: Some(ckpt),
        variant: Variant::V1Base,
        config: Some(fx.join(shape_dir).join("config.json")),
        vocoder: Some(vocoder),
    })
}

//! The model code on another device and dtype against the CPU in f32, on
//! the committed parity fixtures (`tests/fixtures/f5`): what
//! `scripts/gpu_check.sh` runs on a GPU machine.
//!
//! For each model, the same inputs go through the CPU in f32 (the path the
//! parity tests hold to PyTorch within 1e-4) and through `--device` in each
//! `--dtype`; the report gives the relative error `max|a - b| / max|b|` of
//! the device's output against the CPU's and against PyTorch's recorded
//! output, with the tolerance it is held to:
//!
//! | dtype | one network evaluation | a whole sampled mel / decoded audio |
//! |-------|------------------------|-------------------------------------|
//! | f32   | 1e-4                   | 1e-3                                |
//! | bf16  | 5e-2                   | 1e-1                                |
//! | f16   | 1e-2                   | 5e-2                                |
//!
//! (f32 on the GPU differs from the CPU only by summation order; a sampled
//! mel integrates 16 to 32 network evaluations, so its error is looser. Half
//! precision keeps 8 (bf16) or 11 (f16) mantissa bits.)
//!
//! Checked: F5-TTS at the tiny shape (loaded from its upstream-layout
//! checkpoint) and at the real v1 Base shape (synthetic weights from the
//! manifest): one conditional network evaluation and a whole sample with
//! the recorded noise; Vocos at the real shape (f32; the engine keeps the
//! vocoder in f32 on every device). Exits non-zero when any figure is over
//! its tolerance.
//!
//! ```text
//! cargo run --release --features cuda --example gpu_parity -- --device cuda --dtype f32,bf16
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;
use ishowtts::models::f5::{Checkpoint, F5Config, F5Model, SamplerOptions};
use ishowtts::models::synthetic::Manifest;
use ishowtts::models::vocos::{Vocos, VocosConfig};

#[derive(Parser, Debug)]
#[command(about = "Model outputs on a device and dtype against the CPU in f32")]
struct Args {
    /// Device under test: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cuda")]
    device: String,
    /// Comma-separated dtypes to run on the device (f32, bf16, f16).
    #[arg(long, default_value = "f32,bf16")]
    dtype: String,
    /// Skip the real-shape F5 (1.3 GB of f32 weights, slow on a CPU).
    #[arg(long)]
    no_full: bool,
    /// The fixtures folder.
    #[arg(long, default_value = "tests/fixtures/f5")]
    fixtures: PathBuf,
}

fn device(spec: &str) -> Result<Device> {
    Ok(match spec {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0)?,
        s if s.starts_with("cuda:") => Device::new_cuda(s[5..].parse()?)?,
        s => bail!("unknown device {s} (cpu, cuda or cuda:N)"),
    })
}

fn dtype(s: &str) -> Result<DType> {
    Ok(match s {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        "f16" => DType::F16,
        s => bail!("unknown dtype {s} (f32, bf16, f16)"),
    })
}

/// Tolerances of one network evaluation and of a whole output.
fn tolerances(dtype: DType) -> (f32, f32) {
    match dtype {
        DType::BF16 => (5e-2, 1e-1),
        DType::F16 => (1e-2, 5e-2),
        _ => (1e-4, 1e-3),
    }
}

/// `max|got - want| / max|want|`, on the CPU in f32.
fn rel_err(got: &Tensor, want: &Tensor) -> Result<f32> {
    if got.dims() != want.dims() {
        bail!("shape {:?} against {:?}", got.dims(), want.dims());
    }
    let got = got.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let want = want.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let diff = (&got - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
    let scale = want.abs()?.max_all()?.to_scalar::<f32>()?;
    Ok(diff / scale.max(1e-6))
}

/// Collects the figures and whether each is within its tolerance.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
}

impl Report {
    fn row(
        &mut self,
        label: &str,
        got: &Tensor,
        cpu: &Tensor,
        torch: &Tensor,
        tol: f32,
    ) -> Result<()> {
        let vs_cpu = rel_err(got, cpu)?;
        let vs_torch = rel_err(got, torch)?;
        let ok = vs_cpu <= tol && vs_cpu.is_finite();
        println!(
            "{label:<44} vs CPU {vs_cpu:.2e}  vs PyTorch {vs_torch:.2e}  tolerance {tol:.0e}  {}",
            if ok { "ok" } else { "OVER" }
        );
        if !ok {
            self.failures
                .push(format!("{label}: {vs_cpu:.3e} > {tol:e}"));
        }
        Ok(())
    }
}

struct Io(HashMap<String, Tensor>);

impl Io {
    fn load(path: &Path) -> Result<Self> {
        Ok(Self(
            candle_core::safetensors::load(path, &Device::Cpu)
                .with_context(|| format!("reading {}", path.display()))?,
        ))
    }

    fn get(&self, name: &str) -> Result<&Tensor> {
        self.0
            .get(name)
            .with_context(|| format!("no {name} in the fixture"))
    }

    fn scalar(&self, name: &str) -> Result<f64> {
        Ok(self
            .get(name)?
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?[0])
    }
}

/// One conditional network evaluation and a whole sample of an F5 model.
fn f5_outputs(model: &F5Model, io: &Io) -> Result<(Tensor, Tensor)> {
    let dev = model.dit().device().clone();
    let on = |name: &str| -> Result<Tensor> { Ok(io.get(name)?.to_device(&dev)?) };
    let dtype = model.dit().dtype();
    let out = model.dit().forward(
        &on("dit.x")?.to_dtype(dtype)?,
        &on("dit.cond")?.to_dtype(dtype)?,
        &on("text.ids")?,
        &on("dit.t")?,
        false,
        false,
    )?;
    let opts = SamplerOptions {
        nfe_step: io.scalar("sample.steps")? as usize,
        cfg_strength: io.scalar("sample.cfg")?,
        sway_sampling_coef: io.scalar("sample.sway")?,
        initial_noise: Some(io.get("sample.noise")?.clone()),
        ..Default::default()
    };
    let mel = model.sample_ids(
        io.get("sample.cond")?,
        io.get("sample.ids")?,
        io.scalar("sample.duration")? as usize,
        &opts,
        &|| false,
    )?;
    Ok((out, mel))
}

fn check_f5(
    report: &mut Report,
    name: &str,
    io: &Io,
    load: &dyn Fn(&Device, DType) -> Result<F5Model>,
    dev: &Device,
    dtypes: &[DType],
) -> Result<()> {
    let t = Instant::now();
    let (cpu_out, cpu_mel) = f5_outputs(&load(&Device::Cpu, DType::F32)?, io)?;
    println!(
        "{name}: CPU f32 reference in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for &dt in dtypes {
        let (tol_net, tol_out) = tolerances(dt);
        let t = Instant::now();
        let model = load(dev, dt)?;
        let (out, mel) = f5_outputs(&model, io)?;
        let label = format!("{name} {dt:?}");
        report.row(
            &format!("{label} dit.out_cond"),
            &out,
            &cpu_out,
            io.get("dit.out_cond")?,
            tol_net,
        )?;
        report.row(
            &format!("{label} sample.out"),
            &mel,
            &cpu_mel,
            io.get("sample.out")?,
            tol_out,
        )?;
        println!("{label}: {:.1} s with load", t.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Three flows (the fixture's reference and text cut to different lengths,
/// 2 to 4 steps, guidance on and off) stepped as one batch, each against
/// its own flow alone on the same device.
fn batched_vs_alone(report: &mut Report, model: &F5Model, io: &Io, dt: DType) -> Result<()> {
    let cond = io.get("sample.cond")?;
    let ids = io.get("sample.ids")?;
    let (ref_frames, n_ids) = (cond.dim(1)?, ids.dim(1)?);
    let duration = io.scalar("sample.duration")? as usize;
    let cases = [
        (ref_frames, n_ids, duration, 2, 2.0),
        (ref_frames * 2 / 3, n_ids / 2, duration * 2 / 3, 4, 0.0),
        (ref_frames / 2, n_ids * 3 / 4, duration / 2, 3, 1.5),
    ];
    let start = |&(r, t, f, nfe, cfg): &(usize, usize, usize, usize, f64)| {
        let opts = SamplerOptions {
            nfe_step: nfe,
            cfg_strength: cfg,
            seed: Some(f as u64),
            ..Default::default()
        };
        model.start(&cond.narrow(1, 0, r)?, &ids.narrow(1, 0, t)?, f, &opts)
    };
    let mut alone = Vec::new();
    for c in &cases {
        let mut f = start(c)?;
        while !f.is_done() {
            model.step(&mut [&mut f])?;
        }
        alone.push(f.finish()?);
    }
    let mut flows = cases
        .iter()
        .map(start)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    while flows.iter().any(|f| !f.is_done()) {
        let mut batch: Vec<_> = flows.iter_mut().filter(|f| !f.is_done()).collect();
        model.step(&mut batch)?;
    }
    let tol = if dt == DType::F32 { 1e-4 } else { 5e-2 };
    for (i, (f, a)) in flows.into_iter().zip(&alone).enumerate() {
        let b = f.finish()?;
        report.row(
            &format!("f5 full_v1 {dt:?} batched flow {i}"),
            &b,
            a,
            a,
            tol,
        )?;
    }
    Ok(())
}

fn config(dir: &Path) -> Result<F5Config> {
    Ok(F5Config::from_json(&std::fs::read_to_string(
        dir.join("config.json"),
    )?)?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let dev = device(&args.device)?;
    let dtypes = args
        .dtype
        .split(',')
        .map(dtype)
        .collect::<Result<Vec<_>>>()?;
    println!("device {:?}, dtypes {dtypes:?}", dev);
    let mut report = Report::default();

    // F5-TTS, tiny shape, from its checkpoint.
    let tiny = args.fixtures.join("tiny_v1");
    let ckpt = Checkpoint::open(&tiny.join("F5TTS_tiny"))?;
    let tiny_cfg = config(&tiny)?;
    let io = Io::load(&tiny.join("io.safetensors"))?;
    check_f5(
        &mut report,
        "f5 tiny_v1",
        &io,
        &|d, t| Ok(F5Model::load_with_config(&ckpt, tiny_cfg.clone(), d, t)?),
        &dev,
        &dtypes,
    )?;

    // F5-TTS, real v1 Base shape, synthetic weights.
    if !args.no_full {
        let full = args.fixtures.join("full_v1");
        let manifest = Manifest::from_file(full.join("manifest.json"))?;
        let full_cfg = config(&full)?;
        let io = Io::load(&full.join("io.safetensors"))?;
        check_f5(
            &mut report,
            "f5 full_v1",
            &io,
            &|d, t| Ok(F5Model::new(full_cfg.clone(), manifest.var_builder(t, d)?)?),
            &dev,
            &dtypes,
        )?;
    }

    // Batched flow steps on the device: flows of different lengths and step
    // counts stepped together against each alone (same device and dtype).
    if !args.no_full {
        let full = args.fixtures.join("full_v1");
        let manifest = Manifest::from_file(full.join("manifest.json"))?;
        let io = Io::load(&full.join("io.safetensors"))?;
        for &dt in &dtypes {
            let model = F5Model::new(config(&full)?, manifest.var_builder(dt, &dev)?)?;
            batched_vs_alone(&mut report, &model, &io, dt)?;
        }
    }

    // Vocos, real shape, f32 (as the engine runs it everywhere).
    let dir = args.fixtures.join("vocos_full");
    let vocos_cfg = VocosConfig::from_file(dir.join("config.yaml"))?;
    let manifest = Manifest::from_file(dir.join("manifest.json"))?;
    let io = Io::load(&dir.join("io.safetensors"))?;
    let decode = |d: &Device| -> Result<Tensor> {
        let vocos = Vocos::new(&vocos_cfg, manifest.var_builder(DType::F32, d)?)?;
        let audio = vocos.decode(&io.get("vocos.mel")?.to_device(d)?)?;
        let n = audio.len();
        Ok(Tensor::from_vec(audio, n, &Device::Cpu)?)
    };
    let cpu_audio = decode(&Device::Cpu)?;
    let audio = decode(&dev)?;
    let want = io.get("vocos.audio")?.flatten_all()?;
    report.row(
        "vocos full F32 audio",
        &audio,
        &cpu_audio,
        &want,
        tolerances(DType::F32).1,
    )?;

    if report.failures.is_empty() {
        println!("gpu_parity: all within tolerance");
        Ok(())
    } else {
        bail!("over tolerance: {}", report.failures.join("; "))
    }
}

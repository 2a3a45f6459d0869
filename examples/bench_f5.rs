//! F5-TTS inference benchmark, ishowtts side: the flow-matching sampler at
//! several step counts and the full-size Vocos decode, on the synthetic
//! weights and inputs that `scripts/bench_f5_reference.py prepare` writes
//! (the PyTorch side of the comparison reads the same folder).
//!
//! Run through `scripts/bench_f5.sh` (builds this, runs both sides, checks
//! they agree, prints the ratios); by hand:
//!
//! ```text
//! .venv-f5ref/bin/python scripts/bench_f5_reference.py prepare --work target/bench_f5/work
//! cargo run --release --example bench_f5 -- --work target/bench_f5/work --runs 3
//! ```
//!
//! The work folder holds `config.json` (the DiT shape), `manifest.json`
//! (synthetic weights, see `ishowtts::models::synthetic`),
//! `inputs.safetensors` (reference mel, token ids, initial noise),
//! `bench.json` (frame counts, guidance) and `vocos/` (config + manifest of
//! the real-size vocoder). The shape flags must describe the shape the folder
//! was prepared for (checked): the defaults are the small CPU shape,
//! `--full` the real v1 Base.
//!
//! Prints one line per figure and, last, a JSON summary in the format of the
//! reference script (also written to `--json-out`); the mels and audio go to
//! `--out` (safetensors) for the agreement check.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use clap::Parser;
use ishowtts::models::f5::{F5Config, F5Model, SamplerOptions};
use ishowtts::models::synthetic::Manifest;
use ishowtts::models::vocos::{Vocos, VocosConfig};
use serde_json::{json, Value};

mod common;
use common::{median, peak_rss_mib};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOP: usize = 256;
const SAMPLE_RATE: f64 = 24_000.0;

#[derive(Parser, Debug)]
#[command(about = "F5-TTS + Vocos inference benchmark (ishowtts side)")]
struct Args {
    /// Folder written by `bench_f5_reference.py prepare`.
    #[arg(long, default_value = "target/bench_f5/work")]
    work: PathBuf,
    /// The real F5-TTS v1 Base shape (dim 1024, depth 22, heads 16,
    /// text_dim 512, conv_layers 4); meant for GPUs.
    #[arg(long)]
    full: bool,
    /// Transformer width [default: 256, --full 1024].
    #[arg(long)]
    dim: Option<usize>,
    /// DiT blocks [default: 4, --full 22].
    #[arg(long)]
    depth: Option<usize>,
    /// Attention heads (of width 64) [default: 4, --full 16].
    #[arg(long)]
    heads: Option<usize>,
    /// Feed-forward expansion [default: 2].
    #[arg(long)]
    ff_mult: Option<f64>,
    /// Text embedding width [default: 128, --full 512].
    #[arg(long)]
    text_dim: Option<usize>,
    /// ConvNeXt blocks on the text [default: 2, --full 4].
    #[arg(long)]
    conv_layers: Option<usize>,
    /// Seconds of new audio; must match the work folder (checked) [default:
    /// the folder's].
    #[arg(long)]
    seconds: Option<f64>,
    /// Flow step counts, comma-separated.
    #[arg(long, default_value = "16,32", value_delimiter = ',')]
    nfe: Vec<usize>,
    /// Timed runs per figure (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Untimed runs first (one sample at the smallest NFE and one decode each).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// cpu, or cuda (needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Weights and activations of the DiT: f32, bf16 or f16 (Vocos stays f32).
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Also time the parts of one flow step (each synchronized, median of
    /// this many runs) and print them: where the time of a step goes.
    #[arg(long, default_value_t = 0)]
    profile: usize,
    /// Where to write the JSON summary [default: WORK/../ours.json].
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Where to write the mels and audio [default: JSON_OUT with .safetensors].
    #[arg(long)]
    out: Option<PathBuf>,
}

fn stats(times: Vec<f64>) -> Value {
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    json!({ "median_s": median(&times), "min_s": min, "times_s": times })
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (prepare the folder with `scripts/bench_f5_reference.py prepare`)",
            path.display()
        )
    })?;
    Ok(serde_json::from_str(&text)?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.runs == 0 || args.nfe.is_empty() {
        bail!("--runs and --nfe need at least one value");
    }
    let device = common::device(&args.device)?;
    let dtype = common::dtype(&args.dtype)?;
    let work = &args.work;
    let meta = read_json(&work.join("bench.json"))?;
    let num = |k: &str| -> Result<usize> {
        meta[k]
            .as_u64()
            .map(|v| v as usize)
            .with_context(|| format!("bench.json has no {k}"))
    };
    let (ref_frames, gen_frames, frames) = (num("ref_frames")?, num("gen_frames")?, num("frames")?);

    // The shape: flags (small or --full defaults), checked against the folder.
    let config_path = work.join("config.json");
    let config = F5Config::from_json(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?,
    )?;
    let (dim, depth, heads, text_dim, conv) = if args.full {
        (1024, 22, 16, 512, 4)
    } else {
        (256, 4, 4, 128, 2)
    };
    let want = [
        ("dim", args.dim.unwrap_or(dim) as f64, config.dit.dim as f64),
        (
            "depth",
            args.depth.unwrap_or(depth) as f64,
            config.dit.depth as f64,
        ),
        (
            "heads",
            args.heads.unwrap_or(heads) as f64,
            config.dit.heads as f64,
        ),
        ("ff-mult", args.ff_mult.unwrap_or(2.0), config.dit.ff_mult),
        (
            "text-dim",
            args.text_dim.unwrap_or(text_dim) as f64,
            config.dit.text_dim as f64,
        ),
        (
            "conv-layers",
            args.conv_layers.unwrap_or(conv) as f64,
            config.dit.conv_layers as f64,
        ),
    ];
    for (name, flag, prepared) in want {
        if flag != prepared {
            bail!(
                "--{name} {flag} but {} was prepared with {prepared}: run \
                 `bench_f5_reference.py prepare` with the same shape flags",
                work.display()
            );
        }
    }
    if let Some(s) = args.seconds {
        let prepared = meta["seconds"].as_f64().unwrap_or(f64::NAN);
        if s != prepared {
            bail!(
                "--seconds {s} but {} was prepared for {prepared} s",
                work.display()
            );
        }
    }

    // Weights: the manifest regenerated on the device, in the chosen dtype.
    let manifest = Manifest::from_file(work.join("manifest.json"))?;
    let t = Instant::now();
    let model = F5Model::new(config.clone(), manifest.var_builder(dtype, &device)?)?;
    let vocos_dir = work.join("vocos");
    let vocos_config = VocosConfig::from_file(vocos_dir.join("config.yaml"))?;
    let vocos_manifest = Manifest::from_file(vocos_dir.join("manifest.json"))?;
    let vocos = Vocos::new(
        &vocos_config,
        vocos_manifest.var_builder(DType::F32, &device)?,
    )?;
    eprintln!(
        "built F5 ({:.1} M params, {dtype:?}) and Vocos ({:.1} M params) on {device:?} in {:.1} s",
        manifest.num_values() as f64 / 1e6,
        vocos_manifest.num_values() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let inputs = candle_core::safetensors::load(work.join("inputs.safetensors"), &device)?;
    let input = |k: &str| {
        inputs
            .get(k)
            .cloned()
            .with_context(|| format!("inputs.safetensors has no {k}"))
    };
    let (ref_mel, ids, noise) = (input("ref_mel")?, input("ids")?, input("noise")?);
    if ref_mel.dim(1)? != ref_frames || noise.dim(1)? != frames {
        bail!("inputs.safetensors does not match bench.json");
    }
    let opts = |nfe: usize| SamplerOptions {
        nfe_step: nfe,
        cfg_strength: meta["cfg_strength"].as_f64().unwrap_or(2.0),
        sway_sampling_coef: meta["sway_sampling_coef"].as_f64().unwrap_or(-1.0),
        use_epss: meta["use_epss"].as_bool().unwrap_or(true),
        seed: None,
        initial_noise: Some(noise.clone()),
    };
    let sample = |nfe: usize| -> Result<Tensor> {
        let mel = model.sample_ids(&ref_mel, &ids, frames, &opts(nfe), &|| false)?;
        device.synchronize()?;
        Ok(mel)
    };
    // Upstream vocodes the new frames only: (1, 100, gen_frames).
    let decode = |mel: &Tensor| -> Result<Vec<f32>> {
        let generated = mel.narrow(1, ref_frames, gen_frames)?.transpose(1, 2)?;
        Ok(vocos.decode(&generated)?)
    };

    if args.profile > 0 {
        profile(&model, &ref_mel, &ids, frames, &device, args.profile)?;
    }

    let min_nfe = *args.nfe.iter().min().expect("non-empty");
    for _ in 0..args.warmup {
        decode(&sample(min_nfe)?)?;
    }
    let mut nfes = args.nfe.clone();
    nfes.sort_unstable();
    nfes.dedup();
    let mut sample_stats = serde_json::Map::new();
    let mut medians = HashMap::new();
    let mut mels = HashMap::new();
    for &nfe in &nfes {
        let mut times = Vec::new();
        for _ in 0..args.runs {
            let t = Instant::now();
            let mel = sample(nfe)?;
            times.push(t.elapsed().as_secs_f64());
            mels.insert(nfe, mel);
        }
        eprintln!(
            "sample, NFE {nfe}: median {:.3} s ({:.1} ms per step) over {} runs",
            median(&times),
            median(&times) / nfe as f64 * 1e3,
            args.runs
        );
        medians.insert(nfe, median(&times));
        sample_stats.insert(nfe.to_string(), stats(times));
    }
    let last = &mels[nfes.last().expect("non-empty")];
    let mut vocos_times = Vec::new();
    let mut audio = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        audio = decode(last)?;
        vocos_times.push(t.elapsed().as_secs_f64());
    }
    let vocos_median = median(&vocos_times);
    eprintln!(
        "Vocos decode of {gen_frames} frames: median {:.1} ms",
        vocos_median * 1e3
    );

    let audio_s = (gen_frames * HOP) as f64 / SAMPLE_RATE;
    let (a, b) = (nfes[0], *nfes.last().expect("non-empty"));
    let step_s = if a == b {
        medians[&a] / a as f64
    } else {
        (medians[&b] - medians[&a]) / (b - a) as f64
    };
    let rtf: serde_json::Map<String, Value> = nfes
        .iter()
        .map(|n| (n.to_string(), json!((medians[n] + vocos_median) / audio_s)))
        .collect();
    let report = json!({
        "impl": "ishowtts",
        "version": format!("ishowtts {}, candle 0.11", env!("CARGO_PKG_VERSION")),
        "device": args.device,
        "dtype": args.dtype,
        "threads": candle_core::utils::get_num_threads(),
        "shape": meta["shape"],
        "params": manifest.num_values(),
        "ref_frames": ref_frames,
        "gen_frames": gen_frames,
        "frames": frames,
        "tokens": ids.dim(1)?,
        "audio_s": audio_s,
        "audio_samples": audio.len(),
        "runs": args.runs,
        "sample": sample_stats,
        "step_s": step_s,
        "vocos": stats(vocos_times),
        "rtf": rtf,
        "peak_rss_mib": peak_rss_mib(),
        "gpu_peak_mib": Value::Null,
    });

    let json_out = args
        .json_out
        .clone()
        .unwrap_or_else(|| work.parent().unwrap_or(Path::new(".")).join("ours.json"));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| json_out.with_extension("safetensors"));
    let mut tensors = HashMap::new();
    for (nfe, mel) in &mels {
        tensors.insert(format!("mel_nfe{nfe}"), mel.to_device(&Device::Cpu)?);
    }
    let n = audio.len();
    tensors.insert(
        "audio".to_string(),
        Tensor::from_vec(audio, n, &Device::Cpu)?,
    );
    candle_core::safetensors::save(&tensors, &out)?;
    std::fs::write(&json_out, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("{report}");
    Ok(())
}

/// Times the parts of one flow step at the benchmark's shape (both guidance
/// branches), each synchronized with the device, and prints the medians.
fn profile(
    model: &F5Model,
    ref_mel: &Tensor,
    ids: &Tensor,
    frames: usize,
    device: &Device,
    runs: usize,
) -> Result<()> {
    use candle_core::Module;
    let dit = model.dit();
    let dtype = dit.dtype();
    let time = |name: &str, f: &mut dyn FnMut() -> Result<Tensor>| -> Result<f64> {
        f()?; // warm-up
        device.synchronize()?;
        let mut times = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            f()?;
            device.synchronize()?;
            times.push(t.elapsed().as_secs_f64());
        }
        let m = median(&times);
        eprintln!("profile {name:<40} {:>9.3} ms", m * 1e3);
        Ok(m)
    };
    let cond = ref_mel.pad_with_zeros(1, 0, frames - ref_mel.dim(1)?)?;
    let utt = dit.conditioning(&cond, ids, true)?;
    let step = dit.precompute(&[0.5])?.remove(0);
    let x = Tensor::randn(0f32, 1.0, (1, frames, dit.config().mel_dim), device)?;
    let h = dit
        .input_embed()
        .forward_with_context(&x.to_dtype(dtype)?, utt.context())?;
    let block = &dit.blocks()[0];
    let m = step.block(0).context("a block")?;
    let rope = utt.rope();
    let rows = utt.batch()?;
    eprintln!(
        "profile: {rows} rows x {frames} frames, {} blocks, {dtype:?} on {device:?}",
        dit.blocks().len()
    );
    time("flow step (network, both branches)", &mut || {
        Ok(dit.forward_with(&x, &utt, &step)?)
    })?;
    time("input embedding (proj + conv pos)", &mut || {
        Ok(dit
            .input_embed()
            .forward_with_context(&x.to_dtype(dtype)?, utt.context())?)
    })?;
    let block_t = time("one DiT block", &mut || {
        Ok(block.forward(&h, m, rope, None)?)
    })?;
    eprintln!(
        "profile {:<40} {:>9.3} ms",
        "  x blocks",
        block_t * dit.blocks().len() as f64 * 1e3
    );
    time("  attention (q, k, v, out projections)", &mut || {
        Ok(block.attn().forward(&h, rope, None)?)
    })?;
    time("  feed-forward", &mut || Ok(block.ff().forward(&h)?))?;
    let (b, n, d) = h.dims3()?;
    let heads = dit.config().heads;
    let q = Tensor::randn(0f32, 1.0, (b, heads, n, d / heads), device)?;
    time("  scores + softmax + PV (f32 scores)", &mut || {
        let s = q.matmul(&q.t()?)?;
        let p = candle_nn::ops::softmax_last_dim(&s)?.to_dtype(dtype)?;
        Ok(p.matmul(&q.to_dtype(dtype)?)?)
    })?;
    // the attention core's parts, and two cheaper ways to get the scores
    let scores = q.matmul(&q.t()?)?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    let probs_h = probs.to_dtype(dtype)?;
    let q_h = q.to_dtype(dtype)?;
    time("    QK^T in f32", &mut || Ok(q.matmul(&q.t()?)?))?;
    time("    softmax in f32", &mut || {
        Ok(candle_nn::ops::softmax_last_dim(&scores)?)
    })?;
    time("    probabilities to the model dtype", &mut || {
        Ok(probs.to_dtype(dtype)?)
    })?;
    time("    PV in the model dtype", &mut || {
        Ok(probs_h.matmul(&q_h)?)
    })?;
    time("    QK^T in the model dtype", &mut || {
        Ok(q_h.matmul(&q_h.t()?)?)
    })?;
    if ishowtts::nn::cuda_attention::fused_attention(&q, &q, &q, None)?.is_some() {
        time(
            "  fused attention kernel (f32, scores on chip)",
            &mut || {
                Ok(
                    ishowtts::nn::cuda_attention::fused_attention(&q, &q, &q, None)?
                        .expect("applies"),
                )
            },
        )?;
    }
    candle_core::cuda::set_gemm_reduced_precision_f32(true);
    time("    QK^T in f32 with TF32 tensor cores", &mut || {
        Ok(q.matmul(&q.t()?)?)
    })?;
    candle_core::cuda::set_gemm_reduced_precision_f32(false);
    let w = Tensor::randn(0f32, 0.03, (d, d), device)?.to_dtype(dtype)?;
    let lin = candle_nn::Linear::new(w, None);
    time("  one dim x dim linear", &mut || Ok(lin.forward(&h)?))?;
    time("  layer norm + modulation", &mut || {
        Ok(ishowtts::nn::norm::modulated_layer_norm(
            &h,
            &h.narrow(1, 0, 1)?,
            &h.narrow(1, 1, 1)?,
            1e-6,
        )?)
    })?;
    let small = Tensor::zeros(16, dtype, device)?;
    let launches = time("1000 tiny element-wise ops", &mut || {
        let mut t = small.clone();
        for _ in 0..1000 {
            t = (t + 1.0)?;
        }
        Ok(t)
    })?;
    eprintln!(
        "profile {:<40} {:>9.3} us",
        "  per op (launch + allocation)",
        launches * 1e3
    );
    Ok(())
}

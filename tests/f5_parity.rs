//! The F5-TTS network and sampler against upstream PyTorch (f5-tts 1.1.22)
//! on the fixtures of `tests/fixtures/f5/` (see its README): every
//! intermediate tensor within a relative error of 1e-4 in f32, where the
//! relative error is `max|a - b| / max(max|b|, 1e-6)`.
//!
//! - `tiny_v1`, `tiny_base`: loaded from their upstream-layout checkpoints
//!   (`ema_model.*`, `initted`, `step`, legacy mel buffers);
//! - `full_v1`: the real v1 Base shape with synthetic weights regenerated
//!   from the manifest (~1.3 GB of f32; run in release mode).
//!
//! Torch's RNG is not reproduced: the samplers get the recorded noise.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ishowtts::models::f5::cfm::time_grid;
use ishowtts::models::f5::{Checkpoint, F5Config, F5Model, SamplerOptions};
use ishowtts::models::synthetic::Manifest;

const TOLERANCE: f32 = 1e-4;

fn fixture(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/f5")
        .join(dir)
}

/// The fixture folder, or `None` (with a message saying so) when its files
/// have not been generated.
fn fixture_files(dir: &str, files: &[&str]) -> Option<PathBuf> {
    let root = fixture(dir);
    let missing: Vec<_> = files.iter().filter(|f| !root.join(f).exists()).collect();
    if missing.is_empty() {
        Some(root)
    } else {
        eprintln!(
            "SKIPPED: fixture files {missing:?} are missing under {}; \
             generate them with `bash scripts/f5_fixtures.sh`",
            root.display()
        );
        None
    }
}

struct Io(HashMap<String, Tensor>);

impl Io {
    fn load(dir: &Path) -> Self {
        Self(candle_core::safetensors::load(dir.join("io.safetensors"), &Device::Cpu).unwrap())
    }

    fn get(&self, name: &str) -> &Tensor {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("io.safetensors has no {name}"))
    }

    fn scalar_i64(&self, name: &str) -> i64 {
        self.get(name)
            .flatten_all()
            .unwrap()
            .to_vec1::<i64>()
            .unwrap()[0]
    }

    fn scalar_f32(&self, name: &str) -> f32 {
        self.get(name)
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()[0]
    }
}

/// Relative error of `got` against `want`, printed and checked.
fn check(label: &str, got: &Tensor, want: &Tensor) -> f32 {
    check_within(label, got, want, TOLERANCE)
}

fn check_within(label: &str, got: &Tensor, want: &Tensor, tolerance: f32) -> f32 {
    assert_eq!(got.dims(), want.dims(), "{label}: shape");
    let got = got.to_dtype(DType::F32).unwrap();
    let diff = (&got - want).unwrap().abs().unwrap();
    let diff = diff.max_all().unwrap().to_scalar::<f32>().unwrap();
    let scale = want
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let rel = diff / scale.max(1e-6);
    eprintln!("{label:<32} max |diff| {diff:.3e}  max |ref| {scale:.3e}  rel {rel:.3e}");
    assert!(
        rel <= tolerance,
        "{label}: relative error {rel:.3e} > {tolerance:e}"
    );
    rel
}

fn config(dir: &Path) -> F5Config {
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    F5Config::from_json(&text).unwrap()
}

/// Every intermediate of the conditional forward, both branches by the
/// upstream forward and by the sampler's cached path.
fn check_network(name: &str, model: &F5Model, io: &Io) {
    let dit = model.dit();
    let ids = io.get("text.ids");
    let x = io.get("dit.x");
    let cond = io.get("dit.cond");
    let t = io.get("dit.t");
    let n = x.dim(1).unwrap();

    let text = dit.embed_text(ids, n, false).unwrap();
    check(
        &format!("{name} text_embed.out"),
        &text,
        io.get("text_embed.out"),
    );
    let text_drop = dit.embed_text(ids, n, true).unwrap();
    check(
        &format!("{name} text_embed.out_drop"),
        &text_drop,
        io.get("text_embed.out_drop"),
    );
    let t_emb = dit.time_embed().forward(t).unwrap();
    check(
        &format!("{name} time_embed.out"),
        &t_emb,
        io.get("time_embed.out"),
    );
    let h = dit.input_embed().forward(x, cond, &text, false).unwrap();
    check(
        &format!("{name} input_embed.out"),
        &h,
        io.get("input_embed.out"),
    );
    let rope = dit.rotary(n).unwrap();
    let b0 = dit.blocks()[0].forward_t(&h, &t_emb, &rope).unwrap();
    check(&format!("{name} block0.out"), &b0, io.get("block0.out"));

    let out_c = dit.forward(x, cond, ids, t, false, false).unwrap();
    check(
        &format!("{name} dit.out_cond"),
        &out_c,
        io.get("dit.out_cond"),
    );
    let out_u = dit.forward(x, cond, ids, t, true, true).unwrap();
    check(
        &format!("{name} dit.out_uncond"),
        &out_u,
        io.get("dit.out_uncond"),
    );

    // the sampler's path: both branches in one batch, precomputed conditioning
    let utt = dit.conditioning(cond, ids, true).unwrap();
    let step = &dit.precompute(&[io.scalar_f32("dit.t")]).unwrap()[0];
    let both = dit.forward_with(x, &utt, step).unwrap();
    check(
        &format!("{name} dit.out_cond (batched)"),
        &both.narrow(0, 0, 1).unwrap(),
        io.get("dit.out_cond"),
    );
    check(
        &format!("{name} dit.out_uncond (batched)"),
        &both.narrow(0, 1, 1).unwrap(),
        io.get("dit.out_uncond"),
    );
}

/// `CFM.sample` with the recorded noise: the time grid and the output mel.
fn check_sample(name: &str, model: &F5Model, io: &Io, prefix: &str) {
    let key = |k: &str| format!("{prefix}.{k}");
    let steps = io.scalar_i64(&key("steps")) as usize;
    let opts = SamplerOptions {
        nfe_step: steps,
        cfg_strength: io.scalar_f32(&key("cfg")) as f64,
        sway_sampling_coef: io.scalar_f32(&key("sway")) as f64,
        initial_noise: Some(io.get(&key("noise")).clone()),
        ..Default::default()
    };
    let grid = time_grid(steps, opts.use_epss, opts.sway_sampling_coef);
    let grid = Tensor::from_vec(grid, steps + 1, &Device::Cpu).unwrap();
    check(&format!("{name} {prefix}.t"), &grid, io.get(&key("t")));
    let duration = io.scalar_i64(&key("duration")) as usize;
    let out = model
        .sample_ids(
            io.get(&key("cond")),
            io.get(&key("ids")),
            duration,
            &opts,
            &|| false,
        )
        .unwrap();
    check(&format!("{name} {prefix}.out"), &out, io.get(&key("out")));
    // the generated frames alone (the reference frames are copied through)
    let n_ref = io.get(&key("cond")).dim(1).unwrap();
    let gen = |t: &Tensor| t.narrow(1, n_ref, duration - n_ref).unwrap();
    check(
        &format!("{name} {prefix}.out generated"),
        &gen(&out),
        &gen(io.get(&key("out"))),
    );
}

fn tiny(dir: &str) {
    let Some(root) = fixture_files(
        dir,
        &[
            "config.json",
            "io.safetensors",
            "F5TTS_tiny/model_1250000.safetensors",
            "F5TTS_tiny/vocab.txt",
        ],
    ) else {
        return;
    };
    let checkpoint = Checkpoint::open(&root.join("F5TTS_tiny")).unwrap();
    assert!(checkpoint.is_ema());
    assert_eq!(checkpoint.text_num_embeds(), 2545);
    let model =
        F5Model::load_with_config(&checkpoint, config(&root), &Device::Cpu, DType::F32).unwrap();
    let io = Io::load(&root);
    check_network(dir, &model, &io);
    check_sample(dir, &model, &io, "sample");
    check_sample(dir, &model, &io, "sample7");
}

#[test]
fn tiny_v1_matches_pytorch() {
    tiny("tiny_v1");
}

#[test]
fn tiny_base_matches_pytorch() {
    tiny("tiny_base");
}

/// bf16 and f16 weights run the same code (upcasts where upstream keeps
/// f32) and stay close to the f32 reference.
#[test]
fn tiny_v1_half_precision() {
    let Some(root) = fixture_files(
        "tiny_v1",
        &[
            "config.json",
            "io.safetensors",
            "F5TTS_tiny/model_1250000.safetensors",
        ],
    ) else {
        return;
    };
    let checkpoint = Checkpoint::open(&root.join("F5TTS_tiny")).unwrap();
    let io = Io::load(&root);
    for (dtype, tolerance) in [(DType::BF16, 5e-2), (DType::F16, 1e-2)] {
        let model =
            F5Model::load_with_config(&checkpoint, config(&root), &Device::Cpu, dtype).unwrap();
        let dit = model.dit();
        let (x, cond, ids, t) = (
            io.get("dit.x"),
            io.get("dit.cond"),
            io.get("text.ids"),
            io.get("dit.t"),
        );
        let out = dit.forward(x, cond, ids, t, false, false).unwrap();
        assert_eq!(out.dtype(), dtype);
        check_within(
            &format!("tiny_v1 {dtype:?} dit.out_cond"),
            &out,
            io.get("dit.out_cond"),
            tolerance,
        );
        let opts = SamplerOptions {
            nfe_step: 4,
            initial_noise: Some(io.get("sample.noise").clone()),
            ..Default::default()
        };
        let mel = model
            .sample_ids(
                io.get("sample.cond"),
                io.get("sample.ids"),
                64,
                &opts,
                &|| false,
            )
            .unwrap();
        assert_eq!(mel.dtype(), DType::F32);
        check_within(
            &format!("tiny_v1 {dtype:?} sample.out"),
            &mel,
            io.get("sample.out"),
            tolerance,
        );
    }
}

#[test]
fn full_v1_matches_pytorch() {
    let Some(root) = fixture_files(
        "full_v1",
        &["config.json", "io.safetensors", "manifest.json"],
    ) else {
        return;
    };
    let cfg = config(&root);
    assert_eq!(
        cfg,
        F5Config::preset(ishowtts::models::f5::Variant::V1Base, 2545)
    );
    let vb = Manifest::from_file(root.join("manifest.json"))
        .unwrap()
        .var_builder(DType::F32, &Device::Cpu)
        .unwrap();
    let model = F5Model::new(cfg, vb).unwrap();
    let io = Io::load(&root);
    check_network("full_v1", &model, &io);
    check_sample("full_v1", &model, &io, "sample");
}

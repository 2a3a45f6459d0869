//! Numerical parity of the Qwen3-TTS tokenizer-12Hz decoder with the
//! PyTorch reference (`qwen-tts` 0.1.1) on the tiny synthetic fixture
//! `tests/fixtures/qwen3/decoder/` (written by `scripts/qwen3_fixtures.py`).
//!
//! Each component runs on the reference's own input (the previous
//! intermediate), so a figure measures that component alone; the whole
//! decode from codes is checked last. Every tensor must match with a
//! relative error `max|a - b| / max(max|b|, 1e-6)` of at most 1e-4 (f32).
//! Each figure is printed
//! (`cargo test --release --test qwen3_decoder_parity -- --nocapture`).
//!
//! Not checked: `chunked_audio` (upstream's chunked decode with cut left
//! context; incremental decoding is not ported yet).

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ishowtts::models::qwen3_tts::{Decoder, DecoderConfig};

const TOLERANCE: f32 = 1e-4;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/qwen3/decoder")
}

fn get<'a>(io: &'a HashMap<String, Tensor>, name: &str) -> &'a Tensor {
    io.get(name)
        .unwrap_or_else(|| panic!("fixture has no tensor {name}"))
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// `max|a - b| / max(max|b|, 1e-6)`.
fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let diff = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().map(|b| b.abs()).fold(0.0f32, f32::max);
    diff / scale.max(1e-6)
}

/// Prints the figure and checks it (shapes first).
fn check(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let err = rel_err(&to_vec(got), &to_vec(want));
    eprintln!("{what:<32} {:?}  rel err {err:.2e}", want.dims());
    assert!(
        err <= TOLERANCE,
        "{what}: relative error {err:.3e} > {TOLERANCE:e}"
    );
}

#[test]
fn decoder_matches_qwen_tts() {
    let dir = fixture_dir();
    let files = ["config.json", "model.safetensors", "io.safetensors"].map(|f| dir.join(f));
    if let Some(missing) = files.iter().find(|p| !p.is_file()) {
        eprintln!(
            "\n!!!!! SKIPPED: fixture {} is missing; run `bash scripts/qwen3_fixtures.sh` !!!!!\n",
            missing.display()
        );
        return;
    }
    let dev = Device::Cpu;
    let cfg = DecoderConfig::from_file(&files[0]).unwrap();
    let weights = candle_core::safetensors::load(&files[1], &dev).unwrap();
    let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
    let decoder = Decoder::new(&cfg, vb).unwrap();
    let io = candle_core::safetensors::load(&files[2], &dev).unwrap();
    let codes = get(&io, "codes");

    // Quantizer.
    let q = decoder.quantizer();
    let codes_u32 = codes.to_dtype(DType::U32).unwrap();
    let first = q
        .rvq_first()
        .decode(&codes_u32.narrow(1, 0, 1).unwrap())
        .unwrap();
    check(
        "quantizer.rvq_first",
        &first,
        get(&io, "quantizer.rvq_first"),
    );
    let rest = q
        .rvq_rest()
        .decode(&codes_u32.narrow(1, 1, cfg.num_quantizers - 1).unwrap())
        .unwrap();
    check("quantizer.rvq_rest", &rest, get(&io, "quantizer.rvq_rest"));
    check(
        "quantizer",
        &q.decode(codes).unwrap(),
        get(&io, "quantizer"),
    );

    // Pre-conv and pre-transformer, (B, T, C) inside the transformer.
    let pre_conv = decoder.pre_conv().forward(get(&io, "quantizer")).unwrap();
    check("pre_conv", &pre_conv, get(&io, "pre_conv"));
    let pt = decoder.pre_transformer();
    let x = get(&io, "pre_conv")
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap();
    check(
        "pre_transformer.input_proj",
        &pt.input_proj(&x).unwrap(),
        get(&io, "pre_transformer.input_proj"),
    );
    let (cos, sin, mask) = pt.position_inputs(x.dim(1).unwrap(), &dev).unwrap();
    let mut prev = get(&io, "pre_transformer.input_proj").clone();
    for (i, layer) in pt.layers().iter().enumerate() {
        let name = format!("pre_transformer.layers.{i}");
        let got = layer.forward(&prev, &cos, &sin, &mask).unwrap();
        check(&name, &got, get(&io, &name));
        prev = get(&io, &name).clone();
    }
    check(
        "pre_transformer",
        &pt.forward(&x).unwrap(),
        get(&io, "pre_transformer"),
    );

    // Upsampler, (B, C, T) from here on.
    let mut prev = get(&io, "pre_transformer")
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap();
    for (i, stage) in decoder.upsample().iter().enumerate() {
        let conv = stage.conv().forward(&prev).unwrap();
        check(
            &format!("upsample.{i}.0"),
            &conv,
            get(&io, &format!("upsample.{i}.0")),
        );
        let out = stage
            .convnext()
            .forward(get(&io, &format!("upsample.{i}.0")))
            .unwrap();
        check(
            &format!("upsample.{i}"),
            &out,
            get(&io, &format!("upsample.{i}")),
        );
        check(
            &format!("upsample.{i} (whole stage)"),
            &stage.forward(&prev).unwrap(),
            get(&io, &format!("upsample.{i}")),
        );
        prev = get(&io, &format!("upsample.{i}")).clone();
    }

    // Waveform decoder.
    let d0 = decoder.input_conv().forward(&prev).unwrap();
    check("decoder.0", &d0, get(&io, "decoder.0"));
    let mut prev = get(&io, "decoder.0").clone();
    for (i, block) in decoder.blocks().iter().enumerate() {
        let name = format!("decoder.{}", i + 1);
        check(&name, &block.forward(&prev).unwrap(), get(&io, &name));
        prev = get(&io, &name).clone();
    }
    check(
        "audio (head on decoder.4)",
        &decoder.head().forward(&prev).unwrap(),
        get(&io, "audio"),
    );

    // The whole decode, from codes (i64 and u32).
    let audio = decoder.forward(codes).unwrap();
    check("audio (whole decode)", &audio, get(&io, "audio"));
    let audio_u32 = decoder.forward(&codes_u32).unwrap();
    check(
        "audio (whole decode, u32 codes)",
        &audio_u32,
        get(&io, "audio"),
    );
    assert_eq!(
        audio.dim(2).unwrap(),
        codes.dim(2).unwrap() * decoder.total_upsample()
    );
}

#[test]
fn decoder_rejects_bad_codes() {
    let dir = fixture_dir();
    let (config, model) = (dir.join("config.json"), dir.join("model.safetensors"));
    if !config.is_file() || !model.is_file() {
        eprintln!("\n!!!!! SKIPPED: decoder fixture is missing !!!!!\n");
        return;
    }
    let dev = Device::Cpu;
    let cfg = DecoderConfig::from_file(&config).unwrap();
    let weights = candle_core::safetensors::load(&model, &dev).unwrap();
    let decoder = Decoder::new(&cfg, VarBuilder::from_tensors(weights, DType::F32, &dev)).unwrap();
    let too_big = Tensor::full(cfg.codebook_size as i64, (1, cfg.num_quantizers, 2), &dev).unwrap();
    assert!(decoder.forward(&too_big).is_err());
    let negative = Tensor::full(-1i64, (1, cfg.num_quantizers, 2), &dev).unwrap();
    assert!(decoder.forward(&negative).is_err());
    let few_rows = Tensor::zeros((1, 3, 2), DType::U32, &dev).unwrap();
    assert!(decoder.forward(&few_rows).is_err());
}

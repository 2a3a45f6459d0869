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
//! context, an approximation; our exact incremental decode is checked in
//! `tests/qwen3_decoder_stream.rs`).

use candle_core::{DType, Device, Tensor};
use ishowtts::models::qwen3_tts::{Decoder, DecoderConfig};

use crate::common::{check_rel, io_tensor};

const TOLERANCE: f32 = 1e-4;

#[test]
fn decoder_matches_qwen_tts() {
    let fx = crate::common::qwen3_fixture("decoder");
    let dev = Device::Cpu;
    let cfg = DecoderConfig::from_file(&fx.config).unwrap();
    let decoder = Decoder::new(&cfg, fx.vb).unwrap();
    let io = fx.io;
    let codes = io_tensor(&io, "codes");

    // Quantizer.
    let q = decoder.quantizer();
    let codes_u32 = codes.to_dtype(DType::U32).unwrap();
    let first = q
        .rvq_first()
        .decode(&codes_u32.narrow(1, 0, 1).unwrap())
        .unwrap();
    check_rel(
        "quantizer.rvq_first",
        &first,
        io_tensor(&io, "quantizer.rvq_first"),
        TOLERANCE,
    );
    let rest = q
        .rvq_rest()
        .decode(&codes_u32.narrow(1, 1, cfg.num_quantizers - 1).unwrap())
        .unwrap();
    check_rel(
        "quantizer.rvq_rest",
        &rest,
        io_tensor(&io, "quantizer.rvq_rest"),
        TOLERANCE,
    );
    check_rel(
        "quantizer",
        &q.decode(codes).unwrap(),
        io_tensor(&io, "quantizer"),
        TOLERANCE,
    );

    // Pre-conv and pre-transformer, (B, T, C) inside the transformer.
    let pre_conv = decoder
        .pre_conv()
        .forward(io_tensor(&io, "quantizer"))
        .unwrap();
    check_rel("pre_conv", &pre_conv, io_tensor(&io, "pre_conv"), TOLERANCE);
    let pt = decoder.pre_transformer();
    let x = io_tensor(&io, "pre_conv")
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap();
    check_rel(
        "pre_transformer.input_proj",
        &pt.input_proj(&x).unwrap(),
        io_tensor(&io, "pre_transformer.input_proj"),
        TOLERANCE,
    );
    let (cos, sin, mask) = pt.position_inputs(x.dim(1).unwrap(), &dev).unwrap();
    let mut prev = io_tensor(&io, "pre_transformer.input_proj").clone();
    for (i, layer) in pt.layers().iter().enumerate() {
        let name = format!("pre_transformer.layers.{i}");
        let got = layer.forward(&prev, &cos, &sin, &mask).unwrap();
        check_rel(&name, &got, io_tensor(&io, &name), TOLERANCE);
        prev = io_tensor(&io, &name).clone();
    }
    check_rel(
        "pre_transformer",
        &pt.forward(&x).unwrap(),
        io_tensor(&io, "pre_transformer"),
        TOLERANCE,
    );

    // Upsampler, (B, C, T) from here on.
    let mut prev = io_tensor(&io, "pre_transformer")
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap();
    for (i, stage) in decoder.upsample().iter().enumerate() {
        let conv = stage.conv().forward(&prev).unwrap();
        check_rel(
            &format!("upsample.{i}.0"),
            &conv,
            io_tensor(&io, &format!("upsample.{i}.0")),
            TOLERANCE,
        );
        let out = stage
            .convnext()
            .forward(io_tensor(&io, &format!("upsample.{i}.0")))
            .unwrap();
        check_rel(
            &format!("upsample.{i}"),
            &out,
            io_tensor(&io, &format!("upsample.{i}")),
            TOLERANCE,
        );
        check_rel(
            &format!("upsample.{i} (whole stage)"),
            &stage.forward(&prev).unwrap(),
            io_tensor(&io, &format!("upsample.{i}")),
            TOLERANCE,
        );
        prev = io_tensor(&io, &format!("upsample.{i}")).clone();
    }

    // Waveform decoder.
    let d0 = decoder.input_conv().forward(&prev).unwrap();
    check_rel("decoder.0", &d0, io_tensor(&io, "decoder.0"), TOLERANCE);
    let mut prev = io_tensor(&io, "decoder.0").clone();
    for (i, block) in decoder.blocks().iter().enumerate() {
        let name = format!("decoder.{}", i + 1);
        check_rel(
            &name,
            &block.forward(&prev).unwrap(),
            io_tensor(&io, &name),
            TOLERANCE,
        );
        prev = io_tensor(&io, &name).clone();
    }
    check_rel(
        "audio (head on decoder.4)",
        &decoder.head().forward(&prev).unwrap(),
        io_tensor(&io, "audio"),
        TOLERANCE,
    );

    // The whole decode, from codes (i64 and u32).
    let audio = decoder.forward(codes).unwrap();
    check_rel(
        "audio (whole decode)",
        &audio,
        io_tensor(&io, "audio"),
        TOLERANCE,
    );
    let audio_u32 = decoder.forward(&codes_u32).unwrap();
    check_rel(
        "audio (whole decode, u32 codes)",
        &audio_u32,
        io_tensor(&io, "audio"),
        TOLERANCE,
    );
    assert_eq!(
        audio.dim(2).unwrap(),
        codes.dim(2).unwrap() * decoder.total_upsample()
    );
}

#[test]
fn decoder_rejects_bad_codes() {
    let fx = crate::common::qwen3_fixture("decoder");
    let dev = Device::Cpu;
    let cfg = DecoderConfig::from_file(&fx.config).unwrap();
    let decoder = Decoder::new(&cfg, fx.vb).unwrap();
    let too_big = Tensor::full(cfg.codebook_size as i64, (1, cfg.num_quantizers, 2), &dev).unwrap();
    assert!(decoder.forward(&too_big).is_err());
    let negative = Tensor::full(-1i64, (1, cfg.num_quantizers, 2), &dev).unwrap();
    assert!(decoder.forward(&negative).is_err());
    let few_rows = Tensor::zeros((1, 3, 2), DType::U32, &dev).unwrap();
    assert!(decoder.forward(&few_rows).is_err());
}

//! The Qwen3-TTS tokenizer decoder's incremental decode
//! (`Decoder::decode_chunk`) against its whole-clip decode and the PyTorch
//! reference audio, on the tiny fixture `tests/fixtures/qwen3/decoder/`
//! (20 frames, sliding window 4, real upsampling rates: 1920 samples per
//! frame). Any chunking must give the same samples, and exactly as many:
//! relative error `max|a - b| / max|b|` at most 1e-5 (printed with
//! `-- --nocapture`).

use candle_core::{DType, Device, Tensor};
use ishowtts::models::qwen3_tts::decoder::DecoderState;
use ishowtts::models::qwen3_tts::{Decoder, DecoderConfig};

mod common;
use common::{io_tensor, rel_err, tensor_values};

const TOLERANCE: f32 = 1e-5;

struct Fixture {
    decoder: Decoder,
    codes: Tensor,
    audio: Tensor,
}

/// The tiny decoder and its fixture codes/audio.
fn fixture() -> Fixture {
    let fx = common::qwen3_fixture("decoder");
    let cfg = DecoderConfig::from_file(&fx.config).unwrap();
    Fixture {
        decoder: Decoder::new(&cfg, fx.vb).unwrap(),
        codes: io_tensor(&fx.io, "codes").clone(),
        audio: io_tensor(&fx.io, "audio").clone(),
    }
}

/// Decodes `codes` `(B, Q, T)` in chunks of the given sizes (summing to
/// `T`) with one state, checking each chunk's length, and concatenates.
fn decode_in_chunks(
    decoder: &Decoder,
    codes: &Tensor,
    sizes: &[usize],
    state: &mut DecoderState,
) -> Tensor {
    let (b, _, t) = codes.dims3().unwrap();
    assert_eq!(sizes.iter().sum::<usize>(), t, "chunk sizes");
    let up = decoder.total_upsample();
    let mut start = 0;
    let mut out = Vec::new();
    for &n in sizes {
        let chunk = codes.narrow(2, start, n).unwrap();
        let y = decoder.decode_chunk(&chunk, state).unwrap();
        assert_eq!(y.dims(), [b, 1, n * up], "chunk of {n} frames at {start}");
        start += n;
        assert_eq!(state.frames(), start);
        out.push(y);
    }
    Tensor::cat(&out, 2).unwrap()
}

/// Chunk sizes of `size` frames (the last one shorter) covering `t`.
fn even_chunks(t: usize, size: usize) -> Vec<usize> {
    (0..t).step_by(size).map(|s| size.min(t - s)).collect()
}

/// Random chunk sizes in `1..=max` covering `t` (xorshift, seeded).
fn random_chunks(t: usize, max: usize, seed: u64) -> Vec<usize> {
    let mut x = seed;
    let mut left = t;
    let mut sizes = Vec::new();
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (1 + (x % max as u64) as usize).min(left);
        sizes.push(n);
        left -= n;
    }
    sizes
}

/// Other valid codes of the same shape: shifted and reversed in time.
fn other_codes(codes: &Tensor, bins: i64) -> Tensor {
    let (b, q, t) = codes.dims3().unwrap();
    let values: Vec<i64> = codes
        .to_dtype(DType::I64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let other: Vec<i64> = values
        .chunks(t)
        .flat_map(|row| row.iter().rev().map(|c| (c + 17) % bins))
        .collect();
    Tensor::from_vec(other, (b, q, t), codes.device()).unwrap()
}

fn check(what: &str, got: &Tensor, want: &Tensor) -> f32 {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let err = rel_err(&tensor_values(got), &tensor_values(want));
    eprintln!("{what:<44} rel err {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{what}: relative error {err:.3e} > {TOLERANCE:e}"
    );
    err
}

#[test]
fn any_chunking_equals_the_whole_decode() {
    let fx = fixture();
    let dec = &fx.decoder;
    let t = fx.codes.dim(2).unwrap();
    let whole = dec.forward(&fx.codes).unwrap();
    check("whole decode vs reference", &whole, &fx.audio);

    let mut chunkings: Vec<(String, Vec<usize>)> = [1, 2, 3, 4, 7]
        .iter()
        .map(|&n| (format!("chunks of {n}"), even_chunks(t, n)))
        .collect();
    for seed in 1..=5u64 {
        let sizes = random_chunks(t, 6, seed * 0x9E37_79B9);
        chunkings.push((format!("random {sizes:?}"), sizes));
    }
    chunkings.push(("one chunk".into(), vec![t]));

    for (name, sizes) in &chunkings {
        let mut state = dec.new_state();
        let got = decode_in_chunks(dec, &fx.codes, sizes, &mut state);
        assert_eq!(
            got.dim(2).unwrap(),
            t * dec.total_upsample(),
            "{name}: length"
        );
        check(&format!("{name} vs whole"), &got, &whole);
        check(&format!("{name} vs reference"), &got, &fx.audio);
    }
}

#[test]
fn u32_codes_and_empty_chunks() {
    let fx = fixture();
    let dec = &fx.decoder;
    let t = fx.codes.dim(2).unwrap();
    let codes = fx.codes.to_dtype(DType::U32).unwrap();
    let mut state = dec.new_state();
    let mut out = Vec::new();
    for (i, s) in even_chunks(t, 3).into_iter().enumerate() {
        let start = i * 3;
        // An empty chunk yields no audio and leaves the stream where it is.
        let empty = dec
            .decode_chunk(&codes.narrow(2, start, 0).unwrap(), &mut state)
            .unwrap();
        assert_eq!(empty.dims(), [1, 1, 0]);
        assert_eq!(state.frames(), start);
        out.push(
            dec.decode_chunk(&codes.narrow(2, start, s).unwrap(), &mut state)
                .unwrap(),
        );
    }
    check(
        "u32 codes, chunks of 3 (+ empty ones)",
        &Tensor::cat(&out, 2).unwrap(),
        &fx.audio,
    );
}

#[test]
fn reset_starts_a_new_stream() {
    let fx = fixture();
    let dec = &fx.decoder;
    let t = fx.codes.dim(2).unwrap();
    let b_codes = other_codes(&fx.codes, dec.config().codebook_size as i64);
    let sizes = random_chunks(t, 5, 42);

    let mut state = dec.new_state();
    decode_in_chunks(dec, &fx.codes, &sizes, &mut state);
    state.reset();
    assert_eq!(state.frames(), 0);
    let after_reset = decode_in_chunks(dec, &b_codes, &sizes, &mut state);
    let fresh = decode_in_chunks(dec, &b_codes, &sizes, &mut dec.new_state());
    assert_eq!(
        tensor_values(&after_reset),
        tensor_values(&fresh),
        "a reset state must decode like a new one"
    );
    check(
        "stream B after reset vs whole B",
        &after_reset,
        &dec.forward(&b_codes).unwrap(),
    );

    // A reset also frees the batch size for the next stream.
    let pair = Tensor::cat(&[&fx.codes, &b_codes], 0).unwrap();
    state.reset();
    dec.decode_chunk(&pair.narrow(2, 0, 2).unwrap(), &mut state)
        .unwrap();
}

#[test]
fn a_batch_of_two_streams_matches_each_alone() {
    let fx = fixture();
    let dec = &fx.decoder;
    let t = fx.codes.dim(2).unwrap();
    let b_codes = other_codes(&fx.codes, dec.config().codebook_size as i64);
    let pair = Tensor::cat(&[&fx.codes, &b_codes], 0).unwrap();
    let alone_b = dec.forward(&b_codes).unwrap();

    let whole = dec.forward(&pair).unwrap();
    check(
        "batch whole, stream 0",
        &whole.narrow(0, 0, 1).unwrap(),
        &fx.audio,
    );
    check(
        "batch whole, stream 1",
        &whole.narrow(0, 1, 1).unwrap(),
        &alone_b,
    );

    for size in [1, 3, 7] {
        let mut state = dec.new_state();
        let got = decode_in_chunks(dec, &pair, &even_chunks(t, size), &mut state);
        check(
            &format!("batch chunks of {size}, stream 0"),
            &got.narrow(0, 0, 1).unwrap(),
            &fx.audio,
        );
        check(
            &format!("batch chunks of {size}, stream 1"),
            &got.narrow(0, 1, 1).unwrap(),
            &alone_b,
        );
        // The batch size is the stream's: a single stream's chunk is refused.
        assert!(dec
            .decode_chunk(&fx.codes.narrow(2, 0, 1).unwrap(), &mut state)
            .is_err());
    }
}

#[test]
fn blocked_pre_transformer_equals_the_full_mask() {
    // Long enough for several attention blocks of the whole-clip forward.
    let fx = fixture();
    let pt = fx.decoder.pre_transformer();
    let latent = fx.decoder.config().latent_dim;
    let t = 2 * ishowtts::models::qwen3_tts::decoder::transformer::ATTENTION_BLOCK + 37;
    let x = Tensor::randn(0f32, 1.0, (2, t, latent), &Device::Cpu).unwrap();
    let (cos, sin, mask) = pt.position_inputs(t, &Device::Cpu).unwrap();
    let mut h = pt.input_proj(&x).unwrap();
    for layer in pt.layers() {
        h = layer.forward(&h, &cos, &sin, &mask).unwrap();
    }
    let full = pt.output(&h).unwrap();
    check(
        &format!("pre-transformer, {t} frames, blocked"),
        &pt.forward(&x).unwrap(),
        &full,
    );
    let mut state = pt.new_state();
    let steps: Vec<Tensor> = random_chunks(t, 40, 7)
        .into_iter()
        .scan(0, |start, n| {
            let chunk = x.narrow(1, *start, n).unwrap();
            *start += n;
            Some(pt.step(&chunk, &mut state).unwrap())
        })
        .collect();
    check(
        &format!("pre-transformer, {t} frames, streamed"),
        &Tensor::cat(&steps, 1).unwrap(),
        &full,
    );
}

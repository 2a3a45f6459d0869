//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ishowtts::candle::{DType, Tensor};
use ishowtts::engine::{Chunk, Engine, EngineConfig, RequestOptions, VoiceSpec};

/// The repository root (these helpers also serve the tests of the
/// workspace's other crates, one folder down).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if manifest.join("Cargo.lock").exists() {
        manifest
    } else {
        manifest
            .parent()
            .expect("a workspace member's parent")
            .to_path_buf()
    }
}

/// The default voice installed by scripts/setup.sh.
pub fn voice_path() -> PathBuf {
    let p = std::env::var_os("ISHOWTTS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models"))
        .join("en_US-joe-medium.onnx");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/setup.sh first",
        p.display()
    );
    p
}

/// An engine with the default voice registered as "joe".
pub fn piper_engine() -> Engine {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    engine
        .add_voice("joe", VoiceSpec::piper(voice_path()).unwrap())
        .unwrap();
    engine
}

/// Every chunk of a request, in order (panics on an error).
pub fn collect(engine: &Engine, text: &str, opts: &RequestOptions) -> Vec<Chunk> {
    engine
        .stream(text, opts)
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
}

/// A fixture file under tests/fixtures/piper.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/piper").join(name)
}

/// Reads little-endian f32 samples.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Reads a JSON fixture.
pub fn read_json(name: &str) -> serde_json::Value {
    let p = fixture(name);
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .expect("valid JSON")
}

/// Integer array from JSON.
pub fn ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect()
}

/// Largest absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A 16-bit mono WAV file in memory: `seconds` of a voiced-like tone
/// (harmonics of 140 Hz with a syllable-rate envelope) at `rate`, for
/// reference recordings of cloning models.
pub fn tone_wav(seconds: f32, rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for i in 0..(seconds * rate as f32) as usize {
            let t = i as f32 / rate as f32;
            let env = (std::f32::consts::PI * 4.0 * t).sin().abs();
            let v: f32 = (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            w.write_sample((0.2 * env * v * i16::MAX as f32) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

/// Tensor `name` of a parity fixture's `io.safetensors`.
pub fn io_tensor<'a>(io: &'a HashMap<String, Tensor>, name: &str) -> &'a Tensor {
    io.get(name)
        .unwrap_or_else(|| panic!("fixture has no tensor {name}"))
}

/// The values of `t`, flattened, in f32.
pub fn tensor_values(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// `max|a - b| / max(max|b|, 1e-6)`.
pub fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let diff = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().map(|b| b.abs()).fold(0.0f32, f32::max);
    diff / scale.max(1e-6)
}

/// Prints the relative error of `got` against `want` and checks it is at
/// most `tol` (shapes first).
pub fn check_rel(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let err = rel_err(&tensor_values(got), &tensor_values(want));
    eprintln!("{what:<40} {:?}  rel err {err:.2e}", want.dims());
    assert!(err <= tol, "{what}: relative error {err:.3e} > {tol:e}");
}

/// What a request's chunks must hold whether a model delivers whole
/// sentences or pieces of them: offsets contiguous, sentences in order
/// with their span (the same on each piece of one), `ends_sentence` on the
/// last piece of each, `is_last` on the final chunk only.
pub fn check_chunk_metadata(text: &str, chunks: &[ishowtts::engine::Chunk]) {
    assert!(!chunks.is_empty(), "no chunks");
    let mut offset = 0;
    let mut sentence = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.sample_offset, offset, "chunk {i}");
        offset += c.samples.len() as u64;
        assert_eq!(c.sentence_index, sentence, "chunk {i}");
        assert!(!text[c.text_span.clone()].trim().is_empty(), "chunk {i}");
        if i > 0 && chunks[i - 1].sentence_index == c.sentence_index {
            assert_eq!(chunks[i - 1].text_span, c.text_span, "chunk {i}");
        }
        assert_eq!(c.is_last, i + 1 == chunks.len(), "chunk {i}");
        if c.ends_sentence {
            sentence += 1;
        }
    }
    assert!(chunks.last().unwrap().ends_sentence);
}

/// The Qwen3-TTS fixture set: `$ISHOWTTS_QWEN3_FIXTURES` (a set
/// regenerated with `scripts/qwen3_fixtures.sh --seed S --out DIR`), else
/// the committed `tests/fixtures/qwen3`.
pub fn qwen3_fixtures() -> PathBuf {
    std::env::var_os("ISHOWTTS_QWEN3_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/fixtures/qwen3"))
}

/// One part (`talker`, `decoder`) of the Qwen3-TTS fixture set
/// ([`qwen3_fixtures`]).
pub struct Qwen3Fixture {
    /// Its `config.json`.
    pub config: PathBuf,
    /// Its weights, f32 on the CPU.
    pub vb: candle_nn::VarBuilder<'static>,
    /// The reference's recorded tensors (`io.safetensors`).
    pub io: HashMap<String, Tensor>,
}

/// Loads fixture part `part`; a missing file fails the test, naming it.
pub fn qwen3_fixture(part: &str) -> Qwen3Fixture {
    let dir = qwen3_fixtures().join(part);
    let files = ["config.json", "model.safetensors", "io.safetensors"].map(|f| dir.join(f));
    if let Some(missing) = files.iter().find(|p| !p.is_file()) {
        panic!(
            "fixture {} is missing: run `bash scripts/qwen3_fixtures.sh` (or fix ISHOWTTS_QWEN3_FIXTURES)",
            missing.display()
        );
    }
    let dev = candle_core::Device::Cpu;
    let weights = candle_core::safetensors::load(&files[1], &dev).unwrap();
    let [config, _, io] = files;
    Qwen3Fixture {
        config,
        vb: candle_nn::VarBuilder::from_tensors(weights, DType::F32, &dev),
        io: candle_core::safetensors::load(&io, &dev).unwrap(),
    }
}

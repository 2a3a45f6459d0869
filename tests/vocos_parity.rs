//! Numerical parity of the audio transforms and Vocos with the PyTorch
//! reference (`tests/fixtures/f5/`, written by `scripts/f5_fixtures.py`):
//! the F5 mel spectrogram (torchaudio), the STFT/ISTFT, and Vocos at tiny
//! size (published-format `pytorch_model.bin`) and at full size (synthetic
//! weights regenerated from the manifest).
//!
//! Every tensor must match with a relative error
//! `max|a - b| / max(max|b|, 1e-6)` of at most 1e-4 (f32). Each figure is
//! printed (`cargo test --release --test vocos_parity -- --nocapture`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor};
use ishowtts::audio::stft::{Istft, IstftPadding, Stft};
use ishowtts::models::f5::mel::{MelSpectrogram, MelSpectrogramConfig, VOCOS_LOG_FLOOR};
use ishowtts::models::synthetic::Manifest;
use ishowtts::models::vocos::{Vocos, VocosConfig};

mod common;
use common::{check_rel, io_tensor, rel_err, tensor_values};

const TOLERANCE: f32 = 1e-4;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/f5")
}

/// The fixture's tensors, or `None` (with a loud message) when the file is
/// missing: regenerate with `bash scripts/f5_fixtures.sh`.
fn load_io(path: &Path) -> Option<HashMap<String, Tensor>> {
    if !path.is_file() {
        eprintln!(
            "\n!!!!! SKIPPED: fixture {} is missing; run `bash scripts/f5_fixtures.sh` !!!!!\n",
            path.display()
        );
        return None;
    }
    Some(candle_core::safetensors::load(path, &Device::Cpu).expect("readable safetensors"))
}

fn check_vec(what: &str, got: &[f32], want: &Tensor) {
    let got = Tensor::from_slice(got, want.dims(), &Device::Cpu)
        .unwrap_or_else(|_| panic!("{what}: {} samples, want {:?}", got.len(), want.dims()));
    check_rel(what, &got, want, TOLERANCE);
}

#[test]
fn mel_matches_f5_melspec() {
    let Some(io) = load_io(&fixtures().join("mel/io.safetensors")) else {
        return;
    };
    let audio = tensor_values(io_tensor(&io, "mel.audio"));
    let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
    let got = mel.forward(&audio, &Device::Cpu).unwrap();
    check_rel(
        "mel.out (F5 MelSpec, floor 1e-5)",
        &got,
        io_tensor(&io, "mel.out"),
        TOLERANCE,
    );

    if let Some(want) = io.get("mel.vocos_features") {
        let vocos_mel = MelSpectrogram::from_config(&MelSpectrogramConfig {
            log_floor: VOCOS_LOG_FLOOR,
            ..Default::default()
        })
        .unwrap();
        let got = vocos_mel.forward(&audio, &Device::Cpu).unwrap();
        check_rel("mel.vocos_features (floor 1e-7)", &got, want, TOLERANCE);
    }
}

/// Vocos against one fixture directory: every intermediate tensor, the
/// ISTFT alone (on the reference head output) and the whole decode.
fn vocos_parity(name: &str, vocos: &Vocos, io: &HashMap<String, Tensor>) {
    let mel = io_tensor(io, "vocos.mel");
    if let Some(want) = io.get("vocos.embed_out") {
        let got = vocos.backbone().embed().forward(mel).unwrap();
        check_rel(&format!("{name} vocos.embed_out"), &got, want, TOLERANCE);
    }
    let features = vocos.backbone_forward(mel).unwrap();
    check_rel(
        &format!("{name} vocos.backbone_out"),
        &features,
        io_tensor(io, "vocos.backbone_out"),
        TOLERANCE,
    );
    let want_audio = io_tensor(io, "vocos.audio");
    if let Some(want) = io.get("vocos.head_linear_out") {
        let got = vocos.head().spectrum_params(&features).unwrap();
        check_rel(
            &format!("{name} vocos.head_linear_out"),
            &got,
            want,
            TOLERANCE,
        );
        // The ISTFT alone, fed the reference's own head output.
        let audio = vocos.head().params_to_samples(want).unwrap();
        check_vec(
            &format!("{name} ISTFT(reference head) vs vocos.audio"),
            &audio[0],
            want_audio,
        );
    }
    let audio = vocos.decode(mel).unwrap();
    assert_eq!(audio.len(), vocos.output_len(mel.dim(2).unwrap()));
    check_vec(&format!("{name} vocos.audio (decode)"), &audio, want_audio);
}

#[test]
fn vocos_tiny_matches_pytorch() {
    let dir = fixtures().join("vocos_tiny");
    let Some(io) = load_io(&dir.join("io.safetensors")) else {
        return;
    };
    // Loads config.yaml + pytorch_model.bin (the published layout).
    let vocos = Vocos::load(&dir, &Device::Cpu).unwrap();
    assert_eq!(vocos.config().backbone.init_args.dim, 64);
    vocos_parity("tiny", &vocos, &io);

    // The same weights as model.safetensors (preferred by `load`) decode
    // the same.
    let tmp = std::env::temp_dir().join(format!("ishowtts-vocos-tiny-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(dir.join("config.yaml"), tmp.join("config.yaml")).unwrap();
    let tensors: HashMap<String, Tensor> =
        candle_core::pickle::read_all(dir.join("pytorch_model.bin"))
            .unwrap()
            .into_iter()
            .collect();
    candle_core::safetensors::save(&tensors, tmp.join("model.safetensors")).unwrap();
    let from_st = Vocos::load(&tmp, &Device::Cpu).unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    let mel = io_tensor(&io, "vocos.mel");
    assert_eq!(from_st.decode(mel).unwrap(), vocos.decode(mel).unwrap());
}

fn full_vocos() -> Option<(Vocos, HashMap<String, Tensor>)> {
    let dir = fixtures().join("vocos_full");
    let io = load_io(&dir.join("io.safetensors"))?;
    let config = VocosConfig::from_file(dir.join("config.yaml")).unwrap();
    let manifest = Manifest::from_file(dir.join("manifest.json")).unwrap();
    let vb = manifest.var_builder(DType::F32, &Device::Cpu).unwrap();
    Some((Vocos::new(&config, vb).unwrap(), io))
}

#[test]
fn vocos_full_matches_pytorch() {
    let Some((vocos, io)) = full_vocos() else {
        return;
    };
    assert_eq!(vocos.config(), &VocosConfig::mel_24khz());
    vocos_parity("full", &vocos, &io);
}

#[test]
fn stft_then_istft_reconstructs() {
    // 10 s of two tones and noise at 24 kHz, Vocos' transform sizes.
    let mut state = 7u64;
    let x: Vec<f32> = (0..240_000)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let t = i as f32 / 24_000.0;
            0.4 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.3 * (2.0 * std::f32::consts::PI * 5_000.0 * t).sin()
                + 0.1 * noise
        })
        .collect();
    let spec = Stft::new(1024, 256, 1024).unwrap().forward(&x).unwrap();
    let istft = Istft::new(1024, 256, 1024, IstftPadding::Center).unwrap();
    let y = istft.inverse(&spec).unwrap();
    assert_eq!(y.len(), 256 * (spec.n_frames - 1));
    let err = rel_err(&y, &x[..y.len()]);
    eprintln!("STFT -> ISTFT round trip, 10 s: rel err {err:.2e}");
    assert!(err < 1e-5);
}

/// Best of `n` runs of `f`, in milliseconds.
fn best_ms<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut out = None;
    for _ in 0..n {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
        out = Some(v);
    }
    (best, out.expect("n > 0"))
}

/// Not an assertion: how long the mel and a full-size decode take for
/// 10 s of audio, best of 3 (run in release mode for meaningful figures).
#[test]
fn timing_10s() {
    let audio: Vec<f32> = (0..240_000)
        .map(|i| (i as f32 * 0.05).sin() * 0.3)
        .collect();
    let mel = MelSpectrogram::new(24_000, 1024, 256, 1024, 100).unwrap();
    let (mel_ms, m) = best_ms(3, || mel.forward(&audio, &Device::Cpu).unwrap());
    eprintln!(
        "timing: mel of 10 s ({} frames): {mel_ms:.2} ms",
        m.dim(2).unwrap()
    );
    let Some((vocos, _)) = full_vocos() else {
        return;
    };
    let (decode_ms, wav) = best_ms(3, || vocos.decode(&m).unwrap());
    let (backbone_ms, features) = best_ms(3, || vocos.backbone_forward(&m).unwrap());
    let (linear_ms, params) = best_ms(3, || vocos.head().spectrum_params(&features).unwrap());
    let (istft_ms, _) = best_ms(3, || vocos.head().params_to_samples(&params).unwrap());
    eprintln!(
        "timing: Vocos (full size) decode of 10 s: {decode_ms:.1} ms (backbone {backbone_ms:.1}, \
         head linear {linear_ms:.1}, ISTFT {istft_ms:.1}); {} samples, {} threads",
        wav.len(),
        rayon::current_num_threads()
    );
}

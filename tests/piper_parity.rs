//! The VITS port against onnxruntime on the same voice and ids, with zero
//! noise (scales [0, 1, 0]): equal length, max abs difference <= 1e-3.

mod common;

use candle_core::{Device, Tensor};
use ishowtts::{PiperVoice, SynthesisParams};

const TOLERANCE: f32 = 1e-3;

fn zero_noise() -> SynthesisParams {
    SynthesisParams {
        noise_scale: Some(0.0),
        length_scale: Some(1.0),
        noise_w: Some(0.0),
        ..Default::default()
    }
}

#[test]
fn waveforms_match_onnxruntime() {
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let cases = common::read_json("waveforms.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let ids = common::ids(&case["ids"]);
        let want = common::read_f32(&common::fixture(case["samples"].as_str().unwrap()));
        let got = voice.synthesize_ids(&ids, &zero_noise()).unwrap();
        assert_eq!(got.len(), want.len(), "length differs for {}", case["text"]);
        let diff = common::max_abs_diff(&got, &want);
        eprintln!(
            "{}: {} samples, max abs diff {diff:.2e}",
            case["text"],
            got.len()
        );
        assert!(
            diff <= TOLERANCE,
            "max abs diff {diff} for {}",
            case["text"]
        );
    }
}

#[test]
fn text_to_waveform_matches_onnxruntime() {
    // the full path: text -> phonemes -> ids -> audio
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let case = &common::read_json("waveforms.json")[1];
    let want = common::read_f32(&common::fixture(case["samples"].as_str().unwrap()));
    let mut sentences = voice
        .synthesize(case["text"].as_str().unwrap(), &zero_noise())
        .unwrap();
    let first = sentences.next().unwrap().unwrap();
    assert_eq!(first.phoneme_ids, common::ids(&case["ids"]));
    assert!(common::max_abs_diff(&first.samples, &want) <= TOLERANCE);
    assert!(sentences.next().is_none());
}

#[test]
fn decoder_alone_matches_onnxruntime() {
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let meta = common::read_json("decoder.json");
    let shape: Vec<usize> = meta["z_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let z = Tensor::from_vec(
        common::read_f32(&common::fixture("decoder_z.f32")),
        shape,
        &Device::Cpu,
    )
    .unwrap();
    let want = common::read_f32(&common::fixture("decoder_audio.f32"));
    let got = voice
        .synthesizer()
        .decode(&z)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let diff = common::max_abs_diff(&got, &want);
    assert!(diff <= TOLERANCE, "decoder max abs diff {diff}");
}

#[test]
fn seeded_noise_is_reproducible_and_varies() {
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let ids = common::ids(&common::read_json("waveforms.json")[0]["ids"]);
    let p = |seed| SynthesisParams {
        seed: Some(seed),
        ..Default::default()
    };
    let a = voice.synthesize_ids(&ids, &p(1)).unwrap();
    let b = voice.synthesize_ids(&ids, &p(1)).unwrap();
    let c = voice.synthesize_ids(&ids, &p(2)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
}

#[test]
fn length_scale_stretches_speech() {
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let ids = common::ids(&common::read_json("waveforms.json")[1]["ids"]);
    let slow = SynthesisParams {
        length_scale: Some(1.5),
        ..zero_noise()
    };
    let normal = voice.synthesize_ids(&ids, &zero_noise()).unwrap();
    let slower = voice.synthesize_ids(&ids, &slow).unwrap();
    let ratio = slower.len() as f64 / normal.len() as f64;
    assert!((1.35..1.65).contains(&ratio), "ratio {ratio}");
}

//! Bad input gets a specific error, never a panic, and the voice stays
//! usable afterwards.

mod common;

use std::path::{Path, PathBuf};

use ishowtts::{Error, PiperVoice, SynthesisParams};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ishowtts-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A copy of the default voice with its model replaced by `bytes`.
fn voice_with_model(name: &str, bytes: &[u8]) -> PathBuf {
    let model = scratch(&format!("{name}.onnx"));
    std::fs::write(&model, bytes).unwrap();
    std::fs::copy(
        common::voice_path().with_extension("onnx.json"),
        scratch(&format!("{name}.onnx.json")),
    )
    .unwrap();
    model
}

fn load_err(model: &Path) -> Error {
    PiperVoice::load(model).expect_err("loading should fail")
}

#[test]
fn missing_model_file() {
    let err = load_err(Path::new("/nonexistent/voice.onnx"));
    assert!(matches!(err, Error::VoiceNotFound(_)), "{err}");
    assert!(err.to_string().contains("/nonexistent/voice.onnx"));
}

#[test]
fn corrupt_and_truncated_models() {
    let real = std::fs::read(common::voice_path()).unwrap();
    for (name, bytes) in [
        ("empty", Vec::new()),
        (
            "garbage",
            b"this is not an onnx file at all \xff\xfe".to_vec(),
        ),
        ("truncated-head", real[..1000].to_vec()),
        ("truncated-half", real[..real.len() / 2].to_vec()),
        ("truncated-end", real[..real.len() - 10].to_vec()),
    ] {
        let err = load_err(&voice_with_model(name, &bytes));
        assert!(matches!(err, Error::OnnxFormat { .. }), "{name}: {err}");
        assert!(
            err.to_string().contains("corrupt") || err.to_string().contains("empty"),
            "{name}: {err}"
        );
    }
}

#[test]
fn valid_onnx_that_is_not_a_piper_voice() {
    use ishowtts::models::piper::onnx::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
    use prost::Message;
    let model = ModelProto {
        ir_version: 8,
        producer_name: "test".into(),
        graph: Some(GraphProto {
            node: vec![NodeProto {
                input: vec!["x".into()],
                output: vec!["y".into()],
                name: "/Relu".into(),
                op_type: "Relu".into(),
                ..Default::default()
            }],
            input: vec![ValueInfoProto { name: "x".into() }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = load_err(&voice_with_model("not-piper", &model.encode_to_vec()));
    assert!(matches!(err, Error::NotPiperVoice { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("enc_p.emb.weight") && msg.contains("input"),
        "{msg}"
    );
}

#[test]
fn missing_or_malformed_config() {
    let model = scratch("cfg-test.onnx");
    std::fs::copy(common::voice_path(), &model).unwrap();
    let cfg = scratch("cfg-test.onnx.json");
    let _ = std::fs::remove_file(&cfg);
    let err = load_err(&model);
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("cfg-test.onnx.json"), "{err}");

    for (what, text) in [
        ("not json", "{ this is not json"),
        (
            "no phoneme map",
            r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}}"#,
        ),
        (
            "no pad symbol",
            r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "phoneme_id_map": {"^": [1], "$": [2]}}"#,
        ),
        (
            "id out of vocabulary",
            r#"{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}, "phoneme_id_map": {"_": [0], "^": [1], "$": [2], "a": [9999]}}"#,
        ),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let err = load_err(&model);
        assert!(matches!(err, Error::VoiceConfig { .. }), "{what}: {err}");
    }
}

fn voice() -> &'static PiperVoice {
    static VOICE: std::sync::OnceLock<PiperVoice> = std::sync::OnceLock::new();
    VOICE.get_or_init(|| PiperVoice::load(common::voice_path()).unwrap())
}

fn still_works(v: &PiperVoice) {
    let out: Vec<_> = v
        .synthesize(
            "Still working.",
            &SynthesisParams {
                seed: Some(1),
                ..Default::default()
            },
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].samples.len() > 5000);
}

#[test]
fn empty_and_whitespace_text() {
    let v = voice();
    for text in ["", "   ", "\n\t \r\n"] {
        let err = v
            .synthesize(text, &SynthesisParams::default())
            .err()
            .expect("error");
        assert!(matches!(err, Error::EmptyText), "{err}");
    }
    still_works(v);
}

#[test]
fn invalid_parameters() {
    let v = voice();
    let cases = [
        SynthesisParams {
            length_scale: Some(f32::NAN),
            ..Default::default()
        },
        SynthesisParams {
            length_scale: Some(-1.0),
            ..Default::default()
        },
        SynthesisParams {
            noise_scale: Some(f32::NAN),
            ..Default::default()
        },
        SynthesisParams {
            noise_scale: Some(-0.5),
            ..Default::default()
        },
        SynthesisParams {
            noise_w: Some(f32::NEG_INFINITY),
            ..Default::default()
        },
    ];
    for p in cases {
        let err = v.synthesize("Hello.", &p).err().expect("error");
        assert!(
            matches!(err, Error::InvalidParameter { .. }),
            "{p:?}: {err}"
        );
        let err = v.synthesize_ids(&[1, 0, 20, 0, 2], &p).unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { .. }),
            "{p:?}: {err}"
        );
    }
    for id in [-1, 1, 5000] {
        let p = SynthesisParams {
            speaker_id: Some(id),
            ..Default::default()
        };
        let err = v.synthesize("Hello.", &p).err().expect("error");
        assert!(
            matches!(
                err,
                Error::SpeakerOutOfRange {
                    num_speakers: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
    still_works(v);
}

#[test]
fn unspeakable_symbols_control_characters_and_emoji() {
    let v = voice();
    // symbols with no phonemes are skipped, the rest is spoken
    let out: Vec<_> = v
        .synthesize(
            "\u{7}\u{1b}[31m 🍕🍕 Hello \u{200b}there!",
            &SynthesisParams::default(),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!out.is_empty());
    // phonemes missing from the voice's map are skipped (and logged)
    let ids = v.phonemes_to_ids(&["h".into(), "ə".into(), "☃".into()]);
    assert_eq!(ids, vec![1, 0, 20, 0, 59, 0, 2]);
    // ids outside the vocabulary are an error, not a panic
    let err = v
        .synthesize_ids(&[1, 0, 9999, 0, 2], &SynthesisParams::default())
        .unwrap_err();
    assert!(err.to_string().contains("9999"), "{err}");
    still_works(v);
}

#[test]
fn a_megabyte_of_text_streams_with_bounded_memory() {
    let v = voice();
    let sentence = "This sentence is repeated many times to make a very long text. ";
    let text = sentence.repeat(1_000_000 / sentence.len() + 1);
    let start = std::time::Instant::now();
    let mut stream = v
        .synthesize(
            &text,
            &SynthesisParams {
                seed: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
    // the first sentence comes after one block, not after the whole megabyte
    let first = stream.next().unwrap().unwrap();
    assert!(
        start.elapsed().as_secs_f64() < 10.0,
        "first sentence after {:?}",
        start.elapsed()
    );
    assert_eq!(first.index, 0);
    for i in 1..4 {
        assert_eq!(stream.next().unwrap().unwrap().index, i);
    }
}

#[test]
fn a_run_on_sentence_is_cut() {
    // no terminator for thousands of words: cut into bounded pieces
    let v = voice();
    let text = "and then it went on ".repeat(300);
    let mut stream = v
        .synthesize(
            &text,
            &SynthesisParams {
                seed: Some(4),
                ..Default::default()
            },
        )
        .unwrap();
    let first = stream.next().unwrap().unwrap();
    assert!(
        first.phoneme_ids.len() <= 2 * ishowtts::models::piper::voice::MAX_SENTENCE_PHONEMES + 3
    );
}

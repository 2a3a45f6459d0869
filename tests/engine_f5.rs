//! F5-TTS through the engine: a voice cloned from a reference recording,
//! streamed sentence by sentence, seeded, cancelled, cached, with bad
//! references and options refused. Uses the tiny random-weight model of
//! the parity fixtures (tests/fixtures/f5), so the audio is not speech,
//! but every stage of the real pipeline runs.

use std::path::{Path, PathBuf};

use ishowtts::engine::{
    Engine, EngineConfig, Reference, RequestOptions, SynthesisOptions, VoiceSpec,
};
use ishowtts::models::f5::backend::F5Paths;
use ishowtts::models::f5::config::Variant;
use ishowtts::{Error, ErrorCode};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/f5")
}

fn tiny_paths() -> F5Paths {
    let f = fixtures();
    F5Paths {
        checkpoint: Some(f.join("tiny_v1/F5TTS_tiny")),
        variant: Variant::V1Base,
        config: Some(f.join("tiny_v1/config.json")),
        vocoder: Some(f.join("vocos_tiny")),
    }
}

/// A WAV file in memory: `seconds` of a voiced-like tone (harmonics with a
/// syllable-rate envelope), stereo at `rate`.
fn reference_wav(seconds: f32, rate: u32, channels: u16) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        let n = (seconds * rate as f32) as usize;
        for i in 0..n {
            let t = i as f32 / rate as f32;
            let env = (std::f32::consts::PI * 4.0 * t).sin().abs();
            let v: f32 = (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * 140.0 * h as f32 * t).sin() / h as f32)
                .sum();
            let s = (0.2 * env * v * i16::MAX as f32) as i16;
            for _ in 0..channels {
                w.write_sample(s).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    cursor.into_inner()
}

fn reference() -> Reference {
    Reference {
        audio: reference_wav(2.5, 44_100, 2).into(),
        text: "This is how my voice sounds.".into(),
    }
}

fn engine() -> Engine {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    engine
        .add_voice("clone", VoiceSpec::f5(tiny_paths(), reference()).unwrap())
        .unwrap();
    engine
}

fn opts(seed: u64) -> RequestOptions {
    RequestOptions {
        voice: Some("clone".into()),
        synthesis: SynthesisOptions {
            seed: Some(seed),
            nfe_step: Some(4),
            ..Default::default()
        },
        use_cache: false,
        ..Default::default()
    }
}

#[test]
fn a_cloned_voice_streams_sentence_by_sentence() {
    let engine = engine();
    let text = "Hello there, this is the first sentence. 你好，这是第二句话。";
    let chunks: Vec<_> = engine
        .stream(text, &opts(7))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    assert_eq!(chunks.len(), 2, "one chunk per sentence");
    let mut offset = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.sentence_index, i);
        assert_eq!(c.sample_rate, 24_000);
        assert_eq!(c.sample_offset, offset);
        offset += c.samples.len() as u64;
        let samples = c.samples.to_f32();
        // Duration follows the text (upstream's estimate from the
        // reference's pace): well over a few frames of audio.
        assert!(samples.len() > 24_000 / 2, "{}", samples.len());
        assert!(samples.iter().all(|s| s.is_finite()));
        assert!(samples.iter().any(|s| s.abs() > 1e-4), "not silent");
    }
    assert!(chunks[1].is_last);

    // Same seed, same audio; another seed, other audio.
    let again = engine.synthesize(text, &opts(7)).unwrap();
    let joined: Vec<f32> = chunks.iter().flat_map(|c| c.samples.to_f32()).collect();
    assert_eq!(again.samples.to_f32(), joined);
    let other = engine.synthesize(text, &opts(8)).unwrap();
    assert_ne!(other.samples.to_f32(), joined);

    // The reference was processed once, for all three requests.
    let m = engine.metrics();
    assert_eq!(m.prompt_cache.misses, 1, "{:?}", m.prompt_cache);
    assert!(m.prompt_cache.hits >= 1);
}

#[test]
fn options_change_the_sampling_and_bad_ones_are_refused() {
    let engine = engine();
    let base = engine
        .synthesize("A short test sentence here.", &opts(1))
        .unwrap();
    let mut fixed = opts(1);
    fixed.synthesis.fix_duration = Some(5.0);
    let long = engine
        .synthesize("A short test sentence here.", &fixed)
        .unwrap();
    assert_ne!(
        long.samples.len(),
        base.samples.len(),
        "fix_duration sets the length"
    );
    let bad = [
        SynthesisOptions {
            nfe_step: Some(0),
            ..Default::default()
        },
        SynthesisOptions {
            nfe_step: Some(129),
            ..Default::default()
        },
        SynthesisOptions {
            cfg_strength: Some(f32::NAN),
            ..Default::default()
        },
        SynthesisOptions {
            cfg_strength: Some(-1.0),
            ..Default::default()
        },
        SynthesisOptions {
            speed: Some(f32::NAN),
            ..Default::default()
        },
        SynthesisOptions {
            speed: Some(-2.0),
            ..Default::default()
        },
        SynthesisOptions {
            sway_sampling_coef: Some(f32::INFINITY),
            ..Default::default()
        },
        SynthesisOptions {
            fix_duration: Some(0.0),
            ..Default::default()
        },
    ];
    for synthesis in bad {
        let o = RequestOptions {
            synthesis: synthesis.clone(),
            ..opts(1)
        };
        let err = engine.synthesize("Hello.", &o).unwrap_err();
        assert_eq!(
            err.code(),
            ErrorCode::InvalidParameter,
            "{synthesis:?}: {err}"
        );
    }
    // Text with nothing to say.
    for text in ["😀😀", "…!?"] {
        let err = engine.synthesize(text, &opts(1)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NothingToSpeak, "{text}: {err}");
    }
    // And the engine still speaks.
    assert_eq!(
        engine
            .synthesize("A short test sentence here.", &opts(1))
            .unwrap()
            .samples
            .to_f32(),
        base.samples.to_f32()
    );
}

#[test]
fn cancel_stops_between_flow_steps() {
    let engine = engine();
    let mut o = opts(3);
    o.synthesis.nfe_step = Some(128);
    let text = "This sentence would take a while with many flow steps. And another one follows.";
    let mut stream = engine.stream(text, &o).unwrap();
    let cancel = stream.cancel_handle();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        cancel.cancel();
    });
    let t = std::time::Instant::now();
    let got: Vec<_> = stream.by_ref().collect();
    assert!(got.iter().all(|c| c.is_ok()));
    assert!(got.len() < 2, "cancelled before the end");
    assert!(t.elapsed() < std::time::Duration::from_secs(20));
    // The engine goes on.
    assert!(engine.synthesize("Still here.", &opts(3)).is_ok());
}

#[test]
fn bad_references_and_files_get_specific_errors() {
    let paths = tiny_paths();
    let with = |audio: Vec<u8>, text: &str| {
        VoiceSpec::f5(
            paths.clone(),
            Reference {
                audio: audio.into(),
                text: text.into(),
            },
        )
        .map(|_| ())
    };
    let code = |r: ishowtts::Result<()>| r.unwrap_err().code();
    assert_eq!(code(with(Vec::new(), "Words.")), ErrorCode::ReferenceAudio);
    assert_eq!(
        code(with(reference_wav(31.0, 16_000, 1), "Words.")),
        ErrorCode::ReferenceAudio
    );
    let mut truncated = reference_wav(2.0, 24_000, 1);
    truncated.truncate(30);
    assert_eq!(code(with(truncated, "Words.")), ErrorCode::ReferenceAudio);
    let silent = {
        let mut w = reference_wav(2.0, 24_000, 1);
        w[44..].iter_mut().for_each(|b| *b = 0);
        w
    };
    assert_eq!(code(with(silent, "Words.")), ErrorCode::ReferenceAudio);
    assert_eq!(
        code(with(reference_wav(2.0, 24_000, 1), "")),
        ErrorCode::InvalidText
    );
    assert_eq!(
        code(with(reference_wav(2.0, 24_000, 1), " 😀 ")),
        ErrorCode::InvalidText
    );
    // 96 kHz stereo is fine.
    with(reference_wav(2.0, 96_000, 2), "Words here.").unwrap();

    // Missing files are reported when the voice is made.
    let mut missing = tiny_paths();
    missing.checkpoint = Some(fixtures().join("no/such/dir"));
    let err = VoiceSpec::f5(missing, reference()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::VoiceNotFound, "{err}");
    let mut no_vocoder = tiny_paths();
    no_vocoder.vocoder = Some(fixtures().join("tiny_v1"));
    let err = VoiceSpec::f5(no_vocoder, reference()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::VoiceNotFound, "{err}");

    // A checkpoint whose shape does not fit the config fails to load with
    // an error naming the tensor; the engine goes on with the good voice.
    let engine = engine();
    let mut wrong = tiny_paths();
    wrong.checkpoint = Some(fixtures().join("tiny_base/F5TTS_tiny"));
    wrong.config = Some(fixtures().join("full_v1/config.json"));
    engine
        .add_voice("wrong", VoiceSpec::f5(wrong, reference()).unwrap())
        .unwrap();
    let o = RequestOptions {
        voice: Some("wrong".into()),
        ..opts(1)
    };
    let err = engine.synthesize("Hello there.", &o).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ModelFormat, "{err}");
    assert!(
        err.to_string().contains("transformer."),
        "names the tensor: {err}"
    );
    assert!(matches!(&err, Error::ModelLoad { .. }), "{err:?}");
    engine.synthesize("Hello there.", &opts(1)).unwrap();
}

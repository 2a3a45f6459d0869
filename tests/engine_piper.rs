//! The engine with the real default Piper voice: its output equals the
//! parity-tested voice path, streams per sentence, resamples, and bad
//! input fails with specific errors while the engine keeps working.

mod common;

use common::{collect, piper_engine as engine};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ishowtts::audio::format::{SampleFormat, Samples};
use ishowtts::engine::{Chunk, Engine, RequestOptions, VoiceSpec};
use ishowtts::{ErrorCode, PiperVoice, SynthesisParams};

fn f32s(chunks: &[Chunk]) -> Vec<f32> {
    chunks.iter().flat_map(|c| c.samples.to_f32()).collect()
}

#[test]
fn engine_output_equals_the_voice_path() {
    let text = "The quick brown fox jumps over the lazy dog.";
    let voice = PiperVoice::load(common::voice_path()).unwrap();
    let params = SynthesisParams {
        seed: Some(42),
        ..Default::default()
    };
    let direct: Vec<f32> = voice
        .synthesize(text, &params)
        .unwrap()
        .flat_map(|s| s.unwrap().samples)
        .collect();
    let engine = engine();
    let chunks = collect(&engine, text, &RequestOptions::default().seed(42));
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].sample_rate, 22_050);
    let ours = f32s(&chunks);
    assert_eq!(ours.len(), direct.len());
    let max = ours
        .iter()
        .zip(&direct)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(max < 1e-5, "max abs diff {max}");
}

#[test]
fn two_workers_speak_as_one_does() {
    // Each worker loads its own copy of the voice; a request's audio must
    // not depend on which copy spoke which sentence.
    let texts: [&'static str; 3] = [
        "First message here. It has two sentences.",
        "Second one, a single sentence.",
        "Third: short. Then longer, with a clause or two. End.",
    ];
    let one = engine();
    let want: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| f32s(&collect(&one, t, &RequestOptions::default().seed(7))))
        .collect();
    let two = Arc::new(
        Engine::new(ishowtts::engine::EngineConfig {
            workers: 2,
            ..Default::default()
        })
        .unwrap(),
    );
    two.add_voice("joe", VoiceSpec::piper(common::voice_path()).unwrap())
        .unwrap();
    let threads: Vec<_> = texts
        .into_iter()
        .map(|t| {
            let two = two.clone();
            std::thread::spawn(move || f32s(&collect(&two, t, &RequestOptions::default().seed(7))))
        })
        .collect();
    for (t, want) in threads.into_iter().zip(&want) {
        assert_eq!(&t.join().unwrap(), want);
    }
}

#[test]
fn a_loaded_voice_keeps_speaking_when_its_file_is_moved_away() {
    // A voice given by a path that is not canonical (".."): its model's
    // identity is fixed at registration, so moving the file away after
    // the model loaded neither makes the model unknown to the worker nor
    // sends it looking for the file again (found by the soak run).
    let dir = std::env::temp_dir().join(format!("ishowtts-moved-voice-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let model = dir.join("voice.onnx");
    std::fs::copy(common::voice_path(), &model).unwrap();
    let mut json = common::voice_path().into_os_string();
    json.push(".json");
    std::fs::copy(&json, dir.join("voice.onnx.json")).unwrap();
    let engine = Engine::new(Default::default()).unwrap();
    let spec = VoiceSpec::piper(dir.join("sub/../voice.onnx")).unwrap();
    engine.add_voice("moved", spec).unwrap();
    let opts = RequestOptions::default().seed(3).use_cache(false);
    let before = f32s(&collect(&engine, "One. Two.", &opts));
    std::fs::rename(&model, dir.join("away.onnx")).unwrap();
    let after = f32s(&collect(&engine, "One. Two.", &opts));
    assert_eq!(before, after);
    assert_eq!(engine.metrics().model_loads, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_paragraph_streams_sentence_by_sentence() {
    let engine = engine();
    let text = "Dr. Smith arrived at 3 p.m. on Tuesday. It cost $4.50, he said. Was it worth it?";
    let chunks = collect(&engine, text, &RequestOptions::default().seed(1));
    let spans: Vec<&str> = chunks.iter().map(|c| &text[c.text_span.clone()]).collect();
    assert_eq!(
        spans,
        [
            "Dr. Smith arrived at 3 p.m. on Tuesday.",
            "It cost $4.50, he said.",
            "Was it worth it?"
        ]
    );
    for c in &chunks {
        // About a second or more of speech each, not silence.
        assert!(c.samples.len() > 11_025, "{} samples", c.samples.len());
        let peak = c
            .samples
            .to_f32()
            .iter()
            .fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak > 0.05, "peak {peak}");
    }
    assert!(chunks[2].is_last && !chunks[1].is_last);
}

#[test]
fn seeded_requests_sound_the_same_interleaved_or_alone() {
    let engine = Arc::new(engine());
    let texts = [
        "One sentence here. And another one.",
        "Something else entirely. Yes.",
    ];
    let alone: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            f32s(&collect(
                &engine,
                t,
                &RequestOptions::default().seed(5).use_cache(false),
            ))
        })
        .collect();
    let together: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            let engine = engine.clone();
            let t = t.to_string();
            std::thread::spawn(move || {
                f32s(&collect(
                    &engine,
                    &t,
                    &RequestOptions::default().seed(5).use_cache(false),
                ))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(alone, together);
}

#[test]
fn resampled_i16_output() {
    let engine = engine();
    let text = "Testing the output rate.";
    let base = f32s(&collect(&engine, text, &RequestOptions::default().seed(3)));
    let opts = RequestOptions::default()
        .seed(3)
        .sample_rate(16_000)
        .format(SampleFormat::I16);
    let chunks = collect(&engine, text, &opts);
    assert!(matches!(chunks[0].samples, Samples::I16(_)));
    let n: usize = chunks.iter().map(|c| c.samples.len()).sum();
    let expect = base.len() as f64 * 16_000.0 / 22_050.0;
    assert!((n as f64 - expect).abs() <= 2.0, "{n} vs {expect}");
    let dir = std::env::temp_dir().join(format!("ishowtts-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("out.wav");
    let summary = engine.synthesize_to_wav(text, &opts, &wav).unwrap();
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().sample_rate, 16_000);
    assert_eq!(reader.spec().bits_per_sample, 16);
    assert_eq!(reader.len() as u64, summary.samples);
    std::fs::remove_dir_all(&dir).ok();
}

fn scratch_voice(name: &str, model: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ishowtts-engine-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.onnx"));
    std::fs::write(&path, model).unwrap();
    std::fs::copy(
        common::voice_path().with_extension("onnx.json"),
        dir.join(format!("{name}.onnx.json")),
    )
    .unwrap();
    path
}

#[test]
fn bad_voices_and_requests_fail_specifically_and_the_engine_goes_on() {
    let engine = engine();
    let ok = |engine: &Engine| {
        let chunks = collect(
            engine,
            "Still speaking.",
            &RequestOptions::default().use_cache(false),
        );
        assert!(chunks[0].samples.len() > 5_000);
    };
    let err = VoiceSpec::piper("/nonexistent/voice.onnx").unwrap_err();
    assert_eq!(err.code(), ErrorCode::VoiceNotFound);
    // A corrupt model registers (weights load lazily) and fails at first
    // use with the format error; the good voice is unaffected.
    let bad = scratch_voice("garbage", b"not an onnx file");
    engine
        .add_voice("bad", VoiceSpec::piper(&bad).unwrap())
        .unwrap();
    for _ in 0..2 {
        let mut s = engine
            .stream("Hello.", &RequestOptions::default().voice("bad"))
            .unwrap();
        let err = s.next().unwrap().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ModelFormat, "{err}");
        ok(&engine);
    }
    let m = engine.metrics();
    assert_eq!(m.model_load_failures, 2, "each request retries the load");
    for (opts, code) in [
        (
            RequestOptions::default().speed(f32::NAN),
            ErrorCode::InvalidParameter,
        ),
        (
            RequestOptions::default().speed(100.0),
            ErrorCode::InvalidParameter,
        ),
        (
            RequestOptions {
                synthesis: ishowtts::engine::SynthesisOptions {
                    noise_scale: Some(-1.0),
                    ..Default::default()
                },
                ..Default::default()
            },
            ErrorCode::InvalidParameter,
        ),
        (
            RequestOptions::default().speaker(3),
            ErrorCode::SpeakerOutOfRange,
        ),
        (
            RequestOptions::default().voice("nobody"),
            ErrorCode::VoiceNotFound,
        ),
    ] {
        let err = engine.stream("Hello.", &opts).unwrap_err();
        assert_eq!(err.code(), code, "{opts:?}: {err}");
        ok(&engine);
    }
    for (text, code) in [
        ("", ErrorCode::EmptyText),
        ("   \n ", ErrorCode::EmptyText),
        ("🙂🙂🙂", ErrorCode::NothingToSpeak),
        ("?!…", ErrorCode::NothingToSpeak),
    ] {
        assert_eq!(
            engine.stream(text, &Default::default()).unwrap_err().code(),
            code
        );
        ok(&engine);
    }
}

#[test]
fn megabytes_of_text_stream_and_cancel_promptly() {
    let engine = engine();
    let text = "This is one of very many sentences in a long text. ".repeat(40_000);
    assert!(text.len() > 2_000_000);
    let t = Instant::now();
    let mut stream = engine.stream(&text, &RequestOptions::default()).unwrap();
    let first = stream.next().unwrap().unwrap();
    assert!(first.samples.len() > 10_000);
    let handle = stream.cancel_handle();
    stream.next().unwrap().unwrap();
    handle.cancel();
    assert!(stream.all(|c| c.is_ok()));
    assert!(t.elapsed() < Duration::from_secs(60));
    ok_after(&engine);
}

fn ok_after(engine: &Engine) {
    let chunks = collect(engine, "After the long one.", &Default::default());
    assert_eq!(chunks.len(), 1);
}

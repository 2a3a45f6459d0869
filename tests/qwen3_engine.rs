//! Qwen3-TTS through the engine (the tiny checkpoint `qwen3_tts::tiny`
//! writes from the fixtures, random weights of the real architecture):
//! audio streams a few frames at a time within each sentence, equals the
//! synthesizer driven directly, and the voice kinds, options, caches,
//! budget metric, cancel and bad input behave.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::{DType, Device};
use ishowtts::engine::{
    Chunk, Engine, EngineConfig, Reference, RequestOptions, StreamStatus, VoiceSpec,
};
use ishowtts::models::qwen3_tts::synthesizer::{Qwen3Synthesizer, Qwen3Voice};
use ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint;
use ishowtts::models::qwen3_tts::{
    CheckpointFiles, ChunkPlan, FrameBudget, GenerationParams, Qwen3VoiceConfig, StopReason,
    SAMPLES_PER_FRAME,
};
use ishowtts::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod common;

use common::{check_chunk_metadata, collect, rel_err, tone_wav};

/// A tiny checkpoint of type `kind` (`base`, `custom_voice`,
/// `voice_design`) in a fresh folder named for `test`.
fn tiny_checkpoint(kind: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ishowtts-qwen3-engine-{test}-{kind}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    write_tiny_checkpoint(&common::qwen3_fixtures(), &dir).unwrap();
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["tts_model_type"] = kind.into();
    if kind != "custom_voice" {
        cfg["talker_config"]["spk_id"] = serde_json::json!({});
    }
    std::fs::write(&path, cfg.to_string()).unwrap();
    dir
}

fn reference(seconds: f32) -> Reference {
    Reference {
        audio: tone_wav(seconds, 16_000).into(),
        text: String::new(),
    }
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).unwrap()
}

/// Each sentence spoken by the synthesizer directly, with the seeds the
/// engine draws from a request seeded `seed`: the audio, and whether each
/// sentence ran into its budget.
fn direct(
    synth: &Qwen3Synthesizer,
    sentences: &[&str],
    voice: &Qwen3Voice,
    seed: u64,
) -> (Vec<f32>, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut audio, mut at_budget) = (Vec::new(), 0);
    for text in sentences {
        let params = GenerationParams {
            max_frames: FrameBudget::default().frames(text),
            seed: rng.random(),
            ..GenerationParams::default()
        };
        let mut speech = synth
            .start_sentence(text, voice, params, ChunkPlan::default())
            .unwrap();
        while let Some(c) = speech.next_chunk(&synth.model, &synth.decoder).unwrap() {
            audio.extend(c);
        }
        at_budget += usize::from(speech.stop_reason() == Some(StopReason::Budget));
    }
    (audio, at_budget)
}

#[test]
fn a_cloned_voice_streams_within_sentences_as_the_synthesizer_speaks() {
    let dir = tiny_checkpoint("base", "clone");
    let engine = engine();
    let voice = VoiceSpec::qwen3(
        dir.to_str().unwrap(),
        Qwen3VoiceConfig {
            reference: Some(reference(1.5)),
            ..Default::default()
        },
    )
    .unwrap();
    engine.add_voice("clone", voice).unwrap();
    let text = "Hello there. Nice to meet you today.";
    let opts = RequestOptions::default().seed(11).use_cache(false);
    let chunks = collect(&engine, text, &opts);
    check_chunk_metadata(text, &chunks);
    assert!(
        chunks.len() > 2,
        "{} chunks for two sentences",
        chunks.len()
    );
    for c in chunks
        .iter()
        .filter(|c| c.sample_offset == 0 || c.ends_sentence)
    {
        assert_eq!(c.sample_rate, 24_000);
    }
    // each sentence's first chunk is 4 frames (the default plan), and no
    // sentence is one chunk
    let mut seen = Vec::new();
    for c in &chunks {
        if !seen.contains(&c.sentence_index) {
            seen.push(c.sentence_index);
            assert_eq!(
                c.samples.len(),
                4 * SAMPLES_PER_FRAME,
                "sentence {}",
                c.sentence_index
            );
            assert!(!c.ends_sentence);
        }
    }

    let synth = Qwen3Synthesizer::load(
        &CheckpointFiles::in_dir(&dir).unwrap(),
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    let xvector = synth.speaker_embedding(&reference(1.5).audio).unwrap();
    let sentences: Vec<&str> = chunks
        .iter()
        .filter(|c| c.ends_sentence)
        .map(|c| &text[c.text_span.clone()])
        .collect();
    assert_eq!(sentences, ["Hello there.", "Nice to meet you today."]);
    // a sentence's words come with its last piece, estimated (the model
    // has no durations), spread over the whole sentence's audio
    let mut sentence_start = 0u64;
    for c in &chunks {
        if !c.ends_sentence {
            assert!(c.words.is_empty());
            continue;
        }
        let words: Vec<&str> = c.words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(
            words,
            text[c.text_span.clone()]
                .trim_end_matches('.')
                .split(' ')
                .collect::<Vec<_>>()
        );
        assert!(c.words.iter().all(|w| w.estimated));
        assert_eq!(c.words[0].start, sentence_start);
        let end = c.sample_offset + c.samples.len() as u64;
        assert!(c.words.last().unwrap().end <= end);
        sentence_start = end;
    }
    let (want, at_budget) = direct(&synth, &sentences, &Qwen3Voice::cloned(xvector), 11);
    let got: Vec<f32> = chunks.iter().flat_map(|c| c.samples.to_f32()).collect();
    assert_eq!(got.len(), want.len(), "the same frames");
    let err = rel_err(&got, &want);
    assert!(err <= 1e-5, "engine vs synthesizer: rel err {err}");

    let m = engine.metrics();
    assert_eq!(m.sentences_at_budget as usize, at_budget);
    assert_eq!(m.time_to_first_audio.count, 1);
    assert_eq!(m.sentence_synthesis.count, 2);
    assert_eq!(m.prompt_cache.misses, 1);

    // A second voice of the same clip reuses the x-vector (prompt cache
    // by content) and the loaded model.
    let again = VoiceSpec::qwen3(
        dir.to_str().unwrap(),
        Qwen3VoiceConfig {
            reference: Some(reference(1.5)),
            language: Some("english".into()),
            ..Default::default()
        },
    )
    .unwrap();
    engine.add_voice("clone-en", again).unwrap();
    let opts = RequestOptions::default().voice("clone-en").seed(3);
    let en = collect(&engine, "Good morning.", &opts);
    check_chunk_metadata("Good morning.", &en);
    let m = engine.metrics();
    assert_eq!((m.prompt_cache.misses, m.model_loads), (1, 1), "{m:?}");
    // the output cache replays the same pieces
    let replay = collect(&engine, "Good morning.", &opts);
    assert!(replay.iter().all(|c| c.timings.from_cache));
    assert_eq!(
        replay.iter().map(|c| c.samples.len()).collect::<Vec<_>>(),
        en.iter().map(|c| c.samples.len()).collect::<Vec<_>>()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn named_speakers_languages_and_instructions() {
    let dir = tiny_checkpoint("custom_voice", "named");
    let ckpt = dir.to_str().unwrap();
    let engine = engine();
    let voice = Qwen3VoiceConfig {
        speaker: Some("Tiny_Speaker".into()),
        language: Some("English".into()),
        instruct: Some("Speak calmly.".into()),
        ..Default::default()
    };
    engine
        .add_voice("tiny", VoiceSpec::qwen3(ckpt, voice.clone()).unwrap())
        .unwrap();
    let info = &engine.voices()[0];
    assert_eq!((info.speaker, info.num_speakers), (Some(0), 1));
    let opts = RequestOptions::default().seed(5).use_cache(false);
    let a = collect(&engine, "Hi there.", &opts);
    check_chunk_metadata("Hi there.", &a);
    // seeded: the same audio again; another language, other audio
    assert_eq!(a, {
        let mut b = collect(&engine, "Hi there.", &opts);
        for (x, y) in b.iter_mut().zip(&a) {
            x.request_id = y.request_id;
            x.timings = y.timings;
        }
        b
    });
    let zh = collect(&engine, "Hi there.", &opts.clone().language("chinese"));
    assert_ne!(
        zh.iter()
            .flat_map(|c| c.samples.to_f32())
            .collect::<Vec<_>>(),
        a.iter()
            .flat_map(|c| c.samples.to_f32())
            .collect::<Vec<_>>()
    );

    // bad requests: named errors, and the engine goes on
    for (opts, name) in [
        (opts.clone().language("klingon"), "language"),
        (opts.clone().instruct("x".repeat(1001)), "instruct"),
        (opts.clone().speaker(1), "speaker"),
    ] {
        let err = engine.stream("Hi.", &opts).unwrap_err();
        let msg = err.to_string();
        match err {
            Error::InvalidParameter { name: n, .. } => assert_eq!(n, name),
            Error::SpeakerOutOfRange { .. } => assert_eq!(name, "speaker"),
            other => panic!("{name}: {other}"),
        }
        assert!(!msg.is_empty());
    }
    let mut bad = RequestOptions::default();
    bad.synthesis.temperature = Some(0.0);
    assert!(matches!(
        engine.stream("Hi.", &bad).unwrap_err(),
        Error::InvalidParameter {
            name: "temperature",
            ..
        }
    ));
    check_chunk_metadata("Fine.", &collect(&engine, "Fine.", &opts));

    // bad voices, refused when registered
    let err = VoiceSpec::qwen3(ckpt, Qwen3VoiceConfig::default()).unwrap_err();
    assert!(err.to_string().contains("tiny_speaker"), "{err}");
    let err = VoiceSpec::qwen3(
        ckpt,
        Qwen3VoiceConfig {
            speaker: Some("nobody".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("tiny_speaker"), "{err}");
    let err = VoiceSpec::qwen3(
        ckpt,
        Qwen3VoiceConfig {
            reference: Some(reference(2.0)),
            ..voice.clone()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let err = VoiceSpec::qwen3(
        ckpt,
        Qwen3VoiceConfig {
            language: Some("elvish".into()),
            ..voice
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidParameter {
                name: "language",
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn designed_and_base_voices_need_their_inputs() {
    let design = tiny_checkpoint("voice_design", "design");
    let err = VoiceSpec::qwen3(design.to_str().unwrap(), Qwen3VoiceConfig::default()).unwrap_err();
    assert!(err.to_string().contains("instruction"), "{err}");
    let engine = engine();
    let spec = VoiceSpec::qwen3(
        design.to_str().unwrap(),
        Qwen3VoiceConfig {
            instruct: Some("A deep, slow voice.".into()),
            ..Default::default()
        },
    )
    .unwrap();
    engine.add_voice("designed", spec).unwrap();
    let chunks = collect(&engine, "Welcome.", &RequestOptions::default().seed(1));
    check_chunk_metadata("Welcome.", &chunks);

    let base = tiny_checkpoint("base", "design");
    let ckpt = base.to_str().unwrap();
    let err = VoiceSpec::qwen3(ckpt, Qwen3VoiceConfig::default()).unwrap_err();
    assert!(matches!(err, Error::ReferenceAudio(_)), "{err}");
    for (clip, what) in [(reference(0.1), "under"), (reference(40.0), "limit")] {
        let err = VoiceSpec::qwen3(
            ckpt,
            Qwen3VoiceConfig {
                reference: Some(clip),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
    let err = VoiceSpec::qwen3(
        ckpt,
        Qwen3VoiceConfig {
            reference: Some(reference(1.0)),
            speaker: Some("anyone".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("no built-in speakers"), "{err}");
    let err = VoiceSpec::qwen3("/nonexistent/qwen3", Qwen3VoiceConfig::default()).unwrap_err();
    assert!(matches!(err, Error::VoiceNotFound(_)), "{err}");
    for d in [design, base] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn cancel_takes_effect_between_frames() {
    let dir = tiny_checkpoint("base", "cancel");
    let engine = Arc::new(engine());
    let voice = VoiceSpec::qwen3(
        dir.to_str().unwrap(),
        Qwen3VoiceConfig {
            reference: Some(reference(1.0)),
            ..Default::default()
        },
    )
    .unwrap();
    engine.add_voice("clone", voice).unwrap();
    // a long sentence: a budget of 10 frames per word
    let text = "One two three four five six seven eight nine ten eleven twelve. And more.";
    let mut stream = engine
        .stream(text, &RequestOptions::default().seed(2))
        .unwrap();
    let first = stream.next().unwrap().unwrap();
    assert!(!first.ends_sentence);
    stream.cancel();
    let rest: Vec<Chunk> = stream.by_ref().map(|c| c.unwrap()).collect();
    assert_eq!(stream.status(), StreamStatus::Cancelled);
    // at most the chunks already made before the cancel was seen
    assert!(rest.len() <= 4, "{} chunks after the cancel", rest.len());
    assert!(rest.iter().all(|c| c.sentence_index == 0 && !c.is_last));
    let m = engine.metrics();
    assert_eq!(m.cancelled, 1);
    // the engine goes on
    check_chunk_metadata(
        "Fine.",
        &collect(&engine, "Fine.", &RequestOptions::default()),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

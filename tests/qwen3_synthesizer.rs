//! A whole Qwen3-TTS checkpoint loaded from its upstream file layout (the
//! tiny one `qwen3_tts::tiny` writes from the fixtures): text through the
//! tokenizer, the prompt, generation and the streaming decoder, with the
//! bad inputs the loader and the voice resolution must refuse clearly, and
//! the voice's prompt prefix computed once giving the same audio.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use ishowtts::models::qwen3_tts::synthesizer::{
    Qwen3Speaker, Qwen3Synthesizer, Qwen3Voice, VoicePrefix,
};
use ishowtts::models::qwen3_tts::tiny::write_tiny_checkpoint;
use ishowtts::models::qwen3_tts::{
    CheckpointFiles, ChunkPlan, FrameBudget, GenerationParams, StopReason,
};

mod common;
use common::tone_wav;

fn tiny_checkpoint(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ishowtts-qwen3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fixtures = common::qwen3_fixtures();
    write_tiny_checkpoint(&fixtures, &dir).unwrap();
    dir
}

fn load(dir: &Path) -> Qwen3Synthesizer {
    let files = CheckpointFiles::in_dir(dir).unwrap();
    Qwen3Synthesizer::load(&files, &Device::Cpu, DType::F32).unwrap()
}

fn speak(synth: &Qwen3Synthesizer, text: &str, voice: &Qwen3Voice, seed: u64) -> Vec<Vec<f32>> {
    let params = GenerationParams {
        max_frames: FrameBudget::default().frames(text),
        seed,
        ..GenerationParams::default()
    };
    let mut speech = synth
        .start_sentence(text, voice, params, ChunkPlan::default())
        .unwrap();
    let mut chunks = Vec::new();
    while let Some(c) = speech.next_chunk(&synth.model, &synth.decoder).unwrap() {
        chunks.push(c);
    }
    assert!(speech.stop_reason().is_some());
    chunks
}

#[test]
fn a_checkpoint_speaks_in_chunks() {
    let dir = tiny_checkpoint("speaks");
    let synth = load(&dir);

    let english = synth.language_id("English").unwrap();
    assert!(english.is_some());
    assert_eq!(synth.language_id("auto").unwrap(), None);
    let err = synth.language_id("klingon").unwrap_err().to_string();
    assert!(err.contains("english") && err.contains("chinese"), "{err}");

    assert_eq!(synth.speaker_id("Tiny_Speaker").unwrap(), 264);
    let err = synth.speaker_id("nobody").unwrap_err().to_string();
    assert!(err.contains("tiny_speaker"), "{err}");

    let xvector = synth.speaker_embedding(&tone_wav(1.5, 16_000)).unwrap();
    assert_eq!(xvector.dims(), &[32]);
    let voice = Qwen3Voice {
        language: english,
        ..Qwen3Voice::cloned(xvector)
    };
    assert!(
        !voice.non_streaming,
        "upstream streams a cloned voice's text"
    );
    let text = "Hello there, how are you today?";
    let a = speak(&synth, text, &voice, 3);
    let b = speak(&synth, text, &voice, 3);
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, different audio");
    assert!(a[0].len() <= 4 * 1920, "first chunk over 4 frames");
    assert!(a.iter().all(|c| !c.is_empty() && c.len() % 1920 == 0));
    let samples: usize = a.iter().map(Vec::len).sum();
    assert!(samples <= FrameBudget::default().frames(text) * 1920);
    assert!(a.iter().flatten().all(|x| x.is_finite() && x.abs() <= 1.0));

    // the voice's fixed prefix computed once: the same audio
    let prefix = synth.voice_prefix(&voice).unwrap();
    assert!(!prefix.is_empty());
    for sentence in [text, "A second sentence, with other words."] {
        let params = GenerationParams {
            max_frames: 12,
            seed: 9,
            ..GenerationParams::default()
        };
        let pull = |prefix: Option<&VoicePrefix>| {
            let mut speech = synth
                .start_sentence_with(sentence, &voice, prefix, params, ChunkPlan::default())
                .unwrap();
            let mut audio = Vec::new();
            while let Some(c) = speech.next_chunk(&synth.model, &synth.decoder).unwrap() {
                audio.extend(c);
            }
            (speech.codes().to_vec(), audio)
        };
        let (codes, audio) = pull(None);
        let (cached_codes, cached_audio) = pull(Some(&prefix));
        assert_eq!(codes, cached_codes, "a voice prefix changed the codes");
        let err = common::rel_err(&cached_audio, &audio);
        assert!(err <= 1e-5, "voice prefix: rel err {err}");
    }

    // a named speaker, and Chinese text with the model picking the language
    let named = Qwen3Voice {
        instruct_ids: Some(synth.instruct_ids("Speak slowly.").unwrap()),
        ..Qwen3Voice::named(synth.speaker_id("tiny_speaker").unwrap())
    };
    assert!(named.non_streaming && matches!(named.speaker, Qwen3Speaker::Named(264)));
    assert!(!speak(&synth, "今天天气很好。", &named, 1).is_empty());
    // a prefix of another voice is refused
    let err = synth
        .start_sentence_with(
            text,
            &named,
            Some(&prefix),
            GenerationParams::default(),
            ChunkPlan::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("another voice"), "{err}");

    // a budget of 2 frames ends the sentence there
    let params = GenerationParams {
        max_frames: 2,
        min_new_frames: 2,
        ..GenerationParams::default()
    };
    let mut speech = synth
        .start_sentence(text, &voice, params, ChunkPlan::default())
        .unwrap();
    let chunk = speech
        .next_chunk(&synth.model, &synth.decoder)
        .unwrap()
        .unwrap();
    assert_eq!(chunk.len(), 2 * 1920);
    assert!(speech
        .next_chunk(&synth.model, &synth.decoder)
        .unwrap()
        .is_none());
    assert_eq!(speech.stop_reason(), Some(StopReason::Budget));

    // bad input: empty text, a zero budget, bad reference clips
    let err = synth
        .start_sentence(
            " ",
            &voice,
            GenerationParams::default(),
            ChunkPlan::default(),
        )
        .unwrap_err();
    assert!(matches!(err, ishowtts::Error::EmptyText), "{err}");
    let zero = GenerationParams {
        max_frames: 0,
        ..GenerationParams::default()
    };
    let err = synth
        .start_sentence(text, &voice, zero, ChunkPlan::default())
        .unwrap_err();
    assert!(err.to_string().contains("0 frames"), "{err}");
    for (bytes, what) in [
        (Vec::new(), "empty"),
        (silent_wav(2.0), "silent"),
        (tone_wav(40.0, 8_000), "limit"),
        (tone_wav(0.1, 16_000), "under"),
    ] {
        let err = synth.speaker_embedding(&bytes).unwrap_err();
        assert!(
            matches!(err, ishowtts::Error::ReferenceAudio(_)) && err.to_string().contains(what),
            "{what}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn silent_wav(seconds: f32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for _ in 0..(seconds * 16_000.0) as usize {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

#[test]
fn broken_checkpoints_are_named() {
    let dir = tiny_checkpoint("broken");
    // a missing tensor: the error names it and the file
    let path = dir.join("model.safetensors");
    let mut weights: HashMap<String, Tensor> =
        candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    weights.remove("talker.codec_head.weight");
    candle_core::safetensors::save(&weights, &path).unwrap();
    let files = CheckpointFiles::in_dir(&dir).unwrap();
    let err = Qwen3Synthesizer::load(&files, &Device::Cpu, DType::F32)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("talker.codec_head.weight") && err.contains("model.safetensors"),
        "{err}"
    );

    // a mis-shaped one
    weights.insert(
        "talker.codec_head.weight".into(),
        Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&weights, &path).unwrap();
    let err = Qwen3Synthesizer::load(&files, &Device::Cpu, DType::F32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("talker.codec_head.weight"), "{err}");

    // a missing file
    std::fs::remove_file(dir.join("merges.txt")).unwrap();
    let err = CheckpointFiles::in_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("merges.txt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

//! The Qwen3-TTS prompt and generation loop against the PyTorch reference
//! (`qwen-tts` 0.1.1) on the tiny synthetic fixture
//! `tests/fixtures/qwen3/talker/` (written by `scripts/qwen3_fixtures.py`).
//!
//! Three greedy runs recorded there (`generate`: x-vector, streaming text;
//! `generate_ns`: non-streaming; `generate_icl`: in-context with reference
//! codes): the prompt embeddings, the trailing text and `tts_pad` must match
//! within 1e-4 relative, the codes exactly, and the talker hidden state of
//! every frame within 1e-4. Upstream's `max_new_tokens` 6 yields 5 frames
//! (its last sampled first code is never expanded), so the port runs with a
//! budget of 5 frames.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use ishowtts::models::qwen3_tts::{
    build_prompt, Generation, GenerationParams, PromptRequest, Qwen3TtsConfig, Qwen3TtsModel,
    ReferencePrompt, SamplingParams, SpeakerPrompt, StopReason,
};

use crate::common::{check_rel, io_tensor};

const TOLERANCE: f32 = 1e-4;

fn load() -> (Qwen3TtsModel, HashMap<String, Tensor>) {
    let fx = crate::common::qwen3_fixture("talker");
    let cfg = Qwen3TtsConfig::from_file(&fx.config).unwrap();
    (Qwen3TtsModel::new(&cfg, fx.vb).unwrap(), fx.io)
}

fn ids(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::I64)
        .unwrap()
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as u32)
        .collect()
}

fn frames(t: &Tensor) -> Vec<Vec<u32>> {
    let (n, g) = t.dims2().unwrap();
    let flat = ids(t);
    (0..n).map(|i| flat[i * g..(i + 1) * g].to_vec()).collect()
}

fn greedy(max_frames: usize) -> GenerationParams {
    GenerationParams {
        talker: SamplingParams::GREEDY,
        predictor: SamplingParams::GREEDY,
        max_frames,
        ..GenerationParams::default()
    }
}

fn check_run(model: &Qwen3TtsModel, io: &HashMap<String, Tensor>, prefix: &str) {
    let text_ids = ids(io_tensor(io, &format!("{prefix}.input_ids")));
    let speaker = io_tensor(io, &format!("{prefix}.speaker_embedding"));
    let (ref_ids, ref_codes);
    let reference = if prefix.ends_with("_icl") {
        ref_ids = ids(io_tensor(io, &format!("{prefix}.ref_ids")));
        ref_codes = frames(io_tensor(io, &format!("{prefix}.ref_code")));
        Some(ReferencePrompt {
            text_ids: &ref_ids,
            codes: &ref_codes,
        })
    } else {
        None
    };
    let english = model.config().talker_config.codec_language_id["english"];
    let req = PromptRequest {
        text_ids: &text_ids,
        language: Some(english),
        speaker: SpeakerPrompt::Embedding(speaker),
        instruct_ids: None,
        reference,
        non_streaming: prefix.ends_with("_ns"),
    };
    let prompt = build_prompt(model, &req).unwrap();
    check_rel(
        &format!("{prefix}.prefill_embeds"),
        &prompt.prefill,
        io_tensor(io, &format!("{prefix}.prefill_embeds")),
        TOLERANCE,
    );
    check_rel(
        &format!("{prefix}.trailing_text_hidden"),
        &prompt.trailing,
        io_tensor(io, &format!("{prefix}.trailing_text_hidden")),
        TOLERANCE,
    );
    check_rel(
        &format!("{prefix}.tts_pad_embed"),
        &prompt.tts_pad,
        io_tensor(io, &format!("{prefix}.tts_pad_embed")),
        TOLERANCE,
    );

    let want = frames(io_tensor(io, &format!("{prefix}.codes")));
    let mut generation = Generation::new(model, &prompt, greedy(want.len())).unwrap();
    let mut got = Vec::new();
    let mut hidden = Vec::new();
    while let Some(frame) = generation.next_frame(model).unwrap() {
        got.push(frame.codes);
        hidden.push(frame.talker_hidden);
    }
    assert_eq!(got, want, "{prefix}: codes differ");
    assert_eq!(generation.stop_reason(), Some(StopReason::Budget));
    eprintln!("{prefix}.codes: {} frames identical", got.len());
    let hidden = Tensor::cat(&hidden, 1).unwrap().squeeze(0).unwrap();
    check_rel(
        &format!("{prefix}.talker_hidden"),
        &hidden,
        io_tensor(io, &format!("{prefix}.talker_hidden")),
        TOLERANCE,
    );
}

#[test]
fn greedy_generation_matches_qwen_tts() {
    let (model, io) = load();
    for prefix in ["generate", "generate_ns", "generate_icl"] {
        check_run(&model, &io, prefix);
    }
}

#[test]
fn sampling_is_seeded_and_a_cached_prefix_changes_nothing() {
    let (model, io) = load();
    let text_ids = ids(io_tensor(&io, "generate.input_ids"));
    let speaker = io_tensor(&io, "generate.speaker_embedding");
    let req = PromptRequest::new(&text_ids, SpeakerPrompt::Embedding(speaker));
    let prompt = build_prompt(&model, &req).unwrap();
    let params = |seed| GenerationParams {
        max_frames: 12,
        seed,
        ..GenerationParams::default()
    };
    let run = |g: &mut Generation| {
        let mut codes = Vec::new();
        while let Some(f) = g.next_frame(&model).unwrap() {
            codes.push(f.codes);
        }
        codes
    };
    let a = run(&mut Generation::new(&model, &prompt, params(7)).unwrap());
    let b = run(&mut Generation::new(&model, &prompt, params(7)).unwrap());
    let c = run(&mut Generation::new(&model, &prompt, params(8)).unwrap());
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, different codes");
    assert_ne!(a, c, "another seed, the same codes");
    let eos = model.config().talker_config.codec_eos_token_id;
    let band = model.config().talker_config.vocab_size as u32 - 1024;
    assert!(a.iter().all(|f| f[0] < band && f[0] != eos));

    // the prompt's first 6 positions computed once, then continued
    let mut prefix = model.talker.new_cache(8);
    model
        .talker
        .forward_embeds(&prompt.prefill.narrow(1, 0, 6).unwrap(), &mut prefix)
        .unwrap();
    let cached =
        run(
            &mut Generation::with_cache(&model, &prompt, params(7), prefix.fork().unwrap())
                .unwrap(),
        );
    assert_eq!(cached, a, "a cached prefix changed the codes");
}

#[test]
fn bad_requests_get_clear_errors() {
    let (model, io) = load();
    let text_ids = ids(io_tensor(&io, "generate.input_ids"));
    let speaker = io_tensor(&io, "generate.speaker_embedding");
    let req = PromptRequest::new(&text_ids, SpeakerPrompt::Embedding(speaker));
    let prompt = build_prompt(&model, &req).unwrap();
    let err = Generation::new(&model, &prompt, greedy(0)).unwrap_err();
    assert!(err.to_string().contains("0 frames"), "{err}");

    // no text between the role and the closing tokens
    let mut empty = text_ids[..3].to_vec();
    empty.extend_from_slice(&text_ids[text_ids.len() - 5..]);
    let err = build_prompt(
        &model,
        &PromptRequest {
            text_ids: &empty,
            ..req
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("non-empty text"), "{err}");

    let short = Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap();
    let err = build_prompt(
        &model,
        &PromptRequest {
            speaker: SpeakerPrompt::Embedding(&short),
            ..req
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("speaker embedding"), "{err}");
}

//! A Qwen3-TTS sentence spoken chunk by chunk (`SentenceSpeech`): the tiny
//! talker of `tests/fixtures/qwen3/talker/` generates, the tiny decoder of
//! `tests/fixtures/qwen3/decoder/` turns frames into audio as they come.
//! Each chunk holds the planned number of frames (the last one what is
//! left), and the chunks concatenate to the decode of all the sentence's
//! codes at once within 1e-5 relative, for several chunk plans.

use candle_core::{Device, Tensor};
use ishowtts::models::qwen3_tts::{
    build_prompt, ChunkPlan, Decoder, DecoderConfig, Generation, GenerationParams, PromptRequest,
    Qwen3TtsConfig, Qwen3TtsModel, SentenceSpeech, SpeakerPrompt, StopReason,
};

mod common;
use common::{io_tensor, rel_err};

const SAMPLES_PER_FRAME: usize = 1920;

fn fixtures() -> (Qwen3TtsModel, Decoder, Vec<u32>, Tensor) {
    let talker = common::qwen3_fixture("talker");
    let cfg = Qwen3TtsConfig::from_file(&talker.config).unwrap();
    let model = Qwen3TtsModel::new(&cfg, talker.vb).unwrap();
    let io = talker.io;
    let ids: Vec<u32> = io_tensor(&io, "generate.input_ids")
        .flatten_all()
        .unwrap()
        .to_vec1::<i64>()
        .unwrap()
        .into_iter()
        .map(|v| v as u32)
        .collect();
    let speaker = io_tensor(&io, "generate.speaker_embedding").clone();
    let dec = common::qwen3_fixture("decoder");
    let dcfg = DecoderConfig::from_file(&dec.config).unwrap();
    let decoder = Decoder::new(&dcfg, dec.vb).unwrap();
    (model, decoder, ids, speaker)
}

#[test]
fn chunks_are_planned_and_equal_the_whole_decode() {
    let (model, decoder, ids, speaker) = fixtures();
    let prompt = build_prompt(
        &model,
        &PromptRequest::new(&ids, SpeakerPrompt::Embedding(&speaker)),
    )
    .unwrap();
    // end of speech masked throughout: exactly 19 frames
    let params = GenerationParams {
        max_frames: 19,
        min_new_frames: 19,
        seed: 5,
        ..GenerationParams::default()
    };
    let mut reference_codes = None;
    for (first, then) in [(4, 8), (1, 1), (3, 5), (19, 19), (30, 2)] {
        let plan = ChunkPlan {
            first_frames: first,
            frames: then,
        };
        let generation = Generation::new(&model, &prompt, params).unwrap();
        let mut speech = SentenceSpeech::new(generation, &decoder, plan).unwrap();
        let mut chunks = Vec::new();
        while let Some(chunk) = speech.next_chunk(&model, &decoder).unwrap() {
            chunks.push(chunk);
        }
        assert_eq!(speech.stop_reason(), Some(StopReason::Budget));
        assert!(speech.next_chunk(&model, &decoder).unwrap().is_none());

        // planned sizes: first, then `then` each, the rest last
        let mut left = 19usize;
        let mut want = Vec::new();
        let mut size = first;
        while left > 0 {
            want.push(size.min(left) * SAMPLES_PER_FRAME);
            left -= size.min(left);
            size = then;
        }
        let got: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(got, want, "plan {first}/{then}");

        // the same codes whatever the plan (the plan only groups frames)
        let codes = speech.codes().to_vec();
        match &reference_codes {
            None => reference_codes = Some(codes.clone()),
            Some(r) => assert_eq!(&codes, r, "plan {first}/{then} changed the codes"),
        }
        let flat: Vec<u32> = codes.iter().flatten().copied().collect();
        let all = Tensor::from_vec(flat, (codes.len(), codes[0].len()), &Device::Cpu)
            .unwrap()
            .t()
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let whole: Vec<f32> = decoder
            .forward(&all)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let streamed: Vec<f32> = chunks.concat();
        let err = rel_err(&streamed, &whole);
        eprintln!(
            "plan {first}/{then}: {} chunks, rel err vs whole decode {err:.2e}",
            chunks.len()
        );
        assert!(err <= 1e-5, "plan {first}/{then}: rel err {err}");
    }
}

#[test]
fn an_empty_chunk_plan_is_refused() {
    let (model, decoder, ids, speaker) = fixtures();
    let req = PromptRequest::new(&ids, SpeakerPrompt::Embedding(&speaker));
    let prompt = build_prompt(&model, &req).unwrap();
    let generation = Generation::new(&model, &prompt, GenerationParams::default()).unwrap();
    let plan = ChunkPlan {
        first_frames: 0,
        frames: 4,
    };
    let err = SentenceSpeech::new(generation, &decoder, plan).unwrap_err();
    assert!(err.to_string().contains("at least one frame"), "{err}");
}

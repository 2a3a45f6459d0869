//! Numerical parity of the Qwen3-TTS talker, its text projection and the
//! code predictor with the PyTorch reference (`qwen-tts` 0.1.1) on the tiny
//! synthetic fixture `tests/fixtures/qwen3/talker/` (written by
//! `scripts/qwen3_fixtures.py`).
//!
//! Each component runs on the reference's own input, so a figure measures
//! that component alone. Every tensor must match with a relative error
//! `max|a - b| / max(max|b|, 1e-6)` of at most 1e-4 (f32). Each figure is
//! printed (`cargo test --release --test qwen3_talker_parity -- --nocapture`).
//! The talker's layer outputs come from one run (layer 1 is fed the port's
//! layer 0). A second test checks the key/value cache: a prefix then the
//! rest equals one call, a forked cache continues alone, and `reset()` gives
//! a fresh run.
//!
//! The speaker encoder (`mel.*`, `speaker_encoder.*`) is checked in
//! `qwen3_speaker_parity.rs`, the prompt and generation loop
//! (`generate*.*`) in `qwen3_generate_parity.rs`.

use std::collections::HashMap;

use candle_core::{Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use ishowtts::models::qwen3_tts::{CodePredictor, Qwen3TalkerConfig, Talker, TextProjection};

use crate::common::{check_rel, io_tensor, tensor_values};

const TOLERANCE: f32 = 1e-4;
/// Cached versus one-call runs of the same computation.
const CACHE_TOLERANCE: f32 = 1e-5;

/// Config, weights and recorded tensors of the talker fixture.
fn load() -> (
    Qwen3TalkerConfig,
    VarBuilder<'static>,
    HashMap<String, Tensor>,
) {
    let fx = crate::common::qwen3_fixture("talker");
    (
        Qwen3TalkerConfig::from_file(&fx.config).unwrap(),
        fx.vb,
        fx.io,
    )
}

#[test]
fn talker_matches_qwen_tts() {
    let (cfg, vb, io) = load();
    let talker_vb = vb.pp("talker");

    // Text projection.
    let text = TextProjection::new(&cfg, talker_vb.clone()).unwrap();
    let ids = io_tensor(&io, "text_projection.ids");
    check_rel(
        "text_projection.embedding",
        &text.embed(ids).unwrap(),
        io_tensor(&io, "text_projection.embedding"),
        TOLERANCE,
    );
    check_rel(
        "text_projection.out (on embedding)",
        &text
            .project(io_tensor(&io, "text_projection.embedding"))
            .unwrap(),
        io_tensor(&io, "text_projection.out"),
        TOLERANCE,
    );
    check_rel(
        "text_projection.out (from ids)",
        &text.forward(ids).unwrap(),
        io_tensor(&io, "text_projection.out"),
        TOLERANCE,
    );

    // Talker, positions 0..9, no cache before.
    let talker = Talker::new(&cfg, talker_vb.clone()).unwrap();
    let embeds = io_tensor(&io, "talker.inputs_embeds");
    let (last, layers) = talker
        .forward_embeds_traced(embeds, &mut talker.new_cache(16))
        .unwrap();
    assert_eq!(layers.len(), cfg.num_hidden_layers);
    for (i, out) in layers.iter().enumerate() {
        let name = format!("talker.layers.{i}");
        check_rel(&name, out, io_tensor(&io, &name), TOLERANCE);
    }
    check_rel(
        "talker.last_hidden",
        &last,
        io_tensor(&io, "talker.last_hidden"),
        TOLERANCE,
    );
    check_rel(
        "talker.logits (on last_hidden)",
        &talker.logits(io_tensor(&io, "talker.last_hidden")).unwrap(),
        io_tensor(&io, "talker.logits"),
        TOLERANCE,
    );
    check_rel(
        "talker.logits (whole run)",
        &talker.logits(&last).unwrap(),
        io_tensor(&io, "talker.logits"),
        TOLERANCE,
    );

    // The code predictor's prefill input is [last hidden, codec_embedding(c0)].
    let c0 = io_tensor(&io, "code_predictor.c0");
    let c0_emb = talker.embed_codes(c0).unwrap();
    let cp_in = Tensor::cat(
        &[
            &io_tensor(&io, "talker.last_hidden")
                .i((.., 8..9, ..))
                .unwrap(),
            &c0_emb,
        ],
        1,
    )
    .unwrap();
    check_rel(
        "code_predictor.inputs_embeds",
        &cp_in,
        io_tensor(&io, "code_predictor.inputs_embeds"),
        TOLERANCE,
    );

    // Code predictor.
    let cp = CodePredictor::new(&cfg, talker_vb.pp("code_predictor")).unwrap();
    let inputs = io_tensor(&io, "code_predictor.inputs_embeds");
    check_rel(
        "code_predictor.projected",
        &cp.project(inputs).unwrap(),
        io_tensor(&io, "code_predictor.projected"),
        TOLERANCE,
    );
    let hidden = cp.forward_embeds(inputs, &mut cp.new_cache()).unwrap();
    check_rel(
        "code_predictor.last_hidden",
        &hidden,
        io_tensor(&io, "code_predictor.last_hidden"),
        TOLERANCE,
    );
    check_rel(
        "code_predictor.logits",
        &cp.logits(&hidden, 0).unwrap(),
        io_tensor(&io, "code_predictor.logits"),
        TOLERANCE,
    );
    let all = io_tensor(&io, "code_predictor.all_heads");
    assert_eq!(all.dim(1).unwrap(), cp.num_groups());
    let want_hidden = io_tensor(&io, "code_predictor.last_hidden");
    for j in 0..cp.num_groups() {
        check_rel(
            &format!("code_predictor.all_heads[{j}]"),
            &cp.logits(want_hidden, j).unwrap(),
            &all.i((.., j)).unwrap(),
            TOLERANCE,
        );
    }
    assert!(cp.logits(want_hidden, cp.num_groups()).is_err());
}

#[test]
fn talker_kv_cache_matches_one_call() {
    let (cfg, vb, io) = load();
    let talker = Talker::new(&cfg, vb.pp("talker")).unwrap();
    let embeds = io_tensor(&io, "talker.inputs_embeds");
    let t = embeds.dim(1).unwrap();
    // capacity 4 < 9 positions: the cache must grow on the way
    let mut cache = talker.new_cache(4);
    let whole = talker.forward_embeds(embeds, &mut cache).unwrap();
    assert_eq!(cache.len(), t);

    // Prefix of 5, then the rest one call (4 positions) — and a prefix of 5,
    // then one position at a time.
    cache.reset();
    assert!(cache.is_empty());
    let a = talker
        .forward_embeds(&embeds.narrow(1, 0, 5).unwrap(), &mut cache)
        .unwrap();
    // a fork continues independently of the original
    let mut fork = cache.fork().unwrap();
    assert_eq!(fork.len(), 5);
    let b = talker
        .forward_embeds(&embeds.narrow(1, 5, t - 5).unwrap(), &mut cache)
        .unwrap();
    let pieces = Tensor::cat(&[&a, &b], 1).unwrap();
    check_rel("talker cache: 5 + 4", &pieces, &whole, CACHE_TOLERANCE);
    check_rel(
        "talker cache: 5 + 4 vs reference",
        &pieces,
        io_tensor(&io, "talker.last_hidden"),
        TOLERANCE,
    );

    let mut steps = vec![a];
    for p in 5..t {
        steps.push(
            talker
                .forward_embeds(&embeds.narrow(1, p, 1).unwrap(), &mut fork)
                .unwrap(),
        );
    }
    let steps = Tensor::cat(&steps, 1).unwrap();
    check_rel(
        "talker cache: 5, forked, + 1 x 4",
        &steps,
        &whole,
        CACHE_TOLERANCE,
    );
    assert_eq!(cache.len(), t, "the fork wrote into the original");

    // reset() gives a run identical to the first.
    cache.reset();
    let again = talker.forward_embeds(embeds, &mut cache).unwrap();
    assert_eq!(
        tensor_values(&again),
        tensor_values(&whole),
        "reset run differs"
    );
    eprintln!("talker reset: identical rerun");

    let cp = CodePredictor::new(&cfg, vb.pp("talker").pp("code_predictor")).unwrap();

    // Code predictor: prefill 2, then one step, equals one call on 3.
    let inputs = io_tensor(&io, "code_predictor.inputs_embeds");
    let c1 = Tensor::new(&[[3i64]], &Device::Cpu).unwrap();
    let e1 = cp.embed_codes(0, &c1).unwrap();
    let three = Tensor::cat(&[inputs, &e1], 1).unwrap();
    let mut cache = cp.new_cache();
    let whole = cp.forward_embeds(&three, &mut cache).unwrap();
    cache.reset();
    let a = cp.forward_embeds(inputs, &mut cache).unwrap();
    let b = cp.forward_embeds(&e1, &mut cache).unwrap();
    check_rel(
        "code predictor cache: 2 + 1",
        &Tensor::cat(&[&a, &b], 1).unwrap(),
        &whole,
        CACHE_TOLERANCE,
    );
    cache.reset();
    let again = cp.forward_embeds(&three, &mut cache).unwrap();
    assert_eq!(
        tensor_values(&again),
        tensor_values(&whole),
        "reset run differs"
    );
}

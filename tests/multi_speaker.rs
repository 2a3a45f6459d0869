//! Multi-speaker plumbing (`emb_g` and the `cond` layers of the duration
//! predictor, the flow's WaveNets and the decoder), checked by equivalence
//! on the real voice's weights: a speaker embedding whose conditioning adds
//! a constant to a layer must give the same audio as the single-speaker
//! model with that constant folded into the layer's bias. This pins down
//! where each conditioning enters, including the per-layer slices of the
//! WaveNet `cond_layer`. (No multi-speaker voice can be fetched here.)

mod common;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ishowtts::models::piper::onnx::PiperWeights;
use ishowtts::models::piper::{ModelConfig, Scales, Synthesizer};

const GIN: usize = 4;
const SPEAKERS: usize = 3;

fn randn(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5) * 0.2
        })
        .collect()
}

fn build(tensors: HashMap<String, Tensor>, like: &PiperWeights) -> Synthesizer {
    let w = PiperWeights {
        tensors,
        conv_attrs: like.conv_attrs.clone(),
        graph_inputs: like.graph_inputs.clone(),
    };
    let cfg = ModelConfig::from_weights(&w).unwrap();
    Synthesizer::new(
        &cfg,
        VarBuilder::from_tensors(w.tensors, DType::F32, &Device::Cpu),
    )
    .unwrap()
}

fn add_to(t: &Tensor, offset: &[f32]) -> Tensor {
    (t + Tensor::from_slice(offset, t.dims(), &Device::Cpu).unwrap()).unwrap()
}

/// A `(out, GIN, 1)` conditioning weight whose column 1 is `c`, so speaker
/// 1 (embedding e1) adds `c` and speaker 0 (e0) adds nothing.
fn cond_weight(c: &[f32]) -> Tensor {
    let mut w = vec![0f32; c.len() * GIN];
    for (o, &v) in c.iter().enumerate() {
        w[o * GIN + 1] = v;
    }
    Tensor::from_vec(w, (c.len(), GIN, 1), &Device::Cpu).unwrap()
}

#[test]
fn speaker_conditioning_enters_where_the_reference_adds_it() {
    let base = PiperWeights::load(&common::voice_path(), &Device::Cpu).unwrap();
    let cfg = ModelConfig::from_weights(&base).unwrap();
    assert_eq!(cfg.n_speakers, 1);
    let mut multi = base.tensors.clone();
    let mut folded = base.tensors.clone();
    let dev = Device::Cpu;

    // speaker embeddings: one-hot rows
    let mut emb = vec![0f32; SPEAKERS * GIN];
    for s in 0..SPEAKERS {
        emb[s * GIN + s] = 1.0;
    }
    multi.insert(
        "emb_g.weight".into(),
        Tensor::from_vec(emb, (SPEAKERS, GIN), &dev).unwrap(),
    );

    let mut seed = 1;
    let mut cond = |multi: &mut HashMap<String, Tensor>,
                    folded: &mut HashMap<String, Tensor>,
                    name: &str,
                    bias_of: &[(&str, usize, usize)]| {
        let total: usize = bias_of.iter().map(|b| b.2).sum();
        seed += 1;
        let c = randn(total, seed);
        multi.insert(format!("{name}.weight"), cond_weight(&c));
        multi.insert(
            format!("{name}.bias"),
            Tensor::zeros(total, DType::F32, &dev).unwrap(),
        );
        for &(bias, start, len) in bias_of {
            let b = folded[bias].clone();
            folded.insert(bias.to_string(), add_to(&b, &c[start..start + len]));
        }
    };
    let h = cfg.hidden_channels;
    cond(&mut multi, &mut folded, "dp.cond", &[("dp.pre.bias", 0, h)]);
    cond(
        &mut multi,
        &mut folded,
        "dec.cond",
        &[("dec.conv_pre.bias", 0, cfg.upsample_initial_channel)],
    );
    for f in 0..cfg.n_flows {
        let layers: Vec<(String, usize, usize)> = (0..cfg.flow_wn_layers)
            .map(|i| {
                (
                    format!("flow.flows.{}.enc.in_layers.{i}.bias", 2 * f),
                    i * 2 * h,
                    2 * h,
                )
            })
            .collect();
        let refs: Vec<(&str, usize, usize)> = layers
            .iter()
            .map(|(n, s, l)| (n.as_str(), *s, *l))
            .collect();
        cond(
            &mut multi,
            &mut folded,
            &format!("flow.flows.{}.enc.cond_layer", 2 * f),
            &refs,
        );
    }

    let multi = build(multi, &base);
    assert_eq!(multi.config().n_speakers, SPEAKERS);
    assert_eq!(multi.config().gin_channels, GIN);
    let single = build(base.tensors.clone(), &base);
    let folded = build(folded, &base);

    let ids = common::ids(&common::read_json("waveforms.json")[0]["ids"]);
    let scales = Scales {
        noise_scale: 0.0,
        length_scale: 1.0,
        noise_w: 0.0,
    };
    let run = |m: &Synthesizer, speaker: i64| {
        m.infer(&[&ids], &[speaker], scales, &mut rand::rng())
            .unwrap()
            .pop()
            .unwrap()
    };

    // speaker 0's conditioning is zero: the single-speaker output
    let s0 = run(&multi, 0);
    let base_audio = run(&single, 0);
    assert_eq!(s0.len(), base_audio.len());
    assert!(common::max_abs_diff(&s0, &base_audio) < 1e-5);

    // speaker 1's conditioning equals the biases folded in
    let s1 = run(&multi, 1);
    let want = run(&folded, 0);
    assert_eq!(s1.len(), want.len(), "durations differ");
    let diff = common::max_abs_diff(&s1, &want);
    assert!(diff < 1e-4, "max abs diff {diff}");
    // and it really changes the voice
    assert!(s1.len() != s0.len() || common::max_abs_diff(&s1[..], &s0[..]) > 1e-3);

    // speaker 2 has no conditioning weights: like speaker 0
    let s2 = run(&multi, 2);
    assert!(common::max_abs_diff(&s2, &base_audio) < 1e-5);
}

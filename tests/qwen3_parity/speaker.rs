//! Numerical parity of the Qwen3-TTS speaker encoder and its log-mel front
//! end with the PyTorch reference (`qwen-tts` 0.1.1) on the tiny synthetic
//! fixture `tests/fixtures/qwen3/talker/` (written by
//! `scripts/qwen3_fixtures.py`).
//!
//! Checked, each with a relative error `max|a - b| / max(max|b|, 1e-6)` of
//! at most 1e-4 (f32), each figure printed
//! (`cargo test --release --test qwen3_speaker_parity -- --nocapture`):
//! `mel.out` computed from `mel.wav`; the outputs of `speaker_encoder.blocks.0`
//! to `.3`, `.mfa`, `.asp` and `.out`, from one run of the encoder on the
//! reference's `mel.out` (so the network figures do not include the mel's
//! error); and `.out` again from the port's own mel (wave to embedding).

use std::collections::HashMap;

use candle_core::{Device, Module, Tensor};
use candle_nn::VarBuilder;
use ishowtts::models::qwen3_tts::mel::MelSpectrogram;
use ishowtts::models::qwen3_tts::{SpeakerEncoder, SpeakerEncoderConfig};

use crate::common::{check_rel, io_tensor, tensor_values};

const TOLERANCE: f32 = 1e-4;

/// Config, weights and recorded tensors of the talker fixture (which
/// holds the speaker encoder).
fn load() -> (
    SpeakerEncoderConfig,
    VarBuilder<'static>,
    HashMap<String, Tensor>,
) {
    let fx = crate::common::qwen3_fixture("talker");
    (
        SpeakerEncoderConfig::from_file(&fx.config).unwrap(),
        fx.vb,
        fx.io,
    )
}

#[test]
fn speaker_encoder_matches_qwen_tts() {
    let (cfg, vb, io) = load();
    let dev = Device::Cpu;

    // Mel front end: mel.wav -> mel.out (1, frames, 128).
    let mel = MelSpectrogram::speaker_encoder().unwrap();
    assert_eq!(mel.n_mels(), cfg.mel_dim);
    let wav = tensor_values(io_tensor(&io, "mel.wav"));
    let own_mel = mel.forward(&wav, &dev).unwrap();
    check_rel(
        "mel.out (from mel.wav)",
        &own_mel,
        io_tensor(&io, "mel.out"),
        TOLERANCE,
    );

    // Network on the reference mel.
    let enc = SpeakerEncoder::new(&cfg, vb.pp("speaker_encoder")).unwrap();
    assert_eq!(enc.enc_dim(), cfg.enc_dim);
    let (out, trace) = enc.forward_traced(io_tensor(&io, "mel.out")).unwrap();
    assert_eq!(trace.blocks.len(), cfg.enc_channels.len() - 1);
    for (i, block) in trace.blocks.iter().enumerate() {
        let name = format!("speaker_encoder.blocks.{i}");
        check_rel(&name, block, io_tensor(&io, &name), TOLERANCE);
    }
    check_rel(
        "speaker_encoder.mfa",
        &trace.mfa,
        io_tensor(&io, "speaker_encoder.mfa"),
        TOLERANCE,
    );
    check_rel(
        "speaker_encoder.asp",
        &trace.asp,
        io_tensor(&io, "speaker_encoder.asp"),
        TOLERANCE,
    );
    check_rel(
        "speaker_encoder.out",
        &out,
        io_tensor(&io, "speaker_encoder.out"),
        TOLERANCE,
    );

    // Wave to embedding through the port's own mel.
    let out_own = enc.forward(&own_mel).unwrap();
    check_rel(
        "speaker_encoder.out (from own mel)",
        &out_own,
        io_tensor(&io, "speaker_encoder.out"),
        TOLERANCE,
    );
}

#[test]
fn speaker_config_defaults_are_upstream() {
    let cfg = SpeakerEncoderConfig::from_json("{}").unwrap();
    assert_eq!(cfg.mel_dim, 128);
    assert_eq!(cfg.enc_dim, 1024);
    assert_eq!(cfg.enc_channels, vec![512, 512, 512, 512, 1536]);
    assert_eq!(cfg.enc_attention_channels, 128);
    assert_eq!(cfg.enc_se_channels, 128);
    assert!(SpeakerEncoderConfig::from_json(r#"{"enc_dilations": [1, 2]}"#).is_err());
}

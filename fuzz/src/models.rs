//! Harnesses of the model file readers: a Piper `.onnx` export, F5-TTS and
//! Vocos safetensors checkpoints, and every config format we parse. A bad
//! file must be an error, never a panic, an abort or a runaway allocation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{DType, Device};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;
use ishowtts::models::f5::{Checkpoint, F5Config, F5Model, Vocab};
use ishowtts::models::file_weights::FileWeights;
use ishowtts::models::piper::onnx::PiperWeights;
use ishowtts::models::piper::{ModelConfig, Synthesizer, VoiceConfig};
use ishowtts::models::qwen3_tts::{
    DecoderConfig, Qwen3TalkerConfig, Qwen3TtsConfig, SpeakerEncoderConfig,
};
use ishowtts::models::vocos::{Vocos, VocosConfig};

use crate::input::Input;

/// A Piper export from memory, as `PiperVoice::load` reads one: weights,
/// the hyper-parameters they imply, then the network built from them.
pub fn piper_voice(data: &[u8]) {
    let Ok(weights) = PiperWeights::from_bytes(data, &Device::Cpu) else {
        return;
    };
    let Ok(cfg) = ModelConfig::from_weights(&weights) else {
        return;
    };
    let vb = VarBuilder::from_tensors(weights.tensors, DType::F32, &Device::Cpu);
    let _ = Synthesizer::new(&cfg, vb);
}

/// A folder of its own for one run of a harness (tests run in parallel).
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ishowtts-fuzz-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary folder");
        Self(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("temporary file");
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The vocabulary of the F5 checkpoint harness: four tokens.
const VOCAB: &str = " \na\nb\nc\n";

/// An F5-TTS shape small enough for fuzzing (the seeds are checkpoints of
/// exactly this shape, `examples/fuzz_seeds.rs`).
pub fn tiny_f5_config(text_num_embeds: usize) -> String {
    format!(
        r#"{{"dit": {{"dim": 16, "depth": 1, "heads": 1, "dim_head": 16, "ff_mult": 1,
             "text_dim": 4, "conv_layers": 1, "text_num_embeds": {text_num_embeds},
             "mel_dim": 4}},
            "mel": {{"n_fft": 16, "hop_length": 4, "win_length": 16, "n_mel_channels": 4,
             "target_sample_rate": 24000, "mel_spec_type": "vocos"}}}}"#
    )
}

/// A Vocos shape small enough for fuzzing (the seeds match it).
pub const TINY_VOCOS_YAML: &str = "\
backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 4
    dim: 8
    intermediate_dim: 8
    num_layers: 1
head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 8
    n_fft: 8
    hop_length: 2
    padding: same
";

/// A safetensors file read the three ways we read checkpoints: our
/// tensor-at-a-time reader (every tensor read back), an F5-TTS checkpoint
/// loaded into a (tiny) model, and a Vocos folder (candle's reader) built
/// into a (tiny) vocoder.
pub fn checkpoints(data: &[u8]) {
    let dir = Scratch::new();
    let weights = dir.write("model.safetensors", data);

    if let Ok(w) = FileWeights::open(&weights) {
        let names: Vec<String> = w.names().map(str::to_owned).collect();
        for name in names {
            let _ = w.get_unchecked(&name, DType::F32, &Device::Cpu);
        }
    }

    let vocab = dir.write("vocab.txt", VOCAB.as_bytes());
    if let Ok(ckpt) = Checkpoint::from_files(&weights, &vocab) {
        let cfg = F5Config::from_json(&tiny_f5_config(ckpt.text_num_embeds()))
            .expect("the harness's F5 config is valid");
        let _ = F5Model::load_with_config(&ckpt, cfg, &Device::Cpu, DType::F32);
    }

    dir.write("config.yaml", TINY_VOCOS_YAML.as_bytes());
    let _ = Vocos::load(dir.path(), &Device::Cpu);
}

/// Every config parser on any text: the first byte picks which.
pub fn configs(data: &[u8]) {
    let mut inp = Input::new(data);
    let which = inp.byte();
    let n = usize::from(inp.byte());
    let text = inp.rest_str();
    match which % 8 {
        0 => drop(VoiceConfig::parse(&text)),
        1 => drop(F5Config::from_yaml(&text, n)),
        2 => drop(F5Config::from_json(&text)),
        3 => drop(VocosConfig::from_yaml(&text)),
        4 => {
            // len() counts distinct lines (upstream's vocabulary size)
            let v = Vocab::parse(&text);
            assert!(v.len() <= v.tokens().len());
            assert_eq!(v.is_empty(), v.tokens().is_empty());
        }
        5 => drop(Qwen3TtsConfig::from_json(&text)),
        6 => drop(Qwen3TalkerConfig::from_json(&text)),
        _ => {
            drop(SpeakerEncoderConfig::from_json(&text));
            drop(DecoderConfig::from_json(&text));
        }
    }
}

//! Writes the starting corpus of every fuzz target into `fuzz/seeds/<target>/`
//! (committed; `docs/fuzzing.md`). Rerun after a harness changes how it
//! reads its input:
//!
//! ```text
//! cargo run --release --example fuzz_seeds
//! ```
//!
//! The model seeds are files of the real architectures at toy sizes: a
//! Piper export (weights under their PyTorch names, as `onnx.rs` reads
//! them), F5-TTS and Vocos safetensors of exactly the shapes the checkpoint
//! harness loads. Each is checked to load before it is written, so the
//! fuzzer starts from inputs that reach the model builders. The MP3, FLAC
//! and Ogg seeds of the reference-audio target come from
//! `scripts/fuzz_audio_seeds.py` (an encoder this example does not have).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use ishowtts::models::f5::{F5Config, F5Model};
use ishowtts::models::piper::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, PiperWeights, TensorProto, ValueInfoProto,
};
use ishowtts::models::piper::{ModelConfig, Synthesizer};
use ishowtts::models::vocos::{Vocos, VocosConfig};
use prost::Message;

// The harness's own shapes, so seeds and harness cannot drift apart.
#[allow(dead_code)]
#[path = "../fuzz/src/models.rs"]
mod fuzz_models;
#[allow(dead_code)]
#[path = "../fuzz/src/input.rs"]
mod input;
use fuzz_models::{tiny_f5_config, TINY_VOCOS_YAML};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("fuzz/seeds");
    let fixtures = root.join("tests/fixtures");

    // Option bytes of the splitter harnesses: max_chars (u16), min_chars,
    // short_first, first_max_chars.
    let texts = [
        "Hello there. Dr. Smith paid $3.50, i.e. too much... \"Really?\" she asked!",
        "One, two; three: four - five — six… and so on etc. and then some.",
        "你好，世界。今天是2024年3月5日！价格是12.5元吗？好的。",
        "Hi. Ok. Yes.\n\nA new paragraph with a very long clause that keeps going, and going, \
         past any sensible limit for a sentence without stopping at all",
        "Mr. and Mrs. Jones live at 221B Baker St. in London, U.K. They moved in 1999.",
    ];
    let opts: [[u8; 5]; 5] = [
        [44, 1, 8, 0, 60],
        [20, 0, 0, 1, 10],
        [1, 0, 0, 0, 1],
        [90, 1, 23, 1, 30],
        [3, 0, 5, 0, 60],
    ];
    for (i, (t, o)) in texts.iter().zip(opts).enumerate() {
        write(&seeds, "split", i, &[&o[..], t.as_bytes()].concat())?;
        // cut lengths (top bit: flush) before the text
        let cuts: &[u8] = match i {
            0 => &[3, 1, 1, 7, 63],
            1 => &[0x85, 2],
            2 => &[1, 1, 1, 1, 1, 1, 1],
            3 => &[],
            _ => &[30, 0x81, 5],
        };
        let seed = [&o[..], &[cuts.len() as u8], cuts, t.as_bytes()].concat();
        write(&seeds, "split_stream", i, &seed)?;
    }

    let normalize = [
        (
            0u8,
            "On 3/14/2015 at 9:26 pm, 1,234,567.89 people paid $12.50 (or €3) for the 21st \
               item; 50% said 1990s were better than the year 2001. Call 555-0123, ext. 7.",
        ),
        (
            0,
            "-0.5 vs 1e10 vs 007 vs 3rd vs 100,000,000,000,000,000,000 vs $0.01 vs 12:00 am",
        ),
        (
            1,
            "2024年3月5日，温度-3.5°C，价格¥12.50，增长50%，电话13800138000，第1名。",
        ),
        (2, "Guten Tag, 1234 Äpfel."),
    ];
    for (i, (lang, t)) in normalize.iter().enumerate() {
        write(&seeds, "normalize", i, &[&[*lang], t.as_bytes()].concat())?;
    }

    // map entries (count, then key index, id count, ids), clusters, phonemes
    write(
        &seeds,
        "phoneme_ids",
        0,
        &[
            6, 0, 1, 1, 1, 1, 0, 2, 1, 2, 4, 1, 14, 5, 2, 39, 40, 15, 1, 9, 1, 5, 2, 4, 5, 4, 6,
            13, 14, 4, 5, 6, 13, 14, 3, 8, 10, 0xf3,
        ],
    )?;
    write(
        &seeds,
        "phoneme_ids",
        1,
        &[3, 1, 1, 0, 3, 0, 2, 1, 3, 0, 4, 8, 9, 4],
    )?;

    // Reference audio: small WAVs of each sample kind (the compressed
    // formats come from scripts/fuzz_audio_seeds.py).
    let tone = |n: usize, rate: f32| -> Vec<f32> {
        (0..n)
            .map(|i| 0.4 * (i as f32 * 440.0 * std::f32::consts::TAU / rate).sin())
            .collect()
    };
    write(
        &seeds,
        "reference_audio",
        0,
        &wav(&tone(1600, 8000.0), 8000, 1, 16),
    )?;
    write(
        &seeds,
        "reference_audio",
        1,
        &wav(&tone(800, 16000.0), 16000, 2, 32),
    )?;
    write(
        &seeds,
        "reference_audio",
        2,
        &wav(&tone(1200, 24000.0), 24000, 1, 8),
    )?;
    write(
        &seeds,
        "reference_audio",
        3,
        &wav(&tone(900, 22050.0), 22050, 1, 24),
    )?;

    let voice = ishowtts::paths::default_voice()?;
    write(&seeds, "piper_voice", 0, &tiny_piper(&voice)?)?;
    let (f5, vocos) = tiny_checkpoints()?;
    write(&seeds, "checkpoints", 0, &f5)?;
    write(&seeds, "checkpoints", 1, &vocos)?;

    // Configs: selector byte, text_num_embeds, then the file.
    let configs: [(u8, PathBuf); 6] = [
        (0, fixtures.join("piper/en_US-joe-medium.onnx.json")),
        (2, fixtures.join("f5/tiny_v1/config.json")),
        (3, fixtures.join("f5/vocos_tiny/config.yaml")),
        (5, fixtures.join("qwen3/talker/config.json")),
        (6, fixtures.join("qwen3/talker/config.json")),
        (7, fixtures.join("qwen3/decoder/config.json")),
    ];
    let mut i = 0;
    for (which, path) in configs {
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        write(&seeds, "configs", i, &[&[which, 64][..], &text].concat())?;
        i += 1;
    }
    let f5_yaml = "model:\n  backbone: DiT\n  arch:\n    dim: 64\n    depth: 2\n    heads: 2\n    \
                   ff_mult: 2\n    text_dim: 32\n    conv_layers: 1\n  mel_spec:\n    \
                   target_sample_rate: 24000\n    n_mel_channels: 100\n    hop_length: 256\n    \
                   win_length: 1024\n    n_fft: 1024\n    mel_spec_type: vocos\n";
    write(
        &seeds,
        "configs",
        i,
        &[&[1, 64][..], f5_yaml.as_bytes()].concat(),
    )?;
    write(
        &seeds,
        "configs",
        i + 1,
        &[&[4, 0][..], b" \na\nb\r\n\xe4\xbd\xa0\n"].concat(),
    )?;

    // C ABI: mode (0 engine, 1 synthesize, 2 live stream), struct-size
    // choice, any size (u16), flags, three strings, then the bytes of the
    // params struct to replace (offset, count, bytes), then the text.
    let capi: [(u8, u8, &[u8], &[u8]); 5] = [
        (0, 2, &[0, 0], b""),
        (0, 2, &[56, 4, 2, 0, 0, 0], b""),
        (1, 2, &[0, 0], b"Hello there. How are you?"),
        (2, 1, &[8, 4, 0, 0, 0xc0, 0x7f], b"Live text, cut in two."),
        (1, 0, &[0, 0], b"Short."),
    ];
    for (i, (mode, size, params, text)) in capi.iter().enumerate() {
        let head = [
            *mode, *size, 0, 0, 0x31, 0, b'e', b'n', 0, b'c', b'a', b'l', b'm', 0,
        ];
        write(
            &seeds,
            "capi_params",
            i,
            &[&head[..], params, text].concat(),
        )?;
    }
    println!("seeds written under {}", seeds.display());
    Ok(())
}

fn write(seeds: &Path, target: &str, i: usize, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = seeds.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{i}")), bytes)?;
    Ok(())
}

/// A WAV file of `samples` (interleaved) as PCM of `bits` (32: float).
fn wav(samples: &[f32], rate: u32, channels: u16, bits: u16) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if bits == 32 {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).expect("wav header");
    let samples = &samples[..samples.len() - samples.len() % usize::from(channels)];
    for &s in samples {
        match bits {
            32 => w.write_sample(s).unwrap(),
            8 => w.write_sample((s * 127.0) as i8).unwrap(),
            16 => w.write_sample((s * 32767.0) as i16).unwrap(),
            _ => w.write_sample((s * 8_388_607.0) as i32).unwrap(),
        }
    }
    w.finalize().unwrap();
    out.into_inner()
}

/// A `VarBuilder` backend that makes every tensor a model asks for (small
/// random values) and remembers it; the shapes of tensors asked for
/// without one (convolution weights, whose kernel size the checkpoint
/// decides) come from `conv_shape`.
struct Probe {
    conv_shape: fn(&str) -> Option<Vec<usize>>,
    made: std::sync::Arc<std::sync::Mutex<HashMap<String, Tensor>>>,
}

impl Probe {
    fn make(&self, name: &str, shape: &[usize]) -> candle_core::Result<Tensor> {
        let t = (Tensor::rand(-0.5f32, 0.5, shape, &Device::Cpu)? * 0.5)?;
        self.made.lock().unwrap().insert(name.to_owned(), t.clone());
        Ok(t)
    }
}

impl candle_nn::var_builder::SimpleBackend for Probe {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        _: &Device,
    ) -> candle_core::Result<Tensor> {
        self.make(name, s.dims())?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, _: &Device) -> candle_core::Result<Tensor> {
        let shape = (self.conv_shape)(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("no shape for {name}")))?;
        self.make(name, &shape)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, _: &str) -> bool {
        false
    }
}

/// Every parameter `build` asks for.
fn parameters(
    conv_shape: fn(&str) -> Option<Vec<usize>>,
    build: impl FnOnce(VarBuilder) -> anyhow::Result<()>,
) -> anyhow::Result<HashMap<String, Tensor>> {
    let made = std::sync::Arc::new(std::sync::Mutex::new(HashMap::new()));
    let probe = Probe {
        conv_shape,
        made: made.clone(),
    };
    build(VarBuilder::from_backend(
        Box::new(probe),
        DType::F32,
        Device::Cpu,
    ))?;
    let made = made.lock().unwrap().clone();
    Ok(made)
}

/// A Piper export at toy size: the default voice's parameters, under their
/// PyTorch names (which the ONNX reader takes as they are), every dimension
/// cut to at most 2, with its convolution attributes as `Conv` nodes. It
/// reads as Piper weights and gets as far as building the network.
fn tiny_piper(voice: &Path) -> anyhow::Result<Vec<u8>> {
    let real = PiperWeights::load(voice, &Device::Cpu)?;
    let mut names: Vec<&String> = real.tensors.keys().collect();
    names.sort();
    let initializer = names
        .into_iter()
        .map(|name| {
            let dims: Vec<usize> = real.tensors[name]
                .dims()
                .iter()
                .map(|&d| d.min(2))
                .collect();
            let n: usize = dims.iter().product();
            TensorProto {
                dims: dims.iter().map(|&d| d as i64).collect(),
                data_type: 1,
                name: name.clone(),
                raw_data: (0..n)
                    .flat_map(|i| (0.1 * (i as f32 + 1.0)).to_le_bytes())
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    let mut paths: Vec<&String> = real.conv_attrs.keys().collect();
    paths.sort();
    let node = paths
        .into_iter()
        .map(|path| {
            let a = &real.conv_attrs[path];
            let ints = |name: &str, v: Option<usize>| AttributeProto {
                name: name.into(),
                ints: v.map(|v| vec![v as i64]).unwrap_or_default(),
                ..Default::default()
            };
            NodeProto {
                name: format!("/{path}/Conv"),
                op_type: "Conv".into(),
                attribute: vec![
                    ints("dilations", a.dilation),
                    ints("strides", a.stride),
                    ints("pads", a.padding),
                    AttributeProto {
                        name: "group".into(),
                        i: a.groups.unwrap_or(1) as i64,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }
        })
        .collect();
    let model = ModelProto {
        ir_version: 8,
        producer_name: "ishowtts fuzz seeds".into(),
        graph: Some(GraphProto {
            name: "tiny piper".into(),
            node,
            initializer,
            input: vec![ValueInfoProto {
                name: "input".into(),
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let bytes = model.encode_to_vec();
    // It must read as Piper weights, or the fuzzer starts from nowhere.
    let w = PiperWeights::from_bytes(&bytes, &Device::Cpu).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let cfg = ModelConfig::from_weights(&w).map_err(anyhow::Error::msg)?;
    let built = Synthesizer::new(
        &cfg,
        VarBuilder::from_tensors(w.tensors, DType::F32, &Device::Cpu),
    );
    println!(
        "piper seed: {} bytes; network: {:?}",
        bytes.len(),
        built
            .err()
            .map(|e| e.to_string().lines().next().unwrap_or_default().to_owned())
    );
    Ok(bytes)
}

/// Safetensors of the F5-TTS and Vocos shapes the checkpoint harness loads.
fn tiny_checkpoints() -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("ishowtts-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // the harness's vocab.txt has four tokens
    let f5_cfg = F5Config::from_json(&tiny_f5_config(4))?;
    let f5 = parameters(f5_conv_shape, |vb| Ok(F5Model::new(f5_cfg, vb).map(drop)?))?;
    let f5_path = dir.join("f5.safetensors");
    candle_core::safetensors::save(&f5, &f5_path)?;

    let vocos_cfg = VocosConfig::from_yaml(TINY_VOCOS_YAML).map_err(anyhow::Error::msg)?;
    let vocos = parameters(vocos_conv_shape, |vb| {
        Ok(Vocos::new(&vocos_cfg, vb).map(drop)?)
    })?;
    let vocos_path = dir.join("model.safetensors");
    candle_core::safetensors::save(&vocos, &vocos_path)?;
    std::fs::write(dir.join("config.yaml"), TINY_VOCOS_YAML)?;
    Vocos::load(&dir, &Device::Cpu)?;

    let out = (std::fs::read(&f5_path)?, std::fs::read(&vocos_path)?);
    std::fs::remove_dir_all(&dir)?;
    Ok(out)
}

/// Convolution weights of the tiny F5-TTS: the positional conv (depthwise
/// over `dim` 16, kernel 31) and the text ConvNeXt's depthwise conv
/// (`text_dim` 4, kernel 7).
fn f5_conv_shape(name: &str) -> Option<Vec<usize>> {
    if name.contains("conv_pos_embed") {
        Some(vec![16, 1, 31])
    } else if name.contains("dwconv") {
        Some(vec![4, 1, 7])
    } else {
        None
    }
}

/// Convolution weights of the tiny Vocos: the embedding (4 mels in, `dim`
/// 8 out, kernel 7) and each ConvNeXt block's depthwise conv.
fn vocos_conv_shape(name: &str) -> Option<Vec<usize>> {
    if name.contains("embed") {
        Some(vec![8, 4, 7])
    } else if name.contains("dwconv") {
        Some(vec![8, 1, 7])
    } else {
        None
    }
}

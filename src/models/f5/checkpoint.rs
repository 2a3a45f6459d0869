//! Upstream checkpoints: `model_<step>.safetensors` + `vocab.txt`, from a
//! local folder or from the Hugging Face cache (never the network).
//!
//! The released files hold the EMA weights under `ema_model.` (plus
//! `ema_model.initted`/`ema_model.step`-style bookkeeping and, in old files,
//! mel buffers), as upstream `infer/utils_infer.py::load_checkpoint` expects;
//! a plain training state (`transformer.*` at the top) is read too. The
//! network asks for upstream names (`transformer.time_embed.time_mlp.0.weight`,
//! …): the prefix is added on the way to the file, so nothing else is read
//! and the weights are memory-mapped, converted to the requested dtype one
//! tensor at a time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::config::Variant;
use crate::{Error, Result};

/// The Hugging Face repository of the released models.
pub const HF_REPO: &str = "SWivid/F5-TTS";

/// Name of the vocabulary file beside the weights.
pub const VOCAB_FILE: &str = "vocab.txt";

/// Prefix of the EMA weights in released checkpoints.
const EMA_PREFIX: &str = "ema_model.";

/// The tokens of `vocab.txt`, one per line in file order: a token's index is
/// its line number (0 is the space, which also stands for unknown
/// characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    tokens: Vec<String>,
    distinct: usize,
}

impl Vocab {
    /// Parses the file's text: lines split on `\n` (a `\r` before it is
    /// dropped, as Python's text mode does).
    ///
    /// Upstream strips the last character of every line, so a final line
    /// without a newline loses a real character there; here it is kept whole.
    pub fn parse(text: &str) -> Self {
        let body = text.strip_suffix('\n').unwrap_or(text);
        let tokens: Vec<String> = if body.is_empty() && text.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
                .collect()
        };
        let distinct = tokens.iter().collect::<HashSet<_>>().len();
        Self { tokens, distinct }
    }

    /// Reads `vocab.txt`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let vocab = Self::parse(&text);
        if vocab.tokens.is_empty() {
            return Err(Error::VoiceConfig {
                path: path.to_path_buf(),
                reason: "the vocabulary is empty".into(),
            });
        }
        Ok(vocab)
    }

    /// The tokens, index = line number.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Upstream's vocabulary size (`len(vocab_char_map)`: distinct lines),
    /// the model's `text_num_embeds`.
    pub fn len(&self) -> usize {
        self.distinct
    }

    /// True for a vocabulary without tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// An upstream checkpoint found on disk: weights, vocabulary and layout.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    weights: PathBuf,
    vocab_path: PathBuf,
    vocab: Vocab,
    /// `ema_model.` for released (EMA) files, empty for a plain state dict.
    prefix: &'static str,
}

impl Checkpoint {
    /// Opens a folder holding `model_<step>.safetensors` (the highest step
    /// when there are several; any single `*.safetensors` otherwise) and
    /// `vocab.txt`, or a `.safetensors` file with `vocab.txt` beside it.
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_dir() {
            let weights = find_weights(path)?;
            Self::from_files(&weights, &path.join(VOCAB_FILE))
        } else {
            let dir = path.parent().unwrap_or(Path::new("."));
            Self::from_files(path, &dir.join(VOCAB_FILE))
        }
    }

    /// Opens explicit weight and vocabulary files.
    pub fn from_files(weights: &Path, vocab: &Path) -> Result<Self> {
        match weights.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => {}
            Some("pt" | "pth" | "ckpt") => {
                return Err(Error::Unsupported(format!(
                    "{}: PyTorch pickles are not read; use the .safetensors release",
                    weights.display()
                )))
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{}: an F5-TTS checkpoint is a .safetensors file",
                    weights.display()
                )))
            }
        }
        let prefix = detect_prefix(weights)?;
        Ok(Self {
            weights: weights.to_path_buf(),
            vocab_path: vocab.to_path_buf(),
            vocab: Vocab::from_file(vocab)?,
            prefix,
        })
    }

    /// The released `variant` from the Hugging Face cache `cache` (repository
    /// [`HF_REPO`], files `<variant>/model_<step>.safetensors` and
    /// `<variant>/vocab.txt`), without touching the network.
    pub fn from_hf_cache(cache: &hf_hub::Cache, variant: Variant) -> Result<Self> {
        let repo = cache.model(HF_REPO.to_string());
        let find = |file: String| {
            repo.get(&file).ok_or_else(|| {
                Error::VoiceNotFound(format!(
                    "{file} of {HF_REPO} is not in the Hugging Face cache at {} \
                     (fetch it with `huggingface-cli download {HF_REPO} {file}`)",
                    cache.path().display()
                ))
            })
        };
        let weights = find(format!("{}/{}", variant.name(), variant.checkpoint_file()))?;
        let vocab = find(format!("{}/{VOCAB_FILE}", variant.name()))?;
        Self::from_files(&weights, &vocab)
    }

    /// [`Checkpoint::from_hf_cache`] on the default cache (`$HF_HOME/hub`,
    /// else `~/.cache/huggingface/hub`).
    pub fn from_default_hf_cache(variant: Variant) -> Result<Self> {
        Self::from_hf_cache(&hf_hub::Cache::from_env(), variant)
    }

    /// The weights file.
    pub fn weights_path(&self) -> &Path {
        &self.weights
    }

    /// The vocabulary file.
    pub fn vocab_path(&self) -> &Path {
        &self.vocab_path
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The model's `text_num_embeds` (upstream: the vocabulary's size).
    pub fn text_num_embeds(&self) -> usize {
        self.vocab.len()
    }

    /// True for released EMA weights (`ema_model.*`).
    pub fn is_ema(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// A `VarBuilder` over the memory-mapped weights under upstream's names
    /// (`transformer.…`, no `ema_model.`), loading tensors in `dtype` on
    /// `device`. A missing or mis-shaped tensor fails when the network asks
    /// for it, with an error naming it.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        let st = open_safetensors(&self.weights)?;
        let vb = VarBuilder::from_backend(Box::new(st), dtype, device.clone());
        Ok(if self.prefix.is_empty() {
            vb
        } else {
            let prefix = self.prefix;
            vb.rename_f(move |name| format!("{prefix}{name}"))
        })
    }
}

fn open_safetensors(path: &Path) -> Result<MmapedSafetensors> {
    // SAFETY: the file is mapped read-only; like every safetensors loader we
    // rely on it not being truncated while mapped.
    unsafe { MmapedSafetensors::multi(&[path]) }.map_err(|e| {
        Error::Model(candle_core::Error::Msg(format!(
            "reading F5-TTS checkpoint {}: {e}",
            path.display()
        )))
    })
}

/// `ema_model.` or nothing, by where the `transformer.*` tensors are.
fn detect_prefix(weights: &Path) -> Result<&'static str> {
    let st = open_safetensors(weights)?;
    let names: Vec<String> = st.tensors().into_iter().map(|(n, _)| n).collect();
    let has = |p: &str| names.iter().any(|n| n.starts_with(p));
    if has("ema_model.transformer.") {
        Ok(EMA_PREFIX)
    } else if has("transformer.") {
        Ok("")
    } else {
        Err(Error::Model(candle_core::Error::Msg(format!(
            "{}: no `ema_model.transformer.*` or `transformer.*` tensors: not an F5-TTS checkpoint",
            weights.display()
        ))))
    }
}

/// The weights file of a checkpoint folder.
fn find_weights(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("safetensors") {
            files.push(path);
        }
    }
    // upstream names checkpoints model_<updates>.safetensors: newest wins
    let step = |p: &PathBuf| -> Option<u64> {
        p.file_stem()?
            .to_str()?
            .strip_prefix("model_")?
            .parse()
            .ok()
    };
    let best = files.iter().filter_map(|p| Some((step(p)?, p))).max();
    match (best, files.len()) {
        (Some((_, p)), _) => Ok(p.clone()),
        (None, 1) => Ok(files.remove(0)),
        (None, 0) => Err(Error::VoiceNotFound(format!(
            "no F5-TTS weights (model_<step>.safetensors) in {}",
            dir.display()
        ))),
        (None, _) => Err(Error::InvalidArgument(format!(
            "{} holds several .safetensors files and none is model_<step>.safetensors: \
             pass the file",
            dir.display()
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use candle_core::Tensor;
    use candle_nn::VarMap;

    use super::*;
    use crate::models::f5::config::DitConfig;
    use crate::models::f5::dit::DiT;

    /// A folder under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "ishowtts-f5-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub(crate) fn tiny_config(vocab: usize) -> DitConfig {
        DitConfig {
            dim: 32,
            depth: 2,
            heads: 2,
            dim_head: 8,
            ff_mult: 2.0,
            mel_dim: 100,
            text_num_embeds: vocab,
            text_dim: 16,
            text_mask_padding: true,
            qk_norm: None,
            conv_layers: 1,
            pe_attn_head: None,
            long_skip_connection: false,
        }
    }

    /// Random weights for `cfg` under upstream names (`transformer.…`).
    pub(crate) fn random_weights(cfg: &DitConfig) -> HashMap<String, Tensor> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        DiT::new(cfg, vb.pp("transformer")).unwrap();
        let data = varmap.data().lock().unwrap();
        data.iter()
            .map(|(k, v)| {
                let t = Tensor::randn(0f32, 0.3, v.shape(), &Device::Cpu).unwrap();
                (k.clone(), t)
            })
            .collect()
    }

    const VOCAB: &str = " \na\nb\nc\nd\n";

    /// An upstream-style release folder: EMA weights with bookkeeping and
    /// legacy mel buffers, and the vocabulary.
    fn write_release(dir: &Path, weights: &HashMap<String, Tensor>, ema: bool) -> PathBuf {
        let mut out: HashMap<String, Tensor> = HashMap::new();
        let prefix = if ema { EMA_PREFIX } else { "" };
        for (k, v) in weights {
            out.insert(format!("{prefix}{k}"), v.clone());
        }
        if ema {
            out.insert("initted".into(), Tensor::new(&[1u8], &Device::Cpu).unwrap());
            out.insert(
                "step".into(),
                Tensor::new(&[1250000i64], &Device::Cpu).unwrap(),
            );
            out.insert(
                "ema_model.mel_spec.mel_stft.spectrogram.window".into(),
                Tensor::ones(1024, DType::F32, &Device::Cpu).unwrap(),
            );
        }
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("model_1250000.safetensors");
        candle_core::safetensors::save(&out, &path).unwrap();
        std::fs::write(dir.join(VOCAB_FILE), VOCAB).unwrap();
        path
    }

    fn output(dit: &DiT) -> Vec<f32> {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 600.0, &dev)
            .unwrap()
            .reshape((1, 6, 100))
            .unwrap();
        let x = (x * 0.01).unwrap().sin().unwrap();
        let cond = Tensor::zeros((1, 6, 100), DType::F32, &dev).unwrap();
        let ids = Tensor::new(&[[1i64, 2, 3]], &dev).unwrap();
        let t = Tensor::new(&[0.3f32], &dev).unwrap();
        dit.forward(&x, &cond, &ids, &t, false, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn vocab_lines_and_size() {
        let v = Vocab::parse(" \na\r\nb\na\n");
        assert_eq!(v.tokens(), &[" ", "a", "b", "a"]);
        assert_eq!(v.len(), 3);
        assert_eq!(Vocab::parse("x\ny").tokens(), &["x", "y"]);
        assert!(Vocab::parse("").is_empty());
    }

    #[test]
    fn release_folder_file_and_hf_cache_load_the_same_network() {
        let cfg = tiny_config(4);
        let weights = random_weights(&cfg);
        let want = output(
            &DiT::new(
                &cfg,
                VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu)
                    .pp("transformer"),
            )
            .unwrap(),
        );

        let tmp = TempDir::new("ckpt");
        let dir = tmp.0.join("F5TTS_v1_Base");
        let file = write_release(&dir, &weights, true);
        // a stray file that is not the newest checkpoint
        std::fs::copy(&file, dir.join("model_1000.safetensors")).unwrap();
        for ckpt in [
            Checkpoint::open(&dir).unwrap(),
            Checkpoint::open(&file).unwrap(),
        ] {
            assert!(ckpt.is_ema());
            assert_eq!(ckpt.weights_path(), file);
            assert_eq!(ckpt.text_num_embeds(), 5);
            let cfg = tiny_config(ckpt.text_num_embeds() - 1);
            let vb = ckpt.var_builder(DType::F32, &Device::Cpu).unwrap();
            let dit = DiT::new(&cfg, vb.pp("transformer")).unwrap();
            assert_eq!(output(&dit), want);
        }

        // the Hugging Face cache layout: snapshots/<rev>/F5TTS_v1_Base/…
        let cache = tmp.0.join("hub");
        let repo = cache.join("models--SWivid--F5-TTS");
        let rev = "0123456789abcdef0123456789abcdef01234567";
        write_release(
            &repo.join("snapshots").join(rev).join("F5TTS_v1_Base"),
            &weights,
            true,
        );
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs").join("main"), rev).unwrap();
        let ckpt =
            Checkpoint::from_hf_cache(&hf_hub::Cache::new(cache.clone()), Variant::V1Base).unwrap();
        assert!(ckpt
            .weights_path()
            .ends_with("F5TTS_v1_Base/model_1250000.safetensors"));
        let vb = ckpt.var_builder(DType::F32, &Device::Cpu).unwrap();
        let dit = DiT::new(&tiny_config(4), vb.pp("transformer")).unwrap();
        assert_eq!(output(&dit), want);
        // Base is not in this cache: the error says what to fetch
        let e = Checkpoint::from_hf_cache(&hf_hub::Cache::new(cache), Variant::Base).unwrap_err();
        assert!(
            e.to_string()
                .contains("F5TTS_Base/model_1200000.safetensors"),
            "{e}"
        );

        // a plain (non-EMA) state dict
        let plain = tmp.0.join("plain");
        write_release(&plain, &weights, false);
        let ckpt = Checkpoint::open(&plain).unwrap();
        assert!(!ckpt.is_ema());
        let vb = ckpt.var_builder(DType::F32, &Device::Cpu).unwrap();
        assert_eq!(
            output(&DiT::new(&tiny_config(4), vb.pp("transformer")).unwrap()),
            want
        );
    }

    #[test]
    fn missing_or_misshaped_tensors_are_named() {
        let cfg = tiny_config(4);
        let tmp = TempDir::new("bad");
        let name = "transformer.transformer_blocks.1.attn.to_k.weight";

        // the error of building the model from `weights` in folder `sub`
        let dit_error = |weights: &HashMap<String, Tensor>, sub: &str| {
            let dir = tmp.0.join(sub);
            write_release(&dir, weights, true);
            let vb = Checkpoint::open(&dir)
                .unwrap()
                .var_builder(DType::F32, &Device::Cpu)
                .unwrap();
            DiT::new(&cfg, vb.pp("transformer")).unwrap_err()
        };

        let mut weights = random_weights(&cfg);
        weights.remove(name);
        let e = dit_error(&weights, "missing");
        assert!(e.to_string().contains(name), "{e}");

        let mut weights = random_weights(&cfg);
        weights.insert(
            name.into(),
            Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap(),
        );
        let e = dit_error(&weights, "shape");
        assert!(e.to_string().contains(name), "{e}");

        // vocabulary and table disagree: the embedding is named
        let weights = random_weights(&cfg);
        let dir = tmp.0.join("vocab");
        write_release(&dir, &weights, true);
        let vb = Checkpoint::open(&dir)
            .unwrap()
            .var_builder(DType::F32, &Device::Cpu)
            .unwrap();
        let e = DiT::new(&tiny_config(9), vb.pp("transformer")).unwrap_err();
        assert!(
            e.to_string().contains("text_embed.text_embed.weight"),
            "{e}"
        );

        // not a checkpoint at all
        let dir = tmp.0.join("junk");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model_1.safetensors"), b"junk").unwrap();
        std::fs::write(dir.join(VOCAB_FILE), VOCAB).unwrap();
        assert!(Checkpoint::open(&dir).is_err());
        let e = Checkpoint::open(&tmp.0.join("nowhere")).unwrap_err();
        assert!(e.to_string().contains("nowhere"), "{e}");
        let e = Checkpoint::open(&tmp.0).unwrap_err();
        assert!(e.to_string().contains("no F5-TTS weights"), "{e}");
    }
}

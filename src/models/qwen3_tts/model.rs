//! The talker side of a checkpoint in one struct
//! (`Qwen3TTSForConditionalGeneration` without the speech tokenizer): the
//! talker, its text projection, the code predictor, and the speaker encoder
//! of Base checkpoints. Holds no per-utterance state: see
//! [`super::generate::Generation`].

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::code_predictor::CodePredictor;
use super::config::Qwen3TtsConfig;
use super::speaker::SpeakerEncoder;
use super::talker::{Talker, TextProjection};
use crate::Result;

/// The networks that turn text into codes.
#[derive(Debug, Clone)]
pub struct Qwen3TtsModel {
    cfg: Qwen3TtsConfig,
    /// Talker decoder and codec head.
    pub talker: Talker,
    /// Text embedding and projection to the talker width.
    pub text: TextProjection,
    /// Codes 1..16 of each frame.
    pub predictor: CodePredictor,
    /// The x-vector of a reference clip (Base checkpoints only).
    pub speaker_encoder: Option<SpeakerEncoder>,
    device: Device,
    dtype: DType,
}

impl Qwen3TtsModel {
    /// Loads the networks from `vb` (the root of `model.safetensors`:
    /// `talker.*`, `speaker_encoder.*`). The speaker encoder is loaded when
    /// the config has one and the checkpoint is a Base model.
    pub fn new(cfg: &Qwen3TtsConfig, vb: VarBuilder) -> Result<Self> {
        let tcfg = &cfg.talker_config;
        let talker_vb = vb.pp("talker");
        let speaker_encoder = match (&cfg.speaker_encoder_config, cfg.is_base()) {
            (Some(se), true) => Some(SpeakerEncoder::new(se, vb.pp("speaker_encoder"))?),
            _ => None,
        };
        Ok(Self {
            talker: Talker::new(tcfg, talker_vb.clone())?,
            text: TextProjection::new(tcfg, talker_vb.clone())?,
            predictor: CodePredictor::new(tcfg, talker_vb.pp("code_predictor"))?,
            speaker_encoder,
            cfg: cfg.clone(),
            device: vb.device().clone(),
            dtype: vb.dtype(),
        })
    }

    /// The checkpoint's configuration.
    pub fn config(&self) -> &Qwen3TtsConfig {
        &self.cfg
    }

    /// Where the weights live.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The weights' dtype (also that of every embedding computed).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Text ids -> talker-width embeddings `(1, T, hidden)`.
    pub fn text_embeds(&self, ids: &[u32]) -> Result<Tensor> {
        let ids = Tensor::from_slice(ids, (1, ids.len()), &self.device)?;
        self.text.forward(&ids)
    }

    /// Codec ids of the first codebook (or control ids) -> talker embeddings
    /// `(1, T, hidden)`.
    pub fn codec_embeds(&self, ids: &[u32]) -> Result<Tensor> {
        let ids = Tensor::from_slice(ids, (1, ids.len()), &self.device)?;
        self.talker.embed_codes(&ids)
    }

    /// The talker input of whole frames: the sum over the 16 codebooks of
    /// each code's embedding (the first through the talker's table, the
    /// others through the predictor's), `codes` `frames x groups` ->
    /// `(1, frames, hidden)`.
    pub fn frame_embeds(&self, codes: &[Vec<u32>]) -> Result<Tensor> {
        let groups = self.cfg.talker_config.num_code_groups;
        let frames = codes.len();
        let column = |g: usize| -> Result<Tensor> {
            let ids: Vec<u32> = codes.iter().map(|f| f[g]).collect();
            Ok(Tensor::from_vec(ids, (1, frames), &self.device)?)
        };
        if let Some(bad) = codes.iter().position(|f| f.len() != groups) {
            return Err(crate::Error::InvalidArgument(format!(
                "frame {bad} has {} codes, the model {groups}",
                codes[bad].len()
            )));
        }
        let mut sum = self.talker.embed_codes(&column(0)?)?;
        for g in 1..groups {
            sum = (sum + self.predictor.embed_codes(g - 1, &column(g)?)?)?;
        }
        Ok(sum)
    }
}

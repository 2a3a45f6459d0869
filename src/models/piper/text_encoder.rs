//! Text encoder (`models.TextEncoder` + `attentions.Encoder`): phoneme ids to
//! the prior's mean and log-std per phoneme.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::attention::MultiHeadAttention;
use super::config::ModelConfig;
use super::modules::{conv1x1, LayerNorm};
use crate::nn::{Conv1d, Conv1dConfig};

/// Position-wise feed-forward block with kernel-`k` convs and ReLU.
#[derive(Debug, Clone)]
pub struct Ffn {
    conv_1: Conv1d,
    conv_2: Conv1d,
    pad_l: usize,
    pad_r: usize,
}

impl Ffn {
    /// Loads `conv_1`/`conv_2`; "same" padding is applied explicitly because
    /// it is asymmetric for even kernels (`_same_padding`).
    pub fn new(kernel_size: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv1dConfig::default();
        Ok(Self {
            conv_1: Conv1d::load(vb.pp("conv_1"), true, cfg)?,
            conv_2: Conv1d::load(vb.pp("conv_2"), true, cfg)?,
            pad_l: (kernel_size - 1) / 2,
            pad_r: kernel_size / 2,
        })
    }

    fn pad(&self, x: &Tensor) -> Result<Tensor> {
        if self.pad_l + self.pad_r == 0 {
            return Ok(x.clone());
        }
        x.pad_with_zeros(2, self.pad_l, self.pad_r)
    }

    /// `x`: `(B, C, T)`, `x_mask`: `(B, 1, T)`.
    pub fn forward(&self, x: &Tensor, x_mask: &Tensor) -> Result<Tensor> {
        let x = self
            .conv_1
            .forward(&self.pad(&x.broadcast_mul(x_mask)?)?)?
            .relu()?;
        let x = self.conv_2.forward(&self.pad(&x.broadcast_mul(x_mask)?)?)?;
        x.broadcast_mul(x_mask)
    }
}

/// Stack of post-norm transformer layers (`attentions.Encoder`).
#[derive(Debug, Clone)]
pub struct Encoder {
    attn_layers: Vec<MultiHeadAttention>,
    norm_layers_1: Vec<LayerNorm>,
    ffn_layers: Vec<Ffn>,
    norm_layers_2: Vec<LayerNorm>,
}

impl Encoder {
    /// Loads `cfg.n_layers` layers.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_channels;
        let mut e = Self {
            attn_layers: Vec::new(),
            norm_layers_1: Vec::new(),
            ffn_layers: Vec::new(),
            norm_layers_2: Vec::new(),
        };
        for i in 0..cfg.n_layers {
            e.attn_layers.push(MultiHeadAttention::new(
                h,
                cfg.n_heads,
                cfg.window_size,
                vb.pp("attn_layers").pp(i),
            )?);
            e.norm_layers_1
                .push(LayerNorm::new(h, vb.pp("norm_layers_1").pp(i))?);
            e.ffn_layers
                .push(Ffn::new(cfg.kernel_size, vb.pp("ffn_layers").pp(i))?);
            e.norm_layers_2
                .push(LayerNorm::new(h, vb.pp("norm_layers_2").pp(i))?);
        }
        Ok(e)
    }

    /// `x`: `(B, C, T)`, `x_mask`: `(B, 1, T)`.
    pub fn forward(&self, x: &Tensor, x_mask: &Tensor) -> Result<Tensor> {
        // (B, 1, T, 1) * (B, 1, 1, T) -> (B, 1, T, T)
        let attn_mask = x_mask.unsqueeze(3)?.broadcast_mul(&x_mask.unsqueeze(2)?)?;
        let mut x = x.broadcast_mul(x_mask)?;
        for i in 0..self.attn_layers.len() {
            let y = self.attn_layers[i].forward(&x, &attn_mask)?;
            x = self.norm_layers_1[i].forward(&(x + y)?)?;
            let y = self.ffn_layers[i].forward(&x, x_mask)?;
            x = self.norm_layers_2[i].forward(&(x + y)?)?;
        }
        x.broadcast_mul(x_mask)
    }
}

/// Output of the text encoder, all `(B, ·, T)`.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// Hidden states `(B, hidden, T)` (input of the duration predictor).
    pub x: Tensor,
    /// Prior mean `(B, inter, T)`.
    pub m_p: Tensor,
    /// Prior log-std `(B, inter, T)`.
    pub logs_p: Tensor,
    /// `(B, 1, T)`.
    pub x_mask: Tensor,
}

/// `enc_p`: embedding, encoder, projection to mean and log-std.
#[derive(Debug, Clone)]
pub struct TextEncoder {
    emb: Embedding,
    encoder: Encoder,
    proj: Conv1d,
    hidden_channels: usize,
    out_channels: usize,
}

impl TextEncoder {
    /// Loads `enc_p`.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let emb = vb
            .pp("emb")
            .get((cfg.n_vocab, cfg.hidden_channels), "weight")?;
        Ok(Self {
            emb: Embedding::new(emb, cfg.hidden_channels),
            encoder: Encoder::new(cfg, vb.pp("encoder"))?,
            proj: conv1x1(vb.pp("proj"))?,
            hidden_channels: cfg.hidden_channels,
            out_channels: cfg.inter_channels,
        })
    }

    /// `ids`: `(B, T)` u32, `x_mask`: `(B, 1, T)`.
    pub fn forward(&self, ids: &Tensor, x_mask: &Tensor) -> Result<EncoderOutput> {
        // (B, T) -> (B, T, H) -> (B, H, T)
        let x = (self.emb.forward(ids)? * (self.hidden_channels as f64).sqrt())?;
        let x = x.transpose(1, 2)?.contiguous()?;
        let x = self.encoder.forward(&x, x_mask)?;
        let stats = self.proj.forward(&x)?.broadcast_mul(x_mask)?;
        let m_p = stats.narrow(1, 0, self.out_channels)?;
        let logs_p = stats.narrow(1, self.out_channels, self.out_channels)?;
        Ok(EncoderOutput {
            x,
            m_p,
            logs_p,
            x_mask: x_mask.clone(),
        })
    }
}

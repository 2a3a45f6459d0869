//! Text conditioning: `TextEmbedding` of upstream `model/backbones/dit.py`,
//! with `ConvNeXtV2Block` and `GRN` of `model/modules.py`.
//!
//! The token sequence is padded (or cut) to the number of mel frames, so the
//! embedding depends on the utterance's length only: the sampler computes it
//! once per utterance, for both guidance branches, and reuses it at every
//! flow step.

use candle_core::{DType, Device, Module, Result, Tensor, D};
use candle_nn::{Conv1dConfig, Embedding, LayerNorm, Linear, VarBuilder};

use super::config::DitConfig;
use crate::nn::activation::gelu_erf;
use crate::nn::Conv1d;

/// Kernel of the depthwise convolution in each ConvNeXt block.
const DWCONV_KERNEL: usize = 7;
/// Expansion of the ConvNeXt blocks' pointwise layers (`conv_mult`).
const CONV_MULT: usize = 2;

/// The sinusoidal text positions of upstream `precompute_freqs_cis`:
/// `(len, dim)` in f32, cos half then sin half, frequencies
/// `10000^(-2i / dim)`.
pub fn text_positions(len: usize, dim: usize, device: &Device) -> Result<Tensor> {
    let half = dim / 2;
    // as upstream: f32 frequencies, positions times frequencies in f32
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / 10000f32.powf((2 * i) as f32 / dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for p in 0..len {
        for &f in &inv {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    let cos = Tensor::from_vec(cos, (len, half), device)?;
    let sin = Tensor::from_vec(sin, (len, half), device)?;
    Tensor::cat(&[cos, sin], 1)
}

/// Global response normalization over the sequence axis.
#[derive(Debug, Clone)]
pub struct Grn {
    /// `gamma`, `(1, 1, dim)`.
    gamma: Tensor,
    /// `beta`, `(1, 1, dim)`.
    beta: Tensor,
}

impl Grn {
    /// Loads `gamma` and `beta` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            gamma: vb.get((1, 1, dim), "gamma")?,
            beta: vb.get((1, 1, dim), "beta")?,
        })
    }
}

impl Module for Grn {
    /// `(B, N, C) -> (B, N, C)`: `gamma * (x * Nx) + beta + x` with `Nx` the
    /// L2 norm over N divided by its mean over C.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // the norm sums over the whole sequence: f32 keeps it exact in half
        // precision
        let g = x.to_dtype(DType::F32)?.sqr()?.sum_keepdim(1)?.sqrt()?; // (B, 1, C)
        let n = g.broadcast_div(&(g.mean_keepdim(D::Minus1)? + 1e-6)?)?;
        let n = n.to_dtype(x.dtype())?;
        let y = x.broadcast_mul(&n)?.broadcast_mul(&self.gamma)?;
        (y.broadcast_add(&self.beta)? + x)?.contiguous()
    }
}

/// The depthwise convolution of a ConvNeXt block (`dwconv`, k7, one group
/// per channel), on `(B, N, C)`.
#[derive(Debug, Clone)]
pub struct DepthwiseConv {
    /// The crate's conv layer: a dedicated kernel for f32 on the CPU.
    conv: Conv1d,
    /// `(K, C)`: the taps, for the shifted-sum form used elsewhere.
    taps: Tensor,
    bias: Tensor,
}

impl DepthwiseConv {
    /// Loads `weight` `(dim, 1, 7)` and `bias` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((dim, 1, DWCONV_KERNEL), "weight")?;
        let bias = vb.get(dim, "bias")?;
        let cfg = Conv1dConfig {
            padding: DWCONV_KERNEL / 2,
            groups: dim,
            ..Default::default()
        };
        Ok(Self {
            taps: weight.squeeze(1)?.t()?.contiguous()?,
            conv: Conv1d::from_tensors(weight, Some(bias.clone()), cfg),
            bias,
        })
    }

    /// `(B, N, C) -> (B, N, C)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            // (B, N, C) -> (B, C, N) for the conv, and back
            let h = self.conv.forward(&x.transpose(1, 2)?.contiguous()?)?;
            h.transpose(1, 2)?.contiguous()
        } else {
            self.forward_shifted(x)
        }
    }

    /// The convolution as seven shifted multiply-adds: candle's grouped conv
    /// would run one convolution per channel (512 launches on a GPU).
    pub fn forward_shifted(&self, x: &Tensor) -> Result<Tensor> {
        let (_, n, _) = x.dims3()?;
        let pad = DWCONV_KERNEL / 2;
        let xp = x.pad_with_zeros(1, pad, pad)?;
        let mut acc = x.zeros_like()?.broadcast_add(&self.bias)?;
        for k in 0..DWCONV_KERNEL {
            acc = (acc + xp.narrow(1, k, n)?.broadcast_mul(&self.taps.get(k)?)?)?;
        }
        Ok(acc)
    }
}

/// ConvNeXt-V2 block: depthwise conv k7 -> LayerNorm -> Linear -> GELU ->
/// GRN -> Linear, plus the input.
#[derive(Debug, Clone)]
pub struct ConvNeXtV2Block {
    dwconv: DepthwiseConv,
    norm: LayerNorm,
    pwconv1: Linear,
    grn: Grn,
    pwconv2: Linear,
}

impl ConvNeXtV2Block {
    /// Loads `dwconv`, `norm`, `pwconv1`, `grn`, `pwconv2` under `vb`.
    pub fn new(dim: usize, intermediate_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            dwconv: DepthwiseConv::new(dim, vb.pp("dwconv"))?,
            norm: candle_nn::layer_norm(dim, 1e-6, vb.pp("norm"))?,
            pwconv1: candle_nn::linear(dim, intermediate_dim, vb.pp("pwconv1"))?,
            grn: Grn::new(intermediate_dim, vb.pp("grn"))?,
            pwconv2: candle_nn::linear(intermediate_dim, dim, vb.pp("pwconv2"))?,
        })
    }
}

impl Module for ConvNeXtV2Block {
    /// `(B, N, C) -> (B, N, C)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.dwconv.forward(x)?;
        let h = self.norm.forward(&h)?;
        let h = gelu_erf(&self.pwconv1.forward(&h)?)?;
        let h = self.grn.forward(&h)?;
        x + self.pwconv2.forward(&h)?
    }
}

/// `text_embed`: token table, sinusoidal positions and ConvNeXt blocks.
#[derive(Debug, Clone)]
pub struct TextEmbedding {
    /// `text_embed`: `(text_num_embeds + 1, text_dim)`, row 0 the filler.
    text_embed: Embedding,
    /// `text_blocks.{i}`.
    text_blocks: Vec<ConvNeXtV2Block>,
    /// Zero the filler positions around every block (v1).
    mask_padding: bool,
    text_dim: usize,
}

impl TextEmbedding {
    /// Loads `text_embed` and `text_blocks.{i}` under `vb`
    /// (`transformer.text_embed`).
    pub fn new(cfg: &DitConfig, vb: VarBuilder) -> Result<Self> {
        let text_embed =
            candle_nn::embedding(cfg.text_num_embeds + 1, cfg.text_dim, vb.pp("text_embed"))?;
        let vb_blocks = vb.pp("text_blocks");
        let text_blocks = (0..cfg.conv_layers)
            .map(|i| ConvNeXtV2Block::new(cfg.text_dim, cfg.text_dim * CONV_MULT, vb_blocks.pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            text_embed,
            text_blocks,
            mask_padding: cfg.text_mask_padding,
            text_dim: cfg.text_dim,
        })
    }

    /// Upstream's padded table indices of one batch: `ids + 1` cut or padded
    /// with 0 to `seq_len`; `-1` (batch padding) becomes the filler 0.
    fn table_indices(ids: &Tensor, seq_len: usize) -> Result<Vec<Vec<u32>>> {
        let rows = ids.to_dtype(DType::I64)?.to_vec2::<i64>()?;
        rows.iter()
            .map(|row| {
                let mut out = vec![0u32; seq_len];
                for (o, &id) in out.iter_mut().zip(row) {
                    *o = u32::try_from(id + 1).map_err(|_| {
                        candle_core::Error::Msg(format!("text token id {id} is negative"))
                    })?;
                }
                Ok(out)
            })
            .collect()
    }

    /// `(B, nt)` integer token ids (vocabulary indices, `-1` for batch
    /// padding) -> `(B, seq_len, text_dim)`. With `drop_text` every token
    /// becomes the filler (the unconditional branch), but the padding mask
    /// stays the one of the real text, as upstream.
    pub fn forward(&self, ids: &Tensor, seq_len: usize, drop_text: bool) -> Result<Tensor> {
        let flags = vec![drop_text; ids.dim(0)?];
        self.forward_rows(ids, seq_len, &flags)
    }

    /// [`TextEmbedding::forward`] with a `drop_text` flag per batch row: the
    /// sampler embeds the conditional and unconditional text in one pass.
    pub fn forward_rows(&self, ids: &Tensor, seq_len: usize, drop_text: &[bool]) -> Result<Tensor> {
        let device = self.text_embed.embeddings().device();
        let dtype = self.text_embed.embeddings().dtype();
        let rows = Self::table_indices(ids, seq_len)?;
        if rows.len() != drop_text.len() {
            candle_core::bail!(
                "text embedding: {} rows of ids but {} drop flags",
                rows.len(),
                drop_text.len()
            )
        }
        let batch = rows.len();
        let vocab = self.text_embed.embeddings().dim(0)?;
        // 1 where a real token is, 0 on filler positions (upstream's
        // `text_mask = text == 0`, taken before drop_text)
        let mut keep = Vec::with_capacity(batch * seq_len);
        let mut table = Vec::with_capacity(batch * seq_len);
        for (row, &drop) in rows.iter().zip(drop_text) {
            for &i in row {
                if i as usize >= vocab {
                    candle_core::bail!(
                        "text token id {} is outside the vocabulary of {} tokens",
                        i - 1,
                        vocab - 1
                    )
                }
                keep.push(if i == 0 { 0f32 } else { 1.0 });
                table.push(if drop { 0 } else { i });
            }
        }
        let table = Tensor::from_vec(table, (batch, seq_len), device)?;
        let mut x = self.text_embed.forward(&table)?; // (B, N, text_dim)
        if self.text_blocks.is_empty() {
            return Ok(x);
        }
        let pos = text_positions(seq_len, self.text_dim, device)?.to_dtype(dtype)?;
        x = x.broadcast_add(&pos.unsqueeze(0)?)?;
        if self.mask_padding {
            let keep = Tensor::from_vec(keep, (batch, seq_len, 1), device)?.to_dtype(dtype)?;
            x = x.broadcast_mul(&keep)?;
            for block in &self.text_blocks {
                x = block.forward(&x)?.broadcast_mul(&keep)?;
            }
        } else {
            for block in &self.text_blocks {
                x = block.forward(&x)?;
            }
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_cos_half_first() {
        let p = text_positions(3, 4, &Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(p[0], vec![1.0, 1.0, 0.0, 0.0]);
        // frequencies 1 and 1/100
        assert!((p[2][0] - 2f32.cos()).abs() < 1e-6);
        assert!((p[2][1] - 0.02f32.cos()).abs() < 1e-6);
        assert!((p[2][2] - 2f32.sin()).abs() < 1e-6);
        assert!((p[2][3] - 0.02f32.sin()).abs() < 1e-6);
    }

    #[test]
    fn depthwise_forms_agree() {
        let dev = Device::Cpu;
        let mut ts = std::collections::HashMap::new();
        ts.insert(
            "weight".to_string(),
            Tensor::randn(0f32, 1.0, (6, 1, 7), &dev).unwrap(),
        );
        ts.insert(
            "bias".to_string(),
            Tensor::randn(0f32, 1.0, 6, &dev).unwrap(),
        );
        let vb = VarBuilder::from_tensors(ts, DType::F32, &dev);
        let conv = DepthwiseConv::new(6, vb).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 11, 6), &dev).unwrap();
        let a = conv.forward(&x).unwrap();
        let b = conv.forward_shifted(&x).unwrap();
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        assert!(d.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn indices_are_shifted_cut_and_padded() {
        let ids = Tensor::new(&[[3i64, 0, 5, -1]], &Device::Cpu).unwrap();
        let rows = TextEmbedding::table_indices(&ids, 6).unwrap();
        assert_eq!(rows, vec![vec![4, 1, 6, 0, 0, 0]]);
        let rows = TextEmbedding::table_indices(&ids, 2).unwrap();
        assert_eq!(rows, vec![vec![4, 1]]);
        let bad = Tensor::new(&[[-2i64]], &Device::Cpu).unwrap();
        assert!(TextEmbedding::table_indices(&bad, 1).is_err());
    }
}

//! Multi-head self-attention with relative-position keys and values
//! (`attentions.MultiHeadAttention`, window 4, tables shared by the heads).

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::modules::conv1x1;
use crate::nn::Conv1d;

/// Self-attention of the text encoder.
#[derive(Debug, Clone)]
pub struct MultiHeadAttention {
    conv_q: Conv1d,
    conv_k: Conv1d,
    conv_v: Conv1d,
    conv_o: Conv1d,
    /// `(1, 2 * window + 1, k_channels)`
    emb_rel_k: Tensor,
    /// `(1, 2 * window + 1, k_channels)`
    emb_rel_v: Tensor,
    n_heads: usize,
    k_channels: usize,
    window_size: usize,
}

impl MultiHeadAttention {
    /// Loads one attention layer.
    pub fn new(
        channels: usize,
        n_heads: usize,
        window_size: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let k_channels = channels / n_heads;
        let rel_shape = (1, 2 * window_size + 1, k_channels);
        Ok(Self {
            conv_q: conv1x1(vb.pp("conv_q"))?,
            conv_k: conv1x1(vb.pp("conv_k"))?,
            conv_v: conv1x1(vb.pp("conv_v"))?,
            conv_o: conv1x1(vb.pp("conv_o"))?,
            emb_rel_k: vb.get(rel_shape, "emb_rel_k")?,
            emb_rel_v: vb.get(rel_shape, "emb_rel_v")?,
            n_heads,
            k_channels,
            window_size,
        })
    }

    /// `x`: `(B, C, T)`, `attn_mask`: `(B, 1, T, T)` with 1 where attending is allowed.
    pub fn forward(&self, x: &Tensor, attn_mask: &Tensor) -> Result<Tensor> {
        let q = self.conv_q.forward(x)?;
        let k = self.conv_k.forward(x)?;
        let v = self.conv_v.forward(x)?;
        let (b, c, t) = q.dims3()?;
        // (B, C, T) -> (B, H, T, Dk)
        let heads = |x: Tensor| -> Result<Tensor> {
            x.reshape((b, self.n_heads, self.k_channels, t))?
                .transpose(2, 3)?
                .contiguous()
        };
        let scale = (self.k_channels as f64).sqrt();
        let q = (heads(q)? / scale)?;
        let k = heads(k)?;
        let v = heads(v)?;

        let mut scores = q.matmul(&k.transpose(2, 3)?.contiguous()?)?; // (B, H, T, T)
        let rel_k = self.relative_embeddings(&self.emb_rel_k, t)?; // (1, 2T-1, Dk)
        let rel_logits = q.broadcast_matmul(&rel_k.transpose(1, 2)?.contiguous()?.unsqueeze(0)?)?;
        scores = (scores + relative_to_absolute(&rel_logits)?)?;
        let fill = Tensor::full(-1e4f32, scores.shape(), scores.device())?;
        let scores = attn_mask
            .broadcast_as(scores.shape())?
            .ne(0f32)?
            .where_cond(&scores, &fill)?;
        let p_attn = candle_nn::ops::softmax_last_dim(&scores)?;

        let out = p_attn.matmul(&v)?; // (B, H, T, Dk)
        let rel_weights = absolute_to_relative(&p_attn)?; // (B, H, T, 2T-1)
        let rel_v = self.relative_embeddings(&self.emb_rel_v, t)?;
        let out = (out + rel_weights.broadcast_matmul(&rel_v.unsqueeze(0)?)?)?;
        // (B, H, T, Dk) -> (B, C, T)
        let out = out.transpose(2, 3)?.contiguous()?.reshape((b, c, t))?;
        self.conv_o.forward(&out)
    }

    /// The `2T - 1` relative embeddings for length `t`: the table zero-padded
    /// or sliced around its centre (`_get_relative_embeddings`).
    fn relative_embeddings(&self, table: &Tensor, t: usize) -> Result<Tensor> {
        let w = self.window_size;
        let pad = t.saturating_sub(w + 1);
        let start = (w + 1).saturating_sub(t);
        let padded = if pad > 0 {
            table.pad_with_zeros(1, pad, pad)?
        } else {
            table.clone()
        };
        padded.narrow(1, start, 2 * t - 1)
    }
}

/// `(B, H, T, 2T-1)` relative logits to `(B, H, T, T)` absolute ones:
/// `out[i][j] = x[i][T - 1 + j - i]` (`_relative_position_to_absolute_position`).
pub fn relative_to_absolute(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, _) = x.dims4()?;
    let x = x.pad_with_zeros(D::Minus1, 0, 1)?; // (B, H, T, 2T)
    let flat = x
        .reshape((b, h, 2 * t * t))?
        .pad_with_zeros(D::Minus1, 0, t - 1)?;
    flat.reshape((b, h, t + 1, 2 * t - 1))?
        .narrow(2, 0, t)?
        .narrow(3, t - 1, t)
}

/// `(B, H, T, T)` absolute weights to `(B, H, T, 2T-1)` relative ones
/// (`_absolute_position_to_relative_position`).
pub fn absolute_to_relative(x: &Tensor) -> Result<Tensor> {
    let (b, h, t, _) = x.dims4()?;
    let x = x.pad_with_zeros(D::Minus1, 0, t - 1)?; // (B, H, T, 2T-1)
    let flat = x
        .reshape((b, h, t * (2 * t - 1)))?
        .pad_with_zeros(D::Minus1, t, 0)?;
    flat.reshape((b, h, t, 2 * t))?.narrow(3, 1, 2 * t - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn values(t: Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn relative_and_absolute_indexing() {
        let t = 4;
        let data: Vec<f32> = (0..t * (2 * t - 1)).map(|v| v as f32).collect();
        let x = Tensor::from_vec(data.clone(), (1, 1, t, 2 * t - 1), &Device::Cpu).unwrap();
        let abs = values(relative_to_absolute(&x).unwrap());
        for i in 0..t {
            for j in 0..t {
                assert_eq!(abs[i * t + j], data[i * (2 * t - 1) + (t - 1 + j - i)]);
            }
        }
        let sq: Vec<f32> = (0..t * t).map(|v| v as f32 + 1.0).collect();
        let x = Tensor::from_vec(sq.clone(), (1, 1, t, t), &Device::Cpu).unwrap();
        let rel = values(absolute_to_relative(&x).unwrap());
        for i in 0..t {
            for r in 0..2 * t - 1 {
                let j = i as isize + r as isize - (t as isize - 1);
                let want = if (0..t as isize).contains(&j) {
                    sq[i * t + j as usize]
                } else {
                    0.0
                };
                assert_eq!(rel[i * (2 * t - 1) + r], want, "i={i} r={r}");
            }
        }
    }
}

//! Normalizing flow between the prior and the decoder's latent
//! (`ResidualCouplingBlock` of mean-only `ResidualCouplingLayer`s with a
//! WaveNet `WN` each), run in reverse at inference.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::modules::{conv1x1, conv_same, flip_channels, gated_tanh_sigmoid};
use crate::nn::Conv1d;

/// Non-causal WaveNet with gated activations (`modules.WN`).
#[derive(Debug, Clone)]
pub struct WaveNet {
    in_layers: Vec<Conv1d>,
    res_skip_layers: Vec<Conv1d>,
    cond_layer: Option<Conv1d>,
    hidden_channels: usize,
}

impl WaveNet {
    /// Loads `n_layers` layers with dilations `dilation_rate^i`.
    pub fn new(cfg: &ModelConfig, hidden_channels: usize, vb: VarBuilder) -> Result<Self> {
        let mut in_layers = Vec::new();
        let mut res_skip_layers = Vec::new();
        for i in 0..cfg.flow_wn_layers {
            let dilation = cfg.flow_dilation_rate.pow(i as u32);
            in_layers.push(conv_same(
                vb.pp("in_layers").pp(i),
                cfg.flow_kernel_size,
                dilation,
                1,
                true,
            )?);
            res_skip_layers.push(conv1x1(vb.pp("res_skip_layers").pp(i))?);
        }
        let cond_layer = if cfg.gin_channels > 0 {
            Some(conv1x1(vb.pp("cond_layer"))?)
        } else {
            None
        };
        Ok(Self {
            in_layers,
            res_skip_layers,
            cond_layer,
            hidden_channels,
        })
    }

    /// `x`: `(B, H, T)`, `g`: optional speaker embedding `(B, gin, 1)`.
    pub fn forward(&self, x: &Tensor, x_mask: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
        let h = self.hidden_channels;
        let n = self.in_layers.len();
        let g = match (&self.cond_layer, g) {
            (Some(layer), Some(g)) => Some(layer.forward(g)?),
            _ => None,
        };
        let mut x = x.clone();
        let mut output: Option<Tensor> = None;
        for i in 0..n {
            let mut x_in = self.in_layers[i].forward(&x)?;
            if let Some(g) = &g {
                x_in = x_in.broadcast_add(&g.narrow(1, i * 2 * h, 2 * h)?)?;
            }
            let acts = gated_tanh_sigmoid(&x_in, h)?;
            let res_skip = self.res_skip_layers[i].forward(&acts)?;
            let skip = if i < n - 1 {
                x = (x + res_skip.narrow(1, 0, h)?)?.broadcast_mul(x_mask)?;
                res_skip.narrow(1, h, h)?
            } else {
                res_skip
            };
            output = Some(match output {
                Some(o) => (o + skip)?,
                None => skip,
            });
        }
        match output {
            Some(o) => o.broadcast_mul(x_mask),
            None => x.zeros_like(),
        }
    }
}

/// Mean-only affine coupling layer (`modules.ResidualCouplingLayer`).
#[derive(Debug, Clone)]
pub struct ResidualCouplingLayer {
    pre: Conv1d,
    enc: WaveNet,
    post: Conv1d,
    half_channels: usize,
}

impl ResidualCouplingLayer {
    /// Loads one coupling layer.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let pre = conv1x1(vb.pp("pre"))?;
        let hidden = pre.weight().dim(0)?;
        let post = conv1x1(vb.pp("post"))?;
        if post.weight().dim(0)? != cfg.inter_channels / 2 {
            candle_core::bail!(
                "only mean-only coupling layers are supported (flow post conv has {} channels)",
                post.weight().dim(0)?
            );
        }
        Ok(Self {
            pre,
            enc: WaveNet::new(cfg, hidden, vb.pp("enc"))?,
            post,
            half_channels: cfg.inter_channels / 2,
        })
    }

    /// Inverse: `x1 = (x1 - m(x0)) * mask`.
    pub fn reverse(&self, x: &Tensor, x_mask: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
        let x0 = x.narrow(1, 0, self.half_channels)?;
        let x1 = x.narrow(1, self.half_channels, self.half_channels)?;
        let h = self.pre.forward(&x0)?.broadcast_mul(x_mask)?;
        let h = self.enc.forward(&h, x_mask, g)?;
        let m = self.post.forward(&h)?.broadcast_mul(x_mask)?;
        let x1 = x1.sub(&m)?.broadcast_mul(x_mask)?;
        Tensor::cat(&[&x0, &x1], 1)
    }
}

/// `flow`: coupling layers interleaved with channel flips.
#[derive(Debug, Clone)]
pub struct ResidualCouplingBlock {
    flows: Vec<ResidualCouplingLayer>,
}

impl ResidualCouplingBlock {
    /// Loads `flow.flows.{0,2,4,…}` (odd indices are parameter-free flips).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let flows = (0..cfg.n_flows)
            .map(|i| ResidualCouplingLayer::new(cfg, vb.pp("flows").pp(2 * i)))
            .collect::<Result<_>>()?;
        Ok(Self { flows })
    }

    /// Prior sample `z_p` `(B, inter, T')` to decoder latent `z`.
    pub fn reverse(&self, x: &Tensor, x_mask: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
        let mut x = x.clone();
        for flow in self.flows.iter().rev() {
            x = flip_channels(&x)?;
            x = flow.reverse(&x, x_mask, g)?;
        }
        Ok(x)
    }
}

//! Duration predictors: the stochastic one (`StochasticDurationPredictor`,
//! run in reverse from noise) and the deterministic one some voices use.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::config::ModelConfig;
use super::modules::{conv1x1, conv_same, flip_channels, gelu_erf, LayerNorm};
use super::spline::rational_quadratic;
use crate::nn::Conv1d;

/// Dilated depth-separable conv stack (`modules.DDSConv`), exact GELU.
#[derive(Debug, Clone)]
pub struct DdsConv {
    convs_sep: Vec<Conv1d>,
    convs_1x1: Vec<Conv1d>,
    norms_1: Vec<LayerNorm>,
    norms_2: Vec<LayerNorm>,
}

impl DdsConv {
    /// Loads `n_layers` layers with dilations `kernel^i`.
    pub fn new(channels: usize, kernel: usize, n_layers: usize, vb: VarBuilder) -> Result<Self> {
        let mut s = Self {
            convs_sep: Vec::new(),
            convs_1x1: Vec::new(),
            norms_1: Vec::new(),
            norms_2: Vec::new(),
        };
        for i in 0..n_layers {
            let dilation = kernel.pow(i as u32);
            s.convs_sep.push(conv_same(
                vb.pp("convs_sep").pp(i),
                kernel,
                dilation,
                channels,
                true,
            )?);
            s.convs_1x1.push(conv1x1(vb.pp("convs_1x1").pp(i))?);
            s.norms_1
                .push(LayerNorm::new(channels, vb.pp("norms_1").pp(i))?);
            s.norms_2
                .push(LayerNorm::new(channels, vb.pp("norms_2").pp(i))?);
        }
        Ok(s)
    }

    /// `x`: `(B, C, T)`, `g`: optional `(B, C, T)` conditioning added first.
    pub fn forward(&self, x: &Tensor, x_mask: &Tensor, g: Option<&Tensor>) -> Result<Tensor> {
        let mut x = match g {
            Some(g) => x.broadcast_add(g)?,
            None => x.clone(),
        };
        for i in 0..self.convs_sep.len() {
            let y = self.convs_sep[i].forward(&x.broadcast_mul(x_mask)?)?;
            let y = gelu_erf(&self.norms_1[i].forward(&y)?)?;
            let y = self.convs_1x1[i].forward(&y)?;
            let y = gelu_erf(&self.norms_2[i].forward(&y)?)?;
            x = (x + y)?;
        }
        x.broadcast_mul(x_mask)
    }
}

/// Coupling layer with a rational-quadratic spline (`modules.ConvFlow`).
#[derive(Debug, Clone)]
pub struct ConvFlow {
    pre: Conv1d,
    convs: DdsConv,
    proj: Conv1d,
    filter_channels: usize,
    num_bins: usize,
    tail_bound: f32,
}

impl ConvFlow {
    /// Loads one flow (2 channels, 10 bins, tail bound 5).
    pub fn new(filter_channels: usize, kernel: usize, vb: VarBuilder) -> Result<Self> {
        let proj = conv1x1(vb.pp("proj"))?;
        // proj emits half_channels * (3 * num_bins - 1) channels
        let num_bins = (proj.weight().dim(0)? + 1) / 3;
        Ok(Self {
            pre: conv1x1(vb.pp("pre"))?,
            convs: DdsConv::new(filter_channels, kernel, 3, vb.pp("convs"))?,
            proj,
            filter_channels,
            num_bins,
            tail_bound: 5.0,
        })
    }

    /// The inverse transform. `x`: `(B, 2, T)`, `g`: `(B, filter, T)`.
    pub fn reverse(&self, x: &Tensor, x_mask: &Tensor, g: &Tensor) -> Result<Tensor> {
        let x0 = x.narrow(1, 0, 1)?;
        let x1 = x.narrow(1, 1, 1)?;
        let h = self.pre.forward(&x0)?;
        let h = self.convs.forward(&h, x_mask, Some(g))?;
        let h = self.proj.forward(&h)?.broadcast_mul(x_mask)?; // (B, 3K-1, T)
        let (b, p, t) = h.dims3()?;
        let h = h.to_dtype(candle_core::DType::F32)?.to_vec3::<f32>()?;
        let x1v = x1.to_dtype(candle_core::DType::F32)?.to_vec3::<f32>()?;
        let k = self.num_bins;
        let scale = (self.filter_channels as f32).sqrt();
        let mut out = Vec::with_capacity(b * t);
        let (mut w, mut hh, mut d) = (vec![0f32; k], vec![0f32; k], vec![0f32; p - 2 * k]);
        for bi in 0..b {
            for ti in 0..t {
                // (B, 3K-1, T) -> per frame [widths K | heights K | derivs K-1]
                for j in 0..k {
                    w[j] = h[bi][j][ti] / scale;
                    hh[j] = h[bi][k + j][ti] / scale;
                }
                for (j, dj) in d.iter_mut().enumerate() {
                    *dj = h[bi][2 * k + j][ti];
                }
                out.push(rational_quadratic(
                    x1v[bi][0][ti],
                    &w,
                    &hh,
                    &d,
                    self.tail_bound,
                    true,
                ));
            }
        }
        let x1 = Tensor::from_vec(out, (b, 1, t), x.device())?.to_dtype(x.dtype())?;
        Tensor::cat(&[&x0, &x1], 1)?.broadcast_mul(x_mask)
    }
}

/// `ElementwiseAffine` with 2 channels.
#[derive(Debug, Clone)]
pub struct ElementwiseAffine {
    m: Tensor,
    logs: Tensor,
}

impl ElementwiseAffine {
    /// Loads `m` and `logs`, both `(C, 1)`.
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            m: vb.get((channels, 1), "m")?,
            logs: vb.get((channels, 1), "logs")?,
        })
    }

    /// `(x - m) * exp(-logs) * mask`.
    pub fn reverse(&self, x: &Tensor, x_mask: &Tensor) -> Result<Tensor> {
        x.broadcast_sub(&self.m)?
            .broadcast_mul(&self.logs.neg()?.exp()?)?
            .broadcast_mul(x_mask)
    }
}

/// `dp`: stochastic (flows from noise) or deterministic duration predictor.
#[derive(Debug, Clone)]
pub enum DurationPredictor {
    /// `StochasticDurationPredictor`.
    Stochastic {
        /// 1x1 input projection.
        pre: Conv1d,
        /// Conditioning from the speaker embedding.
        cond: Option<Conv1d>,
        /// Feature stack.
        convs: DdsConv,
        /// 1x1 output projection.
        proj: Conv1d,
        /// Flows in reverse order, without the unused first `ConvFlow`.
        affine: ElementwiseAffine,
        /// `dp.flows.{3,5,7}` (reverse order: 7, 5, 3).
        conv_flows: Vec<ConvFlow>,
    },
    /// `DurationPredictor`.
    Deterministic {
        /// First conv.
        conv_1: Conv1d,
        /// First norm.
        norm_1: LayerNorm,
        /// Second conv.
        conv_2: Conv1d,
        /// Second norm.
        norm_2: LayerNorm,
        /// 1x1 to one channel.
        proj: Conv1d,
        /// Conditioning from the speaker embedding.
        cond: Option<Conv1d>,
    },
}

impl DurationPredictor {
    /// Loads `dp`.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let cond = if cfg.gin_channels > 0 {
            Some(conv1x1(vb.pp("cond"))?)
        } else {
            None
        };
        if !cfg.use_sdp {
            let k = vb.pp("conv_1").get_unchecked("weight")?.dim(2)?;
            let conv = |name: &str| {
                Conv1d::load(
                    vb.pp(name),
                    true,
                    crate::nn::Conv1dConfig {
                        padding: k / 2,
                        ..Default::default()
                    },
                )
            };
            let filter = vb.pp("conv_1").get_unchecked("weight")?.dim(0)?;
            return Ok(Self::Deterministic {
                conv_1: conv("conv_1")?,
                norm_1: LayerNorm::new(filter, vb.pp("norm_1"))?,
                conv_2: conv("conv_2")?,
                norm_2: LayerNorm::new(filter, vb.pp("norm_2"))?,
                proj: conv1x1(vb.pp("proj"))?,
                cond,
            });
        }
        let filter = vb.pp("pre").get_unchecked("weight")?.dim(0)?;
        let kernel = vb.pp("convs.convs_sep.0").get_unchecked("weight")?.dim(2)?;
        let mut conv_flows = Vec::new();
        // flows = [affine, cf1, flip, cf3, flip, cf5, flip, cf7, flip]; the
        // reverse pass skips cf1 (absent from exports)
        let mut i = 3;
        while vb.contains_tensor(&format!("flows.{i}.pre.weight")) {
            conv_flows.push(ConvFlow::new(filter, kernel, vb.pp("flows").pp(i))?);
            i += 2;
        }
        conv_flows.reverse();
        Ok(Self::Stochastic {
            pre: conv1x1(vb.pp("pre"))?,
            cond,
            convs: DdsConv::new(filter, kernel, 3, vb.pp("convs"))?,
            proj: conv1x1(vb.pp("proj"))?,
            affine: ElementwiseAffine::new(2, vb.pp("flows.0"))?,
            conv_flows,
        })
    }

    /// Log-durations `(B, 1, T)`. `noise` is `(B, 2, T)` standard normal
    /// already multiplied by `noise_w` (zeros for deterministic output);
    /// ignored by the deterministic predictor.
    pub fn forward(
        &self,
        x: &Tensor,
        x_mask: &Tensor,
        g: Option<&Tensor>,
        noise: &Tensor,
    ) -> Result<Tensor> {
        match self {
            Self::Stochastic {
                pre,
                cond,
                convs,
                proj,
                affine,
                conv_flows,
            } => {
                let mut x = pre.forward(x)?;
                if let (Some(cond), Some(g)) = (cond, g) {
                    x = x.broadcast_add(&cond.forward(g)?)?;
                }
                let x = convs.forward(&x, x_mask, None)?;
                let x = proj.forward(&x)?.broadcast_mul(x_mask)?;
                // reversed flows: flip, cf7, flip, cf5, flip, cf3, flip, affine
                let mut z = noise.clone();
                for flow in conv_flows {
                    z = flip_channels(&z)?;
                    z = flow.reverse(&z, x_mask, &x)?;
                }
                z = flip_channels(&z)?;
                z = affine.reverse(&z, x_mask)?;
                z.narrow(1, 0, 1)
            }
            Self::Deterministic {
                conv_1,
                norm_1,
                conv_2,
                norm_2,
                proj,
                cond,
            } => {
                let mut x = x.clone();
                if let (Some(cond), Some(g)) = (cond, g) {
                    x = x.broadcast_add(&cond.forward(g)?)?;
                }
                let x = conv_1.forward(&x.broadcast_mul(x_mask)?)?.relu()?;
                let x = norm_1.forward(&x)?;
                let x = conv_2.forward(&x.broadcast_mul(x_mask)?)?.relu()?;
                let x = norm_2.forward(&x)?;
                proj.forward(&x.broadcast_mul(x_mask)?)?
                    .broadcast_mul(x_mask)
            }
        }
    }
}

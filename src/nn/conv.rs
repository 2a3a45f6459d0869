//! 1-D convolution layers holding their weights, with upstream tensor names.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

pub use candle_nn::{Conv1dConfig, ConvTranspose1dConfig};

/// A 1-D convolution `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: Conv1dConfig,
}

impl Conv1d {
    /// Builds from explicit tensors: `weight` is `(C_out, C_in / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: Conv1dConfig) -> Self {
        Self { weight, bias, cfg }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`, reading the
    /// kernel shape from the checkpoint.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: Conv1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(0)?, "bias")?)
        } else {
            None
        };
        Ok(Self { weight, bias, cfg })
    }

    /// The weight, `(C_out, C_in / groups, K)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(C_out,)`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The convolution settings.
    pub fn config(&self) -> &Conv1dConfig {
        &self.cfg
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv1d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

/// A transposed 1-D convolution (upsampling) `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct ConvTranspose1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: ConvTranspose1dConfig,
}

impl ConvTranspose1d {
    /// Builds from explicit tensors: `weight` is `(C_in, C_out / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: ConvTranspose1dConfig) -> Self {
        Self { weight, bias, cfg }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: ConvTranspose1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(1)? * cfg.groups, "bias")?)
        } else {
            None
        };
        Ok(Self { weight, bias, cfg })
    }

    /// The weight, `(C_in, C_out / groups, K)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(C_out,)`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The convolution settings.
    pub fn config(&self) -> &ConvTranspose1dConfig {
        &self.cfg
    }
}

impl Module for ConvTranspose1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv_transpose1d(
            &self.weight,
            c.padding,
            c.output_padding,
            c.stride,
            c.dilation,
            c.groups,
        )?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }
}

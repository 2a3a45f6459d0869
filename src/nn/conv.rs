//! 1-D convolution layers holding their weights, with upstream tensor names.
//!
//! On the CPU with f32 tensors the layers run the kernels of
//! [`super::cpu_conv`]; everywhere else (CUDA, other dtypes, grouped convs
//! other than depthwise) they run candle's own ops, which the CPU kernels
//! are tested against.

use std::sync::{Arc, OnceLock};

use candle_core::{DType, Device, Module, Result, Storage, Tensor};
use candle_nn::VarBuilder;

pub use candle_nn::{Conv1dConfig, ConvTranspose1dConfig};

use super::cpu_conv::{self, ConvGeom, ConvTransposeGeom};
use super::simd_conv;

/// Runs `f` on the contiguous f32 data of a CPU tensor; `None` elsewhere.
fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    if !matches!(t.device(), Device::Cpu) || t.dtype() != DType::F32 {
        return None;
    }
    let (storage, layout) = t.storage_and_layout();
    let (start, end) = layout.contiguous_offsets()?;
    match &*storage {
        Storage::Cpu(cpu) => cpu.as_slice::<f32>().ok().map(|s| f(&s[start..end])),
        _ => None,
    }
}

fn leaky_relu(x: &Tensor, slope: Option<f64>) -> Result<Tensor> {
    match slope {
        Some(s) => candle_nn::ops::leaky_relu(x, s),
        None => Ok(x.clone()),
    }
}

/// Weights rearranged once for the SIMD kernel, built on first use.
type Packed = Arc<OnceLock<Vec<f32>>>;

/// A 1-D convolution `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct Conv1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: Conv1dConfig,
    packed: Packed,
}

impl Conv1d {
    /// Builds from explicit tensors: `weight` is `(C_out, C_in / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: Conv1dConfig) -> Self {
        Self {
            weight,
            bias,
            cfg,
            packed: Packed::default(),
        }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`, reading the
    /// kernel shape from the checkpoint.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: Conv1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?.contiguous()?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(0)?, "bias")?.contiguous()?)
        } else {
            None
        };
        Ok(Self::from_tensors(weight, bias, cfg))
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

    /// `conv(leaky_relu(x, slope)) + residual`, fused on the CPU path (the
    /// HiFi-GAN residual blocks' pattern); `residual` has the output's shape.
    pub fn forward_fused(
        &self,
        x: &Tensor,
        pre_leaky_relu: Option<f64>,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        if let Some(y) = self.forward_cpu(x, pre_leaky_relu, residual)? {
            return Ok(y);
        }
        let y = self.forward_candle(&leaky_relu(x, pre_leaky_relu)?)?;
        match residual {
            Some(r) => y + r,
            None => Ok(y),
        }
    }

    /// candle's op (the reference for the CPU kernels).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv1d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
        match &self.bias {
            Some(b) => y.broadcast_add(&b.reshape((1, (), 1))?),
            None => Ok(y),
        }
    }

    fn forward_cpu(
        &self,
        x: &Tensor,
        slope: Option<f64>,
        residual: Option<&Tensor>,
    ) -> Result<Option<Tensor>> {
        if !matches!(x.device(), Device::Cpu) || x.dtype() != DType::F32 || x.rank() != 3 {
            return Ok(None);
        }
        let (b, c_in, t_in) = x.dims3()?;
        let (c_out, c_per_group, k) = self.weight.dims3()?;
        let depthwise =
            self.cfg.groups == c_in && c_per_group == 1 && c_out == c_in && slope.is_none();
        if !(depthwise || self.cfg.groups == 1 && c_per_group == c_in) {
            return Ok(None);
        }
        let g = ConvGeom {
            c_in,
            c_out,
            k,
            t_in,
            padding: self.cfg.padding,
            stride: self.cfg.stride,
            dilation: self.cfg.dilation,
        };
        let t_out = g.t_out();
        let simd = simd_conv::available();
        let x = x.contiguous()?;
        let residual = match residual {
            Some(r) if r.dims() == [b, c_out, t_out] => Some(r.contiguous()?),
            Some(_) => return Ok(None),
            None => None,
        };
        let bias = self.bias.as_ref();
        let out = with_cpu_f32(&x, |xs| {
            with_cpu_f32(&self.weight, |ws| {
                let run = |bs: Option<&[f32]>, rs: Option<&[f32]>| -> Vec<f32> {
                    let mut out = Vec::with_capacity(b * c_out * t_out);
                    for bi in 0..b {
                        let xb = &xs[bi * c_in * t_in..(bi + 1) * c_in * t_in];
                        let rb = rs.map(|r| &r[bi * c_out * t_out..(bi + 1) * c_out * t_out]);
                        let y = if depthwise {
                            cpu_conv::depthwise_conv1d(xb, ws, bs, g)
                        } else if g.stride == 1 && simd {
                            let wp = self
                                .packed
                                .get_or_init(|| simd_conv::pack_conv1d_weights(ws, c_out, c_in, k));
                            simd_conv::conv1d(
                                xb,
                                wp,
                                bs,
                                rb,
                                c_in,
                                c_out,
                                k,
                                t_in,
                                g.padding,
                                g.dilation,
                                slope.map(|s| s as f32),
                            )
                        } else {
                            cpu_conv::conv1d(xb, ws, bs, rb, g, slope.map(|s| s as f32))
                        };
                        out.extend_from_slice(&y);
                    }
                    out
                };
                let with_res = |bs: Option<&[f32]>| match &residual {
                    Some(r) => with_cpu_f32(r, |rs| run(bs, Some(rs))),
                    None => Some(run(bs, None)),
                };
                match bias {
                    Some(bt) => with_cpu_f32(bt, |bs| with_res(Some(bs))).flatten(),
                    None => with_res(None),
                }
            })
            .flatten()
        })
        .flatten();
        let Some(mut out) = out else { return Ok(None) };
        if depthwise {
            if let Some(r) = &residual {
                // depthwise has no fused residual
                let rv = r.flatten_all()?.to_vec1::<f32>()?;
                out.iter_mut().zip(rv).for_each(|(o, r)| *o += r);
            }
        }
        Ok(Some(Tensor::from_vec(
            out,
            (b, c_out, t_out),
            &Device::Cpu,
        )?))
    }
}

impl Module for Conv1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_fused(x, None, None)
    }
}

/// A transposed 1-D convolution (upsampling) `(B, C_in, T) -> (B, C_out, T')`.
#[derive(Debug, Clone)]
pub struct ConvTranspose1d {
    weight: Tensor,
    bias: Option<Tensor>,
    cfg: ConvTranspose1dConfig,
    packed: Packed,
}

impl ConvTranspose1d {
    /// Builds from explicit tensors: `weight` is `(C_in, C_out / groups, K)`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, cfg: ConvTranspose1dConfig) -> Self {
        Self {
            weight,
            bias,
            cfg,
            packed: Packed::default(),
        }
    }

    /// Loads `weight` (and `bias` when `with_bias`) from `vb`.
    pub fn load(vb: VarBuilder, with_bias: bool, cfg: ConvTranspose1dConfig) -> Result<Self> {
        let weight = vb.get_unchecked("weight")?.contiguous()?;
        let bias = if with_bias {
            Some(vb.get(weight.dim(1)? * cfg.groups, "bias")?.contiguous()?)
        } else {
            None
        };
        Ok(Self::from_tensors(weight, bias, cfg))
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

    /// `conv_transpose(leaky_relu(x, slope))`, fused on the CPU path.
    pub fn forward_fused(&self, x: &Tensor, pre_leaky_relu: Option<f64>) -> Result<Tensor> {
        if let Some(y) = self.forward_cpu(x, pre_leaky_relu)? {
            return Ok(y);
        }
        self.forward_candle(&leaky_relu(x, pre_leaky_relu)?)
    }

    /// candle's op (the reference for the CPU kernel).
    pub fn forward_candle(&self, x: &Tensor) -> Result<Tensor> {
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

    fn forward_cpu(&self, x: &Tensor, slope: Option<f64>) -> Result<Option<Tensor>> {
        let c = &self.cfg;
        if !matches!(x.device(), Device::Cpu)
            || x.dtype() != DType::F32
            || x.rank() != 3
            || c.groups != 1
            || c.dilation != 1
            || c.stride == 0
        {
            return Ok(None);
        }
        let (b, c_in, t_in) = x.dims3()?;
        let (w_in, c_out, k) = self.weight.dims3()?;
        if w_in != c_in {
            return Ok(None);
        }
        let g = ConvTransposeGeom {
            c_in,
            c_out,
            k,
            t_in,
            padding: c.padding,
            output_padding: c.output_padding,
            stride: c.stride,
        };
        let t_out = g.t_out();
        let simd = simd_conv::available();
        let x = x.contiguous()?;
        let out = with_cpu_f32(&x, |xs| {
            with_cpu_f32(&self.weight, |ws| {
                let run = |bs: Option<&[f32]>| {
                    let mut out = Vec::with_capacity(b * c_out * t_out);
                    for bi in 0..b {
                        let xb = &xs[bi * c_in * t_in..(bi + 1) * c_in * t_in];
                        let slope = slope.map(|s| s as f32);
                        let y = if simd {
                            let wp = self.packed.get_or_init(|| {
                                simd_conv::pack_conv_transpose1d_weights(
                                    ws, c_in, c_out, k, g.stride,
                                )
                            });
                            simd_conv::conv_transpose1d(
                                xb, wp, bs, c_in, c_out, k, t_in, g.stride, g.padding, t_out, slope,
                            )
                        } else {
                            cpu_conv::conv_transpose1d(xb, ws, bs, g, slope)
                        };
                        out.extend_from_slice(&y);
                    }
                    out
                };
                match &self.bias {
                    Some(bt) => with_cpu_f32(bt, |bs| run(Some(bs))),
                    None => Some(run(None)),
                }
            })
            .flatten()
        })
        .flatten();
        match out {
            Some(out) => Ok(Some(Tensor::from_vec(
                out,
                (b, c_out, t_out),
                &Device::Cpu,
            )?)),
            None => Ok(None),
        }
    }
}

impl Module for ConvTranspose1d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_fused(x, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand(shape: &[usize], seed: u64) -> Tensor {
        // deterministic pseudo-random values in [-1, 1)
        let n: usize = shape.iter().product();
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn conv1d_matches_candle() {
        // (b, c_in, c_out, k, t, padding, stride, dilation)
        let cases = [
            (1, 32, 32, 7, 3000, 9, 1, 3),
            (1, 64, 64, 5, 700, 10, 1, 5),
            (2, 192, 384, 5, 61, 2, 1, 1),
            (1, 192, 256, 7, 40, 3, 1, 1),
            (1, 32, 1, 7, 500, 3, 1, 1),
            (1, 8, 4, 3, 2, 0, 1, 1),     // t < kernel, no padding: empty
            (1, 8, 4, 3, 2, 1, 1, 1),     // t < kernel with padding
            (2, 16, 24, 4, 101, 0, 2, 1), // stride 2, even kernel
            (1, 12, 6, 3, 257, 4, 3, 2),
            (1, 768, 192, 3, 33, 1, 1, 1),
        ];
        for (i, &(b, ci, co, k, t, p, s, d)) in cases.iter().enumerate() {
            let x = rand(&[b, ci, t], i as u64);
            let w = rand(&[co, ci, k], 100 + i as u64);
            let bias = rand(&[co], 200 + i as u64);
            let cfg = Conv1dConfig {
                padding: p,
                stride: s,
                dilation: d,
                groups: 1,
                cudnn_fwd_algo: None,
            };
            let conv = Conv1d::from_tensors(w, Some(bias), cfg);
            let fast = conv.forward(&x).unwrap();
            let slow = conv.forward_candle(&x).unwrap();
            let tol = 1e-5 * (ci * k) as f32;
            if fast.elem_count() > 0 {
                assert!(
                    max_diff(&fast, &slow) <= tol,
                    "case {i}: {}",
                    max_diff(&fast, &slow)
                );
            }
            assert_eq!(fast.dims(), slow.dims(), "case {i}");
            // fused leaky relu + residual
            let res = rand(slow.dims(), 300 + i as u64);
            let fused = conv.forward_fused(&x, Some(0.1), Some(&res)).unwrap();
            let unfused = (conv
                .forward_candle(&candle_nn::ops::leaky_relu(&x, 0.1).unwrap())
                .unwrap()
                + &res)
                .unwrap();
            if fused.elem_count() > 0 {
                assert!(max_diff(&fused, &unfused) <= tol, "fused case {i}");
            }
        }
    }

    #[test]
    fn portable_kernels_match_candle() {
        // the im2col + gemm path used where AVX-512 is missing
        for (i, &(ci, co, k, t, p, s, d)) in [
            (32, 32, 7, 900, 9, 1, 3),
            (16, 24, 4, 101, 0, 2, 1),
            (32, 1, 7, 300, 3, 1, 1),
        ]
        .iter()
        .enumerate()
        {
            let x = rand(&[1, ci, t], i as u64);
            let w = rand(&[co, ci, k], 7 + i as u64);
            let cfg = Conv1dConfig {
                padding: p,
                stride: s,
                dilation: d,
                groups: 1,
                cudnn_fwd_algo: None,
            };
            let conv = Conv1d::from_tensors(w.clone(), None, cfg);
            let want = conv.forward_candle(&x).unwrap();
            let g = ConvGeom {
                c_in: ci,
                c_out: co,
                k,
                t_in: t,
                padding: p,
                stride: s,
                dilation: d,
            };
            let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let ws = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let got = cpu_conv::conv1d(&xs, &ws, None, None, g, None);
            let got = Tensor::from_vec(got, want.dims(), &Device::Cpu).unwrap();
            assert!(max_diff(&got, &want) < 1e-4, "case {i}");
        }
        let (ci, co, k, t, s, p) = (64, 32, 8, 300, 4, 2);
        let x = rand(&[1, ci, t], 1);
        let w = rand(&[ci, co, k], 2);
        let cfg = ConvTranspose1dConfig {
            padding: p,
            output_padding: 0,
            stride: s,
            dilation: 1,
            groups: 1,
        };
        let want = ConvTranspose1d::from_tensors(w.clone(), None, cfg)
            .forward_candle(&x)
            .unwrap();
        let g = ConvTransposeGeom {
            c_in: ci,
            c_out: co,
            k,
            t_in: t,
            padding: p,
            output_padding: 0,
            stride: s,
        };
        let got = cpu_conv::conv_transpose1d(
            &x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            &w.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            None,
            g,
            None,
        );
        let got = Tensor::from_vec(got, want.dims(), &Device::Cpu).unwrap();
        assert!(max_diff(&got, &want) < 1e-4);
    }

    #[test]
    fn conv1d_takes_non_contiguous_input() {
        let x = rand(&[1, 50, 16], 1).transpose(1, 2).unwrap(); // (1, 16, 50)
        let conv = Conv1d::from_tensors(
            rand(&[8, 16, 3], 2),
            None,
            Conv1dConfig {
                padding: 1,
                ..Default::default()
            },
        );
        assert!(
            max_diff(
                &conv.forward(&x).unwrap(),
                &conv.forward_candle(&x).unwrap()
            ) < 1e-4
        );
    }

    #[test]
    fn depthwise_matches_candle() {
        for (i, &d) in [1usize, 3, 9].iter().enumerate() {
            let x = rand(&[2, 24, 90], i as u64);
            let cfg = Conv1dConfig {
                padding: d,
                stride: 1,
                dilation: d,
                groups: 24,
                cudnn_fwd_algo: None,
            };
            let conv =
                Conv1d::from_tensors(rand(&[24, 1, 3], 10 + i as u64), Some(rand(&[24], 20)), cfg);
            assert!(
                max_diff(
                    &conv.forward(&x).unwrap(),
                    &conv.forward_candle(&x).unwrap()
                ) < 1e-5
            );
        }
    }

    #[test]
    fn conv_transpose1d_matches_candle() {
        // (b, c_in, c_out, k, t, stride, padding, output_padding)
        let cases = [
            (1, 256, 128, 16, 60, 8, 4, 0),
            (1, 64, 32, 8, 900, 4, 2, 0),
            (2, 16, 8, 4, 33, 2, 1, 0),
            (1, 8, 4, 5, 17, 3, 0, 1),
            (1, 8, 4, 3, 1, 2, 0, 0),
            (1, 128, 64, 16, 700, 8, 4, 0),
        ];
        for (i, &(b, ci, co, k, t, s, p, op)) in cases.iter().enumerate() {
            let x = rand(&[b, ci, t], i as u64);
            let cfg = ConvTranspose1dConfig {
                padding: p,
                output_padding: op,
                stride: s,
                dilation: 1,
                groups: 1,
            };
            let conv = ConvTranspose1d::from_tensors(
                rand(&[ci, co, k], 50 + i as u64),
                Some(rand(&[co], 60)),
                cfg,
            );
            let fast = conv.forward(&x).unwrap();
            let slow = conv.forward_candle(&x).unwrap();
            assert_eq!(fast.dims(), slow.dims(), "case {i}");
            assert!(
                max_diff(&fast, &slow) <= 1e-5 * (ci * k) as f32,
                "case {i}: {}",
                max_diff(&fast, &slow)
            );
            let fused = conv.forward_fused(&x, Some(0.1)).unwrap();
            let unfused = conv
                .forward_candle(&candle_nn::ops::leaky_relu(&x, 0.1).unwrap())
                .unwrap();
            assert!(
                max_diff(&fused, &unfused) <= 1e-5 * (ci * k) as f32,
                "fused case {i}"
            );
        }
    }
}

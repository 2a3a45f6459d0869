//! Deterministic stand-in weights of a real architecture.
//!
//! Real checkpoints cannot always be had (no network on CI, GPU machines
//! without a hub), yet ports must be checked at full size. The fixture
//! script (`scripts/f5_fixtures.py`) overwrites every parameter of the
//! reference model with values from a counter-based generator and records,
//! per tensor, its name, shape, scale and offset in a manifest. This module
//! regenerates exactly the same values from that manifest, so only the
//! manifest and the reference outputs need to be committed. The Python
//! side of the generator is `scripts/synthetic_weights.py` (shared by the
//! fixture script and `scripts/bench_f5_reference.py`).
//!
//! Element `i` (row-major) of tensor `name` is
//! `offset + scale * u`, with `u = (mix(key + (i+1)·φ) >> 40) / 2^24 · 2 − 1`
//! in `[-1, 1)` and `key = mix(seed ^ fnv1a64(name))`, where `mix` is the
//! SplitMix64 finalizer and φ = 0x9E3779B97F4A7C15. The arithmetic is done
//! in f64 and rounded once to f32, so both sides agree bit for bit.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;
use serde::Deserialize;

use crate::{Error, Result};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// One tensor of a manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TensorSpec {
    /// The name the model loads it by (upstream key).
    pub name: String,
    pub shape: Vec<usize>,
    pub scale: f64,
    pub offset: f64,
}

/// The tensors of one model and the seed they were drawn with.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Manifest {
    pub seed: u64,
    pub tensors: Vec<TensorSpec>,
}

impl Manifest {
    /// Reads a manifest written by the fixture script.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let manifest: Self = serde_json::from_str(&text).map_err(|e| {
            Error::InvalidArgument(format!("{}: not a weight manifest: {e}", path.display()))
        })?;
        for t in &manifest.tensors {
            if !(t.scale.is_finite() && t.offset.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "{}: tensor {} has a non-finite scale or offset",
                    path.display(),
                    t.name
                )));
            }
        }
        Ok(manifest)
    }

    /// Number of values over all tensors.
    pub fn num_values(&self) -> usize {
        self.tensors
            .iter()
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    }

    /// Every tensor, as f32 on `device`.
    pub fn tensors(&self, device: &Device) -> Result<HashMap<String, Tensor>> {
        self.tensors
            .iter()
            .map(|t| {
                let values = values(
                    self.seed,
                    &t.name,
                    t.shape.iter().product(),
                    t.scale,
                    t.offset,
                );
                let tensor = Tensor::from_vec(values, t.shape.as_slice(), device)?;
                Ok((t.name.clone(), tensor))
            })
            .collect()
    }

    /// A `VarBuilder` over the tensors, converted to `dtype`.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        Ok(VarBuilder::from_tensors(
            self.tensors(device)?,
            dtype,
            device,
        ))
    }
}

/// A `VarBuilder` backend that makes up each tensor the network asks for,
/// from its name, shape and initialization hint, with [`values`]: stand-in
/// weights of any shape of a real architecture without a manifest or a
/// file (the full-size benchmarks). Deterministic in `seed`; values are
/// uniform with the hint's mean and spread (Kaiming: `sqrt(3 / fan_in)`, so
/// activations keep their scale through the layers), and constants get a
/// ±10 % jitter so no two norms are alike.
///
/// Networks that read a tensor's shape from the file (`get_unchecked`)
/// cannot be built on it.
#[derive(Debug, Clone, Copy)]
pub struct HintedWeights {
    /// Seed of [`values`].
    pub seed: u64,
}

impl HintedWeights {
    /// A `VarBuilder` over made-up weights in `dtype` on `device`.
    pub fn var_builder(seed: u64, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(Self { seed }), dtype, device.clone())
    }
}

impl candle_nn::var_builder::SimpleBackend for HintedWeights {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        h: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        use candle_nn::Init;
        let dims = s.dims();
        let fan_in: usize = dims.iter().skip(1).product::<usize>().max(1);
        let (offset, scale) = match h {
            Init::Const(c) => (c, 0.1 * c.abs().max(1.0)),
            Init::Randn { mean, stdev } => (mean, stdev * 3f64.sqrt()),
            Init::Uniform { lo, up } => ((lo + up) / 2.0, (up - lo) / 2.0),
            Init::Kaiming { .. } => (0.0, (3.0 / fan_in as f64).sqrt()),
        };
        let v = values(self.seed, name, s.elem_count(), scale, offset);
        Tensor::from_vec(v, s, dev)?.to_dtype(dtype)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("made-up weights need a shape: {name} was asked for without one")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

/// FNV-1a, 64-bit: the per-name part of the key.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The SplitMix64 finalizer.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `n` values of tensor `name`.
pub fn values(seed: u64, name: &str, n: usize, scale: f64, offset: f64) -> Vec<f32> {
    let key = mix(seed ^ fnv1a64(name.as_bytes()));
    let value = |i: usize| {
        let z = mix(key.wrapping_add((i as u64 + 1).wrapping_mul(GOLDEN)));
        let u = (z >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0;
        (offset + scale * u) as f32
    };
    // Full-size models have hundreds of millions of values.
    if n >= 1 << 16 {
        (0..n).into_par_iter().map(value).collect()
    } else {
        (0..n).map(value).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_the_documented_one() {
        // Reference values computed by hand from the formulas with Python's
        // integers (see the module docs).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(mix(0), 0);
        assert_eq!(mix(1), 0x5692161d100b05e5);
        let v = values(0, "w", 4, 1.0, 0.0);
        // The same four values from the Python side of the contract.
        let python = [-0.799_021_5_f32, 0.736_373_3, -0.142_421_36, -0.812_414_77];
        for (a, b) in v.iter().zip(python) {
            assert!((a - b).abs() < 1e-7, "{v:?}");
        }
        // Distinct names give distinct streams; same inputs, same values.
        assert_ne!(v, values(0, "b", 4, 1.0, 0.0));
        assert_eq!(v, values(0, "w", 4, 1.0, 0.0));
        let scaled = values(0, "w", 4, 0.5, 1.0);
        for (a, b) in v.iter().zip(&scaled) {
            assert!((1.0 + 0.5 * a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn parallel_and_serial_paths_agree() {
        let n = (1 << 16) + 3;
        let par = values(7, "big", n, 0.1, 0.0);
        let key = mix(7 ^ fnv1a64(b"big"));
        for i in [0usize, 1, 1000, n - 1] {
            let z = mix(key.wrapping_add((i as u64 + 1).wrapping_mul(GOLDEN)));
            let u = (z >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0;
            assert_eq!(par[i], (0.1 * u) as f32);
        }
    }

    #[test]
    fn manifests_load_and_build_tensors() {
        let dir = std::env::temp_dir().join(format!("ishowtts-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        std::fs::write(
            &path,
            r#"{"seed": 3, "tensors": [{"name": "a.weight", "shape": [2, 3], "scale": 0.5, "offset": 0.0},
                {"name": "a.bias", "shape": [2], "scale": 0.1, "offset": 1.0}]}"#,
        )
        .unwrap();
        let m = Manifest::from_file(&path).unwrap();
        assert_eq!(m.num_values(), 8);
        let vb = m.var_builder(DType::F32, &Device::Cpu).unwrap();
        let w = vb.get((2, 3), "a.weight").unwrap();
        assert_eq!(
            w.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            values(3, "a.weight", 6, 0.5, 0.0)
        );
        assert!(vb.get((3, 2), "a.weight").is_err(), "shape is checked");
        std::fs::write(&path, "{}").unwrap();
        let err = Manifest::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("not a weight manifest"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

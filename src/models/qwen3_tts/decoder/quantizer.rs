//! The split residual vector quantizer's decode path
//! (`SplitResidualVectorQuantizer`, `ResidualVectorQuantizer`,
//! `EuclideanCodebook`): codes -> `(B, codebook_dim, T)`.

use candle_core::{DType, Module, Tensor, D};
use candle_nn::VarBuilder;

use super::config::DecoderConfig;
use crate::nn::{Conv1d, Conv1dConfig};
use crate::{Error, Result};

/// `cluster_usage` is clamped to this before dividing (upstream `epsilon`).
const USAGE_EPS: f64 = 1e-5;

/// One codebook, its table already divided out.
#[derive(Debug, Clone)]
pub struct Codebook {
    /// `embedding_sum / clamp(cluster_usage, eps)`, `(bins, dim)`.
    embedding: Tensor,
}

impl Codebook {
    /// Loads `embedding_sum` and `cluster_usage` (`…._codebook`).
    pub fn new(bins: usize, dim: usize, vb: VarBuilder) -> Result<Self> {
        let sum = vb.get((bins, dim), "embedding_sum")?;
        let usage = vb.get(bins, "cluster_usage")?;
        let embedding = sum
            .broadcast_div(&usage.clamp(USAGE_EPS, f64::INFINITY)?.unsqueeze(1)?)?
            .contiguous()?;
        Ok(Self { embedding })
    }

    /// The table, `(bins, dim)`.
    pub fn embedding(&self) -> &Tensor {
        &self.embedding
    }

    /// `(B, T)` u32 codes -> `(B, T, dim)`.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        let (b, t) = codes.dims2()?;
        let flat = self.embedding.index_select(&codes.flatten_all()?, 0)?;
        Ok(flat.reshape((b, t, ()))?)
    }
}

/// A residual VQ: the sum of its codebooks' lookups, then a 1x1 conv
/// (`output_proj`, no bias) from the codebook width to `codebook_dim`.
#[derive(Debug, Clone)]
pub struct ResidualVectorQuantizer {
    codebooks: Vec<Codebook>,
    output_proj: Conv1d,
}

impl ResidualVectorQuantizer {
    /// Loads `n_q` codebooks (`vq.layers.K._codebook`) and `output_proj`.
    /// Upstream's `input_proj` only serves encoding and is not read.
    pub fn new(cfg: &DecoderConfig, n_q: usize, vb: VarBuilder) -> Result<Self> {
        let dim = cfg.codebook_dim / 2;
        let layers = vb.pp("vq").pp("layers");
        let codebooks = (0..n_q)
            .map(|k| Codebook::new(cfg.codebook_size, dim, layers.pp(k).pp("_codebook")))
            .collect::<Result<Vec<_>>>()?;
        let output_proj = Conv1d::load(vb.pp("output_proj"), false, Conv1dConfig::default())?;
        Ok(Self {
            codebooks,
            output_proj,
        })
    }

    /// The codebooks, in code order.
    pub fn codebooks(&self) -> &[Codebook] {
        &self.codebooks
    }

    /// `(B, K, T)` u32 codes (K = this quantizer's codebooks) ->
    /// `(B, codebook_dim, T)`.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        let k = codes.dim(1)?;
        if k != self.codebooks.len() {
            return Err(Error::InvalidArgument(format!(
                "{k} code rows for {} codebooks",
                self.codebooks.len()
            )));
        }
        // Summed in codebook order, like upstream's loop.
        let mut sum: Option<Tensor> = None;
        for (i, codebook) in self.codebooks.iter().enumerate() {
            let q = codebook.decode(&codes.narrow(1, i, 1)?.squeeze(1)?)?;
            sum = Some(match sum {
                Some(s) => (s + q)?,
                None => q,
            });
        }
        let Some(sum) = sum else {
            return Err(Error::Internal(
                "residual quantizer without codebooks".into(),
            ));
        };
        // (B, T, dim) -> (B, dim, T)
        let sum = sum.transpose(1, 2)?.contiguous()?;
        Ok(self.output_proj.forward(&sum)?)
    }
}

/// The first (semantic) codebook and the rest, each with its own
/// projection; their outputs add.
#[derive(Debug, Clone)]
pub struct SplitResidualVectorQuantizer {
    rvq_first: ResidualVectorQuantizer,
    rvq_rest: ResidualVectorQuantizer,
}

/// Semantic codebooks (upstream hard-codes `n_q_semantic=1`).
const N_SEMANTIC: usize = 1;

impl SplitResidualVectorQuantizer {
    /// Loads `rvq_first` and `rvq_rest`.
    pub fn new(cfg: &DecoderConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            rvq_first: ResidualVectorQuantizer::new(cfg, N_SEMANTIC, vb.pp("rvq_first"))?,
            rvq_rest: ResidualVectorQuantizer::new(
                cfg,
                cfg.num_quantizers - N_SEMANTIC,
                vb.pp("rvq_rest"),
            )?,
        })
    }

    /// The semantic quantizer.
    pub fn rvq_first(&self) -> &ResidualVectorQuantizer {
        &self.rvq_first
    }

    /// The acoustic quantizers.
    pub fn rvq_rest(&self) -> &ResidualVectorQuantizer {
        &self.rvq_rest
    }

    /// The dtype of the weights, hence of everything decoded.
    pub fn dtype(&self) -> DType {
        self.rvq_first.output_proj.weight().dtype()
    }

    /// `(B, Q, T)` codes (u32 or i64) -> `(B, codebook_dim, T)`.
    pub fn decode(&self, codes: &Tensor) -> Result<Tensor> {
        let codes = codes.to_dtype(DType::U32)?;
        let first = self.rvq_first.decode(&codes.narrow(1, 0, N_SEMANTIC)?)?;
        let q = codes.dim(1)?;
        if q == N_SEMANTIC {
            return Ok(first);
        }
        let rest = self
            .rvq_rest
            .decode(&codes.narrow(1, N_SEMANTIC, q - N_SEMANTIC)?)?;
        Ok((first + rest)?)
    }
}

/// Checks that `(B, Q, T)` codes are integers in `[0, bins)`.
pub(crate) fn check_codes(codes: &Tensor, num_quantizers: usize, bins: usize) -> Result<()> {
    let (_, q, _) = codes.dims3()?;
    if q != num_quantizers {
        return Err(Error::InvalidArgument(format!(
            "expected {num_quantizers} rows of codes, got {q}"
        )));
    }
    if !matches!(codes.dtype(), DType::U32 | DType::I64 | DType::U8) {
        return Err(Error::InvalidArgument(format!(
            "codes must be integers, got {:?}",
            codes.dtype()
        )));
    }
    if codes.elem_count() == 0 {
        return Ok(());
    }
    let c = codes.to_dtype(DType::I64)?.flatten_all()?;
    let (lo, hi) = (
        c.min(D::Minus1)?.to_scalar::<i64>()?,
        c.max(D::Minus1)?.to_scalar::<i64>()?,
    );
    if lo < 0 || hi >= bins as i64 {
        return Err(Error::InvalidArgument(format!(
            "codes must lie in [0, {bins}), got [{lo}, {hi}]"
        )));
    }
    Ok(())
}

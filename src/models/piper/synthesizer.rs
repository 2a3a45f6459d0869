//! The VITS generator at inference (`SynthesizerTrn.infer`): text encoder,
//! duration predictor, length regulation, reversed flow, HiFi-GAN.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};
use rand::Rng;
use rand_distr::StandardNormal;

use super::config::ModelConfig;
use super::decoder::Generator;
use super::duration::DurationPredictor;
use super::flow::ResidualCouplingBlock;
use super::modules::sequence_mask;
use super::text_encoder::{EncoderOutput, TextEncoder};

/// The three inference scales of a Piper voice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    /// Noise on the prior sample.
    pub noise_scale: f32,
    /// Duration multiplier (>1 speaks slower).
    pub length_scale: f32,
    /// Noise on the durations.
    pub noise_w: f32,
}

/// Intermediate values of one inference, for tests and profiling.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Text-encoder output.
    pub encoder: EncoderOutput,
    /// Log-durations `(B, 1, T)`.
    pub logw: Tensor,
    /// Frames per phoneme after `ceil` (per batch item).
    pub durations: Vec<Vec<u32>>,
    /// Flow output, the decoder input `(B, inter, T')`.
    pub z: Tensor,
}

/// A loaded VITS generator.
#[derive(Debug, Clone)]
pub struct Synthesizer {
    cfg: ModelConfig,
    enc_p: TextEncoder,
    dp: DurationPredictor,
    flow: ResidualCouplingBlock,
    dec: Generator,
    emb_g: Option<Embedding>,
    device: Device,
}

impl Synthesizer {
    /// Builds the generator from weights under their upstream names.
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let emb_g = if cfg.n_speakers > 1 && cfg.gin_channels > 0 {
            let w = vb
                .pp("emb_g")
                .get((cfg.n_speakers, cfg.gin_channels), "weight")?;
            Some(Embedding::new(w, cfg.gin_channels))
        } else {
            None
        };
        Ok(Self {
            cfg: cfg.clone(),
            enc_p: TextEncoder::new(cfg, vb.pp("enc_p"))?,
            dp: DurationPredictor::new(cfg, vb.pp("dp"))?,
            flow: ResidualCouplingBlock::new(cfg, vb.pp("flow"))?,
            dec: Generator::new(cfg, vb.pp("dec"))?,
            emb_g,
            device: vb.device().clone(),
        })
    }

    /// Hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Runs only the HiFi-GAN decoder on latent frames `z` `(B, inter, T')`.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        self.dec.forward(z, None)
    }

    /// Synthesizes a batch of id sequences; returns one waveform per
    /// sequence, trimmed to its own length. `speakers` holds one id per
    /// sequence for multi-speaker voices and is ignored otherwise.
    pub fn infer<R: Rng>(
        &self,
        batch: &[&[i64]],
        speakers: &[i64],
        scales: Scales,
        rng: &mut R,
    ) -> Result<Vec<Vec<f32>>> {
        Ok(self.infer_traced(batch, speakers, scales, rng)?.0)
    }

    /// [`Self::infer`] that also returns the intermediate values.
    pub fn infer_traced<R: Rng>(
        &self,
        batch: &[&[i64]],
        speakers: &[i64],
        scales: Scales,
        rng: &mut R,
    ) -> Result<(Vec<Vec<f32>>, Trace)> {
        let dev = &self.device;
        let b = batch.len();
        if b == 0 {
            candle_core::bail!("empty batch");
        }
        let lengths: Vec<usize> = batch.iter().map(|s| s.len()).collect();
        let t = *lengths.iter().max().unwrap_or(&0);
        if t == 0 {
            candle_core::bail!("empty id sequence");
        }
        let mut ids = vec![0u32; b * t];
        for (bi, seq) in batch.iter().enumerate() {
            for (ti, &id) in seq.iter().enumerate() {
                if id < 0 || id as usize >= self.cfg.n_vocab {
                    candle_core::bail!(
                        "phoneme id {id} is outside the model's vocabulary of {}",
                        self.cfg.n_vocab
                    );
                }
                ids[bi * t + ti] = id as u32;
            }
        }
        let ids = Tensor::from_vec(ids, (b, t), dev)?;
        let x_mask = sequence_mask(&lengths, t, dev)?;

        let encoder = {
            let _s = tracing::debug_span!("enc_p").entered();
            self.enc_p.forward(&ids, &x_mask)?
        };
        let g = match &self.emb_g {
            Some(emb) => {
                if speakers.len() != b {
                    candle_core::bail!("{} speaker ids for a batch of {b}", speakers.len());
                }
                let sid: Vec<u32> = speakers.iter().map(|&s| s as u32).collect();
                let sid = Tensor::from_vec(sid, b, dev)?;
                Some(emb.forward(&sid)?.unsqueeze(2)?) // (B, gin, 1)
            }
            None => None,
        };

        let dp_noise = noise(&[b, 2, t], scales.noise_w, rng, dev)?;
        let logw = self
            .dp
            .forward(&encoder.x, &x_mask, g.as_ref(), &dp_noise)?;
        let w = (logw.exp()?.broadcast_mul(&x_mask)? * scales.length_scale as f64)?.ceil()?;
        let w = w.squeeze(1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let durations: Vec<Vec<u32>> = w
            .iter()
            .zip(&lengths)
            .map(|(row, &len)| row[..len].iter().map(|&d| d.max(0.0) as u32).collect())
            .collect();
        let y_lengths: Vec<usize> = durations
            .iter()
            .map(|d| (d.iter().map(|&v| v as usize).sum::<usize>()).max(1))
            .collect();
        let y_max = *y_lengths.iter().max().unwrap_or(&1);
        let y_mask = sequence_mask(&y_lengths, y_max, dev)?;

        // length regulation: frame f of item b copies phoneme idx[b][f]
        let mut m_rows = Vec::with_capacity(b);
        let mut logs_rows = Vec::with_capacity(b);
        for (bi, d) in durations.iter().enumerate() {
            let mut idx: Vec<u32> = Vec::with_capacity(y_max);
            for (p, &n) in d.iter().enumerate() {
                idx.extend(std::iter::repeat_n(p as u32, n as usize));
            }
            idx.resize(y_max, 0);
            let idx = Tensor::from_vec(idx, y_max, dev)?;
            m_rows.push(encoder.m_p.get(bi)?.index_select(&idx, 1)?);
            logs_rows.push(encoder.logs_p.get(bi)?.index_select(&idx, 1)?);
        }
        let m_p = Tensor::stack(&m_rows, 0)?.broadcast_mul(&y_mask)?;
        let logs_p = Tensor::stack(&logs_rows, 0)?.broadcast_mul(&y_mask)?;
        let z_p = if scales.noise_scale == 0.0 {
            m_p
        } else {
            let eps = noise(m_p.dims(), scales.noise_scale, rng, dev)?;
            (m_p + eps.mul(&logs_p.exp()?)?)?
        };
        let z = {
            let _s = tracing::debug_span!("flow").entered();
            self.flow.reverse(&z_p, &y_mask, g.as_ref())?
        };
        let z = z.broadcast_mul(&y_mask)?;
        let audio = {
            let _s = tracing::debug_span!("dec", frames = y_max).entered();
            self.dec.forward(&z, g.as_ref())? // (B, 1, y_max * hop)
        };
        let audio = audio.squeeze(1)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let hop = self.cfg.hop_length();
        let waves = audio
            .into_iter()
            .zip(&y_lengths)
            .map(|(mut a, &y)| {
                a.truncate(y * hop);
                a
            })
            .collect();
        Ok((
            waves,
            Trace {
                encoder,
                logw,
                durations,
                z,
            },
        ))
    }
}

/// Standard normal noise times `scale`; exact zeros when `scale` is 0.
fn noise<R: Rng>(dims: &[usize], scale: f32, rng: &mut R, dev: &Device) -> Result<Tensor> {
    if scale == 0.0 {
        return Tensor::zeros(dims, DType::F32, dev);
    }
    let n: usize = dims.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| rng.sample::<f32, _>(StandardNormal) * scale)
        .collect();
    Tensor::from_vec(data, dims, dev)
}

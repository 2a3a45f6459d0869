//! The sampler: `CFM.sample` of upstream `model/cfm.py` with the Euler
//! solver, and [`F5Model`], the network with its vocabulary and settings.
//!
//! From Gaussian noise at t = 0 the flow is integrated to t = 1 over a time
//! grid (uniform, or one of upstream's "empirically pruned" EPSS grids for
//! small step counts), warped by sway sampling. Each step evaluates the
//! network on the conditional branch (reference mel + text) and the
//! unconditional one (both dropped) in one batch of two and combines them by
//! classifier-free guidance, `v = v_c + cfg * (v_c - v_u)`.
//!
//! Noise: with a seed the noise is reproducible, but it is drawn from
//! `rand`'s `StdRng` (`StandardNormal`), not from torch's generator, so the
//! same seed gives other audio than upstream. Parity with upstream goes
//! through [`SamplerOptions::initial_noise`].
//!
//! ```no_run
//! use ishowtts::candle::{DType, Device, Tensor};
//! use ishowtts::models::f5::{Checkpoint, F5Model, SamplerOptions, Variant};
//!
//! // SWivid/F5-TTS from the local Hugging Face cache (no download)
//! let checkpoint = Checkpoint::from_default_hf_cache(Variant::V1Base)?;
//! let model = F5Model::load(&checkpoint, Variant::V1Base, &Device::Cpu, DType::F32)?;
//! // reference log-mel (1, frames, 100) and the ids of reference + new text
//! let ref_mel = Tensor::zeros((1, 200, 100), DType::F32, &Device::Cpu)?;
//! let ids: Vec<u32> = vec![1, 2, 3];
//! let opts = SamplerOptions { seed: Some(0), ..Default::default() };
//! let mel = model.sample(&ref_mel, &ids, 400, &opts, &|| false)?;
//! // (1, 400, 100): the reference frames, then the new speech
//! let new_speech = mel.narrow(1, 200, mel.dim(1)? - 200)?;
//! # Ok::<(), ishowtts::Error>(())
//! ```

use std::f32::consts::FRAC_PI_2;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use super::checkpoint::{Checkpoint, Vocab};
use super::config::{F5Config, Variant};
use super::dit::{DiT, StepConditioning, UtteranceConditioning};
use crate::{Error, Result};

/// Longest output, in frames, upstream allows (`max_duration`).
pub const MAX_DURATION: usize = 65536;
/// Most flow steps accepted.
pub const MAX_NFE: usize = 128;
/// Below this guidance strength upstream skips the unconditional branch.
const MIN_CFG: f64 = 1e-5;

/// How to sample: upstream `infer_process` defaults.
#[derive(Debug, Clone)]
pub struct SamplerOptions {
    /// Flow steps (network evaluations, each on both branches), 1..=128.
    pub nfe_step: usize,
    /// Classifier-free guidance strength, finite and >= 0 (0 evaluates the
    /// conditional branch alone).
    pub cfg_strength: f64,
    /// Sway sampling coefficient `s` in `t + s (cos(pi t / 2) - 1 + t)`;
    /// 0 keeps the grid, negative values crowd steps near t = 0.
    pub sway_sampling_coef: f64,
    /// Use upstream's EPSS grid where it has one (NFE 5, 6, 7, 10, 12, 16);
    /// upstream's `use_epss`, on by default.
    pub use_epss: bool,
    /// Seed of the initial noise; `None` draws one from the OS.
    pub seed: Option<u64>,
    /// The initial noise itself, `(1, frames, mel_dim)` for the final number
    /// of frames (overrides `seed`).
    pub initial_noise: Option<Tensor>,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self {
            nfe_step: 32,
            cfg_strength: 2.0,
            sway_sampling_coef: -1.0,
            use_epss: true,
            seed: None,
            initial_noise: None,
        }
    }
}

impl SamplerOptions {
    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_NFE).contains(&self.nfe_step) {
            return Err(Error::InvalidParameter {
                name: "nfe_step",
                value: self.nfe_step.to_string(),
                reason: "must be between 1 and 128",
            });
        }
        if !self.cfg_strength.is_finite() || self.cfg_strength < 0.0 {
            return Err(Error::InvalidParameter {
                name: "cfg_strength",
                value: self.cfg_strength.to_string(),
                reason: "must be finite and >= 0",
            });
        }
        if !self.sway_sampling_coef.is_finite() {
            return Err(Error::InvalidParameter {
                name: "sway_sampling_coef",
                value: self.sway_sampling_coef.to_string(),
                reason: "must be finite",
            });
        }
        Ok(())
    }
}

/// Upstream's EPSS grids (`get_epss_timesteps`), in 32nds.
pub fn epss_timesteps(nfe: usize) -> Option<&'static [u8]> {
    Some(match nfe {
        5 => &[0, 2, 4, 8, 16, 32],
        6 => &[0, 2, 4, 6, 8, 16, 32],
        7 => &[0, 2, 4, 6, 8, 16, 24, 32],
        10 => &[0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32],
        12 => &[0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32],
        16 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32],
        _ => return None,
    })
}

/// `torch.linspace(0, 1, n)` in f32, computed as torch does (from the start
/// for the first half, from the end for the second).
fn linspace01(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![0.0];
    }
    let step = 1.0f32 / (n - 1) as f32;
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                step * i as f32
            } else {
                1.0 - step * (n - 1 - i) as f32
            }
        })
        .collect()
}

/// The `nfe + 1` flow times from 0 to 1 the sampler visits, in f32 and in
/// upstream's arithmetic order.
pub fn time_grid(nfe: usize, use_epss: bool, sway_sampling_coef: f64) -> Vec<f32> {
    let t = match epss_timesteps(nfe).filter(|_| use_epss) {
        Some(k) => k.iter().map(|&k| k as f32 / 32.0).collect(),
        None => linspace01(nfe + 1),
    };
    let s = sway_sampling_coef as f32;
    t.into_iter()
        .map(|t| t + s * ((FRAC_PI_2 * t).cos() - 1.0 + t))
        .collect()
}

/// Standard normal noise of `len` values from `seed` (`StdRng`), or from a
/// random seed.
pub fn seeded_noise(seed: Option<u64>, len: usize) -> Vec<f32> {
    let seed = seed.unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
}

/// F5-TTS: the diffusion transformer with its settings and vocabulary.
#[derive(Debug, Clone)]
pub struct F5Model {
    dit: DiT,
    config: F5Config,
    vocab: Option<Vocab>,
}

impl F5Model {
    /// Builds the model from `vb` rooted at the checkpoint's top
    /// (`transformer.…`), in `vb`'s dtype and device.
    pub fn new(config: F5Config, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let dit = DiT::new(&config.dit, vb.pp("transformer"))?;
        Ok(Self {
            dit,
            config,
            vocab: None,
        })
    }

    /// Loads a released `variant` from `checkpoint`, in `dtype` on `device`
    /// (f32 on the CPU; bf16 or f16 suit GPUs).
    pub fn load(
        checkpoint: &Checkpoint,
        variant: Variant,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let config = F5Config::preset(variant, checkpoint.text_num_embeds());
        Self::load_with_config(checkpoint, config, device, dtype)
    }

    /// Loads `checkpoint` with an explicit shape (its `text_num_embeds`
    /// must match the vocabulary).
    pub fn load_with_config(
        checkpoint: &Checkpoint,
        config: F5Config,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        if config.dit.text_num_embeds != checkpoint.text_num_embeds() {
            return Err(Error::InvalidParameter {
                name: "text_num_embeds",
                value: config.dit.text_num_embeds.to_string(),
                reason: "must equal the size of the checkpoint's vocab.txt",
            });
        }
        let vb = checkpoint.var_builder(dtype, device)?;
        let mut model = Self::new(config, vb)?;
        model.vocab = Some(checkpoint.vocab().clone());
        Ok(model)
    }

    /// A released `variant` from the default Hugging Face cache (no network).
    pub fn from_hf_cache(variant: Variant, device: &Device, dtype: DType) -> Result<Self> {
        Self::load(
            &Checkpoint::from_default_hf_cache(variant)?,
            variant,
            device,
            dtype,
        )
    }

    /// The network.
    pub fn dit(&self) -> &DiT {
        &self.dit
    }

    /// The model's settings.
    pub fn config(&self) -> &F5Config {
        &self.config
    }

    /// The vocabulary, when loaded from a checkpoint.
    pub fn vocab(&self) -> Option<&Vocab> {
        self.vocab.as_ref()
    }

    /// The number of frames `sample` produces for a request: upstream raises
    /// `duration` to at least one frame more than both the reference and the
    /// token count.
    pub fn output_frames(&self, ref_frames: usize, n_tokens: usize, duration: usize) -> usize {
        duration.max(ref_frames.max(n_tokens) + 1).min(MAX_DURATION)
    }

    /// Generates a mel spectrogram.
    ///
    /// - `cond_mel`: the reference voice's log-mel, `(1, ref_frames, mel_dim)`;
    /// - `token_ids`: vocabulary indices of reference text + new text;
    /// - `duration`: total frames wanted (reference included), raised as in
    ///   [`F5Model::output_frames`];
    /// - `cancel`: polled before every flow step; when it returns true the
    ///   call ends with [`Error::Cancelled`].
    ///
    /// Returns `(1, frames, mel_dim)` in f32 on the model's device: the
    /// reference frames are the reference itself, the new speech follows.
    pub fn sample(
        &self,
        cond_mel: &Tensor,
        token_ids: &[u32],
        duration: usize,
        opts: &SamplerOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Tensor> {
        opts.validate()?;
        let n_vocab = self.config.dit.text_num_embeds;
        if let Some(&bad) = token_ids.iter().find(|&&id| id as usize >= n_vocab) {
            return Err(Error::InvalidArgument(format!(
                "token id {bad} is outside the vocabulary of {n_vocab} tokens"
            )));
        }
        let device = self.dit.device();
        let ids: Vec<i64> = token_ids.iter().map(|&i| i as i64).collect();
        let ids = Tensor::from_vec(ids, (1, token_ids.len()), device)?;
        self.sample_ids(cond_mel, &ids, duration, opts, cancel)
    }

    /// [`F5Model::sample`] with token ids as a `(1, nt)` integer tensor
    /// (upstream's layout; `-1` entries are padding).
    pub fn sample_ids(
        &self,
        cond_mel: &Tensor,
        ids: &Tensor,
        duration: usize,
        opts: &SamplerOptions,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Tensor> {
        let mut flow = self.start(cond_mel, ids, duration, opts)?;
        while !flow.is_done() {
            if cancel() {
                return Err(Error::Cancelled);
            }
            self.step(&mut [&mut flow])?;
        }
        flow.finish()
    }

    /// Everything [`F5Model::sample_ids`] does before its first flow step:
    /// checks, initial noise, time grid, the utterance's and the steps'
    /// conditioning. Advance the result with [`F5Model::step`].
    pub fn start(
        &self,
        cond_mel: &Tensor,
        ids: &Tensor,
        duration: usize,
        opts: &SamplerOptions,
    ) -> Result<FlowState> {
        opts.validate()?;
        let mel_dim = self.config.dit.mel_dim;
        let device = self.dit.device().clone();
        let (b, ref_frames, c) = cond_mel.dims3()?;
        if b != 1 || c != mel_dim {
            return Err(Error::InvalidArgument(format!(
                "reference mel has shape {:?}; expected (1, frames, {mel_dim})",
                cond_mel.dims()
            )));
        }
        if ref_frames >= MAX_DURATION {
            return Err(Error::InvalidArgument(format!(
                "reference mel has {ref_frames} frames; at most {} are supported",
                MAX_DURATION - 1
            )));
        }
        let (ib, _) = ids.dims2()?;
        if ib != 1 {
            return Err(Error::InvalidArgument(format!(
                "token ids have shape {:?}; expected (1, tokens)",
                ids.dims()
            )));
        }
        let ids = ids.to_dtype(DType::I64)?.to_device(&device)?;
        // upstream counts the non-padding tokens
        let n_tokens = ids
            .ge(0i64)?
            .to_dtype(DType::U32)?
            .sum_all()?
            .to_scalar::<u32>()? as usize;
        let frames = self.output_frames(ref_frames, n_tokens, duration);

        // reference mel, zero after it: (1, frames, mel_dim) f32
        let cond_ref = cond_mel.to_device(&device)?.to_dtype(DType::F32)?;
        let cond = cond_ref.pad_with_zeros(1, 0, frames - ref_frames)?;

        let x = match &opts.initial_noise {
            Some(noise) => {
                if noise.dims() != [1, frames, mel_dim] {
                    return Err(Error::InvalidArgument(format!(
                        "initial noise has shape {:?}; expected [1, {frames}, {mel_dim}]",
                        noise.dims()
                    )));
                }
                noise.to_device(&device)?.to_dtype(DType::F32)?
            }
            None => Tensor::from_vec(
                seeded_noise(opts.seed, frames * mel_dim),
                (1, frames, mel_dim),
                &device,
            )?,
        };

        let t = time_grid(opts.nfe_step, opts.use_epss, opts.sway_sampling_coef);
        let steps = self.dit.precompute(&t[..opts.nfe_step])?;
        let guided = opts.cfg_strength >= MIN_CFG;
        let utt = self.dit.conditioning(&cond, &ids, guided)?;
        Ok(FlowState {
            x,
            cond_ref,
            utt,
            steps,
            t,
            next: 0,
            cfg_strength: opts.cfg_strength,
            guided,
        })
    }

    /// One Euler flow step for each of `flows` (none of them done): alone,
    /// the network runs on the flow's own batch (both guidance branches);
    /// several run as one batch padded to the longest, each at its own flow
    /// time, guidance strength and step size, with the same result for each
    /// as alone (up to rounding). On an error no flow has moved.
    pub fn step(&self, flows: &mut [&mut FlowState]) -> Result<()> {
        if let Some(f) = flows.iter().find(|f| f.is_done()) {
            return Err(Error::InvalidArgument(format!(
                "flow step on a finished flow ({} of {} steps)",
                f.next,
                f.steps.len()
            )));
        }
        let v = match flows {
            [] => return Ok(()),
            [f] => vec![self.dit.forward_with(&f.x, &f.utt, &f.steps[f.next])?],
            _ => self.batched_flow(flows)?,
        };
        // guidance and the Euler update, per flow (small element-wise ops)
        let updated = flows
            .iter()
            .zip(v)
            .map(|(f, v)| {
                let v = v.to_dtype(DType::F32)?;
                let v = if f.guided {
                    let v_c = v.narrow(0, 0, 1)?;
                    let v_u = v.narrow(0, 1, 1)?;
                    (&v_c + ((&v_c - v_u)? * f.cfg_strength)?)?
                } else {
                    v
                };
                // x += (t[k + 1] - t[k]) * v
                let dt = f.t[f.next + 1] - f.t[f.next];
                Ok((&f.x + (v * dt as f64)?)?)
            })
            .collect::<Result<Vec<_>>>()?;
        for (f, x) in flows.iter_mut().zip(updated) {
            f.x = x;
            f.next += 1;
        }
        Ok(())
    }

    /// The network on several flows at once: their rows (2 per guided flow)
    /// padded to the longest utterance. Returns each flow's `(rows, frames,
    /// mel_dim)` output.
    fn batched_flow(&self, flows: &[&mut FlowState]) -> Result<Vec<Tensor>> {
        let n = flows.iter().map(|f| f.utt.seq_len()).max().unwrap_or(0);
        let longest = flows
            .iter()
            .find(|f| f.utt.seq_len() == n)
            .expect("a longest flow");
        let dtype = self.dit.dtype();
        let (mut xs, mut contexts, mut conds, mut lengths) = (vec![], vec![], vec![], vec![]);
        for f in flows {
            let rows = f.utt.batch()?;
            let len = f.utt.seq_len();
            let x = f.x.to_dtype(dtype)?.pad_with_zeros(1, 0, n - len)?;
            xs.push(x.repeat((rows, 1, 1))?);
            contexts.push(f.utt.context().pad_with_zeros(1, 0, n - len)?);
            conds.extend(std::iter::repeat_n(&f.steps[f.next], rows));
            lengths.extend(std::iter::repeat_n(len, rows));
        }
        let out = self.dit.forward_batch(
            &Tensor::cat(&xs, 0)?,
            &Tensor::cat(&contexts, 0)?,
            &StepConditioning::cat(&conds)?,
            longest.utt.rope(),
            &lengths,
        )?;
        let mut row = 0;
        flows
            .iter()
            .map(|f| {
                let rows = f.utt.batch()?;
                let v = out.narrow(0, row, rows)?.narrow(1, 0, f.utt.seq_len())?;
                row += rows;
                Ok(v)
            })
            .collect()
    }
}

/// An utterance being sampled: [`F5Model::start`] makes it,
/// [`F5Model::step`] advances it (alone or batched with others),
/// [`FlowState::finish`] gives the mel.
#[derive(Debug)]
pub struct FlowState {
    /// The current point of the flow, `(1, frames, mel_dim)` f32.
    x: Tensor,
    /// The reference mel, `(1, ref_frames, mel_dim)` f32.
    cond_ref: Tensor,
    utt: UtteranceConditioning,
    /// The conditioning of each flow time but the last.
    steps: Vec<StepConditioning>,
    /// The `nfe + 1` flow times.
    t: Vec<f32>,
    /// The next step.
    next: usize,
    cfg_strength: f64,
    guided: bool,
}

impl FlowState {
    /// Whether every flow step has been taken.
    pub fn is_done(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// Flow steps still to take.
    pub fn steps_left(&self) -> usize {
        self.steps.len() - self.next
    }

    /// Frames of the output (reference included).
    pub fn frames(&self) -> usize {
        self.utt.seq_len()
    }

    /// The mel, `(1, frames, mel_dim)` in f32: the reference frames as they
    /// went in, then the generated ones. An error before every step is
    /// taken.
    pub fn finish(self) -> Result<Tensor> {
        if !self.is_done() {
            return Err(Error::InvalidArgument(format!(
                "flow finished after {} of {} steps",
                self.next,
                self.steps.len()
            )));
        }
        let (ref_frames, frames) = (self.cond_ref.dim(1)?, self.frames());
        let generated = self.x.narrow(1, ref_frames, frames - ref_frames)?;
        Ok(Tensor::cat(&[&self.cond_ref, &generated], 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::f5::checkpoint::tests::{random_weights, tiny_config};
    use crate::models::f5::config::MelConfig;
    use std::cell::Cell;

    fn tiny_model() -> F5Model {
        let cfg = tiny_config(6);
        let weights = random_weights(&cfg);
        let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
        F5Model::new(
            F5Config {
                dit: cfg,
                mel: MelConfig::default(),
            },
            vb,
        )
        .unwrap()
    }

    #[test]
    fn grids() {
        assert_eq!(epss_timesteps(7).unwrap().len(), 8);
        assert!(epss_timesteps(32).is_none());
        assert_eq!(time_grid(4, true, 0.0), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(
            time_grid(5, true, 0.0),
            vec![0.0, 0.0625, 0.125, 0.25, 0.5, 1.0]
        );
        assert_eq!(time_grid(5, false, 0.0).len(), 6);
        // sway -1 maps t to 1 - cos(pi t / 2): ends fixed, steps crowd at 0
        let t = time_grid(32, true, -1.0);
        assert_eq!((t[0], t[32]), (0.0, 1.0));
        assert!((t[16] - (1.0 - (std::f32::consts::FRAC_PI_4).cos())).abs() < 1e-6);
        assert!(t.windows(2).all(|w| w[1] > w[0]));
        assert_eq!(linspace01(3), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn options_are_validated() {
        let name = |o: SamplerOptions| match o.validate().unwrap_err() {
            Error::InvalidParameter { name, .. } => name,
            e => panic!("{e}"),
        };
        let d = SamplerOptions::default;
        assert!(d().validate().is_ok());
        assert_eq!(name(SamplerOptions { nfe_step: 0, ..d() }), "nfe_step");
        assert_eq!(
            name(SamplerOptions {
                nfe_step: 129,
                ..d()
            }),
            "nfe_step"
        );
        assert_eq!(
            name(SamplerOptions {
                cfg_strength: -0.1,
                ..d()
            }),
            "cfg_strength"
        );
        assert_eq!(
            name(SamplerOptions {
                cfg_strength: f64::INFINITY,
                ..d()
            }),
            "cfg_strength"
        );
        assert_eq!(
            name(SamplerOptions {
                sway_sampling_coef: f64::NAN,
                ..d()
            }),
            "sway_sampling_coef"
        );
    }

    #[test]
    fn seeded_noise_repeats() {
        assert_eq!(seeded_noise(Some(7), 50), seeded_noise(Some(7), 50));
        assert_ne!(seeded_noise(Some(7), 50), seeded_noise(Some(8), 50));
        let n = seeded_noise(Some(1), 20000);
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        let var = n.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n.len() as f32;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    /// Flows of different lengths, step counts, guidance and seeds, stepped
    /// together (each joining and leaving at its own time) give each the
    /// mel it gets alone.
    #[test]
    fn batched_steps_equal_each_flow_alone() {
        let model = tiny_model();
        let dev = Device::Cpu;
        let cases: Vec<(Tensor, Vec<u32>, usize, SamplerOptions)> = [
            (5, vec![1, 2, 3], 40, 4, 2.0, 1),
            (9, vec![4, 3, 2, 1, 0], 23, 7, 0.0, 2),
            (3, vec![2; 12], 31, 5, 1.5, 3),
            (7, vec![1, 3], 40, 3, 2.0, 4),
        ]
        .into_iter()
        .map(|(ref_frames, ids, frames, nfe, cfg, seed)| {
            let cond = Tensor::randn(0f32, 1.0, (1, ref_frames, 100), &dev).unwrap();
            let opts = SamplerOptions {
                nfe_step: nfe,
                cfg_strength: cfg,
                seed: Some(seed),
                ..Default::default()
            };
            (cond, ids, frames, opts)
        })
        .collect();
        let ids = |v: &[u32]| {
            Tensor::from_vec(
                v.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                (1, v.len()),
                &dev,
            )
            .unwrap()
        };
        let alone: Vec<Tensor> = cases
            .iter()
            .map(|(c, i, f, o)| model.sample_ids(c, &ids(i), *f, o, &|| false).unwrap())
            .collect();
        let mut flows: Vec<Option<FlowState>> = cases
            .iter()
            .map(|(c, i, f, o)| Some(model.start(c, &ids(i), *f, o).unwrap()))
            .collect();
        // the last flow joins after two steps of the others
        let mut joined = flows.len() - 1;
        let mut steps = 0;
        let mut out: Vec<Option<Tensor>> = vec![None; flows.len()];
        while out.iter().any(Option::is_none) {
            if steps == 2 {
                joined = flows.len();
            }
            let mut batch: Vec<&mut FlowState> = flows[..joined]
                .iter_mut()
                .filter_map(|f| f.as_mut())
                .collect();
            model.step(&mut batch).unwrap();
            steps += 1;
            for (i, f) in flows.iter_mut().enumerate() {
                if f.as_ref().is_some_and(FlowState::is_done) {
                    out[i] = Some(f.take().unwrap().finish().unwrap());
                }
            }
        }
        for (i, (b, a)) in out.iter().zip(&alone).enumerate() {
            let b = b.as_ref().unwrap();
            assert_eq!(b.dims(), a.dims(), "flow {i}");
            let diff = (b - a).unwrap().abs().unwrap().max_all().unwrap();
            let scale = a
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            let rel = diff.to_scalar::<f32>().unwrap() / scale;
            assert!(rel <= 1e-5, "flow {i}: relative error {rel:e}");
        }
        // misuse is an error, not a panic
        let mut done = model
            .start(&cases[0].0, &ids(&cases[0].1), 40, &cases[0].3)
            .unwrap();
        while !done.is_done() {
            model.step(&mut [&mut done]).unwrap();
        }
        assert!(model.step(&mut [&mut done]).is_err());
        let early = model
            .start(&cases[0].0, &ids(&cases[0].1), 40, &cases[0].3)
            .unwrap();
        assert!(early.finish().is_err());
    }

    #[test]
    fn sample_shape_reference_seed_and_cancel() {
        let model = tiny_model();
        let cond = Tensor::randn(0f32, 1.0, (1, 5, 100), &Device::Cpu).unwrap();
        let opts = SamplerOptions {
            nfe_step: 3,
            seed: Some(3),
            ..Default::default()
        };
        let never = || false;
        let a = model.sample(&cond, &[1, 2, 3], 12, &opts, &never).unwrap();
        assert_eq!(a.dims(), &[1, 12, 100]);
        // reference frames are copied through
        let diff = (a.narrow(1, 0, 5).unwrap() - &cond).unwrap().abs().unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        // same seed, same mel
        let b = model.sample(&cond, &[1, 2, 3], 12, &opts, &never).unwrap();
        let diff = (&a - &b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        // duration is raised past the reference and the text
        let c = model.sample(&cond, &[1; 9], 2, &opts, &never).unwrap();
        assert_eq!(c.dims(), &[1, 10, 100]);
        // no guidance evaluates one branch
        let opts0 = SamplerOptions {
            cfg_strength: 0.0,
            ..opts.clone()
        };
        assert_eq!(
            model.sample(&cond, &[1], 8, &opts0, &never).unwrap().dims(),
            &[1, 8, 100]
        );

        // cancel after the first step
        let calls = Cell::new(0);
        let cancel = || {
            calls.set(calls.get() + 1);
            calls.get() > 1
        };
        let e = model
            .sample(&cond, &[1, 2], 12, &opts, &cancel)
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled));
        assert_eq!(calls.get(), 2);

        // bad inputs are errors, not panics
        let bad_mel = Tensor::zeros((1, 5, 80), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            model.sample(&bad_mel, &[1], 12, &opts, &never),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            model.sample(&cond, &[6], 12, &opts, &never),
            Err(Error::InvalidArgument(_))
        ));
        let noise = Tensor::zeros((1, 11, 100), DType::F32, &Device::Cpu).unwrap();
        let with_noise = SamplerOptions {
            initial_noise: Some(noise),
            ..opts.clone()
        };
        assert!(matches!(
            model.sample(&cond, &[1], 12, &with_noise, &never),
            Err(Error::InvalidArgument(_))
        ));
        let bad_opts = SamplerOptions {
            nfe_step: 0,
            ..opts
        };
        assert!(matches!(
            model.sample(&cond, &[1], 12, &bad_opts, &never),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn cached_path_equals_plain_forward() {
        // forward_with on the stacked branches == two upstream forwards
        let model = tiny_model();
        let dit = model.dit();
        let dev = Device::Cpu;
        let n = 9;
        // Deterministic inputs (uniform in [-1.7, 1.7), unit variance).
        let fixed = |name: &str, shape: (usize, usize, usize)| {
            let v =
                crate::models::synthetic::values(0, name, shape.0 * shape.1 * shape.2, 1.7, 0.0);
            Tensor::from_vec(v, shape, &dev).unwrap()
        };
        let x = fixed("x", (1, n, 100));
        let cond = fixed("cond", (1, 4, 100))
            .pad_with_zeros(1, 0, n - 4)
            .unwrap();
        let ids = Tensor::new(&[[1i64, 4, 2, 5]], &dev).unwrap();
        let t = 0.37f32;
        let tt = Tensor::new(&[t], &dev).unwrap();
        let want_c = dit.forward(&x, &cond, &ids, &tt, false, false).unwrap();
        let want_u = dit.forward(&x, &cond, &ids, &tt, true, true).unwrap();
        let utt = dit.conditioning(&cond, &ids, true).unwrap();
        let step = &dit.precompute(&[0.1, t]).unwrap()[1];
        let got = dit.forward_with(&x, &utt, step).unwrap();
        for (i, want) in [want_c, want_u].iter().enumerate() {
            let d = crate::nn::max_abs_diff(&got.narrow(0, i, 1).unwrap(), want);
            // Relative to the output's scale: summation order differs
            // between the two paths.
            let scale = crate::nn::max_abs(want);
            let rel = d / scale.max(1e-6);
            assert!(rel < 1e-4, "branch {i}: {d} absolute, {rel} relative");
        }
    }
}

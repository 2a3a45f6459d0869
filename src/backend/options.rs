//! The per-request settings a model reads.

/// Model-side settings of a request; `None` takes the voice's default.
/// Models ignore settings they do not have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthesisOptions {
    /// Speaking rate relative to the voice's natural pace, `[0.1, 10]`
    /// (2.0 is twice as fast).
    pub speed: Option<f32>,
    /// Piper: noise on the prior, `[0, 10]`.
    pub noise_scale: Option<f32>,
    /// Piper: noise on the durations, `[0, 10]`.
    pub noise_w: Option<f32>,
    /// Speaker of a multi-speaker voice (overrides the voice's own).
    pub speaker: Option<i64>,
    /// Seed of the request's noise; the same seed gives the same audio.
    /// `None` draws a fresh seed.
    pub seed: Option<u64>,
    /// Flow matching (F5-TTS): number of function evaluations (flow
    /// steps), `[1, 128]`; default 32.
    pub nfe_step: Option<u32>,
    /// Flow matching: classifier-free guidance strength, `[0, 10]`;
    /// default 2.0.
    pub cfg_strength: Option<f32>,
    /// Flow matching: sway sampling coefficient, `[-1, 1]`; default -1.0
    /// (more steps early, where the flow changes most).
    pub sway_sampling_coef: Option<f32>,
    /// Flow matching: total length in seconds (reference included) instead
    /// of the estimate from the text, `(0, 60]`.
    pub fix_duration: Option<f32>,
    /// Language the text is in, for models that take it (Qwen3-TTS:
    /// `english`, `chinese`, … as the checkpoint names them, or `auto`).
    pub language: Option<String>,
    /// A spoken-style instruction, for models that take one (Qwen3-TTS:
    /// "Speak slowly and warmly."), at most 1000 bytes.
    pub instruct: Option<String>,
    /// Autoregressive models: sampling temperature, `(0, 10]`; default the
    /// model's (Qwen3-TTS 0.9).
    pub temperature: Option<f32>,
    /// Autoregressive models: sample among the `top_k` likeliest codes,
    /// `[1, 100000]`; default the model's (Qwen3-TTS 50).
    pub top_k: Option<u32>,
    /// Autoregressive models: nucleus sampling mass, `(0, 1]`; default the
    /// model's (Qwen3-TTS 1.0).
    pub top_p: Option<f32>,
    /// Autoregressive models: penalty on repeated codes, `[1, 10]`; default
    /// the model's (Qwen3-TTS 1.05).
    pub repetition_penalty: Option<f32>,
}

impl SynthesisOptions {
    /// These options, with each one not set taken from `defaults` (a
    /// voice's own settings under a request's).
    pub fn or(&self, defaults: &SynthesisOptions) -> SynthesisOptions {
        // Destructured so that a new field cannot be forgotten here.
        let SynthesisOptions {
            speed,
            noise_scale,
            noise_w,
            speaker,
            seed,
            nfe_step,
            cfg_strength,
            sway_sampling_coef,
            fix_duration,
            language,
            instruct,
            temperature,
            top_k,
            top_p,
            repetition_penalty,
        } = self.clone();
        SynthesisOptions {
            speed: speed.or(defaults.speed),
            noise_scale: noise_scale.or(defaults.noise_scale),
            noise_w: noise_w.or(defaults.noise_w),
            speaker: speaker.or(defaults.speaker),
            seed: seed.or(defaults.seed),
            nfe_step: nfe_step.or(defaults.nfe_step),
            cfg_strength: cfg_strength.or(defaults.cfg_strength),
            sway_sampling_coef: sway_sampling_coef.or(defaults.sway_sampling_coef),
            fix_duration: fix_duration.or(defaults.fix_duration),
            language: language.or_else(|| defaults.language.clone()),
            instruct: instruct.or_else(|| defaults.instruct.clone()),
            temperature: temperature.or(defaults.temperature),
            top_k: top_k.or(defaults.top_k),
            top_p: top_p.or(defaults.top_p),
            repetition_penalty: repetition_penalty.or(defaults.repetition_penalty),
        }
    }
}

/// An [`crate::Error::InvalidParameter`] for option `name` when it is set
/// to a number that is not finite or not in `range` (`reason` states the
/// range).
pub fn check_number(
    name: &'static str,
    value: Option<f32>,
    range: impl std::ops::RangeBounds<f32>,
    reason: &'static str,
) -> crate::Result<()> {
    match value {
        Some(x) if !(x.is_finite() && range.contains(&x)) => Err(crate::Error::InvalidParameter {
            name,
            value: x.to_string(),
            reason,
        }),
        _ => Ok(()),
    }
}

/// [`check_number`] for a count.
pub fn check_count(
    name: &'static str,
    value: Option<u32>,
    range: std::ops::RangeInclusive<u32>,
    reason: &'static str,
) -> crate::Result<()> {
    match value {
        Some(n) if !range.contains(&n) => Err(crate::Error::InvalidParameter {
            name,
            value: n.to_string(),
            reason,
        }),
        _ => Ok(()),
    }
}

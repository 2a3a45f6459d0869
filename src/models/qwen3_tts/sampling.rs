//! Picking a code from logits as upstream's `generate` does (transformers'
//! logits processors, in their order): repetition penalty, the
//! minimum-length and suppressed-token masks, then either the largest logit
//! (greedy) or temperature, top-k and top-p before a draw.

use rand::Rng;

/// How one code is chosen from its logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Draw from the distribution (`true`) or take the most likely code.
    pub do_sample: bool,
    /// Logits are divided by this before top-k / top-p (sampling only).
    pub temperature: f32,
    /// Keep the `top_k` most likely codes (0: all).
    pub top_k: usize,
    /// Keep the smallest set of codes whose probability reaches `top_p`
    /// (1.0: all).
    pub top_p: f32,
}

impl SamplingParams {
    /// Upstream's defaults for both the talker and the code predictor:
    /// sampling at temperature 0.9, top-k 50, top-p 1.0.
    pub const UPSTREAM: Self = Self {
        do_sample: true,
        temperature: 0.9,
        top_k: 50,
        top_p: 1.0,
    };

    /// Greedy: always the most likely code.
    pub const GREEDY: Self = Self {
        do_sample: false,
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    };

    /// Refuses values a draw cannot be made with, naming them.
    pub fn check(&self, what: &str) -> std::result::Result<(), String> {
        if self.do_sample {
            if !(self.temperature.is_finite() && self.temperature > 0.0) {
                return Err(format!(
                    "{what} temperature must be a positive number, got {}",
                    self.temperature
                ));
            }
            if !(self.top_p > 0.0 && self.top_p <= 1.0) {
                return Err(format!(
                    "{what} top_p must be in (0, 1], got {}",
                    self.top_p
                ));
            }
        }
        Ok(())
    }
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self::UPSTREAM
    }
}

/// transformers' `RepetitionPenaltyLogitsProcessor`: the logit of every code
/// already generated is divided by `penalty` when positive and multiplied by
/// it when negative (so a penalty above 1 always makes it less likely).
pub fn apply_repetition_penalty(logits: &mut [f32], history: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = vec![false; logits.len()];
    for &id in history {
        let i = id as usize;
        if i < logits.len() && !seen[i] {
            seen[i] = true;
            let l = logits[i];
            logits[i] = if l < 0.0 { l * penalty } else { l / penalty };
        }
    }
}

/// The index of the largest logit, the first one on ties (as `argmax`).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Chooses a code from `logits` (already penalized and masked).
pub fn sample<R: Rng>(logits: &[f32], params: &SamplingParams, rng: &mut R) -> u32 {
    if !params.do_sample {
        return argmax(logits);
    }
    let t = params.temperature;
    let mut scaled: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .filter(|(_, l)| **l > f32::NEG_INFINITY) // masked codes (and NaN) never drawn
        .map(|(i, &l)| (i as u32, l / t))
        .collect();
    if scaled.is_empty() {
        return argmax(logits);
    }
    // most likely first; stable, so equal logits keep index order
    scaled.sort_by(|a, b| b.1.total_cmp(&a.1));
    if params.top_k > 0 && params.top_k < scaled.len() {
        // transformers keeps every logit equal to the k-th largest
        let kth = scaled[params.top_k - 1].1;
        scaled.retain(|&(_, l)| l >= kth);
    }
    let max = scaled[0].1;
    let mut probs: Vec<f32> = scaled.iter().map(|&(_, l)| (l - max).exp()).collect();
    let sum: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= sum);
    if params.top_p < 1.0 {
        // keep the most likely codes until their mass reaches top_p (the
        // code that crosses it included), at least one
        let mut mass = 0.0;
        let mut keep = probs.len();
        for (i, &p) in probs.iter().enumerate() {
            mass += p;
            if mass >= params.top_p {
                keep = i + 1;
                break;
            }
        }
        probs.truncate(keep);
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
    }
    let u: f32 = rng.random();
    let mut acc = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return scaled[i].0;
        }
    }
    scaled[probs.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn penalty_pushes_both_signs_down() {
        let mut l = vec![2.0, -2.0, 1.0];
        apply_repetition_penalty(&mut l, &[0, 1, 1], 2.0);
        assert_eq!(l, vec![1.0, -4.0, 1.0]);
    }

    #[test]
    fn greedy_takes_first_max_and_top_k_limits_draws() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, f32::NEG_INFINITY]), 1);
        let logits = [0.0, 5.0, 4.9, f32::NEG_INFINITY, 4.8];
        let params = SamplingParams {
            do_sample: true,
            temperature: 1.0,
            top_k: 2,
            top_p: 1.0,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = [0usize; 5];
        for _ in 0..500 {
            seen[sample(&logits, &params, &mut rng) as usize] += 1;
        }
        assert_eq!(seen[0] + seen[3] + seen[4], 0, "{seen:?}");
        assert!(seen[1] > 100 && seen[2] > 100, "{seen:?}");
        // top_p small: only the most likely
        let params = SamplingParams {
            top_p: 0.1,
            top_k: 0,
            ..params
        };
        for _ in 0..50 {
            assert_eq!(sample(&logits, &params, &mut rng), 1);
        }
    }

    #[test]
    fn bad_params_are_named() {
        let p = SamplingParams {
            temperature: 0.0,
            ..SamplingParams::UPSTREAM
        };
        assert!(p
            .check("talker")
            .unwrap_err()
            .contains("talker temperature"));
        assert!(SamplingParams::GREEDY.check("x").is_ok());
    }
}

//! Rational-quadratic spline with linear tails (`transforms.py`), the
//! coupling transform of the duration predictor's `ConvFlow`.
//!
//! It works element by element with a data-dependent bin search, so it runs
//! as plain f32 Rust on a host copy: the data is tiny (`T x 29` values per
//! flow) and this keeps every backend exact.

/// Minimum bin width, height and derivative of the reference.
const MIN_BIN: f32 = 1e-3;
const MIN_DERIVATIVE: f32 = 1e-3;

/// Applies the spline to one value.
///
/// `widths`, `heights` are the `num_bins` unnormalized logits and
/// `derivatives` the `num_bins - 1` inner unnormalized derivatives; the
/// spline maps `[-tail_bound, tail_bound]` onto itself, identity outside.
pub fn rational_quadratic(
    x: f32,
    widths: &[f32],
    heights: &[f32],
    derivatives: &[f32],
    tail_bound: f32,
    inverse: bool,
) -> f32 {
    if !(x >= -tail_bound && x <= tail_bound) {
        return x;
    }
    let num_bins = widths.len();
    debug_assert_eq!(heights.len(), num_bins);
    debug_assert_eq!(derivatives.len(), num_bins - 1);
    let (left, right) = (-tail_bound, tail_bound);

    let cumwidths = knots(widths, left, right);
    let cumheights = knots(heights, left, right);
    // linear tails: boundary derivatives fixed so that softplus gives 1
    let boundary = ((1.0f64 - MIN_DERIVATIVE as f64).exp() - 1.0).ln() as f32;
    let deriv = |i: usize| -> f32 {
        let u = if i == 0 || i == num_bins {
            boundary
        } else {
            derivatives[i - 1]
        };
        MIN_DERIVATIVE + softplus(u)
    };

    // searchsorted with the last knot nudged by eps, as the reference does
    let locations = if inverse { &cumheights } else { &cumwidths };
    let mut bin = 0usize;
    for (i, &loc) in locations.iter().enumerate() {
        let loc = if i == num_bins { loc + 1e-6 } else { loc };
        if x >= loc {
            bin = i;
        }
    }
    let bin = bin.min(num_bins - 1);

    let in_cumwidth = cumwidths[bin];
    let in_width = cumwidths[bin + 1] - cumwidths[bin];
    let in_cumheight = cumheights[bin];
    let in_height = cumheights[bin + 1] - cumheights[bin];
    let delta = in_height / in_width;
    let d0 = deriv(bin);
    let d1 = deriv(bin + 1);

    if inverse {
        let dy = x - in_cumheight;
        let a = dy * (d0 + d1 - 2.0 * delta) + in_height * (delta - d0);
        let b = in_height * d0 - dy * (d0 + d1 - 2.0 * delta);
        let c = -delta * dy;
        let discriminant = b * b - 4.0 * a * c;
        let root = (2.0 * c) / (-b - discriminant.max(0.0).sqrt());
        root * in_width + in_cumwidth
    } else {
        let theta = (x - in_cumwidth) / in_width;
        let t1mt = theta * (1.0 - theta);
        let numerator = in_height * (delta * theta * theta + d0 * t1mt);
        let denominator = delta + (d0 + d1 - 2.0 * delta) * t1mt;
        in_cumheight + numerator / denominator
    }
}

/// Knot positions from unnormalized bin sizes: softmax, minimum size,
/// cumulative sum scaled to `[left, right]` with exact end points.
fn knots(unnormalized: &[f32], left: f32, right: f32) -> Vec<f32> {
    let n = unnormalized.len();
    let max = unnormalized
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = unnormalized.iter().map(|&u| (u - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    let mut out = Vec::with_capacity(n + 1);
    out.push(0.0f32);
    let mut acc = 0.0f32;
    for e in exps {
        acc += MIN_BIN + (1.0 - MIN_BIN * n as f32) * (e / sum);
        out.push(acc);
    }
    for v in out.iter_mut() {
        *v = (right - left) * *v + left;
    }
    out[0] = left;
    out[n] = right;
    out
}

fn softplus(x: f32) -> f32 {
    if x > 20.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward() {
        let w = [0.3, -1.0, 0.5, 2.0, 0.0, 0.1, -0.2, 0.7, 1.1, -0.4];
        let h = [1.0, 0.2, -0.3, 0.0, 0.4, -1.2, 0.9, 0.3, -0.1, 0.5];
        let d = [0.1, -0.5, 0.3, 1.0, -1.0, 0.2, 0.0, 0.4, -0.3];
        for i in -60..=60 {
            let x = i as f32 / 10.0;
            let y = rational_quadratic(x, &w, &h, &d, 5.0, false);
            let back = rational_quadratic(y, &w, &h, &d, 5.0, true);
            assert!((back - x).abs() < 1e-4, "x={x} y={y} back={back}");
            if x.abs() > 5.0 {
                assert_eq!(y, x, "identity outside the tail bound");
            }
        }
    }

    #[test]
    fn spline_is_monotonic_and_maps_bounds() {
        let w = [0.0; 10];
        let h = [0.5, 0.0, -0.5, 0.0, 0.5, 0.0, -0.5, 0.0, 0.5, 0.0];
        let d = [0.0; 9];
        let mut prev = f32::NEG_INFINITY;
        for i in -50..=50 {
            let y = rational_quadratic(i as f32 / 10.0, &w, &h, &d, 5.0, false);
            assert!(y > prev);
            prev = y;
        }
        assert!((rational_quadratic(5.0, &w, &h, &d, 5.0, false) - 5.0).abs() < 1e-5);
        assert!((rational_quadratic(-5.0, &w, &h, &d, 5.0, false) + 5.0).abs() < 1e-5);
    }
}

//! Softmax and arg-max over a small output vector.

use crate::math;

/// `out[i] = exp(z[i] - max z) / Σ exp(z[j] - max z)`, with [`math::exp`] (micromath).
///
/// # Shapes
/// `logits.len() == out.len()`; extra elements of the longer slice are ignored.
///
/// # Panics
/// Never. The max-subtraction keeps every argument ≤ 0, so the sum lies in `[1, len]`.
pub fn softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = math::exp(z - max);
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Index of the largest value; the lowest index wins a tie (as `numpy.argmax`). 0 for an
/// empty slice; NaN never wins.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// micromath exp's relative error (2.4e-3) bounds each term and the sum, so a probability
    /// can be off by about twice that.
    const PROB_RTOL: f32 = 5e-3;

    #[test]
    fn softmax_matches_hand_values() {
        // exp(0), exp(-1), exp(-2) = 1, 0.367879, 0.135335; sum 1.503214.
        let mut p = [0.0; 3];
        softmax(&[3.0, 2.0, 1.0], &mut p);
        for (got, want) in p.iter().zip([0.665241, 0.244728, 0.090031]) {
            assert!((got - want).abs() <= PROB_RTOL * want, "{got} vs {want}");
        }
    }

    #[test]
    fn softmax_survives_extreme_logits() {
        let mut p = [0.0; 3];
        softmax(&[1e30, -1e30, 0.0], &mut p);
        assert_eq!(p, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn argmax_takes_the_first_maximum_and_ignores_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0, 0.5]), 1);
        assert_eq!(argmax(&[0.5, f32::NAN, 1.0]), 2);
        assert_eq!(argmax(&[]), 0);
    }
}

//! Softmax and arg-max over a small output vector.

use heapless::Vec;

use crate::math;

/// `out[i] = exp(z[i] - max z) / Σ exp(z[j] - max z)`, with [`math::exp`] (micromath), for
/// every input: NaN ranks below every number (as in [`argmax`]), and the limits of softmax
/// decide the rest.
///
/// - No NaN and a finite maximum (every logit of a checked model): the formula, with a NaN
///   logit given probability 0.
/// - The maximum is +∞: the +∞ logits share probability 1 equally, the others get 0.
/// - Every logit is −∞ or NaN: the −∞ ones share probability 1 equally; all NaN: `1/len`
///   each.
///
/// So every probability is in `[0, 1]`, never NaN, and they sum to 1 (within rounding).
///
/// # Shapes
/// `logits.len() == out.len()`; extra elements of the longer slice are ignored.
///
/// # Panics
/// Never. The max-subtraction keeps every argument ≤ 0, so the sum lies in `[1, len]`.
pub fn softmax(logits: &[f32], out: &mut [f32]) {
    let n = logits.len().min(out.len());
    let (logits, out) = (&logits[..n], &mut out[..n]);
    // `f32::max` ignores NaN; −∞ if every logit is −∞ or NaN.
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        let ties = logits.iter().filter(|&&z| z == max).count();
        for (o, &z) in out.iter_mut().zip(logits) {
            *o = match ties {
                0 => 1.0 / n as f32,
                _ if z == max => 1.0 / ties as f32,
                _ => 0.0,
            };
        }
        return;
    }
    let mut sum = 0.0f32;
    for (o, &z) in out.iter_mut().zip(logits) {
        *o = if z.is_nan() { 0.0 } else { math::exp(z - max) };
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Whether `a` ranks above `b` in [`argmax`]'s order: by value, with NaN below every number
/// (so below −∞) and equal to NaN.
#[inline]
pub fn ranks_above(a: f32, b: f32) -> bool {
    a > b || (b.is_nan() && !a.is_nan())
}

/// Index of the largest value, for every input: the lowest index wins a tie (as
/// `numpy.argmax`), NaN never wins against a number (even −∞), and an all-NaN or empty slice
/// gives 0.
///
/// # Panics
/// Never.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if ranks_above(v, values[best]) {
            best = i;
        }
    }
    best
}

/// The indices of the `K` largest values, largest first, in [`argmax`]'s order for every input
/// (lower index first on a tie, NaN below every number), so the first is always
/// `argmax(values)`. Fewer than `K` if `values` is shorter.
///
/// # Panics
/// Never.
pub fn top_k<const K: usize>(values: &[f32]) -> Vec<usize, K> {
    let mut top: Vec<usize, K> = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        // Insertion into the sorted prefix: the first held value that `v` ranks above.
        let at = top
            .iter()
            .position(|&j| values.get(j).is_some_and(|&w| ranks_above(v, w)))
            .unwrap_or(top.len());
        if at < K {
            if top.is_full() {
                top.pop();
            }
            // `at ≤ top.len() < K` here, so the insert cannot fail.
            let _ = top.insert(at, i);
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    /// micromath exp's relative error (2.4e-3) bounds each term and the sum, so a probability
    /// can be off by about twice that.
    const PROB_RTOL: f32 = 5e-3;

    #[test]
    fn top_k_orders_like_argmax() {
        let v = [0.5, 3.0, f32::NAN, 3.0, -1.0, 2.0];
        assert_eq!(top_k::<3>(&v).as_slice(), &[1, 3, 5]);
        assert_eq!(top_k::<6>(&v).as_slice(), &[1, 3, 5, 0, 4, 2]);
        assert_eq!(top_k::<1>(&v)[0], argmax(&v));
        assert_eq!(top_k::<4>(&[2.0, 1.0]).as_slice(), &[0, 1]);
        assert!(top_k::<0>(&v).is_empty());
        assert_eq!(top_k::<2>(&[f32::NAN, f32::NAN]).as_slice(), &[0, 1]);
    }

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
        assert_eq!(argmax(&[f32::NAN, f32::NEG_INFINITY]), 1);
        assert_eq!(argmax(&[0.0, -0.0]), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn finding_1_all_nan_argmax_is_documented_not_the_last() {
        // The finding: all-NaN logits gave the last index (class 9).
        assert_eq!(argmax(&[f32::NAN; 10]), 0);
        assert_eq!(argmax(&[f32::NAN, f32::NAN, 2.0, f32::NAN]), 2);
    }

    #[test]
    fn softmax_is_total() {
        const NAN: f32 = f32::NAN;
        const INF: f32 = f32::INFINITY;
        let cases: [(&[f32], &[f32]); 7] = [
            (&[NAN, 0.0, 0.0], &[0.0, 0.5, 0.5]),
            (&[INF, 1.0, INF, NAN], &[0.5, 0.0, 0.5, 0.0]),
            (&[-INF, NAN, -INF], &[0.5, 0.0, 0.5]),
            (&[NAN, NAN, NAN, NAN], &[0.25; 4]),
            (&[-INF, 0.0], &[0.0, 1.0]),
            (&[f32::MAX, -f32::MAX], &[1.0, 0.0]),
            (&[], &[]),
        ];
        for (logits, want) in cases {
            let mut p = [9.0; 4];
            softmax(logits, &mut p[..logits.len()]);
            assert_eq!(&p[..logits.len()], want, "{logits:?}");
        }
        // Extra output elements are left alone.
        let mut p = [9.0; 3];
        softmax(&[0.0, 0.0], &mut p);
        assert_eq!(p, [0.5, 0.5, 9.0]);
    }
}

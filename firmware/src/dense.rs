//! The dense layer kernel: `output = W · input + bias`, with `W` read in place.
//!
//! The dot product keeps [`LANES`] independent accumulators, so the compiler can keep them in
//! SIMD registers on x86-64 and in FPU registers on a Cortex-M4, and reduces them with a fixed
//! tree. The summation order is therefore written in the source, not chosen by the target:
//! with no fused multiply-add (Rust never contracts `a * b + c` unless asked), every target
//! that implements IEEE-754 single precision gets the same bits.

/// Independent accumulators in [`dot`].
pub const LANES: usize = 8;

/// `Σ w[i] · x[i]` in a fixed order: lane `k` sums terms `i ≡ k (mod LANES)` of the leading
/// multiple of [`LANES`], the lanes are added pairwise, then the tail is added left to right.
///
/// # Shapes
/// `w.len() == x.len()`; extra elements of the longer slice are ignored.
#[inline]
pub fn dot(w: &[f32], x: &[f32]) -> f32 {
    let n = w.len().min(x.len());
    let (w, x) = (&w[..n], &x[..n]);
    let mut acc = [0.0f32; LANES];
    let (wc, xc) = (w.chunks_exact(LANES), x.chunks_exact(LANES));
    let (w_tail, x_tail) = (wc.remainder(), xc.remainder());
    for (wc, xc) in wc.zip(xc) {
        for k in 0..LANES {
            acc[k] += wc[k] * xc[k];
        }
    }
    let mut sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (a, b) in w_tail.iter().zip(x_tail) {
        sum += a * b;
    }
    sum
}

/// `output[o] = bias[o] + dot(weights[o], input)`.
///
/// # Shapes
/// `weights`: `[output.len()][input.len()]` row-major; `bias`: `[output.len()]`. Rows or
/// outputs beyond the shortest of these are ignored.
///
/// # Panics
/// Never.
pub fn dense(weights: &[f32], bias: &[f32], input: &[f32], output: &mut [f32]) {
    if input.is_empty() {
        for (o, b) in output.iter_mut().zip(bias) {
            *o = *b;
        }
        return;
    }
    for ((o, row), b) in output
        .iter_mut()
        .zip(weights.chunks_exact(input.len()))
        .zip(bias)
    {
        *o = b + dot(row, input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_sums_in_the_documented_order() {
        // f32 spacing at 1e8 is 8. Pairwise: (1e8 + 0) + (4 + 4) = 100_000_008, and the tail's
        // +1 and +2 round back to it. Left to right, each +4 would round away: 1e8.
        let w = [1e8, 0.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
        let x = [1.0; 10];
        assert_eq!(dot(&w, &x), 100_000_008.0);
        assert_eq!(w.iter().fold(0.0f32, |s, v| s + v), 1e8);
    }

    #[test]
    fn dense_matches_hand_computation() {
        // 2 outputs, 3 inputs.
        let w = [1.0, 2.0, 3.0, -1.0, 0.5, 0.25];
        let b = [0.5, -1.0];
        let x = [1.0, 2.0, 4.0];
        let mut out = [0.0; 2];
        dense(&w, &b, &x, &mut out);
        assert_eq!(out, [0.5 + 1.0 + 4.0 + 12.0, -1.0 - 1.0 + 1.0 + 1.0]);
    }

    #[test]
    fn dot_of_long_vectors_is_close_to_f64() {
        let w: [f32; 784] = core::array::from_fn(|i| ((i * 37 % 101) as f32 - 50.0) / 64.0);
        let x: [f32; 784] = core::array::from_fn(|i| (i % 256) as f32 / 255.0);
        let exact: f64 = w.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
        // 784 f32 additions, each with relative error 2^-24 of a partial sum below 100.
        assert!((dot(&w, &x) as f64 - exact).abs() < 1e-3);
    }
}

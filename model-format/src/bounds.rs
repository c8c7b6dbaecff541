//! Interval bounds through the layers: a checked model computes finite values, and exact
//! integers, for every input its contract allows.
//!
//! Finite weights are not enough: weights × 1e13 pass every other check, and a device then
//! overflows to infinity and NaN. So the reader carries a bound `X` on every activation's
//! magnitude from the input to the logits and refuses a layer whose outputs could leave the
//! range ([`Error::ActivationOverflow`]). One pass over the weights (driven layer by layer
//! by `model.rs`); the bounds are conservative (worst-case signs for every input), never an
//! estimate.
//!
//! **Float layers** (f32, and f16 weights widened exactly to f32; f32 arithmetic). The inputs
//! the contract allows are `|x| ≤ X₀ =`
//! [`InputSpec::max_input`](crate::InputSpec::max_input) (a pixel `p ≤ 255` times the
//! scale, rounded in f32: rounding is monotone, so no pixel exceeds it). Output `o` of a layer
//! with `n` inputs bounded by `X` is exactly at most `R = |b_o| + X · Σ_i |w_oi|` in magnitude.
//! A device computes it in f32, in any order of summation: each of its `n` products is rounded
//! once and each of its `n` additions once, so every partial sum it forms is at most
//! `R · (1 + u)^(n+1)` (`u = 2^-24`), and none overflows while that is at most `f32::MAX`. This
//! module computes `Σ|w|` and `R` in f32 too (rounded down by at most `(1 − u)^(n+1)`), and
//! multiplies by `G = 2^(1 + ⌊(n+1) / 2^21⌋)`, which is at least `((1 + u)/(1 − u))^(n+1)`
//! (`≤ e^(3u(n+1))`; underflowing products add at most 2^-149 each, far inside the factor 2).
//! A row is refused unless `B = R · G ≤ f32::MAX`, and the next layer's `X` is the largest `B`
//! (ReLU only shrinks magnitudes). Every step rounds to nearest and a too-large value becomes
//! infinity, which fails `B ≤ f32::MAX`: the bound itself cannot overflow silently.
//!
//! **int8 layers** (integers only). With the input `x` in `[lo, 127]` (`lo` = −128 for the
//! pixels and after a layer without ReLU, the output zero point after one with it) and zero
//! point `zx`, each term `w · (x − zx)` is at most `D · |w|`, `D = max(|127 − zx|, |lo − zx|)`,
//! and every partial sum of a kernel (in any order) at most `A = |bias| + D · Σ|w|`, computed
//! exactly in u64. A row is refused unless `A · 2^max(shift, 0) ≤ 2^31 − 1 − 128`: then the
//! accumulator is exact in i32, the requantization's left shift does not wrap, the rounding
//! multiply and divide only shrink it, and adding the output zero point (`|zp| ≤ 128`) fits.
//! The dequantized logits `(q − zp) · scale` are finite because every scale has `255 · scale`
//! finite (checked with the quantizations: `BadScale`).

use crate::layout::round4;
use crate::{Error, INT8_TILE};

/// Largest int8 accumulator bound (times the left shift): room for the output zero point.
const ACC_LIMIT: u64 = i32::MAX as u64 - 128;

/// `G = 2^(1 + ⌊(n+1) / 2^21⌋)` of the [module documentation](self); infinity past `2^127`.
fn margin(inputs: usize) -> f32 {
    let k = 1 + (inputs as u64).saturating_add(1) / (1 << 21);
    if k < 128 {
        f32::from_bits((127 + k as u32) << 23)
    } else {
        f32::INFINITY
    }
}

/// One float layer's rows, with inputs bounded by `x` and `abs` the magnitude of a stored
/// weight as f32: the bound of its outputs (the next layer's `x`), or the first row that could
/// overflow.
///
/// # Errors
/// [`Error::ActivationOverflow`] naming `layer` and that row.
pub(crate) fn float_layer<W>(
    layer: usize,
    inputs: usize,
    weights: &[W],
    bias: &[f32],
    abs: impl Fn(&W) -> f32,
    x: f32,
) -> Result<f32, Error> {
    let g = margin(inputs);
    let mut widest = 0.0f32;
    // `inputs > 0` and the lengths were checked at load; `max(1)` only keeps this total.
    for (row, (w, b)) in weights.chunks_exact(inputs.max(1)).zip(bias).enumerate() {
        let sum = w.iter().fold(0.0f32, |s, w| s + abs(w));
        let bound = (b.abs() + x * sum) * g;
        // Refuses infinity and NaN (0 · ∞ in a huge layer's margin) too.
        if !bound.is_finite() {
            return Err(Error::ActivationOverflow { layer, row });
        }
        widest = widest.max(bound);
    }
    Ok(widest)
}

/// The rows of an int8 layer (blocked `weights`, one `bias` and `shift` per row) whose input,
/// with zero point `zx`, lies in `[lo, 127]`.
///
/// # Errors
/// [`Error::ActivationOverflow`] naming `layer` and the first row whose accumulator could
/// leave i32.
pub(crate) fn int8_layer(
    layer: usize,
    inputs: usize,
    weights: &[i8],
    bias: &[i32],
    shift: &[i32],
    (zx, lo): (i32, i32),
) -> Result<(), Error> {
    let d = u64::from((127 - zx).unsigned_abs().max((lo - zx).unsigned_abs()));
    let band_len = INT8_TILE * round4(inputs);
    let bands = weights.chunks_exact(band_len.max(1));
    for (band, tiles) in bands.enumerate() {
        // Row r of the band holds bytes 4r..4r+4 of every 16-byte tile (padding is zero).
        let mut sums = [0u64; INT8_TILE];
        for tile in tiles.chunks_exact(INT8_TILE * INT8_TILE) {
            for (r, sum) in sums.iter_mut().enumerate() {
                let row = &tile[r * INT8_TILE..(r + 1) * INT8_TILE];
                *sum += row.iter().map(|w| u64::from(w.unsigned_abs())).sum::<u64>();
            }
        }
        for (r, sum) in sums.into_iter().enumerate() {
            let row = band * INT8_TILE + r;
            let (Some(bias), Some(&shift)) = (bias.get(row), shift.get(row)) else {
                break; // a padding row
            };
            let acc = u64::from(bias.unsigned_abs()) + d * sum;
            if acc > ACC_LIMIT >> shift.clamp(0, 31) {
                return Err(Error::ActivationOverflow { layer, row });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_is_two_up_to_two_million_inputs() {
        assert_eq!(margin(1), 2.0);
        assert_eq!(margin(784), 2.0);
        assert_eq!(margin((1 << 21) - 2), 2.0);
        assert_eq!(margin((1 << 21) - 1), 4.0);
        // ((1 + u)/(1 − u))^(n+1) ≤ e^(3u(n+1)) stays below G at the last n of each step.
        for k in 1..60u64 {
            let n = (k << 21) - 2;
            let needed = (3.0 * (n + 1) as f64 / 16_777_216.0).exp();
            assert!(f64::from(margin(n as usize)) >= needed, "{n}");
        }
        assert_eq!(margin(usize::MAX), f32::INFINITY);
    }
}

//! The f16 dense layer: IEEE binary16 weights, `f32` bias, input, output and arithmetic.
//!
//! Every binary16 value is exactly an `f32` ([`f16_to_f32`]), so [`dense_f16`] is [`dense`] on
//! the widened weights, bit for bit, in [`dense`]'s documented summation order (it is the same
//! code, [`crate::dense`]'s `dense_with`, reading the weights through a widening).
//!
//! # Speed
//! On the Cortex-M4F/M7 (`thumbv7em-none-eabihf`), for rows that start 4-byte aligned (all of
//! them with an even number of inputs and an aligned block, as the model file guarantees),
//! `dsp`'s assembly loop widens the weights with `VCVTB`/`VCVTT.F32.F16` and accumulates with
//! `VMLA.F32` in the same order; other weights are widened one at a time by `VCVTB`
//! ([`widen_f16`]). Elsewhere [`f16_to_f32`] widens in integer arithmetic.
//!
//! [`dense`]: crate::dense::dense

#[cfg(fmlp_fp16)]
use crate::dense::{LANES, STEP};
use crate::dense::{Storage, dense_with};

/// The `f32` of the binary16 value with bits `h`, exactly (the one widening every reader of
/// the format uses; the kernels' fast widenings give the same bits).
pub use model_format::f16_to_f32;

/// binary16 → `f32` as [`dense_f16`] widens on this target: `VCVTB.F32.F16` on
/// `thumbv7em-none-eabihf`, [`f16_to_f32`] elsewhere. The same bits as [`f16_to_f32`] for all
/// 65,536 patterns (the kernel benchmark program checks it on the device).
///
/// # Panics
/// Never.
#[inline]
#[must_use]
pub fn widen_f16(h: u16) -> f32 {
    #[cfg(fmlp_fp16)]
    return crate::dsp::widen_f16(h);
    #[cfg(not(fmlp_fp16))]
    widen_portable(h)
}

/// [`f16_to_f32`] without a branch for finite values, so a loop of it vectorises: the 15 bits
/// of magnitude, shifted into an `f32`'s exponent and mantissa, are the value times 2^-112
/// (a binary16 subnormal lands on an `f32` subnormal, also exactly), and multiplying by 2^112
/// is exact. Infinities and NaNs (which no checked model holds) take [`f16_to_f32`].
#[cfg(not(fmlp_fp16))]
#[inline(always)]
fn widen_portable(h: u16) -> f32 {
    /// 2^112, the difference of the two formats' exponent biases (127 − 15).
    const BIAS_SHIFT: f32 = f32::from_bits((127 + 112) << 23);
    let magnitude = f32::from_bits(u32::from(h & 0x7fff) << 13) * BIAS_SHIFT;
    let finite = f32::from_bits(magnitude.to_bits() | u32::from(h & 0x8000) << 16);
    if h & 0x7c00 == 0x7c00 {
        f16_to_f32(h)
    } else {
        finite
    }
}

/// `output[o] = bias[o] + Σ_i f32(weights[o][i]) · input[i]`, bit for bit
/// [`dense`](crate::dense::dense) on the widened weights.
///
/// # Shapes
/// `weights`: `[output.len()][input.len()]` binary16 bit patterns, row-major, rows not padded;
/// `bias`: `[output.len()]`. Rows or outputs beyond the shortest of these are ignored.
///
/// # Panics
/// Never.
pub fn dense_f16(weights: &[u16], bias: &[f32], input: &[f32], output: &mut [f32]) {
    dense_with::<F16>(weights, bias, input, output);
}

/// binary16 weights, widened by [`widen_f16`]; on the M4F the whole steps of rows that start
/// 4-byte aligned go through `dsp`'s `VCVTB`/`VCVTT` loop.
pub(crate) enum F16 {}

impl Storage for F16 {
    type Elem = u16;
    #[inline(always)]
    fn widen(weight: u16) -> f32 {
        widen_f16(weight)
    }
    #[cfg(fmlp_fp16)]
    #[inline(always)]
    fn accumulate<const R: usize>(
        w_steps: &[&[[u16; STEP]]; R],
        x_steps: &[[f32; STEP]],
        acc: &mut [[f32; LANES]; R],
    ) -> bool {
        crate::dsp::f16_accumulate(w_steps, x_steps, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::dense;

    /// The value of a binary16 pattern from its definition, in `f64` (exact), for non-NaNs.
    fn definition(h: u16) -> f64 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let (e, m) = (i32::from((h >> 10) & 0x1f), f64::from(h & 0x3ff));
        sign * match e {
            0 => m / 1024.0 * 2f64.powi(-14),
            31 => f64::INFINITY,
            _ => (1.0 + m / 1024.0) * 2f64.powi(e - 15),
        }
    }

    #[test]
    fn every_pattern_widens_exactly() {
        let mut nans = 0;
        for h in 0..=u16::MAX {
            let got = f16_to_f32(h);
            if (h >> 10) & 0x1f == 0x1f && h & 0x3ff != 0 {
                // NaN: quiet, sign and payload kept.
                assert!(got.is_nan(), "{h:#06x}");
                let want = (u32::from(h & 0x8000) << 16) | 0x7fc0_0000 | u32::from(h & 0x3ff) << 13;
                assert_eq!(got.to_bits(), want, "{h:#06x}");
                nans += 1;
                continue;
            }
            let want = definition(h) as f32;
            // The f64 → f32 cast must itself have been exact.
            assert_eq!(f64::from(want), definition(h), "{h:#06x}");
            assert_eq!(got.to_bits(), want.to_bits(), "{h:#06x}");
        }
        assert_eq!(nans, 2 * 1023);
        // The kernel's widening (the branch-free one on hosts) gives the same bits everywhere.
        for h in 0..=u16::MAX {
            assert_eq!(widen_f16(h).to_bits(), f16_to_f32(h).to_bits(), "{h:#06x}");
        }
        // Landmarks: 1.0, −2.0, the largest normal 65504, the smallest subnormal 2^-24, −0.
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    /// Seeded binary16 weights: finite, both signs, normal and subnormal.
    fn halves(len: usize, seed: u32) -> Vec<u16> {
        crate::seeded::xorshift(seed)
            .take(len)
            .map(|s| {
                // Exponents 0..=20 of 31: subnormals up to 2^5, never infinity or NaN.
                let exponent = (s >> 10) % 21;
                ((s >> 16) as u16 & 0x8000) | (exponent << 10) as u16 | (s & 0x3ff) as u16
            })
            .collect()
    }

    fn floats(len: usize, seed: u32) -> Vec<f32> {
        halves(len, seed).into_iter().map(f16_to_f32).collect()
    }

    #[test]
    fn dense_f16_is_dense_on_widened_weights_bit_for_bit() {
        for outputs in 0..=12 {
            for inputs in 0..=21 {
                let w = halves(outputs * inputs, (outputs * 40 + inputs) as u32);
                let wide: Vec<f32> = w.iter().map(|&h| f16_to_f32(h)).collect();
                let b = floats(outputs, 4);
                let x = floats(inputs, 5);
                let (mut got, mut want) = (vec![f32::NAN; outputs], vec![0.0; outputs]);
                dense_f16(&w, &b, &x, &mut got);
                dense(&wide, &b, &x, &mut want);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{outputs}x{inputs}");
            }
        }
    }

    #[test]
    fn dense_f16_ignores_what_does_not_fit() {
        // Three outputs but two rows of weights (1.0 and 2.0, two inputs each).
        let mut out = [9.0; 3];
        dense_f16(
            &[0x3c00, 0x3c00, 0x4000, 0x4000],
            &[0.0; 3],
            &[1.0, 1.0],
            &mut out,
        );
        assert_eq!(out, [2.0, 4.0, 9.0]);
        let mut out = [9.0; 2];
        dense_f16(&[], &[1.0, 2.0], &[], &mut out);
        assert_eq!(out, [1.0, 2.0]);
    }
}

//! TFLite's integer requantization: a real factor applied to an `i32` as a Q31 multiplier and a
//! power-of-two shift, in integer arithmetic only.
//!
//! These are the functions TFLite's reference kernels (and so TFLite Micro) use for int8
//! `FULLY_CONNECTED`, bit for bit: `MultiplyByQuantizedMultiplier` of
//! `tensorflow/lite/kernels/internal/common.h` (the default, double-rounding build, without
//! `TFLITE_SINGLE_ROUNDING`), made of gemmlowp's `SaturatingRoundingDoublingHighMul` and
//! `RoundingDivideByPOT` (`fixedpoint/fixedpoint.h`), and, on hosts, `QuantizeMultiplier` of
//! `quantization_util.cc`, which turns the real factor into the `(multiplier, shift)` pair.
//!
//! A real factor `m > 0` is stored as `multiplier · 2^(shift − 31)` with `multiplier` in
//! [`MIN_MULTIPLIER`]`..=`[`MAX_MULTIPLIER`] (a Q31 number in [0.5, 1)) and `shift` in
//! [`MIN_SHIFT`]`..=`[`MAX_SHIFT`]; `m = 0` as multiplier 0, shift 0.
//!
//! Where C++ would overflow (the left shift of `multiply_by_quantized_multiplier`) these
//! functions wrap, which is what TFLite's kernels do on every two's-complement target; shifts
//! and exponents outside their documented ranges are clamped into them, so no input panics.

/// Smallest shift [`multiply_by_quantized_multiplier`] takes: a right shift by 31.
pub const MIN_SHIFT: i32 = -31;
/// Largest shift [`multiply_by_quantized_multiplier`] takes: a left shift by 30.
pub const MAX_SHIFT: i32 = 30;
/// Smallest multiplier of a non-zero real factor: 2^30, i.e. 0.5 in Q31.
pub const MIN_MULTIPLIER: i32 = 1 << 30;
/// Largest multiplier: 2^31 − 1, just below 1.0 in Q31.
pub const MAX_MULTIPLIER: i32 = i32::MAX;

/// `round(a · b / 2^31)`, saturated: gemmlowp's `SaturatingRoundingDoublingHighMul`.
///
/// The high 32 bits of the doubled 64-bit product, rounded to nearest with ties toward +∞ (as
/// Arm's `VQRDMULH`): the nudge is `2^30` for a non-negative product and `1 − 2^30` for a
/// negative one, then the sum is divided by `2^31` truncating toward zero. The only product
/// that does not fit, `i32::MIN · i32::MIN` (= 2^62, doubled 2^63), saturates to `i32::MAX`.
///
/// # Panics
/// Never.
#[inline]
#[must_use]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // |ab + nudge| / 2^31 < 2^31 for every other pair; `/` truncates toward zero as in C++.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent`, rounded to nearest with ties away from zero: gemmlowp's
/// `RoundingDivideByPOT`.
///
/// `exponent` is clamped to `0..=31` (gemmlowp asserts that range).
///
/// # Panics
/// Never.
#[inline]
#[must_use]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    // The arithmetic shift floors; a remainder above half (or, for negative x, at half too,
    // since the floor already went away from zero) rounds up by one.
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `x · multiplier · 2^(shift − 31)`, rounded as TFLite does: `MultiplyByQuantizedMultiplier`.
///
/// A positive `shift` first multiplies `x` by `2^shift` — wrapping on overflow, as TFLite's
/// `x * (1 << left_shift)` does on two's-complement targets (quantized kernels never reach it:
/// their multipliers are below 1, so their shifts are at most 0) — then
/// [`saturating_rounding_doubling_high_mul`] by `multiplier`; a negative one then
/// [`rounding_divide_by_pot`] by `−shift`. Two roundings, as TFLite's default build.
///
/// `shift` is clamped to [`MIN_SHIFT`]`..=`[`MAX_SHIFT`].
///
/// # Panics
/// Never.
#[inline]
#[must_use]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = shift.clamp(MIN_SHIFT, MAX_SHIFT);
    let left_shift = shift.max(0);
    let right_shift = (-shift).max(0);
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left_shift), multiplier),
        right_shift,
    )
}

/// The `(multiplier, shift)` of a real factor: TFLite's `QuantizeMultiplier`.
///
/// `real = q · 2^shift` with `q` in [0.5, 1) (C's `frexp`), `multiplier = round(q · 2^31)`
/// with ties away from zero (`std::round`); a multiplier that rounds up to 2^31 becomes 2^30
/// with `shift + 1`; a shift below −31 (`real < 2^-32`, roughly) flushes to `(0, 0)`. So for
/// `0 < real < 2^30 · (1 − 2^-32)`, the result is a valid pair (see the
/// [module documentation](self)); the caller checks that range (a larger real gives a shift
/// above [`MAX_SHIFT`]). A negative real gives the negated multiplier, as in TFLite.
///
/// # Panics
/// If `real` is NaN or infinite (C++'s `frexp` leaves the exponent unspecified there).
#[cfg(any(test, feature = "std"))]
#[must_use]
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    assert!(real.is_finite(), "quantize_multiplier({real}): not finite");
    if real == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = frexp(real);
    // q · 2^31 is exact (a power-of-two scaling) and below 2^31 in magnitude.
    let mut q_fixed = (q * f64::from(1u32 << 31)).round() as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < MIN_SHIFT {
        return (0, 0);
    }
    (q_fixed as i32, shift)
}

/// C's `frexp` for a finite non-zero `x`: `(q, e)` with `x = q · 2^e` and `|q|` in [0.5, 1).
#[cfg(any(test, feature = "std"))]
fn frexp(x: f64) -> (f64, i32) {
    const EXPONENT_MASK: u64 = 0x7ff << 52;
    let bits = x.to_bits();
    let biased = ((bits & EXPONENT_MASK) >> 52) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first (exact).
        let (q, e) = frexp(x * 2f64.powi(64));
        return (q, e - 64);
    }
    // Biased exponent 1022 puts the significand in [0.5, 1).
    let q = f64::from_bits((bits & !EXPONENT_MASK) | (1022 << 52));
    (q, biased - 1022)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values: gemmlowp's and TFLite's formulas in Python's unbounded integers, written
    // from the C++ sources independently of this file:
    //
    // python3 -c '
    // import math
    // def srdhm(a,b):
    //     if a==b==-2**31: return 2**31-1
    //     ab=a*b; n=2**30 if ab>=0 else 1-2**30; v=ab+n
    //     return (abs(v)>>31)*(1 if v>=0 else -1)   # C++ / truncates toward zero
    // def rdp(x,e):
    //     m=(1<<e)-1; r=x&m; t=(m>>1)+(1 if x<0 else 0); return (x>>e)+(1 if r>t else 0)
    // def wrap(v): return (v+2**31)%2**32-2**31
    // def mbqm(x,m,s): return rdp(srdhm(wrap(x*(1<<max(s,0))),m),max(-s,0))
    // def qm(d):
    //     if d==0: return (0,0)
    //     q,s=math.frexp(d); f=math.floor(abs(q)*2**31+0.5)*(1 if q>0 else -1)
    //     if f==2**31: f//=2; s+=1
    //     if s<-31: s=0; f=0
    //     return (f,s)
    // print(srdhm(123456789,987654321), rdp(-5,2), mbqm(-70000,1700000000,-9), qm(0.1))'

    const MIN: i32 = i32::MIN;
    const MAX: i32 = i32::MAX;

    #[test]
    fn high_mul_matches_gemmlowp() {
        const CASES: [(i32, i32, i32); 13] = [
            // Saturation: the one product whose doubling does not fit.
            (MIN, MIN, MAX),
            (MIN, MAX, -2_147_483_647),
            (MAX, MAX, 2_147_483_646),
            // 2^60 · 2 / 2^32 = 2^29 exactly.
            (1 << 30, 1 << 30, 1 << 29),
            // Ties: 2^30 · 2 / 2^32 = +0.5 → 1; −0.5 → 0; +1.5 → 2; −1.5 → −1 (toward +∞).
            (1 << 30, 1, 1),
            (-(1 << 30), 1, 0),
            (3 << 29, 2, 2),
            (-(3 << 29), 2, -1),
            (123_456_789, 987_654_321, 56_779_306),
            (-123_456_789, 987_654_321, -56_779_306),
            (1, 1, 0),
            (-1, 1, 0),
            (MIN, 1, -1),
        ];
        for (a, b, want) in CASES {
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b),
                want,
                "{a} · {b}"
            );
            assert_eq!(
                saturating_rounding_doubling_high_mul(b, a),
                want,
                "{b} · {a}"
            );
        }
    }

    #[test]
    fn divide_by_pot_rounds_ties_away_from_zero() {
        const CASES: [(i32, i32, i32); 19] = [
            // ±1.5 → ±2, ±2.5 → ±3: ties away from zero.
            (3, 1, 2),
            (-3, 1, -2),
            (5, 1, 3),
            (-5, 1, -3),
            // −1.25 → −1, ±1.5 → ±2, ±1.75 → ±2.
            (-5, 2, -1),
            (6, 2, 2),
            (-6, 2, -2),
            (7, 2, 2),
            (-7, 2, -2),
            (1000, 0, 1000),
            (-1000, 0, -1000),
            // The widest exponent: (2^31 − 1) / 2^31 → 1, −1 → −1, −2^31 / 2^30 = −2.
            (MAX, 31, 1),
            (MIN, 31, -1),
            (MIN, 30, -2),
            // ±2^30 / 2^31 = ±0.5 → ±1.
            (1 << 30, 31, 1),
            (-(1 << 30), 31, -1),
            (-(1 << 30) - 1, 31, -1),
            (123_456_789, 10, 120_563),
            (-123_456_789, 10, -120_563),
        ];
        for (x, e, want) in CASES {
            assert_eq!(rounding_divide_by_pot(x, e), want, "{x} / 2^{e}");
        }
    }

    #[test]
    fn multiply_by_quantized_multiplier_matches_tflite() {
        const CASES: [(i32, i32, i32, i32); 14] = [
            // 1000 · 0.70710678 / 32 = 22.097 → 22.
            (1000, 1_518_500_250, -5, 22),
            (-1000, 1_518_500_250, -5, -22),
            (MAX, MAX, 0, 2_147_483_646),
            (MIN, 1 << 30, 0, -(1 << 30)),
            (MIN, MAX, 0, -2_147_483_647),
            // Left shifts: 12345 · 0.5 · 2 = 12345; 1 · 2^30 · 0.5 = 2^29; 3 · 2^30 wraps to
            // −2^30, then · 0.5.
            (12_345, 1 << 30, 1, 12_345),
            (1, 1 << 30, 30, 1 << 29),
            (3, 1 << 30, 30, -(1 << 29)),
            (-70_000, 1_700_000_000, -9, -108),
            // Double rounding: 6 · 0.5 = 3 exactly, / 4 = 0.75 → 1; 2 · 0.5 = 1, / 4 → 0.
            (2, 1 << 30, -2, 0),
            (6, 1 << 30, -2, 1),
            (-6, 1 << 30, -2, -1),
            (1 << 20, 1_234_567_890, -31, 0),
            (-(1 << 30), 1_234_567_890, -31, 0),
        ];
        for (x, m, s, want) in CASES {
            assert_eq!(
                multiply_by_quantized_multiplier(x, m, s),
                want,
                "{x} · {m} · 2^({s} − 31)"
            );
        }
    }

    #[test]
    fn double_rounding_differs_from_single_rounding() {
        // 3 · 0.5 / 4: the high multiply rounds 1.5 up to 2, then 2 / 4 = 0.5 rounds away from
        // zero to 1; one rounding of the exact 0.375 would give 0.
        assert_eq!(multiply_by_quantized_multiplier(3, 1 << 30, -2), 1);
    }

    #[test]
    fn out_of_range_shifts_are_clamped() {
        assert_eq!(
            multiply_by_quantized_multiplier(1, 1 << 30, 99),
            multiply_by_quantized_multiplier(1, 1 << 30, MAX_SHIFT)
        );
        assert_eq!(
            multiply_by_quantized_multiplier(MAX, MAX, -99),
            multiply_by_quantized_multiplier(MAX, MAX, MIN_SHIFT)
        );
        assert_eq!(rounding_divide_by_pot(-7, -3), -7);
        assert_eq!(rounding_divide_by_pot(MIN, 40), -1);
    }

    #[test]
    fn quantize_multiplier_matches_tflite() {
        const CASES: [(f64, (i32, i32)); 16] = [
            (0.0, (0, 0)),
            (0.5, (1 << 30, 0)),
            (1.0, (1 << 30, 1)),
            (0.25, (1 << 30, -1)),
            (0.75, (1_610_612_736, 0)),
            (0.1, (1_717_986_918, -3)),
            (1.0 / 3.0, (1_431_655_765, -1)),
            (-0.3, (-1_288_490_189, -1)),
            (1234.5, (1_294_467_072, 11)),
            // q · 2^31 = 2^31 − 1 exactly: the largest multiplier.
            (1.0 - 1.0 / (1u64 << 31) as f64, (MAX, 0)),
            // q · 2^31 = 2^31 − 0.25 rounds to 2^31: the fix-up halves it and bumps the shift.
            (1.0 - 1.0 / (1u64 << 33) as f64, (1 << 30, 1)),
            // The smallest shifts: 2^-31 → shift −30, 2^-32 → −31, 2^-33 → flushed to zero.
            (1.0 / (1u64 << 31) as f64, (1 << 30, -30)),
            (1.0 / (1u64 << 32) as f64, (1 << 30, -31)),
            (1.0 / (1u64 << 33) as f64, (0, 0)),
            // The smallest subnormal.
            (5e-324, (0, 0)),
            // 2^29 → shift 30, the largest valid one.
            ((1u64 << 29) as f64, (1 << 30, MAX_SHIFT)),
        ];
        for (real, want) in CASES {
            assert_eq!(quantize_multiplier(real), want, "{real:e}");
        }
        // 2^30 needs shift 31: out of range, for the caller to refuse.
        assert_eq!(quantize_multiplier((1u64 << 30) as f64), (1 << 30, 31));
    }

    #[test]
    fn quantized_multipliers_are_in_range_and_close() {
        // Every factor a quantized layer uses (input scale · weight scale / output scale) is
        // far inside this span; check the documented invariants and the Q31 precision.
        let mut real = 1e-9f64;
        while real < 1e6 {
            let (m, s) = quantize_multiplier(real);
            assert!((MIN_MULTIPLIER..=MAX_MULTIPLIER).contains(&m), "{real:e}");
            assert!((MIN_SHIFT..=MAX_SHIFT).contains(&s), "{real:e}");
            let back = f64::from(m) * 2f64.powi(s - 31);
            // Rounding to 31 bits: relative error at most 2^-31 of a value in [0.5, 1).
            assert!((back - real).abs() <= real * 2f64.powi(-30), "{real:e}");
            real *= 1.37;
        }
    }

    #[test]
    fn frexp_matches_its_definition() {
        for x in [1.0, 0.5, 3.0, -3.0, 1e-310, 1e300, f64::MIN_POSITIVE, 0.1] {
            let (q, e) = frexp(x);
            assert!((0.5..1.0).contains(&q.abs()), "{x:e}");
            // In two steps: 2^e alone over- or underflows at the ends of the range.
            assert_eq!(q * 2f64.powi(e / 2) * 2f64.powi(e - e / 2), x, "{x:e}");
        }
    }
}

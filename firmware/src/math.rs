//! Every transcendental function the firmware uses, and only here (DEVELOPERS.md, rule 3).
//!
//! Each calls micromath **explicitly**: in a `cfg_attr(not(test), no_std)` crate a bare
//! `x.exp()` would resolve to std's exact `exp` under `cargo test` and to micromath's
//! approximation on the device, and host and device would silently differ. `clippy.toml`
//! disallows the std methods in this crate so a stray call fails the lint.

/// Below this, `exp` returns 0: `e^-87.3` is the smallest normal `f32`, and micromath's bit
/// trick is not meant for arguments beyond it.
pub const EXP_MIN_ARG: f32 = -87.0;

/// Above this, `exp` returns +∞: 88.72283 (`0x42b17217`) is the largest `f32` whose
/// micromath `exp` is finite (3.4002e38; `ln(f32::MAX)` = 88.722839). Just above it micromath
/// gives +∞, and from 88.7266 (and at 89.0) NaN: its bit trick overflows the exponent.
pub const EXP_MAX_ARG: f32 = f32::from_bits(0x42b1_7217);

/// `e^x`, defined for every `f32`: micromath on `[EXP_MIN_ARG, EXP_MAX_ARG]` (max relative
/// error about 2.4e-3, measured over [-20, 20]), 0 below (and at −∞), +∞ above (and at +∞),
/// NaN for NaN (micromath alone gives +∞ there).
///
/// # Panics
/// Never.
#[inline]
pub fn exp(x: f32) -> f32 {
    if x < EXP_MIN_ARG {
        0.0
    } else if x <= EXP_MAX_ARG {
        micromath::F32Ext::exp(x)
    } else if x.is_nan() {
        f32::NAN
    } else {
        f32::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// micromath's documented accuracy; measured 2.4e-3 here (EMBEDDED.md).
    const EXP_RTOL: f64 = 3e-3;

    #[test]
    fn exp_matches_std_within_micromath_accuracy() {
        for i in -870..=200 {
            let x = i as f32 / 10.0;
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            assert!(
                ((got - want) / want).abs() <= EXP_RTOL,
                "exp({x}) = {got}, std gives {want}"
            );
        }
    }

    #[test]
    fn exp_is_defined_over_the_whole_range() {
        // From EXP_MIN_ARG up in steps of 1e-4, and every f32 within 2^16 of EXP_MAX_ARG:
        // finite up to EXP_MAX_ARG, +∞ after it (micromath's own exp(89.0) is NaN), never NaN.
        let near = EXP_MAX_ARG.to_bits();
        let steps = (-870_000..=1_000_000).map(|i| i as f32 / 10_000.0);
        for x in steps.chain((near - (1 << 16)..near + (1 << 16)).map(f32::from_bits)) {
            let got = exp(x);
            if x <= EXP_MAX_ARG {
                assert!(got.is_finite() && got >= 0.0, "exp({x}) = {got}");
            } else {
                assert_eq!(got, f32::INFINITY, "exp({x})");
            }
        }
        assert!(
            micromath::F32Ext::exp(89.0f32).is_nan(),
            "the finding: micromath alone"
        );
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::MAX), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(EXP_MAX_ARG) > 3.3e38);
    }

    #[test]
    fn exp_is_zero_far_left_and_never_negative() {
        assert_eq!(exp(-1e30), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        for i in 0..=1000 {
            assert!(exp(-(i as f32) / 10.0) >= 0.0);
        }
    }
}

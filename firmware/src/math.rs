//! Every transcendental function the firmware uses, and only here (DEVELOPERS.md, rule 3).
//!
//! Each calls micromath **explicitly**: in a `cfg_attr(not(test), no_std)` crate a bare
//! `x.exp()` would resolve to std's exact `exp` under `cargo test` and to micromath's
//! approximation on the device, and host and device would silently differ. `clippy.toml`
//! disallows the std methods in this crate so a stray call fails the lint.

/// Below this, `exp` returns 0: `e^-87.3` is the smallest normal `f32`, and micromath's bit
/// trick is not meant for arguments beyond it.
pub const EXP_MIN_ARG: f32 = -87.0;

/// `e^x` by micromath (max relative error about 2.4e-3, measured over [-20, 20]); 0 below
/// [`EXP_MIN_ARG`].
///
/// # Panics
/// Never.
#[inline]
pub fn exp(x: f32) -> f32 {
    if x < EXP_MIN_ARG {
        0.0
    } else {
        micromath::F32Ext::exp(x)
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
    fn exp_is_zero_far_left_and_never_negative() {
        assert_eq!(exp(-1e30), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        for i in 0..=1000 {
            assert!(exp(-(i as f32) / 10.0) >= 0.0);
        }
    }
}

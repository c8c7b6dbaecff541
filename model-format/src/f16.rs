//! IEEE binary16 → `f32`, exactly: how every reader widens an f16 layer's weights.

/// The `f32` of the binary16 value with bits `h`, exactly.
///
/// Normal numbers and infinities move their exponent bias (15 → 127); subnormals (`m · 2^-24`)
/// become normal `f32`s; a NaN keeps its sign and payload and becomes quiet, as Arm's
/// `VCVTB.F32.F16` does (with default-NaN mode off).
///
/// # Panics
/// Never.
#[must_use]
pub const fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exponent = ((h >> 10) & 0x1f) as u32;
    let mantissa = (h & 0x3ff) as u32;
    let bits = match exponent {
        0 if mantissa == 0 => sign,
        // Subnormal: `mantissa · 2^-24` (exact: at most 10 significant bits).
        0 => sign | (mantissa as f32 * (1.0 / 16_777_216.0)).to_bits(),
        0x1f if mantissa == 0 => sign | 0x7f80_0000,
        0x1f => sign | 0x7fc0_0000 | mantissa << 13,
        _ => sign | (exponent + (127 - 15)) << 23 | mantissa << 13,
    };
    f32::from_bits(bits)
}

//! Deterministic test data shared by the kernels' unit tests (test builds only).

/// xorshift32 from a scrambled `seed`: the same sequence on every host.
pub(crate) fn xorshift(seed: u32) -> impl Iterator<Item = u32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    core::iter::repeat_with(move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    })
}

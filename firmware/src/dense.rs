//! The dense layer kernel: `output = W · input + bias`, with `W` read in place.
//!
//! # Summation order
//! Every output is computed in one order, written in this source and independent of the
//! target: [`LANES`] = 4 partial sums, where lane `k` adds `w[i] · x[i]` for `i ≡ k (mod 4)` in
//! increasing `i` over the leading multiple of 4 inputs; then `(lane 0 + lane 2) + (lane 1 +
//! lane 3)`; then the remaining `n mod 4` products left to right; then the bias is added. Rust
//! never contracts `a * b + c` into a fused multiply-add unless asked, so every IEEE-754
//! single-precision target gets the same bits (the QEMU tests check x86-64 against the
//! Cortex-M4F).
//!
//! # Speed
//! How the work is scheduled changes no bits, because each output's order above is kept:
//! - [`ROWS`] outputs are computed in one pass over the input, so each input load serves
//!   several rows, and their accumulators are independent chains;
//! - the main loop steps over 8 inputs (two chunks of 4 lanes) at a time.
//!
//! On the Cortex-M4F the inner loop is, per 8 inputs and 5 rows, 8 input loads, 40 weight
//! loads, 40 `vmla.f32` and 9 instructions of loop overhead: 2.43 instructions per
//! multiply-accumulate (2.5 for a whole classification). `VMLA.F32` is the *unfused*
//! multiply-accumulate: the Arm ARM defines it as `FPAdd(S[d], FPMul(S[n], S[m]))`, two
//! roundings, the bits of a separate multiply and add (QEMU implements it the same way);
//! `VFMA`, the fused one, is never emitted, since Rust does not contract. On x86-64 one SSE
//! register holds a row's four lanes, and the halving tree is the natural SIMD reduction.
//!
//! The order is written once, in `dense_with`, generic over how the weights are stored (a
//! `Storage` widens each to `f32` exactly as it reads it): `f32` here, binary16 in
//! [`crate::dense_f16`], so both sum the same products in the same order.
//!
//! Why 4 lanes: they leave the M4 registers for 5 rows. With 8 lanes only 2 rows fit and the
//! M4 needs 2.86 instructions per multiply-accumulate or more (measured); the SSE2 build is
//! slower too. A host built for AVX2 would gain about 15 % from 8 lanes (one 256-bit register
//! per row instead of two rows packed into one).

/// Partial sums per output (see the [module documentation](self) for the order).
pub const LANES: usize = 4;

/// Inputs per step of the main loop: two chunks of [`LANES`].
pub(crate) const STEP: usize = 2 * LANES;

/// Outputs computed together in one pass over the input. It changes no bits, only speed.
///
/// On 32-bit Arm microcontrollers (Armv7-M: 32 single-precision registers): 5 rows × 4 lanes =
/// 20 accumulators, which leaves registers for the operands; 6 rows spill (measured: 2.76
/// against 2.51 instructions per multiply-accumulate). Elsewhere 8, for 8 independent
/// accumulator chains.
pub const ROWS: usize = if cfg!(all(target_arch = "arm", target_os = "none")) {
    5
} else {
    8
};

/// `Σ w[i] · x[i]` in the order of the [module documentation](self).
///
/// # Shapes
/// `w.len() == x.len()`; extra elements of the longer slice are ignored.
///
/// # Panics
/// Never.
#[inline]
pub fn dot(w: &[f32], x: &[f32]) -> f32 {
    let n = w.len().min(x.len());
    let [sum] = dot_rows::<1, F32>(&w[..n], &x[..n]);
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
    dense_with::<F32>(weights, bias, input, output);
}

/// A storage of weights that [`dense_with`] widens to `f32`, exactly, as it reads them: the
/// widening changes no value, so every storage sums the same `f32` products in the order of
/// the [module documentation](self).
pub(crate) trait Storage {
    /// One stored weight.
    type Elem: Copy;
    /// The weight's value.
    fn widen(weight: Self::Elem) -> f32;

    /// May add the products of the whole steps to `acc` exactly as [`dot_rows`]'s loop does
    /// (`acc[r][k % LANES] += w[r][8j + k] · x[8j + k]`, `j` then `r` then `k` in order) and
    /// return `true`; by default it returns `false` and [`dot_rows`] runs its loop.
    #[inline(always)]
    fn accumulate<const R: usize>(
        _w_steps: &[&[[Self::Elem; STEP]]; R],
        _x_steps: &[[f32; STEP]],
        _acc: &mut [[f32; LANES]; R],
    ) -> bool {
        false
    }
}

/// `f32` weights: read as they are.
pub(crate) enum F32 {}

impl Storage for F32 {
    type Elem = f32;
    #[inline(always)]
    fn widen(weight: f32) -> f32 {
        weight
    }
}

/// [`dense`] for weights stored as `S` (same shapes).
#[inline(always)]
pub(crate) fn dense_with<S: Storage>(
    weights: &[S::Elem],
    bias: &[f32],
    input: &[f32],
    output: &mut [f32],
) {
    let n = input.len();
    if n == 0 {
        for (o, b) in output.iter_mut().zip(bias) {
            *o = *b;
        }
        return;
    }
    let rows = output.len().min(bias.len()).min(weights.len() / n);
    // `rows · n ≤ weights.len()`; `get` says so without a panic path (see the panic check).
    let (Some(output), Some(bias), Some(weights)) = (
        output.get_mut(..rows),
        bias.get(..rows),
        weights.get(..rows * n),
    ) else {
        return;
    };
    let (out_blocks, out_rest) = output.as_chunks_mut::<ROWS>();
    let (bias_blocks, bias_rest) = bias.as_chunks::<ROWS>();
    let mut weight_blocks = weights.chunks_exact(ROWS * n);
    for ((o, b), w) in out_blocks
        .iter_mut()
        .zip(bias_blocks)
        .zip(&mut weight_blocks)
    {
        let sums = dot_rows::<ROWS, S>(w, input);
        for r in 0..ROWS {
            o[r] = b[r] + sums[r];
        }
    }
    let weight_rest = weight_blocks.remainder().chunks_exact(n);
    for ((o, b), w) in out_rest.iter_mut().zip(bias_rest).zip(weight_rest) {
        let [sum] = dot_rows::<1, S>(w, input);
        *o = b + sum;
    }
}

/// The dot products of `R` consecutive rows of `w` (`[R][x.len()]`, row-major) with `x`, each
/// in the documented order.
#[inline(always)]
fn dot_rows<const R: usize, S: Storage>(w: &[S::Elem], x: &[f32]) -> [f32; R] {
    let n = x.len();
    // Callers pass exactly `R · n` weights, so this slicing never fails.
    let rows: [&[S::Elem]; R] = core::array::from_fn(|r| &w[r * n..(r + 1) * n]);
    let (x_steps, x_rest) = x.as_chunks::<STEP>();
    let (x_chunk, x_tail) = x_rest.as_chunks::<LANES>();
    // Sliced to the input's step count, so the loop's indexing needs no bounds checks.
    let w_steps: [&[[S::Elem; STEP]]; R] =
        core::array::from_fn(|r| &rows[r].as_chunks::<STEP>().0[..x_steps.len()]);

    let mut acc = [[0.0f32; LANES]; R];
    if !S::accumulate(&w_steps, x_steps, &mut acc) {
        // From `rows`, not read back through `w_steps`, whose address went to `accumulate` (an
        // `asm!` block on the M4F, after which the optimiser knows nothing of it).
        let w_steps: [&[[S::Elem; STEP]]; R] =
            core::array::from_fn(|r| rows[r].as_chunks::<STEP>().0);
        // Every row holds exactly `x_steps.len()` steps; the minimum tells the bounds checks.
        let steps = w_steps.iter().fold(x_steps.len(), |m, w| m.min(w.len()));
        // An index, not `x_steps.iter()`: the bound `steps` is what proves the row accesses.
        #[allow(clippy::needless_range_loop)]
        for j in 0..steps {
            for r in 0..R {
                // Where `r` is unrolled (few rows) the optimiser proves `j < w_steps[r].len()`
                // from `steps` and the index costs nothing; elsewhere `get` keeps it total.
                let Some(w) = w_steps[r].get(j) else { continue };
                for k in 0..STEP {
                    acc[r][k % LANES] += S::widen(w[k]) * x_steps[j][k];
                }
            }
        }
    }
    // At most one chunk of 4 is left before the tail.
    let done = x_steps.len() * STEP;
    for r in 0..R {
        // `done ≤ n`: `get` spares the optimiser a panic path it cannot always rule out.
        let (w_chunk, _) = rows[r].get(done..).unwrap_or(&[]).as_chunks::<LANES>();
        for (wc, xc) in w_chunk.iter().zip(x_chunk) {
            for k in 0..LANES {
                acc[r][k] += S::widen(wc[k]) * xc[k];
            }
        }
    }

    let acc = rows_as_vectors(acc);
    let tail_start = n - x_tail.len();
    core::array::from_fn(|r| {
        let a = &acc[r];
        let mut sum = (a[0] + a[2]) + (a[1] + a[3]);
        for (w, x) in rows[r].get(tail_start..).unwrap_or(&[]).iter().zip(x_tail) {
            sum += S::widen(*w) * x;
        }
        sum
    })
}

/// Returns `acc` unchanged; on targets with SIMD, through an optimisation barrier.
///
/// No bits depend on it: it only steers LLVM's SLP vectoriser. Without it, the `ROWS`
/// consecutive output stores seed vectors that hold *the same lane of different rows*, and every
/// weight load needs shuffles to transpose (measured on x86-64: `classify_u8` 2.2× slower with
/// SSE2, 1.5× with AVX2). Through memory, each row's four lanes form the vector. Armv7-M has no
/// SIMD float unit, so there the round trip would only cost instructions and stack.
#[inline(always)]
fn rows_as_vectors<const R: usize>(acc: [[f32; LANES]; R]) -> [[f32; LANES]; R] {
    #[cfg(not(all(target_arch = "arm", target_os = "none")))]
    let acc = core::hint::black_box(acc);
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented order, written as plainly as possible: the reference for [`dot`].
    fn reference_dot(w: &[f32], x: &[f32]) -> f32 {
        let n = w.len().min(x.len());
        let full = n / 4 * 4;
        let mut lane = [0.0f32; 4];
        for i in 0..full {
            lane[i % 4] += w[i] * x[i];
        }
        let mut sum = (lane[0] + lane[2]) + (lane[1] + lane[3]);
        for i in full..n {
            sum += w[i] * x[i];
        }
        sum
    }

    /// Deterministic values in [-1, 1) with varied exponents, so rounding differs by order.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        crate::seeded::xorshift(seed)
            .take(len)
            .map(|s| {
                let unit = (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
                unit * [1.0, 1e-3, 37.0][(s % 3) as usize]
            })
            .collect()
    }

    #[test]
    fn dot_sums_in_the_documented_order() {
        // f32 spacing at 1e8 is 8, so adding 3 or 4 to 1e8 rounds back to 1e8 (4 is a tie and
        // 1e8 = 12_500_000 · 8 is even), while adding 6 or 8 gives 100_000_008.
        let ones = [1.0f32; 8];
        // The tree: (lane0 + lane2) + (lane1 + lane3) = (1e8 + 0) + (4 + 4). Left to right, or
        // as (lane0 + lane1) + (lane2 + lane3), each 4 rounds away: 1e8.
        assert_eq!(dot(&[1e8, 4.0, 0.0, 4.0], &ones), 100_000_008.0);
        // The lanes: inputs 1 and 5 share lane 1, whose exact 3 + 3 = 6 then survives. Left to
        // right, or with 8 lanes added pairwise as before, each 3 rounds away: 1e8.
        let w = [1e8, 3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0];
        assert_eq!(dot(&w, &ones), 100_000_008.0);
        // The tail after the tree, left to right: 100_000_008 + 3 + 3 stays 100_000_008; the
        // two tail products summed first (6) would round up to 100_000_016.
        assert_eq!(dot(&[1e8, 0.0, 0.0, 8.0, 3.0, 3.0], &ones), 100_000_008.0);
        // The products pair w[i] with x[i].
        assert_eq!(
            dot(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 4.0, 3.0, 2.0, 1.0]),
            35.0
        );
    }

    #[test]
    fn dot_matches_the_reference_order_bit_for_bit() {
        for n in 0..=40 {
            let (w, x) = (values(n, 1), values(n, 2));
            assert_eq!(
                dot(&w, &x).to_bits(),
                reference_dot(&w, &x).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn dense_rows_in_blocks_match_row_by_row() {
        // Every number of rows around the block size, every input length around the steps.
        for outputs in 0..=2 * ROWS + 1 {
            for inputs in 0..=2 * STEP + LANES + 3 {
                let w = values(outputs * inputs, 3);
                let b = values(outputs, 4);
                let x = values(inputs, 5);
                let mut out = vec![f32::NAN; outputs];
                dense(&w, &b, &x, &mut out);
                for o in 0..outputs {
                    let row = &w[o * inputs..(o + 1) * inputs];
                    let want = b[o] + reference_dot(row, &x);
                    assert_eq!(
                        out[o].to_bits(),
                        want.to_bits(),
                        "{outputs}x{inputs}, row {o}"
                    );
                }
            }
        }
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
    fn dense_ignores_what_does_not_fit() {
        // Three biases and outputs, but weights for two rows of 2 inputs only.
        let mut out = [9.0; 3];
        dense(
            &[1.0, 1.0, 2.0, 2.0],
            &[0.0, 0.0, 0.0],
            &[1.0, 1.0],
            &mut out,
        );
        assert_eq!(out, [2.0, 4.0, 9.0]);
        // No inputs: the bias.
        let mut out = [9.0; 2];
        dense(&[], &[1.0, 2.0], &[], &mut out);
        assert_eq!(out, [1.0, 2.0]);
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

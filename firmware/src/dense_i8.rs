//! The int8 dense layer: TFLite's per-channel int8 `FULLY_CONNECTED`, in integer arithmetic.
//!
//! `output[o] = clamp(output_zero_point + multiply_by_quantized_multiplier(bias[o] +
//! Σ_{i<inputs} w[o][i] · (input[i] + input_offset), multiplier[o], shift[o]), min, max)`,
//! with [`model_format::quant`]'s requantization, exactly as TFLite's reference kernel.
//!
//! # Weight layout: blocked 4×4
//! With `I4` = `inputs` and `O4` = the number of outputs, each rounded up to a multiple of 4,
//! the weights are `O4 · I4` bytes and `w[o][i]` is at [`blocked_index`]`(I4, o, i)` =
//! `((o/4)·(I4/4) + i/4)·16 + (o%4)·4 + i%4`: 4-row bands one after the other, each a run of
//! 4×4 blocks along the inputs, each block row-major. Padding entries (`o ≥ outputs` or
//! `i ≥ inputs`) are zero, so `input[inputs..I4]` may hold anything. One block is the 16 weights
//! a step of 4 inputs × 4 rows needs, in one contiguous run of 4 words.
//!
//! # Exactness
//! Integer sums do not depend on their order. A product is at most 128 · 255 in magnitude, so
//! for `inputs` ≤ [`MAX_INPUTS`] a sum of them stays below 65,535 · 32,640 < 2^31: no overflow.
//! Beyond that, and when adding the bias, sums wrap as `i32` on every path (the DSP's `SMLAD`
//! wraps too), so every target computes the same integers whatever the input.
//!
//! # Speed
//! - Cortex-M4/M7 (`thumbv7em`): an `SMLAD` loop in assembly (module `dsp`), 20 instructions
//!   per 16 multiply-accumulates, after adding the offset to the input once per call (2 KiB of
//!   stack for up to 1,024 inputs).
//! - Cortex-M0/M0+ (`thumbv6m`): a Thumb-1 assembly loop (module `dsp`), 71 instructions per
//!   16 multiply-accumulates.
//! - x86-64 hosts: SSE2's `PMADDWD` (module `dsp`; SSE2 is in every x86-64 CPU), 3× faster
//!   than the portable loop (measured: 784→196 in 24 µs against 73 µs).
//! - Elsewhere: portable Rust, 4 rows per pass over the input, so each input is loaded and
//!   offset once per 4 rows.
//!
//! Each band's 4 sums are then requantized in Rust, identically on every target.

use model_format::quant::multiply_by_quantized_multiplier;

/// Smallest `input_offset` (`−input_zero_point` for the int8 zero point 127); smaller ones
/// are clamped to it.
pub const MIN_INPUT_OFFSET: i32 = -127;
/// Largest `input_offset` (zero point −128); larger ones are clamped to it.
pub const MAX_INPUT_OFFSET: i32 = 128;

/// Largest `inputs` for which no sum can overflow (see the [module documentation](self)).
pub const MAX_INPUTS: usize = 65_535;

/// Rows in a band and inputs in a block: the 4 of "blocked 4×4".
pub const BLOCK: usize = model_format::INT8_TILE;

/// The per-row requantization of a layer, borrowed from the model.
///
/// # Shapes
/// `bias`, `multiplier` and `shift`: one per output.
#[derive(Debug, Clone, Copy)]
pub struct Requant<'a> {
    /// Added to each row's sum (TFLite's int32 bias, scale = input scale × weight scale).
    pub bias: &'a [i32],
    /// Q31 multiplier of each row (see [`model_format::quant`]).
    pub multiplier: &'a [i32],
    /// Shift of each row, in [`MIN_SHIFT`](model_format::quant::MIN_SHIFT)`..=`
    /// [`MAX_SHIFT`](model_format::quant::MAX_SHIFT).
    pub shift: &'a [i32],
    /// Added after requantizing.
    pub output_zero_point: i32,
    /// Lower clamp (−128, or the output zero point for a fused ReLU).
    pub min: i32,
    /// Upper clamp (127).
    pub max: i32,
}

/// `n` rounded up to a multiple of [`BLOCK`].
#[must_use]
pub const fn round_up(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

/// Where `w[o][i]` is in the blocked 4×4 layout of a layer with `i4` (a multiple of 4) padded
/// inputs.
#[must_use]
pub const fn blocked_index(i4: usize, o: usize, i: usize) -> usize {
    ((o / BLOCK) * (i4 / BLOCK) + i / BLOCK) * BLOCK * BLOCK + (o % BLOCK) * BLOCK + i % BLOCK
}

/// The int8 dense layer (formula in the [module documentation](self)).
///
/// `input_offset` is `−input_zero_point`, clamped to [`MIN_INPUT_OFFSET`]`..=`
/// [`MAX_INPUT_OFFSET`] (so `input[i] + input_offset` fits 16 bits, as the Cortex-M4 loop
/// needs, and every target computes the same for any argument).
///
/// # Shapes
/// `weights`: `[O4 · I4]` in the blocked layout; `input`: at least `I4` values (those from
/// `inputs` on are ignored); `output`: one per row. Rows beyond the shortest of `output`,
/// `rq.bias`, `rq.multiplier`, `rq.shift` and the bands `weights` holds are left untouched; if
/// `input` is shorter than `I4`, nothing is written.
///
/// # Panics
/// Never.
///
/// # Memory
/// On the Cortex-M4 the input is first packed into [`PACK_WORDS`] words on the stack (2 KiB);
/// [`dense_i8_with`] takes that buffer from the caller instead.
pub fn dense_i8(
    weights: &[i8],
    inputs: usize,
    input: &[i8],
    input_offset: i32,
    rq: &Requant<'_>,
    output: &mut [i8],
) {
    #[cfg(fmlp_dsp)]
    let mut pack = [0u32; PACK_WORDS];
    #[cfg(not(fmlp_dsp))]
    let mut pack = [0u32; 0];
    dense_i8_with(weights, inputs, input, input_offset, rq, &mut pack, output);
}

/// Words of [`dense_i8`]'s pack buffer on the Cortex-M4: 1,024 inputs at 2 words per 4.
pub const PACK_WORDS: usize = 512;

/// Pack words a layer of `inputs` inputs needs on the Cortex-M4 to pack its input once
/// (`round_up(inputs) / 2`); with fewer it packs in pieces, again for each band.
pub const fn pack_words(inputs: usize) -> usize {
    round_up(inputs) / 2
}

/// [`dense_i8`] with the Cortex-M4's pack buffer from the caller: `pack` should hold
/// [`pack_words`]`(inputs)` words (an empty one selects the portable loop). Other targets
/// ignore it. Same results on every target and for every `pack`.
///
/// # Shapes
/// As [`dense_i8`].
///
/// # Panics
/// Never.
pub fn dense_i8_with(
    weights: &[i8],
    inputs: usize,
    input: &[i8],
    input_offset: i32,
    rq: &Requant<'_>,
    pack: &mut [u32],
    output: &mut [i8],
) {
    #[cfg(not(any(fmlp_dsp, target_arch = "x86_64")))]
    let _ = pack;
    let input_offset = input_offset.clamp(MIN_INPUT_OFFSET, MAX_INPUT_OFFSET);
    let i4 = round_up(inputs);
    let Some(input) = input.get(..i4) else {
        return;
    };
    let band_len = BLOCK * i4;
    let bands_held = weights.len().checked_div(band_len).unwrap_or(usize::MAX);
    let rows = rows(rq, output).min(bands_held.saturating_mul(BLOCK));
    let Some(weights) = weights.get(..rows.div_ceil(BLOCK) * band_len) else {
        return;
    };
    let finish = |band: usize, sums: [i32; BLOCK], output: &mut [i8]| {
        let rows = band * BLOCK..(band * BLOCK + BLOCK).min(rows);
        // Sliced once per band, so the loop needs no bounds checks (all hold `rows`).
        let (Some(out), Some(bias), Some(multiplier), Some(shift)) = (
            output.get_mut(rows.clone()),
            rq.bias.get(rows.clone()),
            rq.multiplier.get(rows.clone()),
            rq.shift.get(rows),
        ) else {
            return;
        };
        let params = bias.iter().zip(multiplier).zip(shift);
        for ((out, ((&b, &m), &s)), sum) in out.iter_mut().zip(params).zip(sums) {
            *out = requantize_row(rq, b, m, s, sum);
        }
    };
    #[cfg(any(fmlp_dsp, target_arch = "x86_64"))]
    if crate::dsp::dense_i8_bands(weights, input, input_offset, pack, output, finish) {
        return;
    }
    for (band, w) in weights.chunks_exact(band_len.max(1)).enumerate() {
        #[cfg(fmlp_armv6m)]
        let sums = crate::dsp::band_armv6m(w, input, input_offset);
        #[cfg(not(fmlp_armv6m))]
        let sums = band_portable(w.as_chunks().0, input.as_chunks().0, input_offset);
        finish(band, sums, output);
    }
    if i4 == 0 {
        // No inputs: every row is its bias alone.
        let params = rq.bias.iter().zip(rq.multiplier).zip(rq.shift);
        for (out, ((&b, &m), &s)) in output.iter_mut().zip(params) {
            *out = requantize_row(rq, b, m, s, 0);
        }
    }
}

/// Rows that have an output, a bias, a multiplier and a shift.
fn rows(rq: &Requant<'_>, output: &[i8]) -> usize {
    output
        .len()
        .min(rq.bias.len())
        .min(rq.multiplier.len())
        .min(rq.shift.len())
}

/// Row `o`'s output from its weighted sum (the bias not yet added).
#[inline]
fn requantize(rq: &Requant<'_>, o: usize, sum: i32) -> i8 {
    requantize_row(rq, rq.bias[o], rq.multiplier[o], rq.shift[o], sum)
}

/// A row's output from its bias, multiplier, shift and weighted sum.
#[inline]
fn requantize_row(rq: &Requant<'_>, bias: i32, multiplier: i32, shift: i32, sum: i32) -> i8 {
    let scaled = multiply_by_quantized_multiplier(bias.wrapping_add(sum), multiplier, shift);
    // `max` then `min`, as TFLite: no panic when a (refused) min exceeds max. The clamp range
    // is int8's, so the cast keeps the value; TFLite casts the same way.
    rq.output_zero_point
        .wrapping_add(scaled)
        .max(rq.min)
        .min(rq.max) as i8
}

/// The 4 sums `Σ_i w[r][i] · (x[i] + offset)` of one band, in portable integer arithmetic.
///
/// Per block: the 4 inputs are widened and offset once, then used by 4 rows. Each of the 16
/// products of a block has its own lane, added up per row at the end (integer sums are exact
/// in any order), which LLVM vectorises (measured on x86-64: 1.3× faster than one sum per
/// row).
#[inline]
#[cfg_attr(fmlp_armv6m, allow(dead_code))]
pub(crate) fn band_portable(
    blocks: &[[i8; BLOCK * BLOCK]],
    input: &[[i8; BLOCK]],
    offset: i32,
) -> [i32; BLOCK] {
    let mut lanes = [0i32; BLOCK * BLOCK];
    for (w, x) in blocks.iter().zip(input) {
        let x = x.map(|v| i32::from(v) + offset);
        for (m, lane) in lanes.iter_mut().enumerate() {
            *lane = lane.wrapping_add(i32::from(w[m]) * x[m % BLOCK]);
        }
    }
    core::array::from_fn(|r| {
        let row = &lanes[r * BLOCK..(r + 1) * BLOCK];
        row.iter().fold(0i32, |a, &b| a.wrapping_add(b))
    })
}

/// The definition, row by row through [`blocked_index`]: the reference the fast paths are
/// tested against (on hosts, and on the device by the kernel benchmark program).
///
/// Same shapes and results as [`dense_i8`], which must agree bit for bit.
///
/// # Panics
/// Never.
pub fn dense_i8_reference(
    weights: &[i8],
    inputs: usize,
    input: &[i8],
    input_offset: i32,
    rq: &Requant<'_>,
    output: &mut [i8],
) {
    let input_offset = input_offset.clamp(MIN_INPUT_OFFSET, MAX_INPUT_OFFSET);
    let i4 = round_up(inputs);
    if input.len() < i4 {
        return;
    }
    for o in 0..rows(rq, output) {
        let band_end = (o / BLOCK + 1) * BLOCK * i4;
        if band_end > weights.len() {
            break;
        }
        let mut sum = 0i32;
        for (i, &x) in input[..inputs].iter().enumerate() {
            let w = i32::from(weights[blocked_index(i4, o, i)]);
            sum = sum.wrapping_add(w * (i32::from(x) + input_offset));
        }
        output[o] = requantize(rq, o, sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer in the blocked layout with seeded weights, its padding zero.
    struct Layer {
        weights: Vec<i8>,
        bias: Vec<i32>,
        multiplier: Vec<i32>,
        shift: Vec<i32>,
    }

    fn bytes(len: usize, seed: u32) -> Vec<i8> {
        crate::seeded::xorshift(seed)
            .take(len)
            .map(|s| (s >> 24) as u8 as i8)
            .collect()
    }

    impl Layer {
        fn new(inputs: usize, outputs: usize, seed: u32) -> Layer {
            let i4 = round_up(inputs);
            let mut weights = vec![0i8; round_up(outputs) * i4];
            let values = bytes(inputs * outputs, seed);
            for o in 0..outputs {
                for i in 0..inputs {
                    weights[blocked_index(i4, o, i)] = values[o * inputs + i];
                }
            }
            let noise = bytes(3 * outputs, seed + 1);
            Layer {
                weights,
                bias: (0..outputs).map(|o| i32::from(noise[o]) * 300).collect(),
                // Factors around 1/(inputs · 2^7..2^8): outputs spread over the int8 range.
                multiplier: (0..outputs)
                    .map(|o| (1 << 30) + i32::from(noise[outputs + o]) * (1 << 22))
                    .collect(),
                shift: (0..outputs)
                    .map(|o| {
                        -7 - (inputs.max(1).ilog2() as i32) + (noise[2 * outputs + o] % 2) as i32
                    })
                    .collect(),
            }
        }

        fn rq(&self, zero_point: i32, min: i32) -> Requant<'_> {
            Requant {
                bias: &self.bias,
                multiplier: &self.multiplier,
                shift: &self.shift,
                output_zero_point: zero_point,
                min,
                max: 127,
            }
        }
    }

    #[test]
    fn fast_matches_reference_for_many_shapes() {
        for inputs in 0..=20 {
            for outputs in 1..=20 {
                let layer = Layer::new(inputs, outputs, (inputs * 31 + outputs) as u32);
                // Garbage after `inputs`: the zero padding weights make it irrelevant.
                let input = bytes(round_up(inputs), 7 + inputs as u32);
                for (offset, zp, min) in [(128, -128, -128), (-127, 5, 5), (0, 0, -128)] {
                    let rq = layer.rq(zp, min);
                    let mut fast = vec![0i8; outputs];
                    let mut slow = vec![1i8; outputs];
                    dense_i8(&layer.weights, inputs, &input, offset, &rq, &mut fast);
                    dense_i8_reference(&layer.weights, inputs, &input, offset, &rq, &mut slow);
                    assert_eq!(fast, slow, "{outputs}x{inputs}, offset {offset}");
                }
            }
        }
    }

    #[test]
    fn wide_layers_match_reference() {
        // Wider than the packing buffer of the SIMD paths (1,024 inputs): packed per piece.
        for inputs in [1023, 1024, 1025, 1028, 2049] {
            let layer = Layer::new(inputs, 6, inputs as u32);
            let input = bytes(round_up(inputs), 5);
            let rq = layer.rq(-128, -128);
            let (mut fast, mut slow) = (vec![0i8; 6], vec![1i8; 6]);
            dense_i8(&layer.weights, inputs, &input, 128, &rq, &mut fast);
            dense_i8_reference(&layer.weights, inputs, &input, 128, &rq, &mut slow);
            assert_eq!(fast, slow, "6x{inputs}");
        }
    }

    #[test]
    fn the_portable_band_sums_by_the_definition() {
        // The path of targets without a SIMD or assembly loop (and of unaligned weights on the
        // M4), which this host's `dense_i8` does not take.
        for inputs in [0, 1, 4, 5, 17, 20] {
            let i4 = round_up(inputs);
            let layer = Layer::new(inputs, 4, 77 + inputs as u32);
            let input = bytes(i4, 3);
            for offset in [128, -127, 0] {
                let (blocks, _) = layer.weights.as_chunks::<16>();
                let (x, _) = input.as_chunks::<4>();
                let want: [i32; 4] = core::array::from_fn(|o| {
                    (0..inputs)
                        .map(|i| {
                            let w = i32::from(layer.weights[blocked_index(i4, o, i)]);
                            w * (i32::from(input[i]) + offset)
                        })
                        .sum()
                });
                assert_eq!(band_portable(blocks, x, offset), want, "{inputs}, {offset}");
            }
        }
    }

    #[test]
    fn outputs_cover_the_int8_range() {
        // The seeded layers are not degenerate: outputs hit both clamps and values between.
        let layer = Layer::new(20, 20, 3);
        let input = bytes(20, 4);
        let mut out = vec![0i8; 20];
        dense_i8(
            &layer.weights,
            20,
            &input,
            128,
            &layer.rq(0, -128),
            &mut out,
        );
        let distinct: std::collections::BTreeSet<i8> = out.iter().copied().collect();
        assert!(distinct.len() > 10, "{out:?}");
    }

    #[test]
    fn matches_hand_computation() {
        // 2 outputs, 3 inputs: I4 = O4 = 4, one 16-byte block; w = [[1, -2, 3], [-128, 127, 0]].
        let mut weights = [0i8; 16];
        weights[..3].copy_from_slice(&[1, -2, 3]);
        weights[4..7].copy_from_slice(&[-128, 127, 0]);
        // Offset 128 (zero point −128): x + 128 = [138, 28, 255]; the 4th input is padding.
        let input = [10i8, -100, 127, 99];
        // Row 0: 138 − 56 + 765 = 847, + bias 153 = 1000; · 0.5 · 2^-2 = 125 exactly, + zp 3
        // = 128 → clamped to 127.
        // Row 1: −17,664 + 3,556 + 0 = −14,108, + bias 8 = −14,100; · 0.75 = −10,575 exactly,
        // / 2^7 = −82.6 → −83, + 3 = −80.
        let rq = Requant {
            bias: &[153, 8],
            multiplier: &[1 << 30, 3 << 29],
            shift: &[-2, -7],
            output_zero_point: 3,
            min: -128,
            max: 127,
        };
        let mut out = [0i8; 2];
        dense_i8(&weights, 3, &input, 128, &rq, &mut out);
        assert_eq!(out, [127, -80]);
        // The ReLU clamp at the zero point.
        let relu = Requant { min: 3, ..rq };
        dense_i8(&weights, 3, &input, 128, &relu, &mut out);
        assert_eq!(out, [127, 3]);
    }

    #[test]
    fn the_blocked_index_is_the_documented_formula() {
        // I4 = 8: band 0 holds blocks (rows 0-3, inputs 0-3) then (rows 0-3, inputs 4-7).
        assert_eq!(blocked_index(8, 0, 0), 0);
        assert_eq!(blocked_index(8, 0, 3), 3);
        assert_eq!(blocked_index(8, 1, 0), 4);
        assert_eq!(blocked_index(8, 3, 3), 15);
        assert_eq!(blocked_index(8, 0, 4), 16);
        assert_eq!(blocked_index(8, 3, 7), 31);
        assert_eq!(blocked_index(8, 4, 0), 32);
        assert_eq!(blocked_index(8, 5, 6), 32 + 16 + 4 + 2);
    }

    #[test]
    fn ignores_what_does_not_fit() {
        let layer = Layer::new(5, 6, 9);
        let input = bytes(8, 1);
        let rq = layer.rq(0, -128);
        let mut want = [0i8; 6];
        dense_i8_reference(&layer.weights, 5, &input, 1, &rq, &mut want);
        // Weights for one band only: rows 4 and 5 stay as they were.
        let mut out = [99i8; 6];
        dense_i8(&layer.weights[..32], 5, &input, 1, &rq, &mut out);
        assert_eq!(out, [want[0], want[1], want[2], want[3], 99, 99]);
        // Fewer biases than outputs.
        let short = Requant {
            bias: &layer.bias[..2],
            ..rq
        };
        let mut out = [99i8; 6];
        dense_i8(&layer.weights, 5, &input, 1, &short, &mut out);
        assert_eq!(out, [want[0], want[1], 99, 99, 99, 99]);
        // An input shorter than I4 = 8: nothing written.
        let mut out = [99i8; 6];
        dense_i8(&layer.weights, 5, &input[..7], 1, &rq, &mut out);
        assert_eq!(out, [99; 6]);
        // Empty weights, odd lengths, a min above max: no panic.
        dense_i8(&[], 5, &input, 1, &rq, &mut out);
        dense_i8(&layer.weights[..3], 0, &[], 1, &rq, &mut out);
        let odd = Requant {
            min: 100,
            max: -100,
            ..rq
        };
        dense_i8(&layer.weights, 5, &input, 1, &odd, &mut out);
    }

    #[test]
    fn out_of_range_offsets_are_clamped() {
        let layer = Layer::new(7, 5, 11);
        let input = bytes(8, 2);
        let rq = layer.rq(0, -128);
        let (mut clamped, mut wild) = ([0i8; 5], [1i8; 5]);
        dense_i8(
            &layer.weights,
            7,
            &input,
            MAX_INPUT_OFFSET,
            &rq,
            &mut clamped,
        );
        dense_i8(&layer.weights, 7, &input, 1 << 20, &rq, &mut wild);
        assert_eq!(clamped, wild);
        dense_i8(
            &layer.weights,
            7,
            &input,
            MIN_INPUT_OFFSET,
            &rq,
            &mut clamped,
        );
        dense_i8(&layer.weights, 7, &input, i32::MIN, &rq, &mut wild);
        assert_eq!(clamped, wild);
    }

    #[test]
    fn without_inputs_each_row_is_its_bias() {
        let rq = Requant {
            bias: &[400, -400],
            multiplier: &[1 << 30, 1 << 30],
            shift: &[-1, -1],
            output_zero_point: 0,
            min: -128,
            max: 127,
        };
        let mut out = [0i8; 2];
        dense_i8(&[], 0, &[], 0, &rq, &mut out);
        // 400 · 0.5 / 2 = 100.
        assert_eq!(out, [100, -100]);
    }

    #[test]
    fn the_overflow_bound_holds() {
        // The largest magnitude: every weight −128, every input at +255 after the offset.
        let worst = MAX_INPUTS as i64 * 128 * 255;
        assert!(worst < i64::from(i32::MAX));
    }
}

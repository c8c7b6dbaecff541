//! The only `unsafe` code of the crate: Arm instructions that stable Rust offers no other way
//! to reach, in `core::arch::asm!`, and SSE2 intrinsics for x86-64 hosts. Compiled only for
//! the targets `build.rs` marks (cfgs `fmlp_dsp`, `fmlp_fp16`, `fmlp_armv6m`) and x86-64; every
//! other target runs the portable Rust these loops mirror, with the same results: integer sums
//! are exact, binary16 → f32 widening is exact, and the f16 loop adds the same f32 products in
//! the same order.
//!
//! # int8 on Armv7E-M (Cortex-M4/M7): `SMLAD`
//! `SMLAD acc, a, b, acc` adds two signed 16 × 16 products (the low halves, and the high
//! halves, of `a` and `b`) to `acc`, wrapping as an `i32` add. The input is first offset and
//! widened once per call ([`pack`]): every 4 inputs become two words, `(x0', x2')` and
//! `(x1', x3')` as 16-bit halves (`x' = x + offset`, in −255..=255). A weight word
//! `(w0, w1, w2, w3)` gives `(w0, w2)` by `SXTB16` and `(w1, w3)` by `SXTB16 … ROR #8`, so two
//! `SMLAD`s add its 4 products. A step of 4 inputs × 4 rows (one 16-byte block of the blocked
//! layout) is then 3 `LDRD`, 8 `SXTB16` and 8 `SMLAD`, and with the loop unrolled twice, one
//! `CMP` and `BNE` per two steps: 20 instructions per 16 multiply-accumulates, in 12
//! registers (the most `asm!` may name on Thumb: r6, r7, sp and pc are reserved), which is why
//! the input is packed first rather than offset in the loop (`SXTAB16` there would need a 13th
//! register for the offset).
//!
//! # f16 on the M4F: `VCVTB`/`VCVTT` and `VMLA`
//! See [`f16_steps_5`]: stable Rust cannot pass values in VFP registers on this target, so the
//! whole inner loop is assembly.
//!
//! # int8 on x86-64 hosts: `VPMADDWD` (AVX2) or `PMADDWD` (SSE2)
//! See [`pack_avx2`] and [`pack_sse2`]: the default x86-64 target promises SSE2 only, so the
//! AVX2 loop is chosen at run time ([`has_avx2`]: CPUID and XGETBV, cached; `core` has no
//! `is_x86_feature_detected!`), and a build needs no `-C target-cpu`. Both sign-extend the
//! weights to i16 and multiply by the offset input in i16 (`x' ≤ 255` in magnitude), so every
//! pair sum is exact in i32 and both give the portable loop's integers. (`PMADDUBSW`, u8 × i8,
//! would halve the work but saturates its i16 pair sums: 2 · 255 · 127 > 2^15 − 1.)
//! SSE2 and AVX2 intrinsics are `unsafe` to call outside a `#[target_feature]` function.
//!
//! # int8 on Armv6-M (Cortex-M0/M0+)
//! See [`band_armv6m`]: Thumb-1 without a multiply-accumulate, where LLVM's code for the
//! portable loop needs 1.5 times the instructions.
#![allow(unsafe_code)]

#[cfg(any(fmlp_dsp, fmlp_fp16, fmlp_armv6m))]
use core::arch::asm;
use model_format::INT8_TILE as BLOCK;

/// Inputs the x86-64 band loop packs at once, on the stack (4 KiB). A layer with more inputs
/// packs them again for each band, in pieces of this size. (The M4 packs into a buffer of the
/// caller's: RAM there is the caller's to size.)
#[cfg(target_arch = "x86_64")]
const PACK_INPUTS: usize = 1024;

/// The int8 dense layer's bands through `SMLAD` (thumbv7em) or `PMADDWD` (x86-64): calls
/// `finish(band, sums, output)` with each band's 4 sums `Σ_i w[r][i] · (input[i] + offset)`,
/// and returns `true`; or returns `false` without calling it when there are no inputs or, on
/// the M4, the weights are not 4-byte aligned (`LDRD` needs it), for the caller's portable
/// path.
///
/// On the M4 the packed input goes to `pack` (2 words per 4 inputs: `I4 / 2` words hold a
/// whole layer; a shorter buffer packs in pieces, again for each band; an empty one means the
/// portable path). x86-64 packs on its own stack and ignores `pack`.
///
/// # Shapes
/// `weights`: whole bands of `BLOCK · input.len()` bytes; `input`: `I4` values.
#[cfg(any(fmlp_dsp, target_arch = "x86_64"))]
pub(crate) fn dense_i8_bands(
    weights: &[i8],
    input: &[i8],
    offset: i32,
    pack: &mut [u32],
    output: &mut [i8],
    finish: impl Fn(usize, [i32; BLOCK], &mut [i8]),
) -> bool {
    #[cfg(fmlp_dsp)]
    {
        let Ok(blocks) = bytemuck::try_cast_slice::<i8, [u32; BLOCK]>(weights) else {
            return false;
        };
        let (buffer, _) = pack.as_chunks_mut::<2>();
        drive(
            blocks, input, offset, buffer, output, finish, pack_smlad, dot_band,
        )
    }
    #[cfg(target_arch = "x86_64")]
    {
        let _ = pack;
        let (blocks, _) = weights.as_chunks::<{ BLOCK * BLOCK }>();
        if has_avx2() {
            // Zeroed rather than uninitialised: 8 KiB of stores is noise beside a layer.
            let mut buffer = [pack_avx2(&[0; BLOCK], 0); PACK_INPUTS / BLOCK];
            return drive(
                blocks,
                input,
                offset,
                &mut buffer,
                output,
                finish,
                pack_avx2,
                |w, x, sums| {
                    // SAFETY: `band_avx2` needs AVX2; `has_avx2` found it by CPUID, with the
                    // OS saving the YMM registers (XCR0), as `is_x86_feature_detected!` does.
                    unsafe { band_avx2(w, x, sums) }
                },
            );
        }
        // Zeroed rather than uninitialised: 4 KiB of stores is noise beside a layer on a host.
        let mut buffer = [pack_sse2(&[0; BLOCK], 0); PACK_INPUTS / BLOCK];
        drive(
            blocks,
            input,
            offset,
            &mut buffer,
            output,
            finish,
            pack_sse2,
            |w, x, sums| {
                // SAFETY: `band_sse2` needs SSE2, which every x86-64 CPU has (it is in the
                // target's baseline features, so the compiler already assumes it everywhere).
                unsafe { band_sse2(w, x, sums) }
            },
        )
    }
}

/// `(x0', x2')` and `(x1', x3')` as 16-bit halves of two words (`x' = x + offset`): the
/// operands of `SMLAD` for the weights' `SXTB16` and `SXTB16 … ROR #8`.
#[cfg(fmlp_dsp)]
#[inline(always)]
fn pack_smlad(x: &[i8; BLOCK], offset: i32) -> [u32; 2] {
    // In −255..=255: the low 16 bits are the two's-complement halfword.
    let h = x.map(|v| u32::from((i32::from(v) + offset) as u16));
    [h[0] | h[2] << 16, h[1] | h[3] << 16]
}

/// Packs the input into `buffer` once (or, when it is shorter than the input, piece by piece
/// for each band) with `pack`, then calls `finish` with the sums `dot` gives for each band of
/// `blocks`; `false` when there are no inputs or no buffer.
#[cfg(any(fmlp_dsp, target_arch = "x86_64"))]
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the two target's loops, plugged into one driver
fn drive<B, P: Copy>(
    blocks: &[B],
    input: &[i8],
    offset: i32,
    buffer: &mut [P],
    output: &mut [i8],
    finish: impl Fn(usize, [i32; BLOCK], &mut [i8]),
    pack: impl Fn(&[i8; BLOCK], i32) -> P,
    dot: impl Fn(&[B], &[P], [i32; BLOCK]) -> [i32; BLOCK],
) -> bool {
    let steps = input.len() / BLOCK;
    let pack_blocks = buffer.len();
    if steps == 0 || pack_blocks == 0 {
        return false;
    }
    if steps <= pack_blocks {
        let packed = pack_into(buffer, input, offset, &pack);
        for (band, w) in blocks.chunks_exact(steps).enumerate() {
            finish(band, dot(w, packed, [0; BLOCK]), output);
        }
    } else {
        for (band, w) in blocks.chunks_exact(steps).enumerate() {
            let mut sums = [0; BLOCK];
            for (w, x) in w.chunks(pack_blocks).zip(input.chunks(pack_blocks * BLOCK)) {
                sums = dot(w, pack_into(buffer, x, offset, &pack), sums);
            }
            finish(band, sums, output);
        }
    }
    true
}

/// Packs the whole blocks of `input` (as many as `buffer` holds) into `buffer`, and lends out
/// the packed prefix.
#[cfg(any(fmlp_dsp, target_arch = "x86_64"))]
#[inline(always)]
fn pack_into<'b, P: Copy>(
    buffer: &'b mut [P],
    input: &[i8],
    offset: i32,
    pack: &impl Fn(&[i8; BLOCK], i32) -> P,
) -> &'b [P] {
    let (input, _) = input.as_chunks::<BLOCK>();
    let n = input.len().min(buffer.len());
    for (x, slot) in input.iter().zip(&mut buffer[..n]) {
        *slot = pack(x, offset);
    }
    &buffer[..n]
}

/// One step of [`dot_band`]: 4 packed inputs × 4 rows, 19 instructions.
#[cfg(fmlp_dsp)]
macro_rules! i8_step {
    () => {
        concat!(
            "ldrd {xa}, {xb}, [{px}], #8\n",
            "ldrd {wa}, {wb}, [{pw}], #8\n",
            "sxtb16 {t}, {wa}\n",
            "smlad {a0}, {t}, {xa}, {a0}\n",
            "sxtb16 {wa}, {wa}, ror #8\n",
            "smlad {a0}, {wa}, {xb}, {a0}\n",
            "sxtb16 {t}, {wb}\n",
            "smlad {a1}, {t}, {xa}, {a1}\n",
            "sxtb16 {wb}, {wb}, ror #8\n",
            "smlad {a1}, {wb}, {xb}, {a1}\n",
            "ldrd {wa}, {wb}, [{pw}], #8\n",
            "sxtb16 {t}, {wa}\n",
            "smlad {a2}, {t}, {xa}, {a2}\n",
            "sxtb16 {wa}, {wa}, ror #8\n",
            "smlad {a2}, {wa}, {xb}, {a2}\n",
            "sxtb16 {t}, {wb}\n",
            "smlad {a3}, {t}, {xa}, {a3}\n",
            "sxtb16 {wb}, {wb}, ror #8\n",
            "smlad {a3}, {wb}, {xb}, {a3}\n",
        )
    };
}

#[cfg(fmlp_dsp)]
/// `sums[r] + Σ_j Σ_k w[j][r]·byte k · x'[4j + k]` for the 4 rows of a band: `weights` holds
/// its blocks (4 words, row-major), `packed` the input from [`pack`]; the shorter one sets the
/// length.
fn dot_band(weights: &[[u32; BLOCK]], packed: &[[u32; 2]], sums: [i32; BLOCK]) -> [i32; BLOCK] {
    let n = weights.len().min(packed.len());
    if n == 0 {
        return sums;
    }
    let (weights, packed) = (&weights[..n], &packed[..n]);
    let [mut a0, mut a1, mut a2, mut a3] = sums;
    // SAFETY: the loop body is two copies of a step, entered at the second when `n` is odd
    // (bit 3 of the byte distance `8n`), so exactly `n ≥ 1` steps run before the `cmp` at the
    // end finds `px` at `packed`'s end. Each step reads one `[u32; 2]` of `packed` and one
    // `[u32; 4]` of `weights` through `LDRD` with post-increment, so `pw` stops at `weights`'
    // end: every read is inside the two borrowed slices, and word-aligned (`LDRD` faults
    // otherwise), as their types guarantee. Nothing is written to memory, no stack is used,
    // and only the named registers and the flags change (the `options` say so).
    unsafe {
        asm!(
            // An odd count enters at the second copy of the step.
            "sub {t}, {end}, {px}",
            "tst {t}, #8",
            "bne 3f",
            "2:",
            i8_step!(),
            "3:",
            i8_step!(),
            "cmp {px}, {end}",
            "bne 2b",
            px = inout(reg) packed.as_ptr() => _,
            pw = inout(reg) weights.as_ptr() => _,
            end = in(reg) packed.as_ptr_range().end,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            xa = out(reg) _,
            xb = out(reg) _,
            wa = out(reg) _,
            wb = out(reg) _,
            t = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    [a0, a1, a2, a3]
}

/// The f16 storage's step loop (see `dense::Storage::accumulate`): 5 rows (a block) or 1 (the
/// rows after the last block) through [`f16_steps_5`] or [`f16_steps_1`], when every row
/// starts 4-byte aligned; otherwise `false`, for the portable loop. Each `u32` of a row's
/// steps holds weights `2k` (low half) and `2k + 1`.
#[cfg(fmlp_fp16)]
#[inline(always)]
pub(crate) fn f16_accumulate<const R: usize>(
    w_steps: &[&[[u16; STEP]]; R],
    x_steps: &[[f32; STEP]],
    acc: &mut [[f32; LANES]; R],
) -> bool {
    if let (Ok(w), Ok(a)) = (
        <&[_; 5]>::try_from(&w_steps[..]),
        <&mut [_; 5]>::try_from(&mut acc[..]),
    ) {
        let [Ok(w0), Ok(w1), Ok(w2), Ok(w3), Ok(w4)] = (*w).map(pairs) else {
            return false;
        };
        f16_steps_5([w0, w1, w2, w3, w4], x_steps, a);
        true
    } else if let (Ok([w]), Ok([a])) = (
        <[_; 1]>::try_from(&w_steps[..]),
        <&mut [_; 1]>::try_from(&mut acc[..]),
    ) {
        let Ok(w) = pairs(w) else {
            return false;
        };
        f16_steps_1(w, x_steps, a);
        true
    } else {
        false
    }
}

#[cfg(fmlp_fp16)]
use crate::dense::{LANES, STEP};

/// A row's steps of binary16 weights as words of two, if the row starts 4-byte aligned.
#[cfg(fmlp_fp16)]
#[inline(always)]
fn pairs(row: &[[u16; STEP]]) -> Result<&[[u32; 4]], bytemuck::PodCastError> {
    bytemuck::try_cast_slice(row)
}

/// One row's step in [`f16_steps_5`]: 8 weights (4 words) from `pw`, widened by `VCVTT`/`VCVTB`
/// in s0–s3, multiplied with the 8 inputs in s4–s11 and added to the row's lanes
/// `a0`..`a3` (input `k` to lane `k % 4`, inputs 0–3 before 4–7) by `VMLA.F32`.
#[cfg(fmlp_fp16)]
macro_rules! f16_row {
    ($pw:literal, $a0:literal, $a1:literal, $a2:literal, $a3:literal) => {
        concat!(
            "vldm {",
            $pw,
            "}!, {{s0-s1}}\n",
            "vcvtt.f32.f16 s2, s0\n",
            "vcvtb.f32.f16 s0, s0\n",
            "vcvtt.f32.f16 s3, s1\n",
            "vcvtb.f32.f16 s1, s1\n",
            "vmla.f32 ",
            $a0,
            ", s0, s4\n",
            "vmla.f32 ",
            $a1,
            ", s2, s5\n",
            "vmla.f32 ",
            $a2,
            ", s1, s6\n",
            "vmla.f32 ",
            $a3,
            ", s3, s7\n",
            "vldm {",
            $pw,
            "}!, {{s0-s1}}\n",
            "vcvtt.f32.f16 s2, s0\n",
            "vcvtb.f32.f16 s0, s0\n",
            "vcvtt.f32.f16 s3, s1\n",
            "vcvtb.f32.f16 s1, s1\n",
            "vmla.f32 ",
            $a0,
            ", s0, s8\n",
            "vmla.f32 ",
            $a1,
            ", s2, s9\n",
            "vmla.f32 ",
            $a2,
            ", s1, s10\n",
            "vmla.f32 ",
            $a3,
            ", s3, s11\n",
        )
    };
}

/// The whole steps of 5 rows of paired binary16 weights, as `dense::dot_rows`' loop adds them,
/// in assembly.
///
/// Stable Rust cannot pass values in VFP registers to `asm!` on the M4F (its `sreg` class
/// needs the double-precision `vfp2` feature), so the loop is all assembly with fixed
/// registers (all 32 declared clobbered): lanes in s12–s31 (row `r` lane `k` in
/// s(12 + 4r + k)), loaded from and stored to `acc` around the loop. Per step of 8 inputs:
/// one `VLDM` of the inputs, and per row 2 `VLDM`, 8 `VCVT`, 8 `VMLA`; with `CMP`/`BNE`, 93
/// instructions per 40 multiply-accumulates. `VMLA.F32` rounds the product, then the sum
/// (it is not fused), as Rust's `acc += w * x` does.
#[cfg(fmlp_fp16)]
fn f16_steps_5(w: [&[[u32; 4]]; 5], x: &[[f32; STEP]], acc: &mut [[f32; LANES]; 5]) {
    let n = x.len();
    if n == 0 || w.iter().any(|row| row.len() < n) {
        return;
    }
    // SAFETY: the loop runs `n ≥ 1` times (the `cmp` is at its end) and each pass reads one
    // step: 32 bytes of `x` (`px` stops exactly at `x`'s end) and 16 bytes of each row
    // (`n` steps of each, which holds at least `n`, checked above). All are word-aligned, as
    // `VLDM` needs, by their types. `acc` is 20 contiguous `f32` (80 bytes), read before the
    // loop and written after it, through its exclusive borrow. The VFP registers used are
    // declared clobbered; no stack is used.
    unsafe {
        asm!(
            "vldm {acc}, {{s12-s31}}",
            "2:",
            "vldm {px}!, {{s4-s11}}",
            f16_row!("pw0", "s12", "s13", "s14", "s15"),
            f16_row!("pw1", "s16", "s17", "s18", "s19"),
            f16_row!("pw2", "s20", "s21", "s22", "s23"),
            f16_row!("pw3", "s24", "s25", "s26", "s27"),
            f16_row!("pw4", "s28", "s29", "s30", "s31"),
            "cmp {px}, {end}",
            "bne 2b",
            "vstm {acc}, {{s12-s31}}",
            acc = in(reg) acc.as_mut_ptr(),
            px = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr_range().end,
            pw0 = inout(reg) w[0].as_ptr() => _,
            pw1 = inout(reg) w[1].as_ptr() => _,
            pw2 = inout(reg) w[2].as_ptr() => _,
            pw3 = inout(reg) w[3].as_ptr() => _,
            pw4 = inout(reg) w[4].as_ptr() => _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            out("s4") _, out("s5") _, out("s6") _, out("s7") _,
            out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _,
            out("s16") _, out("s17") _, out("s18") _, out("s19") _,
            out("s20") _, out("s21") _, out("s22") _, out("s23") _,
            out("s24") _, out("s25") _, out("s26") _, out("s27") _,
            out("s28") _, out("s29") _, out("s30") _, out("s31") _,
            options(nostack),
        );
    }
}

/// [`f16_steps_5`] for one row (the rows after the last block of 5): lanes in s12–s15.
#[cfg(fmlp_fp16)]
fn f16_steps_1(w: &[[u32; 4]], x: &[[f32; STEP]], acc: &mut [f32; LANES]) {
    let n = x.len();
    if n == 0 || w.len() < n {
        return;
    }
    // SAFETY: as in `f16_steps_5`, for one row: `n ≥ 1` passes, each reading 32 bytes of `x`
    // and 16 of `w` (which holds at least `n` steps), word-aligned; `acc` is 4 contiguous
    // `f32` behind an exclusive borrow; the VFP registers used are declared clobbered.
    unsafe {
        asm!(
            "vldm {acc}, {{s12-s15}}",
            "2:",
            "vldm {px}!, {{s4-s11}}",
            f16_row!("pw0", "s12", "s13", "s14", "s15"),
            "cmp {px}, {end}",
            "bne 2b",
            "vstm {acc}, {{s12-s15}}",
            acc = in(reg) acc.as_mut_ptr(),
            px = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr_range().end,
            pw0 = inout(reg) w.as_ptr() => _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            out("s4") _, out("s5") _, out("s6") _, out("s7") _,
            out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _,
            options(nostack),
        );
    }
}

/// The binary16 value `h` as `f32` by `VCVTB.F32.F16`, the instruction [`f16_steps_5`] uses
/// (the device check compares it with `dense_f16::f16_to_f32` for every pattern).
#[cfg(fmlp_fp16)]
#[inline]
pub(crate) fn widen_f16(h: u16) -> f32 {
    let bits: u32;
    // SAFETY: register moves and one conversion in s0 (declared clobbered): no memory, no
    // stack. A signalling-NaN input may set FPSCR's cumulative Invalid flag, so the flags are
    // not declared preserved.
    unsafe {
        asm!(
            "vmov s0, {h}",
            "vcvtb.f32.f16 s0, s0",
            "vmov {bits}, s0",
            h = in(reg) u32::from(h),
            bits = lateout(reg) bits,
            out("s0") _,
            options(pure, nomem, nostack),
        );
    }
    f32::from_bits(bits)
}

/// One input of [`band_armv6m`]'s block: its offset value times the 4 rows' weights, added
/// to r8–r11, then `$advance` moves `p` (r0) to the next input.
#[cfg(fmlp_armv6m)]
macro_rules! m0_input {
    ($advance:literal) => {
        concat!(
            "ldrsb r2, [r0, r1]\n",
            "add r2, r12\n",
            "ldrb r3, [r0, #0]\n",
            "sxtb r3, r3\n",
            "muls r3, r2, r3\n",
            "add r8, r3\n",
            "ldrsb r3, [r0, r4]\n",
            "muls r3, r2, r3\n",
            "add r9, r3\n",
            "ldrsb r3, [r0, r5]\n",
            "muls r3, r2, r3\n",
            "add r10, r3\n",
            "ldrb r3, [r0, #12]\n",
            "sxtb r3, r3\n",
            "muls r3, r2, r3\n",
            "add r11, r3\n",
            $advance,
            "\n",
        )
    };
}

/// The 4 sums `Σ_i w[r][i] · (input[i] + offset)` of one band on the Cortex-M0 (Armv6-M), in
/// Thumb-1 assembly: 71 instructions per block of 4 inputs × 4 rows (4.44 per
/// multiply-accumulate).
///
/// Thumb-1 has no multiply-accumulate and no immediate-offset `LDRSB`, and its 3-operand
/// instructions reach r0–r7 only, of which `asm!` may name six (r6 and r7 are reserved). The
/// loop works along the inputs of a block with the weight pointer `p` at `w[0][i]`, so a weight
/// of rows 1 and 2 is one `LDRSB` at the fixed offsets 4 and 8 held in r4 and r5, and of rows
/// 0 and 3 an `LDRB` and `SXTB` at offsets 0 and 12; the input is one `LDRSB` at `p + dx`,
/// with `dx` moved back 12 per block. The 4 sums live in r8–r11 (`ADD` reaches high
/// registers), the offset in r12, the weights' end in lr. Per input: the input load and its
/// offset (2), per row the weight (1 or 2), `MULS` and `ADD`; per block 5 pointer updates,
/// `CMP` and `BNE`. Plain Rust compiled for `thumbv6m-none-eabi` needs 6.75–6.9 instructions
/// per multiply-accumulate (measured: LLVM materialises each offset with `MOVS` and spills the
/// offset inputs), above the 5 this loop is for.
///
/// # Shapes
/// `band`: whole blocks of 16 bytes; `input`: 4 values per block (the shorter sets the
/// length).
#[cfg(fmlp_armv6m)]
pub(crate) fn band_armv6m(band: &[i8], input: &[i8], offset: i32) -> [i32; BLOCK] {
    let blocks = (band.len() / (BLOCK * BLOCK)).min(input.len() / BLOCK);
    if blocks == 0 {
        return [0; BLOCK];
    }
    // In bounds by the `min` above; `get` spares the optimiser a panic path it cannot rule out.
    let (Some(band), Some(input)) = (
        band.get(..blocks * BLOCK * BLOCK),
        input.get(..blocks * BLOCK),
    ) else {
        return [0; BLOCK];
    };
    // The sums, then the offset and the end address: read by the loop's set-up, and the sums
    // written back after it.
    let mut state = [0i32; BLOCK + 2];
    state[BLOCK] = offset;
    state[BLOCK + 1] = band.as_ptr_range().end.addr() as i32;
    let dx = input.as_ptr().addr().wrapping_sub(band.as_ptr().addr());
    // SAFETY: `p` walks the `blocks ≥ 1` blocks of `band` (+1, +1, +1, +13 per block) and the
    // loop ends when it reaches `band`'s end; every weight read is at `p + {0, 4, 8, 12}`
    // inside the current 16-byte block. The input read at `p + dx` is `input[i]` for the
    // block's input `i` (`dx` starts at `input − band` and drops by 12 per block as `p`
    // gains 4 more than the input index), inside `input`. `state` is 6 `i32` behind an
    // exclusive borrow, read at the start and its first 4 written at the end. The stack holds
    // the `state` pointer in between (pushed and popped inside, so `sp` is restored); r8–r12
    // and lr are declared clobbered, so the compiler saves what it needs of them.
    unsafe {
        asm!(
            "push {{r2}}",
            "ldr r3, [r2, #0]",
            "mov r8, r3",
            "ldr r3, [r2, #4]",
            "mov r9, r3",
            "ldr r3, [r2, #8]",
            "mov r10, r3",
            "ldr r3, [r2, #12]",
            "mov r11, r3",
            "ldr r3, [r2, #16]",
            "mov r12, r3",
            "ldr r3, [r2, #20]",
            "mov lr, r3",
            "movs r4, #4",
            "movs r5, #8",
            "2:",
            m0_input!("adds r0, #1"),
            m0_input!("adds r0, #1"),
            m0_input!("adds r0, #1"),
            m0_input!("adds r0, #13"),
            "subs r1, #12",
            "cmp r0, lr",
            "bne 2b",
            "pop {{r2}}",
            "mov r3, r8",
            "str r3, [r2, #0]",
            "mov r3, r9",
            "str r3, [r2, #4]",
            "mov r3, r10",
            "str r3, [r2, #8]",
            "mov r3, r11",
            "str r3, [r2, #12]",
            inout("r0") band.as_ptr() => _,
            inout("r1") dx => _,
            inout("r2") state.as_mut_ptr() => _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
        );
    }
    [state[0], state[1], state[2], state[3]]
}

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m128i, __m256i, _mm_add_epi32, _mm_madd_epi16, _mm_srai_epi16, _mm_unpackhi_epi8,
    _mm_unpacklo_epi8, _mm256_add_epi32, _mm256_cvtepi8_epi16, _mm256_madd_epi16,
};

/// Whether this CPU runs AVX2 code: found once by CPUID and XGETBV (the test std's
/// `is_x86_feature_detected!("avx2")` makes, which `core` does not offer), then cached.
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    const UNKNOWN: u8 = 0;
    const NO: u8 = 1;
    const YES: u8 = 2;
    static FOUND: AtomicU8 = AtomicU8::new(UNKNOWN);
    match FOUND.load(Ordering::Relaxed) {
        NO => false,
        YES => true,
        _ => {
            let yes = detect_avx2();
            FOUND.store(if yes { YES } else { NO }, Ordering::Relaxed);
            yes
        }
    }
}

/// CPUID leaf 7 says AVX2, leaf 1 says AVX and OSXSAVE, and XCR0 says the OS saves the XMM
/// and YMM state (bits 1 and 2): Intel SDM vol. 1, §14.3 "Detection of Intel AVX
/// instructions".
#[cfg(target_arch = "x86_64")]
fn detect_avx2() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    const OSXSAVE: u32 = 1 << 27;
    const AVX: u32 = 1 << 28;
    const AVX2: u32 = 1 << 5;
    const XMM_YMM: u64 = 0b110;
    if __cpuid(0).eax < 7 {
        return false;
    }
    let leaf1 = __cpuid(1);
    if leaf1.ecx & (OSXSAVE | AVX) != OSXSAVE | AVX {
        return false;
    }
    // SAFETY: OSXSAVE is set, so the CPU has XSAVE (XGETBV) and the OS has enabled it.
    let xcr0 = unsafe { xcr0() };
    xcr0 & XMM_YMM == XMM_YMM && __cpuid_count(7, 0).ebx & AVX2 != 0
}

/// XCR0, the state components the OS saves.
///
/// # Safety
/// The CPU must have XSAVE with OSXSAVE set (CPUID leaf 1, ECX bit 27).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller promises XGETBV exists; register 0 (XCR0) always exists with it.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// `x0'..x3'` four times, as 16 × i16 (`x' = x + offset`): `VPMADDWD`'s operand for the 16
/// weights of a block sign-extended by `VPMOVSXBW`; the i32 lanes are then rows 0–3 two
/// partial sums each, as in [`pack_sse2`]'s two vectors. Exact for the same reason.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack_avx2(x: &[i8; BLOCK], offset: i32) -> __m256i {
    let h = x.map(|v| (i32::from(v) + offset) as i16);
    bytemuck::cast([h; 4])
}

/// `sums[r] + Σ_i w[r][i] · x'[i]` for the 4 rows of a band (blocks of 16 weights), two
/// blocks per iteration into two accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn band_avx2(blocks: &[[i8; 16]], packed: &[__m256i], sums: [i32; BLOCK]) -> [i32; BLOCK] {
    let zero: __m256i = bytemuck::cast([0i32; 8]);
    let (mut even, mut odd) = (zero, zero);
    let n = blocks.len().min(packed.len());
    let (blocks, packed) = (&blocks[..n], &packed[..n]);
    let (pairs, rest) = blocks.as_chunks::<2>();
    let (xpairs, xrest) = packed.as_chunks::<2>();
    for ([w0, w1], [x0, x1]) in pairs.iter().zip(xpairs) {
        let (w0, w1): (__m128i, __m128i) = (bytemuck::cast(*w0), bytemuck::cast(*w1));
        even = _mm256_add_epi32(even, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w0), *x0));
        odd = _mm256_add_epi32(odd, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w1), *x1));
    }
    for (w, x) in rest.iter().zip(xrest) {
        let w: __m128i = bytemuck::cast(*w);
        even = _mm256_add_epi32(even, _mm256_madd_epi16(_mm256_cvtepi8_epi16(w), *x));
    }
    let (a, b): ([i32; 8], [i32; 8]) = (bytemuck::cast(even), bytemuck::cast(odd));
    core::array::from_fn(|r| {
        [a[2 * r], a[2 * r + 1], b[2 * r], b[2 * r + 1]]
            .iter()
            .fold(sums[r], |s, &p| s.wrapping_add(p))
    })
}

/// `x0'..x3'` twice, as 8 × i16 (`x' = x + offset`): `PMADDWD`'s operand for the 16
/// weights of a block, sign-extended to two vectors of 8 × i16 (rows 0–1, rows 2–3), whose
/// adjacent products it adds into 4 × i32, two partial sums per row. Exact: each product is at
/// most 128 · 255, each pair below 2^16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack_sse2(x: &[i8; BLOCK], offset: i32) -> __m128i {
    let h = x.map(|v| (i32::from(v) + offset) as i16);
    bytemuck::cast([h[0], h[1], h[2], h[3], h[0], h[1], h[2], h[3]])
}

/// `sums[r] + Σ_i w[r][i] · x'[i]` for the 4 rows of a band (blocks of 16 weights).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn band_sse2(blocks: &[[i8; 16]], packed: &[__m128i], sums: [i32; BLOCK]) -> [i32; BLOCK] {
    let zero: __m128i = bytemuck::cast([0i32; 4]);
    let (mut rows01, mut rows23) = (zero, zero);
    for (w, &x) in blocks.iter().zip(packed) {
        let w: __m128i = bytemuck::cast(*w);
        // Each byte paired with itself, then shifted down: the sign-extended bytes as i16.
        let lo = _mm_srai_epi16::<8>(_mm_unpacklo_epi8(w, w));
        let hi = _mm_srai_epi16::<8>(_mm_unpackhi_epi8(w, w));
        rows01 = _mm_add_epi32(rows01, _mm_madd_epi16(lo, x));
        rows23 = _mm_add_epi32(rows23, _mm_madd_epi16(hi, x));
    }
    let (a, b): ([i32; 4], [i32; 4]) = (bytemuck::cast(rows01), bytemuck::cast(rows23));
    let add = |s: i32, p: i32, q: i32| s.wrapping_add(p).wrapping_add(q);
    [
        add(sums[0], a[0], a[1]),
        add(sums[1], a[2], a[3]),
        add(sums[2], b[0], b[1]),
        add(sums[3], b[2], b[3]),
    ]
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// The 4 sums of a band by the definition: row `r` of block `b` is bytes `4r..4r + 4`.
    fn band_by_definition(w: &[[i8; 16]], x: &[[i8; BLOCK]], offset: i32) -> [i32; BLOCK] {
        core::array::from_fn(|r| {
            w.iter().zip(x).fold(0i32, |s, (w, x)| {
                (0..BLOCK).fold(s, |s, k| {
                    s.wrapping_add(i32::from(w[r * BLOCK + k]) * (i32::from(x[k]) + offset))
                })
            })
        })
    }

    /// Both x86-64 kernels against the definition, on extreme and pseudo-random bytes (an
    /// xorshift), for odd and even block counts (the AVX2 loop takes blocks in pairs).
    #[test]
    fn sse2_and_avx2_bands_equal_the_portable_band() {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as i8
        };
        for blocks in [1usize, 2, 3, 7, 196, 255] {
            for (offset, extreme) in [(128, false), (-127, false), (128, true), (0, false)] {
                let w: Vec<[i8; 16]> = (0..blocks)
                    .map(|_| core::array::from_fn(|_| if extreme { -128 } else { next() }))
                    .collect();
                let x: Vec<[i8; BLOCK]> = (0..blocks)
                    .map(|_| core::array::from_fn(|_| if extreme { 127 } else { next() }))
                    .collect();
                let want = band_by_definition(&w, &x, offset);
                let sse2: Vec<__m128i> = x.iter().map(|x| pack_sse2(x, offset)).collect();
                // SAFETY: every x86-64 CPU has SSE2.
                let got = unsafe { band_sse2(&w, &sse2, [0; BLOCK]) };
                assert_eq!(got, want, "sse2, {blocks} blocks, offset {offset}");
                if has_avx2() {
                    let avx2: Vec<__m256i> = x.iter().map(|x| pack_avx2(x, offset)).collect();
                    // SAFETY: `has_avx2` checked the CPU and the OS.
                    let got = unsafe { band_avx2(&w, &avx2, [0; BLOCK]) };
                    assert_eq!(got, want, "avx2, {blocks} blocks, offset {offset}");
                }
            }
        }
    }
}

//! Times each dense kernel on the vanilla model's layers (784→196, 196→49, 49→10) on an
//! emulated Cortex-M4F (QEMU `mps2-an386`) or Cortex-M0 (`microbit`), and checks the fast
//! paths against the plain ones on the device.
//!
//! Built with the `kernel-bench` feature for `thumbv7em-none-eabihf` (int8, f16 and f32) or
//! `thumbv6m-none-eabi` (int8); `build.rs` embeds the seeded layers of `host/kernel_data.rs`.
//! `cargo bench -p firmware --bench kernels` builds and runs both and prints instructions per
//! multiply-accumulate. Output, one record per line:
//!
//! ```text
//! kernels cpu <name> systick_hz <Hz>
//! check <what> cases <n> mismatches <m>
//! time empty ticks <t>
//! calib instructions <n> ticks <t>
//! time <kernel> <in>x<out> macs <n> ticks <t> checksum <FNV-1a of the outputs, 8 hex digits>
//! ```
//!
//! `time empty` is the SysTick reading around nothing, to subtract. Under `-icount shift=0`
//! one instruction is 1 ns of virtual time, so `ticks · 10^9 / systick_hz` counts
//! instructions; the `calib` line times a loop of a known instruction count, so a reader can
//! check that rate. int8 outputs are hashed as bytes, f32 outputs as little-endian `to_bits`.
//! Exit status 0 when every check passed; 1 on a mismatch, a panic or a HardFault.
#![no_std]
#![no_main]

use core::fmt::Write;
use core::hint::black_box;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::hio::{self, HostStream};
use firmware::dense_i8::{Requant, blocked_index, dense_i8, dense_i8_reference, round_up};
use panic_semihosting as _;

/// Gives its contents 4-byte alignment, as a model file's data sections have.
#[repr(C, align(4))]
struct Aligned<T: ?Sized>(T);

/// One embedded layer, as little-endian bytes (see `host/kernel_data.rs`).
struct Layer {
    inputs: usize,
    outputs: usize,
    i8_weights: &'static Aligned<[u8]>,
    bias: &'static Aligned<[u8]>,
    multiplier: &'static Aligned<[u8]>,
    shift: &'static Aligned<[u8]>,
    i8_input: &'static Aligned<[u8]>,
    #[cfg(fmlp_fp16)]
    f16_weights: &'static Aligned<[u8]>,
    #[cfg(fmlp_fp16)]
    f32_weights: &'static Aligned<[u8]>,
    #[cfg(fmlp_fp16)]
    f32_bias: &'static Aligned<[u8]>,
    #[cfg(fmlp_fp16)]
    f32_input: &'static Aligned<[u8]>,
}

include!(concat!(env!("OUT_DIR"), "/kernel_data.rs"));

/// The int8 input offset and output zero point of `host/kernel_data.rs`.
const INPUT_OFFSET: i32 = 128;
const OUTPUT_ZERO_POINT: i32 = -128;

#[cfg(fmlp_dsp)]
const CPU: &str = "cortex-m4f";
/// mps2-an386's core clock, which drives SysTick.
#[cfg(fmlp_dsp)]
const SYSTICK_HZ: u32 = 25_000_000;
#[cfg(not(fmlp_dsp))]
const CPU: &str = "cortex-m0";
/// The nRF51's 16 MHz core clock, which drives SysTick in QEMU's `microbit`.
#[cfg(not(fmlp_dsp))]
const SYSTICK_HZ: u32 = 16_000_000;
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;

/// Passes of [`rt::count_down`] timed to check SysTick's rate against the instruction count.
const CALIBRATION_LOOPS: u32 = 100_000;

/// The most outputs of a layer here.
const MAX_OUTPUTS: usize = 196;

#[entry]
fn main() -> ! {
    semihosting::exit(match run() {
        Ok(true) => Ok(()),
        _ => Err(()),
    })
}

/// Exit status and the HardFault handler, shared by the QEMU programs.
#[path = "common/semihosting.rs"]
mod semihosting;

/// Runs the checks and the timings; `Ok(false)` if a check failed.
fn run() -> Result<bool, ()> {
    let mut out = hio::hstdout()?;
    let mut syst = cortex_m::Peripherals::take().ok_or(())?.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD);
    syst.clear_current();
    syst.enable_counter();
    writeln!(out, "kernels cpu {CPU} systick_hz {SYSTICK_HZ}").map_err(drop)?;

    #[allow(unused_mut)]
    let mut ok = report(&mut out, "dense_i8", check_dense_i8())?;
    #[cfg(fmlp_fp16)]
    {
        ok &= report(&mut out, "widen_f16", float::check_widen())?;
        ok &= report(&mut out, "dense_f16", float::check_dense_f16())?;
    }

    let ticks = time(|| ());
    writeln!(out, "time empty ticks {ticks}").map_err(drop)?;
    let ticks = time(|| rt::count_down(CALIBRATION_LOOPS));
    writeln!(
        out,
        "calib instructions {} ticks {ticks}",
        2 * CALIBRATION_LOOPS
    )
    .map_err(drop)?;
    for layer in &LAYERS {
        time_i8(&mut out, layer)?;
        #[cfg(fmlp_fp16)]
        float::time(&mut out, layer)?;
    }
    Ok(ok)
}

fn report(out: &mut HostStream, what: &str, (cases, bad): (u32, u32)) -> Result<bool, ()> {
    writeln!(out, "check {what} cases {cases} mismatches {bad}").map_err(drop)?;
    Ok(bad == 0 && cases > 0)
}

/// SysTick ticks around `f`.
#[inline(never)]
fn time(f: impl FnOnce()) -> u32 {
    let start = SYST::get_current();
    f();
    // SysTick counts down and wraps every 2^24 ticks; one kernel call takes far fewer.
    start.wrapping_sub(SYST::get_current()) & SYSTICK_RELOAD
}

/// FNV-1a, as `host/kernel_data.rs` computes it.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(0x811C_9DC5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn time_i8(out: &mut HostStream, l: &Layer) -> Result<(), ()> {
    let rq = Requant {
        bias: bytemuck::cast_slice(&l.bias.0),
        multiplier: bytemuck::cast_slice(&l.multiplier.0),
        shift: bytemuck::cast_slice(&l.shift.0),
        output_zero_point: OUTPUT_ZERO_POINT,
        min: OUTPUT_ZERO_POINT,
        max: 127,
    };
    let weights: &[i8] = bytemuck::cast_slice(&l.i8_weights.0);
    let input: &[i8] = bytemuck::cast_slice(&l.i8_input.0);
    let mut output = [0i8; MAX_OUTPUTS];
    let output = &mut output[..l.outputs];
    let ticks = time(|| {
        dense_i8(
            black_box(weights),
            l.inputs,
            black_box(input),
            INPUT_OFFSET,
            &rq,
            black_box(&mut *output),
        );
    });
    let sum = fnv1a(output.iter().map(|&b| b as u8));
    record(out, "int8", l, ticks, sum)
}

/// Prints one `time` line.
fn record(out: &mut HostStream, kernel: &str, l: &Layer, ticks: u32, sum: u32) -> Result<(), ()> {
    let (i, o) = (l.inputs, l.outputs);
    writeln!(
        out,
        "time {kernel} {i}x{o} macs {} ticks {ticks} checksum {sum:08x}",
        i * o
    )
    .map_err(drop)
}

/// xorshift32, for the checks' small layers.
struct Rng(u32);

impl Rng {
    fn byte(&mut self) -> i8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 24) as u8 as i8
    }
}

/// `dense_i8` against `dense_i8_reference` on every shape up to 20×20 (the DSP path on
/// thumbv7em, the Thumb-1 one on thumbv6m) and, on thumbv7em, on layers wider than the DSP
/// path packs at once (1,024 inputs): `(cases, mismatches)`.
fn check_dense_i8() -> (u32, u32) {
    let mut rng = Rng(0x1234_5678);
    let (mut cases, mut bad) = (0, 0);
    let mut add = |(c, b): (u32, u32)| {
        cases += c;
        bad += b;
    };
    for inputs in 0..=20 {
        for outputs in 1..=20 {
            add(check_shape::<20, 20, 400>(inputs, outputs, &mut rng));
        }
    }
    #[cfg(fmlp_dsp)]
    for inputs in [1025, 1028, 2049, 2052] {
        add(check_shape::<2052, 6, { 2052 * 8 }>(inputs, 6, &mut rng));
    }
    (cases, bad)
}

/// One shape of [`check_dense_i8`], in buffers for up to `I` inputs and `O` outputs (`W` =
/// both rounded up to 4, multiplied), for three input offsets.
fn check_shape<const I: usize, const O: usize, const W: usize>(
    inputs: usize,
    outputs: usize,
    rng: &mut Rng,
) -> (u32, u32) {
    let i4 = round_up(inputs);
    let mut weights = Aligned([0i8; W]);
    for o in 0..outputs {
        for i in 0..inputs {
            weights.0[blocked_index(i4, o, i)] = rng.byte();
        }
    }
    let weights = &weights.0[..round_up(outputs) * i4];
    let input: [i8; I] = core::array::from_fn(|_| rng.byte());
    let bias: [i32; O] = core::array::from_fn(|_| i32::from(rng.byte()) * 300);
    let multiplier: [i32; O] =
        core::array::from_fn(|_| (1 << 30) + i32::from(rng.byte()) * (1 << 22));
    let shift = [-(7 + inputs.max(1).ilog2() as i32); O];
    let (mut cases, mut bad) = (0, 0);
    for (offset, zero_point) in [(128, -128), (-127, 5), (0, 0)] {
        let rq = Requant {
            bias: &bias[..outputs],
            multiplier: &multiplier[..outputs],
            shift: &shift[..outputs],
            output_zero_point: zero_point,
            min: zero_point,
            max: 127,
        };
        let (mut fast, mut slow) = ([0i8; O], [1i8; O]);
        dense_i8(weights, inputs, &input, offset, &rq, &mut fast[..outputs]);
        dense_i8_reference(weights, inputs, &input, offset, &rq, &mut slow[..outputs]);
        cases += 1;
        bad += u32::from(fast[..outputs] != slow[..outputs]);
    }
    (cases, bad)
}

/// The float kernels, on the FPU target only.
#[cfg(fmlp_fp16)]
mod float {
    use super::*;
    use firmware::dense::dense;
    use firmware::dense_f16::{dense_f16, f16_to_f32, widen_f16};

    /// The device's conversion (`VCVTB`) against the portable one, for all 65,536 patterns,
    /// NaNs included.
    pub fn check_widen() -> (u32, u32) {
        let bad = (0..=u16::MAX)
            .filter(|&h| black_box(widen_f16(h)).to_bits() != f16_to_f32(h).to_bits())
            .count();
        (1 << 16, bad as u32)
    }

    /// `dense_f16` (paired `VCVTB`/`VCVTT` for even input counts, single otherwise) against
    /// `dense` on the widened weights, for shapes up to 12 × 21.
    pub fn check_dense_f16() -> (u32, u32) {
        const O: usize = 12;
        const I: usize = 21;
        let mut rng = Rng(0x0BAD_F00D);
        let (mut cases, mut bad) = (0, 0);
        for outputs in 0..=O {
            for inputs in 0..=I {
                let mut halves = Aligned([0u16; O * I]);
                // Finite binary16 patterns: exponents 0..=29 of 31, both signs.
                for h in &mut halves.0[..outputs * inputs] {
                    let bits = (rng.byte() as u8 as u16) << 8 | rng.byte() as u8 as u16;
                    *h = (bits & 0x8000) | ((bits & 0x7fff) % (30 << 10));
                }
                let halves = &halves.0[..outputs * inputs];
                let wide: [f32; O * I] =
                    core::array::from_fn(|k| halves.get(k).map_or(0.0, |&h| f16_to_f32(h)));
                let x: [f32; I] = core::array::from_fn(|_| f32::from(rng.byte()) / 64.0);
                let b: [f32; O] = core::array::from_fn(|_| f32::from(rng.byte()) / 16.0);
                let (mut got, mut want) = ([0f32; O], [1f32; O]);
                dense_f16(halves, &b[..outputs], &x[..inputs], &mut got[..outputs]);
                dense(
                    &wide[..outputs * inputs],
                    &b[..outputs],
                    &x[..inputs],
                    &mut want[..outputs],
                );
                cases += 1;
                let bits = |v: &[f32]| {
                    v.iter()
                        .map(|f| f.to_bits())
                        .collect::<heapless::Vec<u32, O>>()
                };
                bad += u32::from(bits(&got[..outputs]) != bits(&want[..outputs]));
            }
        }
        (cases, bad)
    }

    /// A float kernel writing a layer's outputs.
    type Kernel<'a> = &'a dyn Fn(&mut [f32]);

    pub fn time(out: &mut HostStream, l: &Layer) -> Result<(), ()> {
        let halves: &[u16] = bytemuck::cast_slice(&l.f16_weights.0);
        let wide: &[f32] = bytemuck::cast_slice(&l.f32_weights.0);
        let bias: &[f32] = bytemuck::cast_slice(&l.f32_bias.0);
        let input: &[f32] = bytemuck::cast_slice(&l.f32_input.0);
        let mut output = [0f32; MAX_OUTPUTS];
        let output = &mut output[..l.outputs];
        let f16 = |o: &mut [f32]| dense_f16(black_box(halves), bias, black_box(input), o);
        let f32 = |o: &mut [f32]| dense(black_box(wide), bias, black_box(input), o);
        let kernels: [(&str, Kernel<'_>); 2] = [("f16", &f16), ("f32", &f32)];
        for (name, kernel) in kernels {
            let ticks = super::time(|| kernel(black_box(&mut *output)));
            let sum = fnv1a(output.iter().flat_map(|v| v.to_bits().to_le_bytes()));
            record(out, name, l, ticks, sum)?;
        }
        Ok(())
    }
}

/// Everything in this program that needs `unsafe`: the calibration loop.
#[allow(unsafe_code)]
mod rt {
    /// Executes exactly `2 · n` instructions (`n ≥ 1`) in a loop of `subs` and `bne`.
    #[inline(always)]
    pub fn count_down(n: u32) {
        // SAFETY: register arithmetic and a branch back to the label: no memory, no stack.
        unsafe {
            core::arch::asm!(
                "2:",
                "subs {n}, #1",
                "bne 2b",
                n = inout(reg) n.max(1) => _,
                options(nomem, nostack),
            );
        }
    }
}

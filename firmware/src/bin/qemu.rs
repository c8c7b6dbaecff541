//! The classifier on an emulated Cortex-M4F (QEMU `mps2-an386`) or Cortex-M0 (QEMU `microbit`,
//! the nRF51: 256 KiB flash, 16 KiB RAM), reporting through semihosting.
//!
//! Built only with the `board` feature, for `thumbv7em-none-eabihf` (mps2-an386) or
//! `thumbv6m-none-eabi` (microbit); `build.rs` embeds the model named by `FMLP_MODEL` and the
//! first `FMLP_IMAGES` (default 256 on mps2-an386, 16 on microbit) Fashion-MNIST test images,
//! and picks the scratch: `Int8Scratch` for an int8 model (1,568 bytes on the M0), `Scratch`
//! otherwise (or always, with `FMLP_SCRATCH=general`). From the workspace root (the runners in
//! `.cargo/config.toml` start QEMU):
//!
//! ```text
//! FMLP_MODEL=$PWD/out/vanilla.fmlp cargo run --release -p firmware --features board \
//!     --target thumbv7em-none-eabihf --bin qemu
//! FMLP_MODEL=$PWD/out/vanilla/model-int8.fmlp cargo run --release -p firmware --features board \
//!     --target thumbv6m-none-eabi --bin qemu
//! ```
//!
//! Output: one record per line, space-separated words, for a host to parse:
//!
//! ```text
//! model <variant> params <count> layers <in>x<out>,... images <N> scratch <bytes>
//! img <index> pred <class> label <label> logits <10 × f32::to_bits, 8 hex digits each>
//! summary correct <c> of <N> accuracy <0.dddd>
//! time systick_hz <Hz> ticks <T> min <t> max <t>
//! mem flash <B> text <B> rodata <B> data <B> bss <B> static_ram <B> stack <B>
//! ```
//!
//! `scratch` is the size of the activation scratch the program classifies in (on its stack).
//! `time`: SysTick, clocked by the core clock (`systick_hz`: 25 MHz on mps2-an386, 16 MHz on
//! microbit), counted around each `classify_u8` call; `ticks` is the sum over the `N` images,
//! `min` and `max` the extremes of one call. Without `-icount` QEMU's clock follows the host's,
//! so these are only rough. Under `qemu-system-arm -icount shift=0` virtual time advances
//! exactly 1 ns per instruction, so `ticks · 10^9 / systick_hz` (40 · `ticks` on mps2-an386,
//! 62.5 · `ticks` on microbit) is the number of instructions, to within one tick per call
//! (`cargo bench -p firmware --bench m4` does this).
//!
//! `flash` is everything the image occupies in code memory (vector table, `.text`, `.rodata` and
//! the load copy of `.data`), `static_ram` is `.data` + `.bss` + `.uninit`, and
//! `stack` is the high-water mark of the stack since reset (cortex-m-rt paints it before `main`).
//! Exit status 0 when every image was classified; 1 on a refused model, a panic or a HardFault.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use cortex_m_semihosting::hio::{self, HostStream};
use firmware::{Classifier, INPUTS};
use heapless::String;
use panic_semihosting as _;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}
use embedded::{IMAGE_COUNT, ModelScratch};

/// Gives its contents 4-byte alignment, so the model's weights can be read in place as `f32`.
#[repr(C, align(4))]
struct Aligned<T: ?Sized>(T);

/// The model file, in flash.
static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.fmlp")));
/// `IMAGE_COUNT` images of [`INPUTS`] pixels each; the type checks the file length.
static IMAGES: &[u8; IMAGE_COUNT * INPUTS] =
    include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
/// One label per image.
static LABELS: &[u8; IMAGE_COUNT] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));

/// The core clock of mps2-an386 (its `SYSCLK`), which drives SysTick.
#[cfg(not(fmlp_armv6m))]
const CORE_CLOCK_HZ: u32 = 25_000_000;
/// The nRF51's 16 MHz core clock, which drives SysTick in QEMU's `microbit` (checked under
/// `-icount shift=0` by the kernel program's calibration loop: 62.5 instructions per tick).
#[cfg(fmlp_armv6m)]
const CORE_CLOCK_HZ: u32 = 16_000_000;
/// The classifier of the embedded model, in its scratch.
type Board = Classifier<'static, INPUTS, ModelScratch>;
/// SysTick counts down from this and wraps to it: 2^24 ticks per period, far more than one
/// classification takes.
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;

/// Longest output line: `img 9999 pred 9 label 9 logits` and ten ` xxxxxxxx`.
type Line = String<160>;

#[entry]
fn main() -> ! {
    let status = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(()) => debug::EXIT_FAILURE,
    };
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

/// Classifies every embedded image and reports; `Err` once the reason has been printed (or
/// when semihosting output itself fails).
fn run() -> Result<(), ()> {
    let mut out = hio::hstdout()?;
    let mut syst = cortex_m::Peripherals::take().ok_or(())?.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD);
    syst.clear_current();
    syst.enable_counter();
    // Borrowed in place, so `main`'s frame holds the ~0.5 KiB model view once.
    let loaded = load();
    let classifier = match &loaded {
        Ok(classifier) => classifier,
        Err(e) => return writeln!(out, "error {e}").map_err(drop).and(Err(())),
    };
    classify_all(classifier, &mut out)?;
    let s = rt::sections();
    writeln!(
        out,
        "mem flash {} text {} rodata {} data {} bss {} static_ram {} stack {}",
        s.flash,
        s.text,
        s.rodata,
        s.data,
        s.bss,
        s.static_ram,
        rt::stack_high_water()
    )
    .map_err(drop)
}

/// Checks the embedded model.
///
/// Out of line, like [`classify_all`], so the two phases reuse the same stack: decoding copies
/// the ~0.5 KiB model view a few times, classifying needs the scratch (6 KiB for `Scratch`,
/// 1.5 to 3 KiB for `Int8Scratch`), never both.
#[inline(never)]
fn load() -> Result<Board, firmware::Error> {
    Board::with_scratch(&MODEL.0)
}

/// Classifies the embedded images, printing the model line, one line per image, the summary and
/// the SysTick timing of the `classify_u8` calls.
#[inline(never)]
fn classify_all(classifier: &Board, out: &mut HostStream) -> Result<(), ()> {
    // On the stack, not in a `static`: the decoding phase's stack peak then shares these
    // bytes instead of adding to them. Measured (vanilla shape, `Scratch`, before the 5-row
    // dense kernel and the SysTick timing): 7,832 bytes of RAM in all, against 9,288 with the
    // Scratch in a `cortex_m::singleton!`; 7,936 now.
    let mut scratch = ModelScratch::new();
    let model = classifier.model();
    let mut line = Line::new();
    write!(
        line,
        "model {} params {} layers ",
        model.variant(),
        model.param_count()
    )
    .map_err(drop)?;
    for (i, layer) in model.layers().iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        write!(line, "{sep}{}x{}", layer.inputs(), layer.outputs()).map_err(drop)?;
    }
    writeln!(
        line,
        " images {IMAGE_COUNT} scratch {}",
        size_of::<ModelScratch>()
    )
    .map_err(drop)?;
    out.write_all(line.as_bytes())?;

    let mut correct = 0usize;
    let (mut ticks, mut min, mut max) = (0u64, u32::MAX, 0u32);
    let images = IMAGES.as_chunks::<INPUTS>().0;
    for (index, (pixels, &label)) in images.iter().zip(LABELS).enumerate() {
        let start = SYST::get_current();
        let result = classifier.classify_u8(pixels, &mut scratch);
        // SysTick counts down and wraps every 2^24 ticks; one call takes far fewer.
        let took = start.wrapping_sub(SYST::get_current()) & SYSTICK_RELOAD;
        ticks += u64::from(took);
        (min, max) = (min.min(took), max.max(took));
        correct += usize::from(result.class == usize::from(label));
        line.clear();
        write!(
            line,
            "img {index} pred {} label {label} logits",
            result.class
        )
        .map_err(drop)?;
        for logit in result.logits {
            write!(line, " {:08x}", logit.to_bits()).map_err(drop)?;
        }
        line.push('\n').map_err(drop)?;
        out.write_all(line.as_bytes())?;
    }

    // Accuracy to four decimals in integer arithmetic: no float formatting code on the device.
    let per_10k = correct * 10_000 / IMAGE_COUNT;
    writeln!(
        out,
        "summary correct {correct} of {IMAGE_COUNT} accuracy {}.{:04}",
        per_10k / 10_000,
        per_10k % 10_000
    )
    .map_err(drop)?;
    writeln!(
        out,
        "time systick_hz {CORE_CLOCK_HZ} ticks {ticks} min {min} max {max}"
    )
    .map_err(drop)
}

/// Everything in this program that needs `unsafe`: linker symbols, the stack scan and the
/// HardFault handler.
#[allow(unsafe_code)]
mod rt {
    use cortex_m_rt::{ExceptionFrame, STACK_PAINT_VALUE, exception};
    use cortex_m_semihosting::{debug, hprintln};

    // Symbols of cortex-m-rt's `link.x`. Only their addresses are used; nothing is read from them.
    unsafe extern "C" {
        static __stext: u8;
        static __etext: u8;
        static __srodata: u8;
        static __erodata: u8;
        static __sdata: u8;
        static __edata: u8;
        static __sidata: u8;
        static __sbss: u8;
        static __ebss: u8;
        static _ram_start: u8;
        static _stack_end: u8;
        static _stack_start: u8;
    }

    /// Section sizes in bytes, from the linker symbols.
    pub struct Sections {
        /// Code memory used from its origin at address 0: up to the end of the `.data` load copy.
        pub flash: usize,
        /// Code.
        pub text: usize,
        /// Constants, the model and the test images.
        pub rodata: usize,
        /// Initialised statics (RAM, with a copy in flash).
        pub data: usize,
        /// Zeroed statics.
        pub bss: usize,
        /// All RAM below the stack: `.data`, `.bss` and `.uninit`.
        pub static_ram: usize,
    }

    /// Reads the section bounds.
    pub fn sections() -> Sections {
        let addr = |symbol: *const u8| symbol as usize;
        let data = addr(&raw const __edata) - addr(&raw const __sdata);
        Sections {
            flash: addr(&raw const __sidata) + data,
            text: addr(&raw const __etext) - addr(&raw const __stext),
            rodata: addr(&raw const __erodata) - addr(&raw const __srodata),
            data,
            bss: addr(&raw const __ebss) - addr(&raw const __sbss),
            static_ram: addr(&raw const _stack_end) - addr(&raw const _ram_start),
        }
    }

    /// Bytes of stack used since reset: from the top down to the lowest word that no longer
    /// holds the paint cortex-m-rt (feature `paint-stack`) wrote over the whole stack region.
    pub fn stack_high_water() -> usize {
        let bottom = &raw const _stack_end as usize;
        let top = &raw const _stack_start as usize;
        let mut addr = bottom;
        while addr < top {
            let word: *const u32 = core::ptr::with_exposed_provenance(addr);
            // SAFETY: `[_stack_end, _stack_start)` is the stack region in RAM, 4-byte aligned
            // (link.x asserts both ends). The scan stops at the first word ever written, which
            // lies at or below the live frames, so it only reads memory no reference points to.
            if unsafe { word.read_volatile() } != STACK_PAINT_VALUE {
                break;
            }
            addr += 4;
        }
        top - addr
    }

    // SAFETY: cortex-m-rt requires a HardFault handler to be an `unsafe fn`; this one only
    // reports the faulting address through semihosting and ends the emulation with a failure
    // status (the default handler would spin forever and hang the QEMU run).
    #[exception]
    unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
        hprintln!("hardfault pc {:#010x}", frame.pc());
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi();
        }
    }
}

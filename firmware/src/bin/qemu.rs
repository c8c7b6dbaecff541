//! The board application ([`firmware::app`]) on QEMU machines that mirror real chips, reporting
//! through semihosting: `mps2-an386` (Cortex-M4F), `netduinoplus2` (STM32F405, Cortex-M4F: 1 MiB
//! flash, 128 KiB RAM), `microbit` (nRF51822, Cortex-M0: 256 KiB, 16 KiB) and `mps2-an505`
//! (Cortex-M33, the RP2350's core). This file is only the board: its output channel
//! (semihosting text lines), its timer (SysTick: QEMU models no DWT cycle counter) and its
//! memory (linker symbols and the painted stack).
//!
//! Built only with the `board` feature; `build.rs` picks the machine (`FMLP_MACHINE`, default
//! by target: mps2-an386 for `thumbv7em-none-eabihf`, microbit for `thumbv6m-none-eabi`,
//! mps2-an505 for `thumbv8m.main-none-eabihf`), checks the model named by `FMLP_MODEL` against
//! its flash and RAM, embeds it and the first `FMLP_IMAGES` Fashion-MNIST test images, and
//! picks the scratch: `Int8Scratch` for an int8 model, `Scratch` otherwise (or always, with
//! `FMLP_SCRATCH=general`). From the workspace root (the runners in `.cargo/config.toml` start
//! QEMU on mps2-an386, microbit and mps2-an505; netduinoplus2 is run by hand or by the tests):
//!
//! ```text
//! FMLP_MODEL=$PWD/out/vanilla/model.fmlp cargo run --release -p firmware --features board \
//!     --target thumbv7em-none-eabihf --bin qemu
//! FMLP_MODEL=$PWD/out/vanilla/model-int8.fmlp cargo run --release -p firmware --features board \
//!     --target thumbv6m-none-eabi --bin qemu
//! ```
//!
//! Output: one record per line, space-separated words, for a host to parse:
//!
//! ```text
//! model <variant> params <count> layers <in>x<out>,... images <N> scratch <bytes>
//! img <index> pred <class> label <label> logits <10 × f32::to_bits, 8 hex digits each> ticks <t>
//! summary correct <c> of <N> accuracy <0.dddd>
//! time timer systick hz <Hz> ticks <T> min <t> max <t> machine <name>
//! mem flash <B> flash_size <B> text <B> rodata <B> data <B> bss <B> static_ram <B> stack <B> ram_size <B>
//! error <why the model was refused>
//! ```
//!
//! `scratch` is the size of the activation scratch the program classifies in (on its stack).
//! `time`: SysTick on the core clock (`hz`), counted around each `classify_u8` call; `ticks` is
//! the sum over the `N` images. Without `-icount` QEMU's clock follows the host's, so these are
//! only rough. Under `qemu-system-arm -icount shift=0` virtual time advances exactly 1 ns per
//! instruction, so `ticks · 10^9 / hz` is the number of instructions, to within one tick per
//! call.
//!
//! `flash` is everything the image occupies in code memory (vector table, `.text`, `.rodata` and
//! the load copy of `.data`), `static_ram` is `.data` + `.bss` + `.uninit`, and
//! `stack` is the high-water mark of the stack since reset (cortex-m-rt paints it before `main`).
//! Exit status 0 when every image was classified; 1 on a refused model (after its `error`
//! line), a panic or a HardFault.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m_rt::entry;
use cortex_m_semihosting::hio::{self, HostStream};
use firmware::INPUTS;
use firmware::app::{self, Board, ChannelError, Memory, Report};
use firmware::timer::SysTick;
use heapless::String;
use panic_semihosting as _;

/// The model and the build's constants.
#[path = "common/embedded.rs"]
mod embedded;
use embedded::{CORE_CLOCK_HZ, FLASH_SIZE, IMAGE_COUNT, MACHINE, MODEL, ModelScratch, RAM_SIZE};

/// `IMAGE_COUNT` images of [`INPUTS`] pixels each; the type checks the file length.
static IMAGES: &[u8; IMAGE_COUNT * INPUTS] =
    include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
/// One label per image.
static LABELS: &[u8; IMAGE_COUNT] = include_bytes!(concat!(env!("OUT_DIR"), "/labels.bin"));

/// Longest output line: `img 9999 pred 9 label 9 logits`, ten ` xxxxxxxx` and ` ticks 4294967295`.
type Line = String<192>;

/// A QEMU machine: semihosting out, SysTick on the core clock, the linker's sections.
struct Qemu {
    out: HostStream,
    timer: SysTick<CORE_CLOCK_HZ>,
}

#[entry]
fn main() -> ! {
    semihosting::exit(start())
}

fn start() -> Result<(), ()> {
    let out = hio::hstdout()?;
    let syst = cortex_m::Peripherals::take().ok_or(())?.SYST;
    let mut board = Qemu {
        out,
        timer: SysTick::start(syst),
    };
    app::run::<_, ModelScratch>(&mut board, &MODEL.0, IMAGES.as_chunks::<INPUTS>().0, LABELS)
        .map_err(drop)
}

impl Board for Qemu {
    type Timer = SysTick<CORE_CLOCK_HZ>;

    fn timer(&mut self) -> &mut Self::Timer {
        &mut self.timer
    }

    fn report(&mut self, report: &Report<'_>) -> Result<(), ChannelError> {
        // In this frame, not in `self`: the line then shares the stack with the decoder's peak
        // instead of adding to it (16 KiB of RAM on the microbit).
        let mut line = Line::new();
        render(&mut line, report).map_err(|_| ChannelError)?;
        self.out
            .write_all(line.as_bytes())
            .map_err(|()| ChannelError)
    }

    fn memory(&self) -> Memory {
        let s = rt::sections();
        Memory {
            flash_size: FLASH_SIZE,
            flash_used: s.flash,
            ram_size: RAM_SIZE,
            static_ram: s.static_ram,
            stack: rt::stack_high_water(),
            test_images: IMAGES.len() + LABELS.len(),
        }
    }
}

/// One report as one line of the format in the crate docs.
fn render(line: &mut Line, report: &Report<'_>) -> core::fmt::Result {
    match report {
        Report::Model {
            model,
            images,
            scratch,
        } => {
            write!(
                line,
                "model {} params {} layers ",
                model.variant(),
                model.param_count()
            )?;
            for (i, layer) in model.layers().iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                write!(line, "{sep}{}x{}", layer.inputs(), layer.outputs())?;
            }
            write!(line, " images {images} scratch {scratch}")?;
        }
        Report::Refused(e) => write!(line, "error {e}")?,
        Report::Image {
            index,
            class,
            label,
            logits,
            ticks,
        } => {
            write!(line, "img {index} pred {class} label {label} logits")?;
            for logit in logits {
                write!(line, " {:08x}", logit.to_bits())?;
            }
            write!(line, " ticks {ticks}")?;
        }
        Report::Summary { correct, images } => {
            let per_10k = app::accuracy_per_10k(*correct, *images);
            write!(
                line,
                "summary correct {correct} of {images} accuracy {}.{:04}",
                per_10k / 10_000,
                per_10k % 10_000
            )?;
        }
        Report::Time {
            timer,
            hz,
            total,
            min,
            max,
        } => write!(
            line,
            "time timer {timer} hz {hz} ticks {total} min {min} max {max} machine {MACHINE}"
        )?,
        Report::Memory(m) => {
            let s = rt::sections();
            write!(
                line,
                "mem flash {} flash_size {} text {} rodata {} data {} bss {} static_ram {} stack {} ram_size {}",
                m.flash_used,
                m.flash_size,
                s.text,
                s.rodata,
                s.data,
                s.bss,
                m.static_ram,
                m.stack,
                m.ram_size
            )?;
        }
    }
    line.push('\n').map_err(|_| core::fmt::Error)
}

/// The program's raw memory access (linker symbols, the stack scan), shared with the board
/// crates.
#[path = "../../boards/common/src/rt.rs"]
mod rt;

/// Exit status and the HardFault handler, shared by the QEMU programs.
#[path = "common/semihosting.rs"]
mod semihosting;

//! The board application on Raspberry Pi Pico (RP2040: Cortex-M0+, no FPU, 2 MiB flash, 264 KiB SRAM).
//!
//! ```text
//! cargo run --release                                          # the default int8 vanilla model
//! FMLP_MODEL=out/vanilla/model.fmlp cargo run --release        # any model that fits
//! ```
//!
//! It classifies the embedded test images and prints, through defmt over RTT, the model, one
//! line per image (class, label, logits, cycles), the accuracy, the cycle totals and its flash
//! and RAM; a refused model is reported and the core then sleeps.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use fmlp_board::MemoryMap;
use fmlp_board::firmware::timer::SysTick;

/// The clock the boot ROM leaves the core on (the ring oscillator, nominally 6.5 MHz): this
/// program sets up no PLL, so the cycle counts are exact and a time in seconds is cycles over
/// the real clock. SysTick, 24 bits, wraps after 2^24 cycles: an int8 inference takes far
/// fewer; an f32 one (software floating point on the M0+) may not.
const CORE_CLOCK_HZ: u32 = 6_500_000;
/// Flash and RAM, as memory.x gives them.
const MEMORY: MemoryMap = MemoryMap {
    flash: (2048 << 10) - 256,
    ram: 256 << 10,
};

/// The second-stage bootloader for the Pico's W25Q080 flash, which the boot ROM loads from the
/// first 256 bytes of flash (memory.x's BOOT2).
// SAFETY: `.boot2` is placed by memory.x alone in BOOT2, the first 256 bytes of flash; only the
// boot ROM reads it.
#[unsafe(link_section = ".boot2")]
#[used]
static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

#[entry]
fn main() -> ! {
    let cp = cortex_m::Peripherals::take().unwrap();
    let timer = SysTick::<CORE_CLOCK_HZ>::start(cp.SYST);
    fmlp_board::run_embedded!(timer, MEMORY)
}

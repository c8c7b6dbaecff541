//! The board application on Nordic nRF52840-DK (nRF52840: Cortex-M4F at 64 MHz, 1 MiB flash, 256 KiB RAM).
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
use fmlp_board::firmware::timer::DwtCycles;

/// The core clock out of reset: the nRF52840 runs its CPU at 64 MHz.
const CORE_CLOCK_HZ: u32 = 64_000_000;
/// Flash and RAM, as memory.x gives them.
const MEMORY: MemoryMap = MemoryMap {
    flash: 1024 << 10,
    ram: 256 << 10,
};

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let timer = DwtCycles::<CORE_CLOCK_HZ>::start(&mut cp.DCB, &mut cp.DWT);
    fmlp_board::run_embedded!(timer, MEMORY)
}

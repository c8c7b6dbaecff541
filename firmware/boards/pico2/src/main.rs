//! The board application on Raspberry Pi Pico 2 (RP2350: Cortex-M33, 4 MiB flash, 512 KiB SRAM).
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

/// The clock the boot ROM leaves the core on, nominal: this program sets up no PLL, so the
/// cycle counts are exact and a time in seconds is cycles over the real clock.
const CORE_CLOCK_HZ: u32 = 12_000_000;
/// Flash and RAM, as memory.x gives them.
const MEMORY: MemoryMap = MemoryMap {
    flash: 4096 << 10,
    ram: 512 << 10,
};

/// The RP2350 boot ROM starts only an image that carries an IMAGE_DEF block in its first 4 KiB
/// (datasheet §5.9.5.1, "minimum viable image metadata"): the start marker, one IMAGE_TYPE
/// item (executable, Arm, Secure, RP2350: `0x1021`), the last-item marker, a link to itself
/// (no further block) and the end marker. With no entry-point item the ROM enters through the
/// vector table at the start of flash. These five words are what rp235x-hal's
/// `ImageDef::secure_exe()` emits; written out here instead of depending on the whole HAL.
// SAFETY: `.start_block` is placed by memory.x right after the vector table, where nothing else
// is linked; the block is only read, by the boot ROM.
#[unsafe(link_section = ".start_block")]
#[used]
static IMAGE_DEF: [u32; 5] = [
    0xffff_ded3,
    0x1021_0142,
    0x0000_01ff,
    0x0000_0000,
    0xab12_3579,
];

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let timer = DwtCycles::<CORE_CLOCK_HZ>::start(&mut cp.DCB, &mut cp.DWT);
    fmlp_board::run_embedded!(timer, MEMORY)
}

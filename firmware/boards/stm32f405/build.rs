//! Checks the model named by `FMLP_MODEL` against the STM32F405's flash and RAM and embeds it
//! with the test images: see `../common/build_support.rs`.

#[path = "../../host/budget.rs"]
mod budget;
#[path = "../common/build_support.rs"]
mod build_support;
#[path = "../../host/embed.rs"]
mod embed;

use budget::{Budget, INT8_SCRATCH_DSP};

/// The STM32F405: flash and RAM of its memory.x, and what this program keeps of them
/// (`PROGRAM`, `STACK`: measured, with a margin; see the README's "Put it on your board").
const BOARD: Budget = Budget::new(
    "STM32F405",
    (1024 << 10, 128 << 10),
    (PROGRAM, STACK),
    INT8_SCRATCH_DSP,
);
const PROGRAM: usize = 48 << 10;
const STACK: usize = 4 << 10;

fn main() {
    build_support::main(&BOARD);
}

//! What a board program needs `unsafe` for, shared by every board (the QEMU program includes
//! this file by path, the board crates through `fmlp-board`): the section bounds from
//! cortex-m-rt's linker symbols, and the stack's high-water mark from the paint cortex-m-rt
//! (feature `paint-stack`) writes over the stack at reset. Only addresses of linker symbols and
//! never-referenced stack words below the live frames are read.
#![allow(unsafe_code)]

use cortex_m_rt::STACK_PAINT_VALUE;

// Symbols of cortex-m-rt's `link.x`. Only their addresses are used; nothing is read from them.
unsafe extern "C" {
    static __vector_table: u8;
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
    static __euninit: u8;
    static _stack_end: u8;
    static _stack_start: u8;
}

/// Section sizes in bytes, from the linker symbols.
pub struct Sections {
    /// Code memory used from its origin (the vector table) to the end of the `.data` load copy.
    pub flash: usize,
    /// Code.
    pub text: usize,
    /// Constants, the model and the test images.
    pub rodata: usize,
    /// Initialised statics (RAM, with a copy in flash).
    pub data: usize,
    /// Zeroed statics.
    pub bss: usize,
    /// The statics: `.data`, `.bss` and `.uninit`, from the start of their RAM (below the stack
    /// with cortex-m-rt's own layout, above it with flip-link's).
    pub static_ram: usize,
}

/// Reads the section bounds.
pub fn sections() -> Sections {
    let addr = |symbol: *const u8| symbol as usize;
    let data = addr(&raw const __edata) - addr(&raw const __sdata);
    Sections {
        flash: addr(&raw const __sidata) + data - addr(&raw const __vector_table),
        text: addr(&raw const __etext) - addr(&raw const __stext),
        rodata: addr(&raw const __erodata) - addr(&raw const __srodata),
        data,
        bss: addr(&raw const __ebss) - addr(&raw const __sbss),
        static_ram: addr(&raw const __euninit) - addr(&raw const _ram_start),
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

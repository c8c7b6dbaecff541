//! What `build.rs` embeds for the QEMU programs (`qemu`, `qemu-vector`): its constants
//! (`$OUT_DIR/embedded.rs`: machine, clock, memory, image count, the engine's widths) and the
//! model file. Included by path, `#[path = "common/embedded.rs"] mod embedded;`.
// Each program uses part of the constants.
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Gives its contents 4-byte alignment, so weights (and f32 inputs) can be read in place.
#[repr(C, align(4))]
pub struct Aligned<T: ?Sized>(pub T);

/// The model file, in flash.
pub static MODEL: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.fmlp")));

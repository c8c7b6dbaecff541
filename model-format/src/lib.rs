//! The `.fmlp` model file: one dense MLP classifier, shared byte-for-byte by the host trainer
//! and the no_std firmware.
//!
//! `no_std` and allocation-free by default: [`Model::from_bytes`] checks a file once (magic,
//! version, length, CRC-32, a canonical header, layer shapes, finiteness, int8 ranges, and
//! interval bounds that keep every activation finite for every allowed input) and then lends out
//! the parameters **in place** in their storage ([`Params`]: f32, f16 or TFLite-style int8)
//! borrowed from the file bytes, so a device reads them straight from
//! flash and its RAM use does not grow with the parameter count. The `std` feature adds
//! `encode` (used by the trainer) and `AlignedBytes` for reading files on a host.
//!
//! The wire format is specified byte by byte in `FORMAT.md` beside this crate.
//!
//! On a device the file sits in flash, 4-byte aligned, and is checked once at start-up:
//!
//! ```
//! use model_format::{Activation, Model};
//!
//! #[repr(C, align(4))]
//! struct Aligned<T: ?Sized>(T);
//! // The worked example of FORMAT.md: 2x2 pixels -> 3 (ReLU) -> 2 classes (softmax).
//! static FILE: &Aligned<[u8]> = &Aligned(*include_bytes!("../golden/tiny.fmlp"));
//!
//! let model = Model::from_bytes(&FILE.0)?;
//! assert_eq!(model.class_names(), &["off", "on"]);
//! assert_eq!(model.layers()[1].activation(), Activation::Softmax);
//! let (_weights, bias) = model.layers()[1].params().f32().unwrap(); // borrowed from FILE
//! assert_eq!(bias, &[0.125, -0.125]);
//! # Ok::<(), model_format::Error>(())
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_endian = "big")]
compile_error!(
    "model-format lends out little-endian f32 weights in place; big-endian targets are not supported"
);

mod bounds;
mod error;
mod f16;
mod header;
mod layout;
mod model;
pub mod quant;
mod wire;

// The encoder needs `Vec`: built with the `std` feature, and in this crate's own test builds.
#[cfg(any(test, feature = "std"))]
mod aligned;
#[cfg(any(test, feature = "std"))]
mod encode;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_findings;
#[cfg(test)]
mod tests_v2;

pub use error::Error;
pub use f16::f16_to_f32;
pub use layout::{INT8_TILE, block_len, int8_weight_index, round4};
pub use model::{Int8Params, Layer, Model, Params};
pub use wire::{Activation, InputSpec, PIXEL_ZERO_POINT, Provenance, Quant, Storage, WeightLayout};

#[cfg(any(test, feature = "std"))]
pub use aligned::AlignedBytes;
#[cfg(any(test, feature = "std"))]
pub use encode::{LayerSpec, ModelSpec, block_int8, encode};

/// The first four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"FMLP";
/// The newest format version: this crate reads versions 1 to `VERSION`, and writes version 1
/// for an all-f32 model (so older readers keep reading it) and `VERSION` otherwise.
pub const VERSION: u16 = 2;
/// Bytes before the postcard header: magic (4), version (2), header length (2), file length (4).
pub const PREAMBLE_LEN: usize = 12;
/// Bytes of the CRC-32 trailer.
pub const CHECKSUM_LEN: usize = 4;
/// Most dense layers a model may have.
pub const MAX_LAYERS: usize = 8;
/// Most classes a model may name.
pub const MAX_CLASSES: usize = 16;
/// Longest string (variant, note, class name) in bytes.
pub const MAX_STR_LEN: usize = 255;
/// Longest model file a host reader (`AlignedBytes::read`) accepts: 64 MiB. The length field
/// is a `u32`, but no model for a microcontroller comes near this (the largest preset, dropout,
/// is 1.4 MB in f32), and the bound lets a reader refuse a huge file from its preamble.
pub const MAX_FILE_LEN: usize = 64 << 20;

/// The checksum: CRC-32/ISO-HDLC, the one zlib, PNG and postcard's `use-crc` use.
pub(crate) const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Rounds `n` up to a multiple of 4, the alignment of the f32 data section.
pub(crate) const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

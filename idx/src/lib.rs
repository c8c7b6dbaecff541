//! `idx`: reading the gzipped IDX files of Fashion-MNIST and data sets of its layout (MNIST,
//! KMNIST), for every host-side user in the workspace: the trainer, the workspace tests and the
//! firmware's build script and `evaluate` example. std only; the firmware library never links it.
//!
//! Every header is checked before the payload is read, and no header can make the reader
//! allocate more than [`MAX_DECOMPRESSED_BYTES`]. Files are streamed through the decoder, never
//! read whole first, and no file may have more than [`MAX_COMPRESSED_BYTES`]. A malformed file is an [`IdxError`] naming the
//! file, never a panic.
//!
//! ```
//! use idx::fixtures::{gzip, idx_labels};
//!
//! let gz = gzip(&idx_labels(&[0, 9, 5]));
//! let labels = idx::decode_labels("labels.gz".as_ref(), &gz, 10)?;
//! assert_eq!(labels, [0, 9, 5]);
//! # Ok::<(), idx::IdxError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod fixtures;
pub mod layout;
pub mod read;

pub use error::IdxError;
pub use layout::{find_dir, missing_files};
pub use read::{
    MAX_COMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES, decode_images, decode_labels, read_images,
    read_labels,
};

#[cfg(test)]
mod tests;

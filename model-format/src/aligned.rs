//! Owned, 4-byte-aligned bytes, so a model read on a host can be lent out as `&[f32]`.

use std::{fs, io, ops::Deref, path::Path};

/// Bytes stored in `u32` words: always 4-byte aligned, as [`Model::from_bytes`](crate::Model::from_bytes)
/// needs. A `Vec<u8>` from `std::fs::read` promises no alignment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlignedBytes {
    words: Vec<u32>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `bytes` into aligned storage.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedBytes {
            words,
            len: bytes.len(),
        }
    }

    /// Reads a whole file into aligned storage.
    ///
    /// # Errors
    /// Any I/O error from reading `path`.
    pub fn read(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::from_slice(&fs::read(path)?))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.len]
    }
}

impl Deref for AlignedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

//! Owned, 4-byte-aligned bytes, so a model read on a host can be lent out as `&[f32]`.

use std::fs::File;
use std::io::{self, Read as _};
use std::{ops::Deref, path::Path};

use crate::{CHECKSUM_LEN, Error, MAGIC, MAX_FILE_LEN, PREAMBLE_LEN, VERSION};

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

    /// Reads a model file into aligned storage, checking before it reads: `path` must be a
    /// regular file (a FIFO or a device such as `/dev/zero` is refused at once, without
    /// opening it), its preamble's magic and version must be a model file's, and the length
    /// the preamble records must be the file's and at most [`MAX_FILE_LEN`]. Only then are
    /// the recorded bytes read, once, straight into aligned storage. The rest (CRC, header,
    /// values) is [`Model::from_bytes`](crate::Model::from_bytes)'s to check.
    ///
    /// # Errors
    /// An I/O error from opening or reading `path`; [`io::ErrorKind::InvalidInput`] for a path
    /// that is not a regular file; [`io::ErrorKind::InvalidData`] wrapping the [`Error`] of the
    /// preamble ([`Error::TooShort`], [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::LengthMismatch`]) or saying that the file is longer than [`MAX_FILE_LEN`].
    pub fn read(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        // `stat` first: opening a FIFO for reading blocks until a writer appears.
        check_regular(&std::fs::metadata(path)?)?;
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        check_regular(&meta)?;
        let mut preamble = [0u8; PREAMBLE_LEN];
        let got = read_up_to(&mut file, &mut preamble)?;
        let file_len = check_preamble(&preamble[..got], meta.len())?;
        let mut words = vec![0u32; file_len.div_ceil(4)];
        let bytes = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..file_len];
        bytes[..PREAMBLE_LEN].copy_from_slice(&preamble);
        file.read_exact(&mut bytes[PREAMBLE_LEN..])?;
        // A file that grew after `stat` is not the file whose length was checked.
        if file.read(&mut [0u8; 1])? != 0 {
            return Err(invalid(Error::LengthMismatch {
                expected: file_len as u32,
                found: file_len + 1,
            }));
        }
        Ok(AlignedBytes {
            words,
            len: file_len,
        })
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

fn check_regular(meta: &std::fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() {
        "a directory"
    } else {
        "a FIFO, socket or device"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({kind}): a model file is read whole and checked first"),
    ))
}

/// Checks the preamble `got` (all of it, or as much as the file has) against the file's
/// length; returns the length it records.
fn check_preamble(got: &[u8], actual: u64) -> io::Result<usize> {
    let found = usize::try_from(actual).unwrap_or(usize::MAX);
    if got.len() < PREAMBLE_LEN || found < PREAMBLE_LEN + CHECKSUM_LEN {
        if got.len() >= MAGIC.len() && got[..MAGIC.len()] != MAGIC {
            return Err(invalid(Error::BadMagic {
                found: [got[0], got[1], got[2], got[3]],
            }));
        }
        return Err(invalid(Error::TooShort { found }));
    }
    let magic = [got[0], got[1], got[2], got[3]];
    if magic != MAGIC {
        return Err(invalid(Error::BadMagic { found: magic }));
    }
    let version = u16::from_le_bytes([got[4], got[5]]);
    if !(1..=VERSION).contains(&version) {
        return Err(invalid(Error::UnsupportedVersion { found: version }));
    }
    let recorded = u32::from_le_bytes([got[8], got[9], got[10], got[11]]);
    if recorded as usize > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the preamble records {recorded} bytes, more than the {} MiB a model file may \
                 have",
                MAX_FILE_LEN >> 20
            ),
        ));
    }
    if u64::from(recorded) != actual {
        return Err(invalid(Error::LengthMismatch {
            expected: recorded,
            found,
        }));
    }
    Ok(recorded as usize)
}

fn invalid(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Fills `buf` as far as the reader allows; returns how many bytes were read.
fn read_up_to(reader: &mut impl io::Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &[u8] = include_bytes!("../golden/tiny.fmlp");

    fn read_err(bytes: &[u8]) -> io::Error {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.fmlp");
        std::fs::write(&path, bytes).unwrap();
        AlignedBytes::read(&path).unwrap_err()
    }

    fn model_error(e: &io::Error) -> Option<Error> {
        e.get_ref()?.downcast_ref::<Error>().copied()
    }

    #[test]
    fn reads_a_model_file_as_from_slice_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.fmlp");
        std::fs::write(&path, GOLDEN).unwrap();
        assert_eq!(
            AlignedBytes::read(&path).unwrap(),
            AlignedBytes::from_slice(GOLDEN)
        );
    }

    #[test]
    fn refuses_from_the_preamble() {
        let e = read_err(b"PNG\r\nnot a model at all");
        assert_eq!(model_error(&e), Some(Error::BadMagic { found: *b"PNG\r" }));
        assert_eq!(
            model_error(&read_err(b"FML")),
            Some(Error::TooShort { found: 3 })
        );
        let mut v9 = GOLDEN.to_vec();
        v9[4] = 9;
        assert_eq!(
            model_error(&read_err(&v9)),
            Some(Error::UnsupportedVersion { found: 9 })
        );
        let cut = &GOLDEN[..GOLDEN.len() - 1];
        assert_eq!(
            model_error(&read_err(cut)),
            Some(Error::LengthMismatch {
                expected: GOLDEN.len() as u32,
                found: cut.len()
            })
        );
        let mut huge = GOLDEN.to_vec();
        huge[8..12].copy_from_slice(&(MAX_FILE_LEN as u32 + 1).to_le_bytes());
        let e = read_err(&huge);
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("64 MiB"), "{e}");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_without_reading_it() {
        for path in ["/dev/zero", "/"] {
            let e = AlignedBytes::read(path).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{path}");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }
}

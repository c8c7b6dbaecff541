//! Decoding one gzipped IDX file: big-endian `u32` header (magic, count, and for images rows
//! and columns), then the `u8` items.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::IdxError;
use crate::layout::{IMAGE_COLS, IMAGE_PIXELS, IMAGE_ROWS};

/// Most bytes one IDX file may decompress to (header included), whatever its header claims.
///
/// The Fashion-MNIST training images decompress to 47,040,016 bytes; the cap bounds memory on a
/// hostile or corrupt file (a gzip bomb, a header claiming 2³² images).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;

/// IDX magic of unsigned-byte data with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic of unsigned-byte data with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads a gzipped IDX image file of 28 × 28 `u8` pixels per image.
///
/// # Shapes
/// Returns `n * 784` bytes, image after image, row-major.
///
/// # Errors
/// [`IdxError::Io`] if the file cannot be read, otherwise as [`decode_images`].
pub fn read_images(path: &Path) -> Result<Vec<u8>, IdxError> {
    decode_images(path, &read_file(path)?)
}

/// Reads a gzipped IDX label file of class indices below `classes`.
///
/// # Errors
/// [`IdxError::Io`] if the file cannot be read, otherwise as [`decode_labels`].
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>, IdxError> {
    decode_labels(path, &read_file(path)?, classes)
}

/// Decodes the gzipped bytes of an image file; `path` only names it in errors.
///
/// # Errors
/// [`IdxError::Gzip`] if it is not valid gzip, [`IdxError::BadMagic`],
/// [`IdxError::BadDimensions`], [`IdxError::Truncated`], [`IdxError::TrailingBytes`] or
/// [`IdxError::TooLarge`] if its content is not a well-formed 28 × 28 image file.
pub fn decode_images(path: &Path, gz: &[u8]) -> Result<Vec<u8>, IdxError> {
    decode(path, gz, Kind::Images)
}

/// Decodes the gzipped bytes of a label file; `path` only names it in errors.
///
/// # Errors
/// As [`decode_images`], plus [`IdxError::BadLabel`] for a value of `classes` or more.
pub fn decode_labels(path: &Path, gz: &[u8], classes: usize) -> Result<Vec<u8>, IdxError> {
    let labels = decode(path, gz, Kind::Labels)?;
    if let Some(index) = labels.iter().position(|&l| usize::from(l) >= classes) {
        return Err(IdxError::BadLabel {
            path: path.to_path_buf(),
            index,
            value: labels[index],
            classes,
        });
    }
    Ok(labels)
}

fn read_file(path: &Path) -> Result<Vec<u8>, IdxError> {
    std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Images,
    Labels,
}

impl Kind {
    const fn magic(self) -> u32 {
        match self {
            Kind::Images => IMAGES_MAGIC,
            Kind::Labels => LABELS_MAGIC,
        }
    }

    /// Magic, count, and for images rows and columns: big-endian `u32`s.
    const fn header_len(self) -> usize {
        match self {
            Kind::Images => 16,
            Kind::Labels => 8,
        }
    }

    const fn item_len(self) -> u64 {
        match self {
            Kind::Images => IMAGE_PIXELS as u64,
            Kind::Labels => 1,
        }
    }
}

/// Decompresses and checks one IDX file; returns the items without the header.
///
/// The header is checked before anything else is read, and no buffer grows past
/// [`MAX_DECOMPRESSED_BYTES`]: reading stops one byte after the declared payload, which also
/// makes the decoder reach the gzip trailer and check its CRC.
fn decode(path: &Path, gz: &[u8], kind: Kind) -> Result<Vec<u8>, IdxError> {
    let gzip_error = |source| IdxError::Gzip {
        path: path.to_path_buf(),
        source,
    };
    let mut decoder = MultiGzDecoder::new(gz);
    let count = read_header(path, &mut decoder, kind)?;
    let header_len = kind.header_len() as u64;
    let too_large = || IdxError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_DECOMPRESSED_BYTES,
    };
    // u32 × 784 cannot overflow u64.
    let payload = u64::from(count) * kind.item_len();
    if payload > MAX_DECOMPRESSED_BYTES - header_len {
        return Err(too_large());
    }
    let payload_len = usize::try_from(payload).map_err(|_| too_large())?;

    let mut data = Vec::with_capacity(payload_len);
    (&mut decoder)
        .take(payload + 1)
        .read_to_end(&mut data)
        .map_err(gzip_error)?;
    if data.len() < payload_len {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            expected: header_len + payload,
            found: header_len + data.len() as u64,
        });
    }
    if data.len() > payload_len {
        let rest = std::io::copy(
            &mut decoder.take(MAX_DECOMPRESSED_BYTES),
            &mut std::io::sink(),
        )
        .map_err(gzip_error)?;
        return Err(IdxError::TrailingBytes {
            path: path.to_path_buf(),
            extra: 1 + rest,
        });
    }
    Ok(data)
}

/// Reads and checks the header; returns the item count.
fn read_header(path: &Path, decoder: &mut impl Read, kind: Kind) -> Result<u32, IdxError> {
    let mut header_buf = [0u8; 16];
    let header = &mut header_buf[..kind.header_len()];
    let got = read_up_to(decoder, header).map_err(|source| IdxError::Gzip {
        path: path.to_path_buf(),
        source,
    })?;
    let word = |i: usize| {
        u32::from_be_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    // The magic comes first, so a file of the wrong kind is named as such even when short.
    if got >= 4 && word(0) != kind.magic() {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            expected: kind.magic(),
            found: word(0),
        });
    }
    if got < header.len() {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            expected: header.len() as u64,
            found: got as u64,
        });
    }
    if kind == Kind::Images && (word(2), word(3)) != (IMAGE_ROWS, IMAGE_COLS) {
        return Err(IdxError::BadDimensions {
            path: path.to_path_buf(),
            rows: word(2),
            cols: word(3),
            expected_rows: IMAGE_ROWS,
            expected_cols: IMAGE_COLS,
        });
    }
    Ok(word(1))
}

/// Fills `buf` as far as the reader allows; returns how many bytes were read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

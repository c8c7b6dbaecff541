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

/// Most bytes one gzipped IDX file may have on disk: the decompressed cap plus 1/8192 of it,
/// room for deflate's stored blocks (5 bytes per 65,535) and the gzip header and trailer, so
/// every single-member file whose content fits [`MAX_DECOMPRESSED_BYTES`] fits this too.
///
/// The file is streamed through the decoder, never read whole first: a longer file is refused
/// from its length (a regular file) or as soon as this many bytes have been read (a pipe).
pub const MAX_COMPRESSED_BYTES: u64 = MAX_DECOMPRESSED_BYTES + (MAX_DECOMPRESSED_BYTES >> 13);

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
    decode(path, open_capped(path)?, Kind::Images)
}

/// Reads a gzipped IDX label file of class indices below `classes`.
///
/// # Errors
/// [`IdxError::Io`] if the file cannot be read, otherwise as [`decode_labels`].
pub fn read_labels(path: &Path, classes: usize) -> Result<Vec<u8>, IdxError> {
    let labels = decode(path, open_capped(path)?, Kind::Labels)?;
    check_labels(path, labels, classes)
}

/// Decodes the gzipped bytes of an image file; `path` only names it in errors.
///
/// # Errors
/// [`IdxError::Gzip`] if it is not valid gzip, [`IdxError::BadMagic`],
/// [`IdxError::BadDimensions`], [`IdxError::Truncated`], [`IdxError::TrailingBytes`] or
/// [`IdxError::TooLarge`] if its content is not a well-formed 28 × 28 image file.
pub fn decode_images(path: &Path, gz: &[u8]) -> Result<Vec<u8>, IdxError> {
    decode(path, capped_slice(path, gz)?, Kind::Images)
}

/// Decodes the gzipped bytes of a label file; `path` only names it in errors.
///
/// # Errors
/// As [`decode_images`], plus [`IdxError::BadLabel`] for a value of `classes` or more.
pub fn decode_labels(path: &Path, gz: &[u8], classes: usize) -> Result<Vec<u8>, IdxError> {
    let labels = decode(path, capped_slice(path, gz)?, Kind::Labels)?;
    check_labels(path, labels, classes)
}

fn check_labels(path: &Path, labels: Vec<u8>, classes: usize) -> Result<Vec<u8>, IdxError> {
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

fn compressed_too_large(path: &Path) -> IdxError {
    IdxError::CompressedTooLarge {
        path: path.to_path_buf(),
        limit: MAX_COMPRESSED_BYTES,
    }
}

fn capped_slice<'a>(path: &Path, gz: &'a [u8]) -> Result<Capped<&'a [u8]>, IdxError> {
    if gz.len() as u64 > MAX_COMPRESSED_BYTES {
        return Err(compressed_too_large(path));
    }
    Ok(Capped::new(gz, MAX_COMPRESSED_BYTES))
}

/// Opens `path` for streaming: a regular file longer than the cap is refused from its length;
/// anything else (a pipe) is cut off by [`Capped`] once it passes the cap.
fn open_capped(path: &Path) -> Result<Capped<std::io::BufReader<std::fs::File>>, IdxError> {
    let io_error = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if meta.is_file() && meta.len() > MAX_COMPRESSED_BYTES {
        return Err(compressed_too_large(path));
    }
    Ok(Capped::new(
        std::io::BufReader::new(file),
        MAX_COMPRESSED_BYTES,
    ))
}

/// A reader that fails with [`OverCap`] rather than give more than `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, cap: u64) -> Self {
        Capped { inner, left: cap }
    }
}

/// The error [`Capped`] reads with once its cap is passed (told apart from the decoder's own).
#[derive(Debug)]
struct OverCap;

impl std::fmt::Display for OverCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("more compressed bytes than the cap")
    }
}

impl std::error::Error for OverCap {}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte beyond the cap tells a file that ends exactly there from a longer one.
        let want = buf
            .len()
            .min(usize::try_from(self.left + 1).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(OverCap));
        }
        self.left -= n as u64;
        Ok(n)
    }
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
fn decode(path: &Path, gz: impl Read, kind: Kind) -> Result<Vec<u8>, IdxError> {
    let gzip_error = |source: std::io::Error| {
        if source.get_ref().is_some_and(|e| e.is::<OverCap>()) {
            compressed_too_large(path)
        } else {
            IdxError::Gzip {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let mut decoder = MultiGzDecoder::new(gz);
    let count = read_header(path, &mut decoder, kind, gzip_error)?;
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
fn read_header(
    path: &Path,
    decoder: &mut impl Read,
    kind: Kind,
    gzip_error: impl Fn(std::io::Error) -> IdxError,
) -> Result<u32, IdxError> {
    let mut header_buf = [0u8; 16];
    let header = &mut header_buf[..kind.header_len()];
    let got = read_up_to(decoder, header).map_err(gzip_error)?;
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

#[cfg(test)]
mod cap_tests {
    use super::*;
    use crate::fixtures::{gzip, idx_labels};

    #[test]
    fn a_stream_past_the_cap_is_cut_off_and_named_so() {
        let gz = gzip(&idx_labels(&[1; 400]));
        let p = Path::new("labels.gz");
        let whole = Capped::new(gz.as_slice(), gz.len() as u64);
        assert_eq!(decode(p, whole, Kind::Labels).expect("fits"), [1; 400]);
        let short = Capped::new(gz.as_slice(), gz.len() as u64 - 1);
        let err = decode(p, short, Kind::Labels).expect_err("one byte over");
        assert!(
            matches!(err, IdxError::CompressedTooLarge { .. }),
            "{err:?}"
        );
    }
}

//! The Fashion-MNIST test files for the firmware's host-side tools: the build script, which
//! embeds test images in the QEMU program, and the `evaluate` example. Both include this file
//! by path (`#[path]`); it is not part of the no_std library. The firmware may not depend on
//! the trainer, which has its own reader for all four files.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

/// The test images: 10,000 × 28 × 28 bytes.
pub const IMAGES_FILE: &str = "t10k-images-idx3-ubyte.gz";
/// The test labels: 10,000 bytes.
pub const LABELS_FILE: &str = "t10k-labels-idx1-ubyte.gz";
/// Names the data directory, as for the trainer.
pub const DIR_VAR: &str = "FASHION_MNIST_DIR";
/// IDX magic of unsigned-byte data with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0803;
/// IDX magic of unsigned-byte data with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0801;
/// The size of one image, after the item count.
pub const IMAGE_DIMS: [u32; 2] = [28, 28];
/// Refuse to decompress more than this (the t10k images are 7.8 MB).
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// The directory holding both test files: `explicit` (with the name errors give it) if given,
/// else `$FASHION_MNIST_DIR` when set (and then only it), else the first of `defaults` that
/// holds both.
///
/// # Errors
/// A named directory without the files, or no default with them, with what to do about it.
pub fn data_dir(explicit: Option<(&Path, &str)>, defaults: &[PathBuf]) -> Result<PathBuf, String> {
    let has_files = |d: &Path| d.join(IMAGES_FILE).is_file() && d.join(LABELS_FILE).is_file();
    let from_env = std::env::var_os(DIR_VAR).map(PathBuf::from);
    let named = explicit
        .map(|(dir, name)| (dir.to_path_buf(), name.to_owned()))
        .or_else(|| from_env.map(|dir| (dir, format!("${DIR_VAR}"))));
    if let Some((dir, name)) = named {
        return if has_files(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{name} {} does not hold {IMAGES_FILE} and {LABELS_FILE}",
                dir.display()
            ))
        };
    }
    defaults
        .iter()
        .find(|d| has_files(d))
        .cloned()
        .ok_or_else(|| {
            let searched: Vec<String> = defaults.iter().map(|d| d.display().to_string()).collect();
            format!(
                "no Fashion-MNIST test set in {}: name a directory with {IMAGES_FILE} and \
             {LABELS_FILE} in ${DIR_VAR}, or `apt-get install dataset-fashion-mnist`",
                searched.join(", ")
            )
        })
}

/// The data bytes of a gzipped IDX file, after checking its header (big-endian magic, item
/// count, then `dims`): all of them, checked against the count, or with `take` only the first
/// `take` bytes, checked to be there.
///
/// # Errors
/// An unreadable or non-gzip file, a wrong magic or dimension, or too few or too many bytes,
/// each naming the file.
pub fn read_idx(
    path: &Path,
    magic: u32,
    dims: &[u32],
    take: Option<usize>,
) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut reader = GzDecoder::new(file).take(MAX_DECOMPRESSED);
    let bad = |what: String| {
        format!(
            "{} is not a Fashion-MNIST IDX file of the expected kind: {what}",
            path.display()
        )
    };
    let mut header = vec![0u8; 8 + 4 * dims.len()];
    reader
        .read_exact(&mut header)
        .map_err(|e| bad(format!("header: {e}")))?;
    let word = |i: usize| {
        u32::from_be_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    if word(0) != magic {
        return Err(bad(format!(
            "magic {:#010x}, expected {magic:#010x}",
            word(0)
        )));
    }
    for (i, &d) in dims.iter().enumerate() {
        if word(2 + i) != d {
            return Err(bad(format!(
                "dimension {} is {}, expected {d}",
                i + 1,
                word(2 + i)
            )));
        }
    }
    let item = u64::from(dims.iter().product::<u32>());
    let recorded = u64::from(word(1)) * item;
    match take {
        Some(n) => {
            if recorded < n as u64 {
                return Err(bad(format!(
                    "{} items of {item} bytes, fewer than the {n} bytes asked for",
                    word(1)
                )));
            }
            let mut data = vec![0u8; n];
            reader
                .read_exact(&mut data)
                .map_err(|e| bad(format!("data: {e}")))?;
            Ok(data)
        }
        None => {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("data: {e}")))?;
            if data.len() as u64 != recorded {
                return Err(bad(format!(
                    "{} data bytes for {} items, expected {recorded}",
                    data.len(),
                    word(1)
                )));
            }
            Ok(data)
        }
    }
}

//! The one error type of the crate: what is wrong with which file or directory.

use std::path::PathBuf;

/// How to get the data; every "not found" error ends with it.
pub const HOW_TO_GET: &str = "to get Fashion-MNIST, run `apt-get install dataset-fashion-mnist`, \
     pass `--data DIR`, or set FASHION_MNIST_DIR to a directory holding the IDX .gz files";

/// Why an IDX file or a data directory could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxError {
    /// A file could not be read.
    #[error("cannot read {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not a valid gzip stream (bad header, bad CRC, truncated, trailing garbage).
    #[error("{}: not a valid gzip file", .path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// A file decompresses, or its header claims it decompresses, to more than the cap.
    #[error("{}: decompresses to more than {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// [`crate::MAX_DECOMPRESSED_BYTES`].
        limit: u64,
    },
    /// A file has more compressed bytes than [`crate::MAX_COMPRESSED_BYTES`].
    #[error("{}: more than {limit} compressed bytes", .path.display())]
    CompressedTooLarge {
        /// The file.
        path: PathBuf,
        /// [`crate::MAX_COMPRESSED_BYTES`].
        limit: u64,
    },
    /// The IDX magic number is not the one for this kind of file.
    #[error("{}: IDX magic is {found:#010x}, expected {expected:#010x}", .path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// `0x00000803` for images, `0x00000801` for labels.
        expected: u32,
        /// What the file holds.
        found: u32,
    },
    /// The images are not of the size asked for.
    #[error("{}: images are {rows}×{cols}, expected {expected_rows}×{expected_cols}", .path.display())]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// Rows in the header.
        rows: u32,
        /// Columns in the header.
        cols: u32,
        /// Rows asked for.
        expected_rows: u32,
        /// Columns asked for.
        expected_cols: u32,
    },
    /// The decompressed file is shorter than its header says.
    #[error(
        "{}: truncated: {found} decompressed bytes, the header needs {expected}",
        .path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies (header included).
        expected: u64,
        /// Bytes the file decompresses to.
        found: u64,
    },
    /// Bytes follow the items the header declares.
    #[error("{}: {extra} bytes of trailing garbage after the data", .path.display())]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// How many (counted up to the cap).
        extra: u64,
    },
    /// A label is not a class index.
    #[error("{}: label {index} is {value}, expected 0..{classes}", .path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
        /// The number of classes.
        classes: usize,
    },
    /// A directory that was named lacks some of the files.
    #[error("{} lacks {}; {HOW_TO_GET}", .dir.display(), .missing.join(", "))]
    MissingFiles {
        /// The directory.
        dir: PathBuf,
        /// The names of the files it lacks.
        missing: Vec<String>,
    },
    /// None of the directories searched holds the files.
    #[error("no directory of {} holds {}; {HOW_TO_GET}", display_paths(.searched), .files.join(", "))]
    NotFound {
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
        /// The files looked for.
        files: Vec<String>,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

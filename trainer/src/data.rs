//! Fashion-MNIST: finding, reading and checking the four IDX `.gz` files.
//!
//! [`FashionMnist::load`] reads the directory it is given, or else looks in `$FASHION_MNIST_DIR`,
//! `./data/fashion-mnist` and `/usr/share/datasets/fashion-mnist` (Debian's
//! `dataset-fashion-mnist`), and downloads the official files (see [`crate::download`]) only when
//! none of those has all four. Every file is checked structurally when read; a malformed file is a
//! [`DataError`] naming the file, never a panic, and no header can make the reader allocate more
//! than [`MAX_DECOMPRESSED_BYTES`].

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::download::{self, OFFICIAL_BASE_URL, OFFICIAL_FILES};

/// Pixels per image (28 × 28).
pub const IMAGE_PIXELS: usize = 784;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;
/// Images at the end of the training file that Keras's `validation_split = 1/6` holds out.
pub const VALIDATION_IMAGES: usize = 10_000;

/// Class names in label order, as the Fashion-MNIST README gives them.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// A set of images with their labels, pixels as raw `u8` (row-major, 784 per image).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// `len() * 784` raw pixels.
    pub images: Vec<u8>,
    /// One label in `0..10` per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The raw pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }
}

/// Images in the official training file.
pub const TRAIN_IMAGES: usize = 60_000;
/// Images in the official test file.
pub const TEST_IMAGES: usize = 10_000;

/// File name of the training images.
pub const TRAIN_IMAGES_FILE: &str = "train-images-idx3-ubyte.gz";
/// File name of the training labels.
pub const TRAIN_LABELS_FILE: &str = "train-labels-idx1-ubyte.gz";
/// File name of the test images.
pub const TEST_IMAGES_FILE: &str = "t10k-images-idx3-ubyte.gz";
/// File name of the test labels.
pub const TEST_LABELS_FILE: &str = "t10k-labels-idx1-ubyte.gz";
/// The four files a data directory must hold.
pub const FILE_NAMES: [&str; 4] = [
    TRAIN_IMAGES_FILE,
    TRAIN_LABELS_FILE,
    TEST_IMAGES_FILE,
    TEST_LABELS_FILE,
];

/// Environment variable naming a directory that holds the four files.
pub const DIR_ENV_VAR: &str = "FASHION_MNIST_DIR";
/// Where [`FashionMnist::load`] looks second and downloads to (relative to the working directory).
pub const DOWNLOAD_DIR: &str = "data/fashion-mnist";
/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Most bytes one IDX file may decompress to (header included), whatever its header claims.
///
/// The real training images decompress to 47,040,016 bytes; the cap bounds memory on a hostile
/// or corrupt file (a gzip bomb, a header claiming 2³² images).
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 20;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const IMAGE_ROWS: u32 = 28;
const IMAGE_COLS: u32 = 28;

/// How to get the data; every "not found" error ends with it.
const HOW_TO_GET: &str = "to get Fashion-MNIST, run `apt-get install dataset-fashion-mnist`, \
     pass `--data DIR`, or set FASHION_MNIST_DIR to a directory holding the four IDX .gz files";

/// Why the data set could not be found, downloaded or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file or directory could not be written (during a download).
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file or directory.
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
        /// [`MAX_DECOMPRESSED_BYTES`].
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
    /// The images are not 28 × 28.
    #[error("{}: images are {rows}×{cols}, expected 28×28", .path.display())]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// Rows in the header.
        rows: u32,
        /// Columns in the header.
        cols: u32,
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
    #[error("{}: label {index} is {value}, expected 0..10", .path.display())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// An image file and its label file disagree on the count.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        .images_path.display(),
        .labels_path.display()
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// Images in it.
        images: usize,
        /// Labels in the other.
        labels: usize,
    },
    /// A file is well formed but not the size of Fashion-MNIST's.
    #[error("{}: {found} images, Fashion-MNIST has {expected}", .path.display())]
    UnexpectedCount {
        /// The image file.
        path: PathBuf,
        /// [`TRAIN_IMAGES`] or [`TEST_IMAGES`].
        expected: usize,
        /// What the file holds.
        found: usize,
    },
    /// A directory given to [`FashionMnist::load_dir`] lacks some of the four files.
    #[error("{} lacks {}; {HOW_TO_GET}", .dir.display(), .missing.join(", "))]
    MissingFiles {
        /// The directory.
        dir: PathBuf,
        /// The names of the files it lacks.
        missing: Vec<&'static str>,
    },
    /// An HTTP request failed (no connection, an error status, a broken body).
    #[error("downloading {url} failed: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A download has the wrong length.
    #[error("{url}: received {found} bytes, expected {expected}")]
    DownloadSize {
        /// The URL.
        url: String,
        /// The official size.
        expected: u64,
        /// What arrived (`expected + 1` means "more than expected").
        found: u64,
    },
    /// A download has the wrong SHA-256.
    #[error("{url}: SHA-256 is {found}, expected {expected}")]
    Checksum {
        /// The URL.
        url: String,
        /// The official digest, hex.
        expected: String,
        /// The digest of what arrived, hex.
        found: String,
    },
    /// No search directory held the four files and the download failed.
    #[error(
        "Fashion-MNIST not found in {} and the download failed; {HOW_TO_GET}",
        display_paths(.searched)
    )]
    NotFound {
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
        /// Why the download failed.
        #[source]
        download: Box<DataError>,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

/// The training and test sets, as the official files hold them (no shuffling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FashionMnist {
    /// The 60,000 training images, in file order.
    pub train: Dataset,
    /// The 10,000 test images, in file order.
    pub test: Dataset,
    /// The directory the files were read from.
    pub source: PathBuf,
}

impl FashionMnist {
    /// Finds (or downloads) and loads the data set.
    ///
    /// With `Some(dir)` (the CLI's `--data DIR`) exactly that directory is read: a directory the
    /// user names is never silently replaced by another. With `None`, the first of
    /// `$FASHION_MNIST_DIR`, [`DOWNLOAD_DIR`] and [`DEBIAN_DIR`] that holds all four files is read;
    /// when none does, the official files are downloaded into [`DOWNLOAD_DIR`] and read from there.
    ///
    /// # Errors
    /// [`DataError::NotFound`] (which says how to get the data) when no directory has the files
    /// and the download fails; any error of [`FashionMnist::load_dir`] for the directory chosen.
    pub fn load(explicit_dir: Option<&Path>) -> Result<Self, DataError> {
        if let Some(dir) = explicit_dir {
            return Self::load_dir(dir);
        }
        let candidates = search_dirs(std::env::var_os(DIR_ENV_VAR));
        load_from(&candidates, Path::new(DOWNLOAD_DIR), |dir| {
            download::download(dir, OFFICIAL_BASE_URL, &OFFICIAL_FILES)
        })
    }

    /// Loads from exactly this directory (no search, no download).
    ///
    /// # Errors
    /// [`DataError::MissingFiles`] if any of the four files is absent; otherwise the errors of
    /// [`read_images`] and [`read_labels`], [`DataError::CountMismatch`] when images and labels
    /// disagree, and [`DataError::UnexpectedCount`] unless there are 60,000 training and 10,000
    /// test images.
    pub fn load_dir(dir: &Path) -> Result<Self, DataError> {
        let missing = missing_files(dir);
        if !missing.is_empty() {
            return Err(DataError::MissingFiles {
                dir: dir.to_path_buf(),
                missing,
            });
        }
        let train = read_pair(dir, TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE, TRAIN_IMAGES)?;
        let test = read_pair(dir, TEST_IMAGES_FILE, TEST_LABELS_FILE, TEST_IMAGES)?;
        Ok(Self {
            train,
            test,
            source: dir.to_path_buf(),
        })
    }

    /// Keras `validation_split = 1/6`: (first 50,000 training images, last 10,000), before any
    /// shuffling.
    ///
    /// A training set of fewer than [`VALIDATION_IMAGES`] images all goes to validation.
    ///
    /// # Panics
    /// Never.
    pub fn split_validation(&self) -> (Dataset, Dataset) {
        let n = self.train.len();
        let cut = n.saturating_sub(VALIDATION_IMAGES);
        (self.train.range(0, cut), self.train.range(cut, n))
    }
}

impl Dataset {
    /// Images `start..end` as a new set; clamped, so a set whose fields disagree cannot panic.
    fn range(&self, start: usize, end: usize) -> Dataset {
        let clamp = |i: usize| i.saturating_mul(IMAGE_PIXELS).min(self.images.len());
        let labels_end = end.min(self.labels.len());
        Dataset {
            images: self.images[clamp(start)..clamp(end).max(clamp(start))].to_vec(),
            labels: self.labels[start.min(labels_end)..labels_end].to_vec(),
        }
    }
}

/// Reads an IDX image file (`.gz`): 28 × 28 `u8` pixels per image.
///
/// # Shapes
/// Returns `n * 784` bytes, image after image, row-major.
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read, [`DataError::Gzip`] if it is not valid gzip,
/// [`DataError::BadMagic`], [`DataError::BadDimensions`], [`DataError::Truncated`],
/// [`DataError::TrailingBytes`] or [`DataError::TooLarge`] if its content is not a well-formed
/// image file.
pub fn read_images(path: &Path) -> Result<Vec<u8>, DataError> {
    let gz = read_file(path)?;
    decode_idx(path, &gz, IdxKind::Images)
}

/// Reads an IDX label file (`.gz`): one class index in `0..10` per image.
///
/// # Errors
/// As [`read_images`], plus [`DataError::BadLabel`] for a value of 10 or more.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let gz = read_file(path)?;
    decode_idx(path, &gz, IdxKind::Labels)
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdxKind {
    Images,
    Labels,
}

impl IdxKind {
    const fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IMAGES_MAGIC,
            IdxKind::Labels => LABELS_MAGIC,
        }
    }

    /// Magic, count, and for images rows and columns: big-endian `u32`s.
    const fn header_len(self) -> usize {
        match self {
            IdxKind::Images => 16,
            IdxKind::Labels => 8,
        }
    }

    const fn item_len(self) -> u64 {
        match self {
            IdxKind::Images => IMAGE_PIXELS as u64,
            IdxKind::Labels => 1,
        }
    }
}

/// Decompresses and checks one IDX file; returns the items without the header.
///
/// The header is checked before anything else is read, and no buffer grows past
/// [`MAX_DECOMPRESSED_BYTES`]: reading stops one byte after the declared payload, which also
/// makes the decoder reach the gzip trailer and check its CRC.
fn decode_idx(path: &Path, gz: &[u8], kind: IdxKind) -> Result<Vec<u8>, DataError> {
    let gzip_error = |source| DataError::Gzip {
        path: path.to_path_buf(),
        source,
    };
    let mut decoder = MultiGzDecoder::new(gz);
    let mut header_buf = [0u8; 16];
    let header = &mut header_buf[..kind.header_len()];
    let got = read_up_to(&mut decoder, header).map_err(gzip_error)?;
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
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected: kind.magic(),
            found: word(0),
        });
    }
    if got < header.len() {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header.len() as u64,
            found: got as u64,
        });
    }
    if kind == IdxKind::Images && (word(2), word(3)) != (IMAGE_ROWS, IMAGE_COLS) {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            rows: word(2),
            cols: word(3),
        });
    }
    let header_len = header.len() as u64;
    let too_large = || DataError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_DECOMPRESSED_BYTES,
    };
    // u32 × 784 cannot overflow u64.
    let payload = u64::from(word(1)) * kind.item_len();
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
        return Err(DataError::Truncated {
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
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            extra: 1 + rest,
        });
    }
    if kind == IdxKind::Labels
        && let Some(index) = data.iter().position(|&l| usize::from(l) >= NUM_CLASSES)
    {
        return Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            value: data[index],
        });
    }
    Ok(data)
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

/// Reads one image file and its label file, and checks they agree and hold `expected` images.
fn read_pair(
    dir: &Path,
    images_name: &str,
    labels_name: &str,
    expected: usize,
) -> Result<Dataset, DataError> {
    let images_path = dir.join(images_name);
    let labels_path = dir.join(labels_name);
    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path)?;
    let count = images.len() / IMAGE_PIXELS;
    if count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path,
            labels_path,
            images: count,
            labels: labels.len(),
        });
    }
    if count != expected {
        return Err(DataError::UnexpectedCount {
            path: images_path,
            expected,
            found: count,
        });
    }
    Ok(Dataset { images, labels })
}

/// The names of the four files that `dir` lacks.
fn missing_files(dir: &Path) -> Vec<&'static str> {
    FILE_NAMES
        .into_iter()
        .filter(|name| !dir.join(name).is_file())
        .collect()
}

/// The directories [`FashionMnist::load`] searches, in order.
fn search_dirs(env_dir: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env_dir
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(PathBuf::from(DOWNLOAD_DIR));
    dirs.push(PathBuf::from(DEBIAN_DIR));
    dirs
}

/// Reads the first candidate holding all four files; failing that, calls `fetch` on
/// `download_dir` and reads from there.
fn load_from(
    candidates: &[PathBuf],
    download_dir: &Path,
    fetch: impl FnOnce(&Path) -> Result<(), DataError>,
) -> Result<FashionMnist, DataError> {
    if let Some(dir) = candidates.iter().find(|d| missing_files(d).is_empty()) {
        return FashionMnist::load_dir(dir);
    }
    match fetch(download_dir) {
        Ok(()) => FashionMnist::load_dir(download_dir),
        Err(e) => Err(DataError::NotFound {
            searched: candidates.to_vec(),
            download: Box::new(e),
        }),
    }
}

/// Test fixtures: IDX files built in code, so no test reads anything it did not make (except the
/// real-data test, which skips itself when the Debian package is absent).
#[cfg(test)]
pub(crate) mod fixtures {
    use std::io::Write;
    use std::path::Path;

    /// Gzips `raw` (one member).
    pub(crate) fn gzip(raw: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(raw).expect("writing to a Vec");
        enc.finish().expect("writing to a Vec")
    }

    /// A raw IDX image file: `n` images, pixel `p` of image `i` is `pixel(i, p)`.
    pub(crate) fn idx_images(n: usize, pixel: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        let count = u32::try_from(n).expect("fixture count fits u32");
        let mut raw = [0x0803_u32, count, 28, 28]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<u8>>();
        raw.extend(
            (0..n)
                .flat_map(|i| (0..super::IMAGE_PIXELS).map(move |p| (i, p)))
                .map(|(i, p)| pixel(i, p)),
        );
        raw
    }

    /// A raw IDX label file.
    pub(crate) fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let count = u32::try_from(labels.len()).expect("fixture count fits u32");
        let mut raw = [0x0801_u32, count]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<u8>>();
        raw.extend_from_slice(labels);
        raw
    }

    /// The pixel pattern of the full-size fixtures: image `i` starts with `i` as two big-endian
    /// bytes, the rest is zero (so the set compresses to a few tens of kB).
    pub(crate) fn marked(i: usize, p: usize) -> u8 {
        match p {
            0 => (i >> 8) as u8,
            1 => i as u8,
            _ => 0,
        }
    }

    /// The four gzipped files of a synthetic set: `n_train` and `n_test` [`marked`] images,
    /// image `i` labelled `i % 10`. Returned as `(name, bytes)` in [`super::FILE_NAMES`] order.
    pub(crate) fn gz_set(n_train: usize, n_test: usize) -> Vec<(&'static str, Vec<u8>)> {
        let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<u8>>();
        vec![
            (super::TRAIN_IMAGES_FILE, gzip(&idx_images(n_train, marked))),
            (
                super::TRAIN_LABELS_FILE,
                gzip(&idx_labels(&labels(n_train))),
            ),
            (super::TEST_IMAGES_FILE, gzip(&idx_images(n_test, marked))),
            (super::TEST_LABELS_FILE, gzip(&idx_labels(&labels(n_test)))),
        ]
    }

    /// Writes [`gz_set`] into `dir`.
    pub(crate) fn write_set(dir: &Path, n_train: usize, n_test: usize) {
        for (name, bytes) in gz_set(n_train, n_test) {
            std::fs::write(dir.join(name), bytes).expect("writing a fixture");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{gz_set, gzip, idx_images, idx_labels, marked, write_set};
    use super::*;

    /// Two 28 × 28 images written out by hand: magic 0x803, count 2, rows 28, cols 28.
    const IMAGES_HEADER: [u8; 16] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    /// Three labels: magic 0x801, count 3, then 0, 9, 5.
    const LABELS_FILE: [u8; 11] = [0, 0, 8, 1, 0, 0, 0, 3, 0, 9, 5];

    fn p() -> &'static Path {
        Path::new("fixture.gz")
    }

    fn images(raw: &[u8]) -> Result<Vec<u8>, DataError> {
        decode_idx(p(), &gzip(raw), IdxKind::Images)
    }

    fn labels(raw: &[u8]) -> Result<Vec<u8>, DataError> {
        decode_idx(p(), &gzip(raw), IdxKind::Labels)
    }

    fn two_images() -> Vec<u8> {
        let mut raw = IMAGES_HEADER.to_vec();
        raw.extend((0..2 * IMAGE_PIXELS).map(|i| (i % 251) as u8));
        raw
    }

    #[test]
    fn golden_files_decode() {
        let raw = two_images();
        assert_eq!(images(&raw).expect("valid"), raw[16..]);
        assert_eq!(labels(&LABELS_FILE).expect("valid"), [0, 9, 5]);
        assert_eq!(
            idx_images(2, |i, p| ((i * IMAGE_PIXELS + p) % 251) as u8),
            raw
        );
        assert_eq!(idx_labels(&[0, 9, 5]), LABELS_FILE);
    }

    #[test]
    fn concatenated_gzip_members_are_one_stream() {
        let raw = two_images();
        let mut gz = gzip(&raw[..100]);
        gz.extend(gzip(&raw[100..]));
        assert_eq!(
            decode_idx(p(), &gz, IdxKind::Images).expect("valid"),
            raw[16..]
        );
    }

    #[test]
    fn wrong_magic() {
        let err = images(&LABELS_FILE).expect_err("a label file is not an image file");
        assert!(matches!(
            err,
            DataError::BadMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ));
        let err = labels(&two_images()).expect_err("an image file is not a label file");
        assert!(matches!(
            err,
            DataError::BadMagic {
                expected: 0x801,
                found: 0x803,
                ..
            }
        ));
    }

    #[test]
    fn wrong_dimensions() {
        let mut raw = two_images();
        raw[15] = 27;
        let err = images(&raw).expect_err("28 x 27");
        assert!(matches!(
            err,
            DataError::BadDimensions {
                rows: 28,
                cols: 27,
                ..
            }
        ));
    }

    #[test]
    fn truncated_payload_and_header() {
        let raw = two_images();
        let err = images(&raw[..raw.len() - 1]).expect_err("one pixel short");
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 1584,
                found: 1583,
                ..
            }
        ));
        let err = labels(&LABELS_FILE[..5]).expect_err("half a header");
        assert!(matches!(
            err,
            DataError::Truncated {
                expected: 8,
                found: 5,
                ..
            }
        ));
    }

    #[test]
    fn trailing_garbage() {
        let mut raw = LABELS_FILE.to_vec();
        raw.extend([1, 2, 3]);
        let err = labels(&raw).expect_err("three extra labels");
        assert!(matches!(err, DataError::TrailingBytes { extra: 3, .. }));

        let mut gz = gzip(&LABELS_FILE);
        gz.extend(b"garbage after the gzip member");
        let err = decode_idx(p(), &gz, IdxKind::Labels).expect_err("not gzip after the member");
        assert!(matches!(err, DataError::Gzip { .. }));
    }

    #[test]
    fn bad_gzip() {
        let err = decode_idx(p(), &LABELS_FILE, IdxKind::Labels).expect_err("not gzipped");
        assert!(matches!(err, DataError::Gzip { .. }));

        // Flip a bit of the CRC-32 in the gzip trailer (the 8 bytes before the last 4).
        let mut gz = gzip(&LABELS_FILE);
        let crc_at = gz.len() - 8;
        gz[crc_at] ^= 1;
        let err = decode_idx(p(), &gz, IdxKind::Labels).expect_err("bad CRC");
        assert!(matches!(err, DataError::Gzip { .. }));
    }

    #[test]
    fn label_out_of_range() {
        let mut raw = LABELS_FILE.to_vec();
        raw[9] = 10;
        let err = labels(&raw).expect_err("label 10");
        assert!(matches!(
            err,
            DataError::BadLabel {
                index: 1,
                value: 10,
                ..
            }
        ));
    }

    #[test]
    fn hostile_count_is_refused_before_allocating() {
        let mut raw = IMAGES_HEADER.to_vec();
        raw[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = images(&raw).expect_err("2^32 images");
        assert!(matches!(err, DataError::TooLarge { .. }));

        // A gzip bomb: a valid header for 1 label followed by 80 MiB of zeros.
        let mut raw = idx_labels(&[3]);
        raw.resize(80 << 20, 0);
        let err = labels(&raw).expect_err("bomb");
        assert!(matches!(err, DataError::TrailingBytes { .. }));
    }

    #[test]
    fn every_prefix_is_an_error_not_a_panic() {
        let raw = idx_images(1, marked);
        for cut in 0..raw.len() {
            assert!(images(&raw[..cut]).is_err(), "raw prefix {cut}");
        }
        let gz = gzip(&raw);
        for cut in 0..gz.len() {
            let result = decode_idx(p(), &gz[..cut], IdxKind::Images);
            assert!(result.is_err(), "gzip prefix {cut}");
        }
    }

    #[test]
    fn errors_name_the_file() {
        let err = images(&LABELS_FILE).expect_err("bad magic");
        let message = err.to_string();
        assert!(message.contains("fixture.gz"), "{message}");
        assert!(message.contains("0x00000801"), "{message}");
    }

    #[test]
    fn read_files_from_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x-images.gz");
        std::fs::write(&path, gzip(&two_images())).expect("write");
        assert_eq!(read_images(&path).expect("valid").len(), 2 * IMAGE_PIXELS);
        let err = read_labels(&dir.path().join("absent.gz")).expect_err("absent");
        assert!(matches!(err, DataError::Io { .. }));
    }

    #[test]
    fn pair_counts_must_agree_and_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (d, im, lb) = (dir.path(), "im.gz", "lb.gz");
        std::fs::write(d.join(im), gzip(&idx_images(3, marked))).expect("write");
        std::fs::write(d.join(lb), gzip(&idx_labels(&[1, 2]))).expect("write");
        let err = read_pair(d, im, lb, 3).expect_err("3 images, 2 labels");
        assert!(matches!(
            err,
            DataError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ));

        std::fs::write(d.join(lb), gzip(&idx_labels(&[1, 2, 3]))).expect("write");
        let err = read_pair(d, im, lb, 4).expect_err("3 images, 4 expected");
        assert!(matches!(
            err,
            DataError::UnexpectedCount {
                expected: 4,
                found: 3,
                ..
            }
        ));
        assert_eq!(read_pair(d, im, lb, 3).expect("valid").len(), 3);
    }

    #[test]
    fn missing_files_say_how_to_get_the_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(TRAIN_LABELS_FILE), b"").expect("write");
        let err = FashionMnist::load_dir(dir.path()).expect_err("three files missing");
        let DataError::MissingFiles { missing, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            *missing,
            [TRAIN_IMAGES_FILE, TEST_IMAGES_FILE, TEST_LABELS_FILE]
        );
        let message = err.to_string();
        assert!(
            message.contains("apt-get install dataset-fashion-mnist"),
            "{message}"
        );
        assert!(
            message.contains("--data DIR") && message.contains(DIR_ENV_VAR),
            "{message}"
        );
    }

    /// A full-size synthetic set: load, then Keras's split at image 50,000.
    #[test]
    fn load_dir_and_split_full_size_fixture() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_set(dir.path(), TRAIN_IMAGES, TEST_IMAGES);
        let data = FashionMnist::load_dir(dir.path()).expect("valid set");
        assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
        assert_eq!(data.source, dir.path());

        let (train, val) = data.split_validation();
        assert_eq!((train.len(), val.len()), (50_000, 10_000));
        assert_eq!(train.images.len(), 50_000 * IMAGE_PIXELS);
        assert_eq!(val.images.len(), 10_000 * IMAGE_PIXELS);
        // Image 50,000 = 0xC350 is the first validation image; its label is 50,000 % 10.
        assert_eq!(val.image(0)[..2], [0xC3, 0x50]);
        assert_eq!(val.labels[0], 0);
        assert_eq!(train.image(49_999)[..2], [0xC3, 0x4F]);
        assert_eq!(val.image(9_999)[..2], [0xEA, 0x5F]); // 59,999
    }

    #[test]
    fn split_never_panics_on_small_or_inconsistent_sets() {
        let mut data = FashionMnist {
            train: Dataset {
                images: vec![0; 3 * IMAGE_PIXELS],
                labels: vec![1, 2, 3],
            },
            test: Dataset::default(),
            source: PathBuf::new(),
        };
        let (train, val) = data.split_validation();
        assert_eq!((train.len(), val.len()), (0, 3));
        data.train.images.truncate(100);
        let (_, val) = data.split_validation();
        assert_eq!(val.images.len(), 100);
    }

    #[test]
    fn search_order() {
        let dirs = search_dirs(Some("/env/dir".into()));
        assert_eq!(
            dirs,
            [
                PathBuf::from("/env/dir"),
                PathBuf::from(DOWNLOAD_DIR),
                PathBuf::from(DEBIAN_DIR)
            ]
        );
        assert_eq!(search_dirs(Some("".into())).len(), 2);
        assert_eq!(search_dirs(None).len(), 2);
    }

    #[test]
    fn load_takes_the_first_complete_directory_without_downloading() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (partial, complete, later) = (
            tmp.path().join("partial"),
            tmp.path().join("complete"),
            tmp.path().join("later"),
        );
        for d in [&partial, &complete, &later] {
            std::fs::create_dir(d).expect("mkdir");
        }
        write_set(&complete, TRAIN_IMAGES, TEST_IMAGES);
        std::fs::write(later.join(TRAIN_IMAGES_FILE), b"not read").expect("write");
        for (name, _) in gz_set(1, 1).into_iter().take(3) {
            std::fs::write(partial.join(name), b"").expect("write");
        }
        let candidates = [partial, complete.clone(), later];
        let data = load_from(&candidates, &tmp.path().join("dl"), |_| {
            panic!("no download when a directory is complete")
        })
        .expect("loads");
        assert_eq!(data.source, complete);
    }

    #[test]
    fn load_downloads_when_nothing_is_found_and_explains_failure() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let candidates = [tmp.path().join("nothing-here")];
        let dl = tmp.path().join("dl");

        let err = load_from(&candidates, &dl, |_| {
            Err(DataError::Download {
                url: "http://127.0.0.1:9/x".into(),
                reason: "refused".into(),
            })
        })
        .expect_err("nothing anywhere");
        let message = err.to_string();
        assert!(message.contains("nothing-here"), "{message}");
        assert!(
            message.contains("apt-get install dataset-fashion-mnist"),
            "{message}"
        );
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("downloading http://127.0.0.1:9/x failed: refused")
        );

        let data = load_from(&candidates, &dl, |dir| {
            std::fs::create_dir_all(dir).expect("mkdir");
            write_set(dir, TRAIN_IMAGES, TEST_IMAGES);
            Ok(())
        })
        .expect("loads what was fetched");
        assert_eq!(data.source, dl);
    }

    /// The real data set, from Debian's `dataset-fashion-mnist` (installed here and in CI).
    #[test]
    fn real_fashion_mnist_from_debian() {
        let dir = Path::new(DEBIAN_DIR);
        if !missing_files(dir).is_empty() {
            eprintln!("skipped: {DEBIAN_DIR} lacks the files; {HOW_TO_GET}");
            return;
        }
        let start = std::time::Instant::now();
        let data = FashionMnist::load_dir(dir).expect("the real data set loads");
        eprintln!("loaded {DEBIAN_DIR} in {:?}", start.elapsed());
        assert_eq!(data.train.len(), 60_000);
        assert_eq!(data.test.len(), 10_000);
        assert_eq!(data.train.images.len(), 60_000 * IMAGE_PIXELS);
        let histogram = |labels: &[u8]| {
            let mut h = [0usize; NUM_CLASSES];
            for &l in labels {
                h[usize::from(l)] += 1;
            }
            h
        };
        assert_eq!(histogram(&data.train.labels), [6_000; NUM_CLASSES]);
        assert_eq!(histogram(&data.test.labels), [1_000; NUM_CLASSES]);
        let (train, val) = data.split_validation();
        assert_eq!((train.len(), val.len()), (50_000, 10_000));
        // The first training image is an ankle boot (label 9).
        assert_eq!(data.train.labels[0], 9);
    }
}

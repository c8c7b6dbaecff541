//! The Fashion-MNIST layout: four gzipped IDX files of 28 × 28 `u8` images and `u8` labels,
//! 60,000 for training and 10,000 for testing, and where they are usually found. MNIST and
//! KMNIST ship in the same layout.

use std::path::{Path, PathBuf};

use crate::error::IdxError;

/// Rows of an image.
pub const IMAGE_ROWS: u32 = 28;
/// Columns of an image.
pub const IMAGE_COLS: u32 = 28;
/// Pixels per image (28 × 28).
pub const IMAGE_PIXELS: usize = 784;
/// Images in the training file.
pub const TRAIN_IMAGES: usize = 60_000;
/// Images in the test file.
pub const TEST_IMAGES: usize = 10_000;

/// File name of the training images.
pub const TRAIN_IMAGES_FILE: &str = "train-images-idx3-ubyte.gz";
/// File name of the training labels.
pub const TRAIN_LABELS_FILE: &str = "train-labels-idx1-ubyte.gz";
/// File name of the test images.
pub const TEST_IMAGES_FILE: &str = "t10k-images-idx3-ubyte.gz";
/// File name of the test labels.
pub const TEST_LABELS_FILE: &str = "t10k-labels-idx1-ubyte.gz";
/// The four files of a data directory.
pub const FILE_NAMES: [&str; 4] = [
    TRAIN_IMAGES_FILE,
    TRAIN_LABELS_FILE,
    TEST_IMAGES_FILE,
    TEST_LABELS_FILE,
];
/// The two files of the test set.
pub const TEST_FILE_NAMES: [&str; 2] = [TEST_IMAGES_FILE, TEST_LABELS_FILE];

/// Environment variable naming a directory that holds the files.
pub const DIR_ENV_VAR: &str = "FASHION_MNIST_DIR";
/// Where the trainer downloads to, relative to the working directory (or workspace root).
pub const DOWNLOAD_DIR: &str = "data/fashion-mnist";
/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names in label order, as its README gives them.
pub const CLASS_NAMES: [&str; 10] = [
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

/// The names in `files` that `dir` lacks.
pub fn missing_files(dir: &Path, files: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|name| !dir.join(name).is_file())
        .map(|name| (*name).to_owned())
        .collect()
}

/// The directory holding all of `files`: `explicit` if given, else `$FASHION_MNIST_DIR` when set
/// (and then only it: a directory the user names is never silently replaced by another), else
/// the first of `defaults` that holds them.
///
/// # Errors
/// [`IdxError::MissingFiles`] for a named directory without the files, [`IdxError::NotFound`]
/// when no default has them; both say how to get the data.
pub fn find_dir(
    explicit: Option<&Path>,
    defaults: &[PathBuf],
    files: &[&str],
) -> Result<PathBuf, IdxError> {
    let from_env = std::env::var_os(DIR_ENV_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    if let Some(dir) = explicit.map(Path::to_path_buf).or(from_env) {
        let missing = missing_files(&dir, files);
        return if missing.is_empty() {
            Ok(dir)
        } else {
            Err(IdxError::MissingFiles { dir, missing })
        };
    }
    defaults
        .iter()
        .find(|d| missing_files(d, files).is_empty())
        .cloned()
        .ok_or_else(|| IdxError::NotFound {
            searched: defaults.to_vec(),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
        })
}

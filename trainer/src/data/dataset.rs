//! Data sets in memory: images with labels, and the training and test sets of a directory of the
//! Fashion-MNIST layout, with Keras's validation split.

use std::path::{Path, PathBuf};

use idx::IdxError;
use idx::layout::{
    FILE_NAMES, IMAGE_PIXELS, TEST_IMAGES, TEST_IMAGES_FILE, TEST_LABELS_FILE, TRAIN_IMAGES,
    TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};
use idx::{missing_files, read_images, read_labels};

use crate::data::error::DataError;
use crate::data::locate::locate;

/// Images at the end of the training file that Keras's `validation_split = 1/6` holds out.
pub const VALIDATION_IMAGES: usize = 10_000;

/// A set of images with their labels, pixels as raw `u8` (row-major, 784 per image).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// `len() * 784` raw pixels.
    pub images: Vec<u8>,
    /// One class index per image.
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
    /// Finds (or downloads) and loads the data set, labels checked to be below `classes`.
    ///
    /// With `Some(dir)` (the CLI's `--data DIR`) exactly that directory is read: a directory the
    /// user names is never silently replaced by another. With `None`, the first of
    /// `$FASHION_MNIST_DIR`, [`DOWNLOAD_DIR`] and [`DEBIAN_DIR`] that holds all four files is read;
    /// when none does, the official files are downloaded into [`DOWNLOAD_DIR`] and read from there.
    ///
    /// # Errors
    /// [`DataError::NotFound`] (which says how to get the data) when no directory has the files
    /// and the download fails; any error of [`FashionMnist::load_dir`] for the directory chosen.
    pub fn load(explicit_dir: Option<&Path>, classes: usize) -> Result<Self, DataError> {
        Self::load_dir(&locate(explicit_dir)?, classes)
    }

    /// Loads from exactly this directory (no search, no download).
    ///
    /// # Errors
    /// [`IdxError::MissingFiles`] if any of the four files is absent; otherwise the errors of
    /// [`idx::read_images`] and [`idx::read_labels`] (a label of `classes` or more included),
    /// [`DataError::CountMismatch`] when images and labels disagree, and
    /// [`DataError::UnexpectedCount`] unless there are 60,000 training and 10,000 test images.
    pub fn load_dir(dir: &Path, classes: usize) -> Result<Self, DataError> {
        let missing = missing_files(dir, &FILE_NAMES);
        if !missing.is_empty() {
            return Err(IdxError::MissingFiles {
                dir: dir.to_path_buf(),
                missing,
            }
            .into());
        }
        let read = |images, labels, expected| read_pair(dir, (images, labels), classes, expected);
        let train = read(TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE, TRAIN_IMAGES)?;
        let test = read(TEST_IMAGES_FILE, TEST_LABELS_FILE, TEST_IMAGES)?;
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

/// Reads one image file and its label file, and checks they agree and hold `expected` images.
pub(crate) fn read_pair(
    dir: &Path,
    (images_name, labels_name): (&str, &str),
    classes: usize,
    expected: usize,
) -> Result<Dataset, DataError> {
    let images_path = dir.join(images_name);
    let labels_path = dir.join(labels_name);
    let images = read_images(&images_path)?;
    let labels = read_labels(&labels_path, classes)?;
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

//! Why a data set could not be found, downloaded or read.

use std::path::PathBuf;

use idx::IdxError;
use idx::error::HOW_TO_GET;

use crate::data::download::DownloadError;

/// Why the data set could not be found, downloaded or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file is missing or is not a well-formed IDX file.
    #[error(transparent)]
    Idx(#[from] IdxError),
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
    /// A file is well formed but not of the Fashion-MNIST layout's size.
    #[error("{}: {found} images, the Fashion-MNIST layout has {expected}", .path.display())]
    UnexpectedCount {
        /// The image file.
        path: PathBuf,
        /// 60,000 or 10,000.
        expected: usize,
        /// What the file holds.
        found: usize,
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
        download: Box<DownloadError>,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

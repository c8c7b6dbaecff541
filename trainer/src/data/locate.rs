//! Finding the data directory: the one the user names, else the first complete one of the usual
//! places, else a checked download of the official files.

use std::path::{Path, PathBuf};

use idx::layout::{
    DEBIAN_DIR, DIR_ENV_VAR, DOWNLOAD_DIR, FILE_NAMES, TEST_IMAGES_FILE, TEST_LABELS_FILE,
    TRAIN_IMAGES_FILE, TRAIN_LABELS_FILE,
};
use idx::missing_files;

use crate::data::download::{DownloadError, RemoteFile, download, hex32};
use crate::data::error::DataError;

/// Zalando's mirror, the one the notebook's Keras downloaded from.
pub const OFFICIAL_BASE_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/// The official `.gz` files with their sizes and SHA-256 digests, as published in
/// tensorflow_datasets' `url_checksums/fashion_mnist.txt`.
///
/// Debian's `dataset-fashion-mnist` recompressed the files (other sizes, other digests, same
/// content), so these apply to downloads only.
pub const OFFICIAL_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: TRAIN_IMAGES_FILE,
        size: 26_421_880,
        sha256: hex32("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    },
    RemoteFile {
        name: TRAIN_LABELS_FILE,
        size: 29_515,
        sha256: hex32("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    },
    RemoteFile {
        name: TEST_IMAGES_FILE,
        size: 4_422_102,
        sha256: hex32("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    },
    RemoteFile {
        name: TEST_LABELS_FILE,
        size: 5_148,
        sha256: hex32("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    },
];

/// The directory to load: `explicit` as given (the CLI's `--data DIR`: a directory the user names
/// is never silently replaced by another); else the first of `$FASHION_MNIST_DIR`,
/// [`DOWNLOAD_DIR`] and [`DEBIAN_DIR`] that holds all four files; else [`DOWNLOAD_DIR`] after
/// downloading the official files into it. Reads no file.
///
/// # Errors
/// [`DataError::NotFound`] (which says how to get the data) when no directory has the files
/// and the download fails.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let candidates = search_dirs(std::env::var_os(DIR_ENV_VAR));
    locate_in(&candidates, Path::new(DOWNLOAD_DIR), |dir| {
        download(dir, OFFICIAL_BASE_URL, &OFFICIAL_FILES)
    })
}

/// The directories [`locate`] searches, in order.
pub(crate) fn search_dirs(env_dir: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env_dir
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(PathBuf::from(DOWNLOAD_DIR));
    dirs.push(PathBuf::from(DEBIAN_DIR));
    dirs
}

/// The first candidate holding all four files; failing that, `download_dir` once `fetch` has
/// filled it.
pub(crate) fn locate_in(
    candidates: &[PathBuf],
    download_dir: &Path,
    fetch: impl FnOnce(&Path) -> Result<(), DownloadError>,
) -> Result<PathBuf, DataError> {
    if let Some(dir) = candidates
        .iter()
        .find(|d| missing_files(d, &FILE_NAMES).is_empty())
    {
        return Ok(dir.clone());
    }
    match fetch(download_dir) {
        Ok(()) => Ok(download_dir.to_path_buf()),
        Err(e) => Err(DataError::NotFound {
            searched: candidates.to_vec(),
            download: Box::new(e),
        }),
    }
}

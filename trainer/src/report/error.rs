//! The one error type of the reports.

use std::io;
use std::path::PathBuf;

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Creating, writing or renaming a file failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// A file's JSON could not be produced or parsed.
    #[error("invalid JSON in {}", path.display())]
    Json {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying serde_json error.
        #[source]
        source: serde_json::Error,
    },
    /// A history has no epochs, so it has nothing to summarise.
    #[error("history of model `{name}` has no epochs")]
    EmptyHistory {
        /// The model's name.
        name: String,
    },
}

//! Why a figure could not be produced.

use std::io;
use std::path::PathBuf;

/// Why a figure could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// A history to plot has no epochs.
    #[error("cannot plot {}: history of model `{name}` has no epochs", path.display())]
    EmptyHistory {
        /// The model whose history is empty.
        name: String,
        /// The figure being drawn.
        path: PathBuf,
    },
    /// No run was given to [`plot_all_variants`].
    #[error("cannot plot {}: no runs given", path.display())]
    NoRuns {
        /// The figure being drawn.
        path: PathBuf,
    },
    /// No per-epoch value to plot is finite.
    #[error("cannot plot {}: no finite per-epoch values", path.display())]
    NoFiniteData {
        /// The figure being drawn.
        path: PathBuf,
    },
    /// The embedded font could not be registered with plotters.
    #[error("cannot load the embedded DejaVu Sans font")]
    Font,
    /// plotters failed while drawing or encoding.
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The figure being drawn.
        path: PathBuf,
        /// plotters' error, as text (its error type is generic over the backend).
        message: String,
    },
    /// Creating the directory, or syncing or renaming the file, failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The figure or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

//! Why the main job failed; each error names the model or the file concerned.

use std::path::PathBuf;

/// Why the main job failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is out of range (checked before any data is loaded).
    #[error(transparent)]
    Settings(crate::training::TrainError),
    /// The learning rate, printed in full in each model file's note, makes the note too long.
    #[error(
        "--learning-rate {learning_rate:e}: the model files' provenance note prints it in full, \
         which makes it {bytes} bytes, and a model file holds at most 255; use a larger rate"
    )]
    NoteTooLong {
        /// The note's length.
        bytes: usize,
        /// The rate.
        learning_rate: f64,
    },
    /// Another trainer holds the output directory.
    #[error(
        "{} is in use by another trainer ({holder}); wait for it to end, or give this run \
         another --out", .out.display()
    )]
    Busy {
        /// The output directory.
        out: PathBuf,
        /// What the holder wrote in the lock file: pid, host, start time, command.
        holder: String,
    },
    /// Finding or loading the data failed.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Training a model failed.
    #[error("training {name}")]
    Train {
        /// The model.
        name: String,
        /// The cause.
        source: crate::training::TrainError,
    },
    /// Exporting a model failed.
    #[error("exporting {name}")]
    Export {
        /// The model.
        name: String,
        /// The cause.
        source: crate::export::ExportError,
    },
    /// Quantizing an exported model to f16 or int8 failed.
    #[error("quantizing {name}")]
    Quantize {
        /// The model.
        name: String,
        /// The cause.
        source: crate::quantize::QuantizeFileError,
    },
    /// Writing histories or summaries failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Drawing a plot failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// A worker process failed or ended without a result.
    #[error("training {name} in a worker process: {reason}")]
    Worker {
        /// The model.
        name: String,
        /// What went wrong, with the worker's own error message when it printed one.
        reason: String,
    },
    /// Creating, locking or tidying an output directory failed.
    #[error("preparing {path}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

//! The one error type of the firmware.

use core::fmt;

/// Why a model cannot be used, or an input cannot be classified.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The model file was refused (corrupt, wrong contract, wider than the buffers, ...).
    Model(model_format::Error),
    /// An `f32` input is NaN or infinite.
    NonFiniteInput {
        /// Index of the first such input.
        index: usize,
    },
}

impl From<model_format::Error> for Error {
    fn from(e: model_format::Error) -> Self {
        Error::Model(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Model(e) => write!(f, "model refused: {e}"),
            Error::NonFiniteInput { index } => write!(f, "input {index} is NaN or infinite"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Model(e) => Some(e),
            Error::NonFiniteInput { .. } => None,
        }
    }
}

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
    /// A layer's storage (f16, int8) is not run by this build yet.
    UnsupportedStorage {
        /// Layer index.
        layer: usize,
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
            Error::UnsupportedStorage { layer } => {
                write!(f, "layer {layer}: this firmware runs f32 layers only")
            }
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Model(e) => Some(e),
            Error::NonFiniteInput { .. } | Error::UnsupportedStorage { .. } => None,
        }
    }
}

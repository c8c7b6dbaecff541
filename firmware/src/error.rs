//! The one error type of the firmware.

use core::fmt;

/// Why a model cannot be used, or an input cannot be classified.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The model file was refused (corrupt, wrong contract, wider than the buffers, ...).
    Model(model_format::Error),
    /// An `f32` input is NaN, infinite, or larger in magnitude than the contract allows (the
    /// model's [`max_input`](model_format::InputSpec::max_input), `255 · scale`).
    InputOutOfRange {
        /// Index of the first such input.
        index: usize,
    },
    /// An int8 model takes raw pixels (`classify_u8`), not scaled f32 inputs.
    NeedsPixels,
    /// An f32 or f16 model needs a [`Scratch`](crate::Scratch), not an
    /// [`Int8Scratch`](crate::Int8Scratch).
    NeedsFloatScratch,
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
            Error::InputOutOfRange { index } => write!(
                f,
                "input {index} is NaN or beyond the contract's ±255 * scale"
            ),
            Error::NeedsPixels => f.write_str("an int8 model classifies raw u8 pixels only"),
            Error::NeedsFloatScratch => {
                f.write_str("an f32 or f16 model needs a Scratch, not an Int8Scratch")
            }
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Model(e) => Some(e),
            Error::InputOutOfRange { .. } | Error::NeedsPixels | Error::NeedsFloatScratch => None,
        }
    }
}

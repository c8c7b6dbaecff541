//! The one error type of this crate.

use core::fmt;

/// Why a byte string is not a usable model file.
///
/// Variants carry small `Copy` context: which layer (0-based), what was expected, what was found.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Shorter than the fixed preamble plus checksum.
    TooShort {
        /// Bytes given.
        found: usize,
    },
    /// The first four bytes are not `FMLP`.
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
    },
    /// The length recorded in the preamble is not the length of the bytes given.
    LengthMismatch {
        /// Length recorded in the file.
        expected: u32,
        /// Bytes given.
        found: usize,
    },
    /// The CRC-32 trailer does not match the bytes: the file is corrupt.
    ChecksumMismatch {
        /// CRC-32 stored in the file.
        expected: u32,
        /// CRC-32 computed over the bytes.
        found: u32,
    },
    /// The header length points past the end of the file.
    HeaderOutOfBounds {
        /// Header length recorded in the preamble.
        header_len: u16,
    },
    /// The postcard header could not be decoded (bad varint, bad UTF-8, unknown enum tag, ...).
    MalformedHeader,
    /// The header decoded but bytes were left over inside its recorded length.
    TrailingHeaderBytes {
        /// Bytes left over.
        found: usize,
    },
    /// Padding between header and data section is not zero.
    NonZeroPadding,
    /// A string is longer than [`MAX_STR_LEN`](crate::MAX_STR_LEN).
    StringTooLong {
        /// Its length in bytes.
        found: usize,
    },
    /// The file names no classes, or more than [`MAX_CLASSES`](crate::MAX_CLASSES).
    BadClassCount {
        /// Classes named.
        found: usize,
    },
    /// The file has no layers, or more than [`MAX_LAYERS`](crate::MAX_LAYERS).
    BadLayerCount {
        /// Layers in the file.
        found: usize,
    },
    /// The input scale is not positive with `255 · scale` finite, or the input has zero pixels.
    BadInput,
    /// The provenance's test accuracy is not a number in `[0, 1]`.
    BadProvenance,
    /// A layer has zero inputs or outputs.
    EmptyLayer {
        /// Layer index.
        layer: usize,
    },
    /// A layer's inputs are not the previous layer's outputs (or, for layer 0, the input pixels).
    ShapeMismatch {
        /// Layer index.
        layer: usize,
        /// Inputs the chain requires.
        expected: u32,
        /// Inputs the layer declares.
        found: u32,
    },
    /// The last layer's outputs are not the number of class names.
    ClassMismatch {
        /// Class names in the file.
        expected: u32,
        /// Outputs of the last layer.
        found: u32,
    },
    /// A hidden layer declares softmax, which only the last layer may have.
    BadActivation {
        /// Layer index.
        layer: usize,
    },
    /// A layer's data block is not where the canonical layout puts it.
    BadOffset {
        /// Layer index.
        layer: usize,
        /// Offset the layout requires, from the data section start: in f32 words in version 1,
        /// in bytes in version 2.
        expected: u32,
        /// Offset the file declares.
        found: u32,
    },
    /// The data section does not hold exactly the bytes the layers declare (or, when encoding,
    /// a layer's slices do not match its dimensions and storage).
    DataLengthMismatch {
        /// Bytes the layers need.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A version-2 layer names a storage this reader does not know.
    UnknownStorage {
        /// Layer index.
        layer: usize,
        /// The storage tag in the file.
        tag: u32,
    },
    /// Some layers are int8 and others are not: an int8 model is integer from input to output.
    MixedStorage {
        /// The first layer whose storage differs from layer 0's.
        layer: usize,
    },
    /// An int8 scale (input, output or weight) is not > 0 with `255 · scale` finite.
    BadScale {
        /// Layer index.
        layer: usize,
    },
    /// An int8 zero point is outside `[-128, 127]`.
    BadZeroPoint {
        /// Layer index.
        layer: usize,
        /// The zero point in the file.
        found: i32,
    },
    /// An int8 layer's input quantization is not the previous layer's output quantization
    /// (for layer 0: not the pixels' `scale` with zero point -128).
    QuantMismatch {
        /// Layer index.
        layer: usize,
    },
    /// A requantization multiplier is outside `[2^30, 2^31)`.
    BadMultiplier {
        /// Layer index.
        layer: usize,
        /// Output row.
        row: usize,
    },
    /// A requantization shift is outside `[MIN_SHIFT, MAX_SHIFT]` of [`quant`](crate::quant).
    BadShift {
        /// Layer index.
        layer: usize,
        /// Output row.
        row: usize,
        /// The shift in the file.
        found: i32,
    },
    /// Padding inside a layer's weights (f16 alignment, int8 tiles) is not zero.
    NonZeroWeightPadding {
        /// Layer index.
        layer: usize,
    },
    /// The model would not fit the format's 4 GiB limit (the file length is a `u32`).
    TooLarge {
        /// Bytes the file would take.
        bytes: u64,
    },
    /// A weight or bias is NaN or infinite.
    NonFinite {
        /// Layer index.
        layer: usize,
        /// Index into the layer's weights, or `weights.len() + i` for bias `i`.
        index: usize,
    },
    /// The bytes do not start on a 4-byte boundary, so weights cannot be lent out as `&[f32]`.
    Misaligned,
    /// A header varint has more bytes than its value needs (postcard's decoder accepts such
    /// overlong varints; this reader does not, so every model has exactly one byte string).
    NonCanonical {
        /// Offset in the file of the first byte that differs from the canonical encoding.
        offset: usize,
    },
    /// A layer's outputs could overflow for some input the contract allows: leave the finite
    /// f32 range (f32 and f16 layers), or the exact i32 range of the accumulator and its
    /// requantization (int8 layers). See `FORMAT.md`, "Activation bounds".
    ActivationOverflow {
        /// Layer index.
        layer: usize,
        /// The first output row whose bound is out of range.
        row: usize,
    },
    /// The model's inputs or classes are not what the caller requires.
    ContractMismatch {
        /// Inputs the caller requires.
        expected_inputs: u32,
        /// Inputs the model takes.
        found_inputs: u32,
        /// Classes the caller requires.
        expected_classes: u32,
        /// Classes the model gives.
        found_classes: u32,
    },
    /// A layer is wider than the caller's activation buffers.
    TooWide {
        /// Layer index.
        layer: usize,
        /// The layer's wider side (inputs or outputs).
        width: u32,
        /// The caller's buffer capacity.
        capacity: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { found } => {
                write!(f, "file too short to be a model ({found} bytes)")
            }
            Error::BadMagic { found } => {
                write!(f, "not a model file: magic {found:02x?}, expected \"FMLP\"")
            }
            Error::UnsupportedVersion { found } => write!(
                f,
                "unsupported format version {found} (this reader knows versions 1 to {})",
                crate::VERSION
            ),
            Error::LengthMismatch { expected, found } => write!(
                f,
                "file length {found} does not match the recorded {expected} (truncated or padded?)"
            ),
            Error::ChecksumMismatch { expected, found } => write!(
                f,
                "checksum mismatch: stored CRC-32 {expected:#010x}, computed {found:#010x} (corrupt file)"
            ),
            Error::HeaderOutOfBounds { header_len } => {
                write!(
                    f,
                    "header length {header_len} runs past the end of the file"
                )
            }
            Error::MalformedHeader => f.write_str("malformed header"),
            Error::TrailingHeaderBytes { found } => {
                write!(f, "{found} unexpected bytes after the header")
            }
            Error::NonZeroPadding => f.write_str("padding before the data section is not zero"),
            Error::StringTooLong { found } => write!(
                f,
                "string of {found} bytes exceeds the limit of {}",
                crate::MAX_STR_LEN
            ),
            Error::BadClassCount { found } => write!(
                f,
                "{found} class names (1 to {} allowed)",
                crate::MAX_CLASSES
            ),
            Error::BadLayerCount { found } => {
                write!(f, "{found} layers (1 to {} allowed)", crate::MAX_LAYERS)
            }
            Error::BadInput => {
                f.write_str("input spec needs pixels > 0 and a scale > 0 with 255 * scale finite")
            }
            Error::BadProvenance => f.write_str("test accuracy is not in [0, 1]"),
            Error::EmptyLayer { layer } => write!(f, "layer {layer} has zero inputs or outputs"),
            Error::ShapeMismatch {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer {layer} takes {found} inputs but the previous stage gives {expected}"
            ),
            Error::ClassMismatch { expected, found } => write!(
                f,
                "last layer gives {found} outputs for {expected} class names"
            ),
            Error::BadActivation { layer } => {
                write!(
                    f,
                    "layer {layer}: softmax is only allowed on the last layer"
                )
            }
            Error::BadOffset {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer {layer}: data offset {found}, the canonical layout needs {expected}"
            ),
            Error::DataLengthMismatch { expected, found } => write!(
                f,
                "data section holds {found} bytes, the layers need {expected}"
            ),
            Error::UnknownStorage { layer, tag } => {
                write!(
                    f,
                    "layer {layer}: unknown storage tag {tag} (0 f32, 1 f16, 2 int8)"
                )
            }
            Error::MixedStorage { layer } => write!(
                f,
                "layer {layer}: int8 and float layers are mixed (an int8 model is int8 throughout)"
            ),
            Error::BadScale { layer } => {
                write!(
                    f,
                    "layer {layer}: an int8 scale is not > 0 with 255 * scale finite"
                )
            }
            Error::BadZeroPoint { layer, found } => {
                write!(
                    f,
                    "layer {layer}: int8 zero point {found} is outside [-128, 127]"
                )
            }
            Error::QuantMismatch { layer } => write!(
                f,
                "layer {layer}: input quantization differs from what the previous stage gives"
            ),
            Error::BadMultiplier { layer, row } => write!(
                f,
                "layer {layer}, row {row}: requantization multiplier outside [2^30, 2^31)"
            ),
            Error::BadShift { layer, row, found } => write!(
                f,
                "layer {layer}, row {row}: requantization shift {found} outside [{}, {}]",
                crate::quant::MIN_SHIFT,
                crate::quant::MAX_SHIFT
            ),
            Error::NonZeroWeightPadding { layer } => {
                write!(f, "layer {layer}: padding inside the weights is not zero")
            }
            Error::TooLarge { bytes } => {
                write!(
                    f,
                    "a model of {bytes} bytes exceeds the format's 4 GiB limit"
                )
            }
            Error::NonFinite { layer, index } => {
                write!(f, "layer {layer}: parameter {index} is NaN or infinite")
            }
            Error::Misaligned => {
                f.write_str("model bytes are not 4-byte aligned (weights are read in place as f32)")
            }
            Error::NonCanonical { offset } => write!(
                f,
                "header byte {offset} is not the canonical encoding (an overlong varint)"
            ),
            Error::ActivationOverflow { layer, row } => write!(
                f,
                "layer {layer}, row {row}: its output could overflow for inputs the contract allows"
            ),
            Error::ContractMismatch {
                expected_inputs,
                found_inputs,
                expected_classes,
                found_classes,
            } => write!(
                f,
                "model maps {found_inputs} inputs to {found_classes} classes, expected {expected_inputs} to {expected_classes}"
            ),
            Error::TooWide {
                layer,
                width,
                capacity,
            } => write!(
                f,
                "layer {layer} is {width} wide, more than the buffer capacity {capacity}"
            ),
        }
    }
}

impl core::error::Error for Error {}

//! The header's field types, exactly as postcard encodes them (see `FORMAT.md`).

use serde::{Deserialize, Serialize};

/// What the device does to a layer's outputs.
///
/// Wire: postcard enum tag as a varint (`None` = 0, `Relu` = 1, `Softmax` = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Identity (a linear layer, or raw logits from the last layer).
    None,
    /// `max(0, x)`; in int8 storage, the clamp at the output zero point.
    Relu,
    /// Softmax over the outputs; only allowed on the last layer.
    Softmax,
}

/// How a version-1 layer's weight matrix is laid out in the data section.
///
/// Wire (version 1 only): postcard enum tag as a varint (`RowMajorOutIn` = 0). In version 2 the
/// layout follows from the layer's [`Storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightLayout {
    /// `weights[o * inputs + i]` multiplies input `i` into output `o` (PyTorch's `[out, in]`;
    /// the transpose of a Keras kernel or a burn `Linear` weight).
    RowMajorOutIn,
}

/// How a layer stores its parameters and computes (format version 2; version 1 is all `F32`).
///
/// Wire: varint tag `F32` = 0, `F16` = 1, `Int8` = 2; an `Int8` tag is followed by two
/// [`Quant`]s (the layer's input, then its output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    /// f32 weights `[outputs][inputs]` and f32 biases; f32 compute.
    F32,
    /// IEEE binary16 weights `[outputs][inputs]` and f32 biases; f32 compute (f16 → f32 is
    /// exact, so a device computes the bits a host computes).
    F16,
    /// TFLite's int8 scheme: symmetric per-row int8 weights, asymmetric int8 activations, int32
    /// biases and a fixed-point requantization per row; integer compute.
    Int8,
}

impl Storage {
    /// The name `trainer quantize --to` and `inspect` use: `f32`, `f16` or `int8`.
    pub const fn name(self) -> &'static str {
        match self {
            Storage::F32 => "f32",
            Storage::F16 => "f16",
            Storage::Int8 => "int8",
        }
    }
}

/// The affine map of an int8 tensor: the real value of `q` is `(q - zero_point) · scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Finite and > 0.
    pub scale: f32,
    /// In `[-128, 127]` (stored as a zigzag varint so a reader can refuse one out of range).
    pub zero_point: i32,
}

/// The input contract: what the first layer expects and how raw pixels map to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Image width in pixels.
    pub width: u16,
    /// Image height in pixels.
    pub height: u16,
    /// A raw `u8` pixel `p` enters the network as `p as f32 * scale` (1/255 for the trainer's
    /// models). An int8 first layer reads it as `p - 128` with this scale and zero point -128,
    /// which is the same real value, exactly.
    pub scale: f32,
}

impl InputSpec {
    /// Pixels per image (`width × height`), the first layer's input count.
    pub const fn pixels(&self) -> u32 {
        self.width as u32 * self.height as u32
    }

    /// The largest input magnitude the contract allows: `255 · scale` rounded to f32, what the
    /// brightest pixel becomes. Every activation bound of [`Model::from_bytes`] starts here, so
    /// f32 inputs (instead of pixels) must lie in `[-max_input, max_input]`. Finite for every
    /// checked model.
    ///
    /// [`Model::from_bytes`]: crate::Model::from_bytes
    pub fn max_input(&self) -> f32 {
        255.0 * self.scale
    }

    /// The int8 view of a raw pixel: `p - 128` with zero point -128 and this scale.
    pub const fn int8_quant(&self) -> Quant {
        Quant {
            scale: self.scale,
            zero_point: PIXEL_ZERO_POINT,
        }
    }
}

/// The zero point of raw `u8` pixels read as int8 (`p - 128`).
pub const PIXEL_ZERO_POINT: i32 = -128;

/// Where a model came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Provenance<'a> {
    /// RNG seed of the training run.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: u32,
    /// Test-set accuracy the trainer measured at export, in `[0, 1]`.
    pub test_accuracy: f32,
    /// Free text: tool version, date, settings.
    pub note: &'a str,
}

/// One layer's entry in a version-1 header. Offsets count f32 words from the data section start.
#[cfg(any(test, feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerDescV1 {
    pub inputs: u32,
    pub outputs: u32,
    pub activation: Activation,
    pub layout: WeightLayout,
    pub weights_offset: u32,
    pub bias_offset: u32,
}

/// A layer's storage as a version-2 header writes it.
#[cfg(any(test, feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) enum StorageDesc {
    F32,
    F16,
    Int8 { input: Quant, output: Quant },
}

/// One layer's entry in a version-2 header. The offset counts bytes from the data section start.
#[cfg(any(test, feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct LayerDescV2 {
    pub inputs: u32,
    pub outputs: u32,
    pub activation: Activation,
    pub storage: StorageDesc,
    pub offset: u32,
}

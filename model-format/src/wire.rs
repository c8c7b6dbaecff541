//! The header's field types, exactly as postcard encodes them (see `FORMAT.md`).

use serde::{Deserialize, Serialize};

/// What the device does to a layer's outputs.
///
/// Wire: postcard enum tag as a varint (`None` = 0, `Relu` = 1, `Softmax` = 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// Identity (a linear layer, or raw logits from the last layer).
    None,
    /// `max(0, x)`.
    Relu,
    /// Softmax over the outputs; only allowed on the last layer.
    Softmax,
}

/// How a layer's weight matrix is laid out in the data section.
///
/// Wire: postcard enum tag as a varint (`RowMajorOutIn` = 0). Only one layout exists today; the
/// field is there so a file states its layout instead of leaving it to convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightLayout {
    /// `weights[o * inputs + i]` multiplies input `i` into output `o` (PyTorch's `[out, in]`;
    /// the transpose of a Keras kernel or a burn `Linear` weight).
    RowMajorOutIn,
}

/// The input contract: what the first layer expects and how raw pixels map to it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Image width in pixels.
    pub width: u16,
    /// Image height in pixels.
    pub height: u16,
    /// A raw `u8` pixel `p` enters the network as `p as f32 * scale` (1/255 for the trainer's
    /// models).
    pub scale: f32,
}

impl InputSpec {
    /// Pixels per image (`width × height`), the first layer's input count.
    pub const fn pixels(&self) -> u32 {
        self.width as u32 * self.height as u32
    }
}

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

/// One layer's entry in the header. Offsets count f32 words from the data section start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerDesc {
    pub inputs: u32,
    pub outputs: u32,
    pub activation: Activation,
    pub layout: WeightLayout,
    pub weights_offset: u32,
    pub bias_offset: u32,
}

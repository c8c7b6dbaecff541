//! Decoding and checking a model file, and the borrowed view the firmware computes with.

use serde::Deserialize;

use crate::wire::{Activation, InputSpec, LayerDesc, Provenance, WeightLayout};
use crate::{
    CHECKSUM_LEN, CRC32, Error, MAGIC, MAX_CLASSES, MAX_LAYERS, MAX_STR_LEN, PREAMBLE_LEN, VERSION,
    align4,
};

/// One dense layer, its parameters borrowed from the file bytes.
///
/// Invariants (checked by [`Model::from_bytes`]): `inputs > 0`, `outputs > 0`,
/// `weights().len() == inputs * outputs`, `bias().len() == outputs`, every value finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer<'a> {
    inputs: usize,
    outputs: usize,
    activation: Activation,
    weights: &'a [f32],
    bias: &'a [f32],
}

impl<'a> Layer<'a> {
    const EMPTY: Layer<'static> = Layer {
        inputs: 0,
        outputs: 0,
        activation: Activation::None,
        weights: &[],
        bias: &[],
    };

    /// Inputs of the layer.
    pub const fn inputs(&self) -> usize {
        self.inputs
    }

    /// Outputs of the layer.
    pub const fn outputs(&self) -> usize {
        self.outputs
    }

    /// What the layer applies to its outputs.
    pub const fn activation(&self) -> Activation {
        self.activation
    }

    /// The weight matrix, in place.
    ///
    /// # Shapes
    /// `[outputs][inputs]`, row-major ([`WeightLayout::RowMajorOutIn`]): row `o` is the
    /// contiguous dot-product partner of the input vector for output `o`.
    pub const fn weights(&self) -> &'a [f32] {
        self.weights
    }

    /// The biases, in place.
    ///
    /// # Shapes
    /// `[outputs]`.
    pub const fn bias(&self) -> &'a [f32] {
        self.bias
    }

    /// The layout of [`weights`](Self::weights); always [`WeightLayout::RowMajorOutIn`] in
    /// format version 1.
    pub const fn layout(&self) -> WeightLayout {
        WeightLayout::RowMajorOutIn
    }
}

/// A checked model file, borrowing everything (strings, weights) from its bytes.
///
/// Built only by [`Model::from_bytes`], so every invariant a device relies on holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model<'a> {
    variant: &'a str,
    provenance: Provenance<'a>,
    input: InputSpec,
    class_names: [&'a str; MAX_CLASSES],
    class_count: usize,
    layers: [Layer<'a>; MAX_LAYERS],
    layer_count: usize,
}

impl<'a> Model<'a> {
    /// Checks a model file and returns a view of it; nothing is copied.
    ///
    /// Checks, in this order: length of the fixed parts, magic, version, recorded file length,
    /// CRC-32, header bounds and padding, the postcard header (string lengths, class and layer
    /// counts), the input spec, that layer shapes chain from the input to the class count, that
    /// each block sits at its canonical offset and the data section has exactly the words
    /// declared, 4-byte alignment, and that every weight and bias is finite.
    ///
    /// # Errors
    /// The first check that fails, as an [`Error`] with its context. Arbitrary bytes give an
    /// error, never a panic, and the work is linear in `bytes.len()`.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let (header, data) = split_file(bytes)?;
        let mut cur = header;

        let variant: &str = take_str(&mut cur)?;
        let provenance: Provenance<'a> = take(&mut cur)?;
        check_str(provenance.note)?;
        if !(0.0..=1.0).contains(&provenance.test_accuracy) {
            return Err(Error::BadProvenance);
        }
        let input: InputSpec = take(&mut cur)?;
        if input.pixels() == 0 || !input.scale.is_finite() || input.scale <= 0.0 {
            return Err(Error::BadInput);
        }

        let class_count = take_count(&mut cur, MAX_CLASSES, |found| Error::BadClassCount {
            found,
        })?;
        let mut class_names = [""; MAX_CLASSES];
        for name in &mut class_names[..class_count] {
            *name = take_str(&mut cur)?;
        }

        let layer_count = take_count(&mut cur, MAX_LAYERS, |found| Error::BadLayerCount { found })?;
        let mut descs = [None; MAX_LAYERS];
        for desc in &mut descs[..layer_count] {
            *desc = Some(take::<LayerDesc>(&mut cur)?);
        }
        if !cur.is_empty() {
            return Err(Error::TrailingHeaderBytes { found: cur.len() });
        }

        let words = (data.len() / 4) as u64;
        let mut expected_inputs = input.pixels();
        let mut cursor: u64 = 0;
        for (layer, desc) in descs[..layer_count].iter().flatten().enumerate() {
            if desc.inputs == 0 || desc.outputs == 0 {
                return Err(Error::EmptyLayer { layer });
            }
            if desc.inputs != expected_inputs {
                return Err(Error::ShapeMismatch {
                    layer,
                    expected: expected_inputs,
                    found: desc.inputs,
                });
            }
            if desc.activation == Activation::Softmax && layer + 1 != layer_count {
                return Err(Error::BadActivation { layer });
            }
            check_offset(layer, cursor, desc.weights_offset)?;
            cursor = cursor.saturating_add(u64::from(desc.inputs) * u64::from(desc.outputs));
            check_offset(layer, cursor, desc.bias_offset)?;
            cursor = cursor.saturating_add(u64::from(desc.outputs));
            if cursor > words {
                return Err(Error::DataLengthMismatch {
                    expected: cursor,
                    found: words,
                });
            }
            expected_inputs = desc.outputs;
        }
        if expected_inputs as usize != class_count {
            return Err(Error::ClassMismatch {
                expected: class_count as u32,
                found: expected_inputs,
            });
        }
        if cursor != words || data.len() % 4 != 0 {
            return Err(Error::DataLengthMismatch {
                expected: cursor,
                found: words,
            });
        }

        let floats: &'a [f32] = bytemuck::try_cast_slice(data).map_err(|_| Error::Misaligned)?;
        let mut layers = [Layer::EMPTY; MAX_LAYERS];
        for (layer, (slot, desc)) in layers.iter_mut().zip(descs.iter().flatten()).enumerate() {
            let (inputs, outputs) = (desc.inputs as usize, desc.outputs as usize);
            // Offsets and lengths were checked against `words` above, so these ranges are in bounds.
            let w_start = desc.weights_offset as usize;
            let b_start = desc.bias_offset as usize;
            let weights = &floats[w_start..w_start + inputs * outputs];
            let bias = &floats[b_start..b_start + outputs];
            if let Some(index) = weights.iter().chain(bias).position(|v| !v.is_finite()) {
                return Err(Error::NonFinite { layer, index });
            }
            *slot = Layer {
                inputs,
                outputs,
                activation: desc.activation,
                weights,
                bias,
            };
        }

        Ok(Model {
            variant,
            provenance,
            input,
            class_names,
            class_count,
            layers,
            layer_count,
        })
    }

    /// Checks that the model maps `inputs` values to `classes` outputs.
    ///
    /// # Errors
    /// [`Error::ContractMismatch`] otherwise.
    pub fn check_contract(&self, inputs: usize, classes: usize) -> Result<(), Error> {
        if self.inputs() == inputs && self.classes() == classes {
            Ok(())
        } else {
            Err(Error::ContractMismatch {
                expected_inputs: inputs as u32,
                found_inputs: self.inputs() as u32,
                expected_classes: classes as u32,
                found_classes: self.classes() as u32,
            })
        }
    }

    /// Checks that every layer's inputs and outputs fit activation buffers of `capacity` values.
    ///
    /// # Errors
    /// [`Error::TooWide`] naming the first layer that does not fit.
    pub fn check_capacity(&self, capacity: usize) -> Result<(), Error> {
        for (layer, l) in self.layers().iter().enumerate() {
            let width = l.inputs.max(l.outputs);
            if width > capacity {
                return Err(Error::TooWide {
                    layer,
                    width: width as u32,
                    capacity,
                });
            }
        }
        Ok(())
    }

    /// The variant name the trainer gave (`vanilla`, `bn`, ...).
    pub const fn variant(&self) -> &'a str {
        self.variant
    }

    /// Seed, epochs, test accuracy and note recorded at export.
    pub const fn provenance(&self) -> &Provenance<'a> {
        &self.provenance
    }

    /// The input contract.
    pub const fn input(&self) -> &InputSpec {
        &self.input
    }

    /// Class names in output order.
    pub fn class_names(&self) -> &[&'a str] {
        &self.class_names[..self.class_count]
    }

    /// The dense layers in order (at least one).
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers[..self.layer_count]
    }

    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers()[0].inputs
    }

    /// Outputs of the last layer (the number of classes).
    pub const fn classes(&self) -> usize {
        self.class_count
    }

    /// The widest layer side (inputs or outputs): the activation buffer capacity it needs.
    pub fn max_width(&self) -> usize {
        self.layers()
            .iter()
            .map(|l| l.inputs.max(l.outputs))
            .max()
            .unwrap_or(0)
    }

    /// Weights plus biases over all layers.
    pub fn param_count(&self) -> usize {
        self.layers()
            .iter()
            .map(|l| l.weights.len() + l.bias.len())
            .sum()
    }
}

/// Checks the fixed parts and returns `(header bytes, data section bytes)`.
fn split_file(bytes: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    if bytes.len() < PREAMBLE_LEN + CHECKSUM_LEN {
        return Err(Error::TooShort { found: bytes.len() });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(Error::UnsupportedVersion { found: version });
    }
    let header_len = u16::from_le_bytes([bytes[6], bytes[7]]);
    let file_len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if file_len as usize != bytes.len() {
        return Err(Error::LengthMismatch {
            expected: file_len,
            found: bytes.len(),
        });
    }
    let (body, trailer) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    let stored = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let computed = CRC32.checksum(body);
    if stored != computed {
        return Err(Error::ChecksumMismatch {
            expected: stored,
            found: computed,
        });
    }
    let header_end = PREAMBLE_LEN + header_len as usize;
    let data_start = align4(header_end);
    if data_start > body.len() {
        return Err(Error::HeaderOutOfBounds { header_len });
    }
    if body[header_end..data_start].iter().any(|&b| b != 0) {
        return Err(Error::NonZeroPadding);
    }
    Ok((&body[PREAMBLE_LEN..header_end], &body[data_start..]))
}

fn take<'a, T: Deserialize<'a>>(cur: &mut &'a [u8]) -> Result<T, Error> {
    let (value, rest) = postcard::take_from_bytes(cur).map_err(|_| Error::MalformedHeader)?;
    *cur = rest;
    Ok(value)
}

fn take_str<'a>(cur: &mut &'a [u8]) -> Result<&'a str, Error> {
    let s: &'a str = take(cur)?;
    check_str(s)?;
    Ok(s)
}

fn check_str(s: &str) -> Result<(), Error> {
    if s.len() > MAX_STR_LEN {
        return Err(Error::StringTooLong { found: s.len() });
    }
    Ok(())
}

/// A postcard sequence length (a varint), read as `u32` on every target and bounded by `max`.
fn take_count(cur: &mut &[u8], max: usize, err: fn(usize) -> Error) -> Result<usize, Error> {
    let n = take::<u32>(cur)? as usize;
    if n == 0 || n > max {
        return Err(err(n));
    }
    Ok(n)
}

fn check_offset(layer: usize, expected: u64, found: u32) -> Result<(), Error> {
    if u64::from(found) != expected {
        return Err(Error::BadOffset {
            layer,
            expected: u32::try_from(expected).unwrap_or(u32::MAX),
            found,
        });
    }
    Ok(())
}

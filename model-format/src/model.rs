//! Checking a model file, and the borrowed view the firmware computes with.
//!
//! Two steps: [`decode`](crate::header) reads the header into plain descriptions (the wire
//! format of each version), then [`bind`] checks how they chain and lends each layer its
//! parameters from the data section.

use crate::bounds;
use crate::header::{Desc, Header, Offsets};
use crate::layout::{BlockLayout, int8_weight_index, round4};
use crate::quant::{MAX_SHIFT, MIN_MULTIPLIER, MIN_SHIFT};
use crate::wire::{Activation, InputSpec, PIXEL_ZERO_POINT, Provenance, Quant, Storage};
use crate::{
    CHECKSUM_LEN, CRC32, Error, MAGIC, MAX_CLASSES, MAX_LAYERS, PREAMBLE_LEN, VERSION, align4,
    f16_to_f32,
};

/// The parameters of an int8 layer (TFLite's int8 scheme), borrowed from the file.
///
/// For row `o`: `acc = bias[o] + Σ_i weight(o, i) · (x[i] − input.zero_point)`, then
/// `y = output.zero_point + multiply_by_quantized_multiplier(acc, multiplier[o], shift[o])`
/// (see [`quant`](crate::quant)), clamped to `[-128, 127]`, and for ReLU to
/// `[output.zero_point, 127]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Params<'a> {
    /// The quantization of the layer's input.
    pub input: Quant,
    /// The quantization of the layer's output.
    pub output: Quant,
    /// # Shapes
    /// The blocked layout of [`int8_weight_index`](crate::int8_weight_index):
    /// `round4(outputs) · round4(inputs)` bytes, padding zero.
    pub weights: &'a [i8],
    /// # Shapes
    /// `[outputs]`, in units of `input.scale · weight_scale[o]`.
    pub bias: &'a [i32],
    /// # Shapes
    /// `[outputs]`, each in `[2^30, 2^31)`: the Q31 mantissa of
    /// `input.scale · weight_scale[o] / output.scale`.
    pub multiplier: &'a [i32],
    /// # Shapes
    /// `[outputs]`, each in `[MIN_SHIFT, MAX_SHIFT]`: that real's power of two.
    pub shift: &'a [i32],
    /// # Shapes
    /// `[outputs]`: the real value of weight `q` in row `o` is `q · weight_scale[o]`
    /// (symmetric, zero point 0). Not needed on a device; kept for tools.
    pub weight_scale: &'a [f32],
}

impl Int8Params<'_> {
    /// Weight `[o][i]` of a layer with `inputs` inputs (0 for padding).
    ///
    /// # Panics
    /// If `(o, i)` lies outside the padded matrix.
    pub fn weight(&self, o: usize, i: usize, inputs: usize) -> i8 {
        self.weights[int8_weight_index(o, i, inputs)]
    }
}

/// A layer's parameters in its storage, borrowed from the file bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Params<'a> {
    /// f32 weights and biases.
    F32 {
        /// # Shapes
        /// `[outputs][inputs]`, row-major: row `o` is the contiguous dot-product partner of the
        /// input vector for output `o` (PyTorch's `nn.Linear.weight` as is; the transpose of a
        /// Keras kernel or a burn `Linear` weight).
        weights: &'a [f32],
        /// # Shapes
        /// `[outputs]`.
        bias: &'a [f32],
    },
    /// IEEE binary16 weights (bit patterns), f32 biases.
    F16 {
        /// # Shapes
        /// `[outputs][inputs]`, row-major, as for `F32`.
        weights: &'a [u16],
        /// # Shapes
        /// `[outputs]`.
        bias: &'a [f32],
    },
    /// int8 weights and activations.
    Int8(Int8Params<'a>),
}

impl<'a> Params<'a> {
    /// `(weights, bias)` of f32 parameters; `None` for other storages.
    pub const fn f32(&self) -> Option<(&'a [f32], &'a [f32])> {
        match *self {
            Params::F32 { weights, bias } => Some((weights, bias)),
            _ => None,
        }
    }

    /// The storage these parameters are in.
    pub const fn storage(&self) -> Storage {
        match self {
            Params::F32 { .. } => Storage::F32,
            Params::F16 { .. } => Storage::F16,
            Params::Int8(_) => Storage::Int8,
        }
    }
}

/// One dense layer, its parameters borrowed from the file bytes.
///
/// Invariants (checked by [`Model::from_bytes`]): `inputs > 0`, `outputs > 0`, the parameter
/// slices have the lengths their storage gives, every float finite, every int8 field in range.
///
/// Kept small (a device holds eight of them in RAM): the parameters are two byte runs of the
/// file, and [`params`](Self::params) lends them out typed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer<'a> {
    inputs: u32,
    outputs: u32,
    activation: Activation,
    storage: Storage,
    /// `(input, output)` quantization of an int8 layer; unused otherwise.
    quant: [Quant; 2],
    /// The weights, padding included.
    weights: &'a [u8],
    /// The per-row words: the bias, and for int8 the multiplier, shift and weight scale.
    rows: &'a [u32],
}

impl<'a> Layer<'a> {
    const EMPTY: Layer<'static> = Layer {
        inputs: 0,
        outputs: 0,
        activation: Activation::None,
        storage: Storage::F32,
        quant: [Quant {
            scale: 1.0,
            zero_point: 0,
        }; 2],
        weights: &[],
        rows: &[],
    };

    /// Inputs of the layer.
    pub const fn inputs(&self) -> usize {
        self.inputs as usize
    }

    /// Outputs of the layer.
    pub const fn outputs(&self) -> usize {
        self.outputs as usize
    }

    /// What the layer applies to its outputs.
    pub const fn activation(&self) -> Activation {
        self.activation
    }

    /// The parameters, in place, typed by their storage.
    ///
    /// # Panics
    /// Never: the lengths and alignment were checked at load (a slice that could not be lent
    /// out would come back empty, which the load already excluded).
    pub fn params(&self) -> Params<'a> {
        let o = self.outputs();
        let row = |k: usize| self.rows.get(k * o..(k + 1) * o).unwrap_or(&[]);
        let f32s = |w: &'a [u32]| -> &'a [f32] { bytemuck::cast_slice(w) };
        match self.storage {
            Storage::F32 => Params::F32 {
                weights: bytemuck::try_cast_slice(self.weights).unwrap_or(&[]),
                bias: f32s(row(0)),
            },
            Storage::F16 => {
                let used = self.weights.get(..2 * self.inputs() * o).unwrap_or(&[]);
                Params::F16 {
                    weights: bytemuck::try_cast_slice(used).unwrap_or(&[]),
                    bias: f32s(row(0)),
                }
            }
            Storage::Int8 => Params::Int8(Int8Params {
                input: self.quant[0],
                output: self.quant[1],
                weights: bytemuck::cast_slice(self.weights),
                bias: bytemuck::cast_slice(row(0)),
                multiplier: bytemuck::cast_slice(row(1)),
                shift: bytemuck::cast_slice(row(2)),
                weight_scale: f32s(row(3)),
            }),
        }
    }

    /// How the parameters are stored.
    pub const fn storage(&self) -> Storage {
        self.storage
    }

    /// Weights plus biases (the real ones, not the padding).
    pub const fn param_count(&self) -> usize {
        self.inputs() * self.outputs() + self.outputs()
    }
}

/// A checked model file, borrowing everything (strings, weights) from its bytes.
///
/// Built only by [`Model::from_bytes`], so every invariant a device relies on holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model<'a> {
    version: u16,
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
    /// counts, storage tags), the input spec, that layer shapes chain from the input to the
    /// class count, that int8 layers form the whole model and their quantizations chain, that
    /// each block sits at its canonical offset and the data section has exactly the bytes
    /// declared, 4-byte alignment, each layer's values (finite floats, int8 ranges, zero
    /// padding), that the header is the one canonical encoding of its values (no overlong
    /// varint), and that every layer's activations stay finite (f32, f16) or exact (int8) for
    /// every input the contract allows (interval bounds, module `bounds`). `FORMAT.md` lists
    /// every check.
    ///
    /// # Errors
    /// The first check that fails, as an [`Error`] with its context. Arbitrary bytes give an
    /// error, never a panic, and the work is linear in `bytes.len()`.
    // Always inlined: as a frame of its own under the caller's (which holds the returned view)
    // it made the Cortex-M0 board program's stack 4,492 bytes instead of 3,796 (measured).
    #[inline(always)]
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let (version, header_bytes, data) = split_file(bytes)?;
        // Borrowed where it was decoded: `?` would move the ~0.7 KiB header into a second slot
        // of this frame (stack matters on a 16 KiB Cortex-M0).
        let decoded = Header::decode(version, header_bytes);
        let header = match &decoded {
            Ok(header) => header,
            Err(e) => return Err(*e),
        };
        let layers = bind(header, data)?;
        // Before the view is built, on the bound layers: the view is then built once, in the
        // caller's slot, and this frame holds no copy of it.
        check_bounds(
            &header.input,
            layers.get(..header.layer_count).unwrap_or(&[]),
        )?;
        // The layer descriptions are not kept: a device holds the model view in RAM.
        Ok(Model {
            version,
            variant: header.variant,
            provenance: header.provenance,
            input: header.input,
            class_names: header.class_names,
            class_count: header.class_count,
            layers,
            layer_count: header.layer_count,
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

    /// Checks that every layer's inputs and outputs fit activation buffers of `capacity` values
    /// (for int8 layers, both sides rounded up to a multiple of 4: the kernel reads whole tiles).
    ///
    /// # Errors
    /// [`Error::TooWide`] naming the first layer that does not fit.
    pub fn check_capacity(&self, capacity: usize) -> Result<(), Error> {
        for (layer, l) in self.layers().iter().enumerate() {
            let width = layer_width(l);
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

    /// The format version of the file (1 or 2).
    pub const fn version(&self) -> u16 {
        self.version
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
        self.layers.get(..self.layer_count).unwrap_or(&[])
    }

    /// Whether the model computes in integers ([`Storage::Int8`]; then every layer is int8).
    pub fn is_int8(&self) -> bool {
        self.layers[0].storage() == Storage::Int8
    }

    /// Inputs of the first layer.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs()
    }

    /// Outputs of the last layer (the number of classes).
    pub const fn classes(&self) -> usize {
        self.class_count
    }

    /// The activation buffer capacity the model needs: its widest layer side, for int8
    /// rounded up to a multiple of 4 (see [`check_capacity`](Self::check_capacity)).
    pub fn max_width(&self) -> usize {
        self.layers().iter().map(layer_width).max().unwrap_or(0)
    }

    /// Weights plus biases over all layers.
    pub fn param_count(&self) -> usize {
        self.layers().iter().map(Layer::param_count).sum()
    }
}

/// The activation bounds of [`bounds`] through every layer, from the input contract.
///
/// Not inlined: its frame then comes and goes after the header's decoding and binding instead
/// of adding to `from_bytes`'s (stack matters on a 16 KiB Cortex-M0).
#[inline(never)]
fn check_bounds(input: &InputSpec, layers: &[Layer<'_>]) -> Result<(), Error> {
    let mut x = input.max_input();
    // The int8 input's lowest value: the pixels' p − 128 reach −128.
    let mut lo = PIXEL_ZERO_POINT;
    for (index, layer) in layers.iter().enumerate() {
        let n = layer.inputs();
        match layer.params() {
            Params::F32 { weights, bias } => {
                x = bounds::float_layer(index, n, weights, bias, |&w| w.abs(), x)?;
            }
            Params::F16 { weights, bias } => {
                let abs = |&h: &u16| f16_to_f32(h & 0x7fff);
                x = bounds::float_layer(index, n, weights, bias, abs, x)?;
            }
            Params::Int8(p) => {
                let input = (p.input.zero_point, lo);
                bounds::int8_layer(index, n, p.weights, p.bias, p.shift, input)?;
                lo = if layer.activation() == Activation::Relu {
                    p.output.zero_point
                } else {
                    -128
                };
            }
        }
    }
    Ok(())
}

fn layer_width(l: &Layer<'_>) -> usize {
    let width = l.inputs().max(l.outputs());
    if l.storage() == Storage::Int8 {
        round4(width)
    } else {
        width
    }
}

/// Checks the fixed parts and returns `(version, header bytes, data section bytes)`.
fn split_file(bytes: &[u8]) -> Result<(u16, &[u8], &[u8]), Error> {
    if bytes.len() < PREAMBLE_LEN + CHECKSUM_LEN {
        return Err(Error::TooShort { found: bytes.len() });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if !(1..=VERSION).contains(&version) {
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
    let (Some(header), Some(padding), Some(data)) = (
        body.get(PREAMBLE_LEN..header_end),
        body.get(header_end..data_start),
        body.get(data_start..),
    ) else {
        return Err(Error::HeaderOutOfBounds { header_len });
    };
    if padding.iter().any(|&b| b != 0) {
        return Err(Error::NonZeroPadding);
    }
    Ok((version, header, data))
}

/// Checks how the layers chain and lends each its parameters from `data`.
fn bind<'a>(header: &Header<'a>, data: &'a [u8]) -> Result<[Layer<'a>; MAX_LAYERS], Error> {
    let descs = header.layers();
    check_chain(header, descs)?;
    let mut layers = [Layer::EMPTY; MAX_LAYERS];
    let mut cursor: u64 = 0;
    let total = data.len() as u64;
    for (layer, (slot, desc)) in layers.iter_mut().zip(descs).enumerate() {
        let block = BlockLayout::new(desc.storage, desc.inputs, desc.outputs);
        check_offset(layer, cursor, block, desc.offsets)?;
        let end = cursor.saturating_add(block.len());
        if end > total {
            return Err(Error::DataLengthMismatch {
                expected: end,
                found: total,
            });
        }
        // `cursor ≤ end ≤ data.len()`, so both fit in usize and the range is in bounds (`get`
        // spares the optimiser a panic path it cannot rule out: see the panic check).
        let bytes = data.get(cursor as usize..end as usize).unwrap_or(&[]);
        *slot = bind_layer(layer, desc, block, bytes)?;
        cursor = end;
    }
    if cursor != total {
        return Err(Error::DataLengthMismatch {
            expected: cursor,
            found: total,
        });
    }
    Ok(layers)
}

/// Shapes chain from the input to the classes; softmax only last; int8 all or nothing, with
/// each layer's input quantization the previous output's (the pixels' for layer 0).
fn check_chain(header: &Header<'_>, descs: &[Desc]) -> Result<(), Error> {
    let mut expected_inputs = header.input.pixels();
    let mut expected_quant = header.input.int8_quant();
    let int8 = descs.first().is_some_and(|d| d.storage == Storage::Int8);
    for (layer, desc) in descs.iter().enumerate() {
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
        if desc.activation == Activation::Softmax && layer + 1 != descs.len() {
            return Err(Error::BadActivation { layer });
        }
        if (desc.storage == Storage::Int8) != int8 {
            return Err(Error::MixedStorage { layer });
        }
        if let Some((input, output)) = desc.quant {
            for q in [input, output] {
                check_quant(layer, q)?;
            }
            if !same_quant(input, expected_quant) {
                return Err(Error::QuantMismatch { layer });
            }
            expected_quant = output;
        }
        expected_inputs = desc.outputs;
    }
    if expected_inputs as usize != header.class_count {
        return Err(Error::ClassMismatch {
            expected: header.class_count as u32,
            found: expected_inputs,
        });
    }
    Ok(())
}

fn check_quant(layer: usize, q: Quant) -> Result<(), Error> {
    if !good_scale(q.scale) {
        return Err(Error::BadScale { layer });
    }
    if !(-128..=127).contains(&q.zero_point) {
        return Err(Error::BadZeroPoint {
            layer,
            found: q.zero_point,
        });
    }
    Ok(())
}

/// Bit equality: a reader must not depend on how a float compares.
fn same_quant(a: Quant, b: Quant) -> bool {
    a.scale.to_bits() == b.scale.to_bits() && a.zero_point == b.zero_point
}

fn check_offset(
    layer: usize,
    cursor: u64,
    block: BlockLayout,
    found: Offsets,
) -> Result<(), Error> {
    let (expected, found) = match found {
        // Version 1 counts f32 words; its blocks are f32 weights then f32 biases.
        Offsets::V1 { weights, bias } => {
            let w = cursor / 4;
            if u64::from(weights) != w {
                (w, weights)
            } else {
                (w + block.weights / 4, bias)
            }
        }
        Offsets::V2 { block } => (cursor, block),
    };
    if u64::from(found) != expected {
        return Err(Error::BadOffset {
            layer,
            expected: u32::try_from(expected).unwrap_or(u32::MAX),
            found,
        });
    }
    Ok(())
}

/// Lends one layer its parameters from its block (`bytes.len() == block.len()`) and checks
/// their values.
fn bind_layer<'a>(
    layer: usize,
    desc: &Desc,
    block: BlockLayout,
    bytes: &'a [u8],
) -> Result<Layer<'a>, Error> {
    // The block's length was checked, so this split is in bounds.
    let (weights, rows) = bytes
        .split_at_checked(block.weights as usize)
        .ok_or(Error::MalformedHeader)?;
    let rows: &'a [u32] = bytemuck::try_cast_slice(rows).map_err(|_| Error::Misaligned)?;
    let quant = desc.quant.map_or([header_quant(); 2], |(i, o)| [i, o]);
    let bound = Layer {
        inputs: desc.inputs,
        outputs: desc.outputs,
        activation: desc.activation,
        storage: desc.storage,
        quant,
        weights,
        rows,
    };
    if desc.storage != Storage::Int8 && bytemuck::try_cast_slice::<u8, u32>(weights).is_err() {
        return Err(Error::Misaligned);
    }
    match bound.params() {
        Params::F32 { weights, bias } => check_finite(layer, weights.iter().chain(bias).copied())?,
        Params::F16 {
            weights: halves,
            bias,
        } => {
            let padding = weights.get(block.weights_used as usize..).unwrap_or(&[]);
            if padding.iter().any(|&b| b != 0) {
                return Err(Error::NonZeroWeightPadding { layer });
            }
            // binary16 exponent all ones: infinity or NaN.
            if let Some(index) = halves.iter().position(|w| w & 0x7c00 == 0x7c00) {
                return Err(Error::NonFinite { layer, index });
            }
            check_finite(layer, bias.iter().copied()).map_err(|e| shift_index(e, halves.len()))?;
        }
        Params::Int8(p) => {
            check_int8_padding(layer, p.weights, bound.inputs(), bound.outputs())?;
            check_requant(layer, &p)?;
        }
    }
    Ok(bound)
}

/// Never reached: a decoded int8 layer always carries its quantization.
const fn header_quant() -> Quant {
    Quant {
        scale: 1.0,
        zero_point: 0,
    }
}

fn check_finite(layer: usize, values: impl Iterator<Item = f32>) -> Result<(), Error> {
    let mut values = values;
    match values.position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite { layer, index }),
        None => Ok(()),
    }
}

/// Renumbers a bias index to follow `weights` weights (the `NonFinite` convention).
fn shift_index(e: Error, weights: usize) -> Error {
    match e {
        Error::NonFinite { layer, index } => Error::NonFinite {
            layer,
            index: weights + index,
        },
        other => other,
    }
}

fn check_int8_padding(
    layer: usize,
    weights: &[i8],
    inputs: usize,
    outputs: usize,
) -> Result<(), Error> {
    let (i4, o4) = (round4(inputs), round4(outputs));
    for o in 0..o4 {
        let pad_cols = if o < outputs { inputs..i4 } else { 0..i4 };
        for i in pad_cols {
            if weights.get(int8_weight_index(o, i, inputs)) != Some(&0) {
                return Err(Error::NonZeroWeightPadding { layer });
            }
        }
    }
    Ok(())
}

fn check_requant(layer: usize, p: &Int8Params<'_>) -> Result<(), Error> {
    for (row, (&m, &s)) in p.multiplier.iter().zip(p.shift).enumerate() {
        if m < MIN_MULTIPLIER {
            return Err(Error::BadMultiplier { layer, row });
        }
        if !(MIN_SHIFT..=MAX_SHIFT).contains(&s) {
            return Err(Error::BadShift {
                layer,
                row,
                found: s,
            });
        }
    }
    if !p.weight_scale.iter().all(|&s| good_scale(s)) {
        return Err(Error::BadScale { layer });
    }
    Ok(())
}

/// An int8 scale: > 0, and every 8-bit code's real value finite (`255 · scale`, the widest
/// `q − zero_point`, does not overflow f32).
fn good_scale(scale: f32) -> bool {
    scale > 0.0 && (255.0 * scale).is_finite()
}

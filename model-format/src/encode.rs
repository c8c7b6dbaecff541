//! The encoder (feature `std`): lays a model out exactly as [`Model::from_bytes`] reads it.

use serde::Serialize;

use crate::layout::{BlockLayout, int8_weight_index, round4};
use crate::model::{Int8Params, Params};
use crate::wire::{
    Activation, InputSpec, LayerDescV1, LayerDescV2, Provenance, Storage, StorageDesc, WeightLayout,
};
use crate::{
    AlignedBytes, CHECKSUM_LEN, CRC32, Error, MAGIC, MAX_CLASSES, MAX_LAYERS, MAX_STR_LEN, Model,
    PREAMBLE_LEN, VERSION, align4,
};

/// One dense layer to encode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerSpec<'s> {
    /// Inputs of the layer.
    pub inputs: u32,
    /// Outputs of the layer.
    pub outputs: u32,
    /// What the device applies to the outputs.
    pub activation: Activation,
    /// The parameters in their storage, laid out as [`Layer::params`](crate::Layer::params)
    /// lends them (int8 weights already blocked: see [`block_int8`]).
    pub params: Params<'s>,
}

impl<'s> LayerSpec<'s> {
    /// An f32 layer.
    ///
    /// # Shapes
    /// `weights`: `[outputs][inputs]`, row-major (the transpose of a Keras kernel or burn
    /// `Linear` weight; PyTorch's `[out, in]` as is); `bias`: `[outputs]`.
    pub const fn f32(
        inputs: u32,
        outputs: u32,
        activation: Activation,
        weights: &'s [f32],
        bias: &'s [f32],
    ) -> Self {
        LayerSpec {
            inputs,
            outputs,
            activation,
            params: Params::F32 { weights, bias },
        }
    }
}

/// Everything a model file holds, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSpec<'s> {
    /// Variant name (`vanilla`, `bn`, ...).
    pub variant: &'s str,
    /// Seed, epochs, test accuracy, note.
    pub provenance: Provenance<'s>,
    /// The input contract.
    pub input: InputSpec,
    /// Class names in output order.
    pub class_names: &'s [&'s str],
    /// Dense layers in order.
    pub layers: &'s [LayerSpec<'s>],
}

/// The header as postcard encodes it; the decoder reads the same bytes field by field.
#[derive(Serialize)]
struct Header<'s, L> {
    variant: &'s str,
    provenance: Provenance<'s>,
    input: InputSpec,
    class_names: &'s [&'s str],
    layers: &'s [L],
}

/// Lays row-major `[outputs][inputs]` int8 weights out in the blocked tiles of
/// [`int8_weight_index`], padding with zeros.
///
/// # Shapes
/// `row_major.len() == inputs · outputs`; the result has `round4(outputs) · round4(inputs)`
/// bytes.
///
/// # Panics
/// If `row_major` is shorter than `inputs · outputs`.
pub fn block_int8(row_major: &[i8], inputs: usize, outputs: usize) -> Vec<i8> {
    let mut out = vec![0i8; round4(outputs) * round4(inputs)];
    for o in 0..outputs {
        for i in 0..inputs {
            out[int8_weight_index(o, i, inputs)] = row_major[o * inputs + i];
        }
    }
    out
}

/// Encodes a model file and checks it by decoding it back.
///
/// Writes format version 1 when every layer is f32 (so readers of version 1 keep reading
/// such files), version 2 otherwise.
///
/// # Errors
/// Any [`Error`] that [`Model::from_bytes`] would report for the result (shapes that do not
/// chain, non-finite values, too many layers or classes, over-long strings, int8 fields out of
/// range, ...), [`Error::DataLengthMismatch`] for a layer whose slices do not match its
/// dimensions, and [`Error::TooLarge`] for a model over the format's 4 GiB. Nothing invalid is
/// ever returned.
pub fn encode(spec: &ModelSpec<'_>) -> Result<AlignedBytes, Error> {
    check_counts(spec)?;
    let mut blocks = Vec::with_capacity(spec.layers.len());
    let mut total: u64 = 0;
    for layer in spec.layers {
        let block = BlockLayout::new(layer.params.storage(), layer.inputs, layer.outputs);
        check_lengths(layer, block)?;
        blocks.push((total, block));
        total = total.saturating_add(block.len());
    }
    let version = if spec
        .layers
        .iter()
        .all(|l| l.params.storage() == Storage::F32)
    {
        1
    } else {
        VERSION
    };

    let header = header_bytes(spec, version, &blocks)?;
    let header_len = u16::try_from(header.len()).map_err(|_| Error::MalformedHeader)?;
    let data_start = align4(PREAMBLE_LEN + header.len());
    let file_len = (data_start as u64)
        .saturating_add(total)
        .saturating_add(CHECKSUM_LEN as u64);
    let file_len_u32 = u32::try_from(file_len).map_err(|_| Error::TooLarge { bytes: file_len })?;

    // `file_len` fits in u32, so every size below fits in usize on 32- and 64-bit hosts.
    let mut out = Vec::with_capacity(file_len as usize);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&file_len_u32.to_le_bytes());
    out.extend_from_slice(&header);
    out.resize(data_start, 0);
    for layer in spec.layers {
        write_block(&mut out, &layer.params);
    }
    let crc = CRC32.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len() as u64, file_len);

    let file = AlignedBytes::from_slice(&out);
    Model::from_bytes(file.as_bytes())?;
    Ok(file)
}

fn check_counts(spec: &ModelSpec<'_>) -> Result<(), Error> {
    for s in [spec.variant, spec.provenance.note]
        .iter()
        .chain(spec.class_names)
    {
        if s.len() > MAX_STR_LEN {
            return Err(Error::StringTooLong { found: s.len() });
        }
    }
    if spec.class_names.is_empty() || spec.class_names.len() > MAX_CLASSES {
        return Err(Error::BadClassCount {
            found: spec.class_names.len(),
        });
    }
    if spec.layers.is_empty() || spec.layers.len() > MAX_LAYERS {
        return Err(Error::BadLayerCount {
            found: spec.layers.len(),
        });
    }
    Ok(())
}

/// The slices of `layer` have exactly the lengths its dimensions and storage give.
fn check_lengths(layer: &LayerSpec<'_>, block: BlockLayout) -> Result<(), Error> {
    let o = layer.outputs as usize;
    let n = u64::from(layer.inputs) * u64::from(layer.outputs);
    // Element counts, compared before any padding is added.
    let (count, weight_bytes, row_lens): (u64, u64, [usize; 4]) = match layer.params {
        Params::F32 { weights, bias } => (
            weights.len() as u64,
            4 * weights.len() as u64,
            [bias.len(), o, o, o],
        ),
        Params::F16 { weights, bias } => (
            weights.len() as u64,
            2 * weights.len() as u64,
            [bias.len(), o, o, o],
        ),
        Params::Int8(p) => (
            n,
            p.weights.len() as u64,
            [
                p.bias.len(),
                p.multiplier.len(),
                p.shift.len(),
                p.weight_scale.len(),
            ],
        ),
    };
    let rows_ok = row_lens.iter().all(|&n| n == o);
    let weights_ok = count == n
        && match layer.params {
            Params::Int8(_) => weight_bytes == block.weights,
            _ => weight_bytes == block.weights_used,
        };
    if !weights_ok || !rows_ok {
        let found_rows: u64 = match layer.params {
            Params::Int8(_) => row_lens.iter().map(|&n| 4 * n as u64).sum(),
            _ => 4 * row_lens[0] as u64,
        };
        return Err(Error::DataLengthMismatch {
            expected: block.len(),
            found: weight_bytes + found_rows,
        });
    }
    Ok(())
}

fn header_bytes(
    spec: &ModelSpec<'_>,
    version: u16,
    blocks: &[(u64, BlockLayout)],
) -> Result<Vec<u8>, Error> {
    let too_large = |at: u64| Error::TooLarge { bytes: at };
    // Strings, classes and layers are bounded above, so the header is far below 64 KiB; a
    // buffer of that size cannot overflow.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let encoded = if version == 1 {
        let mut descs = Vec::with_capacity(spec.layers.len());
        for (layer, &(at, block)) in spec.layers.iter().zip(blocks) {
            let word = |bytes: u64| u32::try_from(bytes / 4).map_err(|_| too_large(bytes));
            descs.push(LayerDescV1 {
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: layer.activation,
                layout: WeightLayout::RowMajorOutIn,
                weights_offset: word(at)?,
                bias_offset: word(at + block.weights)?,
            });
        }
        postcard::to_slice(&header(spec, &descs), &mut buf)
    } else {
        let mut descs = Vec::with_capacity(spec.layers.len());
        for (layer, &(at, _)) in spec.layers.iter().zip(blocks) {
            descs.push(LayerDescV2 {
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: layer.activation,
                storage: match layer.params {
                    Params::F32 { .. } => StorageDesc::F32,
                    Params::F16 { .. } => StorageDesc::F16,
                    Params::Int8(p) => StorageDesc::Int8 {
                        input: p.input,
                        output: p.output,
                    },
                },
                offset: u32::try_from(at).map_err(|_| too_large(at))?,
            });
        }
        postcard::to_slice(&header(spec, &descs), &mut buf)
    };
    Ok(encoded.map_err(|_| Error::MalformedHeader)?.to_vec())
}

fn header<'s, L>(spec: &ModelSpec<'s>, layers: &'s [L]) -> Header<'s, L> {
    Header {
        variant: spec.variant,
        provenance: spec.provenance,
        input: spec.input,
        class_names: spec.class_names,
        layers,
    }
}

fn write_block(out: &mut Vec<u8>, params: &Params<'_>) {
    match *params {
        Params::F32 { weights, bias } => {
            for v in weights.iter().chain(bias) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Params::F16 { weights, bias } => {
            for w in weights {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.resize(align4(out.len()), 0);
            for v in bias {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        Params::Int8(Int8Params {
            weights,
            bias,
            multiplier,
            shift,
            weight_scale,
            ..
        }) => {
            out.extend(weights.iter().map(|&w| w as u8));
            for v in bias.iter().chain(multiplier).chain(shift) {
                out.extend_from_slice(&v.to_le_bytes());
            }
            for v in weight_scale {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

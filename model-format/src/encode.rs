//! The encoder (feature `std`): lays a model out exactly as [`Model::from_bytes`] reads it.

use serde::Serialize;

use crate::wire::{Activation, InputSpec, LayerDesc, Provenance, WeightLayout};
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
    /// # Shapes
    /// `[outputs][inputs]`, row-major (the transpose of a Keras kernel or burn `Linear` weight).
    pub weights: &'s [f32],
    /// # Shapes
    /// `[outputs]`.
    pub bias: &'s [f32],
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
struct Header<'s> {
    variant: &'s str,
    provenance: Provenance<'s>,
    input: InputSpec,
    class_names: &'s [&'s str],
    layers: &'s [LayerDesc],
}

/// Encodes a model file and checks it by decoding it back.
///
/// # Errors
/// Any [`Error`] that [`Model::from_bytes`] would report for the result (shapes that do not
/// chain, non-finite values, too many layers or classes, over-long strings, ...), and
/// [`Error::DataLengthMismatch`] for a layer whose slices do not match its dimensions. Nothing
/// invalid is ever returned.
pub fn encode(spec: &ModelSpec<'_>) -> Result<AlignedBytes, Error> {
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

    let mut descs = Vec::with_capacity(spec.layers.len());
    let mut offset = 0usize;
    for layer in spec.layers {
        let (w, b) = (
            layer.inputs as usize * layer.outputs as usize,
            layer.outputs as usize,
        );
        if layer.weights.len() != w || layer.bias.len() != b {
            return Err(Error::DataLengthMismatch {
                expected: (w + b) as u64,
                found: (layer.weights.len() + layer.bias.len()) as u64,
            });
        }
        descs.push(LayerDesc {
            inputs: layer.inputs,
            outputs: layer.outputs,
            activation: layer.activation,
            layout: WeightLayout::RowMajorOutIn,
            weights_offset: word_offset(offset)?,
            bias_offset: word_offset(offset + w)?,
        });
        offset += w + b;
    }

    // Strings, classes and layers are bounded above, so the header is far below 64 KiB; a
    // buffer of that size cannot overflow.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let header = postcard::to_slice(
        &Header {
            variant: spec.variant,
            provenance: spec.provenance,
            input: spec.input,
            class_names: spec.class_names,
            layers: &descs,
        },
        &mut buf,
    )
    .map_err(|_| Error::MalformedHeader)?;
    let header_len = u16::try_from(header.len()).map_err(|_| Error::MalformedHeader)?;

    let data_start = align4(PREAMBLE_LEN + header.len());
    let file_len = data_start + offset * 4 + CHECKSUM_LEN;
    let file_len_u32 = u32::try_from(file_len).map_err(|_| Error::DataLengthMismatch {
        expected: offset as u64,
        found: u64::from(u32::MAX / 4),
    })?;

    let mut out = Vec::with_capacity(file_len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&file_len_u32.to_le_bytes());
    out.extend_from_slice(header);
    out.resize(data_start, 0);
    for layer in spec.layers {
        for v in layer.weights.iter().chain(layer.bias) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = CRC32.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), file_len);

    let file = AlignedBytes::from_slice(&out);
    Model::from_bytes(file.as_bytes())?;
    Ok(file)
}

fn word_offset(words: usize) -> Result<u32, Error> {
    u32::try_from(words).map_err(|_| Error::DataLengthMismatch {
        expected: words as u64,
        found: u64::from(u32::MAX),
    })
}

//! Decoding the postcard header of either version into plain layer descriptions.

use serde::Deserialize;

use crate::wire::{Activation, InputSpec, Provenance, Quant, Storage, WeightLayout};
use crate::{Error, MAX_CLASSES, MAX_LAYERS, MAX_STR_LEN, PREAMBLE_LEN};

/// Where a layer's data block is, in the unit of its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offsets {
    /// Version 1: f32 words from the data section start, for the weights and for the biases.
    V1 { weights: u32, bias: u32 },
    /// Version 2: bytes from the data section start, for the whole block.
    V2 { block: u32 },
}

/// One layer as the header describes it, before anything is checked against the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Desc {
    pub inputs: u32,
    pub outputs: u32,
    pub activation: Activation,
    pub storage: Storage,
    /// `(input, output)` quantization; `Some` exactly for int8 layers.
    pub quant: Option<(Quant, Quant)>,
    pub offsets: Offsets,
}

const EMPTY_DESC: Desc = Desc {
    inputs: 0,
    outputs: 0,
    activation: Activation::None,
    storage: Storage::F32,
    quant: None,
    offsets: Offsets::V2 { block: 0 },
};

/// The decoded header: strings borrowed from the file, fixed arrays, no allocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Header<'a> {
    pub variant: &'a str,
    pub provenance: Provenance<'a>,
    pub input: InputSpec,
    pub class_names: [&'a str; MAX_CLASSES],
    pub class_count: usize,
    descs: [Desc; MAX_LAYERS],
    pub layer_count: usize,
}

impl<'a> Header<'a> {
    /// Decodes a header of `version` (1 or 2) that must fill `bytes` exactly.
    pub(crate) fn decode(version: u16, bytes: &'a [u8]) -> Result<Self, Error> {
        let mut cur = Reader {
            header: bytes,
            rest: bytes,
        };
        let cur = &mut cur;
        let variant = take_str(cur)?;
        let provenance = Provenance {
            seed: cur.varint()?,
            epochs: cur.varint()?,
            test_accuracy: cur.take()?,
            note: take_str(cur)?,
        };
        if !(0.0..=1.0).contains(&provenance.test_accuracy) {
            return Err(Error::BadProvenance);
        }
        let input = InputSpec {
            width: cur.varint()?,
            height: cur.varint()?,
            scale: cur.take()?,
        };
        if input.pixels() == 0 || !(input.scale > 0.0 && input.max_input().is_finite()) {
            return Err(Error::BadInput);
        }

        let class_count = take_count(cur, MAX_CLASSES, |found| Error::BadClassCount { found })?;
        let mut class_names = [""; MAX_CLASSES];
        // `take` rather than `[..count]`: the count is bounded above, but the optimiser cannot
        // see it, and the device build must keep no panic path (firmware/panic-check).
        for name in class_names.iter_mut().take(class_count) {
            *name = take_str(cur)?;
        }

        let layer_count = take_count(cur, MAX_LAYERS, |found| Error::BadLayerCount { found })?;
        let mut descs = [EMPTY_DESC; MAX_LAYERS];
        for (layer, desc) in descs.iter_mut().take(layer_count).enumerate() {
            *desc = if version == 1 {
                take_v1(cur)?
            } else {
                take_v2(cur, layer)?
            };
        }
        if !cur.rest.is_empty() {
            return Err(Error::TrailingHeaderBytes {
                found: cur.rest.len(),
            });
        }
        Ok(Header {
            variant,
            provenance,
            input,
            class_names,
            class_count,
            descs,
            layer_count,
        })
    }

    /// The layer descriptions in order.
    pub(crate) fn layers(&self) -> &[Desc] {
        self.descs.get(..self.layer_count).unwrap_or(&[])
    }
}

fn take_v1(cur: &mut Reader<'_>) -> Result<Desc, Error> {
    let inputs = cur.varint()?;
    let outputs = cur.varint()?;
    let activation = cur.varint()?;
    let WeightLayout::RowMajorOutIn = cur.varint()?;
    Ok(Desc {
        inputs,
        outputs,
        activation,
        storage: Storage::F32,
        quant: None,
        offsets: Offsets::V1 {
            weights: cur.varint()?,
            bias: cur.varint()?,
        },
    })
}

/// A version-2 layer, field by field, so an unknown storage tag gets its own error.
fn take_v2(cur: &mut Reader<'_>, layer: usize) -> Result<Desc, Error> {
    let inputs: u32 = cur.varint()?;
    let outputs: u32 = cur.varint()?;
    let activation: Activation = cur.varint()?;
    let tag: u32 = cur.varint()?;
    let (storage, quant) = match tag {
        0 => (Storage::F32, None),
        1 => (Storage::F16, None),
        2 => {
            let input = take_quant(cur)?;
            let output = take_quant(cur)?;
            (Storage::Int8, Some((input, output)))
        }
        tag => return Err(Error::UnknownStorage { layer, tag }),
    };
    let block: u32 = cur.varint()?;
    Ok(Desc {
        inputs,
        outputs,
        activation,
        storage,
        quant,
        offsets: Offsets::V2 { block },
    })
}

fn take_quant(cur: &mut Reader<'_>) -> Result<Quant, Error> {
    Ok(Quant {
        scale: cur.take()?,
        zero_point: cur.varint()?,
    })
}

/// The header bytes being decoded, one field at a time (postcard encodes a struct as its fields
/// in order, so field by field reads the same bytes).
struct Reader<'a> {
    header: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A value of fixed size (an `f32`) or a string.
    fn take<T: Deserialize<'a>>(&mut self) -> Result<T, Error> {
        let (value, rest) =
            postcard::take_from_bytes(self.rest).map_err(|_| Error::MalformedHeader)?;
        self.rest = rest;
        Ok(value)
    }

    /// A value that postcard writes as a varint (an integer, a length, an enum tag), refused
    /// unless the varint is in its shortest form.
    fn varint<T: Deserialize<'a>>(&mut self) -> Result<T, Error> {
        // `rest` is a suffix of `header`: the bytes at `start` are `rest` before the read.
        let (at, start) = (self.rest, self.header.len() - self.rest.len());
        let value = self.take()?;
        shortest(at, start)?;
        Ok(value)
    }
}

/// Refuses an overlong varint at the start of `bytes` (at header byte `at`; postcard accepted
/// it, so it ends within `bytes`): one of two or more bytes whose last byte is `00` (LEB128's
/// only redundancy: a most significant group of zero bits).
///
/// # Errors
/// [`Error::NonCanonical`] at the first byte that differs from the shortest form: the one
/// where that form ends (it has no continuation bit there).
fn shortest(bytes: &[u8], at: usize) -> Result<(), Error> {
    let Some(end) = bytes.iter().position(|b| b & 0x80 == 0) else {
        return Ok(());
    };
    let (body, last) = bytes.split_at(end);
    if end == 0 || last.first() != Some(&0) {
        return Ok(());
    }
    let significant = body.iter().rposition(|b| b & 0x7f != 0);
    Err(Error::NonCanonical {
        offset: PREAMBLE_LEN + at + significant.unwrap_or(0),
    })
}

fn take_str<'a>(cur: &mut Reader<'a>) -> Result<&'a str, Error> {
    // The length is a varint: checked as one, then the string is read with it.
    let (at, start) = (cur.rest, cur.header.len() - cur.rest.len());
    let s: &'a str = cur.take()?;
    shortest(at, start)?;
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
fn take_count(cur: &mut Reader<'_>, max: usize, err: fn(usize) -> Error) -> Result<usize, Error> {
    let n = cur.varint::<u32>()? as usize;
    if n == 0 || n > max {
        return Err(err(n));
    }
    Ok(n)
}

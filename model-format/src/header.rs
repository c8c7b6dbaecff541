//! Decoding the postcard header of either version into plain layer descriptions.

use postcard::ser_flavors::Flavor;
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::wire::{
    Activation, InputSpec, LayerDescV1, LayerDescV2, Provenance, Quant, Storage, StorageDesc,
    WeightLayout,
};
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
    version: u16,
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
        let mut cur = bytes;
        let variant = take_str(&mut cur)?;
        let provenance: Provenance<'a> = take(&mut cur)?;
        check_str(provenance.note)?;
        if !(0.0..=1.0).contains(&provenance.test_accuracy) {
            return Err(Error::BadProvenance);
        }
        let input: InputSpec = take(&mut cur)?;
        if input.pixels() == 0 || !(input.scale > 0.0 && input.max_input().is_finite()) {
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
        let mut descs = [EMPTY_DESC; MAX_LAYERS];
        for (layer, desc) in descs[..layer_count].iter_mut().enumerate() {
            *desc = if version == 1 {
                take_v1(&mut cur)?
            } else {
                take_v2(&mut cur, layer)?
            };
        }
        if !cur.is_empty() {
            return Err(Error::TrailingHeaderBytes { found: cur.len() });
        }
        Ok(Header {
            version,
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
        &self.descs[..self.layer_count]
    }

    /// Checks that `bytes`, which this header was decoded from, are the one encoding of its
    /// values: postcard re-encodes the decoded header byte for byte (postcard's decoder
    /// accepts overlong varints, its encoder writes the shortest). Run after the values are
    /// checked, so no NaN is re-encoded (a NaN's bits are the one thing a round trip through
    /// a float register might change).
    ///
    /// # Errors
    /// [`Error::NonCanonical`] at the first byte that differs.
    pub(crate) fn check_canonical(&self, bytes: &[u8]) -> Result<(), Error> {
        let mut compare = Compare { rest: bytes };
        let matched = postcard::serialize_with_flavor(self, &mut compare);
        if matched.is_ok() && compare.rest.is_empty() {
            return Ok(());
        }
        Err(Error::NonCanonical {
            offset: PREAMBLE_LEN + bytes.len() - compare.rest.len(),
        })
    }
}

/// The header as postcard writes it (the fields of `FORMAT.md` in order; a tuple and a struct
/// encode the same, with no names or tags).
impl Serialize for Header<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(5)?;
        t.serialize_element(self.variant)?;
        t.serialize_element(&self.provenance)?;
        t.serialize_element(&self.input)?;
        t.serialize_element(&self.class_names[..self.class_count])?;
        t.serialize_element(&WireLayers(self))?;
        t.end()
    }
}

/// The layer list in the header's version, converted back one entry at a time.
struct WireLayers<'h, 'a>(&'h Header<'a>);

impl Serialize for WireLayers<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let version = self.0.version;
        s.collect_seq(self.0.layers().iter().map(|d| WireDesc(version, *d)))
    }
}

/// One layer entry as its version writes it.
struct WireDesc(u16, Desc);

impl Serialize for WireDesc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let WireDesc(version, d) = *self;
        match d.offsets {
            Offsets::V1 { weights, bias } if version == 1 => LayerDescV1 {
                inputs: d.inputs,
                outputs: d.outputs,
                activation: d.activation,
                layout: WeightLayout::RowMajorOutIn,
                weights_offset: weights,
                bias_offset: bias,
            }
            .serialize(s),
            Offsets::V2 { block } => LayerDescV2 {
                inputs: d.inputs,
                outputs: d.outputs,
                activation: d.activation,
                storage: match (d.storage, d.quant) {
                    (Storage::Int8, Some((input, output))) => StorageDesc::Int8 { input, output },
                    (Storage::F16, _) => StorageDesc::F16,
                    _ => StorageDesc::F32,
                },
                offset: block,
            }
            .serialize(s),
            // Never: a version-1 header decodes to version-1 offsets only. Writing nothing
            // makes the comparison fail rather than pass.
            Offsets::V1 { .. } => s.serialize_unit(),
        }
    }
}

/// A postcard output that compares each byte it is given with the bytes read, and stops at
/// the first difference.
struct Compare<'b> {
    rest: &'b [u8],
}

impl Flavor for &mut Compare<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        match self.rest.split_first() {
            Some((&b, rest)) if b == byte => {
                self.rest = rest;
                Ok(())
            }
            _ => Err(postcard::Error::SerializeBufferFull),
        }
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

fn take_v1(cur: &mut &[u8]) -> Result<Desc, Error> {
    let d: LayerDescV1 = take(cur)?;
    Ok(Desc {
        inputs: d.inputs,
        outputs: d.outputs,
        activation: d.activation,
        storage: Storage::F32,
        quant: None,
        offsets: Offsets::V1 {
            weights: d.weights_offset,
            bias: d.bias_offset,
        },
    })
}

/// A version-2 layer, field by field, so an unknown storage tag gets its own error.
fn take_v2(cur: &mut &[u8], layer: usize) -> Result<Desc, Error> {
    let inputs: u32 = take(cur)?;
    let outputs: u32 = take(cur)?;
    let activation: Activation = take(cur)?;
    let tag: u32 = take(cur)?;
    let (storage, quant) = match tag {
        0 => (Storage::F32, None),
        1 => (Storage::F16, None),
        2 => {
            let input: Quant = take(cur)?;
            let output: Quant = take(cur)?;
            (Storage::Int8, Some((input, output)))
        }
        tag => return Err(Error::UnknownStorage { layer, tag }),
    };
    let block: u32 = take(cur)?;
    Ok(Desc {
        inputs,
        outputs,
        activation,
        storage,
        quant,
        offsets: Offsets::V2 { block },
    })
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

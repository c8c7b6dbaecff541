//! A second writer of the `.fmlp` format, from `FORMAT.md` alone and field by field, so the
//! structure-aware target can write what the host encoder never would: unknown tags, counts
//! and sizes past the limits, offsets that only a wrapping 32-bit reader would believe.
//!
//! Unedited, its bytes are the host encoder's (the `structured` target checks it).

/// CRC-32/ISO-HDLC, as `FORMAT.md` specifies.
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// An int8 layer's quantization, as the header writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    /// f32 bits (any, so edits can write NaN or zero).
    pub scale: u32,
    /// Written as a zigzag varint (any i32).
    pub zero_point: i32,
}

/// One layer's header entry, for either version.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerEntry {
    /// Inputs.
    pub inputs: u32,
    /// Outputs.
    pub outputs: u32,
    /// Activation tag: 0 None, 1 Relu, 2 Softmax (others are invalid).
    pub activation: u32,
    /// Storage tag (version 2): 0 F32, 1 F16, 2 Int8 (others are invalid).
    pub storage: u32,
    /// The `(input, output)` quantizations, written after an int8 storage tag.
    pub quant: (Quant, Quant),
    /// Version 1: the weights' offset in f32 words. Version 2: the block's, in bytes.
    pub offset: u32,
    /// Version 1: the biases' offset in f32 words.
    pub bias_offset: u32,
    /// Version 1: the weight layout tag (0 is the only one).
    pub layout: u32,
}

/// Everything before the data section.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Format version written in the preamble, and the header's layout (1, else 2).
    pub version: u16,
    /// Variant name.
    pub variant: Vec<u8>,
    /// Seed.
    pub seed: u64,
    /// Epochs.
    pub epochs: u32,
    /// Test accuracy, f32 bits.
    pub accuracy: u32,
    /// Note.
    pub note: Vec<u8>,
    /// Input width.
    pub width: u16,
    /// Input height.
    pub height: u16,
    /// Input scale, f32 bits.
    pub scale: u32,
    /// Class names.
    pub classes: Vec<Vec<u8>>,
    /// Written as the class count instead of `classes.len()` when set.
    pub class_count: Option<u32>,
    /// Layer entries.
    pub layers: Vec<LayerEntry>,
    /// Written as the layer count instead of `layers.len()` when set.
    pub layer_count: Option<u32>,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn quant(out: &mut Vec<u8>, q: Quant) {
    out.extend_from_slice(&q.scale.to_le_bytes());
    // Zigzag: n >= 0 as 2n, n < 0 as -2n - 1.
    let z = ((q.zero_point << 1) ^ (q.zero_point >> 31)) as u32;
    varint(out, u64::from(z));
}

impl Header {
    /// The postcard header bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, &self.variant);
        varint(&mut out, self.seed);
        varint(&mut out, u64::from(self.epochs));
        out.extend_from_slice(&self.accuracy.to_le_bytes());
        string(&mut out, &self.note);
        varint(&mut out, u64::from(self.width));
        varint(&mut out, u64::from(self.height));
        out.extend_from_slice(&self.scale.to_le_bytes());
        let classes = self.class_count.unwrap_or(self.classes.len() as u32);
        varint(&mut out, u64::from(classes));
        for name in &self.classes {
            string(&mut out, name);
        }
        let layers = self.layer_count.unwrap_or(self.layers.len() as u32);
        varint(&mut out, u64::from(layers));
        for l in &self.layers {
            varint(&mut out, u64::from(l.inputs));
            varint(&mut out, u64::from(l.outputs));
            varint(&mut out, u64::from(l.activation));
            if self.version == 1 {
                varint(&mut out, u64::from(l.layout));
                varint(&mut out, u64::from(l.offset));
                varint(&mut out, u64::from(l.bias_offset));
            } else {
                varint(&mut out, u64::from(l.storage));
                if l.storage == 2 {
                    quant(&mut out, l.quant.0);
                    quant(&mut out, l.quant.1);
                }
                varint(&mut out, u64::from(l.offset));
            }
        }
        out
    }

    /// Writes every layer's offsets where the canonical layout puts them, with the block
    /// sizes computed in **wrapping `u32`** arithmetic (`FORMAT.md`'s sizes otherwise): for
    /// sane sizes the canonical offsets, for sizes past 4 GiB the ones a reader that wraps
    /// would expect. Returns that reader's data length.
    pub fn wrapped_offsets(&mut self) -> u32 {
        let mut at = 0u32;
        for l in &mut self.layers {
            let (i, o) = (l.inputs, l.outputs);
            let n = i.wrapping_mul(o);
            let (weights, rows) = match (self.version, l.storage) {
                (1, _) | (_, 0) => (n.wrapping_mul(4), o.wrapping_mul(4)),
                (_, 1) => (n.wrapping_mul(2).wrapping_add(3) & !3, o.wrapping_mul(4)),
                _ => (round4(i).wrapping_mul(round4(o)), o.wrapping_mul(16)),
            };
            if self.version == 1 {
                l.offset = at / 4;
                l.bias_offset = at.wrapping_add(weights) / 4;
            } else {
                l.offset = at;
            }
            at = at.wrapping_add(weights).wrapping_add(rows);
        }
        at
    }
}

fn round4(n: u32) -> u32 {
    n.wrapping_add(3) & !3
}

/// A whole file: preamble, `header`, zero padding, `data`, CRC-32. The header length saturates
/// at `u16::MAX` and the file length wraps at 2^32 (a file that large is not written here).
pub fn file(version: u16, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + header.len() + 3 + data.len());
    out.extend_from_slice(b"FMLP");
    out.extend_from_slice(&version.to_le_bytes());
    let header_len = u16::try_from(header.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(header);
    out.resize((out.len() + 3) & !3, 0);
    out.extend_from_slice(data);
    let n = (out.len() + 4) as u32;
    out[8..12].copy_from_slice(&n.to_le_bytes());
    let crc = CRC32.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

//! Where each parameter of a layer sits in its data block (`FORMAT.md`, "Data section").
//!
//! Sizes are computed in `u64` with checked arithmetic, so a hostile header cannot overflow
//! them on a 32-bit target.

use crate::wire::Storage;

/// Rows and columns of one int8 weight tile: the blocked layout stores 4 rows × 4 inputs as 16
/// consecutive bytes, so a device loads the weights of 4 rows for 4 inputs in one 16-byte run.
pub const INT8_TILE: usize = 4;

/// `n` rounded up to a multiple of [`INT8_TILE`]; the padded side of an int8 weight matrix.
pub const fn round4(n: usize) -> usize {
    n.div_ceil(INT8_TILE) * INT8_TILE
}

/// Index of weight `[o][i]` in an int8 layer's blocked weights (`inputs` is the layer's real
/// input count): `((o / 4) · (I4 / 4) + i / 4) · 16 + (o % 4) · 4 + i % 4`, with `I4` the
/// inputs rounded up to a multiple of 4. Entries for rows `o ≥ outputs` or inputs `i ≥ inputs`
/// are padding and hold 0.
pub const fn int8_weight_index(o: usize, i: usize, inputs: usize) -> usize {
    let tiles_per_row = round4(inputs) / INT8_TILE;
    ((o / INT8_TILE) * tiles_per_row + i / INT8_TILE) * (INT8_TILE * INT8_TILE)
        + (o % INT8_TILE) * INT8_TILE
        + i % INT8_TILE
}

/// Byte lengths of the parts of one layer's data block, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockLayout {
    /// The weights, padding included (f16: rounded up to 4 bytes; int8: the padded tiles).
    pub weights: u64,
    /// Bytes of the weights that hold values (f16: `2 · inputs · outputs`).
    pub weights_used: u64,
    /// f32 or i32 words after the weights: the bias (and for int8 the multiplier, the shift and
    /// the weight scale, each one word per output).
    pub row_words: u64,
}

impl BlockLayout {
    pub(crate) fn new(storage: Storage, inputs: u32, outputs: u32) -> Self {
        // Each side is below 2^32, so `i · o` fits in u64; the small factors saturate rather
        // than wrap (a file is at most 4 GiB, so a saturated size is refused as too long).
        let (i, o) = (u64::from(inputs), u64::from(outputs));
        let n = i * o;
        let (weights, weights_used, words_per_row) = match storage {
            Storage::F32 => (n.saturating_mul(4), n.saturating_mul(4), 1),
            Storage::F16 => (pad4(n.saturating_mul(2)), n.saturating_mul(2), 1),
            Storage::Int8 => (
                i.next_multiple_of(4).saturating_mul(o.next_multiple_of(4)),
                n,
                4,
            ),
        };
        BlockLayout {
            weights,
            weights_used,
            row_words: words_per_row * o,
        }
    }

    /// Bytes of the whole block.
    pub(crate) fn len(&self) -> u64 {
        self.weights.saturating_add(4 * self.row_words)
    }
}

/// `x` rounded up to a multiple of 4, saturating (an absurd size stays absurd instead of wrapping).
const fn pad4(x: u64) -> u64 {
    x.saturating_add(3) & !3
}

/// Bytes of one layer's data block in `storage` (weights with their padding, then the per-row
/// words): what a layer of `inputs` × `outputs` adds to a model file. A build script uses it to
/// say which storages of a model would fit a board.
pub fn block_len(storage: Storage, inputs: u32, outputs: u32) -> u64 {
    BlockLayout::new(storage, inputs, outputs).len()
}

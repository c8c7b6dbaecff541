//! Seeded layers for the kernel benchmark: the build script writes them into the kernel program
//! (`src/bin/kernels.rs`, feature `kernel-bench`) and the `kernels` benchmark computes the
//! same layers on the host, so the two checksums can be compared. Both include this file by
//! path (`#[path]`); it is not part of the no_std library.
//!
//! Values are seeded, not trained: instruction counts do not depend on them (no kernel has a
//! data-dependent branch), and the checksums only need both sides to compute the same thing.
// The build script uses the data, the benchmark the checksum too.
#![allow(dead_code)]

/// The vanilla model's layers, `(inputs, outputs)`: 163,758 multiply-accumulates in all.
pub const LAYERS: [(usize, usize); 3] = [(784, 196), (196, 49), (49, 10)];

/// The int8 input offset: u8 pixels as `p − 128` (zero point −128) and ReLU outputs with zero
/// point −128 both give +128.
pub const INPUT_OFFSET: i32 = 128;
/// Output zero point and ReLU clamp of the int8 layers.
pub const OUTPUT_ZERO_POINT: i32 = -128;

/// One layer's data in the bytes the device reads (little-endian).
pub struct Layer {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// int8 weights, blocked 4×4 (`firmware::dense_i8`), zero padding.
    pub i8_weights: Vec<i8>,
    /// int8 biases, multipliers and shifts, one per output.
    pub bias: Vec<i32>,
    /// Q31 multipliers.
    pub multiplier: Vec<i32>,
    /// Shifts.
    pub shift: Vec<i32>,
    /// int8 input, `inputs` rounded up to 4 (the padding holds seeded garbage too).
    pub i8_input: Vec<i8>,
    /// binary16 weights, row-major `[outputs][inputs]`: finite values of magnitude 2^-9..2^0
    /// with random mantissas (normal and, through the sign, both signs).
    pub f16_weights: Vec<u16>,
    /// The same weights widened to f32 (exactly), for the f32 kernel.
    pub f32_weights: Vec<f32>,
    /// f32 biases.
    pub f32_bias: Vec<f32>,
    /// f32 input in [0, 1).
    pub f32_input: Vec<f32>,
}

/// xorshift64*: deterministic on every host.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bits(&mut self, n: u32) -> u32 {
        (self.next() >> (64 - n)) as u32
    }
}

/// The layer `(inputs, outputs)` from `seed`.
pub fn layer(inputs: usize, outputs: usize, seed: u64) -> Layer {
    let mut rng = Rng(seed | 1);
    let (i4, o4) = (inputs.div_ceil(4) * 4, outputs.div_ceil(4) * 4);
    let mut i8_weights = vec![0i8; o4 * i4];
    for o in 0..outputs {
        for i in 0..inputs {
            let at = ((o / 4) * (i4 / 4) + i / 4) * 16 + (o % 4) * 4 + i % 4;
            i8_weights[at] = rng.bits(8) as u8 as i8;
        }
    }
    // The sums are about √inputs · 74 · 147 in spread (uniform weights, offset inputs near
    // 128): scale that to about ±64 of int8, with one power of two for every row.
    let spread = (inputs as f64).sqrt() * 74.0 * 147.0;
    let shift = (64.0 / spread).log2().floor() as i32 + 1;
    let bias = (0..outputs)
        .map(|_| rng.bits(18) as i32 - (1 << 17))
        .collect();
    let multiplier = (0..outputs)
        .map(|_| (1 << 30) + rng.bits(30) as i32)
        .collect();
    let i8_input = (0..i4).map(|_| rng.bits(8) as u8 as i8).collect();
    let f16_weights: Vec<u16> = (0..inputs * outputs)
        .map(|_| {
            let sign = rng.bits(1) << 15;
            // Biased exponents 6..=15: 2^-9 ..= 2^0 times 1.mantissa.
            let exponent = (6 + rng.bits(4) % 10) << 10;
            (sign | exponent | rng.bits(10)) as u16
        })
        .collect();
    // Normal binary16 only: the exponent moves from bias 15 to 127, the mantissa up 13 bits.
    let f32_weights = f16_weights
        .iter()
        .map(|&h: &u16| {
            let (sign, rest) = (u32::from(h >> 15) << 31, u32::from(h & 0x7fff));
            f32::from_bits(sign | (((rest >> 10) + 112) << 23) | (rest & 0x3ff) << 13)
        })
        .collect();
    let f32_bias = (0..outputs)
        .map(|_| (rng.bits(24) as f32 / (1u32 << 24) as f32 - 0.5) * 0.1)
        .collect();
    let f32_input = (0..inputs)
        .map(|_| rng.bits(24) as f32 / (1u32 << 24) as f32)
        .collect();
    Layer {
        inputs,
        outputs,
        i8_weights,
        bias,
        multiplier,
        shift: vec![shift; outputs],
        i8_input,
        f16_weights,
        f32_weights,
        f32_bias,
        f32_input,
    }
}

/// The seed of layer `k` of [`LAYERS`].
pub fn seed(k: usize) -> u64 {
    0x5EED_0000 + k as u64
}

/// FNV-1a over bytes: the checksum the device prints and the host recomputes.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(0x811C_9DC5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

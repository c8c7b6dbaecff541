//! Benchmark models: the trainer's vanilla and dropout shapes with **seeded, untrained**
//! weights, shared by the Cortex-M4 benchmark (`m4.rs`) and the host one
//! (`tests/benches/classify.rs`, which includes this file by path).
//!
//! Timing does not depend on the trained values: the dense kernel has no data-dependent branch,
//! ReLU and arg-max compare, softmax runs micromath's `exp` on ten values, and neither these
//! weights nor trained ones produce subnormal numbers (which would slow x86 down). So a seeded
//! Glorot-uniform model times the same as a trained one of the same shape, and the benchmarks
//! need neither the data set nor a training run.
// Each benchmark uses part of this module.
#![allow(dead_code)]

use model_format::quant::quantize_multiplier;
use model_format::{
    Activation, AlignedBytes, InputSpec, Int8Params, LayerSpec, ModelSpec, Params, Provenance,
    Quant, block_int8, encode,
};

/// The input contract of every benchmark model: 28 × 28 pixels divided by 255.
const INPUT: InputSpec = InputSpec {
    width: 28,
    height: 28,
    scale: 1.0 / 255.0,
};

/// A benchmark model shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Name in reports and in the model's `variant` field.
    pub name: &'static str,
    /// Layer sides, input first: `[784, hidden..., 10]`.
    pub sides: &'static [u32],
}

/// The vanilla (and bn, bn_dropout after folding) shape: 164,013 parameters.
pub const VANILLA: Shape = Shape {
    name: "vanilla-shaped",
    sides: &[784, 196, 49, 10],
};

/// The dropout shape: 348,860 parameters.
pub const DROPOUT: Shape = Shape {
    name: "dropout-shaped",
    sides: &[784, 392, 98, 24, 10],
};

impl Shape {
    /// Multiply-accumulates per inference: `Σ inputs · outputs` over the layers.
    pub fn macs(&self) -> u64 {
        self.sides
            .windows(2)
            .map(|s| u64::from(s[0]) * u64::from(s[1]))
            .sum()
    }

    /// The model file: Glorot-uniform weights and small uniform biases from a SplitMix64 seeded
    /// with `seed`, ReLU between layers, softmax out.
    pub fn model(&self, seed: u64) -> AlignedBytes {
        let mut rng = SplitMix64(seed);
        let params: Vec<(Vec<f32>, Vec<f32>)> = self
            .sides
            .windows(2)
            .map(|s| {
                let limit = (6.0 / f64::from(s[0] + s[1])).sqrt() as f32;
                let w = (0..s[0] * s[1]).map(|_| rng.uniform(limit)).collect();
                let b = (0..s[1]).map(|_| rng.uniform(0.05)).collect();
                (w, b)
            })
            .collect();
        let last = params.len() - 1;
        let layers: Vec<LayerSpec<'_>> = self
            .sides
            .windows(2)
            .zip(&params)
            .enumerate()
            .map(|(k, (s, (w, b)))| {
                LayerSpec::f32(
                    s[0],
                    s[1],
                    if k == last {
                        Activation::Softmax
                    } else {
                        Activation::Relu
                    },
                    w,
                    b,
                )
            })
            .collect();
        self.encode(
            seed,
            "untrained: seeded Glorot-uniform weights for benchmarks",
            &layers,
        )
    }

    /// The model file of `layers`, with the Fashion-MNIST input contract and digit class names.
    fn encode(&self, seed: u64, note: &str, layers: &[LayerSpec<'_>]) -> AlignedBytes {
        encode(&ModelSpec {
            variant: self.name,
            provenance: Provenance {
                seed,
                epochs: 0,
                test_accuracy: 0.0,
                note,
            },
            input: INPUT,
            class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            layers,
        })
        .expect("benchmark model encodes")
    }
}

impl Shape {
    /// An int8 model of this shape: uniform int8 weights and small biases from a SplitMix64
    /// seeded with `seed`, one weight scale per layer chosen so that outputs of int8 inputs
    /// spread over the int8 range (instruction counts do not depend on the values, but this
    /// keeps ReLU's clamp exercised on both sides).
    pub fn model_int8(&self, seed: u64) -> AlignedBytes {
        let mut rng = SplitMix64(seed);
        let sides: Vec<usize> = self.sides.iter().map(|&s| s as usize).collect();
        let mut quants = vec![INPUT.int8_quant()];
        let mut owned = Vec::new();
        for (k, s) in sides.windows(2).enumerate() {
            let (inputs, outputs) = (s[0], s[1]);
            let last = k + 2 == sides.len();
            let output = Quant {
                scale: 0.05,
                zero_point: if last { 0 } else { -128 },
            };
            // A sum of `inputs` products of about 64 · 64 spans ±64 · 64 · √inputs.
            let weight_scale = (f64::from(output.scale / quants[k].scale)
                / (64.0 * (inputs as f64).sqrt())) as f32;
            let (m, sh) = quantize_multiplier(
                f64::from(quants[k].scale) * f64::from(weight_scale) / f64::from(output.scale),
            );
            let row_major: Vec<i8> = (0..inputs * outputs)
                .map(|_| rng.uniform(127.0) as i8)
                .collect();
            owned.push((
                block_int8(&row_major, inputs, outputs),
                (0..outputs)
                    .map(|_| rng.uniform(2000.0) as i32)
                    .collect::<Vec<i32>>(),
                vec![m; outputs],
                vec![sh; outputs],
                vec![weight_scale; outputs],
            ));
            quants.push(output);
        }
        let layers: Vec<LayerSpec<'_>> = owned
            .iter()
            .enumerate()
            .map(
                |(k, (weights, bias, multiplier, shift, weight_scale))| LayerSpec {
                    inputs: sides[k] as u32,
                    outputs: sides[k + 1] as u32,
                    activation: if k + 2 == sides.len() {
                        Activation::Softmax
                    } else {
                        Activation::Relu
                    },
                    params: Params::Int8(Int8Params {
                        input: quants[k],
                        output: quants[k + 1],
                        weights,
                        bias,
                        multiplier,
                        shift,
                        weight_scale,
                    }),
                },
            )
            .collect();
        self.encode(
            seed,
            "untrained: seeded int8 weights for benchmarks",
            &layers,
        )
    }
}

/// `count` images of uniformly random pixels from a SplitMix64 seeded with `seed`.
pub fn images(count: usize, seed: u64) -> Vec<[u8; 784]> {
    let mut rng = SplitMix64(seed);
    (0..count)
        .map(|_| core::array::from_fn(|_| (rng.next() >> 56) as u8))
        .collect()
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, enough for benchmark weights.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-limit, limit)`.
    fn uniform(&mut self, limit: f32) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * unit - 1.0) * limit
    }
}

//! A plain host forward pass of a model file in any storage, to measure accuracy.
//!
//! Not the device's kernels (the firmware has those, and the workspace tests hold both to the
//! same results): the arithmetic of `FORMAT.md` written as plainly as possible, in f64 for f32
//! and f16 layers and in exact integers for int8 layers. Weights are unpacked once per model
//! (f16 widened, int8 tiles back to rows), then reused for every image.

use model_format::quant::multiply_by_quantized_multiplier;
use model_format::{Activation, Model, Params, Quant};

use crate::training::argmax;

/// One layer, unpacked to row-major `[out][in]`.
#[derive(Debug)]
enum Unpacked {
    Float {
        weights: Vec<f64>,
        bias: Vec<f64>,
    },
    Int8 {
        weights: Vec<i32>,
        bias: Vec<i32>,
        multiplier: Vec<i32>,
        shift: Vec<i32>,
        input: Quant,
        output: Quant,
    },
}

/// A model unpacked for the host: what [`forward`] and [`predict`] run.
#[derive(Debug)]
pub struct Net {
    inputs: usize,
    scale: f64,
    layers: Vec<(usize, Activation, Unpacked)>,
}

impl Net {
    /// Unpacks a checked model.
    pub fn new(model: &Model<'_>) -> Self {
        let layers = model
            .layers()
            .iter()
            .map(|l| {
                let (n, o) = (l.inputs(), l.outputs());
                let unpacked = match l.params() {
                    Params::F32 { weights, bias } => Unpacked::Float {
                        weights: weights.iter().map(|&w| f64::from(w)).collect(),
                        bias: bias.iter().map(|&b| f64::from(b)).collect(),
                    },
                    Params::F16 { weights, bias } => Unpacked::Float {
                        weights: weights
                            .iter()
                            .map(|&w| f64::from(half::f16::from_bits(w).to_f32()))
                            .collect(),
                        bias: bias.iter().map(|&b| f64::from(b)).collect(),
                    },
                    Params::Int8(p) => Unpacked::Int8 {
                        weights: (0..o * n)
                            .map(|k| i32::from(p.weight(k / n, k % n, n)))
                            .collect(),
                        bias: p.bias.to_vec(),
                        multiplier: p.multiplier.to_vec(),
                        shift: p.shift.to_vec(),
                        input: p.input,
                        output: p.output,
                    },
                };
                (n, l.activation(), unpacked)
            })
            .collect();
        Net {
            inputs: model.inputs(),
            scale: f64::from(model.input().scale),
            layers,
        }
    }

    /// Runs one image and hands each layer's outputs, as reals (after ReLU; softmax left out),
    /// to `on_layer`; returns the last layer's.
    ///
    /// # Panics
    /// If `pixels` is shorter than the model's inputs.
    pub fn run(&self, pixels: &[u8], mut on_layer: impl FnMut(usize, &[f64])) -> Vec<f64> {
        let pixels = &pixels[..self.inputs];
        let mut real: Vec<f64> = pixels.iter().map(|&p| f64::from(p) * self.scale).collect();
        let mut ints: Vec<i32> = pixels.iter().map(|&p| i32::from(p) - 128).collect();
        for (k, (n, activation, layer)) in self.layers.iter().enumerate() {
            let relu = *activation == Activation::Relu;
            match layer {
                Unpacked::Float { weights, bias } => {
                    real = weights
                        .chunks_exact(*n)
                        .zip(bias)
                        .map(|(row, b)| {
                            let z = b + row.iter().zip(&real).map(|(w, x)| w * x).sum::<f64>();
                            if relu { z.max(0.0) } else { z }
                        })
                        .collect();
                }
                Unpacked::Int8 {
                    weights,
                    bias,
                    multiplier,
                    shift,
                    input,
                    output,
                } => {
                    let lo = if relu { output.zero_point } else { -128 };
                    ints = weights
                        .chunks_exact(*n)
                        .enumerate()
                        .map(|(o, row)| {
                            let dot: i32 = row
                                .iter()
                                .zip(&ints)
                                .map(|(w, x)| w * (x - input.zero_point))
                                .sum();
                            let y = output.zero_point
                                + multiply_by_quantized_multiplier(
                                    bias[o] + dot,
                                    multiplier[o],
                                    shift[o],
                                );
                            y.clamp(lo, 127)
                        })
                        .collect();
                    let (zp, s) = (output.zero_point, f64::from(output.scale));
                    real = ints.iter().map(|&q| f64::from(q - zp) * s).collect();
                }
            }
            on_layer(k, &real);
        }
        real
    }
}

/// The logits (the last layer's outputs before softmax) of one image; for an int8 model, its
/// int8 outputs dequantized.
///
/// # Panics
/// If `pixels` is shorter than the model's inputs.
pub fn forward(net: &Net, pixels: &[u8]) -> Vec<f64> {
    net.run(pixels, |_, _| {})
}

/// Each image's predicted class (`images`: whole images back to back).
pub fn predict(net: &Net, images: &[u8]) -> Vec<u8> {
    images
        .chunks_exact(net.inputs)
        .map(|img| argmax(&forward(net, img)) as u8)
        .collect()
}

/// Share of `predicted` equal to `labels`.
pub fn accuracy(predicted: &[u8], labels: &[u8]) -> f64 {
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    right as f64 / predicted.len().max(1) as f64
}

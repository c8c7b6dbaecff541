//! Post-training quantization of a folded f32 model file to f16 or int8, and a plain host
//! forward pass of any storage to measure what quantizing cost.
//!
//! - **f16**: each weight rounded to the nearest IEEE binary16 (ties to even); biases stay f32
//!   and the device computes in f32, so the only change is the weights' rounding.
//! - **int8**: TFLite's full-integer scheme for `FULLY_CONNECTED` (`model-format/FORMAT.md`,
//!   "int8 arithmetic"), after cross-layer equalization ([`equalize`]):
//!   - weights symmetric per output row: `scale_w = max|w| / 127`, `q = round(w / scale_w)`;
//!   - activations asymmetric per layer output: a range (widened to hold 0) of that layer's
//!     f32 outputs, after its activation, over the calibration images, mapped to `[-128, 127]`:
//!     up to the [`HIDDEN_PERCENTILE`] quantile for hidden layers, and for the logits the range
//!     that keeps the f32 model's class on most calibration images; the pixels are `p − 128`
//!     with scale 1/255 and zero point −128, exactly;
//!   - biases in i32 (`round(b / (scale_in · scale_w))`, then bias-corrected); the multiplier
//!     and shift of `scale_in · scale_w / scale_out` by TFLite's `QuantizeMultiplier`.
//!
//!   Layers are calibrated in order, each on the int8 outputs of the ones before
//!   ([`calibrate`]).
//!
//! BatchNorm was folded at export, so there is nothing left to fold: quantizing an unfolded
//! BatchNorm is the known failure of post-training quantization, and the file format has no
//! BatchNorm layer to quantize. Calibration images must be training images (never validation
//! or test images); the caller picks them.

mod calibrate;
mod equalize;
mod files;
mod forward;

use model_format::quant::{MIN_MULTIPLIER, MIN_SHIFT, quantize_multiplier};
use model_format::{
    AlignedBytes, Int8Params, LayerSpec, Model, ModelSpec, Params, Quant, Storage, block_int8,
    encode,
};

pub use crate::training::argmax;
pub use files::{CALIBRATION_IMAGES, Comparison, QuantizeFileError, Scored, quantize_to_files};
pub use forward::{Net, accuracy, forward, predict};

/// The storage to quantize to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// IEEE binary16 weights, f32 biases and compute.
    F16,
    /// TFLite-style int8, integer compute.
    Int8,
}

impl Target {
    /// Both targets, f16 first.
    pub const ALL: [Target; 2] = [Target::F16, Target::Int8];

    /// The storage the quantized file's layers have.
    pub const fn storage(self) -> Storage {
        match self {
            Target::F16 => Storage::F16,
            Target::Int8 => Storage::Int8,
        }
    }
}

/// Why a model cannot be quantized.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// The input is not an all-f32 model.
    #[error("layer {layer} is already {storage} (quantize an f32 model file)")]
    NotF32 {
        /// Layer index.
        layer: usize,
        /// Its storage name.
        storage: &'static str,
    },
    /// A weight overflows binary16 (|w| ≥ 65520 rounds to infinity).
    #[error("layer {layer}: weight {index} ({value}) does not fit in f16")]
    F16Overflow {
        /// Layer index.
        layer: usize,
        /// Index into the `[out][in]` weights.
        index: usize,
        /// The weight.
        value: f32,
    },
    /// int8 calibration needs images.
    #[error("int8 calibration needs at least one image")]
    NoCalibrationImages,
    /// The calibration images do not have the model's input size.
    #[error("calibration images hold {found} bytes, not a multiple of the model's {inputs} inputs")]
    CalibrationShape {
        /// Inputs of the model.
        inputs: usize,
        /// Bytes given.
        found: usize,
    },
    /// The encoder refused the result.
    #[error(transparent)]
    Encode(#[from] model_format::Error),
}

/// Quantizes a checked f32 model to `target`; for int8, calibrated on `calibration`, raw pixels
/// of whole images back to back (training images only).
///
/// # Errors
/// [`QuantizeError`] if the model is not all-f32, a weight overflows f16, or the calibration
/// images are missing or of the wrong size.
pub fn quantize(
    model: &Model<'_>,
    target: Target,
    calibration: &[u8],
) -> Result<AlignedBytes, QuantizeError> {
    let layers = f32_layers(model)?;
    match target {
        Target::F16 => to_f16(model, &layers),
        Target::Int8 => {
            check_calibration(model.inputs(), calibration)?;
            let equalized = equalized(model, &layers)?;
            let model = Model::from_bytes(&equalized)?;
            to_int8(&model, &f32_layers(&model)?, calibration)
        }
    }
}

/// `model` with every hidden unit between two ReLU-joined layers rescaled by
/// [`equalize`](equalize::equalize), as an f32 model file.
fn equalized(model: &Model<'_>, layers: &[F32Layer<'_>]) -> Result<AlignedBytes, QuantizeError> {
    let mut owned: Vec<equalize::Owned> = model
        .layers()
        .iter()
        .zip(layers)
        .map(|(l, &(weights, bias))| equalize::Owned {
            inputs: l.inputs(),
            weights: weights.to_vec(),
            bias: bias.to_vec(),
            relu: l.activation() == model_format::Activation::Relu,
        })
        .collect();
    equalize::equalize(&mut owned);
    reencode(
        model,
        owned.iter().map(|o| Params::F32 {
            weights: &o.weights,
            bias: &o.bias,
        }),
    )
}

/// One f32 layer's `(weights, bias)`, borrowed from the model file.
pub type F32Layer<'m> = (&'m [f32], &'m [f32]);

/// The `(weights, bias)` of every layer of an all-f32 model.
///
/// # Errors
/// [`QuantizeError::NotF32`] naming the first layer in another storage.
pub fn f32_layers<'m>(model: &Model<'m>) -> Result<Vec<F32Layer<'m>>, QuantizeError> {
    model
        .layers()
        .iter()
        .enumerate()
        .map(|(layer, l)| {
            l.params().f32().ok_or(QuantizeError::NotF32 {
                layer,
                storage: l.storage().name(),
            })
        })
        .collect()
}

/// `model` with each layer's parameters replaced by the next of `params` (same shapes,
/// activations, names and provenance), encoded.
fn reencode<'p>(
    model: &Model<'_>,
    params: impl Iterator<Item = Params<'p>>,
) -> Result<AlignedBytes, QuantizeError> {
    let layers: Vec<LayerSpec<'_>> = model
        .layers()
        .iter()
        .zip(params)
        .map(|(l, params)| LayerSpec {
            inputs: l.inputs() as u32,
            outputs: l.outputs() as u32,
            activation: l.activation(),
            params,
        })
        .collect();
    Ok(encode(&ModelSpec {
        variant: model.variant(),
        provenance: *model.provenance(),
        input: *model.input(),
        class_names: model.class_names(),
        layers: &layers,
    })?)
}

fn to_f16(model: &Model<'_>, layers: &[(&[f32], &[f32])]) -> Result<AlignedBytes, QuantizeError> {
    let mut halves = Vec::with_capacity(layers.len());
    for (layer, (weights, _)) in layers.iter().enumerate() {
        let h: Vec<u16> = weights
            .iter()
            .map(|&w| half::f16::from_f32(w).to_bits())
            .collect();
        if let Some(index) = h.iter().position(|b| b & 0x7c00 == 0x7c00) {
            let value = weights[index];
            return Err(QuantizeError::F16Overflow {
                layer,
                index,
                value,
            });
        }
        halves.push(h);
    }
    reencode(
        model,
        layers
            .iter()
            .zip(&halves)
            .map(|(&(_, bias), h)| Params::F16 { weights: h, bias }),
    )
}

/// One int8 layer's owned parameters.
#[derive(Clone)]
struct Int8Layer {
    input: Quant,
    output: Quant,
    weights: Vec<i8>,
    bias: Vec<i32>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
    weight_scale: Vec<f32>,
}

/// Calibration images are whole images of `inputs` pixels, at least one.
fn check_calibration(inputs: usize, calibration: &[u8]) -> Result<(), QuantizeError> {
    if calibration.is_empty() {
        return Err(QuantizeError::NoCalibrationImages);
    }
    if !calibration.len().is_multiple_of(inputs) {
        return Err(QuantizeError::CalibrationShape {
            inputs,
            found: calibration.len(),
        });
    }
    Ok(())
}

/// `layers` (of a model checked by [`check_calibration`]'s caller) in int8.
fn to_int8(
    model: &Model<'_>,
    layers: &[(&[f32], &[f32])],
    calibration: &[u8],
) -> Result<AlignedBytes, QuantizeError> {
    let owned = calibrate::int8_layers(model, layers, calibration);
    reencode(
        model,
        owned.iter().map(|q| {
            Params::Int8(Int8Params {
                input: q.input,
                output: q.output,
                weights: &q.weights,
                bias: &q.bias,
                multiplier: &q.multiplier,
                shift: &q.shift,
                weight_scale: &q.weight_scale,
            })
        }),
    )
}

/// Share of a hidden layer's output values (over all calibration images and units) the int8
/// range covers: the 99.9th percentile sets its top, so a handful of outliers do not coarsen
/// every other value's step (measured on the notebook's four models: 0.1–0.3 points of test
/// accuracy against min/max). Choosing the quantile per layer by the least squared error of
/// the layer's int8 outputs on the calibration images was measured too: it picks nearly
/// min/max for the dropout model (squared error weighs the clipped outliers heavily) and cost
/// it 0.6 points more.
pub const HIDDEN_PERCENTILE: f64 = 0.999;

/// The `q` quantile of `values` (the element at rank `round((n − 1) · q)`), reordering them;
/// `None` when empty.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let k = ((last as f64 * q).round() as usize).min(last);
    let (_, v, _) = values.select_nth_unstable_by(k, f64::total_cmp);
    Some(*v)
}

/// The asymmetric int8 quantization of `[lo, hi]` (which holds 0): TFLite's
/// `ChooseQuantizationParams` for `[-128, 127]`.
fn activation_quant(lo: f64, hi: f64) -> Quant {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo <= 0.0 {
        // An output that is 0 on every calibration image: any scale represents it.
        return Quant {
            scale: 1.0,
            zero_point: -128,
        };
    }
    // The zero point is computed from the scale the file stores (f32), so that the real 0
    // maps to an integer as exactly as the stored scale allows.
    let scale = ((hi - lo) / 255.0) as f32;
    let zero_point = (-128.0 - lo / f64::from(scale))
        .round()
        .clamp(-128.0, 127.0) as i32;
    Quant { scale, zero_point }
}

fn int8_layer(
    inputs: usize,
    weights: &[f32],
    bias: &[f32],
    input: Quant,
    output: Quant,
) -> Int8Layer {
    let outputs = bias.len();
    let mut q = vec![0i8; inputs * outputs];
    let mut layer = Int8Layer {
        input,
        output,
        weights: Vec::new(),
        bias: Vec::with_capacity(outputs),
        multiplier: Vec::with_capacity(outputs),
        shift: Vec::with_capacity(outputs),
        weight_scale: Vec::with_capacity(outputs),
    };
    for (o, row) in weights.chunks_exact(inputs).enumerate() {
        let max = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        // An all-zero row: any positive scale represents it exactly.
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for (qi, &w) in q[o * inputs..(o + 1) * inputs].iter_mut().zip(row) {
            *qi = (w / scale).round().clamp(-127.0, 127.0) as i8;
        }
        let acc_scale = f64::from(input.scale) * f64::from(scale);
        let b = (f64::from(bias[o]) / acc_scale).round();
        layer
            .bias
            .push(b.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32);
        layer.weight_scale.push(scale);
    }
    layer.set_output(output);
    layer.weights = block_int8(&q, inputs, outputs);
    layer
}

impl Int8Layer {
    /// Sets the output quantization and each row's requantization multiplier and shift, of
    /// `scale_in · scale_w / scale_out` by TFLite's `QuantizeMultiplier`.
    fn set_output(&mut self, output: Quant) {
        self.output = output;
        (self.multiplier, self.shift) = self
            .weight_scale
            .iter()
            .map(|&scale| requantization(self.input.scale, scale, output.scale))
            .unzip();
    }
}

/// The `(multiplier, shift)` of one row: TFLite's `QuantizeMultiplier` of the real factor
/// `(double)input · (double)weight / (double)output`, evaluated in that order in f64 as
/// TFLite's `PopulateConvolutionQuantizationParams` (per channel) and
/// `GetQuantizedConvolutionMultipler` (per tensor) do in `kernels/kernel_util.cc`, so a file
/// TFLite quantized gets TFLite's integers.
///
/// A real factor below 2^-32 (a row of near-zero weights) rounds to multiplier 0 in TFLite;
/// the format wants a normalized one, and the smallest it allows changes no output (every
/// accumulator times it rounds to 0, as with 0).
pub fn requantization(input: f32, weight: f32, output: f32) -> (i32, i32) {
    let acc_scale = f64::from(input) * f64::from(weight);
    let (m, s) = quantize_multiplier(acc_scale / f64::from(output));
    if m < MIN_MULTIPLIER {
        (MIN_MULTIPLIER, MIN_SHIFT)
    } else {
        (m, s)
    }
}

#[cfg(test)]
mod tests;

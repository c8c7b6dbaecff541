//! int8 calibration layer by layer: each layer is quantized on the integers the already
//! quantized layers before it give for the calibration images, and held to the f32 model's
//! values for the same images.
//!
//! For each layer, in order:
//! 1. **Weights**: symmetric per output row ([`int8_layer`]).
//! 2. **Bias correction** (Nagel et al. 2019, §4.2, empirical form): the int32 bias of row `o`
//!    becomes `round(mean_i(z[i, o] / s_acc[o] − acc[i, o]))`, where `acc` is the integer dot
//!    product the device computes for image `i`, `s_acc = s_in · s_w[o]` its scale, and `z` the
//!    f32 weights and bias applied to the same int8 input, dequantized. So the mean error the
//!    weights' rounding adds to each unit over the calibration images is taken out (to half an
//!    accumulator step). Correcting instead towards the f32 model's own pre-activations (which
//!    also absorbs the error the earlier layers pass on) was measured worse: the few images
//!    whose activations the percentile clips shift every image's bias (dropout: −7.5 points).
//! 3. **Output range**: a hidden layer's reaches from 0 to the [`HIDDEN_PERCENTILE`] quantile of
//!    its f32 outputs. The logits' is the `(lo, hi)`, among quantiles of each image's top and
//!    second logit, under which the int8 logits give the f32 model's class for most
//!    calibration images (ties: the smaller squared error of those two logits).

use model_format::quant::multiply_by_quantized_multiplier;
use model_format::{Model, Quant};

use super::{HIDDEN_PERCENTILE, Int8Layer, activation_quant, int8_layer, quantile};

/// Quantiles of each image's top logit tried as the top of the logits' range.
const TOP_CANDIDATES: [f64; 10] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0];

/// Quantiles of each image's second logit tried as the bottom of the logits' range.
const SECOND_CANDIDATES: [f64; 8] = [0.0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3];

/// The int8 layers of the (equalized, all-f32) `model`, calibrated on `images`.
pub(super) fn int8_layers(
    model: &Model<'_>,
    layers: &[(&[f32], &[f32])],
    images: &[u8],
) -> Vec<Int8Layer> {
    let inputs = model.inputs();
    let count = images.len() / inputs;
    let pixel_scale = f64::from(model.input().scale);
    let mut real: Vec<f64> = images.iter().map(|&p| f64::from(p) * pixel_scale).collect();
    let mut ints: Vec<i32> = images.iter().map(|&p| i32::from(p) - 128).collect();
    let mut input = model.input().int8_quant();
    let last = layers.len() - 1;
    let mut out = Vec::with_capacity(layers.len());
    for (k, (l, &(weights, bias))) in model.layers().iter().zip(layers).enumerate() {
        let (n, o) = (l.inputs(), l.outputs());
        let relu = l.activation() == model_format::Activation::Relu;
        // The output quantization is chosen below; the weights and scales do not depend on it.
        let mut q = int8_layer(n, weights, bias, input, input);
        let rows = unblock(&q.weights, n, o);
        // `f`: the f32 model's outputs (the next layer's f32 input); `z`: the f32 weights on
        // the int8 input; `acc`: the device's integer sums.
        let mut f = vec![0.0f64; count * o];
        let mut z = vec![0.0f64; count * o];
        let mut acc = vec![0i32; count * o];
        let step = f64::from(input.scale);
        for i in 0..count {
            let (x, xq) = (&real[i * n..(i + 1) * n], &ints[i * n..(i + 1) * n]);
            let xd: Vec<f64> = xq
                .iter()
                .map(|&x| f64::from(x - input.zero_point) * step)
                .collect();
            for r in 0..o {
                let (w, wq) = (&weights[r * n..(r + 1) * n], &rows[r * n..(r + 1) * n]);
                let b = f64::from(bias[r]);
                let v = b + w
                    .iter()
                    .zip(x)
                    .map(|(&w, &x)| f64::from(w) * x)
                    .sum::<f64>();
                f[i * o + r] = if relu { v.max(0.0) } else { v };
                z[i * o + r] = b + w
                    .iter()
                    .zip(&xd)
                    .map(|(&w, &x)| f64::from(w) * x)
                    .sum::<f64>();
                acc[i * o + r] = wq
                    .iter()
                    .zip(xq)
                    .map(|(&w, &x)| i32::from(w) * (x - input.zero_point))
                    .sum();
            }
        }
        for r in 0..o {
            let s_acc = step * f64::from(q.weight_scale[r]);
            let mean = (0..count)
                .map(|i| z[i * o + r] / s_acc - f64::from(acc[i * o + r]))
                .sum::<f64>()
                / count as f64;
            q.bias[r] = mean.round().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32;
        }
        let output = if k == last {
            logit_quant(&q, &acc, &f, o)
        } else {
            let mut values = f.clone();
            let lo = values.iter().copied().fold(0.0f64, f64::min);
            activation_quant(lo, quantile(&mut values, HIDDEN_PERCENTILE).unwrap_or(0.0))
        };
        q.set_output(output);
        ints = requantize(&q, &acc, relu);
        real = f;
        input = output;
        out.push(q);
    }
    out
}

/// Row-major `[out][in]` int8 weights from the file's tiles.
fn unblock(blocked: &[i8], inputs: usize, outputs: usize) -> Vec<i8> {
    (0..outputs * inputs)
        .map(|k| {
            let (r, c) = (k / inputs, k % inputs);
            blocked[model_format::int8_weight_index(r, c, inputs)]
        })
        .collect()
}

/// The int8 outputs of `q` for accumulators `acc` (`[image][row]`, bias not added).
fn requantize(q: &Int8Layer, acc: &[i32], relu: bool) -> Vec<i32> {
    let o = q.bias.len();
    let lo = if relu { q.output.zero_point } else { -128 };
    acc.iter()
        .enumerate()
        .map(|(k, &a)| {
            let r = k % o;
            let y = q.output.zero_point
                + multiply_by_quantized_multiplier(
                    a.saturating_add(q.bias[r]),
                    q.multiplier[r],
                    q.shift[r],
                );
            y.clamp(lo, 127)
        })
        .collect()
}

fn logit_quant(q: &Int8Layer, acc: &[i32], f: &[f64], o: usize) -> Quant {
    let count = f.len() / o.max(1);
    let (mut tops, mut seconds) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut classes = Vec::with_capacity(count);
    for row in f.chunks_exact(o) {
        let c = super::argmax(row);
        let second = row
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != c)
            .map(|(_, &v)| v)
            .fold(f64::NEG_INFINITY, f64::max);
        classes.push(c);
        tops.push(row[c]);
        seconds.push(if second.is_finite() { second } else { row[c] });
    }
    let mut best: Option<((usize, f64), Quant)> = None;
    for top_share in TOP_CANDIDATES {
        let Some(hi) = quantile(&mut tops, top_share) else {
            break;
        };
        for second_share in SECOND_CANDIDATES {
            let Some(lo) = quantile(&mut seconds, second_share) else {
                break;
            };
            let output = activation_quant(lo.min(hi), hi);
            let mut trial = q.clone();
            trial.set_output(output);
            let ints = requantize(&trial, acc, false);
            let s = f64::from(output.scale);
            let mut wrong = 0;
            let mut err = 0.0;
            for ((row, fr), &c) in ints.chunks_exact(o).zip(f.chunks_exact(o)).zip(&classes) {
                if super::argmax(row) != c {
                    wrong += 1;
                }
                let mut sorted: Vec<usize> = (0..o).collect();
                sorted.sort_by(|&a, &b| fr[b].total_cmp(&fr[a]));
                for &j in sorted.iter().take(2) {
                    let d = f64::from(row[j] - output.zero_point) * s - fr[j];
                    err += d * d;
                }
            }
            if best.is_none_or(|((w, e), _)| (wrong, err) < (w, e)) {
                best = Some(((wrong, err), output));
            }
        }
    }
    best.map_or(activation_quant(0.0, 0.0), |(_, q)| q)
}

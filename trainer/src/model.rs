//! The notebook's four MLP variants as one burn module, with Keras's layers and initialisation.
//!
//! Every hidden layer is `Dense → ReLU → [Dropout] → [BatchNormalization]`, the output layer is
//! `Dense(10)` whose softmax is left to the loss (the model returns logits). Kernels are
//! Glorot-uniform and biases zero, drawn from the caller's seeded RNG, never from burn's global
//! backend RNG, so concurrent runs stay reproducible.

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, Param, RunningState};
use burn::nn::Linear;
use burn::tensor::backend::Backend as BurnBackend;
use burn::tensor::{Tensor, TensorData, activation};
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::{IMAGE_PIXELS, NUM_CLASSES};

/// Inputs of the first layer (28 × 28 pixels).
pub const INPUTS: usize = IMAGE_PIXELS;
/// Outputs of the last layer (one logit per class).
pub const OUTPUTS: usize = NUM_CLASSES;

/// One of the notebook's four models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// 784 → 196 → 49 → 10.
    Vanilla,
    /// 784 → 392 → 98 → 24 → 10, `Dropout(0.5)` after each hidden ReLU.
    Dropout,
    /// 784 → 196 → 49 → 10, `BatchNormalization` after each hidden ReLU.
    Bn,
    /// As [`Variant::Bn`], with `Dropout(0.5)` between each ReLU and its `BatchNormalization`.
    BnDropout,
}

impl Variant {
    /// The four variants in the notebook's order.
    pub const ALL: [Variant; 4] = [
        Variant::Vanilla,
        Variant::Dropout,
        Variant::Bn,
        Variant::BnDropout,
    ];

    /// The name used on the command line and in file names.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Vanilla => "vanilla",
            Variant::Dropout => "dropout",
            Variant::Bn => "bn",
            Variant::BnDropout => "bn_dropout",
        }
    }

    /// Widths of the hidden layers, input to output.
    pub const fn hidden_sizes(self) -> &'static [usize] {
        match self {
            Variant::Dropout => &[392, 98, 24],
            Variant::Vanilla | Variant::Bn | Variant::BnDropout => &[196, 49],
        }
    }

    /// True when each hidden ReLU is followed by `Dropout`.
    pub const fn has_dropout(self) -> bool {
        matches!(self, Variant::Dropout | Variant::BnDropout)
    }

    /// True when each hidden layer ends with `BatchNormalization`.
    pub const fn has_batch_norm(self) -> bool {
        matches!(self, Variant::Bn | Variant::BnDropout)
    }

    /// Relative training time per epoch, for scheduling only: `trainer bench` medians on
    /// 2026-11-29 (3.3, 7.4, 4.5 and 5.6 s), rounded. Larger first keeps the cores busy to the
    /// end when variants train concurrently.
    pub const fn relative_cost(self) -> u32 {
        match self {
            Variant::Vanilla => 3,
            Variant::Dropout => 7,
            Variant::Bn => 4,
            Variant::BnDropout => 5,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A name that is not one of [`Variant::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model variant `{0}`; expected one of: vanilla, dropout, bn, bn_dropout")]
pub struct UnknownVariant(pub String);

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

/// Which batch variance feeds BatchNorm's moving variance.
///
/// Both conventions normalise the batch itself with the biased variance; they differ only in
/// the statistic averaged into `moving_variance`, which is what eval mode (and the exported,
/// folded model) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovingVariance {
    /// The biased batch variance, as tf.keras ≥ 2.4 and burn's own `BatchNorm` do.
    Biased,
    /// The biased variance times `n / (n - (1 + ε))`: standalone Keras 2.2–2.3.1
    /// (`keras/layers/normalization.py`: `variance *= sample_size / (sample_size - (1.0 +
    /// self.epsilon))`), the version that printed "Using TensorFlow backend." in the notebook.
    /// The default, to reproduce the notebook; the batch itself is always normalised with the
    /// biased variance.
    #[default]
    Keras2Corrected,
}

/// Hyper-parameters of the layers (not of the optimiser).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Dropout rate (fraction of units zeroed while training).
    pub dropout: f64,
    /// BatchNorm momentum in Keras's convention: `moving = momentum·moving + (1-momentum)·batch`.
    pub bn_momentum: f64,
    /// BatchNorm epsilon added to the variance.
    pub bn_epsilon: f64,
    /// The variance averaged into BatchNorm's moving variance.
    pub bn_moving_variance: MovingVariance,
}

impl Default for MlpConfig {
    /// Keras's defaults, as the notebook uses them.
    fn default() -> Self {
        Self {
            dropout: 0.5,
            bn_momentum: 0.99,
            bn_epsilon: 1e-3,
            // The notebook's Keras (2.3, see `MovingVariance::Keras2Corrected`).
            bn_moving_variance: MovingVariance::Keras2Corrected,
        }
    }
}

/// Keras's `BatchNormalization` over `[batch, features]`.
///
/// burn's own `BatchNorm` (0.21) would do the same arithmetic with momentum `0.01` (PyTorch's
/// convention, `running = (1-m)·running + m·batch`) and the biased variance, but it picks
/// train or eval statistics from the backend (`ad_enabled`) rather than from the call; this
/// layer makes the mode explicit and also offers Keras 2.3's corrected moving variance.
#[derive(Module, Debug)]
pub struct BatchNorm<B: BurnBackend> {
    /// Scale, initialised to ones.
    pub gamma: Param<Tensor<B, 1>>,
    /// Offset, initialised to zeros.
    pub beta: Param<Tensor<B, 1>>,
    /// Moving mean, initialised to zeros.
    pub moving_mean: RunningState<Tensor<B, 1>>,
    /// Moving variance, initialised to ones.
    pub moving_var: RunningState<Tensor<B, 1>>,
    /// Keras momentum (0.99 by default).
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub epsilon: f64,
    /// True for [`MovingVariance::Keras2Corrected`].
    pub corrected_variance: bool,
}

impl<B: BurnBackend> BatchNorm<B> {
    fn new(features: usize, config: &MlpConfig, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([features], device)),
            beta: Param::from_tensor(Tensor::zeros([features], device)),
            moving_mean: RunningState::new(Tensor::zeros([features], device)),
            moving_var: RunningState::new(Tensor::ones([features], device)),
            momentum: config.bn_momentum,
            epsilon: config.bn_epsilon,
            corrected_variance: config.bn_moving_variance == MovingVariance::Keras2Corrected,
        }
    }

    /// Training mode: normalise with the batch's mean and biased variance, and move the moving
    /// statistics towards them as Keras does (`moving -= (moving - batch)·(1 - momentum)`).
    ///
    /// # Shapes
    /// `x`: `[batch, features]` → `[batch, features]`.
    pub fn forward_train(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, features] = x.dims();
        let mean = x.clone().mean_dim(0);
        let centered = x - mean.clone();
        let var = centered.clone().square().mean_dim(0);
        let y = centered / var.clone().add_scalar(self.epsilon).sqrt();
        let y = y * self.gamma.val().unsqueeze::<2>() + self.beta.val().unsqueeze::<2>();

        let decay = 1.0 - self.momentum;
        let batch_mean = mean.detach().reshape([features]);
        let mut batch_var = var.detach().reshape([features]);
        if self.corrected_variance {
            let n = batch as f64;
            batch_var = batch_var.mul_scalar(n / (n - (1.0 + self.epsilon)));
        }
        let moving_mean = self.moving_mean.value_sync();
        let moving_var = self.moving_var.value_sync();
        self.moving_mean
            .update(moving_mean.clone() - (moving_mean - batch_mean).mul_scalar(decay));
        self.moving_var
            .update(moving_var.clone() - (moving_var - batch_var).mul_scalar(decay));
        y
    }

    /// Eval mode with the moving statistics, in TensorFlow's form
    /// `x·inv + (beta - mean·inv)` with `inv = gamma / sqrt(var + ε)`.
    ///
    /// # Shapes
    /// `x`: `[batch, features]` → `[batch, features]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let mean = synced(&self.moving_mean);
        let var = synced(&self.moving_var);
        let inv = self.gamma.val() / var.add_scalar(self.epsilon).sqrt();
        let shift = self.beta.val() - mean * inv.clone();
        x * inv.unsqueeze::<2>() + shift.unsqueeze::<2>()
    }

    fn snapshot(&self) -> NormSnapshot {
        NormSnapshot {
            gamma: to_vec(self.gamma.val()),
            beta: to_vec(self.beta.val()),
            mean: to_vec(synced(&self.moving_mean)),
            var: to_vec(synced(&self.moving_var)),
            epsilon: self.epsilon,
        }
    }
}

/// One of the notebook's MLPs.
#[derive(Module, Debug)]
pub struct Mlp<B: BurnBackend> {
    /// Dense layers, input to output; `weight` is `[inputs, outputs]` like a Keras kernel.
    pub dense: Vec<Linear<B>>,
    /// One BatchNorm per hidden layer for the `bn` variants, empty otherwise.
    pub norms: Vec<BatchNorm<B>>,
    /// Which of the four models this is.
    pub variant: Variant,
    /// Dropout rate used by [`Mlp::forward_train`] when the variant has dropout.
    pub dropout: f64,
}

impl<B: BurnBackend> Mlp<B> {
    /// Builds `variant` with Keras's initialisation: Glorot-uniform kernels drawn from `rng`
    /// (limit `sqrt(6 / (fan_in + fan_out))`, row-major `[inputs][outputs]`, layer by layer),
    /// zero biases, BatchNorm `gamma = 1`, `beta = 0`, moving mean 0 and moving variance 1.
    pub fn new(variant: Variant, config: &MlpConfig, rng: &mut StdRng, device: &B::Device) -> Self {
        let mut widths = vec![INPUTS];
        widths.extend_from_slice(variant.hidden_sizes());
        widths.push(OUTPUTS);
        let dense = widths
            .windows(2)
            .map(|w| glorot_dense(w[0], w[1], rng, device))
            .collect();
        let norms = if variant.has_batch_norm() {
            variant
                .hidden_sizes()
                .iter()
                .map(|&n| BatchNorm::new(n, config, device))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            dense,
            norms,
            variant,
            dropout: config.dropout,
        }
    }

    /// Training-mode forward pass: dropout masks drawn from `rng` (inverted dropout: a unit is
    /// kept with probability `1 - p` and scaled by `1 / (1 - p)`), BatchNorm on batch
    /// statistics (which also updates its moving statistics).
    ///
    /// # Shapes
    /// `x`: `[batch, 784]` pixels in `[0, 1]` → logits `[batch, 10]`.
    pub fn forward_train(&self, x: Tensor<B, 2>, rng: &mut StdRng) -> Tensor<B, 2> {
        let (hidden, output) = self.dense.split_at(self.dense.len() - 1);
        let mut x = x;
        for (i, layer) in hidden.iter().enumerate() {
            x = activation::relu(layer.forward(x));
            if self.variant.has_dropout() {
                x = dropout(x, self.dropout, rng);
            }
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward_train(x);
            }
        }
        output[0].forward(x)
    }

    /// Eval-mode forward pass: no dropout, BatchNorm on its moving statistics, on any backend.
    ///
    /// # Shapes
    /// `x`: `[batch, 784]` pixels in `[0, 1]` → logits `[batch, 10]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let (hidden, output) = self.dense.split_at(self.dense.len() - 1);
        let mut x = x;
        for (i, layer) in hidden.iter().enumerate() {
            x = activation::relu(layer.forward(x));
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
        }
        output[0].forward(x)
    }

    /// The parameter count Keras's `model.summary()` reports: kernels, biases, and for
    /// BatchNorm its four vectors (gamma, beta, moving mean, moving variance).
    pub fn param_count(&self) -> usize {
        self.num_params()
    }

    /// A plain copy of every weight and statistic, for folding and export.
    pub fn snapshot(&self) -> Snapshot {
        let dense: Vec<DenseSnapshot> = self
            .dense
            .iter()
            .map(|layer| {
                let [inputs, outputs] = layer.weight.dims();
                DenseSnapshot {
                    inputs,
                    outputs,
                    weight: to_vec(layer.weight.val()),
                    bias: layer
                        .bias
                        .as_ref()
                        .map_or_else(|| vec![0.0; outputs], |b| to_vec(b.val())),
                }
            })
            .collect();
        let norms = (0..dense.len())
            .map(|i| self.norms.get(i).map(BatchNorm::snapshot))
            .collect();
        Snapshot {
            variant: self.variant,
            dense,
            norms,
        }
    }
}

/// A plain copy of a model's weights, independent of burn.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Which model this is.
    pub variant: Variant,
    /// Dense layers, input to output.
    pub dense: Vec<DenseSnapshot>,
    /// `norms[i]` is the BatchNorm after dense layer `i`'s ReLU; `None` for the last layer
    /// and for variants without BatchNorm. Same length as `dense`.
    pub norms: Vec<Option<NormSnapshot>>,
}

/// One dense layer: `y = x·W + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseSnapshot {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Row-major `[inputs][outputs]` (burn's and Keras's kernel layout).
    pub weight: Vec<f32>,
    /// `outputs` values.
    pub bias: Vec<f32>,
}

/// One BatchNorm in eval form: `y = (x - mean) / sqrt(var + epsilon) · gamma + beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormSnapshot {
    /// Scale.
    pub gamma: Vec<f32>,
    /// Offset.
    pub beta: Vec<f32>,
    /// Moving mean.
    pub mean: Vec<f32>,
    /// Moving variance.
    pub var: Vec<f32>,
    /// Added to `var` before the square root.
    pub epsilon: f64,
}

/// Eval-mode logits of `images` (raw pixels, divided by 255 in `f32` as in training), computed
/// `batch` images at a time.
///
/// # Shapes
/// `images`: `n * 784` bytes → `n * 10` logits, row-major.
///
/// # Panics
/// If `images.len()` is not a multiple of 784 or `batch` is 0.
pub fn logits(model: &Mlp<crate::Backend>, images: &[u8], batch: usize) -> Vec<f32> {
    assert!(
        images.len().is_multiple_of(INPUTS),
        "image bytes must be a multiple of {INPUTS}"
    );
    assert!(batch > 0, "batch must be positive");
    let device = Default::default();
    let mut out = Vec::with_capacity(images.len() / INPUTS * OUTPUTS);
    for chunk in images.chunks(batch * INPUTS) {
        let x = pixels_tensor::<crate::Backend>(chunk, &device);
        out.extend(to_vec(model.forward(x)));
    }
    out
}

/// Builds a `[n, 784]` tensor of `pixel / 255` from raw bytes.
///
/// # Shapes
/// `images`: `n * 784` bytes → `[n, 784]`.
pub fn pixels_tensor<B: BurnBackend>(images: &[u8], device: &B::Device) -> Tensor<B, 2> {
    let values: Vec<f32> = images.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(
        TensorData::new(values, [images.len() / INPUTS, INPUTS]),
        device,
    )
}

/// Glorot-uniform limit for a kernel, as Keras's `glorot_uniform` computes it.
pub fn glorot_limit(fan_in: usize, fan_out: usize) -> f64 {
    (6.0 / (fan_in + fan_out) as f64).sqrt()
}

fn glorot_dense<B: BurnBackend>(
    inputs: usize,
    outputs: usize,
    rng: &mut StdRng,
    device: &B::Device,
) -> Linear<B> {
    let limit = glorot_limit(inputs, outputs) as f32;
    let weight: Vec<f32> = (0..inputs * outputs)
        .map(|_| rng.random_range(-limit..limit))
        .collect();
    let weight = Tensor::from_data(TensorData::new(weight, [inputs, outputs]), device);
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(Tensor::zeros([outputs], device))),
    }
}

/// Inverted dropout with a mask from our own RNG (units kept when `u ≥ p`, as TensorFlow does).
fn dropout<B: BurnBackend>(x: Tensor<B, 2>, p: f64, rng: &mut StdRng) -> Tensor<B, 2> {
    if p <= 0.0 {
        return x;
    }
    let [rows, cols] = x.dims();
    let p = p as f32;
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..rows * cols)
        .map(|_| if rng.random::<f32>() >= p { scale } else { 0.0 })
        .collect();
    let mask = Tensor::from_data(TensorData::new(mask, [rows, cols]), &x.device());
    x * mask
}

/// The current value of a running state, pending updates of every thread included
/// (`value()` may lag one update; `value_sync()` only folds in the calling thread's).
fn synced<B: BurnBackend>(state: &RunningState<Tensor<B, 1>>) -> Tensor<B, 1> {
    state.clone().into_record().val()
}

fn to_vec<B: BurnBackend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, TrainBackend};
    use burn::module::AutodiffModule;
    use rand::SeedableRng;

    fn build<B: BurnBackend>(variant: Variant, seed: u64) -> Mlp<B> {
        let mut rng = StdRng::seed_from_u64(seed);
        Mlp::new(
            variant,
            &MlpConfig::default(),
            &mut rng,
            &Default::default(),
        )
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>(), Ok(v));
        }
        let err = "bn-dropout".parse::<Variant>().unwrap_err().to_string();
        for v in Variant::ALL {
            assert!(err.contains(v.name()), "{err}");
        }
    }

    #[test]
    fn param_counts_match_keras_summary() {
        // Keras model.summary() totals (BatchNorm counts gamma, beta, moving mean and variance).
        const EXPECTED: [(Variant, usize); 4] = [
            (Variant::Vanilla, 164_013),
            (Variant::Dropout, 348_860),
            (Variant::Bn, 164_993),
            (Variant::BnDropout, 164_993),
        ];
        for (variant, count) in EXPECTED {
            assert_eq!(
                build::<Backend>(variant, 0).param_count(),
                count,
                "{variant}"
            );
        }
    }

    #[test]
    fn kernels_are_glorot_uniform_and_biases_zero() {
        for variant in Variant::ALL {
            let snap = build::<Backend>(variant, 7).snapshot();
            assert_eq!(snap.norms.len(), snap.dense.len());
            assert!(snap.norms.last().unwrap().is_none());
            for layer in &snap.dense {
                let limit = glorot_limit(layer.inputs, layer.outputs) as f32;
                let max = layer.weight.iter().fold(0f32, |m, w| m.max(w.abs()));
                let mean = layer.weight.iter().map(|&w| f64::from(w)).sum::<f64>()
                    / layer.weight.len() as f64;
                assert_eq!(layer.weight.len(), layer.inputs * layer.outputs);
                assert!(max <= limit, "{variant}: {max} > {limit}");
                // With ≥ 240 draws, the largest |w| is within 3 % of the limit (p > 0.999).
                assert!(max > 0.97 * limit, "{variant}: {max} ≪ {limit}");
                // Uniform mean has std limit/sqrt(3n): 5 sigma for the smallest layer.
                let sigma = f64::from(limit) / (3.0 * layer.weight.len() as f64).sqrt();
                assert!(mean.abs() < 5.0 * sigma, "{variant}: mean {mean}");
                assert!(layer.bias.iter().all(|&b| b == 0.0));
            }
            for norm in snap.norms.iter().flatten() {
                assert!(norm.gamma.iter().all(|&g| g == 1.0));
                assert!(norm.beta.iter().chain(&norm.mean).all(|&x| x == 0.0));
                assert!(norm.var.iter().all(|&x| x == 1.0));
                assert_eq!(norm.epsilon, 1e-3);
            }
        }
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let a = build::<Backend>(Variant::Dropout, 3).snapshot();
        assert_eq!(a, build::<Backend>(Variant::Dropout, 3).snapshot());
        assert_ne!(a, build::<Backend>(Variant::Dropout, 4).snapshot());
    }

    /// Pseudo-random pixels, so the test needs no data files.
    fn noise_images(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n * INPUTS).map(|_| rng.random::<u8>()).collect()
    }

    fn dense_relu_f64(x: &[f64], layer: &DenseSnapshot, relu: bool) -> Vec<f64> {
        let rows = x.len() / layer.inputs;
        let mut y = vec![0.0; rows * layer.outputs];
        for r in 0..rows {
            for o in 0..layer.outputs {
                let mut acc = f64::from(layer.bias[o]);
                for i in 0..layer.inputs {
                    acc += x[r * layer.inputs + i] * f64::from(layer.weight[i * layer.outputs + o]);
                }
                y[r * layer.outputs + o] = if relu { acc.max(0.0) } else { acc };
            }
        }
        y
    }

    /// Column means and biased variances of a `[rows, cols]` matrix.
    fn moments(x: &[f64], cols: usize) -> (Vec<f64>, Vec<f64>) {
        let rows = (x.len() / cols) as f64;
        let mean: Vec<f64> = (0..cols)
            .map(|c| x.iter().skip(c).step_by(cols).sum::<f64>() / rows)
            .collect();
        let var = (0..cols)
            .map(|c| {
                x.iter()
                    .skip(c)
                    .step_by(cols)
                    .map(|v| (v - mean[c]).powi(2))
                    .sum::<f64>()
                    / rows
            })
            .collect();
        (mean, var)
    }

    /// Moving statistics after one training batch, computed by hand with Keras's rule
    /// `moving -= (moving - batch)·(1 - 0.99)` from mean 0 and variance 1.
    fn check_one_step_moving_stats(convention: MovingVariance) {
        // f32 sums of 8 products of 784 terms, then a mean over 8 rows.
        const STAT_ATOL: f64 = 2e-5;
        let config = MlpConfig {
            bn_moving_variance: convention,
            ..MlpConfig::default()
        };
        let mut rng = StdRng::seed_from_u64(11);
        let model: Mlp<TrainBackend> =
            Mlp::new(Variant::Bn, &config, &mut rng, &Default::default());
        let before = model.snapshot();
        let images = noise_images(8, 5);
        let x = pixels_tensor::<TrainBackend>(&images, &Default::default());
        let _ = model.forward_train(x, &mut rng);
        let after = model.snapshot();

        let mut act: Vec<f64> = images
            .iter()
            .map(|&p| f64::from(p as f32 / 255.0))
            .collect();
        for i in 0..2 {
            let layer = &before.dense[i];
            let h = dense_relu_f64(&act, layer, true);
            let (mean, var) = moments(&h, layer.outputs);
            let norm = after.norms[i].as_ref().unwrap();
            let factor = match convention {
                MovingVariance::Biased => 1.0,
                MovingVariance::Keras2Corrected => 8.0 / (8.0 - 1.001),
            };
            for c in 0..layer.outputs {
                let want_mean = 0.0 - (0.0 - mean[c]) * 0.01;
                let want_var = 1.0 - (1.0 - var[c] * factor) * 0.01;
                assert!(
                    (f64::from(norm.mean[c]) - want_mean).abs() < STAT_ATOL,
                    "mean {i} {c}"
                );
                assert!(
                    (f64::from(norm.var[c]) - want_var).abs() < STAT_ATOL,
                    "var {i} {c}"
                );
            }
            // Training mode normalises with the batch statistics (gamma 1, beta 0).
            act = h
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    let c = k % layer.outputs;
                    (v - mean[c]) / (var[c] + 1e-3).sqrt()
                })
                .collect();
        }
    }

    #[test]
    fn batch_norm_moving_stats_follow_keras_update_biased() {
        check_one_step_moving_stats(MovingVariance::Biased);
    }

    #[test]
    fn batch_norm_moving_stats_follow_keras_update_keras2_corrected() {
        check_one_step_moving_stats(MovingVariance::Keras2Corrected);
    }

    /// Hand-written f64 eval forward from a snapshot.
    fn forward_f64(snap: &Snapshot, images: &[u8]) -> Vec<f64> {
        let mut act: Vec<f64> = images.iter().map(|&p| f64::from(p) / 255.0).collect();
        let last = snap.dense.len() - 1;
        for (i, layer) in snap.dense.iter().enumerate() {
            act = dense_relu_f64(&act, layer, i < last);
            if let Some(norm) = &snap.norms[i] {
                for (k, v) in act.iter_mut().enumerate() {
                    let c = k % layer.outputs;
                    let var = f64::from(norm.var[c]) + norm.epsilon;
                    *v = (*v - f64::from(norm.mean[c])) / var.sqrt() * f64::from(norm.gamma[c])
                        + f64::from(norm.beta[c]);
                }
            }
        }
        act
    }

    #[test]
    fn eval_forward_matches_f64_forward_from_snapshot() {
        // f32 dot products of up to 784 terms with |logit| ≲ 10: a few ulps of 10 per layer.
        const LOGIT_ATOL: f64 = 1e-4;
        for variant in Variant::ALL {
            let mut rng = StdRng::seed_from_u64(21);
            let model: Mlp<TrainBackend> = Mlp::new(
                variant,
                &MlpConfig::default(),
                &mut rng,
                &Default::default(),
            );
            // A few training-mode passes so the moving statistics are not trivial.
            for s in 0..3 {
                let x = pixels_tensor(&noise_images(16, s), &Default::default());
                let _ = model.forward_train(x, &mut rng);
            }
            let model = model.valid();
            let images = noise_images(37, 99);
            let got = logits(&model, &images, 10);
            let want = forward_f64(&model.snapshot(), &images);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() < LOGIT_ATOL,
                    "{variant}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn eval_forward_is_the_same_on_the_autodiff_backend() {
        let mut rng = StdRng::seed_from_u64(2);
        let model: Mlp<TrainBackend> = Mlp::new(
            Variant::BnDropout,
            &MlpConfig::default(),
            &mut rng,
            &Default::default(),
        );
        let x = pixels_tensor::<TrainBackend>(&noise_images(8, 1), &Default::default());
        let _ = model.forward_train(x, &mut rng);
        let images = noise_images(5, 3);
        let on_train = to_vec(model.forward(pixels_tensor(&images, &Default::default())));
        assert_eq!(on_train, logits(&model.valid(), &images, 5));
    }
}

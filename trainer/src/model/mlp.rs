//! An MLP of any [`MlpSpec`] as one burn module, with Keras's layers and initialisation.
//!
//! Kernels are Glorot-uniform and biases zero, drawn from the caller's seeded RNG, never from
//! burn's global backend RNG, so concurrent runs stay reproducible.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::backend::Backend as BurnBackend;
use burn::tensor::{Tensor, TensorData, activation};
use rand::Rng;
use rand::rngs::StdRng;

use crate::model::batch_norm::BatchNorm;
use crate::model::snapshot::{DenseSnapshot, Snapshot};
use crate::model::spec::{HiddenActivation, INPUTS, MlpSpec};
use crate::model::tensor::{pixels_tensor, to_vec};

/// An MLP built from an [`MlpSpec`].
#[derive(Module, Debug)]
pub struct Mlp<B: BurnBackend> {
    /// Dense layers, input to output; `weight` is `[inputs, outputs]` like a Keras kernel.
    pub dense: Vec<Linear<B>>,
    /// `norms[i]` is the BatchNorm after hidden layer `i`, if it has one.
    pub norms: Vec<Option<BatchNorm<B>>>,
    /// Dropout rate after each hidden layer's activation (0: none).
    pub dropout: Vec<f64>,
    /// The hidden layers' activation.
    pub activation: HiddenActivation,
}

impl<B: BurnBackend> Mlp<B> {
    /// Builds `spec` with Keras's initialisation: Glorot-uniform kernels drawn from `rng`
    /// (limit `sqrt(6 / (fan_in + fan_out))`, row-major `[inputs][outputs]`, layer by layer),
    /// zero biases, BatchNorm `gamma = 1`, `beta = 0`, moving mean 0 and moving variance 1.
    pub fn new(spec: &MlpSpec, rng: &mut StdRng, device: &B::Device) -> Self {
        let dense = spec
            .widths()
            .windows(2)
            .map(|w| glorot_dense(w[0], w[1], rng, device))
            .collect();
        let norms = spec
            .hidden
            .iter()
            .map(|l| {
                l.batch_norm
                    .then(|| BatchNorm::new(l.width, &spec.batch_norm, device))
            })
            .collect();
        Self {
            dense,
            norms,
            dropout: spec.hidden.iter().map(|l| l.dropout).collect(),
            activation: spec.activation,
        }
    }

    fn activate(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.activation {
            HiddenActivation::Relu => activation::relu(x),
        }
    }

    /// Training-mode forward pass: dropout masks drawn from `rng` (inverted dropout: a unit is
    /// kept with probability `1 - p` and scaled by `1 / (1 - p)`), BatchNorm on batch
    /// statistics (which also updates its moving statistics).
    ///
    /// # Shapes
    /// `x`: `[batch, 784]` pixels in `[0, 1]` → logits `[batch, classes]`.
    pub fn forward_train(&self, x: Tensor<B, 2>, rng: &mut StdRng) -> Tensor<B, 2> {
        let (hidden, output) = self.dense.split_at(self.dense.len() - 1);
        let mut x = x;
        for (i, layer) in hidden.iter().enumerate() {
            x = self.activate(layer.forward(x));
            x = dropout(x, self.dropout[i], rng);
            if let Some(norm) = &self.norms[i] {
                x = norm.forward_train(x);
            }
        }
        output[0].forward(x)
    }

    /// Eval-mode forward pass: no dropout, BatchNorm on its moving statistics, on any backend.
    ///
    /// # Shapes
    /// `x`: `[batch, 784]` pixels in `[0, 1]` → logits `[batch, classes]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let (hidden, output) = self.dense.split_at(self.dense.len() - 1);
        let mut x = x;
        for (i, layer) in hidden.iter().enumerate() {
            x = self.activate(layer.forward(x));
            if let Some(norm) = &self.norms[i] {
                x = norm.forward(x);
            }
        }
        output[0].forward(x)
    }

    /// Output width (the number of classes).
    pub fn outputs(&self) -> usize {
        self.dense.last().map_or(0, |l| l.weight.dims()[1])
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
            .map(|i| {
                self.norms
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(BatchNorm::snapshot)
            })
            .collect();
        Snapshot { dense, norms }
    }
}

/// Eval-mode logits of `images` (raw pixels, divided by 255 in `f32` as in training), computed
/// `batch` images at a time.
///
/// # Shapes
/// `images`: `n * 784` bytes → `n * classes` logits, row-major.
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
    let mut out = Vec::with_capacity(images.len() / INPUTS * model.outputs());
    for chunk in images.chunks(batch * INPUTS) {
        let x = pixels_tensor::<crate::Backend>(chunk, &device);
        out.extend(to_vec(model.forward(x)));
    }
    out
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

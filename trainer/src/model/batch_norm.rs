//! Keras's BatchNormalization as a burn module, with the train/eval mode chosen by the call.

use burn::module::{Module, Param, RunningState};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend as BurnBackend;

use crate::model::snapshot::NormSnapshot;
use crate::model::spec::{BatchNormSpec, MovingVariance};
use crate::model::tensor::{synced, to_vec};

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
    /// A fresh layer over `features` units: `gamma = 1`, `beta = 0`, moving mean 0 and moving
    /// variance 1.
    pub fn new(features: usize, spec: &BatchNormSpec, device: &B::Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([features], device)),
            beta: Param::from_tensor(Tensor::zeros([features], device)),
            moving_mean: RunningState::new(Tensor::zeros([features], device)),
            moving_var: RunningState::new(Tensor::ones([features], device)),
            momentum: spec.momentum,
            epsilon: spec.epsilon,
            corrected_variance: spec.moving_variance == MovingVariance::Keras2Corrected,
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

    /// A plain copy of the layer in eval form.
    pub fn snapshot(&self) -> NormSnapshot {
        NormSnapshot {
            gamma: to_vec(self.gamma.val()),
            beta: to_vec(self.beta.val()),
            mean: to_vec(synced(&self.moving_mean)),
            var: to_vec(synced(&self.moving_var)),
            epsilon: self.epsilon,
        }
    }
}

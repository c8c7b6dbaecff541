//! Moving data between byte images, host vectors and burn tensors.

use burn::module::{Module, RunningState};
use burn::tensor::backend::Backend as BurnBackend;
use burn::tensor::{Tensor, TensorData};

use crate::model::spec::INPUTS;

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

/// The current value of a running state, pending updates of every thread included
/// (`value()` may lag one update; `value_sync()` only folds in the calling thread's).
pub fn synced<B: BurnBackend>(state: &RunningState<Tensor<B, 1>>) -> Tensor<B, 1> {
    state.clone().into_record().val()
}

/// A tensor's values as a host vector, row-major.
pub fn to_vec<B: BurnBackend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

//! The model: a typed spec ([`MlpSpec`]), the burn module it builds ([`Mlp`], with Keras's
//! [`BatchNorm`]), and the plain [`Snapshot`] of its weights that folding and export read.

pub mod batch_norm;
pub mod mlp;
pub mod snapshot;
pub mod spec;
pub mod tensor;

pub use batch_norm::BatchNorm;
pub use mlp::{Mlp, glorot_limit, logits};
pub use snapshot::{DenseSnapshot, NormSnapshot, Snapshot};
pub use spec::{
    BatchNormSpec, HiddenActivation, HiddenLayer, INPUTS, MlpSpec, MovingVariance, SpecError,
};
pub use tensor::pixels_tensor;

#[cfg(test)]
mod tests;

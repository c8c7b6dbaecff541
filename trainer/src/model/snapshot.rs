//! Plain copies of a model's weights, independent of burn: what folding and export read.

/// A plain copy of a model's weights, independent of burn.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Dense layers, input to output.
    pub dense: Vec<DenseSnapshot>,
    /// `norms[i]` is the BatchNorm after dense layer `i`'s ReLU; `None` for the last layer
    /// and for hidden layers without BatchNorm. Same length as `dense`.
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

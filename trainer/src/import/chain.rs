//! A framework-neutral chain of dense-network operations, and its folding into model layers.
//!
//! An importer reads its file format into a list of [`Step`]s in execution order: dense layers
//! with weights already as `[out][in]`, ReLU, eval-mode BatchNorm, Softmax. [`fold_chain`]
//! turns the list into the plain dense layers the model file holds. BatchNorm is the affine map
//! `y = s ⊙ x + t` per feature, with `s = γ / √(σ² + ε)` and `t = β − μ · s` (ε read from the
//! source file), and it folds into a neighbouring dense layer exactly, as the graph places it:
//!
//! ```text
//! before the activation (Dense → BN → ReLU), backward:  W' = diag(s)·W,  b' = s ⊙ b + t
//! after the activation (ReLU → BN → Dense), forward:    W' = W·diag(s),  b' = b + W·t
//! ```
//!
//! Two BatchNorms in a row compose (`s₂s₁`, `s₂t₁ + t₂`) before they fold. The arithmetic runs
//! in f64 and is rounded to f32 once. A BatchNorm after the last activation has no dense layer
//! to fold into and is refused, as is anything the device cannot compute (an activation before
//! the first dense layer, a Softmax that is not last).

use model_format::Activation;

use crate::fold::FoldedLayer;

/// One operation of the source graph, named after the node it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The source node's name (or its output's name when the node has none).
    pub node: String,
    /// The source node's operator (`Gemm`, `FULLY_CONNECTED`, ...), for messages.
    pub op_type: String,
    /// What it computes.
    pub op: Op,
}

/// The operations a dense network is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `y = W·x + b` with `W` as `[outputs][inputs]`, row-major.
    Dense {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
        /// `[outputs][inputs]`.
        weights: Vec<f32>,
        /// `[outputs]`.
        bias: Vec<f32>,
    },
    /// `max(0, x)`.
    Relu,
    /// Eval-mode batch normalization over the features.
    BatchNorm {
        /// γ.
        gamma: Vec<f32>,
        /// β.
        beta: Vec<f32>,
        /// Running mean μ.
        mean: Vec<f32>,
        /// Running variance σ².
        var: Vec<f32>,
        /// ε, as the source file states it.
        epsilon: f64,
    },
    /// Softmax over the features; only as the last operation.
    Softmax,
}

/// Why a chain cannot become model layers; each names the node.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainError {
    /// No dense layer at all.
    #[error("the graph has no dense layer")]
    Empty,
    /// An operation the device cannot compute at this place.
    #[error("node {node:?} ({op_type}): {reason}")]
    Misplaced {
        /// Node name.
        node: String,
        /// Its operator.
        op_type: String,
        /// Why it cannot be here.
        reason: &'static str,
    },
    /// Widths that do not chain.
    #[error("node {node:?} ({op_type}): {what} has {found} values, expected {expected}")]
    Shape {
        /// Node name.
        node: String,
        /// Its operator.
        op_type: String,
        /// Which array or input.
        what: &'static str,
        /// Expected count.
        expected: usize,
        /// Count found.
        found: usize,
    },
    /// A NaN or infinity in the weights, or produced by folding.
    #[error("node {node:?} ({op_type}): {what} is not finite")]
    NonFinite {
        /// Node name.
        node: String,
        /// Its operator.
        op_type: String,
        /// What was not finite.
        what: &'static str,
    },
}

/// A layer being built: f64 weights so that folds round once.
struct Pending {
    inputs: usize,
    outputs: usize,
    weights: Vec<f64>,
    bias: Vec<f64>,
    activation: Option<Activation>,
}

/// Folds `steps` into dense layers: BatchNorm into its neighbour, ReLU and Softmax into the
/// layer's activation (a last layer without one gives raw outputs, [`Activation::None`]).
///
/// # Errors
/// [`ChainError`] naming the node that cannot be placed or whose shapes do not chain.
pub fn fold_chain(steps: &[Step]) -> Result<Vec<FoldedLayer>, ChainError> {
    let mut done: Vec<Pending> = Vec::new();
    // A BatchNorm after an activation, waiting for the next dense layer, with its node.
    let mut forward: Option<(Affine, &Step)> = None;
    for (index, step) in steps.iter().enumerate() {
        let misplaced = |reason| ChainError::Misplaced {
            node: step.node.clone(),
            op_type: step.op_type.clone(),
            reason,
        };
        match &step.op {
            Op::Dense {
                inputs,
                outputs,
                weights,
                bias,
            } => {
                check_finite(step, "a weight", weights)?;
                check_finite(step, "a bias", bias)?;
                check_len(step, "the weight matrix", inputs * outputs, weights.len())?;
                check_len(step, "the bias", *outputs, bias.len())?;
                if let Some(previous) = done.last() {
                    check_len(step, "the input", previous.outputs, *inputs)?;
                }
                let mut layer = Pending {
                    inputs: *inputs,
                    outputs: *outputs,
                    weights: weights.iter().map(|&w| f64::from(w)).collect(),
                    bias: bias.iter().map(|&b| f64::from(b)).collect(),
                    activation: None,
                };
                if let Some((affine, _)) = forward.take() {
                    affine.fold_forward(&mut layer);
                }
                if let Some(previous) = done.last_mut() {
                    previous.activation.get_or_insert(Activation::None);
                }
                done.push(layer);
            }
            Op::Relu => match done.last_mut() {
                None => return Err(misplaced("an activation before the first dense layer")),
                Some(_) if forward.is_some() => {
                    return Err(misplaced(
                        "a ReLU after a BatchNorm that follows an activation cannot be folded",
                    ));
                }
                Some(layer) => match layer.activation {
                    None | Some(Activation::Relu) => layer.activation = Some(Activation::Relu),
                    Some(_) => return Err(misplaced("a ReLU after a Softmax")),
                },
            },
            Op::Softmax => {
                if index + 1 != steps.len() {
                    return Err(misplaced("Softmax is only supported as the last operation"));
                }
                let Some(layer) = done.last_mut() else {
                    return Err(misplaced("a Softmax before the first dense layer"));
                };
                if forward.is_some() || layer.activation.is_some() {
                    return Err(misplaced(
                        "a Softmax must follow the last dense layer directly",
                    ));
                }
                layer.activation = Some(Activation::Softmax);
            }
            Op::BatchNorm { .. } => {
                let Some(layer) = done.last_mut() else {
                    return Err(misplaced("a BatchNorm before the first dense layer"));
                };
                let affine = Affine::of(step, layer.outputs)?;
                match (layer.activation, forward.take()) {
                    (None, _) => affine.fold_backward(layer),
                    (Some(_), Some((before, node))) => forward = Some((before.then(&affine), node)),
                    (Some(_), None) => forward = Some((affine, step)),
                }
            }
        }
    }
    if let Some((_, step)) = forward {
        return Err(ChainError::Misplaced {
            node: step.node.clone(),
            op_type: step.op_type.clone(),
            reason: "a BatchNorm after the last activation has no dense layer to fold into",
        });
    }
    if done.is_empty() {
        return Err(ChainError::Empty);
    }
    let node_of = |i: usize| {
        steps
            .iter()
            .filter(|s| matches!(s.op, Op::Dense { .. }))
            .nth(i)
    };
    done.into_iter()
        .enumerate()
        .map(|(i, layer)| {
            let weights: Vec<f32> = layer.weights.iter().map(|&w| w as f32).collect();
            let bias: Vec<f32> = layer.bias.iter().map(|&b| b as f32).collect();
            if let Some(step) = node_of(i) {
                check_finite(step, "a folded weight", &weights)?;
                check_finite(step, "a folded bias", &bias)?;
            }
            Ok(FoldedLayer {
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: layer.activation.unwrap_or(Activation::None),
                weights,
                bias,
            })
        })
        .collect()
}

/// `y = s ⊙ x + t` per feature.
#[derive(Debug, Clone)]
struct Affine {
    s: Vec<f64>,
    t: Vec<f64>,
}

impl Affine {
    /// The affine map of an eval-mode BatchNorm `step` over `features` features.
    fn of(step: &Step, features: usize) -> Result<Self, ChainError> {
        let Op::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            epsilon,
        } = &step.op
        else {
            unreachable!("Affine::of is called on BatchNorm steps only")
        };
        for (what, v) in [
            ("gamma", gamma),
            ("beta", beta),
            ("the running mean", mean),
            ("the running variance", var),
        ] {
            check_len(step, what, features, v.len())?;
            check_finite(step, what, v)?;
        }
        let s: Vec<f64> = gamma
            .iter()
            .zip(var)
            .map(|(&g, &v)| f64::from(g) / (f64::from(v) + epsilon).sqrt())
            .collect();
        let t = beta
            .iter()
            .zip(mean)
            .zip(&s)
            .map(|((&b, &m), &s)| f64::from(b) - f64::from(m) * s)
            .collect();
        if s.iter().any(|v| !v.is_finite()) {
            return Err(ChainError::NonFinite {
                node: step.node.clone(),
                op_type: step.op_type.clone(),
                what: "γ / √(σ² + ε) (a variance below −ε?)",
            });
        }
        Ok(Self { s, t })
    }

    /// `self` then `next`: `s₂(s₁x + t₁) + t₂`.
    fn then(&self, next: &Self) -> Self {
        Self {
            s: self.s.iter().zip(&next.s).map(|(a, b)| a * b).collect(),
            t: self
                .t
                .iter()
                .zip(&next.s)
                .zip(&next.t)
                .map(|((t1, s2), t2)| s2 * t1 + t2)
                .collect(),
        }
    }

    /// Into the layer that produced the features: `W' = diag(s)·W`, `b' = s ⊙ b + t`.
    fn fold_backward(&self, layer: &mut Pending) {
        for (o, row) in layer.weights.chunks_exact_mut(layer.inputs).enumerate() {
            row.iter_mut().for_each(|w| *w *= self.s[o]);
            layer.bias[o] = self.s[o] * layer.bias[o] + self.t[o];
        }
    }

    /// Into the layer that consumes the features: `W' = W·diag(s)`, `b' = b + W·t`.
    fn fold_forward(&self, layer: &mut Pending) {
        for (o, row) in layer.weights.chunks_exact_mut(layer.inputs).enumerate() {
            let shift: f64 = row.iter().zip(&self.t).map(|(w, t)| w * t).sum();
            layer.bias[o] += shift;
            row.iter_mut().zip(&self.s).for_each(|(w, s)| *w *= s);
        }
    }
}

fn check_len(
    step: &Step,
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), ChainError> {
    if expected == found {
        return Ok(());
    }
    Err(ChainError::Shape {
        node: step.node.clone(),
        op_type: step.op_type.clone(),
        what,
        expected,
        found,
    })
}

fn check_finite(step: &Step, what: &'static str, values: &[f32]) -> Result<(), ChainError> {
    if values.iter().all(|v| v.is_finite()) {
        return Ok(());
    }
    Err(ChainError::NonFinite {
        node: step.node.clone(),
        op_type: step.op_type.clone(),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(op: Op) -> Step {
        Step {
            node: "n".into(),
            op_type: "T".into(),
            op,
        }
    }

    /// 2 → 2 identity-ish layer: W = [[1, 2], [3, 4]], b = [0.5, -1].
    fn dense() -> Step {
        step(Op::Dense {
            inputs: 2,
            outputs: 2,
            weights: vec![1.0, 2.0, 3.0, 4.0],
            bias: vec![0.5, -1.0],
        })
    }

    /// s = γ/√(σ²+ε) = [2, 0.5] with γ = [2, 1], σ² = [1 − ε, 4 − ε]; t = β − μs = [1, 0].
    fn norm() -> Step {
        let eps = 0.25;
        step(Op::BatchNorm {
            gamma: vec![2.0, 1.0],
            beta: vec![1.0, 1.0],
            mean: vec![0.0, 2.0],
            var: vec![1.0 - eps as f32, 4.0 - eps as f32],
            epsilon: eps,
        })
    }

    #[test]
    fn batchnorm_before_relu_folds_backward_into_its_dense_layer() {
        let layers = fold_chain(&[dense(), norm(), step(Op::Relu), dense()]).unwrap();
        assert_eq!(layers.len(), 2);
        // diag(s)·W = [[2, 4], [1.5, 2]]; s ⊙ b + t = [2·0.5 + 1, 0.5·(−1) + 0] = [2, −0.5].
        assert_eq!(layers[0].weights, vec![2.0, 4.0, 1.5, 2.0]);
        assert_eq!(layers[0].bias, vec![2.0, -0.5]);
        assert_eq!(layers[0].activation, Activation::Relu);
        assert_eq!(layers[1].weights, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(layers[1].activation, Activation::None);
    }

    #[test]
    fn batchnorm_after_relu_folds_forward_into_the_next_dense_layer() {
        let chain = [dense(), step(Op::Relu), norm(), dense(), step(Op::Softmax)];
        let layers = fold_chain(&chain).unwrap();
        // W·diag(s) = [[1·2, 2·0.5], [3·2, 4·0.5]] = [[2, 1], [6, 2]]; b + W·t = [0.5 + 1, −1 + 3].
        assert_eq!(layers[1].weights, vec![2.0, 1.0, 6.0, 2.0]);
        assert_eq!(layers[1].bias, vec![1.5, 2.0]);
        assert_eq!(layers[0].weights, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(layers[1].activation, Activation::Softmax);
    }

    #[test]
    fn two_batchnorms_compose_before_folding() {
        let chain = [dense(), step(Op::Relu), norm(), norm(), dense()];
        let layers = fold_chain(&chain).unwrap();
        // s = [4, 0.25], t = s₂t₁ + t₂ = [2·1 + 1, 0.5·0 + 0] = [3, 0].
        // W·diag(s) = [[4, 0.5], [12, 1]]; b + W·t = [0.5 + 3, −1 + 9].
        assert_eq!(layers[1].weights, vec![4.0, 0.5, 12.0, 1.0]);
        assert_eq!(layers[1].bias, vec![3.5, 8.0]);
    }

    #[test]
    fn batchnorm_after_the_last_activation_is_refused_naming_it() {
        let mut last = norm();
        last.node = "bn_last".into();
        let error = fold_chain(&[dense(), step(Op::Relu), last]).unwrap_err();
        assert!(error.to_string().contains("bn_last"), "{error}");
    }

    #[test]
    fn misplaced_operations_and_bad_shapes_are_refused() {
        assert!(matches!(
            fold_chain(&[step(Op::Relu), dense()]),
            Err(ChainError::Misplaced { .. })
        ));
        assert!(matches!(
            fold_chain(&[dense(), step(Op::Softmax), dense()]),
            Err(ChainError::Misplaced { .. })
        ));
        let wide = step(Op::Dense {
            inputs: 3,
            outputs: 1,
            weights: vec![0.0; 3],
            bias: vec![0.0],
        });
        assert!(matches!(
            fold_chain(&[dense(), wide]),
            Err(ChainError::Shape {
                expected: 2,
                found: 3,
                ..
            })
        ));
        assert_eq!(fold_chain(&[]), Err(ChainError::Empty));
        let nan = step(Op::Dense {
            inputs: 1,
            outputs: 1,
            weights: vec![f32::NAN],
            bias: vec![0.0],
        });
        assert!(matches!(
            fold_chain(&[nan]),
            Err(ChainError::NonFinite { .. })
        ));
    }

    #[test]
    fn a_negative_variance_below_epsilon_is_refused() {
        let bad = step(Op::BatchNorm {
            gamma: vec![1.0, 1.0],
            beta: vec![0.0, 0.0],
            mean: vec![0.0, 0.0],
            var: vec![-1.0, 1.0],
            epsilon: 1e-3,
        });
        assert!(matches!(
            fold_chain(&[dense(), bad]),
            Err(ChainError::NonFinite { .. })
        ));
    }
}

//! BatchNorm folding: turns a trained model into plain Dense layers for the device.
//!
//! In the notebook BatchNorm sits **after** the ReLU (`Dense → ReLU → [Dropout] → BN`), so it
//! cannot fold backwards into its own Dense layer (the ReLU is in the way). It folds
//! **forward** into the next Dense layer instead. With the next layer's `W` as `[out, in]` and
//! BN in eval mode being `y = s ⊙ x + t` per feature, where
//! `s = γ / √(σ² + ε)` and `t = β − μ · s` (ε read from the model):
//!
//! ```text
//! W · (s ⊙ x + t) + b  =  (W · diag(s)) · x + (b + W · t)   →   W' = W·diag(s),  b' = b + W·t
//! ```
//!
//! Dropout is the identity at inference and disappears. The arithmetic runs in f64 and is
//! rounded to f32 once, so the folded weights are as close to exact as f32 storage allows.

use model_format::{Activation, LayerSpec};

use crate::model::snapshot::{DenseSnapshot, NormSnapshot, Snapshot};

/// A dense layer ready for the model file.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedLayer {
    /// Inputs of the layer.
    pub inputs: usize,
    /// Outputs of the layer.
    pub outputs: usize,
    /// ReLU for hidden layers, softmax for the last.
    pub activation: Activation,
    /// # Shapes
    /// `[outputs][inputs]`, row-major (the device's layout; burn's is the transpose).
    pub weights: Vec<f32>,
    /// # Shapes
    /// `[outputs]`.
    pub bias: Vec<f32>,
}

impl FoldedLayer {
    /// The layer as the encoder takes it (f32, borrowing the weights).
    pub fn spec(&self) -> LayerSpec<'_> {
        LayerSpec::f32(
            self.inputs as u32,
            self.outputs as u32,
            self.activation,
            &self.weights,
            &self.bias,
        )
    }
}

/// Why a snapshot cannot be folded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FoldError {
    /// The snapshot has no dense layers.
    #[error("the model has no dense layers")]
    Empty,
    /// A BatchNorm follows the last Dense layer: there is no next layer to fold it into.
    #[error("BatchNorm after the output layer cannot be folded forward")]
    NormAfterOutput,
    /// Slice lengths disagree with the declared shapes.
    #[error("layer {layer}: {what} has {found} values, expected {expected}")]
    Shape {
        /// Dense layer index.
        layer: usize,
        /// Which array.
        what: &'static str,
        /// Values expected.
        expected: usize,
        /// Values present.
        found: usize,
    },
    /// Folding produced a NaN or infinity (e.g. a moving variance below −ε).
    #[error("layer {layer}: folding produced a non-finite value")]
    NonFinite {
        /// Dense layer index.
        layer: usize,
    },
}

/// Folds every BatchNorm into the following Dense layer and transposes to `[out][in]`.
///
/// # Errors
/// [`FoldError`] for inconsistent shapes, a BatchNorm with no Dense after it, or a
/// non-finite result.
pub fn fold(snapshot: &Snapshot) -> Result<Vec<FoldedLayer>, FoldError> {
    let n = snapshot.dense.len();
    if n == 0 {
        return Err(FoldError::Empty);
    }
    if snapshot.norms.len() > n || snapshot.norms.get(n - 1).is_some_and(Option::is_some) {
        return Err(FoldError::NormAfterOutput);
    }
    let mut out = Vec::with_capacity(n);
    for (layer, dense) in snapshot.dense.iter().enumerate() {
        check_len(
            layer,
            "weight",
            dense.weight.len(),
            dense.inputs * dense.outputs,
        )?;
        check_len(layer, "bias", dense.bias.len(), dense.outputs)?;
        // The BN that feeds this layer sits after the previous layer's ReLU.
        let norm = layer
            .checked_sub(1)
            .and_then(|prev| snapshot.norms.get(prev))
            .and_then(Option::as_ref);
        let affine = match norm {
            Some(norm) => Some(bn_affine(layer, norm, dense.inputs)?),
            None => None,
        };
        let (weights, bias) = fold_dense(dense, affine.as_ref());
        if weights.iter().chain(&bias).any(|v| !v.is_finite()) {
            return Err(FoldError::NonFinite { layer });
        }
        out.push(FoldedLayer {
            inputs: dense.inputs,
            outputs: dense.outputs,
            activation: if layer + 1 == n {
                Activation::Softmax
            } else {
                Activation::Relu
            },
            weights,
            bias,
        });
    }
    Ok(out)
}

/// The per-feature `(s, t)` of an eval-mode BatchNorm: `y = s·x + t`.
fn bn_affine(
    layer: usize,
    norm: &NormSnapshot,
    features: usize,
) -> Result<(Vec<f64>, Vec<f64>), FoldError> {
    for (what, v) in [
        ("gamma", &norm.gamma),
        ("beta", &norm.beta),
        ("moving mean", &norm.mean),
        ("moving variance", &norm.var),
    ] {
        check_len(layer, what, v.len(), features)?;
    }
    let s: Vec<f64> = norm
        .gamma
        .iter()
        .zip(&norm.var)
        .map(|(&g, &v)| f64::from(g) / (f64::from(v) + norm.epsilon).sqrt())
        .collect();
    let t = norm
        .beta
        .iter()
        .zip(&norm.mean)
        .zip(&s)
        .map(|((&b, &m), &s)| f64::from(b) - f64::from(m) * s)
        .collect();
    Ok((s, t))
}

/// `W' = W·diag(s)`, `b' = b + W·t` in f64, transposed from burn's `[in][out]` to `[out][in]`.
fn fold_dense(
    dense: &DenseSnapshot,
    affine: Option<&(Vec<f64>, Vec<f64>)>,
) -> (Vec<f32>, Vec<f32>) {
    let (inputs, outputs) = (dense.inputs, dense.outputs);
    let mut weights = Vec::with_capacity(inputs * outputs);
    let mut bias = Vec::with_capacity(outputs);
    for o in 0..outputs {
        let mut b = f64::from(dense.bias[o]);
        for i in 0..inputs {
            let w = f64::from(dense.weight[i * outputs + o]);
            let (s, t) = affine.map_or((1.0, 0.0), |(s, t)| (s[i], t[i]));
            weights.push((w * s) as f32);
            b += w * t;
        }
        bias.push(b as f32);
    }
    (weights, bias)
}

fn check_len(
    layer: usize,
    what: &'static str,
    found: usize,
    expected: usize,
) -> Result<(), FoldError> {
    if found == expected {
        Ok(())
    } else {
        Err(FoldError::Shape {
            layer,
            what,
            expected,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2 → 2 (ReLU, BN) → 1, with values small enough to fold by hand.
    fn snapshot() -> Snapshot {
        Snapshot {
            dense: vec![
                DenseSnapshot {
                    inputs: 2,
                    outputs: 2,
                    // burn layout [in][out]: W0 (as [out][in]) = [[1, 2], [3, 4]].
                    weight: vec![1.0, 3.0, 2.0, 4.0],
                    bias: vec![0.5, -0.5],
                },
                DenseSnapshot {
                    inputs: 2,
                    outputs: 1,
                    weight: vec![2.0, -1.0],
                    bias: vec![0.25],
                },
            ],
            norms: vec![
                Some(NormSnapshot {
                    gamma: vec![2.0, 1.0],
                    beta: vec![1.0, 0.0],
                    mean: vec![0.5, 2.0],
                    // var + eps = 4 and 0.25: s = 2/2 = 1 and 1/0.5 = 2.
                    var: vec![3.75, 0.0],
                    epsilon: 0.25,
                }),
                None,
            ],
        }
    }

    #[test]
    fn folds_forward_into_the_next_layer_by_hand() {
        let folded = fold(&snapshot()).unwrap();
        // Layer 0 has no BN before it: only the transpose.
        assert_eq!(folded[0].weights, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(folded[0].bias, vec![0.5, -0.5]);
        assert_eq!(folded[0].activation, Activation::Relu);
        // s = [1, 2], t = β − μ·s = [1 − 0.5, 0 − 4] = [0.5, −4].
        // W' = [2·1, −1·2] = [2, −2]; b' = 0.25 + 2·0.5 + (−1)·(−4) = 5.25.
        assert_eq!(folded[1].weights, vec![2.0, -2.0]);
        assert_eq!(folded[1].bias, vec![5.25]);
        assert_eq!(folded[1].activation, Activation::Softmax);
    }

    #[test]
    fn folded_layer_equals_bn_then_dense() {
        let snap = snapshot();
        let folded = fold(&snap).unwrap();
        let norm = snap.norms[0].as_ref().unwrap();
        for x in [[0.0f64, 0.0], [1.0, 2.0], [3.5, 0.25]] {
            let y: Vec<f64> = (0..2)
                .map(|j| {
                    let s = norm.gamma[j] as f64 / (norm.var[j] as f64 + norm.epsilon).sqrt();
                    s * (x[j] - norm.mean[j] as f64) + norm.beta[j] as f64
                })
                .collect();
            let unfolded = snap.dense[1].bias[0] as f64
                + snap.dense[1].weight[0] as f64 * y[0]
                + snap.dense[1].weight[1] as f64 * y[1];
            let f = &folded[1];
            let refolded =
                f.bias[0] as f64 + f.weights[0] as f64 * x[0] + f.weights[1] as f64 * x[1];
            assert!(
                (unfolded - refolded).abs() < 1e-12,
                "{unfolded} vs {refolded}"
            );
        }
    }

    #[test]
    fn refuses_what_cannot_fold() {
        let mut s = snapshot();
        s.norms[1] = s.norms[0].clone();
        assert_eq!(fold(&s), Err(FoldError::NormAfterOutput));

        let mut s = snapshot();
        s.norms[0].as_mut().unwrap().var = vec![-1.0, 1.0];
        assert_eq!(fold(&s), Err(FoldError::NonFinite { layer: 1 }));

        let mut s = snapshot();
        s.dense[1].weight.pop();
        assert!(matches!(
            fold(&s),
            Err(FoldError::Shape {
                layer: 1,
                what: "weight",
                ..
            })
        ));
    }
}

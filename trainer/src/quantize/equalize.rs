//! Cross-layer equalization before int8 quantization (Nagel et al., "Data-Free Quantization
//! Through Weight Equalization and Bias Correction", ICCV 2019, §4.1).
//!
//! Folding a BatchNorm forward scales each *input column* of the next layer by
//! `s_j = γ_j / √(σ²_j + ε)`, and per-output-row weight scales cannot absorb a per-column spread:
//! one column with a large `s_j` sets every row's `max|w|`, and the other weights of the row
//! lose their precision (measured: the folded bn model lost 3.3 points of test accuracy in
//! int8 without this, against 0.2 for vanilla). ReLU is positively homogeneous,
//! `relu(x / c) = relu(x) / c` for `c > 0`, so hidden unit `j` between two dense layers may be
//! rescaled exactly, in real arithmetic: row `j` of the first layer (and its bias) divided by
//! `c_j`, column `j` of the second multiplied by it. With `r1_j = max|W1[j, :]|` and
//! `r2_j = max|W2[:, j]|`, `c_j = √(r1_j / r2_j)` makes both ranges `√(r1_j · r2_j)`. The f32
//! model the user holds is not changed; only the copy that is quantized is, and the only
//! difference it makes in f32 is rounding (one f32 multiplication per weight).

/// Passes over the layer pairs: each pass changes the rows the previous pair just balanced, so
/// a few passes let the ranges settle (the paper iterates to convergence; 4 passes move the
/// ranges of the notebook's models by less than 1 % on the last one).
const PASSES: usize = 4;

/// One f32 layer, owned: row-major `[outputs][inputs]` weights, biases, and whether a ReLU
/// follows it.
pub(super) struct Owned {
    pub inputs: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub relu: bool,
}

/// Equalizes each pair of consecutive layers with a ReLU between them, in place.
pub(super) fn equalize(layers: &mut [Owned]) {
    for _ in 0..PASSES {
        for l in 0..layers.len().saturating_sub(1) {
            if !layers[l].relu {
                continue;
            }
            let (head, tail) = layers.split_at_mut(l + 1);
            equalize_pair(&mut head[l], &mut tail[0]);
        }
    }
}

fn equalize_pair(first: &mut Owned, second: &mut Owned) {
    let hidden = first.bias.len();
    let n = first.inputs;
    for j in 0..hidden {
        let row = &first.weights[j * n..(j + 1) * n];
        let r1 = row.iter().fold(0.0f64, |m, w| m.max(f64::from(w.abs())));
        let r2 = (0..second.bias.len())
            .map(|k| f64::from(second.weights[k * hidden + j].abs()))
            .fold(0.0, f64::max);
        if r1 == 0.0 || r2 == 0.0 {
            // A dead unit or an unused one: nothing to balance.
            continue;
        }
        let c = (r1 / r2).sqrt();
        for w in &mut first.weights[j * n..(j + 1) * n] {
            *w = (f64::from(*w) / c) as f32;
        }
        first.bias[j] = (f64::from(first.bias[j]) / c) as f32;
        for k in 0..second.bias.len() {
            let w = &mut second.weights[k * hidden + j];
            *w = (f64::from(*w) * c) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_ranges_and_keeps_the_function() {
        // Hidden unit 0: row range 8, column range 0.5 -> c = 4, both become 2.
        // Hidden unit 1: row range 1, column range 1 -> c = 1, unchanged.
        let mut layers = [
            Owned {
                inputs: 2,
                weights: vec![8.0, -4.0, 1.0, 0.5],
                bias: vec![4.0, 0.0],
                relu: true,
            },
            Owned {
                inputs: 2,
                weights: vec![0.5, 1.0],
                bias: vec![0.25],
                relu: false,
            },
        ];
        let forward = |l: &[Owned], x: [f32; 2]| {
            let h: Vec<f32> = (0..2)
                .map(|j| {
                    (l[0].bias[j] + l[0].weights[2 * j] * x[0] + l[0].weights[2 * j + 1] * x[1])
                        .max(0.0)
                })
                .collect();
            l[1].bias[0] + l[1].weights[0] * h[0] + l[1].weights[1] * h[1]
        };
        let before = forward(&layers, [0.75, -0.5]);
        equalize(&mut layers);
        assert_eq!(layers[0].weights, [2.0, -1.0, 1.0, 0.5]);
        assert_eq!(layers[0].bias, [1.0, 0.0]);
        assert_eq!(layers[1].weights, [2.0, 1.0]);
        // Powers of two: the function is unchanged exactly.
        assert_eq!(forward(&layers, [0.75, -0.5]), before);
    }
}

//! BatchNorm folding and export layout, on briefly trained models and the real test set.

use model_format::Model;
use trainer::fold::fold;
use trainer::variant::Variant;

use crate::common::{max_abs_diff, trained};

/// Largest |Δlogit| between burn's eval-mode forward of the unfolded model (f32) and an exact
/// f64 forward of the folded f32 weights. What remains is f32 rounding: of the folded weights
/// (once, relative 2⁻²⁴), and of burn's own f32 arithmetic (BatchNorm and 784-term sums,
/// roughly √n · 2⁻²⁴ · Σ|wᵢxᵢ| per layer, a few 1e-5 for Σ|wᵢxᵢ| of a few tens). Measured
/// maxima are ≈ 5e-6 (printed); a wrong fold (e.g. ε ignored, or BN folded backwards) moves
/// logits by 1e-2 or more.
const FOLD_ATOL: f32 = 1e-4;

/// Exact f64 forward of folded layers (`[out][in]` weights, ReLU between, logits out).
fn forward_f64(model: &Model<'_>, pixels: &[u8]) -> Vec<f32> {
    let mut x: Vec<f64> = pixels.iter().map(|&p| p as f64 / 255.0).collect();
    for (i, layer) in model.layers().iter().enumerate() {
        let last = i + 1 == model.layers().len();
        let (weights, bias) = layer.params().f32().expect("an f32 model");
        x = weights
            .chunks_exact(layer.inputs())
            .zip(bias)
            .map(|(row, &b)| {
                let z = b as f64 + row.iter().zip(&x).map(|(w, v)| *w as f64 * v).sum::<f64>();
                if last { z } else { z.max(0.0) }
            })
            .collect();
    }
    x.into_iter().map(|v| v as f32).collect()
}

fn check_fold(variant: Variant) {
    let t = trained(variant);
    let model = Model::from_bytes(&t.file).expect("exported model is valid");
    let data = crate::common::data();
    let mut max_d = 0.0f32;
    for (i, burn) in t.burn_logits.chunks_exact(10).enumerate() {
        max_d = max_d.max(max_abs_diff(burn, &forward_f64(&model, data.test.image(i))));
    }
    eprintln!("fold {variant}: max |Δlogit| burn vs folded (f64) {max_d:.3e} (tol {FOLD_ATOL:e})");
    assert!(max_d <= FOLD_ATOL, "{variant}: {max_d}");
}

#[test]
fn fold_bn_matches_unfolded_burn_on_test_set() {
    check_fold(Variant::Bn);
}

#[test]
fn fold_bn_dropout_matches_unfolded_burn_on_test_set() {
    check_fold(Variant::BnDropout);
}

#[test]
fn bn_variants_export_exactly_the_vanilla_shapes() {
    let shapes = |v| {
        let t = trained(v);
        let m = Model::from_bytes(&t.file).unwrap();
        m.layers()
            .iter()
            .map(|l| (l.inputs(), l.outputs()))
            .collect::<Vec<_>>()
    };
    let vanilla = shapes(Variant::Vanilla);
    assert_eq!(vanilla, [(784, 196), (196, 49), (49, 10)]);
    assert_eq!(shapes(Variant::Bn), vanilla);
    assert_eq!(shapes(Variant::BnDropout), vanilla);
    assert_eq!(
        shapes(Variant::Dropout),
        [(784, 392), (392, 98), (98, 24), (24, 10)]
    );
}

#[test]
fn export_transposes_burn_weights_to_out_in() {
    // vanilla has no BatchNorm: the file must hold burn's [in][out] weights transposed, bit for bit.
    let t = trained(Variant::Vanilla);
    let model = Model::from_bytes(&t.file).unwrap();
    for (layer, dense) in model.layers().iter().zip(&t.snapshot.dense) {
        let (n_in, n_out) = (dense.inputs, dense.outputs);
        for o in 0..n_out {
            for i in 0..n_in {
                assert_eq!(
                    layer.params().f32().unwrap().0[o * n_in + i].to_bits(),
                    dense.weight[i * n_out + o].to_bits()
                );
            }
        }
        assert_eq!(layer.params().f32().unwrap().1, dense.bias.as_slice());
    }
    // And the fold of a BN-free snapshot is exactly that transpose.
    let folded = fold(&t.snapshot).unwrap();
    assert_eq!(
        folded[0].weights,
        model.layers()[0].params().f32().unwrap().0
    );
}

#[test]
fn bn_statistics_are_non_trivial() {
    // Folding identity statistics would make the fold tests pass vacuously.
    for v in [Variant::Bn, Variant::BnDropout] {
        let t = trained(v);
        let norm = t.snapshot.norms[0].as_ref().expect("BN after layer 0");
        let mean_abs_mu = norm.mean.iter().map(|m| m.abs()).sum::<f32>() / norm.mean.len() as f32;
        let mean_var = norm.var.iter().sum::<f32>() / norm.var.len() as f32;
        eprintln!("{v}: mean |μ| {mean_abs_mu:.3}, mean σ² {mean_var:.3}");
        assert!(mean_abs_mu > 0.05, "{v}: moving means still near 0");
        assert!(
            (mean_var - 1.0).abs() > 0.05,
            "{v}: moving variances still near 1"
        );
    }
}

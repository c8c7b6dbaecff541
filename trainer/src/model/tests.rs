//! The model's unit tests: Keras's parameter counts, initialisation, BatchNorm's update rule
//! worked by hand, and eval forward against an f64 forward from the snapshot.

use burn::module::AutodiffModule;
use burn::tensor::backend::Backend as BurnBackend;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::mlp::{Mlp, glorot_limit, logits};
use crate::model::snapshot::{DenseSnapshot, Snapshot};
use crate::model::spec::{INPUTS, MovingVariance};
use crate::model::tensor::{pixels_tensor, to_vec};
use crate::variant::Variant;
use crate::{Backend, TrainBackend};

fn build<B: BurnBackend>(variant: Variant, seed: u64) -> Mlp<B> {
    let mut rng = StdRng::seed_from_u64(seed);
    Mlp::new(&variant.spec(), &mut rng, &Default::default())
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
            let mean =
                layer.weight.iter().map(|&w| f64::from(w)).sum::<f64>() / layer.weight.len() as f64;
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
    let mut spec = Variant::Bn.spec();
    spec.batch_norm.moving_variance = convention;
    let mut rng = StdRng::seed_from_u64(11);
    let model: Mlp<TrainBackend> = Mlp::new(&spec, &mut rng, &Default::default());
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
        let model: Mlp<TrainBackend> = Mlp::new(&variant.spec(), &mut rng, &Default::default());
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
    let model: Mlp<TrainBackend> =
        Mlp::new(&Variant::BnDropout.spec(), &mut rng, &Default::default());
    let x = pixels_tensor::<TrainBackend>(&noise_images(8, 1), &Default::default());
    let _ = model.forward_train(x, &mut rng);
    let images = noise_images(5, 3);
    let on_train = to_vec(model.forward(pixels_tensor(&images, &Default::default())));
    assert_eq!(on_train, logits(&model.valid(), &images, 5));
}

//! Host/device parity: burn's eval-mode forward of the **unfolded** model against the
//! firmware running the **exported** (folded) file, on all 10,000 real test images.

use firmware::{CLASSES, Classifier, INPUTS, Scratch};
use trainer::variant::Variant;

use crate::common::{max_abs_diff, softmax_f64, trained};

/// Largest |Δlogit| allowed between burn and the firmware. Three sources, all f32 rounding:
/// - summation order: burn's matrix multiply and the firmware's 4-lane dot product add the 784
///   products of the first layer in different orders. Worst case that is `784 · 2⁻²⁴ · Σ|wᵢxᵢ|`
///   (≈ 4.7e-5 · Σ|wᵢxᵢ|); rounding errors of random sign grow like √784 instead, ≈ 2e-6 · Σ|wᵢxᵢ|;
/// - BatchNorm folding: burn evaluates `(x − μ)/√(σ² + ε)·γ + β` in f32, the file holds
///   `W·diag(s)` and `b + W·t` computed in f64 and rounded once (relative 2⁻²⁴ per weight);
/// - input scaling: burn divides pixels by 255, the device multiplies by the f32 nearest 1/255
///   (at most 1 ulp apart).
///
/// With Σ|wᵢxᵢ| of a few tens that is a few 1e-5; measured maxima are ≈ 6e-6 (printed by each
/// test). 1e-4 keeps a margin without hiding a real bug (a wrong fold or transpose moves
/// logits by 1e-1 or more).
const LOGIT_ATOL: f32 = 1e-4;

/// Largest |Δprobability|. The reference is an exact f64 softmax of burn's logits; the firmware
/// uses micromath's `exp`, relative error `eᵢ` with |eᵢ| ≤ 2.4e-3. Then
/// `Δpᵢ ≈ pᵢ (eᵢ − Σⱼ pⱼ eⱼ)`, so |Δpᵢ| ≤ 2 · pᵢ(1 − pᵢ) · 2.4e-3 ≤ 1.2e-3; the logit error
/// above adds at most |Δz|/2 = 5e-5.
const PROB_ATOL: f32 = 1.3e-3;

/// Below this top-2 logit gap, burn and the firmware may legitimately disagree on the class:
/// each logit may move by up to [`LOGIT_ATOL`].
const TIE_GAP: f32 = 2.0 * LOGIT_ATOL;

fn check_parity(variant: Variant) {
    let t = trained(variant);
    let data = crate::common::data();
    let classifier = Classifier::<INPUTS>::new(&t.file).expect("exported model is accepted");
    let mut scratch = Scratch::<INPUTS>::new();

    let (mut max_dlogit, mut max_dprob) = (0.0f32, 0.0f32);
    let (mut near_ties, mut disagreements) = (0usize, 0usize);
    let (mut correct_burn, mut correct_device) = (0usize, 0usize);
    for (i, burn) in t.burn_logits.chunks_exact(CLASSES).enumerate() {
        let pixels: &[u8; INPUTS] = data.test.image(i).try_into().expect("784 pixels");
        let device = classifier.classify_u8(pixels, &mut scratch);
        max_dlogit = max_dlogit.max(max_abs_diff(burn, &device.logits));
        let reference = softmax_f64(burn);
        for (p, q) in device.probabilities.iter().zip(&reference) {
            max_dprob = max_dprob.max((*p as f64 - q).abs() as f32);
        }
        let burn_class = firmware::softmax::argmax(burn);
        let label = usize::from(data.test.labels[i]);
        correct_burn += usize::from(burn_class == label);
        correct_device += usize::from(device.class == label);
        if burn_class != device.class {
            let mut sorted = burn.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            if sorted[0] - sorted[1] < TIE_GAP {
                near_ties += 1;
            } else {
                disagreements += 1;
            }
        }
    }
    eprintln!(
        "parity {variant}: 10,000 images, max |Δlogit| {max_dlogit:.3e} (tol {LOGIT_ATOL:e}), \
         max |Δprob| {max_dprob:.3e} (tol {PROB_ATOL:e}), class flips at near-ties {near_ties}, \
         accuracy burn {:.4} / device {:.4}",
        correct_burn as f64 / 1e4,
        correct_device as f64 / 1e4
    );
    assert_eq!(
        disagreements, 0,
        "{variant}: argmax differs away from a near-tie"
    );
    assert!(
        max_dlogit <= LOGIT_ATOL,
        "{variant}: max |Δlogit| {max_dlogit}"
    );
    assert!(max_dprob <= PROB_ATOL, "{variant}: max |Δprob| {max_dprob}");
    // A model that learned nothing (chance is 0.1) would make the checks above weak. After 500
    // steps the plain variants reach ~0.77 and the dropout ones ~0.60.
    assert!(
        correct_burn as f64 / 1e4 > 0.5,
        "{variant}: brief training reached only {correct_burn}/10000"
    );
}

#[test]
fn parity_vanilla() {
    check_parity(Variant::Vanilla);
}

#[test]
fn parity_dropout() {
    check_parity(Variant::Dropout);
}

#[test]
fn parity_bn() {
    check_parity(Variant::Bn);
}

#[test]
fn parity_bn_dropout() {
    check_parity(Variant::BnDropout);
}

//! Comparing an imported model with the framework that trained it: shared by the fixture tests
//! (`import.rs`, 300 images) and the full-test-set bench (`benches/import_parity.rs`, 10,000
//! images), so both apply the same named tolerances.

use firmware::softmax::argmax;
use firmware::{CLASSES, Classifier, INPUTS, Scratch};

/// Largest |Δlogit| between onnxruntime and the firmware running the imported file. The same
/// three f32 rounding sources as burn against the firmware (`parity::LOGIT_ATOL`): the order of
/// the 784-term sums (onnxruntime's MLAS kernels use FMA and their own blocking), BatchNorm
/// evaluated as its own node in f32 against folded into the weights in f64 and rounded once,
/// and `p / 255` against `p · f32(1/255)` (1 ulp). A few 1e-5 at most for logits of a few
/// tens; a wrongly transposed or mis-folded layer moves them by 1e-1 or more.
pub const LOGIT_ATOL: f32 = 1e-4;

/// Largest |Δprobability| between onnxruntime's Softmax and an exact f64 softmax of the
/// firmware's logits: |Δp| ≤ |Δz|/2 from the logits, plus onnxruntime's f32 softmax rounding
/// (a few ulp of values ≤ 1, under 1e-6).
pub const PROB_ATOL: f32 = LOGIT_ATOL / 2.0 + 1e-6;

/// What the framework's outputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// Logits (the graph ends in a dense layer).
    Logits,
    /// Probabilities (the graph ends in Softmax).
    Probabilities,
}

/// How the firmware's outputs compared with the framework's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Images compared.
    pub images: usize,
    /// Largest |Δ| over every output of every image.
    pub max_delta: f32,
    /// Images whose argmax differs.
    pub disagreements: usize,
    /// The tolerance `max_delta` must stay within.
    pub tolerance: f32,
}

impl Comparison {
    /// Whether the firmware matches: every argmax, and |Δ| within the tolerance.
    pub fn passes(&self) -> bool {
        self.max_delta <= self.tolerance && self.disagreements == 0
    }
}

/// Runs the model file `file` with the firmware's classifier on `images` (784 pixels each) and
/// compares with `reference` (`[images][10]`, row-major).
///
/// # Panics
/// If the firmware refuses the file or `reference` is shorter than the images.
pub fn compare_float<'i>(
    file: &[u8],
    images: impl IntoIterator<Item = &'i [u8]>,
    reference: &[f32],
    kind: Reference,
) -> Comparison {
    let classifier = Classifier::<INPUTS>::new(file).expect("the firmware runs it");
    let mut scratch = Scratch::<INPUTS>::new();
    let (mut images_seen, mut max_delta, mut disagreements) = (0, 0.0f32, 0);
    for (pixels, expected) in images.into_iter().zip(reference.chunks_exact(CLASSES)) {
        let pixels: &[u8; INPUTS] = pixels.try_into().expect("784 pixels");
        let device = classifier.classify_u8(pixels, &mut scratch);
        let ours = match kind {
            Reference::Logits => device.logits,
            Reference::Probabilities => softmax_f64(&device.logits),
        };
        for (a, b) in expected.iter().zip(&ours) {
            max_delta = max_delta.max((a - b).abs());
        }
        disagreements += usize::from(argmax(expected) != device.class);
        images_seen += 1;
    }
    assert_eq!(
        images_seen * CLASSES,
        reference.len(),
        "one reference row per image"
    );
    Comparison {
        images: images_seen,
        max_delta,
        disagreements,
        tolerance: match kind {
            Reference::Logits => LOGIT_ATOL,
            Reference::Probabilities => PROB_ATOL,
        },
    }
}

/// An exact softmax (in f64, rounded once to f32): the firmware's own uses micromath's `exp`,
/// whose 2.4e-3 relative error would hide a real difference in the logits.
fn softmax_f64(logits: &[f32; CLASSES]) -> [f32; CLASSES] {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exp = logits.map(|z| (z as f64 - max).exp());
    let sum: f64 = exp.iter().sum();
    exp.map(|e| (e / sum) as f32)
}

/// Little-endian f32 values.
pub fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

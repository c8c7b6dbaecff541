//! Briefly trained models on the real data, shared by the parity, fold and QEMU tests.
//!
//! Each variant is trained once per test binary (the tests run in parallel threads and wait on
//! a `OnceLock`), then exported exactly as `trainer train` exports it.

use std::sync::OnceLock;

use idx::layout::DEBIAN_DIR;
use model_format::AlignedBytes;
use trainer::data::FashionMnist;
use trainer::export::{ExportInfo, encode_snapshot};
use trainer::model::{Snapshot, logits};
use trainer::training::{EVAL_BATCH, TrainConfig, train};
use trainer::variant::Variant;

/// Training images for the brief run: 500 Adam steps at batch 8, so BatchNorm's moving
/// statistics (momentum 0.99) are 99.3 % data and 0.7 % initial values — far from γ=1, β=0,
/// μ=0, σ²=1, which would make folding trivially exact.
pub const BRIEF_TRAIN_IMAGES: usize = 4_000;
/// Seed of every brief run.
pub const SEED: u64 = 2024;

/// The real Fashion-MNIST, loaded once.
pub fn data() -> &'static FashionMnist {
    static DATA: OnceLock<FashionMnist> = OnceLock::new();
    DATA.get_or_init(|| {
        FashionMnist::load(None, 10).unwrap_or_else(|e| {
            panic!(
                "these tests need the real Fashion-MNIST (apt-get install dataset-fashion-mnist, \
                 expected in {DEBIAN_DIR}): {e}"
            )
        })
    })
}

/// One briefly trained variant: the burn model's eval-mode outputs and its exported file.
pub struct Trained {
    /// Its parameters as exported (before folding).
    pub snapshot: Snapshot,
    /// burn's eval-mode logits on the 10,000 test images, `[10_000][10]` row-major.
    pub burn_logits: Vec<f32>,
    /// The exported `.fmlp` file (BatchNorm folded), 4-byte aligned.
    pub file: AlignedBytes,
}

/// The variant trained for one epoch on [`BRIEF_TRAIN_IMAGES`] real images, exported.
pub fn trained(variant: Variant) -> &'static Trained {
    static CELLS: [OnceLock<Trained>; 4] = [const { OnceLock::new() }; 4];
    let index = Variant::ALL.iter().position(|&v| v == variant).unwrap_or(0);
    CELLS[index].get_or_init(|| {
        let data = data();
        let (train_set, val_set) = data.split_validation();
        let config = TrainConfig {
            epochs: 1,
            seed: SEED,
            train_limit: Some(BRIEF_TRAIN_IMAGES),
            ..TrainConfig::default()
        };
        let spec = variant.spec();
        let outcome = train(&spec, &config, (&train_set, &val_set), None, &())
            .unwrap_or_else(|e| panic!("training {variant}: {e:?}"));
        let snapshot = outcome.model.snapshot();
        let burn_logits = logits(&outcome.model, &data.test.images, EVAL_BATCH);
        let info = ExportInfo {
            seed: SEED,
            epochs: 1,
            test_accuracy: 0.0,
            note: "workspace test".into(),
        };
        let (file, _) = encode_snapshot(&spec, &snapshot, &info)
            .unwrap_or_else(|e| panic!("exporting {variant}: {e:?}"));
        Trained {
            snapshot,
            burn_logits,
            file,
        }
    })
}

/// Largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Softmax in f64: the exact reference for probabilities.
pub fn softmax_f64(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&z| (z as f64 - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

//! `trainer bench`: seconds per epoch of each variant at batch 8, one variant at a time on one
//! core, against the reference figures measured on this machine with Keras and PyTorch.

use std::fmt::Write as _;

use indicatif::{MultiProgress, ProgressDrawTarget};

use crate::data::FashionMnist;
use crate::model::Variant;
use crate::training::{TrainConfig, TrainError, train};

/// Seconds per epoch (batch 8, 50,000 images, validation included, median of 3 epochs, one
/// thread) measured earlier on this kind of machine (2 vCPUs): Keras 3.15 / TensorFlow 2.21,
/// PyTorch 2.15 with default Adam, and with fused Adam. Not re-measured by this command.
pub const REFERENCE_SECONDS: [(Variant, [f64; 3]); 4] = [
    (Variant::Vanilla, [6.69, 3.39, 2.33]),
    (Variant::Dropout, [8.28, 6.97, 4.53]),
    (Variant::Bn, [8.38, 4.77, 3.07]),
    (Variant::BnDropout, [8.53, 4.54, 3.56]),
];

/// One variant's measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// The variant.
    pub variant: Variant,
    /// Each epoch's wall seconds, validation included.
    pub epoch_seconds: Vec<f64>,
    /// Their median.
    pub median_seconds: f64,
}

/// Trains each variant for `config.epochs` epochs, one after the other, and times the epochs.
///
/// # Errors
/// Any [`TrainError`] of a run.
pub fn bench_training(
    variants: &[Variant],
    config: &TrainConfig,
    data: &FashionMnist,
) -> Result<Vec<BenchRow>, TrainError> {
    let (train_set, val_set) = data.split_validation();
    let hidden = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    let mut rows = Vec::new();
    for &variant in variants {
        let outcome = train(variant, config, &train_set, &val_set, None, false, &hidden)?;
        let epoch_seconds: Vec<f64> = outcome.history.epochs.iter().map(|e| e.seconds).collect();
        let mut sorted = epoch_seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let median_seconds = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        rows.push(BenchRow {
            variant,
            epoch_seconds,
            median_seconds,
        });
    }
    Ok(rows)
}

/// A markdown table of the rows beside the reference figures, with ratios to PyTorch fused Adam.
pub fn bench_markdown(rows: &[BenchRow]) -> String {
    let mut s = String::from(
        "| variant | ours s/epoch (median) | Keras | PyTorch | PyTorch fused Adam | ours / PyTorch fused |\n\
         |:--|--:|--:|--:|--:|--:|\n",
    );
    for row in rows {
        let reference = REFERENCE_SECONDS
            .iter()
            .find(|(v, _)| *v == row.variant)
            .map(|(_, r)| *r);
        let (keras, torch, fused) =
            reference.map_or((f64::NAN, f64::NAN, f64::NAN), |r| (r[0], r[1], r[2]));
        let _ = writeln!(
            s,
            "| {} | {:.2} | {keras:.2} | {torch:.2} | {fused:.2} | {:.2} |",
            row.variant,
            row.median_seconds,
            row.median_seconds / fused
        );
    }
    s
}

//! Per-epoch training history, as Keras's `History.history` holds it, and the one median of the
//! crate (of epoch times, for the summary and `trainer bench`).

use serde::{Deserialize, Serialize};

use crate::model::spec::MlpSpec;

/// One epoch's figures, as Keras prints them with `verbose=1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch (dropout active, as Keras reports it).
    pub loss: f64,
    /// Training accuracy over the epoch.
    pub accuracy: f64,
    /// Loss on the validation split (eval mode).
    pub val_loss: f64,
    /// Accuracy on the validation split (eval mode).
    pub val_accuracy: f64,
    /// Wall-clock seconds of the epoch, validation included.
    pub seconds: f64,
}

/// The history of one model's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The model trained.
    pub spec: MlpSpec,
    /// One record per finished epoch, in order.
    pub epochs: Vec<EpochRecord>,
}

/// Test-set evaluation of a trained model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestScore {
    /// Mean categorical cross-entropy on the 10,000 test images.
    pub loss: f64,
    /// Accuracy on the 10,000 test images.
    pub accuracy: f64,
}

/// Median of the finite values (the mean of the middle two for an even count), NaN if there are
/// none.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_ignores_nan_and_averages_even_counts() {
        assert_eq!(median([3.0, f64::NAN, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median([4.0, 1.0]), 2.5);
        assert!(median([f64::NAN]).is_nan());
        assert!(median([]).is_nan());
    }
}

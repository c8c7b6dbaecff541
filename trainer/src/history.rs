//! Per-epoch training history, as Keras's `History.history` holds it.

use serde::{Deserialize, Serialize};

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

/// The history of one variant's run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Variant name (`vanilla`, `dropout`, `bn`, `bn_dropout`).
    pub variant: String,
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

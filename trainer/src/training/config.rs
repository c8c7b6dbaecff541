//! The optimiser and loop settings of a run (the layers' settings are the model's spec), and why
//! a run can fail.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Images per batch when evaluating (eval mode needs no per-sample statistics).
pub const EVAL_BATCH: usize = 1000;

/// Training hyper-parameters. [`Default`] is the notebook's `fit` call with Keras's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of epochs (25).
    pub epochs: usize,
    /// Images per Adam step (8).
    pub batch_size: usize,
    /// Adam learning rate (1e-3).
    pub learning_rate: f64,
    /// Adam β₁ (0.9).
    pub beta_1: f64,
    /// Adam β₂ (0.999).
    pub beta_2: f64,
    /// Adam ε (Keras's 1e-7; burn's `AdamConfig` would default to 1e-5).
    pub epsilon: f64,
    /// Seed of every random draw of the run.
    pub seed: u64,
    /// Keep only the first `n` training images (quick runs).
    pub train_limit: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 25,
            batch_size: 8,
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            seed: 0,
            train_limit: None,
        }
    }
}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting or an input cannot be trained on.
    #[error("invalid training setup: {0}")]
    InvalidConfig(&'static str),
    /// Reading or writing the checkpoint failed.
    #[error("checkpoint I/O on {path}: {source}")]
    CheckpointIo {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The checkpoint file is damaged or not a checkpoint.
    #[error("checkpoint {path} is unreadable: {reason}")]
    CheckpointCorrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The checkpoint belongs to another model or another configuration.
    #[error("checkpoint {path} does not match this run: {details}")]
    CheckpointMismatch {
        /// The file concerned.
        path: PathBuf,
        /// The differing settings, checkpoint value first.
        details: String,
    },
    /// The training loss became NaN or infinite.
    #[error("training loss became {value} at epoch {epoch}, step {step} (1-based)")]
    NonFiniteLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss value.
        value: f32,
    },
}

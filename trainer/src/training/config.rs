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

impl TrainConfig {
    /// Checks every setting alone, before any data is loaded: at least one epoch (and at most
    /// `u32::MAX`, what a model file records), a positive batch size and training-image
    /// limit, a finite learning rate and ε above 0, β₁ and β₂ in `[0, 1)`.
    ///
    /// # Errors
    /// [`TrainError::InvalidSetting`] naming the first setting that fails.
    pub fn check(&self) -> Result<(), TrainError> {
        let fail = |setting: &'static str, value: String, expected: &'static str| {
            Err(TrainError::InvalidSetting {
                setting,
                value,
                expected,
            })
        };
        if self.epochs == 0 || u32::try_from(self.epochs).is_err() {
            return fail("epochs", self.epochs.to_string(), "1 to 4294967295");
        }
        if self.batch_size == 0 {
            return fail("batch size", "0".into(), "at least 1");
        }
        if self.train_limit == Some(0) {
            return fail("training-image limit", "0".into(), "at least 1");
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.learning_rate) {
            let value = self.learning_rate.to_string();
            return fail("learning rate", value, "a finite number above 0");
        }
        if !positive(self.epsilon) {
            return fail(
                "Adam epsilon",
                self.epsilon.to_string(),
                "a finite number above 0",
            );
        }
        for (setting, beta) in [("Adam beta_1", self.beta_1), ("Adam beta_2", self.beta_2)] {
            if !(0.0..1.0).contains(&beta) {
                return fail(setting, beta.to_string(), "in [0, 1)");
            }
        }
        Ok(())
    }
}

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting or an input cannot be trained on.
    #[error("invalid training setup: {0}")]
    InvalidConfig(&'static str),
    /// A setting is out of its range ([`TrainConfig::check`]).
    #[error("invalid setting: {setting} {value}, expected {expected}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What it may be.
        expected: &'static str,
    },
    /// Reading or writing the checkpoint failed.
    #[error("checkpoint I/O on {path}")]
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

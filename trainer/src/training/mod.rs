//! Training: the loop ([`train`], [`evaluate`]), its settings, Keras's Adam, checkpoints, the
//! per-epoch history and where progress goes.

pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod fit;
pub mod history;
pub mod progress;

pub use checkpoint::{Checkpointing, is_checkpoint};
pub use config::{EVAL_BATCH, TrainConfig, TrainError};
pub use fit::{TrainOutcome, argmax, evaluate, train};
pub use history::{EpochRecord, History, TestScore, median};
pub use progress::{Bars, Progress, epoch_prefix};

#[cfg(test)]
mod tests;

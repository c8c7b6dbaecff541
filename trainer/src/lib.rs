//! Host-side trainer (std): the seed notebook's four Fashion-MNIST MLPs trained with burn on the
//! burn-ndarray backend, with Keras semantics, then BatchNorm folded and exported as `.fmlp`.
//!
//! Modules follow burn's examples: [`data`] (IDX loading, download), [`model`] (the four
//! variants), [`training`] (loop, metrics, checkpoints), [`history`] (per-epoch records),
//! [`fold`] and [`export`] (BatchNorm folding, model files), [`plot`] and [`report`] (figures,
//! tables), [`inspect`] (reading a model file back), [`run`] and [`worker`] (the main job, one
//! process per variant).

pub mod bench;
pub mod data;
pub mod download;
pub mod export;
pub mod fold;
pub mod history;
pub mod inspect;
pub mod model;
pub mod plot;
pub mod quantize;
pub mod report;
pub mod run;
pub mod training;
pub mod worker;

/// The tensor backend for inference and evaluation. One alias, so a later backend move is one line.
pub type Backend = burn::backend::NdArray<f32>;
/// The backend used while training (autodiff on top of [`Backend`]).
pub type TrainBackend = burn::backend::Autodiff<Backend>;

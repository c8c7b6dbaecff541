//! Host-side trainer (std): MLPs on Fashion-MNIST (or any data set of its layout) trained with
//! burn on the burn-ndarray backend, with Keras semantics, then BatchNorm folded and exported as
//! `.fmlp` files for the firmware. The seed notebook's four models are [`variant`] presets of
//! one typed [`model::MlpSpec`]; a TOML spec describes any other.
//!
//! Modules, each importing only from those below it: [`data`] (finding and loading the IDX
//! files, downloading), [`model`] (spec, burn module, snapshot), [`training`] (loop, Adam,
//! checkpoints, history, progress), [`fold`] and [`export`] (model files), [`plot`] and
//! [`report`] (figures, tables), and one module per subcommand: [`job`] (`train`, one worker
//! process per model), [`bench`], [`inspect`], [`import`] (ONNX files). [`atomic`] is the one file writer.

pub mod atomic;
pub mod bench;
pub mod data;
pub mod export;
pub mod fold;
pub mod import;
pub mod inspect;
pub mod job;
pub mod model;
pub mod plot;
pub mod quantize;
pub mod report;
pub mod training;
pub mod variant;

/// The tensor backend for inference and evaluation. One alias, so a later backend move is one line.
pub type Backend = burn::backend::NdArray<f32>;
/// The backend used while training (autodiff on top of [`Backend`]).
pub type TrainBackend = burn::backend::Autodiff<Backend>;

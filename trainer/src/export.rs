//! Writing a folded model as an `.fmlp` file, with its spec's name and class names.

use std::path::Path;

use idx::layout::IMAGE_PIXELS;
use model_format::{AlignedBytes, InputSpec, LayerSpec, ModelSpec, Provenance};

use crate::atomic::write_atomic;
use crate::fold::{FoldError, FoldedLayer, fold};
use crate::model::snapshot::Snapshot;
use crate::model::spec::MlpSpec;

/// Image side in pixels (28 × 28 = [`IMAGE_PIXELS`]).
pub const IMAGE_SIDE: u16 = 28;
/// Raw pixels enter the network as `p / 255`; the file records it as a scale.
pub const INPUT_SCALE: f32 = 1.0 / 255.0;

/// What the file records about the run that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportInfo {
    /// RNG seed of the run.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: u32,
    /// Test accuracy measured on the unfolded model before export.
    pub test_accuracy: f64,
    /// Free text (tool version, settings).
    pub note: String,
}

/// Why a model could not be exported.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// BatchNorm folding failed.
    #[error("folding BatchNorm")]
    Fold(#[from] FoldError),
    /// The encoder refused the model.
    #[error("encoding the model file")]
    Encode(#[from] model_format::Error),
    /// Writing the file failed (nothing is left under the final name).
    #[error("writing {path}")]
    Write {
        /// The target path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file's bytes, as written.
    pub file: AlignedBytes,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Parameters in the file (weights and biases, after BatchNorm folding).
    pub params: usize,
}

/// Folds `snapshot` of the model `spec` and encodes it as a model file in memory; also returns
/// the folded parameter count.
///
/// # Errors
/// [`ExportError::Fold`] or [`ExportError::Encode`].
pub fn encode_snapshot(
    spec: &MlpSpec,
    snapshot: &Snapshot,
    info: &ExportInfo,
) -> Result<(AlignedBytes, usize), ExportError> {
    let layers = fold(snapshot)?;
    let params = layers.iter().map(|l| l.weights.len() + l.bias.len()).sum();
    Ok((encode_layers(spec, &layers, info)?, params))
}

/// Encodes already-folded layers with the Fashion-MNIST layout's input (28 × 28 pixels scaled by
/// 1/255) and the spec's name and class names.
///
/// # Errors
/// Any [`model_format::Error`] the encoder reports.
pub fn encode_layers(
    spec: &MlpSpec,
    layers: &[FoldedLayer],
    info: &ExportInfo,
) -> Result<AlignedBytes, model_format::Error> {
    debug_assert_eq!(
        usize::from(IMAGE_SIDE) * usize::from(IMAGE_SIDE),
        IMAGE_PIXELS
    );
    let specs: Vec<LayerSpec<'_>> = layers.iter().map(FoldedLayer::spec).collect();
    let class_names: Vec<&str> = spec.class_names.iter().map(String::as_str).collect();
    model_format::encode(&ModelSpec {
        variant: &spec.name,
        provenance: Provenance {
            seed: info.seed,
            epochs: info.epochs,
            test_accuracy: info.test_accuracy as f32,
            note: &info.note,
        },
        input: InputSpec {
            width: IMAGE_SIDE,
            height: IMAGE_SIDE,
            scale: INPUT_SCALE,
        },
        class_names: &class_names,
        layers: &specs,
    })
}

/// Folds, encodes and writes the model file atomically (temp file + rename). Returns what it
/// wrote, so no caller need read the file back.
///
/// # Errors
/// [`ExportError`]; on error no file is left under `path`.
pub fn export(
    spec: &MlpSpec,
    snapshot: &Snapshot,
    info: &ExportInfo,
    path: &Path,
) -> Result<Exported, ExportError> {
    let (bytes, params) = encode_snapshot(spec, snapshot, info)?;
    write_atomic(path, &bytes).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Exported {
        bytes: bytes.len() as u64,
        file: bytes,
        params,
    })
}

//! Writing a folded model as an `.fmlp` file.

use std::path::Path;

use model_format::{AlignedBytes, InputSpec, LayerSpec, ModelSpec, Provenance};

use crate::data::{CLASS_NAMES, IMAGE_PIXELS};
use crate::fold::{FoldError, FoldedLayer, fold};
use crate::model::Snapshot;
use crate::report::write_atomic;

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

/// Folds `snapshot` and encodes it as a model file in memory.
///
/// # Errors
/// [`ExportError::Fold`] or [`ExportError::Encode`].
pub fn encode_snapshot(
    snapshot: &Snapshot,
    info: &ExportInfo,
) -> Result<AlignedBytes, ExportError> {
    let layers = fold(snapshot)?;
    Ok(encode_layers(snapshot.variant.name(), &layers, info)?)
}

/// Encodes already-folded layers with the Fashion-MNIST contract (28 × 28 pixels scaled by
/// 1/255, the ten class names).
///
/// # Errors
/// Any [`model_format::Error`] the encoder reports.
pub fn encode_layers(
    variant: &str,
    layers: &[FoldedLayer],
    info: &ExportInfo,
) -> Result<AlignedBytes, model_format::Error> {
    debug_assert_eq!(
        usize::from(IMAGE_SIDE) * usize::from(IMAGE_SIDE),
        IMAGE_PIXELS
    );
    let specs: Vec<LayerSpec<'_>> = layers
        .iter()
        .map(|l| {
            LayerSpec::f32(
                l.inputs as u32,
                l.outputs as u32,
                l.activation,
                &l.weights,
                &l.bias,
            )
        })
        .collect();
    model_format::encode(&ModelSpec {
        variant,
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
        class_names: &CLASS_NAMES,
        layers: &specs,
    })
}

/// Folds, encodes and writes the model file atomically (temp file + rename). Returns its size.
///
/// # Errors
/// [`ExportError`]; on error no file is left under `path`.
pub fn export(snapshot: &Snapshot, info: &ExportInfo, path: &Path) -> Result<u64, ExportError> {
    let bytes = encode_snapshot(snapshot, info)?;
    write_atomic(path, &bytes).map_err(|source| ExportError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.len() as u64)
}

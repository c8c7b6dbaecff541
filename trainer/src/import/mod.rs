//! `trainer import`: dense networks trained elsewhere, as checked model files.
//!
//! A reader per source format turns the file into a framework-neutral chain of operations
//! ([`chain::Step`]); [`chain::fold_chain`] folds BatchNorm wherever the graph puts it and
//! gives the dense layers; the encoder writes them as an f32 `.fmlp` file (which `trainer
//! quantize` can then make f16 or int8). ONNX is read today ([`onnx`]); a TFLite file is
//! recognised by its identifier and refused as not supported yet.

pub mod chain;
pub mod onnx;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use model_format::{AlignedBytes, InputSpec, LayerSpec, ModelSpec, Provenance};

use crate::atomic::write_atomic;
use crate::fold::FoldedLayer;
use chain::{ChainError, fold_chain};
use onnx::{OnnxError, read_onnx};

/// Largest source file read: far above any dense network a microcontroller runs, and it bounds
/// what a hostile or mistaken path (a disk image, `/dev/zero`) can make the importer read.
pub const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// What the source file does not say and the model file needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The model's name in the file (default: the source file's stem).
    pub name: Option<String>,
    /// Class names in output order (default: Fashion-MNIST's for a 784 → 10 network, else
    /// `0`, `1`, ...).
    pub class_names: Option<Vec<String>>,
    /// The device feeds `u8 × scale` to the first layer (default 1/255, pixels in [0, 1]).
    pub input_scale: f32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            name: None,
            class_names: None,
            input_scale: crate::export::INPUT_SCALE,
        }
    }
}

/// Why a file could not be imported; each names the file.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading failed.
    #[error("reading {}", path.display())]
    Read {
        /// The source file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a regular file, or larger than [`MAX_SOURCE_BYTES`].
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The source file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The ONNX reader refused the graph.
    #[error("{}", path.display())]
    Onnx {
        /// The source file.
        path: PathBuf,
        /// What it refused.
        source: OnnxError,
    },
    /// The operations do not make a dense network the device can run.
    #[error("{}", path.display())]
    Chain {
        /// The source file.
        path: PathBuf,
        /// Why.
        source: ChainError,
    },
    /// The layers do not make a valid model file (e.g. too wide for the format).
    #[error("{}: encoding the model file", path.display())]
    Encode {
        /// The source file.
        path: PathBuf,
        /// The encoder's error.
        source: model_format::Error,
    },
    /// Writing the output failed (nothing is left under its name).
    #[error("writing {}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A source file made into a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The encoded model file.
    pub file: AlignedBytes,
    /// The folded layers it holds.
    pub layers: Vec<FoldedLayer>,
    /// One line per source node: what it became.
    pub mapping: Vec<String>,
    /// What produced the source file (for ONNX: producer, version and opset).
    pub producer: String,
}

/// Reads `path` (ONNX) and encodes it as a model file in memory.
///
/// # Errors
/// [`ImportError`] naming the file and, for graph errors, the node.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, ImportError> {
    let bytes = read_bounded(path)?;
    if bytes.get(4..8) == Some(b"TFL3") {
        return Err(ImportError::Refused {
            path: path.to_path_buf(),
            reason: "a TFLite flatbuffer: TFLite import is not supported yet (issue #12)".into(),
        });
    }
    let graph = read_onnx(&bytes).map_err(|source| ImportError::Onnx {
        path: path.to_path_buf(),
        source,
    })?;
    let layers = fold_chain(&graph.steps).map_err(|source| ImportError::Chain {
        path: path.to_path_buf(),
        source,
    })?;
    let name = options.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned())
    });
    let file = encode(
        &name,
        &layers,
        graph.input_features,
        options,
        &graph.producer,
    )
    .map_err(|source| ImportError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Imported {
        file,
        layers,
        mapping: graph.mapping,
        producer: graph.producer,
    })
}

/// [`import_file`], then writes the model atomically to `out`.
///
/// # Errors
/// As [`import_file`], or [`ImportError::Write`]; on any error nothing is written.
pub fn import_to(
    path: &Path,
    options: &ImportOptions,
    out: &Path,
) -> Result<Imported, ImportError> {
    let imported = import_file(path, options)?;
    write_atomic(out, &imported.file).map_err(|source| ImportError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(imported)
}

/// The whole file, refused at once if it is not a regular file or is over the cap.
fn read_bounded(path: &Path) -> Result<Vec<u8>, ImportError> {
    let read_error = |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    let refused = |reason: String| ImportError::Refused {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.is_file() {
        return Err(refused("not a regular file".into()));
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(refused(format!(
            "{} bytes; at most {MAX_SOURCE_BYTES} are read",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(refused("grew past the size cap while being read".into()));
    }
    Ok(bytes)
}

/// The model file: 784 inputs are a 28 × 28 image, any other width one row of `u8 × scale`.
fn encode(
    name: &str,
    layers: &[FoldedLayer],
    input_features: usize,
    options: &ImportOptions,
    producer: &str,
) -> Result<AlignedBytes, model_format::Error> {
    let (width, height) = if input_features == idx::layout::IMAGE_PIXELS {
        (crate::export::IMAGE_SIDE, crate::export::IMAGE_SIDE)
    } else {
        (u16::try_from(input_features).unwrap_or(u16::MAX), 1)
    };
    let outputs = layers.last().map_or(0, |l| l.outputs);
    let class_names: Vec<String> = match &options.class_names {
        Some(names) => names.clone(),
        None if input_features == idx::layout::IMAGE_PIXELS && outputs == 10 => {
            idx::layout::CLASS_NAMES
                .iter()
                .map(|&n| n.to_owned())
                .collect()
        }
        None => (0..outputs).map(|i| i.to_string()).collect(),
    };
    let names: Vec<&str> = class_names.iter().map(String::as_str).collect();
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
    // The source file carries no test accuracy: 0 in the field, and the note says why.
    let note: String = format!("imported from {producer}; test accuracy not measured")
        .chars()
        .take(200)
        .collect();
    model_format::encode(&ModelSpec {
        variant: name,
        provenance: Provenance {
            seed: 0,
            epochs: 0,
            test_accuracy: 0.0,
            note: &note,
        },
        input: InputSpec {
            width,
            height,
            scale: options.input_scale,
        },
        class_names: &names,
        layers: &specs,
    })
}

//! `trainer import`: dense networks trained elsewhere, as checked model files.
//!
//! A reader per source format turns the file into a framework-neutral chain of operations
//! ([`chain::Step`]); [`chain::fold_chain`] folds BatchNorm wherever the graph puts it and
//! gives the dense layers; the encoder writes them as an f32 `.fmlp` file (which `trainer
//! quantize` can then make f16 or int8). ONNX ([`onnx`]) and float32 TFLite ([`tflite`]) take
//! that path; an int8 TFLite file becomes int8 layers with the file's own integers, encoded
//! as `trainer quantize` encodes its int8 layers (the same multiplier computation and tiling).
//! A file is TFLite when it carries the flatbuffer identifier `TFL3` at bytes 4..8.

pub mod chain;
pub mod onnx;
pub mod tflite;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use model_format::{
    AlignedBytes, InputSpec, Int8Params, LayerSpec, ModelSpec, Params, Provenance, block_int8,
};

use crate::atomic::write_atomic;
use crate::fold::FoldedLayer;
use crate::quantize::requantization;
use chain::{ChainError, fold_chain};
use onnx::{OnnxError, read_onnx};
use tflite::{Body, Int8Dense, TfliteError, read_tflite};

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
    /// The activation capacity of the device's engine (`CAP` of `firmware::Engine`): a model
    /// with a wider layer is refused, naming the layer (default: no limit).
    pub capacity: Option<usize>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            name: None,
            class_names: None,
            input_scale: crate::export::INPUT_SCALE,
            capacity: None,
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
    /// The TFLite reader refused the model.
    #[error("{}", path.display())]
    Tflite {
        /// The source file.
        path: PathBuf,
        /// What it refused.
        source: TfliteError,
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
    /// A layer is wider than the capacity the user named.
    #[error(
        "{}: layer {layer} is {width} wide, wider than the capacity {capacity} (`--capacity`): \
         the device's engine could not run it",
        path.display()
    )]
    TooWide {
        /// The source file.
        path: PathBuf,
        /// The first layer that does not fit (0-based, in the model file).
        layer: usize,
        /// Its widest side (for int8, rounded up to a multiple of 4).
        width: u32,
        /// The capacity named.
        capacity: usize,
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
    /// The layers it holds, in f32 (an int8 import's dequantized: `q · weight_scale` and
    /// `bias · input_scale · weight_scale`).
    pub layers: Vec<FoldedLayer>,
    /// One line per source node: what it became.
    pub mapping: Vec<String>,
    /// What produced the source file (for ONNX: producer, version and opset; for TFLite: the
    /// schema version and the file's description).
    pub producer: String,
}

/// The layers a reader gives, before encoding.
enum Layers {
    Float(Vec<FoldedLayer>),
    Int8(Vec<Int8Dense>),
}

/// Reads `path` (ONNX or TFLite) and encodes it as a model file in memory.
///
/// # Errors
/// [`ImportError`] naming the file and, for graph errors, the node or operator.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, ImportError> {
    let bytes = read_bounded(path)?;
    let fold = |steps: &[chain::Step]| {
        fold_chain(steps).map_err(|source| ImportError::Chain {
            path: path.to_path_buf(),
            source,
        })
    };
    let (layers, input_features, mapping, producer) = if bytes.get(4..8) == Some(b"TFL3") {
        let graph =
            read_tflite(&bytes, options.input_scale).map_err(|source| ImportError::Tflite {
                path: path.to_path_buf(),
                source,
            })?;
        let layers = match graph.body {
            Body::Float(steps) => Layers::Float(fold(&steps)?),
            Body::Int8(layers) => Layers::Int8(layers),
        };
        (layers, graph.input_features, graph.mapping, graph.producer)
    } else {
        let graph = read_onnx(&bytes).map_err(|source| ImportError::Onnx {
            path: path.to_path_buf(),
            source,
        })?;
        let layers = Layers::Float(fold(&graph.steps)?);
        (layers, graph.input_features, graph.mapping, graph.producer)
    };
    let name = options.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned())
    });
    let file = encode(&name, &layers, input_features, options, &producer).map_err(|source| {
        ImportError::Encode {
            path: path.to_path_buf(),
            source,
        }
    })?;
    if let Some(capacity) = options.capacity {
        check_capacity(path, &file, capacity)?;
    }
    let layers = match layers {
        Layers::Float(layers) => layers,
        Layers::Int8(layers) => layers.iter().map(dequantized).collect(),
    };
    Ok(Imported {
        file,
        layers,
        mapping,
        producer,
    })
}

/// The real values an int8 layer stands for.
fn dequantized(layer: &Int8Dense) -> FoldedLayer {
    let weights = layer
        .weights
        .chunks_exact(layer.inputs)
        .zip(&layer.weight_scale)
        .flat_map(|(row, &s)| row.iter().map(move |&q| f32::from(q) * s))
        .collect();
    let bias = layer
        .bias
        .iter()
        .zip(&layer.weight_scale)
        .map(|(&b, &s)| (f64::from(b) * f64::from(layer.input.scale) * f64::from(s)) as f32)
        .collect();
    FoldedLayer {
        inputs: layer.inputs,
        outputs: layer.outputs,
        activation: layer.activation,
        weights,
        bias,
    }
}

/// An int8 layer's requantization and tiled weights, owned for the encoder.
struct Int8Owned {
    weights: Vec<i8>,
    multiplier: Vec<i32>,
    shift: Vec<i32>,
}

impl Int8Owned {
    fn of(layer: &Int8Dense) -> Self {
        let (multiplier, shift) = layer
            .weight_scale
            .iter()
            .map(|&w| requantization(layer.input.scale, w, layer.output.scale))
            .unzip();
        Self {
            weights: block_int8(&layer.weights, layer.inputs, layer.outputs),
            multiplier,
            shift,
        }
    }
}

/// Refuses `file` if a layer is wider than `capacity`, as the firmware's engine would.
fn check_capacity(path: &Path, file: &[u8], capacity: usize) -> Result<(), ImportError> {
    let encode_error = |source| ImportError::Encode {
        path: path.to_path_buf(),
        source,
    };
    let model = model_format::Model::from_bytes(file).map_err(encode_error)?;
    match model.check_capacity(capacity) {
        Err(model_format::Error::TooWide {
            layer,
            width,
            capacity,
        }) => Err(ImportError::TooWide {
            path: path.to_path_buf(),
            layer,
            width,
            capacity,
        }),
        other => other.map_err(encode_error),
    }
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
    layers: &Layers,
    input_features: usize,
    options: &ImportOptions,
    producer: &str,
) -> Result<AlignedBytes, model_format::Error> {
    let (width, height) = if input_features == idx::layout::IMAGE_PIXELS {
        (crate::export::IMAGE_SIDE, crate::export::IMAGE_SIDE)
    } else {
        (u16::try_from(input_features).unwrap_or(u16::MAX), 1)
    };
    let outputs = match layers {
        Layers::Float(l) => l.last().map_or(0, |l| l.outputs),
        Layers::Int8(l) => l.last().map_or(0, |l| l.outputs),
    };
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
    let owned: Vec<Int8Owned> = match layers {
        Layers::Float(_) => Vec::new(),
        Layers::Int8(l) => l.iter().map(Int8Owned::of).collect(),
    };
    let specs: Vec<LayerSpec<'_>> = match layers {
        Layers::Float(layers) => layers.iter().map(FoldedLayer::spec).collect(),
        Layers::Int8(layers) => layers
            .iter()
            .zip(&owned)
            .map(|(l, o)| LayerSpec {
                inputs: l.inputs as u32,
                outputs: l.outputs as u32,
                activation: l.activation,
                params: Params::Int8(Int8Params {
                    input: l.input,
                    output: l.output,
                    weights: &o.weights,
                    bias: &l.bias,
                    multiplier: &o.multiplier,
                    shift: &o.shift,
                    weight_scale: &l.weight_scale,
                }),
            })
            .collect(),
    };
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

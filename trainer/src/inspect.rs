//! `trainer inspect FILE`: what a model file holds and what the device needs to run it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use idx::layout::{CLASS_NAMES, IMAGE_PIXELS};
use model_format::{Activation, AlignedBytes, Model};

use crate::report::summary::thousands;
use crate::training::is_checkpoint;

/// Why a file could not be inspected.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid model file.
    #[error("{path} is not a valid model file")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the checker found.
        source: model_format::Error,
    },
    /// The file is one of the trainer's checkpoints.
    #[error(
        "{path} is a training checkpoint, not a model: `trainer train --resume` continues from \
         it, and the model file of that run is model.fmlp beside it"
    )]
    Checkpoint {
        /// The file.
        path: PathBuf,
    },
}

/// Reads and checks a model file: its preamble before the rest, at most
/// [`model_format::MAX_FILE_LEN`] bytes, and only from a regular file
/// ([`AlignedBytes::read`]).
///
/// # Errors
/// [`InspectError`] naming the file: [`InspectError::Checkpoint`] for a checkpoint,
/// [`InspectError::Invalid`] for what the checks refuse, [`InspectError::Read`] otherwise
/// (a FIFO or a device included).
pub fn read_model(path: &Path) -> Result<AlignedBytes, InspectError> {
    let invalid = |source| {
        let is_ckpt = matches!(
            source,
            model_format::Error::BadMagic { .. } | model_format::Error::UnsupportedVersion { .. }
        ) && is_checkpoint_file(path);
        if is_ckpt {
            InspectError::Checkpoint {
                path: path.to_path_buf(),
            }
        } else {
            InspectError::Invalid {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let bytes = AlignedBytes::read(path).map_err(|source| {
        match source.get_ref().and_then(|e| e.downcast_ref()) {
            Some(&e) => invalid(e),
            None => InspectError::Read {
                path: path.to_path_buf(),
                source,
            },
        }
    })?;
    Model::from_bytes(&bytes).map_err(invalid)?;
    Ok(bytes)
}

/// Whether the regular file at `path` begins with a checkpoint's magic (only called once the
/// model reader has found `path` to be a regular file).
fn is_checkpoint_file(path: &Path) -> bool {
    let mut start = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start))
        .is_ok_and(|()| is_checkpoint(&start))
}

/// RAM the firmware needs for activations: two ping-pong buffers as wide as the widest layer,
/// of f32 for f32 and f16 models (`Scratch`), of bytes for int8 ones (`Int8Scratch`, which on
/// a Cortex-M4 adds 2 bytes per value for its kernel's packed input). Returns
/// `(bytes, bytes on a Cortex-M4)`.
pub fn activation_ram_bytes(model: &Model<'_>) -> (usize, usize) {
    let w = model.max_width();
    if model.is_int8() {
        (2 * w, 4 * w)
    } else {
        (2 * w * size_of::<f32>(), 2 * w * size_of::<f32>())
    }
}

/// A human-readable description: provenance, layers, parameters, bytes, device RAM.
pub fn describe(model: &Model<'_>, file_bytes: usize) -> String {
    let p = model.provenance();
    let input = model.input();
    let mut s = String::new();
    let _ = writeln!(s, "variant        {}", model.variant());
    let _ = writeln!(
        s,
        "provenance     seed {}, {} epochs, test accuracy {:.4}",
        p.seed, p.epochs, p.test_accuracy
    );
    if !p.note.is_empty() {
        let _ = writeln!(s, "note           {}", p.note);
    }
    let _ = if input.height == 1 {
        writeln!(
            s,
            "input          {} values: u8 × {:e}, or f32 as they are within ±{}",
            input.width,
            input.scale,
            input.max_input()
        )
    } else {
        writeln!(
            s,
            "input          {}x{} u8 pixels, scaled by {:e} (1/{:.0})",
            input.width,
            input.height,
            input.scale,
            1.0 / input.scale
        )
    };
    let shape: Vec<String> = std::iter::once(model.inputs().to_string())
        .chain(model.layers().iter().map(|l| l.outputs().to_string()))
        .collect();
    let _ = writeln!(s, "shape          {}", shape.join("→"));
    let _ = writeln!(s, "layers");
    write_layers(&mut s, model);
    let _ = writeln!(
        s,
        "parameters     {}",
        thousands(model.param_count() as u64)
    );
    let _ = writeln!(
        s,
        "file           {} bytes, format version {} (parameters read in place from flash)",
        thousands(file_bytes as u64),
        model.version()
    );
    write_ram(&mut s, model);
    let outputs = match model.layers().last().map(|l| l.activation()) {
        Some(Activation::Softmax) => "probabilities (the last layer's Softmax)",
        Some(Activation::Relu) => "values clamped at 0 (the last layer's Relu)",
        _ => "values as they are: regression outputs or logits (the last layer's None)",
    };
    let _ = writeln!(s, "outputs        {} {outputs}", model.classes());
    let _ = writeln!(s, "classes        {}", model.class_names().join(", "));
    write_firmware(&mut s, model);
    s
}

/// The firmware's types that run the model: every file that decodes runs on the engine, with a
/// capacity of its widest layer side; the Fashion-MNIST classifier takes 784 → 10 only.
fn write_firmware(s: &mut String, model: &Model<'_>) {
    let (inputs, outputs, cap) = (model.inputs(), model.classes(), model.max_width());
    let (scratch, feed) = if model.is_int8() {
        (format!("Int8Scratch<{cap}>"), "u8 inputs")
    } else {
        (format!("Scratch<{cap}>"), "u8 or f32 inputs")
    };
    let _ = writeln!(
        s,
        "firmware       runs it: firmware::Engine::<{inputs}, {outputs}, {cap}, {scratch}> \
         ({feed}; a smaller capacity is refused as TooWide)"
    );
    let _ = if (inputs, outputs) == (IMAGE_PIXELS, CLASS_NAMES.len()) {
        writeln!(
            s,
            "               and the Fashion-MNIST application, firmware::Classifier::<{}>",
            cap.max(IMAGE_PIXELS)
        )
    } else {
        writeln!(
            s,
            "               not the Fashion-MNIST firmware::Classifier, which takes {IMAGE_PIXELS} \
             pixels to {} classes",
            CLASS_NAMES.len()
        )
    };
}

/// One line per layer (shape, activation, storage, parameters), and its int8 quantization.
fn write_layers(s: &mut String, model: &Model<'_>) {
    for (i, l) in model.layers().iter().enumerate() {
        let _ = writeln!(
            s,
            "  {i}  dense {:>4} → {:<4} {:<8} {:<4} {:>9} params",
            l.inputs(),
            l.outputs(),
            format!("{:?}", l.activation()),
            l.storage().name(),
            thousands(l.param_count() as u64)
        );
        if let model_format::Params::Int8(p) = l.params() {
            let _ = writeln!(
                s,
                "       int8 input scale {:e} zero point {}, output scale {:e} zero point {}",
                p.input.scale, p.input.zero_point, p.output.scale, p.output.zero_point
            );
        }
    }
}

/// The device RAM line: the scratch the firmware needs for this storage.
fn write_ram(s: &mut String, model: &Model<'_>) {
    let (ram, ram_m4) = activation_ram_bytes(model);
    let _ = if model.is_int8() {
        writeln!(
            s,
            "device RAM     {} bytes of activation buffers, {} on a Cortex-M4 \
             (firmware::Int8Scratch<{}>)",
            thousands(ram as u64),
            thousands(ram_m4 as u64),
            model.max_width()
        )
    } else {
        writeln!(
            s,
            "device RAM     {} bytes of activation buffers (firmware::Scratch<{}>)",
            thousands(ram as u64),
            model.max_width()
        )
    };
}

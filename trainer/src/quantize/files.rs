//! Quantized model files on disk: the `quantize` subcommand and the main job's
//! `model-f16.fmlp` / `model-int8.fmlp`, with the test accuracy each keeps.

use std::path::{Path, PathBuf};

use model_format::Model;

use std::fmt::Write as _;

use crate::atomic::write_atomic;
use crate::data::Dataset;
use crate::quantize::{Net, QuantizeError, Target, accuracy, forward, predict, quantize};
use crate::report::thousands;

/// Training images int8 calibration runs through: the first of the training set. The
/// validation images (the last 10,000 of the 60,000) and the test images are never used.
/// Measured on the four full-run models against 1,000 (README, "Quantized models"): test
/// accuracy lost, dropout 0.12 → 0.03 points, bn_dropout 0.06 → 0.00, vanilla and bn within
/// 0.02 of before; class agreement 0.1–0.2 points higher except bn's (99.15 → 99.13 %); for
/// 42 s more for vanilla (30 → 73 s for `trainer quantize`, on 2 busy cores).
pub const CALIBRATION_IMAGES: usize = 10_000;

/// Why a model file could not be quantized; nothing is written then.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeFileError {
    /// The input is not a valid model file.
    #[error("{path} is not a valid model file")]
    Invalid {
        /// The input path.
        path: PathBuf,
        /// Why the decoder refused it.
        source: model_format::Error,
    },
    /// The model cannot be quantized.
    #[error("quantizing {path}")]
    Quantize {
        /// The input path.
        path: PathBuf,
        /// Why.
        source: QuantizeError,
    },
    /// The output would overwrite the input.
    #[error("--out {0} is the input file; write the quantized model elsewhere")]
    SameFile(PathBuf),
    /// The output could not be written.
    #[error("writing {path}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One model file and how it does on the test images.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Share of the test images classified right (plain host forward of the file).
    pub test_accuracy: f64,
    /// Share of the test images where its class equals the f32 model's.
    pub agreement: f64,
    /// For an int8 file: the test images whose f32 top-two logit margin is below one step of
    /// the int8 logits (where the int8 logits can hardly keep the f32 class: the ceiling the
    /// logit step alone puts on `agreement`).
    pub near_ties: Option<usize>,
}

/// The f32 model and its quantized versions, scored on the same test images.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The f32 model.
    pub f32: Scored,
    /// Its quantized files, in the order asked for.
    pub quantized: Vec<(Target, Scored)>,
    /// How many test images they were scored on.
    pub test_images: usize,
}

impl Comparison {
    /// The comparison as a markdown table: file, storage, size (and its ratio to the f32
    /// file), test accuracy and its change, agreement with the f32 model's classes.
    pub fn markdown(&self) -> String {
        let mut s = String::from(
            "| file | storage | bytes | × f32 | test acc | Δ acc (points) | same class as f32 |\n\
             |:--|:--|--:|--:|--:|--:|--:|\n",
        );
        let f = &self.f32;
        let rows = std::iter::once(("f32", f))
            .chain(self.quantized.iter().map(|(t, q)| (t.storage().name(), q)));
        for (storage, q) in rows {
            let _ = writeln!(
                s,
                "| {} | {storage} | {} | {:.3} | {:.4} | {:+.2} | {:.2} % |",
                q.path.display(),
                thousands(q.bytes),
                q.bytes as f64 / f.bytes as f64,
                q.test_accuracy,
                100.0 * (q.test_accuracy - f.test_accuracy),
                100.0 * q.agreement,
            );
        }
        for (_, q) in &self.quantized {
            if let Some(n) = q.near_ties {
                let _ = writeln!(
                    s,
                    "\n{}: {} of {} test images have an f32 top-two logit margin below one \
                     int8 logit step.",
                    q.path.display(),
                    thousands(n as u64),
                    thousands(self.test_images as u64),
                );
            }
        }
        s
    }
}

/// Quantizes the checked f32 model `file` (found at `path`) to each of `targets`, writes each
/// to `out(target)` atomically, and scores all on `test`; int8 calibrates on the first
/// [`CALIBRATION_IMAGES`] of `train`.
///
/// # Errors
/// [`QuantizeFileError`]; a file that was refused or failed is not written.
pub fn quantize_to_files(
    path: &Path,
    file: &[u8],
    targets: &[Target],
    out: impl Fn(Target) -> PathBuf,
    train: &Dataset,
    test: &Dataset,
) -> Result<Comparison, QuantizeFileError> {
    let model = Model::from_bytes(file).map_err(|source| QuantizeFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })?;
    let pixels = model.inputs();
    let n = CALIBRATION_IMAGES.min(train.len());
    let calibration = &train.images[..n * pixels];
    let net = Net::new(&model);
    let reference = predict(&net, &test.images);
    let margins: Vec<f64> = test
        .images
        .chunks_exact(pixels)
        .map(|img| top_two_margin(&forward(&net, img)))
        .collect();
    let f32 = Scored {
        path: path.to_path_buf(),
        bytes: file.len() as u64,
        test_accuracy: accuracy(&reference, &test.labels),
        agreement: 1.0,
        near_ties: None,
    };
    let mut quantized = Vec::with_capacity(targets.len());
    for &target in targets {
        let dest = out(target);
        if same_file(path, &dest) {
            return Err(QuantizeFileError::SameFile(dest));
        }
        let bytes = quantize(&model, target, calibration).map_err(|source| {
            QuantizeFileError::Quantize {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let q = Model::from_bytes(&bytes).map_err(|source| QuantizeFileError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
        let predicted = predict(&Net::new(&q), &test.images);
        write_atomic(&dest, &bytes).map_err(|source| QuantizeFileError::Write {
            path: dest.clone(),
            source,
        })?;
        quantized.push((
            target,
            Scored {
                path: dest,
                bytes: bytes.len() as u64,
                test_accuracy: accuracy(&predicted, &test.labels),
                agreement: accuracy(&predicted, &reference),
                near_ties: last_int8_step(&q)
                    .map(|step| margins.iter().filter(|&&m| m < step).count()),
            },
        ));
    }
    Ok(Comparison {
        f32,
        quantized,
        test_images: test.len(),
    })
}

/// The largest logit minus the second largest (0 with fewer than two).
fn top_two_margin(logits: &[f64]) -> f64 {
    let (mut first, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for &v in logits {
        if v > first {
            (first, second) = (v, first);
        } else if v > second {
            second = v;
        }
    }
    if second.is_finite() {
        first - second
    } else {
        0.0
    }
}

/// One step of an int8 model's logits (its last layer's output scale).
fn last_int8_step(model: &Model<'_>) -> Option<f64> {
    match model.layers().last()?.params() {
        model_format::Params::Int8(p) => Some(f64::from(p.output.scale)),
        _ => None,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

//! One model of the main job: train, evaluate, export (f32, and quantized to f16 and int8), plot
//! and record it in `OUT/NAME/`.

use std::path::PathBuf;

use idx::layout::TRAIN_IMAGES;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::Backend;
use crate::data::{Dataset, VALIDATION_IMAGES};
use crate::export::{ExportInfo, encode_snapshot, export};
use crate::job::error::RunError;
use crate::model::mlp::Mlp;
use crate::model::spec::MlpSpec;
use crate::plot::{plot_accuracy, plot_loss};
use crate::quantize::{Comparison, Target, quantize_to_files};
use crate::report::{Quantized, SummaryRow, write_history};
use crate::training::{Checkpointing, History, Progress, TestScore, TrainConfig, evaluate, train};

/// The settings every model of a job shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Hyper-parameters of the optimiser and the loop.
    pub config: TrainConfig,
    /// `OUT`: gets `OUT/NAME/…` and `OUT/summary.{md,csv}`.
    pub out: PathBuf,
    /// Continue each model from its last checkpoint.
    pub resume: bool,
}

/// One model's finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    /// The per-epoch history (with the model's spec).
    pub history: History,
    /// Test loss and accuracy of the unfolded model.
    pub test: TestScore,
    /// Its line in the comparison table.
    pub row: SummaryRow,
    /// The exported model file.
    pub model_path: PathBuf,
}

/// Trains, evaluates, exports and plots `spec` into `OUT/NAME/` on the `(train, val, test)` sets.
///
/// # Errors
/// [`RunError`] naming the model or the file.
pub fn run_one(
    spec: &MlpSpec,
    settings: &Settings,
    (train_set, val_set, test_set): (&Dataset, &Dataset, &Dataset),
    progress: &dyn Progress,
) -> Result<ModelRun, RunError> {
    let dir = settings.out.join(&spec.name);
    std::fs::create_dir_all(&dir).map_err(|source| RunError::Io {
        path: dir.clone(),
        source,
    })?;
    let checkpoint = Checkpointing {
        dir: dir.clone(),
        resume: settings.resume,
    };
    let config = &settings.config;
    let outcome = train(
        spec,
        config,
        (train_set, val_set),
        Some(&checkpoint),
        progress,
    )
    .map_err(|source| RunError::Train {
        name: spec.name.clone(),
        source,
    })?;
    let test = evaluate(&outcome.model, test_set);
    progress.line(&format!(
        "{}: test loss {:.4}, test accuracy {:.4}",
        spec.name, test.loss, test.accuracy
    ));

    let info = export_info(config, &outcome.history, &test, train_set.len());
    let model_path = dir.join("model.fmlp");
    let exported =
        export(spec, &outcome.model.snapshot(), &info, &model_path).map_err(|source| {
            RunError::Export {
                name: spec.name.clone(),
                source,
            }
        })?;

    let quantized = quantize_exported(spec, &dir, &exported.file, train_set, test_set)?;
    progress.line(&quantized_line(&spec.name, &quantized));

    write_history(&outcome.history, &dir)?;
    plot_accuracy(&outcome.history, &test, &dir.join("accuracy.png"))?;
    plot_loss(&outcome.history, &test, &dir.join("loss.png"))?;
    let mut row = SummaryRow::from_run(
        &outcome.history,
        &test,
        outcome.params,
        exported.params,
        exported.bytes,
    )?;
    row.quantized = summary_of(&quantized);
    Ok(ModelRun {
        history: outcome.history,
        test,
        row,
        model_path,
    })
}

impl Settings {
    /// Checks every setting before any data is loaded or any file written: each on its own
    /// ([`TrainConfig::check`]), then that each model's file can be written with them, by
    /// encoding a stand-in of each model (its spec's shape, untrained weights) with the
    /// provenance note the run will write, which prints the learning rate in full.
    ///
    /// # Errors
    /// [`RunError::Settings`] naming the setting, or [`RunError::Export`] naming the model
    /// whose file the encoder would refuse (a note over 255 bytes, more than 16 classes, ...).
    pub fn check(&self, specs: &[MlpSpec]) -> Result<(), RunError> {
        self.config.check().map_err(RunError::Settings)?;
        let note = provenance_note(&self.config, TRAIN_IMAGES - VALIDATION_IMAGES);
        if note.len() > model_format::MAX_STR_LEN {
            return Err(RunError::NoteTooLong {
                bytes: note.len(),
                learning_rate: self.config.learning_rate,
            });
        }
        for spec in specs {
            let mut rng = StdRng::seed_from_u64(0);
            let stand_in = Mlp::<Backend>::new(spec, &mut rng, &Default::default());
            let info = ExportInfo {
                seed: self.config.seed,
                epochs: self.config.epochs as u32,
                test_accuracy: 0.0,
                note: note.clone(),
            };
            encode_snapshot(spec, &stand_in.snapshot(), &info).map_err(|source| {
                RunError::Export {
                    name: spec.name.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}

/// The provenance written into the model file.
fn export_info(
    config: &TrainConfig,
    history: &History,
    test: &TestScore,
    train_images: usize,
) -> ExportInfo {
    ExportInfo {
        seed: config.seed,
        epochs: history.epochs.len() as u32,
        test_accuracy: test.accuracy,
        note: provenance_note(config, train_images),
    }
}

/// The model file's note: the trainer, the settings and the training images used
/// (`train_images`, or the limit if lower).
fn provenance_note(config: &TrainConfig, train_images: usize) -> String {
    format!(
        "trainer {} (burn 0.21, ndarray); batch {}, Adam lr {} eps {:e}; {} training images; BatchNorm folded",
        env!("CARGO_PKG_VERSION"),
        config.batch_size,
        config.learning_rate,
        config.epsilon,
        config
            .train_limit
            .map_or(train_images, |n| n.min(train_images)),
    )
}

/// Writes `dir/model-f16.fmlp` and `dir/model-int8.fmlp` beside the exported `dir/model.fmlp`
/// (`file`) and scores all three files on the test set.
fn quantize_exported(
    spec: &MlpSpec,
    dir: &std::path::Path,
    file: &[u8],
    train_set: &Dataset,
    test_set: &Dataset,
) -> Result<Comparison, RunError> {
    quantize_to_files(
        &dir.join("model.fmlp"),
        file,
        &Target::ALL,
        |t| dir.join(format!("model-{}.fmlp", t.storage().name())),
        train_set,
        test_set,
    )
    .map_err(|source| RunError::Quantize {
        name: spec.name.clone(),
        source,
    })
}

/// One line per model after quantizing: each file's size and test accuracy.
fn quantized_line(name: &str, c: &Comparison) -> String {
    let parts: Vec<String> = std::iter::once(("f32", &c.f32))
        .chain(c.quantized.iter().map(|(t, s)| (t.storage().name(), s)))
        .map(|(storage, s)| {
            format!(
                "{storage} {} bytes, test accuracy {:.4}",
                s.bytes, s.test_accuracy
            )
        })
        .collect();
    format!("{name}: {}", parts.join("; "))
}

/// The summary table's view of the quantized files.
fn summary_of(c: &Comparison) -> Quantized {
    let mut q = Quantized::default();
    for (target, s) in &c.quantized {
        match target {
            Target::F16 => {
                q.f16_bytes = Some(s.bytes);
                q.f16_test_accuracy = Some(s.test_accuracy);
            }
            Target::Int8 => {
                q.int8_bytes = Some(s.bytes);
                q.int8_test_accuracy = Some(s.test_accuracy);
                q.int8_agreement = Some(s.agreement);
            }
        }
    }
    q
}

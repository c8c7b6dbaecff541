//! The main job: train the chosen variants concurrently, evaluate, export, plot, summarise.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{MultiProgress, ProgressBar};
use model_format::Model;

use crate::data::{Dataset, FashionMnist};
use crate::export::{ExportInfo, export};
use crate::history::{History, TestScore};
use crate::model::Variant;
use crate::plot::{Metric, plot_accuracy, plot_all_variants, plot_comparison, plot_loss};
use crate::report::{SummaryRow, write_history, write_summary};
use crate::training::{Progress, TrainConfig, epoch_bar_prefix, epoch_bar_style, evaluate, train};
use crate::worker::Message;

/// What to run and where to put it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Variants to train, in the order they are reported.
    pub variants: Vec<Variant>,
    /// Hyper-parameters shared by all variants.
    pub config: TrainConfig,
    /// `OUT`: gets `OUT/<variant>/…` and `OUT/summary.{md,csv}`.
    pub out: PathBuf,
    /// Continue each variant from its last checkpoint.
    pub resume: bool,
    /// Variants trained at the same time (each on one core).
    pub jobs: usize,
    /// The `trainer` executable: with it, each variant trains in its own `trainer worker`
    /// process (see [`crate::worker`] for why); without it, in a thread of this process.
    pub worker: Option<PathBuf>,
}

/// One variant's finished run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VariantRun {
    /// The per-epoch history.
    pub history: History,
    /// Test loss and accuracy of the unfolded model.
    pub test: TestScore,
    /// Its line in the comparison table.
    pub row: SummaryRow,
    /// The exported model file.
    pub model_path: PathBuf,
}

/// Why the main job failed; each names the variant or the file concerned.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Loading the data failed.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Training a variant failed.
    #[error("training {variant}")]
    Train {
        /// The variant.
        variant: Variant,
        /// The cause.
        source: crate::training::TrainError,
    },
    /// Exporting a variant failed.
    #[error("exporting {variant}")]
    Export {
        /// The variant.
        variant: Variant,
        /// The cause.
        source: crate::export::ExportError,
    },
    /// Writing histories or summaries failed.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Drawing a plot failed.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
    /// A worker process failed or ended without a result.
    #[error("training {variant} in a worker process: {reason}")]
    Worker {
        /// The variant.
        variant: Variant,
        /// What went wrong, with the worker's own error message when it printed one.
        reason: String,
    },
    /// Creating an output directory failed.
    #[error("creating {path}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Trains every variant of `opts` on `data` (`jobs` at a time), then writes the comparison
/// plots and `summary.{md,csv}`. Returns the runs in the order of `opts.variants`.
///
/// # Errors
/// The first [`RunError`] of any variant; finished variants keep their files.
pub fn run(
    opts: &RunOptions,
    data: &FashionMnist,
    multi: &MultiProgress,
) -> Result<Vec<VariantRun>, RunError> {
    create_dir(&opts.out)?;
    // Worker processes load and split their own copy; only threads need one from here.
    let runner = match &opts.worker {
        Some(exe) => Runner::Workers(exe),
        None => {
            let (train_set, val_set) = data.split_validation();
            Runner::Threads(train_set, val_set)
        }
    };
    let order = schedule(&opts.variants);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<VariantRun, RunError>>>> =
        Mutex::new(opts.variants.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.clamp(1, opts.variants.len().max(1)) {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let variant = opts.variants[i];
                    let result = match &runner {
                        Runner::Workers(exe) => run_in_worker(exe, variant, opts, data, multi),
                        Runner::Threads(train_set, val_set) => run_variant(
                            variant,
                            opts,
                            (train_set, val_set, &data.test),
                            multi.into(),
                        ),
                    };
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let runs = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect::<Result<Vec<_>, _>>()?;

    write_comparisons(&runs, &opts.out)?;
    let rows: Vec<SummaryRow> = runs.iter().map(|r| r.row.clone()).collect();
    write_summary(&rows, &opts.out)?;
    Ok(runs)
}

/// Where the variants of [`run`] train.
enum Runner<'a> {
    /// In `trainer worker` processes started from this executable.
    Workers(&'a Path),
    /// In threads of this process, on this training and validation split.
    Threads(Dataset, Dataset),
}

/// Indices into `variants`, longest training first (longest-processing-time scheduling): with
/// two cores and the notebook's order the slowest variant would start second and run alone at
/// the end. The order changes no result, since every run draws from its own seeded streams.
fn schedule(variants: &[Variant]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..variants.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(variants[i].relative_cost()));
    order
}

/// The body of a `trainer worker` process: trains, evaluates, exports and plots `variant` into
/// `OUT/<variant>/`, reporting on stdout as [`Message`]s, the last one [`Message::Done`].
///
/// # Errors
/// As [`run`], for this variant.
pub fn run_worker(
    variant: Variant,
    opts: &RunOptions,
    data: &FashionMnist,
) -> Result<(), RunError> {
    let (train_set, val_set) = data.split_validation();
    let run = run_variant(
        variant,
        opts,
        (&train_set, &val_set, &data.test),
        Progress::Lines,
    )?;
    Message::Done(Box::new(run)).send();
    Ok(())
}

/// Runs `trainer worker` for `variant`, draws its progress in `multi` and returns its result.
fn run_in_worker(
    exe: &Path,
    variant: Variant,
    opts: &RunOptions,
    data: &FashionMnist,
    multi: &MultiProgress,
) -> Result<VariantRun, RunError> {
    let failed = |reason: String| RunError::Worker { variant, reason };
    let mut command = Command::new(exe);
    command
        .args(["worker", "--variant", variant.name(), "--config"])
        .arg(serde_json::to_string(&opts.config).map_err(|e| failed(e.to_string()))?)
        .arg("--out")
        .arg(&opts.out)
        .arg("--data")
        .arg(&data.source)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if opts.resume {
        command.arg("--resume");
    }
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", exe.display())))?;
    // Drained on its own thread, so that a chatty stderr cannot block the worker.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });

    let bar = multi.add(ProgressBar::new(0));
    bar.set_style(epoch_bar_style());
    bar.set_prefix(epoch_bar_prefix(variant.name(), 0, opts.config.epochs));
    let mut done = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match Message::decode(&line) {
                Some(Message::Step {
                    epoch,
                    epochs,
                    seen,
                    total,
                    text,
                }) => {
                    bar.set_prefix(epoch_bar_prefix(variant.name(), epoch, epochs));
                    bar.set_length(total);
                    bar.set_position(seen);
                    bar.set_message(text);
                }
                Some(Message::Line(text)) => Progress::Bars(multi).line(&text),
                Some(Message::Done(run)) => done = Some(*run),
                None => Progress::Bars(multi).line(&line),
            }
        }
    }
    bar.finish_and_clear();
    multi.remove(&bar);
    let status = child
        .wait()
        .map_err(|e| failed(format!("waiting for the worker: {e}")))?;
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match done {
        Some(run) if status.success() => Ok(run),
        _ => {
            // The worker's own report ("error: …") is the most useful part.
            let said = stderr.trim();
            let said = said.strip_prefix("error: ").unwrap_or(said);
            Err(failed(if said.is_empty() {
                format!("it exited ({status}) without a result")
            } else {
                format!("it exited ({status}): {said}")
            }))
        }
    }
}

/// Trains, evaluates, exports and plots one variant into `OUT/<variant>/`.
fn run_variant(
    variant: Variant,
    opts: &RunOptions,
    (train_set, val_set, test_set): (&Dataset, &Dataset, &Dataset),
    progress: Progress<'_>,
) -> Result<VariantRun, RunError> {
    let dir = opts.out.join(variant.name());
    create_dir(&dir)?;
    let outcome = train(
        variant,
        &opts.config,
        train_set,
        val_set,
        Some(&dir),
        opts.resume,
        progress,
    )
    .map_err(|source| RunError::Train { variant, source })?;
    let test = evaluate(&outcome.model, test_set);
    progress.line(&format!(
        "{variant}: test loss {:.4}, test accuracy {:.4}",
        test.loss, test.accuracy
    ));

    let config = &opts.config;
    let info = ExportInfo {
        seed: config.seed,
        epochs: outcome.history.epochs.len() as u32,
        test_accuracy: test.accuracy,
        note: format!(
            "trainer {} (burn 0.21, ndarray); batch {}, Adam lr {} eps {:e}; {} training images; BatchNorm folded",
            env!("CARGO_PKG_VERSION"),
            config.batch_size,
            config.learning_rate,
            config.epsilon,
            config
                .train_limit
                .map_or(train_set.len(), |n| n.min(train_set.len())),
        ),
    };
    let model_path = dir.join("model.fmlp");
    let snapshot = outcome.model.snapshot();
    let model_bytes = export(&snapshot, &info, &model_path)
        .map_err(|source| RunError::Export { variant, source })?;
    let params_exported = snapshot_params_after_fold(&model_path)
        .map_err(|source| RunError::Export { variant, source })?;

    write_history(&outcome.history, &dir)?;
    plot_accuracy(&outcome.history, &test, &dir.join("accuracy.png"))?;
    plot_loss(&outcome.history, &test, &dir.join("loss.png"))?;
    let row = SummaryRow::from_run(
        &outcome.history,
        &test,
        outcome.params,
        params_exported,
        model_bytes,
    )?;
    Ok(VariantRun {
        history: outcome.history,
        test,
        row,
        model_path,
    })
}

/// Parameters in the written file, read back through the device-side checker.
fn snapshot_params_after_fold(path: &Path) -> Result<usize, crate::export::ExportError> {
    let bytes = model_format::AlignedBytes::read(path).map_err(|source| {
        crate::export::ExportError::Write {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(Model::from_bytes(&bytes)?.param_count())
}

/// The notebook's comparisons: vanilla against each other variant, and all variants together.
fn write_comparisons(runs: &[VariantRun], out: &Path) -> Result<(), RunError> {
    let vanilla = runs
        .iter()
        .find(|r| r.history.variant == Variant::Vanilla.name());
    for metric in [Metric::Accuracy, Metric::Loss] {
        if let Some(base) = vanilla {
            for other in runs
                .iter()
                .filter(|r| r.history.variant != base.history.variant)
            {
                let name = format!("vanilla_vs_{}_{}.png", other.history.variant, metric.name());
                plot_comparison(
                    (&base.history, &base.test),
                    (&other.history, &other.test),
                    metric,
                    &out.join(name),
                )?;
            }
        }
        let all: Vec<(&History, &TestScore)> = runs.iter().map(|r| (&r.history, &r.test)).collect();
        if all.len() > 1 {
            plot_all_variants(
                &all,
                metric,
                &out.join(format!("all_val_{}.png", metric.name())),
            )?;
        }
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(path).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_starts_the_longest_variants_and_keeps_every_one_once() {
        let order = schedule(&Variant::ALL);
        let names: Vec<&str> = order.iter().map(|&i| Variant::ALL[i].name()).collect();
        assert_eq!(names, ["dropout", "bn_dropout", "bn", "vanilla"]);
        assert_eq!(schedule(&[Variant::Bn]), [0]);
        assert!(schedule(&[]).is_empty());
    }
}

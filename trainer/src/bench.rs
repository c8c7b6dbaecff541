//! `trainer bench`: seconds per epoch of each variant at batch 8, one variant at a time on one
//! core, optionally beside PyTorch timed in the same run on the same machine.
//!
//! The PyTorch side is `trainer/benches/reference/pytorch_train.py`, run with an interpreter
//! that has torch installed (`--python`). Each variant is timed in Rust, then in PyTorch with
//! fused Adam, then with PyTorch's default Adam, before the next variant starts, so that drift
//! on a shared machine hits both sides alike.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use indicatif::{MultiProgress, ProgressDrawTarget};

use crate::data::FashionMnist;
use crate::training::{Bars, TrainConfig, TrainError, median, train};
use crate::variant::Variant;

/// Seconds per epoch (batch 8, 50,000 images, validation included, median of 3 epochs, one
/// thread) that issue #5 quotes for another host (2 vCPUs, AMD EPYC): Keras 3.15 /
/// TensorFlow 2.21, PyTorch 2.15 with default Adam, and with fused Adam. Printed for context
/// only; the ratios this command computes use PyTorch timed here, in the same run.
pub const ISSUE_SECONDS: [(Variant, [f64; 3]); 4] = [
    (Variant::Vanilla, [6.69, 3.39, 2.33]),
    (Variant::Dropout, [8.28, 6.97, 4.53]),
    (Variant::Bn, [8.38, 4.77, 3.07]),
    (Variant::BnDropout, [8.53, 4.54, 3.56]),
];

/// The PyTorch reference script, in this crate's source tree.
pub const PYTORCH_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/reference/pytorch_train.py"
);

/// PyTorch's two Adam implementations, as the script names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorchAdam {
    /// `torch.optim.Adam(..., fused=True)`: one kernel per step for all tensors.
    Fused,
    /// PyTorch's CPU default (`foreach=False`): a loop of tensor ops per parameter.
    Default,
}

impl TorchAdam {
    const fn flag(self) -> &'static str {
        match self {
            Self::Fused => "fused",
            Self::Default => "default",
        }
    }
}

/// How to run the PyTorch reference.
#[derive(Debug, Clone)]
pub struct TorchReference {
    /// A Python interpreter that can `import torch`.
    pub python: PathBuf,
    /// The script (normally [`PYTORCH_SCRIPT`]).
    pub script: PathBuf,
}

/// Why the PyTorch reference produced no figure.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The interpreter could not be started.
    #[error("could not run {python}: {source}")]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The script exited with an error.
    #[error("{script} ({variant}, {adam} Adam) failed ({status}); its error output is above")]
    Failed {
        /// The script.
        script: PathBuf,
        /// The variant it timed.
        variant: Variant,
        /// Which Adam.
        adam: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The script ran but printed no `RESULT` line for the variant.
    #[error("{script} printed no RESULT line for {variant} ({adam} Adam)")]
    NoResult {
        /// The script.
        script: PathBuf,
        /// The variant it timed.
        variant: Variant,
        /// Which Adam.
        adam: &'static str,
    },
}

/// Any failure of `trainer bench`.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Our own training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The PyTorch reference failed.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

/// Epoch times of one system on one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Each epoch's wall seconds, validation included.
    pub epoch_seconds: Vec<f64>,
    /// Their median ([`median`]: the mean of the middle two for an even count).
    pub median_seconds: f64,
}

impl Timing {
    /// The timing of these epochs.
    pub fn new(epoch_seconds: Vec<f64>) -> Self {
        let median_seconds = median(epoch_seconds.iter().copied());
        Self {
            epoch_seconds,
            median_seconds,
        }
    }
}

/// One variant's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// The variant.
    pub variant: Variant,
    /// Ours.
    pub ours: Timing,
    /// PyTorch with fused Adam, when a reference was asked for.
    pub torch_fused: Option<Timing>,
    /// PyTorch with its default Adam, when a reference was asked for.
    pub torch_default: Option<Timing>,
}

/// Trains each variant for `config.epochs` epochs, one after the other, and times the epochs;
/// with `reference`, times PyTorch (fused, then default Adam) on the same variant right after.
///
/// # Errors
/// Any [`TrainError`] of a run, or a [`ReferenceError`] of the PyTorch script.
pub fn bench_training(
    variants: &[Variant],
    config: &TrainConfig,
    data: &FashionMnist,
    reference: Option<&TorchReference>,
) -> Result<Vec<BenchRow>, BenchError> {
    let (train_set, val_set) = data.split_validation();
    let hidden = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
    let mut rows = Vec::new();
    for &variant in variants {
        let bars = Bars::new(&hidden, variant.name());
        let outcome = train(&variant.spec(), config, (&train_set, &val_set), None, &bars)?;
        let ours = Timing::new(outcome.history.epochs.iter().map(|e| e.seconds).collect());
        eprintln!("{variant:<10} ours           {}", epochs_line(&ours));
        let (mut torch_fused, mut torch_default) = (None, None);
        if let Some(reference) = reference {
            for (adam, slot) in [
                (TorchAdam::Fused, &mut torch_fused),
                (TorchAdam::Default, &mut torch_default),
            ] {
                let timing = run_torch(reference, variant, adam, config, &data.source)?;
                eprintln!(
                    "{variant:<10} torch {:<7} {}",
                    adam.flag(),
                    epochs_line(&timing)
                );
                *slot = Some(timing);
            }
        }
        rows.push(BenchRow {
            variant,
            ours,
            torch_fused,
            torch_default,
        });
    }
    Ok(rows)
}

fn epochs_line(timing: &Timing) -> String {
    let epochs: Vec<String> = timing
        .epoch_seconds
        .iter()
        .map(|s| format!("{s:.2}"))
        .collect();
    format!(
        "median {:.2} s/epoch (epochs {})",
        timing.median_seconds,
        epochs.join(", ")
    )
}

/// Runs the PyTorch script on one variant and reads its `RESULT` line.
fn run_torch(
    reference: &TorchReference,
    variant: Variant,
    adam: TorchAdam,
    config: &TrainConfig,
    data_dir: &Path,
) -> Result<Timing, ReferenceError> {
    let mut child = Command::new(&reference.python)
        .arg(&reference.script)
        .args(["--variants", variant.name(), "--adam", adam.flag()])
        .args(["--epochs", &config.epochs.to_string()])
        .args(["--seed", &config.seed.to_string()])
        .arg("--data")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ReferenceError::Spawn {
            python: reference.python.clone(),
            source,
        })?;
    let mut timing = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match parse_result(&line, variant, adam) {
                Some(epochs) => timing = Some(Timing::new(epochs)),
                None if !line.starts_with("RESULT") => eprintln!("  {line}"),
                None => {}
            }
        }
    }
    let status = child.wait().map_err(|source| ReferenceError::Spawn {
        python: reference.python.clone(),
        source,
    })?;
    if !status.success() {
        return Err(ReferenceError::Failed {
            script: reference.script.clone(),
            variant,
            adam: adam.flag(),
            status,
        });
    }
    timing.ok_or_else(|| ReferenceError::NoResult {
        script: reference.script.clone(),
        variant,
        adam: adam.flag(),
    })
}

/// The epoch seconds of a line `RESULT variant=V adam=A ... epochs=[s1,s2,...] ...` for this
/// variant and Adam, else `None`.
fn parse_result(line: &str, variant: Variant, adam: TorchAdam) -> Option<Vec<f64>> {
    let fields = line.strip_prefix("RESULT ")?;
    let field = |key: &str| {
        fields
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    if field("variant")? != variant.name() || field("adam")? != adam.flag() {
        return None;
    }
    let epochs = field("epochs")?.strip_prefix('[')?.strip_suffix(']')?;
    let seconds: Option<Vec<f64>> = epochs.split(',').map(|s| s.parse().ok()).collect();
    seconds.filter(|s| !s.is_empty() && s.iter().all(|x| x.is_finite()))
}

/// A markdown table of the rows: ours, PyTorch measured in the same run (when asked for) and
/// the ratio to PyTorch fused Adam, then issue #5's figures from another host for context.
pub fn bench_markdown(rows: &[BenchRow]) -> String {
    let measured = rows.iter().any(|r| r.torch_fused.is_some());
    let mut s = String::new();
    if measured {
        s.push_str(
            "| variant | ours s/epoch | PyTorch fused Adam | PyTorch default Adam | ours / PyTorch fused | issue #5: PyTorch fused (other host) |\n\
             |:--|--:|--:|--:|--:|--:|\n",
        );
    } else {
        s.push_str(
            "| variant | ours s/epoch | issue #5 (other host): Keras | PyTorch | PyTorch fused Adam |\n\
             |:--|--:|--:|--:|--:|\n",
        );
    }
    for row in rows {
        let issue = ISSUE_SECONDS
            .iter()
            .find(|(v, _)| *v == row.variant)
            .map_or([f64::NAN; 3], |(_, r)| *r);
        let ours = row.ours.median_seconds;
        let median = |t: &Option<Timing>| t.as_ref().map_or(f64::NAN, |t| t.median_seconds);
        let _ = if measured {
            let fused = median(&row.torch_fused);
            writeln!(
                s,
                "| {} | {ours:.2} | {fused:.2} | {:.2} | {:.2} | {:.2} |",
                row.variant,
                median(&row.torch_default),
                ours / fused,
                issue[2]
            )
        } else {
            writeln!(
                s,
                "| {} | {ours:.2} | {:.2} | {:.2} | {:.2} |",
                row.variant, issue[0], issue[1], issue[2]
            )
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_read_for_their_variant_and_adam_only() {
        let line = "RESULT variant=bn adam=fused median_s=9.72 epochs=[9.48,10.94,9.72] threads=1";
        assert_eq!(
            parse_result(line, Variant::Bn, TorchAdam::Fused),
            Some(vec![9.48, 10.94, 9.72])
        );
        assert_eq!(parse_result(line, Variant::Bn, TorchAdam::Default), None);
        assert_eq!(
            parse_result(line, Variant::BnDropout, TorchAdam::Fused),
            None
        );
        assert_eq!(
            parse_result("bn epoch 1/3: 9.48 s", Variant::Bn, TorchAdam::Fused),
            None
        );
        for bad in ["epochs=[]", "epochs=[1.0,x]", "epochs=[nan]", "epochs=1.0"] {
            let line = format!("RESULT variant=bn adam=fused {bad}");
            assert_eq!(
                parse_result(&line, Variant::Bn, TorchAdam::Fused),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn medians_are_the_crates_median() {
        assert_eq!(Timing::new(vec![3.0, 1.0, 2.0]).median_seconds, 2.0);
        assert_eq!(Timing::new(vec![4.0, 1.0]).median_seconds, 2.5);
        assert!(Timing::new(Vec::new()).median_seconds.is_nan());
    }

    #[test]
    fn table_shows_the_measured_ratio() {
        let row = BenchRow {
            variant: Variant::Vanilla,
            ours: Timing::new(vec![3.0]),
            torch_fused: Some(Timing::new(vec![6.0])),
            torch_default: Some(Timing::new(vec![9.0])),
        };
        let table = bench_markdown(std::slice::from_ref(&row));
        assert!(
            table.contains("| vanilla | 3.00 | 6.00 | 9.00 | 0.50 | 2.33 |"),
            "{table}"
        );
        let alone = bench_markdown(&[BenchRow {
            torch_fused: None,
            torch_default: None,
            ..row
        }]);
        assert!(
            alone.contains("| vanilla | 3.00 | 6.69 | 3.39 | 2.33 |"),
            "{alone}"
        );
    }

    #[test]
    fn a_missing_interpreter_is_an_error() {
        let reference = TorchReference {
            python: PathBuf::from("/nonexistent/python"),
            script: PathBuf::from(PYTORCH_SCRIPT),
        };
        let err = run_torch(
            &reference,
            Variant::Vanilla,
            TorchAdam::Fused,
            &TrainConfig::default(),
            Path::new("."),
        )
        .unwrap_err();
        assert!(matches!(err, ReferenceError::Spawn { .. }), "{err}");
    }

    #[test]
    fn a_failing_or_silent_script_is_an_error() {
        let run = |python: &str| {
            let reference = TorchReference {
                python: PathBuf::from(python),
                script: PathBuf::from(PYTORCH_SCRIPT),
            };
            let config = TrainConfig::default();
            run_torch(
                &reference,
                Variant::Bn,
                TorchAdam::Default,
                &config,
                Path::new("."),
            )
        };
        // `false` and `true` ignore their arguments: one fails, the other prints nothing.
        assert!(matches!(run("false"), Err(ReferenceError::Failed { .. })));
        assert!(matches!(run("true"), Err(ReferenceError::NoResult { .. })));
    }
}

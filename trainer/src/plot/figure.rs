//! The figures, drawn like the seed notebook's matplotlib plots: solid per-epoch curves, the test
//! score as a dashed, semi-transparent horizontal line. Titles and legends come from each
//! history's model spec. Values that are not finite are skipped, never drawn.

use std::path::Path;

use plotters::prelude::Color;

use crate::plot::error::PlotError;
use crate::plot::render::render_to;
use crate::plot::series::{NOTEBOOK_BLUE, NOTEBOOK_GREEN, TAB10, curve, level};
use crate::training::history::{EpochRecord, History, TestScore};

/// Which figure of merit a plot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Classification accuracy, higher is better.
    Accuracy,
    /// Categorical cross-entropy, lower is better.
    Loss,
}

impl Metric {
    /// The metric's name as the notebook writes it in labels (`accuracy`, `loss`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Accuracy => "accuracy",
            Self::Loss => "loss",
        }
    }

    pub(crate) fn train(self, r: &EpochRecord) -> f64 {
        match self {
            Self::Accuracy => r.accuracy,
            Self::Loss => r.loss,
        }
    }

    pub(crate) fn val(self, r: &EpochRecord) -> f64 {
        match self {
            Self::Accuracy => r.val_accuracy,
            Self::Loss => r.val_loss,
        }
    }

    pub(crate) fn test(self, t: &TestScore) -> f64 {
        match self {
            Self::Accuracy => t.accuracy,
            Self::Loss => t.loss,
        }
    }
}

/// Plots train and val accuracy per epoch and the test accuracy (dashed) of one run.
///
/// # Errors
/// [`PlotError::EmptyHistory`] or [`PlotError::NoFiniteData`] if there is nothing to draw,
/// otherwise drawing or I/O errors naming `path`.
pub fn plot_accuracy(history: &History, test: &TestScore, path: &Path) -> Result<(), PlotError> {
    plot_metric(history, test, Metric::Accuracy, path)
}

/// Plots train and val loss per epoch and the test loss (dashed) of one run.
///
/// # Errors
/// As [`plot_accuracy`].
pub fn plot_loss(history: &History, test: &TestScore, path: &Path) -> Result<(), PlotError> {
    plot_metric(history, test, Metric::Loss, path)
}

/// Plots `metric` for one run: train and val per epoch, test as a dashed green line.
///
/// # Errors
/// As [`plot_accuracy`].
pub fn plot_metric(
    history: &History,
    test: &TestScore,
    metric: Metric,
    path: &Path,
) -> Result<(), PlotError> {
    check_nonempty(&[history], path)?;
    let m = metric.name();
    let series = vec![
        curve(history, m.to_owned(), TAB10[0], |r| metric.train(r)),
        curve(history, format!("val {m}"), TAB10[1], |r| metric.val(r)),
        level(format!("test {m}"), NOTEBOOK_GREEN, metric.test(test)),
    ];
    render_to(&history.spec.title(), metric.name(), &series, path)
}

/// Plots `metric` of two runs on one figure, as the notebook's "vanilla vs. ..." cells do:
/// train and val per epoch of both, and both test scores dashed (the base's green, the
/// other's blue).
///
/// # Errors
/// As [`plot_accuracy`], for either run.
pub fn plot_comparison(
    base: (&History, &TestScore),
    other: (&History, &TestScore),
    metric: Metric,
    path: &Path,
) -> Result<(), PlotError> {
    check_nonempty(&[base.0, other.0], path)?;
    let m = metric.name();
    let (b, o) = (base.0.spec.legend(), other.0.spec.legend());
    let series = vec![
        curve(base.0, format!("{b} {m}"), TAB10[0], |r| metric.train(r)),
        curve(base.0, format!("{b} val {m}"), TAB10[1], |r| metric.val(r)),
        level(format!("{b} test {m}"), NOTEBOOK_GREEN, metric.test(base.1)),
        curve(other.0, format!("{o} {m}"), TAB10[2], |r| metric.train(r)),
        curve(other.0, format!("{o} val {m}"), TAB10[3], |r| metric.val(r)),
        level(format!("{o} test {m}"), NOTEBOOK_BLUE, metric.test(other.1)),
    ];
    let title = format!("{} vs. {}", base.0.spec.title(), other.0.spec.title());
    render_to(&title, metric.name(), &series, path)
}

/// Plots the val `metric` of every run on one figure, each with its test score dashed in the
/// same colour.
///
/// # Errors
/// [`PlotError::NoRuns`] if `runs` is empty, otherwise as [`plot_accuracy`] for any run.
pub fn plot_all_variants(
    runs: &[(&History, &TestScore)],
    metric: Metric,
    path: &Path,
) -> Result<(), PlotError> {
    if runs.is_empty() {
        return Err(PlotError::NoRuns {
            path: path.to_owned(),
        });
    }
    let histories: Vec<&History> = runs.iter().map(|(h, _)| *h).collect();
    check_nonempty(&histories, path)?;
    let m = metric.name();
    let mut series = Vec::with_capacity(2 * runs.len());
    for (i, (history, test)) in runs.iter().enumerate() {
        let color = TAB10[i % TAB10.len()];
        let name = history.spec.legend();
        series.push(curve(history, format!("{name} val {m}"), color, |r| {
            metric.val(r)
        }));
        series.push(level(
            format!("{name} test {m}"),
            color.mix(0.5),
            metric.test(test),
        ));
    }
    render_to(
        &format!("val {m} of all models"),
        metric.name(),
        &series,
        path,
    )
}

fn check_nonempty(histories: &[&History], path: &Path) -> Result<(), PlotError> {
    match histories.iter().find(|h| h.epochs.is_empty()) {
        Some(h) => Err(PlotError::EmptyHistory {
            name: h.spec.name.clone(),
            path: path.to_owned(),
        }),
        None => Ok(()),
    }
}

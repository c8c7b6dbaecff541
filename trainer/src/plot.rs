//! Training-curve figures as PNG, drawn like the seed notebook's matplotlib plots: solid
//! per-epoch curves, the test score as a dashed, semi-transparent horizontal line.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (`assets/`), registered on first use
//! as plotters' `sans-serif` family for the whole process (the only family there is), so figures
//! look the same on any machine and need no system font libraries. Every file is written through
//! [`crate::report::write_atomic_with`]. Values that are not finite are skipped, never drawn.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::element::MultiLineText;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::history::{EpochRecord, History, TestScore};
use crate::report::write_atomic_with;

/// Width and height in pixels of every figure.
pub const FIGURE_SIZE: (u32, u32) = (1024, 704);

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

    fn train(self, r: &EpochRecord) -> f64 {
        match self {
            Self::Accuracy => r.accuracy,
            Self::Loss => r.loss,
        }
    }

    fn val(self, r: &EpochRecord) -> f64 {
        match self {
            Self::Accuracy => r.val_accuracy,
            Self::Loss => r.val_loss,
        }
    }

    fn test(self, t: &TestScore) -> f64 {
        match self {
            Self::Accuracy => t.accuracy,
            Self::Loss => t.loss,
        }
    }
}

/// Why a figure could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// A history to plot has no epochs.
    #[error("cannot plot {}: history of variant `{variant}` has no epochs", path.display())]
    EmptyHistory {
        /// The variant whose history is empty.
        variant: String,
        /// The figure being drawn.
        path: PathBuf,
    },
    /// No run was given to [`plot_all_variants`].
    #[error("cannot plot {}: no runs given", path.display())]
    NoRuns {
        /// The figure being drawn.
        path: PathBuf,
    },
    /// No per-epoch value to plot is finite.
    #[error("cannot plot {}: no finite per-epoch values", path.display())]
    NoFiniteData {
        /// The figure being drawn.
        path: PathBuf,
    },
    /// The embedded font could not be registered with plotters.
    #[error("cannot load the embedded DejaVu Sans font")]
    Font,
    /// plotters failed while drawing or encoding.
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The figure being drawn.
        path: PathBuf,
        /// plotters' error, as text (its error type is generic over the backend).
        message: String,
    },
    /// Creating the directory, or syncing or renaming the file, failed.
    #[error("cannot write {}", path.display())]
    Io {
        /// The figure or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
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
    render_to(&model_title(&history.variant), metric, &series, path)
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
    let (b, o) = (legend_name(&base.0.variant), legend_name(&other.0.variant));
    let series = vec![
        curve(base.0, format!("{b} {m}"), TAB10[0], |r| metric.train(r)),
        curve(base.0, format!("{b} val {m}"), TAB10[1], |r| metric.val(r)),
        level(format!("{b} test {m}"), NOTEBOOK_GREEN, metric.test(base.1)),
        curve(other.0, format!("{o} {m}"), TAB10[2], |r| metric.train(r)),
        curve(other.0, format!("{o} val {m}"), TAB10[3], |r| metric.val(r)),
        level(format!("{o} test {m}"), NOTEBOOK_BLUE, metric.test(other.1)),
    ];
    let title = format!(
        "{} vs. {}",
        model_title(&base.0.variant),
        model_title(&other.0.variant)
    );
    render_to(&title, metric, &series, path)
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
        let name = legend_name(&history.variant);
        series.push(curve(history, format!("{name} val {m}"), color, |r| {
            metric.val(r)
        }));
        series.push(level(
            format!("{name} test {m}"),
            color.mix(0.5),
            metric.test(test),
        ));
    }
    render_to(&format!("val {m} of all models"), metric, &series, path)
}

/// Matplotlib's default colour cycle (`tab10`), which the notebook's curves use.
const TAB10: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];
/// Matplotlib's `'g'` at `alpha = 0.5`, the notebook's test line.
const NOTEBOOK_GREEN: RGBAColor = RGBAColor(0, 128, 0, 0.5);
/// Matplotlib's `'b'` at `alpha = 0.5`, the other model's test line in the comparisons.
const NOTEBOOK_BLUE: RGBAColor = RGBAColor(0, 0, 255, 0.5);

/// The notebook's plot title for a variant.
fn model_title(variant: &str) -> String {
    match variant {
        "vanilla" => "\"vanilla\" model".to_owned(),
        "bn" => "batch normalization model".to_owned(),
        "bn_dropout" => "batch normalization with dropout model".to_owned(),
        other => format!("{other} model"),
    }
}

/// The notebook's legend prefix for a variant (shorter than the title for `bn_dropout`).
fn legend_name(variant: &str) -> String {
    match variant {
        "bn_dropout" => "bn with dropout model".to_owned(),
        other => model_title(other),
    }
}

/// One legend entry and what it draws.
struct Series {
    label: String,
    color: RGBAColor,
    line: Line,
}

enum Line {
    /// Solid, per epoch: (epoch, value). Values that are not plottable break the line.
    PerEpoch(Vec<(u32, f64)>),
    /// Dashed and horizontal across the whole plot.
    Level(f64),
}

impl Series {
    /// The plottable values this series draws.
    fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        let ys: Box<dyn Iterator<Item = f64>> = match &self.line {
            Line::PerEpoch(points) => Box::new(points.iter().map(|p| p.1)),
            Line::Level(y) => Box::new(std::iter::once(*y)),
        };
        ys.filter(|y| plottable(*y))
    }
}

/// Finite and small enough that plotters' range arithmetic stays finite.
fn plottable(y: f64) -> bool {
    y.is_finite() && y.abs() <= 1e300
}

fn curve(
    history: &History,
    label: String,
    color: RGBColor,
    f: impl Fn(&EpochRecord) -> f64,
) -> Series {
    let points = history
        .epochs
        .iter()
        .map(|r| (u32::try_from(r.epoch).unwrap_or(u32::MAX), f(r)))
        .collect();
    Series {
        label,
        color: color.to_rgba(),
        line: Line::PerEpoch(points),
    }
}

fn level(label: String, color: RGBAColor, y: f64) -> Series {
    Series {
        label,
        color,
        line: Line::Level(y),
    }
}

fn check_nonempty(histories: &[&History], path: &Path) -> Result<(), PlotError> {
    match histories.iter().find(|h| h.epochs.is_empty()) {
        Some(h) => Err(PlotError::EmptyHistory {
            variant: h.variant.clone(),
            path: path.to_owned(),
        }),
        None => Ok(()),
    }
}

const FONT: &str = "sans-serif";
const TITLE_PX: u32 = 28;
const AXIS_DESC_PX: u32 = 22;
const TICK_PX: u32 = 17;
const LEGEND_PX: u32 = 17;
const TITLE_TOP: u32 = 10;
const MARGIN: u32 = 20;
const X_LABEL_AREA: u32 = 60;
const Y_LABEL_AREA: u32 = 80;
const Y_TICKS: usize = 10;
/// plotters' legend layout (`SeriesLabelStyle`): glyph area, inner margin, offset from the edge.
const LEGEND_GLYPH: i32 = 30;
const LEGEND_MARGIN: i32 = 10;
const LEGEND_OFFSET: i32 = 5;

/// Registers the embedded font as plotters' `sans-serif`, once per process.
fn ensure_font() -> Result<(), PlotError> {
    static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Renders the figure to a temporary sibling of `path`, then renames it into place.
fn render_to(title: &str, metric: Metric, series: &[Series], path: &Path) -> Result<(), PlotError> {
    ensure_font()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    // Drawing errors travel through the io::Error of write_atomic_with; keep the typed one.
    let mut failure = None;
    let written = write_atomic_with(path, |tmp| {
        render(title, metric, series, tmp, path).map_err(|e| {
            let io = io::Error::other(e.to_string());
            failure = Some(e);
            io
        })
    });
    match (written, failure) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(e)) => Err(e),
        (Err(source), None) => Err(PlotError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Draws the figure into a PNG at `tmp`; errors name `path`, the file the caller asked for.
fn render(
    title: &str,
    metric: Metric,
    series: &[Series],
    tmp: &Path,
    path: &Path,
) -> Result<(), PlotError> {
    let draw_err = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.to_owned(),
        message: e.to_string(),
    };
    // Only what has something to draw gets a legend entry.
    let shown: Vec<&Series> = series.iter().filter(|s| s.ys().next().is_some()).collect();
    if !shown.iter().any(|s| matches!(s.line, Line::PerEpoch(_))) {
        return Err(PlotError::NoFiniteData {
            path: path.to_owned(),
        });
    }
    let (lo, hi) = shown
        .iter()
        .flat_map(|s| s.ys())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
    let pad = if hi - lo > 1e-9 {
        (hi - lo) * 0.05
    } else {
        (hi.abs() * 0.05).max(0.01)
    };
    let x_end = shown
        .iter()
        .filter_map(|s| match &s.line {
            Line::PerEpoch(points) => points.iter().map(|p| p.0).max(),
            Line::Level(_) => None,
        })
        .max()
        .unwrap_or(1)
        .saturating_add(1);

    let root = BitMapBackend::new(tmp, FIGURE_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_err(&e))?;
    let area = root
        .margin(TITLE_TOP, 0, 0, 0)
        .titled(title, (FONT, TITLE_PX).into_font())
        .map_err(|e| draw_err(&e))?;

    let labels: Vec<&str> = shown.iter().map(|s| s.label.as_str()).collect();
    let legend = legend_size(&labels).map_err(|e| draw_err(&e))?;
    let (area_w, area_h) = area.dim_in_pixel();
    let plot = (
        area_w.saturating_sub(2 * MARGIN + Y_LABEL_AREA).max(1),
        area_h.saturating_sub(2 * MARGIN + X_LABEL_AREA).max(1),
    );
    let (corner, lo, hi) = place_legend(&shown, x_end, (lo - pad, hi + pad), legend, plot);

    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(0..x_end, lo..hi)
        .map_err(|e| draw_err(&e))?;
    let decimals = tick_decimals(lo, hi);
    let y_fmt = |y: &f64| format!("{y:.decimals$}");
    chart
        .configure_mesh()
        .x_desc("epoch number")
        .y_desc(metric.name())
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .label_style((FONT, TICK_PX))
        .x_labels(x_end.min(13) as usize)
        .y_labels(Y_TICKS)
        .y_label_formatter(&y_fmt)
        .bold_line_style(BLACK.mix(0.08))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(|e| draw_err(&e))?;
    // Close the frame as matplotlib does (the mesh draws only the left and bottom axes).
    chart
        .plotting_area()
        .draw(&Rectangle::new(
            [(0, lo), (x_end, hi)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| draw_err(&e))?;

    for s in shown {
        let style = s.color.stroke_width(2);
        match &s.line {
            Line::PerEpoch(points) => {
                let mut labelled = false;
                for run in points.split(|p| !plottable(p.1)).filter(|r| !r.is_empty()) {
                    // A lone point has no segment to draw: mark it instead.
                    let anno = if run.len() == 1 {
                        chart.draw_series(run.iter().map(|&p| Circle::new(p, 4, style.filled())))
                    } else {
                        chart.draw_series(LineSeries::new(run.iter().copied(), style))
                    }
                    .map_err(|e| draw_err(&e))?;
                    if !labelled {
                        labelled = true;
                        anno.label(s.label.as_str())
                            .legend(move |(x, y)| PathElement::new([(x, y), (x + 21, y)], style));
                    }
                }
            }
            Line::Level(y) => {
                let dashes = DashedLineSeries::new([(0, *y), (x_end, *y)], 10, 6, style);
                chart
                    .draw_series(dashes)
                    .map_err(|e| draw_err(&e))?
                    .label(s.label.as_str())
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new([(0, 0), (8, 0)], style)
                            + PathElement::new([(13, 0), (21, 0)], style)
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(corner)
        .label_font((FONT, LEGEND_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.25))
        .draw()
        .map_err(|e| draw_err(&e))?;
    root.present().map_err(|e| draw_err(&e))?;
    Ok(())
}

/// The legend box's size in pixels, computed the way plotters lays it out.
fn legend_size(labels: &[&str]) -> Result<(i32, i32), Box<dyn std::error::Error>> {
    let style = TextStyle::from((FONT, LEGEND_PX).into_font());
    let mut text = MultiLineText::<_, &str>::new((0, 0), &style);
    for l in labels {
        text.push_line(*l);
    }
    let (w, h) = text.estimate_dimension()?;
    Ok((w + LEGEND_GLYPH + 2 * LEGEND_MARGIN, h + 2 * LEGEND_MARGIN))
}

/// Picks the corner where the legend covers the fewest data, like matplotlib's `loc="best"`;
/// if every corner covers some, stretches the y range on that corner's side so it covers none.
fn place_legend(
    shown: &[&Series],
    x_end: u32,
    (lo, hi): (f64, f64),
    (legend_w, legend_h): (i32, i32),
    (plot_w, plot_h): (u32, u32),
) -> (SeriesLabelPosition, f64, f64) {
    // Legend box as a fraction of the plot, with its offset from the edge and a little air.
    let fw = f64::from(legend_w + LEGEND_OFFSET + 4) / f64::from(plot_w);
    let fh = f64::from(legend_h + LEGEND_OFFSET + 4) / f64::from(plot_h);
    let nx = |x: f64| x / f64::from(x_end);
    let ny = |y: f64| (y - lo) / (hi - lo);
    // Sample the lines densely so a segment crossing a corner counts, not only its ends.
    let mut samples = Vec::new();
    for s in shown {
        match &s.line {
            Line::PerEpoch(points) => {
                for pair in points.windows(2) {
                    let (x0, y0) = (f64::from(pair[0].0), pair[0].1);
                    let (x1, y1) = (f64::from(pair[1].0), pair[1].1);
                    samples.extend((0..=16).map(|k| {
                        let t = f64::from(k) / 16.0;
                        (nx(x0 + (x1 - x0) * t), ny(y0 + (y1 - y0) * t))
                    }));
                }
                samples.extend(points.iter().map(|p| (nx(f64::from(p.0)), ny(p.1))));
            }
            Line::Level(y) => samples.extend((0..=32).map(|k| (f64::from(k) / 32.0, ny(*y)))),
        }
    }
    samples.retain(|(x, y)| x.is_finite() && y.is_finite());

    use SeriesLabelPosition::{LowerLeft, LowerRight, UpperLeft, UpperRight};
    let covered = |right: bool, upper: bool| {
        samples
            .iter()
            .filter(|(x, y)| {
                let in_x = if right { *x >= 1.0 - fw } else { *x <= fw };
                let in_y = if upper { *y >= 1.0 - fh } else { *y <= fh };
                in_x && in_y
            })
            .count()
    };
    // In order of preference on ties.
    let corners = [
        (UpperRight, true, true),
        (LowerRight, true, false),
        (UpperLeft, false, true),
        (LowerLeft, false, false),
    ];
    let (best, hits, upper) = corners
        .into_iter()
        .map(|(pos, right, upper)| (pos, covered(right, upper), upper))
        .min_by_key(|c| c.1)
        .unwrap_or((UpperRight, 0, true));
    if hits == 0 {
        return (best, lo, hi);
    }
    // The data then fill the (1 - fh) of the height away from the legend.
    let stretched = (hi - lo) / (1.0 - fh).max(0.3);
    if upper {
        (best, lo, lo + stretched)
    } else {
        (best, hi - stretched, hi)
    }
}

/// Decimals that show plotters' y ticks over `lo..hi` exactly, and no more.
fn tick_decimals(lo: f64, hi: f64) -> usize {
    let ticks = RangedCoordf64::from(lo..hi).key_points(Y_TICKS);
    let step = match ticks.as_slice() {
        [a, b, ..] => b - a,
        _ => return 2,
    };
    (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .map_or(6, |d| d as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plausible run: accuracy ramps from `start` towards `end` with a time constant of three
    /// epochs, val sits `gap` below train with a deterministic wiggle, val loss creeps up late
    /// (overfitting) when `gap` is positive.
    fn synthetic(variant: &str, epochs: usize, start: f64, end: f64, gap: f64) -> History {
        let epochs = (1..=epochs)
            .map(|epoch| {
                let t = epoch as f64 - 1.0;
                let accuracy = end - (end - start) * (-t / 3.0).exp();
                let wiggle = 0.006 * (2.1 * t + 10.0 * start).sin();
                EpochRecord {
                    epoch,
                    loss: 2.5 * (1.0 - accuracy),
                    accuracy,
                    val_loss: 2.5 * (1.0 - accuracy + gap) + 0.3 * gap.max(0.0) * t * t / 25.0
                        - 5.0 * wiggle,
                    val_accuracy: accuracy - gap + wiggle,
                    seconds: 4.0,
                }
            })
            .collect();
        History {
            variant: variant.to_owned(),
            epochs,
        }
    }

    fn runs() -> Vec<(History, TestScore)> {
        vec![
            (
                synthetic("vanilla", 25, 0.82, 0.935, 0.045),
                TestScore {
                    loss: 0.47,
                    accuracy: 0.881,
                },
            ),
            (
                synthetic("dropout", 25, 0.60, 0.81, -0.05),
                TestScore {
                    loss: 0.43,
                    accuracy: 0.853,
                },
            ),
            (
                synthetic("bn", 25, 0.78, 0.875, -0.002),
                TestScore {
                    loss: 0.37,
                    accuracy: 0.867,
                },
            ),
            (
                synthetic("bn_dropout", 25, 0.49, 0.645, -0.125),
                TestScore {
                    loss: 0.646,
                    accuracy: 0.768,
                },
            ),
        ]
    }

    /// Asserts `path` is the only file in its directory and a PNG of [`FIGURE_SIZE`].
    fn assert_png(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR", "first chunk");
        let be =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        assert_eq!((be(16), be(20)), FIGURE_SIZE);
        let dir = path.parent().unwrap();
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    type Draw<'a> = &'a dyn Fn(&Path) -> Result<(), PlotError>;

    #[test]
    fn every_figure_is_a_png_of_the_expected_size() {
        let runs = runs();
        let (h, t) = (&runs[0].0, &runs[0].1);
        let all: Vec<_> = runs.iter().map(|(h, t)| (h, t)).collect();
        let draws: [(&str, Draw<'_>); 5] = [
            ("accuracy", &|p| plot_accuracy(h, t, p)),
            ("loss", &|p| plot_loss(h, t, p)),
            ("vs_bn", &|p| {
                plot_comparison(all[0], all[2], Metric::Accuracy, p)
            }),
            ("vs_bn_loss", &|p| {
                plot_comparison(all[0], all[2], Metric::Loss, p)
            }),
            ("all", &|p| plot_all_variants(&all, Metric::Accuracy, p)),
        ];
        for (name, draw) in draws {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("figs").join(format!("{name}.png"));
            draw(&path).unwrap();
            assert_png(&path);
            // A second draw replaces the file in place.
            draw(&path).unwrap();
            assert_png(&path);
        }
    }

    #[test]
    fn empty_inputs_are_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        let test = TestScore {
            loss: 0.4,
            accuracy: 0.9,
        };
        let empty = History {
            variant: "bn".to_owned(),
            epochs: vec![],
        };
        let err = plot_accuracy(&empty, &test, &path).unwrap_err();
        assert!(
            matches!(&err, PlotError::EmptyHistory { variant, .. } if variant == "bn"),
            "{err}"
        );
        assert!(err.to_string().contains("a.png"), "{err}");
        let full = synthetic("vanilla", 3, 0.8, 0.9, 0.01);
        let err = plot_comparison((&full, &test), (&empty, &test), Metric::Loss, &path);
        assert!(matches!(err, Err(PlotError::EmptyHistory { .. })));
        let err = plot_all_variants(&[], Metric::Accuracy, &path);
        assert!(matches!(err, Err(PlotError::NoRuns { .. })));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn one_epoch_and_gaps_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let test = TestScore {
            loss: f64::NAN,
            accuracy: 0.9,
        };
        let one = synthetic("vanilla", 1, 0.8, 0.9, 0.01);
        plot_accuracy(&one, &test, &dir.path().join("one.png")).unwrap();
        plot_loss(&one, &test, &dir.path().join("one_loss.png")).unwrap();

        let mut gappy = synthetic("dropout", 6, 0.6, 0.8, -0.05);
        gappy.epochs[2].val_accuracy = f64::NAN;
        gappy.epochs[4].accuracy = f64::INFINITY;
        gappy.epochs[5].val_accuracy = f64::NEG_INFINITY;
        plot_accuracy(&gappy, &test, &dir.path().join("gappy.png")).unwrap();
    }

    #[test]
    fn all_non_finite_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nan.png");
        let mut h = synthetic("vanilla", 3, 0.8, 0.9, 0.01);
        for r in &mut h.epochs {
            (r.loss, r.val_loss) = (f64::NAN, f64::INFINITY);
        }
        // The test loss alone is not a plot.
        let err = plot_loss(
            &h,
            &TestScore {
                loss: 0.5,
                accuracy: 0.9,
            },
            &path,
        );
        assert!(matches!(err, Err(PlotError::NoFiniteData { .. })));
        assert!(!path.exists());
    }

    #[test]
    fn tick_decimals_follow_the_tick_step() {
        // At most 10 ticks, steps of 1, 2 or 5 times a power of ten.
        assert_eq!(tick_decimals(0.78, 0.94), 2); // step 0.02
        assert_eq!(tick_decimals(0.25, 1.05), 1); // step 0.1
        assert_eq!(tick_decimals(0.0, 30.0), 0); // step 5
        assert_eq!(tick_decimals(0.881, 0.8815), 4); // step 0.0001: 0.00005 makes 11 ticks
        assert_eq!(tick_decimals(0.5, 0.5), 2); // a single tick
    }

    #[test]
    fn legend_avoids_data_or_makes_room() {
        let line = |y0: f64, y1: f64| Series {
            label: String::new(),
            color: BLACK.to_rgba(),
            line: Line::PerEpoch(vec![(1, y0), (10, y1)]),
        };
        let (legend, plot) = ((200, 100), (800, 500));
        // Rising from the bottom left to the top right: the lower right corner is free.
        let rising = line(0.0, 1.0);
        let (pos, lo, hi) = place_legend(&[&rising], 11, (0.0, 1.0), legend, plot);
        assert_eq!((pos, lo, hi), (SeriesLabelPosition::LowerRight, 0.0, 1.0));
        // Levels along the top and bottom edges: every corner is covered alike, so the first
        // choice wins and the range grows upwards until the legend (1/5 of the height, plus
        // air) sits above the data.
        let top = level(String::new(), BLACK.to_rgba(), 1.0);
        let bottom = level(String::new(), BLACK.to_rgba(), 0.0);
        let (pos, lo, hi) = place_legend(&[&top, &bottom], 11, (0.0, 1.0), legend, plot);
        assert_eq!(pos, SeriesLabelPosition::UpperRight);
        assert_eq!(lo, 0.0);
        let fh = f64::from(100 + LEGEND_OFFSET + 4) / 500.0;
        assert!((hi - 1.0 / (1.0 - fh)).abs() < 1e-12, "{hi}");
    }

    /// Writes every kind of figure for the synthetic runs to `$TMPDIR/plots` for a look by eye:
    /// `cargo test --release -p trainer --lib plot::tests::example_figures -- --ignored`.
    #[test]
    #[ignore = "writes example figures outside the test's temporary directory"]
    fn example_figures() {
        let out = std::env::temp_dir().join("plots");
        let runs = runs();
        let all: Vec<_> = runs.iter().map(|(h, t)| (h, t)).collect();
        for (h, t) in &all {
            plot_accuracy(h, t, &out.join(format!("{}_accuracy.png", h.variant))).unwrap();
            plot_loss(h, t, &out.join(format!("{}_loss.png", h.variant))).unwrap();
        }
        for other in &all[1..] {
            for metric in [Metric::Accuracy, Metric::Loss] {
                let name = format!("vanilla_vs_{}_{}.png", other.0.variant, metric.name());
                plot_comparison(all[0], *other, metric, &out.join(name)).unwrap();
            }
        }
        plot_all_variants(&all, Metric::Accuracy, &out.join("all_val_accuracy.png")).unwrap();
        plot_all_variants(&all, Metric::Loss, &out.join("all_val_loss.png")).unwrap();
        let one = synthetic("vanilla", 1, 0.8, 0.9, 0.01);
        plot_accuracy(&one, all[0].1, &out.join("one_epoch.png")).unwrap();
        let mut gappy = runs[1].0.clone();
        gappy.epochs[3].val_accuracy = f64::NAN;
        gappy.epochs[5].val_accuracy = f64::NAN;
        gappy.epochs[10].accuracy = f64::INFINITY;
        plot_accuracy(&gappy, all[1].1, &out.join("gaps.png")).unwrap();
    }
}

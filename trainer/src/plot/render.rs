//! Drawing a figure with plotters into a PNG, written through the atomic writer.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (`assets/`), registered on first use
//! as plotters' `sans-serif` family for the whole process (the only family there is), so figures
//! look the same on any machine and need no system font libraries.

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::{RangedCoordf64, RangedCoordu32};
use plotters::element::MultiLineText;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::atomic::write_atomic_with;
use crate::plot::error::PlotError;
use crate::plot::series::{Line, Series, plottable};

/// Width and height in pixels of every figure.
pub const FIGURE_SIZE: (u32, u32) = (1024, 704);

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
pub(crate) const LEGEND_OFFSET: i32 = 5;

/// Registers the embedded font as plotters' `sans-serif`, once per process.
fn ensure_font() -> Result<(), PlotError> {
    static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Renders the figure to a temporary sibling of `path`, then renames it into place.
pub(crate) fn render_to(
    title: &str,
    y_desc: &str,
    series: &[Series],
    path: &Path,
) -> Result<(), PlotError> {
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
        render(title, y_desc, series, tmp, path).map_err(|e| {
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
/// The plotted values' range, padded by 5 % (or a little around a single value), and the end
/// of the epoch axis.
fn ranges(shown: &[&Series]) -> ((f64, f64), u32) {
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
    ((lo - pad, hi + pad), x_end)
}

/// Draws the figure into a PNG at `tmp`; errors name `path`, the file the caller asked for.
///
/// Longer than the house's 60 lines on purpose: it is one plotters builder chain (canvas, mesh,
/// curves, markers, legend), and each step needs the one before; split, the pieces would pass
/// plotters' long generic types between them.
fn render(
    title: &str,
    y_desc: &str,
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
    let ((lo, hi), x_end) = ranges(&shown);
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
    let (corner, lo, hi) = place_legend(&shown, x_end, (lo, hi), legend, plot);

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
        .y_desc(y_desc)
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

    draw_series(&mut chart, &shown, x_end).map_err(|e| draw_err(&e))?;
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

/// Draws each series with its legend entry: curves solid (broken where values are not
/// plottable, a lone point as a dot), levels dashed.
fn draw_series<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordu32, RangedCoordf64>>,
    shown: &[&Series],
    x_end: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for s in shown.iter().copied() {
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
                    }?;
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
                    .draw_series(dashes)?
                    .label(s.label.as_str())
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new([(0, 0), (8, 0)], style)
                            + PathElement::new([(13, 0), (21, 0)], style)
                    });
            }
        }
    }
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
///
/// A little over 60 lines: the corner search and the stretch share the coordinate mapping
/// closures defined at its top.
pub(crate) fn place_legend(
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
pub(crate) fn tick_decimals(lo: f64, hi: f64) -> usize {
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

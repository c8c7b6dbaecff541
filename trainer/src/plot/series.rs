//! What a figure draws: per-epoch curves and dashed levels, in matplotlib's colours.

use plotters::prelude::Color;
use plotters::style::{RGBAColor, RGBColor};

use crate::training::history::{EpochRecord, History};

/// Matplotlib's default colour cycle (`tab10`), which the notebook's curves use.
pub(crate) const TAB10: [RGBColor; 10] = [
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
pub(crate) const NOTEBOOK_GREEN: RGBAColor = RGBAColor(0, 128, 0, 0.5);
/// Matplotlib's `'b'` at `alpha = 0.5`, the other model's test line in the comparisons.
pub(crate) const NOTEBOOK_BLUE: RGBAColor = RGBAColor(0, 0, 255, 0.5);

/// One legend entry and what it draws.
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) color: RGBAColor,
    pub(crate) line: Line,
}

pub(crate) enum Line {
    /// Solid, per epoch: (epoch, value). Values that are not plottable break the line.
    PerEpoch(Vec<(u32, f64)>),
    /// Dashed and horizontal across the whole plot.
    Level(f64),
}

impl Series {
    /// The plottable values this series draws.
    pub(crate) fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        let ys: Box<dyn Iterator<Item = f64>> = match &self.line {
            Line::PerEpoch(points) => Box::new(points.iter().map(|p| p.1)),
            Line::Level(y) => Box::new(std::iter::once(*y)),
        };
        ys.filter(|y| plottable(*y))
    }
}

/// Finite and small enough that plotters' range arithmetic stays finite.
pub(crate) fn plottable(y: f64) -> bool {
    y.is_finite() && y.abs() <= 1e300
}

pub(crate) fn curve(
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

pub(crate) fn level(label: String, color: RGBAColor, y: f64) -> Series {
    Series {
        label,
        color,
        line: Line::Level(y),
    }
}
